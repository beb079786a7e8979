/*
 * The whole bad-input set against the engine on the embedded stack (mock
 * Kafka cluster, schema registry over HTTP, real RocksDB): records that
 * are not Avro, framed with unknown ids, written with writer schemas the
 * registry accepts but no reader can use (a wrong type, a recursive
 * record), a ~1 MB record whose dead letter cannot be written whole, a
 * sale dated 2100 with a valid draw id and a Kafka timestamp to match, a
 * 900 KB customer id, a key that is not the value's country, an event
 * time of INT64_MIN, an empty event id, a late record, a duplicate, an
 * over-long email and a draw result from 2100 - between ordinary traffic.
 *
 * The engine must survive all of it (the suite runs under ASan+UBSan too),
 * consume every record, keep conservation (consumed = applied +
 * dead-lettered + duplicates) and put each bad record in the DLQ with the
 * right reason, its original bytes recoverable with the dead-letter key;
 * the ordinary records after the 2100 sale are applied, not LATE; the
 * dead-letter messages are deterministic and never name the registry.
 *
 * ERASE: a customer's state is deleted, its changelog gets a tombstone,
 * and a store rebuilt from the changelog does not bring the customer back.
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

#include "engine/jp_dlq.h"
#include "engine/jp_pii.h"
#include "model/base/jp_partitioner.h"
#include "jp_test.h"
#include "jp_test_engine.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim_faults.h"

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
/* 2026-03-02T00:00:00Z, a Monday; sales are for that Saturday's draw. */
#define T0 1772409600000LL
/* 2100-03-06T18:00:00Z, a Saturday: a real draw of the GB calendar. */
#define Y2100   4108039200000LL
#define WAIT_MS 180000

enum { IN_SALES, IN_CUSTOMERS, IN_DRAWS };

/* What the test expects of each record it produced. */
typedef struct {
    int input;
    int64_t offset;
    const char *expect; /* dead-letter class, "DUP", or NULL for applied */
    void *bytes;        /* the value as produced (small ones), for the DLQ check */
    size_t len;
} sent_t;

static struct {
    jp_test_stack_t st;
    jp_config_t cfg;
    jp_registry_client_t *reg;
    jp_serde_t *serde;
    rd_kafka_t *producer;
    const char *topics[3];
    int64_t next[3];
    sent_t sent[256];
    size_t n_sent;
    int32_t rogue_id, recursive_id;
    int part; /* GB's partition (the partitioning contract): every record goes there */
} fx;

/* key: a string, or "\0"-framed bytes when key_len is given (> 0). */
static size_t key_len;

static void produce(int input, const char *key, const void *val, size_t len, int64_t ts,
                    const char *expect)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        fx.producer, RD_KAFKA_V_TOPIC(fx.topics[input]), RD_KAFKA_V_PARTITION(fx.part),
        RD_KAFKA_V_KEY(key, key_len ? key_len
                            : key   ? strlen(key)
                                    : 0),
        RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_TIMESTAMP(ts),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    assert_int_equal(err, 0);
    sent_t *s = &fx.sent[fx.n_sent++];
    *s = (sent_t){input, fx.next[input]++, expect, NULL, len};
    if (len <= 4096) {
        s->bytes = malloc(len ? len : 1);
        memcpy(s->bytes, val, len);
    }
}

static void produce_event(int input, const char *key, const void *ev, int64_t ts,
                          const char *expect)
{
    char err[256];
    jp_avro_buf_t buf = {0};
    assert_int_equal(jp_serde_encode(fx.serde, JP_EVENT_SALE + input, fx.topics[input], ev, &buf,
                                     err, sizeof(err)),
                     JP_SERDE_OK);
    produce(input, key, buf.data, buf.len, ts, expect);
    jp_avro_buf_free(&buf);
}

static jp_sale_event_t sale_at(int n, int64_t t, char *id, char *cust)
{
    snprintf(id, 64, "00000000-0000-4000-8000-%012d", n);
    snprintf(cust, 32, "C-%04d", n % 5);
    jp_sale_event_t e = {0};
    e.event_id = jp_avro_str(id);
    e.country = jp_avro_str("GB");
    e.event_time = t;
    e.customer_id = jp_avro_str(cust);
    e.postcode = jp_avro_str("SW1A 1AA");
    e.channel = JP_SALE_CHANNEL_WEB;
    e.tickets = 1;
    e.amount_minor = 1225;
    e.currency = jp_avro_str("GBP");
    e.draw_id = jp_avro_str("GB-20260307-saturday");
    e.advertised_prize_minor = 100000000;
    return e;
}

