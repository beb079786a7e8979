/*
 * jp_bytes: exact round trips, fixed little-endian layout, sticky errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_bytes.h"

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
        cmocka_unit_test(test_truncation_and_bad_header_are_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
