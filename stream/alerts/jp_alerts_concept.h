/*
 * jp_alerts_concept: concept drift of one model of one country, from the
 * stream of its evaluations (the learning loop's prequential scores).
 *
 * Contract:
 * - Every evaluation is a standardized residual: 0 mean and unit spread
 *   while the model is right, both directions are drift. The sales model
 *   gives (observed - predicted) / predictive sd of a day's tickets; the
 *   churn model gives the day's log-loss against the log-loss its own
 *   probabilities expect, over that expectation's sd (a calibration score:
 *   it needs no baseline, so a new version is judged from its first day).
 * - Autocorrelation. A day's forecast error carries into the next (a stock
 *   misjudged today is misjudged tomorrow: the sales residuals of a
 *   stationary world have lag-1 autocorrelation 0.2-0.6), and detectors
 *   calibrated for independent values then fire several times too often.
 *   The detectors therefore see the innovations e = (z - rho z_prev) /
 *   sqrt(1 - rho^2) of an AR(1) fit, rho = 1 - mean((z - z_prev)^2) / 2
 *   (the lag-1 autocorrelation of a unit-variance series, from successive
 *   differences: a level shift adds one difference, not a persistent
 *   bias), each squared difference capped at 16, with a prior of rho = 0
 *   worth JP_CONCEPT_RHO_PRIOR evaluations, clamped to [0, JP_CONCEPT_RHO_MAX].
 *   rho carries across model versions (it is a property of the data).
 *   A persisting shift of d sd moves the innovations by d sqrt((1 - rho) /
 *   (1 + rho)): the price of a calibrated false-alarm rate is some power.
 * - Two detectors on the innovations, each calibrated to half the
 *   false-alarm budget (jp_alerts_concept_calibrate): a two-sided CUSUM
 *   (Page-Hinkley with a known mean 0, jp_ph_calibrate) and ADWIN
 *   (jp_adwin_calibrate, clock 1). Both restart after a detection (River's
 *   behaviour), so a persisting shift is detected again.
 * - A detection reports its change point, as the start of the data the
 *   evaluation scored (its window): for the CUSUM the first evaluation
 *   after the last minimum (maximum) of its cumulative sum, the
 *   maximum-likelihood change point of a mean shift; for ADWIN the oldest
 *   evaluation of the window it kept. shift is the mean standardized
 *   residual (not innovation) from that evaluation on.
 * - A new model version restarts the detectors (its residuals are a new
 *   series); version_since is when it was first seen.
 * - Deterministic, and "CNCP" v2 serialization round-trips exactly (v1, of
 *   the log-loss trackers that needed a warm-up, is read as a fresh start).
 */
#ifndef JP_ALERTS_CONCEPT_H
#define JP_ALERTS_CONCEPT_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"
#include "model/learn/jp_drift.h"

typedef struct jp_concept_params_s {
    jp_ph_params_t ph;
    jp_adwin_params_t adwin;
    double ph_arl1, adwin_delay; /* expected delays after a shift of the target (evaluations) */
} jp_concept_params_t;

/* Calibrates both detectors to false_alarms_per_year / 2 each, per
 * evals_per_year evaluations, for a shift of shift_sd. Seeded, so every
 * process gets the same parameters. 0 or -1 with errstr. */
/* The budget's check alone (cheap): 0, or -1 with errstr. */
int jp_alerts_concept_check(double false_alarms_per_year, char *errstr, size_t errstr_size);
int jp_alerts_concept_calibrate(double false_alarms_per_year, uint64_t evals_per_year,
                                double shift_sd, jp_concept_params_t *out, char *errstr,
                                size_t errstr_size);

#define JP_CONCEPT_RING      256
#define JP_CONCEPT_RHO_PRIOR 14.0 /* evaluations the prior rho = 0 is worth */
#define JP_CONCEPT_RHO_MAX   0.9

typedef struct jp_concept_s {
    int32_t version;
    int64_t version_since; /* INT64_MIN: no evaluation yet */
    uint64_t n;            /* evaluations of this version */
    /* AR(1) prewhitening, across versions: capped squared successive
     * differences, how many, and the last value (has_last 0: none yet) */
    double diff2_sum, last_z;
    uint64_t diff2_n;
    int has_last;
    jp_ph_t ph;
    jp_adwin_t *adwin;
    int up_at_min, down_at_max; /* the CUSUM sits at its extreme: next value starts an excursion */
    int64_t cp_up, cp_down;     /* first evaluation (its time) of the current excursions */
    int64_t ring_t[JP_CONCEPT_RING]; /* evaluation times */
    int64_t ring_w[JP_CONCEPT_RING]; /* starts of the windows they scored */
    double ring_z[JP_CONCEPT_RING];
    uint32_t ring_n, ring_head; /* values in the ring; next slot */
    int64_t last_detect;        /* INT64_MIN: none */
} jp_concept_t;

typedef struct jp_concept_detection_s {
    int detected;
    const char *detector; /* "Page-Hinkley" or "ADWIN" */
    int direction;        /* +1: residuals (loss) rose, -1: fell */
    int64_t change_point; /* window start of the first evaluation after the change */
    double shift;         /* mean standardized value since the change point */
    uint64_t points;      /* evaluations since the change point */
    double statistic, threshold;
} jp_concept_detection_t;

jp_concept_t *jp_concept_new(const jp_concept_params_t *p, char *errstr, size_t errstr_size);
void jp_concept_free(jp_concept_t *c);
/* One evaluation at event time t of the data from window_start on. out
 * gets the detection (detected 0 if none). 0, or -1 for a value that is
 * not finite (ignored). */
int jp_concept_observe(jp_concept_t *c, const jp_concept_params_t *p, int32_t version, double value,
                       int64_t t, int64_t window_start, jp_concept_detection_t *out);

/* The lag-1 autocorrelation the innovations are computed with now. */
double jp_concept_rho(const jp_concept_t *c);

void jp_concept_serialize(const jp_concept_t *c, jp_bytes_writer_t *w);
jp_concept_t *jp_concept_deserialize(const void *buf, size_t len, char *errstr, size_t errstr_size);

#endif
