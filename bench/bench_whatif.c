/*
 * bench_whatif: requests/s of the what-if and latest-recommendation routes
 * (GET /v1/countries/GB/whatif?prize=X, GET /v1/countries/GB/recommendation)
 * measured by wrk (Debian) as a second process on loopback while the engine
 * runs.
 *
 * Setup: the embedded stack in this process (mock cluster, registry), eight
 * weeks of tests/configs/sim/decisions.yaml produced into it, the engine on
 * its own thread with the app's rooms (app/jp_compose.h) and the test
 * stand-in for the learning loop as the model source (tests/support:
 * jp_test_models), so GB's decisions have a sales model and its what-ifs
 * evaluate the forecast plan. Figures are taken once the engine has caught
 * up with its input (it keeps running). The admin server has no authorizer (no
 * per-client rate limit: a single load generator would only measure it).
 * The admin server's thread is pinned to one core ("on one core"); wrk
 * runs with one thread and 32 keep-alive connections for DURATION seconds,
 * JP_BENCH_RUNS times per route; rows are medians, and a run with a
 * non-2xx answer or a socket error fails the benchmark.
 *
 * Rows: whatif_answer_us (the answer alone: jp_decisions_whatif_json in
 *       process, no HTTP, in the thread's CPU time), whatif_requests_per_s (target >= 20,000 on one
 *       core), recommendation_requests_per_s, whatif_latency_p99_ms.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/jp_admin.h"
#include "app/jp_compose.h"
#include "base/jp_log.h"
#include "dev/jp_devstack.h"
#include "engine/jp_engine.h"
#include "jp_bench.h"
#include "jp_test_models.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_produce.h"
#include "sim/jp_sim_world.h"

#define DURATION 3

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_whatif: %s: %s\n", what, why);
    exit(1);
}

/* CPU time of the calling thread: the answer's cost whatever else runs on
 * a shared machine. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *engine_main(void *arg)
{
    char err[512];
    if (jp_engine_run(arg, err, sizeof(err)) != 0)
        die("engine", err);
    return NULL;
}

typedef struct {
    double rps, p99_ms;
} wrk_result_t;

/* "12.34ms" / "1.20s" / "850.00us" in ms. */
static double ms_of(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (strncmp(end, "us", 2) == 0)
        return v / 1000.0;
    if (strncmp(end, "ms", 2) == 0)
        return v;
    return v * 1000.0;
}

