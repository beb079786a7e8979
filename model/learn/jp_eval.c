/*
 * jp_eval: streaming metrics and prequential evaluation.
 *
 * Design: every metric family has one accumulator (reg_acc_t, cls_acc_t)
 * with an add and a finish. The cumulative metrics keep one accumulator
 * alive; the rolling metrics keep only a ring of the last N raw samples and
 * replay it into a fresh accumulator when asked. Replaying costs O(N) per
 * query but queries are rare (per window close, per scrape) and nothing is
 * ever subtracted, so rolling figures carry no drift from add/remove
 * rounding.
 *
 * AUC is computed by one routine over "groups" of equal scores: sum over
 * groups of pos_g * (negatives in lower groups + neg_g / 2), divided by
 * P * N - the Mann-Whitney U with mid-ranks. The rolling window forms the
 * groups exactly by sorting its scores; the cumulative metric forms them
 * from a fixed histogram of score bins (bounded memory for an unbounded
 * stream).
 *
 * The prequential pending buffer is an open-addressing hash table keyed by
 * the caller's id (linear probing, backward-shift deletion, so no
 * tombstones), sized to a power of two >= 2 * capacity. Each slot carries a
 * sequence number; eviction of the oldest and expiry scan the table, which
 * is O(capacity) but only happens on overflow or on an explicit expire.
 */
#include "model/learn/jp_eval.h"

#include "model/base/jp_err.h"

#include "model/base/jp_hash.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_MAX_WINDOW   (1u << 26)
#define EVAL_MAX_BINS     (1u << 24)
#define PREQ_MAX_CAPACITY (1u << 26)
#define PREQ_MAX_FEATURES (1u << 16)

/* ------------------------------------------------------------- regression */

typedef struct {
    uint64_t n, mape_n, mape_skipped;
    double sum_abs, sum_sq, mape_sum, smape_sum;
    double ymean, ym2; /* Welford over y for SST */
    uint64_t int_n, int_covered;
    double int_width;
} reg_acc_t;

/* lo and hi are NaN for a sample without an interval. */
static void reg_acc_add(reg_acc_t *a, double y, double f, double lo, double hi)
{
    if (!isnan(lo)) {
        a->int_n++;
        a->int_covered += (uint64_t)(lo <= y && y <= hi);
        a->int_width += hi - lo;
    }
    double e = fabs(y - f);
    a->n++;
    a->sum_abs += e;
    a->sum_sq += e * e;
    if (y != 0.0) {
        a->mape_sum += e / fabs(y);
        a->mape_n++;
    } else {
        a->mape_skipped++;
    }
    double den = fabs(y) + fabs(f);
    a->smape_sum += den > 0.0 ? 2.0 * e / den : 0.0;
    double d = y - a->ymean;
    a->ymean += d / (double)a->n;
    a->ym2 += d * (y - a->ymean);
}

static void reg_acc_finish(const reg_acc_t *a, jp_eval_reg_result_t *o)
{
    memset(o, 0, sizeof(*o));
    o->n = a->n;
    o->mape_n = a->mape_n;
    o->mape_skipped = a->mape_skipped;
    double n = (double)a->n;
    o->mae = a->n ? a->sum_abs / n : NAN;
    o->rmse = a->n ? sqrt(a->sum_sq / n) : NAN;
    o->mape = a->mape_n ? a->mape_sum / (double)a->mape_n : NAN;
    o->smape = a->n ? a->smape_sum / n : NAN;
    o->r2 = a->n && a->ym2 > 0.0 ? 1.0 - a->sum_sq / a->ym2 : NAN;
    o->interval_n = a->int_n;
    o->coverage = a->int_n ? (double)a->int_covered / (double)a->int_n : NAN;
    o->mean_width = a->int_n ? a->int_width / (double)a->int_n : NAN;
}

/* A ring of the last `cap` samples of `width` doubles each. */
typedef struct {
    double *v;
    size_t cap, width, len, head; /* head: next write position */
} ring_t;

