/*
 * jp_alerts-internal: the alerts processor's structures, shared by its two
 * files (alerts room only):
 *   jp_alerts.c        the global object, the processor's callbacks, the
 *                      task state in the store, emission, metrics, the
 *                      admin snapshot
 *   jp_alerts_rules.c  what each detector's verdict does to the alerts
 *                      (fire, resolve, which labels and annotations)
 */
#ifndef JP_ALERTS_INTERNAL_H
#define JP_ALERTS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "alerts/jp_alert_set.h"
#include "alerts/jp_alerts.h"
#include "alerts/jp_alerts_concept.h"
#include "alerts/jp_alerts_feature.h"
#include "alerts/jp_alerts_quality.h"
#include "config/jp_calendar.h"
#include "serde/jp_avro_plan.h"

#define NO_TIME INT64_MIN
#define DAY_MS  86400000LL

typedef struct gauge_slot_s {
    char labels[160];
    jp_gauge_t *g;
} gauge_slot_t;

struct jp_alerts_s {
    const jp_config_t *cfg;
    jp_metrics_t *metrics;
    jp_proc_t proc;
    unsigned features; /* bit per jp_feat_t enabled */
    double feat_alpha; /* per statistic and daily evaluation */
    double quality_alpha;
    /* Concept drift's parameters come from a seeded simulation of the
     * detectors (seconds of CPU): a thread started by jp_alerts_new
     * computes them while the engine joins its group and restores; the
     * first detector created waits for it (jp_alerts_concept_params). */
    jp_concept_params_t concept;
    pthread_mutex_t calib_lock;
    pthread_t calib_thread;
    int calib_running; /* started and not joined yet */
    int calib_rc;
    char calib_err[256];
    jp_feat_cache_t *feat_cache;
    jp_calendar_t **cal; /* per configured country, cfg->country's order */
    jp_alerts_reference_fn reference;
    void *reference_ctx;
    jp_alerts_drift_fn drift;
    void *drift_ctx;
    jp_alerts_listener_fn listener;
    void *listener_ctx;
    int n_partitions;
    struct alerts_inst_s **inst; /* by partition (engine thread) */
    /* published for the admin thread */
    pthread_mutex_t lock;
    json_t **snap; /* by partition: array of alert objects, or NULL */
    gauge_slot_t *gauges;
    size_t n_gauges;
};

typedef struct day_slot_s {
    jp_feat_day_t d;
    int dirty;
} day_slot_t;

typedef struct model_slot_s {
    char name[16];
    jp_concept_t *c;
    int dirty;
} model_slot_t;

typedef struct country_s {
    char code[3];
    day_slot_t **days; /* sorted by day */
    size_t n_days, cap_days;
    jp_feat_state_t feat[JP_FEAT__COUNT];
    int feat_dirty;
    model_slot_t *models;
    size_t n_models;
    int64_t last_seen[JP_INPUT__COUNT]; /* event time of its last applied record per input */
    double last_wall[JP_INPUT__COUNT];  /* live: wall time of that record (not stored) */
    int seen_dirty;
} country_t;

typedef struct alerts_inst_s {
    jp_alerts_t *g;
    jp_proc_ctx_t *ctx;
    int partition;
    country_t *c;
    size_t n_c;
    jp_quality_t q[JP_INPUT__COUNT];
    int q_dirty[JP_INPUT__COUNT];
    jp_alert_set_t alerts;
    jp_avro_buf_t out;
    double last_live;                     /* wall time of the last live check */
    double at_end_since[JP_INPUT__COUNT]; /* wall time the input was first seen read to its end */
    int snap_dirty;
} alerts_inst_t;

/* ---- jp_alerts.c ---- */
country_t *jp_alerts_country(alerts_inst_t *in, const char *code);
/* The day slot of a country (created when create is set), NULL if absent
 * or out of memory. */
day_slot_t *jp_alerts_day(country_t *c, int64_t day, int create);
/* The concept tracker of a model, created if missing. */
model_slot_t *jp_alerts_model(alerts_inst_t *in, country_t *c, const char *name);
/* Concept drift's calibrated parameters, waiting for the calibration
 * thread the first time; NULL with errstr if it failed (out of memory). */
const jp_concept_params_t *jp_alerts_concept_params(jp_alerts_t *g, char *errstr,
                                                    size_t errstr_size);
/* Fires e (jp_alert_set_fire) and queues the record if it is to be sent;
 * *sent (may be NULL) tells whether it was. 0 or -1. */
int jp_alerts_fire(alerts_inst_t *in, jp_alert_entry_t *e, int64_t now, int *sent);
/* Resolves a fingerprint if it is FIRING, queueing the record. 0 or -1. */
int jp_alerts_resolve(alerts_inst_t *in, const char *fingerprint, int64_t ends_at, int64_t now);

/* ---- jp_alerts_rules.c ---- */
/* Data quality and silence for one applied record. */
int jp_alerts_rules_record(alerts_inst_t *in, const jp_proc_record_t *rec);
/* Live checks (poll): a partition silent altogether, wall-time silence,
 * consumer lag. */
int jp_alerts_rules_poll(alerts_inst_t *in);
/* Feature drift of country c after its day `day` closed at event time now. */
int jp_alerts_rules_day(alerts_inst_t *in, country_t *c, int64_t day, int64_t now);
/* Concept drift: one evaluation. */
int jp_alerts_rules_eval(alerts_inst_t *in, const jp_alerts_eval_t *ev);
/* Resolves concept drift alerts of c whose models stayed quiet long
 * enough by event time now. */
int jp_alerts_rules_concept_quiet(alerts_inst_t *in, country_t *c, int64_t now);

#endif
