/*
 * jp_eval: streaming evaluation - regression and classification metrics,
 * cumulative and over a rolling window, and prequential evaluation with
 * delayed labels.
 *
 * Contract:
 * - Regression (jp_eval_reg_t): MAE, RMSE, MAPE (mean |y - f| / |y| as a
 *   fraction, over y != 0 only; zero targets are skipped and counted),
 *   sMAPE (mean of 2 |y - f| / (|y| + |f|), a term is 0 when y = f = 0;
 *   range [0, 2]), R2 = 1 - SSE / SST (NaN when SST = 0 or no samples).
 *   Forecast intervals (jp_eval_reg_add_interval): coverage = fraction of
 *   samples with lo <= y <= hi, and the mean width hi - lo, over the
 *   samples that came with an interval (NaN when none did).
 * - Classification (jp_eval_cls_t), y in {0, 1}, p = P(y = 1) in [0, 1]:
 *   label 1 when p >= threshold; accuracy, precision, recall, F1 (each 0
 *   when its denominator is 0); log-loss with p clipped to
 *   [1e-15, 1 - 1e-15] (JP_EVAL_LOGLOSS_EPS); Brier score; calibration in
 *   n_calib_bins equal-width bins on [0, 1] (bin = min(floor(p n), n - 1))
 *   with count, mean predicted p and observed positive rate per bin (0 for
 *   empty bins), and the expected calibration error over those bins,
 *   ECE = sum_b (n_b / n) |mean p_b - observed rate_b|. ROC AUC (Mann-Whitney, ties count 1/2; NaN
 * unless both classes are present): rolling window: EXACT, by sorting the window's scores;
 *     cumulative:     a histogram of auc_bins equal-width score bins per
 *                     class (scores in one bin count as tied), so the error
 *                     is at most half the fraction of positive/negative
 *                     pairs sharing a bin; exact when no such pair exists.
 * - Rolling metrics cover the last `window` samples (a ring); window 0
 *   disables them. They are recomputed from the ring on request (O(window),
 *   O(window log window) for the AUC), never by subtracting.
 * - Prequential (jp_preq_t): jp_preq_predict asks the model for a
 *   prediction and parks it (with a copy of x) under the caller's id;
 *   jp_preq_label scores the parked prediction against the label, THEN
 *   lets the model learn from (x, y), then forgets the id. The pending
 *   buffer holds at most `capacity` ids; when full, the oldest pending
 *   prediction is evicted (counted, O(capacity)). jp_preq_expire drops
 *   predictions whose time t satisfies t + ttl <= now (counted as expired).
 *   For regression, a model with an interval callback also parks its
 *   forecast interval, which is scored for coverage with the label.
 *   Labels for unknown ids are counted and ignored.
 * - No I/O, no clock: times are the caller's (event time).
 * - Serialization (jp_bytes, "EVRG" / "EVCL" v1): the configuration, the
 *   cumulative accumulators, the AUC histogram (its non-zero bins) and the
 *   rolling ring, so a restored evaluator answers and continues exactly as
 *   the original (metrics that survive a restart); a round trip
 *   re-serializes to the same bytes. Prequential evaluators (jp_preq_t)
 *   hold callbacks and are not serialized.
 */
#ifndef JP_EVAL_H
#define JP_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

#define JP_EVAL_LOGLOSS_EPS 1e-15

/* ---- regression ---- */

typedef struct {
    uint64_t n;
    double mae, rmse;
    double mape;
    uint64_t mape_n, mape_skipped; /* targets used / skipped (y == 0) */
    double smape, r2;
    uint64_t interval_n; /* samples that came with an interval */
    double coverage;     /* fraction with lo <= y <= hi */
    double mean_width;   /* mean hi - lo */
} jp_eval_reg_result_t;

typedef struct jp_eval_reg_s jp_eval_reg_t;

jp_eval_reg_t *jp_eval_reg_create(size_t window, char *errstr, size_t errstr_size);
void jp_eval_reg_free(jp_eval_reg_t *e);
/* -1 (ignored) when y or f is not finite. */
int jp_eval_reg_add(jp_eval_reg_t *e, double y, double f);
/* A forecast f with its interval [lo, hi]: scored like jp_eval_reg_add and
 * for coverage. -1 (ignored) when a value is not finite or lo > hi. */
int jp_eval_reg_add_interval(jp_eval_reg_t *e, double y, double f, double lo, double hi);
void jp_eval_reg_cumulative(const jp_eval_reg_t *e, jp_eval_reg_result_t *out);
/* Over the last `window` samples (all zero/NaN when window is 0). */
void jp_eval_reg_rolling(const jp_eval_reg_t *e, jp_eval_reg_result_t *out);

