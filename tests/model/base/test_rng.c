/*
 * jp_rng: xoshiro256** and SplitMix64 against published reference values,
 * determinism, and moment checks of every variate on seeded samples (the
 * bounds are several standard errors wide, so they fail only on real bias).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_rng.h"

#include <math.h>

static void test_reference_streams(void **state)
{
    (void)state;
    /* SplitMix64 from x = 1234567: the sequence published with Vigna's
     * reference splitmix64.c / Java SplittableRandom tests. */
    jp_rng_t r;
    jp_rng_seed(&r, 1234567);
    assert_true(r.s[0] == 6457827717110365317ull);
    assert_true(r.s[1] == 3203168211198807973ull);
    assert_true(r.s[2] == 9817491932198370423ull);
    assert_true(r.s[3] == 4593380528125082431ull);
    /* xoshiro256** from state {1,2,3,4}: rotl(2*5,7)*9 = 11520, then the
     * updated s[1] is 0 so the second output is 0. */
    jp_rng_t x = {{1, 2, 3, 4}};
    assert_true(jp_rng_next(&x) == 11520);
    assert_true(jp_rng_next(&x) == 0);
}

static void test_deterministic(void **state)
{
    (void)state;
    jp_rng_t a, b;
    jp_rng_seed(&a, 99);
    jp_rng_seed(&b, 99);
    for (int i = 0; i < 1000; i++) {
        assert_true(jp_rng_normal(&a) == jp_rng_normal(&b));
        assert_true(jp_rng_poisson(&a, 30.0) == jp_rng_poisson(&b, 30.0));
    }
    jp_rng_seed(&b, 100);
    assert_true(jp_rng_next(&a) != jp_rng_next(&b));
}

static void test_uniform_and_below(void **state)
{
    (void)state;
    jp_rng_t r;
    jp_rng_seed(&r, 1);
    enum { N = 200000 };
    double sum = 0;
    unsigned cnt[7] = {0};
    for (int i = 0; i < N; i++) {
        double u = jp_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        uint64_t k = jp_rng_below(&r, 7);
        assert_true(k < 7);
        cnt[k]++;
    }
    assert_true(fabs(sum / N - 0.5) < 0.005); /* se 0.00065 */
    double chi2 = 0, e = N / 7.0;
    for (int k = 0; k < 7; k++)
        chi2 += (cnt[k] - e) * (cnt[k] - e) / e;
    assert_true(chi2 < 30.0); /* 6 dof */
    assert_true(jp_rng_below(&r, 0) == 0);
    assert_true(jp_rng_below(&r, 1) == 0);
}

static void moments_check(double mean, double var, double want_mean, double want_var, int n)
{
    double se = sqrt(want_var / n);
    assert_true(fabs(mean - want_mean) < 6 * se);
    assert_true(fabs(var - want_var) < 0.05 * want_var);
}

static void sample_moments(double *v, int n, double *mean, double *var)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    for (int i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *var = s / (n - 1);
}

static void test_variates(void **state)
{
    (void)state;
    enum { N = 100000 };
    static double v[N];
    jp_rng_t r;
    jp_rng_seed(&r, 2024);
    double m, s;

    for (int i = 0; i < N; i++)
        v[i] = jp_rng_normal(&r);
    sample_moments(v, N, &m, &s);
    moments_check(m, s, 0.0, 1.0, N);

    for (int i = 0; i < N; i++)
        v[i] = jp_rng_exponential(&r, 4.0);
    sample_moments(v, N, &m, &s);
    moments_check(m, s, 0.25, 0.0625, N);

    const double means[] = {0.5, 3.0, 9.99, 10.0, 47.5, 1e4};
    for (size_t j = 0; j < sizeof means / sizeof means[0]; j++) {
        for (int i = 0; i < N; i++)
            v[i] = (double)jp_rng_poisson(&r, means[j]);
        sample_moments(v, N, &m, &s);
        moments_check(m, s, means[j], means[j], N);
    }
    assert_true(jp_rng_poisson(&r, 0.0) == 0);
    assert_true(jp_rng_poisson(&r, -1.0) == 0);

    const double shapes[] = {0.3, 1.0, 2.5, 40.0};
    for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++) {
        for (int i = 0; i < N; i++)
            v[i] = jp_rng_gamma(&r, shapes[j], 2.0);
        sample_moments(v, N, &m, &s);
        moments_check(m, s, 2.0 * shapes[j], 4.0 * shapes[j], N);
    }
    assert_true(isnan(jp_rng_gamma(&r, 0.0, 1.0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_streams),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_uniform_and_below),
        cmocka_unit_test(test_variates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
