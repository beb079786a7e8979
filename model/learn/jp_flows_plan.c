/*
 * jp_flows_plan: the forecast side of the stock-and-flow model.
 *
 * Why a plan: the optimizer evaluates the same horizon for many prize
 * paths (a grid, Thompson draws, H draws ahead). Everything but the prize
 * is fixed by the horizon, and the prize enters each flow's rate as one
 * factor exp(b ln(J / J_ref)) per period, so plan_new computes, per period
 * and flow, the rate at J_ref summed over the period's UTC days
 * (regressors averaged over each day's part of the period), the parameter
 * variance of ln(rate) as a quadratic in ln(J / J_ref) (three predictive
 * variances of the ridge: the variance is quadratic in x), and the billed
 * share; plan_eval is then a few dozen flops per period.
 *
 * Means: each flow's expected count is exposure x rate x exp(b lp) x
 * exp(v_param(lp) / 2): ln(N + 1/2) already estimates ln(mu) without the
 * Poisson 1/(2 mu) bias, so only the parameter uncertainty (v_param)
 * raises the mean of the log-normal posterior.
 *
 * Why each flow pivots at its data's prize, not at J_ref: the rate is
 * computed at a pivot prize and moved to the period's prize by
 * exp(b (lp - pivot)). With a pivot at J_ref, a model that has seen only
 * prizes far from it (a trainer restarted at a change point in the closed
 * loop, where the recommendations keep the prize at 1.3-1.5x J_ref) has a
 * day-level rate at J_ref too uncertain to use, so its recent mean rate
 * (measured at the data's prize) stood in for it and the weakly identified
 * elasticity then moved it again: GB's sign-ups were forecast at 0.3 a day
 * for 35, every residual of that model carried the miss, and concept
 * drift retrained it again and again. Such a flow (too uncertain at J_ref
 * on some day of the part) pivots instead at the prize where its parameter
 * variance is least along the prize axis at the part's mean regressors
 * (the vertex of that quadratic: where its data are); the mean and
 * variance at any prize are the same in exact arithmetic (ln(rate) is
 * linear, its variance quadratic), only the MAX_VPAR test and the
 * fallbacks now happen where the model knows the rate. A flow that is
 * fine at J_ref keeps J_ref, so Thompson draws of its elasticity still
 * turn about J_ref as before.
 *
 * Stocks within a period: cancellations and extras act on the period's
 * mean stock and reactivations on its mean lapsed stock; with rates c, r
 * per unit stock over the period the two mean stocks solve
 *     S_m = S + (Ns + r L_m - c S_m) / 2,   L_m = L + (c S_m - r L_m) / 2,
 * a 2 x 2 linear system solved in closed form (the trapezoid rule).
 *
 * Variances: a flow's count is over-dispersed Poisson, phi x mean, with
 * phi the ridge's residual variance over its Poisson part (samples are
 * weighted by their expected counts, so phi is 1 when only counting
 * noise remains; never below 1), plus the parameter part mean^2
 * (exp(v_param) - 1), where v_param also carries the prior of a
 * regressor the flow's data held constant (an unseen prize or campaign,
 * jp_flows.h). Tickets are compound sums: the learned variance of
 * tickets per sale times the number of sales is added (for renewals it
 * is the spread of the billed subscribers' tickets around the stock's
 * mean, which dominates the renewals' variance), and a learned monthly
 * billing profile adds its own prequential error. The stock's variance
 * accumulates the flows' variances from period to period and reaches the
 * renewals through the billed share; binomial payment failures add
 * theirs. Flows are treated as independent (separate ridges) and periods
 * too (the shared parameters make later periods' errors correlated: the
 * bands beyond the first period are narrower than they should be). The
 * band is mean -/+ 1.645 sd (normal: renewals, nearly deterministic,
 * dominate the total), floored at zero.
 */
#include "jp_flows-internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"

#define Z95 1.6448536269514722
/* The largest parameter variance of ln(rate) a day-level prediction may
 * have (a factor e^0.5 either way at one sd); beyond, the model is
 * extrapolating and the part is evaluated as a whole (plan_part). Also the
 * cap of the parameter variance in the bands. */
#define MAX_VPAR 0.25

