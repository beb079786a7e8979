/*
 * The simulator producing to the in-process dev broker, read back with a
 * librdkafka consumer:
 *   - the same seed on two fresh brokers gives identical topic contents
 *     (hash of topic, partition, offset, key, value of every record), and
 *     another seed different contents;
 *   - every record decodes with the engine's decoder (jp_serde_decode)
 *     except the injected decode-level faults, which fail with exactly the
 *     reason the truth file names, found at the partition and offset the
 *     truth file names; value-level faults decode;
 *   - every record is in the partition the Java client's murmur2
 *     partitioner gives its key, with its event time as CreateTime;
 * and the producer on its own (jp_sim_producer_output): values are copied
 * before write returns, survive the reuse of the producer's slabs across
 * flushes, and a value larger than a slab goes through too; order per
 * partition is write order; every fault record, large or not, has its
 * partition and offset in the truth.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>

#include "dev/jp_broker.h"
#include "model/base/jp_endian.h"
#include "model/base/jp_hash.h"
#include "model/base/jp_partitioner.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_memreg.h"
#include "sim/jp_sim_produce.h"
#include "jp_test.h"
#include "jp_test_topic.h"

static const char *const world_body =
    "weeks: 2\n"
    "faults: {duplicate: 0.01, late: 0.01, out_of_order: 0.01, not_framed: 0.01,\n"
    "         unknown_schema_id: 0.01, truncated: 0.01, wrong_type: 0.01,\n"
    "         out_of_range: 0.01, unknown_country: 0.01}\n"
    "countries:\n"
    "  - code: GB\n"
    "    population: {subscribers: 3000, postcodes: 600}\n"
    "    response: {signups_per_day: 20, extra_per_subscriber_per_day: 0.02}\n"
    "  - code: SE\n"
    "    population: {subscribers: 2000, postcodes: 400}\n"
    "    response: {signups_per_day: 15, extra_per_subscriber_per_day: 0.02}\n";

typedef struct {
    uint64_t hash, n, decoded, failed, faults_matched;
} readback_t;

/* DefaultPartitioner for a keyed record (jp_partitioner, checked against
 * Kafka's own murmur2 vectors in tests/model/base/test_partitioner.c):
 * librdkafka's murmur2_random must agree with it. */
static int32_t java_partition(const void *key, size_t len, int partitions)
{
    return jp_partitioner_partition(JP_PARTITIONER_MURMUR2, key, len, partitions);
}

/* Finds the truth's fault record at (topic, partition, offset). */
static json_t *fault_at(json_t *records, const char *topic, int32_t p, int64_t off)
{
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        if (json_integer_value(json_object_get(r, "partition")) == p &&
            json_integer_value(json_object_get(r, "offset")) == off &&
            strcmp(json_string_value(json_object_get(r, "topic")), topic) == 0)
            return r;
    }
    return NULL;
}

typedef struct {
    const char *topic;
    int partitions;
    jp_serde_t *serde;
    json_t *faults;
    readback_t *rb;
    uint64_t ph[1024]; /* per partition */
    jp_avro_arena_t arena;
} reading_t;

