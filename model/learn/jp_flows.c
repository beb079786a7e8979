/*
 * jp_flows: learning side of the stock-and-flow sales model.
 *
 * Why one log-linear ridge per flow and not one model of total sales: the
 * renewals of a year-old stock swamp everything the prize does within a
 * year, so a regression of total sales on the prize has an elasticity
 * whose standard error is larger than the effect (docs/model-sales.md).
 * The prize acts on flows; each flow is a Poisson count whose mean is
 * exposure x exp(x' b), so ln(rate) is linear in the regressors and the
 * prize coefficient is the elasticity.
 *
 * Why ln((count + 1/2) / exposure): for N ~ Poisson(mu),
 * E[ln(N + 1/2)] = ln(mu) + O(mu^-2) (the 1/(2 mu) bias of ln N cancels
 * against the +1/2; Anscombe 1948), and it is defined at N = 0. Its
 * variance is ~1/mu, so a sample is weighted by its expected count mu,
 * taken from the last fit (data before the sample, so the weight does not
 * follow the sample's own noise). Unit weights were not enough: a flow
 * with a positive elasticity is less noisy at high prizes, and the
 * classical standard error of its elasticity was 5-10% too small. The
 * weights are in units of the first sample's expected count, so their sum
 * stays near the number of samples and the ridge's prior keeps its
 * meaning; jp_flows_sigma_scale turns the ridge's frequency-weight
 * variance into the variance per unit of precision weight.
 * The transform is only good when mu is not tiny, hence the pools: a flow
 * with a small rate (reactivations early on, a small country, hour
 * windows) waits until its expected count reaches min_count. The gate uses
 * the flow's PAST rate times the pool's exposure, never the pool's own
 * count (except for the very first sample), so the stopping rule does not
 * select samples by their noise.
 *
 * Why exposures instead of a free "log subscriber base" coefficient: the
 * base moves a few percent a year, and mostly BECAUSE of the prize
 * (sign-ups minus cancellations), so its coefficient would be weakly
 * identified and confounded with the prize. Extras and cancellations are
 * per-subscriber processes; the exposure (mean stock x days) fixes that
 * coefficient at 1, as the offset of a Poisson GLM does.
 *
 * Why reactivations are a flow of their own: they are proportional to the
 * lapsed stock, which grows through the year; mixed into sign-ups they
 * would add a trend that seasonality terms partly absorb and the prize
 * partly takes.
 *
 * Ratios (tickets per sign-up, per extra purchase, per renewal; payment
 * failure rate; the share of the stock billed per UTC day of month) are
 * sums decayed by (1 - 1/n_blocks) per block, so they follow the ring's
 * horizon without keeping per-block copies.
 */
#include "jp_flows-internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/base/jp_err.h"

#define FLOWS_TAG     "FLOW"
#define FLOWS_VERSION 1
#define YEAR_MS       31556952000LL /* 365.2425 days */
#define WEEK_MS       (7 * FLOWS_DAY_MS)
/* Windows whose ln prize varied more than this (a change of about 1%
 * for a part of the window) are not learned from. */
#define MAX_PRIZE_VAR 1e-4
/* The billing profile follows the stock: who is billed on a day of the
 * month changes as subscribers come and go, so last month counts most. */
#define BILLING_HALF_LIFE_DAYS 30.436875

static const char *const flow_names[JP_FLOW__COUNT] = {"signups", "reactivations", "extras",
                                                       "cancellations"};

const char *jp_flow_name(jp_flow_t f)
{
    return (unsigned)f < JP_FLOW__COUNT ? flow_names[f] : "?";
}

void jp_flows_config_default(jp_flows_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->billing = JP_FLOWS_BILLING_MONTHLY;
    c->yearly_harmonics = 2;
    c->weekly_harmonics = 3;
    c->n_campaigns = 4;
    c->block_ms = 7 * FLOWS_DAY_MS;
    c->n_blocks = 53;
    c->lambda = 0.01;
    c->min_count = 5.0;
    c->min_pool_days = 1.0;
    c->max_pool_days = 7.0;
}

