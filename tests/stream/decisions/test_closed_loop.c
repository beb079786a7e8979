/*
 * Acceptance of the closed loop: tests/configs/sim/closed-loop.yaml (GB,
 * NL, SE, two simulated years, the shipped country rules) with the
 * simulator's `recommendations` prize policy - after a 13-week warm-up on a
 * schedule, each draw's prize is the engine's recommendation for it - on
 * the embedded stack. The simulator streams while the engine consumes (it
 * waits for each recommendation; the dev broker keeps only ~5 MB a
 * partition). The engine runs the app's rooms (app/jp_compose.h) as
 * `jackpot run` does: the learning loop (stream/models) first, then the
 * decisions, which read its champions through the app's model source,
 * then the alerts, whose critical concept drift retrains the sales model.
 *
 * Asserted:
 *   - every lookup of the loop got its draw's recommendation (no timeout);
 *   - every decision time of each country has exactly one record
 *     (consecutive decision times of its calendar, from its first);
 *   - `jackpot evaluate` (the CLI, reading the topic and the truth file)
 *     exits 0, prints one `regret CC x decisions n` line per country with n
 *     the records, and the mean regret over the second year (the second
 *     half of the evaluated decisions) is at most 5% for GB, NL and SE; its
 *     --plot writes a PNG;
 *   - Debian's python3-confluent-kafka (AvroConsumer, the registry)
 *     decodes every record of the topic.
 * Under ASan the run is 20 weeks (the engine and simulator are ~10x
 * slower) and the regret is printed, not asserted: the first year is the
 * warm-up and the learning, so 20 weeks say nothing about the second.
 *
 * Label: integration
 * Timeout: 1200
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_compose.h"
#include "config/jp_calendar.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_produce.h"
#include "jp_test.h"
#include "jp_test_engine.h"

#define WORLD "tests/configs/sim/closed-loop.yaml"
#if defined(__SANITIZE_ADDRESS__)
#define WEEKS         20
#define ASSERT_REGRET 0
#else
#define WEEKS         104
#define ASSERT_REGRET 1
#endif
#define WAIT_MS 600000

static jp_test_stack_t st;

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "closed-loop", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    return 0;
}

/* Distinct records of the topic, decoded: (country, decision time). */
typedef struct {
    char country[3];
    int64_t decision_time;
    int by_champion; /* decided with the learning loop's sales champion (no fallback) */
} rec_key_t;

static int key_cmp(const void *a, const void *b)
{
    const rec_key_t *x = a, *y = b;
    int c = strcmp(x->country, y->country);
    return c ? c : (x->decision_time > y->decision_time) - (x->decision_time < y->decision_time);
}

/* Checks one record per decision time of country, consecutive from the
 * first; returns how many, and in *by_champion how many the learning
 * loop's champion decided. */
static size_t check_times(const jp_config_t *cfg, const rec_key_t *k, size_t n, const char *cc,
                          size_t *by_champion)
{
    *by_champion = 0;
    const jp_country_t *c = jp_config_country(cfg, cc);
    jp_calendar_t *cal = jp_calendar_new(c, NULL, 0);
    size_t count = 0;
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k[i].country, cc) != 0)
            continue;
        if (count > 0) {
            jp_draw_t d;
            assert_int_equal(jp_calendar_next_draw(cal, prev + c->calendar.decision_lead_ms, 1, &d),
                             0);
            assert_int_equal(k[i].decision_time, jp_calendar_decision_time(cal, &d));
        }
        prev = k[i].decision_time;
        *by_champion += (size_t)k[i].by_champion;
        count++;
    }
    jp_calendar_free(cal);
    return count;
}

