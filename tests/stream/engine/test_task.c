/*
 * jp_task alone, through its I/O hook (jp_task_io_t), with no broker: a
 * real RocksDB store in a temporary directory, an in-memory schema
 * registry, the configured countries and their validator. Records are
 * built and Avro-encoded here, handed to the task one by one (or in a
 * batch), and what the task asks of the engine - features, dead letters,
 * counts - is recorded and checked. This specifies the processing rules
 * of jp_task.h and jp_validate.h:
 *   - window assignment: each record lands in the hour (and day) window of
 *     its event time; a window closes once the watermarks of every input
 *     that feeds it passed its end + grace, and its FeatureVector is then
 *     emitted exactly once, with the window's exact content;
 *   - lateness: a record older than the partition's watermark minus grace
 *     is LATE (dead-lettered, counted); one within grace is applied;
 *   - deduplication: an event id seen within the horizon is a duplicate,
 *     per input, also after the task is closed and reopened; one older
 *     than the horizon counts as new;
 *   - dead letters: every rejected record reaches the hook with its
 *     reason and its original bytes, and messages name fields, not values;
 *   - conservation: for every input, consumed = applied + dead_lettered +
 *     duplicates, checked after every test against the results returned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/jp_calendar.h"
#include "engine/jp_task.h"
#include "sim/jp_sim_memreg.h"
#include "jp_test.h"
#include "jp_test_features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL
/* 2026-03-02T00:00:00Z, a Monday. */
#define T0             1772409600000LL
#define FEATURES_TOPIC "jackpot.features.test"

/* A closed window's FeatureVector, as the features hook received it. */
typedef struct {
    char key[3];
    jp_feature_vector_t fv; /* its numbers (jp_test_features_t) */
    uint8_t *bytes;         /* the framed record */
    size_t len;
} feature_t;

/* A dead letter, as the hook received it. */
typedef struct {
    jp_input_t input;
    int64_t offset;
    char cls[32];
    char message[160];
    uint8_t *value; /* copy of the record's bytes */
    size_t len;
} dead_t;

typedef struct {
    jp_config_t cfg;
    jp_validator_t *validator;
    jp_pii_t *pii;
    jp_store_env_t *store_env;
    jp_sim_memreg_t *reg;
    jp_serde_t *serde;  /* the task's */
    jp_serde_t *writer; /* encodes the test's records */
    jp_task_env_t env;
    char *dir;
    jp_task_t *t;
    const jp_calendar_t *gb;
    int64_t next_offset[JP_INPUT__COUNT];
    /* what the task returned, per input */
    int64_t results[JP_INPUT__COUNT][JP_TASK_FAILED + 1];
    /* what the task asked of its I/O */
    feature_t features[64];
    size_t n_features;
    dead_t dead[64];
    size_t n_dead;
    int corrected[JP_FIX__COUNT];
    int closed_by_callback;
    const char *key; /* the records' key; "GB" when NULL */
} fx_t;

/* ---- the I/O hook -------------------------------------------------------- */

static int io_features(void *ctx, int partition, const char *key, const void *value, size_t len)
{
    fx_t *f = ctx;
    assert_int_equal(partition, 0);
    assert_true(f->n_features < sizeof(f->features) / sizeof(f->features[0]));
    feature_t *x = &f->features[f->n_features++];
    memset(x, 0, sizeof(*x));
    memcpy(x->key, key, 2);
    x->bytes = malloc(len);
    assert_non_null(x->bytes);
    memcpy(x->bytes, value, len);
    x->len = len;
    jp_test_features_t d;
    jp_test_features_decode(f->writer, value, len, &d);
    assert_string_equal(d.country, x->key);
    x->fv = d.fv;
    return 0;
}