static int ring_init(ring_t *r, size_t cap, size_t width)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap;
    r->width = width;
    if (cap == 0)
        return 0;
    r->v = malloc(cap * width * sizeof(double));
    return r->v ? 0 : -1;
}

static void ring_free(ring_t *r)
{
    free(r->v);
}

static void ring_push(ring_t *r, const double *sample)
{
    if (r->cap == 0)
        return;
    memcpy(r->v + r->head * r->width, sample, r->width * sizeof(double));
    r->head = (r->head + 1) % r->cap;
    if (r->len < r->cap)
        r->len++;
}

/* The k-th oldest sample, k < len. */
static const double *ring_at(const ring_t *r, size_t k)
{
    return r->v + ((r->head + r->cap - r->len + k) % r->cap) * r->width;
}

struct jp_eval_reg_s {
    reg_acc_t all;
    ring_t ring; /* y, f, lo, hi */
};

jp_eval_reg_t *jp_eval_reg_create(size_t window, char *errstr, size_t errstr_size)
{
    if (window > EVAL_MAX_WINDOW) {
        jp_err_set(errstr, errstr_size, "eval: window must be <= %u", EVAL_MAX_WINDOW);
        return NULL;
    }
    jp_eval_reg_t *e = calloc(1, sizeof(*e));
    if (!e || ring_init(&e->ring, window, 4) != 0) {
        jp_eval_reg_free(e);
        jp_err_set(errstr, errstr_size, "eval: out of memory");
        return NULL;
    }
    return e;
}

void jp_eval_reg_free(jp_eval_reg_t *e)
{
    if (!e)
        return;
    ring_free(&e->ring);
    free(e);
}

static void reg_add(jp_eval_reg_t *e, double y, double f, double lo, double hi)
{
    double sample[4] = {y, f, lo, hi};
    reg_acc_add(&e->all, y, f, lo, hi);
    ring_push(&e->ring, sample);
}

int jp_eval_reg_add(jp_eval_reg_t *e, double y, double f)
{
    if (!isfinite(y) || !isfinite(f))
        return -1;
    reg_add(e, y, f, NAN, NAN);
    return 0;
}