static int check_config(const jp_flows_config_t *c, char *errstr, size_t errstr_size)
{
    const char *bad = NULL;
    if (c->prize_ref_minor <= 0)
        bad = "prize_ref_minor must be > 0";
    else if (c->price_minor <= 0)
        bad = "price_minor must be > 0";
    else if (c->billing != JP_FLOWS_BILLING_MONTHLY && c->billing != JP_FLOWS_BILLING_PER_DRAW)
        bad = "billing must be monthly or per_draw";
    else if (c->yearly_harmonics > JP_FLOWS_MAX_YEARLY)
        bad = "yearly_harmonics must be <= 4";
    else if (c->weekly_harmonics > JP_FLOWS_MAX_WEEKLY)
        bad = "weekly_harmonics must be <= 3";
    else if (c->n_campaigns > JP_FLOWS_MAX_CAMPAIGNS)
        bad = "n_campaigns must be <= 8";
    else if (c->block_ms < 3600000LL)
        bad = "block_ms must be at least an hour";
    else if (c->n_blocks < 1 || c->n_blocks > 10000)
        bad = "n_blocks must be in [1, 10000]";
    else if (!(c->lambda >= 0.0) || !isfinite(c->lambda))
        bad = "lambda must be finite and >= 0";
    else if (!(c->min_count >= 0.0) || !isfinite(c->min_count))
        bad = "min_count must be finite and >= 0";
    else if (!(c->min_pool_days > 0.0) || !(c->max_pool_days >= c->min_pool_days) ||
             !isfinite(c->max_pool_days))
        bad = "pool days must satisfy 0 < min_pool_days <= max_pool_days";
    if (bad) {
        jp_err_set(errstr, errstr_size, "flows: %s", bad);
        return -1;
    }
    return 0;
}

static void name_features(jp_flows_t *m)
{
    size_t i = 0;
    snprintf(m->names[i++], sizeof(m->names[0]), "log_prize");
    for (unsigned k = 1; k <= m->cfg.yearly_harmonics; k++) {
        snprintf(m->names[i++], sizeof(m->names[0]), "year_cos%u", k);
        snprintf(m->names[i++], sizeof(m->names[0]), "year_sin%u", k);
    }
    for (unsigned k = 1; k <= m->cfg.weekly_harmonics; k++) {
        snprintf(m->names[i++], sizeof(m->names[0]), "week_cos%u", k);
        snprintf(m->names[i++], sizeof(m->names[0]), "week_sin%u", k);
    }
    for (unsigned k = 0; k < m->cfg.n_campaigns; k++)
        snprintf(m->names[i++], sizeof(m->names[0]), "campaign%u", k);
}

/* Allocates the model and, when make_ridges, its ridges (deserialization
 * reads them instead). */
static jp_flows_t *flows_alloc(const jp_flows_config_t *c, int make_ridges, char *errstr,
                               size_t errstr_size)
{
    if (check_config(c, errstr, errstr_size) != 0)
        return NULL;
    jp_flows_t *m = calloc(1, sizeof(*m));
    if (!m) {
        jp_err_set(errstr, errstr_size, "flows: out of memory");
        return NULL;
    }
    m->cfg = *c;
    m->p = 1 + 2 * (size_t)c->yearly_harmonics + 2 * (size_t)c->weekly_harmonics +
           (size_t)c->n_campaigns;
    name_features(m);
    for (int f = 0; make_ridges && f < JP_FLOW__COUNT; f++) {
        m->flow[f].ridge = jp_ridge_create(m->p, c->n_blocks, c->lambda, errstr, errstr_size);
        if (!m->flow[f].ridge) {
            jp_flows_free(m);
            return NULL;
        }
    }
    return m;
}

jp_flows_t *jp_flows_create(const jp_flows_config_t *c, char *errstr, size_t errstr_size)
{
    return flows_alloc(c, 1, errstr, errstr_size);
}

void jp_flows_free(jp_flows_t *m)
{
    if (!m)
        return;
    for (int f = 0; f < JP_FLOW__COUNT; f++)
        jp_ridge_free(m->flow[f].ridge);
    free(m);
}

const jp_flows_config_t *jp_flows_config(const jp_flows_t *m)
{
    return &m->cfg;
}

size_t jp_flows_n_features(const jp_flows_t *m)
{
    return m->p;
}

const char *jp_flows_feature_name(const jp_flows_t *m, size_t i)
{
    return i < m->p ? m->names[i] : NULL;
}

/* ---- regressors --------------------------------------------------------- */

/* Mean of cos and sin of 2 pi k t / period over [a, b) (local ms): the
 * value at the midpoint times sin(h) / h, h = pi k (b - a) / period. The
 * phase is reduced modulo the period in integers first, so the angle
 * stays small and exact whatever the epoch. */
