/*
 * jp_optimizer: analytic optima, every rule binding in turn, infeasibility
 * diagnostics, ledger windows, heavy-tailed payouts, the loss chance
 * constraint, and properties (tightening never helps, determinism).
 *
 * Most cases use a shared prize J, price 200, variable costs 10% and sales
 * N(J) ~ Normal(50*sqrt(J), (0.2*50*sqrt(J))^2). Then proceeds are
 * R(J) = 10000*sqrt(J), the expected net revenue is 9000*sqrt(J) - J and the
 * unconstrained optimum is J* = 4500^2 = 20,250,000. Each rule's limit below
 * is chosen so that its boundary is a round prize on the 2,500 grid (e.g.
 * J = 16,000,000 where sqrt(J) = 4000), computed by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_num.h"

#include "model/decide/jp_optimizer.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct power_s {
    double k, e, sd_frac;
    int fail; /* 1: return an error; 2: return NaN */
} power_t;

static int power_response(void *ctx, double prize, double *mean, double *sd)
{
    const power_t *m = ctx;
    if (m->fail == 1)
        return -1;
    *mean = m->fail == 2 ? NAN : m->k * pow(prize, m->e);
    *sd = m->sd_frac * *mean;
    return 0;
}

/* Independent inverse of jp_opt_utc_year (Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t utc_ms(int y, unsigned m, unsigned d, int hour)
{
    return (days_from_civil(y, m, d) * 24 + hour) * 3600000LL;
}

#define WEEK_MS (7LL * 86400000LL)

static double phi(double z)
{
    return 0.5 * erfc(-z * M_SQRT1_2);
}

static void solve_ok(const jp_opt_problem_t *p, jp_opt_result_t *r)
{
    char err[256] = "";
    int rc = jp_opt_solve(p, r, err, sizeof(err));
    if (rc != 0)
        fail_msg("jp_opt_solve failed: %s", err);
}

static jp_opt_ledger_entry_t g_ledger[4];
static power_t g_model;

/* The shared-prize base case (J* = 20,250,000) on the 2,500 grid. */
static void base_problem(jp_opt_problem_t *p)
{
    jp_opt_problem_init(p);
    g_model = (power_t){.k = 50.0, .e = 0.5, .sd_frac = 0.2};
    p->prize_min = 1000000;
    p->prize_max = 40000000;
    p->prize_step = 2500;
    p->prize_kind = JP_OPT_PRIZE_SHARED;
    p->ticket_price = 200;
    p->response = power_response;
    p->response_ctx = &g_model;
    p->variable_cost_share = 0.1;
    p->decision_time_ms = utc_ms(2026, 6, 1, 0);
}

/* Every rule on, none of them active at J* = 20,250,000. */
static void loose_rules(jp_opt_problem_t *p)
{
    jp_opt_rules_t *u = &p->rules;
    u->good_causes.on = 1;
    u->good_causes.min_share = 0.1; /* 0.45 at J* */
    u->prize_share.on_min = u->prize_share.on_max = 1;
    u->prize_share.min = 0.01;
    u->prize_share.max = 0.9;
    u->single_prize.mode = JP_OPT_CAP_ABS;
    u->single_prize.abs = 100000000;
    u->draw_proceeds.on = 1;
    u->draw_proceeds.cap = 1000000000000LL;
    u->annual_proceeds.on = 1;
    u->annual_proceeds.cap = 10000000000000LL;
    p->proceeds_year_to_date = 1000000000;
    u->payout_ratio.on_min = u->payout_ratio.on_max = 1;
    u->payout_ratio.min = 0.01;
    u->payout_ratio.max = 0.9;
    g_ledger[0] = (jp_opt_ledger_entry_t){p->decision_time_ms - 4 * WEEK_MS, 1000000000, 300000000};
    p->ledger = g_ledger;
    p->n_ledger = 1;
    u->cash_safety.on = 1;
    u->cash_safety.margin = 0;
    p->available_cash = 1000000000000LL;
    u->max_change.on_abs = u->max_change.on_rel = 1;
    u->max_change.abs = 1000000000;
    u->max_change.rel = 100.0;
    p->has_previous_prize = 1;
    p->previous_prize = 20000000;
    u->loss_chance.on = 1;
    u->loss_chance.epsilon = 0.5;
}

static int64_t nearest_grid(const jp_opt_problem_t *p, double x)
{
    double i = floor((x - (double)p->prize_min) / (double)p->prize_step + 0.5);
    return p->prize_min + (int64_t)i * p->prize_step;
}

/* ---------------------------------------------------------- analytic optima */

