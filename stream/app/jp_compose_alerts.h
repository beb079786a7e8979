/*
 * jp_compose_alerts: the alerts processor wired to the learning loop. The
 * two rooms do not know each other; the app joins them with the hooks
 * each exposes:
 *   - every prequential evaluation of the models (sales: standardized
 *     residual of the day's tickets; churn: the day's mean log-loss) feeds
 *     concept drift (jp_alerts_observe_eval), and a failure there rewinds
 *     the task;
 *   - a critical ConceptDrift that starts firing retrains its model from
 *     the change point (jp_models_retrain: a challenger trained only on
 *     the data after it, promoted through the registry's gates);
 *   - feature drift's reference is the sales champion's training range
 *     (jp_models_champion), the trailing window while there is none.
 *
 * Concept drift watches registered versions only: the trainer's scores
 * before the first version (version 0, still learning from a few weeks)
 * say nothing about the world and are not passed on.
 *
 * Contract: register jp_alerts_proc(*out) after the models processor
 * (alerts must see each fact after the models did), before the engine
 * runs. models NULL (models.enabled false): alerts run on their own (no
 * concept drift, trailing reference). *out is NULL when alerts.enabled is
 * false. All hooks run on the engine thread.
 */
#ifndef JP_COMPOSE_ALERTS_H
#define JP_COMPOSE_ALERTS_H

#include <stddef.h>

#include "alerts/jp_alerts.h"
#include "base/jp_metrics.h"
#include "config/jp_config.h"
#include "models/jp_models.h"

/* Creates the alerts (when enabled) and wires them to models. 0, or -1
 * with errstr (then *out is NULL). Free *out with jp_alerts_free after the
 * engine. */
int jp_compose_alerts(const jp_config_t *cfg, jp_metrics_t *metrics, jp_models_t *models,
                      jp_alerts_t **out, char *errstr, size_t errstr_size);

#endif