/* A period in two parts: before its prize switch (the previous prize) and
 * after it (its own). */
enum { PART_BEFORE, PART_AFTER, PARTS };

typedef struct {
    double days;
    double pivot[JP_FLOW__COUNT]; /* ln(J / J_ref) of the rates: 0, or the data's */
    double rate[JP_FLOW__COUNT];  /* sum over days of exp(mu) x day fraction, at the pivot */
    double vp[JP_FLOW__COUNT][3]; /* v_param = vp0 + vp1 d + vp2 d^2, d = lp - pivot */
} plan_part_t;

typedef struct {
    double days;
    plan_part_t part[PARTS];
    double bill_share, v_bill; /* v_bill: relative variance of a learned share */
} plan_period_t;

struct jp_flows_plan_s {
    size_t n;
    int billing;
    double price, log_ref;
    int fitted[JP_FLOW__COUNT];
    double beta[JP_FLOW__COUNT];
    double phi[JP_FLOW__COUNT]; /* dispersion: Var(count) / mean, >= 1 */
    double tau_s, tau_x, tau_r, pf;
    double vt_s, vt_x, vt_r; /* variance of tickets per sale */
    double v_bill;           /* relative variance of the billed share */
    jp_flows_stock_t start;
    int use_churn;
    double log_churn_prize;
    plan_period_t per[];
};

static double or_default(double v, double d)
{
    return isfinite(v) ? v : d;
}

/* The ln(J / J_ref) the flow's data are centred on, at the regressors x
 * (x[0] is overwritten): where the parameter variance of ln(rate) is least
 * along the prize axis, the vertex of that quadratic. 0 (J_ref) when it
 * has no curvature (the prize never varied) or the vertex is absurd. */
static double prize_pivot(const jp_flows_t *m, jp_flow_t f, double *x)
{
    double v[3], mu;
    for (int i = 0; i < 3; i++) {
        x[0] = (double)(i - 1);
        if (jp_flows_predict_log_rate(m, f, x, &mu, &v[i]) != 0)
            return 0.0;
    }
    double curv = 0.5 * (v[2] + v[0]) - v[1], slope = 0.5 * (v[2] - v[0]);
    double c = curv > 0.0 ? -slope / (2.0 * curv) : 0.0;
    return isfinite(c) && fabs(c) < 5.0 ? c : 0.0;
}

static int check_periods(const jp_flows_period_t *p, size_t n, const jp_flows_stock_t *s,
                         char *errstr, size_t errstr_size)
{
    if (n == 0) {
        jp_err_set(errstr, errstr_size, "flows: a plan needs at least one period");
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        const char *bad = NULL;
        if (p[k].end_ms <= p[k].start_ms)
            bad = "is empty";
        else if (k > 0 && p[k].start_ms < p[k - 1].end_ms)
            bad = "starts before the previous one ends";
        else if (!isfinite(p[k].billing_share))
            bad = "has a billing share that is not finite";
        for (unsigned c = 0; !bad && c < JP_FLOWS_MAX_CAMPAIGNS; c++)
            if (!(p[k].campaign[c] >= 0.0 && p[k].campaign[c] <= 1.0))
                bad = "has a campaign share outside [0, 1]";
        if (bad) {
            jp_err_set(errstr, errstr_size, "flows: period %zu [%lld, %lld) %s", k,
                       (long long)p[k].start_ms, (long long)p[k].end_ms, bad);
            return -1;
        }
    }
    if (!(s->active > 0.0) || !isfinite(s->active) || !isfinite(s->lapsed)) {
        jp_err_set(errstr, errstr_size, "flows: the starting stock must be finite, active > 0");
        return -1;
    }
    return 0;
}

/* The end of the UTC day piece of [a, end) that starts at a. */
static int64_t day_piece_end(int64_t a, int64_t end)
{
    int64_t day = a >= 0 ? a / FLOWS_DAY_MS : (a - FLOWS_DAY_MS + 1) / FLOWS_DAY_MS;
    return (day + 1) * FLOWS_DAY_MS < end ? (day + 1) * FLOWS_DAY_MS : end;
}