static void good_sale(int n, int64_t t)
{
    char id[64], cust[32];
    jp_sale_event_t e = sale_at(n, t, id, cust);
    produce_event(IN_SALES, "GB", &e, t, NULL);
}

static jp_customer_event_t customer_at(int n, int64_t t, jp_customer_event_type_t type, char *id,
                                       const char *cust)
{
    snprintf(id, 64, "10000000-0000-4000-8000-%012d", n);
    jp_customer_event_t e = {0};
    e.event_id = jp_avro_str(id);
    e.country = jp_avro_str("GB");
    e.event_time = t;
    e.customer_id = jp_avro_str(cust);
    e.postcode = jp_avro_str("SW1A 1AA");
    e.type = type;
    e.subscription_tickets = 1;
    return e;
}

static void good_customer(int n, int64_t t, jp_customer_event_type_t type, const char *cust)
{
    char id[64];
    jp_customer_event_t e = customer_at(n, t, type, id, cust);
    produce_event(IN_CUSTOMERS, "GB", &e, t, NULL);
}

static void draw_result(int64_t t, const char *draw_id, const char *expect)
{
    jp_draw_result_t d = {0};
    d.country = jp_avro_str("GB");
    d.draw_id = jp_avro_str(draw_id);
    d.draw_time = t;
    d.headline_prize_minor = 100000000;
    d.prize_kind = JP_PRIZE_KIND_SHARED;
    d.winning_sector = jp_avro_str("SW1A 1");
    produce_event(IN_DRAWS, "GB", &d, t, expect);
}

/* A framed record with schema id id and payload bytes. */
static void produce_framed(int32_t id, const void *payload, size_t len, int64_t ts,
                           const char *expect)
{
    unsigned char *b = malloc(5 + len);
    b[0] = 0;
    b[1] = (unsigned char)(id >> 24), b[2] = (unsigned char)(id >> 16);
    b[3] = (unsigned char)(id >> 8), b[4] = (unsigned char)id;
    memcpy(b + 5, payload, len);
    produce(IN_SALES, "GB", b, 5 + len, ts, expect);
    free(b);
}

static void flush(void)
{
    assert_int_equal(rd_kafka_flush(fx.producer, 30000), 0);
}

/* The first part of the input: ordinary traffic and every bad record. */
static void produce_bad_input(void)
{
    int n = 0;
    int64_t t = T0;
    char id[64], cust[32];
    jp_sale_event_t e;
    for (; n < 12; n++, t += 5 * MIN_MS) {
        good_sale(n, t);
        if (n == 4) { /* sale 3 again, within the lateness: a duplicate */
            e = sale_at(3, T0 + 3 * 5 * MIN_MS, id, cust);
            produce_event(IN_SALES, "GB", &e, t, "DUP");
        }
    }
    for (int i = 0; i < 6; i++)
        good_customer(i, T0 + i * 10 * MIN_MS, JP_CUSTOMER_EVENT_SIGNUP, "C-0001");
    draw_result(T0 + 12 * HOUR_MS, "GB-20260302-daily", NULL);

    /* decode errors */
    produce(IN_SALES, "GB", "not avro", 8, t, "NOT_FRAMED");
    unsigned char junk[] = {2, 'x', 0, 0};
    produce_framed(999999, junk, sizeof(junk), t, "UNKNOWN_SCHEMA_ID");
    produce_framed(999999, junk, sizeof(junk), t, "UNKNOWN_SCHEMA_ID");
    produce_framed(fx.rogue_id, junk, sizeof(junk), t, "INCOMPATIBLE");
    unsigned char rec[] = {2, 0};
    produce_framed(fx.recursive_id, rec, sizeof(rec), t, "INCOMPATIBLE");
    /* ~1 MB: its dead letter does not fit the producer's message.max.bytes */
    size_t big = 999000;
    char *huge = malloc(big);
    memset(huge, 'h', big);
    produce(IN_SALES, "GB", huge, big, t, "NOT_FRAMED");

    /* value errors */
    e = sale_at(500, Y2100 - 24 * HOUR_MS, id, cust);
    e.draw_id = jp_avro_str("GB-21000306-saturday");
    produce_event(IN_SALES, "GB", &e, Y2100 - 24 * HOUR_MS, "FUTURE_EVENT_TIME");
    e = sale_at(501, t, id, cust);
    memset(huge, 'c', 900000);
    e.customer_id = (jp_avro_str_t){huge, 900000};
    produce_event(IN_SALES, "GB", &e, t, "FIELD_TOO_LONG");
    e = sale_at(502, t, id, cust);
    produce_event(IN_SALES, "NL", &e, t, "KEY_MISMATCH");
    /* Keys as Confluent's Avro serializers write them (a "string" key
     * schema, framed): the country is read from them too. */
    static const char avro_gb[] = {0, 0, 0, 0, 7, 4, 'G', 'B'},
                      avro_nl[] = {0, 0, 0, 0, 7, 4, 'N', 'L'};
    key_len = sizeof(avro_gb);
    e = sale_at(506, t, id, cust);
    produce_event(IN_SALES, avro_gb, &e, t, NULL);
    e = sale_at(507, t, id, cust);
    produce_event(IN_SALES, avro_nl, &e, t, "KEY_MISMATCH");
    key_len = 0;
    e = sale_at(503, INT64_MIN, id, cust);
    produce_event(IN_SALES, "GB", &e, t, "BAD_EVENT_TIME");
    e = sale_at(504, t, id, cust);
    e.event_id = jp_avro_str("");
    produce_event(IN_SALES, "GB", &e, t, "MISSING_FIELD");
    char cid[64];
    jp_customer_event_t c = customer_at(600, t, JP_CUSTOMER_EVENT_UPDATE, cid, "C-0002");
    memset(huge, 'm', 300);
    c.has_email = 1;
    c.email = (jp_avro_str_t){huge, 300};
    produce_event(IN_CUSTOMERS, "GB", &c, t, "FIELD_TOO_LONG");
    draw_result(Y2100, "GB-21000306-saturday", "FUTURE_EVENT_TIME");
    free(huge);

    /* ordinary traffic after the 2100 sale: applied, not LATE */
    for (; n < 30; n++, t += 5 * MIN_MS)
        good_sale(n, t);
    /* a late one, once the watermark moved */
    e = sale_at(505, T0, id, cust);
    produce_event(IN_SALES, "GB", &e, t, "LATE");
    flush();
}