static wrk_result_t run_wrk(const char *url)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "wrk -t1 -c32 -d%ds --latency '%s' 2>&1", DURATION, url);
    FILE *p = popen(cmd, "r");
    if (!p)
        die("wrk", "cannot run it (install wrk)");
    wrk_result_t r = {0, 0};
    char line[512];
    int bad = 0;
    while (fgets(line, sizeof(line), p)) {
        char unit[32];
        double v;
        if (sscanf(line, " Requests/sec: %lf", &v) == 1)
            r.rps = v;
        else if (sscanf(line, " 99%% %31s", unit) == 1)
            r.p99_ms = ms_of(unit);
        else if (strstr(line, "Non-2xx") || strstr(line, "Socket errors"))
            bad = 1, fputs(line, stderr);
    }
    if (pclose(p) != 0 || r.rps <= 0 || bad)
        die("wrk", "the run failed or got errors");
    return r;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    char err[512], tmp[] = "/tmp/bench-whatif-XXXXXX", path[1024];
    jp_log_set_level(JP_LOG_ERROR);
    if (!mkdtemp(tmp))
        die("tmp", "mkdtemp");
    const char *src = getenv("JACKPOT_SRC") ? getenv("JACKPOT_SRC") : ".";
    snprintf(path, sizeof(path), "%s/tests/configs/sim/decisions.yaml", src);
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    jp_sim_world_t w;
    if (jp_sim_world_load(&conf, path, &w) != 0)
        die("world", conf.n_errors ? conf.errors[0] : path);
    jp_conf_destroy(&conf);
    jp_config_t *cfg = &w.config;

    snprintf(path, sizeof(path), "%s/registry", tmp);
    jp_devstack_t *stack = jp_devstack_start(cfg, 1, 0, "127.0.0.1:0", path, err, sizeof(err));
    if (!stack || jp_devstack_configure(stack, cfg) != 0)
        die("devstack", err);
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(stack), err, sizeof(err));
    jp_sim_producer_t *prod =
        jp_sim_producer_new(jp_devstack_bootstraps(stack), NULL, NULL, NULL, err, sizeof(err));
    if (!reg || !prod)
        die("producer", err);
    jp_sim_options_t o = {0};
    o.registry = jp_serde_registry_client(reg);
    o.output = jp_sim_producer_output(prod);
    jp_sim_stats_t stats;
    if (jp_sim_run(&w, &o, NULL, &stats, err, sizeof(err)) != 0 ||
        jp_sim_producer_flush(prod, 60000, err, sizeof(err)) != 0)
        die("simulate", err);

    jp_metrics_t *metrics = jp_metrics_new();
    jp_test_models_t *models = jp_test_models_new(cfg, &w);
    jp_compose_t app;
    if (jp_compose_init(&app, cfg, metrics, jp_test_models_proc(models), jp_test_models_source,
                        models, err, sizeof(err)) != 0)
        die("compose", err);
    snprintf(path, sizeof(path), "%s/state", tmp);
    jp_engine_opts_t eo = {.dev_mode = 1, .state_dir = path};
    int code;
    jp_engine_t *e = jp_engine_new(cfg, metrics, &eo, &code, err, sizeof(err));
    if (!e)
        die("engine", err);
    for (size_t i = 0; i < app.n_procs; i++)
        if (jp_engine_add_proc(e, app.procs[i]) != 0)
            die("engine", "cannot add a processor");
    pthread_t engine_thread;
    if (pthread_create(&engine_thread, NULL, engine_main, e) != 0)
        die("engine", "thread");

    /* the admin server's thread inherits the pinning */
    jp_bench_pin_one_core();
    jp_admin_t *admin = jp_admin_new(metrics);
    if (!admin ||
        jp_admin_route_methods(admin, "/v1/countries/", JP_ADMIN_READS, "GET, HEAD",
                               jp_compose_admin_handler, &app) != 0 ||
        jp_admin_start(admin, "127.0.0.1:0", err, sizeof(err)) != 0)
        die("admin", err);
    jp_bench_unpin();

    /* wait for a GB decision with a sales model behind it */
    char *body = NULL;
    int64_t prize = jp_config_country(cfg, "GB")->prizes.headline.min_minor;
    for (int waited = 0;; waited++) {
        free(body);
        body = NULL;
        if (jp_decisions_whatif_json(app.decisions, "GB", prize, NULL, &body) == 200)
            break;
        if (waited > 6000)
            die("decisions", body ? body : "no GB decision with a model");
        usleep(50000);
    }
    free(body);
    /* measure once the engine has caught up (it keeps running, idle) */
    for (int waited = 0;; waited++) {
        jp_engine_totals_t t;
        jp_engine_totals(e, &t);
        if (t.consumed >= (int64_t)stats.records && t.lag == 0)
            break;
        if (waited > 6000)
            die("engine", "did not catch up");
        usleep(50000);
    }

    /* the answer alone, without HTTP: one thread, in process */
    double us[32];
    int runs = jp_bench_runs(), n = runs < 32 ? runs : 32;
    for (int r = 0; r < n; r++) {
        int calls = 20000;
        double t0 = thread_cpu_s();
        for (int i = 0; i < calls; i++) {
            jp_decisions_whatif_json(app.decisions, "GB", prize, NULL, &body);
            jp_bench_sink(body);
            free(body);
        }
        us[r] = (thread_cpu_s() - t0) / calls * 1e6;
    }

    char url[2][160];
    int port = jp_admin_port(admin);
    snprintf(url[0], sizeof(url[0]), "http://127.0.0.1:%d/v1/countries/GB/whatif?prize=%lld", port,
             (long long)prize);
    snprintf(url[1], sizeof(url[1]), "http://127.0.0.1:%d/v1/countries/GB/recommendation", port);
    double rps[2][32], p99[32];
    for (int r = 0; r < n; r++)
        for (int k = 0; k < 2; k++) {
            wrk_result_t x = run_wrk(url[k]);
            rps[k][r] = x.rps;
            if (k == 0)
                p99[r] = x.p99_ms;
        }
    jp_bench_row("whatif_http", "whatif_answer_us", jp_bench_median(us, (size_t)n), "us", "-",
                 "jp_decisions_whatif_json in process, thread CPU time");
    jp_bench_row("whatif_http", "whatif_requests_per_s", jp_bench_median(rps[0], (size_t)n),
                 "req/s", ">= 20000", "wrk -t1 -c32 on loopback, admin thread on one core");
    jp_bench_row("whatif_http", "recommendation_requests_per_s", jp_bench_median(rps[1], (size_t)n),
                 "req/s", "-", "the latest, cached JSON");
    jp_bench_row("whatif_http", "whatif_latency_p99_ms", jp_bench_median(p99, (size_t)n), "ms", "-",
                 "32 connections");

    jp_admin_free(admin);
    jp_engine_stop(e);
    pthread_join(engine_thread, NULL);
    jp_engine_free(e);
    jp_compose_release(&app);
    jp_test_models_free(models);
    jp_metrics_free(metrics);
    jp_sim_producer_free(prod);
    jp_registry_client_free(reg);
    jp_devstack_stop(stack);
    jp_sim_world_release(&w);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
