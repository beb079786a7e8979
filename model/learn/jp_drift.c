/*
 * jp_drift: drift statistics and change detectors.
 *
 * Design. The batch statistics (PSI, KS, JS) are pure functions of two
 * samples or two count vectors, so the processor can compute them from raw
 * windows or from sketch-derived bin counts alike; each is written to agree
 * with the reference implementation people compare dashboards against
 * (NumPy/SciPy/Evidently), and the tests check that agreement on committed
 * fixtures rather than on our own output.
 *
 * The KS p-value is the delicate part: scipy's 'asymp' mode is not the
 * Kolmogorov limit but the exact finite-n distribution kstwo(n) at
 * n = round(n1 n2 / (n1 + n2)), evaluated by Simard & L'Ecuyer's selection
 * of algorithms. We port that selection (scipy.stats._ksstats._kolmogn,
 * SciPy 1.10) branch for branch, including the power-of-two rescaling that
 * keeps the Durbin matrix power and the Pomeranz recursion in range. The
 * one-sided Smirnov tail is computed from Smirnov's exact sum, whose terms
 * are all positive, in log space; SciPy's cephes does the same up to
 * n = 10^6, beyond which both switch to the same asymptotic formula.
 *
 * Page-Hinkley and ADWIN mirror River's implementations (parameters,
 * reset-after-detection, the exponential histogram of ADWIN with rows of at
 * most max_buckets buckets of size 2^i, the clocked cut check, and the cut
 * bound). ADWIN preallocates 64 rows (a window of up to 2^64 items), so
 * updates never allocate and cannot fail.
 *
 * Thresholds. Fixed cut-offs (PSI 0.25) ignore sample size: the null PSI
 * of 10 bins on 52 weekly points has mean ~(1/52 + 1/52) * 9 = 0.35 and a
 * heavy tail from empty bins (a 1e-4-smoothed empty bin alone adds ~0.7).
 * Both PSI on reference-quantile bins and KS are rank statistics, so
 * their null (both samples from one continuous distribution) is that of
 * the statistic on the pooled ranks 0..n-1 split at random into the two
 * samples - the values the alerts processor passes in. Simulating that
 * permutation directly is exact for ranks and needs neither sorting nor
 * the reference itself: a partial shuffle picks the ncur current ranks,
 * and current rank j in order has p_j - j reference ranks below it, which
 * fixes every reference order statistic (m plus the current ranks below
 * it). PSI's edges interpolate two of those and KS's walk peaks just
 * before or after a current rank, so a draw costs an insertion sort of
 * ncur ranks plus O(nbins log ncur + ncur log nbins), whatever nref, and
 * uses the same floating-point expressions as the statistics on listed
 * samples, hence gives the same bits (sorting each draw's samples, then
 * listing them in O(nref), were each most of a simulated dev run's CPU).
 * For raw values the null of KS is the same; that of PSI differs only
 * where a current value falls between the two reference values a bin
 * edge interpolates, which ranks and values can order differently. The
 * change detectors are calibrated the other way round, from a target:
 * Page-Hinkley with alpha = 1 is a two-sided CUSUM, for which Siegmund's
 * approximation gives the threshold in closed form; ADWIN's union of
 * Bernstein bounds has no usable closed form (its nominal delta is far
 * from its real false-alarm rate), so its delta is the quantile of the
 * per-stream critical delta, computed by running the detector itself.
 */
#include "model/learn/jp_drift.h"

#include "model/base/jp_err.h"
#include "model/base/jp_rng.h"
#include "model/base/jp_search.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int jp_drift_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *jp_drift_sorted_copy(const double *v, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return NULL;
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, jp_drift_cmp_double);
    return s;
}

/* ---- PSI ------------------------------------------------------------- */

/* Where the q quantile of n sorted values lies: between values *lo and
 * *lo + 1 at the returned fraction, or at the last value if *lo >= n - 1.
 * Shared by the value and the rank paths so that both give the same bits. */
static double jp_drift_quantile_at(size_t n, double q, size_t *lo)
{
    /* NumPy 'linear' (Hyndman-Fan type 7): h = (n-1) q. */
    double h = (double)(n - 1) * q;
    *lo = (size_t)floor(h);
    return h - (double)*lo;
}

/* NumPy's _lerp: a + (b - a) t, evaluated from the nearer end. */
static double jp_drift_lerp(double a, double b, double frac)
{
    double d = b - a;
    double r = a + d * frac;
    if (frac >= 0.5)
        r = b - d * (1.0 - frac);
    return r;
}

double jp_drift_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    size_t lo;
    double frac = jp_drift_quantile_at(n, q, &lo);
    return lo >= n - 1 ? sorted[n - 1] : jp_drift_lerp(sorted[lo], sorted[lo + 1], frac);
}

static void jp_drift_edges_sorted(const double *sorted, size_t n, size_t nbins, double *edges)
{
    for (size_t i = 1; i < nbins; i++)
        edges[i - 1] = jp_drift_quantile_sorted(sorted, n, (double)i / (double)nbins);
}

static int jp_drift_check_edges(size_t nref, size_t nbins, char *errstr, size_t errstr_size)
{
    if (nref == 0 || nbins < 1) {
        jp_err_set(errstr, errstr_size, "quantile edges need a non-empty reference and >= 1 bin");
        return -1;
    }
    return 0;
}

int jp_drift_quantile_edges(const double *ref, size_t nref, size_t nbins, double *edges,
                            char *errstr, size_t errstr_size)
{
    if (jp_drift_check_edges(nref, nbins, errstr, errstr_size) != 0)
        return -1;
    double *s = jp_drift_sorted_copy(ref, nref);
    if (!s) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    jp_drift_edges_sorted(s, nref, nbins, edges);
    free(s);
    return 0;
}

size_t jp_drift_bin_index(const double *edges, size_t nedges, double x)
{
    return jp_search_right(edges, nedges, x);
}

double jp_drift_psi_counts(const double *ref_counts, const double *cur_counts, size_t k, double eps)
{
    double rt = 0, ct = 0;
    for (size_t i = 0; i < k; i++) {
        rt += ref_counts[i];
        ct += cur_counts[i];
    }
    if (!(rt > 0) || !(ct > 0))
        return NAN;
    double psi = 0;
    for (size_t i = 0; i < k; i++) {
        double r = ref_counts[i] / rt, c = cur_counts[i] / ct;
        if (r == 0)
            r = eps;
        if (c == 0)
            c = eps;
        psi += (r - c) * log(r / c);
    }
    return psi;
}

/* PSI with nbins reference-quantile bins of an ascending reference and a
 * current sample in any order; edges (nbins - 1) and counts (2 nbins,
 * zeroed here) are scratch. The reference is counted by binary searches
 * for the edges, not value by value: bin b holds the values in [e_{b-1},
 * e_b), so its count is the difference of two side='left' positions.
 * Counts are whole numbers, so the result is the same to the bit as
 * counting one value at a time. */
static double jp_drift_psi_sorted(const double *ref, size_t nref, const double *cur, size_t ncur,
                                  size_t nbins, double eps, double *edges, double *counts)
{
    double *rc = counts, *cc = counts + nbins;
    jp_drift_edges_sorted(ref, nref, nbins, edges);
    size_t below = 0;
    for (size_t b = 0; b < nbins; b++) {
        size_t upto = b + 1 < nbins ? jp_search_left(ref, nref, edges[b]) : nref;
        rc[b] = (double)(upto - below);
        cc[b] = 0;
        below = upto;
    }
    for (size_t i = 0; i < ncur; i++)
        cc[jp_drift_bin_index(edges, nbins - 1, cur[i])] += 1;
    return jp_drift_psi_counts(rc, cc, nbins, eps);
}