/* The rest: the customer erased, more traffic. */
static void produce_erase(void)
{
    int64_t t = T0 + 3 * HOUR_MS;
    good_customer(700, t, JP_CUSTOMER_EVENT_ERASE, "C-0001");
    for (int n = 30; n < 36; n++, t += 5 * MIN_MS)
        good_sale(n, t);
    flush();
}

static int setup(void **state)
{
    (void)state;
    char err[512];
    memset(&fx, 0, sizeof(fx));
    jp_test_stack_start(&fx.st, "engine-poison", 1);
    jp_test_engine_config(&fx.st, "poison", &fx.cfg);
    fx.topics[IN_SALES] = fx.cfg.topics.sales.name;
    fx.topics[IN_CUSTOMERS] = fx.cfg.topics.customers.name;
    fx.topics[IN_DRAWS] = fx.cfg.topics.draws.name;
    fx.part = jp_partitioner_partition(JP_PARTITIONER_MURMUR2, "GB", 2,
                                       (int)fx.cfg.topics.sales.partitions);
    fx.reg = jp_registry_client_new(jp_devstack_registry_url(fx.st.stack), err, sizeof(err));
    assert_non_null(fx.reg);
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(fx.reg);
    fx.serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(fx.serde);
    /* Writer schemas the registry accepts (under subjects of their own)
     * that no reader of the engine can use. */
    char *rogue = jp_sim_faults_rogue_schema(err, sizeof(err));
    assert_non_null(rogue);
    assert_int_equal(jp_registry_client_register(fx.reg, "poison-rogue-value", rogue, &fx.rogue_id,
                                                 err, sizeof(err)),
                     JP_REGISTRY_OK);
    free(rogue);
    const char *recursive =
        "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":\"lottery.events.v1\","
        "\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"SaleEvent\"]}]}";
    if (jp_registry_client_register(fx.reg, "poison-recursive-value", recursive, &fx.recursive_id,
                                    err, sizeof(err)) != JP_REGISTRY_OK)
        fail_msg("register: %s", err);
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", jp_devstack_bootstraps(fx.st.stack), err,
                      sizeof(err));
    rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(pc, "message.max.bytes", "2000000", err, sizeof(err));
    fx.producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    assert_non_null(fx.producer);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < fx.n_sent; i++)
        free(fx.sent[i].bytes);
    rd_kafka_destroy(fx.producer);
    jp_serde_free(fx.serde);
    jp_registry_client_free(fx.reg);
    jp_config_release(&fx.cfg);
    jp_test_stack_stop(&fx.st);
    return 0;
}

