/*
 * `jackpot dev`: the whole embedded default in one process - dev broker,
 * schema registry, simulator (a simulated week in about a minute by
 * default) and the processor with its admin HTTP server - plus a live view
 * per country. This is what `make demo` runs.
 *
 * Threads: the engine runs on the main thread (jp_run_engine), the
 * simulator and the view on their own. The view and the summary show each
 * country's champions (docs/models.md) from the learning loop's snapshots.
 * With --weeks N the simulator thread,
 * once its N weeks are produced, waits until the engine has consumed every
 * record it wrote and then stops the engine; the summary is printed from
 * the engine's last commit. "Everything" is counted per partition: the
 * simulator's delivery reports give the records written to each input
 * partition, the engine's committed status the records consumed from it
 * (plus any it reported lost to the dev broker's retention); a total, or a
 * lag read from cached watermarks, can look complete while partitions
 * still have records to read.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "app/jp_commands.h"
#include "app/jp_compose.h"
#include "app/jp_evaluate.h"
#include "dev/jp_devstack.h"
#include "base/jp_log.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "app/jp_run.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_produce.h"
#include "model/base/jp_err.h"

const char jp_cmd_dev_usage[] =
    "usage: jackpot dev [--world FILE] [--weeks N] [--speed X | --max] [--seed S]\n"
    "                   [--port P] [--http ADDR] [--state DIR [--reset]]\n"
    "\n"
    "Runs the embedded default end to end: the dev broker, the schema registry,\n"
    "the simulator and the stream processor, with the admin HTTP server up (its\n"
    "URL is printed) and a live view per country. Ctrl-C stops everything\n"
    "cleanly. With --weeks N it simulates N weeks, waits for the processor to\n"
    "catch up, prints a summary and exits 0. Alerts are printed as they are\n"
    "raised (FIRING, RESOLVED); the summary lists, for each change the world\n"
    "documents, the first alert that names its country and how long after\n"
    "the change (in event time) it fired.\n"
    "\n"
    "Options:\n"
    "  -w, --world FILE   simulator world (default configs/sim/default.yaml)\n"
    "  -n, --weeks N      simulated weeks, then stop (default: the world's)\n"
    "  -s, --speed X      simulated seconds per wall second (default 10080: a\n"
    "                     week a minute)\n"
    "      --max          simulate as fast as the processor keeps up (the\n"
    "                     simulator never runs more than 20,000 records ahead)\n"
    "      --seed S       simulator seed (default: the world's)\n"
    "  -p, --port P       first dev broker port (default 9092; 0: ephemeral)\n"
    "      --http ADDR    admin HTTP address (default: the config's http.listen)\n"
    "      --state DIR    state directory (default: a new temporary directory); a\n"
    "                     directory of an earlier run (another dev cluster) is refused\n"
    "      --reset        discard the --state directory's contents first\n"
    "  -h, --help         show this help\n";

/* The first FIRING of each fingerprint, for the summary. */
typedef struct {
    char fingerprint[17], name[32], country[3], detail[96];
    int64_t starts_at;
} fired_t;

typedef struct {
    jp_sim_world_t world;
    jp_sim_options_t sim;
    jp_devstack_t *stack;
    jp_registry_client_t *sim_registry;
    jp_sim_producer_t *producer;
    jp_sim_truth_t *truth;
    int closed_loop;     /* some country follows the recommendations */
    jp_engine_t *engine; /* set while the engine runs */
    pthread_mutex_t lock;
    pthread_t sim_thread, view_thread;
    int sim_started, view_started;
    volatile int stop_sim, stop_view;
    int64_t sim_ms;
    uint64_t sim_records;
    int sim_done, sim_failed;
    int64_t behind; /* records written but not consumed when the simulator thread ended */
    jp_sim_stats_t stats;
    char errstr[512];
    int admin_port;
    double t_start;
    fired_t *fired; /* engine thread until the engine stopped */
    size_t n_fired;
    jp_compose_t *rooms; /* the learning loop (rooms->models NULL: off) and the decisions */
    char *final_models;  /* the model lines when the engine was stopped */
    int models_final;    /* final_models taken as the engine was told to stop */
} devctx_t;

