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

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char country[3];
    int64_t end, tickets, revenue, extra, signups, cancels, reacts, failures;
    int64_t held, participating, held_tickets, hist_postcodes, hist_tickets;
} window_t;

typedef struct {
    window_t w[512];
    int n;
    jp_serde_t *serde;
} windows_t;

static void *engine_main(void *arg)
{
    char err[256];
    jp_engine_run(arg, err, sizeof(err));
    return NULL;
}

static void collect(windows_t *ws, const char *bootstraps)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", "truth-reader", err, sizeof(err)); /* never joins */
    rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "jackpot.features.v1", 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 2000);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        jp_feature_vector_t fv;
        jp_avro_arena_reset(&arena);
        if (!m->err &&
            jp_serde_decode(ws->serde, JP_EVENT_FEATURES, m->payload, m->len, &fv, &arena, err,
                            sizeof(err)) == JP_SERDE_OK &&
            fv.window_kind == JP_WINDOW_DRAW && ws->n < 512) {
            window_t *w = &ws->w[ws->n++];
            memcpy(w->country, fv.country.ptr, 2);
            w->end = fv.window_end;
            w->tickets = fv.tickets;
            w->revenue = fv.revenue_minor;
            w->extra = fv.extra_tickets;
            w->signups = fv.signups;
            w->cancels = fv.cancellations;
            w->reacts = fv.reactivations;
            w->failures = fv.payment_failures;
            w->held = fv.subscribers_held;
            w->participating = fv.participating_postcodes;
            w->held_tickets = fv.held_tickets;
            const jp_held_tickets_t *h = fv.held_ticket_histogram.items;
            for (size_t i = 0; i < fv.held_ticket_histogram.n; i++) {
                w->hist_postcodes += h[i].postcodes;
                w->hist_tickets += h[i].tickets * h[i].postcodes;
            }
        }
        rd_kafka_message_destroy(m);
    }
    jp_avro_arena_free(&arena);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
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
    jp_engine_opts_t eo = {1, NULL};
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
        const window_t *w = &ws->w[i];
        json_t *draws = json_object_get(json_object_get(json_object_get(tj, "countries"),
                                                        (char[3]){w->country[0], w->country[1], 0}),
                                        "draws");
        json_t *d = NULL, *x;
        size_t k;
        json_array_foreach(draws, k, x)
        {
            if (json_is_true(json_object_get(x, "headline")) &&
                json_integer_value(json_object_get(x, "time_ms")) == w->end)
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
                    w->country, (long long)w->end, (long long)w->tickets,
                    (long long)realized(d, "tickets"), (long long)w->signups,
                    (long long)realized(d, "signups"), (long long)w->cancels,
                    (long long)realized(d, "cancellations"), (long long)w->reacts,
                    (long long)realized(d, "reactivations"), (long long)w->failures,
                    (long long)realized(d, "payment_failures"), (long long)w->extra,
                    (long long)realized(d, "extra_tickets"));
        assert_int_equal(w->tickets, realized(d, "tickets"));
        assert_int_equal(w->revenue, realized(d, "revenue_minor"));
        assert_int_equal(w->extra, realized(d, "extra_tickets"));
        assert_int_equal(w->signups, realized(d, "signups"));
        assert_int_equal(w->cancels, realized(d, "cancellations"));
        assert_int_equal(w->reacts, realized(d, "reactivations"));
        assert_int_equal(w->failures, realized(d, "payment_failures"));
        compared++;
        assert_int_equal(w->hist_postcodes, w->participating);
        assert_int_equal(w->hist_tickets, w->held_tickets);
        if (w->end < world.start_ms + 35 * 86400000LL)
            continue;
        if (getenv("JP_TEST_VERBOSE"))
            fprintf(stderr, "%s %lld: held %lld/%lld postcodes %lld/%lld tickets %lld/%lld\n",
                    w->country, (long long)w->end, (long long)w->held,
                    (long long)json_integer_value(json_object_get(d, "active_subscribers")),
                    (long long)w->participating,
                    (long long)json_integer_value(json_object_get(d, "participating_postcodes")),
                    (long long)w->held_tickets,
                    (long long)json_integer_value(json_object_get(d, "tickets_held")));
        assert_int_equal(w->held, json_integer_value(json_object_get(d, "active_subscribers")));
        assert_int_equal(w->participating,
                         json_integer_value(json_object_get(d, "participating_postcodes")));
        assert_int_equal(w->held_tickets, json_integer_value(json_object_get(d, "tickets_held")));
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
