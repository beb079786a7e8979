/*
 * jp_window on its own: the channel symbols agree with SaleEvent.avsc, a
 * window's content does not depend on the order of its records (the
 * property that makes closed windows deterministic), the state-store
 * encoding round-trips exactly, state keys sort by country, kind and time,
 * and the FeatureVector carries the definitions of jp_window.h (extra
 * tickets, channel mix, unique players, sector quantiles, subscribers,
 * prizes). The step signals: a day whose prize and campaign change
 * mid-window gets the exact time-weighted mean and variance of ln(prize)
 * and campaign shares, the next day starts from the signals in force, and
 * the holdings snapshot reaches the features (exact quantiles, mean) and
 * survives serialization.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_config.h"
#include "engine/jp_window.h"
#include "jp_test.h"
#include "jp_test_num.h"
#include "model/base/jp_rng.h"

static jp_avro_str_t str(const char *s)
{
    return (jp_avro_str_t){s, strlen(s)};
}

static void test_channel_names_match_schema(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/schemas/SaleEvent.avsc", jp_test_src());
    json_error_t jerr;
    json_t *schema = json_load_file(path, 0, &jerr);
    assert_non_null(schema);
    json_t *fields = json_object_get(schema, "fields"), *symbols = NULL;
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(json_string_value(json_object_get(f, "name")), "channel") == 0)
            symbols = json_object_get(json_object_get(f, "type"), "symbols");
    }
    assert_int_equal(json_array_size(symbols), JP_WINDOW_N_CHANNELS);
    for (size_t i = 0; i < JP_WINDOW_N_CHANNELS; i++)
        assert_string_equal(jp_window_channel_name((jp_sale_channel_t)i),
                            json_string_value(json_array_get(symbols, i)));
    json_decref(schema);
}

/* One list of window kind names: serde's (features, metrics, status) and
 * the one windows.sizes accepts (config may not include serde). */
static void test_window_kind_names_agree(void **state)
{
    (void)state;
    for (int k = JP_WINDOW_HOUR; k < JP_WINDOW_UNKNOWN; k++)
        assert_string_equal(jp_window_kind_name((jp_window_kind_t)k), jp_config_window_kinds[k]);
    assert_null(jp_config_window_kinds[JP_WINDOW_UNKNOWN]);
    assert_null(jp_window_kind_name(JP_WINDOW_UNKNOWN));
}

typedef struct {
    char token[16], sector[12];
    jp_sale_event_t e;
} sale_t;

static void make_sales(sale_t *s, size_t n, jp_rng_t *rng)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(s[i].token, sizeof s[i].token, "tok%u", (unsigned)jp_rng_below(rng, 50));
        snprintf(s[i].sector, sizeof s[i].sector, "AB%u 1", (unsigned)jp_rng_below(rng, 9));
        memset(&s[i].e, 0, sizeof s[i].e);
        s[i].e.country = str("GB");
        s[i].e.tickets = 1 + (int32_t)jp_rng_below(rng, 3);
        s[i].e.amount_minor = 1225 * s[i].e.tickets;
        s[i].e.channel = (jp_sale_channel_t)jp_rng_below(rng, JP_WINDOW_N_CHANNELS);
    }
}

static jp_window_t *window_of(const sale_t *s, const size_t *order, size_t n)
{
    jp_window_t *w = jp_window_new("GB", JP_WINDOW_HOUR, 0, 3600000);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        jp_window_sale_keys_t k;
        jp_window_sale_keys(&k, s[order[i]].token, s[order[i]].sector);
        jp_window_add_sale(w, &s[order[i]].e, &k);
    }
    return w;
}

static void test_order_does_not_matter(void **state)
{
    (void)state;
    enum { N = 400 };
    static sale_t sales[N];
    size_t order[N];
    jp_rng_t rng;
    jp_rng_seed(&rng, 7);
    make_sales(sales, N, &rng);
    for (size_t i = 0; i < N; i++)
        order[i] = i;
    jp_window_t *a = window_of(sales, order, N);
    for (size_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)jp_rng_below(&rng, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    jp_window_t *b = window_of(sales, order, N);
    size_t la, lb;
    uint8_t *ba = jp_window_serialize(a, &la), *bb = jp_window_serialize(b, &lb);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);

    int64_t tickets = 0;
    for (size_t i = 0; i < N; i++)
        tickets += sales[i].e.tickets;
    assert_int_equal(a->tickets, tickets);

    char err[256];
    jp_window_t *c = jp_window_deserialize(ba, la, err, sizeof err);
    assert_non_null(c);
    size_t lc;
    uint8_t *bc = jp_window_serialize(c, &lc);
    assert_int_equal(lc, la);
    assert_memory_equal(bc, ba, la);
    assert_null(jp_window_deserialize(ba, la - 1, err, sizeof err));
    free(ba);
    free(bb);
    free(bc);
    jp_window_free(a);
    jp_window_free(b);
    jp_window_free(c);
}