static void test_analytic_shared_power_law(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    p.prize_step = 3700; /* J* is not on this grid */
    /* net = (1-v)*price*k*J^e - J  =>  J* = ((1-v)*price*k*e)^(1/(1-e)) */
    double jstar = pow(0.9 * 200.0 * 50.0 * 0.5, 1.0 / (1.0 - 0.5));
    double frac = fmod((jstar - 1e6) / 3700.0, 1.0);
    assert_true(fabs(frac - 0.5) > 0.05); /* the nearest grid point is unambiguous */
    jp_opt_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.status, JP_OPT_OPTIMAL);
    jp_assert_near(r.prize_refined, jstar, 1e-6, 0, NULL);
    assert_true(r.prize == nearest_grid(&p, jstar));
    assert_true(r.prize == r.unconstrained_prize);
    double j = (double)r.prize, mu = 50.0 * sqrt(j);
    jp_assert_near(r.expected_tickets, mu, 1e-12, 0, NULL);
    jp_assert_near(r.expected_net_revenue, 0.9 * 200.0 * mu - j, 1e-12, 0, NULL);
    jp_assert_near(r.tickets_p05, mu - 1.6448536269514722 * 0.2 * mu, 1e-12, 0, NULL);
    jp_assert_near(r.tickets_p95, mu + 1.6448536269514722 * 0.2 * mu, 1e-12, 0, NULL);
    jp_assert_near(r.revenue_p95, 200.0 * r.tickets_p95, 1e-12, 0, NULL);
    assert_true(r.objective_refined >= r.objective);
    assert_int_equal(r.binding_mask, 0);
    assert_int_equal(r.grid_points, (40000000 - 1000000) / 3700 + 1);
    assert_int_equal(r.feasible_points, r.grid_points);
}

static const jp_opt_mass_t small_atoms[3] = {{2.0, 0.3}, {1.0, 0.5}, {6.0, 0.2}}; /* E[T]=2.3 */

static void test_analytic_per_ticket(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    p.prize_kind = JP_OPT_PRIZE_PER_TICKET;
    p.tickets_in_postcode = small_atoms;
    p.n_tickets_in_postcode = 3;
    p.prize_min = 100000;
    p.prize_max = 10000000;
    p.prize_step = 1000;
    /* net = 9000*sqrt(J) - 2.3*J  =>  J* = (4500/2.3)^2 */
    double jstar = pow(4500.0 / 2.3, 2.0);
    jp_opt_result_t r;
    solve_ok(&p, &r);
    jp_assert_near(r.prize_refined, jstar, 1e-6, 0, NULL);
    assert_true(r.prize == nearest_grid(&p, jstar));
    jp_assert_near(r.expected_headline_payout, 2.3 * (double)r.prize, 1e-12, 0, NULL);
    /* lower 0.99 quantile of T is 6 */
    jp_assert_near(r.headline_payout_quantile, 6.0 * (double)r.prize, 1e-15, 0, NULL);

    /* tickets in the postcode scale with sales: payout = J * (N(J)/B) * E[T],
     * net = 9000*sqrt(J) - (50*2.3/B)*J^1.5  =>  J* = 4500 / (1.5*50*2.3/B) */
    p.baseline_tickets = 100000.0;
    jstar = 4500.0 / (1.5 * 50.0 * 2.3 / 100000.0);
    solve_ok(&p, &r);
    jp_assert_near(r.prize_refined, jstar, 1e-6, 0, NULL);
    assert_true(r.prize == nearest_grid(&p, jstar));
    double j = (double)r.prize;
    jp_assert_near(r.expected_headline_payout, j * 50.0 * sqrt(j) / 100000.0 * 2.3, 1e-12, 0, NULL);
}

static void test_objective_after_good_causes(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    p.rules.good_causes.on = 1;
    p.rules.good_causes.min_share = 0.3;
    p.objective_after_good_causes = 1;
    /* objective = (0.9 - 0.3)*10000*sqrt(J) - J  =>  J* = 3000^2 = 9,000,000 */
    jp_opt_result_t r;
    solve_ok(&p, &r);
    assert_true(r.prize == 9000000);
    jp_assert_near(r.prize_refined, 9e6, 1e-6, 0, NULL);
    assert_int_equal(r.binding_mask, 0); /* share 0.6 >= 0.3: not a constraint effect */
    jp_assert_near(r.objective, 6000.0 * 3000.0 - 9e6, 1e-12, 0, NULL);
    jp_assert_near(r.expected_net_revenue, 9000.0 * 3000.0 - 9e6, 1e-12, 0, NULL);
    /* the flag needs the rule: without it the objective is the net revenue */
    p.rules.good_causes.on = 0;
    solve_ok(&p, &r);
    assert_true(r.prize == 20250000);
}

/* ------------------------------------------------------- each rule binding */

static void test_loose_rules_bind_nothing(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    loose_rules(&p);
    jp_opt_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.status, JP_OPT_OPTIMAL);
    assert_true(r.prize == 20250000);
    assert_int_equal(r.binding_mask, 0);
    for (int c = 0; c < JP_OPT_C_COUNT; c++) {
        assert_true(r.constraints[c].enabled);
        assert_true(r.constraints[c].slack > 0.0);
        assert_false(r.constraints[c].binding);
    }
}

