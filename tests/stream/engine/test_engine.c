/*
 * The engine end to end on the embedded stack (mock Kafka cluster, schema
 * registry, real RocksDB): hand-built events with known aggregates and one
 * of each fault go in; the test checks the closed hour windows' features
 * exactly, every fault in the dead-letter topic with its reason and
 * original bytes, conservation per partition, and that a restart from a
 * deleted state directory (a full changelog restore) continues to the same
 * result as an uninterrupted run, and that country reloads take effect
 * however many there are.
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dev/jp_devstack.h"
#include "engine/jp_dlq.h"
#include "engine/jp_engine.h"
#include "base/jp_log.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "jp_test.h"
#include "jp_test_engine.h"
#include "jp_test_features.h"
#include "jp_test_topic.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define HOUR_MS 3600000LL
/* 2026-03-02T00:00:00Z, a Monday. */
#define T0 1772409600000LL

typedef struct {
    char *dir;
    char log_path[600];
    int log_fd;
    jp_config_t cfg;
    jp_devstack_t *stack;
    jp_registry_client_t *reg;
    jp_serde_t *serde;
    rd_kafka_t *producer;
    int produced;
} fixture_t;

static fixture_t fx;

static void produce_raw(const char *topic, const char *key, const void *val, size_t len, int64_t ts)
{
    assert_int_equal(rd_kafka_producev(fx.producer, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_TIMESTAMP(ts),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    fx.produced++;
}

static void produce_event(jp_event_type_t type, const char *topic, const void *ev, int64_t ts)
{
    char err[256];
    jp_avro_buf_t buf = {0};
    assert_int_equal(jp_serde_encode(fx.serde, type, topic, ev, &buf, err, sizeof(err)),
                     JP_SERDE_OK);
    produce_raw(topic, "GB", buf.data, buf.len, ts);
    jp_avro_buf_free(&buf);
}

static void sale(int n, int64_t t, int tickets, const char *currency, const char *country,
                 const char *event_id)
{
    char id[64], cust[32];
    snprintf(id, sizeof(id), "%s", event_id ? event_id : "");
    if (!event_id)
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", n);
    snprintf(cust, sizeof(cust), "C-%04d", n % 7);
    jp_sale_event_t e = {0};
    e.event_id = jp_avro_str(id);
    e.country = jp_avro_str(country);
    e.event_time = t;
    e.customer_id = jp_avro_str(cust);
    e.postcode = jp_avro_str(n % 2 ? "SW1A 1AA" : "EH12 9QX");
    e.channel = n % 3 ? JP_SALE_CHANNEL_DIRECT_DEBIT : JP_SALE_CHANNEL_WEB;
    e.tickets = tickets;
    e.amount_minor = 1225LL * tickets;
    e.currency = jp_avro_str(currency);
    e.draw_id = jp_avro_str("GB-20260307-saturday");
    e.advertised_prize_minor = 100000000;
    produce_event(JP_EVENT_SALE, fx.cfg.topics.sales.name, &e, t);
}

static void customer(int n, int64_t t, jp_customer_event_type_t type)
{
    char id[64], cust[32];
    snprintf(id, sizeof(id), "10000000-0000-4000-8000-%012d", n);
    snprintf(cust, sizeof(cust), "C-%04d", n % 7);
    jp_customer_event_t e = {0};
    e.event_id = jp_avro_str(id);
    e.country = jp_avro_str("GB");
    e.event_time = t;
    e.customer_id = jp_avro_str(cust);
    e.has_email = 1;
    e.email = jp_avro_str("someone@example.org");
    e.postcode = jp_avro_str("SW1A 1AA");
    e.type = type;
    e.subscription_tickets = 2;
    produce_event(JP_EVENT_CUSTOMER, fx.cfg.topics.customers.name, &e, t);
}

/* The expected aggregates of the first two hours, computed while producing. */
typedef struct {
    int64_t tickets, revenue, signups, cancellations;
} expect_t;

static expect_t expected[2];

/* Three hours of GB traffic plus one of each fault. */
static void produce_world(void)
{
    memset(expected, 0, sizeof(expected));
    for (int i = 0; i < 36; i++) { /* a sale every 5 minutes */
        int64_t t = T0 + i * 300000LL;
        int tickets = 1 + i % 3;
        sale(i, t, tickets, "GBP", "GB", NULL);
        if (t < T0 + 2 * HOUR_MS) {
            expected[t >= T0 + HOUR_MS].tickets += tickets;
            expected[t >= T0 + HOUR_MS].revenue += 1225LL * tickets;
        }
        jp_customer_event_type_t type =
            i % 4 == 3 ? JP_CUSTOMER_EVENT_CANCEL : JP_CUSTOMER_EVENT_SIGNUP;
        customer(i, t + 1000, type);
        if (t < T0 + 2 * HOUR_MS) {
            if (type == JP_CUSTOMER_EVENT_SIGNUP)
                expected[t >= T0 + HOUR_MS].signups++;
            else
                expected[t >= T0 + HOUR_MS].cancellations++;
        }
        if (i == 4) /* a duplicate of sale 3, within the allowed lateness */
            sale(3, T0 + 3 * 300000LL, 1 + 3 % 3, "GBP", "GB", NULL);
    }
    /* faults, after the stream reached T0 + 2h55m */
    produce_raw(fx.cfg.topics.sales.name, "GB", "not avro", 8, T0);
    sale(1000, T0 + 10 * 60000, 1, "GBP", "GB", NULL);  /* 2h45m late: LATE */
    sale(1001, T0 + 3 * HOUR_MS, 1, "GBP", "XX", NULL); /* UNKNOWN_COUNTRY */
    sale(1002, T0 + 3 * HOUR_MS, 1, "EUR", "GB", NULL); /* WRONG_CURRENCY */
    assert_int_equal(rd_kafka_flush(fx.producer, 10000), 0);
}

static int setup(void **state)
{
    (void)state;
    char err[512];
    memset(&fx, 0, sizeof(fx));
    fx.dir = jp_test_tmpdir("engine");
    /* Every log line of the engine goes to a file the PII test searches. */
    jp_log_set_level(JP_LOG_DEBUG);
    snprintf(fx.log_path, sizeof(fx.log_path), "%s/engine.log", fx.dir);
    fx.log_fd = open(fx.log_path, O_CREAT | O_WRONLY | O_APPEND, 0600);
    assert_true(fx.log_fd >= 0);
    jp_log_set_fd(getenv("JP_TEST_VERBOSE") ? 2 : fx.log_fd);
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    assert_int_equal(jp_config_load(&conf, "configs/jackpot.yaml", NULL, &fx.cfg), 0);
    jp_conf_destroy(&conf);
    char path[600];
    snprintf(path, sizeof(path), "%s/registry", fx.dir);
    fx.stack = jp_devstack_start(&fx.cfg, 1, 0, "127.0.0.1:0", path, err, sizeof(err));
    if (!fx.stack)
        fail_msg("devstack: %s", err);
    assert_int_equal(jp_devstack_configure(fx.stack, &fx.cfg), 0);
    free(fx.cfg.state.dir);
    snprintf(path, sizeof(path), "%s/state", fx.dir);
    fx.cfg.state.dir = strdup(path);
    fx.cfg.processing.commit_interval_ms = 200;
    /* The mock cluster keeps a stopped member until its session times out;
     * a short session lets the next engine of the test join quickly. */
    assert_int_equal(jp_conf_props_set(&fx.cfg.kafka, "session.timeout.ms", "6000"), 0);
    assert_int_equal(jp_conf_props_set(&fx.cfg.kafka, "heartbeat.interval.ms", "1000"), 0);

    fx.reg = jp_registry_client_new(jp_devstack_registry_url(fx.stack), err, sizeof(err));
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(fx.reg);
    fx.serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(fx.serde);
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", jp_devstack_bootstraps(fx.stack), err, sizeof(err));
    rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof(err));
    /* The partitioning contract (topics.input_partitioner: murmur2):
     * every record is on its country's partition. */
    rd_kafka_conf_set(pc, "partitioner", "murmur2_random", err, sizeof(err));
    fx.producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    assert_non_null(fx.producer);
    produce_world();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_log_set_fd(2);
    close(fx.log_fd);
    rd_kafka_destroy(fx.producer);
    jp_serde_free(fx.serde);
    jp_registry_client_free(fx.reg);
    jp_devstack_stop(fx.stack);
    jp_config_release(&fx.cfg);
    jp_test_rmtree(fx.dir);
    free(fx.dir);
    return 0;
}

/* Runs an engine until it has consumed `want` records (from its state)
 * with no lag, then stops it. Returns its final totals. */
static jp_engine_totals_t run_engine_until(int64_t want)
{
    jp_test_engine_t *t = jp_test_engine_start(&fx.cfg, NULL);
    assert_int_equal(jp_test_engine_wait(t, -1, want, 60000), 0);
    jp_engine_totals_t tot;
    jp_test_engine_stop(t, &tot);
    return tot;
}

typedef struct {
    int n;
    char classes[16][32];
    int64_t features[8][5]; /* start, tickets, revenue, signups, cancellations */
    int n_features;
} seen_t;

/* Reads a whole topic of the stack from the beginning. */
static void read_topic(const char *topic, jp_test_record_fn fn, seen_t *s)
{
    jp_test_read_topic(jp_devstack_bootstraps(fx.stack), topic, fn, s);
}

static void on_dlq(void *ctx, const rd_kafka_message_t *m)
{
    seen_t *s = ctx;
    rd_kafka_headers_t *h;
    const void *v;
    size_t n;
    assert_int_equal(rd_kafka_message_headers(m, &h), 0);
    assert_int_equal(rd_kafka_header_get_last(h, "jp.error.class", &v, &n), 0);
    snprintf(s->classes[s->n], sizeof(s->classes[0]), "%.*s", (int)n, (const char *)v);
    assert_int_equal(rd_kafka_header_get_last(h, "jp.source.topic", &v, &n), 0);
    assert_memory_equal(v, "lottery.sales.v1", n);
    /* Original bytes, unchanged but encrypted (the configured dead-letter
     * key opens them); headers name the error, never values. */
    char err[256];
    jp_dlq_key_t *k = jp_dlq_key_new(fx.cfg.dead_letters.key.value, err, sizeof(err));
    assert_non_null(k);
    const jp_dlq_key_t *keys[] = {k};
    jp_dlq_opened_t o;
    if (jp_dlq_open(keys, 1, m->payload, m->len, h, &o, err, sizeof(err)) != 0)
        fail_msg("dead letter: %s", err);
    assert_null(memmem(m->payload, m->len, "not avro", 8));
    if (strcmp(s->classes[s->n], "NOT_FRAMED") == 0) {
        assert_int_equal(o.value_len, 8);
        assert_memory_equal(o.value, "not avro", 8);
    }
    jp_dlq_opened_free(&o);
    jp_dlq_key_free(k);
    assert_int_equal(rd_kafka_header_get_last(h, "jp.error.message", &v, &n), 0);
    assert_null(memmem(v, n, "SW1A", 4));
    s->n++;
}

static void on_features(void *ctx, const rd_kafka_message_t *m)
{
    seen_t *s = ctx;
    jp_test_features_t fv;
    jp_test_features_decode(fx.serde, m->payload, m->len, &fv);
    if (fv.fv.window_kind == JP_WINDOW_HOUR && s->n_features < 8) {
        int64_t *f = s->features[s->n_features++];
        f[0] = fv.fv.window_start;
        f[1] = fv.fv.tickets;
        f[2] = fv.fv.revenue_minor;
        f[3] = fv.fv.signups;
        f[4] = fv.fv.cancellations;
    }
}

static void check_outputs(void)
{
    seen_t dlq = {0};
    read_topic("lottery.sales.v1.dlq", on_dlq, &dlq);
    assert_int_equal(dlq.n, 4);
    const char *want[] = {"NOT_FRAMED", "LATE", "UNKNOWN_COUNTRY", "WRONG_CURRENCY"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(dlq.classes[i], want[i]);

    seen_t fv = {0};
    read_topic("jackpot.features.v1", on_features, &fv);
    /* Hours 0 and 1 closed (watermark 2h55m - 10m lateness > 2h + 5m grace);
     * hour 2 is still open. A restart may re-emit a window (at least once),
     * with identical content. */
    assert_true(fv.n_features >= 2);
    for (int i = 0; i < fv.n_features; i++) {
        int h = (int)((fv.features[i][0] - T0) / HOUR_MS);
        assert_true(h == 0 || h == 1);
        assert_int_equal(fv.features[i][1], expected[h].tickets);
        assert_int_equal(fv.features[i][2], expected[h].revenue);
        assert_int_equal(fv.features[i][3], expected[h].signups);
        assert_int_equal(fv.features[i][4], expected[h].cancellations);
    }
}

static void test_engine_end_to_end(void **state)
{
    (void)state;
    jp_engine_totals_t t = run_engine_until(fx.produced);
    assert_int_equal(t.consumed, fx.produced);
    /* conservation: consumed = applied + dead-lettered + duplicates */
    assert_int_equal(t.consumed, t.applied + t.dead_lettered + t.duplicates);
    assert_int_equal(t.duplicates, 1);
    assert_int_equal(t.dead_lettered, 4);
    assert_int_equal(t.late, 1);
    check_outputs();
}

/* Delete the state directory: the next engine restores everything from the
 * changelogs, and its counters (part of the state) are exactly those of the
 * uninterrupted run. */
static void test_restore_after_state_loss(void **state)
{
    (void)state;
    jp_engine_totals_t before = run_engine_until(fx.produced);
    jp_test_rmtree(fx.cfg.state.dir);
    jp_engine_totals_t after = run_engine_until(fx.produced);
    assert_int_equal(after.consumed, before.consumed);
    assert_int_equal(after.applied, before.applied);
    assert_int_equal(after.duplicates, before.duplicates);
    assert_int_equal(after.dead_lettered, before.dead_lettered);
    check_outputs();
}

/* The raw personal data this file's producer wrote. */
static const char *const raw_pii[] = {"C-000", "someone@example.org", "SW1A 1AA", "EH12 9QX"};

static void assert_no_pii(const void *buf, size_t len, const char *where)
{
    for (size_t i = 0; buf && i < sizeof(raw_pii) / sizeof(raw_pii[0]); i++)
        if (memmem(buf, len, raw_pii[i], strlen(raw_pii[i])))
            fail_msg("raw PII '%s' found in %s", raw_pii[i], where);
}

static int scan_cb(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    assert_no_pii(key, klen, ctx);
    assert_no_pii(val, vlen, ctx);
    return 0;
}

static void no_pii_in_record(void *ctx, const rd_kafka_message_t *m)
{
    (void)ctx;
    assert_no_pii(m->key, m->key_len, rd_kafka_topic_name(m->rkt));
    assert_no_pii(m->payload, m->len, rd_kafka_topic_name(m->rkt));
    rd_kafka_headers_t *h;
    if (rd_kafka_message_headers(m, &h) == 0) {
        const char *name;
        const void *v;
        size_t n;
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &v, &n) == 0; i++)
            if (strncmp(name, "jp.", 3) == 0) /* the engine's own headers */
                assert_no_pii(v, n, "dead-letter headers");
    }
}

