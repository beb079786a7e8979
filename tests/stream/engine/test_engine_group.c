/*
 * Two engines in one consumer group (cooperative-sticky), in-process on the
 * embedded stack: two weeks of tests/configs/sim/quarter.yaml are produced,
 * then engine A starts, B joins (a rebalance moves tasks to B with their
 * state restored from the changelogs), A leaves mid-run, A joins again, B
 * leaves: at the end A owns every task. Its totals (from state, per
 * partition) must equal those of a single-engine reference run over the
 * same input, conservation must hold, and the distinct FeatureVector
 * records both runs produced must be the same set: windows are
 * byte-identical whatever the ownership history.
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jp_test_engine.h"

/* Smaller under ASan, where everything is several times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 1
#else
#define WEEKS 2
#endif
#define WAIT_MS 120000

static jp_test_stack_t st;

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "engine-group", 1);
    jp_test_stack_simulate(&st, "tests/configs/sim/quarter.yaml", WEEKS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    return 0;
}

static char *state_dir(const jp_config_t *cfg, const char *who)
{
    char *d;
    assert_true(asprintf(&d, "%s-%s", cfg->state.dir, who) > 0);
    return d;
}

/* Waits until the engines own every task between them and each some. */
static void wait_split(jp_test_engine_t *a, jp_test_engine_t *b, int partitions)
{
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        jp_engine_totals_t ta, tb;
        jp_test_engine_totals(a, &ta);
        jp_test_engine_totals(b, &tb);
        if (ta.tasks > 0 && tb.tasks > 0 && ta.tasks + tb.tasks == partitions)
            return;
        usleep(100000);
    }
    fail_msg("the group did not split the tasks between two engines");
}

static void test_two_engines_one_group(void **state)
{
    (void)state;
    /* the reference: one engine, no rebalances */
    jp_config_t ref_cfg;
    jp_test_engine_config(&st, "reference", &ref_cfg);
    int parts = (int)ref_cfg.topics.sales.partitions;
    jp_test_engine_t *ref = jp_test_engine_start(&ref_cfg, NULL);
    assert_int_equal(jp_test_engine_wait(ref, parts, st.records, WAIT_MS), 0);
    jp_engine_totals_t ref_tot;
    jp_test_engine_stop(ref, &ref_tot);
    assert_int_equal(ref_tot.consumed, st.records);
    assert_true(ref_tot.windows_closed > 0);

    jp_config_t cfg;
    jp_test_engine_config(&st, "group", &cfg);
    char *dir_a = state_dir(&cfg, "a"), *dir_b = state_dir(&cfg, "b");
    jp_test_engine_t *a = jp_test_engine_start(&cfg, dir_a);
    assert_int_equal(jp_test_engine_wait(a, parts, -1, WAIT_MS), 0);
    jp_test_engine_t *b = jp_test_engine_start(&cfg, dir_b);
    wait_split(a, b, parts); /* B took some tasks over from A */
    jp_test_engine_stop(a, NULL);
    assert_int_equal(jp_test_engine_wait(b, parts, -1, WAIT_MS), 0);
    a = jp_test_engine_start(&cfg, dir_a); /* back with its (stale) local stores */
    wait_split(a, b, parts);
    jp_test_engine_stop(b, NULL);
    assert_int_equal(jp_test_engine_wait(a, parts, st.records, WAIT_MS), 0);
    jp_engine_totals_t tot;
    jp_test_engine_stop(a, &tot);
    jp_test_assert_totals_equal(&tot, &ref_tot);

    jp_test_recset_t want, got;
    jp_test_read_distinct(&st, ref_cfg.topics.features, &want);
    jp_test_read_distinct(&st, cfg.topics.features, &got);
    fprintf(stderr, "%lld records; features: reference %zu (%zu distinct), group %zu (%zu)\n",
            (long long)st.records, want.read, want.n, got.read, got.n);
    assert_true(want.n > 0);
    assert_true(jp_test_recset_equal(&got, &want));
    jp_test_recset_free(&want);
    jp_test_recset_free(&got);
    free(dir_a);
    free(dir_b);
    jp_config_release(&cfg);
    jp_config_release(&ref_cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_engines_one_group),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