static void check_record(void *ctx, const rd_kafka_message_t *m)
{
    reading_t *x = ctx;
    readback_t *rb = x->rb;
    const char *topic = x->topic;
    char err[512];
    int32_t p = m->partition;
    assert_int_equal(p, java_partition(m->key, m->key_len, x->partitions));
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    assert_int_equal(tstype, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    uint64_t h = jp_hash64(m->key, m->key_len, (uint64_t)m->offset);
    x->ph[p] = jp_hash64(m->payload, m->len, x->ph[p] ^ h);
    rb->n++;
    int reader = strstr(topic, "sales")       ? JP_EVENT_SALE
                 : strstr(topic, "customers") ? JP_EVENT_CUSTOMER
                                              : JP_EVENT_DRAW;
    union {
        jp_sale_event_t s;
        jp_customer_event_t c;
        jp_draw_result_t d;
    } out;
    jp_avro_arena_reset(&x->arena);
    jp_serde_err_t e =
        jp_serde_decode(x->serde, reader, m->payload, m->len, &out, &x->arena, err, sizeof(err));
    json_t *f = x->faults ? fault_at(x->faults, topic, p, m->offset) : NULL;
    const char *want = f ? json_string_value(json_object_get(f, "expected_error")) : NULL;
    if (f)
        rb->faults_matched++;
    if (want) {
        if (strcmp(jp_serde_err_name(e), want) != 0)
            fail_msg("%s [%d] @%lld: %s, expected %s", topic, (int)p, (long long)m->offset,
                     jp_serde_err_name(e), want);
        rb->failed++;
    } else {
        if (e != JP_SERDE_OK)
            fail_msg("%s [%d] @%lld does not decode: %s %s", topic, (int)p, (long long)m->offset,
                     jp_serde_err_name(e), err);
        rb->decoded++;
        /* the message timestamp is the event time (after any fault
         * moved it), not wall time */
        assert_int_equal(ts, reader == JP_EVENT_SALE       ? out.s.event_time
                             : reader == JP_EVENT_CUSTOMER ? out.c.event_time
                                                           : out.d.draw_time);
    }
}

/* Reads the whole topic back: records arrive in partition order; hash per
 * partition, then combine in partition order so fetch interleaving does
 * not matter. */
static void read_topic(const char *bootstrap, const char *topic, int partitions, jp_serde_t *serde,
                       json_t *faults, readback_t *rb)
{
    assert_true(partitions > 0 && partitions <= 1024);
    reading_t *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    *x = (reading_t){
        .topic = topic, .partitions = partitions, .serde = serde, .faults = faults, .rb = rb};
    jp_avro_arena_init(&x->arena);
    jp_test_read_topic(bootstrap, topic, check_record, x);
    for (int p = 0; p < partitions; p++)
        rb->hash = jp_hash64(&x->ph[p], sizeof(x->ph[p]), rb->hash ^ (uint64_t)p);
    jp_avro_arena_free(&x->arena);
    free(x);
}

/* One run on a fresh broker; returns the combined hash of every topic. */
static uint64_t run_once(const jp_sim_world_t *w, uint64_t seed, int check, readback_t *rb)
{
    char err[1024];
    jp_broker_t *b = jp_broker_start(1, 0, err, sizeof(err));
    assert_non_null(b);
    assert_int_equal(jp_broker_create_config_topics(b, &w->config, err, sizeof(err)), 0);
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_sim_options_t o = {0};
    o.seed = seed;
    o.seed_set = 1;
    o.registry = jp_sim_memreg_registry(reg);
    jp_sim_truth_t *truth = jp_sim_truth_new(w, seed, 2);
    jp_sim_producer_t *prod =
        jp_sim_producer_new(jp_broker_bootstraps(b), NULL, NULL, truth, err, sizeof(err));
    assert_non_null(prod);
    o.output = jp_sim_producer_output(prod);
    jp_sim_stats_t stats;
    if (jp_sim_run(w, &o, truth, &stats, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    if (jp_sim_producer_flush(prod, 30000, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    jp_sim_producer_free(prod);

    jp_serde_config_t sc = {0};
    sc.registry = o.registry;
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(serde);
    json_t *faults =
        json_object_get(json_object_get(jp_sim_truth_json(truth), "faults"), "records");
    memset(rb, 0, sizeof(*rb));
    const jp_topic_conf_t *topics[] = {&w->config.topics.sales, &w->config.topics.customers,
                                       &w->config.topics.draws};
    for (int t = 0; t < 3; t++)
        read_topic(jp_broker_bootstraps(b), topics[t]->name, (int)topics[t]->partitions, serde,
                   faults, rb);
    assert_int_equal(rb->n, stats.records);
    if (check) {
        /* every fault record was found where the truth says */
        assert_int_equal(rb->faults_matched, json_array_size(faults));
        uint64_t decode_faults =
            stats.faults[JP_SIM_FAULT_NOT_FRAMED] + stats.faults[JP_SIM_FAULT_UNKNOWN_SCHEMA_ID] +
            stats.faults[JP_SIM_FAULT_TRUNCATED] + stats.faults[JP_SIM_FAULT_WRONG_TYPE];
        assert_int_equal(rb->failed, decode_faults);
        assert_true(decode_faults > 20);
        fprintf(stderr, "%llu records, %llu decoded, %llu failed as injected\n",
                (unsigned long long)rb->n, (unsigned long long)rb->decoded,
                (unsigned long long)rb->failed);
    }
    jp_serde_free(serde);
    jp_sim_truth_free(truth);
    jp_sim_memreg_free(reg);
    jp_broker_stop(b);
    return rb->hash;
}

/* Loads world_body (in a temporary directory, removed again). */
static void load_world(jp_sim_world_t *w)
{
    char *dir = jp_test_tmpdir("simproduce");
    char text[4096];
    snprintf(text, sizeof(text), "config: %s/configs/jackpot.yaml\nstart: 2026-03-23\n%s",
             jp_test_src(), world_body);
    char *path = jp_test_write_file(dir, "world.yaml", text);
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    int rc = jp_sim_world_load(&c, path, w);
    for (size_t i = 0; i < c.n_errors; i++)
        fprintf(stderr, "%s\n", c.errors[i]);
    jp_conf_destroy(&c);
    assert_int_equal(rc, 0);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

static void test_produce_determinism_and_decoding(void **state)
{
    (void)state;
    jp_sim_world_t w;
    load_world(&w);

    readback_t a, b, other;
    uint64_t h1 = run_once(&w, 5, 1, &a);
    uint64_t h2 = run_once(&w, 5, 0, &b);
    uint64_t h3 = run_once(&w, 6, 0, &other);
    assert_true(a.n > 3000);
    assert_int_equal(a.n, b.n);
    assert_true(h1 == h2);
    assert_true(h1 != h3);

    jp_sim_world_release(&w);
}

/* The producer alone: PHASES x PER_PHASE records of varied sizes through one
 * reused buffer, a flush between phases (every slab comes back, and the
 * next phase reuses them), one value larger than a slab, a fault record
 * every FAULT_EVERY. Sizes keep every partition under the dev broker's
 * ~5 MB per partition, which would otherwise trim the oldest records. */
#define PHASES      3
#define PER_PHASE   12000
#define FAULT_EVERY 997
#define BIG_AT      (PER_PHASE + PER_PHASE / 2)
#define BIG_LEN     ((size_t)1200 * 1024)
#define TS0         INT64_C(1774224000000)

static const char *const slab_keys[] = {"GB", "SE", "NL", "DE", "NO", "a-much-longer-key-0123"};
#define N_KEYS (sizeof(slab_keys) / sizeof(slab_keys[0]))

static size_t value_len(uint64_t i)
{
    return i == BIG_AT ? BIG_LEN : 16 + (size_t)(i * 37 % 200);
}

/* Record i's value: its index, then bytes that depend on index and place. */
static void value_fill(unsigned char *v, uint64_t i)
{
    size_t len = value_len(i);
    memcpy(v, &i, sizeof(i));
    for (size_t j = sizeof(i); j < len; j++)
        v[j] = (unsigned char)(i * 31 + j * 7);
}

typedef struct {
    uint64_t n;
    unsigned char *buf; /* BIG_LEN bytes of scratch */
    int64_t last[6];    /* per partition: the last record index read */
    int32_t *part_of;
    int64_t *off_of;
    uint64_t seen;
} slabs_t;

static void check_slab_record(void *ctx, const rd_kafka_message_t *m)
{
    slabs_t *sl = ctx;
    uint64_t i;
    assert_true(m->len >= sizeof(i));
    memcpy(&i, m->payload, sizeof(i));
    assert_true(i < sl->n);
    value_fill(sl->buf, i);
    assert_int_equal(m->len, value_len(i));
    if (memcmp(m->payload, sl->buf, m->len) != 0)
        fail_msg("record %llu: value changed", (unsigned long long)i);
    const char *key = slab_keys[i % N_KEYS];
    assert_int_equal(m->key_len, strlen(key));
    assert_memory_equal(m->key, key, m->key_len);
    int partitions = (int)(sizeof(sl->last) / sizeof(sl->last[0]));
    assert_int_equal(m->partition, java_partition(key, strlen(key), partitions));
    assert_int_equal(rd_kafka_message_timestamp(m, NULL), TS0 + (int64_t)i);
    /* write order within the partition, no duplicates */
    assert_true((int64_t)i > sl->last[m->partition]);
    sl->last[m->partition] = (int64_t)i;
    sl->part_of[i] = m->partition;
    sl->off_of[i] = m->offset;
    sl->seen++;
}

static void test_producer_slabs_order_and_fault_reports(void **state)
{
    (void)state;
    jp_sim_world_t w;
    load_world(&w);
    char err[1024];
    jp_broker_t *b = jp_broker_start(1, 0, err, sizeof(err));
    assert_non_null(b);
    const char *topic = "sim.produce.slabs";
    const int partitions = 6;
    assert_int_equal(jp_broker_create_topic(b, topic, partitions, err, sizeof(err)), 0);
    jp_sim_truth_t *truth = jp_sim_truth_new(&w, 1, 1);
    assert_non_null(truth);
    jp_conf_props_t x = {0};
    assert_int_equal(jp_conf_props_set(&x, "message.max.bytes", "2000000"), 0);
    jp_sim_producer_t *prod =
        jp_sim_producer_new(jp_broker_bootstraps(b), NULL, &x, truth, err, sizeof(err));
    assert_non_null(prod);
    jp_conf_props_free(&x);
    jp_sim_output_t out = jp_sim_producer_output(prod);

    const uint64_t n = (uint64_t)PHASES * PER_PHASE;
    long *fault_of = malloc(n * sizeof(long)); /* truth index per record, -1 */
    int32_t *part_of = malloc(n * sizeof(int32_t));
    int64_t *off_of = malloc(n * sizeof(int64_t));
    unsigned char *buf = malloc(BIG_LEN);
    assert_true(fault_of && part_of && off_of && buf);
    for (uint64_t i = 0; i < n; i++) {
        const char *key = slab_keys[i % N_KEYS];
        fault_of[i] = -1;
        if (i % FAULT_EVERY == 0 || i == BIG_AT) {
            char id[32];
            snprintf(id, sizeof(id), "r%llu", (unsigned long long)i);
            fault_of[i] = jp_sim_truth_fault(truth, JP_SIM_FAULT_LATE, topic, key, id, i, NULL, 0);
            assert_true(fault_of[i] >= 0);
        }
        value_fill(buf, i);
        assert_int_equal(out.write(out.ctx, topic, key, strlen(key), buf, value_len(i),
                                   TS0 + (int64_t)i, fault_of[i]),
                         0);
        memset(buf, 0xee, value_len(i)); /* the producer must have copied it */
        if ((i + 1) % PER_PHASE == 0)
            assert_int_equal(jp_sim_producer_flush(prod, 30000, err, sizeof(err)), 0);
    }
    jp_sim_producer_free(prod);

    /* Read everything back. */
    slabs_t sl = {n, buf, {-1, -1, -1, -1, -1, -1}, part_of, off_of, 0};
    jp_test_read_topic(jp_broker_bootstraps(b), topic, check_slab_record, &sl);
    assert_int_equal(sl.seen, n);

    /* Every fault record's delivery report landed in the truth. */
    json_t *faults =
        json_object_get(json_object_get(jp_sim_truth_json(truth), "faults"), "records");
    uint64_t checked = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (fault_of[i] < 0)
            continue;
        json_t *r = json_array_get(faults, (size_t)fault_of[i]);
        assert_non_null(r);
        assert_int_equal(json_integer_value(json_object_get(r, "partition")), part_of[i]);
        assert_int_equal(json_integer_value(json_object_get(r, "offset")), off_of[i]);
        checked++;
    }
    assert_true(checked > PHASES * PER_PHASE / FAULT_EVERY);

    free(fault_of);
    free(part_of);
    free(off_of);
    free(buf);
    jp_sim_truth_free(truth);
    jp_broker_stop(b);
    jp_sim_world_release(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_determinism_and_decoding),
        cmocka_unit_test(test_producer_slabs_order_and_fault_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
