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
 *
 * Two kinds of content are not order-independent, and are deterministic
 * because they follow one input partition's order, which every run reads
 * the same:
 * - the advertised prize and the campaigns are step signals set by the
 *   sales (jp_flows_tw_t: a value set before the latest one is ignored),
 *   started at the window's first sale from the signals in force before it
 *   (jp_window_signals_t, kept per country in the sales partition's order);
 * - the holdings (subscribers held and lapsed, tickets held per postcode)
 *   are a snapshot of jp_task's per-country holdings as of the window's end
 *   in event time, set by jp_window_set_holdings.
 */
#ifndef JP_WINDOW_H
#define JP_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"
#include "model/learn/jp_flows.h"
#include "model/sketch/jp_hll.h"

#define JP_WINDOW_HLL_P       12
#define JP_WINDOW_N_CHANNELS  (JP_SALE_CHANNEL_UNKNOWN + 1)
#define JP_WINDOW_N_QUANTILES 7

extern const double jp_window_quantile_probs[JP_WINDOW_N_QUANTILES];

/* Quantiles of tickets held per participating postcode (exact). */
#define JP_WINDOW_N_HELD_QUANTILES 5
extern const double jp_window_held_probs[JP_WINDOW_N_HELD_QUANTILES];

/* Campaigns per window and country; a campaign code's length (longer codes
 * are cut). */
#define JP_WINDOW_MAX_CAMPAIGNS 8
#define JP_WINDOW_CAMPAIGN_LEN  32

/* The advertised prize and campaigns in force, per country: those of the
 * latest sale by event time (ties: the sales partition's order), what a
 * window's step signals start from. */
typedef struct jp_window_signals_s {
    int has_prize;
    double log_prize;
    int64_t prize_minor;
    int64_t prize_ms, campaign_ms; /* event time of the sale that set each */
    int has_campaign_ms;
    size_t n_campaigns;
    char campaign[JP_WINDOW_MAX_CAMPAIGNS][JP_WINDOW_CAMPAIGN_LEN];
    uint8_t active[JP_WINDOW_MAX_CAMPAIGNS];
} jp_window_signals_t;

/* Moves the signals past a sale (after the sale's windows saw them) unless
 * a later sale set them: the prize is the sale's; a non-renewal sale makes
 * its campaign the active one (none if it carries none). A new campaign
 * takes the place of an inactive one when all JP_WINDOW_MAX_CAMPAIGNS are
 * taken. */
void jp_window_signals_apply(jp_window_signals_t *s, const jp_sale_event_t *e);
/* Encoding for the task's meta store (jp_bytes, tag "SIGN"). */
void jp_window_signals_serialize(const jp_window_signals_t *s, jp_bytes_writer_t *w);
int jp_window_signals_deserialize(jp_bytes_reader_t *r, jp_window_signals_t *out);

typedef struct jp_window_campaign_s {
    char name[JP_WINDOW_CAMPAIGN_LEN];
    jp_flows_tw_t share;
} jp_window_campaign_t;

/* The holdings at the window's end (jp_task.h, "Holdings"). */
typedef struct jp_window_holdings_s {
    int taken; /* 1: the snapshot; 0: not yet; 2: none (opened after its end was folded) */
    int64_t held, lapsed;           /* subscribers */
    int64_t participating, tickets; /* postcodes with >= 1 ticket, their tickets */
    jp_held_tickets_t *hist;        /* by increasing tickets */
    size_t n_hist;
} jp_window_holdings_t;

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
    /* Sales by purchase kind (extra ones as extra_tickets counts them). */
    int64_t new_subscriptions, signup_tickets, signup_tickets_sq;
    int64_t renewals, renewal_tickets, renewal_tickets_sq;
    int64_t extra_purchases, extra_tickets_sq;
    /* Step signals (see above). */
    int has_prize;
    jp_flows_tw_t prize; /* ln(advertised prize) */
    int64_t prize_minor; /* the value in force at the latest time set */
    size_t n_campaigns;
    jp_window_campaign_t campaigns[JP_WINDOW_MAX_CAMPAIGNS];
    jp_window_holdings_t holdings;
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
    const jp_window_signals_t *signals; /* in force before the sale; NULL: none */
    const char *player_token;           /* NULL: none */
    uint64_t player_hash;
    const char *sector; /* NULL: none */
    uint64_t sector_hash;
    char sector_key[JP_WINDOW_SECTOR_LEN];
} jp_window_sale_keys_t;

/* Fills k (signals NULL); player_token and sector may be NULL and must
 * outlive k. */
void jp_window_sale_keys(jp_window_sale_keys_t *k, const char *player_token, const char *sector);

/* Applies one record's contribution. */
void jp_window_add_sale(jp_window_t *w, const jp_sale_event_t *e, const jp_window_sale_keys_t *k);
void jp_window_add_customer(jp_window_t *w, const jp_customer_event_t *e);
void jp_window_add_draw(jp_window_t *w, const jp_draw_result_t *e);

/* Sets the holdings snapshot (hist is copied). -1 when out of memory. */
int jp_window_set_holdings(jp_window_t *w, int64_t held, int64_t lapsed,
                           const jp_held_tickets_t *hist, size_t n_hist);

/* State-store key: country (2) + kind (1) + start (8, big-endian), so keys
 * sort by country, kind, then time. */
#define JP_WINDOW_KEY_LEN 11
void jp_window_key(const char *country, jp_window_kind_t kind, int64_t start_ms,
                   uint8_t key[JP_WINDOW_KEY_LEN]);

/* Serialized form (jp_bytes, tag "WIND", version 2: version 1's content,
 * then the sales by kind, the step signals and the holdings; version 1
 * still reads); malloc'd buffer. */
uint8_t *jp_window_serialize(const jp_window_t *w, size_t *len);
jp_window_t *jp_window_deserialize(const void *buf, size_t len, char *errstr, size_t errstr_size);

/* Fills fv (pointing into w and into scratch arrays owned by the caller:
 * keys/values of JP_WINDOW_N_CHANNELS, quantiles of JP_WINDOW_N_QUANTILES).
 * active_subscribers is passed in by the caller. */
typedef struct jp_window_fv_scratch_s {
    jp_avro_str_t channel_keys[JP_WINDOW_N_CHANNELS];
    int64_t channel_values[JP_WINDOW_N_CHANNELS];
    double quantiles[JP_WINDOW_N_QUANTILES];
    jp_avro_str_t campaign_keys[JP_WINDOW_MAX_CAMPAIGNS];
    double campaign_values[JP_WINDOW_MAX_CAMPAIGNS];
    double held_quantiles[JP_WINDOW_N_HELD_QUANTILES];
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
