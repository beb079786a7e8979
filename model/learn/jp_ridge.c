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
 *
 * Standardizing is also why near-constant features must be pinned: a
 * feature whose spread is rounding noise (a log of a constant prize merged
 * across blocks, say) has s_j ~ 1e-16 |mean_j|, standardization blows that
 * noise up to unit variance, the solve fits noise with it and dividing by
 * s_j returns a coefficient of ~1e12. The guard is relative to the mean
 * because rounding noise is.
 *
 * Evidence maximisation works on the eigendecomposition of the
 * standardized Gram matrix (cyclic Jacobi: the matrix is small, symmetric
 * and well scaled after standardizing): every MacKay iteration is then
 * O(p) (gamma, |b|^2 and RSS are sums over eigenvalues), and the chosen
 * lambda goes through the same Cholesky path as a fixed one, so both
 * modes share the solve, the jitter, the predictive and the serialization.
 * The predictive is Student-t because sigma2 is estimated from W - 1 -
 * gamma residual degrees of freedom: with 26 weekly points and 8 features
 * the Gaussian interval would cover ~93% instead of 95%.
 */
#include "model/learn/jp_ridge.h"

#include "model/base/jp_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RIDGE_TAG          "RIDG"
#define RIDGE_VERSION      2
#define RIDGE_NAME_MAX     255u
#define EVIDENCE_MAX_ITER  1000u
#define EVIDENCE_TOL       1e-10
#define EVIDENCE_HYPER     1e-6 /* scikit-learn's alpha_1 = alpha_2 = lambda_1 = lambda_2 */
#define JACOBI_SWEEPS      100
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
    int evidence; /* choose lambda by evidence maximisation */
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
    uint8_t *pinned;                      /* p flags of the last fit */
    char **names;                         /* p names, or NULL */
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
    r->pinned = calloc(p, 1);
    if (!r->blocks || !r->block_mem || !r->scratch || !r->mx || !r->pinned) {
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

static void free_names(char **names, size_t p)
{
    if (!names)
        return;
    for (size_t i = 0; i < p; i++)
        free(names[i]);
    free(names);
}

void jp_ridge_free(jp_ridge_t *r)
{
    if (!r)
        return;
    free_names(r->names, r->p);
    free(r->pinned);
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

void jp_ridge_set_evidence(jp_ridge_t *r, int on)
{
    r->evidence = on != 0;
}

/* Copies names[0..p) after checking every one; NULL on a bad name. */
static char **copy_names(const char *const *names, size_t p, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < p; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len > RIDGE_NAME_MAX) {
            jp_err_set(errstr, errstr_size, "ridge: feature %zu needs a name of 1..%u bytes", i,
                       RIDGE_NAME_MAX);
            return NULL;
        }
    }
    char **out = calloc(p ? p : 1, sizeof(char *)); /* p >= 1 */
    if (!out)
        goto oom;
    for (size_t i = 0; i < p; i++) {
        size_t len = strlen(names[i]) + 1;
        out[i] = malloc(len);
        if (!out[i]) {
            free_names(out, p);
            goto oom;
        }
        memcpy(out[i], names[i], len);
    }
    return out;
oom:
    jp_err_set(errstr, errstr_size, "ridge: out of memory");
    return NULL;
}

int jp_ridge_set_names(jp_ridge_t *r, const char *const *names, char *errstr, size_t errstr_size)
{
    char **copy = NULL;
    if (names && !(copy = copy_names(names, r->p, errstr, errstr_size)))
        return -1;
    free_names(r->names, r->p);
    r->names = copy;
    return 0;
}

const char *jp_ridge_name(const jp_ridge_t *r, size_t j)
{
    return r->names && j < r->p ? r->names[j] : NULL;
}

