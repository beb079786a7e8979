/*
 * jp_search against a linear count, on random ascending arrays with many
 * ties (values drawn from a few integers), for probes at, between and
 * outside the values, and the edge cases: an empty array, NaN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "model/base/jp_rng.h"
#include "model/base/jp_search.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_against_counting(void **state)
{
    (void)state;
    jp_rng_t r;
    jp_rng_seed(&r, 5);
    double v[40];
    for (int run = 0; run < 2000; run++) {
        size_t n = (size_t)jp_rng_below(&r, 41);
        for (size_t i = 0; i < n; i++)
            v[i] = (double)jp_rng_below(&r, 8);
        qsort(v, n, sizeof(*v), cmp);
        for (int k = -2; k <= 18; k++) {
            double x = k / 2.0; /* at and between the values, and outside */
            size_t below = 0, upto = 0;
            for (size_t i = 0; i < n; i++) {
                below += v[i] < x;
                upto += v[i] <= x;
            }
            assert_int_equal(jp_search_left(v, n, x), below);
            assert_int_equal(jp_search_right(v, n, x), upto);
        }
    }
}

static void test_edges(void **state)
{
    (void)state;
    const double v[3] = {1, 2, 3};
    assert_int_equal(jp_search_left(NULL, 0, 1.0), 0);
    assert_int_equal(jp_search_right(NULL, 0, 1.0), 0);
    assert_int_equal(jp_search_left(v, 3, NAN), 0);
    assert_int_equal(jp_search_right(v, 3, NAN), 0);
    assert_int_equal(jp_search_left(v, 3, -INFINITY), 0);
    assert_int_equal(jp_search_right(v, 3, INFINITY), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_counting),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