static rec_key_t *decode_keys(const jp_test_recset_t *set, size_t *n)
{
    char err[256];
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(st.stack), err, sizeof(err));
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(serde);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    rec_key_t *k = calloc(set->n + 1, sizeof(*k));
    for (size_t i = 0; i < set->n; i++) {
        const unsigned char *b = (const unsigned char *)set->items[i];
        size_t klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        jp_recommendation_t r;
        jp_avro_arena_reset(&arena);
        assert_int_equal(jp_serde_decode(serde, JP_EVENT_RECOMMENDATION, set->items[i] + 4 + klen,
                                         set->lens[i] - 4 - klen, &r, &arena, err, sizeof(err)),
                         JP_SERDE_OK);
        assert_int_equal(r.country.len, 2);
        memcpy(k[i].country, r.country.ptr, 2);
        k[i].decision_time = r.decision_time;
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "sales-%s/", k[i].country);
        k[i].by_champion = !r.has_fallback_reason &&
                           r.provenance.model_version.len > strlen(prefix) &&
                           memcmp(r.provenance.model_version.ptr, prefix, strlen(prefix)) == 0;
    }
    qsort(k, set->n, sizeof(*k), key_cmp);
    for (size_t i = 1; i < set->n; i++) /* one distinct record per decision */
        assert_true(key_cmp(&k[i - 1], &k[i]) != 0);
    *n = set->n;
    jp_avro_arena_free(&arena);
    jp_serde_free(serde);
    jp_registry_client_free(reg);
    return k;
}

/* A line per simulated quarter on stderr: where a slow run spends its time. */
static void progress(void *ctx, int64_t sim_ms, uint64_t records)
{
    int64_t *t = ctx; /* start, last report */
    if (sim_ms - t[1] < 13 * 7 * 86400000LL)
        return;
    t[1] = sim_ms;
    fprintf(stderr, "closed loop: week %lld, %llu records\n",
            (long long)((sim_ms - t[0]) / (7 * 86400000LL)), (unsigned long long)records);
}