static void harmonics(int64_t a, int64_t b, int64_t period, unsigned k_max, double *out)
{
    int64_t len = b - a;
    int64_t mid = a + len / 2;
    int64_t r = mid % period;
    if (r < 0)
        r += period;
    double phase = ((double)r + (double)(len % 2) * 0.5) / (double)period;
    double half = 0.5 * (double)len / (double)period;
    for (unsigned k = 1; k <= k_max; k++) {
        double ang = 2.0 * M_PI * (double)k * phase;
        double h = M_PI * (double)k * 2.0 * half;
        double sinc = h > 1e-9 ? sin(h) / h : 1.0;
        *out++ = cos(ang) * sinc;
        *out++ = sin(ang) * sinc;
    }
}

void jp_flows_features(const jp_flows_t *m, int64_t start_ms, int64_t end_ms, int32_t tz_min,
                       double log_prize_rel, const double *campaign, double *x)
{
    int64_t off = (int64_t)tz_min * 60000LL;
    size_t i = 0;
    x[i++] = log_prize_rel;
    harmonics(start_ms + off, end_ms + off, YEAR_MS, m->cfg.yearly_harmonics, x + i);
    i += 2 * m->cfg.yearly_harmonics;
    harmonics(start_ms + off, end_ms + off, WEEK_MS, m->cfg.weekly_harmonics, x + i);
    i += 2 * m->cfg.weekly_harmonics;
    for (unsigned c = 0; c < m->cfg.n_campaigns; c++)
        x[i++] = campaign ? campaign[c] : 0.0;
}

/* Day of month (1..31) of the UTC day containing t (gmtime_r: UTC only,
 * no time zone state). */