/* Reference order statistic m (0-based) of the ranks 0..nref+k-1 when the
 * current sample holds the ascending ranks p[0..k): m plus the number of
 * current ranks below it. Current rank j has p[j] - j reference ranks
 * below it, which never decreases with j, so the current ranks below
 * reference m are the j with p[j] - j <= m: a binary search, not a list
 * of the reference. */
static double jp_drift_rank_ref(const size_t *p, size_t k, size_t m)
{
    size_t lo = 0, hi = k;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid] - mid <= m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (double)(m + lo);
}

/* jp_drift_psi_sorted for the split of the ranks 0..nref+k-1 into the
 * ascending current ranks p[0..k) and the reference (the others), in
 * O(nbins log k + k log nbins) whatever nref. An edge needs only the two
 * reference values it interpolates, and its side='left' position in the
 * strictly increasing reference is lo + 1 unless it lands on the lower
 * value. Same edges, same whole counts, same jp_drift_psi_counts call: the
 * same bits as listing the reference. */
static double jp_drift_psi_ranks(const size_t *p, size_t k, size_t nref, size_t nbins, double eps,
                                 double *edges, double *counts)
{
    double *rc = counts, *cc = counts + nbins;
    size_t below = 0;
    for (size_t b = 0; b < nbins; b++) {
        size_t upto = nref;
        if (b + 1 < nbins) {
            size_t lo;
            double frac = jp_drift_quantile_at(nref, (double)(b + 1) / (double)nbins, &lo);
            if (lo >= nref - 1) {
                edges[b] = jp_drift_rank_ref(p, k, nref - 1);
                upto = nref - 1;
            } else {
                double a = jp_drift_rank_ref(p, k, lo);
                edges[b] = jp_drift_lerp(a, jp_drift_rank_ref(p, k, lo + 1), frac);
                upto = edges[b] > a ? lo + 1 : lo;
            }
        }
        rc[b] = (double)(upto - below);
        cc[b] = 0;
        below = upto;
    }
    for (size_t j = 0; j < k; j++)
        cc[jp_drift_bin_index(edges, nbins - 1, (double)p[j])] += 1;
    return jp_drift_psi_counts(rc, cc, nbins, eps);
}