static jp_sale_event_t signal_sale(int64_t t, int64_t prize, const char *campaign,
                                   jp_sale_purchase_t purchase)
{
    jp_sale_event_t e;
    memset(&e, 0, sizeof(e));
    e.country = str("GB");
    e.event_time = t;
    e.tickets = 2;
    e.amount_minor = 2450;
    e.channel = JP_SALE_CHANNEL_WEB;
    e.advertised_prize_minor = prize;
    e.has_purchase = 1;
    e.purchase = purchase;
    if (campaign) {
        e.has_campaign = 1;
        e.campaign = str(campaign);
    }
    return e;
}

static void add(jp_window_t *w, jp_window_signals_t *sig, const jp_sale_event_t *e)
{
    jp_window_sale_keys_t k;
    jp_window_sale_keys(&k, "tok", "AB1 1");
    k.signals = sig;
    jp_window_add_sale(w, e, &k);
    jp_window_signals_apply(sig, e);
}

static void test_signals_and_holdings(void **state)
{
    (void)state;
    const int64_t h = 3600000, day = 24 * h;
    jp_window_signals_t sig;
    memset(&sig, 0, sizeof(sig));
    /* before the day: prize 100 and campaign "tv" running */
    jp_window_t *pre = jp_window_new("GB", JP_WINDOW_DAY, -day, 0);
    jp_sale_event_t e = signal_sale(-h, 100, "tv", JP_SALE_PURCHASE_EXTRA);
    add(pre, &sig, &e);
    jp_window_free(pre);

    jp_window_t *w = jp_window_new("GB", JP_WINDOW_DAY, 0, day);
    e = signal_sale(6 * h, 100, "tv", JP_SALE_PURCHASE_NEW_SUBSCRIPTION); /* still tv */
    add(w, &sig, &e);
    e = signal_sale(12 * h, 400, NULL, JP_SALE_PURCHASE_EXTRA); /* tv ends, prize 400 */
    add(w, &sig, &e);
    e = signal_sale(18 * h, 400, "web", JP_SALE_PURCHASE_RENEWAL); /* renewals carry no campaign */
    add(w, &sig, &e);
    e = signal_sale(3 * h, 999, NULL, JP_SALE_PURCHASE_EXTRA); /* late: does not rewrite */
    add(w, &sig, &e);

    jp_held_tickets_t hist[] = {{1, 6}, {2, 3}, {5, 1}};
    assert_int_equal(jp_window_set_holdings(w, 12, 4, hist, 3), 0);

    /* round trip, then features */
    size_t n, n2;
    uint8_t *b = jp_window_serialize(w, &n);
    char err[128];
    jp_window_t *c = jp_window_deserialize(b, n, err, sizeof(err));
    assert_non_null(c);
    uint8_t *b2 = jp_window_serialize(c, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(b, b2, n);
    jp_window_fv_scratch_t scratch;
    jp_feature_vector_t fv;
    jp_window_to_features(c, 0, &scratch, &fv);

    double l1 = log(100), l4 = log(400); /* 100 for 12 h, 400 for 12 h */
    assert_true(fv.has_log_prize_mean);
    assert_true(fabs(fv.log_prize_mean - (l1 + l4) / 2) < 1e-12);
    assert_true(fabs(fv.log_prize_var - (l4 - l1) * (l4 - l1) / 4) < 1e-9);
    assert_int_equal(fv.advertised_prize_minor, 400);
    assert_int_equal(fv.campaign_shares.n, 1); /* tv: half the day; web never ran */
    assert_memory_equal(fv.campaign_shares.keys[0].ptr, "tv", 2);
    assert_true(fabs(((const double *)fv.campaign_shares.values)[0] - 0.5) < 1e-12);
    assert_int_equal(fv.new_subscriptions, 1);
    assert_int_equal(fv.signup_tickets_sq, 4);
    assert_int_equal(fv.renewals, 1);
    assert_int_equal(fv.extra_purchases, 2);
    assert_int_equal(fv.extra_tickets, 4);
    assert_int_equal(fv.extra_tickets_sq, 8);
    assert_int_equal(fv.subscribers_held, 12);
    assert_int_equal(fv.subscribers_lapsed, 4);
    assert_int_equal(fv.participating_postcodes, 10);
    assert_int_equal(fv.held_tickets, 6 + 6 + 5);
    assert_true(fabs(fv.held_tickets_mean - 1.7) < 1e-12);
    /* nearest rank over 10 postcodes: 1 x6, 2 x3, 5 x1 */
    const double *q = fv.held_ticket_quantiles.items, want[] = {1, 2, 5, 5, 5};
    assert_int_equal(fv.held_ticket_quantiles.n, JP_WINDOW_N_HELD_QUANTILES);
    for (size_t i = 0; i < JP_WINDOW_N_HELD_QUANTILES; i++)
        assert_true(q[i] == want[i]);
    assert_int_equal(fv.held_ticket_histogram.n, 3);

    /* the next day starts from the signals in force: 400, no campaign */
    jp_window_t *next = jp_window_new("GB", JP_WINDOW_DAY, day, 2 * day);
    e = signal_sale(day + 12 * h, 200, NULL, JP_SALE_PURCHASE_RENEWAL);
    add(next, &sig, &e);
    jp_window_to_features(next, 0, &scratch, &fv);
    assert_true(fabs(fv.log_prize_mean - (log(400) + log(200)) / 2) < 1e-12);
    assert_int_equal(fv.campaign_shares.n, 0);
    assert_int_equal(fv.participating_postcodes, 0); /* no snapshot */
    assert_int_equal(fv.held_ticket_quantiles.n, 0);

    /* the signals themselves round-trip */
    jp_bytes_writer_t sw;
    jp_bytes_writer_init(&sw);
    jp_window_signals_serialize(&sig, &sw);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, sw.buf, sw.len);
    jp_window_signals_t back;
    assert_int_equal(jp_window_signals_deserialize(&r, &back), 0);
    assert_true(back.has_prize && back.prize_minor == 200 && back.n_campaigns == sig.n_campaigns);
    jp_bytes_writer_free(&sw);

    free(b);
    free(b2);
    jp_window_free(w);
    jp_window_free(c);
    jp_window_free(next);
}