static void set_string(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

static void test_closed_loop(void **state)
{
    (void)state;
    char err[512], path[1024];
    jp_config_t cfg;
    jp_test_engine_config(&st, "loop", &cfg);
    jp_sim_world_t w;
    jp_test_world_load(WORLD, &w);
    /* the world follows this run's recommendations topic */
    set_string(&w.config.topics.recommendations, cfg.topics.recommendations);

    jp_metrics_t *metrics = jp_metrics_new();
    jp_compose_t app;
    cfg.models.enabled = 1;
    /* The learning loop, the decisions and the alerts, as jackpot run
     * composes them: a critical concept drift retrains the sales model
     * from its change point in the loop. (With the plan pivoting every
     * flow at J_ref, a trainer restarted where the recommendations had
     * kept the prize far from J_ref forecast GB's sign-ups at 0.3 a day
     * for 35; drift fired again and again and GB's second-year regret was
     * 7.55% with the alerts against -1.02% without; docs/alerts.md,
     * "Retraining in the closed loop".) */
    cfg.alerts.enabled = 1;
    if (jp_compose_init(&app, &cfg, metrics, NULL, NULL, NULL, err, sizeof(err)) != 0)
        fail_msg("compose: %s", err);
    assert_non_null(app.models);
    assert_non_null(app.alerts);
    assert_int_equal(app.n_procs, 3); /* the learning loop, the decisions, the alerts */
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, app.procs, app.n_procs);

    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(st.stack), err, sizeof(err));
    jp_sim_producer_t *prod =
        jp_sim_producer_new(jp_devstack_bootstraps(st.stack), NULL, NULL, NULL, err, sizeof(err));
    assert_non_null(reg);
    assert_non_null(prod);
    jp_sim_options_t o = {0};
    o.weeks = WEEKS;
    o.registry = jp_serde_registry_client(reg);
    o.output = jp_sim_producer_output(prod);
    int64_t times[2] = {w.start_ms, w.start_ms};
    o.progress = progress;
    o.progress_ctx = times;
    if (jp_sim_producer_close_loop(prod, &w, jp_devstack_registry_url(st.stack), 60000, &o, err,
                                   sizeof(err)) != 0)
        fail_msg("close loop: %s", err);
    assert_non_null(o.lookup);
    jp_sim_truth_t *truth = jp_sim_truth_new(&w, (uint64_t)w.seed, WEEKS);
    jp_sim_stats_t stats;
    if (jp_sim_run(&w, &o, truth, &stats, err, sizeof(err)) != 0 ||
        jp_sim_producer_flush(prod, 60000, err, sizeof(err)) != 0)
        fail_msg("simulate: %s", err);
    printf("simulated %llu records; loop lookups without their recommendation: %llu\n",
           (unsigned long long)stats.records,
           (unsigned long long)jp_sim_producer_loop_misses(prod));
    assert_int_equal(jp_sim_producer_loop_misses(prod), 0);
    assert_int_equal(jp_test_engine_wait(e, -1, (int64_t)stats.records, WAIT_MS), 0);
    jp_test_engine_stop(e, NULL);

    /* one record per decision time and country */
    jp_test_recset_t recs;
    jp_test_read_distinct(&st, cfg.topics.recommendations, &recs);
    size_t n;
    rec_key_t *keys = decode_keys(&recs, &n);
    size_t per[3], champ[3];
    const char *codes[] = {"GB", "NL", "SE"};
    for (int c = 0; c < 3; c++) {
        per[c] = check_times(&cfg, keys, n, codes[c], &champ[c]);
        printf("%s: %zu decisions, %zu by the learning loop's champion\n", codes[c], per[c],
               champ[c]);
        assert_true(per[c] >= (c == 1 ? WEEKS / 5 : WEEKS - 2));
        /* the champion decides from its first weeks of data on: most
         * decisions (the warm-up's fall back until there is one) */
        if (ASSERT_REGRET)
            assert_true(2 * champ[c] >= per[c]);
    }
    assert_int_equal(per[0] + per[1] + per[2], n);

    /* jackpot evaluate, the CLI, on the topic and the truth file */
    char *dir = jp_test_tmpdir("closed-loop");
    char truth_path[1024], png[1024], world_path[1024], n_str[32];
    snprintf(truth_path, sizeof(truth_path), "%s/truth.json", dir);
    snprintf(png, sizeof(png), "%s/decisions.png", dir);
    snprintf(world_path, sizeof(world_path), "%s/%s", jp_test_src(), WORLD);
    assert_int_equal(jp_sim_truth_write(truth, truth_path, err, sizeof(err)), 0);
    const char *argv[] = {jp_test_bin(), "evaluate",
                          "--truth",     truth_path,
                          "--world",     world_path,
                          "--brokers",   jp_devstack_bootstraps(st.stack),
                          "--registry",  jp_devstack_registry_url(st.stack),
                          "--topic",     cfg.topics.recommendations,
                          "--plot",      png,
                          NULL};
    jp_test_result_t r = jp_test_run(argv);
    printf("%s", r.out);
    if (r.status != 0)
        fail_msg("jackpot evaluate exited %d: %s", r.status, r.err);
    for (int c = 0; c < 3; c++) {
        char key[32];
        snprintf(key, sizeof(key), "\nregret %s ", codes[c]);
        const char *p = strstr(r.out, key);
        assert_non_null(p);
        double regret;
        size_t decisions;
        assert_int_equal(sscanf(p + strlen(key), "%lf decisions %zu", &regret, &decisions), 2);
        assert_int_equal(decisions, per[c]);
        if (ASSERT_REGRET && !(regret <= 5.0))
            fail_msg("%s: mean regret over the second year %.2f%% > 5%%", codes[c], regret);
    }
    size_t len = 0;
    char *img = jp_test_read_file(png, &len);
    assert_true(img && len > 1000 && memcmp(img, "\x89PNG", 4) == 0);
    free(img);
    jp_test_result_free(&r);

    /* a third-party consumer decodes the topic */
    snprintf(path, sizeof(path), "%s/tests/support/decode_recommendations.py", jp_test_src());
    snprintf(n_str, sizeof(n_str), "%zu", n);
    const char *py[] = {"/usr/bin/python3",
                        path,
                        jp_devstack_bootstraps(st.stack),
                        jp_devstack_registry_url(st.stack),
                        cfg.topics.recommendations,
                        n_str,
                        NULL};
    r = jp_test_run(py);
    printf("python3-confluent-kafka: %s", r.out);
    if (r.status != 0)
        fail_msg("decode_recommendations.py exited %d: %s", r.status, r.err);
    jp_test_result_free(&r);

    free(keys);
    jp_test_recset_free(&recs);
    jp_test_rmtree(dir);
    free(dir);
    jp_sim_truth_free(truth);
    jp_sim_producer_free(prod);
    jp_registry_client_free(reg);
    jp_compose_release(&app);
    jp_metrics_free(metrics);
    jp_sim_world_release(&w);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_loop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