static int64_t count_expect(const char *what)
{
    int64_t n = 0;
    for (size_t i = 0; i < fx.n_sent; i++)
        n += what ? fx.sent[i].expect && strcmp(fx.sent[i].expect, what) == 0
                  : fx.sent[i].expect == NULL;
    return n;
}

static void run_until_consumed(jp_engine_totals_t *out)
{
    jp_test_engine_t *e = jp_test_engine_start(&fx.cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, (int64_t)fx.n_sent, WAIT_MS), 0);
    jp_test_engine_stop(e, out);
}

/* ---- checking the dead-letter topics ------------------------------------------ */

typedef struct {
    const jp_dlq_key_t *key;
    int checked[256];
    char unknown_msg[256];
    int n_unknown;
} dlq_check_t;

static void check_dead_letter(dlq_check_t *c, rd_kafka_message_t *m)
{
    char err[256];
    rd_kafka_headers_t *h;
    assert_int_equal(rd_kafka_message_headers(m, &h), 0);
    jp_dlq_opened_t o;
    const jp_dlq_key_t *keys[] = {c->key};
    if (jp_dlq_open(keys, 1, m->payload, m->len, h, &o, err, sizeof(err)) != 0)
        fail_msg("dead letter at %s [%d] %lld does not open: %s", rd_kafka_topic_name(m->rkt),
                 m->partition, (long long)m->offset, err);
    int input = strcmp(o.topic, fx.topics[IN_SALES]) == 0       ? IN_SALES
                : strcmp(o.topic, fx.topics[IN_CUSTOMERS]) == 0 ? IN_CUSTOMERS
                                                                : IN_DRAWS;
    size_t k = 0;
    while (k < fx.n_sent && !(fx.sent[k].input == input && fx.sent[k].offset == o.offset))
        k++;
    if (k == fx.n_sent)
        fail_msg("a dead letter for %s offset %lld that was not produced", o.topic,
                 (long long)o.offset);
    sent_t *s = &fx.sent[k];
    if (!s->expect || strcmp(s->expect, o.error_class) != 0)
        fail_msg("%s offset %lld dead-lettered as %s (%s), expected %s", o.topic,
                 (long long)o.offset, o.error_class, o.message, s->expect ? s->expect : "applied");
    assert_null(strstr(o.message, "http"));
    assert_null(strstr(o.message, "cached"));
    if (strcmp(o.error_class, "UNKNOWN_SCHEMA_ID") == 0) {
        if (c->n_unknown++)
            assert_string_equal(o.message, c->unknown_msg); /* deterministic */
        snprintf(c->unknown_msg, sizeof(c->unknown_msg), "%s", o.message);
    }
    if (s->len > 990000) {
        assert_non_null(strstr(o.truncated, "value_bytes="));
        assert_true(o.value_len < s->len);
    } else if (s->bytes) {
        assert_string_equal(o.truncated, "");
        assert_int_equal(o.value_len, s->len); /* the original bytes */
        assert_memory_equal(o.value, s->bytes, s->len);
    }
    /* nothing of the value in the clear */
    assert_null(memmem(m->payload, m->len, "SW1A", 4));
    c->checked[k]++;
    jp_dlq_opened_free(&o);
}

/* Calls fn for every record of GB's partition of topic, in offset order
 * (the task's dead letters and changelogs are on its partition). */
