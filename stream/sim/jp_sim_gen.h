/*
 * jp_sim_gen: one country's event generator, in simulated time.
 *
 * The unit of work is one simulated hour [t, t + 1h), cut at draw times
 * into segments. Per segment, with L its length in hours, s the
 * seasonality (weekly x hourly x yearly, local time of the segment start),
 * c the campaign lift and J the advertised headline prize:
 *   sign-ups       ~ Poisson(signups_per_day / 24 * L * s * c * (J/J_ref)^e_signup)
 *   reactivations  ~ Poisson(cancelled * reactivations_per_day / 24 * L * s * c
 *                            * (J/J_ref)^e_signup)
 *   extra purchases~ Poisson(active * extra_per_subscriber_per_day / 24 * L * s * c
 *                            * (J/J_ref)^e_extra)
 *   cancellations: each active subscriber at its daily hazard
 *                  h_i (jp_sim_population.h) * (J/J_ref)^e_cancel / 24 * L
 * Renewals: monthly billing charges each active subscriber on its billing
 * slot (day 1..28 and hour from its id; UTC); per-draw billing charges
 * each one in the 24 hours before every headline draw. A renewal fails
 * (PAYMENT_FAILED) with probability payment_failure, else it is a
 * DIRECT_DEBIT sale of its subscription tickets.
 * Events of a segment are sorted by event time before they are emitted, so
 * the stream is in order (faults aside).
 *
 * The headline prize of each draw is chosen at its decision time by the
 * country's policy (fixed, schedule by simulated week, or the latest
 * recommendation through a lookup, falling back to the schedule); the
 * advertised prize is the one decided last. At each draw a DrawResult is
 * emitted: the winning postcode uniform among participating postcodes,
 * per-ticket prizes paying prize x tickets held there, shared prizes the
 * prize. Every headline draw appends its period's expected and realized
 * counts to the truth.
 *
 * Deterministic: every random stream is seeded from (seed, country,
 * stream name), so countries do not influence each other.
 */
#ifndef JP_SIM_GEN_H
#define JP_SIM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"
#include "sim/jp_sim_population.h"
#include "sim/jp_sim_truth.h"
#include "sim/jp_sim_world.h"

/* Receives each event: a jp_sale_event_t, jp_customer_event_t or
 * jp_draw_result_t, valid during the call only. Returns 0, or -1 to stop
 * the run (the generator then returns -1). */
typedef struct jp_sim_emit_s {
    void *ctx;
    int (*emit)(void *ctx, size_t country_index, jp_event_type_t type, void *ev);
} jp_sim_emit_t;

/* Closed loop: the recommended prize for a draw, 0 if one is known
 * (*prize_minor set), -1 otherwise. */
typedef int (*jp_sim_prize_lookup_t)(void *ctx, const char *country, const char *draw_id,
                                     int64_t *prize_minor);

typedef struct jp_sim_gen_s jp_sim_gen_t;

/* truth may be NULL. NULL with errstr (calendar, memory). */
jp_sim_gen_t *jp_sim_gen_new(const jp_sim_world_t *w, size_t country_index, uint64_t seed,
                             jp_sim_truth_t *truth, jp_sim_prize_lookup_t lookup, void *lookup_ctx,
                             char *errstr, size_t errstr_size);
void jp_sim_gen_free(jp_sim_gen_t *g);

/* Generates [t_ms, t_ms + 1h); t_ms advances by one hour per call. */
int jp_sim_gen_hour(jp_sim_gen_t *g, int64_t t_ms, const jp_sim_emit_t *out);

/* Applies a scheduled change to this country's ground truth. */
void jp_sim_gen_apply_change(jp_sim_gen_t *g, const jp_sim_change_t *c);

const jp_sim_pop_t *jp_sim_gen_population(const jp_sim_gen_t *g);
/* Events emitted so far. */
uint64_t jp_sim_gen_events(const jp_sim_gen_t *g);

/* Formats a deterministic version-4-style UUID from two 64-bit words. */
void jp_sim_uuid(uint64_t a, uint64_t b, char out[37]);

/* Seeds a stream from (seed, country, stream name). */
void jp_sim_rng_seed(jp_rng_t *rng, uint64_t seed, const char *country, const char *stream);

#endif