/* Tightens rule c so that it alone cuts the optimum at a known prize. */
static int64_t tighten_rule(jp_opt_problem_t *p, int c)
{
    jp_opt_rules_t *u = &p->rules;
    switch (c) {
    case JP_OPT_C_GOOD_CAUSES: /* 0.9 - sqrt(J)/10000 >= 0.5 */
        u->good_causes.min_share = 0.5;
        return 16000000;
    case JP_OPT_C_PRIZE_SHARE_MIN: /* sqrt(J)/10000 >= 0.5 */
        u->prize_share.min = 0.5;
        return 25000000;
    case JP_OPT_C_PRIZE_SHARE_MAX: /* sqrt(J)/10000 <= 0.4 */
        u->prize_share.max = 0.4;
        return 16000000;
    case JP_OPT_C_SINGLE_PRIZE:
        u->single_prize.abs = 15000000;
        return 15000000;
    case JP_OPT_C_DRAW_PROCEEDS: /* 10000*sqrt(J) <= 40M */
        u->draw_proceeds.cap = 40000000;
        return 16000000;
    case JP_OPT_C_ANNUAL_PROCEEDS: /* 10M + 10000*sqrt(J) <= 50M */
        p->proceeds_year_to_date = 10000000;
        u->annual_proceeds.cap = 50000000;
        return 16000000;
    case JP_OPT_C_PAYOUT_RATIO_MIN: /* (0.5e9 + J)/(1e9 + 10000 sqrt(J)) >= 0.5 */
        g_ledger[0].prizes_paid = 500000000;
        u->payout_ratio.min = 0.5;
        return 25000000;
    case JP_OPT_C_PAYOUT_RATIO_MAX: /* (0.4e9 + J)/(1e9 + 10000 sqrt(J)) <= 0.4 */
        g_ledger[0].prizes_paid = 400000000;
        u->payout_ratio.max = 0.4;
        return 16000000;
    case JP_OPT_C_CASH_SAFETY: /* J + 1M <= 18M - 1M */
        p->secondary_prizes_expected = 200000;
        p->secondary_prizes_quantile = 1000000;
        p->available_cash = 18000000;
        u->cash_safety.margin = 1000000;
        return 16000000;
    case JP_OPT_C_CHANGE_ABS:
        p->previous_prize = 10000000;
        u->max_change.abs = 5000000;
        return 15000000;
    case JP_OPT_C_CHANGE_REL:
        p->previous_prize = 10000000;
        u->max_change.rel = 0.6;
        return 16000000;
    case JP_OPT_C_LOSS_CHANCE:
        /* P(180*N < J) = Phi((sqrt(J)/9000 - 1)/0.2) <= Phi(-3)  =>  sqrt(J) = 3600 */
        u->loss_chance.epsilon = 0.5 * erfc(3.0 * M_SQRT1_2);
        return 12960000;
    default:
        fail();
    }
    return 0;
}

static void test_each_rule_binding(void **state)
{
    (void)state;
    for (int c = 0; c < JP_OPT_C_COUNT; c++) {
        jp_opt_problem_t p;
        base_problem(&p);
        loose_rules(&p);
        int64_t want = tighten_rule(&p, c);
        jp_opt_result_t r;
        solve_ok(&p, &r);
        char names[512];
        jp_opt_format_mask(r.binding_mask, names, sizeof(names));
        print_message("rule %-22s -> prize %lld refined %.3f binding {%s}\n",
                      jp_opt_constraint_name((jp_opt_constraint_id_t)c), (long long)r.prize,
                      r.prize_refined, names);
        assert_int_equal(r.status, JP_OPT_OPTIMAL);
        assert_true(r.prize == want);
        jp_assert_near(r.prize_refined, (double)want, 1e-6, 0, NULL);
        assert_int_equal(r.binding_mask, 1u << c);
        assert_string_equal(names, jp_opt_constraint_name((jp_opt_constraint_id_t)c));
        const jp_opt_constraint_t *ct = &r.constraints[c];
        assert_true(ct->binding);
        assert_true(ct->violated_unconstrained);
        assert_true(fabs(ct->slack) <= 1e-9 * fabs(ct->limit) + 1e-12);
        assert_true(r.objective < r.unconstrained_objective);
    }
}

static void test_gb_single_prize_semantics(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    jp_opt_result_t r;
    /* rel cap: J <= 0.3*R = 3000*sqrt(J)  =>  J <= 9,000,000 */
    p.rules.single_prize.mode = JP_OPT_CAP_REL;
    p.rules.single_prize.rel = 0.3;
    p.rules.single_prize.abs = 2500000;
    solve_ok(&p, &r);
    assert_true(r.prize == 9000000);
    /* GB: max(abs, rel*proceeds): a small abs changes nothing ... */
    p.rules.single_prize.mode = JP_OPT_CAP_MAX_ABS_REL;
    solve_ok(&p, &r);
    assert_true(r.prize == 9000000);
    assert_true(r.binding_mask == 1u << JP_OPT_C_SINGLE_PRIZE);
    /* ... a larger abs lifts the cap to abs (rel*R < J beyond 9M) */
    p.rules.single_prize.abs = 12000000;
    solve_ok(&p, &r);
    assert_true(r.prize == 12000000);
    jp_assert_near(r.constraints[JP_OPT_C_SINGLE_PRIZE].limit, 12000000.0, 1e-15, 0, NULL);
    /* min(abs, rel*proceeds) takes the smaller one */
    p.rules.single_prize.mode = JP_OPT_CAP_MIN_ABS_REL;
    solve_ok(&p, &r);
    assert_true(r.prize == 9000000);
    /* plain absolute cap */
    p.rules.single_prize.mode = JP_OPT_CAP_ABS;
    solve_ok(&p, &r);
    assert_true(r.prize == 12000000);
}

/* ------------------------------------------------------------- max change */

