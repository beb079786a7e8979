/*
 * The partitioning contract (docs/processor.md, "Partitioning"), in-process
 * on the embedded stack:
 *   - librdkafka's own partitioners (murmur2_random, consistent_random,
 *     consistent, fnv1a_random, fnv1a) put every key where jp_partitioner
 *     says, so the engine's check agrees with the clients that use them;
 *   - two weeks of tests/configs/sim/partitioned.yaml (with duplicates,
 *     late, out-of-order and broken records) produced with murmur2 (the
 *     contract: the reference run), consistent_random and fnv1a end in the
 *     same set of FeatureVector records and the same totals (consumed,
 *     applied, dead-lettered, duplicates, late). The consistent_random run
 *     goes through failed commits (rewinds: copies produced again, skipped
 *     as replays by their home) and a restart on an empty state directory
 *     (a full restore from the changelogs); conservation holds with the
 *     copies, and every copy sent is received once. The features are
 *     exactly the reference's because each task's countries come from one
 *     partition per input under all three partitioners (DE and NO, which
 *     share a task, hash to one partition with each): docs/processor.md,
 *     "Event time of copies";
 *   - with topics.mispartitioned: dead_letter the same mispartitioned
 *     records are dead-lettered as MISPARTITIONED with their original
 *     bytes, naming where they were read;
 *   - told the producers' partitioner (topics.input_partitioner:
 *     consistent_random, fnv1a), or not to check (any), the engine
 *     repartitions nothing and the records' outcomes are the reference's.
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
#include <string.h>
#include <unistd.h>

#include "dev/jp_broker.h"
#include "engine/jp_dlq.h"
#include "model/base/jp_partitioner.h"
#include "jp_test_engine.h"
#include "jp_test_topic.h"

#define WORLD   "tests/configs/sim/partitioned.yaml"
#define WAIT_MS 180000
/* Kafka API key of OffsetCommit (not in the public header). */
#define API_OFFSET_COMMIT 8

/* ---- librdkafka's partitioners ------------------------------------------------ */

typedef struct {
    int32_t partition[600];
    int n;
} delivered_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    delivered_t *d = opaque;
    assert_int_equal(m->err, 0);
    d->partition[(intptr_t)m->_private] = m->partition;
    d->n++;
}

static size_t test_key(int i, char *buf, size_t size)
{
    static const char *const countries[] = {"GB", "NL", "DE", "SE", "NO"};
    if (i < 5)
        return (size_t)snprintf(buf, size, "%s", countries[i]);
    if (i % 3 == 0) /* binary keys of every length, bytes >= 0x80 included */
        for (int k = 0; k < i % 37 + 1; k++)
            buf[k] = (char)(i * 31 + k * 17);
    return i % 3 == 0 ? (size_t)(i % 37 + 1) : (size_t)snprintf(buf, size, "key-%d", i);
}

static void test_librdkafka_partitioners_agree(void **state)
{
    (void)state;
    static const struct {
        const char *librdkafka;
        jp_partitioner_t ours;
    } cases[] = {{"murmur2_random", JP_PARTITIONER_MURMUR2},
                 {"murmur2", JP_PARTITIONER_MURMUR2},
                 {"consistent_random", JP_PARTITIONER_CONSISTENT_RANDOM},
                 {"consistent", JP_PARTITIONER_CRC32},
                 {"fnv1a_random", JP_PARTITIONER_FNV1A},
                 {"fnv1a", JP_PARTITIONER_FNV1A}};
    char err[512];
    jp_broker_t *b = jp_broker_start(1, 0, err, sizeof(err));
    assert_non_null(b);
    const int parts = 7; /* neither a power of two nor a divisor of the hashes' moduli */
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char topic[64];
        snprintf(topic, sizeof(topic), "keys-%s", cases[c].librdkafka);
        assert_int_equal(jp_broker_create_topic(b, topic, parts, err, sizeof(err)), 0);
        delivered_t d = {{0}, 0};
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        assert_int_equal(
            rd_kafka_conf_set(conf, "bootstrap.servers", jp_broker_bootstraps(b), err, sizeof(err)),
            RD_KAFKA_CONF_OK);
        assert_int_equal(
            rd_kafka_conf_set(conf, "partitioner", cases[c].librdkafka, err, sizeof(err)),
            RD_KAFKA_CONF_OK);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, &d);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        assert_non_null(rk);
        const int n = 600;
        for (int i = 0; i < n; i++) {
            char key[64];
            size_t len = test_key(i, key, sizeof(key));
            assert_int_equal(rd_kafka_producev(
                                 rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, len),
                                 RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END),
                             0);
        }
        assert_int_equal(rd_kafka_flush(rk, 30000), 0);
        assert_int_equal(d.n, n);
        for (int i = 0; i < n; i++) {
            char key[64];
            size_t len = test_key(i, key, sizeof(key));
            if (d.partition[i] != jp_partitioner_partition(cases[c].ours, key, len, parts))
                fail_msg("%s: key %d went to partition %d, jp_partitioner says %d",
                         cases[c].librdkafka, i, d.partition[i],
                         jp_partitioner_partition(cases[c].ours, key, len, parts));
        }
        rd_kafka_destroy(rk);
    }
    jp_broker_stop(b);
}

