/*
 * Simulator -> engine for a simulated quarter (tests/configs/sim/quarter.yaml:
 * five countries, no faults): every closed draw-period window's features
 * equal the aggregates of the simulator's truth file exactly (tickets,
 * revenue, extra tickets, sign-ups, cancellations, reactivations, payment
 * failures), conservation holds, and nothing is dead-lettered. From the
 * sixth week on (every initial subscriber has been billed once, so the
 * engine knows what each holds) the holdings at each headline draw equal
 * the simulator's exactly: active subscribers, participating postcodes and
 * tickets held (subscriptions plus extra tickets for that draw), and the
 * held-ticket histogram adds up to them.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/jp_devstack.h"
#include "engine/jp_engine.h"
#include "base/jp_log.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_produce.h"
#include "jp_test.h"
#include "jp_test_features.h"
#include "jp_test_topic.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    jp_test_features_t w[512]; /* closed draw windows */
    int n;
    jp_serde_t *serde;
} windows_t;

static void *engine_main(void *arg)
{
    char err[256];
    jp_engine_run(arg, err, sizeof(err));
    return NULL;
}

static void on_feature(void *ctx, const rd_kafka_message_t *m)
{
    windows_t *ws = ctx;
    jp_test_features_t fv;
    jp_test_features_decode(ws->serde, m->payload, m->len, &fv);
    if (fv.fv.window_kind == JP_WINDOW_DRAW && ws->n < 512)
        ws->w[ws->n++] = fv;
}

static void collect(windows_t *ws, const char *bootstraps)
{
    jp_test_read_topic(bootstraps, "jackpot.features.v1", on_feature, ws);
}

static int64_t realized(json_t *draw, const char *k)
{
    return (int64_t)json_number_value(json_object_get(json_object_get(draw, "realized"), k));
}

