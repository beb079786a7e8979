/*
 * jp_decisions: the headline-prize recommendations - a processor
 * (engine/jp_proc.h) that decides each country's prize at its decision
 * times and publishes one JackpotRecommendation per country and decision
 * on jackpot.recommendations.v1 (docs/decisions.md).
 *
 * Contract
 * - Decision times: for every headline draw of a country's calendar, the
 *   draw's time minus calendar.decision_lead (jp_calendar, DST-correct), as
 *   processor timers - so they run in event time, once the task's clock has
 *   passed them, in the same order in every run. A country is decided on a
 *   task from its first record on (its earliest event time there): every
 *   decision time after it has exactly one record.
 * - Each decision asks the model source (set by the app; engine thread) for
 *   the champion models. With a usable one - a sales model whose prize
 *   elasticities are identified, the subscriber stock, a recent error
 *   within decision.fallback.max_error - it solves the country's decision
 *   problem (config/jp_country_decide.h) over decision.horizon_draws draws
 *   with the sales model's forecast plan as the horizon and Thompson
 *   exploration within the configured budget. Otherwise the country's
 *   fallback rule decides (keep the advertised prize, or the initial one)
 *   and the record says why.
 * - State, in the task's ledger column family, keyed by country first:
 *   the earliest event time, sales revenue per hour of event time (the
 *   draws' proceeds: 54 weeks are kept), every draw result (prizes paid,
 *   tickets in the winning postcode, the headline prize) and the latest
 *   record. It accumulates what commutes from the applied records and is
 *   read at decision times only for event times every input is complete
 *   for (before the clock minus windows.grace), so a replay decides
 *   identically.
 * - The record is deterministic (no wall time; ids from the country and
 *   draw id; the seed of the Thompson draw from the decision id); its
 *   provenance names the models' versions, the data snapshot (the source's,
 *   else the task's input offsets and event-time range), a hash of the
 *   country's configuration and the code version.
 * - Metrics: jackpot_recommendations_total{country,status},
 *   jackpot_recommended_prize_minor{country},
 *   jackpot_recommendation_fallbacks_total{country,reason}.
 * - Serving: each decision publishes, under the object's lock, a snapshot
 *   of the country's decision problem (with the forecast plan, which is
 *   safe to evaluate from any thread) and its record as JSON; the what-if
 *   and latest-recommendation answers read only snapshots, never engine
 *   state.
 */
#ifndef JP_DECISIONS_H
#define JP_DECISIONS_H

#include <stddef.h>
#include <stdint.h>

#include "base/jp_metrics.h"
#include "config/jp_config.h"
#include "engine/jp_proc.h"
#include "model/decide/jp_optimizer.h"
#include "model/learn/jp_flows.h"
#include "serde/jp_events.h"

/* What the model source knows about a country's champion models. Every
 * pointer is borrowed for the duration of the callback. */
typedef struct jp_decisions_model_s {
    const jp_flows_t *flows;   /* the champion sales model (NULL: none) */
    const char *flows_version; /* e.g. "flows-GB@12" */
    const char *churn_version; /* NULL: no churn model */
    /* Its recent relative forecast error (NaN: unknown). */
    double error;
    /* A subscriber's expected remaining lifetime in days (the churn
     * model's), or its mean daily cancellation probability; NaN: unknown
     * (then the sales model's cancellation rate). */
    double lifetime_days;
    double churn_hazard_per_day;
    /* The subscriber stock at stock_time_ms (active > 0; lapsed < 0:
     * unknown). */
    double active, lapsed;
    int64_t stock_time_ms;
    /* Optional: tickets held per participating postcode at the stock above
     * (FeatureVector v2's histogram as atoms); NULL: the decisions use the
     * tickets in the winning postcodes of the country's recent draws. */
    const jp_opt_mass_t *tickets_in_postcode;
    size_t n_tickets_in_postcode;
    /* Optional: the data the models were trained on (NULL: the task's). */
    const jp_data_snapshot_t *snapshot;
} jp_decisions_model_t;

/* Fills *out for country at event time `time` on the task of `partition`.
 * Returns 1 when there is a champion, 0 when there is none, -1 on an error
 * (the decision falls back). Engine thread; must be deterministic. */
typedef int (*jp_decisions_model_fn)(void *ctx, int partition, const char *country, int64_t time,
                                     jp_decisions_model_t *out);

typedef struct jp_decisions_s jp_decisions_t;

/* The processor's shared object for cfg (its countries' calendars and
 * configuration hashes; metrics may be NULL). NULL with errstr. */
jp_decisions_t *jp_decisions_new(const jp_config_t *cfg, jp_metrics_t *metrics, char *errstr,
                                 size_t errstr_size);
void jp_decisions_free(jp_decisions_t *d);

/* Sets the model source (before the engine runs). */
void jp_decisions_set_model_source(jp_decisions_t *d, jp_decisions_model_fn fn, void *ctx);

/* The processor (its global is d); register with jp_engine_add_proc. */
const jp_proc_t *jp_decisions_proc(jp_decisions_t *d);

/* ---- serving (any thread) ---- */

/* The latest recommendation of a country as JSON (malloc'd), or NULL when
 * there is none yet (or the country is unknown). */
char *jp_decisions_latest_json(jp_decisions_t *d, const char *country);

/* The what-if of a country: the latest decision's problem evaluated at
 * `prize` (draw_id NULL: that decision's draw; else it must name it).
 * Returns an HTTP status: 200 with the JSON in *body, 404 when the country
 * has no decision yet or draw_id names another draw, 400 for a prize off
 * the grid's bounds, with {"error": ...} in *body. */
int jp_decisions_whatif_json(jp_decisions_t *d, const char *country, int64_t prize,
                             const char *draw_id, char **body);

#endif
