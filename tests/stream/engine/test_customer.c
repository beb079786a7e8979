/*
 * jp_customer's encoding: random states round-trip exactly through
 * version 3 and stay within JP_CUSTOMER_ENCODED_MAX, a typical subscriber
 * is small, version 1 bytes (written here field by field, as version 1
 * did) still read, and damaged bytes are rejected rather than misread.
 *
 * The histories: holding points inserted in every order give changes whose
 * sum is the holding step function of the set of points (checked at every
 * point's time against a direct evaluation), also with a moving horizon;
 * the lifecycle history answers as-of questions whatever the order.
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
    c->renewals = any_i32(rng);
    c->n_points = (uint8_t)jp_rng_below(rng, JP_CUSTOMER_POINTS + 1);
    int64_t t = any_i64(rng) / 4;
    for (size_t i = 0; i < c->n_points; i++) {
        t += 1 + (int64_t)jp_rng_below(rng, 1000000);
        c->points[i] = (jp_customer_point_t){t, any_i32(rng), any_i32(rng), jp_rng_next(rng),
                                             (uint8_t)jp_rng_below(rng, 3)};
    }
    c->n_life = (uint8_t)jp_rng_below(rng, JP_CUSTOMER_LIFE + 1);
    for (size_t i = 0; i < c->n_life; i++) {
        t += 1 + (int64_t)jp_rng_below(rng, 1000000);
        c->life[i] = (jp_customer_life_t){t, (uint8_t)jp_rng_below(rng, 4)};
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
        assert_true(d.renewals == c.renewals && d.n_points == c.n_points && d.n_life == c.n_life);
        for (size_t i = 0; i < c.n_points; i++)
            assert_true(d.points[i].t == c.points[i].t && d.points[i].rank == c.points[i].rank &&
                        d.points[i].tickets == c.points[i].tickets &&
                        d.points[i].postcode == c.points[i].postcode &&
                        d.points[i].cls == c.points[i].cls);
        for (size_t i = 0; i < c.n_life; i++)
            assert_true(d.life[i].t == c.life[i].t && d.life[i].type == c.life[i].type);
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
    big.renewals = INT32_MIN;
    big.n_points = JP_CUSTOMER_POINTS;
    for (int i = 0; i < JP_CUSTOMER_POINTS; i++)
        big.points[i] = (jp_customer_point_t){INT64_MIN + i, INT32_MIN, INT32_MIN, 1, 2};
    big.n_life = JP_CUSTOMER_LIFE;
    for (int i = 0; i < JP_CUSTOMER_LIFE; i++)
        big.life[i] = (jp_customer_life_t){INT64_MIN + i, 1};
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
    /* with its renewal count and one holding point */
    c.renewals = 7;
    c.n_points = 1;
    c.points[0] =
        (jp_customer_point_t){1769904000000LL, 1, 2, 0x1234567890abcdefULL, JP_HOLD_ACTIVE};
    assert_true(jp_customer_encode(&c, buf) <= 60);
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
    size_t mask_at = n - 4 - 1 - 3; /* mask, one 1-byte varint, then renewals and two counts */
    buf[mask_at + 3] |= 0x80;
    assert_int_not_equal(jp_customer_deserialize(buf, n, &d), 0);
}

/* The holding at time t of a set of points: the last one at or before t. */
static const jp_customer_point_t *direct(const jp_customer_point_t *pts, size_t n, int64_t t)
{
    const jp_customer_point_t *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (pts[i].t <= t &&
            (!best || pts[i].t > best->t || (pts[i].t == best->t && pts[i].rank > best->rank)))
            best = &pts[i];
    return best;
}

/* Per postcode token 1..3: tickets of the changes at or before t. */
typedef struct {
    int64_t t;
    jp_customer_change_t ch;
} timed_change_t;

static void holdings_at(const timed_change_t *chs, size_t n, int64_t t, int64_t tickets[4],
                        int64_t cls[3])
{
    memset(tickets, 0, 4 * sizeof(int64_t));
    memset(cls, 0, 3 * sizeof(int64_t));
    for (size_t i = 0; i < n; i++) {
        if (chs[i].ch.t > t)
            continue;
        tickets[chs[i].ch.from_postcode] -= chs[i].ch.from_tickets;
        tickets[chs[i].ch.to_postcode] += chs[i].ch.to_tickets;
        cls[chs[i].ch.from_cls]--;
        cls[chs[i].ch.to_cls]++;
    }
}

