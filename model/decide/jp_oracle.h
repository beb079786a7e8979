/*
 * jp_oracle: the truth model's horizon - what the simulator's ground truth
 * expects a constant prize to do over the draws of a horizon - as a
 * jp_decide_horizon_fn. `jackpot evaluate` and the tests solve the same
 * jp_decide problem with it that the engine solves with its learned model:
 * the oracle prize of a decision, and the true value of any other prize.
 *
 * Contract
 * - Input: per draw period of the horizon, the truth's expected flows at
 *   the prizes that were actually advertised, split at the period's prize
 *   switch (before: the previous draw's prize; after: this draw's), the
 *   expected renewal tickets, the stock at the period's start and end, and
 *   the elasticities in force (the simulator's truth file has all of it:
 *   docs/simulator.md).
 * - The counterfactual: the decision holds prize J from the first period's
 *   switch on (the first period's part before it keeps its actual prize).
 *   Each part's sign-ups and reactivations scale by (J/J_part)^e_signup,
 *   extra purchases by (J/J_part)^e_extra, cancellations by
 *   (J/J_part)^e_cancel (the simulator's formulas, exact for a constant
 *   prize within the part). Extra purchases and cancellations are per
 *   active subscriber and renewals follow the stock, so they also scale
 *   with the counterfactual stock over the actual one (the change is
 *   carried from period to period; a subscriber gained cancels at the
 *   stock's mean hazard).
 * - Output per period: tickets (renewals + sign-ups x tickets per sign-up +
 *   extra tickets), their Poisson standard deviation, the stock at the
 *   draw and the period's length. params must be NULL (the truth has no
 *   posterior).
 * - Pure; no allocation.
 */
#ifndef JP_ORACLE_H
#define JP_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "model/decide/jp_decide.h"

/* Expected counts of one part of a period, at the prize advertised then. */
typedef struct jp_oracle_part_s {
    int64_t prize; /* advertised during the part (> 0; any value if empty) */
    double signups, reactivations, extra_purchases, extra_tickets, cancellations;
} jp_oracle_part_t;

typedef struct jp_oracle_period_s {
    jp_oracle_part_t before, after;  /* split at the period's prize switch */
    double renewal_tickets;          /* expected, at the actual stock */
    double signup_tickets;           /* expected tickets of first sales (at the actual sign-ups) */
    double active_start, active_end; /* actual stock (> 0) */
    double days;                     /* period length */
    double e_signup, e_extra, e_cancel;
} jp_oracle_period_t;

typedef struct jp_oracle_s {
    const jp_oracle_period_t *period; /* the horizon's periods, first = the decision's draw */
    size_t n;
} jp_oracle_t;

/* jp_decide_horizon_fn with ctx = const jp_oracle_t *. Fills min(n,
 * JP_DECIDE_MAX_HORIZON) periods; -1 when params is not NULL or an input is
 * invalid. */
int jp_oracle_horizon(void *ctx, double prize, const double *params, jp_decide_outcome_t *out);

#endif