static int io_dead_letter(void *ctx, int partition, const jp_task_record_t *rec,
                          const char *error_class, const char *message)
{
    fx_t *f = ctx;
    assert_int_equal(partition, 0);
    assert_true(f->n_dead < sizeof(f->dead) / sizeof(f->dead[0]));
    dead_t *d = &f->dead[f->n_dead++];
    d->input = rec->input;
    d->offset = rec->offset;
    snprintf(d->cls, sizeof(d->cls), "%s", error_class);
    snprintf(d->message, sizeof(d->message), "%s", message);
    d->value = malloc(rec->value_len ? rec->value_len : 1);
    assert_non_null(d->value);
    memcpy(d->value, rec->value, rec->value_len);
    d->len = rec->value_len;
    return 0;
}

static void io_count(void *ctx, jp_input_t input, const char *what, const char *reason)
{
    fx_t *f = ctx;
    (void)input;
    for (int k = 0; strcmp(what, "corrected") == 0 && k < JP_FIX__COUNT; k++)
        f->corrected[k] += strcmp(reason, jp_fix_name((jp_fix_t)k)) == 0;
}

static void on_close(void *ctx, const jp_window_t *w, const jp_feature_vector_t *fv)
{
    fx_t *f = ctx;
    /* after the features were emitted, with the same content */
    const feature_t *x = &f->features[f->n_features - 1];
    assert_int_equal(w->start_ms, x->fv.window_start);
    assert_int_equal(w->tickets, x->fv.tickets);
    assert_int_equal(fv->tickets, x->fv.tickets);
    f->closed_by_callback++;
}

/* ---- fixture ------------------------------------------------------------- */

static void open_task(fx_t *f)
{
    char err[512];
    f->t = jp_task_open(&f->env, f->serde, 0, f->dir, err, sizeof(err));
    if (!f->t)
        fail_msg("task: %s", err);
}

static int setup(void **state)
{
    char err[512];
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    assert_int_equal(jp_config_load(&conf, "configs/jackpot.yaml", NULL, &f->cfg), 0);
    jp_conf_destroy(&conf);
    /* The rules as the tests state them, whatever the shipped defaults. */
    f->cfg.windows.allowed_lateness_ms = 10 * MIN_MS;
    f->cfg.windows.grace_ms = 5 * MIN_MS;
    f->cfg.processing.dedupe_horizon_ms = 7 * DAY_MS;
    f->cfg.processing.max_clock_skew_ms = 5 * MIN_MS;
    f->validator = jp_validator_new(&f->cfg, err, sizeof(err));
    assert_non_null(f->validator);
    assert_non_null(jp_validator_country(f->validator, "GB", &f->gb));
    static const char key[] = "test-task-pii-key-0123456789";
    f->pii = jp_pii_new(key, strlen(key));
    f->store_env = jp_store_env_new(jp_task_store_cfs, JP_CF__COUNT, 8u << 20, 16u << 20);
    f->reg = jp_sim_memreg_new();
    jp_serde_config_t sc = {0};
    sc.registry = jp_sim_memreg_registry(f->reg);
    sc.flags = JP_AVRO_PLAN_COPY_STRINGS; /* as the engine: dead letters keep their bytes */
    f->serde = jp_serde_new(&sc, err, sizeof(err));
    f->writer = jp_serde_new(&sc, err, sizeof(err));
    assert_true(f->pii && f->store_env && f->serde && f->writer);
    f->env.cfg = &f->cfg;
    f->env.validator = f->validator;
    f->env.pii = f->pii;
    f->env.store_env = f->store_env;
    f->env.features_topic = FEATURES_TOPIC;
    f->env.io = (jp_task_io_t){
        .ctx = f, .features = io_features, .dead_letter = io_dead_letter, .count = io_count};
    f->env.on_close[0] = on_close;
    f->env.on_close_ctx[0] = f;
    f->env.n_on_close = 1;
    f->dir = jp_test_tmpdir("task");
    open_task(f);
    *state = f;
    return 0;
}

/* After every test: the task's counters agree with what it returned, and
 * consumed = applied + dead_lettered + duplicates, per input. */