/* One line per country of the learning loop: the champion of each model,
 * its prequential error since it was cut and (sales) its elasticities.
 * malloc'd, NULL when there is nothing yet. */
static char *model_lines(devctx_t *d, int indent)
{
    if (!d->rooms || !d->rooms->models)
        return NULL;
    const jp_config_t *cfg = &d->world.config;
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->n_countries; i++) {
        char *snap = jp_models_snapshot(d->rooms->models, cfg->country[i].code);
        json_t *j = snap ? json_loads(snap, 0, NULL) : NULL;
        free(snap);
        if (!j)
            continue;
        char line[512];
        int len = snprintf(line, sizeof(line), "%*s%-4s", indent, "", cfg->country[i].code);
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(j, "models"), k, m)
        {
            const json_t *ch = json_object_get(json_object_get(m, "aliases"), "champion");
            const json_t *mx = json_object_get(ch, "metrics");
            int sales = strcmp(json_string_value(json_object_get(m, "kind")), "sales") == 0;
            if (!json_is_object(ch)) {
                len += snprintf(line + len, sizeof(line) - (size_t)len, " %s: no champion yet ",
                                json_string_value(json_object_get(m, "kind")));
                continue;
            }
            const json_t *e = json_object_get(mx, sales ? "eval.mape" : "eval.auc");
            len += snprintf(line + len, sizeof(line) - (size_t)len, " %s v%d",
                            json_string_value(json_object_get(m, "kind")),
                            (int)json_integer_value(json_object_get(ch, "version")));
            if (json_is_number(e))
                len += snprintf(line + len, sizeof(line) - (size_t)len,
                                sales ? " (mape %.2f%%)" : " (auc %.3f)",
                                json_number_value(e) * (sales ? 100 : 1));
            const json_t *el = json_object_get(ch, "elasticities");
            const char *flows[] = {"signups", "extras", "cancellations"};
            for (size_t f = 0; sales && f < 3; f++) {
                const json_t *x = json_object_get(el, flows[f]);
                if (json_is_object(x))
                    len += snprintf(line + len, sizeof(line) - (size_t)len, " %s %.3f±%.3f",
                                    flows[f], json_number_value(json_object_get(x, "estimate")),
                                    json_number_value(json_object_get(x, "stderr")));
            }
            if (len >= (int)sizeof(line))
                len = (int)sizeof(line) - 1;
        }
        json_decref(j);
        size_t ll = strlen(line);
        if (n + ll + 2 > cap) {
            char *grown = realloc(out, cap = 2 * (n + ll + 2));
            if (!grown)
                break;
            out = grown;
        }
        memcpy(out + n, line, ll);
        n += ll;
        out[n++] = '\n';
        out[n] = '\0';
    }
    if (!n) {
        free(out);
        return NULL;
    }
    return out;
}

/* Keeps the latest model lines for the summary (the learning loop's
 * instances close with the engine, before it is printed); takes lines.
 * The lines taken as the engine is told to stop are final: the view may
 * render once more while the instances close, and keeps nothing then. */
static void keep_models(devctx_t *d, char *lines, int final)
{
    pthread_mutex_lock(&d->lock);
    if (lines && !d->models_final) {
        free(d->final_models);
        d->final_models = lines;
        lines = NULL;
    }
    d->models_final |= final;
    pthread_mutex_unlock(&d->lock);
    free(lines);
}

/* The simulator runs at most this many records ahead of the processor:
 * the dev broker keeps about 5 MB per partition (some 30,000 records of the
 * busiest country), so a simulator that ran further ahead would see its
 * records trimmed before they were read. */
#define DEV_MAX_AHEAD 20000

static void on_sim_progress(void *ctx, int64_t sim_ms, uint64_t records)
{
    devctx_t *d = ctx;
    pthread_mutex_lock(&d->lock);
    d->sim_ms = sim_ms;
    d->sim_records = records;
    pthread_mutex_unlock(&d->lock);
    /* Backpressure (simulated hour by hour): what the simulator writes
     * does not depend on how fast it goes. */
    for (;;) {
        jp_engine_totals_t t;
        jp_engine_totals(d->engine, &t);
        if (d->stop_sim || (int64_t)records - t.consumed <= DEV_MAX_AHEAD)
            break;
        usleep(2000);
    }
}

