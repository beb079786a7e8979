/*
 * Statistical checks of the simulator against its configured ground truth,
 * over long generation-only runs (records are encoded and captured in
 * memory, nothing is produced):
 *   - the sign-up response to the prize: log(sign-ups per week) regressed
 *     on log(prize) over weeks with a constant prize has slope = the
 *     configured elasticity within 0.06 (its standard error is ~0.01);
 *   - churn: with a constant hazard sigmoid(b0), cancellations equal
 *     subscriber-days x sigmoid(b0) x (J/J_ref)^e_cancel within 5%;
 *   - every fault rate within 5 binomial standard deviations of its rate;
 *   - every draw: per-ticket prizes pay prize x tickets in the winning
 *     postcode exactly, and the mean tickets in the winning postcode
 *     matches the mean over participating postcodes (uniform choice);
 *   - determinism: the same seed gives identical records, another seed
 *     different ones;
 *   - pinned output: a small world with every fault, shared partitions,
 *     a campaign and changes writes exactly the records it wrote before
 *     the generator's fast paths (population batches, jp_sim_rng,
 *     jp_sim_encode, the hour's merge) existed: a given seed's topic
 *     contents are part of the simulator's contract.
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

#include "model/base/jp_hash.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_memreg.h"
#include "jp_test.h"

typedef struct {
    jp_serde_t *serde;
    jp_avro_arena_t arena;
    uint64_t hash;
    uint64_t n;
    /* draws */
    uint64_t draws, per_ticket_checked;
} capture_t;

static int capture(void *ctx, const char *topic, const void *key, size_t key_len, const void *value,
                   size_t len, int64_t ts, long fault)
{
    capture_t *c = ctx;
    c->n++;
    c->hash = jp_hash64(value, len, c->hash ^ jp_hash64(key, key_len, jp_hash_str(topic, 0)));
    (void)ts;
    if (fault < 0 && strstr(topic, "draws")) {
        jp_draw_result_t r;
        char err[256];
        jp_avro_arena_reset(&c->arena);
        assert_int_equal(
            jp_serde_decode(c->serde, JP_EVENT_DRAW, value, len, &r, &c->arena, err, sizeof(err)),
            JP_SERDE_OK);
        c->draws++;
        const jp_prize_paid_t *p = r.prizes_paid.items;
        if (r.prizes_paid.n > 0 && r.prize_kind == JP_PRIZE_KIND_PER_TICKET) {
            assert_int_equal(p[0].amount_minor,
                             r.headline_prize_minor * (int64_t)r.tickets_in_winning_postcode);
            assert_int_equal(p[0].winners, r.tickets_in_winning_postcode);
            c->per_ticket_checked++;
        }
        if (r.prizes_paid.n > 0 && r.prize_kind == JP_PRIZE_KIND_SHARED)
            assert_int_equal(p[0].amount_minor, r.headline_prize_minor);
        assert_true(r.prizes_paid.n == 0 || r.tickets_in_winning_postcode > 0);
    }
    return 0;
}

static char *world_file(const char *dir, const char *body)
{
    char text[8192];
    snprintf(text, sizeof(text), "config: %s/configs/jackpot.yaml\nstart: 2026-01-05\n%s",
             jp_test_src(), body);
    return jp_test_write_file(dir, "world.yaml", text);
}

static void load(const char *path, jp_sim_world_t *w)
{
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    int rc = jp_sim_world_load(&c, path, w);
    for (size_t i = 0; i < c.n_errors; i++)
        fprintf(stderr, "%s\n", c.errors[i]);
    jp_conf_destroy(&c);
    assert_int_equal(rc, 0);
}

