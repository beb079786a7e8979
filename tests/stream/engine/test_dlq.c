/*
 * jp_dlq: a dead letter keeps the original key, value and headers, but
 * only encrypted - the clear record carries the engine's headers and none
 * of the input's bytes; the key opens it and gives back the exact bytes;
 * a wrong key, an altered envelope, or an envelope moved under another
 * source offset does not open; the same record gives the same dead letter
 * (deterministic outputs) while records differing in content or offset
 * never share a nonce; a record too large for max_bytes becomes a
 * truncated dead letter that fits and says what it kept; a stub (the
 * broker refused the value) keeps the headers alone.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/jp_dlq.h"
#include "engine/jp_engine.h"
#include "jp_test.h"
#include "jp_test_engine.h"

static const char key_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char other_hex[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static const char value[] = "customer C-0001 lives at SW1A 1AA, mail someone@example.org";

static jp_dlq_source_t source(int64_t offset)
{
    return (jp_dlq_source_t){
        "BAD_POSTCODE", "postcode is not valid for the country", "lottery.sales.v1", 3, offset,
        1772409600000LL};
}

static rd_kafka_headers_t *orig_headers(void)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "trace", -1, "email=someone@example.org", -1);
    rd_kafka_header_add(h, "empty", -1, NULL, 0);
    return h;
}

static void assert_absent(const void *buf, size_t len, const char *needle)
{
    if (buf && memmem(buf, len, needle, strlen(needle)))
        fail_msg("'%s' found in the clear", needle);
}

static void test_round_trip_and_nothing_in_the_clear(void **state)
{
    (void)state;
    char err[256];
    jp_dlq_key_t *k = jp_dlq_key_new(key_hex, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(strlen(jp_dlq_key_id(k)), JP_DLQ_KEY_ID_LEN);
    assert_null(strstr(key_hex, jp_dlq_key_id(k))); /* the id is not the key */
    rd_kafka_headers_t *h = orig_headers();
    jp_dlq_source_t src = source(41);
    jp_dlq_record_t r;
    assert_int_equal(jp_dlq_build(k, &src, "GB", 2, value, sizeof(value) - 1, h, 1000000, &r), 0);
    assert_false(r.truncated);
    assert_int_equal(r.key_len, 2);
    assert_memory_equal(r.key, "GB", 2);
    /* nothing of the input in the clear: value nor headers */
    for (const char *n = "C-0001\0SW1A\0someone@example.org\0"; *n; n += strlen(n) + 1) {
        assert_absent(r.value, r.value_len, n);
        const char *name;
        const void *v;
        size_t len;
        for (size_t i = 0; rd_kafka_header_get_all(r.headers, i, &name, &v, &len) == 0; i++) {
            assert_absent(v, len, n);
            assert_true(strncmp(name, "jp.", 3) == 0);
        }
    }
    const jp_dlq_key_t *keys[] = {k};
    jp_dlq_opened_t o;
    assert_int_equal(jp_dlq_open(keys, 1, r.value, r.value_len, r.headers, &o, err, sizeof(err)),
                     0);
    assert_true(o.has_envelope);
    assert_string_equal(o.error_class, "BAD_POSTCODE");
    assert_string_equal(o.topic, "lottery.sales.v1");
    assert_int_equal(o.partition, 3);
    assert_int_equal(o.offset, 41);
    assert_int_equal(o.timestamp_ms, 1772409600000LL);
    assert_string_equal(o.truncated, "");
    assert_int_equal(o.key_len, 2);
    assert_memory_equal(o.key, "GB", 2);
    assert_int_equal(o.value_len, sizeof(value) - 1);
    assert_memory_equal(o.value, value, sizeof(value) - 1);
    assert_int_equal(o.n_headers, 2);
    assert_string_equal(o.header_names[0], "trace");
    assert_memory_equal(o.header_values[0], "email=someone@example.org", o.header_lens[0]);
    assert_string_equal(o.header_names[1], "empty");
    assert_null(o.header_values[1]);
    jp_dlq_opened_free(&o);
    free(r.value);
    rd_kafka_headers_destroy(r.headers);
    rd_kafka_headers_destroy(h);
    jp_dlq_key_free(k);
}

