/*
 * jp_bloom: no false negatives (ever), a false-positive rate at capacity
 * near the blocked filter's theory, and a rate that rises past capacity
 * (which is why callers rebuild).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_bloom.h"
#include "jp_hash.h"

#include <math.h>

static uint64_t key_hash(uint64_t tag, uint64_t i)
{
    uint64_t k[2] = {tag, i};
    return jp_hash64(k, sizeof k, 7);
}

static double fp_rate(const jp_bloom_t *b, uint64_t tag, uint64_t n)
{
    uint64_t fp = 0;
    for (uint64_t i = 0; i < n; i++)
        fp += (uint64_t)jp_bloom_maybe(b, key_hash(tag, i));
    return (double)fp / (double)n;
}

static void test_no_false_negatives(void **state)
{
    (void)state;
    enum { N = 200000 };
    jp_bloom_t *b = jp_bloom_new(N);
    assert_non_null(b);
    for (uint64_t i = 0; i < N; i++)
        jp_bloom_add(b, key_hash(1, i));
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(jp_bloom_maybe(b, key_hash(1, i)), 1);
    assert_int_equal(jp_bloom_added(b), N);
    assert_int_equal(jp_bloom_capacity(b), N);
    jp_bloom_free(b);
}

/* The classic filter's rate for the filter's real size (blocks are a
 * power of two, so m/n is 10 to 20 bits per key): (1 - e^(-kn/m))^k.
 * Blocking adds the variance of per-block load (Putze et al.: about 1.5x
 * at these sizes). Accept 0.5x to 2.5x, so a filter that answers "maybe"
 * too often or too rarely (for example, bits in the wrong block) fails. */
static void test_false_positive_rate_at_capacity(void **state)
{
    (void)state;
    enum { N = 500000 };
    jp_bloom_t *b = jp_bloom_new(N);
    assert_non_null(b);
    for (uint64_t i = 0; i < N; i++)
        jp_bloom_add(b, key_hash(2, i));
    double m = 8.0 * (double)jp_bloom_bytes(b);
    double classic = pow(1.0 - exp(-JP_BLOOM_K * (double)N / m), JP_BLOOM_K);
    double rate = fp_rate(b, 3, 2000000);
    print_message("false-positive rate at capacity: %.5f (%.1f bits/key, classic %.5f)\n", rate,
                  m / N, classic);
    assert_true(rate < 2.5 * classic);
    assert_true(rate > 0.5 * classic);
    jp_bloom_free(b);
}

static void test_rate_rises_past_capacity(void **state)
{
    (void)state;
    enum { N = 50000 };
    jp_bloom_t *b = jp_bloom_new(N);
    assert_non_null(b);
    for (uint64_t i = 0; i < 4 * N; i++)
        jp_bloom_add(b, key_hash(4, i));
    double rate = fp_rate(b, 5, 200000);
    print_message("false-positive rate at 4x capacity: %.4f\n", rate);
    assert_true(rate > 0.1);
    for (uint64_t i = 0; i < 4 * N; i++)
        assert_int_equal(jp_bloom_maybe(b, key_hash(4, i)), 1);
    jp_bloom_free(b);
}

static void test_empty_and_tiny(void **state)
{
    (void)state;
    jp_bloom_t *b = jp_bloom_new(0);
    assert_non_null(b);
    assert_true(jp_bloom_bytes(b) >= 64);
    assert_int_equal(fp_rate(b, 6, 1000) == 0.0, 1);
    jp_bloom_add(b, key_hash(6, 0));
    assert_int_equal(jp_bloom_maybe(b, key_hash(6, 0)), 1);
    jp_bloom_free(b);
    jp_bloom_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_false_negatives),
        cmocka_unit_test(test_false_positive_rate_at_capacity),
        cmocka_unit_test(test_rate_rises_past_capacity),
        cmocka_unit_test(test_empty_and_tiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
