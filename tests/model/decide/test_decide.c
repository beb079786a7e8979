/*
 * jp_decide and jp_oracle: known answers and properties.
 *
 * - One draw without stock value is jp_optimizer's problem: same prize and
 *   objective as jp_opt_solve with the same sales.
 * - Stock value: a shared prize J whose stock grows by c ln(J/J0) per draw,
 *   with constant sales, has V(J) = const - H J + H c m L ln J, so the
 *   optimum is J* = c m L (m = price K / (S0 days)), chosen on the grid.
 *   The optimum grows with the lifetime L; with no lifetime it is the
 *   cheapest prize.
 * - Per-ticket payouts scale with the stock at each draw: evaluated by hand.
 * - Exploration: no spread or no budget never explores; with a budget every
 *   explored prize satisfies the rules, lies between the greedy and the
 *   sampled prize, costs at most the budget (checked against the analytic
 *   V), and moves farther from the greedy prize as the budget grows.
 * - Infeasible: the rules that cannot all hold are named (one rule alone,
 *   and a pair that only conflicts together), satisfiable rules are not.
 * - Determinism, evaluate == solve at the optimum, bad callbacks.
 * - jp_decide_atoms_from_quantiles and jp_oracle_horizon by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/decide/jp_decide.h"
#include "model/decide/jp_oracle.h"

static void assert_rel(double got, double want, double tol)
{
    double err = fabs(got - want) / fmax(fabs(want), 1e-300);
    if (!(err <= tol))
        fail_msg("got %.17g want %.17g (rel err %.3g > %.3g)", got, want, err, tol);
}

/* A synthetic horizon: tickets k J^e per draw (sd a share of it); the stock
 * at draw h is s0 + (h + 1) c ln(J / j0); params[0], when given, replaces c. */
typedef struct {
    double k, e, sd_frac;
    double s0, c, j0, days;
    int fail; /* 1: the callback fails; 2: it answers NaN */
} syn_t;

static int syn_horizon(void *ctx, double prize, const double *params, jp_decide_outcome_t *out)
{
    const syn_t *m = ctx;
    if (m->fail == 1)
        return -1;
    double c = params ? params[0] : m->c;
    for (size_t h = 0; h < JP_DECIDE_MAX_HORIZON; h++) {
        double n = m->k * pow(prize, m->e);
        out->period[h].tickets = m->fail == 2 ? NAN : n;
        out->period[h].tickets_sd = m->sd_frac * n;
        out->period[h].active = m->s0 + (double)(h + 1) * c * log(prize / m->j0);
        out->period[h].days = m->days;
    }
    return 0;
}

static int syn_response(void *ctx, double prize, double *mean, double *sd)
{
    const syn_t *m = ctx;
    *mean = m->k * pow(prize, m->e);
    *sd = m->sd_frac * *mean;
    return 0;
}

static void solve_ok(const jp_decide_problem_t *p, jp_decide_result_t *r)
{
    char err[256] = "";
    if (jp_decide_solve(p, r, err, sizeof(err)) != 0)
        fail_msg("jp_decide_solve: %s", err);
}

/* The stock-value world: shared prize, price 100, K = 10000 tickets a draw,
 * S0 = 100000, weekly draws, L = 700 days: m L = 100*10000*700/(100000*7)
 * = 1000 per unit of stock; c = 5000 gives J* = 5,000,000. */
static syn_t g_stock = {10000, 0, 0.01, 100000, 5000, 1000000, 7, 0};

static void stock_problem(jp_decide_problem_t *p, syn_t *m)
{
    jp_decide_problem_init(p);
    p->opt.prize_min = 100000;
    p->opt.prize_max = 10000000;
    p->opt.prize_step = 100000;
    p->opt.prize_kind = JP_OPT_PRIZE_SHARED;
    p->opt.ticket_price = 100;
    p->opt.n_alternatives = 3;
    p->opt.alternative_min_gap = 500000;
    p->horizon = syn_horizon;
    p->horizon_ctx = m;
    p->horizon_draws = 4;
    p->active_ref = m->s0;
    p->lifetime_days = 700;
    p->status_quo_prize = (int64_t)m->j0;
}

/* The stock world with the stock response c as the explored parameter. */
static void explore_problem(jp_decide_problem_t *p, syn_t *m, const double *mean, const double *sd,
                            double budget)
{
    stock_problem(p, m);
    p->explore = 1;
    p->n_params = 1;
    p->param_mean = mean;
    p->param_sd = sd;
    p->explore_max_cost = budget;
}