int jp_drift_psi(const double *ref, size_t nref, const double *cur, size_t ncur, size_t nbins,
                 double eps, double *psi, char *errstr, size_t errstr_size)
{
    if (ncur == 0) {
        jp_err_set(errstr, errstr_size, "PSI needs a non-empty current sample");
        return -1;
    }
    if (jp_drift_check_edges(nref, nbins, errstr, errstr_size) != 0)
        return -1;
    double *edges = malloc(nbins * sizeof *edges);
    double *counts = malloc(2 * nbins * sizeof *counts);
    double *s = jp_drift_sorted_copy(ref, nref);
    if (!edges || !counts || !s) {
        free(edges);
        free(counts);
        free(s);
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    *psi = jp_drift_psi_sorted(s, nref, cur, ncur, nbins, eps, edges, counts);
    free(edges);
    free(counts);
    free(s);
    return 0;
}

double jp_drift_psi_categorical(const double *ref_counts, const double *cur_counts, size_t k,
                                double cur_unseen, double eps)
{
    double rt = 0, ct = cur_unseen;
    for (size_t i = 0; i < k; i++) {
        rt += ref_counts[i];
        ct += cur_counts[i];
    }
    if (!(rt > 0) || !(ct > 0))
        return NAN;
    double psi = 0;
    for (size_t i = 0; i <= k; i++) {
        double r = i < k ? ref_counts[i] / rt : 0.0;
        double c = (i < k ? cur_counts[i] : cur_unseen) / ct;
        if (r == 0)
            r = eps;
        if (c == 0)
            c = eps;
        psi += (r - c) * log(r / c);
    }
    return psi;
}

/* ---- thresholds ------------------------------------------------------- */

void jp_drift_psi_small_sample(size_t ncur, size_t *nbins, double *eps)
{
    size_t k = ncur / 10;
    *nbins = k < 3 ? 3 : k > JP_DRIFT_PSI_BINS ? JP_DRIFT_PSI_BINS : k;
    *eps = 0.5 / (double)(ncur ? ncur : 1);
}

/* The (1 - alpha) quantile of v[0..n) (sorted here): at most alpha n of
 * the values exceed it. */
static double jp_drift_upper_quantile(double *v, size_t n, double alpha)
{
    qsort(v, n, sizeof *v, jp_drift_cmp_double);
    double k = ceil((1.0 - alpha) * (double)n);
    size_t i = k < 1.0 ? 0 : (size_t)k - 1;
    return v[i < n ? i : n - 1];
}

static int jp_drift_check_alpha(double alpha, uint32_t reps, char *errstr, size_t errstr_size)
{
    if (!(alpha > 0.0 && alpha < 1.0) || (double)reps * alpha < 10.0) {
        jp_err_set(errstr, errstr_size,
                   "drift threshold: need 0 < alpha < 1 and reps >= 10 / alpha "
                   "(got %g, %u)",
                   alpha, reps);
        return -1;
    }
    return 0;
}

static double jp_drift_ks_sorted(const double *a, size_t nx, const double *b, size_t ny);
static double jp_drift_ks_ranks(const size_t *p, size_t nx, size_t ny);

/* Above this many current ranks the rank path's binary searches and
 * insertion sort stop paying; the draw then lists both samples in O(n). */
#define JP_DRIFT_RANK_PATH_MAX 64

int jp_drift_null_threshold(jp_drift_stat_t stat, size_t nref, size_t ncur, size_t nbins,
                            double eps, double alpha, uint32_t reps, uint64_t seed,
                            double *threshold, char *errstr, size_t errstr_size)
{
    if (jp_drift_check_alpha(alpha, reps, errstr, errstr_size) != 0)
        return -1;
    if (nref == 0 || ncur == 0 || (stat == JP_DRIFT_STAT_PSI && nbins < 2) ||
        (stat != JP_DRIFT_STAT_PSI && stat != JP_DRIFT_STAT_KS)) {
        jp_err_set(errstr, errstr_size,
                   "drift threshold: need non-empty samples, a known statistic and "
                   ">= 2 bins");
        return -1;
    }
    size_t n = nref + ncur, nb = stat == JP_DRIFT_STAT_PSI ? nbins : 1;
    size_t *pos = malloc(n * sizeof *pos);
    unsigned char *is_cur = calloc(n, 1);
    double *ranks = malloc(n * sizeof *ranks);
    double *scratch = malloc(3 * nb * sizeof *scratch);
    double *sims = malloc((size_t)reps * sizeof *sims);
    if (!pos || !is_cur || !ranks || !scratch || !sims) {
        free(pos);
        free(is_cur);
        free(ranks);
        free(scratch);
        free(sims);
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        pos[i] = i;
    double *ref = ranks, *cur = ranks + nref;
    size_t sorted_pos[JP_DRIFT_RANK_PATH_MAX];
    jp_rng_t g;
    jp_rng_seed(&g, seed);
    for (uint32_t r = 0; r < reps; r++) {
        /* A partial Fisher-Yates shuffle puts a uniform random ncur-subset
         * of the pooled ranks in pos[0..ncur) whatever order earlier
         * replications left pos in, so it is never reset. */
        for (size_t i = 0; i < ncur; i++) {
            size_t k = i + (size_t)jp_rng_below(&g, n - i);
            size_t t = pos[i];
            pos[i] = pos[k];
            pos[k] = t;
        }
        if (ncur <= JP_DRIFT_RANK_PATH_MAX) {
            /* The statistics need only the current ranks in order. */
            for (size_t i = 0; i < ncur; i++) {
                size_t v = pos[i], j = i;
                for (; j > 0 && sorted_pos[j - 1] > v; j--)
                    sorted_pos[j] = sorted_pos[j - 1];
                sorted_pos[j] = v;
            }
            sims[r] = stat == JP_DRIFT_STAT_PSI ? jp_drift_psi_ranks(sorted_pos, ncur, nref, nbins,
                                                                     eps, scratch, scratch + nb)
                                                : jp_drift_ks_ranks(sorted_pos, nref, ncur);
            continue;
        }
        for (size_t i = 0; i < ncur; i++)
            is_cur[pos[i]] = 1;
        /* One pass over the ranks splits them into both samples, each
         * already ascending, and clears the mask for the next draw. */
        size_t a = 0, b = 0;
        for (size_t i = 0; i < n; i++) {
            if (is_cur[i])
                cur[b++] = (double)i;
            else
                ref[a++] = (double)i;
            is_cur[i] = 0;
        }
        sims[r] = stat == JP_DRIFT_STAT_PSI
                      ? jp_drift_psi_sorted(ref, nref, cur, ncur, nbins, eps, scratch, scratch + nb)
                      : jp_drift_ks_sorted(ref, nref, cur, ncur);
    }
    *threshold = jp_drift_upper_quantile(sims, reps, alpha);
    free(pos);
    free(is_cur);
    free(ranks);
    free(scratch);
    free(sims);
    return 0;
}

int jp_drift_psi_categorical_threshold(const double *ref_counts, size_t k, double ncur, double eps,
                                       double alpha, uint32_t reps, uint64_t seed,
                                       double *threshold, char *errstr, size_t errstr_size)
{
    if (jp_drift_check_alpha(alpha, reps, errstr, errstr_size) != 0)
        return -1;
    double nref = 0.0;
    for (size_t i = 0; i < k; i++)
        nref += ref_counts[i] > 0.0 ? ref_counts[i] : 0.0;
    if (k == 0 || !(nref > 0.0) || !(ncur >= 1.0) || !isfinite(nref + ncur)) {
        jp_err_set(errstr, errstr_size,
                   "categorical PSI threshold: need reference counts and ncur >= 1");
        return -1;
    }
    double *rc = malloc(2 * k * sizeof *rc), *sims = malloc((size_t)reps * sizeof *sims);
    if (!rc || !sims) {
        free(rc);
        free(sims);
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    double *cc = rc + k;
    jp_rng_t g;
    jp_rng_seed(&g, seed);
    for (uint32_t r = 0; r < reps; r++) {
        double psi = NAN;
        /* Redraw the (rare) draws with an empty sample. */
        for (int attempt = 0; attempt < 1000 && isnan(psi); attempt++) {
            double unseen = 0.0;
            for (size_t i = 0; i < k; i++) {
                double share = ref_counts[i] > 0.0 ? ref_counts[i] / nref : 0.0;
                rc[i] = (double)jp_rng_poisson(&g, nref * share);
                cc[i] = (double)jp_rng_poisson(&g, ncur * share);
                if (rc[i] == 0.0) {
                    unseen += cc[i];
                    cc[i] = 0.0;
                }
            }
            psi = jp_drift_psi_categorical(rc, cc, k, unseen, eps);
        }
        sims[r] = isnan(psi) ? 0.0 : psi;
    }
    *threshold = jp_drift_upper_quantile(sims, reps, alpha);
    free(rc);
    free(sims);
    return 0;
}

double jp_drift_arl0_from_rate(double rate, uint64_t n)
{
    return (double)n / -log1p(-rate);
}

double jp_drift_rate_from_arl0(double arl0, uint64_t n)
{
    return -expm1(-(double)n / arl0);
}

static int jp_drift_check_target(const jp_drift_target_t *t, char *errstr, size_t errstr_size)
{
    if (!(t->false_alarm_rate > 0.0 && t->false_alarm_rate < 1.0) || t->n_points == 0 ||
        !(t->shift_sd > 0.0) || !(t->noise_sd > 0.0) || !isfinite(t->shift_sd + t->noise_sd)) {
        jp_err_set(errstr, errstr_size,
                   "drift target: need 0 < false_alarm_rate < 1, n_points >= 1, "
                   "shift_sd > 0 "
                   "and noise_sd > 0");
        return -1;
    }
    return 0;
}

/* ---- Jensen-Shannon --------------------------------------------------- */

/* scipy.special.rel_entr(x, y) = x ln(x/y) for x > 0, 0 at x = 0. */
static double jp_drift_rel_entr(double x, double y)
{
    if (x > 0 && y > 0)
        return x * log(x / y);
    if (x == 0 && y >= 0)
        return 0;
    return INFINITY;
}

double jp_drift_js_distance(const double *p, const double *q, size_t k)
{
    double ps = 0, qs = 0;
    for (size_t i = 0; i < k; i++) {
        ps += p[i];
        qs += q[i];
    }
    if (!(ps > 0) || !(qs > 0))
        return NAN;
    double left = 0, right = 0;
    for (size_t i = 0; i < k; i++) {
        double pi = p[i] / ps, qi = q[i] / qs;
        double m = (pi + qi) / 2.0;
        left += jp_drift_rel_entr(pi, m);
        right += jp_drift_rel_entr(qi, m);
    }
    double js = (left + right) / 2.0 / log(2.0);
    return sqrt(js > 0 ? js : 0);
}

/* ---- Kolmogorov-Smirnov ---------------------------------------------- */

#define JP_KS_E128 128

static double jp_drift_clip01(double p)
{
    return p < 0 ? 0 : (p > 1 ? 1 : p);
}

double jp_drift_smirnov_sf(uint64_t n, double d)
{
    if (n == 0 || isnan(d))
        return NAN;
    if (d >= 1.0)
        return 0.0;
    if (d <= 0.0)
        return 1.0;
    double nd = (double)n;
    if (n > 1000000) {
        /* cephes: p ~ exp(-(6nx+1)^2 / 18n) beyond SMIRNOV_MAX_COMPUTE_N. */
        double t = 6.0 * nd * d + 1.0;
        return exp(-t * t / 18.0 / nd);
    }
    /* Smirnov (1944): P(D+ >= d) = d sum_{j=0}^{floor(n(1-d))} C(n,j)
     * (1 - d - j/n)^(n-j) (d + j/n)^(j-1). */
    uint64_t jmax = (uint64_t)floor(nd * (1.0 - d));
    double lgn1 = lgamma(nd + 1.0);
    double sum = 0;
    for (uint64_t j = 0; j <= jmax; j++) {
        double jd = (double)j;
        double a = 1.0 - d - jd / nd;
        double b = d + jd / nd;
        double la;
        if (a <= 0) {
            if (j != n)
                continue;
            la = 0;
        } else {
            la = (nd - jd) * log(a);
        }
        double lt = lgn1 - lgamma(jd + 1.0) - lgamma(nd - jd + 1.0) + la + (jd - 1.0) * log(b);
        sum += exp(lt);
    }
    return jp_drift_clip01(d * sum);
}

/* Square matrix product c = a b (m x m, row-major); c must not alias. */
static void jp_drift_matmul(const double *a, const double *b, double *c, int m)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < m; j++)
            c[i * m + j] = 0;
        for (int l = 0; l < m; l++) {
            double ail = a[i * m + l];
            if (ail == 0)
                continue;
            for (int j = 0; j < m; j++)
                c[i * m + j] += ail * b[l * m + j];
        }
    }
}

/* Durbin (1968) matrix method with Marsaglia-Tsang-Wang (2003) scaling:
 * P(D_n <= d). Returns NaN on allocation failure. */
