/*
 * jp_test_models: a stand-in for the learning loop in tests - a processor
 * that trains each country's stock-and-flow sales model (jp_flows) from the
 * task's closed day windows, and a model source for the decisions
 * (decisions/jp_decisions.h) that hands it out.
 *
 * A FeatureVector carries the day's customer events and totals; what the
 * sales model needs beyond them (sales by purchase kind with their tickets,
 * the advertised prize and the campaigns as time-weighted signals) is
 * accumulated from the sales records in the sales partition's order, per UTC
 * day, and joined with the day's FeatureVector when it closes. The stock
 * starts from the world's initial subscribers (the operator knows its base)
 * and follows the day windows' sign-ups, reactivations and cancellations.
 * Everything is deterministic (facts and the sales partition's order), so a
 * replay trains the same models. State is in memory: a test engine's run
 * is not restarted.
 */
#ifndef JP_TEST_MODELS_H
#define JP_TEST_MODELS_H

#include "config/jp_config.h"
#include "decisions/jp_decisions.h"
#include "engine/jp_proc.h"
#include "sim/jp_sim_world.h"

typedef struct jp_test_models_s jp_test_models_t;

/* One sales model per country of cfg that w simulates. */
jp_test_models_t *jp_test_models_new(const jp_config_t *cfg, const jp_sim_world_t *w);
void jp_test_models_free(jp_test_models_t *m);
/* The processor (register it before the decisions processor). */
const jp_proc_t *jp_test_models_proc(jp_test_models_t *m);
/* jp_decisions_model_fn with ctx = the jp_test_models_t. */
int jp_test_models_source(void *ctx, int partition, const char *country, int64_t time,
                          jp_decisions_model_t *out);

#endif