static void test_one_draw_is_the_optimizer(void **state)
{
    (void)state;
    syn_t m = {50, 0.5, 0.2, 1000, 0, 1, 7, 0};
    jp_decide_problem_t p;
    jp_decide_problem_init(&p);
    p.opt.prize_min = 2500;
    p.opt.prize_max = 40000000;
    p.opt.prize_step = 2500;
    p.opt.prize_kind = JP_OPT_PRIZE_SHARED;
    p.opt.ticket_price = 200;
    p.opt.variable_cost_share = 0.1;
    p.horizon = syn_horizon;
    p.horizon_ctx = &m;
    p.active_ref = 1000;
    jp_decide_result_t r;
    solve_ok(&p, &r);

    jp_opt_problem_t q = p.opt;
    q.response = syn_response;
    q.response_ctx = &m;
    jp_opt_result_t o;
    char err[256];
    assert_int_equal(jp_opt_solve(&q, &o, err, sizeof(err)), 0);
    /* 9000 sqrt(J) - J: J* = 4500^2 */
    assert_int_equal(o.prize, 20250000);
    assert_int_equal(r.prize, o.prize);
    assert_rel(r.opt.objective, o.objective, 1e-12);
    assert_rel(r.horizon_net, o.expected_net_revenue, 1e-12);
    assert_int_equal(r.explored, 0);
    assert_true(r.stock_value == 0.0);
}

static void test_stock_value_optimum(void **state)
{
    (void)state;
    syn_t m = g_stock;
    jp_decide_problem_t p;
    stock_problem(&p, &m);
    jp_decide_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.opt.status, JP_OPT_OPTIMAL);
    assert_int_equal(r.prize, 5000000);
    assert_rel(r.subscriber_value, 1000.0, 1e-12);
    /* V at J*: 4 draws of 100*10000 - J, plus 4 c ln(J/J0) m L */
    double want = 4 * (1e6 - 5e6) + 4 * 5000 * log(5.0) * 1000.0;
    assert_rel(r.opt.objective, want, 1e-9);
    assert_rel(r.stock_value, 4 * 5000 * log(5.0) * 1000.0, 1e-9);
    assert_rel(r.horizon_net, 4 * (1e6 - 5e6), 1e-12);
    /* the refinement finds the same continuous optimum */
    assert_rel(r.opt.prize_refined, 5e6, 1e-6);

    /* no lifetime: the stock is worth nothing and the cheapest prize wins */
    p.lifetime_days = 0;
    solve_ok(&p, &r);
    assert_int_equal(r.prize, 100000);

    /* the optimum grows with the lifetime (J* = c m L: 2.5M, 5M, 7.5M) */
    int64_t last = 0;
    for (double L = 100; L <= 1500; L += 100) {
        p.lifetime_days = L;
        solve_ok(&p, &r);
        assert_true(r.prize >= last);
        last = r.prize;
        double star = 5000.0 * (100.0 * 10000.0 / (100000.0 * 7.0)) * L;
        if (star <= 1e7)
            assert_true(llabs(r.prize - (int64_t)llround(star)) <= 100000);
    }
}

static void test_per_ticket_payout_follows_the_stock(void **state)
{
    (void)state;
    /* tickets 2000 a draw, stock 10000 + (h+1) 1000 ln(J/J0) */
    syn_t m = {2000, 0, 0.0, 10000, 1000, 10000, 7, 0};
    const jp_opt_mass_t atoms[] = {{2, 0.5}, {6, 0.5}}; /* E[T] = 4 */
    const double sec_pt[3] = {0, 300, 300}, sec_fixed[3] = {0, 50, 50};
    jp_decide_problem_t p;
    jp_decide_problem_init(&p);
    p.opt.prize_min = 10000;
    p.opt.prize_max = 100000;
    p.opt.prize_step = 1000;
    p.opt.ticket_price = 100;
    p.opt.variable_cost_share = 0.2;
    p.opt.fixed_costs = 1000;
    p.opt.secondary_prizes_expected = 350;
    p.opt.tickets_in_postcode = atoms;
    p.opt.n_tickets_in_postcode = 2;
    p.horizon = syn_horizon;
    p.horizon_ctx = &m;
    p.horizon_draws = 3;
    p.active_ref = 10000;
    p.secondary_per_ticket = sec_pt;
    p.secondary_fixed = sec_fixed;
    double J = 20000;
    jp_decide_result_t r;
    char err[256];
    assert_int_equal(jp_decide_evaluate(&p, J, &r, err, sizeof(err)), 0);
    double net = 0;
    for (int h = 0; h < 3; h++) {
        double s = (10000 + (h + 1) * 1000 * log(2.0)) / 10000;
        double sec = h == 0 ? 350 : 300 * s + 50;
        net += 100 * 2000 * 0.8 - J * 4 * s - sec - 1000;
        if (h == 0)
            assert_rel(r.opt.expected_headline_payout, J * 4 * s, 1e-12);
    }
    assert_rel(r.horizon_net, net, 1e-12);
    assert_rel(r.opt.objective, net, 1e-12);
    assert_int_equal(r.opt.status, JP_OPT_OPTIMAL);
    assert_rel(r.outcome.period[2].active, 10000 + 3000 * log(2.0), 1e-12);
}

