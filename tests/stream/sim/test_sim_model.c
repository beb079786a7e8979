/*
 * The simulator's building blocks: the world file's validation, the
 * population (Fenwick draw among participating postcodes, exact hazard
 * sums, postcode formats, density sampling), ids and faults, and the fast
 * paths that must agree exactly with what they replace (jp_sim_rng with
 * jp_rng, jp_sim_encode with jp_serde, the postcode table with
 * jp_sim_pop_postcode_str); which alerts document a world's change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "serde/jp_serde.h"
#include "sim/jp_sim_encode.h"
#include "sim/jp_sim_faults.h"
#include "sim/jp_sim_gen.h"
#include "sim/jp_sim_memreg.h"
#include "sim/jp_sim_population.h"
#include "sim/jp_sim_rng.h"
#include "sim/jp_sim_world.h"
#include "jp_test.h"

static void test_shipped_worlds_load(void **state)
{
    (void)state;
    const char *names[] = {"default", "drift", "load", "explore"};
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/configs/sim/%s.yaml", jp_test_src(), names[i]);
        jp_conf_t c;
        jp_conf_init(&c, NULL);
        jp_sim_world_t w;
        int rc = jp_sim_world_load(&c, path, &w);
        for (size_t e = 0; e < c.n_errors; e++)
            fprintf(stderr, "%s\n", c.errors[e]);
        assert_int_equal(rc, 0);
        assert_true(w.countries.n >= 3);
        const jp_sim_country_t *k = w.countries.items;
        for (size_t j = 0; j < w.countries.n; j++) {
            assert_non_null(k[j].country);
            double s = 0;
            for (int d = 0; d < 7; d++)
                s += k[j].season.weekly[d];
            assert_true(fabs(s - 7.0) < 1e-9); /* normalized */
            assert_true(k[j].response.prize_ref_minor > 0);
            /* scheduled prizes stay within the country's bounds */
            const jp_sim_schedule_entry_t *e = k[j].prize.schedule.items;
            for (size_t n = 0; n < k[j].prize.schedule.n; n++) {
                assert_true(e[n].prize_minor >= k[j].country->prizes.headline.min_minor);
                assert_true(e[n].prize_minor <= k[j].country->prizes.headline.max_minor);
            }
        }
        if (i == 3) {
            /* explore: every country's prize moves over 0.5x-2x of J_ref */
            assert_int_equal(w.countries.n, 5);
            for (size_t j = 0; j < w.countries.n; j++) {
                const jp_sim_schedule_entry_t *e = k[j].prize.schedule.items;
                double lo = INFINITY, hi = 0, ref = (double)k[j].response.prize_ref_minor;
                assert_int_equal(k[j].prize.policy, JP_SIM_POLICY_SCHEDULE);
                assert_true(k[j].prize.schedule.n >= 12);
                for (size_t n = 0; n < k[j].prize.schedule.n; n++) {
                    lo = fmin(lo, (double)e[n].prize_minor / ref);
                    hi = fmax(hi, (double)e[n].prize_minor / ref);
                }
                assert_true(lo <= 0.55 && hi >= 1.95);
            }
        }
        if (i == 0) {
            assert_int_equal(w.countries.n, 5);
            assert_int_equal(w.weeks, 52);
        }
        if (i == 1)
            assert_int_equal(w.changes.n, 5); /* drift.yaml: the five documented changes */
        /* 2026-01-05 is 20458 days after the epoch */
        assert_int_equal(w.start_ms, 20458LL * 86400000LL);
        jp_sim_world_release(&w);
        jp_conf_destroy(&c);
    }
}

