/*
 * jp_endian: the byte layout of each width and order written out byte by
 * byte, unaligned access, round trips, and that the sortable form orders
 * signed values under memcmp as numbers (negative before positive).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_endian.h"

#include <string.h>

/* After a put, p holds the n bytes want, and the get read the value back. */
static void check(const uint8_t *p, const char *want, size_t n, int read_back)
{
    assert_memory_equal(p, want, n);
    assert_true(read_back);
}

static void test_layouts(void **state)
{
    (void)state;
    uint8_t buf[1 + 8];
    uint8_t *p = buf + 1; /* unaligned on purpose */
    const uint32_t a = 0x01020304u;
    const uint64_t b = 0x0102030405060708ull;
    jp_be32_put(p, a);
    check(p, "\x01\x02\x03\x04", 4, jp_be32_get(p) == a);
    jp_le32_put(p, a);
    check(p, "\x04\x03\x02\x01", 4, jp_le32_get(p) == a);
    jp_be64_put(p, b);
    check(p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8, jp_be64_get(p) == b);
    jp_le64_put(p, b);
    check(p, "\x08\x07\x06\x05\x04\x03\x02\x01", 8, jp_le64_get(p) == b);
}

static void test_sortable_orders_signed_values(void **state)
{
    (void)state;
    const int64_t v[] = {INT64_MIN, -86400000, -1, 0, 1, 3600000, INT64_MAX};
    const size_t n = sizeof v / sizeof v[0];
    uint8_t k[sizeof v / sizeof v[0]][8];
    for (size_t i = 0; i < n; i++) {
        jp_be64_put_sortable(k[i], v[i]);
        assert_true(jp_be64_get_sortable(k[i]) == v[i]);
    }
    for (size_t i = 0; i + 1 < n; i++)
        assert_true(memcmp(k[i], k[i + 1], 8) < 0);
    assert_memory_equal(k[3], "\x80\x00\x00\x00\x00\x00\x00\x00", 8); /* 0 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_sortable_orders_signed_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