/* V of the stock world at J, analytically (per unit: the constant dropped). */
static double stock_v(double J)
{
    return -4 * J + 4 * 5000 * 1000.0 * log(J);
}

static void test_exploration_bounded(void **state)
{
    (void)state;
    syn_t m = g_stock;
    const double mean = 5000, sd0 = 0;
    jp_decide_problem_t p;
    explore_problem(&p, &m, &mean, &sd0, 1e12);
    jp_decide_result_t r;
    /* no spread: the sample is the estimate */
    solve_ok(&p, &r);
    assert_int_equal(r.explored, 0);
    assert_int_equal(r.thompson_prize, r.greedy_prize);
    assert_int_equal(r.prize, 5000000);

    const double sd = 1500;
    p.param_sd = &sd;
    /* no budget: never explores, though the sample often disagrees */
    p.explore_max_cost = 0;
    p.explore_max_share = 0;
    int disagreed = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        p.seed = seed;
        solve_ok(&p, &r);
        assert_int_equal(r.explored, 0);
        assert_int_equal(r.prize, r.greedy_prize);
        disagreed += r.thompson_prize != r.greedy_prize;
    }
    assert_true(disagreed > 20);

    /* a budget of 2% of |V| at the optimum, the share capping it */
    double v_star = 4 * (1e6 - 5e6) + 4 * 5000 * log(5.0) * 1000.0;
    double budget = 0.02 * fabs(v_star);
    int explored = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        p.seed = seed;
        p.explore_max_share = 0.02;
        p.explore_max_cost = 10 * budget;
        solve_ok(&p, &r);
        assert_rel(r.exploration_budget, budget, 1e-9);
        assert_int_equal(r.greedy_prize, 5000000);
        assert_int_equal(r.opt.status, JP_OPT_OPTIMAL);
        if (!r.explored) {
            assert_int_equal(r.prize, r.greedy_prize);
            continue;
        }
        explored++;
        int64_t lo = r.greedy_prize < r.thompson_prize ? r.greedy_prize : r.thompson_prize;
        int64_t hi = r.greedy_prize < r.thompson_prize ? r.thompson_prize : r.greedy_prize;
        assert_true(r.prize >= lo && r.prize <= hi && r.prize != r.greedy_prize);
        double cost = stock_v(5e6) - stock_v((double)r.prize);
        assert_rel(r.exploration_cost, cost, 1e-6);
        assert_true(r.exploration_cost <= budget);
        /* the absolute cap binds when it is the smaller limit */
        jp_decide_result_t capped;
        p.explore_max_cost = 0.5 * budget;
        solve_ok(&p, &capped);
        assert_rel(capped.exploration_budget, 0.5 * budget, 1e-12);
        assert_true(capped.exploration_cost <= 0.5 * budget);
        /* the greedy prize is offered as the first alternative */
        assert_true(r.opt.n_alternatives >= 1);
        assert_int_equal(r.opt.alternatives[0].prize, r.greedy_prize);
        /* more budget never explores less far */
        int64_t dist = llabs(r.prize - r.greedy_prize);
        jp_decide_result_t more;
        p.explore_max_cost = 0;
        p.explore_max_share = 0.08;
        solve_ok(&p, &more);
        assert_int_equal(more.thompson_prize, r.thompson_prize);
        assert_true(llabs(more.prize - more.greedy_prize) >= dist);
    }
    assert_true(explored > 50);
}