static double jp_drift_kolmogn_dmtw(uint64_t n, double d)
{
    if (d >= 1.0)
        return 1.0;
    double nd = (double)n * d;
    if (nd <= 0.5)
        return 0.0;
    int k = (int)ceil(nd);
    double h = k - nd;
    int m = 2 * k - 1;
    size_t mm = (size_t)m * (size_t)m;
    double *buf = calloc(4 * mm + 2 * (size_t)m, sizeof *buf);
    if (!buf)
        return NAN;
    double *H = buf, *P = buf + mm, *T = buf + 2 * mm, *T2 = buf + 3 * mm;
    double *v = buf + 4 * mm, *w = v + m;
    double fac = 1.0;
    for (int j = 1; j <= m; j++) {
        w[j - 1] = fac;
        fac /= j;
        v[j - 1] = (1.0 - pow(h, j)) * fac;
    }
    double base = 2 * h - 1.0;
    double tt = pow(base > 0 ? base : 0, m) - 2 * pow(h, m);
    v[m - 1] = (1.0 + tt) * fac;
    for (int i = 1; i < m; i++)
        for (int r = i - 1; r < m; r++)
            H[r * m + i] = w[r - (i - 1)];
    for (int r = 0; r < m; r++)
        H[r * m] = v[r];
    for (int c = 0; c < m; c++)
        H[(m - 1) * m + c] = v[m - 1 - c];

    for (int i = 0; i < m; i++)
        P[i * m + i] = 1.0;
    uint64_t nn = n;
    long expnt = 0, hexpnt = 0;
    const double ep128 = ldexp(1.0, JP_KS_E128), em128 = ldexp(1.0, -JP_KS_E128);
    while (nn > 0) {
        if (nn % 2) {
            jp_drift_matmul(P, H, T, m);
            memcpy(P, T, mm * sizeof *P);
            expnt += hexpnt;
        }
        jp_drift_matmul(H, H, T2, m);
        memcpy(H, T2, mm * sizeof *H);
        hexpnt *= 2;
        if (fabs(H[(k - 1) * m + (k - 1)]) > ep128) {
            for (size_t i = 0; i < mm; i++)
                H[i] /= ep128;
            hexpnt += JP_KS_E128;
        }
        nn /= 2;
    }
    double p = P[(k - 1) * m + (k - 1)];
    free(buf);
    for (uint64_t i = 1; i <= n; i++) {
        p = (double)i * p / (double)n;
        if (fabs(p) < em128) {
            p *= ep128;
            expnt -= JP_KS_E128;
        }
    }
    if (expnt != 0)
        p = ldexp(p, (int)expnt);
    return jp_drift_clip01(p);
}

static void jp_drift_pomeranz_j1j2(long i, long n, long ll, long ceilf, long roundf, long *j1o,
                                   long *j2o)
{
    long j1, j2;
    if (i == 0) {
        j1 = -ll - ceilf - 1;
        j2 = ll + ceilf - 1;
    } else {
        long ip1div2 = (i + 1) / 2, ip1mod2 = (i + 1) % 2;
        if (ip1mod2 == 0) {
            if (ip1div2 == n + 1) {
                j1 = n - ll - ceilf - 1;
                j2 = n + ll + ceilf - 1;
            } else {
                j1 = ip1div2 - 1 - ll - roundf - 1;
                j2 = ip1div2 + ll - 1 + ceilf - 1;
            }
        } else {
            j1 = ip1div2 - 1 - ll - 1;
            j2 = ip1div2 + ll + roundf - 1;
        }
    }
    *j1o = j1 + 2 > 0 ? j1 + 2 : 0;
    *j2o = j2 < n ? j2 : n;
}

/* Pomeranz (1974) recursion: P(D_n <= x). NaN on allocation failure. */
static double jp_drift_kolmogn_pomeranz(uint64_t nu, double x)
{
    long n = (long)nu;
    double t = (double)n * x;
    long ll = (long)floor(t);
    double f = t - (double)ll;
    double g = f < 1.0 - f ? f : 1.0 - f;
    long ceilf = f > 0 ? 1 : 0;
    long roundf = f > 0.5 ? 1 : 0;
    long npwrs = 2 * (ll + 1);
    double *buf = calloc(6 * (size_t)npwrs, sizeof *buf);
    if (!buf)
        return NAN;
    double *gpower = buf, *twogpower = buf + npwrs, *onem2gpower = buf + 2 * npwrs;
    double *V0 = buf + 3 * npwrs, *V1 = buf + 4 * npwrs, *conv = buf + 5 * npwrs;
    const double ep128 = ldexp(1.0, JP_KS_E128), em128 = ldexp(1.0, -JP_KS_E128);
    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
    long expnt = 0;
    double gn = g / (double)n, g2n = 2 * g / (double)n, om2gn = (1 - 2 * g) / (double)n;
    for (long m = 1; m < npwrs; m++) {
        gpower[m] = gpower[m - 1] * gn / (double)m;
        twogpower[m] = twogpower[m - 1] * g2n / (double)m;
        onem2gpower[m] = onem2gpower[m - 1] * om2gn / (double)m;
    }
    V1[0] = 1;
    long V0s = 0, V1s = 0, j1, j2;
    jp_drift_pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
    for (long i = 1; i < 2 * n + 2; i++) {
        long k1 = j1;
        double *tmp = V0;
        V0 = V1;
        V1 = tmp;
        long ts = V0s;
        V0s = V1s;
        V1s = ts;
        memset(V1, 0, (size_t)npwrs * sizeof *V1);
        jp_drift_pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
        const double *pwrs;
        if (i == 1 || i == 2 * n + 1)
            pwrs = gpower;
        else
            pwrs = (i % 2) ? twogpower : onem2gpower;
        long ln2 = j2 - k1 + 1;
        if (ln2 > 0) {
            /* np.convolve(V0[k1-V0s : k1-V0s+ln2], pwrs[:ln2]), where NumPy
             * silently truncates slices at the array end. */
            long a0 = k1 - V0s;
            long alen = ln2;
            if (a0 + alen > npwrs)
                alen = npwrs - a0;
            long blen = ln2 < npwrs ? ln2 : npwrs;
            long conv_start = j1 - k1, conv_len = j2 - j1 + 1;
            double vmax = 0;
            for (long c = 0; c < conv_len; c++) {
                long tpos = conv_start + c;
                double s = 0;
                for (long a = 0; a < alen; a++) {
                    long b = tpos - a;
                    if (b >= 0 && b < blen)
                        s += V0[a0 + a] * pwrs[b];
                }
                conv[c] = s;
            }
            for (long c = 0; c < conv_len && c < npwrs; c++) {
                V1[c] = conv[c];
                if (V1[c] > vmax)
                    vmax = V1[c];
            }
            if (0 < vmax && vmax < em128) {
                for (long c = 0; c < npwrs; c++)
                    V1[c] *= ep128;
                expnt -= JP_KS_E128;
            }
            V1s = V0s + j1 - k1;
        }
    }
    double ans = V1[n - V1s];
    free(buf);
    for (long m = 1; m <= n; m++) {
        if (fabs(ans) > ep128) {
            ans *= em128;
            expnt += JP_KS_E128;
        }
        ans *= (double)m;
    }
    if (expnt != 0)
        ans = ldexp(ans, (int)expnt);
    return jp_drift_clip01(ans);
}