static void read_partition(const char *topic, void (*fn)(void *, rd_kafka_message_t *), void *ctx)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", jp_devstack_bootstraps(fx.st.stack), err,
                      sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "poison-reader", err, sizeof(err)); /* never joins */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    int64_t lo, hi;
    assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, fx.part, &lo, &hi, 10000), 0);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, fx.part)->offset = lo;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (int64_t next = lo, idle = 0; next < hi;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m) {
            assert_true(++idle < 60);
            continue;
        }
        if (!m->err && m->offset >= next) {
            fn(ctx, m);
            next = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void on_dead_letter(void *ctx, rd_kafka_message_t *m)
{
    check_dead_letter(ctx, m);
}

static void check_dlq(void)
{
    char err[256];
    dlq_check_t c = {0};
    jp_dlq_key_t *k = jp_dlq_key_new(fx.cfg.dead_letters.key.value, err, sizeof(err));
    assert_non_null(k);
    c.key = k;
    for (int i = 0; i < 3; i++) {
        char dlq[300];
        snprintf(dlq, sizeof(dlq), "%s%s", fx.topics[i], fx.cfg.topics.dlq_suffix);
        read_partition(dlq, on_dead_letter, &c);
    }
    /* every bad record is there (at least once: a rewind may write it again) */
    for (size_t i = 0; i < fx.n_sent; i++) {
        int dead = fx.sent[i].expect && strcmp(fx.sent[i].expect, "DUP") != 0;
        if (dead && !c.checked[i])
            fail_msg("%s offset %lld (%s) is not in the DLQ", fx.topics[fx.sent[i].input],
                     (long long)fx.sent[i].offset, fx.sent[i].expect);
    }
    assert_int_equal(c.n_unknown, 2);
    jp_dlq_key_free(k);
}

/* ---- ERASE -------------------------------------------------------------------------- */

typedef struct {
    const char *key;
    char *out;
    size_t n, size;
} history_t;

static void on_changelog(void *ctx, rd_kafka_message_t *m)
{
    history_t *h = ctx;
    if (m->key_len == strlen(h->key) && memcmp(m->key, h->key, m->key_len) == 0 &&
        h->n + 1 < h->size)
        h->out[h->n++] = m->payload ? 'v' : 't';
}

/* Changelog records of one key in order: 'v' for a value, 't' for a tombstone. */
static void changelog_history(const char *topic, const char *key, char *out, size_t size)
{
    history_t h = {key, out, 0, size};
    read_partition(topic, on_changelog, &h);
    out[h.n] = '\0';
}

static int store_has(const char *state_dir, const char *token)
{
    char err[256], path[700];
    jp_store_env_t *env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 8 << 20, 8 << 20);
    snprintf(path, sizeof(path), "%s/task-%d", state_dir, fx.part);
    jp_store_t *st = jp_store_open(env, path, err, sizeof(err));
    assert_non_null(st);
    const void *v;
    size_t n;
    int r = jp_store_get(st, JP_CF_CUSTOMERS, token, JP_PII_TOKEN_LEN, &v, &n);
    jp_store_close(st);
    jp_store_env_free(env);
    return r == 1;
}

/* ---- the test ------------------------------------------------------------------------ */

static void test_bad_input_set(void **state)
{
    (void)state;
    produce_bad_input();
    jp_engine_totals_t t;
    run_until_consumed(&t);
    assert_int_equal(t.consumed, (int64_t)fx.n_sent);
    assert_int_equal(t.consumed, t.applied + t.dead_lettered + t.duplicates);
    assert_int_equal(t.duplicates, count_expect("DUP"));
    assert_int_equal(t.applied, count_expect(NULL));
    assert_int_equal(t.late, count_expect("LATE"));
    assert_int_equal(t.dead_lettered, (int64_t)fx.n_sent - t.applied - t.duplicates);
    check_dlq();

    /* The customer erased: state gone, a tombstone after its values. */
    char err[256], token[JP_PII_TOKEN_LEN + 1], topic[300];
    jp_pii_t *pii = jp_pii_new(fx.cfg.pii.token_key.value, strlen(fx.cfg.pii.token_key.value));
    assert_non_null(pii);
    jp_pii_token(pii, "customer", "C-0001", 6, token);
    jp_pii_free(pii);
    snprintf(topic, sizeof(topic), "%scustomers-changelog", fx.cfg.topics.changelog_prefix);
    char history[64];
    if (!store_has(fx.cfg.state.dir, token)) {
        /* which side lost it: the changelog (never committed) or the local
         * store (committed, then dropped) */
        changelog_history(topic, token, history, sizeof(history));
        fail_msg("customer C-0001 is not in the local store after %lld commits; its changelog "
                 "history: '%s'",
                 (long long)t.commits, history);
    }
    produce_erase();
    run_until_consumed(&t);
    assert_int_equal(t.consumed, (int64_t)fx.n_sent);
    assert_int_equal(t.consumed, t.applied + t.dead_lettered + t.duplicates);
    assert_false(store_has(fx.cfg.state.dir, token));
    changelog_history(topic, token, history, sizeof(history));
    fprintf(stderr, "changelog of the erased customer: %s\n", history);
    assert_true(strlen(history) >= 2);
    assert_int_equal(history[0], 'v');
    assert_int_equal(history[strlen(history) - 1], 't');
    /* A store rebuilt from the changelog does not bring it back. */
    jp_test_rmtree(fx.cfg.state.dir);
    jp_engine_totals_t restored;
    run_until_consumed(&restored);
    jp_test_assert_totals_equal(&restored, &t);
    assert_false(store_has(fx.cfg.state.dir, token));
    (void)err;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_set),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