/* ---- classification ---- */

typedef struct {
    size_t window;       /* rolling window (0: none) */
    double threshold;    /* label 1 when p >= threshold (e.g. 0.5) */
    size_t n_calib_bins; /* >= 1 (e.g. 10) */
    size_t auc_bins;     /* cumulative AUC histogram bins, >= 2 (e.g. 65536) */
} jp_eval_cls_config_t;

typedef struct {
    uint64_t n, tp, fp, tn, fn;
    double accuracy, precision, recall, f1;
    double auc, log_loss, brier;
    double ece; /* expected calibration error over the calibration bins */
} jp_eval_cls_result_t;

typedef struct jp_eval_cls_s jp_eval_cls_t;

jp_eval_cls_t *jp_eval_cls_create(const jp_eval_cls_config_t *cfg, char *errstr,
                                  size_t errstr_size);
void jp_eval_cls_free(jp_eval_cls_t *e);
/* -1 (ignored) unless y is 0 or 1 and p is in [0, 1]. */
int jp_eval_cls_add(jp_eval_cls_t *e, int y, double p);
void jp_eval_cls_cumulative(const jp_eval_cls_t *e, jp_eval_cls_result_t *out);
/* -1 on allocation failure (the exact AUC sorts a copy of the window). */
int jp_eval_cls_rolling(const jp_eval_cls_t *e, jp_eval_cls_result_t *out);
/* Calibration table (arrays of n_calib_bins; any may be NULL). rolling
 * selects the window instead of the whole stream. -1 on allocation failure
 * or when n_bins differs from the configured number of bins. */
int jp_eval_cls_calibration(const jp_eval_cls_t *e, int rolling, size_t n_bins, uint64_t *count,
                            double *mean_pred, double *observed);

void jp_eval_reg_serialize(const jp_eval_reg_t *e, jp_bytes_writer_t *w);
jp_eval_reg_t *jp_eval_reg_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);
void jp_eval_cls_serialize(const jp_eval_cls_t *e, jp_bytes_writer_t *w);
jp_eval_cls_t *jp_eval_cls_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

/* ---- prequential evaluation with delayed labels ---- */

typedef enum { JP_PREQ_REGRESSION = 0, JP_PREQ_CLASSIFICATION = 1 } jp_preq_kind_t;

/* The evaluated model. For classification predict returns P(y = 1) and
 * learn receives y as 0.0 / 1.0. learn may be NULL (score only). */
typedef struct {
    double (*predict)(void *model, const double *x);
    void (*learn)(void *model, const double *x, double y);
    void *model;
} jp_preq_model_t;

/* The model's forecast interval at x: 0, or -1 when it has none (the
 * prediction is then scored without one). */
typedef int (*jp_preq_interval_fn)(void *model, const double *x, double *lo, double *hi);

typedef struct {
    jp_preq_kind_t kind;
    size_t n_features;        /* length of x copied per pending prediction (may be 0) */
    size_t capacity;          /* max pending predictions, >= 1 */
    int64_t ttl;              /* jp_preq_expire horizon; <= 0: never expires by time */
    jp_eval_cls_config_t cls; /* classification metrics (window also used for
                                 regression) */
} jp_preq_config_t;

typedef struct {
    uint64_t predictions, labelled, pending, expired, evicted, unmatched, duplicates;
} jp_preq_stats_t;

typedef struct jp_preq_s jp_preq_t;

jp_preq_t *jp_preq_create(const jp_preq_config_t *cfg, const jp_preq_model_t *model, char *errstr,
                          size_t errstr_size);
void jp_preq_free(jp_preq_t *pq);
/* Regression: park the model's interval with every later prediction and
 * score its coverage with the label (fn NULL: no intervals). */
void jp_preq_set_interval(jp_preq_t *pq, jp_preq_interval_fn fn);
/* Predicts for x and parks the prediction under id at time t. -1 (nothing
 * parked, counted as duplicate) when id is already pending. */
int jp_preq_predict(jp_preq_t *pq, uint64_t id, int64_t t, const double *x, double *pred);
/* Scores then learns. -1 when id is not pending (counted as unmatched) or
 * the label is invalid for the kind. */
int jp_preq_label(jp_preq_t *pq, uint64_t id, double y);
/* Drops pending predictions with t + ttl <= now; returns how many. */
size_t jp_preq_expire(jp_preq_t *pq, int64_t now);
void jp_preq_stats(const jp_preq_t *pq, jp_preq_stats_t *out);
/* The metrics of the kind the evaluator was created with (else NULL). */
const jp_eval_reg_t *jp_preq_reg(const jp_preq_t *pq);
const jp_eval_cls_t *jp_preq_cls(const jp_preq_t *pq);

#endif