/* Keys sort (memcmp) by country, then kind, then start time, negative
 * times before positive ones. */
static void test_keys_sort_by_country_kind_time(void **state)
{
    (void)state;
    const struct {
        const char *cc;
        jp_window_kind_t kind;
        int64_t start;
    } order[] = {{"DE", JP_WINDOW_DRAW, 0},         {"GB", JP_WINDOW_HOUR, -3600000},
                 {"GB", JP_WINDOW_HOUR, 0},         {"GB", JP_WINDOW_HOUR, 3600000},
                 {"GB", JP_WINDOW_DAY, -86400000},  {"GB", JP_WINDOW_DRAW, INT64_MIN},
                 {"GB", JP_WINDOW_DRAW, INT64_MAX}, {"NL", JP_WINDOW_HOUR, -1}};
    const size_t n = sizeof(order) / sizeof(order[0]);
    uint8_t prev[JP_WINDOW_KEY_LEN], key[JP_WINDOW_KEY_LEN];
    for (size_t i = 0; i < n; i++) {
        jp_window_key(order[i].cc, order[i].kind, order[i].start, key);
        assert_memory_equal(key, order[i].cc, 2);
        if (i)
            assert_true(memcmp(prev, key, JP_WINDOW_KEY_LEN) < 0);
        memcpy(prev, key, sizeof(key));
    }
}

static void add_sale(jp_window_t *w, const char *token, const char *sector, int tickets,
                     jp_sale_channel_t channel, int has_purchase, jp_sale_purchase_t purchase)
{
    jp_sale_event_t e = {0};
    e.country = str("GB");
    e.tickets = tickets;
    e.amount_minor = 1225LL * tickets;
    e.channel = channel;
    e.has_purchase = (uint8_t)has_purchase;
    e.purchase = purchase;
    jp_window_sale_keys_t k;
    jp_window_sale_keys(&k, token, sector);
    jp_window_add_sale(w, &e, &k);
}