static void check_conservation(fx_t *f)
{
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        jp_task_counts_t c;
        jp_task_counts(f->t, (jp_input_t)i, &c);
        const int64_t *r = f->results[i];
        assert_int_equal(c.applied, r[JP_TASK_APPLIED]);
        assert_int_equal(c.dead_lettered, r[JP_TASK_DEAD_LETTERED]);
        assert_int_equal(c.duplicates, r[JP_TASK_DUPLICATE]);
        assert_int_equal(c.consumed, c.applied + c.dead_lettered + c.duplicates);
        int64_t dead = 0;
        for (size_t k = 0; k < f->n_dead; k++)
            dead += f->dead[k].input == (jp_input_t)i;
        assert_int_equal(dead, c.dead_lettered);
    }
}

static int teardown(void **state)
{
    fx_t *f = *state;
    check_conservation(f);
    jp_task_close(f->t);
    for (size_t i = 0; i < f->n_features; i++)
        free(f->features[i].bytes);
    for (size_t i = 0; i < f->n_dead; i++)
        free(f->dead[i].value);
    jp_serde_free(f->serde);
    jp_serde_free(f->writer);
    jp_sim_memreg_free(f->reg);
    jp_store_env_free(f->store_env);
    jp_pii_free(f->pii);
    jp_validator_free(f->validator);
    jp_config_release(&f->cfg);
    jp_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- records ------------------------------------------------------------- */

/* Hands one record (value: len bytes, timestamp ts) of input in at the
 * input's next offset to the task; returns its result. */
static jp_task_result_t feed_raw(fx_t *f, jp_input_t in, const void *value, size_t len, int64_t ts)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, value, len);
    const char *key = f->key ? f->key : "GB";
    jp_task_record_t rec = {in, f->next_offset[in]++, ts, key, strlen(key), copy, len, NULL, 0, 0,
                            0};
    jp_task_result_t r = jp_task_process(f->t, &rec);
    f->results[in][r]++;
    free(copy);
    return r;
}

/* Encodes ev (of input in) as the producers do, framed, into buf. */
static void encode(fx_t *f, jp_input_t in, const void *ev, jp_avro_buf_t *buf)
{
    static const char *const topics[] = {"lottery.sales.v1", "lottery.customers.v1",
                                         "lottery.draws.v1"};
    char err[256];
    buf->len = 0;
    assert_int_equal(
        jp_serde_encode(f->writer, JP_EVENT_SALE + (int)in, topics[in], ev, buf, err, sizeof(err)),
        JP_SERDE_OK);
}

/* Encodes ev and hands it over with timestamp ts. */
static jp_task_result_t feed_at(fx_t *f, jp_input_t in, const void *ev, int64_t ts)
{
    jp_avro_buf_t buf = {0};
    encode(f, in, ev, &buf);
    jp_task_result_t r = feed_raw(f, in, buf.data, buf.len, ts);
    jp_avro_buf_free(&buf);
    return r;
}

/* A valid GB sale: id, event time t (also the record's timestamp), tickets
 * at 12.25 GBP, for the next headline draw. The strings live in *s. */
typedef struct {
    char id[40], draw[48];
    jp_sale_event_t e;
} sale_t;

static jp_sale_event_t *gb_sale(fx_t *f, sale_t *s, const char *id, int64_t t, int tickets)
{
    jp_draw_t d;
    assert_int_equal(jp_calendar_next_draw(f->gb, t, 1, &d), 0);
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->draw, sizeof(s->draw), "%s", d.id);
    memset(&s->e, 0, sizeof(s->e));
    s->e.event_id = jp_avro_str(s->id);
    s->e.country = jp_avro_str("GB");
    s->e.event_time = t;
    s->e.customer_id = jp_avro_str("C-0001");
    s->e.postcode = jp_avro_str("SW1A 1AA");
    s->e.channel = JP_SALE_CHANNEL_DIRECT_DEBIT;
    s->e.tickets = tickets;
    s->e.amount_minor = 1225LL * tickets;
    s->e.currency = jp_avro_str("GBP");
    s->e.draw_id = jp_avro_str(s->draw);
    s->e.advertised_prize_minor = 100000000;
    return &s->e;
}

