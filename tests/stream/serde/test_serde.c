/*
 * jp_serde: Confluent framing, the schema-id cache (one registry call per
 * id, negative caching with a doubling TTL, registry-wide backoff while
 * cached ids keep decoding), plan reuse and cached INCOMPATIBLE verdicts,
 * TopicNameStrategy registration on encode (values and string keys),
 * custom readers, and the adapter
 * to jp_registry_client (against a port nothing listens on). A fake
 * registry counts calls; a fake clock drives the backoff windows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"

typedef struct {
    int lookups, registers;
    jp_serde_err_t mode; /* what lookups answer for ids without a schema */
    const char *schemas[32];
    char last_subject[128];
    char last_json[64];
    jp_serde_err_t register_answer;
    int32_t next_id;
    int64_t now;
} fake_t;

static jp_serde_err_t fake_lookup(void *ctx, int32_t id, char **json_out, char *errstr,
                                  size_t errstr_size)
{
    fake_t *f = ctx;
    f->lookups++;
    if (f->mode == JP_SERDE_REGISTRY_UNAVAILABLE) {
        snprintf(errstr, errstr_size, "connection refused");
        return JP_SERDE_REGISTRY_UNAVAILABLE;
    }
    if (id >= 0 && id < 32 && f->schemas[id]) {
        *json_out = strdup(f->schemas[id]);
        return JP_SERDE_OK;
    }
    snprintf(errstr, errstr_size, "Schema %d not found", (int)id);
    return JP_SERDE_UNKNOWN_SCHEMA_ID;
}

static jp_serde_err_t fake_register(void *ctx, const char *subject, const char *json,
                                    int32_t *id_out, char *errstr, size_t errstr_size)
{
    fake_t *f = ctx;
    f->registers++;
    snprintf(f->last_subject, sizeof f->last_subject, "%s", subject);
    snprintf(f->last_json, sizeof f->last_json, "%.63s", json);
    if (f->register_answer != JP_SERDE_OK) {
        snprintf(errstr, errstr_size, "refused");
        return f->register_answer;
    }
    *id_out = f->next_id;
    f->schemas[f->next_id] = NULL; /* the serde must not need to look it up */
    return JP_SERDE_OK;
}

static int64_t fake_now(void *ctx)
{
    return ((fake_t *)ctx)->now;
}

static jp_serde_t *new_serde(fake_t *f)
{
    jp_serde_config_t conf = {
        .registry = {f, fake_lookup, fake_register},
        .now_ms = fake_now,
        .clock_ctx = f,
        .backoff_min_ms = 100,
        .backoff_max_ms = 1000,
        .unknown_ttl_ms = 500,
    };
    char err[256];
    jp_serde_t *s = jp_serde_new(&conf, err, sizeof err);
    if (!s)
        fail_msg("jp_serde_new: %s", err);
    return s;
}

/* A SaleEvent record framed with schema id `id`. */
static jp_avro_buf_t sale_frame(int32_t id)
{
    jp_avro_buf_t b = {0};
    assert_int_equal(jp_serde_frame_write(&b, id), 0);
    static const unsigned char body[] = {
        0x02, 'e', 0x04, 'G', 'B',  0x04, /* event_id "e", country "GB", event_time 2 */
        0x02, 'c', 0x02, 'p',             /* customer_id "c", postcode "p" */
        0x02,                             /* channel APP */
        0x06,                             /* tickets 3 */
        0x08,                             /* amount_minor 4 */
        0x06, 'G', 'B',  'P', 0x02, 'd',  /* currency "GBP", draw_id "d" */
        0x0a,                             /* advertised_prize_minor 5 */
        0x00,                             /* campaign null */
        0x00,                             /* purchase null */
    };
    assert_int_equal(jp_avro_buf_append(&b, body, sizeof body), 0);
    return b;
}

static const char *sale_json(void)
{
    return jp_event_schema_json(JP_EVENT_SALE, NULL);
}

