/*
 * jp_serde against writer schemas a registry accepts but no engine reader
 * can use (recursive records, empty enums and unions, deep nesting, wrong
 * types, thousands of fields) and against registry answers that are not
 * schemas at all: every record framed with such an id decodes to an error
 * class the engine dead-letters - never a crash (the suite runs under
 * ASan+UBSan too) - and the message is the same for the first record and
 * every later one (no wording that depends on what the process saw
 * before), and never quotes the registry's address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serde/jp_serde.h"

#define N_IDS 64

typedef struct {
    char *schemas[N_IDS];
} fake_t;

static jp_serde_err_t fake_lookup(void *ctx, int32_t id, char **json_out, char *errstr,
                                  size_t errstr_size)
{
    fake_t *f = ctx;
    if (id >= 0 && id < N_IDS && f->schemas[id]) {
        *json_out = strdup(f->schemas[id]);
        return JP_SERDE_OK;
    }
    /* What an HTTP registry client says: it names the registry. */
    snprintf(errstr, errstr_size,
             "schema id %d: registry http://10.1.2.3:8081 replied HTTP 404 (error 40403)", id);
    return JP_SERDE_UNKNOWN_SCHEMA_ID;
}

/* A record nested n deep, each level one field of the next. */
static char *nested(int n)
{
    size_t cap = (size_t)n * 80 + 64;
    char *s = malloc(cap), *p = s;
    for (int i = 0; i < n; i++)
        p += sprintf(
            p, "{\"type\":\"record\",\"name\":\"N%d\",\"fields\":[{\"name\":\"f\",\"type\":", i);
    p += sprintf(p, "\"long\"");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "}]}");
    return s;
}

/* A SaleEvent-named record with n long fields (none of the reader's). */
static char *wide(int n)
{
    char *s = malloc((size_t)n * 40 + 200), *p = s;
    p += sprintf(p, "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":"
                    "\"lottery.events.v1\",\"fields\":[");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s{\"name\":\"f%d\",\"type\":\"long\"}", i ? "," : "", i);
    sprintf(p, "]}");
    return s;
}

static const char *const hostile[] = {
    /* recursive through a union */
    "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":\"lottery.events.v1\","
    "\"fields\":[{\"name\":\"next\",\"type\":[\"null\",\"SaleEvent\"]}]}",
    /* recursive through an array and a map */
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"kids\",\"type\":{\"type\":"
    "\"array\",\"items\":\"T\"}},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"T\"}}]}",
    /* an empty union without a default, and an empty enum */
    "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":\"lottery.events.v1\","
    "\"fields\":[{\"name\":\"event_id\",\"type\":[]}]}",
    "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":\"lottery.events.v1\","
    "\"fields\":[{\"name\":\"channel\",\"type\":{\"type\":\"enum\",\"name\":\"C\","
    "\"symbols\":[]}}]}",
    /* the reader's fields with the wrong types */
    "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":\"lottery.events.v1\","
    "\"fields\":[{\"name\":\"event_id\",\"type\":\"long\"},{\"name\":\"tickets\",\"type\":"
    "\"string\"},{\"name\":\"country\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":0}}]}",
    /* a huge fixed, a union of many branches, a bare primitive */
    "{\"type\":\"fixed\",\"name\":\"Big\",\"size\":2147483647}",
    "[\"null\",\"int\",\"long\",\"float\",\"double\",\"bytes\",\"string\",\"boolean\"]",
    "\"string\"",
    /* not schemas at all */
    "{\"type\":\"record\"}",
    "{}",
    "[]",
    "null",
    "{\"type\":\"record\",\"name\":\"X\",\"fields\":[{\"name\":\"a\",\"type\":\"nope\"}]}",
    "not json",
};

static void check_message(const char *msg)
{
    assert_true(msg[0] != '\0');
    assert_null(strstr(msg, "http"));
    assert_null(strstr(msg, "10.1.2.3"));
    assert_null(strstr(msg, "cached"));
}

