/*
 * jp_bloom: blocked Bloom filter. See jp_bloom.h for the design; this file
 * only keeps the bit arithmetic in one place (jp_bloom_bits) so that add and
 * query can never disagree on where a key's bits are.
 */
#include "jp_bloom.h"

#include <stdlib.h>
#include <string.h>

#include "jp_hash.h"

#define JP_BLOOM_WORDS 8 /* 64-bit words per block: 512 bits, one cache line */

struct jp_bloom_s {
    uint64_t *words; /* nblocks * JP_BLOOM_WORDS, 64-byte aligned */
    uint64_t mask;   /* nblocks - 1 */
    size_t capacity;
    size_t added;
};

jp_bloom_t *jp_bloom_new(size_t capacity)
{
    jp_bloom_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t want = capacity ? capacity : 1;
    size_t bits = want > SIZE_MAX / JP_BLOOM_BITS_PER_KEY ? SIZE_MAX : want * JP_BLOOM_BITS_PER_KEY;
    size_t nblocks = 1;
    while (nblocks * 512 < bits && nblocks < ((size_t)1 << 40))
        nblocks <<= 1;
    size_t bytes = nblocks * JP_BLOOM_WORDS * sizeof(uint64_t);
    b->words = aligned_alloc(64, bytes);
    if (!b->words) {
        free(b);
        return NULL;
    }
    memset(b->words, 0, bytes);
    b->mask = nblocks - 1;
    b->capacity = want;
    return b;
}

void jp_bloom_free(jp_bloom_t *b)
{
    if (!b)
        return;
    free(b->words);
    free(b);
}

/* The block of hash and, in bit[0..K), the bit positions within it. */
static uint64_t *jp_bloom_bits(const jp_bloom_t *b, uint64_t hash, unsigned bit[JP_BLOOM_K])
{
    uint64_t *block = b->words + ((hash >> 32) & b->mask) * JP_BLOOM_WORDS;
    uint64_t r = jp_hash_mix64(hash ^ 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < JP_BLOOM_K; i++)
        bit[i] = (unsigned)(r >> (9 * i)) & 511u;
    return block;
}

void jp_bloom_add(jp_bloom_t *b, uint64_t hash)
{
    unsigned bit[JP_BLOOM_K];
    uint64_t *block = jp_bloom_bits(b, hash, bit);
    for (int i = 0; i < JP_BLOOM_K; i++)
        block[bit[i] >> 6] |= (uint64_t)1 << (bit[i] & 63);
    b->added++;
}

int jp_bloom_maybe(const jp_bloom_t *b, uint64_t hash)
{
    unsigned bit[JP_BLOOM_K];
    const uint64_t *block = jp_bloom_bits(b, hash, bit);
    for (int i = 0; i < JP_BLOOM_K; i++)
        if (!(block[bit[i] >> 6] & ((uint64_t)1 << (bit[i] & 63))))
            return 0;
    return 1;
}

size_t jp_bloom_capacity(const jp_bloom_t *b)
{
    return b->capacity;
}

size_t jp_bloom_added(const jp_bloom_t *b)
{
    return b->added;
}

size_t jp_bloom_bytes(const jp_bloom_t *b)
{
    return sizeof *b + (size_t)(b->mask + 1) * JP_BLOOM_WORDS * sizeof(uint64_t);
}