static int utc_day_of_month(int64_t t_ms)
{
    time_t secs = (time_t)(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return 1;
    return tm.tm_mday;
}

double jp_flows_billed_share(const jp_flows_t *m, int64_t t_ms, int *seen)
{
    int d = utc_day_of_month(t_ms) - 1;
    int known = m->bill_exposure[d] > 0.0;
    if (seen)
        *seen = known;
    if (known)
        return m->bill_attempts[d] / m->bill_exposure[d];
    return 12.0 / 365.2425; /* once a month, spread evenly */
}

/* ---- learning ----------------------------------------------------------- */

static int finite_nonneg(double v)
{
    return isfinite(v) && v >= 0.0;
}

static int check_window(const jp_flows_t *m, const jp_flows_window_t *w, char *errstr,
                        size_t errstr_size)
{
    const char *bad = NULL;
    if (w->end_ms <= w->start_ms)
        bad = "end_ms must be after start_ms";
    else if (w->tz_offset_min < -24 * 60 || w->tz_offset_min > 24 * 60)
        bad = "tz_offset_min out of range";
    else if (!isfinite(w->log_prize))
        bad = "log_prize is not finite";
    else if (!finite_nonneg(w->log_prize_var))
        bad = "log_prize_var is negative or not finite";
    else if (!finite_nonneg(w->signups) || !finite_nonneg(w->reactivations) ||
             !finite_nonneg(w->cancellations) || !finite_nonneg(w->payment_failures) ||
             !finite_nonneg(w->extra_purchases) || !finite_nonneg(w->extra_tickets) ||
             !finite_nonneg(w->extra_tickets_sq) || !finite_nonneg(w->signup_tickets) ||
             !finite_nonneg(w->signup_tickets_sq) || !finite_nonneg(w->renewals) ||
             !finite_nonneg(w->renewal_tickets) || !finite_nonneg(w->renewal_tickets_sq))
        bad = "a count is negative or not finite";
    else if (!isfinite(w->active_start) || !isfinite(w->active_end) || !isfinite(w->lapsed_start) ||
             !isfinite(w->lapsed_end))
        bad = "a stock is not finite";
    for (unsigned c = 0; !bad && c < m->cfg.n_campaigns; c++)
        if (!(w->campaign[c] >= 0.0 && w->campaign[c] <= 1.0))
            bad = "a campaign share is outside [0, 1]";
    if (bad) {
        jp_err_set(errstr, errstr_size, "flows: window [%lld, %lld): %s", (long long)w->start_ms,
                   (long long)w->end_ms, bad);
        return -1;
    }
    return 0;
}

/* f: the ring's decay; fb: the billing profile's (a half-life of a month). */
static void decay_all(jp_flows_t *m, double f, double fb)
{
    for (int i = 0; i < JP_FLOW__COUNT; i++) {
        flow_state_t *s = &m->flow[i];
        s->cum_count *= f;
        s->cum_exposure *= f;
        s->pois_num *= f;
        s->pois_den *= f;
    }
    double *sums[] = {&m->signups,  &m->signup_tickets,  &m->signup_tickets_sq,
                      &m->extras,   &m->extra_tickets,   &m->extra_tickets_sq,
                      &m->renewals, &m->renewal_tickets, &m->renewal_tickets_sq,
                      &m->failures, &m->bill_err_sq,     &m->bill_err_n};
    for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
        *sums[i] *= f;
    for (int d = 0; d < 31; d++) {
        m->bill_attempts[d] *= fb;
        m->bill_exposure[d] *= fb;
    }
}

static double quantize(double v)
{
    return round(v * 1e9) / 1e9;
}

/* Moves the ring to the block containing t. */
static void advance_to(jp_flows_t *m, int64_t t_ms)
{
    int64_t b = t_ms >= 0 ? t_ms / m->cfg.block_ms : (t_ms - m->cfg.block_ms + 1) / m->cfg.block_ms;
    if (!m->have_block) {
        m->have_block = 1;
        m->block = b;
        return;
    }
    if (b <= m->block)
        return; /* a late window joins the current block */
    int64_t steps = b - m->block;
    m->block = b;
    int64_t n = steps < (int64_t)m->cfg.n_blocks ? steps : (int64_t)m->cfg.n_blocks;
    for (int f = 0; f < JP_FLOW__COUNT; f++)
        for (int64_t i = 0; i < n; i++)
            jp_ridge_advance(m->flow[f].ridge);
    double keep = 1.0 - 1.0 / (double)m->cfg.n_blocks;
    double months =
        (double)steps * (double)m->cfg.block_ms / (BILLING_HALF_LIFE_DAYS * FLOWS_DAY_MS);
    decay_all(m, steps > 100000 ? 0.0 : pow(keep, (double)steps), exp2(-fmin(months, 1e4)));
}

/* Adds a window's count and exposure to the flow's pool; emits the pool as
 * a sample when it is long enough and its expected count is large enough. */
static void pool_add(const jp_flows_t *m, flow_state_t *s, double count, double exposure,
                     double days, const double *x)
{
    s->pool_days += days;
    s->pool_count += count;
    s->pool_exposure += exposure;
    for (size_t j = 0; j < m->p; j++)
        s->pool_x[j] += x[j] * days;
    if (s->pool_days < m->cfg.min_pool_days)
        return;
    double xm[JP_FLOWS_MAX_FEATURES];
    for (size_t j = 0; j < m->p; j++)
        xm[j] = s->pool_x[j] / s->pool_days;
    /* The expected count: the last fit's, else the past rate's, else (the
     * very first sample) the pool's own. It gates the pool and weighs the
     * sample: Var(ln(N + 1/2)) ~ 1/mu, so w = mu is the inverse-variance
     * weight, taken from data before this sample. */
    double mu, expected = s->pool_count;
    if (s->cum_exposure > 0.0 && s->cum_count > 0.0) {
        double past = s->cum_count / s->cum_exposure * s->pool_exposure;
        expected = past;
        /* a young fit can extrapolate wildly; within 10x of the past rate
         * it is trusted (prize, season and campaigns move rates far less) */
        if (jp_ridge_predict(s->ridge, xm, &mu, NULL) == 0 && isfinite(mu))
            expected = fmin(fmax(exp(mu) * s->pool_exposure, 0.1 * past), 10.0 * past);
    }
    if (expected < m->cfg.min_count && s->pool_days < m->cfg.max_pool_days)
        return;
    double y = log((s->pool_count + 0.5) / s->pool_exposure);
    if (!(s->weight_unit > 0.0) && expected > 0.0)
        s->weight_unit = expected; /* weights in units of the first sample's */
    double w = s->weight_unit > 0.0 ? expected / s->weight_unit : 0.0;
    if (isfinite(w) && jp_ridge_update(s->ridge, xm, y, w) == 0) {
        s->cum_count += s->pool_count;
        s->cum_exposure += s->pool_exposure;
        s->pois_num += w * w / (s->pool_count + 0.5);
        s->pois_den += w;
    }
    s->pool_days = s->pool_count = s->pool_exposure = 0.0;
    memset(s->pool_x, 0, sizeof(s->pool_x));
}

int jp_flows_observe(jp_flows_t *m, const jp_flows_window_t *w, char *errstr, size_t errstr_size)
{
    if (check_window(m, w, errstr, errstr_size) != 0)
        return -1;
    advance_to(m, w->start_ms);
    m->windows++;
    double days = (double)(w->end_ms - w->start_ms) / (double)FLOWS_DAY_MS;
    double x[JP_FLOWS_MAX_FEATURES] = {0};
    jp_flows_features(m, w->start_ms, w->end_ms, w->tz_offset_min,
                      w->log_prize - log((double)m->cfg.prize_ref_minor), w->campaign, x);
    /* Inputs that are time-weighted means of a constant differ from it by
     * rounding; such a "varying" column would be standardized by ~1e-16 and
     * get an absurd coefficient. Nine decimals keep every real variation. */
    x[0] = quantize(x[0]);
    for (size_t j = m->p - m->cfg.n_campaigns; j < m->p; j++)
        x[j] = quantize(x[j]);

    int active = w->active_start > 0.0 && w->active_end > 0.0;
    int lapsed = w->lapsed_start >= 0.0 && w->lapsed_end >= 0.0;
    double mean_active = active ? 0.5 * (w->active_start + w->active_end) : 0.0;
    double mean_lapsed = lapsed ? 0.5 * (w->lapsed_start + w->lapsed_end) : 0.0;
    const double count[JP_FLOW__COUNT] = {w->signups, w->reactivations, w->extra_purchases,
                                          w->cancellations};
    const double exposure[JP_FLOW__COUNT] = {days, mean_lapsed * days, mean_active * days,
                                             mean_active * days};
    /* A window whose prize changed has a regressor that mixes two prizes
     * by time while the flows weigh them by their hourly intensity: it is
     * not learned from (the errors-in-variables would bias the elasticity
     * toward zero). The schedule decides, not the counts: no selection. */
    int one_prize = w->log_prize_var <= MAX_PRIZE_VAR;
    for (int f = 0; f < JP_FLOW__COUNT; f++)
        if (exposure[f] > 0.0 && one_prize)
            pool_add(m, &m->flow[f], count[f], exposure[f], days, x);

    m->signups += w->signups;
    m->signup_tickets += w->signup_tickets;
    m->signup_tickets_sq += w->signup_tickets_sq;
    m->extras += w->extra_purchases;
    m->extra_tickets += w->extra_tickets;
    m->extra_tickets_sq += w->extra_tickets_sq;
    m->renewals += w->renewals;
    m->renewal_tickets += w->renewal_tickets;
    m->renewal_tickets_sq += w->renewal_tickets_sq;
    m->failures += w->payment_failures;
    if (active && w->start_ms % FLOWS_DAY_MS == 0 && w->end_ms - w->start_ms == FLOWS_DAY_MS) {
        int d = utc_day_of_month(w->start_ms) - 1;
        double attempts = w->renewals + w->payment_failures;
        if (m->bill_exposure[d] > 0.0 && m->bill_attempts[d] > 0.0) {
            /* the profile's own prequential error, before it learns the day */
            double pred = m->bill_attempts[d] / m->bill_exposure[d] * mean_active;
            double rel = (attempts - pred) / pred;
            m->bill_err_sq += rel * rel;
            m->bill_err_n += 1.0;
        }
        m->bill_attempts[d] += attempts;
        m->bill_exposure[d] += mean_active;
    }
    return 0;
}

int jp_flows_fit(jp_flows_t *m, char *errstr, size_t errstr_size)
{
    char missing[96] = "";
    for (int f = 0; f < JP_FLOW__COUNT; f++) {
        char err[128];
        int rc = jp_ridge_fit(m->flow[f].ridge, err, sizeof(err));
        if (rc != 0 && f != JP_FLOW_REACTIVATIONS && !jp_ridge_is_fitted(m->flow[f].ridge)) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "", flow_names[f]);
        }
    }
    if (missing[0]) {
        jp_err_set(errstr, errstr_size, "flows: not enough data to fit %s", missing);
        return -1;
    }
    return 0;
}

