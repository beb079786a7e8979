/*
 * jp_qsketch (DDSketch): quantiles within the relative accuracy of the
 * exact sorted quantiles, weighted insertion equal to repeated insertion,
 * exact merge (equal to one sketch of the union, also after collapsing),
 * rank/CDF bracketed by the empirical CDF, the bucket list as a discrete
 * distribution, count/sum/min/max and a bit-exact serialization round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/sketch/jp_qsketch.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The estimate must be within alpha (relative) of the sorted element at
 * floor or ceil of rank q (n - 1). */
static void check_quantiles(const jp_qsketch_t *s, double *v, size_t n, double alpha)
{
    qsort(v, n, sizeof *v, cmp_double);
    for (int k = 0; k <= 1000; k++) {
        double q = k / 1000.0;
        double est = jp_qsketch_quantile(s, q);
        double rank = q * (double)(n - 1);
        size_t lo = (size_t)floor(rank), hi = (size_t)ceil(rank);
        int ok = 0;
        for (size_t j = lo; j <= hi && j < n; j++)
            ok |= fabs(est - v[j]) <= alpha * fabs(v[j]) * (1 + 1e-9) + 1e-300;
        if (!ok)
            fail_msg("q=%.3f est %.17g exact %.17g..%.17g", q, est, v[lo], v[hi]);
    }
}