/* Adds the day-level rates at each flow's pivot over [start, end) to rate
 * for the flows in mask; sets coarse[f] when a day's prediction is too
 * uncertain. Returns the billed share of the part and adds to *guessed
 * the part of it on days of the month the profile has not seen. */
static double part_rates(const jp_flows_t *m, const jp_flows_plan_t *pl,
                         const jp_flows_period_t *in, int64_t start, int64_t end,
                         const double *pivot, const int *mask, double *rate, int *coarse,
                         double *guessed)
{
    double x[JP_FLOWS_MAX_FEATURES] = {0}, share = 0.0, mu, v;
    for (int64_t a = start, b; a < end; a = b) {
        b = day_piece_end(a, end);
        double d = (double)(b - a) / (double)FLOWS_DAY_MS;
        jp_flows_features(m, a, b, in->tz_offset_min, 0.0, in->campaign, x);
        for (int f = 0; f < JP_FLOW__COUNT; f++) {
            x[0] = pivot[f];
            if (!mask[f] || !pl->fitted[f] ||
                jp_flows_predict_log_rate(m, (jp_flow_t)f, x, &mu, &v) != 0)
                continue;
            if (v <= MAX_VPAR)
                rate[f] += exp(mu) * d;
            else
                coarse[f] = 1;
        }
        int seen;
        double s = d * jp_flows_billed_share(m, a, &seen);
        share += s;
        if (!seen)
            *guessed += s;
    }
    return share;
}

/* Fills one part [a, b) of a period: per UTC day piece, the fitted flows'
 * rates at their pivot (J_ref); the parameter variance at the part's mean
 * regressors. A flow whose day-level prediction at J_ref is too uncertain
 * somewhere in the part pivots at its data's prize instead (see the top
 * comment); if it is still too uncertain there (its samples never varied
 * along some regressor, e.g. weekly terms of a flow pooled over whole
 * weeks) it is evaluated for the part as a whole, at its mean regressors,
 * as it was trained; if even that is too uncertain, at its recent mean
 * rate. Returns the billed share of the part (monthly billing profile) and
 * adds to *guessed the part of it on days of the month the profile has not
 * seen. */
static double plan_part(const jp_flows_t *m, const jp_flows_plan_t *pl, const jp_flows_period_t *in,
                        int64_t start, int64_t end, plan_part_t *out, double *guessed)
{
    size_t p = m->p;
    double x[JP_FLOWS_MAX_FEATURES] = {0}, xbar[JP_FLOWS_MAX_FEATURES] = {0};
    double days = 0.0, mu, v, unused = 0.0;
    int coarse[JP_FLOW__COUNT] = {0}, all[JP_FLOW__COUNT] = {1, 1, 1, 1};
    for (int64_t a = start, b; a < end; a = b) {
        b = day_piece_end(a, end);
        double d = (double)(b - a) / (double)FLOWS_DAY_MS;
        jp_flows_features(m, a, b, in->tz_offset_min, 0.0, in->campaign, x);
        for (size_t j = 0; j < p; j++)
            xbar[j] += x[j] * d;
        days += d;
    }
    out->days = days;
    if (days == 0.0)
        return 0.0;
    for (size_t j = 0; j < p; j++)
        xbar[j] /= days;
    double share = part_rates(m, pl, in, start, end, out->pivot, all, out->rate, coarse, guessed);
    /* flows too uncertain at J_ref: again at their data's prize */
    int again[JP_FLOW__COUNT] = {0}, n_again = 0;
    for (int f = 0; f < JP_FLOW__COUNT; f++) {
        if (!coarse[f])
            continue;
        out->pivot[f] = prize_pivot(m, (jp_flow_t)f, xbar);
        out->rate[f] = 0.0;
        coarse[f] = 0;
        again[f] = 1;
        n_again++;
    }
    if (n_again)
        part_rates(m, pl, in, start, end, out->pivot, again, out->rate, coarse, &unused);
    for (int f = 0; f < JP_FLOW__COUNT; f++) {
        if (!pl->fitted[f])
            continue;
        /* the band's quadratic: the data's parameter variance and the prior
         * of any regressor the data held constant (the rates above use the
         * data's alone: the prior moves no mean) */
        double vq[3];
        for (int i = 0; i < 3; i++) {
            xbar[0] = out->pivot[f] + (double)(i - 1);
            jp_flows_predict_log_rate(m, (jp_flow_t)f, xbar, &mu, &vq[i]);
            vq[i] += jp_flows_prior_var(m, (jp_flow_t)f, xbar);
        }
        xbar[0] = out->pivot[f];
        if (coarse[f]) {
            jp_flows_info_t info;
            jp_flows_predict_log_rate(m, (jp_flow_t)f, xbar, &mu, &v);
            jp_flows_info(m, (jp_flow_t)f, &info);
            out->rate[f] = (v <= MAX_VPAR ? exp(mu) : or_default(info.rate, 0.0)) * days;
        }
        out->vp[f][0] = vq[1];
        out->vp[f][1] = 0.5 * (vq[2] - vq[0]);
        out->vp[f][2] = 0.5 * (vq[2] + vq[0]) - vq[1];
    }
    return share;
}