int jp_flows_ready(const jp_flows_t *m)
{
    return jp_ridge_is_fitted(m->flow[JP_FLOW_SIGNUPS].ridge) &&
           jp_ridge_is_fitted(m->flow[JP_FLOW_EXTRAS].ridge) &&
           jp_ridge_is_fitted(m->flow[JP_FLOW_CANCELLATIONS].ridge);
}

double jp_flows_sigma_scale(const jp_flows_t *m, jp_flow_t f)
{
    jp_ridge_info_t ri;
    if (jp_ridge_info(m->flow[f].ridge, &ri) != 0)
        return NAN;
    double df = (double)ri.n_samples - (double)m->p - 1.0;
    return df >= 1.0 ? (ri.weight - 1.0) / df : NAN;
}

int jp_flows_predict_log_rate(const jp_flows_t *m, jp_flow_t f, const double *x, double *mu,
                              double *vpar)
{
    jp_ridge_info_t ri;
    double var;
    const jp_ridge_t *r = m->flow[f].ridge;
    if (jp_ridge_info(r, &ri) != 0 || jp_ridge_predict(r, x, mu, &var) != 0)
        return -1;
    double k = jp_flows_sigma_scale(m, f);
    *vpar = (var - ri.sigma2) * (isfinite(k) ? k : 1.0);
    return 0;
}

