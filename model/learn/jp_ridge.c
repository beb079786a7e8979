/*
 * jp_ridge: Bayesian ridge over a ring of sufficient-statistic blocks.
 *
 * Why blocks and centred co-moments: the textbook incremental least squares
 * keeps raw sums (sum x x', sum x y) and subtracts the samples that leave
 * the window. With a feature like 1e6 + noise the raw second moment is
 * ~1e12 per sample, the centred variance is recovered by cancellation and
 * every subtraction adds rounding that never goes away. Here each block
 * holds (W, mean, C) of the augmented vector z = (x, y), with C the centred
 * co-moment matrix, updated by the weighted Welford/West recurrence
 *     d = z - mean;  mean += (w / W') d;  C += (w W / W') d d'
 * and blocks are combined with Chan, Golub & LeVeque's pairwise merge
 *     delta = mb - ma;  C = Ca + Cb + (Wa Wb / W) delta delta'.
 * A closing window simply drops its oldest block: nothing is subtracted, so
 * errors cannot accumulate over the life of the stream and offsets never
 * reach the co-moments. Only the upper triangle (j >= i) of C is kept up to
 * date; the lower half of the q x q array is unused.
 *
 * The solve works in standardized units (centred, divided by the population
 * standard deviation): the system then has a unit diagonal plus lambda, the
 * jitter schedule and the condition estimate are scale-free, and the
 * intercept is left unpenalized because centring removes it from the system.
 * Predictions are evaluated as ybar + sum b_j (x_j - mean_j) / s_j rather
 * than intercept + beta.x, which keeps the large offsets from cancelling.
 */
#include "model/learn/jp_ridge.h"

#include "model/base/jp_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RIDGE_TAG          "RIDG"
#define RIDGE_VERSION      1
#define RIDGE_MAX_FEATURES 4096u
#define RIDGE_MAX_BLOCKS   (1u << 20)
#define JITTER_START       1e-12
#define JITTER_STEPS       12
#define PIVOT_REL          1e-13
#define PREDICT_STACK      64

typedef struct {
    double w;     /* sum of weights */
    uint64_t n;   /* number of updates */
    double *mean; /* q */
    double *c;    /* q x q, upper triangle */
} block_t;

struct jp_ridge_s {
    size_t p, q; /* features, p + 1 */
    size_t n_blocks, cur;
    jp_ridge_mode_t mode;
    double lambda, decay_update, decay_block;
    block_t *blocks;
    double *block_mem;
    block_t win; /* merge target at fit time */
    double *scratch;

    /* last fit */
    int fitted;
    jp_ridge_info_t info;
    double ybar;
    double *mx, *inv_s, *beta_std, *beta; /* p each */
    double *l;                            /* p x p, lower triangle, row-major */
};

static void block_clear(block_t *b, size_t q)
{
    b->w = 0.0;
    b->n = 0;
    memset(b->mean, 0, q * sizeof(double));
    memset(b->c, 0, q * q * sizeof(double));
}

static void block_copy(block_t *dst, const block_t *src, size_t q)
{
    dst->w = src->w;
    dst->n = src->n;
    memcpy(dst->mean, src->mean, q * sizeof(double));
    memcpy(dst->c, src->c, q * q * sizeof(double));
}

/* Chan et al. pairwise merge of src into dst. */
static void block_merge(block_t *dst, const block_t *src, size_t q, double *delta)
{
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        block_copy(dst, src, q);
        return;
    }
    double w = dst->w + src->w;
    double f = w > 0.0 ? src->w / w : 0.0;
    double g = w > 0.0 ? dst->w * src->w / w : 0.0;
    for (size_t i = 0; i < q; i++)
        delta[i] = src->mean[i] - dst->mean[i];
    for (size_t i = 0; i < q; i++) {
        double gi = g * delta[i];
        double *row = dst->c + i * q;
        const double *srow = src->c + i * q;
        for (size_t j = i; j < q; j++)
            row[j] += srow[j] + gi * delta[j];
        dst->mean[i] += f * delta[i];
    }
    dst->w = w;
    dst->n += src->n;
}

static void block_scale(block_t *b, size_t q, double factor)
{
    if (factor == 1.0)
        return;
    b->w *= factor;
    for (size_t i = 0; i < q; i++) {
        double *row = b->c + i * q;
        for (size_t j = i; j < q; j++)
            row[j] *= factor;
    }
}