static void plan_period(const jp_flows_t *m, const jp_flows_plan_t *pl, const jp_flows_period_t *in,
                        plan_period_t *out)
{
    memset(out, 0, sizeof(*out));
    int64_t sw = in->switch_ms < in->start_ms ? in->start_ms
                 : in->switch_ms > in->end_ms ? in->end_ms
                                              : in->switch_ms;
    double guessed = 0.0;
    double share = plan_part(m, pl, in, in->start_ms, sw, &out->part[PART_BEFORE], &guessed) +
                   plan_part(m, pl, in, sw, in->end_ms, &out->part[PART_AFTER], &guessed);
    out->days = (double)(in->end_ms - in->start_ms) / (double)FLOWS_DAY_MS;
    if (in->billing_share >= 0.0) {
        out->bill_share = in->billing_share;
    } else if (m->cfg.billing == JP_FLOWS_BILLING_MONTHLY) {
        out->bill_share = share;
        /* The learned part carries the profile's own error; a guessed part
         * (a day of the month not seen yet) is uncertain by its whole size:
         * no bills at all is as plausible as the even spread. */
        double learned = share - guessed;
        out->v_bill = share > 0.0
                          ? (learned * learned * pl->v_bill + guessed * guessed) / (share * share)
                          : pl->v_bill;
    } else {
        out->bill_share = 1.0;
    }
}

jp_flows_plan_t *jp_flows_plan_new(const jp_flows_t *m, const jp_flows_period_t *periods,
                                   size_t n_periods, const jp_flows_stock_t *start, char *errstr,
                                   size_t errstr_size)
{
    if (!jp_flows_ready(m)) {
        jp_err_set(errstr, errstr_size, "flows: the model is not fitted yet");
        return NULL;
    }
    if (check_periods(periods, n_periods, start, errstr, errstr_size) != 0)
        return NULL;
    jp_flows_plan_t *pl = calloc(1, sizeof(*pl) + n_periods * sizeof(plan_period_t));
    if (!pl) {
        jp_err_set(errstr, errstr_size, "flows: out of memory");
        return NULL;
    }
    pl->n = n_periods;
    pl->billing = m->cfg.billing;
    pl->price = (double)m->cfg.price_minor;
    pl->log_ref = log((double)m->cfg.prize_ref_minor);
    for (int f = 0; f < JP_FLOW__COUNT; f++) {
        double beta[JP_FLOWS_MAX_FEATURES];
        jp_flows_info_t info;
        if (jp_flows_coef(m, (jp_flow_t)f, beta, NULL) != 0 ||
            jp_flows_info(m, (jp_flow_t)f, &info) != 0)
            continue;
        pl->fitted[f] = 1;
        pl->beta[f] = beta[0];
        double phi = info.sigma2 / info.poisson_var; /* info.sigma2 is already rescaled */
        pl->phi[f] = phi > 1.0 ? phi : 1.0;          /* NaN (no Poisson part known) fails too */
    }
    jp_flows_ratios_t r;
    jp_flows_ratios(m, &r);
    pl->tau_s = or_default(r.tickets_per_signup, 1.0);
    pl->tau_x = or_default(r.tickets_per_extra, 1.0);
    pl->tau_r = or_default(r.tickets_per_renewal, 1.0);
    pl->pf = or_default(r.payment_failure, 0.0);
    pl->vt_s = or_default(r.var_per_signup, 0.0);
    pl->vt_x = or_default(r.var_per_extra, 0.0);
    pl->vt_r = or_default(r.var_per_renewal, 0.0);
    pl->v_bill = pl->billing == JP_FLOWS_BILLING_MONTHLY ? or_default(r.billing_error, 0.0) : 0.0;
    pl->start = *start;
    pl->use_churn = start->churn_hazard_per_day > 0.0 && start->churn_prize_minor > 0;
    pl->log_churn_prize = pl->use_churn ? log((double)start->churn_prize_minor) : 0.0;
    for (size_t k = 0; k < n_periods; k++)
        plan_period(m, pl, &periods[k], &pl->per[k]);
    return pl;
}

