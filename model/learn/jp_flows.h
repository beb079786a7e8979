/*
 * jp_flows: the stock-and-flow sales model of one country (docs/model-sales.md).
 *
 * Total sales are mostly renewals: the subscriber stock times the billing
 * calendar. The headline prize moves the flows that change the stock or add
 * to it, so the model learns one log-linear rate per flow and computes the
 * renewals from the stock:
 *
 *   flow            exposure (what the rate is per)
 *   signups         day
 *   reactivations   lapsed subscriber-day (cancelled, not reactivated)
 *   extras          active subscriber-day (extra, non-subscription purchases)
 *   cancellations   active subscriber-day
 *
 * Contract:
 * - Learning. jp_flows_observe takes one closed window's aggregates
 *   (jp_flows_window_t; windows of a day are the intended input). The ring
 *   of every flow's jp_ridge has n_blocks blocks of block_ms; a window
 *   belongs to block floor(start_ms / block_ms) and moving to a later block
 *   advances the rings (a late window joins the current block). Per flow
 *   the window joins a pending pool; the pool becomes one sample when it
 *   spans at least min_pool_days and its expected count reaches min_count,
 *   or when it spans max_pool_days. The sample is
 *       y = ln((count + 1/2) / exposure),  w = expected count,
 *       x = (ln(J / J_ref), yearly and weekly Fourier terms, campaign shares)
 *   with every regressor averaged over the pool's time. The expected count
 *   is the last fit's prediction (bounded to 0.1-10 times the flow's past
 *   rate x exposure), else that past rate's, else the pool's own count;
 *   so call jp_flows_fit after every window. Windows without exposure (no
 *   stock known) are skipped for that flow; windows whose ln prize varied
 *   (log_prize_var > 1e-4) are skipped by every flow. A window whose
 *   inputs are not finite or negative is refused: -1 with errstr, the
 *   model unchanged.
 * - Regressors. ln(J / J_ref) is the window's time-weighted mean of
 *   ln(advertised prize) minus ln(prize_ref_minor). Fourier terms use local
 *   time (UTC + tz_offset_min): cos/sin(2 pi k t / P) for k = 1..K, P a
 *   Gregorian year (365.2425 days) or a week, each averaged exactly over
 *   the window (cos(w m) sin(w h) / (w h) for midpoint m, half-width h).
 *   Campaign slot c is the share of the window that campaign was active.
 * - jp_flows_fit solves every flow with data (jp_ridge_fit). 0 when
 *   signups, extras and cancellations are fitted (reactivations are
 *   optional), else -1 naming the missing ones.
 * - Elasticity of a flow: the coefficient of ln(J / J_ref), i.e.
 *   d ln(rate) / d ln(J), with its posterior standard deviation
 *   sqrt(sigma2 (A^-1)_jj) / s_j in original units (sigma2 the residual
 *   variance per unit of weight, RSS / (n - p - 1)).
 * - Forecast. jp_flows_plan_new fixes a horizon of periods (start, end,
 *   prize switch time, local offset, campaign shares, billing share) and
 *   the stock at its start, and precomputes everything that does not
 *   depend on the prize;
 *   jp_flows_plan_eval then takes one prize per period and returns, per
 *   period, the expected flows, renewals, tickets and revenue with a 5-95%
 *   band, and the stock path, in O(periods) with no allocation. Stocks move
 *   period by period (S' = S + signups + reactivations - cancellations,
 *   lapsed' = lapsed + cancellations - reactivations; extras and
 *   cancellations act on the period's mean stock). Renewal attempts are
 *   the billing share of the stock (monthly: the mean stock times the
 *   billed share learned per UTC day of month; per draw: the stock at the
 *   period's end, once per period); a share pf of them fails (pf learned).
 *   Tickets = renewals x tickets per renewal + signups x tickets per
 *   sign-up + extras x tickets per extra purchase (each ratio learned);
 *   revenue = tickets x price_minor.
 * - Unseen regressors. A regressor that was constant in a flow's data (the
 *   prize never moved since the trainer started, a campaign never ran) is
 *   pinned by the ridge: its coefficient is 0 and, to the ridge, certain.
 *   The forecast's band is not: at a value c' other than the constant c
 *   the data held, the coefficient's prior (JP_FLOWS_PRIOR_SD_*) adds
 *   sd^2 (c' - c)^2 to the parameter variance of ln(rate). The mean is
 *   unchanged (the prior's mean is 0) and so is the elasticity (still not
 *   identified: jp_flows_elasticity fails). Without it, the first prize
 *   move or campaign a model meets is scored as a miss of tens or hundreds
 *   of standard deviations and looks like concept drift.
 * - The plan copies what it needs: it stays valid (and answers the same)
 *   after the model learns more or is freed. Evaluating one plan from
 *   several threads is safe.
 * - Determinism: the same calls in the same order give bit-identical
 *   state, forecasts and serialization.
 * - Serialization "FLOW" v1 through jp_bytes: configuration, pools, ratio
 *   statistics and each flow's jp_ridge; a round trip re-serializes to the
 *   same bytes.
 */