/* Pelz & Good (1976) asymptotic series: P(D_n <= x). */
static double jp_drift_kolmogn_pelzgood(uint64_t nu, double x, int cdf)
{
    const double pi = 3.14159265358979323846;
    const double pi2 = pi * pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
    const double sqrt2pi = sqrt(2 * pi), sqrt3 = sqrt(3.0);
    double n = (double)nu;
    if (x <= 0.0)
        return cdf ? 0.0 : 1.0;
    if (x >= 1.0)
        return cdf ? 1.0 : 0.0;
    double z = sqrt(n) * x;
    double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
    double qlog = -pi2 / 8 / z2;
    if (qlog < -708)
        return cdf ? 0.0 : 1.0;
    double q = exp(qlog);
    double k1a = -z2, k1b = pi2 / 4;
    double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
    double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
           k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * pow(z, 8);
    double K[4] = {0, 0, 0, 0};
    long maxk = (long)ceil(16 * z / pi);
    for (long k = maxk; k > 0; k--) {
        double m = 2.0 * (double)k - 1;
        double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
        double qp = pow(q, 8.0 * (double)k);
        double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                       k3a + k3b * m2 + k3c * m4 + k3d * m6};
        for (int i = 0; i < 4; i++)
            K[i] = K[i] * qp + c[i];
    }
    double div[4] = {z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)};
    for (int i = 0; i < 4; i++)
        K[i] = K[i] * q * sqrt2pi / div[i];
    q = exp(-pi2 / 2 / z2);
    double k2extra = 0, k3extra = 0;
    for (long k = maxk; k > 0; k--) {
        double kd = (double)k, ks = kd * kd;
        double qp = pow(q, ks);
        double kspi = pi * kd;
        k2extra += ks * qp;
        k3extra += (sqrt3 * z + kspi) * (sqrt3 * z - kspi) * ks * qp;
    }
    K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
    K[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
    for (int i = 0; i < 4; i++)
        K[i] /= pow(n, i / 2.0);
    if (!cdf) {
        for (int i = 0; i < 4; i++)
            K[i] = -K[i];
        K[0] += 1;
    }
    return K[0] + K[1] + K[2] + K[3];
}

/* ln(n!) - n ln(n), Stirling series as in scipy. */
static double jp_drift_log_nfact_div_npow(double n)
{
    static const double c[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                               -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                               -5.952380952380952381e-4,  7.9365079365079365079e-4,
                               -2.7777777777777777778e-3, 8.3333333333333333333e-2};
    double rn = 1.0 / n, x = rn / n, poly = 0;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        poly = poly * x + c[i];
    return log(n) / 2 - n + log(2 * 3.14159265358979323846) / 2 + rn * poly;
}

/* Two-sided Kolmogorov distribution: cdf ? P(D_n <= x) : P(D_n > x). */
static double jp_drift_kolmogn(uint64_t nu, double x, int cdf)
{
    double n = (double)nu;
    if (nu == 0 || isnan(x))
        return NAN;
    if (x >= 1.0)
        return cdf ? 1.0 : 0.0;
    if (x <= 0.0)
        return cdf ? 0.0 : 1.0;
    double t = n * x, p;
    if (t <= 1.0) {
        if (t <= 0.5)
            return cdf ? 0.0 : 1.0;
        if (nu <= 140) {
            p = 1.0;
            for (uint64_t i = 1; i <= nu; i++)
                p *= (double)i * (1.0 / n) * (2 * t - 1);
        } else {
            p = exp(jp_drift_log_nfact_div_npow(n) + n * log(2 * t - 1));
        }
        return jp_drift_clip01(cdf ? p : 1.0 - p);
    }
    if (t >= n - 1) {
        p = 2 * pow(1.0 - x, n);
        return jp_drift_clip01(cdf ? 1 - p : p);
    }
    if (x >= 0.5) {
        p = 2 * jp_drift_smirnov_sf(nu, x);
        return jp_drift_clip01(cdf ? 1.0 - p : p);
    }
    double nx2 = t * x;
    if (nu <= 140) {
        if (nx2 <= 0.754693) {
            p = jp_drift_kolmogn_dmtw(nu, x);
            return jp_drift_clip01(cdf ? p : 1.0 - p);
        }
        if (nx2 <= 4) {
            p = jp_drift_kolmogn_pomeranz(nu, x);
            return jp_drift_clip01(cdf ? p : 1.0 - p);
        }
        p = 2 * jp_drift_smirnov_sf(nu, x);
        return jp_drift_clip01(cdf ? 1.0 - p : p);
    }
    if (!cdf) {
        if (nx2 >= 370.0)
            return 0.0;
        if (nx2 >= 2.2)
            return jp_drift_clip01(2 * jp_drift_smirnov_sf(nu, x));
    }
    double cdfprob;
    if (nx2 >= 18.0)
        cdfprob = 1.0;
    else if (nu <= 100000 && n * pow(x, 1.5) <= 1.4)
        cdfprob = jp_drift_kolmogn_dmtw(nu, x);
    else
        cdfprob = jp_drift_kolmogn_pelzgood(nu, x, 1);
    return jp_drift_clip01(cdf ? cdfprob : 1.0 - cdfprob);
}

double jp_drift_kolmogorov_sf(uint64_t n, double d)
{
    if (n == 0 || isnan(d))
        return NAN;
    /* kstwo's support is [0.5/n, 1]. */
    if (d <= 0.5 / (double)n)
        return 1.0;
    if (d >= 1.0)
        return 0.0;
    return jp_drift_kolmogn(n, d, 0);
}

/* The ECDF difference after i of nx x's and j of ny y's: one expression
 * for the merge walk and the rank path, so both give the same bits. */
static double jp_drift_ks_diff(size_t i, size_t nx, size_t j, size_t ny)
{
    return (double)i / (double)nx - (double)j / (double)ny;
}

/* D from the walk's extreme differences (both start at 0). */
static double jp_drift_ks_of(double maxs, double mins)
{
    double d = -mins > maxs ? -mins : maxs;
    return d > 1 ? 1 : d;
}

/* The KS statistic D of two ascending samples. */
static double jp_drift_ks_sorted(const double *a, size_t nx, const double *b, size_t ny)
{
    /* Merge walk over the pooled values: after consuming every copy of a
     * value from both samples, both ECDFs are right-continuous there (like
     * searchsorted side='right'). */
    size_t i = 0, j = 0;
    double maxs = 0, mins = 0;
    while (i < nx || j < ny) {
        double v;
        if (j >= ny || (i < nx && a[i] <= b[j]))
            v = a[i];
        else
            v = b[j];
        while (i < nx && a[i] <= v)
            i++;
        while (j < ny && b[j] <= v)
            j++;
        double diff = jp_drift_ks_diff(i, nx, j, ny);
        if (diff > maxs)
            maxs = diff;
        if (diff < mins)
            mins = diff;
    }
    return jp_drift_ks_of(maxs, mins);
}

/* jp_drift_ks_sorted for the split of the ranks 0..nx+ny-1 into the
 * ascending current (y) ranks p[0..ny) and the reference (x, the others),
 * in O(ny) whatever nx. The walk's values are distinct, so it visits every
 * (i, j) on the way; diff rises while it consumes x and falls while it
 * consumes y (division and subtraction round monotonically), so its
 * largest value is 0 or the one just before some y_j (i = p[j] - j x's
 * consumed, j y's) and its smallest is 0 or the one just after (j + 1
 * y's). Evaluating only those, with the walk's expression and start at 0,
 * gives the same bits. */
static double jp_drift_ks_ranks(const size_t *p, size_t nx, size_t ny)
{
    double maxs = 0, mins = 0;
    for (size_t j = 0; j < ny; j++) {
        size_t i = p[j] - j;
        double before = jp_drift_ks_diff(i, nx, j, ny), after = jp_drift_ks_diff(i, nx, j + 1, ny);
        if (before > maxs)
            maxs = before;
        if (after < mins)
            mins = after;
    }
    return jp_drift_ks_of(maxs, mins);
}