static void test_infeasible_names_the_rules(void **state)
{
    (void)state;
    syn_t m = g_stock;
    jp_decide_problem_t p;
    stock_problem(&p, &m);
    /* satisfiable rules that must not be named */
    p.opt.rules.loss_chance.on = 1;
    p.opt.rules.loss_chance.epsilon = 1.0;
    p.opt.rules.draw_proceeds.on = 1;
    p.opt.rules.draw_proceeds.cap = 1000000000;
    /* a single-prize cap below the cheapest prize: that rule alone */
    p.opt.rules.single_prize.mode = JP_OPT_CAP_ABS;
    p.opt.rules.single_prize.abs = 50000;
    jp_decide_result_t r;
    solve_ok(&p, &r);
    assert_int_equal(r.opt.status, JP_OPT_INFEASIBLE);
    assert_int_equal(r.opt.conflict_mask, 1u << JP_OPT_C_SINGLE_PRIZE);
    assert_int_equal(r.opt.constraints[JP_OPT_C_SINGLE_PRIZE].alone_satisfiable, 0);
    assert_int_equal(r.explored, 0);

    /* a pair: the cap allows J <= 2M, the change rule 3M +- 500k */
    p.opt.rules.single_prize.abs = 2000000;
    p.opt.has_previous_prize = 1;
    p.opt.previous_prize = 3000000;
    p.opt.rules.max_change.on_abs = 1;
    p.opt.rules.max_change.abs = 500000;
    solve_ok(&p, &r);
    assert_int_equal(r.opt.status, JP_OPT_INFEASIBLE);
    assert_int_equal(r.opt.conflict_mask,
                     (1u << JP_OPT_C_SINGLE_PRIZE) | (1u << JP_OPT_C_CHANGE_ABS));
    char names[256];
    jp_opt_format_mask(r.opt.conflict_mask, names, sizeof(names));
    assert_string_equal(names, "max_single_prize,max_change_abs");
    /* the compromise breaks only one of them */
    assert_int_equal(__builtin_popcount(r.opt.violated_mask), 1);

    /* relaxing the change rule makes it feasible: the cap binds */
    p.opt.rules.max_change.abs = 1000000;
    solve_ok(&p, &r);
    assert_int_equal(r.opt.status, JP_OPT_OPTIMAL);
    assert_int_equal(r.prize, 2000000);
    assert_int_equal(r.opt.conflict_mask, 0);
    assert_true(r.opt.constraints[JP_OPT_C_SINGLE_PRIZE].binding);
}

static void test_deterministic_and_evaluate(void **state)
{
    (void)state;
    syn_t m = g_stock;
    const double mean = 5000, sd = 1500;
    jp_decide_problem_t p;
    explore_problem(&p, &m, &mean, &sd, 1e9);
    p.seed = 7;
    jp_decide_result_t a, b;
    solve_ok(&p, &a);
    solve_ok(&p, &b);
    assert_memory_equal(&a, &b, sizeof(a));

    p.explore = 0;
    solve_ok(&p, &a);
    char err[256];
    assert_int_equal(jp_decide_evaluate(&p, (double)a.prize, &b, err, sizeof(err)), 0);
    assert_int_equal(b.prize, a.prize);
    assert_rel(b.opt.objective, a.opt.objective, 1e-12);
    assert_rel(b.horizon_net, a.horizon_net, 1e-12);
    assert_rel(b.stock_value, a.stock_value, 1e-12);
    assert_int_equal(b.opt.status, JP_OPT_OPTIMAL);
    /* a what-if outside every rule still answers, as INFEASIBLE */
    p.opt.rules.single_prize.mode = JP_OPT_CAP_ABS;
    p.opt.rules.single_prize.abs = 1000000;
    assert_int_equal(jp_decide_evaluate(&p, 2e6, &b, err, sizeof(err)), 0);
    assert_int_equal(b.opt.status, JP_OPT_INFEASIBLE);
    assert_int_equal(b.opt.violated_mask, 1u << JP_OPT_C_SINGLE_PRIZE);
}

static void test_bad_callbacks(void **state)
{
    (void)state;
    syn_t m = g_stock;
    jp_decide_problem_t p;
    stock_problem(&p, &m);
    jp_decide_result_t r;
    char err[256];
    m.fail = 1;
    assert_int_equal(jp_decide_solve(&p, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "horizon callback failed"));
    m.fail = 2;
    assert_int_equal(jp_decide_solve(&p, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "draw 1"));
    m.fail = 0;
    p.horizon_draws = 0;
    assert_int_equal(jp_decide_solve(&p, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "horizon_draws"));
    p.horizon_draws = 2;
    p.status_quo_prize = 0;
    assert_int_equal(jp_decide_solve(&p, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "status_quo_prize"));
}