static jp_ridge_t *ridge_alloc(size_t p, size_t n_blocks, jp_ridge_mode_t mode, double lambda,
                               double du, double db, char *errstr, size_t errstr_size)
{
    if (p == 0 || p > RIDGE_MAX_FEATURES) {
        jp_err_set(errstr, errstr_size, "ridge: n_features must be in [1, %u]", RIDGE_MAX_FEATURES);
        return NULL;
    }
    if (n_blocks == 0 || n_blocks > RIDGE_MAX_BLOCKS) {
        jp_err_set(errstr, errstr_size, "ridge: n_blocks must be in [1, %u]", RIDGE_MAX_BLOCKS);
        return NULL;
    }
    if (!(lambda >= 0.0) || !isfinite(lambda)) {
        jp_err_set(errstr, errstr_size, "ridge: lambda must be finite and >= 0");
        return NULL;
    }
    if (!(du > 0.0 && du <= 1.0) || !(db > 0.0 && db <= 1.0)) {
        jp_err_set(errstr, errstr_size, "ridge: decay factors must be in (0, 1]");
        return NULL;
    }
    jp_ridge_t *r = calloc(1, sizeof(*r));
    if (!r)
        goto oom;
    size_t q = p + 1, per_block = q + q * q;
    r->p = p;
    r->q = q;
    r->n_blocks = n_blocks;
    r->mode = mode;
    r->lambda = lambda;
    r->decay_update = du;
    r->decay_block = db;
    r->blocks = calloc(n_blocks, sizeof(block_t));
    r->block_mem = calloc((n_blocks + 1) * per_block, sizeof(double));
    r->scratch = calloc(q, sizeof(double));
    r->mx = calloc(4 * p + p * p, sizeof(double));
    if (!r->blocks || !r->block_mem || !r->scratch || !r->mx) {
        jp_ridge_free(r);
        goto oom;
    }
    for (size_t b = 0; b <= n_blocks; b++) {
        block_t *blk = b < n_blocks ? &r->blocks[b] : &r->win;
        blk->mean = r->block_mem + b * per_block;
        blk->c = blk->mean + q;
    }
    r->inv_s = r->mx + p;
    r->beta_std = r->inv_s + p;
    r->beta = r->beta_std + p;
    r->l = r->beta + p;
    return r;
oom:
    jp_err_set(errstr, errstr_size, "ridge: out of memory");
    return NULL;
}

jp_ridge_t *jp_ridge_create(size_t n_features, size_t n_blocks, double lambda, char *errstr,
                            size_t errstr_size)
{
    return ridge_alloc(n_features, n_blocks, JP_RIDGE_WINDOW, lambda, 1.0, 1.0, errstr,
                       errstr_size);
}

jp_ridge_t *jp_ridge_create_forgetting(size_t n_features, double lambda, double decay_per_update,
                                       double decay_per_block, char *errstr, size_t errstr_size)
{
    return ridge_alloc(n_features, 1, JP_RIDGE_FORGET, lambda, decay_per_update, decay_per_block,
                       errstr, errstr_size);
}

void jp_ridge_free(jp_ridge_t *r)
{
    if (!r)
        return;
    free(r->blocks);
    free(r->block_mem);
    free(r->scratch);
    free(r->mx);
    free(r);
}

size_t jp_ridge_n_features(const jp_ridge_t *r)
{
    return r->p;
}

int jp_ridge_update(jp_ridge_t *r, const double *x, double y, double w)
{
    if (!(w >= 0.0) || !isfinite(w) || !isfinite(y))
        return -1;
    for (size_t i = 0; i < r->p; i++)
        if (!isfinite(x[i]))
            return -1;
    if (w == 0.0)
        return 0;
    size_t q = r->q;
    block_t *b = &r->blocks[r->cur];
    if (r->mode == JP_RIDGE_FORGET)
        block_scale(b, q, r->decay_update);
    double w1 = b->w + w;
    double f = w / w1, g = w * b->w / w1;
    double *d = r->scratch;
    for (size_t i = 0; i < q; i++) {
        d[i] = (i < r->p ? x[i] : y) - b->mean[i];
        b->mean[i] += f * d[i];
    }
    for (size_t i = 0; i < q; i++) {
        double gi = g * d[i];
        double *row = b->c + i * q;
        for (size_t j = i; j < q; j++)
            row[j] += gi * d[j];
    }
    b->w = w1;
    b->n++;
    return 0;
}