static void test_framing(void **state)
{
    (void)state;
    int32_t id;
    const unsigned char *payload;
    size_t plen;
    static const unsigned char ok[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0xaa};
    assert_int_equal(jp_serde_frame_parse(ok, sizeof ok, &id, &payload, &plen), JP_SERDE_OK);
    assert_int_equal(id, 0x01020304);
    assert_int_equal(plen, 1);
    assert_int_equal(payload[0], 0xaa);
    static const unsigned char bad_magic[] = {0x01, 0, 0, 0, 1, 0};
    assert_int_equal(jp_serde_frame_parse(bad_magic, sizeof bad_magic, &id, &payload, &plen),
                     JP_SERDE_NOT_FRAMED);
    assert_int_equal(jp_serde_frame_parse(ok, 4, &id, &payload, &plen), JP_SERDE_NOT_FRAMED);
    jp_avro_buf_t b = {0};
    assert_int_equal(jp_serde_frame_write(&b, 0x7f000102), 0);
    static const unsigned char want[] = {0x00, 0x7f, 0x00, 0x01, 0x02};
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, want, 5);
    jp_avro_buf_free(&b);
}

static void test_decode_caches_id(void **state)
{
    (void)state;
    fake_t f = {.next_id = 21};
    f.schemas[7] = sale_json();
    jp_serde_t *s = new_serde(&f);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t b = sale_frame(7);
    jp_sale_event_t ev;
    char err[256];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len, &ev, &arena, err, sizeof err),
            JP_SERDE_OK);
        jp_avro_arena_reset(&arena);
    }
    assert_int_equal(f.lookups, 1);
    assert_true(jp_avro_str_eq(ev.country, "GB"));
    assert_int_equal(ev.channel, JP_SALE_CHANNEL_APP);
    assert_int_equal(ev.advertised_prize_minor, 5);
    jp_serde_stats_t st;
    jp_serde_stats(s, &st);
    assert_int_equal(st.plans_compiled, 1);
    assert_int_equal(st.decoded, 3);

    /* not framed: the bare Avro payload (its first byte is not the magic 0) */
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, b.data + 5, b.len - 5, &ev, &arena, err, sizeof err),
        JP_SERDE_NOT_FRAMED);
    /* truncated and malformed payloads through the serde */
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len - 1, &ev, &arena, err, sizeof err),
        JP_SERDE_TRUNCATED);
    b.data[b.len - 1] = 0x04; /* campaign: union index 2 */
    assert_int_equal(jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len, &ev, &arena, err, sizeof err),
                     JP_SERDE_MALFORMED);
    /* a bad reader id */
    assert_int_equal(jp_serde_decode(s, 99, b.data, b.len, &ev, &arena, err, sizeof err),
                     JP_SERDE_INVALID);
    jp_avro_buf_free(&b);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

static void test_unknown_id_negative_cache(void **state)
{
    (void)state;
    fake_t f = {.next_id = 21};
    jp_serde_t *s = new_serde(&f);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t b = sale_frame(9);
    jp_sale_event_t ev;
    char err[256];
#define DECODE() jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len, &ev, &arena, err, sizeof err)
    assert_int_equal(DECODE(), JP_SERDE_UNKNOWN_SCHEMA_ID);
    assert_int_equal(f.lookups, 1);
    assert_non_null(strstr(err, "9"));
    /* within the TTL: no registry call */
    f.now += 499;
    assert_int_equal(DECODE(), JP_SERDE_UNKNOWN_SCHEMA_ID);
    assert_int_equal(f.lookups, 1);
    /* after it: asked again, still unknown; the TTL doubles to 1000 */
    f.now += 1;
    assert_int_equal(DECODE(), JP_SERDE_UNKNOWN_SCHEMA_ID);
    assert_int_equal(f.lookups, 2);
    f.now += 999;
    assert_int_equal(DECODE(), JP_SERDE_UNKNOWN_SCHEMA_ID);
    assert_int_equal(f.lookups, 2);
    /* the schema appears; the next allowed attempt finds it */
    f.schemas[9] = sale_json();
    f.now += 1;
    assert_int_equal(DECODE(), JP_SERDE_OK);
    assert_int_equal(f.lookups, 3);
    assert_int_equal(DECODE(), JP_SERDE_OK);
    assert_int_equal(f.lookups, 3);
#undef DECODE
    jp_avro_buf_free(&b);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

static void test_registry_unavailable_backoff(void **state)
{
    (void)state;
    fake_t f = {.next_id = 21};
    f.schemas[7] = sale_json();
    f.schemas[8] = sale_json();
    jp_serde_t *s = new_serde(&f);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t b7 = sale_frame(7), b8 = sale_frame(8);
    jp_sale_event_t ev;
    char err[256];
    /* id 7 gets cached while the registry is up */
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, b7.data, b7.len, &ev, &arena, err, sizeof err),
        JP_SERDE_OK);
    f.mode = JP_SERDE_REGISTRY_UNAVAILABLE;