static void test_quarter_matches_truth(void **state)
{
    (void)state;
    char err[512], path[600];
    jp_log_set_level(JP_LOG_WARN);
    char *dir = jp_test_tmpdir("truth");
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    jp_sim_world_t world;
    assert_int_equal(jp_sim_world_load(&conf, "tests/configs/sim/quarter.yaml", &world), 0);
    jp_conf_destroy(&conf);
    jp_config_t *cfg = &world.config;
    snprintf(path, sizeof(path), "%s/registry", dir);
    jp_devstack_t *stack = jp_devstack_start(cfg, 1, 0, "127.0.0.1:0", path, err, sizeof(err));
    if (!stack)
        fail_msg("%s", err);
    assert_int_equal(jp_devstack_configure(stack, cfg), 0);
    free(cfg->state.dir);
    snprintf(path, sizeof(path), "%s/state", dir);
    cfg->state.dir = strdup(path);
    cfg->processing.commit_interval_ms = 200;

    /* The simulated quarter, produced through the project's serde. */
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(stack), err, sizeof(err));
    jp_sim_producer_t *prod = jp_sim_producer_new(jp_devstack_bootstraps(stack), &cfg->kafka, NULL,
                                                  NULL, err, sizeof(err));
    assert_non_null(prod);
    jp_sim_options_t o = {0};
    o.registry = jp_serde_registry_client(reg);
    o.output = jp_sim_producer_output(prod);
    jp_sim_truth_t *truth =
        jp_sim_truth_new(&world, jp_sim_seed(&world, &o), jp_sim_weeks(&world, &o));
    jp_sim_stats_t stats;
    if (jp_sim_run(&world, &o, truth, &stats, err, sizeof(err)) != 0)
        fail_msg("simulate: %s", err);
    assert_int_equal(jp_sim_producer_flush(prod, 30000, err, sizeof(err)), 0);

    /* The engine over all of it. */
    jp_metrics_t *m = jp_metrics_new();
    jp_engine_opts_t eo = {1, NULL, 0};
    int code;
    jp_engine_t *e = jp_engine_new(cfg, m, &eo, &code, err, sizeof(err));
    if (!e)
        fail_msg("engine: %s", err);
    pthread_t th;
    pthread_create(&th, NULL, engine_main, e);
    jp_engine_totals_t t = {0};
    for (int i = 0; i < 1800 && t.consumed < (int64_t)stats.records; i++) {
        usleep(100000);
        jp_engine_totals(e, &t);
    }
    jp_engine_stop(e);
    pthread_join(th, NULL);
    jp_engine_totals(e, &t);
    assert_int_equal(t.consumed, (int64_t)stats.records);
    assert_int_equal(t.consumed, t.applied + t.dead_lettered + t.duplicates);
    assert_int_equal(t.dead_lettered, 0);
    assert_int_equal(t.duplicates, 0);

    windows_t *ws = calloc(1, sizeof(*ws));
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    ws->serde = jp_serde_new(&sc, err, sizeof(err));
    collect(ws, jp_devstack_bootstraps(stack));

    /* Every closed draw window against its headline draw in the truth. */
    json_t *tj = jp_sim_truth_json(truth);
    int compared = 0, held_compared = 0;
    for (int i = 0; i < ws->n; i++) {
        const jp_test_features_t *w = &ws->w[i];
        json_t *draws = json_object_get(json_object_get(json_object_get(tj, "countries"),
                                                        (char[3]){w->country[0], w->country[1], 0}),
                                        "draws");
        json_t *d = NULL, *x;
        size_t k;
        json_array_foreach(draws, k, x)
        {
            if (json_is_true(json_object_get(x, "headline")) &&
                json_integer_value(json_object_get(x, "time_ms")) == w->fv.window_end)
                d = x;
        }
        assert_non_null(d);
        /* The first period began before the simulation did: compare only
         * whole periods. */
        if (json_integer_value(json_object_get(d, "period_start_ms")) < world.start_ms)
            continue;
        if (getenv("JP_TEST_VERBOSE"))
            fprintf(stderr,
                    "%s %lld: tickets %lld/%lld signups %lld/%lld cancels %lld/%lld "
                    "reacts %lld/%lld failures %lld/%lld extra %lld/%lld\n",
                    w->country, (long long)w->fv.window_end, (long long)w->fv.tickets,
                    (long long)realized(d, "tickets"), (long long)w->fv.signups,
                    (long long)realized(d, "signups"), (long long)w->fv.cancellations,
                    (long long)realized(d, "cancellations"), (long long)w->fv.reactivations,
                    (long long)realized(d, "reactivations"), (long long)w->fv.payment_failures,
                    (long long)realized(d, "payment_failures"), (long long)w->fv.extra_tickets,
                    (long long)realized(d, "extra_tickets"));
        assert_int_equal(w->fv.tickets, realized(d, "tickets"));
        assert_int_equal(w->fv.revenue_minor, realized(d, "revenue_minor"));
        assert_int_equal(w->fv.extra_tickets, realized(d, "extra_tickets"));
        assert_int_equal(w->fv.signups, realized(d, "signups"));
        assert_int_equal(w->fv.cancellations, realized(d, "cancellations"));
        assert_int_equal(w->fv.reactivations, realized(d, "reactivations"));
        assert_int_equal(w->fv.payment_failures, realized(d, "payment_failures"));
        compared++;
        assert_int_equal(w->hist_postcodes, w->fv.participating_postcodes);
        assert_int_equal(w->hist_tickets, w->fv.held_tickets);
        if (w->fv.window_end < world.start_ms + 35 * 86400000LL)
            continue;
        if (getenv("JP_TEST_VERBOSE"))
            fprintf(stderr, "%s %lld: held %lld/%lld postcodes %lld/%lld tickets %lld/%lld\n",
                    w->country, (long long)w->fv.window_end, (long long)w->fv.subscribers_held,
                    (long long)json_integer_value(json_object_get(d, "active_subscribers")),
                    (long long)w->fv.participating_postcodes,
                    (long long)json_integer_value(json_object_get(d, "participating_postcodes")),
                    (long long)w->fv.held_tickets,
                    (long long)json_integer_value(json_object_get(d, "tickets_held")));
        assert_int_equal(w->fv.subscribers_held,
                         json_integer_value(json_object_get(d, "active_subscribers")));
        assert_int_equal(w->fv.participating_postcodes,
                         json_integer_value(json_object_get(d, "participating_postcodes")));
        assert_int_equal(w->fv.held_tickets,
                         json_integer_value(json_object_get(d, "tickets_held")));
        held_compared++;
    }
    /* About 12 weekly periods for GB, DE, SE, NO and two monthly for NL. */
    assert_true(compared >= 40);
    assert_true(held_compared >= 25);

    /* tj is borrowed from the truth */
    jp_serde_free(ws->serde);
    free(ws);
    jp_engine_free(e);
    jp_metrics_free(m);
    jp_sim_truth_free(truth);
    jp_sim_producer_free(prod);
    jp_registry_client_free(reg);
    jp_devstack_stop(stack);
    jp_sim_world_release(&world);
    jp_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quarter_matches_truth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