/* Runs the world; returns the truth (caller frees) and fills cap. */
static jp_sim_truth_t *run(jp_sim_world_t *w, uint64_t seed, capture_t *cap, jp_sim_stats_t *stats)
{
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_serde_config_t sc = {0};
    sc.registry = jp_sim_memreg_registry(reg);
    char err[512];
    memset(cap, 0, sizeof(*cap));
    cap->serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(cap->serde);
    jp_avro_arena_init(&cap->arena);
    jp_sim_options_t o = {0};
    o.seed = seed;
    o.seed_set = 1;
    o.registry = sc.registry;
    o.output = (jp_sim_output_t){cap, capture};
    jp_sim_truth_t *truth = jp_sim_truth_new(w, seed, jp_sim_weeks(w, &o));
    int rc = jp_sim_run(w, &o, truth, stats, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    jp_serde_free(cap->serde);
    jp_avro_arena_free(&cap->arena);
    jp_sim_memreg_free(reg);
    return truth;
}

#define ELASTICITY 0.6

static void test_signup_elasticity_and_churn(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("simstats");
    /* GB only, flat seasonality, constant churn hazard, a prize schedule
     * spanning 0.25M..3M in 4-week blocks. */
    char *path = world_file(
        dir, "weeks: 52\n"
             "countries:\n"
             "  - code: GB\n"
             "    population: {subscribers: 20000, postcodes: 4000, max_tenure_months: 0}\n"
             "    response: {signups_per_day: 300, signup_elasticity: 0.6, cancel_elasticity: "
             "-0.4,\n"
             "               reactivations_per_day: 0, extra_per_subscriber_per_day: 0.001,\n"
             "               payment_failure: 0.02}\n"
             "    churn: {intercept: -6.5, tenure: 0, payment_failures: 0, tickets: 0}\n"
             "    prize:\n"
             "      schedule:\n"
             "        - {week: 0, prize_minor: 100000000}\n"
             "        - {week: 4, prize_minor: 25000000}\n"
             "        - {week: 8, prize_minor: 300000000}\n"
             "        - {week: 12, prize_minor: 50000000}\n"
             "        - {week: 16, prize_minor: 200000000}\n"
             "        - {week: 20, prize_minor: 75000000}\n"
             "        - {week: 24, prize_minor: 150000000}\n"
             "        - {week: 28, prize_minor: 30000000}\n"
             "        - {week: 32, prize_minor: 250000000}\n"
             "        - {week: 36, prize_minor: 100000000}\n"
             "        - {week: 40, prize_minor: 40000000}\n"
             "        - {week: 44, prize_minor: 175000000}\n"
             "        - {week: 48, prize_minor: 60000000}\n");
    jp_sim_world_t w;
    load(path, &w);
    capture_t cap;
    jp_sim_stats_t stats;
    jp_sim_truth_t *truth = run(&w, 3, &cap, &stats);
    json_t *draws = json_object_get(
        json_object_get(json_object_get(jp_sim_truth_json(truth), "countries"), "GB"), "draws");
    assert_non_null(draws);

    /* Weeks whose advertised prize was constant: the previous headline
     * prize equals this one. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
    double cancel_real = 0, cancel_want = 0, prev_active = -1;
    int64_t prev_prize = -1;
    double jref = 100000000.0, h = 1.0 / (1.0 + exp(6.5));
    size_t i;
    json_t *d;
    json_array_foreach(draws, i, d)
    {
        if (!json_is_true(json_object_get(d, "headline")))
            continue;
        int64_t prize = json_integer_value(json_object_get(d, "prize_minor"));
        json_t *real = json_object_get(d, "realized");
        double active = (double)json_integer_value(json_object_get(d, "active_subscribers"));
        double days = (double)(json_integer_value(json_object_get(d, "time_ms")) -
                               json_integer_value(json_object_get(d, "period_start_ms"))) /
                      86400000.0;
        if (prize == prev_prize && prev_active > 0) {
            double x = log((double)prize / jref);
            double y = log(json_real_value(json_object_get(real, "signups")));
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            n++;
            /* subscriber-days x hazard x prize factor, mean of the ends */
            cancel_want += (prev_active + active) / 2 * days * h * pow((double)prize / jref, -0.4);
            cancel_real += json_real_value(json_object_get(real, "cancellations"));
        }
        prev_prize = prize;
        prev_active = active;
    }
    assert_true(n >= 30);
    double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    fprintf(stderr, "fitted sign-up elasticity %.4f (configured %.2f) over %.0f weeks\n", slope,
            ELASTICITY, n);
    assert_true(fabs(slope - ELASTICITY) < 0.06);
    fprintf(stderr, "cancellations %.0f, from the configured hazard %.0f\n", cancel_real,
            cancel_want);
    assert_true(fabs(cancel_real / cancel_want - 1.0) < 0.05);
    /* payout rule checked on every draw by capture() */
    assert_true(cap.draws > 52 * 7);
    assert_true(cap.per_ticket_checked > 300); /* GB daily: GBP 1,000 per ticket */

    jp_sim_truth_free(truth);
    jp_sim_world_release(&w);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

