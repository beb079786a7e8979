/*
 * jp_alerts: the alerts processor - feature drift, concept drift and data
 * quality per country, published as an alert lifecycle on topics.alerts
 * (jackpot.alerts.v1, key = fingerprint), as metrics and as an admin view.
 *
 * Contract:
 * - One global object per engine (jp_alerts_new), one processor instance
 *   per task (jp_alerts_proc registers them with jp_engine_add_proc). The
 *   state of every detector and alert lives in the task's alerts column
 *   family, keyed by country first, so a restart or rebalance neither
 *   fires an alert again nor forgets one.
 * - Alerts follow jp_alert_set.h: one FIRING per fingerprint until it
 *   resolves (alerts.repeat_interval: sent again after that much event
 *   time), then RESOLVED; starts_at/ends_at are event times.
 * - Determinism. Feature drift is judged on closed day windows (facts);
 *   dead-letter and late rates, records lost to retention and
 *   mispartitioned records per bucket of each input partition's own event
 *   time (jp_alerts_quality.h); a silent country and input (SilentSource)
 *   from the same input partition's progress, or from the gap when its
 *   records resume. All of these are the same in every run. Two checks
 *   are live by nature and say so in docs/runbooks: a partition that is
 *   silent altogether stops its task's clock, so it is judged from the
 *   task's other inputs once it has been read to its end
 *   (alerts.quality.cross_input_silence: its content is still that of the
 *   gap, but whether it is sent before the input resumes depends on
 *   timing); wall-time silence and consumer lag (alerts.quality.
 *   wall_silence, max_lag) are off by default.
 * - Hooks for the learning loop, set by the app before the engine runs:
 *   jp_alerts_set_reference_source gives the champion model's training
 *   window as feature drift's reference (else the trailing
 *   alerts.feature_drift.reference_days); jp_alerts_observe_eval takes the
 *   models' prequential evaluations (concept drift); the drift listener
 *   hears every critical ConceptDrift that starts firing, so the app can
 *   start a challenger trained after its change point. All on the engine
 *   thread, from inside the task's fact delivery.
 * - jp_alerts_json and the metrics read snapshots published under a lock:
 *   safe from the admin thread.
 */
#ifndef JP_ALERTS_H
#define JP_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "alerts/jp_alerts_concept.h"
#include "base/jp_metrics.h"
#include "config/jp_config.h"
#include "engine/jp_proc.h"
#include "serde/jp_events.h"

typedef struct jp_alerts_s jp_alerts_t;

/* Calibrates the detectors (about a second). metrics may be NULL. NULL
 * with errstr. */
jp_alerts_t *jp_alerts_new(const jp_config_t *cfg, jp_metrics_t *metrics, char *errstr,
                           size_t errstr_size);
/* After the engine is freed. */
void jp_alerts_free(jp_alerts_t *a);
/* The processor to add to the engine (valid until jp_alerts_free). */
const jp_proc_t *jp_alerts_proc(jp_alerts_t *a);

/* The reference window of a country's feature drift: the champion's
 * training data [start_ms, end_ms) of event time. 1 when there is one, 0
 * to use the trailing reference. Called on the engine thread at each day
 * fact, after the models processor has seen the same fact. */
typedef int (*jp_alerts_reference_fn)(void *ctx, int partition, const char *country,
                                      int64_t *start_ms, int64_t *end_ms);
void jp_alerts_set_reference_source(jp_alerts_t *a, jp_alerts_reference_fn fn, void *ctx);

/* One prequential evaluation of a model. */
typedef struct jp_alerts_eval_s {
    const char *country;  /* "GB" */
    const char *model;    /* "sales", "churn" (at most 15 characters) */
    int32_t version;      /* the version that was scored */
    double value;         /* a standardized residual (jp_alerts_concept.h) */
    int64_t event_time;   /* the fact it was computed at */
    int64_t window_start; /* start of the data it scored (0: event_time) */
} jp_alerts_eval_t;

/* Feeds concept drift (engine thread, task `partition`). 0, or -1 when
 * the task is not open here or an alert could not be queued: the caller
 * returns -1 from its own callback so that the engine rewinds. */
int jp_alerts_observe_eval(jp_alerts_t *a, int partition, const jp_alerts_eval_t *ev);

/* A critical concept drift that just started firing. */
typedef struct jp_alerts_drift_s {
    const char *country, *model;
    int32_t version;
    int64_t change_point; /* start of the first evaluated window after the change */
    int64_t detected_at;
    double shift; /* mean standardized evaluation since the change point */
    const char *fingerprint;
} jp_alerts_drift_t;
typedef void (*jp_alerts_drift_fn)(void *ctx, int partition, const jp_alerts_drift_t *d);
void jp_alerts_set_drift_listener(jp_alerts_t *a, jp_alerts_drift_fn fn, void *ctx);

/* Every alert record as it is queued (engine thread): `jackpot dev`
 * prints them. */
typedef void (*jp_alerts_listener_fn)(void *ctx, int partition, const jp_alert_t *alert);
void jp_alerts_set_listener(jp_alerts_t *a, jp_alerts_listener_fn fn, void *ctx);

/* {"alerts": [...]} of this instance's tasks, each as jp_alert_entry_json,
 * newest starts_at first; country and status ("FIRING", "RESOLVED") filter
 * when not NULL. malloc'd; NULL when out of memory. Thread-safe. */
char *jp_alerts_json(jp_alerts_t *a, const char *country, const char *status);

#endif
