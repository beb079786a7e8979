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
 *   x10 per attempt (at most 12 attempts). A feature with zero variance in the
 *   window gets coefficient 0 and does not enter predictions.
 * - Bayesian interpretation (fixed hyper-parameters, no evidence
 *   maximization): b ~ N(0, sigma^2/lambda I) in standardized units, a flat
 *   prior on the intercept, and the noise variance estimated as
 *       sigma2 = (RSS + lambda |b|^2) / (W - 1),  W = sum of weights.
 *   The predictive variance at x is
 *       sigma2 * (1 + 1/W + xs' A^-1 xs),  A = Xs' W Xs + lambda I,
 *   xs the standardized centred query, computed as |L^-1 xs|^2 with one
 *   triangular solve (no inverse is formed). Weights are frequency weights.
 * - Condition estimate: (max L_ii / min L_ii)^2 of the Cholesky factor of
 *   the standardized system, a cheap lower bound on cond_2(A).
 * - Determinism: same calls in the same order -> bit-identical state and
 *   serialization. predict/coef/info may run concurrently on one model;
 *   update/advance/fit need exclusive access (they share a scratch buffer).
 * - Cost: update O(p^2), predict mean O(p), mean + variance O(p^2), fit
 *   O(n_blocks p^2 + p^3).
 */
#ifndef JP_RIDGE_H
#define JP_RIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

typedef struct jp_ridge_s jp_ridge_t;

typedef enum { JP_RIDGE_WINDOW = 0, JP_RIDGE_FORGET = 1 } jp_ridge_mode_t;

/* Figures of the last successful fit. */
typedef struct {
    double weight;      /* W: sum of (decayed) weights in the window */
    uint64_t n_samples; /* updates in the window (not decayed) */
    double sigma2;      /* estimated noise variance */
    double cond_est;    /* (max L_ii / min L_ii)^2 */
    double jitter;      /* diagonal jitter that was needed (0 if none) */
    unsigned jitter_steps;
} jp_ridge_info_t;

/* Window mode: n_features >= 1, n_blocks >= 1, lambda >= 0 (finite). NULL on
 * error with a message in errstr. */
jp_ridge_t *jp_ridge_create(size_t n_features, size_t n_blocks, double lambda, char *errstr,
                            size_t errstr_size);

/* Forgetting mode: decays in (0, 1]. */
jp_ridge_t *jp_ridge_create_forgetting(size_t n_features, double lambda, double decay_per_update,
                                       double decay_per_block, char *errstr, size_t errstr_size);

void jp_ridge_free(jp_ridge_t *r);

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

/* -1 before the first fit. */
int jp_ridge_info(const jp_ridge_t *r, jp_ridge_info_t *info);

/* Versioned ("RIDG" v1): configuration, every block and the last fit, so a
 * deserialized model predicts identically and re-serializes to the same
 * bytes. */
void jp_ridge_serialize(const jp_ridge_t *r, jp_bytes_writer_t *w);
jp_ridge_t *jp_ridge_deserialize(jp_bytes_reader_t *rd, char *errstr, size_t errstr_size);

#endif