static void test_max_change(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    jp_opt_result_t r;
    p.has_previous_prize = 1;
    /* downward: previous 30M, at most -20%  =>  J >= 24M */
    p.previous_prize = 30000000;
    p.rules.max_change.on_rel = 1;
    p.rules.max_change.rel = 0.2;
    solve_ok(&p, &r);
    assert_true(r.prize == 24000000);
    assert_true(r.binding_mask == 1u << JP_OPT_C_CHANGE_REL);
    jp_assert_near(r.constraints[JP_OPT_C_CHANGE_REL].value, 0.2, 1e-12, 0, NULL);
    /* both limits: previous 10M, +8M abs (18M) and +50% rel (15M): rel binds;
     * abs is violated by the unconstrained optimum yet is not binding,
     * since relaxing it alone gains nothing. */
    p.previous_prize = 10000000;
    p.rules.max_change.rel = 0.5;
    p.rules.max_change.on_abs = 1;
    p.rules.max_change.abs = 8000000;
    solve_ok(&p, &r);
    assert_true(r.prize == 15000000);
    assert_true(r.binding_mask == 1u << JP_OPT_C_CHANGE_REL);
    assert_true(r.constraints[JP_OPT_C_CHANGE_ABS].violated_unconstrained);
    assert_false(r.constraints[JP_OPT_C_CHANGE_ABS].binding);
    jp_assert_near(r.constraints[JP_OPT_C_CHANGE_ABS].slack, 3000000.0, 1e-15, 0, NULL);
    /* zero change allowed pins the prize */
    p.rules.max_change.abs = 0;
    solve_ok(&p, &r);
    assert_true(r.prize == 10000000);
    jp_assert_near(r.prize_refined, 10000000.0, 1e-9, 0, NULL);
}

/* ------------------------------------------------------------- infeasible */

static void test_infeasible_rule_alone(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    loose_rules(&p);
    p.rules.single_prize.abs = 500000; /* below prize_min */
    jp_opt_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.status, JP_OPT_INFEASIBLE);
    assert_int_equal(r.feasible_points, 0);
    for (int c = 0; c < JP_OPT_C_COUNT; c++)
        assert_int_equal(r.constraints[c].alone_satisfiable, c != JP_OPT_C_SINGLE_PRIZE);
    /* best compromise: the smallest prize, violating only the cap */
    assert_true(r.prize == p.prize_min);
    assert_int_equal(r.violated_mask, 1u << JP_OPT_C_SINGLE_PRIZE);
    assert_int_equal(r.binding_mask, 0);
    assert_int_equal(r.n_alternatives, 0);
}

static void test_infeasible_conflicting_pair(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    loose_rules(&p);
    p.rules.prize_share.min = 0.5;        /* J >= 25M */
    p.rules.draw_proceeds.cap = 40000000; /* J <= 16M */
    jp_opt_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.status, JP_OPT_INFEASIBLE);
    assert_true(r.constraints[JP_OPT_C_PRIZE_SHARE_MIN].alone_satisfiable);
    assert_true(r.constraints[JP_OPT_C_DRAW_PROCEEDS].alone_satisfiable);
    /* J in (16M, 25M) violates both; at 16M the share misses by 0.1/0.5 = 20%,
     * at 25M proceeds exceed the cap by 10M/40M = 25%: compromise is 16M */
    assert_true(r.prize == 16000000);
    assert_int_equal(r.violated_mask, 1u << JP_OPT_C_PRIZE_SHARE_MIN);
    char names[256];
    jp_opt_format_mask((1u << JP_OPT_C_PRIZE_SHARE_MIN) | (1u << JP_OPT_C_DRAW_PROCEEDS), names,
                       sizeof(names));
    assert_string_equal(names, "prize_share_min,draw_proceeds_cap");
    /* a truncated buffer still ends in NUL and reports the needed length */
    char tiny[8];
    size_t need = jp_opt_format_mask(1u << JP_OPT_C_PRIZE_SHARE_MIN, tiny, sizeof(tiny));
    assert_int_equal(need, strlen("prize_share_min"));
    assert_int_equal(strlen(tiny), 7);
}

/* ------------------------------------------------------------ ledger windows */