#define DECODE8() jp_serde_decode(s, JP_EVENT_SALE, b8.data, b8.len, &ev, &arena, err, sizeof err)
    assert_int_equal(DECODE8(), JP_SERDE_REGISTRY_UNAVAILABLE);
    assert_int_equal(f.lookups, 2);
    /* fail fast inside the 100 ms window */
    f.now += 99;
    assert_int_equal(DECODE8(), JP_SERDE_REGISTRY_UNAVAILABLE);
    assert_int_equal(f.lookups, 2);
    /* cached ids keep working */
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, b7.data, b7.len, &ev, &arena, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(f.lookups, 2);
    /* retried after the window; it doubles to 200 ms */
    f.now += 1;
    assert_int_equal(DECODE8(), JP_SERDE_REGISTRY_UNAVAILABLE);
    assert_int_equal(f.lookups, 3);
    f.now += 199;
    assert_int_equal(DECODE8(), JP_SERDE_REGISTRY_UNAVAILABLE);
    assert_int_equal(f.lookups, 3);
    /* the backoff is capped at backoff_max_ms (1000) */
    for (int i = 0; i < 6; i++) {
        f.now += 1000;
        assert_int_equal(DECODE8(), JP_SERDE_REGISTRY_UNAVAILABLE);
    }
    assert_int_equal(f.lookups, 9);
    /* the registry comes back */
    f.mode = JP_SERDE_OK;
    f.now += 1000;
    assert_int_equal(DECODE8(), JP_SERDE_OK);
    assert_int_equal(f.lookups, 10);
#undef DECODE8
    jp_avro_buf_free(&b7);
    jp_avro_buf_free(&b8);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

static void test_incompatible_cached(void **state)
{
    (void)state;
    /* channel as a string cannot be read as the SaleChannel enum */
    const char *bad =
        "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
        "\"lottery.events.v1\",\"fields\":[{\"name\":\"channel\",\"type\":\"string\"}]}";
    fake_t f = {.next_id = 21};
    f.schemas[3] = bad;
    jp_serde_t *s = new_serde(&f);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t b = {0};
    jp_serde_frame_write(&b, 3);
    jp_avro_buf_append(&b, "\x02x", 2);
    jp_sale_event_t ev;
    char err[256];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len, &ev, &arena, err, sizeof err),
            JP_SERDE_INCOMPATIBLE);
    }
    assert_non_null(strstr(err, "SaleEvent"));
    jp_serde_stats_t st;
    jp_serde_stats(s, &st);
    assert_int_equal(st.plans_compiled, 0);
    assert_int_equal(st.decode_errors, 2);
    assert_int_equal(f.lookups, 1);
    jp_avro_buf_free(&b);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

/* Writer schemas that cannot be compiled, as any registry may serve them
 * (issue 15: the empty-union schema crashed every engine that fetched it).
 * Each decode fails with a typed error - never a crash - that the engine
 * dead-letters, and good ids keep decoding next to them. */
