/*
 * jp_u64set: a set of 64-bit values (open addressing, linear probing,
 * power-of-two capacity, load <= 1/2). The state store keeps the 64-bit
 * hashes of every key a column family holds in one, so that reading a key
 * it never wrote (a new customer) costs one cache line instead of a
 * RocksDB lookup.
 *
 * Why not a Bloom filter: a filter cannot grow, so a growing column family
 * had to be re-read from RocksDB at every doubling (or queried layer by
 * layer); this set grows by rehashing its own array (no RocksDB access),
 * answers with one probe sequence, and costs 16-32 bytes per key - 16 MB
 * for a million customers - where the filter cost 1.25-2.5.
 *
 * Contract:
 * - Values are arbitrary uint64_t (0 included: it is stored apart).
 * - jp_u64set_has never answers 0 for a value added and not removed.
 * - Deterministic layout (the values are used as their own hash after a
 *   fixed mix), not thread-safe.
 */
#ifndef JP_U64SET_H
#define JP_U64SET_H

#include <stddef.h>
#include <stdint.h>

typedef struct jp_u64set_s {
    uint64_t *slot; /* 0 marks an empty slot */
    size_t cap, count;
    int has_zero;
} jp_u64set_t;

/* An empty set (no allocation until the first add). */
void jp_u64set_init(jp_u64set_t *s);
void jp_u64set_free(jp_u64set_t *s);
/* Makes room for n values without further growth. 0, or -1 if out of
 * memory (the set is unchanged). */
int jp_u64set_reserve(jp_u64set_t *s, size_t n);
/* 1 if v was added now, 0 if already there, -1 if out of memory. */
int jp_u64set_add(jp_u64set_t *s, uint64_t v);
int jp_u64set_has(const jp_u64set_t *s, uint64_t v);
/* 1 if v was removed, 0 if absent. */
int jp_u64set_remove(jp_u64set_t *s, uint64_t v);
size_t jp_u64set_count(const jp_u64set_t *s);
size_t jp_u64set_bytes(const jp_u64set_t *s);

#endif
