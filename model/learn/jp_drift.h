/*
 * jp_drift: drift statistics between a reference window and a current one
 * (PSI, KS, Jensen-Shannon) and stateful change detectors on a stream
 * (Page-Hinkley, ADWIN).
 *
 * Contract and defaults (each with its source; see docs/model-drift.md):
 *
 * - PSI (population stability index) = sum_i (r_i - c_i) * ln(r_i / c_i)
 *   over bin proportions. Numeric bins are cut at reference quantiles
 *   (NumPy's default "linear" quantile); bin i holds e_{i-1} <= x < e_i
 *   (NumPy searchsorted side='right'), the outer bins are open. A proportion
 *   of exactly 0 is replaced by JP_DRIFT_PSI_EPS = 1e-4, the smoothing used
 *   by Evidently (evidently/calculations/stattests/psi.py). Categorical PSI
 *   adds one "unseen" bucket for current values absent from the reference
 *   (reference proportion 0 -> eps). Default bin count JP_DRIFT_PSI_BINS=10
 *   (deciles, the usual credit-scoring convention).
 * - KS: two-sample Kolmogorov-Smirnov statistic D = sup |F1 - F2| and the
 *   two-sided p-value of scipy.stats.ks_2samp(method='asymp') (SciPy 1.10):
 *   the survival function of the one-sample Kolmogorov distribution
 *   scipy.stats.kstwo with n = round(n1*n2/(n1+n2)), computed with the same
 *   algorithm selection as scipy.stats._ksstats._kolmogn (Simard & L'Ecuyer
 *   2011: Ruben-Gambino, Durbin/Marsaglia-Tsang-Wang, Pomeranz, Smirnov's
 *   exact one-sided sum, Pelz-Good). Matches SciPy to 1e-6.
 * - Jensen-Shannon distance with base-2 logarithms, equal to
 *   scipy.spatial.distance.jensenshannon(p, q, base=2): inputs are
 *   normalised to sum 1 first; the result lies in [0, 1].
 * - Thresholds that depend on the sample sizes. Under "no drift" (both
 *   samples iid from one continuous distribution) numeric PSI on
 *   reference-quantile bins and KS depend only on the ranks of the pooled
 *   sample, and every split of the ranks 0..n-1 into nref reference and
 *   ncur current ranks is equally likely: jp_drift_null_threshold draws
 *   such splits (seeded), evaluates the statistic on the rank values and
 *   returns the (1 - alpha) quantile. For callers that pass pooled ranks
 *   this is the exact permutation null, so "drift when stat > threshold"
 *   has false-alarm probability <= alpha (+ Monte Carlo error). For raw
 *   values KS's null is the same, and PSI's differs only where a current
 *   value falls between the two reference values a bin edge interpolates
 *   (values and ranks can put it on different sides of the edge).
 *   Categorical PSI's null depends on the category shares:
 *   jp_drift_psi_categorical_threshold draws reference and current counts
 *   from the reference's shares (seeded parametric bootstrap, Poisson
 *   counts).
 * - Page-Hinkley: River's drift.PageHinkley (river 0.21): min_instances=30,
 *   delta=0.005, threshold=50, alpha=1-0.0001 (fading factor), mode "both".
 *   After a detection the next update resets the detector, as in River.
 *   River measures deviations from the running mean since the last reset,
 *   which absorbs a shift while it accumulates (a 1-sd shift after 52
 *   points took ~200 points to detect even with a calibrated threshold);
 *   known_mean measures them from a fixed mean0 instead. jp_ph_calibrate
 *   chooses (delta, threshold) for a false-alarm target and a shift:
 *   delta = shift / 2, threshold from Siegmund's CUSUM ARL approximation
 *   (alpha = 1, two-sided, known mean).
 * - ADWIN: Bifet & Gavalda (2007), "Learning from time-changing data with
 *   adaptive windowing", with River's drift.ADWIN defaults delta=0.002,
 *   clock=32, max_buckets=5, min_window_length=5, grace_period=10 and its
 *   cut test eps = sqrt(2 m v d') + 2/3 d' m, d' = ln(2 ln(W) / delta).
 *   As in River, the update after a detection starts a new, empty window
 *   (jp_adwin_detections still counts every detection since creation).
 *   jp_adwin_calibrate chooses delta for a false-alarm target by seeded
 *   simulation of the detector itself.
 *
 * Functions that allocate return 0 / -1 with an error message; pure
 * functions return the statistic (NaN on empty input). Samples and stream
 * values must not be NaN (filter them upstream: the result is unspecified).
 * None of these functions keep global state; detectors are plain values
 * (Page-Hinkley) or heap objects (ADWIN) owned by the caller.
 */
#ifndef JP_DRIFT_H
#define JP_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

#define JP_DRIFT_PSI_EPS  1e-4
#define JP_DRIFT_PSI_BINS 10

/* nbins-1 interior edges at the reference quantiles i/nbins (NumPy
 * np.quantile default 'linear'). ref need not be sorted. */
int jp_drift_quantile_edges(const double *ref, size_t nref, size_t nbins, double *edges,
                            char *errstr, size_t errstr_size);
