/*
 * jp_bloom: a cache-blocked Bloom filter over 64-bit hashes, for answering
 * "certainly absent" without a lookup elsewhere (the state store uses it to
 * skip RocksDB reads of keys it never wrote: new customers, new event ids).
 *
 * Design (Putze, Sanders, Singler 2007, "Cache-, Hash- and Space-Efficient
 * Bloom Filters"): the bit array is split into 512-bit blocks, one cache
 * line each; a key sets JP_BLOOM_K bits inside one block, so a query costs
 * one cache miss instead of k. The block comes from the hash's high bits,
 * the k bit positions from a remix of it (jp_hash_mix64), 9 bits each.
 * At least JP_BLOOM_BITS_PER_KEY = 10 bits per key (the block count is
 * rounded up to a power of two, so 10 to 20): a false-positive rate at
 * capacity of at most about 1.2% (k = 6; a classic filter would give 0.8%
 * at 10 bits, the price of one cache line per query), 0.1% at 16.8 bits;
 * tests/model/test_bloom.c measures it against the classic formula.
 *
 * Contract:
 * - Never a false negative: a hash added answers "maybe" until the filter
 *   is freed or cleared. Callers pass well-mixed 64-bit hashes (jp_hash64).
 * - Sized once: capacity keys at JP_BLOOM_BITS_PER_KEY bits each, rounded
 *   up to a power of two of blocks. Adding beyond capacity still works but
 *   the false-positive rate rises; callers rebuild a larger filter (the
 *   count of adds is kept for that).
 * - No removal: a deleted key stays "maybe" (a false positive), so callers
 *   that delete rebuild from their source of truth now and then.
 * - Not thread-safe; not persisted (it is rebuilt from the data it covers).
 */
#ifndef JP_BLOOM_H
#define JP_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#define JP_BLOOM_BITS_PER_KEY 10
#define JP_BLOOM_K            6

typedef struct jp_bloom_s jp_bloom_t;

/* A filter for about `capacity` keys (at least one block). NULL if out of
 * memory. */
jp_bloom_t *jp_bloom_new(size_t capacity);
void jp_bloom_free(jp_bloom_t *b);

void jp_bloom_add(jp_bloom_t *b, uint64_t hash);
/* 0: certainly never added; 1: maybe added. */
int jp_bloom_maybe(const jp_bloom_t *b, uint64_t hash);

/* Keys the filter was sized for, and adds so far (repeats included). */
size_t jp_bloom_capacity(const jp_bloom_t *b);
size_t jp_bloom_added(const jp_bloom_t *b);
/* Memory held, in bytes. */
size_t jp_bloom_bytes(const jp_bloom_t *b);

#endif
