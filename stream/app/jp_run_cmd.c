/*
 * `jackpot run`: the engine with its admin HTTP server. Signals are
 * blocked in every thread and taken by one signal thread with sigwait:
 * SIGINT/SIGTERM ask the engine to stop (it finishes the batch, commits,
 * closes the stores and leaves the group), SIGHUP reloads the country
 * configurations. No work happens in a signal handler.
 *
 * The engine keeps processing.shutdown_grace on every Kafka call of its
 * shutdown path; a call already blocked in librdkafka when the signal came
 * can still overrun it, so the signal thread keeps a watchdog: if the
 * process has not finished within the grace it exits at once (EX_SOFTWARE).
 * That loses nothing committed - the state is crash-consistent and the
 * records since the last commit are read again at the next start.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerts/jp_alerts.h"
#include "app/jp_admin.h"
#include "app/jp_auth.h"
#include "app/jp_commands.h"
#include "app/jp_compose.h"
#include "config/jp_config.h"
#include "engine/jp_engine.h"
#include "base/jp_log.h"
#include "app/jp_run.h"
#include "models/jp_models.h"
#include "model/base/jp_err.h"

#include <jansson.h>

const char jp_cmd_run_usage[] =
    "usage: jackpot run [--config FILE] [--reset-state] [-X key=value]...\n"
    "\n"
    "Runs the stream processor: joins the consumer group on the input topics,\n"
    "validates, deduplicates and applies records to RocksDB state, closes\n"
    "event-time windows into jackpot.features.v1, dead-letters what it rejects,\n"
    "recommends each country's headline prize at its decision times, trains\n"
    "and registers the models (jackpot.models.v1), raises drift and data-quality\n"
    "alerts on jackpot.alerts.v1 (retraining a model on critical concept drift),\n"
    "and serves the admin HTTP endpoints (/healthz, /readyz, /metrics, /v1/tasks,\n"
    "/v1/countries/<CC>/features, /recommendation, /whatif?prize=X, /v1/models,\n"
    "/v1/alerts). SIGTERM or SIGINT stops it cleanly; SIGHUP reloads the country\n"
    "configurations.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   processor configuration (default configs/jackpot.yaml)\n"
    "      --reset-state   discard a state directory written against another Kafka\n"
    "                      cluster or re-created topics (it is rebuilt from this\n"
    "                      cluster's changelogs) instead of refusing to start\n"
    "  -X key=value        librdkafka property, overrides the kafka: map\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit codes: 0 after a clean stop (within processing.shutdown_grace of the\n"
    "signal), 78 configuration error (including input topics that are not\n"
    "co-partitioned, or a state directory of another cluster), 69 Kafka\n"
    "unreachable, 75 input records lost to retention (processing.on_input_loss).\n";

typedef struct run_ctx_s {
    const jp_config_t *cfg;
    jp_engine_t *engine;
    sigset_t signals;
    pthread_t sig_thread;
    const jp_run_opts_t *opts;
    /* Configurations loaded by SIGHUP: the engine's validators point into
     * them, so they live until the engine is freed (a few KB each). */
    jp_config_t **reloaded;
    size_t n_reloaded;
    jp_compose_t compose; /* the capability rooms: models, decisions, alerts */
} run_ctx_t;

/* ---- admin routes --------------------------------------------------------- */

static int reply_json(char *s, char **body_out, const char **ct)
{
    *body_out = s;
    *ct = "application/json";
    return s ? 200 : 500;
}

static int route_readyz(void *ctx, const char *method, const char *path, const char *query,
                        const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)method, (void)path, (void)query, (void)body, (void)body_len;
    jp_engine_t *e = ctx;
    int ready = jp_engine_ready(e);
    *body_out = strdup(ready ? "ready\n" : "not ready\n");
    *ct = "text/plain";
    return ready ? 200 : 503;
}

static int route_tasks(void *ctx, const char *method, const char *path, const char *query,
                       const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)method, (void)path, (void)query, (void)body, (void)body_len;
    char *status = jp_engine_status_json(ctx);
    json_t *j = json_loads(status, 0, NULL);
    free(status);
    char *s = json_dumps(json_object_get(j, "tasks"), JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    return reply_json(s, body_out, ct);
}