void jp_flows_plan_free(jp_flows_plan_t *p)
{
    free(p);
}

size_t jp_flows_plan_len(const jp_flows_plan_t *p)
{
    return p->n;
}

/* A flow over one period, per unit of exposure per day: the expected
 * count m and its parameter standard deviation s (the two parts share
 * their parameters, so their deviations add). */
typedef struct {
    double m, s;
} flow_moments_t;

static flow_moments_t flow_moments(const jp_flows_plan_t *pl, const plan_period_t *pp, int f,
                                   double beta, const double lp[PARTS])
{
    flow_moments_t r = {0, 0};
    if (!pl->fitted[f])
        return r;
    for (int i = 0; i < PARTS; i++) {
        const plan_part_t *q = &pp->part[i];
        double d = lp[i] - q->pivot[f];
        double vpar = q->vp[f][0] + q->vp[f][1] * d + q->vp[f][2] * d * d;
        vpar = vpar > 0.0 ? (vpar < MAX_VPAR ? vpar : MAX_VPAR) : 0.0;
        double m = q->rate[f] * exp(beta * d);
        r.m += m;
        r.s += m * sqrt(expm1(vpar));
    }
    return r;
}

/* Variance of a flow's count at exposure e per day: (over-dispersed)
 * Poisson + parameters. */
static double flow_var(const jp_flows_plan_t *pl, int f, const flow_moments_t *fm, double e)
{
    return pl->phi[f] * fm->m * e + fm->s * e * fm->s * e;
}

