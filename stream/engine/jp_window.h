/*
 * jp_window: the rolling features of one country over one tumbling window
 * (an hour, a UTC day, or a draw period), their state-store encoding and
 * their FeatureVector.
 *
 * Every update is a commutative addition (counters, HyperLogLog register
 * maxima, per-sector sums), so a window's content depends only on which
 * records it received, never on their order: with per-partition
 * watermarks (jp_task.h) that makes closed windows deterministic.
 *
 * Definitions (docs/processor.md, "Event time and windows"): tickets and revenue sum every applied
 * sale; extra tickets are those of sales whose purchase kind is EXTRA (when
 * the producer does not say, those not paid by DIRECT_DEBIT); unique players is a HyperLogLog (p =
 * 12, standard error 1.6%) of customer tokens; channel mix counts tickets per channel; sector
 * quantiles are the distribution over participating postcode sectors of the tickets sold in each,
 * at the probabilities of jp_window_quantile_probs; active subscribers is the running count at the
 * window's end (sign-ups - cancellations + reactivations, carried from the
 * previous closed window of the same kind).
 */
#ifndef JP_WINDOW_H
#define JP_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"
#include "model/sketch/jp_hll.h"

#define JP_WINDOW_HLL_P       12
#define JP_WINDOW_N_CHANNELS  (JP_SALE_CHANNEL_UNKNOWN + 1)
#define JP_WINDOW_N_QUANTILES 7

extern const double jp_window_quantile_probs[JP_WINDOW_N_QUANTILES];

/* A sector name with its terminating NUL, zero-padded. */
#define JP_WINDOW_SECTOR_LEN 12

/* Tickets per postcode sector, with its lookup index (private to
 * jp_window.c). */
typedef struct jp_window_sectors_s jp_window_sectors_t;

typedef struct jp_window_s {
    char country[3];
    jp_window_kind_t kind;
    int64_t start_ms, end_ms; /* [start, end) */
    int64_t tickets, revenue_minor, extra_tickets;
    int64_t signups, cancellations, reactivations, payment_failures;
    int64_t prizes_paid_minor;
    int64_t channel_tickets[JP_WINDOW_N_CHANNELS];
    jp_hll_t *players;
    jp_window_sectors_t *sectors; /* never NULL in a window of jp_window_new/deserialize */
} jp_window_t;

/* A new empty window; NULL on allocation failure. */
jp_window_t *jp_window_new(const char *country, jp_window_kind_t kind, int64_t start_ms,
                           int64_t end_ms);
void jp_window_free(jp_window_t *w);

/* A sale's player token and postcode sector with their hashes, computed
 * once per sale for all the windows it feeds (hour, day, draw period).
 * The sector is also kept as a table key: zero-padded to the size of
 * jp_window_sector_t's name, so lookups compare fixed-size keys. */
typedef struct jp_window_sale_keys_s {
    const char *player_token; /* NULL: none */
    uint64_t player_hash;
    const char *sector; /* NULL: none */
    uint64_t sector_hash;
    char sector_key[JP_WINDOW_SECTOR_LEN];
} jp_window_sale_keys_t;

/* Fills k; player_token and sector may be NULL and must outlive k. */
void jp_window_sale_keys(jp_window_sale_keys_t *k, const char *player_token, const char *sector);

/* Applies one record's contribution. */
void jp_window_add_sale(jp_window_t *w, const jp_sale_event_t *e, const jp_window_sale_keys_t *k);
void jp_window_add_customer(jp_window_t *w, const jp_customer_event_t *e);
void jp_window_add_draw(jp_window_t *w, const jp_draw_result_t *e);

/* State-store key: country (2) + kind (1) + start (8, big-endian), so keys
 * sort by country, kind, then time. */
#define JP_WINDOW_KEY_LEN 11
void jp_window_key(const char *country, jp_window_kind_t kind, int64_t start_ms,
                   uint8_t key[JP_WINDOW_KEY_LEN]);

/* Serialized form (jp_bytes, tag "WIND"); malloc'd buffer. */
uint8_t *jp_window_serialize(const jp_window_t *w, size_t *len);
jp_window_t *jp_window_deserialize(const void *buf, size_t len, char *errstr, size_t errstr_size);

/* Fills fv (pointing into w and into scratch arrays owned by the caller:
 * keys/values of JP_WINDOW_N_CHANNELS, quantiles of JP_WINDOW_N_QUANTILES).
 * active_subscribers is passed in by the caller. */
typedef struct jp_window_fv_scratch_s {
    jp_avro_str_t channel_keys[JP_WINDOW_N_CHANNELS];
    int64_t channel_values[JP_WINDOW_N_CHANNELS];
    double quantiles[JP_WINDOW_N_QUANTILES];
} jp_window_fv_scratch_t;
void jp_window_to_features(const jp_window_t *w, int64_t active_subscribers,
                           jp_window_fv_scratch_t *scratch, jp_feature_vector_t *fv);

/* 1 if the sale buys extra tickets (see the definitions above). */
int jp_window_is_extra(const jp_sale_event_t *e);

/* Net change of active subscribers contributed by this window. */
int64_t jp_window_net_subscribers(const jp_window_t *w);

/* Participating postcode sectors (those with a sale). */
size_t jp_window_n_sectors(const jp_window_t *w);

/* The channel's schema symbol, e.g. "DIRECT_DEBIT". */
const char *jp_window_channel_name(jp_sale_channel_t c);

#endif