int jp_eval_reg_add_interval(jp_eval_reg_t *e, double y, double f, double lo, double hi)
{
    if (!isfinite(y) || !isfinite(f) || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return -1;
    reg_add(e, y, f, lo, hi);
    return 0;
}

void jp_eval_reg_cumulative(const jp_eval_reg_t *e, jp_eval_reg_result_t *out)
{
    reg_acc_finish(&e->all, out);
}

void jp_eval_reg_rolling(const jp_eval_reg_t *e, jp_eval_reg_result_t *out)
{
    reg_acc_t a;
    memset(&a, 0, sizeof(a));
    for (size_t k = 0; k < e->ring.len; k++) {
        const double *v = ring_at(&e->ring, k);
        reg_acc_add(&a, v[0], v[1], v[2], v[3]);
    }
    reg_acc_finish(&a, out);
}

/* --------------------------------------------------------- classification */

typedef struct {
    uint64_t n, tp, fp, tn, fn;
    double ll_sum, brier_sum;
    size_t nb;    /* calibration bins */
    uint64_t *bc; /* per bin: count */
    double *bp;   /* sum of p */
    double *by;   /* sum of y */
} cls_acc_t;

static int cls_acc_init(cls_acc_t *a, size_t nb)
{
    memset(a, 0, sizeof(*a));
    a->nb = nb;
    a->bc = calloc(nb, sizeof(uint64_t));
    a->bp = calloc(nb, sizeof(double));
    a->by = calloc(nb, sizeof(double));
    return a->bc && a->bp && a->by ? 0 : -1;
}

static void cls_acc_free(cls_acc_t *a)
{
    free(a->bc);
    free(a->bp);
    free(a->by);
}

static size_t score_bin(double p, size_t nb)
{
    size_t b = (size_t)(p * (double)nb);
    return b < nb ? b : nb - 1;
}

static void cls_acc_add(cls_acc_t *a, int y, double p, double threshold)
{
    int lab = p >= threshold;
    a->n++;
    a->tp += (uint64_t)(lab && y);
    a->fp += (uint64_t)(lab && !y);
    a->tn += (uint64_t)(!lab && !y);
    a->fn += (uint64_t)(!lab && y);
    double pc = p < JP_EVAL_LOGLOSS_EPS         ? JP_EVAL_LOGLOSS_EPS
                : p > 1.0 - JP_EVAL_LOGLOSS_EPS ? 1.0 - JP_EVAL_LOGLOSS_EPS
                                                : p;
    a->ll_sum -= y ? log(pc) : log1p(-pc);
    a->brier_sum += (p - y) * (p - y);
    size_t b = score_bin(p, a->nb);
    a->bc[b]++;
    a->bp[b] += p;
    a->by[b] += y;
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

static void cls_acc_finish(const cls_acc_t *a, double auc, jp_eval_cls_result_t *o)
{
    memset(o, 0, sizeof(*o));
    o->n = a->n;
    o->tp = a->tp;
    o->fp = a->fp;
    o->tn = a->tn;
    o->fn = a->fn;
    o->accuracy = a->n ? ratio(a->tp + a->tn, a->n) : NAN;
    o->precision = ratio(a->tp, a->tp + a->fp);
    o->recall = ratio(a->tp, a->tp + a->fn);
    double pr = o->precision + o->recall;
    o->f1 = pr > 0.0 ? 2.0 * o->precision * o->recall / pr : 0.0;
    o->auc = auc;
    o->log_loss = a->n ? a->ll_sum / (double)a->n : NAN;
    o->brier = a->n ? a->brier_sum / (double)a->n : NAN;
    double ece = 0.0;
    for (size_t b = 0; b < a->nb; b++)
        if (a->bc[b])
            ece += fabs(a->bp[b] - a->by[b]) / (double)a->n; /* n_b/n |mean p - rate| */
    o->ece = a->n ? ece : NAN;
}

static void cls_acc_calibration(const cls_acc_t *a, uint64_t *count, double *mean_pred,
                                double *observed)
{
    for (size_t b = 0; b < a->nb; b++) {
        if (count)
            count[b] = a->bc[b];
        if (mean_pred)
            mean_pred[b] = a->bc[b] ? a->bp[b] / (double)a->bc[b] : 0.0;
        if (observed)
            observed[b] = a->bc[b] ? a->by[b] / (double)a->bc[b] : 0.0;
    }
}

/* Mann-Whitney AUC over groups of tied scores in increasing score order;
 * the caller feeds (positives, negatives) per group. */
typedef struct {
    double neg_below, u, pos, neg;
} auc_acc_t;

static void auc_group(auc_acc_t *a, double pos_g, double neg_g)
{
    a->u += pos_g * (a->neg_below + 0.5 * neg_g);
    a->neg_below += neg_g;
    a->pos += pos_g;
    a->neg += neg_g;
}

static double auc_finish(const auc_acc_t *a)
{
    return a->pos > 0.0 && a->neg > 0.0 ? a->u / (a->pos * a->neg) : NAN;
}

struct jp_eval_cls_s {
    jp_eval_cls_config_t cfg;
    cls_acc_t all;
    uint64_t *hist_pos, *hist_neg; /* auc_bins each */
    ring_t ring;                   /* p, y */
};

jp_eval_cls_t *jp_eval_cls_create(const jp_eval_cls_config_t *cfg, char *errstr, size_t errstr_size)
{
    if (cfg->window > EVAL_MAX_WINDOW || cfg->n_calib_bins == 0 ||
        cfg->n_calib_bins > EVAL_MAX_BINS || cfg->auc_bins < 2 || cfg->auc_bins > EVAL_MAX_BINS ||
        !(cfg->threshold >= 0.0 && cfg->threshold <= 1.0)) {
        jp_err_set(errstr, errstr_size,
                   "eval: need window <= %u, 1 <= calib bins <= %u, 2 <= auc bins <= %u, "
                   "threshold in [0, 1]",
                   EVAL_MAX_WINDOW, EVAL_MAX_BINS, EVAL_MAX_BINS);
        return NULL;
    }
    jp_eval_cls_t *e = calloc(1, sizeof(*e));
    if (!e)
        goto oom;
    e->cfg = *cfg;
    e->hist_pos = calloc(cfg->auc_bins, sizeof(uint64_t));
    e->hist_neg = calloc(cfg->auc_bins, sizeof(uint64_t));
    if (cls_acc_init(&e->all, cfg->n_calib_bins) != 0 || ring_init(&e->ring, cfg->window, 2) != 0 ||
        !e->hist_pos || !e->hist_neg) {
        jp_eval_cls_free(e);
        goto oom;
    }
    return e;
oom:
    jp_err_set(errstr, errstr_size, "eval: out of memory");
    return NULL;
}

void jp_eval_cls_free(jp_eval_cls_t *e)
{
    if (!e)
        return;
    cls_acc_free(&e->all);
    ring_free(&e->ring);
    free(e->hist_pos);
    free(e->hist_neg);
    free(e);
}

int jp_eval_cls_add(jp_eval_cls_t *e, int y, double p)
{
    if ((y != 0 && y != 1) || !(p >= 0.0 && p <= 1.0))
        return -1;
    cls_acc_add(&e->all, y, p, e->cfg.threshold);
    size_t b = score_bin(p, e->cfg.auc_bins);
    (y ? e->hist_pos : e->hist_neg)[b]++;
    double sample[2] = {p, (double)y};
    ring_push(&e->ring, sample);
    return 0;
}

void jp_eval_cls_cumulative(const jp_eval_cls_t *e, jp_eval_cls_result_t *out)
{
    auc_acc_t auc = {0, 0, 0, 0};
    for (size_t b = 0; b < e->cfg.auc_bins; b++)
        if (e->hist_pos[b] || e->hist_neg[b])
            auc_group(&auc, (double)e->hist_pos[b], (double)e->hist_neg[b]);
    cls_acc_finish(&e->all, auc_finish(&auc), out);
}

typedef struct {
    double p;
    int y;
} scored_t;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored_t *)a)->p, y = ((const scored_t *)b)->p;
    return (x > y) - (x < y);
}