/* sd^2 (x[j] - c)^2 when regressor j was pinned at c, else 0. */
static double pinned_prior(const jp_ridge_t *r, size_t j, double sd, const double *x)
{
    double c;
    return jp_ridge_pinned_at(r, j, &c) ? sd * sd * (x[j] - c) * (x[j] - c) : 0.0;
}

double jp_flows_prior_var(const jp_flows_t *m, jp_flow_t f, const double *x)
{
    const jp_ridge_t *r = m->flow[f].ridge;
    double v = pinned_prior(r, 0, JP_FLOWS_PRIOR_SD_PRIZE, x);
    for (size_t j = m->p - m->cfg.n_campaigns; j < m->p; j++)
        v += pinned_prior(r, j, JP_FLOWS_PRIOR_SD_CAMPAIGN, x);
    return v;
}

int jp_flows_elasticity(const jp_flows_t *m, jp_flow_t f, double *estimate, double *sd)
{
    if ((unsigned)f >= JP_FLOW__COUNT || !jp_ridge_is_fitted(m->flow[f].ridge))
        return -1;
    const jp_ridge_t *r = m->flow[f].ridge;
    double beta[JP_FLOWS_MAX_FEATURES];
    jp_ridge_coef(r, beta, NULL);
    /* The predictive variance is quadratic in x: its second difference
     * along the prize axis, v(e) + v(-e) - 2 v(0) = 2 sigma2 (A^-1)_00 / s_0^2,
     * is twice the coefficient's posterior variance (any base point works). */
    double x[JP_FLOWS_MAX_FEATURES] = {0};
    double v0, vp, vm;
    jp_ridge_predict(r, x, NULL, &v0);
    x[0] = 1.0;
    jp_ridge_predict(r, x, NULL, &vp);
    x[0] = -1.0;
    jp_ridge_predict(r, x, NULL, &vm);
    double var = 0.5 * (vp + vm - 2.0 * v0) * jp_flows_sigma_scale(m, f);
    if (!(var > 0.0))
        return -1; /* the prize did not vary (or too few samples): not identifiable */
    if (estimate)
        *estimate = beta[0];
    if (sd)
        *sd = sqrt(var);
    return 0;
}

int jp_flows_coef(const jp_flows_t *m, jp_flow_t f, double *beta, double *intercept)
{
    if ((unsigned)f >= JP_FLOW__COUNT)
        return -1;
    return jp_ridge_coef(m->flow[f].ridge, beta, intercept);
}

int jp_flows_info(const jp_flows_t *m, jp_flow_t f, jp_flows_info_t *out)
{
    if ((unsigned)f >= JP_FLOW__COUNT)
        return -1;
    const flow_state_t *s = &m->flow[f];
    memset(out, 0, sizeof(*out));
    out->rate = s->cum_exposure > 0.0 ? s->cum_count / s->cum_exposure : NAN;
    out->poisson_var = s->pois_den > 0.0 ? s->pois_num / s->pois_den : NAN;
    jp_ridge_info_t ri;
    if (jp_ridge_info(s->ridge, &ri) != 0)
        return 0;
    out->fitted = 1;
    out->samples = ri.n_samples;
    out->weight = ri.weight;
    out->sigma2 = ri.sigma2 * jp_flows_sigma_scale(m, f);
    out->cond_est = ri.cond_est;
    return 0;
}

static double ratio(double num, double den)
{
    return den > 0.0 ? num / den : NAN;
}

/* Variance of tickets per sale from the sums of tickets and their squares. */
static double spread(double sq, double sum, double n)
{
    double mean = ratio(sum, n), v = ratio(sq, n) - mean * mean;
    return v > 0.0 ? v : isnan(v) ? v : 0.0;
}