static jp_task_result_t sale(fx_t *f, const char *id, int64_t t, int tickets)
{
    sale_t s;
    return feed_at(f, JP_INPUT_SALES, gb_sale(f, &s, id, t, tickets), t);
}

static jp_task_result_t customer(fx_t *f, const char *id, int64_t t, jp_customer_event_type_t type)
{
    jp_customer_event_t e = {0};
    e.event_id = jp_avro_str(id);
    e.country = jp_avro_str("GB");
    e.event_time = t;
    e.customer_id = jp_avro_str("C-0002");
    e.postcode = jp_avro_str("EH12 9QX");
    e.type = type;
    e.subscription_tickets = 2;
    return feed_at(f, JP_INPUT_CUSTOMERS, &e, t);
}

static const feature_t *only_feature(const fx_t *f, jp_window_kind_t kind)
{
    const feature_t *x = NULL;
    for (size_t i = 0; i < f->n_features; i++)
        if (f->features[i].fv.window_kind == kind) {
            assert_null(x); /* exactly once */
            x = &f->features[i];
        }
    return x;
}

/* ---- tests --------------------------------------------------------------- */

/* Records land in the hour window of their event time; the hour closes
 * when both sales and customers watermarks pass its end + grace, and its
 * features are emitted once with exactly its content. */
static void test_windows_assign_close_and_emit(void **state)
{
    fx_t *f = *state;
    assert_int_equal(sale(f, "s1", T0 + 10 * MIN_MS, 2), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "s2", T0 + 50 * MIN_MS, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "s3", T0 + 70 * MIN_MS, 3), JP_TASK_APPLIED); /* hour 1 */
    assert_int_equal(customer(f, "c1", T0 + 5 * MIN_MS, JP_CUSTOMER_EVENT_SIGNUP), JP_TASK_APPLIED);
    assert_int_equal(customer(f, "c2", T0 + 20 * MIN_MS, JP_CUSTOMER_EVENT_CANCEL),
                     JP_TASK_APPLIED);
    /* Sales watermark T0 + 1h15m - 10m: short of hour 0's end + grace. */
    assert_int_equal(sale(f, "s4", T0 + 75 * MIN_MS, 1), JP_TASK_APPLIED);
    assert_int_equal(f->n_features, 0);
    /* Sales alone past T0 + 1h05m: the customers input still holds it. */
    assert_int_equal(sale(f, "s5", T0 + 80 * MIN_MS, 1), JP_TASK_APPLIED);
    assert_int_equal(f->n_features, 0);
    /* Customers at T0 + 1h15m: watermark T0 + 1h05m = end + grace. */
    assert_int_equal(customer(f, "c3", T0 + 75 * MIN_MS, JP_CUSTOMER_EVENT_SIGNUP),
                     JP_TASK_APPLIED);
    assert_int_equal(f->n_features, 1);
    const feature_t *h = only_feature(f, JP_WINDOW_HOUR);
    assert_non_null(h);
    assert_string_equal(h->key, "GB");
    assert_int_equal(h->fv.window_start, T0);
    assert_int_equal(h->fv.window_end, T0 + HOUR_MS);
    assert_int_equal(h->fv.tickets, 3);
    assert_int_equal(h->fv.revenue_minor, 3 * 1225);
    assert_int_equal(h->fv.extra_tickets, 0); /* direct debit: subscriptions */
    assert_int_equal(h->fv.signups, 1);
    assert_int_equal(h->fv.cancellations, 1);
    assert_int_equal(h->fv.active_subscribers, 0); /* + 1 - 1, from 0 */
    assert_int_equal(h->fv.unique_players, 1);     /* one customer token */
    assert_int_equal(f->closed_by_callback, 1);
    /* The last closed window, as the admin endpoint shows it. */
    const char *last = jp_task_last_features(f->t, "GB", JP_WINDOW_HOUR);
    assert_non_null(last);
    assert_non_null(strstr(last, "\"tickets\":3"));
    assert_null(jp_task_last_features(f->t, "GB", JP_WINDOW_DAY));
    /* Hour 1 is still open: a record in it is applied, and the window
     * closes with it when the watermarks move on. */
    assert_int_equal(sale(f, "s6", T0 + 119 * MIN_MS, 4), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "s7", T0 + 135 * MIN_MS, 1), JP_TASK_APPLIED);
    assert_int_equal(customer(f, "c4", T0 + 135 * MIN_MS, JP_CUSTOMER_EVENT_SIGNUP),
                     JP_TASK_APPLIED);
    assert_int_equal(f->n_features, 2);
    assert_int_equal(f->features[1].fv.window_start, T0 + HOUR_MS);
    assert_int_equal(f->features[1].fv.tickets, 3 + 1 + 1 + 4);
    assert_int_equal(f->features[1].fv.active_subscribers,
                     1); /* carried from hour 0, + 1 sign-up */
}