/* Replays the window into acc (initialized here) and returns its exact
 * AUC through *auc (may be NULL). */
static int cls_replay_window(const jp_eval_cls_t *e, cls_acc_t *acc, double *auc)
{
    if (cls_acc_init(acc, e->cfg.n_calib_bins) != 0)
        return -1;
    size_t n = e->ring.len;
    scored_t *s = auc && n ? malloc(n * sizeof(*s)) : NULL;
    if (auc && n && !s)
        return -1;
    for (size_t k = 0; k < n; k++) {
        const double *v = ring_at(&e->ring, k);
        int y = v[1] != 0.0;
        cls_acc_add(acc, y, v[0], e->cfg.threshold);
        if (s)
            s[k] = (scored_t){v[0], y};
    }
    if (auc) {
        auc_acc_t a = {0, 0, 0, 0};
        if (n)
            qsort(s, n, sizeof(*s), cmp_scored);
        for (size_t i = 0; i < n;) {
            double pos = 0, neg = 0;
            size_t j = i;
            for (; j < n && s[j].p == s[i].p; j++)
                *(s[j].y ? &pos : &neg) += 1.0;
            auc_group(&a, pos, neg);
            i = j;
        }
        *auc = auc_finish(&a);
    }
    free(s);
    return 0;
}

