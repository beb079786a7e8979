/*
 * jp_event_time: the window of a partition's recent event times. A forged
 * record from 2100 is too far ahead whatever the partition's rate; records
 * a few hours or days apart in a sparse partition are not; a genuine jump
 * (a producer back after an outage longer than the bound) is rejected
 * until it fills half the window and then becomes the new normal; the
 * window survives its wire form (it is part of the task's state); draw
 * results are bounded in headline draws of their calendar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/jp_config.h"
#include "engine/jp_event_time.h"
#include "jp_test_engine.h"

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL
/* 2026-03-02T00:00:00Z, a Monday. */
#define T0 1772409600000LL
/* 2100-03-06T18:00:00Z */
#define Y2100 4108039200000LL

static void test_forged_record_is_too_far_at_any_rate(void **state)
{
    (void)state;
    const int64_t gaps[] = {1000, MIN_MS, HOUR_MS, 2 * DAY_MS};
    for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        jp_recent_t r;
        jp_recent_init(&r, JP_RECENT_MAX);
        int64_t t = T0;
        for (int i = 0; i < 100; i++, t += gaps[g]) {
            /* every next record of a steady partition passes */
            assert_false(jp_event_time_too_far(&r, t, 30 * DAY_MS));
            jp_recent_add(&r, t);
        }
        assert_true(jp_event_time_too_far(&r, Y2100, 30 * DAY_MS));
        /* one forged record in the window changes nothing */
        jp_recent_add(&r, Y2100);
        assert_true(jp_event_time_too_far(&r, Y2100, 30 * DAY_MS));
        assert_false(jp_event_time_too_far(&r, t, 30 * DAY_MS));
    }
}

static void test_empty_window_accepts(void **state)
{
    (void)state;
    jp_recent_t r;
    jp_recent_init(&r, JP_RECENT_MAX);
    assert_false(jp_event_time_too_far(&r, Y2100, DAY_MS));
    int64_t m;
    assert_int_equal(jp_recent_median(&r, &m), -1);
}

static void test_genuine_jump_becomes_normal(void **state)
{
    (void)state;
    jp_recent_t r;
    jp_recent_init(&r, JP_RECENT_MAX);
    int64_t t = T0;
    for (int i = 0; i < 31; i++, t += MIN_MS)
        jp_recent_add(&r, t);
    /* an outage of 60 days: the bound is 30 */
    t += 60 * DAY_MS;
    int rejected = 0;
    for (int i = 0; i < 31; i++, t += MIN_MS) {
        rejected += jp_event_time_too_far(&r, t, 30 * DAY_MS);
        jp_recent_add(&r, t); /* rejected ones enter the window too */
    }
    assert_true(rejected > 0);
    assert_true(rejected <= 16);
    assert_false(jp_event_time_too_far(&r, t, 30 * DAY_MS));
}

static void test_wire_form_round_trips(void **state)
{
    (void)state;
    jp_recent_t r, back;
    jp_recent_init(&r, JP_RECENT_MAX);
    for (int i = 0; i < 40; i++)
        jp_recent_add(&r, T0 + (i * 7919 % 31) * MIN_MS);
    uint8_t wire[JP_RECENT_WIRE_LEN];
    jp_recent_encode(&r, wire);
    jp_recent_init(&back, JP_RECENT_MAX);
    assert_int_equal(jp_recent_decode(&back, wire, sizeof(wire)), 0);
    int64_t a, b;
    assert_int_equal(jp_recent_median(&r, &a), 0);
    assert_int_equal(jp_recent_median(&back, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(back.n, r.n);
    assert_int_equal(back.next, r.next);
    assert_memory_equal(back.t, r.t, sizeof(r.t));
    /* a window of another size, or a short buffer, is refused and empty */
    jp_recent_t other;
    jp_recent_init(&other, JP_RECENT_DRAWS);
    assert_int_equal(jp_recent_decode(&other, wire, sizeof(wire)), -1);
    assert_int_equal(other.n, 0);
    assert_int_equal(jp_recent_decode(&back, wire, sizeof(wire) - 1), -1);
    assert_int_equal(back.n, 0);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The sorted copy is always the ring's values sorted, through wrap-around,
 * repeated values and a round trip through the wire form. */
static void test_sorted_copy_follows_the_ring(void **state)
{
    (void)state;
    jp_recent_t r;
    jp_recent_init(&r, JP_RECENT_MAX);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 500; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        jp_recent_add(&r, T0 + (int64_t)(x % 50) * MIN_MS);
        int64_t want[JP_RECENT_MAX];
        memcpy(want, r.t, r.n * sizeof(want[0]));
        qsort(want, r.n, sizeof(want[0]), cmp64);
        assert_memory_equal(r.sorted, want, r.n * sizeof(want[0]));
        int64_t m;
        assert_int_equal(jp_recent_median(&r, &m), 0);
        assert_int_equal(m, want[(r.n - 1) / 2]);
    }
    uint8_t wire[JP_RECENT_WIRE_LEN];
    jp_recent_encode(&r, wire);
    jp_recent_t back;
    jp_recent_init(&back, JP_RECENT_MAX);
    assert_int_equal(jp_recent_decode(&back, wire, sizeof(wire)), 0);
    assert_memory_equal(back.sorted, r.sorted, r.n * sizeof(r.sorted[0]));
}

static void test_draws_bounded_in_headline_draws(void **state)
{
    (void)state;
    jp_config_t cfg;
    jp_test_config_load(&cfg);
    char err[256];
    jp_calendar_t *cal = jp_calendar_new(jp_config_country(&cfg, "NL"), err, sizeof(err));
    assert_non_null(cal);
    /* NL draws monthly: nine draw results span eight months */
    jp_recent_t r;
    jp_recent_init(&r, JP_RECENT_DRAWS);
    jp_draw_t d;
    int64_t t = T0;
    for (int i = 0; i < 9; i++) {
        assert_int_equal(jp_calendar_next_draw(cal, t, 1, &d), 0);
        t = d.time_ms;
        assert_false(jp_event_time_too_many_draws(&r, cal, t, 12));
        jp_recent_add(&r, t);
    }
    assert_int_equal(jp_calendar_next_draw(cal, t, 1, &d), 0);
    assert_false(jp_event_time_too_many_draws(&r, cal, d.time_ms, 12));
    assert_true(jp_event_time_too_many_draws(&r, cal, Y2100, 12));
    assert_true(jp_event_time_too_many_draws(&r, cal, t + 400 * DAY_MS, 12));
    jp_calendar_free(cal);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_record_is_too_far_at_any_rate),
        cmocka_unit_test(test_empty_window_accepts),
        cmocka_unit_test(test_genuine_jump_becomes_normal),
        cmocka_unit_test(test_wire_form_round_trips),
        cmocka_unit_test(test_sorted_copy_follows_the_ring),
        cmocka_unit_test(test_draws_bounded_in_headline_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