int jp_drift_ks_2samp(const double *x, size_t nx, const double *y, size_t ny, double *stat,
                      double *pvalue, char *errstr, size_t errstr_size)
{
    if (nx == 0 || ny == 0) {
        jp_err_set(errstr, errstr_size, "ks_2samp needs two non-empty samples");
        return -1;
    }
    double *a = jp_drift_sorted_copy(x, nx);
    double *b = a ? jp_drift_sorted_copy(y, ny) : NULL;
    if (!a || !b) {
        free(a);
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    double d = jp_drift_ks_sorted(a, nx, b, ny);
    free(a);
    free(b);
    double m = (double)(nx > ny ? nx : ny), n = (double)(nx > ny ? ny : nx);
    double en = m * n / (m + n);
    *stat = d;
    if (pvalue)
        *pvalue = jp_drift_clip01(jp_drift_kolmogorov_sf((uint64_t)nearbyint(en), d));
    return 0;
}

/* ---- Page-Hinkley ---------------------------------------------------- */

void jp_ph_params_default(jp_ph_params_t *p)
{
    p->min_instances = 30;
    p->delta = 0.005;
    p->threshold = 50.0;
    p->alpha = 1 - 0.0001;
    p->mode = JP_PH_BOTH;
    p->known_mean = 0;
    p->mean0 = 0.0;
}

void jp_ph_reset(jp_ph_t *ph)
{
    ph->n = 0;
    ph->mean = 0;
    ph->sum_increase = 0;
    ph->sum_decrease = 0;
    ph->min_increase = INFINITY;
    ph->max_decrease = -INFINITY;
    ph->detected = JP_DRIFT_NONE;
}

void jp_ph_init(jp_ph_t *ph, const jp_ph_params_t *params)
{
    if (params)
        ph->p = *params;
    else
        jp_ph_params_default(&ph->p);
    jp_ph_reset(ph);
}

int jp_ph_update(jp_ph_t *ph, double x)
{
    if (ph->detected)
        jp_ph_reset(ph);
    ph->n++;
    ph->mean += (x - ph->mean) / (double)ph->n;
    double dev = x - (ph->p.known_mean ? ph->p.mean0 : ph->mean);
    ph->sum_increase = ph->p.alpha * ph->sum_increase + dev - ph->p.delta;
    ph->sum_decrease = ph->p.alpha * ph->sum_decrease + dev + ph->p.delta;
    if (ph->sum_increase < ph->min_increase)
        ph->min_increase = ph->sum_increase;
    if (ph->sum_decrease > ph->max_decrease)
        ph->max_decrease = ph->sum_decrease;
    if (ph->n < ph->p.min_instances)
        return JP_DRIFT_NONE;
    double ht = ph->sum_increase - ph->min_increase;
    double lt = ph->max_decrease - ph->sum_decrease;
    int up = ht > ph->p.threshold, down = lt > ph->p.threshold;
    if (ph->p.mode != JP_PH_DOWN && up)
        ph->detected = JP_DRIFT_UP;
    else if (ph->p.mode != JP_PH_UP && down)
        ph->detected = JP_DRIFT_DOWN;
    return ph->detected;
}

/* Siegmund's approximation of a one-sided CUSUM's ARL for increments of
 * drift mu (in noise sds) and threshold b = h + 1.166. */
static double jp_drift_siegmund_arl(double mu, double b)
{
    if (fabs(mu) < 1e-12)
        return b * b;
    return (exp(-2.0 * mu * b) + 2.0 * mu * b - 1.0) / (2.0 * mu * mu);
}

int jp_ph_calibrate(const jp_drift_target_t *target, double mean0, jp_ph_params_t *out,
                    double *arl1, char *errstr, size_t errstr_size)
{
    if (jp_drift_check_target(target, errstr, errstr_size) != 0)
        return -1;
    double k = target->shift_sd / 2.0;
    double want = 2.0 * jp_drift_arl0_from_rate(target->false_alarm_rate, target->n_points);
    double lo = 0.0, hi = 1.0;
    while (jp_drift_siegmund_arl(-k, hi + 1.166) < want && hi < 1e6)
        hi *= 2.0;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (jp_drift_siegmund_arl(-k, mid + 1.166) < want)
            lo = mid;
        else
            hi = mid;
    }
    jp_ph_params_default(out);
    out->min_instances = 1;
    out->known_mean = 1;
    out->mean0 = mean0;
    out->delta = k * target->noise_sd;
    out->threshold = hi * target->noise_sd;
    out->alpha = 1.0;
    out->mode = JP_PH_BOTH;
    if (arl1)
        *arl1 = jp_drift_siegmund_arl(target->shift_sd - k, hi + 1.166);
    return 0;
}

void jp_ph_serialize(const jp_ph_t *ph, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "PHNK", 2);
    jp_bytes_put_u64(w, ph->p.min_instances);
    jp_bytes_put_f64(w, ph->p.delta);
    jp_bytes_put_f64(w, ph->p.threshold);
    jp_bytes_put_f64(w, ph->p.alpha);
    jp_bytes_put_u8(w, (uint8_t)ph->p.mode);
    jp_bytes_put_u64(w, ph->n);
    jp_bytes_put_f64(w, ph->mean);
    jp_bytes_put_f64(w, ph->sum_increase);
    jp_bytes_put_f64(w, ph->sum_decrease);
    jp_bytes_put_f64(w, ph->min_increase);
    jp_bytes_put_f64(w, ph->max_decrease);
    jp_bytes_put_u8(w, (uint8_t)ph->detected);
    jp_bytes_put_u8(w, (uint8_t)ph->p.known_mean); /* v2 */
    jp_bytes_put_f64(w, ph->p.mean0);
}

int jp_ph_deserialize(jp_ph_t *ph, jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    jp_ph_t t;
    uint16_t version = jp_bytes_get_header(r, "PHNK", 2);
    t.p.min_instances = jp_bytes_get_u64(r);
    t.p.delta = jp_bytes_get_f64(r);
    t.p.threshold = jp_bytes_get_f64(r);
    t.p.alpha = jp_bytes_get_f64(r);
    t.p.mode = jp_bytes_get_u8(r);
    t.n = jp_bytes_get_u64(r);
    t.mean = jp_bytes_get_f64(r);
    t.sum_increase = jp_bytes_get_f64(r);
    t.sum_decrease = jp_bytes_get_f64(r);
    t.min_increase = jp_bytes_get_f64(r);
    t.max_decrease = jp_bytes_get_f64(r);
    t.detected = jp_bytes_get_u8(r);
    t.p.known_mean = version >= 2 ? jp_bytes_get_u8(r) : 0;
    t.p.mean0 = version >= 2 ? jp_bytes_get_f64(r) : 0.0;
    if (!jp_bytes_reader_ok(r) || t.p.mode > JP_PH_DOWN || t.detected > JP_DRIFT_DOWN ||
        t.p.known_mean > 1) {
        jp_err_set(errstr, errstr_size, "corrupt or truncated Page-Hinkley state");
        return -1;
    }
    *ph = t;
    return 0;
}

/* ---- ADWIN ----------------------------------------------------------- */

#define JP_ADWIN_ROWS 64

/* Row i holds buckets of 2^i items, oldest first; each bucket keeps the
 * sum of its values and the sum of squared deviations from its mean. */
typedef struct jp_adwin_row_s {
    uint32_t count;
    double *total;
    double *var;
} jp_adwin_row_t;

struct jp_adwin_s {
    jp_adwin_params_t p;
    double total;    /* sum of the window */
    double variance; /* sum of squared deviations (River's "variance") */
    double width;
    uint64_t tick;
    uint64_t detections;
    int pending_reset; /* the last update detected: the next one starts afresh */
    uint32_t nrows;    /* rows in use */
    jp_adwin_row_t rows[JP_ADWIN_ROWS];
    double *storage;
};

void jp_adwin_params_default(jp_adwin_params_t *p)
{
    p->delta = 0.002;
    p->clock = 32;
    p->max_buckets = 5;
    p->min_window_length = 5;
    p->grace_period = 10;
}