static void test_ledger_windows(void **state)
{
    (void)state;
    /* the calendar helper against an independent inverse */
    assert_int_equal(days_from_civil(2000, 1, 1), 10957);
    assert_int_equal(jp_opt_utc_year(0), 1970);
    assert_int_equal(jp_opt_utc_year(-1), 1969);
    assert_int_equal(jp_opt_utc_year(utc_ms(2024, 2, 29, 23)), 2024);
    assert_int_equal(jp_opt_utc_year(utc_ms(2026, 12, 31, 23) + 3599999), 2026);
    assert_int_equal(jp_opt_utc_year(utc_ms(2027, 1, 1, 0)), 2027);
    assert_int_equal(jp_opt_utc_year(utc_ms(1900, 3, 1, 0) - 1), 1900);

    jp_opt_problem_t p;
    base_problem(&p);
    /* Decision on 31 Dec 2026 at noon. A draw 53 weeks old can never share a
     * calendar year with it (371 > 366 days), so the entry that separates the
     * windows is 1 Jan 2026 00:00: 52 weeks + 12 hours old, same year. */
    p.decision_time_ms = utc_ms(2026, 12, 31, 12);
    jp_opt_ledger_entry_t led[5] = {
        {utc_ms(2026, 1, 1, 0), 100000000, 42000000},        /* calendar only */
        {utc_ms(2026, 12, 20, 0), 10000000, 1000000},        /* both */
        {p.decision_time_ms - 52 * WEEK_MS, 777000000, 1},   /* exactly 52w: calendar */
        {utc_ms(2025, 12, 31, 12), 1000000000, 100000000},   /* neither */
        {utc_ms(2027, 1, 2, 0), 5000000000LL, 5000000000LL}, /* future: neither */
    };
    p.ledger = led;
    p.n_ledger = 5;
    p.rules.payout_ratio.on_max = 1;
    p.rules.payout_ratio.max = 0.4;
    jp_opt_result_t r;

    p.rules.payout_ratio.window = JP_OPT_WINDOW_ROLLING_52W;
    solve_ok(&p, &r);
    /* (1M + J)/(10M + 10000 s) <= 0.4, s = sqrt(J): J = 4000 s + 3M holds up to
     * s = (4000 + sqrt(4000^2 + 12M))/2 = 4645.75..., beyond J* = 4500^2 */
    assert_true(r.prize == 20250000);
    assert_int_equal(r.binding_mask, 0);
    jp_assert_near(r.payout_ratio_after,
                   (1000000.0 + r.expected_total_payout) / (10000000.0 + r.expected_revenue), 1e-14,
                   0, NULL);

    p.rules.payout_ratio.window = JP_OPT_WINDOW_CALENDAR_YEAR;
    solve_ok(&p, &r);
    /* 1 Jan and the exactly-52-weeks entry join: (43M+1 + J)/(887M + 10000 s) <= 0.4
     * => J - 4000 s + (43M + 1 - 354.8M) <= 0 */
    double c0 = 43000001.0 - 0.4 * 887000000.0;
    double s = (4000.0 + sqrt(4000.0 * 4000.0 - 4.0 * c0)) / 2.0;
    assert_true(s * s > 20250000.0); /* not binding with the exactly-52w entry */
    jp_assert_near(r.payout_ratio_after,
                   (43000001.0 + r.expected_total_payout) / (887000000.0 + r.expected_revenue),
                   1e-14, 0, NULL);

    /* drop the 52-week entry: the 1 Jan draw alone now makes the rule bind */
    led[2].proceeds = 0;
    led[2].prizes_paid = 0;
    solve_ok(&p, &r);
    c0 = 43000000.0 - 0.4 * 110000000.0; /* -1M */
    s = (4000.0 + sqrt(4000.0 * 4000.0 - 4.0 * c0)) / 2.0;
    jp_assert_near(r.prize_refined, s * s, 1e-6, 0, NULL);
    assert_true(r.prize <= (int64_t)(s * s) && r.prize + p.prize_step > (int64_t)(s * s));
    assert_int_equal(r.binding_mask, 1u << JP_OPT_C_PAYOUT_RATIO_MAX);

    /* rolling keeps a draw 52 weeks minus 1 ms old, drops one exactly 52 weeks old */
    p.rules.payout_ratio.window = JP_OPT_WINDOW_ROLLING_52W;
    led[2] = (jp_opt_ledger_entry_t){p.decision_time_ms - 52 * WEEK_MS, 1000, 0};
    solve_ok(&p, &r);
    double without = r.payout_ratio_after;
    jp_assert_near(without,
                   (1000000.0 + r.expected_total_payout) / (10000000.0 + r.expected_revenue), 1e-14,
                   0, NULL);
    led[2].draw_time_ms += 1;
    solve_ok(&p, &r);
    jp_assert_near(r.payout_ratio_after,
                   (1000000.0 + r.expected_total_payout) / (10001000.0 + r.expected_revenue), 1e-14,
                   0, NULL);
}

/* ----------------------------------------------------- heavy-tailed payouts */

#define HEAVY_N 200
static jp_opt_mass_t g_heavy[HEAVY_N];

/* P(T = t) proportional to t^-2.2, t = 1..200: a few dense postcodes. */
static void heavy_atoms(double *mean, double *q99)
{
    double z = 0.0;
    for (int t = 1; t <= HEAVY_N; t++)
        z += pow(t, -2.2);
    double cum = 0.0;
    *mean = 0.0;
    *q99 = -1.0;
    for (int t = 1; t <= HEAVY_N; t++) {
        g_heavy[t - 1] = (jp_opt_mass_t){(double)t, pow(t, -2.2) / z};
        *mean += t * g_heavy[t - 1].prob;
        cum += g_heavy[t - 1].prob;
        if (*q99 < 0.0 && cum >= 0.99)
            *q99 = t;
    }
}

static void per_ticket_problem(jp_opt_problem_t *p)
{
    base_problem(p);
    p->prize_kind = JP_OPT_PRIZE_PER_TICKET;
    p->tickets_in_postcode = g_heavy;
    p->n_tickets_in_postcode = HEAVY_N;
    p->prize_min = 10000;
    p->prize_max = 10000000;
    p->prize_step = 1000;
}