/* LATE is judged against the partition's own watermark minus grace:
 * exactly at max event time - lateness - grace is still applied, one
 * millisecond earlier is dead-lettered and counted late. */
static void test_late_versus_grace(void **state)
{
    fx_t *f = *state;
    int64_t max = T0 + 3 * HOUR_MS;
    assert_int_equal(sale(f, "newest", max, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "in-grace", max - 15 * MIN_MS, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "late", max - 15 * MIN_MS - 1, 1), JP_TASK_DEAD_LETTERED);
    assert_int_equal(f->n_dead, 1);
    assert_string_equal(f->dead[0].cls, "LATE");
    /* Other inputs have watermarks of their own: a customer event that
     * old is the customers input's first record, so it is on time. */
    assert_int_equal(customer(f, "c-old", max - 2 * HOUR_MS, JP_CUSTOMER_EVENT_SIGNUP),
                     JP_TASK_APPLIED);
    jp_task_counts_t c;
    jp_task_counts(f->t, JP_INPUT_SALES, &c);
    assert_int_equal(c.late, 1);
    assert_int_equal(jp_task_watermark(f->t, JP_INPUT_SALES), max - 10 * MIN_MS);
}

/* The changelog side of a commit (the engine's): nothing to produce here. */
static int no_changelog(void *ctx, int cf, const void *key, size_t klen, const void *val,
                        size_t vlen)
{
    (void)ctx, (void)cf, (void)key, (void)klen, (void)val, (void)vlen;
    return 0;
}

/* An event id seen within the horizon is a duplicate on the same input,
 * across a close and reopen of the task too; the same id on another input
 * is not; an id whose first sighting fell out of the horizon is new. */
static void test_dedupe_within_horizon(void **state)
{
    fx_t *f = *state;
    assert_int_equal(sale(f, "id-1", T0 + 10 * MIN_MS, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "id-1", T0 + 10 * MIN_MS, 1), JP_TASK_DUPLICATE);
    assert_int_equal(sale(f, "id-1", T0 + 12 * MIN_MS, 1), JP_TASK_DUPLICATE); /* same id */
    assert_int_equal(customer(f, "id-1", T0 + 10 * MIN_MS, JP_CUSTOMER_EVENT_SIGNUP),
                     JP_TASK_APPLIED);
    /* committed, closed, reopened: the set comes back from the store */
    char err[256];
    int64_t none[JP_CF__COUNT];
    for (int i = 0; i < JP_CF__COUNT; i++)
        none[i] = -1;
    assert_int_equal(jp_task_prepare_commit(f->t, no_changelog, NULL, err, sizeof(err)), 0);
    assert_int_equal(jp_task_finish_commit(f->t, none, err, sizeof(err)), 0);
    jp_task_close(f->t);
    open_task(f);
    assert_int_equal(jp_task_next_offset(f->t, JP_INPUT_SALES), 3);
    assert_int_equal(sale(f, "id-1", T0 + 20 * MIN_MS, 1), JP_TASK_DUPLICATE);
    /* Eight days on, the first sighting is older than the horizon. */
    int64_t later = T0 + 8 * DAY_MS;
    assert_int_equal(sale(f, "id-2", later, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "id-1", later, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "id-1", later, 1), JP_TASK_DUPLICATE);
    jp_task_counts_t c;
    jp_task_counts(f->t, JP_INPUT_SALES, &c);
    assert_int_equal(c.duplicates, 4);
}