int jp_ridge_index(const jp_ridge_t *r, const char *name, size_t *index)
{
    for (size_t j = 0; r->names && name && j < r->p; j++) {
        if (strcmp(r->names[j], name) == 0) {
            *index = j;
            return 0;
        }
    }
    return -1;
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

/* Cyclic Jacobi eigendecomposition of the symmetric n x n matrix a
 * (row-major, full): on return a's diagonal holds the eigenvalues and the
 * columns of v the eigenvectors. */
static void jacobi_eigen(double *a, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            v[i * n + j] = i == j ? 1.0 : 0.0;
    for (int sweep = 0; sweep < JACOBI_SWEEPS; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t i = 0; i < n; i++) {
            diag += a[i * n + i] * a[i * n + i];
            for (size_t j = i + 1; j < n; j++)
                off += a[i * n + j] * a[i * n + j];
        }
        if (!(off > 1e-32 * diag))
            break;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                double aij = a[i * n + j];
                if (aij == 0.0)
                    continue;
                double theta = (a[j * n + j] - a[i * n + i]) / (2.0 * aij);
                double t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), sn = t * c;
                for (size_t k = 0; k < n; k++) { /* columns i, j of a and v */
                    double aki = a[k * n + i], akj = a[k * n + j];
                    a[k * n + i] = c * aki - sn * akj;
                    a[k * n + j] = sn * aki + c * akj;
                    double vki = v[k * n + i], vkj = v[k * n + j];
                    v[k * n + i] = c * vki - sn * vkj;
                    v[k * n + j] = sn * vki + c * vkj;
                }
                for (size_t k = 0; k < n; k++) { /* rows i, j of a */
                    double aik = a[i * n + k], ajk = a[j * n + k];
                    a[i * n + k] = c * aik - sn * ajk;
                    a[j * n + k] = sn * aik + c * ajk;
                }
            }
        }
    }
}

/* Evidence-maximising lambda for the standardized system a (p x p, pinned
 * features decoupled, no lambda on the diagonal), right-hand side bvec,
 * y co-moment cyy and weight w (see the header for the updates). -1 when
 * scratch memory is unavailable. */
static int evidence_lambda(const double *a, const double *bvec, const uint8_t *pinned, size_t p,
                           double cyy, double w, double *lambda, unsigned *iters)
{
    size_t pa = 0;
    for (size_t i = 0; i < p; i++)
        pa += !pinned[i];
    *lambda = 1.0;
    *iters = 0;
    if (pa == 0 || !(cyy > 0.0))
        return 0; /* nothing to fit: any lambda gives b = 0 */
    double *g = malloc((2 * pa * pa + 2 * pa) * sizeof(double));
    if (!g)
        return -1;
    double *v = g + pa * pa, *e = v + pa * pa, *z = e + pa;
    double ys = 1.0 / sqrt(cyy / w); /* y in unit-variance units */
    for (size_t i = 0, ii = 0; i < p; i++) {
        if (pinned[i])
            continue;
        for (size_t j = 0, jj = 0; j < p; j++)
            if (!pinned[j])
                g[ii * pa + jj++] = a[i * p + j];
        z[ii++] = bvec[i] * ys;
    }
    jacobi_eigen(g, v, pa);
    for (size_t k = 0; k < pa; k++) {
        e[k] = g[k * pa + k] > 0.0 ? g[k * pa + k] : 0.0;
        double s = 0.0;
        for (size_t i = 0; i < pa; i++)
            s += v[i * pa + k] * z[i];
        g[k] = s; /* projections of the right-hand side, reusing g's first row */
    }
    const double h2 = 2.0 * EVIDENCE_HYPER, dof = w - 1.0, syy = w; /* cyy * ys^2 */
    double lam = 1.0;
    unsigned it = 0;
    while (it < EVIDENCE_MAX_ITER) {
        double gamma = 0.0, bb = 0.0, rss = syy;
        for (size_t k = 0; k < pa; k++) {
            double d = e[k] + lam, zz = g[k] * g[k] / (d * d);
            gamma += e[k] / d;
            bb += zz;
            rss -= zz * (e[k] + 2.0 * lam);
        }
        rss = rss > 0.0 ? rss : 0.0;
        double resid_dof = dof - gamma > 0.0 ? dof - gamma : 0.0;
        double next = ((gamma + h2) / (bb + h2)) / ((resid_dof + h2) / (rss + h2));
        it++;
        int done = !(fabs(next - lam) > EVIDENCE_TOL * lam);
        lam = next;
        if (done)
            break;
    }
    free(g);
    *lambda = lam;
    *iters = it;
    return 0;
}

/* Sum over unpinned i of [A^-1]_ii = |L^-1 e_i|^2 (v: p scratch). */
static double trace_inverse(const double *l, const uint8_t *pinned, size_t p, double *v)
{
    double t = 0.0;
    for (size_t i = 0; i < p; i++) {
        if (pinned[i])
            continue;
        memset(v, 0, p * sizeof(double));
        v[i] = 1.0;
        solve_lower(l, p, v);
        for (size_t k = i; k < p; k++)
            t += v[k] * v[k];
    }
    return t;
}

