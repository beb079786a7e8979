/*
 * jp_compose: builds the rooms, orders their processors and answers their
 * admin routes. The admin thread only calls the rooms' serving functions,
 * which read published snapshots under the rooms' own locks.
 */
#include "app/jp_compose.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"

int jp_compose_init(jp_compose_t *c, const jp_config_t *cfg, jp_metrics_t *metrics,
                    const jp_proc_t *models, jp_decisions_model_fn source, void *ctx, char *errstr,
                    size_t errstr_size)
{
    memset(c, 0, sizeof(*c));
    c->decisions = jp_decisions_new(cfg, metrics, errstr, errstr_size);
    if (!c->decisions)
        return -1;
    /* models run first on each fact, so decisions see the updated champion */
    if (!c->app_model_source && models)
        c->procs[c->n_procs++] = models;
    if (!c->app_model_source && source)
        jp_decisions_set_model_source(c->decisions, source, ctx);
    c->procs[c->n_procs++] = jp_decisions_proc(c->decisions);
    return 0;
}

void jp_compose_release(jp_compose_t *c)
{
    jp_decisions_free(c->decisions);
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
