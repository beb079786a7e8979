/*
 * jp_models: the learning loop and the model registry (docs/models.md).
 *
 * A processor (engine/jp_proc.h) that keeps, per country of its task, two
 * models - the stock-and-flow sales model (model/learn/jp_flows) trained
 * on closed UTC day windows, and the churn model (model/learn/jp_ftrl,
 * label: the customer cancels within models.churn_horizon of a renewal) -
 * evaluates them prequentially, cuts versions, runs the promotion gates,
 * and writes every registry change as a ModelVersion record to
 * jackpot.models.v1 (key "<kind>-<CC>/<version>").
 *
 * Contract:
 * - Determinism. Everything that reaches the models topic is computed on
 *   facts (closed day windows, in event-time order); records feed only
 *   what commutes (churn examples keyed by event time and customer,
 *   offset ranges per UTC day). The same input gives byte-identical
 *   records, across restarts and rebalances.
 * - State. The trainers, the versions (champion, challenger and the
 *   previous champion kept for rollback), their evaluators, the registry's
 *   history, the pending churn examples and the day windows of the last
 *   year live in the task's `models` column family (changelogged): a crash
 *   or a rebalance restores them from the store or the changelog. The
 *   models topic carries only the fitted parameters.
 * - Threads. The processor callbacks, jp_models_champion and
 *   jp_models_retrain run on the engine thread; jp_models_http and
 *   jp_models_snapshot on any thread (they read a snapshot under a lock;
 *   promote and rollback are queued for the engine thread, which applies
 *   them in poll, and the HTTP call waits for the outcome).
 */
#ifndef JP_MODELS_H
#define JP_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/jp_metrics.h"
#include "config/jp_config.h"
#include "engine/jp_proc.h"
#include "model/learn/jp_flows.h"
#include "model/learn/jp_ftrl.h"

typedef struct jp_models_s jp_models_t;

/* One per engine. metrics may be NULL. NULL with errstr. */
jp_models_t *jp_models_new(const jp_config_t *cfg, jp_metrics_t *metrics, char *errstr,
                           size_t errstr_size);
/* After the engine that ran the processor is freed. */
void jp_models_free(jp_models_t *g);

/* The processor to register with jp_engine_add_proc (valid while g is). */
const jp_proc_t *jp_models_proc(jp_models_t *g);

/* ---- hooks for the other rooms ---- */

/* One prequential evaluation: per closed day window, the standardized
 * residual of the sales champion's forecast of the day's tickets, and of
 * the churn champion's log-loss over the examples labelled that day
 * against the log-loss its own probabilities expect (a calibration score:
 * it needs no baseline). Without a champion the trainer's (version 0) is
 * reported. */
typedef struct jp_models_evaluation_s {
    const char *country;
    const char *model; /* "sales" or "churn" */
    int32_t version;
    double value;       /* 0 mean, unit spread while the model is right */
    int64_t event_time; /* the window's end */
} jp_models_evaluation_t;
/* partition: the task's. Returns 0, or -1 on a failure that must rewind
 * the task (the processor's callback then returns -1, jp_proc.h). */
typedef int (*jp_models_listener_fn)(void *ctx, int partition, const jp_models_evaluation_t *ev);
/* Set before the engine runs; called on the engine thread. */
void jp_models_set_listener(jp_models_t *g, jp_models_listener_fn fn, void *ctx);

/* A labelled churn example as the trainer saw it (for offline reference
 * models and audits): features (names from jp_models_churn_feature_name),
 * label, and the trainer's prediction before it learned from it. */
#define JP_MODELS_CHURN_FEATURES 6
typedef struct jp_models_example_s {
    const char *country;
    int64_t time; /* the renewal's event time */
    double x[JP_MODELS_CHURN_FEATURES];
    int label;
    double p; /* the trainer's prediction before learning */
} jp_models_example_t;
typedef void (*jp_models_example_fn)(void *ctx, const jp_models_example_t *ex);
void jp_models_set_example_listener(jp_models_t *g, jp_models_example_fn fn, void *ctx);
const char *jp_models_churn_feature_name(size_t i);

/* Retrains a model from a change point (e.g. critical concept drift): the
 * trainer restarts from scratch on the data after change_point (sales:
 * the stored day windows since then; churn: the examples still pending
 * since then and everything after), and the next version cut from it is
 * the challenger, promoted only through the gates. Applied at the
 * country's next fact; call on the engine thread. model: "sales" or
 * "churn". 0, or -1 when the country is not on this instance or the model
 * is unknown. */
int jp_models_retrain(jp_models_t *g, const char *country, const char *model, int64_t change_point);

/* The champion of a country, for decisions (engine thread; pointers valid
 * until the next fact). Fields are NULL / 0 when there is none yet. */
typedef struct jp_models_champion_s {
    const jp_flows_t *flows;
    int32_t sales_version;
    const jp_ftrl_t *churn;
    int32_t churn_version;
    int64_t data_start, data_end; /* the sales champion's event-time range */
    /* its offset ranges per input [first, next) (-1: none) */
    int64_t offsets_start[JP_INPUT__COUNT], offsets_end[JP_INPUT__COUNT];
    /* The subscriber stock the sales model forecasts from: subscribers held
     * and lapsed at the end of the country's last closed day window
     * (stock_time; < 0: unknown), whether or not there is a champion. */
    double active, lapsed;
    int64_t stock_time;
} jp_models_champion_t;
/* 0, or -1 when the country is not on this instance. */
int jp_models_champion(jp_models_t *g, const char *country, jp_models_champion_t *out);

/* The churn features of an example as the model reads them (for a
 * decision that scores customers): the customer's state as of t, its
 * renewals before t and its tickets. */
void jp_models_churn_features(const jp_customer_t *c, int64_t t, int32_t renewals_before,
                              int32_t tickets, double x[JP_MODELS_CHURN_FEATURES]);

/* ---- admin API (docs/models.md "Admin API") ---- */

/* Serves /v1/models[?country=CC], /v1/models/<model>,
 * /v1/models/<model>/versions/<n> (GET) and /v1/models/<model>/promote,
 * /v1/models/<model>/rollback (POST; the caller checks the operator
 * token). Returns the HTTP status and a malloc'd JSON body. */
int jp_models_http(jp_models_t *g, const char *method, const char *path, const char *query,
                   const char *body, char **body_out);

/* The JSON the API serves for a country (malloc'd), NULL if none yet. */
char *jp_models_snapshot(jp_models_t *g, const char *country);

#endif