static void expect_dead(const fx_t *f, size_t k, jp_input_t in, const char *cls, const void *bytes,
                        size_t len)
{
    assert_true(k < f->n_dead);
    const dead_t *d = &f->dead[k];
    assert_int_equal(d->input, in);
    assert_string_equal(d->cls, cls);
    assert_int_equal(d->len, len); /* the original record, byte for byte */
    assert_memory_equal(d->value, bytes, len);
    assert_true(strlen(d->message) > 0);
}

/* Sale e, encoded, is dead-lettered as cls with its bytes; its message
 * does not carry the offending value. */
static void expect_rejected(fx_t *f, jp_sale_event_t *e, int64_t ts, const char *cls,
                            const char *value)
{
    jp_avro_buf_t buf = {0};
    encode(f, JP_INPUT_SALES, e, &buf);
    size_t k = f->n_dead;
    assert_int_equal(feed_raw(f, JP_INPUT_SALES, buf.data, buf.len, ts), JP_TASK_DEAD_LETTERED);
    expect_dead(f, k, JP_INPUT_SALES, cls, buf.data, buf.len);
    if (value)
        assert_null(strstr(f->dead[k].message, value));
    jp_avro_buf_free(&buf);
}

/* Every kind of rejection reaches the hook with its reason and the
 * original bytes; case fixes are applied and counted instead. */
static void test_dead_letter_reasons(void **state)
{
    fx_t *f = *state;
    int64_t t = T0 + 30 * MIN_MS;
    static const uint8_t not_avro[] = "not avro";
    assert_int_equal(feed_raw(f, JP_INPUT_SALES, not_avro, 8, t), JP_TASK_DEAD_LETTERED);
    expect_dead(f, 0, JP_INPUT_SALES, "NOT_FRAMED", not_avro, 8);
    static const uint8_t unknown_id[] = {0, 0, 0, 0x27, 0x0f, 2, 'x'}; /* schema id 9999 */
    assert_int_equal(feed_raw(f, JP_INPUT_SALES, unknown_id, sizeof(unknown_id), t),
                     JP_TASK_DEAD_LETTERED);
    expect_dead(f, 1, JP_INPUT_SALES, "UNKNOWN_SCHEMA_ID", unknown_id, sizeof(unknown_id));

    sale_t s;
    jp_sale_event_t *e = gb_sale(f, &s, "r1", t, 1);
    e->country = jp_avro_str("XX");
    expect_rejected(f, e, t, "UNKNOWN_COUNTRY", "XX");
    e = gb_sale(f, &s, "r2", t, 1);
    e->currency = jp_avro_str("EUR");
    expect_rejected(f, e, t, "WRONG_CURRENCY", "EUR");
    e = gb_sale(f, &s, "r3", t, 1);
    e->postcode = jp_avro_str("NOT A POSTCODE");
    expect_rejected(f, e, t, "BAD_POSTCODE", "NOT A POSTCODE");
    e = gb_sale(f, &s, "r4", t, 0);
    expect_rejected(f, e, t, "OUT_OF_RANGE", NULL);
    e = gb_sale(f, &s, "r5", t, 1);
    e->draw_id = jp_avro_str("GB-20250301-saturday"); /* a year before the sale */
    expect_rejected(f, e, t, "BAD_DRAW_ID", NULL);
    e = gb_sale(f, &s, "r6", t, 1);
    expect_rejected(f, e, t - 6 * MIN_MS, "FUTURE_EVENT_TIME", NULL); /* skew 5m */

    /* Case fixes: applied, and counted by kind. */
    e = gb_sale(f, &s, "r7", t, 1);
    e->country = jp_avro_str("gb");
    e->currency = jp_avro_str("gbp");
    assert_int_equal(feed_at(f, JP_INPUT_SALES, e, t), JP_TASK_APPLIED);
    assert_int_equal(f->corrected[JP_FIX_COUNTRY_CASE], 1);
    assert_int_equal(f->corrected[JP_FIX_CURRENCY_CASE], 1);

    /* The customers input has rules of its own. */
    jp_customer_event_t c = {0};
    c.event_id = jp_avro_str("r8");
    c.country = jp_avro_str("GB");
    c.event_time = t;
    c.customer_id = jp_avro_str("");
    c.postcode = jp_avro_str("SW1A 1AA");
    c.type = JP_CUSTOMER_EVENT_SIGNUP;
    assert_int_equal(feed_at(f, JP_INPUT_CUSTOMERS, &c, t), JP_TASK_DEAD_LETTERED);
    assert_string_equal(f->dead[f->n_dead - 1].cls, "MISSING_FIELD");
    assert_int_equal(f->dead[f->n_dead - 1].input, JP_INPUT_CUSTOMERS);
    assert_int_equal(f->n_dead, 9);
}

