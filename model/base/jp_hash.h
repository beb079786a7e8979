/*
 * jp_hash: seeded 64-bit hashing for the hashing trick (jp_ftrl), sketches
 * (jp_hll) and anywhere else a stable non-cryptographic hash is needed.
 *
 * Contract:
 * - jp_hash64 is XXH64 (Yann Collet's xxHash, 64-bit variant, as specified
 *   in https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md),
 *   written from the specification. Its output equals the reference
 *   XXH64(p, n, seed) for every input, so values are stable across
 *   platforms, compilers and releases: persisted models and sketches that
 *   store hashed buckets stay valid. The input is read as little-endian
 *   bytes regardless of host byte order.
 * - jp_hash_mix64 is the SplitMix64 finalizer (Stafford's "Mix13"): a
 *   bijection on 64-bit integers with full avalanche, for hashing integers
 *   that are already keys (combining hashes, integer features).
 *   jp_hash_mix64(0) == 0.
 * - Neither is cryptographic or DoS-resistant by itself; pass a secret seed
 *   if inputs are adversarial.
 */
#ifndef JP_HASH_H
#define JP_HASH_H

#include <stddef.h>
#include <stdint.h>

/* XXH64 of n bytes at p with the given seed (p may be NULL when n == 0). */
uint64_t jp_hash64(const void *p, size_t n, uint64_t seed);

/* SplitMix64 finalizer: bijective 64-bit avalanche mix. */
uint64_t jp_hash_mix64(uint64_t x);

/* Hash of a NUL-terminated string (jp_hash64 over strlen(s) bytes). */
uint64_t jp_hash_str(const char *s, uint64_t seed);

#endif
