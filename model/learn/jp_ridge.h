/*
 * jp_ridge: incremental Bayesian ridge regression from sufficient statistics.
 *
 * Contract:
 * - The model keeps sufficient statistics, never samples. Each sample
 *   z = (x[0..p), y) with weight w >= 0 is added (Welford/West weighted
 *   update) to the current block as (sum of weights, mean vector, centred
 *   co-moment matrix). Nothing is ever subtracted.
 * - Window mode (jp_ridge_create): a ring of n_blocks blocks. jp_ridge_advance
 *   closes the current block and reuses the oldest one (cleared) as the new
 *   current block, so the window is the last n_blocks blocks. jp_ridge_fit
 *   merges the blocks oldest to newest with Chan et al.'s pairwise formulas.
 * - Forgetting mode (jp_ridge_create_forgetting): one block whose weight and
 *   co-moments are multiplied by decay_per_update before every update and by
 *   decay_per_block at every jp_ridge_advance (exponentially weighted
 *   statistics; the mean is unaffected by a uniform decay).
 * - jp_ridge_fit standardizes every feature with the window's weighted mean
 *   and population standard deviation (from the statistics), fits an
 *   unpenalized intercept (by centring) and solves
 *       (Xs' W Xs + lambda I) b = Xs' W (y - ybar)
 *   by Cholesky. A jitter is added to the diagonal only when the
 *   factorization fails (a pivot <= 1e-13 times its diagonal entry, i.e.
 *   numerically singular), starting at 1e-12 * mean diagonal and growing
 *   x10 per attempt (at most 12 attempts).
 * - Pinned features: a feature whose window standard deviation is 0 or at
 *   most JP_RIDGE_PIN_REL_SD (1e-10) times |its window mean| is constant up
 *   to rounding; standardizing it would turn rounding noise into a unit
 *   feature with an arbitrary huge coefficient. It is pinned: coefficient
 *   0 and standard error 0, left out of the system (its level goes to the
 *   intercept), listed by jp_ridge_pinned and counted in the info.
 * - Prior. b ~ N(0, sigma^2/lambda I) in standardized units, a flat prior
 *   on the intercept, p(sigma^2) ~ 1/sigma^2 (conjugate normal-inverse-
 *   gamma). lambda is either fixed (jp_ridge_create's value) or, after
 *   jp_ridge_set_evidence, chosen at every fit by evidence maximisation:
 *   MacKay's fixed-point updates as in scikit-learn's BayesianRidge,
 *       gamma  = sum_i e_i / (e_i + lambda)      (e: eigenvalues of Xs'WXs)
 *       l_w    = (gamma + 2e-6) / (|b|^2 + 2e-6)  (weight precision)
 *       a      = (W - 1 - gamma + 2e-6) / (RSS + 2e-6)  (noise precision)
 *       lambda = l_w / a
 *   in units where y has unit variance (so lambda does not depend on the
 *   scale of y), from lambda = 1 until the relative change is below 1e-10
 *   (at most 1000 iterations; W - 1 because centring spends one degree of
 *   freedom on the intercept).
 * - Noise and predictive: sigma2 = (RSS + lambda |b|^2) / (W - 1),
 *   W = sum of weights (frequency weights). The predictive of a new y at
 *   x is Student-t with scale^2
 *       var = sigma2 * (1 + 1/W + xs' A^-1 xs),  A = Xs' W Xs + lambda I,
 *   xs the standardized centred query (|L^-1 xs|^2, one triangular solve)
 *   and dof degrees of freedom: W - 1 with a fixed prior (the exact
 *   conjugate posterior predictive), max(1, W - 1 - gamma) with the
 *   evidence prior (at the fixed point sigma2 = RSS / (W - 1 - gamma)).
 *   jp_ridge_predict returns var (the t scale squared);
 *   jp_ridge_predict_interval returns mean +- t_dof quantile * sqrt(var).
 * - Coefficient standard errors: the posterior sd given sigma2,
 *   sqrt(sigma2 [A^-1]_jj) / s_j in original units (s_j the feature's sd);
 *   the intercept's is sqrt(var(0) - sigma2). Features may be named
 *   (jp_ridge_set_names) and looked up by name.
 * - Condition estimate: (max L_ii / min L_ii)^2 of the Cholesky factor of
 *   the standardized system, a cheap lower bound on cond_2(A).
 * - Determinism: same calls in the same order -> bit-identical state and
 *   serialization. predict/coef/info may run concurrently on one model;
 *   update/advance/fit need exclusive access (they share a scratch buffer).
 * - Cost: update O(p^2), predict mean O(p), mean + variance O(p^2), fit
 *   O(n_blocks p^2 + p^3) (the evidence prior adds a Jacobi eigen-
 *   decomposition, O(p^3) per sweep, and O(p) per fixed-point iteration).
 */
#ifndef JP_RIDGE_H
#define JP_RIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

typedef struct jp_ridge_s jp_ridge_t;

typedef enum { JP_RIDGE_WINDOW = 0, JP_RIDGE_FORGET = 1 } jp_ridge_mode_t;

#define JP_RIDGE_PIN_REL_SD 1e-10

