/*
 * The simulator producing to the in-process dev broker, read back with a
 * librdkafka consumer:
 *   - the same seed on two fresh brokers gives identical topic contents
 *     (hash of topic, partition, offset, key, value of every record), and
 *     another seed different contents;
 *   - every record decodes with the engine's decoder (jp_serde_decode)
 *     except the injected decode-level faults, which fail with exactly the
 *     reason the truth file names, found at the partition and offset the
 *     truth file names; value-level faults decode.
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

#include "jp_broker.h"
#include "jp_hash.h"
#include "jp_serde.h"
#include "jp_sim.h"
#include "jp_sim_memreg.h"
#include "jp_sim_produce.h"
#include "jp_test.h"

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

static void read_topic(const char *bootstrap, const char *topic, int partitions, jp_serde_t *serde,
                       json_t *faults, readback_t *rb)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)), 0);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "test-sim", err, sizeof(err)), 0);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)), 0);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    /* Records arrive in partition order; hash per partition, then combine
     * in partition order so fetch interleaving does not matter. */
    assert_true(partitions > 0 && partitions <= 1024);
    uint64_t ph[1024] = {0};
    int eof = 0;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    while (eof < partitions) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 5000);
        assert_non_null(m);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
            rd_kafka_message_destroy(m);
            continue;
        }
        assert_int_equal(m->err, 0);
        int32_t p = m->partition;
        uint64_t h = jp_hash64(m->key, m->key_len, (uint64_t)m->offset);
        ph[p] = jp_hash64(m->payload, m->len, ph[p] ^ h);
        rb->n++;
        int reader = strstr(topic, "sales")       ? JP_EVENT_SALE
                     : strstr(topic, "customers") ? JP_EVENT_CUSTOMER
                                                  : JP_EVENT_DRAW;
        union {
            jp_sale_event_t s;
            jp_customer_event_t c;
            jp_draw_result_t d;
        } out;
        jp_avro_arena_reset(&arena);
        jp_serde_err_t e =
            jp_serde_decode(serde, reader, m->payload, m->len, &out, &arena, err, sizeof(err));
        json_t *f = faults ? fault_at(faults, topic, p, m->offset) : NULL;
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
                fail_msg("%s [%d] @%lld does not decode: %s %s", topic, (int)p,
                         (long long)m->offset, jp_serde_err_name(e), err);
            rb->decoded++;
        }
        rd_kafka_message_destroy(m);
    }
    for (int p = 0; p < partitions; p++)
        rb->hash = jp_hash64(&ph[p], sizeof(ph[p]), rb->hash ^ (uint64_t)p);
    jp_avro_arena_free(&arena);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
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

static void test_produce_determinism_and_decoding(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("simproduce");
    char text[4096];
    snprintf(text, sizeof(text), "config: %s/configs/jackpot.yaml\nstart: 2026-03-23\n%s",
             jp_test_src(), world_body);
    char *path = jp_test_write_file(dir, "world.yaml", text);
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    jp_sim_world_t w;
    int rc = jp_sim_world_load(&c, path, &w);
    for (size_t i = 0; i < c.n_errors; i++)
        fprintf(stderr, "%s\n", c.errors[i]);
    jp_conf_destroy(&c);
    assert_int_equal(rc, 0);

    readback_t a, b, other;
    uint64_t h1 = run_once(&w, 5, 1, &a);
    uint64_t h2 = run_once(&w, 5, 0, &b);
    uint64_t h3 = run_once(&w, 6, 0, &other);
    assert_true(a.n > 3000);
    assert_int_equal(a.n, b.n);
    assert_true(h1 == h2);
    assert_true(h1 != h3);

    jp_sim_world_release(&w);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_determinism_and_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
