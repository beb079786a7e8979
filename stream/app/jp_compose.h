/*
 * jp_compose: the capability rooms the app runs inside the engine - their
 * shared objects, their processors in the order they must run on each fact
 * (models, decisions, alerts), the callbacks that wire them together, and
 * their admin routes. `jackpot run` and `jackpot dev` (and
 * the tests and benchmarks that run the app's rooms) build them here.
 *
 * The decisions read the learning loop's champions (stream/models) through
 * a model source this module provides over jp_models_champion. A caller
 * may supply a model processor and source of its own instead (tests train
 * a stand-in that way); then the learning loop is not built. With neither
 * (models.enabled: false and no stand-in) every decision falls back to the
 * country's rule, with the reason in the record.
 *
 * The alerts (when alerts.enabled) run last and are wired to the learning
 * loop by jp_compose_alerts (app/jp_compose_alerts.h): its evaluations feed
 * concept drift, a critical drift retrains, its champion's training range
 * is feature drift's reference. With a stand-in model source they watch
 * data quality and feature drift only.
 */
#ifndef JP_COMPOSE_H
#define JP_COMPOSE_H

#include <stddef.h>

#include "alerts/jp_alerts.h"
#include "app/jp_admin.h"
#include "base/jp_metrics.h"
#include "config/jp_config.h"
#include "decisions/jp_decisions.h"
#include "engine/jp_proc.h"
#include "models/jp_models.h"

#define JP_COMPOSE_MAX_PROCS 4

typedef struct jp_compose_s {
    const jp_config_t *cfg;
    jp_models_t *models; /* the learning loop (NULL: off, or a stand-in) */
    jp_decisions_t *decisions;
    jp_alerts_t *alerts;                          /* NULL when alerts.enabled is false */
    const jp_proc_t *procs[JP_COMPOSE_MAX_PROCS]; /* in the order they run */
    size_t n_procs;
    /* scratch of the model source over the learning loop (engine thread) */
    char flows_version[64], churn_version[64];
    jp_offset_range_t offsets[JP_INPUT__COUNT];
    jp_data_snapshot_t snapshot;
} jp_compose_t;

/* Builds the rooms for cfg (metrics may be NULL; cfg must outlive c).
 * models/source/ctx: a stand-in model processor and source to use instead
 * of the learning loop (NULL, NULL, NULL: the learning loop when
 * models.enabled). 0, or -1 with errstr. */
int jp_compose_init(jp_compose_t *c, const jp_config_t *cfg, jp_metrics_t *metrics,
                    const jp_proc_t *models, jp_decisions_model_fn source, void *ctx, char *errstr,
                    size_t errstr_size);
void jp_compose_release(jp_compose_t *c);

/* Answers /v1/countries/<CC>/recommendation and /v1/countries/<CC>/whatif
 * (rest is the path after "/v1/countries/"); returns the HTTP status, or 0
 * when the path is not one of them. */
int jp_compose_country_route(jp_compose_t *c, const char *method, const char *rest,
                             const char *query, char **body_out, const char **content_type_out);

/* A jp_admin_handler (ctx = the jp_compose_t) for the prefix
 * "/v1/countries/" that answers only the rooms' routes (404 otherwise);
 * `jackpot run` has its own dispatcher that adds /features. */
int jp_compose_admin_handler(void *ctx, const char *method, const char *path, const char *query,
                             const char *body, size_t body_len, char **body_out,
                             const char **content_type_out);

#endif