/* Quantile q of sorted[0..n) with NumPy's 'linear' interpolation. */
double jp_drift_quantile_sorted(const double *sorted, size_t n, double q);
/* Bin of x given nedges ascending edges: number of edges <= x. */
size_t jp_drift_bin_index(const double *edges, size_t nedges, double x);

/* PSI of two count (or weight) vectors over the same k bins; eps replaces
 * zero proportions. NaN if either total is not positive. */
double jp_drift_psi_counts(const double *ref_counts, const double *cur_counts, size_t k,
                           double eps);
/* PSI of raw samples with nbins reference-quantile bins. */
int jp_drift_psi(const double *ref, size_t nref, const double *cur, size_t ncur, size_t nbins,
                 double eps, double *psi, char *errstr, size_t errstr_size);
/* Categorical PSI: counts over the k reference categories plus the current
 * count of values not seen in the reference (the unseen bucket). */
double jp_drift_psi_categorical(const double *ref_counts, const double *cur_counts, size_t k,
                                double cur_unseen, double eps);

/* Small-sample numeric PSI settings for a current sample of ncur values:
 * nbins = ncur / 10 clamped to [3, 10] (about ten expected values per bin)
 * and eps = 0.5 / ncur (half a count) instead of 1e-4, whose empty bins
 * dominate the statistic at weekly sizes. At 52 vs 52 and a 1% false-alarm
 * rate this lifts the power on a 1-sd shift from ~63% (10 bins, 1e-4) to
 * ~90% (docs/model-drift.md). */
void jp_drift_psi_small_sample(size_t ncur, size_t *nbins, double *eps);

/* Two-sample KS statistic and scipy 'asymp' two-sided p-value. */
int jp_drift_ks_2samp(const double *x, size_t nx, const double *y, size_t ny, double *stat,
                      double *pvalue, char *errstr, size_t errstr_size);
/* Survival function of the two-sided one-sample Kolmogorov statistic D_n
 * (scipy.stats.kstwo.sf(d, n)). */
double jp_drift_kolmogorov_sf(uint64_t n, double d);
/* P(D+_n >= d), the one-sided Smirnov survival function
 * (scipy.special.smirnov(n, d)), by Smirnov's exact sum. */
double jp_drift_smirnov_sf(uint64_t n, double d);

/* Jensen-Shannon distance, base 2 (NaN if a vector sums to <= 0). */
double jp_drift_js_distance(const double *p, const double *q, size_t k);

/* ---- thresholds ------------------------------------------------------- */

typedef enum { JP_DRIFT_STAT_PSI = 0, JP_DRIFT_STAT_KS = 1 } jp_drift_stat_t;

/* Null (1 - alpha) quantile of numeric PSI (nbins reference-quantile bins,
 * smoothing eps) or of the KS statistic D between a reference of nref and
 * a current sample of ncur values from the same continuous distribution,
 * from reps seeded draws (reps >= 10 / alpha) of a uniformly random split
 * of the pooled ranks 0..nref+ncur-1, each evaluated on the rank values;
 * O(nref + ncur) per draw, no sorting. The same arguments give the same
 * threshold. Declare drift when the statistic exceeds the threshold. */
int jp_drift_null_threshold(jp_drift_stat_t stat, size_t nref, size_t ncur, size_t nbins,
                            double eps, double alpha, uint32_t reps, uint64_t seed,
                            double *threshold, char *errstr, size_t errstr_size);

/* (1 - alpha) quantile of categorical PSI when the current sample of about
 * ncur values follows the reference's category shares: each of reps
 * seeded draws takes Poisson(nref * share) reference and Poisson(ncur *
 * share) current counts per category (nref = the reference total); a
 * category the draw's reference lacks counts as unseen. */
int jp_drift_psi_categorical_threshold(const double *ref_counts, size_t k, double ncur, double eps,
                                       double alpha, uint32_t reps, uint64_t seed,
                                       double *threshold, char *errstr, size_t errstr_size);

/* Calibration target for the change detectors: at most false_alarm_rate
 * probability of a false alarm per n_points stationary values, and a mean
 * shift of shift_sd noise standard deviations to detect; noise_sd is the
 * input's standard deviation (1 for standardized residuals). */
typedef struct jp_drift_target_s {
    double false_alarm_rate; /* in (0, 1) */
    uint64_t n_points;       /* >= 1 */
    double shift_sd;         /* > 0 */
    double noise_sd;         /* > 0 */
} jp_drift_target_t;

/* Average run length between false alarms for a false-alarm probability
 * rate per n points (alarms as a Poisson process): n / -ln(1 - rate). */
double jp_drift_arl0_from_rate(double rate, uint64_t n);
/* The inverse: 1 - exp(-n / arl0). */
double jp_drift_rate_from_arl0(double arl0, uint64_t n);

/* ---- Page-Hinkley ---------------------------------------------------- */

enum { JP_DRIFT_NONE = 0, JP_DRIFT_UP = 1, JP_DRIFT_DOWN = 2 };
enum { JP_PH_BOTH = 0, JP_PH_UP = 1, JP_PH_DOWN = 2 };