/* Figures of the last successful fit. */
typedef struct {
    double weight;      /* W: sum of (decayed) weights in the window */
    uint64_t n_samples; /* updates in the window (not decayed) */
    double sigma2;      /* estimated noise variance */
    double cond_est;    /* (max L_ii / min L_ii)^2 */
    double jitter;      /* diagonal jitter that was needed (0 if none) */
    unsigned jitter_steps;
    double lambda;          /* prior ratio used (fixed, or chosen by evidence) */
    double gamma;           /* effective number of parameters */
    double dof;             /* degrees of freedom of the predictive t */
    size_t n_pinned;        /* features pinned (see jp_ridge_pinned) */
    unsigned evidence_iter; /* fixed-point iterations (0: fixed prior) */
} jp_ridge_info_t;

/* Window mode: n_features >= 1, n_blocks >= 1, lambda >= 0 (finite). NULL on
 * error with a message in errstr. */
jp_ridge_t *jp_ridge_create(size_t n_features, size_t n_blocks, double lambda, char *errstr,
                            size_t errstr_size);

/* Forgetting mode: decays in (0, 1]. */
jp_ridge_t *jp_ridge_create_forgetting(size_t n_features, double lambda, double decay_per_update,
                                       double decay_per_block, char *errstr, size_t errstr_size);

void jp_ridge_free(jp_ridge_t *r);

/* Chooses lambda by evidence maximisation at every later fit (on != 0) or
 * goes back to the fixed lambda given at creation (on == 0). */
void jp_ridge_set_evidence(jp_ridge_t *r, int on);

/* Names the features (names[0..p), each non-empty, at most 255 bytes,
 * copied); names may be NULL to remove them. -1 with a message on a bad
 * name or out of memory (the previous names are kept). */
int jp_ridge_set_names(jp_ridge_t *r, const char *const *names, char *errstr, size_t errstr_size);
/* Name of feature j (NULL when unnamed or j >= p). */
const char *jp_ridge_name(const jp_ridge_t *r, size_t j);
/* Index of the feature called name: 0 and *index, or -1 when absent. */
int jp_ridge_index(const jp_ridge_t *r, const char *name, size_t *index);

size_t jp_ridge_n_features(const jp_ridge_t *r);

/* Adds one sample. -1 (state unchanged) when x or y is not finite or w is
 * negative or not finite; w == 0 is a no-op. */
int jp_ridge_update(jp_ridge_t *r, const double *x, double y, double w);

/* Window mode: closes the current block and starts a new (empty) one,
 * dropping the oldest. Forgetting mode: applies decay_per_block. */
void jp_ridge_advance(jp_ridge_t *r);

/* Solves on the current window and keeps the result for predict/coef.
 * -1 when the window's weight is <= 1 or the system cannot be factorized
 * even with jitter; the previous fit is then kept. */
int jp_ridge_fit(jp_ridge_t *r, char *errstr, size_t errstr_size);

/* 1 after a successful fit. */
int jp_ridge_is_fitted(const jp_ridge_t *r);

/* Predictive mean and variance (mean and var may be NULL). -1 before the
 * first fit (or if p > 64 and a temporary buffer cannot be allocated). */
int jp_ridge_predict(const jp_ridge_t *r, const double *x, double *mean, double *var);

/* Coefficients in original units (beta[0..p)) and intercept (may be NULL).
 * -1 before the first fit. */
int jp_ridge_coef(const jp_ridge_t *r, double *beta, double *intercept);

/* Posterior standard deviations of the coefficients in original units
 * (se[0..p), 0 for pinned features) and of the intercept (either may be
 * NULL). -1 before the first fit or when scratch memory is unavailable. */
int jp_ridge_coef_se(const jp_ridge_t *r, double *se, double *intercept_se);

/* Estimate and standard error of the coefficient called name (either
 * pointer may be NULL). -1 before the first fit or for an unknown name. */
int jp_ridge_coef_named(const jp_ridge_t *r, const char *name, double *estimate, double *se);

/* Central predictive interval at level in (0, 1) (e.g. 0.95) from the
 * Student-t predictive; mean may be NULL. -1 before the first fit or for a
 * level outside (0, 1). */
int jp_ridge_predict_interval(const jp_ridge_t *r, const double *x, double level, double *mean,
                              double *lo, double *hi);

/* Pinned features of the last fit: writes up to cap indices (ascending)
 * to idx (may be NULL with cap 0) and returns how many there are. 0
 * before the first fit. */
size_t jp_ridge_pinned(const jp_ridge_t *r, size_t *idx, size_t cap);

/* 1 when feature j was pinned at the last fit, with the constant it was
 * pinned at (its window mean) in *value (may be NULL); 0 when it was not
 * pinned, before the first fit, or j >= p. */
int jp_ridge_pinned_at(const jp_ridge_t *r, size_t j, double *value);

/* -1 before the first fit. */
int jp_ridge_info(const jp_ridge_t *r, jp_ridge_info_t *info);

/* Quantile of Student's t with dof > 0 degrees of freedom at probability
 * prob in (0, 1) (regularized incomplete beta, inverted by bisection to
 * full double precision); NaN outside the domain. */
double jp_ridge_t_quantile(double prob, double dof);

/* Versioned ("RIDG" v2 = the v1 layout followed by a trailer: prior mode,
 * feature names, and for a fitted model lambda, gamma, dof, evidence
 * iterations and the pinned flags): configuration, every block and the
 * last fit, so a deserialized model predicts identically and re-serializes
 * to the same bytes. v1 states are still read (fixed prior, no names; the
 * trailer's figures are recomputed from the stored factor). */
void jp_ridge_serialize(const jp_ridge_t *r, jp_bytes_writer_t *w);
jp_ridge_t *jp_ridge_deserialize(jp_bytes_reader_t *rd, char *errstr, size_t errstr_size);

#endif
