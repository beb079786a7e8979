/*
 * jp_country_decide: the decision problem (model/decide/jp_decide.h) that a
 * country's configuration defines for one headline draw - the prize grid,
 * the rules, cash, change limits, risk, costs, the horizon's draw periods
 * and their secondary prizes - so that the engine's decisions and the
 * truth oracle of `jackpot evaluate` solve the same problem and differ only
 * in the sales model (the horizon callback) and the state they know.
 *
 * Contract
 * - jp_country_decision_init fills everything but the horizon callback and
 *   exploration's parameters, seed and enable flag (explore is 0; the
 *   budget limits come from the configuration).
 * - Rules (docs/optimizer.md names them): good causes (on when the share is
 *   > 0), prize share min (> 0) and max, the single-prize cap (absolute;
 *   relative to the draw's proceeds when > 0, combined by max or min),
 *   per-draw and annual proceeds caps (> 0; annual over the UTC calendar
 *   year, from the ledger), the payout ratio (min > 0, max) over the
 *   configured period, the cash safety net (available cash minus the
 *   margin against the payout's safety quantile), the change limits (> 0,
 *   only with a previous prize), the loss chance (> 0). max_draws_per_year
 *   limits the calendar, not the prize, and is not a rule here.
 * - The horizon: the headline draw `first` and the next horizon_draws - 1;
 *   draw h's period is (previous headline draw, draw h]; its secondary
 *   prizes are those of the secondary draws in that period, per-ticket
 *   ones at mean_t tickets in the drawn postcode. The first draw's
 *   secondary prizes paid in the headline draw itself (same series) are
 *   the cash rule's secondary quantile.
 * - The stock value: lifetime_days of the state, capped by
 *   decision.lifetime_cap; the status quo is the previous prize (the
 *   initial one when unknown).
 */
#ifndef JP_COUNTRY_DECIDE_H
#define JP_COUNTRY_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_calendar.h"
#include "config/jp_country.h"
#include "model/decide/jp_decide.h"

/* One draw of a decision's horizon. */
typedef struct jp_horizon_draw_s {
    jp_draw_t draw;      /* the headline draw ending the period */
    int64_t start_ms;    /* the previous headline draw */
    int64_t decision_ms; /* the draw's decision time */
} jp_horizon_draw_t;

/* What the decider knows at the decision. */
typedef struct jp_decision_state_s {
    int64_t decision_time_ms;
    int64_t previous_prize; /* advertised now; <= 0: unknown */
    const jp_opt_ledger_entry_t *ledger;
    size_t n_ledger;
    const jp_opt_mass_t *atoms; /* tickets in the drawn postcode (per-ticket prizes) */
    size_t n_atoms;
    double active_ref;    /* the stock the atoms describe (> 0) */
    double lifetime_days; /* a subscriber's expected remaining lifetime (<= 0/NaN: none) */
} jp_decision_state_t;

typedef struct jp_country_decision_s {
    jp_decide_problem_t p;
    jp_horizon_draw_t period[JP_DECIDE_MAX_HORIZON];
    double secondary_per_ticket[JP_DECIDE_MAX_HORIZON];
    double secondary_fixed[JP_DECIDE_MAX_HORIZON];
} jp_country_decision_t;

/* Sets *d up for the decision of headline draw `first` (see the contract).
 * d must not move afterwards (p points into it). 0, or -1 with errstr (no
 * such draws in the calendar, a state without a stock). */
int jp_country_decision_init(jp_country_decision_t *d, const jp_country_t *c,
                             const jp_calendar_t *cal, const jp_draw_t *first,
                             const jp_decision_state_t *state, char *errstr, size_t errstr_size);

/* E[T] of payout atoms (0 when there are none). */
double jp_country_atoms_mean(const jp_opt_mass_t *atoms, size_t n);

#endif
