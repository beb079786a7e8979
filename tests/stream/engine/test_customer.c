/*
 * jp_customer's encoding: random states round-trip exactly through
 * version 2 and stay within JP_CUSTOMER_ENCODED_MAX, a typical subscriber
 * is small, version 1 bytes (written here field by field, as version 1
 * did) still read, and damaged bytes are rejected rather than misread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "model/base/jp_bytes.h"
#include "engine/jp_customer.h"
#include "model/base/jp_rng.h"

static int64_t any_i64(jp_rng_t *rng)
{
    switch (jp_rng_below(rng, 4)) {
    case 0:
        return 0;
    case 1:
        return (int64_t)jp_rng_below(rng, 100) - 50;
    case 2:
        return 1767225600000LL + (int64_t)jp_rng_below(rng, 1000000000);
    default:
        return (int64_t)jp_rng_next(rng); /* extremes included */
    }
}

static int32_t any_i32(jp_rng_t *rng)
{
    return jp_rng_below(rng, 3) ? (int32_t)jp_rng_below(rng, 20) : (int32_t)jp_rng_next(rng);
}

static void random_customer(jp_rng_t *rng, jp_customer_t *c)
{
    memset(c, 0, sizeof(*c));
    c->signup_ms = any_i64(rng);
    c->last_activity_ms = any_i64(rng);
    c->status_ms = any_i64(rng);
    c->status_rank = any_i32(rng);
    c->status = (uint8_t)jp_rng_below(rng, 3);
    c->tickets_held = any_i32(rng);
    c->newest_week = any_i64(rng);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++) {
        c->week_tickets[i] = jp_rng_below(rng, 2) ? any_i32(rng) : 0;
        c->week_failures[i] = jp_rng_below(rng, 4) ? 0 : any_i32(rng);
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    jp_rng_t rng;
    jp_rng_seed(&rng, 7);
    for (int k = 0; k < 20000; k++) {
        jp_customer_t c, d;
        random_customer(&rng, &c);
        uint8_t buf[JP_CUSTOMER_ENCODED_MAX];
        size_t n = jp_customer_encode(&c, buf);
        assert_true(n > 6 && n <= JP_CUSTOMER_ENCODED_MAX);
        memset(&d, 0xa5, sizeof(d));
        assert_int_equal(jp_customer_deserialize(buf, n, &d), 0);
        assert_true(d.signup_ms == c.signup_ms && d.last_activity_ms == c.last_activity_ms &&
                    d.status_ms == c.status_ms && d.status_rank == c.status_rank &&
                    d.status == c.status && d.tickets_held == c.tickets_held &&
                    d.newest_week == c.newest_week);
        assert_memory_equal(d.week_tickets, c.week_tickets, sizeof(c.week_tickets));
        assert_memory_equal(d.week_failures, c.week_failures, sizeof(c.week_failures));
        size_t sn = 0;
        uint8_t *s = jp_customer_serialize(&c, &sn);
        assert_non_null(s);
        assert_int_equal(sn, n);
        assert_memory_equal(s, buf, n);
        free(s);
        /* Every proper prefix is rejected. */
        assert_int_not_equal(jp_customer_deserialize(buf, n - 1 - jp_rng_below(&rng, n - 1), &d),
                             0);
    }
    /* The largest state fits the bound exactly as documented. */
    jp_customer_t big;
    memset(&big, 0, sizeof(big));
    big.signup_ms = big.last_activity_ms = big.status_ms = big.newest_week = INT64_MIN;
    big.status_rank = big.tickets_held = INT32_MIN;
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++)
        big.week_tickets[i] = big.week_failures[i] = INT32_MIN;
    uint8_t buf[JP_CUSTOMER_ENCODED_MAX];
    assert_int_equal(jp_customer_encode(&big, buf), JP_CUSTOMER_ENCODED_MAX);
}

static void test_typical_is_small(void **state)
{
    (void)state;
    jp_customer_t c;
    jp_customer_init(&c);
    c.signup_ms = 1767225600000LL;
    c.last_activity_ms = c.status_ms = 1769904000000LL;
    c.status = JP_CUSTOMER_STATUS_ACTIVE;
    c.tickets_held = 2;
    c.newest_week = 2926;
    c.week_tickets[1] = 2;
    c.week_tickets[5] = 3;
    uint8_t buf[JP_CUSTOMER_ENCODED_MAX];
    assert_true(jp_customer_encode(&c, buf) <= 40);
}

static void test_version1_still_reads(void **state)
{
    (void)state;
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, "CUST", 1);
    jp_bytes_put_i64(&w, 11);
    jp_bytes_put_i64(&w, 22);
    jp_bytes_put_i64(&w, 33);
    jp_bytes_put_u32(&w, 4);
    jp_bytes_put_u8(&w, 1);
    jp_bytes_put_u32(&w, 5);
    jp_bytes_put_i64(&w, 66);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++) {
        jp_bytes_put_u32(&w, (uint32_t)i);
        jp_bytes_put_u32(&w, (uint32_t)(100 + i));
    }
    assert_int_equal(w.len, 151);
    jp_customer_t c;
    assert_int_equal(jp_customer_deserialize(w.buf, w.len, &c), 0);
    assert_true(c.signup_ms == 11 && c.last_activity_ms == 22 && c.status_ms == 33 &&
                c.status_rank == 4 && c.status == 1 && c.tickets_held == 5 && c.newest_week == 66);
    assert_int_equal(c.week_tickets[12], 12);
    assert_int_equal(c.week_failures[3], 103);
    jp_bytes_writer_free(&w);
}

static void test_damage_is_rejected(void **state)
{
    (void)state;
    jp_customer_t c, d;
    jp_customer_init(&c);
    c.week_tickets[0] = 1;
    uint8_t buf[JP_CUSTOMER_ENCODED_MAX];
    size_t n = jp_customer_encode(&c, buf);
    buf[4] = 9; /* version 9 */
    assert_int_not_equal(jp_customer_deserialize(buf, n, &d), 0);
    n = jp_customer_encode(&c, buf);
    uint8_t longer[JP_CUSTOMER_ENCODED_MAX + 1];
    memcpy(longer, buf, n);
    longer[n] = 0; /* trailing byte */
    assert_int_not_equal(jp_customer_deserialize(longer, n + 1, &d), 0);
    /* A mask bit beyond the two rings. */
    size_t mask_at = n - 4 - 1; /* mask, then one 1-byte varint */
    buf[mask_at + 3] |= 0x80;
    assert_int_not_equal(jp_customer_deserialize(buf, n, &d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_typical_is_small),
        cmocka_unit_test(test_version1_still_reads),
        cmocka_unit_test(test_damage_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