/* ---- one input, one partitioner -------------------------------------------------- */

typedef struct {
    jp_test_stack_t st;
    jp_engine_totals_t tot;
    jp_test_recset_t features;
    int64_t wrong; /* input records on another partition than their key's murmur2 home */
} run_t;

static run_t ref, crc, fnv;

typedef struct {
    int parts;
    int64_t seen, wrong;
} wrong_ctx_t;

static void count_wrong_one(void *ctx, const rd_kafka_message_t *m)
{
    wrong_ctx_t *w = ctx;
    w->seen++;
    w->wrong += m->partition !=
                jp_partitioner_partition(JP_PARTITIONER_MURMUR2, m->key, m->key_len, w->parts);
}

/* Counts the input records whose partition is not the murmur2 home of
 * their key (the country). */
static int64_t count_wrong(jp_test_stack_t *st, const jp_config_t *cfg)
{
    const char *topics[] = {cfg->topics.sales.name, cfg->topics.customers.name,
                            cfg->topics.draws.name};
    wrong_ctx_t w = {(int)cfg->topics.sales.partitions, 0, 0};
    for (int t = 0; t < 3; t++)
        jp_test_read_topic(jp_devstack_bootstraps(st->stack), topics[t], count_wrong_one, &w);
    assert_int_equal(w.seen, st->records);
    return w.wrong;
}

static void push_errors(jp_test_stack_t *st, int16_t api, rd_kafka_resp_err_t err, int n)
{
    rd_kafka_mock_cluster_t *mc = jp_broker_mock(jp_devstack_broker(st->stack));
    for (int i = 0; i < n; i++)
        rd_kafka_mock_push_request_errors(mc, api, 1, err);
}

/* Simulates the world through librdkafka's `partitioner` and runs the
 * engine over it; with `troubled`, through failed commits and a restart on
 * an empty state directory. */
static void run_one(run_t *r, const char *partitioner, int troubled)
{
    char tag[64], state[700];
    snprintf(tag, sizeof(tag), "repartition-%s", partitioner);
    jp_test_stack_start(&r->st, tag, 1);
    jp_conf_props_t props = {0};
    assert_int_equal(jp_conf_props_set(&props, "partitioner", partitioner), 0);
    jp_test_stack_simulate_with(&r->st, WORLD, 2, &props);
    jp_conf_props_free(&props);

    jp_config_t cfg;
    jp_test_engine_config(&r->st, "run", &cfg);
    r->wrong = count_wrong(&r->st, &cfg);
    int parts = (int)cfg.topics.sales.partitions;
    if (troubled)
        push_errors(&r->st, API_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 3);
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    if (troubled) {
        /* Half-way, the instance goes; the next starts with no state. */
        jp_test_engine_wait_consumed(e, r->st.records / 2, WAIT_MS);
        jp_test_engine_stop(e, NULL);
        snprintf(state, sizeof(state), "%s-restored", cfg.state.dir);
        e = jp_test_engine_start(&cfg, state);
    }
    assert_int_equal(jp_test_engine_wait(e, parts, r->st.records, WAIT_MS), 0);
    jp_test_engine_stop(e, &r->tot);
    jp_test_read_distinct(&r->st, cfg.topics.features, &r->features);
    fprintf(stderr,
            "%s: %lld records, %lld on another partition than murmur2's; repartitioned %lld, "
            "received %lld, replays %lld; applied %lld, dead-lettered %lld, duplicates %lld; "
            "%zu distinct features\n",
            partitioner, (long long)r->st.records, (long long)r->wrong,
            (long long)r->tot.repartitioned, (long long)r->tot.received, (long long)r->tot.replays,
            (long long)r->tot.applied, (long long)r->tot.dead_lettered,
            (long long)r->tot.duplicates, r->features.n);
    jp_config_release(&cfg);
}