static void test_poison_writer_schemas(void **state)
{
    (void)state;
    fake_t f = {.next_id = 21};
    /* an empty union with a default, the reproducer */
    f.schemas[4] = "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
                   "\"lottery.events.v1\",\"fields\":[{\"name\":\"c\",\"type\":[],"
                   "\"default\":null}]}";
    /* an empty union without a default */
    f.schemas[5] = "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
                   "\"lottery.events.v1\",\"fields\":[{\"name\":\"c\",\"type\":[]}]}";
    f.schemas[6] = "{not json";
    f.schemas[7] = "[]";
    /* parses, but a recursive type where the reader wants a string */
    f.schemas[8] = "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
                   "\"lottery.events.v1\",\"fields\":[{\"name\":\"event_id\",\"type\":"
                   "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"n\",\"type\":"
                   "[\"null\",\"N\"]}]}}]}";
    /* a default that does not match its (first) branch */
    f.schemas[9] = "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
                   "\"lottery.events.v1\",\"fields\":[{\"name\":\"x\",\"type\":[\"null\","
                   "\"int\"],\"default\":3}]}";
    f.schemas[1] = sale_json();
    jp_serde_t *s = new_serde(&f);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    char err[256];
    static const struct {
        int32_t id;
        jp_serde_err_t want;
        const char *says;
    } cases[] = {
        {4, JP_SERDE_UNKNOWN_SCHEMA_ID, "at least one branch"},
        {5, JP_SERDE_UNKNOWN_SCHEMA_ID, "at least one branch"},
        {6, JP_SERDE_UNKNOWN_SCHEMA_ID, "not JSON"},
        {7, JP_SERDE_UNKNOWN_SCHEMA_ID, "at least one branch"},
        {8, JP_SERDE_INCOMPATIBLE, "event_id"},
        {9, JP_SERDE_UNKNOWN_SCHEMA_ID, "default"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jp_avro_buf_t b = sale_frame(cases[i].id);
        for (int reader = 0; reader < JP_EVENT__COUNT; reader++) {
            static _Alignas(16) unsigned char out[1 << 16]; /* any event struct */
            err[0] = '\0';
            jp_serde_err_t rc =
                jp_serde_decode(s, reader, b.data, b.len, out, &arena, err, sizeof err);
            assert_int_not_equal(rc, JP_SERDE_OK);
            if (reader == JP_EVENT_SALE) {
                if (rc != cases[i].want || !strstr(err, cases[i].says))
                    fail_msg("schema id %d: %s (%s), want %s mentioning \"%s\"", (int)cases[i].id,
                             jp_serde_err_name(rc), err, jp_serde_err_name(cases[i].want),
                             cases[i].says);
            }
            f.now += 100000; /* past the negative cache: ask (and fail) again */
        }
        jp_avro_buf_free(&b);
        /* Seeding the cache with the same text is refused too. */
        if (cases[i].want == JP_SERDE_UNKNOWN_SCHEMA_ID)
            assert_int_equal(
                jp_serde_add_schema(s, 100 + cases[i].id, f.schemas[cases[i].id], err, sizeof err),
                JP_SERDE_INVALID);
    }
    /* A good id still decodes after all of that. */
    jp_avro_buf_t good = sale_frame(1);
    jp_sale_event_t ev;
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, good.data, good.len, &ev, &arena, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(ev.tickets, 3);
    jp_avro_buf_free(&good);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

static void test_encode_registers_once(void **state)
{
    (void)state;
    fake_t f = {.next_id = 21};
    jp_serde_t *s = new_serde(&f);
    jp_alert_t alert = {
        .fingerprint = jp_avro_str("fp"),
        .name = jp_avro_str("DlqRateHigh"),
        .severity = JP_ALERT_SEVERITY_WARNING,
        .status = JP_ALERT_STATUS_FIRING,
        .summary = jp_avro_str("dlq"),
        .runbook_url = jp_avro_str("docs/runbooks/dlq.md"),
        .starts_at = 1,
    };
    jp_avro_buf_t out = {0};
    char err[256];
    assert_int_equal(
        jp_serde_encode(s, JP_EVENT_ALERT, "jackpot.alerts.v1", &alert, &out, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(f.registers, 1);
    assert_string_equal(f.last_subject, "jackpot.alerts.v1-value");
    static const unsigned char head[] = {0x00, 0x00, 0x00, 0x00, 21};
    assert_memory_equal(out.data, head, 5);
    size_t first = out.len;
    assert_int_equal(
        jp_serde_encode(s, JP_EVENT_ALERT, "jackpot.alerts.v1", &alert, &out, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(f.registers, 1);
    assert_int_equal(out.len, 2 * first);
    assert_memory_equal(out.data, out.data + first, first); /* deterministic */
    /* our own output decodes without a registry lookup */
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_alert_t back;
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_ALERT, out.data, first, &back, &arena, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(f.lookups, 0);
    assert_true(jp_avro_str_eq(back.runbook_url, "docs/runbooks/dlq.md"));
    assert_int_equal(back.has_country, 0);
    /* another topic is another subject */
    f.next_id = 22;
    assert_int_equal(jp_serde_encode(s, JP_EVENT_ALERT, "other", &alert, &out, err, sizeof err),
                     JP_SERDE_OK);
    assert_string_equal(f.last_subject, "other-value");
    assert_int_equal(f.registers, 2);
    /* a refusal by the registry */
    f.register_answer = JP_SERDE_INCOMPATIBLE;
    size_t before = out.len;
    assert_int_equal(jp_serde_encode(s, JP_EVENT_ALERT, "third", &alert, &out, err, sizeof err),
                     JP_SERDE_INCOMPATIBLE);
    assert_int_equal(out.len, before);
    /* an out-of-range enum leaves the buffer as it was */
    alert.severity = (jp_alert_severity_t)17;
    assert_int_equal(
        jp_serde_encode(s, JP_EVENT_ALERT, "jackpot.alerts.v1", &alert, &out, err, sizeof err),
        JP_SERDE_OUT_OF_RANGE);
    assert_int_equal(out.len, before);
    jp_avro_buf_free(&out);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

/* Keys in Confluent's format for string keys: the schema "string" under
 * <topic>-key, once per topic; and back to text from either format. */
static void test_key_format(void **state)
{
    (void)state;
    fake_t f = {.next_id = 23};
    jp_serde_t *s = new_serde(&f);
    jp_avro_buf_t out = {0};
    char err[256];
    assert_int_equal(jp_serde_encode_key(s, "jackpot.features.v1", "GB", 2, &out, err, sizeof err),
                     JP_SERDE_OK);
    assert_string_equal(f.last_subject, "jackpot.features.v1-key");
    assert_string_equal(f.last_json, "\"string\"");
    static const unsigned char gb[] = {0x00, 0x00, 0x00, 0x00, 23, 0x04, 'G', 'B'};
    assert_int_equal(out.len, sizeof gb);
    assert_memory_equal(out.data, gb, sizeof gb);
    out.len = 0;
    assert_int_equal(jp_serde_encode_key(s, "jackpot.features.v1", "NL", 2, &out, err, sizeof err),
                     JP_SERDE_OK);
    assert_int_equal(f.registers, 1);
    const void *text;
    size_t len;
    assert_int_equal(jp_serde_key_string(out.data, out.len, &text, &len), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(text, "NL", 2);
    assert_int_equal(jp_serde_key_string("GB", 2, &text, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(text, "GB", 2);
    /* framed, but more than one string: the bytes as they are */
    assert_int_equal(jp_avro_buf_append(&out, "x", 1), 0);
    assert_int_equal(jp_serde_key_string(out.data, out.len, &text, &len), 0);
    assert_int_equal(len, out.len);
    /* a long key (a two-byte length) and an empty one */
    char big[300];
    memset(big, 'k', sizeof big);
    out.len = 0;
    assert_int_equal(
        jp_serde_encode_key(s, "jackpot.features.v1", big, sizeof big, &out, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(out.len, 5 + 2 + sizeof big);
    assert_int_equal(jp_serde_key_string(out.data, out.len, &text, &len), 1);
    assert_int_equal(len, sizeof big);
    out.len = 0;
    assert_int_equal(jp_serde_encode_key(s, "other", "", 0, &out, err, sizeof err), JP_SERDE_OK);
    assert_string_equal(f.last_subject, "other-key");
    assert_int_equal(jp_serde_key_string(out.data, out.len, &text, &len), 1);
    assert_int_equal(len, 0);
    /* the registry refuses: nothing appended */
    f.register_answer = JP_SERDE_REGISTRY_UNAVAILABLE;
    out.len = 0;
    assert_int_equal(jp_serde_encode_key(s, "third", "GB", 2, &out, err, sizeof err),
                     JP_SERDE_REGISTRY_UNAVAILABLE);
    assert_int_equal(out.len, 0);
    jp_avro_buf_free(&out);
    jp_serde_free(s);
}

typedef struct {
    jp_avro_str_t country;
    int64_t tickets;
} mini_t;

static void test_custom_reader(void **state)
{
    (void)state;
    /* A projection of SaleEvent: two fields, tickets promoted int->long. */
    const char *mini = "{\"type\":\"record\",\"name\":\"SaleEvent\",\"fields\":["
                       "{\"name\":\"country\",\"type\":\"string\"},"
                       "{\"name\":\"tickets\",\"type\":\"long\"}]}";
    static const jp_avro_bind_t binds[] = {JP_AVRO_BIND(mini_t, country),
                                           JP_AVRO_BIND(mini_t, tickets)};
    static const jp_avro_layout_t layout = JP_AVRO_LAYOUT("SaleEvent", mini_t, binds);
    fake_t f = {.next_id = 21};
    f.schemas[7] = sale_json();
    jp_serde_t *s = new_serde(&f);
    char err[256];
    int reader = jp_serde_add_reader(s, mini, strlen(mini), &layout, err, sizeof err);
    assert_true(reader >= JP_EVENT__COUNT);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t b = sale_frame(7);
    jp_sale_event_t full;
    mini_t m;
    /* the id is first cached through the built-in reader, then the new
     * reader gets its own plan on the same entry */
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len, &full, &arena, err, sizeof err),
        JP_SERDE_OK);
    assert_int_equal(jp_serde_decode(s, reader, b.data, b.len, &m, &arena, err, sizeof err),
                     JP_SERDE_OK);
    assert_true(jp_avro_str_eq(m.country, "GB"));
    assert_int_equal(m.tickets, 3);
    assert_int_equal(f.lookups, 1);
    /* a reader whose layout does not fit is refused */
    static const jp_avro_bind_t wrong[] = {JP_AVRO_BIND(mini_t, country)};
    static const jp_avro_layout_t wrong_layout = JP_AVRO_LAYOUT("SaleEvent", mini_t, wrong);
    assert_int_equal(jp_serde_add_reader(s, mini, strlen(mini), &wrong_layout, err, sizeof err),
                     -1);
    /* a schema seeded by hand */
    assert_int_equal(jp_serde_add_schema(s, 30, mini, err, sizeof err), JP_SERDE_OK);
    assert_int_equal(jp_serde_add_schema(s, 31, "{", err, sizeof err), JP_SERDE_INVALID);
    jp_avro_buf_free(&b);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

static void test_registry_client_adapter(void **state)
{
    (void)state;
    char err[256];
    /* Port 1 on loopback: connection refused, i.e. the registry is down. */
    jp_registry_client_t *c = jp_registry_client_new("http://127.0.0.1:1", err, sizeof err);
    assert_non_null(c);
    jp_registry_client_set_retry(c, 1, 0);
    jp_registry_client_set_timeout(c, 500);
    jp_serde_config_t conf = {.registry = jp_serde_registry_client(c)};
    jp_serde_t *s = jp_serde_new(&conf, err, sizeof err);
    assert_non_null(s);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t b = sale_frame(5);
    jp_sale_event_t ev;
    assert_int_equal(jp_serde_decode(s, JP_EVENT_SALE, b.data, b.len, &ev, &arena, err, sizeof err),
                     JP_SERDE_REGISTRY_UNAVAILABLE);
    jp_avro_buf_t out = {0};
    jp_alert_t alert = {0};
    assert_int_equal(jp_serde_encode(s, JP_EVENT_ALERT, "t", &alert, &out, err, sizeof err),
                     JP_SERDE_REGISTRY_UNAVAILABLE);
    jp_avro_buf_free(&out);
    jp_avro_buf_free(&b);
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
    jp_registry_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_decode_caches_id),
        cmocka_unit_test(test_unknown_id_negative_cache),
        cmocka_unit_test(test_registry_unavailable_backoff),
        cmocka_unit_test(test_incompatible_cached),
        cmocka_unit_test(test_poison_writer_schemas),
        cmocka_unit_test(test_encode_registers_once),
        cmocka_unit_test(test_key_format),
        cmocka_unit_test(test_custom_reader),
        cmocka_unit_test(test_registry_client_adapter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
