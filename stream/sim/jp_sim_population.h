/*
 * jp_sim_population: one country's simulated players - postcodes grouped
 * in sectors, subscribers living in them, the tickets held per postcode,
 * and the churn hazard of each subscriber.
 *
 * Contract:
 * - Postcodes have a lognormal player density (a few dense, many sparse);
 *   new subscribers pick a postcode by density through an alias table
 *   (O(1)). Postcode and sector strings follow the country's format (GB
 *   "AB3 7XY" / sector "AB3 7", NL "1234AB" / "1234", DE "12345" / "123",
 *   SE "123 45" / "123", NO "1234" / "12"; other countries use GB's).
 * - Tickets held per postcode (subscriptions of active subscribers plus
 *   extra tickets bought for the coming headline draw) are maintained
 *   incrementally, with a Fenwick tree over "participating" (>= 1 ticket)
 *   postcodes, so the winning postcode, uniform among participating ones,
 *   is drawn in O(log n).
 * - The daily churn hazard of a subscriber is
 *     sigmoid(b0 + b_tenure log(1 + min(tenure, 24)) + b_pf min(pf, 3)
 *             + b_tickets (tickets - 1))
 *   (tenure in renewals, pf = failed payments). Subscribers are counted
 *   per hazard bucket, so the population's expected cancellations (sum of
 *   hazards) are exact and O(buckets); cancellations are drawn by thinning
 *   against the largest bucket hazard, which is exact for a Poisson
 *   process with per-subscriber rates.
 * - Per-subscriber state is one 16-byte entry plus its place in the active
 *   or cancelled list (about 20 bytes per subscriber), so a million
 *   subscribers take about 20 MB. Subscribers are visited at random (extra
 *   purchases, cancellations) or with a large stride (renewals), so all a
 *   visit reads is in one entry - one cache miss, not one per field; the
 *   two counters of a postcode and the two halves of an alias entry are
 *   paired the same way.
 * - All randomness comes from the rng the caller passes: deterministic.
 */
#ifndef JP_SIM_POPULATION_H
#define JP_SIM_POPULATION_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_rng.h"

#define JP_SIM_MAX_TICKETS    20 /* tickets per subscription, cap */
#define JP_SIM_MAX_TENURE     24 /* renewals; the hazard is flat beyond */
#define JP_SIM_MAX_PF         3  /* failed payments counted by the hazard */
#define JP_SIM_HAZARD_BUCKETS ((JP_SIM_MAX_PF + 1) * JP_SIM_MAX_TICKETS * (JP_SIM_MAX_TENURE + 1))

typedef enum { JP_SIM_SUB_ACTIVE = 1, JP_SIM_SUB_CANCELLED = 2 } jp_sim_sub_state_t;

typedef struct jp_sim_sub_s {
    uint32_t postcode;
    uint32_t pos; /* index in the active or cancelled list */
    uint16_t tenure;
    uint8_t tickets, pf, state;
} jp_sim_sub_t;

typedef struct jp_sim_pop_params_s {
    const char *country; /* code, selects the postcode format */
    size_t postcodes;
    size_t postcodes_per_sector;
    double density_sigma;
    double churn_intercept, churn_tenure, churn_pf, churn_tickets;
} jp_sim_pop_params_t;

/* The population (its tables are private to the sim room:
 * jp_sim_population-internal.h). */
typedef struct jp_sim_pop_s jp_sim_pop_t;

/* NULL with errstr (e.g. more postcodes than the format can name). */
jp_sim_pop_t *jp_sim_pop_new(const jp_sim_pop_params_t *p, jp_rng_t *rng, char *errstr,
                             size_t errstr_size);
void jp_sim_pop_free(jp_sim_pop_t *pop);

/* Makes room for n subscribers in all (no effect on the population);
 * 0, or -1 when out of memory. */
int jp_sim_pop_reserve(jp_sim_pop_t *pop, size_t n);

/* Adds an active subscriber; returns its id, or -1 when out of memory. */
long jp_sim_pop_add(jp_sim_pop_t *pop, uint32_t postcode, int tickets, int tenure);
/* A postcode drawn by player density: one jp_rng_below(n_postcodes) i,
 * then one uniform u, resolved by jp_sim_pop_alias. */
uint32_t jp_sim_pop_pick_postcode(const jp_sim_pop_t *pop, jp_rng_t *rng);

void jp_sim_pop_cancel(jp_sim_pop_t *pop, uint32_t id);
void jp_sim_pop_reactivate(jp_sim_pop_t *pop, uint32_t id);
void jp_sim_pop_payment_failed(jp_sim_pop_t *pop, uint32_t id);
void jp_sim_pop_renewed(jp_sim_pop_t *pop, uint32_t id);
void jp_sim_pop_set_tickets(jp_sim_pop_t *pop, uint32_t id, int tickets);

/* Subscribers ever added (ids 0..n-1), and one of them. */
size_t jp_sim_pop_n_subs(const jp_sim_pop_t *pop);
const jp_sim_sub_t *jp_sim_pop_sub(const jp_sim_pop_t *pop, uint32_t id);

/* Uniform active / cancelled subscriber; -1 if there is none. */
long jp_sim_pop_random_active(const jp_sim_pop_t *pop, jp_rng_t *rng);
long jp_sim_pop_random_cancelled(const jp_sim_pop_t *pop, jp_rng_t *rng);

/* Daily hazard of one subscriber (without the prize factor). */
double jp_sim_pop_hazard(const jp_sim_pop_t *pop, uint32_t id);
/* Sum of the daily hazards of the active subscribers. */
double jp_sim_pop_hazard_sum(const jp_sim_pop_t *pop);

/* Extra tickets for the coming headline draw; reset after it. */
void jp_sim_pop_add_extra(jp_sim_pop_t *pop, uint32_t postcode, int tickets);
void jp_sim_pop_reset_extra(jp_sim_pop_t *pop);

/* Tickets held in a postcode (subscriptions + extra). */
int64_t jp_sim_pop_postcode_tickets(const jp_sim_pop_t *pop, uint32_t postcode);
/* Postcodes holding at least one ticket (participating). */
size_t jp_sim_pop_n_participating(const jp_sim_pop_t *pop);
/* A postcode uniform among participating ones; -1 if none participates. */
long jp_sim_pop_draw_postcode(const jp_sim_pop_t *pop, jp_rng_t *rng);
/* Sum of tickets over all postcodes. */
int64_t jp_sim_pop_total_tickets(const jp_sim_pop_t *pop);

/* The postcode's string, formatted once at creation (NUL-terminated; the
 * same as jp_sim_pop_postcode_str writes), and its length. */
const char *jp_sim_pop_postcode(const jp_sim_pop_t *pop, uint32_t postcode);
size_t jp_sim_pop_postcode_len(const jp_sim_pop_t *pop, uint32_t postcode);

/* The postcode's and its sector's strings (buffers of >= 16 bytes). */
void jp_sim_pop_postcode_str(const jp_sim_pop_t *pop, uint32_t postcode, char *out, size_t size);
void jp_sim_pop_sector_str(const jp_sim_pop_t *pop, uint32_t postcode, char *out, size_t size);

#endif