/* Frames: id, then several payloads; every reader decodes every frame
 * twice, with the same class and message both times. */
static void decode_all(jp_serde_t *s, int32_t id)
{
    static const unsigned char payloads[][12] = {
        {0},
        {2, 'a', 2, 'b', 0, 0, 0, 0, 0, 0, 0, 0},
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    for (size_t k = 0; k < sizeof(payloads) / sizeof(payloads[0]); k++) {
        unsigned char frame[5 + sizeof(payloads[0])];
        frame[0] = 0;
        frame[1] = (unsigned char)(id >> 24), frame[2] = (unsigned char)(id >> 16);
        frame[3] = (unsigned char)(id >> 8), frame[4] = (unsigned char)id;
        memcpy(frame + 5, payloads[k], sizeof(payloads[k]));
        for (int reader = JP_EVENT_SALE; reader <= JP_EVENT_DRAW; reader++) {
            char first[512], again[512];
            jp_serde_err_t r1, r2;
            jp_avro_arena_t arena;
            jp_avro_arena_init(&arena);
            union {
                jp_sale_event_t s;
                jp_customer_event_t c;
                jp_draw_result_t d;
            } out;
            r1 = jp_serde_decode(s, reader, frame, sizeof(frame), &out, &arena, first,
                                 sizeof(first));
            r2 = jp_serde_decode(s, reader, frame, sizeof(frame), &out, &arena, again,
                                 sizeof(again));
            jp_avro_arena_free(&arena);
            assert_int_equal(r1, r2);
            if (r1 != JP_SERDE_OK) {
                assert_int_not_equal(r1, JP_SERDE_REGISTRY_UNAVAILABLE);
                assert_string_equal(first, again);
                check_message(first);
            }
        }
    }
}

static void test_hostile_writer_schemas_are_dead_letter_errors(void **state)
{
    (void)state;
    fake_t f = {0};
    size_t n = sizeof(hostile) / sizeof(hostile[0]);
    for (size_t i = 0; i < n; i++)
        f.schemas[i + 1] = strdup(hostile[i]);
    f.schemas[n + 1] = nested(1500);
    f.schemas[n + 2] = wide(5000);
    jp_serde_config_t sc = {0};
    sc.registry = (jp_serde_registry_t){&f, fake_lookup, NULL};
    char err[256];
    jp_serde_t *s = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(s);
    for (int32_t id = 1; id <= (int32_t)n + 3; id++) /* n + 3: unknown to the registry */
        decode_all(s, id);
    jp_serde_free(s);
    for (size_t i = 0; i < N_IDS; i++)
        free(f.schemas[i]);
}

/* The unknown-id message is the same before and after the negative cache
 * (the first record and the thousandth read alike). */
static void test_unknown_id_message_is_stable(void **state)
{
    (void)state;
    fake_t f = {0};
    jp_serde_config_t sc = {0};
    sc.registry = (jp_serde_registry_t){&f, fake_lookup, NULL};
    char err[256], first[256];
    jp_serde_t *s = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(s);
    unsigned char frame[] = {0, 0, 0, 0, 42, 0};
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_sale_event_t ev;
    assert_int_equal(
        jp_serde_decode(s, JP_EVENT_SALE, frame, sizeof(frame), &ev, &arena, first, sizeof(first)),
        JP_SERDE_UNKNOWN_SCHEMA_ID);
    check_message(first);
    assert_string_equal(first, "schema id 42 is unknown to the schema registry");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            jp_serde_decode(s, JP_EVENT_SALE, frame, sizeof(frame), &ev, &arena, err, sizeof(err)),
            JP_SERDE_UNKNOWN_SCHEMA_ID);
        assert_string_equal(err, first);
    }
    jp_avro_arena_free(&arena);
    jp_serde_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_writer_schemas_are_dead_letter_errors),
        cmocka_unit_test(test_unknown_id_message_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
