/*
 * jp_compose_alerts: the hooks between the learning loop and the alerts
 * processor (jp_compose_alerts.h). They are plain translations - the
 * models' evaluation into the alerts' one, a drift into a retrain, the
 * champion into a reference window - so the contexts are the rooms'
 * global objects themselves and nothing is allocated here.
 *
 * Both models evaluate once per closed UTC day window (the evaluation's
 * event time is the window's end), so the data an evaluation scored, and
 * hence a change point, starts one day earlier.
 */
#include "app/jp_compose_alerts.h"

#include <string.h>

#include "base/jp_log.h"

#define DAY_MS INT64_C(86400000)

static int on_evaluation(void *ctx, int partition, const jp_models_evaluation_t *ev)
{
    if (ev->version <= 0)
        return 0; /* the trainer before its first version */
    jp_alerts_eval_t e = {
        .country = ev->country,
        .model = ev->model,
        .version = ev->version,
        .value = ev->value,
        .event_time = ev->event_time,
        .window_start = ev->event_time - DAY_MS,
    };
    return jp_alerts_observe_eval(ctx, partition, &e);
}

static void on_drift(void *ctx, int partition, const jp_alerts_drift_t *d)
{
    if (jp_models_retrain(ctx, d->country, d->model, d->change_point) != 0) {
        jp_log_warn("alerts", "task %d: cannot retrain %s %s after critical concept drift",
                    partition, d->country, d->model);
        return;
    }
    jp_log_info("alerts",
                "task %d: critical concept drift of %s %s v%d (shift %.2f sd): retraining from "
                "change point %lld",
                partition, d->country, d->model, (int)d->version, d->shift,
                (long long)d->change_point);
}

static int champion_range(void *ctx, int partition, const char *country, int64_t *start_ms,
                          int64_t *end_ms)
{
    (void)partition;
    jp_models_champion_t ch;
    if (jp_models_champion(ctx, country, &ch) != 0 || !ch.flows || ch.data_end <= ch.data_start)
        return 0;
    *start_ms = ch.data_start;
    *end_ms = ch.data_end;
    return 1;
}

int jp_compose_alerts(const jp_config_t *cfg, jp_metrics_t *metrics, jp_models_t *models,
                      jp_alerts_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!cfg->alerts.enabled)
        return 0;
    jp_alerts_t *a = jp_alerts_new(cfg, metrics, errstr, errstr_size);
    if (!a)
        return -1;
    if (models) {
        jp_models_set_listener(models, on_evaluation, a);
        jp_alerts_set_drift_listener(a, on_drift, models);
        jp_alerts_set_reference_source(a, champion_range, models);
    }
    *out = a;
    return 0;
}