static void test_atoms_from_quantiles(void **state)
{
    (void)state;
    const double level[] = {0.5, 0.9, 0.99}, value[] = {4, 10, 30};
    jp_opt_mass_t a[4];
    assert_int_equal(jp_decide_atoms_from_quantiles(level, value, 3, 1, a), 4);
    const double t[] = {2.5, 7, 20, 30}, pr[] = {0.5, 0.4, 0.09, 0.01};
    for (int i = 0; i < 4; i++) {
        assert_rel(a[i].tickets, t[i], 1e-15);
        assert_rel(a[i].prob, pr[i], 1e-12);
    }
    const double full[] = {0.5, 1.0};
    assert_int_equal(jp_decide_atoms_from_quantiles(full, value, 2, 0, a), 2);
    const double down[] = {4, 3};
    assert_int_equal(jp_decide_atoms_from_quantiles(full, down, 2, 0, a), -1);
    assert_int_equal(jp_decide_atoms_from_quantiles(level, value, 3, 5, a), -1);
}

static void test_oracle_by_hand(void **state)
{
    (void)state;
    jp_oracle_period_t q[2];
    memset(q, 0, sizeof(q));
    for (int h = 0; h < 2; h++) {
        q[h].before = (jp_oracle_part_t){100, 10, 1, 40, 60, 20};
        q[h].after = (jp_oracle_part_t){200, 30, 2, 80, 120, 40};
        q[h].renewal_tickets = 5000;
        q[h].signup_tickets = 80; /* 2 per sign-up */
        q[h].active_start = 1000 + 20 * h;
        q[h].active_end = 1020 + 20 * h;
        q[h].days = 7;
        q[h].e_signup = 1;
        q[h].e_extra = 0;
        q[h].e_cancel = -1;
    }
    jp_oracle_t o = {q, 2};
    jp_decide_outcome_t out;
    assert_int_equal(jp_oracle_horizon(&o, 200, NULL, &out), 0);
    /* at the actual prizes of period 0 nothing moves */
    assert_rel(out.period[0].tickets, 5000 + 80 + 60 + 120, 1e-12);
    assert_rel(out.period[0].active, 1020, 1e-12);
    /* period 1's first part moves from 100 to 200: sign-ups and
     * reactivations double, cancellations halve: stock +10 +1 +10 */
    assert_rel(out.period[1].active, 1040 + 21, 1e-12);
    double mean_ratio = (1020 + 1040 + 21.0) / (1020 + 1040);
    assert_rel(out.period[1].tickets, 5000 * mean_ratio + (20 + 30) * 2 + 60 + 120, 1e-12);

    /* J = 400 doubles period 0's second part too */
    assert_int_equal(jp_oracle_horizon(&o, 400, NULL, &out), 0);
    double d0 = 30 + 2 + 20; /* +30 sign-ups, +2 reactivations, -20 cancellations */
    assert_rel(out.period[0].active, 1020 + d0, 1e-12);
    double r1 = (1020 + d0) / 1020;
    /* period 1: x4 before (100 -> 400), x2 after; cancellations x1/4, x1/2 of r1 */
    double d1 = (30 + 3) + (30 + 2) - ((20.0 / 4 * r1 - 20) + (40.0 / 2 * r1 - 40));
    assert_rel(out.period[1].active, 1040 + d0 + d1, 1e-9);
    /* extras scale with the stock ratio (elasticity 0) */
    double mr = (1020 + 1040 + d0 + d0 + d1) / (1020 + 1040);
    assert_rel(out.period[1].tickets, 5000 * mr + (40 + 60) * 2 + (60 + 120) * r1, 1e-9);

    double x = 1;
    assert_int_equal(jp_oracle_horizon(&o, 400, &x, &out), -1);
    q[1].active_start = 0;
    assert_int_equal(jp_oracle_horizon(&o, 400, NULL, &out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_draw_is_the_optimizer),
        cmocka_unit_test(test_stock_value_optimum),
        cmocka_unit_test(test_per_ticket_payout_follows_the_stock),
        cmocka_unit_test(test_exploration_bounded),
        cmocka_unit_test(test_infeasible_names_the_rules),
        cmocka_unit_test(test_deterministic_and_evaluate),
        cmocka_unit_test(test_bad_callbacks),
        cmocka_unit_test(test_atoms_from_quantiles),
        cmocka_unit_test(test_oracle_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