static void test_deterministic_and_distinct(void **state)
{
    (void)state;
    char err[256];
    jp_dlq_key_t *k = jp_dlq_key_new(key_hex, err, sizeof(err));
    jp_dlq_source_t a = source(7), b = source(8);
    jp_dlq_record_t r1, r2, r3, r4;
    assert_int_equal(jp_dlq_build(k, &a, "GB", 2, value, 20, NULL, 0, &r1), 0);
    assert_int_equal(jp_dlq_build(k, &a, "GB", 2, value, 20, NULL, 0, &r2), 0);
    assert_int_equal(jp_dlq_build(k, &b, "GB", 2, value, 20, NULL, 0, &r3), 0);
    assert_int_equal(jp_dlq_build(k, &a, "GB", 2, value, 21, NULL, 0, &r4), 0);
    assert_int_equal(r1.value_len, r2.value_len);
    assert_memory_equal(r1.value, r2.value, r1.value_len); /* a re-read: byte-identical */
    /* nonces (bytes 4..16) differ with the offset and with the content */
    assert_memory_not_equal(r1.value + 4, r3.value + 4, 12);
    assert_memory_not_equal(r1.value + 4, r4.value + 4, 12);
    jp_dlq_record_t *all[] = {&r1, &r2, &r3, &r4};
    for (int i = 0; i < 4; i++) {
        free(all[i]->value);
        rd_kafka_headers_destroy(all[i]->headers);
    }
    jp_dlq_key_free(k);
}

static void test_wrong_key_altered_or_moved_do_not_open(void **state)
{
    (void)state;
    char err[256];
    jp_dlq_key_t *k = jp_dlq_key_new(key_hex, err, sizeof(err));
    jp_dlq_key_t *other = jp_dlq_key_new(other_hex, err, sizeof(err));
    assert_string_not_equal(jp_dlq_key_id(k), jp_dlq_key_id(other));
    jp_dlq_source_t src = source(5);
    jp_dlq_record_t r;
    assert_int_equal(jp_dlq_build(k, &src, "XX-not-a-country", 16, value, 30, NULL, 0, &r), 0);
    assert_null(r.key); /* not a country code: only in the envelope */
    jp_dlq_opened_t o;
    const jp_dlq_key_t *wrong[] = {other};
    assert_int_equal(jp_dlq_open(wrong, 1, r.value, r.value_len, r.headers, &o, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, jp_dlq_key_id(k)));
    /* rotation: the old key among others still opens it */
    const jp_dlq_key_t *both[] = {other, k};
    assert_int_equal(jp_dlq_open(both, 2, r.value, r.value_len, r.headers, &o, err, sizeof(err)),
                     0);
    assert_memory_equal(o.key, "XX-not-a-country", 16);
    jp_dlq_opened_free(&o);
    /* one bit flipped */
    r.value[r.value_len / 2] ^= 1;
    assert_int_equal(jp_dlq_open(both, 2, r.value, r.value_len, r.headers, &o, err, sizeof(err)),
                     -1);
    r.value[r.value_len / 2] ^= 1;
    /* moved under another source offset */
    rd_kafka_header_remove(r.headers, "jp.source.offset");
    rd_kafka_header_add(r.headers, "jp.source.offset", -1, "6", -1);
    assert_int_equal(jp_dlq_open(both, 2, r.value, r.value_len, r.headers, &o, err, sizeof(err)),
                     -1);
    /* not a dead letter at all */
    rd_kafka_headers_t *none = rd_kafka_headers_new(1);
    assert_int_equal(jp_dlq_open(both, 2, value, 10, none, &o, err, sizeof(err)), -1);
    rd_kafka_headers_destroy(none);
    free(r.value);
    rd_kafka_headers_destroy(r.headers);
    jp_dlq_key_free(k);
    jp_dlq_key_free(other);
    assert_null(jp_dlq_key_new("00", err, sizeof(err)));
    assert_null(jp_dlq_key_new("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                               err, sizeof(err)));
}

static size_t headers_bytes(rd_kafka_headers_t *h)
{
    const char *name;
    const void *v;
    size_t n, total = 0;
    for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &v, &n) == 0; i++)
        total += strlen(name) + n;
    return total;
}