static int setup(void **state)
{
    (void)state;
    memset(&ref, 0, sizeof(ref));
    memset(&crc, 0, sizeof(crc));
    memset(&fnv, 0, sizeof(fnv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    run_t *runs[] = {&ref, &crc, &fnv};
    for (size_t i = 0; i < 3; i++) {
        jp_test_recset_free(&runs[i]->features);
        if (runs[i]->st.stack)
            jp_test_stack_stop(&runs[i]->st);
    }
    return 0;
}

static void test_murmur2_is_the_reference(void **state)
{
    (void)state;
    run_one(&ref, "murmur2_random", 0);
    assert_int_equal(ref.wrong, 0);
    assert_int_equal(ref.tot.repartitioned, 0);
    assert_int_equal(ref.tot.received, 0);
    assert_true(ref.tot.duplicates > 0 && ref.tot.late > 0 && ref.tot.dead_lettered > ref.tot.late);
    assert_true(ref.features.n > 0);
    jp_test_assert_totals_equal(&ref.tot, &ref.tot);
}

/* Every valid record on a wrong partition is repartitioned once; the
 * others on a wrong partition are dead-lettered where they were read,
 * as the reference dead-letters them. */
static void assert_like_reference(const run_t *r)
{
    assert_true(r->wrong > 0);
    assert_true(r->tot.repartitioned <= r->wrong);
    assert_true(r->tot.repartitioned >= r->wrong - ref.tot.dead_lettered);
    jp_test_assert_totals_equal(&r->tot, &ref.tot);
    assert_true(jp_test_recset_equal(&r->features, &ref.features));
}

static void test_consistent_random_with_rewinds_and_restore(void **state)
{
    (void)state;
    run_one(&crc, "consistent_random", 1);
    assert_like_reference(&crc);
    /* The failed commits came after copies were flushed: the sources
     * produced them again, and their homes skipped them. */
    assert_true(crc.tot.replays > 0);
}

static void test_fnv1a(void **state)
{
    (void)state;
    run_one(&fnv, "fnv1a_random", 0);
    assert_like_reference(&fnv);
}

/* The engine told which partitioner its producers use (or not to check):
 * nothing goes through the repartition topic or the dead-letter topics
 * for it, and the records' outcomes are the reference's. (Its features
 * are those of a task per partition of that partitioner: countries share
 * tasks differently, so the last windows of a task may close elsewhere
 * than in the reference; docs/processor.md.) */
static void run_configured(run_t *r, const char *tag, jp_partitioner_t p)
{
    jp_config_t cfg;
    jp_test_engine_config(&r->st, tag, &cfg);
    cfg.topics.input_partitioner = p;
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(
        jp_test_engine_wait(e, (int)cfg.topics.sales.partitions, r->st.records, WAIT_MS), 0);
    jp_engine_totals_t t;
    jp_test_engine_stop(e, &t);
    jp_test_recset_t features;
    jp_test_read_distinct(&r->st, cfg.topics.features, &features);
    assert_int_equal(t.repartitioned, 0);
    jp_test_assert_totals_equal(&t, &ref.tot);
    assert_true(features.n > ref.features.n / 2);
    jp_test_recset_free(&features);
    jp_config_release(&cfg);
}

static void test_input_partitioner_configured(void **state)
{
    (void)state;
    assert_non_null(crc.st.stack);
    run_configured(&crc, "told-consistent-random", JP_PARTITIONER_CONSISTENT_RANDOM);
    run_configured(&fnv, "told-fnv1a", JP_PARTITIONER_FNV1A);
    run_configured(&fnv, "told-any", JP_PARTITIONER_ANY);
}

typedef struct {
    const char *cls;
    int parts;
    const jp_dlq_key_t *key;
    int64_t n;
} dlq_ctx_t;

/* A dead letter of the class counted: it opens with the engine's key to
 * the original record, framed Avro keyed by its country, read from a
 * partition that is not its country's. */
static void count_dead_letter(void *ctx, const rd_kafka_message_t *m)
{
    dlq_ctx_t *d = ctx;
    rd_kafka_headers_t *h;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) != 0 ||
        rd_kafka_header_get_last(h, "jp.error.class", &v, &len) != 0 || len != strlen(d->cls) ||
        memcmp(v, d->cls, len) != 0)
        return;
    d->n++;
    char err[256];
    jp_dlq_opened_t o;
    if (jp_dlq_open(&d->key, 1, m->payload, m->len, h, &o, err, sizeof(err)) != 0)
        fail_msg("dead letter at offset %lld does not open: %s", (long long)m->offset, err);
    assert_true(o.value_len > 5 && o.value[0] == 0);
    assert_int_equal(o.key_len, 2);
    assert_int_not_equal(o.partition,
                         jp_partitioner_partition(JP_PARTITIONER_MURMUR2, o.key, 2, d->parts));
    jp_dlq_opened_free(&o);
}

