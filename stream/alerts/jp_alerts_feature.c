/*
 * jp_alerts_feature: the statistics of jp_alerts_feature.h on closed days.
 *
 * Why ranks for sign-ups: PSI on reference-quantile bins and KS are rank
 * statistics, which is what makes their null distributions those of a
 * random split of the pooled ranks (what jp_drift_null_threshold
 * simulates) - but only for distinct values. Daily counts repeat, and a
 * tie straddling a quantile edge moves whole groups of days between bins.
 * Ordering equal counts by a seeded key of the day (independent of which
 * window the day is in) is a random tie-break: under no drift every
 * ordering of the pooled days is equally likely again, so the simulated
 * thresholds stay exact.
 *
 * Why pooled histograms for the rest: tickets per purchase, renewal
 * outcomes and channels are properties of individual events, which are
 * independent draws; pooling the events of the windows gives the
 * multinomial counts the categorical bootstrap assumes, with far more
 * power than one summary value per day.
 */
#include "alerts/jp_alerts_feature.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"
#include "model/base/jp_hash.h"
#include "model/learn/jp_drift.h"

static const char *const names[JP_FEAT__COUNT] = {
    "signups", "tickets_per_signup", "tickets_per_extra", "payment_failures", "channel_mix"};

const char *jp_feat_name(jp_feat_t f)
{
    return (unsigned)f < JP_FEAT__COUNT ? names[f] : "?";
}

int jp_feat_by_name(const char *name)
{
    for (int i = 0; i < JP_FEAT__COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* ---- days ---- */

void jp_feat_day_init(jp_feat_day_t *d, int64_t day)
{
    memset(d, 0, sizeof(*d));
    d->day = day;
}

static size_t ticket_bucket(int32_t tickets)
{
    if (tickets <= 0)
        return 0;
    return tickets >= JP_FEAT_TICKETS - 1 ? JP_FEAT_TICKETS - 1 : (size_t)tickets;
}

int jp_feat_day_complete(const jp_feat_day_t *d)
{
    return d->closed && d->sales > 0 && d->customer_events > 0;
}

void jp_feat_day_add_sale(jp_feat_day_t *d, const jp_sale_event_t *s)
{
    d->sales++;
    int64_t prize = s->advertised_prize_minor;
    if (d->prize_max == 0 && d->prize_min == 0)
        d->prize_min = d->prize_max = prize;
    else if (prize < d->prize_min)
        d->prize_min = prize;
    else if (prize > d->prize_max)
        d->prize_max = prize;
    if (s->has_campaign && s->campaign.len > 0)
        d->campaign = 1;
    int renewal = s->has_purchase ? s->purchase == JP_SALE_PURCHASE_RENEWAL
                                  : s->channel == JP_SALE_CHANNEL_DIRECT_DEBIT;
    if (renewal) {
        d->renewals++;
        return;
    }
    if (!s->has_purchase)
        return;
    if (s->purchase == JP_SALE_PURCHASE_NEW_SUBSCRIPTION) {
        d->signup_tickets[ticket_bucket(s->tickets)]++;
        if ((unsigned)s->channel < JP_FEAT_CHANNELS)
            d->channels[s->channel]++;
    } else if (s->purchase == JP_SALE_PURCHASE_EXTRA) {
        d->extra_tickets[ticket_bucket(s->tickets)]++;
    }
}

void jp_feat_day_add_customer(jp_feat_day_t *d, const jp_customer_event_t *c)
{
    d->customer_events++;
    if (c->type == JP_CUSTOMER_EVENT_PAYMENT_FAILED)
        d->failures++;
}

static void put_counts(jp_bytes_writer_t *w, const uint32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jp_bytes_put_varint(w, v[i]);
}

static void get_counts(jp_bytes_reader_t *r, uint32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (uint32_t)jp_bytes_get_varint(r);
}

void jp_feat_day_serialize(const jp_feat_day_t *d, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "FDAY", 1);
    jp_bytes_put_i64(w, d->day);
    jp_bytes_put_u8(w, (uint8_t)(d->closed | d->campaign << 1));
    jp_bytes_put_varint(w, d->prize_min);
    jp_bytes_put_varint(w, d->prize_max);
    jp_bytes_put_f64(w, d->signups);
    put_counts(w, d->signup_tickets, JP_FEAT_TICKETS);
    put_counts(w, d->extra_tickets, JP_FEAT_TICKETS);
    jp_bytes_put_varint(w, d->renewals);
    jp_bytes_put_varint(w, d->failures);
    put_counts(w, d->channels, JP_FEAT_CHANNELS);
    jp_bytes_put_varint(w, d->sales);
    jp_bytes_put_varint(w, d->customer_events);
}

int jp_feat_day_deserialize(jp_feat_day_t *d, const void *buf, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    memset(d, 0, sizeof(*d));
    jp_bytes_get_header(&r, "FDAY", 1);
    d->day = jp_bytes_get_i64(&r);
    uint8_t flags = jp_bytes_get_u8(&r);
    d->closed = flags & 1;
    d->campaign = (flags >> 1) & 1;
    d->prize_min = jp_bytes_get_varint(&r);
    d->prize_max = jp_bytes_get_varint(&r);
    d->signups = jp_bytes_get_f64(&r);
    get_counts(&r, d->signup_tickets, JP_FEAT_TICKETS);
    get_counts(&r, d->extra_tickets, JP_FEAT_TICKETS);
    d->renewals = (uint32_t)jp_bytes_get_varint(&r);
    d->failures = (uint32_t)jp_bytes_get_varint(&r);
    get_counts(&r, d->channels, JP_FEAT_CHANNELS);
    d->sales = (uint32_t)jp_bytes_get_varint(&r);
    d->customer_events = (uint32_t)jp_bytes_get_varint(&r);
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

void jp_feat_state_serialize(const jp_feat_state_t *s, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "FSTA", 1);
    jp_bytes_put_i64(w, s->last_drift);
    jp_bytes_put_i64(w, s->rebase);
    jp_bytes_put_u32(w, s->quiet);
    jp_bytes_put_f64(w, s->cat_threshold);
    jp_bytes_put_f64(w, s->cat_nref);
    jp_bytes_put_f64(w, s->cat_ncur);
    jp_bytes_put_u64(w, s->cat_support);
    jp_bytes_put_u32(w, s->cat_age);
}

int jp_feat_state_deserialize(jp_feat_state_t *s, const void *buf, size_t len)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    memset(s, 0, sizeof(*s));
    jp_bytes_get_header(&r, "FSTA", 1);
    s->last_drift = jp_bytes_get_i64(&r);
    s->rebase = jp_bytes_get_i64(&r);
    s->quiet = jp_bytes_get_u32(&r);
    s->cat_threshold = jp_bytes_get_f64(&r);
    s->cat_nref = jp_bytes_get_f64(&r);
    s->cat_ncur = jp_bytes_get_f64(&r);
    s->cat_support = jp_bytes_get_u64(&r);
    s->cat_age = jp_bytes_get_u32(&r);
    return jp_bytes_reader_done(&r) ? 0 : -1;
}