int jp_flows_plan_eval(const jp_flows_plan_t *pl, const int64_t *prize_minor,
                       const double *elasticity, jp_flows_forecast_t *out)
{
    for (size_t k = 0; k < pl->n; k++)
        if (prize_minor[k] <= 0)
            return -1;
    double S = pl->start.active, L = pl->start.lapsed >= 0.0 ? pl->start.lapsed : 0.0;
    int lapsed_known = pl->start.lapsed >= 0.0;
    double varS = 0.0;
    double lj_prev = pl->start.prize_now_minor > 0 ? log((double)pl->start.prize_now_minor)
                                                   : log((double)prize_minor[0]);
    for (size_t k = 0; k < pl->n; k++) {
        const plan_period_t *pp = &pl->per[k];
        jp_flows_forecast_t *o = &out[k];
        memset(o, 0, sizeof(*o));
        double lj = log((double)prize_minor[k]);
        const double lp[PARTS] = {lj_prev - pl->log_ref, lj - pl->log_ref};
        double b[JP_FLOW__COUNT];
        flow_moments_t fm[JP_FLOW__COUNT];
        for (int f = 0; f < JP_FLOW__COUNT; f++) {
            b[f] = elasticity ? elasticity[f] : pl->beta[f];
            fm[f] = flow_moments(pl, pp, f, b[f], lp);
        }
        if (pl->use_churn) {
            double bc = b[JP_FLOW_CANCELLATIONS];
            fm[JP_FLOW_CANCELLATIONS] = (flow_moments_t){
                pl->start.churn_hazard_per_day *
                    (pp->part[PART_BEFORE].days * exp(bc * (lj_prev - pl->log_churn_prize)) +
                     pp->part[PART_AFTER].days * exp(bc * (lj - pl->log_churn_prize))),
                0.0};
        }
        lj_prev = lj;
        double ns = fm[JP_FLOW_SIGNUPS].m;
        double r = lapsed_known ? fm[JP_FLOW_REACTIVATIONS].m : 0.0;
        double x = fm[JP_FLOW_EXTRAS].m;
        double c = fm[JP_FLOW_CANCELLATIONS].m;
        /* mean stocks over the period (trapezoid; see the top comment) */
        double det = 1.0 + 0.5 * c + 0.5 * r;
        double Sm = ((S + 0.5 * ns) * (1.0 + 0.5 * r) + 0.5 * r * L) / det;
        double Lm = ((1.0 + 0.5 * c) * L + 0.5 * c * (S + 0.5 * ns)) / det;
        double n[JP_FLOW__COUNT] = {ns, r * Lm, x * Sm, c * Sm};
        double e[JP_FLOW__COUNT] = {1.0, Lm, Sm, Sm}; /* exposure per day */
        double var[JP_FLOW__COUNT];
        for (int f = 0; f < JP_FLOW__COUNT; f++) {
            var[f] = flow_var(pl, f, &fm[f], e[f]);
            o->flow[f] = n[f];
            o->flow_sd[f] = sqrt(var[f]);
        }
        double Se = S + n[JP_FLOW_SIGNUPS] + n[JP_FLOW_REACTIVATIONS] - n[JP_FLOW_CANCELLATIONS];
        double varSe =
            varS + var[JP_FLOW_SIGNUPS] + var[JP_FLOW_REACTIVATIONS] + var[JP_FLOW_CANCELLATIONS];
        int monthly = pl->billing == JP_FLOWS_BILLING_MONTHLY;
        double Sb = monthly ? Sm : Se;
        double varSb = monthly ? 0.5 * (varS + varSe) : varSe;
        double attempts = pp->bill_share * Sb;
        o->renewals = attempts * (1.0 - pl->pf);
        o->payment_failures = attempts * pl->pf;
        double share_ok = pp->bill_share * (1.0 - pl->pf);
        /* binomial failures; the stock's variance; the billed share's error,
         * taken as fully correlated over the period's days (neighbouring
         * days of the month drift together as the stock changes) */
        double var_renew = attempts * pl->pf * (1.0 - pl->pf) + share_ok * share_ok * varSb +
                           o->renewals * o->renewals * pp->v_bill;

        o->tickets = pl->tau_r * o->renewals + pl->tau_s * n[JP_FLOW_SIGNUPS] +
                     pl->tau_x * n[JP_FLOW_EXTRAS];
        /* compound sums: (mean tickets)^2 Var(count) + count Var(tickets per sale) */
        double var_t = pl->tau_r * pl->tau_r * var_renew + o->renewals * pl->vt_r +
                       pl->tau_s * pl->tau_s * var[JP_FLOW_SIGNUPS] + ns * pl->vt_s +
                       pl->tau_x * pl->tau_x * var[JP_FLOW_EXTRAS] + n[JP_FLOW_EXTRAS] * pl->vt_x;
        double sd = sqrt(var_t);
        o->tickets_p05 = fmax(o->tickets - Z95 * sd, 0.0);
        o->tickets_p95 = o->tickets + Z95 * sd;
        o->revenue_minor = o->tickets * pl->price;
        o->revenue_p05 = o->tickets_p05 * pl->price;
        o->revenue_p95 = o->tickets_p95 * pl->price;

        S = Se;
        L = L + n[JP_FLOW_CANCELLATIONS] - n[JP_FLOW_REACTIVATIONS];
        varS = varSe;
        o->active_end = S;
        o->lapsed_end = lapsed_known ? L : -1.0;
    }
    return 0;
}

int jp_flows_forecast_one(const jp_flows_t *m, const jp_flows_period_t *period,
                          const jp_flows_stock_t *start, int64_t prize_minor,
                          jp_flows_forecast_t *out, char *errstr, size_t errstr_size)
{
    jp_flows_plan_t *pl = jp_flows_plan_new(m, period, 1, start, errstr, errstr_size);
    if (!pl)
        return -1;
    int rc = jp_flows_plan_eval(pl, &prize_minor, NULL, out);
    jp_flows_plan_free(pl);
    if (rc != 0)
        jp_err_set(errstr, errstr_size, "flows: prize must be > 0");
    return rc;
}
