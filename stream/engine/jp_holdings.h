/*
 * jp_holdings: the tickets held per participating postcode of one country,
 * as of an event time, for the payout-risk features (a per-ticket prize
 * pays the prize times the tickets held in the drawn postcode, and the
 * draw picks a postcode uniformly among those holding a ticket).
 *
 * The engine applies records in an order that is not deterministic across
 * input partitions, yet a window's features must be. So holdings are kept
 * in event time: every change of a customer's holding (jp_customer_hold's
 * changes: sign-up, cancellation, reactivation, erasure, a subscription
 * sale of a customer first seen through it) and every extra ticket (held
 * from its sale until its draw) is a pending delta at its event time.
 * jp_holdings_fold(to) applies the pending deltas older than `to` to the
 * table (postcode token -> tickets), the exact histogram (tickets ->
 * postcodes) and the subscriber counts; the caller folds only to a time
 * before which no record can arrive any more (older records are LATE), so
 * the state after a fold is the sum of every holding as of that time,
 * whatever the order the deltas came in.
 *
 * Contract:
 * - Postcodes are 64-bit tokens (never postcodes in clear); 0 is "none"
 *   and is not counted in the table.
 * - jp_holdings_change / _delta queue deltas (any time, also before the
 *   last fold: the caller guarantees that does not happen); fold applies
 *   those with t < to, in (t, postcode) order, and sets folded = to.
 * - The histogram counts postcodes holding k >= 1 tickets; a postcode whose
 *   sum is <= 0 does not participate.
 * - Persistence, incremental: the table postcode by postcode (take_dirty
 *   hands each postcode changed since the last call), the pending deltas by
 *   hour of event time (take_pending hands each hour whose deltas changed,
 *   empty once folded; an hour holds what a day's extra tickets of one
 *   draw can add, far below a record's size limit), and a small summary
 *   (fold time, subscriber counts; jp_bytes "HOLD" v2). Loading all three
 *   rebuilds the same state, histogram included.
 * - Not thread-safe; one per country per task.
 */
#ifndef JP_HOLDINGS_H
#define JP_HOLDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/jp_customer.h"
#include "model/base/jp_bytes.h"
#include "serde/jp_events.h"

typedef struct jp_holdings_s jp_holdings_t;

jp_holdings_t *jp_holdings_new(void);
void jp_holdings_free(jp_holdings_t *h);

/* Queues the deltas of a change of one customer's holding. -1 when out of
 * memory (nothing queued). */
int jp_holdings_change(jp_holdings_t *h, const jp_customer_change_t *ch);
/* Queues tickets (may be negative) held in postcode from t on. */
int jp_holdings_delta(jp_holdings_t *h, int64_t t, uint64_t postcode, int64_t tickets);

/* The time folded to (INT64_MIN before the first fold). */
int64_t jp_holdings_folded(const jp_holdings_t *h);
/* Applies the pending deltas with t < to (to >= the last fold). -1 when
 * out of memory: the holdings are then inconsistent and the task must be
 * rewound (reloaded from its store). */
int jp_holdings_fold(jp_holdings_t *h, int64_t to);

/* As of the last fold: subscribers holding and lapsed, and the histogram
 * by increasing tickets (pointer into h, valid until the next call that
 * changes h; NULL with *n = 0 when nothing participates). */
void jp_holdings_subscribers(const jp_holdings_t *h, int64_t *held, int64_t *lapsed);
const jp_held_tickets_t *jp_holdings_histogram(jp_holdings_t *h, size_t *n);

/* Persistence (see the contract). put gets tickets 0 for a postcode that
 * left the table. 0, or the first non-zero put result. */
typedef int (*jp_holdings_put_fn)(void *ctx, uint64_t postcode, int64_t tickets);
int jp_holdings_take_dirty(jp_holdings_t *h, jp_holdings_put_fn put, void *ctx);
/* Each hour (hour = floor(event time / 1 h)) whose pending deltas changed:
 * their encoding, or len 0 when none are left. 0, or -1 on no memory or
 * the first non-zero put result. */
typedef int (*jp_holdings_hour_fn)(void *ctx, int64_t hour, const void *buf, size_t len);
int jp_holdings_take_pending(jp_holdings_t *h, jp_holdings_hour_fn put, void *ctx);
/* 1 when the summary changed since the last serialize. */
int jp_holdings_summary_dirty(const jp_holdings_t *h);
void jp_holdings_serialize(jp_holdings_t *h, jp_bytes_writer_t *w);
/* Loading: the summary, each stored hour of pending deltas and each stored
 * postcode, in any order. -1 on corrupt input or no memory. */
int jp_holdings_load_summary(jp_holdings_t *h, const void *buf, size_t len);
int jp_holdings_load_hour(jp_holdings_t *h, const void *buf, size_t len);
int jp_holdings_load_postcode(jp_holdings_t *h, uint64_t postcode, int64_t tickets);

#endif
