/*
 * jp_decide: the headline-prize decision of one country over a horizon of
 * draws, with bounded exploration (docs/optimizer.md, "Horizon" and
 * "Exploration").
 *
 * Contract
 * - Pure and deterministic: the same problem (and the same answers from the
 *   horizon callback) gives a byte-identical result. The only randomness is
 *   the Thompson draw, seeded by problem->seed.
 * - The decision is the prize J of the next draw, on jp_optimizer's grid,
 *   under the country's rules checked on that draw (jp_opt_problem_t in
 *   problem->opt: grid, prize kind, price, payout atoms, the first draw's
 *   secondary prizes, costs, rules and the state they are checked against).
 * - Value of J: the expected net revenue of the H draws of the horizon when
 *   J is held for all of them, plus the value of the subscriber stock it
 *   leaves behind:
 *       V(J) = sum_h [price*E[N_h](1 - v) - E[headline_h] - secondary_h - fixed]
 *              + (S_H(J) - S_H(J0)) * m * L
 *   N_h and S_h (tickets of draw h's proceeds, subscribers at draw h) come
 *   from the horizon callback. A per-ticket prize pays J * E[T] * S_h / S_ref
 *   (the payout atoms describe the drawn postcode at the stock S_ref), a
 *   shared one J. Per-ticket secondary prizes scale with S_h / S_ref too.
 *   J0 is the status quo prize; m is the net revenue of a subscriber-day
 *   under J0 in the horizon's last period (proceeds after variable costs,
 *   minus the per-ticket prizes it adds), L the expected remaining lifetime
 *   of a subscriber in days (the churn model's). L <= 0 or NaN: no stock
 *   value.
 * - The first draw is jp_optimizer's problem: its objective is draw 1's net
 *   revenue plus, as the extra term, draws 2..H and the stock value; its
 *   rules, alternatives, binding and infeasibility diagnostics are
 *   jp_optimizer's.
 * - Exploration (explore != 0, n_params > 0): parameters are drawn from
 *   independent normals (param_mean, param_sd) and the problem is solved
 *   with them (Thompson sampling). If that prize differs from the best
 *   estimate's optimum (the greedy prize), the recommendation moves from
 *   the greedy prize towards it as far as a grid point both satisfies
 *   every rule under the best estimate and gives up at most the budget
 *   (explore_max_share of |V(greedy)|, at most explore_max_cost) of V
 *   under the best estimate. The result says whether
 *   it explored, the sampled prize and the expected value given up.
 * - Returns 0 (result->status OPTIMAL or INFEASIBLE), or -1 for invalid
 *   input, a failing callback or no memory, with errstr.
 */
#ifndef JP_DECIDE_H
#define JP_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "model/decide/jp_optimizer.h"

#define JP_DECIDE_MAX_HORIZON 64
#define JP_DECIDE_MAX_PARAMS  8

/* Draw h of the horizon when one prize is held throughout. */
typedef struct jp_decide_period_s {
    double tickets, tickets_sd; /* the draw's proceeds in tickets: mean, sd (>= 0) */
    double active;              /* subscribers at the draw (> 0) */
    double days;                /* the period's length in days (> 0) */
} jp_decide_period_t;

typedef struct jp_decide_outcome_s {
    jp_decide_period_t period[JP_DECIDE_MAX_HORIZON];
} jp_decide_outcome_t;

/* The horizon's draws (horizon_draws of them) when `prize` is held for
 * every one. params: NULL for the best estimate, else n_params values that
 * replace the model's (e.g. a posterior draw of the prize elasticities).
 * Deterministic; 0, or -1 to abort the decision. */
typedef int (*jp_decide_horizon_fn)(void *ctx, double prize, const double *params,
                                    jp_decide_outcome_t *out);

typedef struct jp_decide_problem_s {
    /* The first draw (jp_optimizer.h). response/outcome are ignored: the
     * horizon callback answers. secondary_prizes_expected is the first
     * draw's; fixed_costs and variable_cost_share apply to every draw. */
    jp_opt_problem_t opt;
    jp_decide_horizon_fn horizon;
    void *horizon_ctx;
    size_t horizon_draws; /* 1..JP_DECIDE_MAX_HORIZON */
    double active_ref;    /* the stock the payout atoms describe (> 0) */
    /* Secondary prizes of draw h (index 0 is ignored: the first draw's are in
     * opt), per-ticket ones at active_ref and fixed ones; NULL: none. */
    const double *secondary_per_ticket;
    const double *secondary_fixed;
    /* Stock value beyond the horizon. */
    double lifetime_days;     /* L; <= 0 or NaN: none */
    int64_t status_quo_prize; /* J0 (> 0 when lifetime_days > 0) */
    /* Exploration. */
    int explore;
    size_t n_params; /* <= JP_DECIDE_MAX_PARAMS */
    const double *param_mean, *param_sd;
    uint64_t seed;
    /* The budget: V given up at most, the smaller of the limits set -
     * explore_max_share x |V(greedy)| and explore_max_cost (minor units);
     * 0 (or both unset) explores nothing. */
    double explore_max_share;
    double explore_max_cost;
} jp_decide_problem_t;

typedef struct jp_decide_result_s {
    /* The recommended prize as jp_optimizer reports it: its figures and
     * every constraint at that prize; status, alternatives and diagnostics
     * of the best estimate's solve. objective is V. */
    jp_opt_result_t opt;
    int64_t prize; /* the recommendation (== opt.prize) */
    int64_t greedy_prize;
    double greedy_objective;
    int explored;
    int64_t thompson_prize; /* the sampled model's optimum (0: none sampled) */
    double sampled[JP_DECIDE_MAX_PARAMS];
    double exploration_cost;     /* V(greedy) - V(prize) under the best estimate, >= 0 */
    double exploration_budget;   /* the most it could give up */
    double horizon_net;          /* the H draws' expected net revenue at prize */
    double stock_value;          /* (S_H(prize) - S_H(J0)) m L */
    double subscriber_value;     /* m L */
    jp_decide_outcome_t outcome; /* at prize, best estimate */
} jp_decide_result_t;

/* jp_opt_problem_init on opt, one draw, everything else off. */
void jp_decide_problem_init(jp_decide_problem_t *p);

int jp_decide_solve(const jp_decide_problem_t *p, jp_decide_result_t *r, char *errstr,
                    size_t errstr_size);

/* The same figures for a given prize (a what-if): no exploration, no grid
 * scan; opt.status says whether every rule holds there. 0 or -1. */
int jp_decide_evaluate(const jp_decide_problem_t *p, double prize, jp_decide_result_t *r,
                       char *errstr, size_t errstr_size);

/* Payout atoms from quantiles of the tickets held in a participating
 * postcode: level[i] (strictly increasing in (0, 1]) and value[i]
 * (non-decreasing, >= t_min), with t_min the smallest count (>= 0). The
 * mass between consecutive levels (from 0 at t_min) sits at the midpoint of
 * their values; a last level below 1 leaves the remaining mass at the last
 * value. out has room for n + 1 atoms. Returns how many it wrote, or -1 on
 * invalid quantiles. */
long jp_decide_atoms_from_quantiles(const double *level, const double *value, size_t n,
                                    double t_min, jp_opt_mass_t *out);

#endif