static void no_pii_in_dlq_headers(void *ctx, const rd_kafka_message_t *m)
{
    (void)ctx;
    rd_kafka_headers_t *h;
    const char *name;
    const void *v;
    size_t n;
    assert_int_equal(rd_kafka_message_headers(m, &h), 0);
    for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &v, &n) == 0; i++)
        assert_no_pii(v, n, "dead-letter headers");
}

static void count_raw_pii(void *ctx, const rd_kafka_message_t *m)
{
    seen_t *s = ctx;
    if (memmem(m->payload, m->len, "C-000", 5) && memmem(m->payload, m->len, "SW1A 1AA", 8))
        s->n++;
    else if (memmem(m->payload, m->len, "C-000", 5) && memmem(m->payload, m->len, "EH12 9QX", 8))
        s->n++;
}

/* Customer ids, emails and postcodes never reach state, changelogs,
 * outputs, dead-letter headers or logs: only tokens and sectors do. */
static void test_pii_never_leaves_the_input(void **state)
{
    (void)state;
    char err[512], path[700];
    run_engine_until(fx.produced);
    /* state: every store, every column family */
    jp_store_env_t *env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 8 << 20, 8 << 20);
    int stores = 0;
    for (int p = 0; p < 6; p++) {
        snprintf(path, sizeof(path), "%s/task-%d", fx.cfg.state.dir, p);
        if (access(path, F_OK) != 0)
            continue;
        jp_store_t *st = jp_store_open(env, path, err, sizeof(err));
        assert_non_null(st);
        for (int cf = 0; cf < JP_CF__COUNT; cf++)
            jp_store_scan(st, (jp_cf_t)cf, NULL, 0, scan_cb, "state");
        jp_store_close(st);
        stores++;
    }
    jp_store_env_free(env);
    assert_true(stores > 0);
    /* changelogs and outputs */
    static const char *const topics[] = {"jackpot.meta-changelog", "jackpot.windows-changelog",
                                         "jackpot.customers-changelog", "jackpot.dedupe-changelog",
                                         "jackpot.features.v1"};
    seen_t s = {0};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        read_topic(topics[i], no_pii_in_record, &s);
    read_topic("lottery.sales.v1.dlq", no_pii_in_dlq_headers, &s);
    /* logs (at debug level) */
    size_t len;
    char *log = jp_test_read_file(fx.log_path, &len);
    assert_non_null(log);
    assert_no_pii(log, len, "logs");
    free(log);
    /* ... while the input does carry them, so the search can find them. */
    seen_t in = {0};
    read_topic("lottery.sales.v1", count_raw_pii, &in);
    assert_true(in.n > 30);
}