static void test_cash_safety_heavy_tail(void **state)
{
    (void)state;
    double mean, q99;
    heavy_atoms(&mean, &q99);
    assert_true(q99 > 5.0 * mean); /* the tail, not the mean, sizes the cash */
    jp_opt_problem_t p;
    per_ticket_problem(&p);
    jp_opt_result_t free_r, r;
    solve_ok(&p, &free_r);
    jp_assert_near(free_r.prize_refined, pow(4500.0 / mean, 2.0), 1e-6, 0, NULL);
    assert_true(free_r.prize > 1500000);

    /* cash for 1.5M per ticket at the 99% quantile, plus the margin */
    p.rules.cash_safety.on = 1;
    p.rules.cash_safety.quantile = 0.99;
    p.rules.cash_safety.margin = 100000;
    p.available_cash = (int64_t)(1500000.0 * q99) + 100000;
    solve_ok(&p, &r);
    assert_true(r.prize == 1500000);
    assert_int_equal(r.binding_mask, 1u << JP_OPT_C_CASH_SAFETY);
    jp_assert_near(r.headline_payout_quantile, 1500000.0 * q99, 1e-15, 0, NULL);
    jp_assert_near(r.expected_headline_payout, 1500000.0 * mean, 1e-12, 0, NULL);
    assert_true(r.constraints[JP_OPT_C_CASH_SAFETY].slack == 0.0);

    /* input order does not matter: byte-identical result */
    jp_opt_mass_t shuffled[HEAVY_N];
    for (int i = 0; i < HEAVY_N; i++)
        shuffled[i] = g_heavy[(i * 77) % HEAVY_N]; /* 77 is coprime to 200 */
    p.tickets_in_postcode = shuffled;
    jp_opt_result_t r2;
    solve_ok(&p, &r2);
    assert_memory_equal(&r, &r2, sizeof(r));
}

/* ------------------------------------------------------------ chance rule */

static double loss_by_hand(double j, double mean_scale, const jp_opt_mass_t *atoms, size_t n,
                           double fixed)
{
    double mu = 50.0 * sqrt(j), sd = 0.2 * mu, p = 0.0;
    for (size_t i = 0; i < n; i++)
        p += atoms[i].prob * phi(((j * mean_scale * atoms[i].tickets + fixed) / 180.0 - mu) / sd);
    return p;
}

static void test_loss_chance_per_ticket(void **state)
{
    (void)state;
    double mean, q99;
    heavy_atoms(&mean, &q99);
    jp_opt_problem_t p;
    per_ticket_problem(&p);
    p.fixed_costs = 2000000;
    jp_opt_result_t free_r, r;
    solve_ok(&p, &free_r);
    double p_free = loss_by_hand((double)free_r.prize, 1.0, g_heavy, HEAVY_N, 2000000.0);
    assert_true(p_free > 0.01 && p_free < 0.5);
    jp_assert_near(free_r.loss_probability, p_free, 1e-9, 0, NULL);

    p.rules.loss_chance.on = 1;
    p.rules.loss_chance.epsilon = 0.5 * p_free;
    solve_ok(&p, &r);
    assert_int_equal(r.status, JP_OPT_OPTIMAL);
    assert_int_equal(r.binding_mask, 1u << JP_OPT_C_LOSS_CHANCE);
    double eps = p.rules.loss_chance.epsilon;
    double here = loss_by_hand((double)r.prize, 1.0, g_heavy, HEAVY_N, 2000000.0);
    jp_assert_near(r.loss_probability, here, 1e-9, 0, NULL);
    assert_true(here <= eps);
    /* the neighbour towards the unconstrained optimum breaks the rule */
    double next = (double)(r.prize + (r.prize < free_r.prize ? p.prize_step : -p.prize_step));
    assert_true(loss_by_hand(next, 1.0, g_heavy, HEAVY_N, 2000000.0) > eps);
    assert_true(r.objective < free_r.objective);
    /* the refined prize sits on the boundary between the two */
    assert_true(fabs(r.prize_refined - (double)r.prize) <= (double)p.prize_step);

    /* epsilon 0 with a sales sd of 0: the loss is a step and P is 0 or 1.
     * With T <= 6 no loss means 9000*s >= 6*s^2 + 2M (s = sqrt(J)), i.e.
     * s <= (9000 + sqrt(9000^2 - 48M))/12. */
    g_model.sd_frac = 0.0;
    p.tickets_in_postcode = small_atoms;
    p.n_tickets_in_postcode = 3;
    p.rules.loss_chance.epsilon = 0.0;
    solve_ok(&p, &r);
    double s = (9000.0 + sqrt(9000.0 * 9000.0 - 48000000.0)) / 12.0;
    assert_true(r.loss_probability == 0.0);
    assert_true((double)r.prize <= s * s && (double)(r.prize + p.prize_step) > s * s);
    jp_assert_near(r.prize_refined, s * s, 1e-6, 0, NULL);
    assert_int_equal(r.binding_mask, 1u << JP_OPT_C_LOSS_CHANCE);
}

/* -------------------------------------------------------------- alternatives */

static void test_alternatives(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    p.n_alternatives = 4;
    jp_opt_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.n_alternatives, 4);
    /* concave objective: the next best points are the nearest neighbours */
    int64_t seen[4];
    for (size_t i = 0; i < 4; i++) {
        seen[i] = r.alternatives[i].prize;
        int64_t d = seen[i] - r.prize;
        assert_true(d == 2500 || d == -2500 || d == 5000 || d == -5000);
        assert_true(r.alternatives[i].objective <= r.objective);
        if (i > 0)
            assert_true(r.alternatives[i].objective <= r.alternatives[i - 1].objective);
        for (size_t k = 0; k < i; k++)
            assert_true(seen[k] != seen[i]);
        double j = (double)seen[i];
        jp_assert_near(r.alternatives[i].expected_net_revenue, 9000.0 * sqrt(j) - j, 1e-12, 0,
                       NULL);
    }
    /* spaced alternatives */
    p.alternative_min_gap = 1000000;
    solve_ok(&p, &r);
    assert_int_equal(r.n_alternatives, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_true(llabs(r.alternatives[i].prize - r.prize) >= 1000000);
        for (size_t k = 0; k < i; k++)
            assert_true(llabs(r.alternatives[i].prize - r.alternatives[k].prize) >= 1000000);
    }
    /* only feasible points: a single-prize cap at 20M leaves 20M and below */
    p.rules.single_prize.mode = JP_OPT_CAP_ABS;
    p.rules.single_prize.abs = 20000000;
    p.alternative_min_gap = 0;
    solve_ok(&p, &r);
    assert_true(r.prize == 20000000);
    for (size_t i = 0; i < r.n_alternatives; i++)
        assert_true(r.alternatives[i].prize == 20000000 - 2500 * (int64_t)(i + 1));
}