int jp_eval_cls_rolling(const jp_eval_cls_t *e, jp_eval_cls_result_t *out)
{
    cls_acc_t acc;
    double auc;
    int rc = cls_replay_window(e, &acc, &auc);
    if (rc == 0)
        cls_acc_finish(&acc, auc, out);
    cls_acc_free(&acc);
    return rc;
}

int jp_eval_cls_calibration(const jp_eval_cls_t *e, int rolling, size_t n_bins, uint64_t *count,
                            double *mean_pred, double *observed)
{
    if (n_bins != e->cfg.n_calib_bins)
        return -1;
    if (!rolling) {
        cls_acc_calibration(&e->all, count, mean_pred, observed);
        return 0;
    }
    cls_acc_t acc;
    int rc = cls_replay_window(e, &acc, NULL);
    if (rc == 0)
        cls_acc_calibration(&acc, count, mean_pred, observed);
    cls_acc_free(&acc);
    return rc;
}

/* ---------------------------------------------------------- serialization */

#define EVAL_REG_TAG "EVRG"
#define EVAL_CLS_TAG "EVCL"
#define EVAL_VERSION 1

static void ring_put(const ring_t *r, jp_bytes_writer_t *w)
{
    jp_bytes_put_u64(w, r->len);
    for (size_t k = 0; k < r->len; k++)
        for (size_t j = 0; j < r->width; j++)
            jp_bytes_put_f64(w, ring_at(r, k)[j]);
}

/* Reads what ring_put wrote into an initialized ring of the same shape. */
static void ring_get(ring_t *r, jp_bytes_reader_t *rd)
{
    uint64_t len = jp_bytes_get_u64(rd);
    if (len > r->cap) {
        rd->err = 1;
        return;
    }
    double sample[4];
    for (uint64_t k = 0; k < len && jp_bytes_reader_ok(rd); k++) {
        for (size_t j = 0; j < r->width; j++)
            sample[j] = jp_bytes_get_f64(rd);
        ring_push(r, sample);
    }
}

/* Counters that are mostly zero: how many are not, then (index, value). */
static void put_sparse_u64(jp_bytes_writer_t *w, const uint64_t *v, size_t n)
{
    uint32_t nz = 0;
    for (size_t i = 0; i < n; i++)
        nz += v[i] != 0;
    jp_bytes_put_u32(w, nz);
    for (size_t i = 0; i < n; i++)
        if (v[i]) {
            jp_bytes_put_u32(w, (uint32_t)i);
            jp_bytes_put_varint(w, (int64_t)v[i]);
        }
}

static void get_sparse_u64(jp_bytes_reader_t *r, uint64_t *v, size_t n)
{
    uint32_t nz = jp_bytes_get_u32(r);
    for (uint32_t k = 0; k < nz && jp_bytes_reader_ok(r); k++) {
        uint32_t i = jp_bytes_get_u32(r);
        int64_t x = jp_bytes_get_varint(r);
        if (i >= n || x <= 0) {
            r->err = 1;
            return;
        }
        v[i] = (uint64_t)x;
    }
}

void jp_eval_reg_serialize(const jp_eval_reg_t *e, jp_bytes_writer_t *w)
{
    const reg_acc_t *a = &e->all;
    jp_bytes_put_header(w, EVAL_REG_TAG, EVAL_VERSION);
    jp_bytes_put_u64(w, e->ring.cap);
    const uint64_t u[] = {a->n, a->mape_n, a->mape_skipped, a->int_n, a->int_covered};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        jp_bytes_put_u64(w, u[i]);
    const double d[] = {a->sum_abs, a->sum_sq, a->mape_sum, a->smape_sum,
                        a->ymean,   a->ym2,    a->int_width};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        jp_bytes_put_f64(w, d[i]);
    ring_put(&e->ring, w);
}

