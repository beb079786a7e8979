/*
 * jp_holdings on its own: random deltas (customer holding changes and
 * extra tickets) queued in a random order and folded at increasing times
 * give, after every fold, exactly the per-postcode sums of the deltas
 * older than the fold time - the histogram, the participating postcodes
 * and the subscriber counts all agree with a direct computation - and a
 * copy rebuilt from what persistence writes (the dirty postcodes, the
 * dirty hours of pending deltas, the summary) agrees too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/jp_holdings.h"
#include "model/base/jp_rng.h"

#define POSTCODES 40
#define DELTAS    3000

typedef struct {
    int64_t t;
    jp_customer_change_t ch;
} item_t;

/* What persistence wrote: tickets per postcode (0: deleted), pending
 * deltas per hour. */
#define HOURS 64
typedef struct {
    int64_t tickets[POSTCODES + 1];
    int present[POSTCODES + 1];
    void *hour[HOURS];
    size_t hour_len[HOURS];
} store_t;

static int put_hour(void *ctx, int64_t hour, const void *buf, size_t len)
{
    store_t *s = ctx;
    assert_true(hour >= 0 && hour < HOURS);
    free(s->hour[hour]);
    s->hour[hour] = len ? malloc(len) : NULL;
    if (len)
        memcpy(s->hour[hour], buf, len);
    s->hour_len[hour] = len;
    return 0;
}

static int put(void *ctx, uint64_t postcode, int64_t tickets)
{
    store_t *s = ctx;
    assert_true(postcode >= 1 && postcode <= POSTCODES);
    s->tickets[postcode] = tickets;
    s->present[postcode] = tickets != 0;
    return 0;
}

/* Checks h against the deltas of items older than to. */
static void check(jp_holdings_t *h, const item_t *items, size_t n, int64_t to)
{
    int64_t tickets[POSTCODES + 1] = {0}, held = 0, lapsed = 0;
    for (size_t i = 0; i < n; i++) {
        const jp_customer_change_t *c = &items[i].ch;
        if (c->t >= to)
            continue;
        if (c->from_postcode)
            tickets[c->from_postcode] -= c->from_tickets;
        if (c->to_postcode)
            tickets[c->to_postcode] += c->to_tickets;
        held += (c->to_cls == JP_HOLD_ACTIVE) - (c->from_cls == JP_HOLD_ACTIVE);
        lapsed += (c->to_cls == JP_HOLD_LAPSED) - (c->from_cls == JP_HOLD_LAPSED);
    }
    int64_t hist[64] = {0};
    for (int p = 1; p <= POSTCODES; p++)
        if (tickets[p] >= 1) {
            assert_true(tickets[p] < 64);
            hist[tickets[p]]++;
        }
    size_t nh;
    const jp_held_tickets_t *got = jp_holdings_histogram(h, &nh);
    size_t k = 0;
    for (int64_t v = 1; v < 64; v++)
        if (hist[v]) {
            assert_true(k < nh);
            assert_int_equal(got[k].tickets, v);
            assert_int_equal(got[k].postcodes, hist[v]);
            k++;
        }
    assert_int_equal(k, nh);
    int64_t gh, gl;
    jp_holdings_subscribers(h, &gh, &gl);
    assert_int_equal(gh, held);
    assert_int_equal(gl, lapsed);
    assert_int_equal(jp_holdings_folded(h), to);
}