/* ---- the numeric threshold cache ---- */

typedef struct {
    int stat;
    size_t nref, ncur, nbins;
    double eps, alpha, threshold;
} cached_t;

struct jp_feat_cache_s {
    cached_t *v;
    size_t n, cap;
};

jp_feat_cache_t *jp_feat_cache_new(void)
{
    return calloc(1, sizeof(jp_feat_cache_t));
}

void jp_feat_cache_free(jp_feat_cache_t *c)
{
    if (c)
        free(c->v);
    free(c);
}

/* Monte Carlo replications for a tail probability alpha: about a dozen
 * simulated values beyond the quantile. */
static uint32_t reps_for(double alpha)
{
    double r = ceil(12.0 / alpha);
    return r > 4e7 ? 40000000u : (uint32_t)r;
}

static int numeric_threshold(jp_feat_cache_t *c, jp_drift_stat_t stat, size_t nref, size_t ncur,
                             size_t nbins, double eps, double alpha, double *thr, char *errstr,
                             size_t errstr_size)
{
    for (size_t i = 0; i < c->n; i++) {
        const cached_t *e = &c->v[i];
        if (e->stat == (int)stat && e->nref == nref && e->ncur == ncur && e->nbins == nbins &&
            e->eps == eps && e->alpha == alpha) {
            *thr = e->threshold;
            return 0;
        }
    }
    /* The seed depends on the sizes only: every task and every run gets
     * the same threshold for the same question. */
    uint64_t seed = jp_hash_mix64((uint64_t)stat << 48 ^ (uint64_t)nref << 24 ^ ncur);
    if (jp_drift_null_threshold(stat, nref, ncur, nbins, eps, alpha, reps_for(alpha), seed, thr,
                                errstr, errstr_size) != 0)
        return -1;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        cached_t *v = realloc(c->v, cap * sizeof(*v));
        if (!v) {
            jp_err_set(errstr, errstr_size, "out of memory");
            return -1;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (cached_t){(int)stat, nref, ncur, nbins, eps, alpha, *thr};
    return 0;
}

/* ---- evaluation ---- */

int jp_feat_comparable(jp_feat_t f, const jp_feat_day_t *const *ref, size_t nref,
                       const jp_feat_day_t *const *cur, size_t ncur)
{
    if (f != JP_FEAT_SIGNUPS)
        return 1;
    int64_t prize = -1;
    for (size_t w = 0; w < 2; w++) {
        const jp_feat_day_t *const *days = w ? cur : ref;
        size_t n = w ? ncur : nref;
        for (size_t i = 0; i < n; i++) {
            const jp_feat_day_t *d = days[i];
            if (d->campaign || d->prize_min != d->prize_max ||
                (prize >= 0 && d->prize_min != prize))
                return 0;
            prize = d->prize_min;
        }
    }
    return 1;
}

typedef struct {
    double value;
    uint64_t key; /* tie-break */
    int cur;
} ranked_t;

static int ranked_cmp(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int evaluate_signups(const jp_feat_day_t *const *ref, size_t nref,
                            const jp_feat_day_t *const *cur, size_t ncur, const jp_feat_params_t *p,
                            jp_feat_cache_t *cache, jp_feat_result_t *out, char *errstr,
                            size_t errstr_size)
{
    size_t n = nref + ncur;
    ranked_t *all = malloc(n * sizeof(*all));
    double *r = malloc(n * sizeof(*r));
    if (!all || !r) {
        free(all);
        free(r);
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const jp_feat_day_t *d = i < nref ? ref[i] : cur[i - nref];
        all[i] = (ranked_t){d->signups, jp_hash_mix64(p->seed ^ (uint64_t)d->day), i >= nref};
    }
    qsort(all, n, sizeof(*all), ranked_cmp);
    size_t a = 0, b = nref;
    for (size_t i = 0; i < n; i++)
        r[all[i].cur ? b++ : a++] = (double)i;
    size_t nbins;
    double eps, psi = 0, ks = 0, pv;
    jp_drift_psi_small_sample(ncur, &nbins, &eps);
    int rc = jp_drift_psi(r, nref, r + nref, ncur, nbins, eps, &psi, errstr, errstr_size);
    if (rc == 0)
        rc = jp_drift_ks_2samp(r, nref, r + nref, ncur, &ks, &pv, errstr, errstr_size);
    if (rc == 0)
        rc = numeric_threshold(cache, JP_DRIFT_STAT_PSI, nref, ncur, nbins, eps, p->alpha,
                               &out->threshold[0], errstr, errstr_size);
    if (rc == 0)
        rc = numeric_threshold(cache, JP_DRIFT_STAT_KS, nref, ncur, nbins, eps, p->alpha,
                               &out->threshold[1], errstr, errstr_size);
    free(all);
    free(r);
    if (rc != 0)
        return -1;
    double mref = 0, mcur = 0;
    for (size_t i = 0; i < nref; i++)
        mref += ref[i]->signups / (double)nref;
    for (size_t i = 0; i < ncur; i++)
        mcur += cur[i]->signups / (double)ncur;
    out->n_stats = 2;
    out->stat[0] = psi;
    out->stat[1] = ks;
    out->judged = 1;
    out->drift = psi > out->threshold[0] || ks > out->threshold[1];
    out->worst = ks / out->threshold[1] > psi / out->threshold[0];
    snprintf(out->description, sizeof(out->description),
             "sign-ups per day %.1f vs %.1f in the reference: PSI %.3f (threshold %.3f, %zu "
             "bins), KS %.3f (threshold %.3f); %zu days vs %zu",
             mcur, mref, psi, out->threshold[0], nbins, ks, out->threshold[1], ncur, nref);
    return 0;
}

/* The pooled counts of a categorical feature over some days. */
static size_t pooled(jp_feat_t f, const jp_feat_day_t *const *days, size_t n, double *out)
{
    size_t k = f == JP_FEAT_PAYMENT_FAILURES ? 2
               : f == JP_FEAT_CHANNEL_MIX    ? JP_FEAT_CHANNELS
                                             : JP_FEAT_TICKETS;
    for (size_t c = 0; c < k; c++)
        out[c] = 0;
    for (size_t i = 0; i < n; i++) {
        const jp_feat_day_t *d = days[i];
        for (size_t c = 0; c < k; c++)
            out[c] += f == JP_FEAT_TICKETS_PER_SIGNUP  ? d->signup_tickets[c]
                      : f == JP_FEAT_TICKETS_PER_EXTRA ? d->extra_tickets[c]
                      : f == JP_FEAT_CHANNEL_MIX       ? d->channels[c]
                      : c == 0                         ? d->renewals
                                                       : d->failures;
    }
    return k;
}

/* Evaluations a categorical threshold is rescaled for before it is
 * computed afresh from the reference (half a year of daily evaluations:
 * the reference's shares move slowly, and the statistic coming near the
 * threshold or a category appearing or vanishing forces it anyway). */
#define CAT_MAX_AGE 182

static const char *const category_what[JP_FEAT__COUNT] = {
    "", "tickets per new subscription", "tickets per extra purchase", "renewal outcomes",
    "new-subscription channels"};

static int evaluate_categorical(jp_feat_t f, const jp_feat_day_t *const *ref, size_t nref_days,
                                const jp_feat_day_t *const *cur, size_t ncur_days,
                                const jp_feat_params_t *p, jp_feat_state_t *st,
                                jp_feat_result_t *out, char *errstr, size_t errstr_size)
{
    double rc_all[JP_FEAT_TICKETS], cc_all[JP_FEAT_TICKETS], rk[JP_FEAT_TICKETS],
        ck[JP_FEAT_TICKETS];
    size_t k_all = pooled(f, ref, nref_days, rc_all);
    pooled(f, cur, ncur_days, cc_all);
    double nref = 0, ncur = 0, unseen = 0;
    size_t k = 0;
    uint64_t support = 0;
    for (size_t c = 0; c < k_all; c++) {
        nref += rc_all[c];
        ncur += cc_all[c];
        if (rc_all[c] > 0) {
            rk[k] = rc_all[c];
            ck[k++] = cc_all[c];
            support |= 1ull << c;
        } else {
            unseen += cc_all[c];
        }
    }
    out->nref = nref;
    out->ncur = ncur;
    if (ncur < p->min_count || nref < p->min_count || k < 2) {
        out->judged = 0;
        return 0;
    }
    double eps = 0.5 / ncur;
    double psi = jp_drift_psi_categorical(rk, ck, k, unseen, eps);
    double thr = 0;
    int exact = 0;
    if (st->cat_threshold > 0 && st->cat_support == support && st->cat_age < CAT_MAX_AGE) {
        thr = st->cat_threshold * (1.0 / nref + 1.0 / ncur) /
              (1.0 / st->cat_nref + 1.0 / st->cat_ncur);
        st->cat_age++;
    }
    if (!(thr > 0) || psi >= 0.5 * thr) {
        if (jp_drift_psi_categorical_threshold(rk, k, ncur, eps, p->alpha, reps_for(p->alpha),
                                               p->seed, &thr, errstr, errstr_size) != 0)
            return -1;
        st->cat_threshold = thr;
        st->cat_nref = nref;
        st->cat_ncur = ncur;
        st->cat_support = support;
        st->cat_age = 0;
        exact = 1;
    }
    out->n_stats = 1;
    out->stat[0] = psi;
    out->threshold[0] = thr;
    out->judged = 1;
    out->drift = psi > thr;
    snprintf(out->description, sizeof(out->description),
             "categorical PSI of %s %.4f (threshold %s%.4f, %zu categories%s); %.0f events vs "
             "%.0f in the reference",
             category_what[f], psi, exact ? "" : "~", thr, k, unseen > 0 ? " and unseen ones" : "",
             ncur, nref);
    return 0;
}

int jp_feat_evaluate(jp_feat_t f, const jp_feat_day_t *const *ref, size_t nref,
                     const jp_feat_day_t *const *cur, size_t ncur, const jp_feat_params_t *p,
                     jp_feat_cache_t *cache, jp_feat_state_t *st, jp_feat_result_t *out,
                     char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    if ((unsigned)f >= JP_FEAT__COUNT || !(p->alpha > 0 && p->alpha < 1)) {
        jp_err_set(errstr, errstr_size, "feature drift: invalid feature %d or alpha %g", (int)f,
                   p->alpha);
        return -1;
    }
    if (ncur < 2 || nref < 7 || !jp_feat_comparable(f, ref, nref, cur, ncur))
        return 0;
    if (f == JP_FEAT_SIGNUPS) {
        out->nref = (double)nref;
        out->ncur = (double)ncur;
        return evaluate_signups(ref, nref, cur, ncur, p, cache, out, errstr, errstr_size);
    }
    return evaluate_categorical(f, ref, nref, cur, ncur, p, st, out, errstr, errstr_size);
}
