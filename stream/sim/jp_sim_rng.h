/*
 * jp_sim_rng: inline fast paths of jp_rng (model/base/jp_rng.h) for the
 * simulator's hot loops.
 *
 * Contract: every function returns exactly what its jp_rng counterpart
 * returns and advances the state exactly as it does, so a stream may mix
 * both freely and the simulator's output does not depend on which one ran
 * (tests/stream/sim/test_sim_model.c checks each against jp_rng). They differ only
 * in cost:
 * - jp_sim_below_t precomputes, for a bound n used many times, the
 *   rejection threshold and a reciprocal, so jp_sim_rng_below_by draws
 *   with multiplications only: r mod n as in Lemire, Kaser and Kurz,
 *   "Faster remainder by direct computation" (2019), fastmod_u64, exact
 *   for every 64-bit r and n with a 128-bit reciprocal (where the compiler
 *   has no 128-bit integers it falls back to the division);
 * - jp_sim_poisson_t caches exp(-mean) for the multiplication method
 *   (mean < 10), recomputed only when the mean changes; larger means go
 *   to jp_rng_poisson.
 */
#ifndef JP_SIM_RNG_H
#define JP_SIM_RNG_H

#include <math.h>
#include <stdint.h>

#include "model/base/jp_rng.h"

#if defined(__SIZEOF_INT128__)
#define JP_SIM_FASTMOD 1
__extension__ typedef unsigned __int128 jp_sim_u128_t;
#endif

typedef struct jp_sim_below_s {
    uint64_t n;
    uint64_t threshold; /* 2^64 mod n: raw values below it are rejected */
#ifdef JP_SIM_FASTMOD
    jp_sim_u128_t m; /* ceil(2^128 / n), 0 for n == 1 */
#endif
} jp_sim_below_t;

static inline void jp_sim_below_init(jp_sim_below_t *b, uint64_t n)
{
    b->n = n;
    b->threshold = n ? (0 - n) % n : 0;
#ifdef JP_SIM_FASTMOD
    b->m = n ? ~(jp_sim_u128_t)0 / n + 1 : 0;
#endif
}

/* r mod b->n (b->n > 0). */
static inline uint64_t jp_sim_mod(const jp_sim_below_t *b, uint64_t r)
{
#ifdef JP_SIM_FASTMOD
    /* the high 64 bits of the 192-bit product (m * r mod 2^128) * n */
    jp_sim_u128_t low = b->m * r;
    jp_sim_u128_t bottom = ((low & UINT64_MAX) * b->n) >> 64;
    jp_sim_u128_t top = (low >> 64) * b->n;
    return (uint64_t)((bottom + top) >> 64);
#else
    return r % b->n;
#endif
}

/* jp_rng_below(rng, b->n). */
static inline uint64_t jp_sim_rng_below_by(jp_rng_t *rng, const jp_sim_below_t *b)
{
    if (b->n == 0)
        return 0;
    for (;;) {
        uint64_t r = jp_rng_next(rng);
        if (r >= b->threshold)
            return jp_sim_mod(b, r);
    }
}

typedef struct jp_sim_poisson_s {
    double mean, enlam; /* enlam = exp(-mean), valid when mean is the cached one */
    int valid;
} jp_sim_poisson_t;

static inline uint64_t jp_sim_poisson(jp_sim_poisson_t *p, jp_rng_t *rng, double mean)
{
    if (!(mean > 0.0))
        return 0;
    if (mean >= 10.0)
        return jp_rng_poisson(rng, mean);
    if (!p->valid || p->mean != mean) {
        p->mean = mean;
        p->enlam = exp(-mean);
        p->valid = 1;
    }
    double prod = 1.0;
    uint64_t x = 0;
    for (;;) {
        prod *= jp_rng_uniform(rng);
        if (prod > p->enlam)
            x++;
        else
            return x;
    }
}

#endif
