/*
 * jp_dedupe: an in-memory set of event-id fingerprints bucketed by event
 * time, for "was this event id seen within the dedupe horizon?" without a
 * state-store read or write per event. The caller persists it as segments
 * (one blob of fingerprints per time bucket per commit) and reloads them
 * when a task opens; this module does no I/O.
 *
 * Time. bucket(t) = floor(t / bucket_ms), for negative t too. With
 * X = newest_ms - horizon_ms, bucket b is live iff (b + 1) * bucket_ms > X,
 * i.e. b >= floor(X / bucket_ms): an entry lives until its WHOLE bucket is
 * older than the horizon, so the horizon is effectively rounded up to a
 * bucket (an id is remembered for between horizon_ms and horizon_ms +
 * bucket_ms of newest-time advance). newest_ms is the caller's newest event
 * time; INT64_MIN means "nothing yet" and makes every bucket live.
 *
 * Fingerprints. An id (any bytes) maps to 128 bits: a = XXH64(id, SEED_A),
 * b = XXH64(id, SEED_B). The table keeps all of a and the high 47 bits of b
 * (111 bits: two distinct ids collide with probability about n * 2^-111 per
 * lookup, i.e. never in practice); bit 16 of a stored b is always 1 (so an
 * empty slot, b == 0, is never a fingerprint) and bits 0..15 hold the
 * bucket tag, bucket & 0xffff.
 *
 * Bucket tags. An entry keeps only bucket & 0xffff. The set also holds the
 * full number of every bucket that has entries, and keeps those buckets
 * fewer than 65536 apart, so a tag names exactly one of them: an entry's
 * bucket (and so its live-ness) is exact, whatever the gaps in event time
 * and however rarely jp_dedupe_expire is called. (Deciding relative to the
 * newest bucket instead would let entries from 32768+ buckets back, after a
 * gap in event time, alias into the live range and answer as false
 * duplicates.) To keep the span, check_add drops the dead buckets from
 * memory first when a record would widen it to 65536 (they are still
 * reported by the next jp_dedupe_expire); if live buckets alone would span
 * 65536 - possible only with event times about 32768 buckets ahead of
 * newest_ms, which the caller's clock-skew check rejects - the id is not
 * recorded. horizon_ms / bucket_ms + 2 < 32768 leaves room for that skew.
 *
 * Contract:
 * - jp_dedupe_check_add: 1 if the id is recorded in a live bucket; else
 *   records it in bucket(t_ms) (an id present only in a dead bucket is
 *   re-recorded, as new) and returns 0. Not recorded, still 0: when
 *   bucket(t_ms) itself is not live (an event older than the horizon: it
 *   would count as absent anyway), or is 65536 buckets or more from a live
 *   bucket held (see Bucket tags). -1 only when out of memory, with
 *   nothing changed.
 * - Segments: a segment is n * 16 bytes, each fingerprint as a (8-byte
 *   little-endian) then b with its low 17 bits zero (8-byte little-endian),
 *   sorted ascending bytewise, no duplicates. The bytes depend only on the
 *   set of ids, never on insertion order, table size, or the machine.
 * - Pending: every fingerprint recorded by check_add is also "pending" in
 *   its bucket until jp_dedupe_take_pending (or seal, or expiry of the
 *   bucket) hands it out. Loaded fingerprints are never pending.
 * - jp_dedupe_load adds a segment's fingerprints as recorded in bucket; if
 *   a fingerprint is already present, the later of the two buckets is
 *   kept, so segments may be loaded in any order. Callers load only the
 *   segments of live buckets (dead ones would be dropped at the next
 *   expire anyway), which keeps them within the 65536-bucket span.
 * - jp_dedupe_expire removes every entry whose bucket is not live and
 *   reports, ascending, each dead bucket into which anything was recorded
 *   or loaded (the caller deletes that bucket's segments). It scans the
 *   table only when a held bucket with entries died, so calling it at
 *   every commit is cheap.
 * - Deterministic: fixed seeds, no clock, no address-dependent behaviour.
 * - Callbacks must not call into the same jp_dedupe_t.
 * - Not thread-safe. Memory: 16 bytes per slot at a load factor of at most
 *   0.7 (power-of-two capacity: 23 to 46 bytes per entry), plus 16 bytes
 *   per pending fingerprint.
 */