void jp_ridge_advance(jp_ridge_t *r)
{
    if (r->mode == JP_RIDGE_FORGET) {
        block_scale(&r->blocks[0], r->q, r->decay_block);
        return;
    }
    r->cur = (r->cur + 1) % r->n_blocks;
    block_clear(&r->blocks[r->cur], r->q);
}

/* Cholesky of a (p x p, row-major, symmetric) plus `add` on the diagonal
 * into the lower triangle of l. 0 on success; -1 when a pivot is not
 * positive or has lost all but ~3 significant digits to cancellation
 * (below PIVOT_REL times its diagonal entry): that matrix is numerically
 * singular and the caller retries with jitter. */
static int cholesky(const double *a, double *l, size_t p, double add)
{
    for (size_t i = 0; i < p; i++) {
        for (size_t j = 0; j <= i; j++) {
            double s = a[i * p + j] + (i == j ? add : 0.0);
            for (size_t k = 0; k < j; k++)
                s -= l[i * p + k] * l[j * p + k];
            if (i == j) {
                if (!(s > PIVOT_REL * (a[i * p + i] + add)) || !isfinite(s))
                    return -1;
                l[i * p + i] = sqrt(s);
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    return 0;
}

/* Solves L v = b (forward) in place. */
static void solve_lower(const double *l, size_t p, double *v)
{
    for (size_t i = 0; i < p; i++) {
        double s = v[i];
        for (size_t k = 0; k < i; k++)
            s -= l[i * p + k] * v[k];
        v[i] = s / l[i * p + i];
    }
}

/* Solves L' v = b (backward) in place. */
static void solve_upper_t(const double *l, size_t p, double *v)
{
    for (size_t i = p; i-- > 0;) {
        double s = v[i];
        for (size_t k = i + 1; k < p; k++)
            s -= l[k * p + i] * v[k];
        v[i] = s / l[i * p + i];
    }
}

int jp_ridge_fit(jp_ridge_t *r, char *errstr, size_t errstr_size)
{
    size_t p = r->p, q = r->q;
    block_t *win = &r->win;
    block_clear(win, q);
    for (size_t k = 1; k <= r->n_blocks; k++)
        block_merge(win, &r->blocks[(r->cur + k) % r->n_blocks], q, r->scratch);
    if (!(win->w > 1.0)) {
        jp_err_set(errstr, errstr_size, "ridge: window weight %g must exceed 1", win->w);
        return -1;
    }
    /* a: standardized system; lfac: its factor; then inv_s, b, beta. */
    double *a = calloc(2 * p * p + 3 * p, sizeof(double));
    if (!a) {
        jp_err_set(errstr, errstr_size, "ridge: out of memory");
        return -1;
    }
    double *lfac = a + p * p, *inv_s = lfac + p * p, *bvec = inv_s + p, *beta = bvec + p;
    const double *c = win->c;
    for (size_t i = 0; i < p; i++) {
        double cii = c[i * q + i];
        inv_s[i] = cii > 0.0 ? 1.0 / sqrt(cii / win->w) : 0.0;
    }
    double diag_sum = 0.0;
    for (size_t i = 0; i < p; i++) {
        for (size_t j = i; j < p; j++) {
            double v = c[i * q + j] * inv_s[i] * inv_s[j];
            a[i * p + j] = a[j * p + i] = v;
        }
        /* A zero-variance feature is decoupled: unit diagonal, b_i = 0. */
        a[i * p + i] = inv_s[i] > 0.0 ? a[i * p + i] + r->lambda : 1.0;
        bvec[i] = c[i * q + p] * inv_s[i];
        diag_sum += a[i * p + i];
    }
    double jitter = 0.0;
    unsigned steps = 0;
    int ok = cholesky(a, lfac, p, 0.0);
    while (ok != 0 && steps < JITTER_STEPS) {
        jitter = steps == 0 ? JITTER_START * (diag_sum / (double)p) : jitter * 10.0;
        steps++;
        ok = cholesky(a, lfac, p, jitter);
    }
    if (ok != 0) {
        jp_err_set(errstr, errstr_size, "ridge: Cholesky failed after %u jitter steps", steps);
        free(a);
        return -1;
    }
    memcpy(beta, bvec, p * sizeof(double));
    solve_lower(lfac, p, beta);
    solve_upper_t(lfac, p, beta);

    double bb = 0.0, bn = 0.0, lmax = 0.0, lmin = INFINITY;
    for (size_t i = 0; i < p; i++) {
        bb += beta[i] * bvec[i];
        bn += beta[i] * beta[i];
        double d = lfac[i * p + i];
        lmax = d > lmax ? d : lmax;
        lmin = d < lmin ? d : lmin;
    }
    /* RSS = Cyy - 2 b'c + b'G b and b'G b = b'c - (lambda + jitter)|b|^2. */
    double cyy = c[p * q + p];
    double rss = cyy - bb - (r->lambda + jitter) * bn;
    if (rss < 0.0)
        rss = 0.0;

    r->fitted = 1;
    r->ybar = win->mean[p];
    memcpy(r->mx, win->mean, p * sizeof(double));
    memcpy(r->inv_s, inv_s, p * sizeof(double));
    memcpy(r->beta_std, beta, p * sizeof(double));
    for (size_t i = 0; i < p; i++)
        r->beta[i] = beta[i] * inv_s[i];
    memcpy(r->l, lfac, p * p * sizeof(double));
    r->info.weight = win->w;
    r->info.n_samples = win->n;
    r->info.sigma2 = (rss + r->lambda * bn) / (win->w - 1.0);
    r->info.cond_est = (lmax / lmin) * (lmax / lmin);
    r->info.jitter = jitter;
    r->info.jitter_steps = steps;
    free(a);
    return 0;
}

int jp_ridge_is_fitted(const jp_ridge_t *r)
{
    return r->fitted;
}

int jp_ridge_predict(const jp_ridge_t *r, const double *x, double *mean, double *var)
{
    if (!r->fitted)
        return -1;
    size_t p = r->p;
    double m = r->ybar;
    /* No shared scratch here, so concurrent predictions on one fitted model
     * are safe. */
    double stack_buf[PREDICT_STACK];
    double *v = p <= PREDICT_STACK ? stack_buf : malloc(p * sizeof(double));
    if (!v)
        return -1;
    for (size_t i = 0; i < p; i++) {
        v[i] = (x[i] - r->mx[i]) * r->inv_s[i];
        m += r->beta_std[i] * v[i];
    }
    if (mean)
        *mean = m;
    if (var) {
        solve_lower(r->l, p, v);
        double s = 0.0;
        for (size_t i = 0; i < p; i++)
            s += v[i] * v[i];
        *var = r->info.sigma2 * (1.0 + 1.0 / r->info.weight + s);
    }
    if (v != stack_buf)
        free(v);
    return 0;
}

int jp_ridge_coef(const jp_ridge_t *r, double *beta, double *intercept)
{
    if (!r->fitted)
        return -1;
    if (beta)
        memcpy(beta, r->beta, r->p * sizeof(double));
    if (intercept) {
        double b0 = r->ybar;
        for (size_t i = 0; i < r->p; i++)
            b0 -= r->beta[i] * r->mx[i];
        *intercept = b0;
    }
    return 0;
}

int jp_ridge_info(const jp_ridge_t *r, jp_ridge_info_t *info)
{
    if (!r->fitted)
        return -1;
    *info = r->info;
    return 0;
}

static void put_block(jp_bytes_writer_t *w, const block_t *b, size_t q)
{
    jp_bytes_put_f64(w, b->w);
    jp_bytes_put_u64(w, b->n);
    for (size_t i = 0; i < q; i++)
        jp_bytes_put_f64(w, b->mean[i]);
    for (size_t i = 0; i < q; i++)
        for (size_t j = i; j < q; j++)
            jp_bytes_put_f64(w, b->c[i * q + j]);
}

static void get_block(jp_bytes_reader_t *rd, block_t *b, size_t q)
{
    b->w = jp_bytes_get_f64(rd);
    b->n = jp_bytes_get_u64(rd);
    for (size_t i = 0; i < q; i++)
        b->mean[i] = jp_bytes_get_f64(rd);
    for (size_t i = 0; i < q; i++)
        for (size_t j = i; j < q; j++)
            b->c[i * q + j] = jp_bytes_get_f64(rd);
}

static void put_vec(jp_bytes_writer_t *w, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jp_bytes_put_f64(w, v[i]);
}

static void get_vec(jp_bytes_reader_t *rd, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = jp_bytes_get_f64(rd);
}

void jp_ridge_serialize(const jp_ridge_t *r, jp_bytes_writer_t *w)
{
    size_t p = r->p;
    jp_bytes_put_header(w, RIDGE_TAG, RIDGE_VERSION);
    jp_bytes_put_u32(w, (uint32_t)p);
    jp_bytes_put_u32(w, (uint32_t)r->n_blocks);
    jp_bytes_put_u8(w, (uint8_t)r->mode);
    jp_bytes_put_f64(w, r->lambda);
    jp_bytes_put_f64(w, r->decay_update);
    jp_bytes_put_f64(w, r->decay_block);
    jp_bytes_put_u32(w, (uint32_t)r->cur);
    for (size_t b = 0; b < r->n_blocks; b++)
        put_block(w, &r->blocks[b], r->q);
    jp_bytes_put_u8(w, (uint8_t)r->fitted);
    if (!r->fitted)
        return;
    jp_bytes_put_f64(w, r->info.weight);
    jp_bytes_put_u64(w, r->info.n_samples);
    jp_bytes_put_f64(w, r->info.sigma2);
    jp_bytes_put_f64(w, r->info.cond_est);
    jp_bytes_put_f64(w, r->info.jitter);
    jp_bytes_put_u32(w, r->info.jitter_steps);
    jp_bytes_put_f64(w, r->ybar);
    put_vec(w, r->mx, p);
    put_vec(w, r->inv_s, p);
    put_vec(w, r->beta_std, p);
    put_vec(w, r->beta, p);
    for (size_t i = 0; i < p; i++)
        put_vec(w, r->l + i * p, i + 1);
}

jp_ridge_t *jp_ridge_deserialize(jp_bytes_reader_t *rd, char *errstr, size_t errstr_size)
{
    if (jp_bytes_get_header(rd, RIDGE_TAG, RIDGE_VERSION) == 0) {
        jp_err_set(errstr, errstr_size, "ridge: bad header or unsupported version");
        return NULL;
    }
    uint32_t p = jp_bytes_get_u32(rd);
    uint32_t nb = jp_bytes_get_u32(rd);
    uint8_t mode = jp_bytes_get_u8(rd);
    double lambda = jp_bytes_get_f64(rd);
    double du = jp_bytes_get_f64(rd);
    double db = jp_bytes_get_f64(rd);
    uint32_t cur = jp_bytes_get_u32(rd);
    if (!jp_bytes_reader_ok(rd) || mode > JP_RIDGE_FORGET || (mode == JP_RIDGE_FORGET && nb != 1) ||
        cur >= nb) {
        jp_err_set(errstr, errstr_size, "ridge: truncated or invalid configuration");
        return NULL;
    }
    jp_ridge_t *r = ridge_alloc(p, nb, (jp_ridge_mode_t)mode, lambda, du, db, errstr, errstr_size);
    if (!r)
        return NULL;
    r->cur = cur;
    for (size_t b = 0; b < nb; b++)
        get_block(rd, &r->blocks[b], r->q);
    uint8_t fitted = jp_bytes_get_u8(rd);
    if (fitted == 1) {
        r->info.weight = jp_bytes_get_f64(rd);
        r->info.n_samples = jp_bytes_get_u64(rd);
        r->info.sigma2 = jp_bytes_get_f64(rd);
        r->info.cond_est = jp_bytes_get_f64(rd);
        r->info.jitter = jp_bytes_get_f64(rd);
        r->info.jitter_steps = jp_bytes_get_u32(rd);
        r->ybar = jp_bytes_get_f64(rd);
        get_vec(rd, r->mx, p);
        get_vec(rd, r->inv_s, p);
        get_vec(rd, r->beta_std, p);
        get_vec(rd, r->beta, p);
        for (size_t i = 0; i < p; i++)
            get_vec(rd, r->l + i * p, i + 1);
        r->fitted = 1;
    }
    if (!jp_bytes_reader_ok(rd) || fitted > 1) {
        jp_err_set(errstr, errstr_size, "ridge: truncated or invalid state");
        jp_ridge_free(r);
        return NULL;
    }
    return r;
}