/* Pins near-constant features and fills inv_s; returns how many. */
static size_t pin_features(const block_t *win, size_t p, double *inv_s, uint8_t *pinned)
{
    size_t q = p + 1, n = 0;
    for (size_t i = 0; i < p; i++) {
        double cii = win->c[i * q + i];
        double sd = cii > 0.0 ? sqrt(cii / win->w) : 0.0;
        pinned[i] = !(sd > JP_RIDGE_PIN_REL_SD * fabs(win->mean[i]));
        inv_s[i] = pinned[i] ? 0.0 : 1.0 / sd;
        n += pinned[i];
    }
    return n;
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
    /* a: standardized system; lfac: its factor; then inv_s, b, beta, a
     * scratch vector, and the pinned flags. */
    double *a = calloc(2 * p * p + 4 * p, sizeof(double));
    uint8_t *pinned = calloc(p, 1);
    if (!a || !pinned) {
        free(a);
        free(pinned);
        jp_err_set(errstr, errstr_size, "ridge: out of memory");
        return -1;
    }
    double *lfac = a + p * p, *inv_s = lfac + p * p, *bvec = inv_s + p, *beta = bvec + p;
    double *tmp = beta + p;
    const double *c = win->c;
    size_t n_pinned = pin_features(win, p, inv_s, pinned);
    for (size_t i = 0; i < p; i++) {
        for (size_t j = i; j < p; j++) {
            double v = c[i * q + j] * inv_s[i] * inv_s[j];
            a[i * p + j] = a[j * p + i] = v;
        }
        /* A pinned feature is decoupled: unit diagonal, b_i = 0. */
        if (pinned[i])
            a[i * p + i] = 1.0;
        bvec[i] = c[i * q + p] * inv_s[i];
    }
    double cyy = c[p * q + p], lambda = r->lambda;
    unsigned iters = 0;
    if (r->evidence && evidence_lambda(a, bvec, pinned, p, cyy, win->w, &lambda, &iters) != 0) {
        free(a);
        free(pinned);
        jp_err_set(errstr, errstr_size, "ridge: out of memory");
        return -1;
    }
    double diag_sum = 0.0;
    for (size_t i = 0; i < p; i++) {
        if (!pinned[i])
            a[i * p + i] += lambda;
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
        free(pinned);
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
    double rss = cyy - bb - (lambda + jitter) * bn;
    if (rss < 0.0)
        rss = 0.0;
    double gamma = (double)(p - n_pinned) - (lambda + jitter) * trace_inverse(lfac, pinned, p, tmp);

    r->fitted = 1;
    r->ybar = win->mean[p];
    memcpy(r->mx, win->mean, p * sizeof(double));
    memcpy(r->inv_s, inv_s, p * sizeof(double));
    memcpy(r->beta_std, beta, p * sizeof(double));
    for (size_t i = 0; i < p; i++)
        r->beta[i] = beta[i] * inv_s[i];
    memcpy(r->l, lfac, p * p * sizeof(double));
    memcpy(r->pinned, pinned, p);
    r->info.weight = win->w;
    r->info.n_samples = win->n;
    r->info.sigma2 = (rss + lambda * bn) / (win->w - 1.0);
    r->info.cond_est = (lmax / lmin) * (lmax / lmin);
    r->info.jitter = jitter;
    r->info.jitter_steps = steps;
    r->info.lambda = lambda;
    r->info.gamma = gamma;
    r->info.dof =
        r->evidence ? (win->w - 1.0 - gamma > 1.0 ? win->w - 1.0 - gamma : 1.0) : win->w - 1.0;
    r->info.n_pinned = n_pinned;
    r->info.evidence_iter = iters;
    free(a);
    free(pinned);
    return 0;
}

int jp_ridge_is_fitted(const jp_ridge_t *r)
{
    return r->fitted;
}

/* A p-vector: buf when p fits in it, else from the heap (NULL if none). */
static double *vec_get(size_t p, double *buf)
{
    return p <= PREDICT_STACK ? buf : malloc(p * sizeof(double));
}

static void vec_put(double *v, const double *buf)
{
    if (v != buf)
        free(v);
}

/* |L^-1 v|^2; v is overwritten. */
static double solve_norm2(const jp_ridge_t *r, double *v)
{
    solve_lower(r->l, r->p, v);
    double s = 0.0;
    for (size_t i = 0; i < r->p; i++)
        s += v[i] * v[i];
    return s;
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
    double *v = vec_get(p, stack_buf);
    if (!v)
        return -1;
    for (size_t i = 0; i < p; i++) {
        v[i] = (x[i] - r->mx[i]) * r->inv_s[i];
        m += r->beta_std[i] * v[i];
    }
    if (mean)
        *mean = m;
    if (var)
        *var = r->info.sigma2 * (1.0 + 1.0 / r->info.weight + solve_norm2(r, v));
    vec_put(v, stack_buf);
    return 0;
}

int jp_ridge_predict_interval(const jp_ridge_t *r, const double *x, double level, double *mean,
                              double *lo, double *hi)
{
    double m, var;
    if (!(level > 0.0 && level < 1.0) || jp_ridge_predict(r, x, &m, &var) != 0)
        return -1;
    double half = jp_ridge_t_quantile(0.5 + 0.5 * level, r->info.dof) * sqrt(var);
    if (mean)
        *mean = m;
    *lo = m - half;
    *hi = m + half;
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

/* sqrt(sigma2 [A^-1]_jj) / s_j (0 when pinned); v: p scratch. */
static double coef_se_one(const jp_ridge_t *r, size_t j, double *v)
{
    if (r->pinned[j])
        return 0.0;
    memset(v, 0, r->p * sizeof(double));
    v[j] = 1.0;
    return sqrt(r->info.sigma2 * solve_norm2(r, v)) * r->inv_s[j];
}

int jp_ridge_coef_se(const jp_ridge_t *r, double *se, double *intercept_se)
{
    if (!r->fitted)
        return -1;
    size_t p = r->p;
    double stack_buf[PREDICT_STACK];
    double *v = vec_get(p, stack_buf);
    if (!v)
        return -1;
    for (size_t j = 0; se && j < p; j++)
        se[j] = coef_se_one(r, j, v);
    if (intercept_se) {
        /* The intercept is the prediction at x = 0 without the noise term. */
        for (size_t i = 0; i < p; i++)
            v[i] = -r->mx[i] * r->inv_s[i];
        *intercept_se = sqrt(r->info.sigma2 * (1.0 / r->info.weight + solve_norm2(r, v)));
    }
    vec_put(v, stack_buf);
    return 0;
}

int jp_ridge_coef_named(const jp_ridge_t *r, const char *name, double *estimate, double *se)
{
    size_t j;
    if (!r->fitted || jp_ridge_index(r, name, &j) != 0)
        return -1;
    if (estimate)
        *estimate = r->beta[j];
    if (se) {
        double stack_buf[PREDICT_STACK];
        double *v = vec_get(r->p, stack_buf);
        if (!v)
            return -1;
        *se = coef_se_one(r, j, v);
        vec_put(v, stack_buf);
    }
    return 0;
}

size_t jp_ridge_pinned(const jp_ridge_t *r, size_t *idx, size_t cap)
{
    size_t n = 0;
    for (size_t j = 0; r->fitted && j < r->p; j++) {
        if (!r->pinned[j])
            continue;
        if (n < cap)
            idx[n] = j;
        n++;
    }
    return n;
}

int jp_ridge_pinned_at(const jp_ridge_t *r, size_t j, double *value)
{
    if (!r->fitted || j >= r->p || !r->pinned[j])
        return 0;
    if (value)
        *value = r->mx[j];
    return 1;
}

int jp_ridge_info(const jp_ridge_t *r, jp_ridge_info_t *info)
{
    if (!r->fitted)
        return -1;
    *info = r->info;
    return 0;
}

/* Continued fraction of the regularized incomplete beta function
 * (modified Lentz), valid for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    d = fabs(d) < tiny ? tiny : d;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        for (int half = 0; half < 2; half++) {
            d = 1.0 + aa * d;
            d = fabs(d) < tiny ? tiny : d;
            c = 1.0 + aa / c;
            c = fabs(c) < tiny ? tiny : c;
            d = 1.0 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        }
        if (fabs(d * c - 1.0) < 1e-16)
            break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double inc_beta(double a, double b, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double lf = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lf) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lf) * beta_cf(b, a, 1.0 - x) / b;
}

double jp_ridge_t_quantile(double prob, double dof)
{
    if (!(prob > 0.0 && prob < 1.0) || !(dof > 0.0) || !isfinite(dof))
        return NAN;
    if (prob == 0.5)
        return 0.0;
    /* P(T > t) = I_{dof / (dof + t^2)}(dof / 2, 1 / 2) / 2 for t >= 0. */
    double tail = prob > 0.5 ? 1.0 - prob : prob, lo = 0.0, hi = 1.0;
    while (0.5 * inc_beta(dof / 2.0, 0.5, dof / (dof + hi * hi)) > tail && hi < 1e300)
        hi *= 2.0;
    for (int i = 0; i < 2000 && hi - lo > 4e-16 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * inc_beta(dof / 2.0, 0.5, dof / (dof + mid * mid)) > tail)
            lo = mid;
        else
            hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return prob > 0.5 ? t : -t;
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

/* The v2 trailer: prior mode, names, and the fit's derived figures. */
static void put_trailer(const jp_ridge_t *r, jp_bytes_writer_t *w)
{
    jp_bytes_put_u8(w, (uint8_t)r->evidence);
    jp_bytes_put_u8(w, r->names != NULL);
    for (size_t j = 0; r->names && j < r->p; j++) {
        size_t len = strlen(r->names[j]);
        jp_bytes_put_u8(w, (uint8_t)len);
        jp_bytes_put_raw(w, r->names[j], len);
    }
    if (!r->fitted)
        return;
    jp_bytes_put_f64(w, r->info.lambda);
    jp_bytes_put_f64(w, r->info.gamma);
    jp_bytes_put_f64(w, r->info.dof);
    jp_bytes_put_u32(w, r->info.evidence_iter);
    jp_bytes_put_raw(w, r->pinned, r->p);
}

/* Reads the trailer; -1 on invalid content (the reader may also fail). */
static int get_trailer(jp_ridge_t *r, jp_bytes_reader_t *rd)
{
    uint8_t ev = jp_bytes_get_u8(rd), named = jp_bytes_get_u8(rd);
    if (ev > 1 || named > 1)
        return -1;
    r->evidence = ev;
    if (named) {
        r->names = calloc(r->p ? r->p : 1, sizeof(char *)); /* p >= 1 */
        if (!r->names)
            return -1;
        for (size_t j = 0; j < r->p; j++) {
            uint8_t len = jp_bytes_get_u8(rd);
            r->names[j] = calloc((size_t)len + 1, 1);
            if (!r->names[j] || len == 0)
                return -1;
            jp_bytes_get_raw(rd, r->names[j], len);
        }
    }
    if (!r->fitted)
        return 0;
    r->info.lambda = jp_bytes_get_f64(rd);
    r->info.gamma = jp_bytes_get_f64(rd);
    r->info.dof = jp_bytes_get_f64(rd);
    r->info.evidence_iter = jp_bytes_get_u32(rd);
    jp_bytes_get_raw(rd, r->pinned, r->p);
    r->info.n_pinned = 0;
    for (size_t j = 0; j < r->p; j++) {
        if (r->pinned[j] > 1)
            return -1;
        r->info.n_pinned += r->pinned[j];
    }
    return 0;
}

/* A v1 state has no trailer: fixed prior, no names; pinned features are
 * the zero-variance ones and gamma comes from the stored factor. */
static int derive_v1_trailer(jp_ridge_t *r)
{
    if (!r->fitted)
        return 0;
    double *v = malloc(r->p * sizeof(double));
    if (!v)
        return -1;
    r->info.n_pinned = 0;
    for (size_t j = 0; j < r->p; j++) {
        r->pinned[j] = r->inv_s[j] == 0.0;
        r->info.n_pinned += r->pinned[j];
    }
    r->info.lambda = r->lambda;
    r->info.gamma = (double)(r->p - r->info.n_pinned) -
                    (r->lambda + r->info.jitter) * trace_inverse(r->l, r->pinned, r->p, v);
    r->info.dof = r->info.weight - 1.0;
    r->info.evidence_iter = 0;
    free(v);
    return 0;
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
    if (!r->fitted) {
        put_trailer(r, w);
        return;
    }
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
    put_trailer(r, w);
}

jp_ridge_t *jp_ridge_deserialize(jp_bytes_reader_t *rd, char *errstr, size_t errstr_size)
{
    uint16_t version = jp_bytes_get_header(rd, RIDGE_TAG, RIDGE_VERSION);
    if (version == 0) {
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
    int bad = fitted > 1 || !jp_bytes_reader_ok(rd);
    if (!bad)
        bad = (version >= 2 ? get_trailer(r, rd) : derive_v1_trailer(r)) != 0;
    if (bad || !jp_bytes_reader_ok(rd)) {
        jp_err_set(errstr, errstr_size, "ridge: truncated or invalid state");
        jp_ridge_free(r);
        return NULL;
    }
    return r;
}