/* An offset below the task's position was processed already: skipped,
 * counted nowhere (the engine re-reads after a rewind). */
static void test_processed_offsets_are_skipped(void **state)
{
    fx_t *f = *state;
    assert_int_equal(sale(f, "a", T0, 1), JP_TASK_APPLIED);
    assert_int_equal(sale(f, "b", T0, 1), JP_TASK_APPLIED);
    f->next_offset[JP_INPUT_SALES] = 1;
    assert_int_equal(sale(f, "b", T0, 1), JP_TASK_SKIPPED);
    assert_int_equal(sale(f, "c", T0, 1), JP_TASK_APPLIED); /* offset 2: new */
    assert_int_equal(jp_task_next_offset(f->t, JP_INPUT_SALES), 3);
}

/* A draws partition counts as complete up to just before the next
 * scheduled draw of every country that may reach the task (here every
 * configured one: nothing checks the partitioning), once each has had a
 * draw (each country's last draw before a day, in time order: after the
 * last of them, the earliest next one lies ahead of every draw applied). Until then its watermark
 * is the newest draw applied minus the lateness - it moves draw by draw, it does not wait for a
 * country with no draw (this fixture checks none: jp_task_env_t.partition is empty). */
static void test_draws_watermark_waits_for_every_country(void **state)
{
    fx_t *f = *state;
    const size_t n = f->cfg.n_countries;
    assert_true(n >= 2 && n <= 8);
    jp_draw_t d[8] = {0};
    const jp_calendar_t *cal[8];
    size_t order[8];
    int64_t next_after = INT64_MAX; /* the earliest next draw once all drew */
    for (size_t c = 0; c < n; c++) {
        assert_non_null(jp_validator_country(f->validator, f->cfg.country[c].code, &cal[c]));
        /* its last draw before T0 + 40 days (at least one: monthly) */
        const int64_t until = T0 + 40 * DAY_MS;
        jp_draw_t x;
        for (int64_t t = T0; jp_calendar_next_draw(cal[c], t, 0, &x) == 0 && x.time_ms < until;
             t = x.time_ms)
            d[c] = x;
        assert_true(d[c].time_ms > T0);
        order[c] = c;
    }
    for (size_t i = 1; i < n; i++) /* by draw time */
        for (size_t j = i; j > 0 && d[order[j]].time_ms < d[order[j - 1]].time_ms; j--) {
            size_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        size_t c = order[i];
        jp_draw_result_t e = {0};
        e.country = jp_avro_str(f->cfg.country[c].code);
        e.draw_id = jp_avro_str(d[c].id);
        e.draw_time = d[c].time_ms;
        e.headline_prize_minor = 100000000;
        e.prize_kind = JP_PRIZE_KIND_SHARED;
        e.winning_sector = jp_avro_str("SW1A 1");
        f->key = f->cfg.country[c].code;
        assert_int_equal(feed_at(f, JP_INPUT_DRAWS, &e, d[c].time_ms), JP_TASK_APPLIED);
        newest = d[c].time_ms > newest ? d[c].time_ms : newest;
        jp_draw_t after;
        assert_int_equal(jp_calendar_next_draw(cal[c], d[c].time_ms, 0, &after), 0);
        next_after = after.time_ms < next_after ? after.time_ms : next_after;
        int64_t want = i + 1 < n ? newest : next_after - 1;
        assert_int_equal(jp_task_watermark(f->t, JP_INPUT_DRAWS), want - 10 * MIN_MS);
    }
    assert_true(next_after - 1 > newest); /* the last draw moved it ahead */
}