static void test_quantiles_relative_accuracy(void **state)
{
    (void)state;
    enum { N = 100000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    char err[128];
    jp_rng_t r;
    jp_rng_seed(&r, 31);
    for (int dist = 0; dist < 3; dist++) {
        jp_qsketch_t *s = jp_qsketch_create(0.01, 2048, err, sizeof err);
        assert_non_null(s);
        for (int i = 0; i < N; i++) {
            double x;
            if (dist == 0) /* lognormal payouts/tickets */
                x = exp(2.0 + 1.5 * jp_rng_normal(&r));
            else if (dist == 1) /* signed, with exact zeros */
                x = i % 10 == 0 ? 0.0 : 100.0 * jp_rng_normal(&r);
            else /* heavy tail */
                x = 1.0 / (1.0 - jp_rng_uniform(&r));
            v[i] = x;
            assert_int_equal(jp_qsketch_add(s, x), 0);
        }
        assert_true(jp_qsketch_count(s) == N);
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        for (int i = 0; i < N; i++) {
            mn = fmin(mn, v[i]);
            mx = fmax(mx, v[i]);
            sum += v[i];
        }
        assert_true(jp_qsketch_min(s) == mn);
        assert_true(jp_qsketch_max(s) == mx);
        assert_true(fabs(jp_qsketch_sum(s) - sum) <= 1e-9 * fabs(sum) + 1e-6);
        check_quantiles(s, v, N, 0.01);
        assert_true(jp_qsketch_quantile(s, 0.0) == mn);
        assert_true(jp_qsketch_quantile(s, 1.0) == mx);
        jp_qsketch_free(s);
    }
    free(v);
}

static void test_weighted_equals_repeated(void **state)
{
    (void)state;
    char err[128];
    jp_qsketch_t *a = jp_qsketch_create(0.02, 2048, err, sizeof err);
    jp_qsketch_t *b = jp_qsketch_create(0.02, 2048, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    jp_rng_t r;
    jp_rng_seed(&r, 32);
    size_t n = 0;
    double *v = malloc(200000 * sizeof *v);
    assert_non_null(v);
    /* Tickets held per postcode sector: (value, count) pairs. */
    for (int i = 0; i < 2000; i++) {
        double x = (double)(1 + jp_rng_poisson(&r, 40.0));
        uint64_t c = 1 + jp_rng_below(&r, 50);
        assert_int_equal(jp_qsketch_add_weighted(a, x, (double)c), 0);
        for (uint64_t k = 0; k < c; k++) {
            assert_int_equal(jp_qsketch_add(b, x), 0);
            v[n++] = x;
        }
    }
    size_t na = jp_qsketch_buckets(a, NULL, 0);
    assert_int_equal(na, jp_qsketch_buckets(b, NULL, 0));
    jp_qsketch_bucket_t *ba = malloc(na * sizeof *ba), *bb = malloc(na * sizeof *bb);
    assert_non_null(ba);
    assert_non_null(bb);
    jp_qsketch_buckets(a, ba, na);
    jp_qsketch_buckets(b, bb, na);
    assert_memory_equal(ba, bb, na * sizeof *ba);
    check_quantiles(a, v, n, 0.02);
    free(ba);
    free(bb);
    free(v);
    /* Invalid input leaves the sketch alone. */
    double c0 = jp_qsketch_count(a);
    assert_int_equal(jp_qsketch_add(a, NAN), -1);
    assert_int_equal(jp_qsketch_add(a, INFINITY), -1);
    assert_int_equal(jp_qsketch_add_weighted(a, 1.0, 0.0), -1);
    assert_int_equal(jp_qsketch_add_weighted(a, 1.0, -2.0), -1);
    assert_true(jp_qsketch_count(a) == c0);
    jp_qsketch_free(a);
    jp_qsketch_free(b);
}

static void assert_same_buckets(const jp_qsketch_t *a, const jp_qsketch_t *b)
{
    size_t n = jp_qsketch_buckets(a, NULL, 0);
    assert_int_equal(n, jp_qsketch_buckets(b, NULL, 0));
    jp_qsketch_bucket_t *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    jp_qsketch_buckets(a, x, n);
    jp_qsketch_buckets(b, y, n);
    assert_memory_equal(x, y, n * sizeof *x);
    free(x);
    free(y);
    assert_true(jp_qsketch_count(a) == jp_qsketch_count(b));
    assert_true(jp_qsketch_min(a) == jp_qsketch_min(b));
    assert_true(jp_qsketch_max(a) == jp_qsketch_max(b));
    assert_true(fabs(jp_qsketch_sum(a) - jp_qsketch_sum(b)) <=
                1e-9 * fabs(jp_qsketch_sum(a)) + 1e-9);
    for (int k = 0; k <= 100; k++)
        assert_true(jp_qsketch_quantile(a, k / 100.0) == jp_qsketch_quantile(b, k / 100.0));
}

static void test_merge_equals_union(void **state)
{
    (void)state;
    char err[128];
    /* max_buckets 64 forces collapsing over a 1e-6 .. 1e6 range. */
    const uint32_t caps[] = {2048, 64};
    for (size_t c = 0; c < 2; c++) {
        jp_qsketch_t *a = jp_qsketch_create(0.01, caps[c], err, sizeof err);
        jp_qsketch_t *b = jp_qsketch_create(0.01, caps[c], err, sizeof err);
        jp_qsketch_t *u = jp_qsketch_create(0.01, caps[c], err, sizeof err);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(u);
        jp_rng_t r;
        jp_rng_seed(&r, 33);
        for (int i = 0; i < 50000; i++) {
            double x = exp(14.0 * (jp_rng_uniform(&r) - 0.5) * 2.0);
            if (i % 7 == 0)
                x = -x;
            if (i % 101 == 0)
                x = 0.0;
            double w = (double)(1 + jp_rng_below(&r, 5));
            jp_qsketch_add_weighted(i < 20000 ? a : b, x, w);
            jp_qsketch_add_weighted(u, x, w);
        }
        assert_int_equal(jp_qsketch_merge(a, b, err, sizeof err), 0);
        assert_same_buckets(a, u);
        if (caps[c] == 64) {
            jp_qsketch_bucket_t bk[256];
            size_t n = jp_qsketch_buckets(u, bk, 256);
            assert_true(n <= 2 * 64 + 1);
        }
        jp_qsketch_free(a);
        jp_qsketch_free(b);
        jp_qsketch_free(u);
    }
    /* Insertion order does not matter, even when collapsing. */
    jp_qsketch_t *up = jp_qsketch_create(0.01, 32, err, sizeof err);
    jp_qsketch_t *down = jp_qsketch_create(0.01, 32, err, sizeof err);
    assert_non_null(up);
    assert_non_null(down);
    for (int i = 0; i < 1000; i++) {
        jp_qsketch_add(up, 1.0 + i);
        jp_qsketch_add(down, 1000.0 - i);
    }
    assert_same_buckets(up, down);
    jp_qsketch_t *other = jp_qsketch_create(0.02, 32, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(jp_qsketch_merge(up, other, err, sizeof err), -1);
    jp_qsketch_free(up);
    jp_qsketch_free(down);
    jp_qsketch_free(other);
}

static void test_rank_cdf_and_buckets(void **state)
{
    (void)state;
    enum { N = 50000 };
    const double alpha = 0.01, gamma = (1 + alpha) / (1 - alpha);
    char err[128];
    jp_qsketch_t *s = jp_qsketch_create(alpha, 2048, err, sizeof err);
    assert_non_null(s);
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    jp_rng_t r;
    jp_rng_seed(&r, 34);
    double abs_sum = 0, sum = 0;
    for (int i = 0; i < N; i++) {
        v[i] = 50.0 + 30.0 * jp_rng_normal(&r); /* mostly positive, some negative */
        jp_qsketch_add(s, v[i]);
        abs_sum += fabs(v[i]);
        sum += v[i];
    }
    qsort(v, N, sizeof *v, cmp_double);
    /* rank(x) counts x's whole bucket: between #{v <= x} and #{v <= x gamma}
     * for x > 0, between #{v <= x} and #{v < x / gamma} side for x < 0. */
    for (int k = 1; k < 100; k++) {
        double x = v[(size_t)k * N / 100];
        double rk = jp_qsketch_rank(s, x);
        double lo_x = x, hi_x = x > 0 ? x * gamma * (1 + 1e-12) : x / gamma * (1 - 1e-12);
        size_t le = 0, le_hi = 0;
        while (le < N && v[le] <= lo_x)
            le++;
        while (le_hi < N && v[le_hi] <= hi_x)
            le_hi++;
        if (!(rk >= (double)le && rk <= (double)le_hi))
            fail_msg("rank(%g) = %g not in [%zu, %zu]", x, rk, le, le_hi);
        assert_true(fabs(jp_qsketch_cdf(s, x) - rk / N) < 1e-15);
    }
    assert_true(jp_qsketch_rank(s, -1e9) == 0);
    assert_true(jp_qsketch_rank(s, 1e9) == N);
    assert_true(jp_qsketch_rank(s, INFINITY) == N);

    /* Bucket list: ascending values, counts sum to N, and as a discrete
     * distribution its mean is within alpha * mean|x| of the true mean. */
    size_t nb = jp_qsketch_buckets(s, NULL, 0);
    jp_qsketch_bucket_t *b = malloc(nb * sizeof *b);
    assert_non_null(b);
    assert_int_equal(jp_qsketch_buckets(s, b, nb), nb);
    double tot = 0, m = 0;
    for (size_t i = 0; i < nb; i++) {
        if (i)
            assert_true(b[i].value > b[i - 1].value);
        assert_true(b[i].count > 0);
        tot += b[i].count;
        m += b[i].value * b[i].count;
    }
    assert_true(tot == N);
    assert_true(fabs(m - sum) <= alpha * abs_sum);
    free(b);
    free(v);
    jp_qsketch_free(s);

    jp_qsketch_t *e = jp_qsketch_create(alpha, 2048, err, sizeof err);
    assert_non_null(e);
    assert_true(isnan(jp_qsketch_quantile(e, 0.5)));
    assert_true(isnan(jp_qsketch_cdf(e, 1.0)));
    assert_int_equal(jp_qsketch_buckets(e, NULL, 0), 0);
    jp_qsketch_free(e);
    assert_null(jp_qsketch_create(0.0, 2048, err, sizeof err));
    assert_null(jp_qsketch_create(0.01, 4, err, sizeof err));
}

static void test_serialize_roundtrip(void **state)
{
    (void)state;
    char err[128];
    jp_qsketch_t *s = jp_qsketch_create(0.01, 128, err, sizeof err);
    assert_non_null(s);
    jp_rng_t r;
    jp_rng_seed(&r, 35);
    for (int i = 0; i < 20000; i++)
        jp_qsketch_add_weighted(s, 1e3 * jp_rng_normal(&r) * jp_rng_exponential(&r, 1.0),
                                0.5 + jp_rng_uniform(&r));
    jp_qsketch_add(s, 0.0);
    jp_bytes_writer_t w, w2;
    jp_bytes_writer_init(&w);
    jp_qsketch_serialize(s, &w);
    jp_bytes_reader_t rd;
    jp_bytes_reader_init(&rd, w.buf, w.len);
    jp_qsketch_t *t = jp_qsketch_deserialize(&rd, err, sizeof err);
    assert_non_null(t);
    assert_true(jp_bytes_reader_done(&rd));
    jp_bytes_writer_init(&w2);
    jp_qsketch_serialize(t, &w2);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    assert_same_buckets(s, t);
    assert_true(jp_qsketch_sum(s) == jp_qsketch_sum(t));
    jp_bytes_reader_init(&rd, w.buf, w.len - 8);
    assert_null(jp_qsketch_deserialize(&rd, err, sizeof err));
    jp_bytes_writer_free(&w);
    jp_bytes_writer_free(&w2);
    jp_qsketch_free(s);
    jp_qsketch_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantiles_relative_accuracy),
        cmocka_unit_test(test_weighted_equals_repeated),
        cmocka_unit_test(test_merge_equals_union),
        cmocka_unit_test(test_rank_cdf_and_buckets),
        cmocka_unit_test(test_serialize_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
