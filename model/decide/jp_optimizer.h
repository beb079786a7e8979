/*
 * jp_optimizer: the constrained headline-prize optimizer for one country and
 * one decision (docs/optimizer.md).
 *
 * Contract
 * - Pure and stateless: jp_opt_solve reads a jp_opt_problem_t, writes a
 *   jp_opt_result_t, allocates only scratch memory it frees before returning,
 *   and produces byte-identical results for identical inputs (including the
 *   answers of the response callback). No randomness, no clock.
 * - Money inputs are int64 minor units. Expectations, quantiles and ratios
 *   are doubles (unrounded minor units or fractions); a caller that needs an
 *   integer amount rounds with llround. Prizes on the grid are exact int64.
 * - The decision is the headline prize J on the grid prize_min + i*prize_step
 *   (i = 0.. while <= prize_max). The objective is the expected net revenue to
 *   the operator after prizes and costs:
 *     E[net](J) = price*E[N(J)]*(1 - variable_cost_share) - E[payout(J)]
 *                 - secondary_prizes_expected - fixed_costs
 *   optionally minus good_causes.min_share*price*E[N(J)] when
 *   objective_after_good_causes is set. Good causes are otherwise a
 *   constraint, never part of the objective.
 * - Sales: N(J) ~ Normal(mean, sd) tickets as returned by the response
 *   callback (or the outcome callback); proceeds = ticket revenue = price*N.
 * - Optional outcome callback (replaces response and baseline_tickets): per
 *   prize the sales mean and sd, the payout scale s(J) and an extra term
 *   added to the objective (e.g. the later draws of a horizon, jp_decide.h).
 * - Headline payout: a shared prize pays J (deterministic); a per-ticket prize
 *   pays J * s(J) * T, where T ~ tickets held in the drawn postcode is the
 *   caller's discrete distribution (conditional on this decision, already
 *   restricted to participating postcodes, probabilities normalized) and
 *   s(J) = E[N(J)]/baseline_tickets when baseline_tickets > 0, else 1.
 *   Expectations and quantiles over T are exact.
 * - Every rule is off unless its flag is set. A grid point is feasible when
 *   every enabled rule has slack >= -tol, tol = 1e-9*|limit| + 1e-12.
 * - jp_opt_solve returns 0 when it solved the problem (result->status is
 *   JP_OPT_OPTIMAL or JP_OPT_INFEASIBLE) and -1 for invalid input, a failing
 *   response callback or an allocation failure, with a message in errstr.
 */
#ifndef JP_OPTIMIZER_H
#define JP_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#define JP_OPT_MAX_ALTERNATIVES 8
#define JP_OPT_MAX_GRID         2000000 /* refuses larger grids */

/* Predictive distribution of ticket sales for headline prize `prize` (minor
 * units, possibly between grid points): mean and standard deviation in
 * tickets, both finite and >= 0. Returns 0, or nonzero to abort the solve. It
 * must be deterministic: the optimizer calls it once per grid point in
 * ascending order, then at a few points between grid points. */
typedef int (*jp_opt_response_fn)(void *ctx, double prize, double *mean_tickets,
                                  double *sd_tickets);

/* Everything the optimizer needs to know about one prize, when the caller
 * models more than sales (jp_opt_problem_t.outcome). */
typedef struct jp_opt_outcome_s {
    double mean_tickets, sd_tickets; /* the draw's sales, finite and >= 0 */
    /* s(J): multiplies the tickets-in-postcode distribution of a per-ticket
     * prize (the drawn postcode holds more tickets when the stock grows);
     * finite and > 0 */
    double payout_scale;
    double extra_objective; /* added to the objective (finite), e.g. later draws */
} jp_opt_outcome_t;

/* Same contract as jp_opt_response_fn (deterministic, called in ascending
 * grid order then between grid points); 0, or nonzero to abort. */
typedef int (*jp_opt_outcome_fn)(void *ctx, double prize, jp_opt_outcome_t *out);

typedef enum jp_opt_prize_kind_e {
    JP_OPT_PRIZE_PER_TICKET = 0, /* pays J per ticket held in the drawn postcode */
    JP_OPT_PRIZE_SHARED = 1      /* pays J in total */
} jp_opt_prize_kind_t;

/* One atom of the tickets-in-drawn-postcode distribution. */
typedef struct jp_opt_mass_s {
    double tickets; /* >= 0 */
    double prob;    /* >= 0; all probs sum to 1 (within 1e-6; renormalized) */
} jp_opt_mass_t;

/* One past draw of this country (the ledger of the payout-ratio rule). */
typedef struct jp_opt_ledger_entry_s {
    int64_t draw_time_ms; /* Unix epoch milliseconds, UTC */
    int64_t proceeds;     /* ticket revenue of that draw, minor units */
    int64_t prizes_paid;  /* all prizes actually paid, minor units */
} jp_opt_ledger_entry_t;