/* ------------------------------------------------------------- properties */

static double solved_objective(const jp_opt_problem_t *p)
{
    jp_opt_result_t r;
    solve_ok(p, &r);
    return r.status == JP_OPT_OPTIMAL ? r.objective : -INFINITY;
}

static void tighten_step(jp_opt_problem_t *p, int c)
{
    jp_opt_rules_t *u = &p->rules;
    switch (c) {
    case JP_OPT_C_GOOD_CAUSES:
        u->good_causes.min_share += 0.07;
        break;
    case JP_OPT_C_PRIZE_SHARE_MIN:
        u->prize_share.min += 0.07;
        break;
    case JP_OPT_C_PRIZE_SHARE_MAX:
        u->prize_share.max -= 0.07;
        break;
    case JP_OPT_C_SINGLE_PRIZE:
        u->single_prize.abs = u->single_prize.abs * 7 / 10;
        u->single_prize.rel *= 0.7;
        break;
    case JP_OPT_C_DRAW_PROCEEDS:
        u->draw_proceeds.cap = u->draw_proceeds.cap * 8 / 10;
        break;
    case JP_OPT_C_ANNUAL_PROCEEDS:
        u->annual_proceeds.cap -= u->annual_proceeds.cap / 10;
        break;
    case JP_OPT_C_PAYOUT_RATIO_MIN:
        u->payout_ratio.min += 0.07;
        break;
    case JP_OPT_C_PAYOUT_RATIO_MAX:
        u->payout_ratio.max -= 0.07;
        break;
    case JP_OPT_C_CASH_SAFETY:
        p->available_cash = p->available_cash * 8 / 10;
        break;
    case JP_OPT_C_CHANGE_ABS:
        u->max_change.abs = u->max_change.abs * 6 / 10;
        break;
    case JP_OPT_C_CHANGE_REL:
        u->max_change.rel *= 0.6;
        break;
    case JP_OPT_C_LOSS_CHANCE:
        u->loss_chance.epsilon *= 0.3;
        break;
    default:
        fail();
    }
}

static double uniform(jp_rng_t *rng, double lo, double hi)
{
    return lo + (hi - lo) * jp_rng_uniform(rng);
}

/* A random but economically sensible problem: the response is calibrated so
 * that the unconstrained optimum is a random J*, and every limit is drawn
 * around its value at J*, so some rules bind and some do not. */
static void random_problem(jp_opt_problem_t *p, jp_rng_t *rng, double mean_t, double q99)
{
    base_problem(p);
    loose_rules(p);
    p->prize_min = 100000;
    p->prize_max = 20000000;
    p->prize_step = 10000;
    double jstar = uniform(rng, 1e6, 15e6), e = uniform(rng, 0.3, 0.7), t_mean = 1.0, t_q = 1.0;
    if (jp_rng_below(rng, 2)) {
        p->prize_kind = JP_OPT_PRIZE_PER_TICKET;
        p->tickets_in_postcode = g_heavy;
        p->n_tickets_in_postcode = HEAVY_N;
        t_mean = mean_t;
        t_q = q99;
    }
    /* 180*k*e*J^(e-1) = E[T] at J*  (no scaling of T with sales here) */
    g_model.e = e;
    g_model.k = t_mean * pow(jstar, 1.0 - e) / (180.0 * e);
    g_model.sd_frac = uniform(rng, 0.05, 0.3);
    double rev = 200.0 * g_model.k * pow(jstar, e);
    p->fixed_costs = (int64_t)(0.1 * rev * jp_rng_uniform(rng));
    p->secondary_prizes_expected = (int64_t)(0.05 * rev * jp_rng_uniform(rng));
    double payout = jstar * t_mean + (double)p->secondary_prizes_expected;
    double gc = (0.9 * rev - payout - (double)p->fixed_costs) / rev, share = payout / rev;
    jp_opt_rules_t *u = &p->rules;
    u->good_causes.min_share = gc > 0.0 ? gc * uniform(rng, 0.3, 1.1) : 0.0;
    u->prize_share.min = share * uniform(rng, 0.2, 1.05);
    u->prize_share.max = share * uniform(rng, 0.95, 2.0);
    u->single_prize.mode = jp_rng_below(rng, 2) ? JP_OPT_CAP_ABS : JP_OPT_CAP_MAX_ABS_REL;
    u->single_prize.abs = (int64_t)(jstar * uniform(rng, 0.7, 2.0));
    u->single_prize.rel = jstar / rev * uniform(rng, 0.3, 1.5);
    u->draw_proceeds.cap = (int64_t)(rev * uniform(rng, 0.8, 2.0));
    u->annual_proceeds.cap = p->proceeds_year_to_date + (int64_t)(rev * uniform(rng, 0.8, 2.0));
    u->payout_ratio.min = uniform(rng, 0.1, 0.31);
    u->payout_ratio.max = uniform(rng, 0.3, 0.5);
    p->available_cash =
        (int64_t)((jstar * t_q + (double)p->secondary_prizes_expected) * uniform(rng, 0.7, 2.0));
    p->previous_prize = (int64_t)(jstar * uniform(rng, 0.5, 1.5));
    u->max_change.abs = (int64_t)(jstar * uniform(rng, 0.05, 0.6));
    u->max_change.rel = uniform(rng, 0.05, 0.6);
    u->loss_chance.epsilon = uniform(rng, 0.001, 0.3);
}

