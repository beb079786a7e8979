/*
 * jp_bytes: exact round trips, fixed little-endian layout, sticky errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_bytes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_roundtrip_exact(void **state)
{
    (void)state;
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, "TEST", 3);
    jp_bytes_put_u8(&w, 0xab);
    jp_bytes_put_u16(&w, 0xbeef);
    jp_bytes_put_u32(&w, 0xdeadbeefu);
    jp_bytes_put_u64(&w, 0x0123456789abcdefull);
    jp_bytes_put_i64(&w, -42);
    jp_bytes_put_f64(&w, -0.0);
    jp_bytes_put_f64(&w, 0.1);
    jp_bytes_put_f64(&w, INFINITY);
    size_t len;
    uint8_t *buf = jp_bytes_writer_take(&w, &len);
    assert_non_null(buf);
    assert_int_equal(len, 6 + 1 + 2 + 4 + 8 + 8 + 8 * 3);

    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    assert_int_equal(jp_bytes_get_header(&r, "TEST", 3), 3);
    assert_int_equal(jp_bytes_get_u8(&r), 0xab);
    assert_int_equal(jp_bytes_get_u16(&r), 0xbeef);
    assert_int_equal(jp_bytes_get_u32(&r), 0xdeadbeefu);
    assert_true(jp_bytes_get_u64(&r) == 0x0123456789abcdefull);
    assert_true(jp_bytes_get_i64(&r) == -42);
    double z = jp_bytes_get_f64(&r);
    assert_true(z == 0.0 && signbit(z));
    assert_true(jp_bytes_get_f64(&r) == 0.1);
    assert_true(isinf(jp_bytes_get_f64(&r)));
    assert_true(jp_bytes_reader_done(&r));
    free(buf);
}

static void test_little_endian_layout(void **state)
{
    (void)state;
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_u32(&w, 0x01020304u);
    assert_int_equal(w.len, 4);
    assert_int_equal(w.buf[0], 0x04);
    assert_int_equal(w.buf[3], 0x01);
    jp_bytes_writer_free(&w);
}

/* The fixed writer writes the same bytes as the growing one, never
 * reallocates the caller's buffer, and flags (without overrunning) a write
 * past its end. */
static void test_fixed_writer(void **state)
{
    (void)state;
    uint8_t buf[16];
    memset(buf, 0xee, sizeof(buf));
    jp_bytes_writer_t f, g;
    jp_bytes_writer_init_fixed(&f, buf, 12);
    jp_bytes_writer_init(&g);
    jp_bytes_put_header(&f, "TEST", 2);
    jp_bytes_put_header(&g, "TEST", 2);
    jp_bytes_put_u32(&f, 0xa1b2c3d4u);
    jp_bytes_put_u32(&g, 0xa1b2c3d4u);
    assert_int_equal(f.oom, 0);
    assert_int_equal(f.len, 10);
    assert_ptr_equal(f.buf, buf);
    assert_memory_equal(buf, g.buf, 10);
    jp_bytes_put_u32(&f, 1); /* 14 > 12 */
    assert_int_equal(f.oom, 1);
    assert_int_equal(buf[12], 0xee);
    assert_null(jp_bytes_writer_take(&f, NULL)); /* the caller's buffer is not handed out */
    jp_bytes_writer_free(&g);
}

/* Varints round-trip at every boundary, have Avro's lengths, and reject
 * truncation and overlong encodings. */
static void test_varint(void **state)
{
    (void)state;
    const int64_t v[] = {0,         -1,        1,         63,        -64,
                         64,        -65,       8191,      -8192,     8192,
                         INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 1767225600000LL};
    const size_t len[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 5, 5, 10, 10, 6};
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    size_t total = 0;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t before = w.len;
        jp_bytes_put_varint(&w, v[i]);
        assert_int_equal(w.len - before, len[i]);
        total += len[i];
    }
    assert_int_equal(w.len, total);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_true(jp_bytes_get_varint(&r) == v[i]);
    assert_true(jp_bytes_reader_done(&r));
    jp_bytes_reader_init(&r, w.buf, w.len - 1); /* the last varint cut short */
    for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++)
        jp_bytes_get_varint(&r);
    jp_bytes_get_varint(&r);
    assert_false(jp_bytes_reader_ok(&r));
    jp_bytes_writer_free(&w);
    const uint8_t overlong[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0};
    jp_bytes_reader_init(&r, overlong, sizeof(overlong));
    jp_bytes_get_varint(&r);
    assert_false(jp_bytes_reader_ok(&r));
}

static void test_truncation_and_bad_header_are_sticky(void **state)
{
    (void)state;
    const uint8_t bytes[] = {'T', 'E', 'S', 'T', 9, 0, 1, 2};
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, bytes, sizeof(bytes));
    assert_int_equal(jp_bytes_get_header(&r, "TEST", 3), 0); /* version 9 > 3 */
    assert_false(jp_bytes_reader_ok(&r));
    assert_int_equal(jp_bytes_get_u8(&r), 0);

    jp_bytes_reader_init(&r, bytes, 3);
    assert_int_equal(jp_bytes_get_u32(&r), 0);
    assert_false(jp_bytes_reader_ok(&r));

    jp_bytes_reader_init(&r, bytes, sizeof(bytes));
    assert_int_equal(jp_bytes_get_header(&r, "NOPE", 9), 0);
    assert_false(jp_bytes_reader_ok(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_exact),
        cmocka_unit_test(test_little_endian_layout),
        cmocka_unit_test(test_fixed_writer),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_truncation_and_bad_header_are_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