jp_adwin_t *jp_adwin_create(const jp_adwin_params_t *params, char *errstr, size_t errstr_size)
{
    jp_adwin_params_t p;
    if (params)
        p = *params;
    else
        jp_adwin_params_default(&p);
    if (!(p.delta > 0 && p.delta < 1) || p.clock == 0 || p.max_buckets < 2 ||
        p.max_buckets > 1000) {
        jp_err_set(errstr, errstr_size,
                   "ADWIN needs 0 < delta < 1, clock >= 1, 2 <= max_buckets <= 1000");
        return NULL;
    }
    jp_adwin_t *a = calloc(1, sizeof *a);
    size_t per = (size_t)p.max_buckets + 1;
    double *st = a ? calloc(2 * per * JP_ADWIN_ROWS, sizeof *st) : NULL;
    if (!st) {
        free(a);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    a->p = p;
    a->storage = st;
    for (int i = 0; i < JP_ADWIN_ROWS; i++) {
        a->rows[i].total = st + 2 * per * (size_t)i;
        a->rows[i].var = a->rows[i].total + per;
    }
    a->nrows = 1;
    return a;
}

void jp_adwin_free(jp_adwin_t *a)
{
    if (!a)
        return;
    free(a->storage);
    free(a);
}

static void jp_adwin_row_push(jp_adwin_row_t *row, double total, double var)
{
    row->total[row->count] = total;
    row->var[row->count] = var;
    row->count++;
}

static void jp_adwin_row_drop(jp_adwin_row_t *row, uint32_t k)
{
    memmove(row->total, row->total + k, (row->count - k) * sizeof *row->total);
    memmove(row->var, row->var + k, (row->count - k) * sizeof *row->var);
    row->count -= k;
}

static void jp_adwin_compress(jp_adwin_t *a)
{
    for (uint32_t i = 0; i < a->nrows; i++) {
        jp_adwin_row_t *row = &a->rows[i];
        if (row->count <= a->p.max_buckets)
            break;
        if (i + 1 >= JP_ADWIN_ROWS)
            break; /* 2^64 items: unreachable in practice */
        if (i + 1 == a->nrows)
            a->nrows++;
        double n = ldexp(1.0, (int)i);
        double mu1 = row->total[0] / n, mu2 = row->total[1] / n;
        double extra = n * n * (mu1 - mu2) * (mu1 - mu2) / (n + n);
        jp_adwin_row_push(&a->rows[i + 1], row->total[0] + row->total[1],
                          row->var[0] + row->var[1] + extra);
        jp_adwin_row_drop(row, 2);
    }
}

/* Drops the oldest bucket; returns its size. */
static double jp_adwin_delete_oldest(jp_adwin_t *a)
{
    uint32_t i = a->nrows - 1;
    jp_adwin_row_t *row = &a->rows[i];
    double n1 = ldexp(1.0, (int)i);
    a->width -= n1;
    a->total -= row->total[0];
    double u1 = row->total[0] / n1;
    if (a->width > 0) {
        double d = u1 - a->total / a->width;
        a->variance -= row->var[0] + n1 * a->width * d * d / (n1 + a->width);
    } else {
        a->variance = 0;
    }
    jp_adwin_row_drop(row, 1);
    if (row->count == 0 && a->nrows > 1)
        a->nrows--;
    return n1;
}

static int jp_adwin_cut(const jp_adwin_t *a, double n0, double n1, double u0, double u1)
{
    double diff = fabs(u0 / n0 - u1 / n1);
    double v = a->variance / a->width;
    double mlen = (double)a->p.min_window_length;
    double m = 1.0 / (n0 - mlen + 1) + 1.0 / (n1 - mlen + 1);
    double dprime = log(2 * log(a->width) / a->p.delta);
    double eps = sqrt(2 * m * v * dprime) + 2.0 / 3.0 * dprime * m;
    return diff > eps;
}

/* How close this split is to a cut, as s* where eps(s*) = diff: eps(d') =
 * B s + A s^2 with s = sqrt(d'), A = 2m/3, B = sqrt(2 m v) is increasing,
 * so the cut happens iff s < s*, i.e. iff delta > 2 ln(W) exp(-s*^2). The
 * scan keeps the largest s* and takes the exp once per scan, not once per
 * split (the exp and log were 45% of a calibration's time). */
static double jp_adwin_crit_s(const jp_adwin_t *a, double n0, double n1, double u0, double u1)
{
    double diff = fabs(u0 / n0 - u1 / n1);
    double v = a->variance / a->width;
    double mlen = (double)a->p.min_window_length;
    double m = 1.0 / (n0 - mlen + 1) + 1.0 / (n1 - mlen + 1);
    double am = 2.0 / 3.0 * m, b = sqrt(2 * m * v);
    return 2.0 * diff / (b + sqrt(b * b + 4.0 * am * diff)); /* stable root */
}

/* Walks the splits of the window oldest to newest (highest row first,
 * oldest bucket first). Without crit: 1 at the first split whose cut test
 * passes. With crit: never cuts, lowers *crit to the smallest delta that
 * would have cut anywhere, returns 0. */
static int jp_adwin_scan(const jp_adwin_t *a, double *crit)
{
    double n0 = 0, n1 = a->width, u0 = 0, u1 = a->total;
    double s_max = -1.0;
    for (int i = (int)a->nrows - 1; i >= 0; i--) {
        const jp_adwin_row_t *row = &a->rows[i];
        double sz = ldexp(1.0, i);
        for (uint32_t k = 0; k < row->count; k++) {
            n0 += sz;
            n1 -= sz;
            u0 += row->total[k];
            u1 -= row->total[k];
            if (i == 0 && k == row->count - 1)
                break; /* W1 would be empty */
            if (n1 < a->p.min_window_length || n0 < a->p.min_window_length)
                continue;
            if (crit) {
                double sc = jp_adwin_crit_s(a, n0, n1, u0, u1);
                s_max = sc > s_max ? sc : s_max;
            } else if (jp_adwin_cut(a, n0, n1, u0, u1)) {
                return 1;
            }
        }
    }
    if (crit && s_max >= 0) {
        double c = 2 * log(a->width) * exp(-s_max * s_max);
        *crit = c < *crit ? c : *crit;
    }
    return 0;
}

/* An empty window (parameters and the detection count stay). */
static void jp_adwin_clear(jp_adwin_t *a)
{
    a->total = 0;
    a->variance = 0;
    a->width = 0;
    a->tick = 0;
    a->pending_reset = 0;
    for (uint32_t i = 0; i < a->nrows; i++)
        a->rows[i].count = 0;
    a->nrows = 1;
}

/* Adds x to the window and advances the clock; 1 when a check is due. */
static int jp_adwin_insert(jp_adwin_t *a, double x)
{
    if (a->pending_reset)
        jp_adwin_clear(a);
    a->width += 1;
    jp_adwin_row_push(&a->rows[0], x, 0.0);
    if (a->width > 1) {
        double d = x - a->total / (a->width - 1);
        a->variance += (a->width - 1) * d * d / a->width;
    }
    a->total += x;
    jp_adwin_compress(a);
    a->tick++;
    return a->tick % a->p.clock == 0 && a->width > a->p.grace_period;
}

int jp_adwin_update(jp_adwin_t *a, double x)
{
    if (!jp_adwin_insert(a, x))
        return 0;
    int change = 0;
    while (jp_adwin_scan(a, NULL)) {
        change = 1;
        if (a->width > 0)
            jp_adwin_delete_oldest(a);
    }
    if (change) {
        a->detections++;
        a->pending_reset = 1;
    }
    return change;
}

/* Mean number of values until the detector with params fires after the
 * mean moves by shift at value n (false alarms before that reset it). */
static double jp_adwin_mean_delay(jp_adwin_t *a, jp_rng_t *g, const jp_drift_target_t *t,
                                  uint32_t streams)
{
    const uint64_t cap = 100 * t->n_points + 10000;
    double sum = 0.0;
    for (uint32_t r = 0; r < streams; r++) {
        jp_adwin_clear(a);
        for (uint64_t i = 0; i < t->n_points; i++)
            jp_adwin_update(a, t->noise_sd * jp_rng_normal(g));
        uint64_t d = 1;
        while (d < cap && !jp_adwin_update(a, t->noise_sd * (t->shift_sd + jp_rng_normal(g))))
            d++;
        sum += (double)d;
    }
    return sum / streams;
}

/* The record lows of one stream's critical delta: the stream alarms at
 * time t[i] for any delta above v[i] (and not earlier). */
typedef struct {
    uint64_t *t;
    double *v;
    size_t n, cap;
} jp_adwin_lows_t;

static int jp_adwin_lows_push(jp_adwin_lows_t *l, uint64_t t, double v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        uint64_t *nt = realloc(l->t, cap * sizeof *nt);
        if (nt)
            l->t = nt;
        double *nv = nt ? realloc(l->v, cap * sizeof *nv) : NULL;
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->t[l->n] = t;
    l->v[l->n++] = v;
    return 0;
}

/* Alarms per value at delta: streams whose low drops below delta alarm at
 * that time, the others are censored at the horizon (exposure estimate of
 * a constant hazard). first[s] indexes stream s's lows, first[reps] = n. */
static double jp_adwin_hazard(const jp_adwin_lows_t *l, const size_t *first, uint32_t reps,
                              uint64_t horizon, double delta)
{
    double alarms = 0.0, exposure = 0.0;
    for (uint32_t s = 0; s < reps; s++) {
        uint64_t t = horizon;
        for (size_t i = first[s]; i < first[s + 1]; i++) {
            if (l->v[i] < delta) {
                t = l->t[i];
                alarms += 1.0;
                break;
            }
        }
        exposure += (double)t;
    }
    return alarms / exposure;
}

int jp_adwin_calibrate(const jp_drift_target_t *target, uint32_t reps, uint64_t seed,
                       jp_adwin_params_t *out, double *mean_delay, char *errstr, size_t errstr_size)
{
    if (jp_drift_check_target(target, errstr, errstr_size) != 0 ||
        jp_drift_check_alpha(target->false_alarm_rate, reps, errstr, errstr_size) != 0)
        return -1;
    double arl0 = jp_drift_arl0_from_rate(target->false_alarm_rate, target->n_points);
    double cap = 20.0 * (double)target->n_points;
    uint64_t horizon = (uint64_t)ceil(arl0 < cap ? arl0 : cap);
    horizon = horizon > target->n_points ? horizon : target->n_points;
    jp_adwin_params_t p;
    jp_adwin_params_default(&p);
    p.clock = 1;
    jp_adwin_t *a = jp_adwin_create(&p, errstr, errstr_size);
    size_t *first = malloc(((size_t)reps + 1) * sizeof *first);
    jp_adwin_lows_t lows = {NULL, NULL, 0, 0};
    int rc = a && first ? 0 : -1;
    jp_rng_t g;
    jp_rng_seed(&g, seed);
    for (uint32_t r = 0; rc == 0 && r < reps; r++) {
        jp_adwin_clear(a);
        first[r] = lows.n;
        double low = INFINITY;
        for (uint64_t i = 1; rc == 0 && i <= horizon; i++) {
            double c = low;
            if (jp_adwin_insert(a, target->noise_sd * jp_rng_normal(&g)))
                jp_adwin_scan(a, &c);
            if (c < low) {
                low = c;
                rc = jp_adwin_lows_push(&lows, i, c);
            }
        }
    }
    if (rc == 0) {
        first[reps] = lows.n;
        /* The hazard grows with delta: bisect log(delta) for the target's
         * 1 / ARL0. */
        double want = 1.0 / arl0, lo = log(1e-300), hi = log(0.999);
        for (int i = 0; i < 200; i++) {
            double mid = 0.5 * (lo + hi);
            if (jp_adwin_hazard(&lows, first, reps, horizon, exp(mid)) > want)
                hi = mid;
            else
                lo = mid;
        }
        p.delta = exp(lo);
        *out = p;
        if (mean_delay) {
            a->p = p;
            *mean_delay = jp_adwin_mean_delay(a, &g, target, reps < 500 ? reps : 500);
        }
    } else {
        jp_err_set(errstr, errstr_size, "out of memory");
    }
    free(lows.t);
    free(lows.v);
    free(first);
    jp_adwin_free(a);
    return rc;
}

double jp_adwin_width(const jp_adwin_t *a)
{
    return a->width;
}

double jp_adwin_mean(const jp_adwin_t *a)
{
    return a->width > 0 ? a->total / a->width : 0.0;
}

double jp_adwin_variance(const jp_adwin_t *a)
{
    return a->width > 0 ? a->variance / a->width : 0.0;
}

uint64_t jp_adwin_detections(const jp_adwin_t *a)
{
    return a->detections;
}

void jp_adwin_serialize(const jp_adwin_t *a, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "ADWN", 2);
    jp_bytes_put_f64(w, a->p.delta);
    jp_bytes_put_u32(w, a->p.clock);
    jp_bytes_put_u32(w, a->p.max_buckets);
    jp_bytes_put_u32(w, a->p.min_window_length);
    jp_bytes_put_u32(w, a->p.grace_period);
    jp_bytes_put_f64(w, a->total);
    jp_bytes_put_f64(w, a->variance);
    jp_bytes_put_f64(w, a->width);
    jp_bytes_put_u64(w, a->tick);
    jp_bytes_put_u64(w, a->detections);
    jp_bytes_put_u32(w, a->nrows);
    for (uint32_t i = 0; i < a->nrows; i++) {
        jp_bytes_put_u32(w, a->rows[i].count);
        for (uint32_t k = 0; k < a->rows[i].count; k++) {
            jp_bytes_put_f64(w, a->rows[i].total[k]);
            jp_bytes_put_f64(w, a->rows[i].var[k]);
        }
    }
    jp_bytes_put_u8(w, (uint8_t)a->pending_reset); /* v2 */
}