static void test_holding_points_commute(void **state)
{
    (void)state;
    jp_rng_t rng;
    jp_rng_seed(&rng, 3);
    for (int trial = 0; trial < 2000; trial++) {
        jp_customer_point_t pts[6];
        size_t n = 1 + jp_rng_below(&rng, 6);
        for (size_t i = 0; i < n; i++) {
            /* distinct (t, rank): at most one event per instant and rank */
            pts[i].t = 1000 * (int64_t)i + (int64_t)jp_rng_below(&rng, 2) * 500;
            pts[i].rank = (int32_t)i;
            pts[i].cls = (uint8_t)(1 + jp_rng_below(&rng, 2));
            pts[i].tickets = pts[i].cls == JP_HOLD_ACTIVE ? 1 + (int32_t)jp_rng_below(&rng, 3) : 0;
            pts[i].postcode = 1 + jp_rng_below(&rng, 3);
        }
        /* apply in a random order; the horizon moves but never past a
         * point still to come */
        size_t order[6];
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        for (size_t i = n; i > 1; i--) {
            size_t j = jp_rng_below(&rng, i), tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        jp_customer_t c;
        jp_customer_init(&c);
        timed_change_t chs[12];
        size_t nch = 0;
        for (size_t k = 0; k < n; k++) {
            int64_t horizon = INT64_MAX;
            for (size_t m = k; m < n; m++)
                if (pts[order[m]].t < horizon)
                    horizon = pts[order[m]].t;
            jp_customer_change_t out[2];
            size_t got = jp_customer_hold(&c, &pts[order[k]], horizon, out);
            for (size_t g = 0; g < got; g++)
                chs[nch++] = (timed_change_t){out[g].t, out[g]};
        }
        for (size_t i = 0; i < n; i++) {
            int64_t tk[4], cl[3];
            holdings_at(chs, nch, pts[i].t, tk, cl);
            const jp_customer_point_t *d = direct(pts, n, pts[i].t);
            for (uint64_t pc = 1; pc <= 3; pc++)
                assert_int_equal(tk[pc], d->postcode == pc ? d->tickets : 0);
            assert_int_equal(cl[JP_HOLD_ACTIVE], d->cls == JP_HOLD_ACTIVE);
            assert_int_equal(cl[JP_HOLD_LAPSED], d->cls == JP_HOLD_LAPSED);
        }
        jp_customer_point_t now;
        jp_customer_holding(&c, &now);
        const jp_customer_point_t *last = direct(pts, n, INT64_MAX);
        assert_true(now.tickets == last->tickets && now.cls == last->cls &&
                    now.postcode == last->postcode);
        /* the same point again changes nothing */
        jp_customer_change_t out[2];
        assert_int_equal(jp_customer_hold(&c, last, INT64_MIN, out), 0);
    }
}

static jp_customer_event_t life_event(int64_t t, jp_customer_event_type_t type)
{
    jp_customer_event_t e;
    memset(&e, 0, sizeof(e));
    e.event_time = t;
    e.type = type;
    e.subscription_tickets = 1;
    return e;
}

static void test_asof(void **state)
{
    (void)state;
    const int64_t day = 86400000;
    jp_customer_event_t ev[] = {
        life_event(1 * day, JP_CUSTOMER_EVENT_SIGNUP),
        life_event(5 * day, JP_CUSTOMER_EVENT_PAYMENT_FAILED),
        life_event(9 * day, JP_CUSTOMER_EVENT_CANCEL),
        life_event(12 * day, JP_CUSTOMER_EVENT_REACTIVATE),
        life_event(20 * day, JP_CUSTOMER_EVENT_PAYMENT_FAILED),
        life_event(25 * day, JP_CUSTOMER_EVENT_PAYMENT_FAILED),
        life_event(40 * day, JP_CUSTOMER_EVENT_CANCEL),
    };
    size_t n = sizeof(ev) / sizeof(ev[0]);
    jp_customer_t a, b;
    jp_customer_init(&a);
    jp_customer_init(&b);
    for (size_t i = 0; i < n; i++) {
        jp_customer_apply_event(&a, &ev[i]);
        jp_customer_apply_event(&b, &ev[n - 1 - i]);
    }
    assert_int_equal(a.n_life, n);
    assert_memory_equal(a.life, b.life, n * sizeof(a.life[0]));
    jp_customer_asof_t q;
    jp_customer_asof(&a, 8 * day, 30 * day, &q);
    assert_true(q.signup_ms == day && q.failures == 1 && !q.reactivated && q.cancelled == 1);
    jp_customer_asof(&a, 30 * day, 10 * day, &q);
    assert_true(q.failures == 2 && q.reactivated && q.cancelled == 0);
    jp_customer_asof(&a, 30 * day, 11 * day, &q);
    assert_int_equal(q.cancelled, 1);
    jp_customer_asof(&a, day, 30 * day, &q);
    assert_true(q.signup_ms == 0 && q.failures == 0);
    /* the latest JP_CUSTOMER_LIFE are kept, whatever the order */
    for (int i = 0; i < 3 * JP_CUSTOMER_LIFE; i++) {
        jp_customer_event_t e = life_event((100 + i) * day, JP_CUSTOMER_EVENT_PAYMENT_FAILED);
        jp_customer_event_t f = life_event((100 + 3 * JP_CUSTOMER_LIFE - 1 - i) * day,
                                           JP_CUSTOMER_EVENT_PAYMENT_FAILED);
        jp_customer_apply_event(&a, &e);
        jp_customer_apply_event(&b, &f);
    }
    assert_int_equal(a.n_life, JP_CUSTOMER_LIFE);
    assert_memory_equal(a.life, b.life, sizeof(a.life));
    assert_int_equal(a.life[0].t, (100 + 2 * JP_CUSTOMER_LIFE) * day);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_typical_is_small),
        cmocka_unit_test(test_version1_still_reads),
        cmocka_unit_test(test_damage_is_rejected),
        cmocka_unit_test(test_holding_points_commute),
        cmocka_unit_test(test_asof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