void jp_flows_ratios(const jp_flows_t *m, jp_flows_ratios_t *out)
{
    out->tickets_per_signup = ratio(m->signup_tickets, m->signups);
    out->tickets_per_extra = ratio(m->extra_tickets, m->extras);
    out->tickets_per_renewal = ratio(m->renewal_tickets, m->renewals);
    out->var_per_signup = spread(m->signup_tickets_sq, m->signup_tickets, m->signups);
    out->var_per_extra = spread(m->extra_tickets_sq, m->extra_tickets, m->extras);
    out->var_per_renewal = spread(m->renewal_tickets_sq, m->renewal_tickets, m->renewals);
    out->payment_failure = ratio(m->failures, m->renewals + m->failures);
    out->billing_error = ratio(m->bill_err_sq, m->bill_err_n);
}

/* ---- time-weighted step signal -------------------------------------------- */

void jp_flows_tw_init(jp_flows_tw_t *a, int64_t start_ms, double value)
{
    a->start_ms = a->last_ms = start_ms;
    a->value = value;
    a->sum = a->sum2 = 0.0;
}

void jp_flows_tw_set(jp_flows_tw_t *a, int64_t t_ms, double value)
{
    if (t_ms < a->last_ms)
        return;
    double dt = (double)(t_ms - a->last_ms);
    a->sum += a->value * dt;
    a->sum2 += a->value * a->value * dt;
    a->last_ms = t_ms;
    a->value = value;
}

/* Sums of value and value^2 up to end_ms, and the length covered. */
static double tw_sums(const jp_flows_tw_t *a, int64_t end_ms, double *sum, double *sum2)
{
    double dt = end_ms > a->last_ms ? (double)(end_ms - a->last_ms) : 0.0;
    *sum = a->sum + a->value * dt;
    *sum2 = a->sum2 + a->value * a->value * dt;
    return (double)((end_ms > a->last_ms ? end_ms : a->last_ms) - a->start_ms);
}

double jp_flows_tw_mean(const jp_flows_tw_t *a, int64_t end_ms)
{
    double s, s2, len = tw_sums(a, end_ms, &s, &s2);
    return len > 0.0 ? s / len : a->value;
}

double jp_flows_tw_var(const jp_flows_tw_t *a, int64_t end_ms)
{
    double s, s2, len = tw_sums(a, end_ms, &s, &s2);
    if (!(len > 0.0))
        return 0.0;
    double m = s / len, v = s2 / len - m * m;
    return v > 0.0 ? v : 0.0;
}

/* ---- serialization -------------------------------------------------------- */

static void put_config(jp_bytes_writer_t *w, const jp_flows_config_t *c)
{
    jp_bytes_put_i64(w, c->prize_ref_minor);
    jp_bytes_put_i64(w, c->price_minor);
    jp_bytes_put_u8(w, (uint8_t)c->billing);
    jp_bytes_put_u8(w, (uint8_t)c->yearly_harmonics);
    jp_bytes_put_u8(w, (uint8_t)c->weekly_harmonics);
    jp_bytes_put_u8(w, (uint8_t)c->n_campaigns);
    jp_bytes_put_i64(w, c->block_ms);
    jp_bytes_put_u32(w, c->n_blocks);
    jp_bytes_put_f64(w, c->lambda);
    jp_bytes_put_f64(w, c->min_count);
    jp_bytes_put_f64(w, c->min_pool_days);
    jp_bytes_put_f64(w, c->max_pool_days);
}

static void get_config(jp_bytes_reader_t *r, jp_flows_config_t *c)
{
    c->prize_ref_minor = jp_bytes_get_i64(r);
    c->price_minor = jp_bytes_get_i64(r);
    c->billing = jp_bytes_get_u8(r);
    c->yearly_harmonics = jp_bytes_get_u8(r);
    c->weekly_harmonics = jp_bytes_get_u8(r);
    c->n_campaigns = jp_bytes_get_u8(r);
    c->block_ms = jp_bytes_get_i64(r);
    c->n_blocks = jp_bytes_get_u32(r);
    c->lambda = jp_bytes_get_f64(r);
    c->min_count = jp_bytes_get_f64(r);
    c->min_pool_days = jp_bytes_get_f64(r);
    c->max_pool_days = jp_bytes_get_f64(r);
}

/* Every double of the state besides the ridges, as byte offsets: the model's
 * own (ratios, billing profile), then each flow's (pool, decayed sums). One
 * table serves both directions. */
