/*
 * jp_compose: builds the rooms, orders their processors and answers their
 * admin routes. The admin thread only calls the rooms' serving functions,
 * which read published snapshots under the rooms' own locks.
 *
 * The model source over the learning loop is called by the decisions on
 * the engine thread, after the models processor has seen the same fact
 * (it runs first), so it hands out the champion as of that fact. It
 * borrows the champion's pointers for the callback and builds the version
 * strings and the data snapshot in the jp_compose_t's scratch space (one
 * engine thread calls it).
 */
#include "app/jp_compose.h"

#include "app/jp_compose_alerts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"

/* jp_decisions_model_fn over jp_models_champion (ctx: the jp_compose_t). */
static int champion_source(void *ctx, int partition, const char *country, int64_t time,
                           jp_decisions_model_t *out)
{
    (void)time; /* the champion is the one as of the current fact */
    jp_compose_t *c = ctx;
    jp_models_champion_t ch;
    /* -1: the learning loop has not seen the country on this instance yet
     * (it has no champion there either) */
    if (jp_models_champion(c->models, country, &ch) != 0 || !ch.flows)
        return 0;
    /* the versions as the models topic keys them ("<kind>-<CC>/<version>") */
    snprintf(c->flows_version, sizeof(c->flows_version), "sales-%s/%d", country,
             (int)ch.sales_version);
    out->flows = ch.flows;
    out->flows_version = c->flows_version;
    if (ch.churn) {
        snprintf(c->churn_version, sizeof(c->churn_version), "churn-%s/%d", country,
                 (int)ch.churn_version);
        out->churn_version = c->churn_version;
    }
    /* The champion passed the promotion gates on its prequential error, and
     * the registry gives no relative forecast error: unknown here. The churn
     * model (FTRL) scores one customer's renewal; a population's hazard or
     * lifetime would mean scoring the customer base, which the decisions do
     * not hold: unknown too, so the decisions value the stock with the sales
     * model's cancellation rate. */
    out->error = NAN;
    out->lifetime_days = out->churn_hazard_per_day = NAN;
    out->active = ch.active > 0.0 ? ch.active : NAN;
    out->lapsed = ch.lapsed;
    out->stock_time_ms = ch.stock_time;
    /* the data the sales champion was trained on */
    const char *topics[JP_INPUT__COUNT] = {c->cfg->topics.sales.name, c->cfg->topics.customers.name,
                                           c->cfg->topics.draws.name};
    size_t n = 0;
    for (int i = 0; i < JP_INPUT__COUNT; i++)
        if (ch.offsets_start[i] >= 0)
            c->offsets[n++] = (jp_offset_range_t){.topic = jp_avro_str(topics[i]),
                                                  .partition = partition,
                                                  .start_offset = ch.offsets_start[i],
                                                  .end_offset = ch.offsets_end[i]};
    c->snapshot = (jp_data_snapshot_t){.offsets = {c->offsets, n},
                                       .event_time_start = ch.data_start,
                                       .event_time_end = ch.data_end};
    out->snapshot = &c->snapshot;
    return 1;
}

int jp_compose_init(jp_compose_t *c, const jp_config_t *cfg, jp_metrics_t *metrics,
                    const jp_proc_t *models, jp_decisions_model_fn source, void *ctx, char *errstr,
                    size_t errstr_size)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    if (!models && !source && cfg->models.enabled) {
        c->models = jp_models_new(cfg, metrics, errstr, errstr_size);
        if (!c->models)
            return -1;
        models = jp_models_proc(c->models);
        source = champion_source;
        ctx = c;
    }
    c->decisions = jp_decisions_new(cfg, metrics, errstr, errstr_size);
    if (!c->decisions) {
        jp_compose_release(c);
        return -1;
    }
    /* models run first on each fact, so decisions see the updated champion */
    if (models)
        c->procs[c->n_procs++] = models;
    if (source)
        jp_decisions_set_model_source(c->decisions, source, ctx);
    c->procs[c->n_procs++] = jp_decisions_proc(c->decisions);
    /* alerts last: they see each fact after the models scored it */
    if (jp_compose_alerts(cfg, metrics, c->models, &c->alerts, errstr, errstr_size) != 0) {
        jp_compose_release(c);
        return -1;
    }
    if (c->alerts)
        c->procs[c->n_procs++] = jp_alerts_proc(c->alerts);
    return 0;
}

void jp_compose_release(jp_compose_t *c)
{
    jp_alerts_free(c->alerts);
    jp_decisions_free(c->decisions);
    jp_models_free(c->models);
    memset(c, 0, sizeof(*c));
}

static int reply_error(char **body, const char **ct, int status, const char *msg)
{
    char buf[320];
    snprintf(buf, sizeof(buf), "{\"error\":\"%s\"}", msg);
    *body = strdup(buf);
    *ct = "application/json";
    return status;
}

/* A positive whole number of minor units, or -1. */
static int64_t parse_prize(const char *s)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || *end || v <= 0 ? -1 : (int64_t)v;
}

int jp_compose_admin_handler(void *ctx, const char *method, const char *path, const char *query,
                             const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)body, (void)body_len;
    const char *prefix = "/v1/countries/";
    if (strncmp(path, prefix, strlen(prefix)) == 0) {
        int status =
            jp_compose_country_route(ctx, method, path + strlen(prefix), query, body_out, ct);
        if (status)
            return status;
    }
    return reply_error(body_out, ct, 404, "not found");
}

int jp_compose_country_route(jp_compose_t *c, const char *method, const char *rest,
                             const char *query, char **body_out, const char **ct)
{
    char cc[3] = {rest[0], rest[0] ? rest[1] : 0, 0};
    const char *what = strlen(rest) > 3 && rest[2] == '/' ? rest + 3 : "";
    int latest = strcmp(what, "recommendation") == 0, whatif = strcmp(what, "whatif") == 0;
    if (!latest && !whatif)
        return 0;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_error(body_out, ct, 405, "use GET");
    *ct = "application/json";
    if (latest) {
        *body_out = jp_decisions_latest_json(c->decisions, cc);
        return *body_out ? 200 : reply_error(body_out, ct, 404, "no recommendation yet");
    }
    char *prize_s = jp_admin_query_param(query, "prize"),
         *draw = jp_admin_query_param(query, "draw");
    int64_t prize = parse_prize(prize_s);
    int status;
    if (prize < 0)
        status =
            reply_error(body_out, ct, 400, "prize= must be a positive whole number of minor units");
    else
        status = jp_decisions_whatif_json(c->decisions, cc, prize, draw, body_out);
    free(prize_s);
    free(draw);
    return status;
}