jp_eval_reg_t *jp_eval_reg_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    jp_bytes_get_header(r, EVAL_REG_TAG, EVAL_VERSION);
    uint64_t window = jp_bytes_get_u64(r);
    if (!jp_bytes_reader_ok(r) || window > EVAL_MAX_WINDOW) {
        jp_err_set(errstr, errstr_size, "eval: corrupt regression evaluator");
        return NULL;
    }
    jp_eval_reg_t *e = jp_eval_reg_create((size_t)window, errstr, errstr_size);
    if (!e)
        return NULL;
    reg_acc_t *a = &e->all;
    uint64_t *u[] = {&a->n, &a->mape_n, &a->mape_skipped, &a->int_n, &a->int_covered};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        *u[i] = jp_bytes_get_u64(r);
    double *d[] = {&a->sum_abs, &a->sum_sq, &a->mape_sum, &a->smape_sum,
                   &a->ymean,   &a->ym2,    &a->int_width};
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        *d[i] = jp_bytes_get_f64(r);
    ring_get(&e->ring, r);
    if (!jp_bytes_reader_ok(r)) {
        jp_eval_reg_free(e);
        jp_err_set(errstr, errstr_size, "eval: corrupt regression evaluator");
        return NULL;
    }
    return e;
}

void jp_eval_cls_serialize(const jp_eval_cls_t *e, jp_bytes_writer_t *w)
{
    const cls_acc_t *a = &e->all;
    jp_bytes_put_header(w, EVAL_CLS_TAG, EVAL_VERSION);
    jp_bytes_put_u64(w, e->cfg.window);
    jp_bytes_put_f64(w, e->cfg.threshold);
    jp_bytes_put_u64(w, e->cfg.n_calib_bins);
    jp_bytes_put_u64(w, e->cfg.auc_bins);
    const uint64_t u[] = {a->n, a->tp, a->fp, a->tn, a->fn};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        jp_bytes_put_u64(w, u[i]);
    jp_bytes_put_f64(w, a->ll_sum);
    jp_bytes_put_f64(w, a->brier_sum);
    for (size_t b = 0; b < a->nb; b++) {
        jp_bytes_put_u64(w, a->bc[b]);
        jp_bytes_put_f64(w, a->bp[b]);
        jp_bytes_put_f64(w, a->by[b]);
    }
    put_sparse_u64(w, e->hist_pos, e->cfg.auc_bins);
    put_sparse_u64(w, e->hist_neg, e->cfg.auc_bins);
    ring_put(&e->ring, w);
}

jp_eval_cls_t *jp_eval_cls_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    jp_eval_cls_config_t cfg;
    jp_bytes_get_header(r, EVAL_CLS_TAG, EVAL_VERSION);
    uint64_t window = jp_bytes_get_u64(r);
    cfg.threshold = jp_bytes_get_f64(r);
    uint64_t nb = jp_bytes_get_u64(r), ab = jp_bytes_get_u64(r);
    if (!jp_bytes_reader_ok(r) || window > EVAL_MAX_WINDOW || nb > EVAL_MAX_BINS ||
        ab > EVAL_MAX_BINS) {
        jp_err_set(errstr, errstr_size, "eval: corrupt classification evaluator");
        return NULL;
    }
    cfg.window = (size_t)window;
    cfg.n_calib_bins = (size_t)nb;
    cfg.auc_bins = (size_t)ab;
    jp_eval_cls_t *e = jp_eval_cls_create(&cfg, errstr, errstr_size);
    if (!e)
        return NULL;
    cls_acc_t *a = &e->all;
    uint64_t *u[] = {&a->n, &a->tp, &a->fp, &a->tn, &a->fn};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        *u[i] = jp_bytes_get_u64(r);
    a->ll_sum = jp_bytes_get_f64(r);
    a->brier_sum = jp_bytes_get_f64(r);
    for (size_t b = 0; b < a->nb; b++) {
        a->bc[b] = jp_bytes_get_u64(r);
        a->bp[b] = jp_bytes_get_f64(r);
        a->by[b] = jp_bytes_get_f64(r);
    }
    get_sparse_u64(r, e->hist_pos, cfg.auc_bins);
    get_sparse_u64(r, e->hist_neg, cfg.auc_bins);
    ring_get(&e->ring, r);
    if (!jp_bytes_reader_ok(r)) {
        jp_eval_cls_free(e);
        jp_err_set(errstr, errstr_size, "eval: corrupt classification evaluator");
        return NULL;
    }
    return e;
}

