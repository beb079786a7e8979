/*
 * The engine under broker faults, in-process on a 3-broker embedded
 * cluster with librdkafka's mock error injection: while an engine
 * processes two weeks of tests/configs/sim/quarter.yaml, Produce, Fetch and
 * OffsetCommit requests fail with retriable errors (the very first commit
 * among them) and one broker goes down and comes back. The engine must recover on its own and end
 * with exactly the totals (consumed, applied, dead-lettered, duplicates) of a fault-free reference
 * run over the same input, conservation holding, and the same set of distinct FeatureVector
 * records.
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

#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 1
#else
#define WEEKS 2
#endif
#define WAIT_MS 180000

/* Kafka API keys (the RD_KAFKAP_* constants are not in the public
 * header): Produce = 0, Fetch = 1, OffsetCommit = 8. */
#define API_PRODUCE       0
#define API_FETCH         1
#define API_OFFSET_COMMIT 8

static jp_test_stack_t st;

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "engine-faults", 3);
    jp_test_stack_simulate(&st, "tests/configs/sim/quarter.yaml", WEEKS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    return 0;
}

static void push_errors(rd_kafka_mock_cluster_t *mc, int16_t api, rd_kafka_resp_err_t err, int n)
{
    rd_kafka_resp_err_t errs[8];
    for (int i = 0; i < n; i++)
        errs[i] = err;
    rd_kafka_mock_push_request_errors_array(mc, api, (size_t)n, errs);
}

static void test_engine_recovers_from_broker_faults(void **state)
{
    (void)state;
    jp_config_t ref_cfg, cfg;
    jp_test_engine_config(&st, "reference", &ref_cfg);
    int parts = (int)ref_cfg.topics.sales.partitions;
    jp_test_engine_t *ref = jp_test_engine_start(&ref_cfg, NULL);
    assert_int_equal(jp_test_engine_wait(ref, parts, st.records, WAIT_MS), 0);
    jp_engine_totals_t ref_tot;
    jp_test_engine_stop(ref, &ref_tot);
    assert_int_equal(ref_tot.consumed, st.records);

    rd_kafka_mock_cluster_t *mc = jp_broker_mock(jp_devstack_broker(st.stack));
    jp_test_engine_config(&st, "faults", &cfg);
    /* The first fetches fail before the engine has read anything, and
     * the first commit fails after its changelog records are out: the
     * rewind must not restore a batch of inputs that were never committed. */
    push_errors(mc, API_FETCH, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 4);
    push_errors(mc, API_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 1);
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, parts, -1, WAIT_MS), 0);

    /* Mid-run, each fault after some progress, so that it hits a
     * processing engine: outputs and changelogs, then commits, then reads,
     * then a whole broker. */
    int64_t step = st.records / 8;
    jp_test_engine_wait_consumed(e, 1, WAIT_MS);
    push_errors(mc, API_PRODUCE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 5);
    push_errors(mc, API_PRODUCE, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, 2);
    jp_test_engine_wait_consumed(e, step, WAIT_MS);
    push_errors(mc, API_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 3);
    push_errors(mc, API_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 2);
    jp_test_engine_wait_consumed(e, 2 * step, WAIT_MS);
    push_errors(mc, API_FETCH, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 6);
    jp_test_engine_wait_consumed(e, 3 * step, WAIT_MS);
    assert_int_equal(rd_kafka_mock_broker_set_down(mc, 2), 0);
    usleep(1500000); /* the outage's length, not an assertion */
    assert_int_equal(rd_kafka_mock_broker_set_up(mc, 2), 0);

    assert_int_equal(jp_test_engine_wait(e, parts, st.records, WAIT_MS), 0);
    jp_engine_totals_t tot;
    jp_test_engine_stop(e, &tot);
    jp_test_assert_totals_equal(&tot, &ref_tot);

    jp_test_recset_t want, got;
    jp_test_read_distinct(&st, ref_cfg.topics.features, &want);
    jp_test_read_distinct(&st, cfg.topics.features, &got);
    fprintf(stderr, "%lld records; features: reference %zu (%zu distinct), faults %zu (%zu)\n",
            (long long)st.records, want.read, want.n, got.read, got.n);
    assert_true(want.n > 0);
    assert_true(jp_test_recset_equal(&got, &want));
    jp_test_recset_free(&want);
    jp_test_recset_free(&got);
    jp_config_release(&cfg);
    jp_config_release(&ref_cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_recovers_from_broker_faults),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