/* A copy of fx.cfg whose GB sells in `currency` (the countries array is
 * the copy's own; everything else is shared with fx.cfg). */
static jp_config_t gb_selling_in(char *currency)
{
    jp_config_t c = fx.cfg;
    c.country = malloc(c.n_countries * sizeof(*c.country));
    assert_non_null(c.country);
    memcpy(c.country, fx.cfg.country, c.n_countries * sizeof(*c.country));
    for (size_t i = 0; i < c.n_countries; i++)
        if (strcmp(c.country[i].code, "GB") == 0)
            c.country[i].currency = currency;
    return c;
}

static void wait_commits_after(jp_engine_t *e, int64_t n)
{
    jp_engine_totals_t t;
    for (int i = 0; i < 600; i++) {
        jp_engine_totals(e, &t);
        if (t.commits >= n)
            return;
        usleep(50000);
    }
    fail_msg("no commit after a reload (%lld commits)", (long long)t.commits);
}

/* Every reload is applied at a following commit, the 17th and later too
 * (the engine kept replaced validators and ignored reloads beyond 16).
 * The reloads alternate GB's currency; the last one, an odd 21st, makes
 * GB sell in EUR: a GBP sale is then dead-lettered, two EUR sales applied
 * (with GBP still in force it would be the other way round).
 * Runs last: it adds a dead letter the other tests do not expect. */