static void test_truncated_fits_and_says_so(void **state)
{
    (void)state;
    char err[256];
    jp_dlq_key_t *k = jp_dlq_key_new(key_hex, err, sizeof(err));
    size_t big = 1000000;
    char *payload = malloc(big);
    memset(payload, 'v', big);
    rd_kafka_headers_t *h = orig_headers();
    jp_dlq_source_t src = source(99);
    jp_dlq_record_t r;
    assert_int_equal(jp_dlq_build(k, &src, "GB", 2, payload, big, h, 1000000, &r), 0);
    assert_true(r.truncated);
    assert_true(r.value_len + r.key_len + headers_bytes(r.headers) < 1000000);
    const jp_dlq_key_t *keys[] = {k};
    jp_dlq_opened_t o;
    assert_int_equal(jp_dlq_open(keys, 1, r.value, r.value_len, r.headers, &o, err, sizeof(err)),
                     0);
    assert_non_null(strstr(o.truncated, "value_bytes=1000000,kept="));
    assert_non_null(strstr(o.truncated, "headers_dropped=2"));
    assert_true(o.value_len > 900000 && o.value_len < big);
    assert_memory_equal(o.value, payload, o.value_len); /* a prefix of the original */
    assert_int_equal(o.n_headers, 0);
    assert_int_equal(o.offset, 99);
    jp_dlq_opened_free(&o);

    /* the broker refused it: a stub with the clear headers, no value */
    jp_dlq_record_t stub;
    assert_int_equal(jp_dlq_build_stub(r.headers, r.value_len, &stub), 0);
    assert_null(stub.value);
    assert_int_equal(jp_dlq_open(keys, 1, NULL, 0, stub.headers, &o, err, sizeof(err)), 0);
    assert_false(o.has_envelope);
    assert_string_equal(o.error_class, "BAD_POSTCODE");
    assert_int_equal(o.offset, 99);
    assert_non_null(strstr(o.truncated, "kept=0,refused_by_broker=1"));
    jp_dlq_opened_free(&o);
    rd_kafka_headers_destroy(stub.headers);
    free(r.value);
    rd_kafka_headers_destroy(r.headers);
    rd_kafka_headers_destroy(h);
    free(payload);
    jp_dlq_key_free(k);
}

/* `jackpot run` refuses to start without a usable dead-letter key (only
 * `jackpot dev` has a fixed development key). */
static void test_engine_needs_a_key(void **state)
{
    (void)state;
    jp_config_t cfg;
    jp_test_config_load(&cfg);
    char *dir = jp_test_tmpdir("dlq-engine");
    free(cfg.state.dir);
    cfg.state.dir = strdup(dir);
    char *saved = cfg.dead_letters.key.value;
    jp_metrics_t *m = jp_metrics_new();
    jp_engine_opts_t run = {0, NULL, 0};
    char err[512];
    int code = 0;
    cfg.dead_letters.key.value = NULL;
    assert_null(jp_engine_new(&cfg, m, &run, &code, err, sizeof(err)));
    assert_int_equal(code, 78);
    assert_non_null(strstr(err, "dead_letters.key_file"));
    cfg.dead_letters.key.value = "not hex at all";
    assert_null(jp_engine_new(&cfg, m, &run, &code, err, sizeof(err)));
    assert_int_equal(code, 78);
    assert_non_null(strstr(err, "64 hex digits"));
    assert_null(strstr(err, "not hex at all")); /* a secret is never quoted */
    cfg.dead_letters.key.value = saved;
    jp_metrics_free(m);
    jp_config_release(&cfg);
    jp_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_nothing_in_the_clear),
        cmocka_unit_test(test_deterministic_and_distinct),
        cmocka_unit_test(test_wrong_key_altered_or_moved_do_not_open),
        cmocka_unit_test(test_truncated_fits_and_says_so),
        cmocka_unit_test(test_engine_needs_a_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