#ifndef JP_FLOWS_H
#define JP_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

#define JP_FLOWS_MAX_CAMPAIGNS 8
#define JP_FLOWS_MAX_YEARLY    4
#define JP_FLOWS_MAX_WEEKLY    3
#define JP_FLOWS_MAX_FEATURES                                                                      \
    (1 + 2 * JP_FLOWS_MAX_YEARLY + 2 * JP_FLOWS_MAX_WEEKLY + JP_FLOWS_MAX_CAMPAIGNS)

/* Prior standard deviations of the coefficients the data cannot say
 * anything about yet (see "Unseen regressors" in the contract), in
 * original units: the elasticity d ln(rate) / d ln(prize) (observed ones
 * are 0.3-0.9 in size; 1 is weak but not flat) and a campaign's ln(lift)
 * (a lift of 1.5x is ln 0.41, about one sd). */
#define JP_FLOWS_PRIOR_SD_PRIZE    1.0
#define JP_FLOWS_PRIOR_SD_CAMPAIGN 0.4

typedef enum {
    JP_FLOW_SIGNUPS = 0,
    JP_FLOW_REACTIVATIONS = 1,
    JP_FLOW_EXTRAS = 2,
    JP_FLOW_CANCELLATIONS = 3,
    JP_FLOW__COUNT = 4
} jp_flow_t;

/* "signups", "reactivations", "extras", "cancellations". */
const char *jp_flow_name(jp_flow_t f);

typedef enum { JP_FLOWS_BILLING_MONTHLY = 0, JP_FLOWS_BILLING_PER_DRAW = 1 } jp_flows_billing_t;

typedef struct jp_flows_config_s {
    int64_t prize_ref_minor;   /* J_ref > 0 (the country's initial prize) */
    int64_t price_minor;       /* price of one ticket, > 0 */
    int billing;               /* jp_flows_billing_t */
    unsigned yearly_harmonics; /* 0..JP_FLOWS_MAX_YEARLY (default 2) */
    unsigned weekly_harmonics; /* 0..JP_FLOWS_MAX_WEEKLY (default 3) */
    unsigned n_campaigns;      /* campaign slots 0..JP_FLOWS_MAX_CAMPAIGNS (default 4) */
    int64_t block_ms;          /* ring block length (default 7 days) */
    unsigned n_blocks;         /* ring length (default 53: a year and a week) */
    double lambda;             /* ridge prior precision, standardized units (default 0.01) */
    double min_count;          /* pooling: expected count of a sample (default 5) */
    double min_pool_days;      /* pooling: shortest sample (default 1) */
    double max_pool_days;      /* pooling: longest sample (default 7) */
} jp_flows_config_t;

/* Defaults above; prize_ref_minor and price_minor 0 (the caller sets them). */
void jp_flows_config_default(jp_flows_config_t *c);

/* One closed window's aggregates. Counts are of events with event time in
 * [start_ms, end_ms). */