#ifndef JP_DEDUPE_H
#define JP_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

/* The fixed XXH64 seeds of the two fingerprint halves. Persisted segments
 * depend on them: never change them. */
#define JP_DEDUPE_SEED_A 0x6a702d6465647570ULL /* "jp-dedup" */
#define JP_DEDUPE_SEED_B 0x65766e742d696421ULL /* "evnt-id!" */
/* Bytes per fingerprint in a segment. */
#define JP_DEDUPE_FP_BYTES 16

typedef struct jp_dedupe_s jp_dedupe_t;

/* Segment callback: one bucket's fingerprints (len a multiple of 16; seg is
 * valid only during the call). A non-zero result stops the operation. */
typedef int (*jp_dedupe_seg_fn)(void *ctx, int64_t bucket, const uint8_t *seg, size_t len);
/* Expiry callback: bucket died (delete its segments). Non-zero: stop. */
typedef int (*jp_dedupe_expired_fn)(void *ctx, int64_t bucket);

/* Requires bucket_ms > 0, horizon_ms >= 0 and horizon_ms / bucket_ms + 2 <
 * 32768. NULL with a message in errstr on bad parameters or out of memory. */
jp_dedupe_t *jp_dedupe_new(int64_t bucket_ms, int64_t horizon_ms, char *errstr, size_t n);
void jp_dedupe_free(jp_dedupe_t *d);

/* See the contract. 1 duplicate, 0 new (recorded), -1 out of memory. */
int jp_dedupe_check_add(jp_dedupe_t *d, const void *id, size_t len, int64_t t_ms,
                        int64_t newest_ms);

/* Calls fn once per bucket with pending fingerprints, buckets ascending,
 * with that bucket's pending fingerprints as a segment, and clears them.
 * Returns 0, -1 if out of memory, or the first non-zero fn result: that
 * bucket and the later ones then stay pending. fn NULL: just clear. */
int jp_dedupe_take_pending(jp_dedupe_t *d, jp_dedupe_seg_fn fn, void *ctx);

/* Adds a segment's fingerprints as recorded in bucket (not pending).
 * -1, with nothing changed, if len % 16 != 0, if bucket is 65536 buckets or
 * more from a bucket held (see Bucket tags), or out of memory. */
int jp_dedupe_load(jp_dedupe_t *d, int64_t bucket, const uint8_t *seg, size_t len);

/* Removes every entry whose bucket is not live as of newest_ms (pending
 * fingerprints of dead buckets are dropped too) and calls fn (may be NULL)
 * for each dead bucket into which anything was recorded or loaded (since
 * it was last reported), ascending. Returns the number of entries removed, or -1 when fn returned
 * non-zero: the entries are gone anyway, and that bucket and the later dead
 * ones are reported again by the next call. newest_ms INT64_MIN: no-op. */
long jp_dedupe_expire(jp_dedupe_t *d, int64_t newest_ms, jp_dedupe_expired_fn fn, void *ctx);

/* Calls fn exactly once with every fingerprint of bucket in memory (pending
 * ones included; possibly none: len 0) as one segment, so the caller can
 * replace the bucket's segments by it; on success the bucket's pending
 * fingerprints are cleared. Returns 0, -1 if out of memory, or fn's
 * non-zero result (pending then kept). Scans the whole table. */
int jp_dedupe_seal(jp_dedupe_t *d, int64_t bucket, jp_dedupe_seg_fn fn, void *ctx);

/* Entries in the table (dead ones not yet expired included). */
size_t jp_dedupe_count(const jp_dedupe_t *d);
/* Bytes held (table, bucket list, pending arrays). */
size_t jp_dedupe_memory(const jp_dedupe_t *d);

#endif
