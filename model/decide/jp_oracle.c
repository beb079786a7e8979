/*
 * jp_oracle: the counterfactual of a constant prize, from the truth's
 * expectations at the actual prizes.
 *
 * Design. Recomputing the simulator's world from its parameters would
 * repeat the generator (seasonality by local hour, campaigns, the billing
 * calendar, the hazard of every subscriber). Its truth file already holds
 * the expectations of every period at the prizes actually advertised, so
 * the oracle only rescales them: the prize enters every flow as a power
 * factor and the stock as a per-subscriber rate. What this leaves out is
 * second order: the hazard mix of the subscribers gained or lost (they
 * cancel at the stock's mean hazard here) and the lapsed stock's response
 * (reactivations scale with the prize only).
 */
#include "model/decide/jp_oracle.h"

#include <math.h>
#include <string.h>

static double ora_factor(double prize, int64_t actual, double e)
{
    return actual > 0 ? pow(prize / (double)actual, e) : 1.0;
}

static int ora_period_ok(const jp_oracle_period_t *q)
{
    const double v[] = {
        q->renewal_tickets,       q->signup_tickets,         q->before.signups,
        q->before.reactivations,  q->before.extra_purchases, q->before.extra_tickets,
        q->before.cancellations,  q->after.signups,          q->after.reactivations,
        q->after.extra_purchases, q->after.extra_tickets,    q->after.cancellations};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (!isfinite(v[i]) || v[i] < 0.0)
            return 0;
    return isfinite(q->active_start) && q->active_start > 0.0 && isfinite(q->active_end) &&
           q->active_end > 0.0 && isfinite(q->days) && q->days > 0.0 && isfinite(q->e_signup) &&
           isfinite(q->e_extra) && isfinite(q->e_cancel);
}

/* Counts of one part under prize J (moved: the part is after the switch),
 * with the stock ratio r. Adds its tickets' variance to *var and returns
 * the change in the stock it causes. */
typedef struct ora_sum_s {
    double signups, extra_tickets, var;
} ora_sum_t;

static double ora_part(const jp_oracle_part_t *a, const jp_oracle_period_t *q, double prize,
                       int moved, double ratio, ora_sum_t *sum)
{
    double fs = moved ? ora_factor(prize, a->prize, q->e_signup) : 1.0;
    double fx = moved ? ora_factor(prize, a->prize, q->e_extra) : 1.0;
    double fc = moved ? ora_factor(prize, a->prize, q->e_cancel) : 1.0;
    double signups = a->signups * fs, react = a->reactivations * fs;
    double purchases = a->extra_purchases * fx * ratio, extra = a->extra_tickets * fx * ratio;
    double cancels = a->cancellations * fc * ratio;
    double per_purchase = a->extra_purchases > 0.0 ? a->extra_tickets / a->extra_purchases : 1.0;
    sum->signups += signups;
    sum->extra_tickets += extra;
    /* a compound Poisson count's variance: mean x E[tickets^2] ~ mean x k^2 */
    sum->var += purchases * per_purchase * per_purchase;
    return (signups - a->signups) + (react - a->reactivations) - (cancels - a->cancellations);
}

int jp_oracle_horizon(void *ctx, double prize, const double *params, jp_decide_outcome_t *out)
{
    const jp_oracle_t *o = ctx;
    if (params || !o || !o->period || !isfinite(prize) || prize <= 0.0)
        return -1;
    size_t n = o->n < JP_DECIDE_MAX_HORIZON ? o->n : JP_DECIDE_MAX_HORIZON;
    double delta = 0.0; /* counterfactual minus actual stock at the period's start */
    for (size_t h = 0; h < n; h++) {
        const jp_oracle_period_t *q = &o->period[h];
        if (!ora_period_ok(q))
            return -1;
        double ratio = (q->active_start + delta) / q->active_start;
        if (!(ratio > 0.0))
            return -1;
        ora_sum_t sum = {0.0, 0.0, 0.0};
        double start = delta;
        delta += ora_part(&q->before, q, prize, h > 0, ratio, &sum);
        delta += ora_part(&q->after, q, prize, 1, ratio, &sum);
        double actual_signups = q->before.signups + q->after.signups;
        double per_signup = actual_signups > 0.0 ? q->signup_tickets / actual_signups : 1.0;
        /* renewals follow the mean stock of the period */
        double mean_ratio =
            (q->active_start + q->active_end + start + delta) / (q->active_start + q->active_end);
        double tickets =
            q->renewal_tickets * mean_ratio + sum.signups * per_signup + sum.extra_tickets;
        double var = sum.var + sum.signups * per_signup * per_signup;
        jp_decide_period_t *f = &out->period[h];
        f->tickets = tickets > 0.0 ? tickets : 0.0;
        f->tickets_sd = sqrt(var);
        f->active = q->active_end + delta;
        f->days = q->days;
        if (!(f->active > 0.0))
            return -1;
    }
    return 0;
}