typedef struct jp_flows_window_s {
    int64_t start_ms, end_ms;
    int32_t tz_offset_min; /* local = UTC + offset (the country's, mid-window) */
    double log_prize;      /* time-weighted mean of ln(advertised prize, minor units) */
    double log_prize_var;  /* its time-weighted variance over the window (0: one prize) */
    double campaign[JP_FLOWS_MAX_CAMPAIGNS]; /* share of the window each slot was active */
    double signups, reactivations, cancellations, payment_failures;
    /* Sales by purchase kind: how many, their tickets, and the sum of the
     * squares of each sale's tickets (the spread of tickets per sale). */
    double extra_purchases, extra_tickets, extra_tickets_sq; /* EXTRA */
    double signup_tickets, signup_tickets_sq;                /* NEW_SUBSCRIPTION */
    double renewals, renewal_tickets, renewal_tickets_sq;    /* RENEWAL */
    double active_start, active_end; /* active subscribers (<= 0: unknown) */
    double lapsed_start, lapsed_end; /* cancelled, not reactivated (< 0: unknown) */
} jp_flows_window_t;

typedef struct jp_flows_s jp_flows_t;

jp_flows_t *jp_flows_create(const jp_flows_config_t *c, char *errstr, size_t errstr_size);
void jp_flows_free(jp_flows_t *m);
const jp_flows_config_t *jp_flows_config(const jp_flows_t *m);

/* Learns from one closed window. 0, or -1 with errstr (nothing learned). */
int jp_flows_observe(jp_flows_t *m, const jp_flows_window_t *w, char *errstr, size_t errstr_size);

/* Refits every flow that has data; see the contract for the result. */
int jp_flows_fit(jp_flows_t *m, char *errstr, size_t errstr_size);

/* 1 when signups, extras and cancellations are fitted. */
int jp_flows_ready(const jp_flows_t *m);

/* d ln(rate) / d ln(prize) of flow f and its posterior standard deviation.
 * -1 before the flow's first fit. */
int jp_flows_elasticity(const jp_flows_t *m, jp_flow_t f, double *estimate, double *sd);

/* Regressors, in the order of every coefficient vector: "log_prize",
 * "year_cos1", "year_sin1", ..., "week_cos1", ..., "campaign0", ... */
size_t jp_flows_n_features(const jp_flows_t *m);
const char *jp_flows_feature_name(const jp_flows_t *m, size_t i);
/* Coefficients in original units (beta[jp_flows_n_features]) and the
 * intercept of ln(rate per exposure unit per day); -1 before a fit. */
int jp_flows_coef(const jp_flows_t *m, jp_flow_t f, double *beta, double *intercept);

typedef struct jp_flows_info_s {
    int fitted;
    uint64_t samples;   /* pooled samples in the ring */
    double weight;      /* their weights' sum (units of the first sample's expected count) */
    double sigma2;      /* residual variance of ln(rate) per unit of weight (rescaled) */
    double poisson_var; /* its Poisson part: sum of w^2 / (count + 1/2) over sum of w */
    double cond_est;    /* jp_ridge's condition estimate */
    double rate;        /* count / exposure over the recent past (the ratio statistics) */
} jp_flows_info_t;
int jp_flows_info(const jp_flows_t *m, jp_flow_t f, jp_flows_info_t *out);

/* Learned ratios (NaN before any data): mean tickets per sale of each kind
 * and their variance across sales; the payment failure rate. */
typedef struct jp_flows_ratios_s {
    double tickets_per_signup, tickets_per_extra, tickets_per_renewal;
    double var_per_signup, var_per_extra, var_per_renewal;
    double payment_failure; /* failures / (renewals + failures) */
    /* Monthly billing: mean squared relative error of the billing profile's
     * forecast of a day's renewal attempts (prequential). */
    double billing_error;
} jp_flows_ratios_t;
void jp_flows_ratios(const jp_flows_t *m, jp_flows_ratios_t *out);

/* ---- forecast ---- */

