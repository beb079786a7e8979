/*
 * jp_hash: XXH64 and the SplitMix64 finalizer.
 *
 * Design. The hashing trick and HyperLogLog both need a hash whose bits are
 * uniformly distributed and whose values never change (bucket indices and
 * sketch registers are persisted). XXH64 is a well-specified, widely used
 * hash with published test vectors, so writing it from the specification
 * gives stability we can verify against known answers rather than against
 * our own output. Bytes are assembled little-endian explicitly (memcpy-free
 * shifts), which keeps the code free of alignment and aliasing questions and
 * makes the result independent of the host byte order.
 *
 * jp_hash_mix64 is the 64-bit finalizer from SplitMix64 (constants from
 * David Stafford's "Better Bit Mixing", variant 13), used where the key is
 * already an integer.
 */
#include "model/base/jp_hash.h"

#include "model/base/jp_endian.h"

#include <string.h>

#define JP_XXH_P1 0x9E3779B185EBCA87ull
#define JP_XXH_P2 0xC2B2AE3D27D4EB4Full
#define JP_XXH_P3 0x165667B19E3779F9ull
#define JP_XXH_P4 0x85EBCA77C2B2AE63ull
#define JP_XXH_P5 0x27D4EB2F165667C5ull

static uint64_t jp_hash_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t jp_hash_round(uint64_t acc, uint64_t lane)
{
    acc += lane * JP_XXH_P2;
    acc = jp_hash_rotl(acc, 31);
    return acc * JP_XXH_P1;
}

static uint64_t jp_hash_merge_round(uint64_t acc, uint64_t v)
{
    acc ^= jp_hash_round(0, v);
    return acc * JP_XXH_P1 + JP_XXH_P4;
}

uint64_t jp_hash64(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    const uint8_t *end = p + n;
    uint64_t h;

    if (n >= 32) {
        uint64_t v1 = seed + JP_XXH_P1 + JP_XXH_P2;
        uint64_t v2 = seed + JP_XXH_P2;
        uint64_t v3 = seed;
        uint64_t v4 = seed - JP_XXH_P1;
        const uint8_t *limit = end - 32;
        do {
            v1 = jp_hash_round(v1, jp_le64_get(p));
            v2 = jp_hash_round(v2, jp_le64_get(p + 8));
            v3 = jp_hash_round(v3, jp_le64_get(p + 16));
            v4 = jp_hash_round(v4, jp_le64_get(p + 24));
            p += 32;
        } while (p <= limit);
        h = jp_hash_rotl(v1, 1) + jp_hash_rotl(v2, 7) + jp_hash_rotl(v3, 12) + jp_hash_rotl(v4, 18);
        h = jp_hash_merge_round(h, v1);
        h = jp_hash_merge_round(h, v2);
        h = jp_hash_merge_round(h, v3);
        h = jp_hash_merge_round(h, v4);
    } else {
        h = seed + JP_XXH_P5;
    }
    h += (uint64_t)n;

    while (end - p >= 8) {
        h ^= jp_hash_round(0, jp_le64_get(p));
        h = jp_hash_rotl(h, 27) * JP_XXH_P1 + JP_XXH_P4;
        p += 8;
    }
    if (end - p >= 4) {
        h ^= (uint64_t)jp_le32_get(p) * JP_XXH_P1;
        h = jp_hash_rotl(h, 23) * JP_XXH_P2 + JP_XXH_P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * JP_XXH_P5;
        h = jp_hash_rotl(h, 11) * JP_XXH_P1;
        p++;
    }

    h ^= h >> 33;
    h *= JP_XXH_P2;
    h ^= h >> 29;
    h *= JP_XXH_P3;
    h ^= h >> 32;
    return h;
}

uint64_t jp_hash_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t jp_hash_str(const char *s, uint64_t seed)
{
    return jp_hash64(s, strlen(s), seed);
}
