/*
 * jp_rng: xoshiro256** seeded by SplitMix64, plus the handful of variates
 * the models, simulators and the optimizer need.
 *
 * Design. xoshiro256** is small (32 bytes of state), fast, passes BigCrush
 * and has a 2^256-1 period; SplitMix64 turns any 64-bit seed (including 0)
 * into a well-mixed non-zero state, which is the seeding procedure Vigna
 * recommends. Everything here is a pure function of the state so runs are
 * reproducible from a seed, which the tests and the deterministic replay of
 * the stream processor rely on.
 *
 * Variates: uniform uses the top 53 bits (exactly representable doubles in
 * [0,1)); the normal is plain Box-Muller without caching the second value so
 * that the struct stays exactly the xoshiro state; Poisson follows NumPy's
 * choice (multiplication below 10, PTRS above), both exact samplers; gamma
 * is Marsaglia-Tsang, the standard exact rejection method.
 */
#include "model/base/jp_rng.h"

#include <math.h>

static uint64_t jp_rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void jp_rng_seed(jp_rng_t *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = jp_rng_splitmix64(&x);
    /* SplitMix64 is a bijection of distinct counters, so four outputs are
     * never all zero; keep the guard for states loaded from elsewhere. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1;
}

double jp_rng_normal(jp_rng_t *rng)
{
    /* 1 - U lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - jp_rng_uniform(rng);
    double u2 = jp_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

double jp_rng_exponential(jp_rng_t *rng, double rate)
{
    return -log(1.0 - jp_rng_uniform(rng)) / rate;
}

static uint64_t jp_rng_poisson_mult(jp_rng_t *rng, double mean)
{
    double enlam = exp(-mean);
    double prod = 1.0;
    uint64_t x = 0;
    for (;;) {
        prod *= jp_rng_uniform(rng);
        if (prod > enlam)
            x++;
        else
            return x;
    }
}

/* Hoermann (1993), "The transformed rejection method for generating Poisson
 * random variables", algorithm PTRS; constants from the paper. */
static uint64_t jp_rng_poisson_ptrs(jp_rng_t *rng, double lam)
{
    double slam = sqrt(lam);
    double loglam = log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        double u = jp_rng_uniform(rng) - 0.5;
        double v = jp_rng_uniform(rng);
        double us = 0.5 - fabs(u);
        double k = floor((2.0 * a / us + b) * u + lam + 0.43);
        if (us >= 0.07 && v <= vr)
            return (uint64_t)k;
        if (k < 0.0 || (us < 0.013 && v > us))
            continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= -lam + k * loglam - lgamma(k + 1.0))
            return (uint64_t)k;
    }
}

uint64_t jp_rng_poisson(jp_rng_t *rng, double mean)
{
    if (!(mean > 0.0))
        return 0;
    if (mean >= 10.0)
        return jp_rng_poisson_ptrs(rng, mean);
    return jp_rng_poisson_mult(rng, mean);
}

double jp_rng_gamma(jp_rng_t *rng, double shape, double scale)
{
    if (!(shape > 0.0) || !(scale > 0.0))
        return NAN;
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a). */
        double u = 1.0 - jp_rng_uniform(rng);
        return jp_rng_gamma(rng, shape + 1.0, scale) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = jp_rng_normal(rng);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = jp_rng_uniform(rng);
        if (u < 1.0 - 0.0331 * (x * x) * (x * x))
            return d * v * scale;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v * scale;
    }
}