/* A batch is processed exactly as its records one by one: the same
 * results, the same features byte for byte (a second task, in a directory
 * of its own, takes the records in one batch). */
static void test_batch_equals_one_by_one(void **state)
{
    fx_t *f = *state;
    enum { N = 40 };
    sale_t s[N];
    jp_avro_buf_t buf[N], cbuf = {0};
    jp_task_record_t recs[N];
    jp_task_result_t one[N], batch[N];
    jp_customer_event_t c = {0};
    c.event_id = jp_avro_str("c");
    c.country = jp_avro_str("GB");
    c.event_time = T0 + 4 * HOUR_MS;
    c.customer_id = jp_avro_str("C-0003");
    c.postcode = jp_avro_str("SW1A 1AA");
    c.type = JP_CUSTOMER_EVENT_SIGNUP;
    encode(f, JP_INPUT_CUSTOMERS, &c, &cbuf);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "b%d", i % 35); /* five duplicates */
        int64_t t = T0 + i * 5 * MIN_MS;
        memset(&buf[i], 0, sizeof(buf[i]));
        encode(f, JP_INPUT_SALES, gb_sale(f, &s[i], id, t, 1 + i % 3), &buf[i]);
        recs[i] = (jp_task_record_t){JP_INPUT_SALES, i,    t, "GB", 2, buf[i].data,
                                     buf[i].len,     NULL, 0, 0,    0};
    }
    assert_int_equal(feed_raw(f, JP_INPUT_CUSTOMERS, cbuf.data, cbuf.len, c.event_time),
                     JP_TASK_APPLIED);
    for (int i = 0; i < N; i++)
        one[i] = feed_raw(f, JP_INPUT_SALES, buf[i].data, buf[i].len, recs[i].timestamp_ms);
    size_t n_one = f->n_features;
    /* The newest sale applied is at 2h50m (the last five are duplicates):
     * watermark 2h40m closes hours 0 and 1. */
    assert_int_equal(n_one, 2);

    char err[512], *dir = jp_test_tmpdir("task-batch");
    jp_task_t *t = jp_task_open(&f->env, f->serde, 0, dir, err, sizeof(err));
    assert_non_null(t);
    jp_task_record_t crec = {
        JP_INPUT_CUSTOMERS, 0, c.event_time, "GB", 2, cbuf.data, cbuf.len, NULL, 0, 0, 0};
    assert_int_equal(jp_task_process(t, &crec), JP_TASK_APPLIED);
    assert_int_equal(jp_task_process_batch(t, recs, N, batch), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(batch[i], one[i]);
    assert_int_equal(f->n_features, 2 * n_one);
    for (size_t i = 0; i < n_one; i++) {
        assert_int_equal(f->features[n_one + i].len, f->features[i].len);
        assert_memory_equal(f->features[n_one + i].bytes, f->features[i].bytes, f->features[i].len);
    }
    jp_task_close(t);
    jp_test_rmtree(dir);
    free(dir);
    for (int i = 0; i < N; i++)
        jp_avro_buf_free(&buf[i]);
    jp_avro_buf_free(&cbuf);
}

/* Every test runs on a fresh task in a fresh directory. */
#define TASK_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TASK_TEST(test_windows_assign_close_and_emit),
        TASK_TEST(test_late_versus_grace),
        TASK_TEST(test_dedupe_within_horizon),
        TASK_TEST(test_dead_letter_reasons),
        TASK_TEST(test_processed_offsets_are_skipped),
        TASK_TEST(test_batch_equals_one_by_one),
        TASK_TEST(test_draws_watermark_waits_for_every_country),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