/* 1 when the engine's committed status accounts for every record the
 * simulator delivered, partition by partition (consumed + lost = written);
 * *behind gets the records still missing. */
static int caught_up(devctx_t *d, int64_t *behind)
{
    char *status = jp_engine_status_json(d->engine);
    json_t *st = json_loads(status, 0, NULL);
    free(status);
    const jp_config_t *cfg = &d->world.config;
    const char *topics[] = {cfg->topics.sales.name, cfg->topics.customers.name,
                            cfg->topics.draws.name};
    int n = (int)cfg->topics.sales.partitions, seen = 0;
    *behind = 0;
    size_t i;
    json_t *task;
    json_array_foreach(json_object_get(st, "tasks"), i, task)
    {
        int p = (int)json_integer_value(json_object_get(task, "partition"));
        size_t k;
        json_t *in;
        seen++;
        json_array_foreach(json_object_get(task, "inputs"), k, in)
        {
            if (k >= 3)
                break;
            int64_t done = json_integer_value(json_object_get(in, "consumed")) +
                           json_integer_value(json_object_get(in, "lost"));
            int64_t written = jp_sim_producer_delivered(d->producer, topics[k], p);
            if (written > done)
                *behind += written - done;
        }
    }
    json_decref(st);
    return seen == n && *behind == 0;
}

static void *sim_main(void *arg)
{
    devctx_t *d = arg;
    jp_sim_stats_t stats;
    char err[512];
    int rc = jp_sim_run(&d->world, &d->sim, d->truth, &stats, err, sizeof(err));
    if (rc == 0)
        rc = jp_sim_producer_flush(d->producer, 60000, err, sizeof(err));
    pthread_mutex_lock(&d->lock);
    d->stats = stats;
    d->sim_done = 1;
    d->sim_failed = rc != 0;
    if (rc != 0)
        jp_err_set(d->errstr, sizeof(d->errstr), "%s", err);
    pthread_mutex_unlock(&d->lock);
    if (rc != 0) {
        jp_log_error("dev", "simulator: %s", err);
        jp_engine_stop(d->engine);
        return NULL;
    }
    /* Stop the engine once it has consumed everything the simulator wrote,
     * on every partition (a run stopped by Ctrl-C, or an engine that
     * stopped on records lost to the broker's retention, has stopped
     * already). */
    int64_t behind = 0;
    while (!d->stop_sim) {
        if (caught_up(d, &behind)) {
            /* the champions as the run ends, for the summary (the
             * learning loop's instances close with the engine) */
            keep_models(d, model_lines(d, 2), 1);
            jp_engine_stop(d->engine);
            break;
        }
        usleep(100000);
    }
    pthread_mutex_lock(&d->lock);
    d->behind = behind;
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* One screen (or, without a terminal, one line every ten seconds). */
static void render(devctx_t *d, int tty, double *last_line, uint64_t *last_consumed, double *last_t)
{
    jp_engine_totals_t t;
    jp_engine_totals(d->engine, &t);
    char *status = jp_engine_status_json(d->engine);
    json_t *st = json_loads(status, 0, NULL);
    free(status);
    double now = jp_clock_now_s();
    double rate =
        now > *last_t ? (double)((uint64_t)t.consumed - *last_consumed) / (now - *last_t) : 0.0;
    *last_consumed = (uint64_t)t.consumed;
    *last_t = now;
    pthread_mutex_lock(&d->lock);
    int64_t sim_ms = d->sim_ms;
    uint64_t written = d->sim_records;
    pthread_mutex_unlock(&d->lock);
    time_t secs = (time_t)(sim_ms / 1000);
    struct tm tm;
    char when[32] = "-";
    if (sim_ms)
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&secs, &tm));
    if (!tty) {
        if (now - *last_line < 10.0)
            goto out;
        *last_line = now;
        fprintf(stderr,
                "dev: simulated %s, written %llu, consumed %lld (%.0f/s), applied %lld, "
                "dead-lettered %lld, duplicates %lld, windows closed %lld\n",
                when, (unsigned long long)written, (long long)t.consumed, rate,
                (long long)t.applied, (long long)t.dead_lettered, (long long)t.duplicates,
                (long long)t.windows_closed);
        char *models = model_lines(d, 5);
        if (models)
            fprintf(stderr, "dev: champions\n%s", models);
        keep_models(d, models, 0);
        goto out;
    }
    fprintf(stderr, "\033[H\033[J");
    fprintf(stderr, "jackpot dev   admin http://127.0.0.1:%d   simulated %s UTC   Ctrl-C stops\n\n",
            d->admin_port, when);
    fprintf(stderr,
            "events/s %-9.0f written %-10llu consumed %-10lld dead-lettered %-6lld "
            "duplicates %-6lld\n\n",
            rate, (unsigned long long)written, (long long)t.consumed, (long long)t.dead_lettered,
            (long long)t.duplicates);
    fprintf(stderr, "%-4s %-19s %10s %10s %10s %12s\n", "", "last closed hour", "tickets",
            "signups", "cancels", "subscribers");
    json_t *countries = json_object_get(st, "countries");
    const char *cc;
    json_t *c;
    json_object_foreach(countries, cc, c)
    {
        json_t *h = json_object_get(json_object_get(c, "last_closed"), "hour");
        if (!h)
            continue;
        time_t ws = (time_t)(json_integer_value(json_object_get(h, "window_start")) / 1000);
        char wbuf[32];
        strftime(wbuf, sizeof(wbuf), "%Y-%m-%d %H:%M", gmtime_r(&ws, &tm));
        fprintf(stderr, "%-4s %-19s %10lld %10lld %10lld %12lld\n", cc, wbuf,
                (long long)json_integer_value(json_object_get(h, "tickets")),
                (long long)json_integer_value(json_object_get(h, "signups")),
                (long long)json_integer_value(json_object_get(h, "cancellations")),
                (long long)json_integer_value(json_object_get(h, "active_subscribers")));
    }
    char *lines = model_lines(d, 0);
    if (lines)
        fprintf(stderr,
                "\nchampions (version, prequential error since its cut, elasticities "
                "d ln rate / d ln prize)\n%s",
                lines);
    keep_models(d, lines, 0);