/* /v1/countries/<CC>/features, and the rooms' country routes
 * (/recommendation, /whatif: app/jp_compose.h); GET and HEAD only (the
 * server answers other methods) */
static int route_countries(void *ctx, const char *method, const char *path, const char *query,
                           const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)body, (void)body_len;
    run_ctx_t *r = ctx;
    char cc[3] = {0};
    const char *rest = path + strlen("/v1/countries/");
    if (strlen(rest) > 2)
        memcpy(cc, rest, 2);
    if (strlen(rest) > 3 && rest[2] == '/' && !jp_config_country(r->cfg, cc)) {
        *body_out = strdup("{\"error\":\"unknown country\"}");
        *ct = "application/json";
        return 404;
    }
    int handled = strlen(rest) > 3
                      ? jp_compose_country_route(&r->compose, method, rest, query, body_out, ct)
                      : 0;
    if (handled)
        return handled;
    if (strlen(rest) != strlen("GB/features") || strcmp(rest + 2, "/features") != 0) {
        *body_out = strdup("{\"error\":\"not found\"}");
        *ct = "application/json";
        return 404;
    }
    char *status = jp_engine_status_json(r->engine);
    json_t *j = json_loads(status, 0, NULL);
    free(status);
    json_t *c = json_object_get(json_object_get(j, "countries"), cc);
    json_t *out = json_object();
    json_object_set_new(out, "country", json_string(cc));
    json_object_set(out, "open", c ? json_object_get(c, "open") : json_array());
    json_object_set(out, "last_closed", c ? json_object_get(c, "last_closed") : json_object());
    if (!c)
        json_decref(json_object_get(out, "open")), json_decref(json_object_get(out, "last_closed"));
    char *s = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(out);
    json_decref(j);
    return reply_json(s, body_out, ct);
}

static int reply_error(int status, const char *message, char **body_out, const char **ct)
{
    json_t *j = json_pack("{s:s}", "error", message);
    *body_out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    *ct = "application/json";
    json_decref(j);
    return status;
}

/* /v1/alerts[?country=CC][&status=FIRING|RESOLVED] */
static int route_alerts(void *ctx, const char *method, const char *path, const char *query,
                        const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)method, (void)path, (void)body, (void)body_len;
    run_ctx_t *r = ctx;
    char *country = jp_admin_query_param(query, "country");
    char *status = jp_admin_query_param(query, "status");
    int rc;
    if (country && !jp_config_country(r->cfg, country))
        rc = reply_error(400, "country: not a configured country code", body_out, ct);
    else if (status && strcmp(status, "FIRING") != 0 && strcmp(status, "RESOLVED") != 0)
        rc = reply_error(400, "status: FIRING or RESOLVED", body_out, ct);
    else if (!r->compose.alerts)
        rc = reply_json(strdup("{\"alerts\": []}"), body_out, ct);
    else
        rc = reply_json(jp_alerts_json(r->compose.alerts, country, status), body_out, ct);
    free(country);
    free(status);
    return rc;
}

/* /v1/models...: the model registry (promote and rollback are POSTs, so
 * the route's access makes them need an operator token). */
static int route_models(void *ctx, const char *method, const char *path, const char *query,
                        const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)body_len;
    run_ctx_t *r = ctx;
    *ct = "application/json";
    if (!r->compose.models) {
        *body_out = strdup("{\"error\":\"the learning loop is off (models.enabled: false)\"}");
        return 404;
    }
    return jp_models_http(r->compose.models, method, path, query, body, body_out);
}

static int admin_routes(jp_admin_t *admin, run_ctx_t *r)
{
    if (jp_admin_route_access(admin, "/readyz", JP_ADMIN_PUBLIC, route_readyz, r->engine) != 0 ||
        jp_admin_route_get(admin, "/v1/tasks", route_tasks, r->engine) != 0 ||
        /* a what-if changes nothing: the country routes are reads */
        jp_admin_route_methods(admin, "/v1/countries/", JP_ADMIN_READS, "GET, HEAD",
                               route_countries, r) != 0 ||
        jp_admin_route_get(admin, "/v1/alerts", route_alerts, r) != 0 ||
        jp_admin_route_get(admin, "/v1/models", route_models, r) != 0 ||
        jp_admin_route_access(admin, "/v1/models/", JP_ADMIN_BY_METHOD, route_models, r) != 0)
        return -1;
    return 0;
}