typedef enum jp_opt_window_e {
    /* entries with decision_time - 52 weeks < t < decision_time */
    JP_OPT_WINDOW_ROLLING_52W = 0,
    /* entries with t < decision_time in the same UTC calendar year */
    JP_OPT_WINDOW_CALENDAR_YEAR = 1
} jp_opt_window_t;

typedef enum jp_opt_cap_mode_e {
    JP_OPT_CAP_NONE = 0,
    JP_OPT_CAP_ABS = 1,         /* J <= abs */
    JP_OPT_CAP_REL = 2,         /* J <= rel * E[proceeds] */
    JP_OPT_CAP_MAX_ABS_REL = 3, /* J <= max(abs, rel*E[proceeds]) (GB) */
    JP_OPT_CAP_MIN_ABS_REL = 4  /* J <= min(abs, rel*E[proceeds]) */
} jp_opt_cap_mode_t;

/* The country's rules. Shares and ratios are fractions of expected proceeds. */
typedef struct jp_opt_rules_s {
    struct {
        int on;
        double min_share; /* (E[proceeds]-E[prizes]-E[costs])/E[proceeds] >= */
    } good_causes;
    struct {
        int on_min, on_max;
        double min, max; /* E[all prizes]/E[proceeds] within [min, max] */
    } prize_share;
    struct {
        jp_opt_cap_mode_t mode;
        int64_t abs;
        double rel;
    } single_prize; /* the single prize is J (per ticket, or the shared total) */
    struct {
        int on;
        int64_t cap; /* E[proceeds] <= cap */
    } draw_proceeds;
    struct {
        int on;
        int64_t cap; /* proceeds_year_to_date + E[proceeds] <= cap */
    } annual_proceeds;
    struct {
        int on_min, on_max;
        double min, max; /* (past prizes + E[prizes])/(past proceeds + E[proceeds]) */
        jp_opt_window_t window;
    } payout_ratio;
    struct {
        int on;
        double quantile; /* q in (0,1): cash - margin >= Q_q(headline) + secondary_q */
        int64_t margin;
    } cash_safety;
    struct {
        int on_abs, on_rel;
        int64_t abs; /* |J - previous_prize| <= abs */
        double rel;  /* |J - previous_prize| <= rel * previous_prize */
    } max_change;
    struct {
        int on;
        double epsilon; /* P(net revenue < 0) <= epsilon */
    } loss_chance;
} jp_opt_rules_t;

typedef struct jp_opt_problem_s {
    /* decision grid */
    int64_t prize_min, prize_max, prize_step; /* 0 < min <= max, step > 0 */
    jp_opt_prize_kind_t prize_kind;

    /* sales */
    int64_t ticket_price; /* minor units per ticket, > 0 */
    jp_opt_response_fn response;
    void *response_ctx;
    /* When set, used instead of response (and baseline_tickets). */
    jp_opt_outcome_fn outcome;
    void *outcome_ctx;

    /* payout of a per-ticket prize (ignored for a shared prize) */
    const jp_opt_mass_t *tickets_in_postcode;
    size_t n_tickets_in_postcode;
    double baseline_tickets; /* > 0: T scales by E[N(J)]/baseline; 0: fixed */

    /* secondary prizes and costs, per draw */
    int64_t secondary_prizes_expected;
    int64_t secondary_prizes_quantile; /* at cash_safety.quantile; < 0: unknown, use expected */
    int64_t fixed_costs;
    double variable_cost_share; /* of ticket revenue, in [0, 1) */
    int objective_after_good_causes;

    /* rules and the state they are checked against */
    jp_opt_rules_t rules;
    int64_t decision_time_ms; /* event time of the decision, Unix ms UTC */
    int has_previous_prize;
    int64_t previous_prize; /* > 0 when max_change is on */
    int64_t proceeds_year_to_date;
    const jp_opt_ledger_entry_t *ledger;
    size_t n_ledger;
    int64_t available_cash;

    /* output shape */
    size_t n_alternatives;       /* <= JP_OPT_MAX_ALTERNATIVES */
    int64_t alternative_min_gap; /* alternatives differ by >= this from each other and J* */
} jp_opt_problem_t;

typedef enum jp_opt_constraint_id_e {
    JP_OPT_C_GOOD_CAUSES = 0,
    JP_OPT_C_PRIZE_SHARE_MIN,
    JP_OPT_C_PRIZE_SHARE_MAX,
    JP_OPT_C_SINGLE_PRIZE,
    JP_OPT_C_DRAW_PROCEEDS,
    JP_OPT_C_ANNUAL_PROCEEDS,
    JP_OPT_C_PAYOUT_RATIO_MIN,
    JP_OPT_C_PAYOUT_RATIO_MAX,
    JP_OPT_C_CASH_SAFETY,
    JP_OPT_C_CHANGE_ABS,
    JP_OPT_C_CHANGE_REL,
    JP_OPT_C_LOSS_CHANCE,
    JP_OPT_C_COUNT
} jp_opt_constraint_id_t;