out:
    json_decref(st);
}

static void *view_main(void *arg)
{
    devctx_t *d = arg;
    int tty = isatty(2);
    double last_line = jp_clock_now_s(), last_t = jp_clock_now_s();
    uint64_t last_consumed = 0;
    while (!d->stop_view) {
        render(d, tty, &last_line, &last_consumed, &last_t);
        for (int i = 0; i < 10 && !d->stop_view; i++)
            usleep(100000);
    }
    return NULL;
}

static void on_ready(void *ctx, jp_engine_t *engine, int admin_port)
{
    devctx_t *d = ctx;
    d->engine = engine;
    d->admin_port = admin_port;
    printf("admin http://127.0.0.1:%d  broker %s  registry %s\n", admin_port,
           jp_devstack_bootstraps(d->stack), jp_devstack_registry_url(d->stack));
    fflush(stdout);
    if (pthread_create(&d->sim_thread, NULL, sim_main, d) == 0)
        d->sim_started = 1;
    if (pthread_create(&d->view_thread, NULL, view_main, d) == 0)
        d->view_started = 1;
}

static void fmt_utc(char *buf, size_t size, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    strftime(buf, size, "%Y-%m-%d %H:%M", gmtime_r(&secs, &tm));
}

/* "feature=signups model=sales": the labels but the country. */
static void alert_labels(const jp_alert_t *a, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    const jp_avro_str_t *k = a->labels.keys, *v = a->labels.values;
    for (size_t i = 0; i < a->labels.n && n < size; i++)
        if (!jp_avro_str_eq(k[i], "country"))
            n += (size_t)snprintf(buf + n, size - n, "%s%.*s=%.*s", n ? " " : "", (int)k[i].len,
                                  k[i].ptr, (int)v[i].len, v[i].ptr);
}

