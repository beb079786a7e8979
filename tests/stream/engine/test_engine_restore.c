/*
 * A full restore from changelogs that hold the records of failed commits.
 * While an engine processes tests/configs/sim/quarter.yaml as the
 * simulator produces it (one week, then two weeks from the start again: the
 * repeated week is duplicates and late records), commits fail at their
 * commit point (OffsetCommit errors from the mock cluster) after their
 * changelog records were delivered, so the changelogs carry records of
 * commits that never counted between those of commits that did. Then the
 * state directory is deleted and a new engine in the same group restores
 * every task from the changelogs alone, up to the committed changelog
 * ends: its totals (kept in state, per partition) must equal those of a
 * fault-free reference run over the same input, conservation holding.
 * Records of a failed commit at or below a later commit's end must have
 * been overwritten by a later commit, and those beyond it skipped.
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jp_test.h"
#include "jp_test_engine.h"

/* Weeks produced after the first (from the start again; fewer under ASan,
 * where everything is several times slower), and the records between two
 * commits made to fail. */
#if defined(__SANITIZE_ADDRESS__)
static const int weeks_more = 1;
#else
static const int weeks_more = 2;
#endif
#define STEP_RECORDS      4000
#define WAIT_MS           180000
#define API_OFFSET_COMMIT 8 /* Kafka's OffsetCommit API key */

static jp_test_stack_t st;

/* Pushes an OffsetCommit error each time the engine has committed another
 * share of the input produced so far, while the simulator produces more. */
typedef struct {
    jp_test_engine_t *e;
    rd_kafka_mock_cluster_t *mc;
    int64_t from, step;
    int pushes;
    atomic_int done; /* set by the test once every record is consumed */
} saboteur_t;

static void *saboteur_main(void *arg)
{
    saboteur_t *s = arg;
    int64_t next = s->from + s->step;
    for (int waited = 0; s->pushes < 3 && !atomic_load(&s->done) && waited < WAIT_MS; waited += 5) {
        jp_engine_totals_t t;
        jp_test_engine_totals(s->e, &t);
        if (t.consumed >= next) {
            /* more than librdkafka's own retries of a commit absorb */
            rd_kafka_resp_err_t err[3] = {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                          RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                          RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT};
            rd_kafka_mock_push_request_errors_array(s->mc, API_OFFSET_COMMIT, 3, err);
            s->pushes++;
            next += s->step;
        }
        usleep(5000);
    }
    return NULL;
}

static void test_full_restore_after_failed_commits(void **state)
{
    (void)state;
    jp_config_t ref_cfg, cfg;
    jp_test_stack_start(&st, "engine-restore", 1);
    jp_test_stack_simulate(&st, "tests/configs/sim/quarter.yaml", 1);
    int64_t first = st.records;
    rd_kafka_mock_cluster_t *mc = jp_broker_mock(jp_devstack_broker(st.stack));
    jp_test_engine_config(&st, "failed-commits", &cfg);
    int parts = (int)cfg.topics.sales.partitions;
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, parts, first, WAIT_MS), 0);
    /* The first commit of the next input fails: the engine is idle now, and
     * an idle commit would otherwise take the error. */
    saboteur_t sab = {e, mc, first, STEP_RECORDS, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, saboteur_main, &sab), 0);
    jp_test_stack_simulate(&st, "tests/configs/sim/quarter.yaml", 1 + weeks_more);
    assert_int_equal(jp_test_engine_wait(e, parts, st.records, WAIT_MS), 0);
    atomic_store(&sab.done, 1);
    pthread_join(th, NULL);
    jp_engine_totals_t tot;
    jp_test_engine_stop(e, &tot);
    fprintf(stderr, "%lld records, %d commits made to fail\n", (long long)st.records, sab.pushes);
    assert_true(sab.pushes > 0);

    jp_test_engine_config(&st, "reference", &ref_cfg);
    jp_test_engine_t *ref = jp_test_engine_start(&ref_cfg, NULL);
    assert_int_equal(jp_test_engine_wait(ref, parts, st.records, WAIT_MS), 0);
    jp_engine_totals_t ref_tot;
    jp_test_engine_stop(ref, &ref_tot);
    jp_test_assert_totals_equal(&tot, &ref_tot);

    /* Everything again from the changelogs: the group's offsets are at the
     * end of the input, so the new engine only restores. */
    jp_test_rmtree(cfg.state.dir);
    e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, parts, st.records, WAIT_MS), 0);
    jp_test_engine_stop(e, &tot);
    jp_test_assert_totals_equal(&tot, &ref_tot);
    jp_config_release(&cfg);
    jp_config_release(&ref_cfg);
    jp_test_stack_stop(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_restore_after_failed_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
