/*
 * jp_alerts_concept: concept drift of one model of one country, from the
 * stream of its evaluations (the learning loop's prequential scores).
 *
 * Contract:
 * - Two kinds of evaluation. RESIDUAL: the model's standardized residual
 *   (observed minus predicted, over the predictive standard deviation), 0
 *   mean and unit spread while the model is right; both directions are
 *   drift. LOSS: a loss to minimise (the churn model's log-loss) whose
 *   level depends on the data; the first `warmup` evaluations of each
 *   model version set its baseline mean and standard deviation, later ones
 *   are standardized against it and only a rise is drift.
 * - Two detectors on the standardized values, each calibrated to half the
 *   false-alarm budget (jp_alerts_concept_calibrate): a two-sided CUSUM
 *   (Page-Hinkley with a known mean 0, jp_ph_calibrate) and ADWIN
 *   (jp_adwin_calibrate, clock 1). Both restart after a detection (River's
 *   behaviour), so a persisting shift is detected again.
 * - A detection reports its change point, as the start of the data the
 *   evaluation scored (its window): for the CUSUM the first evaluation
 *   after the last minimum (maximum) of its cumulative sum, the
 *   maximum-likelihood change point of a mean shift; for ADWIN the oldest
 *   evaluation of the window it kept. shift is the mean standardized
 *   value from that evaluation on.
 * - A new model version restarts everything (its residuals are a new
 *   series); version_since is when it was first seen.
 * - Deterministic, and "CNCP" v1 serialization round-trips exactly.
 */
#ifndef JP_ALERTS_CONCEPT_H
#define JP_ALERTS_CONCEPT_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"
#include "model/learn/jp_drift.h"

typedef enum { JP_ALERTS_EVAL_RESIDUAL = 0, JP_ALERTS_EVAL_LOSS = 1 } jp_alerts_eval_kind_t;

typedef struct jp_concept_params_s {
    jp_ph_params_t ph;
    jp_adwin_params_t adwin;
    uint64_t warmup;
    double ph_arl1, adwin_delay; /* expected delays after a shift of the target (evaluations) */
} jp_concept_params_t;

/* Calibrates both detectors to false_alarms_per_year / 2 each, per
 * evals_per_year evaluations, for a shift of shift_sd. Seeded, so every
 * process gets the same parameters. 0 or -1 with errstr. */
/* The budget's check alone (cheap): 0, or -1 with errstr. */
int jp_alerts_concept_check(double false_alarms_per_year, char *errstr, size_t errstr_size);
int jp_alerts_concept_calibrate(double false_alarms_per_year, uint64_t evals_per_year,
                                double shift_sd, uint64_t warmup, jp_concept_params_t *out,
                                char *errstr, size_t errstr_size);

#define JP_CONCEPT_RING 256

typedef struct jp_concept_s {
    int kind; /* jp_alerts_eval_kind_t */
    int32_t version;
    int64_t version_since; /* INT64_MIN: no evaluation yet */
    uint64_t n;            /* evaluations of this version */
    uint64_t base_n;       /* LOSS: warm-up evaluations so far */
    double base_mean, base_m2;
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

jp_concept_t *jp_concept_new(const jp_concept_params_t *p, jp_alerts_eval_kind_t kind, char *errstr,
                             size_t errstr_size);
void jp_concept_free(jp_concept_t *c);
/* One evaluation at event time t of the data from window_start on. out
 * gets the detection (detected 0 if none). 0, or -1 for a value that is
 * not finite (ignored). */
int jp_concept_observe(jp_concept_t *c, const jp_concept_params_t *p, int32_t version, double value,
                       int64_t t, int64_t window_start, jp_concept_detection_t *out);

void jp_concept_serialize(const jp_concept_t *c, jp_bytes_writer_t *w);
jp_concept_t *jp_concept_deserialize(const void *buf, size_t len, char *errstr, size_t errstr_size);

#endif