/* Every alert as it is raised: one line on stdout. */
static void on_alert(void *ctx, int partition, const jp_alert_t *a)
{
    (void)partition;
    devctx_t *d = ctx;
    char when[32], labels[96];
    int firing = a->status == JP_ALERT_STATUS_FIRING;
    fmt_utc(when, sizeof(when), firing ? a->starts_at : a->ends_at);
    alert_labels(a, labels, sizeof(labels));
    static const char *const sev[] = {"info", "warning", "critical", "unknown"};
    printf("%-8s %-8s %-21.*s %-2.*s %s %s UTC: %.*s\n", firing ? "FIRING" : "RESOLVED",
           sev[a->severity <= JP_ALERT_SEVERITY_UNKNOWN ? a->severity : 3], (int)a->name.len,
           a->name.ptr, (int)(a->has_country ? a->country.len : 1),
           a->has_country ? a->country.ptr : "-", labels, when, (int)a->summary.len,
           a->summary.ptr);
    fflush(stdout);
    if (!firing)
        return;
    for (size_t i = 0; i < d->n_fired; i++)
        if (jp_avro_str_eq(a->fingerprint, d->fired[i].fingerprint))
            return;
    fired_t *f = realloc(d->fired, (d->n_fired + 1) * sizeof(*f));
    if (!f)
        return;
    d->fired = f;
    f = &f[d->n_fired++];
    memset(f, 0, sizeof(*f));
    snprintf(f->fingerprint, sizeof(f->fingerprint), "%.*s", (int)a->fingerprint.len,
             a->fingerprint.ptr);
    snprintf(f->name, sizeof(f->name), "%.*s", (int)a->name.len, a->name.ptr);
    if (a->has_country)
        snprintf(f->country, sizeof(f->country), "%.*s", (int)a->country.len, a->country.ptr);
    snprintf(f->detail, sizeof(f->detail), "%s", labels);
    f->starts_at = a->starts_at;
}

static void on_processors(void *ctx, jp_alerts_t *alerts)
{
    if (alerts)
        jp_alerts_set_listener(alerts, on_alert, ctx);
}

/* Detection delays against the world's documented changes. */
static void print_delays(const devctx_t *d)
{
    const jp_sim_change_t *ch = d->world.changes.items;
    const jp_sim_country_t *k = d->world.countries.items;
    static const char *const kinds[] = {"elasticity", "seasonality", "feature_shift", "silence"};
    if (d->world.changes.n)
        printf("detection delays against the world's changes (event time):\n");
    for (size_t i = 0; i < d->world.changes.n; i++) {
        int64_t at = d->world.start_ms + ch[i].week * 7 * 86400000LL;
        for (size_t j = 0; j < d->world.countries.n; j++) {
            if (ch[i].country && strcmp(ch[i].country, k[j].code) != 0)
                continue;
            const fired_t *best = NULL;
            for (size_t f = 0; f < d->n_fired; f++)
                if (strcmp(d->fired[f].country, k[j].code) == 0 && d->fired[f].starts_at >= at &&
                    jp_sim_change_documented(&ch[i], d->fired[f].name, d->fired[f].detail) &&
                    (!best || d->fired[f].starts_at < best->starts_at))
                    best = &d->fired[f];
            char what[96];
            snprintf(what, sizeof(what), "week %lld %s %s%s%s", (long long)ch[i].week, k[j].code,
                     kinds[ch[i].kind], ch[i].target ? " " : "", ch[i].target ? ch[i].target : "");
            if (best)
                printf("  %-40s %s %s after %.1f days\n", what, best->name, best->detail,
                       (double)(best->starts_at - at) / 86400000.0);
            else
                printf("  %-40s not detected\n", what);
        }
    }
}

/* Ctrl-C or SIGTERM: the champions as the run is stopped, for the summary
 * (the learning loop's instances close with the engine, and the view's
 * lines may be ten seconds old). */
static void on_signal(void *ctx)
{
    devctx_t *d = ctx;
    d->stop_sim = 1;
    keep_models(d, model_lines(d, 2), 1);
}

/* Decision quality of the closed loop: the lines of `jackpot evaluate`. */
static void print_quality(devctx_t *d)
{
    const jp_config_t *cfg = &d->world.config;
    char err[512], *report = NULL;
    size_t len = 0;
    jp_evaluation_t *ev = jp_evaluation_new();
    FILE *out = open_memstream(&report, &len);
    if (!ev || !out ||
        jp_evaluation_read(ev, jp_devstack_bootstraps(d->stack), NULL, cfg->topics.recommendations,
                           jp_devstack_registry_url(d->stack), err, sizeof(err)) < 0 ||
        jp_evaluation_report(ev, jp_sim_truth_json(d->truth), cfg, out, NULL, err, sizeof(err)) !=
            0) {
        jp_log_warn("dev", "decision quality: %s", err);
    }
    if (out)
        fclose(out);
    printf("decision quality against the simulator's truth (jackpot evaluate):\n");
    for (char *line = report, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "regret ", 7) == 0 || strstr(line, " decisions, "))
            printf("  %s\n", line);
        if (!next)
            break;
    }
    free(report);
    jp_evaluation_free(ev);
}

