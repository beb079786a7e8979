/*
 * jp_flows-internal: the model's state, shared by jp_flows.c (learning,
 * serialization) and jp_flows_plan.c (forecast). Not for other rooms.
 */
#ifndef JP_FLOWS_INTERNAL_H
#define JP_FLOWS_INTERNAL_H

#include "model/learn/jp_flows.h"
#include "model/learn/jp_ridge.h"

#define FLOWS_DAY_MS 86400000LL

/* One flow: its ridge, the pool waiting to become a sample, and decayed
 * sums (count, exposure: the recent rate; Poisson part of the residual
 * variance, sum of w^2 / (N + 1/2) over sum of w). */
typedef struct flow_state_s {
    jp_ridge_t *ridge;
    double pool_days, pool_count, pool_exposure;
    double pool_x[JP_FLOWS_MAX_FEATURES]; /* sum of x * days */
    double cum_count, cum_exposure;
    double pois_num, pois_den;
    double weight_unit; /* the first sample's expected count: weights are in its units */
} flow_state_t;

struct jp_flows_s {
    jp_flows_config_t cfg;
    size_t p;
    char names[JP_FLOWS_MAX_FEATURES][16];
    int have_block;
    int64_t block;
    uint64_t windows;
    flow_state_t flow[JP_FLOW__COUNT];
    /* decayed sums for the ratios */
    double signups, signup_tickets, signup_tickets_sq;
    double extras, extra_tickets, extra_tickets_sq;
    double renewals, renewal_tickets, renewal_tickets_sq, failures;
    /* monthly billing: renewal attempts and active stock per UTC day of
     * month; the squared relative error of the profile's day forecasts */
    double bill_attempts[31], bill_exposure[31];
    double bill_err_sq, bill_err_n;
};

/* The regressors of [start, end) (local = UTC + tz minutes) with the given
 * ln(J / J_ref) and campaign shares (NULL: none), into x[m->p]. */
void jp_flows_features(const jp_flows_t *m, int64_t start_ms, int64_t end_ms, int32_t tz_min,
                       double log_prize_rel, const double *campaign, double *x);

/* jp_ridge estimates sigma2 as RSS / (W - 1), W the sum of weights, as
 * for frequency weights; the samples' weights are precisions (expected
 * counts), so the residual variance per unit weight is RSS / (n - p - 1).
 * This is the factor (W - 1) / (n - p - 1) between them (NaN with too few
 * samples); every variance from the ridge is multiplied by it. */
double jp_flows_sigma_scale(const jp_flows_t *m, jp_flow_t f);

/* ln(rate per exposure unit per day) of flow f at x, and the parameter
 * part of its variance (rescaled); -1 before the flow's first fit. */
int jp_flows_predict_log_rate(const jp_flows_t *m, jp_flow_t f, const double *x, double *mu,
                              double *vpar);

/* The prior part of the parameter variance of ln(rate) of flow f at x:
 * sum over its pinned prize and campaign regressors of prior sd^2 times
 * (x_j - the constant it was pinned at)^2 (jp_flows.h, "Unseen
 * regressors"); 0 before the flow's first fit. */
double jp_flows_prior_var(const jp_flows_t *m, jp_flow_t f, const double *x);

/* Share of the active stock billed on the UTC day containing t (monthly
 * billing), from the learned profile; one month's worth spread evenly
 * before that day of the month has been seen, and then *seen (may be NULL)
 * is 0: the share is a guess, which the forecast's band must carry (a
 * lottery that never bills on the 29th-31st shows it only once those
 * days come round). */
double jp_flows_billed_share(const jp_flows_t *m, int64_t t_ms, int *seen);

#endif