/* ---- signals ---------------------------------------------------------------- */

static void reload(run_ctx_t *r)
{
    jp_conf_t conf;
    jp_conf_init(&conf, "JACKPOT_");
    jp_config_t *fresh = calloc(1, sizeof(*fresh));
    jp_config_t **list = realloc(r->reloaded, (r->n_reloaded + 1) * sizeof(*list));
    char err[512];
    if (list)
        r->reloaded = list;
    if (!fresh || !list) {
        jp_log_error("run", "reload refused: out of memory");
        free(fresh);
    } else if (jp_config_load(&conf, r->cfg->path, NULL, fresh) != 0) {
        for (size_t i = 0; i < conf.n_errors; i++)
            jp_log_error("run", "reload: %s", conf.errors[i]);
        jp_log_error("run", "reload refused: the running configuration stays");
        jp_config_release(fresh);
        free(fresh);
    } else if (jp_engine_reload_countries(r->engine, fresh, err, sizeof(err)) != 0) {
        jp_log_error("run", "reload refused: %s", err);
        jp_config_release(fresh);
        free(fresh);
    } else {
        r->reloaded[r->n_reloaded++] = fresh;
    }
    jp_conf_destroy(&conf);
}

static void *signal_thread(void *arg)
{
    run_ctx_t *r = arg;
    struct timespec deadline = {0, 0}; /* set by the first stop signal */
    for (;;) {
        int sig;
        if (deadline.tv_sec) {
            struct timespec now, left;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t ms =
                (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
            left.tv_sec = ms > 0 ? ms / 1000 : 0;
            left.tv_nsec = ms > 0 ? (ms % 1000) * 1000000 : 0;
            sig = sigtimedwait(&r->signals, NULL, &left);
            if (sig < 0 && errno == EAGAIN) {
                jp_log_error("run",
                             "not stopped within processing.shutdown_grace (%lld ms): exiting "
                             "now; records since the last commit are read again at the next "
                             "start",
                             (long long)r->cfg->processing.shutdown_grace_ms);
                _exit(EX_SOFTWARE);
            }
            if (sig < 0)
                continue;
        } else if (sigwait(&r->signals, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            jp_log_info("run", "SIGHUP: reloading country configurations from %s", r->cfg->path);
            reload(r);
            continue;
        }
        if (sig == SIGUSR1) /* internal: the engine finished */
            break;
        jp_log_info("run", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        if (!deadline.tv_sec) {
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_sec += r->cfg->processing.shutdown_grace_ms / 1000;
            deadline.tv_nsec += (r->cfg->processing.shutdown_grace_ms % 1000) * 1000000;
            if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
            }
        }
        if (r->opts->on_signal)
            r->opts->on_signal(r->opts->ctx);
        if (r->engine)
            jp_engine_stop(r->engine);
    }
    return NULL;
}

static void handled_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

int jp_run_block_signals(void)
{
    sigset_t set;
    handled_signals(&set);
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

static int start_signals(run_ctx_t *r)
{
    handled_signals(&r->signals);
    if (jp_run_block_signals() != 0 || pthread_create(&r->sig_thread, NULL, signal_thread, r) != 0)
        return -1;
    return 0;
}

static void stop_signals(run_ctx_t *r)
{
    pthread_kill(r->sig_thread, SIGUSR1);
    pthread_join(r->sig_thread, NULL);
}

static void release_reloaded(run_ctx_t *r)
{
    for (size_t i = 0; i < r->n_reloaded; i++) {
        jp_config_release(r->reloaded[i]);
        free(r->reloaded[i]);
    }
    free(r->reloaded);
}

/* ---- the command -------------------------------------------------------------- */

int jp_cmd_run(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"reset-state", no_argument, NULL, 'R'},
                                             {NULL, 0, NULL, 0}};
    const char *path = "configs/jackpot.yaml";
    jp_conf_props_t xprops = {0};
    int code, c, rc = 0, reset_state = 0;
    while ((c = jp_cli_getopt(cmd, argc, argv, "c:X:", longopts, &code)) != -1) {
        if (c == JP_CLI_EXIT) {
            rc = code;
            goto out;
        }
        if (c == 'R')
            reset_state = 1;
        else if (c == 'c')
            path = optarg;
        else if (c == 'X' && jp_config_add_xprop(&xprops, optarg) != 0) {
            rc = jp_cli_usage_error(cmd, "-X needs key=value, got '%s'", optarg);
            goto out;
        }
    }
    if (optind < argc) {
        rc = jp_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    jp_conf_t conf;
    jp_config_t cfg;
    jp_run_block_signals(); /* before librdkafka starts any thread */
    jp_conf_init(&conf, "JACKPOT_");
    if (jp_config_load(&conf, path, &xprops, &cfg) != 0) {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
        jp_conf_destroy(&conf);
        jp_config_release(&cfg);
        rc = EX_CONFIG;
        goto out;
    }
    jp_conf_destroy(&conf);
    jp_run_opts_t opts = {0};
    opts.reset_state = reset_state;
    rc = jp_run_engine(&cfg, &opts);
    jp_config_release(&cfg);
out:
    jp_conf_props_free(&xprops);
    return rc;
}

int jp_run_engine(const jp_config_t *cfg, const jp_run_opts_t *opts)
{
    char err[512];
    int rc = 0;
    run_ctx_t r;
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opts = opts;
    jp_log_set_level((jp_log_level_t)cfg->log.level);
    jp_log_set_format((jp_log_format_t)cfg->log.format);
    if (start_signals(&r) != 0) {
        fprintf(stderr, "jackpot run: cannot set up signal handling\n");
        return EX_OSERR;
    }
    jp_metrics_t *metrics = jp_metrics_new();
    jp_engine_opts_t eo = {opts->dev_mode, opts->state_dir, opts->reset_state};
    int exit_code = 0;
    r.engine = jp_engine_new(cfg, metrics, &eo, &exit_code, err, sizeof(err));
    if (!r.engine) {
        jp_log_error("run", "%s", err);
        rc = exit_code ? exit_code : EX_SOFTWARE;
        goto done;
    }
    /* The capability rooms, as processors of every task, in their order:
     * the learning loop first (the decisions read its champion, the alerts
     * its evaluations), then the decisions, then the alerts. */
    if (jp_compose_init(&r.compose, cfg, metrics, NULL, NULL, NULL, err, sizeof(err)) != 0) {
        jp_log_error("run", "%s", err);
        rc = EX_SOFTWARE;
        goto done;
    }
    for (size_t i = 0; i < r.compose.n_procs; i++)
        if (jp_engine_add_proc(r.engine, r.compose.procs[i]) != 0) {
            jp_log_error("run", "cannot add processor %s", r.compose.procs[i]->name);
            rc = EX_SOFTWARE;
            goto done;
        }
    if (opts->compose_out)
        *opts->compose_out = &r.compose;
    if (opts->on_processors)
        opts->on_processors(opts->ctx, r.compose.alerts);
    jp_auth_t *auth = jp_auth_from_config(cfg, err, sizeof(err));
    jp_admin_t *admin = auth ? jp_admin_new(metrics) : NULL;
    if (admin)
        jp_admin_set_auth(admin, auth);
    if (!admin || admin_routes(admin, &r) != 0 ||
        jp_admin_start(admin, opts->http_listen ? opts->http_listen : cfg->http.listen, err,
                       sizeof(err)) != 0) {
        jp_log_error("run", "admin HTTP on %s: %s", cfg->http.listen, err);
        rc = EX_UNAVAILABLE;
    } else {
        jp_log_info("run", "admin HTTP on http://127.0.0.1:%d (metrics, healthz, readyz)",
                    jp_admin_port(admin));
        if (opts->on_ready)
            opts->on_ready(opts->ctx, r.engine, jp_admin_port(admin));
        if (jp_engine_run(r.engine, err, sizeof(err)) != 0) {
            jp_log_error("run", "%s", err);
            rc = jp_engine_exit_code(r.engine) ? jp_engine_exit_code(r.engine) : EX_SOFTWARE;
        }
        if (opts->on_exit)
            opts->on_exit(opts->ctx, r.engine);
    }
    jp_admin_free(admin);
    jp_auth_free(auth);
done:
    stop_signals(&r);
    jp_engine_free(r.engine);
    jp_compose_release(&r.compose);
    jp_metrics_free(metrics);
    release_reloaded(&r);
    return rc;
}