typedef struct jp_ph_params_s {
    uint64_t min_instances; /* 30 (River) */
    double delta;           /* 0.005 (River) */
    double threshold;       /* 50 (River) */
    double alpha;           /* 1 - 0.0001 (River) */
    int mode;               /* JP_PH_BOTH */
    /* 0 (River): deviations from the running mean of the values since the
     * last reset, which slowly absorbs a shift; 1: from the fixed mean0
     * (e.g. 0 for standardized residuals), a plain two-sided CUSUM. */
    int known_mean;
    double mean0;
} jp_ph_params_t;

typedef struct jp_ph_s {
    jp_ph_params_t p;
    uint64_t n;
    double mean;
    double sum_increase, sum_decrease;
    double min_increase, max_decrease;
    int detected; /* last result, so the next update resets like River */
} jp_ph_t;

/* River's defaults. */
void jp_ph_params_default(jp_ph_params_t *p);
/* params NULL -> defaults. */
void jp_ph_init(jp_ph_t *ph, const jp_ph_params_t *params);
void jp_ph_reset(jp_ph_t *ph);
/* Feeds one value; returns JP_DRIFT_NONE, JP_DRIFT_UP (mean rose) or
 * JP_DRIFT_DOWN (mean fell). */
int jp_ph_update(jp_ph_t *ph, double x);
/* Parameters for a target on values whose mean under no drift is mean0
 * (0 for standardized residuals): known_mean = 1, delta = shift_sd *
 * noise_sd / 2 (the CUSUM reference value for that shift), alpha = 1 (no
 * fading), mode both, min_instances 1, and the threshold h * noise_sd
 * where h makes Siegmund's
 * approximation of the one-sided CUSUM ARL0,
 *     (exp(2 k b) - 2 k b - 1) / (2 k^2),  b = h + 1.166, k = shift_sd / 2,
 * equal to twice the target's ARL0 (two sides). arl1 (may be NULL) gets
 * the same approximation's mean delay for the shift,
 * (exp(-2 k b) + 2 k b - 1) / (2 k^2). -1 on an invalid target. */
int jp_ph_calibrate(const jp_drift_target_t *target, double mean0, jp_ph_params_t *out,
                    double *arl1, char *errstr, size_t errstr_size);
/* PHNK v2 (v1 + known_mean and mean0); v1 is still read. */
void jp_ph_serialize(const jp_ph_t *ph, jp_bytes_writer_t *w);
int jp_ph_deserialize(jp_ph_t *ph, jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

/* ---- ADWIN ----------------------------------------------------------- */

typedef struct jp_adwin_params_s {
    double delta;               /* 0.002 (River) */
    uint32_t clock;             /* 32 (River) */
    uint32_t max_buckets;       /* 5 (River) */
    uint32_t min_window_length; /* 5 (River) */
    uint32_t grace_period;      /* 10 (River) */
} jp_adwin_params_t;

typedef struct jp_adwin_s jp_adwin_t;

void jp_adwin_params_default(jp_adwin_params_t *p);
/* params NULL -> defaults. NULL on invalid parameters or allocation failure. */
jp_adwin_t *jp_adwin_create(const jp_adwin_params_t *params, char *errstr, size_t errstr_size);
void jp_adwin_free(jp_adwin_t *a);
/* Feeds one value; 1 when a change was detected (the window was cut). The
 * next update then empties the window first (River's reset). */
int jp_adwin_update(jp_adwin_t *a, double x);
double jp_adwin_width(const jp_adwin_t *a);
double jp_adwin_mean(const jp_adwin_t *a);
/* Population variance of the window. */
double jp_adwin_variance(const jp_adwin_t *a);
uint64_t jp_adwin_detections(const jp_adwin_t *a);
/* delta for a target, with clock 1 (a check after every value),
 * max_buckets 5, min_window_length 5, grace_period 10. reps seeded
 * N(0, noise_sd^2) streams of H = min(ARL0, 20 n_points) values (ARL0 from
 * the target's rate) are fed to a fresh detector that never cuts; before a
 * first cut the window does not depend on delta, so each stream's running
 * minimum of the smallest delta that would cut at any split gives its
 * first-alarm time for every delta at once. delta is then chosen so that
 * alarms / exposure (streams without an alarm censored at H) equals
 * 1 / ARL0 (reps >= 10 / rate). mean_delay (may be NULL) gets the mean
 * number of values until the calibrated detector fires after a shift of
 * shift_sd, on min(reps, 500) further streams that shift after n_points
 * values. */
int jp_adwin_calibrate(const jp_drift_target_t *target, uint32_t reps, uint64_t seed,
                       jp_adwin_params_t *out, double *mean_delay, char *errstr,
                       size_t errstr_size);
/* ADWN v2 (v1 + the pending-reset flag); v1 is still read. */
void jp_adwin_serialize(const jp_adwin_t *a, jp_bytes_writer_t *w);
jp_adwin_t *jp_adwin_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

#endif