static void test_fault_rates_and_payout_distribution(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("simfaults");
    char *path = world_file(dir, "weeks: 26\n"
                                 "faults: {duplicate: 0.01, late: 0.01, out_of_order: 0.02,\n"
                                 "         not_framed: 0.005, unknown_schema_id: 0.005,\n"
                                 "         truncated: 0.005, wrong_type: 0.01, out_of_range: "
                                 "0.01,\n"
                                 "         unknown_country: 0.005}\n"
                                 "countries:\n"
                                 "  - code: NL\n"
                                 "    population: {subscribers: 5000, postcodes: 1500}\n"
                                 "    response: {signups_per_day: 20, "
                                 "extra_per_subscriber_per_day: 0.05}\n"
                                 "  - code: NO\n"
                                 "    population: {subscribers: 4000, postcodes: 800, "
                                 "postcodes_per_sector: 10, density_sigma: 1.5}\n"
                                 "    response: {signups_per_day: 15, "
                                 "extra_per_subscriber_per_day: 0.05}\n");
    jp_sim_world_t w;
    load(path, &w);
    capture_t cap;
    jp_sim_stats_t stats;
    jp_sim_truth_t *truth = run(&w, 11, &cap, &stats);
    double eligible = (double)(stats.records_by_type[0] + stats.records_by_type[1]) -
                      (double)stats.faults[JP_SIM_FAULT_DUPLICATE];
    double sales = (double)stats.records_by_type[0];
    json_t *records =
        json_object_get(json_object_get(jp_sim_truth_json(truth), "faults"), "records");
    uint64_t total = 0;
    for (int f = 0; f < JP_SIM_FAULT__COUNT; f++) {
        double p = w.fault_rate[f];
        double nn = f == JP_SIM_FAULT_WRONG_TYPE ? sales : eligible;
        double sd = sqrt(nn * p * (1 - p));
        fprintf(stderr, "%-18s %6llu, expected %8.1f +- %.1f\n", jp_sim_fault_name(f),
                (unsigned long long)stats.faults[f], nn * p, sd);
        assert_true(fabs((double)stats.faults[f] - nn * p) < 5 * sd);
        total += stats.faults[f];
    }
    assert_int_equal(json_array_size(records), total); /* each one listed */

    /* uniform choice among participating postcodes: the mean tickets in
     * the winning postcode equals the mean tickets per participating
     * postcode (NO: 7 draws a week, skewed densities) */
    json_t *draws = json_object_get(
        json_object_get(json_object_get(jp_sim_truth_json(truth), "countries"), "NO"), "draws");
    double won = 0, mean = 0, m2 = 0, nd = 0;
    size_t i;
    json_t *d;
    json_array_foreach(draws, i, d)
    {
        double t = (double)json_integer_value(json_object_get(d, "tickets_in_winning_postcode"));
        double per = (double)json_integer_value(json_object_get(d, "tickets_held")) /
                     (double)json_integer_value(json_object_get(d, "participating_postcodes"));
        won += t;
        mean += per;
        m2 += t * t;
        nd++;
    }
    double sd = sqrt(m2 / nd - (won / nd) * (won / nd)) / sqrt(nd);
    fprintf(stderr,
            "tickets in the winning postcode %.2f, per participating postcode %.2f "
            "(se %.2f, %.0f draws)\n",
            won / nd, mean / nd, sd, nd);
    assert_true(nd > 150);
    assert_true(fabs(won / nd - mean / nd) < 4 * sd);

    /* determinism: the same seed, the same bytes; another seed, others */
    capture_t again, other;
    jp_sim_truth_free(run(&w, 11, &again, &stats));
    assert_true(again.n == cap.n && again.hash == cap.hash);
    jp_sim_truth_free(run(&w, 12, &other, &stats));
    assert_true(other.hash != cap.hash);

    jp_sim_truth_free(truth);
    jp_sim_world_release(&w);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

typedef struct {
    uint64_t hash, n;
} pin_t;

static int pin_write(void *ctx, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t len, int64_t ts, long fault)
{
    pin_t *p = ctx;
    uint64_t parts[5] = {jp_hash_str(topic, 1), jp_hash64(key, key_len, 2),
                         jp_hash64(value, len, 3), (uint64_t)ts, (uint64_t)fault};
    p->hash = jp_hash64(parts, sizeof(parts), p->hash);
    p->n++;
    return 0;
}

static void test_output_is_pinned(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("simpin");
    char *path = world_file(
        dir, "weeks: 3\n"
             "seed: 3\n"
             "faults: {duplicate: 0.01, late: 0.01, out_of_order: 0.02, not_framed: 0.005,\n"
             "         unknown_schema_id: 0.005, truncated: 0.005, wrong_type: 0.01,\n"
             "         out_of_range: 0.01, unknown_country: 0.005}\n"
             "countries:\n"
             "  - code: GB\n"
             "    population: {subscribers: 3000, postcodes: 600}\n"
             "    response: {signups_per_day: 40, extra_per_subscriber_per_day: 0.05}\n"
             "    campaigns:\n"
             "      - {name: gb-test, start_week: 1, weeks: 1, lift: 1.5}\n"
             "  - code: NL\n"
             "    population: {subscribers: 2000, postcodes: 400}\n"
             "    response: {signups_per_day: 30, extra_per_subscriber_per_day: 0.05}\n"
             "  - code: DE\n"
             "    population: {subscribers: 1500, postcodes: 300}\n"
             "    response: {signups_per_day: 20, extra_per_subscriber_per_day: 0.05}\n"
             "changes:\n"
             "  - {week: 1, country: NL, kind: elasticity, target: signup, value: 0.9}\n"
             "  - {week: 1, country: GB, kind: feature_shift, target: tickets_mean, value: "
             "3.0}\n"
             "  - {week: 2, country: DE, kind: silence, target: sales, weeks: 1}\n");
    jp_sim_world_t w;
    load(path, &w);
    jp_sim_memreg_t *reg = jp_sim_memreg_new();
    jp_sim_options_t o = {0};
    o.registry = jp_sim_memreg_registry(reg);
    pin_t pin = {0, 0};
    o.output = (jp_sim_output_t){&pin, pin_write};
    jp_sim_truth_t *truth = jp_sim_truth_new(&w, jp_sim_seed(&w, &o), jp_sim_weeks(&w, &o));
    char err[512];
    assert_int_equal(jp_sim_run(&w, &o, truth, NULL, err, sizeof(err)), 0);
    fprintf(stderr, "%llu records, hash %016llx\n", (unsigned long long)pin.n,
            (unsigned long long)pin.hash);
    assert_int_equal(pin.n, 15688);
    assert_true(pin.hash == 0x13481151e2c8f3dfULL);
    jp_sim_truth_free(truth);
    jp_sim_memreg_free(reg);
    jp_sim_world_release(&w);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signup_elasticity_and_churn),
        cmocka_unit_test(test_fault_rates_and_payout_distribution),
        cmocka_unit_test(test_output_is_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