#define MF(x) offsetof(jp_flows_t, x)
#define FF(x) offsetof(flow_state_t, x)
static const size_t model_doubles[] = {MF(signups),  MF(signup_tickets),  MF(signup_tickets_sq),
                                       MF(extras),   MF(extra_tickets),   MF(extra_tickets_sq),
                                       MF(renewals), MF(renewal_tickets), MF(renewal_tickets_sq),
                                       MF(failures), MF(bill_err_sq),     MF(bill_err_n)};
static const size_t flow_doubles[] = {FF(pool_days), FF(pool_count),   FF(pool_exposure),
                                      FF(cum_count), FF(cum_exposure), FF(pois_num),
                                      FF(pois_den),  FF(weight_unit)};
#undef MF
#undef FF

/* Calls fn on each of those doubles of m (as a byte address) in order. */
static void each_double(const jp_flows_t *m, void (*fn)(void *ctx, size_t off), void *ctx)
{
    for (size_t i = 0; i < sizeof(model_doubles) / sizeof(model_doubles[0]); i++)
        fn(ctx, model_doubles[i]);
    for (size_t d = 0; d < 31; d++) {
        fn(ctx, offsetof(jp_flows_t, bill_attempts) + d * sizeof(double));
        fn(ctx, offsetof(jp_flows_t, bill_exposure) + d * sizeof(double));
    }
    for (size_t f = 0; f < JP_FLOW__COUNT; f++) {
        size_t base = offsetof(jp_flows_t, flow) + f * sizeof(flow_state_t);
        for (size_t i = 0; i < sizeof(flow_doubles) / sizeof(flow_doubles[0]); i++)
            fn(ctx, base + flow_doubles[i]);
        for (size_t j = 0; j < m->p; j++)
            fn(ctx, base + offsetof(flow_state_t, pool_x) + j * sizeof(double));
    }
}

typedef struct {
    const jp_flows_t *m;
    jp_bytes_writer_t *w;
} put_ctx_t;

static void put_double(void *ctx, size_t off)
{
    put_ctx_t *c = ctx;
    double v;
    memcpy(&v, (const char *)c->m + off, sizeof(v));
    jp_bytes_put_f64(c->w, v);
}

typedef struct {
    jp_flows_t *m;
    jp_bytes_reader_t *r;
} get_ctx_t;

static void get_double(void *ctx, size_t off)
{
    get_ctx_t *c = ctx;
    double v = jp_bytes_get_f64(c->r);
    memcpy((char *)c->m + off, &v, sizeof(v));
}

void jp_flows_serialize(const jp_flows_t *m, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, FLOWS_TAG, FLOWS_VERSION);
    put_config(w, &m->cfg);
    jp_bytes_put_u8(w, (uint8_t)m->have_block);
    jp_bytes_put_i64(w, m->block);
    jp_bytes_put_u64(w, m->windows);
    put_ctx_t pc = {m, w};
    each_double(m, put_double, &pc);
    for (int f = 0; f < JP_FLOW__COUNT; f++)
        jp_ridge_serialize(m->flow[f].ridge, w);
}

jp_flows_t *jp_flows_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    if (jp_bytes_get_header(r, FLOWS_TAG, FLOWS_VERSION) == 0) {
        jp_err_set(errstr, errstr_size, "flows: bad header or unsupported version");
        return NULL;
    }
    jp_flows_config_t c;
    get_config(r, &c);
    if (!jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "flows: truncated configuration");
        return NULL;
    }
    jp_flows_t *m = flows_alloc(&c, 0, errstr, errstr_size);
    if (!m)
        return NULL;
    m->have_block = jp_bytes_get_u8(r);
    m->block = jp_bytes_get_i64(r);
    m->windows = jp_bytes_get_u64(r);
    get_ctx_t gc = {m, r};
    each_double(m, get_double, &gc);
    for (int f = 0; f < JP_FLOW__COUNT && jp_bytes_reader_ok(r); f++) {
        m->flow[f].ridge = jp_ridge_deserialize(r, errstr, errstr_size);
        if (!m->flow[f].ridge) {
            jp_flows_free(m);
            return NULL;
        }
        if (jp_ridge_n_features(m->flow[f].ridge) != m->p) {
            jp_err_set(errstr, errstr_size, "flows: %s ridge has %zu features, expected %zu",
                       flow_names[f], jp_ridge_n_features(m->flow[f].ridge), m->p);
            jp_flows_free(m);
            return NULL;
        }
    }
    if (!jp_bytes_reader_ok(r) || m->have_block > 1) {
        jp_err_set(errstr, errstr_size, "flows: truncated or invalid state");
        jp_flows_free(m);
        return NULL;
    }
    return m;
}