/* The DLQ records of one class on the stack's input topics. */
static int64_t count_dead_letters(jp_test_stack_t *st, const jp_config_t *cfg, const char *cls)
{
    char dlq[3][300];
    const char *inputs[] = {cfg->topics.sales.name, cfg->topics.customers.name,
                            cfg->topics.draws.name};
    char err[256];
    jp_dlq_key_t *key = jp_dlq_key_new(cfg->dead_letters.key.value, err, sizeof(err));
    assert_non_null(key);
    dlq_ctx_t d = {cls, (int)cfg->topics.sales.partitions, key, 0};
    for (int t = 0; t < 3; t++) {
        snprintf(dlq[t], sizeof(dlq[t]), "%s%s", inputs[t], cfg->topics.dlq_suffix);
        jp_test_read_topic(jp_devstack_bootstraps(st->stack), dlq[t], count_dead_letter, &d);
    }
    jp_dlq_key_free(key);
    return d.n;
}

static void test_dead_letter_mode(void **state)
{
    (void)state;
    assert_non_null(fnv.st.stack);
    jp_config_t cfg;
    jp_test_engine_config(&fnv.st, "dlq", &cfg);
    cfg.topics.mispartitioned = JP_MISPARTITIONED_DEAD_LETTER;
    int64_t before = count_dead_letters(&fnv.st, &cfg, "MISPARTITIONED");
    assert_int_equal(before, 0); /* the repartitioning run wrote none */
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(
        jp_test_engine_wait(e, (int)cfg.topics.sales.partitions, fnv.st.records, WAIT_MS), 0);
    jp_engine_totals_t t;
    jp_test_engine_stop(e, &t);
    assert_int_equal(t.repartitioned, 0);
    assert_int_equal(t.received, 0);
    assert_int_equal(t.consumed, t.applied + t.dead_lettered + t.duplicates);
    /* exactly the records the repartitioning run sent to their homes */
    assert_int_equal(count_dead_letters(&fnv.st, &cfg, "MISPARTITIONED"), fnv.tot.repartitioned);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_librdkafka_partitioners_agree),
        cmocka_unit_test(test_murmur2_is_the_reference),
        cmocka_unit_test(test_consistent_random_with_rewinds_and_restore),
        cmocka_unit_test(test_fnv1a),
        cmocka_unit_test(test_dead_letter_mode),
        cmocka_unit_test(test_input_partitioner_configured),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
