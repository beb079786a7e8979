/*
 * jp_sim_truth: the simulator's ground truth as one JSON document, so that
 * tests and benchmarks compute errors against what really happened.
 *
 * Layout (docs/simulator.md has the full format):
 *   { "world", "seed", "start_ms", "weeks", "topics": {...},
 *     "countries": { "<CC>": { "parameters": {...}, "draws": [ {...} ] } },
 *     "changes": [ {...} ],
 *     "faults": { "counts": {"duplicate": n, ...}, "records": [ {...} ] } }
 *
 * Contract: the document is built in memory as the simulation runs (a few
 * hundred bytes per draw and per fault record) and written once; object
 * keys keep their insertion order, so the same run writes the same bytes.
 */
#ifndef JP_SIM_TRUTH_H
#define JP_SIM_TRUTH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/jp_sim_world.h"

typedef struct jp_sim_truth_s jp_sim_truth_t;

/* Counts over one headline draw period [period_start, draw time). */
typedef struct jp_sim_counts_s {
    double signups, cancellations, reactivations, payment_failures;
    double extra_purchases, extra_tickets;
    double renewal_tickets, signup_tickets; /* tickets of renewals and of first sales */
    double tickets, revenue_minor;          /* all sales: renewals, first sales, extra */
} jp_sim_counts_t;

/* Tickets held per participating postcode at a draw. */
typedef struct jp_sim_postcode_dist_s {
    double mean, p50, p90, p99, p999, max;
} jp_sim_postcode_dist_t;

typedef struct jp_sim_draw_truth_s {
    const char *draw_id;
    int64_t time_ms;
    int headline;
    int64_t period_start_ms; /* headline draws only */
    int64_t prize_minor;     /* the draw's headline (or secondary) prize */
    const char *prize_kind;  /* "per_ticket" / "shared" */
    const char *policy;      /* how the prize was chosen: fixed, schedule, recommendation */
    double signup_elasticity, cancel_elasticity, extra_elasticity;
    double season_mean;    /* mean seasonality x campaign factor over the period */
    double mean_log_prize; /* time-weighted mean of log(advertised prize) over the period */
    jp_sim_counts_t expected, realized;
    /* headline draws: when this draw's prize started to be advertised (its
     * decision, at or after the period's start) and the expected counts
     * from then to the draw; the tickets per participating postcode */
    int64_t switch_ms;
    jp_sim_counts_t expected_after_switch;
    jp_sim_postcode_dist_t postcodes;
    int64_t active_subscribers;
    int64_t participating_postcodes;
    int64_t tickets_held; /* over all postcodes, at the draw */
    const char *winning_postcode, *winning_sector;
    int64_t tickets_in_winning_postcode;
    int64_t payout_minor; /* everything paid in this draw */
} jp_sim_draw_truth_t;

jp_sim_truth_t *jp_sim_truth_new(const jp_sim_world_t *w, uint64_t seed, int64_t weeks);
void jp_sim_truth_free(jp_sim_truth_t *t);

/* Records a country's parameters at the start (ground truth in force). */
void jp_sim_truth_country(jp_sim_truth_t *t, const jp_sim_country_t *k);
/* Appends one draw of a country. */
void jp_sim_truth_draw(jp_sim_truth_t *t, const char *country, const jp_sim_draw_truth_t *d);
/* Records a scheduled change as it takes effect. */
void jp_sim_truth_change(jp_sim_truth_t *t, const jp_sim_change_t *c, const char *country,
                         int64_t time_ms);

/* Records an injected fault; returns its index (for delivery reports).
 * expected_error: the jp_serde_err_t name a decoder must report, or NULL
 * when the record decodes and the processor rejects it later. */
long jp_sim_truth_fault(jp_sim_truth_t *t, jp_sim_fault_t type, const char *topic, const char *key,
                        const char *event_id, uint64_t seq, const char *expected_error,
                        uint64_t value_hash);
/* Fills in where a fault record landed. */
/* Sets the per-topic sequence number of a fault record once its record is
 * actually written (records are written in time order after each hour). */
void jp_sim_truth_fault_seq(jp_sim_truth_t *t, long index, uint64_t seq);
void jp_sim_truth_fault_delivered(jp_sim_truth_t *t, long index, int32_t partition, int64_t offset);
/* Records per-topic totals of records written. */
void jp_sim_truth_totals(jp_sim_truth_t *t, const char *topic, uint64_t records);

/* The document (owned by t). */
json_t *jp_sim_truth_json(jp_sim_truth_t *t);
/* Writes it; 0 or -1 with errstr. */
int jp_sim_truth_write(jp_sim_truth_t *t, const char *path, char *errstr, size_t errstr_size);

#endif