static void test_reloads_beyond_sixteen_apply(void **state)
{
    (void)state;
    char err[512], eur[] = "EUR", gbp[] = "GBP";
    jp_config_t alt[2] = {gb_selling_in(gbp), gb_selling_in(eur)};
    jp_test_engine_t *run = jp_test_engine_start(&fx.cfg, NULL);
    jp_engine_t *e = jp_test_engine_handle(run);
    assert_int_equal(jp_test_engine_wait(run, -1, fx.produced, 60000), 0);
    jp_engine_totals_t before, t;
    jp_engine_totals(e, &before);
    for (int k = 1; k <= 21; k++) {
        assert_int_equal(jp_engine_reload_countries(e, &alt[k % 2], err, sizeof(err)), 0);
        jp_engine_totals(e, &t);
        wait_commits_after(e, t.commits + 2); /* one began after the request */
    }
    int64_t at = T0 + 3 * HOUR_MS;
    sale(3000, at, 1, "GBP", "GB", NULL);
    sale(3001, at, 1, "EUR", "GB", NULL);
    sale(3002, at, 1, "EUR", "GB", NULL);
    assert_int_equal(rd_kafka_flush(fx.producer, 10000), 0);
    assert_int_equal(jp_test_engine_wait(run, -1, fx.produced, 60000), 0);
    jp_test_engine_stop(run, &t);
    free(alt[0].country);
    free(alt[1].country);
    assert_int_equal(t.consumed, before.consumed + 3);
    assert_int_equal(t.dead_lettered, before.dead_lettered + 1); /* GBP: WRONG_CURRENCY */
    assert_int_equal(t.applied, before.applied + 2);             /* EUR */
    seen_t dlq = {0};
    read_topic("lottery.sales.v1.dlq", on_dlq, &dlq);
    assert_string_equal(dlq.classes[dlq.n - 1], "WRONG_CURRENCY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_end_to_end),
        cmocka_unit_test(test_restore_after_state_loss),
        cmocka_unit_test(test_pii_never_leaves_the_input),
        cmocka_unit_test(test_reloads_beyond_sixteen_apply),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
