/*
 * jp_test_alerts: what the alerts tests share.
 *
 * - A stand-in for the learning loop's sales evaluation, on the hooks the
 *   application wires (the learning loop is another room): a processor,
 *   registered before the alerts, that scores each weekly headline draw
 *   period's sign-ups of a country against a log-linear model of the
 *   advertised prize (Bayesian with a weak prior, prequential: predict,
 *   score, then learn; scoring starts after 6 periods) and hands the
 *   standardized residual to jp_alerts_observe_eval. The alerts' drift
 *   listener makes it retrain on the periods from the change point on,
 *   under a new version, after the evaluation that caused it. Monthly
 *   draw periods (NL) are not scored. State is in memory: a run that
 *   restarts starts the stand-in afresh.
 * - The alert records of a topic, decoded.
 */
#ifndef JP_TEST_ALERTS_H
#define JP_TEST_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "alerts/jp_alerts.h"
#include "jp_test_engine.h"
#include "sim/jp_sim_world.h"

typedef struct jp_test_evaluator_s jp_test_evaluator_t;

/* Sets itself as alerts' drift listener. */
jp_test_evaluator_t *jp_test_evaluator_new(jp_alerts_t *alerts);
void jp_test_evaluator_free(jp_test_evaluator_t *ev);
const jp_proc_t *jp_test_evaluator_proc(jp_test_evaluator_t *ev);
/* Retrains the drift listener asked for, and the change point of the
 * first one of a country (INT64_MIN if none). */
int jp_test_evaluator_retrains(const jp_test_evaluator_t *ev);
int64_t jp_test_evaluator_first_change(const jp_test_evaluator_t *ev, const char *country);

typedef struct jp_test_alert_s {
    char fp[17], name[32], country[3];
    char labels[128]; /* "key=value " for each label, country included */
    int firing, critical;
    int64_t starts_at, ends_at; /* ends_at -1 while FIRING */
} jp_test_alert_t;

/* Every record of the alerts topic (distinct records; each is checked to
 * be keyed by its fingerprint and to name docs/runbooks/<name>.md).
 * *duplicates gets how many records were read more than once (may be
 * NULL). Free with free(). */
jp_test_alert_t *jp_test_alerts_read(jp_test_stack_t *s, const char *topic, size_t *n,
                                     size_t *duplicates);
/* The same with alerts.runbook_base_url set to base. */
jp_test_alert_t *jp_test_alerts_read_base(jp_test_stack_t *s, const char *topic, const char *base,
                                          size_t *n);

/* What scores the models for concept drift in a run: the stand-in
 * evaluator above, or the real learning loop (stream/models) wired to the
 * alerts by jp_compose_alerts, as `jackpot run` composes them. */
typedef enum { JP_TEST_ALERTS_STANDIN, JP_TEST_ALERTS_MODELS } jp_test_alerts_loop_t;

/* A run over `weeks` of a world (relative to the repository root),
 * streamed into an engine configured for tag (jp_test_engine_config) while
 * it reads (jp_test_stack_stream), with loop's scorer and the alerts
 * processor; what the alerts processor wrote. */
typedef struct jp_test_alerts_run_s {
    jp_test_alert_t *alerts;
    size_t n;
    char models_topic[128];  /* the run's jackpot.models.v1 */
    int64_t min_training_ms; /* its models.min_training */
    jp_test_evaluator_t *ev; /* the stand-in's retrains and change points (NULL: models) */
} jp_test_alerts_run_t;
void jp_test_alerts_run_live(jp_test_stack_t *s, const char *tag, const char *world, int weeks,
                             jp_test_alerts_loop_t loop, jp_test_alerts_run_t *out);
void jp_test_alerts_run_free(jp_test_alerts_run_t *r);

/* The first version of model ("sales-GB") on the models topic registered
 * from a trainer restarted at a change point, at or after event time
 * `after`, with training data from `data_from` on (an earlier restart's
 * versions are not this one's): when, and where its data start (INT64_MAX
 * and INT64_MIN when there is none). Prints it. */
typedef struct jp_test_retrained_s {
    int64_t registered_at, data_start;
} jp_test_retrained_t;
void jp_test_alerts_retrained(jp_test_stack_t *s, const char *topic, const char *model,
                              int64_t after, int64_t data_from, jp_test_retrained_t *out);

/* The length of country cc's draw period that holds event time at. */
int64_t jp_test_draw_period_ms(const jp_sim_world_t *w, const char *cc, int64_t at);

#endif