/* The line of `lines` (model_lines, any indent) for country cc, after its
 * code and without its newline; NULL when there is none. */
static const char *country_line(const char *lines, const char *cc, int *len)
{
    for (const char *l = lines; l && *l;) {
        const char *nl = strchr(l, '\n');
        int n = nl ? (int)(nl - l) : (int)strlen(l);
        int sp = (int)strspn(l, " ");
        if (n >= sp + 4 && strncmp(l + sp, cc, 2) == 0 && l[sp + 2] == ' ') {
            *len = n - sp - 4; /* after the code's column */
            return l + sp + 4;
        }
        l = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* Per country: the champions at the end, the latest recommendation and
 * why (the fallback's reason; else the rules that bind or cannot all hold,
 * and the exploration). */
static void print_countries(devctx_t *d)
{
    const jp_config_t *cfg = &d->world.config;
    printf("champions at the end (version, prequential error since its cut, elasticities "
           "d ln rate / d ln prize with their standard errors), and each country's latest "
           "recommendation and why:\n");
    for (size_t i = 0; i < cfg->n_countries; i++) {
        const char *cc = cfg->country[i].code;
        int len = 0;
        const char *champ = country_line(d->final_models, cc, &len);
        if (champ)
            printf("  %-4s champion:%.*s\n", cc, len, champ);
        else
            printf("  %-4s champion: none%s\n", cc,
                   d->rooms && d->rooms->models ? " yet" : " (models.enabled: false)");
        char *rec = d->rooms ? jp_decisions_latest_json(d->rooms->decisions, cc) : NULL;
        json_t *j = rec ? json_loads(rec, 0, NULL) : NULL;
        free(rec);
        if (!j) {
            printf("       recommendation: none yet\n");
            continue;
        }
        const char *status = json_string_value(json_object_get(j, "status"));
        const json_t *fb = json_object_get(j, "fallback_reason");
        const json_t *ex = json_object_get(j, "exploration");
        printf("       recommendation for %s: %lld %s minor units, %s; why: ",
               json_string_value(json_object_get(j, "draw_id")),
               (long long)json_integer_value(json_object_get(j, "prize_minor")),
               json_string_value(json_object_get(j, "currency")), status ? status : "?");
        if (json_is_string(fb)) {
            printf("fallback rule (%s)\n", json_string_value(fb));
            json_decref(j);
            continue;
        }
        int infeasible = status && strcmp(status, "INFEASIBLE") == 0;
        const json_t *rules =
            json_object_get(j, infeasible ? "infeasible_rules" : "binding_constraints");
        printf("%s over %lld draws", infeasible ? "no prize meets all rules" : "the model's best",
               (long long)json_integer_value(json_object_get(j, "horizon_draws")));
        size_t k;
        json_t *r;
        const char *lead = infeasible ? "; cannot all hold: " : "; binding: ";
        json_array_foreach(rules, k, r)
        {
            printf("%s%s", k ? ", " : lead, json_string_value(r));
        }
        if (json_is_true(json_object_get(ex, "explored")))
            printf("; explored (greedy %lld, %.2f%% of the expected value given up)",
                   (long long)json_integer_value(json_object_get(ex, "greedy_prize_minor")),
                   100.0 * json_number_value(json_object_get(ex, "share")));
        printf("\n");
        json_decref(j);
    }
}

static void on_exit_engine(void *ctx, jp_engine_t *engine)
{
    devctx_t *d = ctx;
    d->stop_sim = 1;
    d->stop_view = 1;
    if (d->sim_started)
        pthread_join(d->sim_thread, NULL);
    if (d->view_started)
        pthread_join(d->view_thread, NULL);
    jp_engine_totals_t t;
    jp_engine_totals(engine, &t);
    double secs = jp_clock_now_s() - d->t_start;
    printf("\nsummary: %lld simulated records written, %lld consumed, %lld applied, "
           "%lld dead-lettered (%lld late), %lld duplicates, %lld windows closed, "
           "%lld commits, %.1f s\n",
           (long long)d->stats.records, (long long)t.consumed, (long long)t.applied,
           (long long)t.dead_lettered, (long long)t.late, (long long)t.duplicates,
           (long long)t.windows_closed, (long long)t.commits, secs);
    pthread_mutex_lock(&d->lock);
    int64_t behind = d->behind;
    int done = d->sim_done && !d->sim_failed;
    pthread_mutex_unlock(&d->lock);
    if (done)
        printf("written = consumed + lost on every input partition: %s (%lld lost to the dev "
               "broker's retention)\n",
               behind == 0 ? "holds" : "NOT YET (stopped early)", (long long)t.lost);
    printf("conservation: consumed %lld = applied %lld + dead-lettered %lld + duplicates %lld: "
           "%s\n",
           (long long)t.consumed, (long long)t.applied, (long long)t.dead_lettered,
           (long long)t.duplicates,
           t.consumed == t.applied + t.dead_lettered + t.duplicates ? "holds" : "BROKEN");
    print_delays(d);
    char *status = jp_engine_status_json(engine);
    json_t *st = json_loads(status, 0, NULL);
    free(status);
    const char *cc;
    json_t *c;
    json_object_foreach(json_object_get(st, "countries"), cc, c)
    {
        json_t *day = json_object_get(json_object_get(c, "last_closed"), "day");
        if (day)
            printf("  %s last closed day: tickets %lld, revenue %lld (minor units), "
                   "signups %lld, cancellations %lld, active subscribers %lld, unique "
                   "players ~%lld\n",
                   cc, (long long)json_integer_value(json_object_get(day, "tickets")),
                   (long long)json_integer_value(json_object_get(day, "revenue_minor")),
                   (long long)json_integer_value(json_object_get(day, "signups")),
                   (long long)json_integer_value(json_object_get(day, "cancellations")),
                   (long long)json_integer_value(json_object_get(day, "active_subscribers")),
                   (long long)json_integer_value(json_object_get(day, "unique_players")));
    }
    json_decref(st);
    if (d->closed_loop && d->truth)
        print_quality(d);
    print_countries(d);
    fflush(stdout);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int jp_cmd_dev(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"world", required_argument, NULL, 'w'}, {"weeks", required_argument, NULL, 'n'},
        {"speed", required_argument, NULL, 's'}, {"max", no_argument, NULL, 'M'},
        {"seed", required_argument, NULL, 'S'},  {"port", required_argument, NULL, 'p'},
        {"http", required_argument, NULL, 'H'},  {"state", required_argument, NULL, 'D'},
        {"reset", no_argument, NULL, 'R'},       {NULL, 0, NULL, 0}};
    const char *world_path = "configs/sim/default.yaml", *http = NULL, *state = NULL;
    long weeks = 0, port = 9092, seed = -1;
    double speed = 7.0 * 86400.0 / 60.0;
    int code, c, rc = 0, reset = 0;
    while ((c = jp_cli_getopt(cmd, argc, argv, "w:n:s:p:", longopts, &code)) != -1) {
        char *end;
        switch (c) {
        case JP_CLI_EXIT:
            return code;
        case 'w':
            world_path = optarg;
            break;
        case 'n':
            if (jp_cli_parse_long(optarg, 1, 520, &weeks) != 0)
                return jp_cli_usage_error(cmd, "--weeks needs a number from 1 to 520");
            break;
        case 's':
            speed = strtod(optarg, &end);
            if (end == optarg || *end || !(speed > 0))
                return jp_cli_usage_error(cmd, "--speed needs a positive number");
            break;
        case 'M':
            speed = 0;
            break;
        case 'S':
            if (jp_cli_parse_long(optarg, 0, 0x7fffffffL, &seed) != 0)
                return jp_cli_usage_error(cmd, "--seed needs a non-negative number");
            break;
        case 'p':
            if (jp_cli_parse_long(optarg, 0, 65535, &port) != 0)
                return jp_cli_usage_error(cmd, "--port needs a port number");
            break;
        case 'H':
            http = optarg;
            break;
        case 'D':
            state = optarg;
            break;
        case 'R':
            reset = 1;
            break;
        }
    }
    if (optind < argc)
        return jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (reset && !state)
        return jp_cli_usage_error(cmd, "--reset needs --state DIR");

    /* Before the broker, registry and simulator start their threads. */
    jp_run_block_signals();
    static devctx_t d; /* large; one per process */
    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.lock, NULL);
    d.t_start = jp_clock_now_s();
    jp_conf_t conf;
    jp_conf_init(&conf, "JACKPOT_");
    if (jp_sim_world_load(&conf, world_path, &d.world) != 0) {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
        jp_conf_destroy(&conf);
        jp_sim_world_release(&d.world);
        return EX_CONFIG;
    }
    jp_conf_destroy(&conf);
    jp_config_t *cfg = &d.world.config;

    char tmp[] = "/tmp/jackpot-dev-XXXXXX", path[1024], state_dir[1024];
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "jackpot dev: cannot create a temporary directory\n");
        jp_sim_world_release(&d.world);
        return EX_CANTCREAT;
    }
    snprintf(path, sizeof(path), "%s/registry", tmp);
    snprintf(state_dir, sizeof(state_dir), "%s", state ? state : tmp);
    char err[512];
    d.stack = jp_devstack_start(cfg, 3, (int)port, "127.0.0.1:0", path, err, sizeof(err));
    if (!d.stack || jp_devstack_configure(d.stack, cfg) != 0) {
        fprintf(stderr, "jackpot dev: %s\n", err);
        rc = EX_UNAVAILABLE;
        goto out;
    }
    d.sim_registry = jp_registry_client_new(jp_devstack_registry_url(d.stack), err, sizeof(err));
    d.producer = jp_sim_producer_new(jp_devstack_bootstraps(d.stack), &cfg->kafka, NULL, NULL, err,
                                     sizeof(err));
    if (!d.sim_registry || !d.producer) {
        fprintf(stderr, "jackpot dev: %s\n", err);
        rc = EX_SOFTWARE;
        goto out;
    }
    d.sim.weeks = weeks;
    d.sim.seed = (uint64_t)seed;
    d.sim.seed_set = seed >= 0;
    d.sim.speed = speed;
    d.sim.registry = jp_serde_registry_client(d.sim_registry);
    d.sim.output = jp_sim_producer_output(d.producer);
    const jp_sim_country_t *wk = d.world.countries.items;
    for (size_t i = 0; i < d.world.countries.n; i++)
        d.closed_loop |= wk[i].prize.policy == JP_SIM_POLICY_RECOMMENDATIONS;
    if (d.closed_loop &&
        jp_sim_producer_close_loop(d.producer, &d.world, jp_devstack_registry_url(d.stack), 60000,
                                   &d.sim, err, sizeof(err)) != 0)
        jp_log_warn("dev", "closed loop unavailable (%s): prizes follow the schedule", err);
    d.truth =
        jp_sim_truth_new(&d.world, jp_sim_seed(&d.world, &d.sim), jp_sim_weeks(&d.world, &d.sim));
    d.sim.progress = on_sim_progress;
    d.sim.progress_ctx = &d;
    d.sim.stop = (volatile int *)&d.stop_sim;

    jp_run_opts_t ro = {0};
    ro.dev_mode = 1;
    ro.state_dir = state_dir;
    ro.reset_state = reset;
    ro.http_listen = http;
    ro.ctx = &d;
    ro.on_ready = on_ready;
    ro.on_signal = on_signal;
    ro.on_exit = on_exit_engine;
    ro.on_processors = on_processors;
    ro.compose_out = &d.rooms;
    rc = jp_run_engine(cfg, &ro);
    if (rc == 0 && d.sim_failed)
        rc = EX_SOFTWARE;
out:
    jp_sim_producer_free(d.producer);
    jp_sim_truth_free(d.truth);
    jp_registry_client_free(d.sim_registry);
    jp_devstack_stop(d.stack);
    jp_sim_world_release(&d.world);
    free(d.final_models);
    if (!state && nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "jackpot dev: could not remove %s\n", tmp);
    free(d.fired);
    pthread_mutex_destroy(&d.lock);
    return rc;
}