/* ------------------------------------------------------------ prequential */

typedef struct {
    uint64_t id, seq;
    int64_t t;
    double pred, lo, hi; /* lo, hi NaN without an interval */
    int used;
} pending_t;

struct jp_preq_s {
    jp_preq_config_t cfg;
    jp_preq_model_t model;
    jp_preq_interval_fn interval;
    jp_eval_reg_t *reg;
    jp_eval_cls_t *cls;
    pending_t *slots;
    double *xs; /* n_features per slot */
    size_t mask, count;
    uint64_t next_seq;
    jp_preq_stats_t st;
};

void jp_preq_free(jp_preq_t *pq)
{
    if (!pq)
        return;
    jp_eval_reg_free(pq->reg);
    jp_eval_cls_free(pq->cls);
    free(pq->slots);
    free(pq->xs);
    free(pq);
}

jp_preq_t *jp_preq_create(const jp_preq_config_t *cfg, const jp_preq_model_t *model, char *errstr,
                          size_t errstr_size)
{
    if (!model || !model->predict || cfg->capacity == 0 || cfg->capacity > PREQ_MAX_CAPACITY ||
        cfg->n_features > PREQ_MAX_FEATURES || (unsigned)cfg->kind > JP_PREQ_CLASSIFICATION) {
        jp_err_set(errstr, errstr_size,
                   "preq: need a predict callback, 1 <= capacity <= %u, n_features <= %u",
                   PREQ_MAX_CAPACITY, PREQ_MAX_FEATURES);
        return NULL;
    }
    jp_preq_t *pq = calloc(1, sizeof(*pq));
    if (!pq) {
        jp_err_set(errstr, errstr_size, "preq: out of memory");
        return NULL;
    }
    pq->cfg = *cfg;
    pq->model = *model;
    if (cfg->kind == JP_PREQ_REGRESSION)
        pq->reg = jp_eval_reg_create(cfg->cls.window, errstr, errstr_size);
    else
        pq->cls = jp_eval_cls_create(&cfg->cls, errstr, errstr_size);
    if (!pq->reg && !pq->cls) {
        jp_preq_free(pq);
        return NULL;
    }
    size_t cap = 4;
    while (cap < 2 * cfg->capacity)
        cap *= 2;
    pq->mask = cap - 1;
    pq->slots = calloc(cap, sizeof(pending_t));
    pq->xs = cfg->n_features ? calloc(cap * cfg->n_features, sizeof(double)) : NULL;
    if (!pq->slots || (cfg->n_features && !pq->xs)) {
        jp_preq_free(pq);
        jp_err_set(errstr, errstr_size, "preq: out of memory");
        return NULL;
    }
    return pq;
}

void jp_preq_set_interval(jp_preq_t *pq, jp_preq_interval_fn fn)
{
    pq->interval = fn;
}

static size_t home_slot(const jp_preq_t *pq, uint64_t id)
{
    return (size_t)jp_hash_mix64(id ^ 0x9e3779b97f4a7c15ull) & pq->mask;
}

/* Slot of id, or (size_t)-1. */
static size_t find_slot(const jp_preq_t *pq, uint64_t id)
{
    for (size_t i = home_slot(pq, id);; i = (i + 1) & pq->mask) {
        if (!pq->slots[i].used)
            return (size_t)-1;
        if (pq->slots[i].id == id)
            return i;
    }
}

static void copy_slot(jp_preq_t *pq, size_t dst, size_t src)
{
    pq->slots[dst] = pq->slots[src];
    size_t p = pq->cfg.n_features;
    if (p)
        memcpy(pq->xs + dst * p, pq->xs + src * p, p * sizeof(double));
}