static void test_fold_matches_direct_sums(void **state)
{
    (void)state;
    jp_rng_t rng;
    jp_rng_seed(&rng, 5);
    item_t *items = calloc(DELTAS, sizeof(*items));
    assert_non_null(items);
    /* Changes that keep every postcode >= 0 when applied in time order:
     * a customer moves between postcodes and classes; an extra ticket is
     * an add and a later removal. */
    size_t n = 0;
    for (int c = 0; n + 8 < DELTAS; c++) {
        int64_t t = (int64_t)jp_rng_below(&rng, 1000);
        jp_customer_change_t prev = {0, 0, 0, 0, 0, JP_HOLD_NONE, JP_HOLD_NONE};
        for (int step = 0; step < 4; step++) {
            jp_customer_change_t ch = prev;
            ch.t = t;
            ch.from_postcode = prev.to_postcode;
            ch.from_tickets = prev.to_tickets;
            ch.from_cls = prev.to_cls;
            ch.to_cls = (uint8_t)(1 + jp_rng_below(&rng, 2));
            ch.to_postcode = 1 + jp_rng_below(&rng, POSTCODES);
            ch.to_tickets = ch.to_cls == JP_HOLD_ACTIVE ? 1 + (int32_t)jp_rng_below(&rng, 3) : 0;
            items[n++] = (item_t){t, ch};
            prev = ch;
            t += 1 + (int64_t)jp_rng_below(&rng, 300);
        }
        if (jp_rng_below(&rng, 3) == 0) { /* an extra purchase held until its draw */
            uint64_t pc = 1 + jp_rng_below(&rng, POSTCODES);
            int32_t k = 1 + (int32_t)jp_rng_below(&rng, 2);
            int64_t at = (int64_t)jp_rng_below(&rng, 2000);
            items[n++] = (item_t){at, {at, 0, pc, 0, k, JP_HOLD_NONE, JP_HOLD_NONE}};
            items[n++] = (item_t){at + 150, {at + 150, pc, 0, k, 0, JP_HOLD_NONE, JP_HOLD_NONE}};
        }
    }
    /* queue in a random order, folding at increasing times in between;
     * a delta is never older than the last fold */
    size_t *order = malloc(n * sizeof(*order));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = jp_rng_below(&rng, i), tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    jp_holdings_t *h = jp_holdings_new();
    store_t st;
    memset(&st, 0, sizeof(st));
    assert_non_null(h);
    size_t queued = 0;
    for (int64_t to = 100;; to += 100) {
        /* every item older than the fold to come and a random share of the
         * later ones, in the shuffled order */
        for (size_t i = 0; i < n; i++) {
            item_t *it = &items[order[i]];
            if (it->t == INT64_MIN)
                continue;
            if (it->t < to || jp_rng_below(&rng, 4) == 0) {
                if (it->ch.from_postcode || it->ch.from_cls || it->ch.to_cls)
                    assert_int_equal(jp_holdings_change(h, &it->ch), 0);
                else
                    assert_int_equal(
                        jp_holdings_delta(h, it->t, it->ch.to_postcode, it->ch.to_tickets), 0);
                it->t = INT64_MIN; /* queued */
                queued++;
            }
        }
        assert_int_equal(jp_holdings_fold(h, to), 0);
        check(h, items, n, to);
        assert_int_equal(jp_holdings_take_dirty(h, put, &st), 0);
        assert_int_equal(jp_holdings_take_pending(h, put_hour, &st), 0);
        /* a copy rebuilt from what persistence wrote agrees, now and after
         * both fold the rest */
        jp_bytes_writer_t w;
        jp_bytes_writer_init(&w);
        jp_holdings_serialize(h, &w);
        assert_false(jp_holdings_summary_dirty(h));
        jp_holdings_t *copy = jp_holdings_new();
        assert_int_equal(jp_holdings_load_summary(copy, w.buf, w.len), 0);
        for (uint64_t p = 1; p <= POSTCODES; p++)
            if (st.present[p])
                assert_int_equal(jp_holdings_load_postcode(copy, p, st.tickets[p]), 0);
        for (int hr = 0; hr < HOURS; hr++)
            if (st.hour_len[hr])
                assert_int_equal(jp_holdings_load_hour(copy, st.hour[hr], st.hour_len[hr]), 0);
        jp_bytes_writer_free(&w);
        check(copy, items, n, to);
        if (to == 1200) {
            for (size_t i = 0; i < n; i++) /* the rest queued in h, folded by both */
                if (items[order[i]].t != INT64_MIN) {
                    item_t *it = &items[order[i]];
                    if (it->ch.from_postcode || it->ch.from_cls || it->ch.to_cls)
                        assert_int_equal(jp_holdings_change(h, &it->ch), 0);
                    else
                        assert_int_equal(
                            jp_holdings_delta(h, it->t, it->ch.to_postcode, it->ch.to_tickets), 0);
                    it->t = INT64_MIN;
                    queued++;
                }
            assert_int_equal(jp_holdings_take_pending(h, put_hour, &st), 0);
            jp_holdings_t *again = jp_holdings_new();
            for (uint64_t p = 1; p <= POSTCODES; p++)
                if (st.present[p])
                    assert_int_equal(jp_holdings_load_postcode(again, p, st.tickets[p]), 0);
            for (int hr = 0; hr < HOURS; hr++)
                if (st.hour_len[hr])
                    assert_int_equal(jp_holdings_load_hour(again, st.hour[hr], st.hour_len[hr]), 0);
            jp_bytes_writer_init(&w);
            jp_holdings_serialize(h, &w);
            assert_int_equal(jp_holdings_load_summary(again, w.buf, w.len), 0);
            jp_bytes_writer_free(&w);
            assert_int_equal(jp_holdings_fold(h, 2600), 0);
            assert_int_equal(jp_holdings_fold(again, 2600), 0);
            check(h, items, n, 2600);
            check(again, items, n, 2600);
            jp_holdings_free(again);
            jp_holdings_free(copy);
            break;
        }
        jp_holdings_free(copy);
    }
    assert_int_equal(queued, n);
    jp_holdings_free(h);
    for (int hr = 0; hr < HOURS; hr++)
        free(st.hour[hr]);
    free(order);
    free(items);
}

static void test_corrupt_input_is_refused(void **state)
{
    (void)state;
    jp_holdings_t *h = jp_holdings_new();
    assert_int_equal(jp_holdings_delta(h, 5, 7, 2), 0);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_holdings_serialize(h, &w);
    jp_holdings_t *c = jp_holdings_new();
    assert_int_not_equal(jp_holdings_load_summary(c, w.buf, w.len - 1), 0);
    store_t st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(jp_holdings_take_pending(h, put_hour, &st), 0);
    assert_true(st.hour_len[0] > 0);
    assert_int_not_equal(jp_holdings_load_hour(c, st.hour[0], st.hour_len[0] - 1), 0);
    free(st.hour[0]);
    assert_int_not_equal(jp_holdings_load_postcode(c, 0, 1), 0); /* token 0 is "none" */
    jp_bytes_writer_free(&w);
    jp_holdings_free(c);
    jp_holdings_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_matches_direct_sums),
        cmocka_unit_test(test_corrupt_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