jp_adwin_t *jp_adwin_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    jp_adwin_params_t p;
    uint16_t version = jp_bytes_get_header(r, "ADWN", 2);
    p.delta = jp_bytes_get_f64(r);
    p.clock = jp_bytes_get_u32(r);
    p.max_buckets = jp_bytes_get_u32(r);
    p.min_window_length = jp_bytes_get_u32(r);
    p.grace_period = jp_bytes_get_u32(r);
    if (!jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "corrupt or truncated ADWIN state");
        return NULL;
    }
    jp_adwin_t *a = jp_adwin_create(&p, errstr, errstr_size);
    if (!a)
        return NULL;
    a->total = jp_bytes_get_f64(r);
    a->variance = jp_bytes_get_f64(r);
    a->width = jp_bytes_get_f64(r);
    a->tick = jp_bytes_get_u64(r);
    a->detections = jp_bytes_get_u64(r);
    a->nrows = jp_bytes_get_u32(r);
    int bad = a->nrows < 1 || a->nrows > JP_ADWIN_ROWS;
    for (uint32_t i = 0; !bad && i < a->nrows; i++) {
        uint32_t c = jp_bytes_get_u32(r);
        if (c > p.max_buckets) {
            bad = 1;
            break;
        }
        a->rows[i].count = c;
        for (uint32_t k = 0; k < c; k++) {
            a->rows[i].total[k] = jp_bytes_get_f64(r);
            a->rows[i].var[k] = jp_bytes_get_f64(r);
        }
    }
    uint8_t pending = version >= 2 ? jp_bytes_get_u8(r) : 0;
    a->pending_reset = pending;
    if (bad || pending > 1 || !jp_bytes_reader_ok(r)) {
        jp_adwin_free(a);
        jp_err_set(errstr, errstr_size, "corrupt or truncated ADWIN state");
        return NULL;
    }
    return a;
}