/* Backward-shift deletion: pulls later members of the probe run into the
 * hole so lookups never need tombstones. */
static void remove_slot(jp_preq_t *pq, size_t hole)
{
    size_t i = hole;
    for (;;) {
        i = (i + 1) & pq->mask;
        if (!pq->slots[i].used)
            break;
        size_t home = home_slot(pq, pq->slots[i].id);
        /* move i into hole when home is not cyclically in (hole, i] */
        int stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            copy_slot(pq, hole, i);
            hole = i;
        }
    }
    pq->slots[hole].used = 0;
    pq->count--;
}

int jp_preq_predict(jp_preq_t *pq, uint64_t id, int64_t t, const double *x, double *pred)
{
    if (find_slot(pq, id) != (size_t)-1) {
        pq->st.duplicates++;
        return -1;
    }
    if (pq->count == pq->cfg.capacity) {
        size_t oldest = (size_t)-1;
        for (size_t i = 0; i <= pq->mask; i++)
            if (pq->slots[i].used &&
                (oldest == (size_t)-1 || pq->slots[i].seq < pq->slots[oldest].seq))
                oldest = i;
        remove_slot(pq, oldest);
        pq->st.evicted++;
    }
    double f = pq->model.predict(pq->model.model, x), lo = NAN, hi = NAN;
    if (pq->reg && pq->interval && pq->interval(pq->model.model, x, &lo, &hi) != 0)
        lo = hi = NAN;
    size_t i = home_slot(pq, id);
    while (pq->slots[i].used)
        i = (i + 1) & pq->mask;
    pq->slots[i] = (pending_t){id, pq->next_seq++, t, f, lo, hi, 1};
    if (pq->cfg.n_features)
        memcpy(pq->xs + i * pq->cfg.n_features, x, pq->cfg.n_features * sizeof(double));
    pq->count++;
    pq->st.predictions++;
    if (pred)
        *pred = f;
    return 0;
}

int jp_preq_label(jp_preq_t *pq, uint64_t id, double y)
{
    size_t i = find_slot(pq, id);
    if (i == (size_t)-1) {
        pq->st.unmatched++;
        return -1;
    }
    const pending_t *pd = &pq->slots[i];
    double f = pd->pred;
    int rc = !pq->reg        ? (y == 0.0 || y == 1.0 ? jp_eval_cls_add(pq->cls, (int)y, f) : -1)
             : isnan(pd->lo) ? jp_eval_reg_add(pq->reg, y, f)
                             : jp_eval_reg_add_interval(pq->reg, y, f, pd->lo, pd->hi);
    if (rc != 0)
        return -1; /* invalid label: the prediction stays pending */
    const double *x = pq->cfg.n_features ? pq->xs + i * pq->cfg.n_features : NULL;
    if (pq->model.learn)
        pq->model.learn(pq->model.model, x, y);
    remove_slot(pq, i);
    pq->st.labelled++;
    return 0;
}

size_t jp_preq_expire(jp_preq_t *pq, int64_t now)
{
    if (pq->cfg.ttl <= 0)
        return 0;
    size_t n = 0;
    /* Backward shifts only move entries toward lower positions within a
     * run, so re-examining slot i after a removal visits every entry. */
    for (size_t i = 0; i <= pq->mask;) {
        pending_t *s = &pq->slots[i];
        if (s->used && s->t <= now - pq->cfg.ttl) {
            remove_slot(pq, i);
            n++;
            continue;
        }
        i++;
    }
    pq->st.expired += n;
    return n;
}

void jp_preq_stats(const jp_preq_t *pq, jp_preq_stats_t *out)
{
    *out = pq->st;
    out->pending = pq->count;
}

const jp_eval_reg_t *jp_preq_reg(const jp_preq_t *pq)
{
    return pq->reg;
}

const jp_eval_cls_t *jp_preq_cls(const jp_preq_t *pq)
{
    return pq->cls;
}