static void test_tightening_never_helps(void **state)
{
    (void)state;
    double mean, q99;
    heavy_atoms(&mean, &q99);
    jp_rng_t rng;
    jp_rng_seed(&rng, 20261122);
    int feasible_steps = 0;
    for (int trial = 0; trial < 12; trial++) {
        jp_opt_problem_t base;
        random_problem(&base, &rng, mean, q99);
        power_t model = g_model;
        for (int c = 0; c < JP_OPT_C_COUNT; c++) {
            jp_opt_problem_t p = base;
            g_model = model;
            double prev = solved_objective(&p);
            for (int step = 0; step < 4; step++) {
                tighten_step(&p, c);
                double now = solved_objective(&p);
                if (now > prev)
                    fail_msg("trial %d rule %s step %d: %.17g > %.17g", trial,
                             jp_opt_constraint_name((jp_opt_constraint_id_t)c), step, now, prev);
                feasible_steps += isfinite(now);
                prev = now;
            }
        }
    }
    print_message("feasible steps %d of %d\n", feasible_steps, 12 * JP_OPT_C_COUNT * 4);
    assert_true(feasible_steps > 100); /* the property was exercised on solvable cases */
}

static void test_monotone_in_cash_and_deterministic(void **state)
{
    (void)state;
    double mean, q99;
    heavy_atoms(&mean, &q99);
    jp_opt_problem_t p;
    per_ticket_problem(&p);
    loose_rules(&p);
    jp_opt_result_t r1, r2;
    double prev = -INFINITY;
    int64_t prev_prize = 0;
    for (int64_t cash = 10000000; cash <= 150000000; cash += 10000000) {
        p.available_cash = cash;
        solve_ok(&p, &r1);
        solve_ok(&p, &r2);
        assert_memory_equal(&r1, &r2, sizeof(r1));
        if (r1.status != JP_OPT_OPTIMAL)
            continue;
        assert_true(r1.objective >= prev);
        /* the objective rises towards J*, so more cash never lowers the prize */
        assert_true(r1.prize >= prev_prize);
        prev = r1.objective;
        prev_prize = r1.prize;
        assert_true(r1.tickets_p05 <= r1.expected_tickets);
        assert_true(r1.expected_tickets <= r1.tickets_p95);
    }
    assert_true(isfinite(prev));
}

/* --------------------------------------------------------------- validation */

static void expect_invalid(const jp_opt_problem_t *p, const char *fragment)
{
    jp_opt_result_t r;
    char err[256] = "";
    assert_int_equal(jp_opt_solve(p, &r, err, sizeof(err)), -1);
    if (!strstr(err, fragment))
        fail_msg("error '%s' lacks '%s'", err, fragment);
}

static void test_invalid_inputs(void **state)
{
    (void)state;
    jp_opt_problem_t p;
    base_problem(&p);
    p.prize_step = 0;
    expect_invalid(&p, "prize_step");
    base_problem(&p);
    p.prize_kind = JP_OPT_PRIZE_PER_TICKET;
    expect_invalid(&p, "tickets-in-postcode");
    jp_opt_mass_t half[1] = {{3.0, 0.5}};
    p.tickets_in_postcode = half;
    p.n_tickets_in_postcode = 1;
    expect_invalid(&p, "sum to 1");
    base_problem(&p);
    p.rules.max_change.on_rel = 1;
    expect_invalid(&p, "previous_prize");
    base_problem(&p);
    p.variable_cost_share = 1.0;
    expect_invalid(&p, "variable_cost_share");
    base_problem(&p);
    g_model.fail = 1;
    expect_invalid(&p, "callback failed");
    base_problem(&p);
    g_model.fail = 2;
    expect_invalid(&p, "finite");
    base_problem(&p);
    jp_opt_result_t r;
    assert_int_equal(jp_opt_solve(NULL, &r, NULL, 0), -1);
    assert_int_equal(jp_opt_solve(&p, &r, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analytic_shared_power_law),
        cmocka_unit_test(test_analytic_per_ticket),
        cmocka_unit_test(test_objective_after_good_causes),
        cmocka_unit_test(test_loose_rules_bind_nothing),
        cmocka_unit_test(test_each_rule_binding),
        cmocka_unit_test(test_gb_single_prize_semantics),
        cmocka_unit_test(test_max_change),
        cmocka_unit_test(test_infeasible_rule_alone),
        cmocka_unit_test(test_infeasible_conflicting_pair),
        cmocka_unit_test(test_ledger_windows),
        cmocka_unit_test(test_cash_safety_heavy_tail),
        cmocka_unit_test(test_loss_chance_per_ticket),
        cmocka_unit_test(test_alternatives),
        cmocka_unit_test(test_tightening_never_helps),
        cmocka_unit_test(test_monotone_in_cash_and_deterministic),
        cmocka_unit_test(test_invalid_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