static void test_world_errors_have_positions(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("simworld");
    char cfg[600];
    snprintf(cfg, sizeof(cfg), "%s/configs/jackpot.yaml", jp_test_src());
    char text[2048];
    snprintf(text, sizeof(text),
             "config: %s\n"
             "start: 2026-13-01\n"
             "faults: {late: 2}\n"
             "countries:\n"
             "  - code: GB\n"
             "    population: {subscribers: 10, postcodes: 5}\n"
             "    response: {signups_per_day: 1, signup_elastic: 1}\n"
             "    seasonality: {weekly: {mon: -1}}\n"
             "    prize:\n"
             "      schedule: [{week: 4, prize_minor: 1}, {week: 2, prize_minor: 2}]\n"
             "  - code: XX\n"
             "    population: {subscribers: 10, postcodes: 5}\n"
             "    response: {signups_per_day: 1}\n"
             "changes:\n"
             "  - {week: 1, country: FR, kind: elasticity, target: signup}\n"
             "  - {week: 1, kind: silence, target: nothing}\n",
             cfg);
    char *path = jp_test_write_file(dir, "bad.yaml", text);
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    jp_sim_world_t w;
    assert_int_equal(jp_sim_world_load(&c, path, &w), -1);
    const char *want[] = {"bad.yaml:2:",
                          "start",
                          "bad.yaml:3:",
                          "late",
                          "signup_elastic",
                          "weekly.mon",
                          "weeks must increase",
                          "'XX' is not in the processor",
                          "'FR' is not a simulated country",
                          "'nothing' is not a target"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int found = 0;
        for (size_t e = 0; e < c.n_errors; e++)
            found |= strstr(c.errors[e], want[i]) != NULL;
        if (!found) {
            for (size_t e = 0; e < c.n_errors; e++)
                fprintf(stderr, "  %s\n", c.errors[e]);
            fail_msg("no error mentions '%s'", want[i]);
        }
    }
    jp_sim_world_release(&w);
    jp_conf_destroy(&c);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

static jp_sim_pop_t *small_pop(const char *code, size_t postcodes, double sigma)
{
    jp_rng_t rng;
    jp_rng_seed(&rng, 5);
    jp_sim_pop_params_t p = {code, postcodes, 10, sigma, -6, -0.3, 0.9, -0.2};
    char err[256];
    jp_sim_pop_t *pop = jp_sim_pop_new(&p, &rng, err, sizeof(err));
    assert_non_null(pop);
    return pop;
}

static void test_draw_is_uniform_among_participating(void **state)
{
    (void)state;
    jp_sim_pop_t *pop = small_pop("GB", 100, 1.0);
    jp_rng_t rng;
    jp_rng_seed(&rng, 9);
    assert_int_equal(jp_sim_pop_draw_postcode(pop, &rng), -1); /* nobody plays */
    /* players in postcodes 3, 50 (5 tickets), 99; postcode 7 only extra */
    long a = jp_sim_pop_add(pop, 3, 1, 0);
    jp_sim_pop_add(pop, 50, 5, 0);
    jp_sim_pop_add(pop, 99, 2, 0);
    jp_sim_pop_add_extra(pop, 7, 2);
    assert_int_equal(jp_sim_pop_n_participating(pop), 4);
    long counts[100] = {0};
    for (int i = 0; i < 40000; i++) {
        long pc = jp_sim_pop_draw_postcode(pop, &rng);
        assert_true(pc >= 0 && pc < 100);
        counts[pc]++;
    }
    int drawn[] = {3, 7, 50, 99};
    long total = 0;
    for (int i = 0; i < 4; i++) {
        /* 10000 expected each; 5 sd = 433 */
        assert_true(labs(counts[drawn[i]] - 10000) < 450);
        total += counts[drawn[i]];
    }
    assert_int_equal(total, 40000); /* never a non-participating postcode */
    assert_int_equal(jp_sim_pop_postcode_tickets(pop, 50), 5);
    assert_int_equal(jp_sim_pop_postcode_tickets(pop, 7), 2);
    jp_sim_pop_cancel(pop, (uint32_t)a);
    jp_sim_pop_reset_extra(pop);
    assert_int_equal(jp_sim_pop_n_participating(pop), 2);
    assert_int_equal(jp_sim_pop_total_tickets(pop), 7);
    jp_sim_pop_reactivate(pop, (uint32_t)a);
    assert_int_equal(jp_sim_pop_n_participating(pop), 3);
    jp_sim_pop_free(pop);
}

static void test_hazard_sum_is_exact(void **state)
{
    (void)state;
    jp_sim_pop_t *pop = small_pop("NL", 50, 1.0);
    jp_rng_t rng;
    jp_rng_seed(&rng, 11);
    for (int i = 0; i < 3000; i++)
        jp_sim_pop_add(pop, (uint32_t)jp_rng_below(&rng, 50), 1 + (int)jp_rng_below(&rng, 4),
                       (int)jp_rng_below(&rng, 40));
    for (int i = 0; i < 3000; i++) {
        uint32_t id = (uint32_t)jp_rng_below(&rng, 3000);
        switch (jp_rng_below(&rng, 5)) {
        case 0:
            jp_sim_pop_cancel(pop, id);
            break;
        case 1:
            jp_sim_pop_reactivate(pop, id);
            break;
        case 2:
            jp_sim_pop_payment_failed(pop, id);
            break;
        case 3:
            jp_sim_pop_renewed(pop, id);
            break;
        default:
            jp_sim_pop_set_tickets(pop, id, 1 + (int)jp_rng_below(&rng, 6));
        }
    }
    /* brute force from the documented formula */
    double want = 0;
    int64_t tickets = 0;
    for (uint32_t id = 0; id < jp_sim_pop_n_subs(pop); id++) {
        const jp_sim_sub_t *s = jp_sim_pop_sub(pop, id);
        if (s->state != JP_SIM_SUB_ACTIVE)
            continue;
        double t = s->tenure > 24 ? 24 : s->tenure;
        double pf = s->pf > 3 ? 3 : s->pf;
        double z = -6 - 0.3 * log1p(t) + 0.9 * pf - 0.2 * (s->tickets - 1);
        want += 1 / (1 + exp(-z));
        tickets += s->tickets;
    }
    assert_true(fabs(jp_sim_pop_hazard_sum(pop) - want) < 1e-9 * want);
    assert_int_equal(jp_sim_pop_total_tickets(pop), tickets);
    jp_sim_pop_free(pop);
}

static void test_postcode_formats(void **state)
{
    (void)state;
    struct {
        const char *code;
        uint32_t pc;
        const char *postcode, *sector;
    } cases[] = {
        {"GB", 0, "AA0 0AA", "AA0 0"}, {"GB", 1234, "AB2 3AE", "AB2 3"},
        {"NL", 25, "1002AF", "1002"},  {"DE", 123, "11203", "112"},
        {"SE", 123, "112 03", "112"},  {"NO", 95, "1905", "19"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jp_sim_pop_t *pop = small_pop(cases[i].code, strcmp(cases[i].code, "NO") ? 2000 : 800, 1.0);
        char a[16], b[16];
        jp_sim_pop_postcode_str(pop, cases[i].pc, a, sizeof(a));
        jp_sim_pop_sector_str(pop, cases[i].pc, b, sizeof(b));
        assert_string_equal(a, cases[i].postcode);
        assert_string_equal(b, cases[i].sector);
        assert_int_equal(strncmp(a, b, strlen(b)), 0); /* the sector is a prefix */
        jp_sim_pop_free(pop);
    }
    /* more postcodes than a format can name is refused */
    jp_rng_t rng;
    jp_rng_seed(&rng, 1);
    jp_sim_pop_params_t p = {"NO", 100000, 10, 1, -6, 0, 0, 0};
    char err[256];
    assert_null(jp_sim_pop_new(&p, &rng, err, sizeof(err)));
    assert_non_null(strstr(err, "sectors"));
}

static void test_postcode_table_matches_format(void **state)
{
    (void)state;
    /* every postcode of every format, up to the most sectors it can name */
    struct {
        const char *code;
        size_t postcodes, per_sector;
    } cases[] = {{"GB", 676 * 100 * 3, 3}, {"NL", 9000 * 20, 20}, {"DE", 900 * 99, 99},
                 {"SE", 900 * 99, 99},     {"NO", 90 * 99, 99},   {"FR", 5000, 10}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jp_rng_t rng;
        jp_rng_seed(&rng, 5);
        jp_sim_pop_params_t p = {
            cases[i].code, cases[i].postcodes, cases[i].per_sector, 1, -6, 0, 0, 0};
        char err[256];
        jp_sim_pop_t *pop = jp_sim_pop_new(&p, &rng, err, sizeof(err));
        assert_non_null(pop);
        for (uint32_t pc = 0; pc < cases[i].postcodes; pc++) {
            char want[16];
            jp_sim_pop_postcode_str(pop, pc, want, sizeof(want));
            if (strcmp(jp_sim_pop_postcode(pop, pc), want) != 0)
                fail_msg("%s postcode %u: '%s', want '%s'", cases[i].code, pc,
                         jp_sim_pop_postcode(pop, pc), want);
            assert_int_equal(jp_sim_pop_postcode_len(pop, pc), strlen(want));
            /* one length per format */
            assert_int_equal(jp_sim_pop_postcode_len(pop, pc), jp_sim_pop_postcode_len(pop, 0));
        }
        jp_sim_pop_free(pop);
    }
}

static void test_sim_rng_matches_jp_rng(void **state)
{
    (void)state;
    const uint64_t bounds[] = {0,
                               1,
                               2,
                               3,
                               7,
                               1000,
                               3600000,
                               1000003,
                               (1ULL << 32) - 1,
                               (1ULL << 32) + 1,
                               0x5555555555555555ULL,
                               1ULL << 63,
                               (1ULL << 63) + 1,
                               UINT64_MAX - 1,
                               UINT64_MAX};
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        jp_rng_t a, b, c;
        jp_rng_seed(&a, 100 + i);
        b = c = a;
        jp_sim_below_t by;
        jp_sim_below_init(&by, bounds[i]);
        for (int k = 0; k < 20000; k++) {
            uint64_t x = jp_rng_below(&a, bounds[i]);
            assert_true(jp_rng_below(&b, bounds[i]) == x);
            assert_true(jp_sim_rng_below_by(&c, &by) == x);
        }
        assert_memory_equal(&a, &b, sizeof(a));
        assert_memory_equal(&a, &c, sizeof(a));
    }
    /* the remainder itself, on random and extreme operands */
    jp_rng_t r;
    jp_rng_seed(&r, 9);
    for (int k = 0; k < 200000; k++) {
        uint64_t n = jp_rng_next(&r) >> (jp_rng_next(&r) % 64);
        uint64_t x = k % 7 == 0 ? UINT64_MAX - (uint64_t)k : jp_rng_next(&r);
        if (n == 0)
            continue;
        jp_sim_below_t by;
        jp_sim_below_init(&by, n);
        if (jp_sim_mod(&by, x) != x % n)
            fail_msg("%llu mod %llu", (unsigned long long)x, (unsigned long long)n);
    }
    /* uniform and Poisson, with the mean changing under the cache */
    const double means[] = {0.5, 0.5, 2.3, -1, 0, 9.99, 2.3, 10, 37.5, NAN, 0.5};
    jp_rng_t a, b;
    jp_rng_seed(&a, 77);
    b = a;
    jp_sim_poisson_t cache = {0};
    for (size_t i = 0; i < sizeof(means) / sizeof(means[0]); i++)
        for (int k = 0; k < 5000; k++) {
            assert_true(jp_sim_poisson(&cache, &b, means[i]) == jp_rng_poisson(&a, means[i]));
            assert_true(jp_rng_uniform(&b) == jp_rng_uniform(&a));
        }
    assert_memory_equal(&a, &b, sizeof(a));
}

/* A random string of up to max bytes (printable, sometimes empty). */
static jp_avro_str_t random_str(jp_rng_t *r, char *buf, size_t max)
{
    size_t n = (size_t)jp_rng_below(r, max + 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(' ' + jp_rng_below(r, 95));
    return (jp_avro_str_t){n ? buf : NULL, n};
}

static int64_t random_long(jp_rng_t *r)
{
    uint64_t x = jp_rng_next(r);
    return (int64_t)(x >> jp_rng_below(r, 64)) * (jp_rng_below(r, 2) ? 1 : -1);
}

/* Frames the record both ways and compares; the id is the one jp_serde
 * registered (the memory registry hands out 1, 2, 3). */
static void encode_both(jp_serde_t *s, jp_event_type_t type, const char *topic, const void *ev)
{
    jp_avro_buf_t want = {0};
    char err[256];
    assert_int_equal(jp_serde_encode(s, (int)type, topic, ev, &want, err, sizeof(err)),
                     JP_SERDE_OK);
    const unsigned char *payload;
    size_t plen;
    int32_t id;
    assert_int_equal(jp_serde_frame_parse(want.data, want.len, &id, &payload, &plen), JP_SERDE_OK);
    size_t bound = jp_sim_encode_bound(type, ev);
    unsigned char *got = malloc(bound + 1);
    assert_non_null(got);
    size_t n = jp_sim_encode(type, ev, id, got);
    assert_int_equal(n, want.len);
    assert_true(n <= bound);
    assert_memory_equal(got, want.data, n);
    free(got);
    jp_avro_buf_free(&want);
}

static void test_direct_encoding_matches_serde(void **state)
{
    (void)state;
    assert_int_equal(jp_sim_encode_check(), 1);
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_serde_config_t sc = {0};
    sc.registry = jp_sim_memreg_registry(reg);
    char err[512];
    jp_serde_t *s = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(s);
    jp_rng_t r;
    jp_rng_seed(&r, 21);
    char b[12][200];
    for (int k = 0; k < 3000; k++) {
        jp_sale_event_t sa = {0};
        sa.event_id = random_str(&r, b[0], 40);
        sa.country = random_str(&r, b[1], 3);
        sa.event_time = random_long(&r);
        sa.customer_id = random_str(&r, b[2], 30);
        sa.postcode = random_str(&r, b[3], 8);
        sa.channel = (jp_sale_channel_t)jp_rng_below(&r, 7);
        sa.tickets = (int32_t)random_long(&r);
        sa.amount_minor = random_long(&r);
        sa.currency = random_str(&r, b[4], 3);
        sa.draw_id = random_str(&r, b[5], 190);
        sa.advertised_prize_minor = random_long(&r);
        sa.has_campaign = (uint8_t)jp_rng_below(&r, 2);
        sa.campaign = random_str(&r, b[6], 20);
        sa.has_purchase = (uint8_t)jp_rng_below(&r, 2);
        sa.purchase = (jp_sale_purchase_t)jp_rng_below(&r, 4);
        encode_both(s, JP_EVENT_SALE, "lottery.sales.v1", &sa);

        jp_customer_event_t cu = {0};
        cu.event_id = random_str(&r, b[0], 40);
        cu.country = random_str(&r, b[1], 3);
        cu.event_time = random_long(&r);
        cu.customer_id = random_str(&r, b[2], 30);
        cu.has_email = (uint8_t)jp_rng_below(&r, 2);
        cu.email = random_str(&r, b[7], 90);
        cu.postcode = random_str(&r, b[3], 8);
        cu.type = (jp_customer_event_type_t)jp_rng_below(&r, 7);
        cu.subscription_tickets = (int32_t)random_long(&r);
        cu.has_reason = (uint8_t)jp_rng_below(&r, 2);
        cu.reason = random_str(&r, b[8], 20);
        encode_both(s, JP_EVENT_CUSTOMER, "lottery.customers.v1", &cu);

        jp_prize_paid_t paid[8];
        size_t n_paid = (size_t)jp_rng_below(&r, 9);
        for (size_t i = 0; i < n_paid; i++)
            paid[i] = (jp_prize_paid_t){random_str(&r, b[9 + i % 3], 20), (int32_t)random_long(&r),
                                        random_long(&r)};
        jp_draw_result_t dr = {0};
        dr.country = random_str(&r, b[1], 3);
        dr.draw_id = random_str(&r, b[5], 48);
        dr.draw_time = random_long(&r);
        dr.headline_prize_minor = random_long(&r);
        dr.prize_kind = (jp_prize_kind_t)jp_rng_below(&r, 3);
        dr.winning_sector = random_str(&r, b[4], 8);
        dr.tickets_in_winning_postcode = (int32_t)random_long(&r);
        dr.prizes_paid = (jp_avro_array_t){n_paid ? paid : NULL, n_paid};
        encode_both(s, JP_EVENT_DRAW, "lottery.draws.v1", &dr);

        /* what the generic encoder refuses is declined, not written */
        unsigned char out[1024];
        sa.channel = (jp_sale_channel_t)7;
        assert_int_equal(jp_sim_encode(JP_EVENT_SALE, &sa, 1, out), 0);
        cu.type = (jp_customer_event_type_t)-1;
        assert_int_equal(jp_sim_encode(JP_EVENT_CUSTOMER, &cu, 2, out), 0);
        dr.prizes_paid = (jp_avro_array_t){NULL, 1};
        assert_int_equal(jp_sim_encode(JP_EVENT_DRAW, &dr, 3, out), 0);
    }
    jp_serde_free(s);
    jp_sim_memreg_free(reg);
}

static void test_density_is_skewed(void **state)
{
    (void)state;
    /* lognormal sigma 1.5: the densest 10% of postcodes hold far more than
     * 10% of the players; sigma 0: uniform */
    for (int k = 0; k < 2; k++) {
        jp_sim_pop_t *pop = small_pop("GB", 1000, k ? 1.5 : 0.0);
        jp_rng_t rng;
        jp_rng_seed(&rng, 3);
        long *n = calloc(1000, sizeof(long));
        for (int i = 0; i < 200000; i++)
            n[jp_sim_pop_pick_postcode(pop, &rng)]++;
        /* share of the top 100 postcodes */
        long top = 0;
        for (int j = 0; j < 100; j++) {
            size_t best = 0;
            for (size_t q = 1; q < 1000; q++)
                if (n[q] > n[best])
                    best = q;
            top += n[best];
            n[best] = -1;
        }
        double share = (double)top / 200000.0;
        if (k)
            assert_true(share > 0.35);
        else
            assert_true(share < 0.13);
        free(n);
        jp_sim_pop_free(pop);
    }
}

static void test_uuid_and_seeds(void **state)
{
    (void)state;
    char u[37];
    jp_sim_uuid(0x0123456789abcdefULL, 0xfedcba9876543210ULL, u);
    assert_string_equal(u, "01234567-89ab-4def-bedc-ba9876543210");
    jp_rng_t a, b, c;
    jp_sim_rng_seed(&a, 1, "GB", "events");
    jp_sim_rng_seed(&b, 1, "GB", "events");
    jp_sim_rng_seed(&c, 1, "NL", "events");
    uint64_t x = jp_rng_next(&a);
    assert_true(x == jp_rng_next(&b));
    assert_true(x != jp_rng_next(&c));
}

static void test_faults_decode_with_expected_reason(void **state)
{
    (void)state;
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_serde_config_t sc = {0};
    sc.registry = jp_sim_memreg_registry(reg);
    char err[512];
    jp_serde_t *s = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(s);
    char *rogue = jp_sim_faults_rogue_schema(err, sizeof(err));
    assert_non_null(rogue);
    int rr =
        jp_serde_add_reader(s, rogue, strlen(rogue), &jp_sim_rogue_sale_layout, err, sizeof(err));
    assert_true(rr >= 0);

    jp_sale_event_t sale = {0};
    sale.event_id = jp_avro_str("01234567-89ab-4def-bedc-ba9876543210");
    sale.country = jp_avro_str("GB");
    sale.event_time = 1767225600000;
    sale.customer_id = jp_avro_str("GB-1");
    sale.postcode = jp_avro_str("AA0 0AA");
    sale.channel = JP_SALE_CHANNEL_WEB;
    sale.tickets = 2;
    sale.amount_minor = 2450;
    sale.currency = jp_avro_str("GBP");
    sale.draw_id = jp_avro_str("GB-20260110-saturday");
    sale.advertised_prize_minor = 100000000;

    jp_sim_fault_t faults[] = {
        JP_SIM_FAULT__COUNT,    JP_SIM_FAULT_NOT_FRAMED, JP_SIM_FAULT_UNKNOWN_SCHEMA_ID,
        JP_SIM_FAULT_TRUNCATED, JP_SIM_FAULT_WRONG_TYPE, JP_SIM_FAULT_OUT_OF_RANGE};
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        jp_avro_buf_t buf = {0};
        jp_sale_event_t ev = sale;
        jp_rng_t rng;
        jp_rng_seed(&rng, i);
        if (faults[i] != JP_SIM_FAULT__COUNT)
            jp_sim_faults_mutate_event(faults[i], JP_EVENT_SALE, &ev, 600000, 300000, &rng);
        if (faults[i] == JP_SIM_FAULT_WRONG_TYPE) {
            jp_sim_rogue_sale_t r;
            char text[16];
            jp_sim_faults_rogue_sale(&ev, &r, text, sizeof(text));
            assert_int_equal(
                jp_serde_encode(s, rr, "lottery.sales.v1-rogue", &r, &buf, err, sizeof(err)),
                JP_SERDE_OK);
        } else {
            assert_int_equal(
                jp_serde_encode(s, JP_EVENT_SALE, "lottery.sales.v1", &ev, &buf, err, sizeof(err)),
                JP_SERDE_OK);
        }
        size_t len = buf.len;
        if (faults[i] != JP_SIM_FAULT__COUNT)
            jp_sim_faults_mutate_bytes(faults[i], buf.data, &len, 0);
        jp_sale_event_t out;
        jp_avro_arena_t arena;
        jp_avro_arena_init(&arena);
        jp_serde_err_t e =
            jp_serde_decode(s, JP_EVENT_SALE, buf.data, len, &out, &arena, err, sizeof(err));
        const char *want =
            faults[i] == JP_SIM_FAULT__COUNT ? NULL : jp_sim_fault_expected_error(faults[i]);
        if (want)
            assert_string_equal(jp_serde_err_name(e), want);
        else
            assert_int_equal(e, JP_SERDE_OK);
        if (faults[i] == JP_SIM_FAULT_OUT_OF_RANGE)
            assert_true(out.tickets < 0);
        if (faults[i] == JP_SIM_FAULT__COUNT)
            assert_int_equal(out.tickets, 2);
        jp_avro_arena_free(&arena);
        jp_avro_buf_free(&buf);
    }
    /* late: older than lateness + grace; out of order: within the lateness */
    jp_rng_t rng;
    jp_rng_seed(&rng, 1);
    for (int i = 0; i < 100; i++) {
        jp_sale_event_t ev = sale;
        jp_sim_faults_mutate_event(JP_SIM_FAULT_LATE, JP_EVENT_SALE, &ev, 600000, 300000, &rng);
        assert_true(sale.event_time - ev.event_time > 900000);
        ev = sale;
        jp_sim_faults_mutate_event(JP_SIM_FAULT_OUT_OF_ORDER, JP_EVENT_SALE, &ev, 600000, 300000,
                                   &rng);
        assert_true(sale.event_time - ev.event_time > 0);
        assert_true(sale.event_time - ev.event_time <= 300000);
    }
    free(rogue);
    jp_serde_free(s);
    jp_sim_memreg_free(reg);
}

/* Which alerts document which change of a world (jp_sim_change_documented,
 * the one rule of the tests and of jackpot dev's summary). */
static void test_change_documented(void **state)
{
    (void)state;
    jp_sim_change_t c = {0};
    c.kind = JP_SIM_CHANGE_ELASTICITY;
    c.target = "signup";
    assert_true(jp_sim_change_documented(&c, "ConceptDrift", "model=sales model_version=3"));
    assert_false(jp_sim_change_documented(&c, "FeatureDrift", "feature=signups"));
    c.kind = JP_SIM_CHANGE_FEATURE_SHIFT;
    c.target = "payment_failure";
    assert_true(jp_sim_change_documented(&c, "FeatureDrift", "feature=payment_failures"));
    assert_false(jp_sim_change_documented(&c, "ConceptDrift", "model=sales"));
    assert_false(jp_sim_change_documented(&c, "FeatureDrift", "feature=signups"));
    c.target = "tickets_mean"; /* labels of the tests' form: each pair then a space */
    assert_true(
        jp_sim_change_documented(&c, "FeatureDrift", "country=GB feature=tickets_per_signup "));
    assert_false(jp_sim_change_documented(&c, "FeatureDrift", "feature=tickets_per_extra"));
    c.target = "signups_per_day";
    assert_true(jp_sim_change_documented(&c, "ConceptDrift", "model=sales"));
    assert_true(jp_sim_change_documented(&c, "FeatureDrift", "feature=signups"));
    assert_false(jp_sim_change_documented(&c, "FeatureDrift", "feature=signups_x"));
    c.kind = JP_SIM_CHANGE_SILENCE;
    c.target = "sales";
    assert_true(jp_sim_change_documented(&c, "SilentSource", "input=sales"));
    assert_false(jp_sim_change_documented(&c, "SilentSource", "input=customers"));
    c.kind = JP_SIM_CHANGE_SEASONALITY;
    c.target = NULL;
    assert_true(jp_sim_change_documented(&c, "FeatureDrift", "feature=signups"));
    assert_false(jp_sim_change_documented(&c, "SilentSource", "input=sales"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_worlds_load),
        cmocka_unit_test(test_world_errors_have_positions),
        cmocka_unit_test(test_draw_is_uniform_among_participating),
        cmocka_unit_test(test_hazard_sum_is_exact),
        cmocka_unit_test(test_postcode_formats),
        cmocka_unit_test(test_postcode_table_matches_format),
        cmocka_unit_test(test_sim_rng_matches_jp_rng),
        cmocka_unit_test(test_direct_encoding_matches_serde),
        cmocka_unit_test(test_density_is_skewed),
        cmocka_unit_test(test_uuid_and_seeds),
        cmocka_unit_test(test_faults_decode_with_expected_reason),
        cmocka_unit_test(test_change_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