/* The FeatureVector of a window with known content. */
static void test_features_follow_the_definitions(void **state)
{
    (void)state;
    jp_window_t *w = jp_window_new("GB", JP_WINDOW_DAY, 86400000, 2 * 86400000);
    assert_non_null(w);
    /* Ten sectors holding 1..10 tickets; five players. Extra tickets: the
     * purchase kind says so, or (kind not given) the sale was not paid by
     * direct debit. */
    char sector[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(sector, sizeof(sector), "AB%d 1", i);
        char token[8];
        snprintf(token, sizeof(token), "t%d", i % 5);
        int has = i % 2, extra = i <= 4;
        add_sale(w, token, sector, i,
                 extra && !has ? JP_SALE_CHANNEL_WEB : JP_SALE_CHANNEL_DIRECT_DEBIT, has,
                 extra ? JP_SALE_PURCHASE_EXTRA : JP_SALE_PURCHASE_RENEWAL);
    }
    add_sale(w, NULL, NULL, 2, JP_SALE_CHANNEL_DIRECT_DEBIT, 1, JP_SALE_PURCHASE_RENEWAL);
    assert_int_equal(jp_window_n_sectors(w), 10);
    const jp_customer_event_type_t types[] = {
        JP_CUSTOMER_EVENT_SIGNUP, JP_CUSTOMER_EVENT_SIGNUP,     JP_CUSTOMER_EVENT_SIGNUP,
        JP_CUSTOMER_EVENT_CANCEL, JP_CUSTOMER_EVENT_REACTIVATE, JP_CUSTOMER_EVENT_PAYMENT_FAILED,
        JP_CUSTOMER_EVENT_ERASE};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        jp_customer_event_t c = {0};
        c.type = types[i];
        jp_window_add_customer(w, &c);
    }
    jp_prize_paid_t prizes[] = {{str("headline"), 1, 100000000}, {str("local"), 30, 1500000}};
    jp_draw_result_t d = {0};
    d.prizes_paid.items = prizes;
    d.prizes_paid.n = 2;
    jp_window_add_draw(w, &d);
    assert_int_equal(jp_window_net_subscribers(w), 3 - 1 + 1);

    jp_window_fv_scratch_t scratch;
    jp_feature_vector_t fv;
    jp_window_to_features(w, 40, &scratch, &fv);
    assert_true(jp_avro_str_eq(fv.country, "GB"));
    assert_int_equal(fv.window_kind, JP_WINDOW_DAY);
    assert_int_equal(fv.window_start, 86400000);
    assert_int_equal(fv.window_end, 2 * 86400000);
    assert_int_equal(fv.tickets, 55 + 2);
    assert_int_equal(fv.revenue_minor, 1225 * 57);
    assert_int_equal(fv.extra_tickets, 1 + 2 + 3 + 4);
    assert_int_equal(fv.signups, 3);
    assert_int_equal(fv.cancellations, 1);
    assert_int_equal(fv.reactivations, 1);
    assert_int_equal(fv.payment_failures, 1);
    assert_int_equal(fv.active_subscribers, 40); /* as passed in */
    assert_int_equal(fv.unique_players, 5);
    assert_int_equal(fv.prizes_paid_minor, 101500000);
    /* channel mix: only channels that sold, in schema order */
    assert_int_equal(fv.channel_mix.n, 2);
    assert_true(jp_avro_str_eq(fv.channel_mix.keys[0], "WEB"));
    assert_true(jp_avro_str_eq(fv.channel_mix.keys[1], "DIRECT_DEBIT"));
    const int64_t *mix = fv.channel_mix.values;
    assert_int_equal(mix[0], 2 + 4);
    assert_int_equal(mix[1], 57 - 6);
    /* Tickets per participating sector are 1..10: quantile p is within the
     * sketch's 1% of the sorted values at floor or ceil of rank p * 9. */
    const double *q = fv.sector_ticket_quantiles.items;
    assert_int_equal(fv.sector_ticket_quantiles.n, JP_WINDOW_N_QUANTILES);
    for (size_t i = 0; i < JP_WINDOW_N_QUANTILES; i++) {
        double rank = jp_window_quantile_probs[i] * 9, lo = 1 + floor(rank), hi = 1 + ceil(rank);
        jp_assert_near(q[i], fabs(q[i] - lo) <= 0.01 * lo ? lo : hi, 0.01, 0, "sector quantile");
    }
    jp_window_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_names_match_schema),
        cmocka_unit_test(test_window_kind_names_agree),
        cmocka_unit_test(test_keys_sort_by_country_kind_time),
        cmocka_unit_test(test_features_follow_the_definitions),
        cmocka_unit_test(test_order_does_not_matter),
        cmocka_unit_test(test_signals_and_holdings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