/* A period of the horizon, usually one headline draw period. Its prize is
 * advertised from switch_ms on (the draw's decision time); before that the
 * previous period's prize is (for the first period: prize_now_minor of the
 * stock). switch_ms <= start_ms: the period's prize throughout. */
typedef struct jp_flows_period_s {
    int64_t start_ms, end_ms, switch_ms;
    int32_t tz_offset_min;
    double campaign[JP_FLOWS_MAX_CAMPAIGNS]; /* expected active share per slot */
    double billing_share; /* share of the stock billed in the period; < 0: the model's */
} jp_flows_period_t;

typedef struct jp_flows_stock_s {
    double active;           /* at the first period's start, > 0 */
    double lapsed;           /* < 0: unknown (no reactivations forecast) */
    int64_t prize_now_minor; /* advertised at the first period's start (<= 0: unknown) */
    /* Optional: the churn model's mean daily cancellation probability of
     * the current stock (NaN or <= 0: use the cancellation flow), holding
     * under the advertised prize churn_prize_minor; the flow's elasticity
     * moves it with the prize. */
    double churn_hazard_per_day;
    int64_t churn_prize_minor;
} jp_flows_stock_t;

typedef struct jp_flows_forecast_s {
    double flow[JP_FLOW__COUNT];    /* expected counts */
    double flow_sd[JP_FLOW__COUNT]; /* their predictive standard deviations */
    double renewals, payment_failures;
    double tickets, tickets_p05, tickets_p95;
    double revenue_minor, revenue_p05, revenue_p95;
    double active_end, lapsed_end; /* the stock at the period's end */
} jp_flows_forecast_t;

typedef struct jp_flows_plan_s jp_flows_plan_t;

/* NULL with errstr when the model is not ready, a period is empty or
 * out of order, or the stock is invalid. */
jp_flows_plan_t *jp_flows_plan_new(const jp_flows_t *m, const jp_flows_period_t *periods,
                                   size_t n_periods, const jp_flows_stock_t *start, char *errstr,
                                   size_t errstr_size);
void jp_flows_plan_free(jp_flows_plan_t *p);
size_t jp_flows_plan_len(const jp_flows_plan_t *p);

/* prize_minor[n_periods] (> 0) -> out[n_periods]. elasticity (NULL: the
 * posterior means) replaces each flow's prize coefficient, e.g. with a
 * posterior draw for Thompson sampling. -1 on a non-positive prize. */
int jp_flows_plan_eval(const jp_flows_plan_t *p, const int64_t *prize_minor,
                       const double *elasticity, jp_flows_forecast_t *out);

/* One period: plan_new + eval + free. */
int jp_flows_forecast_one(const jp_flows_t *m, const jp_flows_period_t *period,
                          const jp_flows_stock_t *start, int64_t prize_minor,
                          jp_flows_forecast_t *out, char *errstr, size_t errstr_size);

/* ---- time-weighted mean of a step signal (window aggregates) ---- */

/* The engine keeps one per signal per open window: the advertised prize's
 * logarithm (set at every sale from advertised_prize_minor) and each
 * campaign slot's 0/1 activity. Values set before the last one are
 * ignored (out-of-order events do not rewrite the past). */
typedef struct jp_flows_tw_s {
    int64_t start_ms, last_ms;
    double value, sum, sum2; /* sums of value and value^2 x ms from start_ms to last_ms */
} jp_flows_tw_t;

void jp_flows_tw_init(jp_flows_tw_t *a, int64_t start_ms, double value);
void jp_flows_tw_set(jp_flows_tw_t *a, int64_t t_ms, double value);
/* The mean over [start_ms, end_ms) (the current value when empty). */
double jp_flows_tw_mean(const jp_flows_tw_t *a, int64_t end_ms);
/* The time-weighted variance over [start_ms, end_ms) (0 when empty). */
double jp_flows_tw_var(const jp_flows_tw_t *a, int64_t end_ms);

/* ---- serialization ---- */

void jp_flows_serialize(const jp_flows_t *m, jp_bytes_writer_t *w);
jp_flows_t *jp_flows_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

#endif