typedef struct jp_opt_constraint_s {
    const char *name; /* static, e.g. "max_single_prize" */
    int enabled;
    double value; /* at the reported point */
    double limit;
    double slack; /* >= 0 satisfied; limit-value (upper) or value-limit (lower) */
    /* slack ~ 0 at the optimum, or relaxing this rule alone yields a strictly
     * better feasible grid point */
    int binding;
    int violated_unconstrained; /* violated at the best grid point ignoring all rules */
    int alone_satisfiable;      /* some grid point satisfies this rule */
    int violated;               /* violated at the reported point (infeasible case) */
} jp_opt_constraint_t;

typedef struct jp_opt_point_s {
    int64_t prize;
    double objective;
    double expected_net_revenue;
    double expected_tickets;
    double expected_payout; /* headline + secondary */
} jp_opt_point_t;

typedef enum jp_opt_status_e { JP_OPT_OPTIMAL = 0, JP_OPT_INFEASIBLE = 1 } jp_opt_status_t;

typedef struct jp_opt_result_s {
    jp_opt_status_t status;
    /* OPTIMAL: the best feasible grid prize (the recommendation).
     * INFEASIBLE: the best-compromise grid prize (fewest rules violated, then
     * smallest total relative violation, then highest objective). */
    int64_t prize;
    double prize_refined; /* continuous optimum near prize (== prize if INFEASIBLE) */
    double objective, objective_refined;
    double expected_net_revenue;
    double expected_tickets, tickets_p05, tickets_p95; /* normal band, p05 >= 0 */
    double expected_revenue, revenue_p05, revenue_p95;
    double expected_headline_payout, headline_payout_quantile; /* at cash_safety.quantile */
    double expected_total_payout;                              /* headline + secondary */
    double expected_costs;
    double payout_ratio_after; /* NaN when no proceeds in the window */
    double loss_probability;   /* P(net revenue < 0) */
    size_t grid_points, feasible_points;
    int64_t unconstrained_prize; /* best grid prize ignoring every rule */
    double unconstrained_objective;
    jp_opt_constraint_t constraints[JP_OPT_C_COUNT];
    uint32_t binding_mask;  /* bit c: constraints[c].binding */
    uint32_t violated_mask; /* bit c: constraints[c].violated */
    /* INFEASIBLE: a minimal set of enabled rules that no grid point satisfies
     * together (every proper subset is satisfiable): the rules that cannot
     * all hold. 0 when OPTIMAL. */
    uint32_t conflict_mask;
    double extra_objective; /* the outcome callback's extra term at prize (0 without) */
    size_t n_alternatives;
    jp_opt_point_t alternatives[JP_OPT_MAX_ALTERNATIVES]; /* best first, feasible */
} jp_opt_result_t;

/* Zeroes *p and sets defaults: every rule off, n_alternatives 3,
 * secondary_prizes_quantile -1, cash_safety.quantile 0.99,
 * payout_ratio.window rolling 52 weeks. */
void jp_opt_problem_init(jp_opt_problem_t *p);

/* Solves *p into *r (see the contract above). Returns 0 or -1. */
int jp_opt_solve(const jp_opt_problem_t *p, jp_opt_result_t *r, char *errstr, size_t errstr_size);

/* Evaluates one prize (not necessarily on the grid) as jp_opt_solve reports
 * its optimum: every figure and constraint at that prize, status OPTIMAL
 * when every enabled rule holds there, else INFEASIBLE with violated_mask;
 * binding marks the rules with slack ~ 0; no alternatives, no grid scan
 * (grid_points, feasible_points and the unconstrained fields are 0).
 * 0, or -1 for invalid input or a failing callback (errstr). */
int jp_opt_evaluate(const jp_opt_problem_t *p, double prize, jp_opt_result_t *r, char *errstr,
                    size_t errstr_size);

/* Static name of a constraint, or "unknown". */
const char *jp_opt_constraint_name(jp_opt_constraint_id_t id);

/* Writes the names of the constraints in mask, comma-separated, into buf
 * (always NUL-terminated when size > 0). Returns the length it needed. */
size_t jp_opt_format_mask(uint32_t mask, char *buf, size_t size);

/* 1 when a ledger entry at t_ms counts in the payout-ratio rule's window
 * of p (its decision time and window). A caller that evaluates one problem
 * many times may merge the entries that count into one and drop the rest:
 * the rule only sums them. */
int jp_opt_ledger_counts(const jp_opt_problem_t *p, int64_t t_ms);

/* The UTC calendar year of a Unix-ms time (exposed for the ledger tests). */
int jp_opt_utc_year(int64_t time_ms);

#endif
