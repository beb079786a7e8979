/*
 * jp_rng: the project's seeded pseudo-random number generator.
 *
 * Contract:
 * - xoshiro256** (Blackman & Vigna 2018, https://prng.di.unimi.it/) with its
 *   256-bit state filled from the seed by SplitMix64, as the authors
 *   recommend. Same seed -> same stream on every platform (no libc rand(),
 *   no global state, no clock); the only floating-point operations are
 *   those of libm (log, sqrt, cos, exp, lgamma), so derived variates are
 *   reproducible on IEEE-754 platforms with a correctly-behaving libm.
 * - The whole state is the struct: copy it to fork a stream, store the four
 *   words to persist it.
 * - Not cryptographic.
 */
#ifndef JP_RNG_H
#define JP_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} jp_rng_t;

/* Seeds the state from one 64-bit seed through SplitMix64 (never all-zero). */
void jp_rng_seed(jp_rng_t *rng, uint64_t seed);

/* Next raw 64-bit output of xoshiro256**. Inline (as are uniform and
 * below): simulator and sketch hot loops draw hundreds of millions. */
static inline uint64_t jp_rng_next(jp_rng_t *rng)
{
    uint64_t *s = rng->s;
    const uint64_t x = s[1] * 5;
    const uint64_t result = ((x << 7) | (x >> 57)) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform on [0, 1) with 53 random bits (multiples of 2^-53). */
static inline double jp_rng_uniform(jp_rng_t *rng)
{
    return (double)(jp_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Standard normal N(0, 1): Box-Muller, one output per two uniforms, no
 * cached second value (so the stream position depends only on the number of
 * calls). */
double jp_rng_normal(jp_rng_t *rng);

/* Uniform integer on [0, n), unbiased (rejection of the 2^64 mod n lowest
 * raw values). Returns 0 when n == 0. The threshold 2^64 mod n is < n, so
 * it is computed (a second division) only for a raw value below n. */
static inline uint64_t jp_rng_below(jp_rng_t *rng, uint64_t n)
{
    if (n == 0)
        return 0;
    for (;;) {
        uint64_t r = jp_rng_next(rng);
        if (r >= n || r >= (0 - n) % n)
            return r % n;
    }
}

/* Exponential with the given rate (mean 1/rate); rate > 0. */
double jp_rng_exponential(jp_rng_t *rng, double rate);

/* Poisson with the given mean (>= 0). Exact: multiplication (Knuth) for
 * mean < 10, PTRS transformed rejection (Hoermann 1993, as in NumPy) for
 * mean >= 10. Returns 0 for mean <= 0 or NaN. */
uint64_t jp_rng_poisson(jp_rng_t *rng, double mean);

/* Gamma(shape, scale), shape > 0, scale > 0: Marsaglia & Tsang (2000), with
 * the U^(1/shape) boost for shape < 1. Returns NaN on invalid parameters. */
double jp_rng_gamma(jp_rng_t *rng, double shape, double scale);

#endif
