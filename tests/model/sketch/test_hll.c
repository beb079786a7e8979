/*
 * jp_hll: accuracy against the documented standard error, linear counting
 * at small cardinalities, exact merge of disjoint halves, serialization.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_hash.h"
#include "model/sketch/jp_hll.h"

#include <math.h>
#include <string.h>

static void add_range(jp_hll_t *h, uint64_t tag, uint64_t lo, uint64_t hi)
{
    for (uint64_t i = lo; i < hi; i++) {
        uint64_t key[2] = {tag, i};
        jp_hll_add(h, key, sizeof key);
    }
}

/* p = 14: relative standard error 1.04 / 128 = 0.81%. Over 5 seeded trials
 * at 1M distinct the RMS relative error must be <= 2% and no trial off by
 * more than 4% (5 standard errors). */
static void test_accuracy_1m(void **state)
{
    (void)state;
    enum { TRIALS = 5, N = 1000000 };
    double sq = 0, worst = 0;
    char err[128];
    for (int t = 0; t < TRIALS; t++) {
        jp_hll_t *h = jp_hll_create(JP_HLL_DEFAULT_P, (uint64_t)t * 7919 + 1, err, sizeof err);
        assert_non_null(h);
        add_range(h, (uint64_t)t, 0, N);
        double rel = (jp_hll_estimate(h) - N) / N;
        sq += rel * rel;
        if (fabs(rel) > worst)
            worst = fabs(rel);
        jp_hll_free(h);
    }
    double rms = sqrt(sq / TRIALS);
    print_message("HLL p=14 at 1M: rms rel error %.4f, worst %.4f\n", rms, worst);
    assert_true(rms <= 0.02);
    assert_true(worst <= 0.04);
}

static void test_small_range_and_duplicates(void **state)
{
    (void)state;
    char err[128];
    jp_hll_t *h = jp_hll_create(JP_HLL_DEFAULT_P, 3, err, sizeof err);
    assert_non_null(h);
    assert_true(jp_hll_estimate(h) == 0.0);
    /* Linear counting is within ~1% here (sd of m ln(m/V) at n << m is
     * about sqrt(n^2 / 2m) / n). */
    const uint64_t ns[] = {10, 100, 1000, 10000, 40000};
    uint64_t done = 0;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        add_range(h, 99, done, ns[k]);
        done = ns[k];
        double e = jp_hll_estimate(h);
        assert_true(fabs(e - (double)ns[k]) <= 0.03 * (double)ns[k] + 1);
    }
    /* Re-adding the same items changes nothing. */
    uint8_t before[1 << JP_HLL_DEFAULT_P];
    memcpy(before, jp_hll_registers(h), sizeof before);
    add_range(h, 99, 0, 40000);
    assert_memory_equal(before, jp_hll_registers(h), sizeof before);
    jp_hll_free(h);

    /* Other precisions: p = 4 and p = 18 at 100k. */
    const unsigned ps[] = {4, 10, 18};
    for (size_t k = 0; k < 3; k++) {
        jp_hll_t *g = jp_hll_create(ps[k], 5, err, sizeof err);
        assert_non_null(g);
        add_range(g, 5, 0, 100000);
        double se = 1.04 / sqrt((double)(1u << ps[k]));
        assert_true(fabs(jp_hll_estimate(g) - 100000) <= 5 * se * 100000);
        jp_hll_free(g);
    }
    assert_null(jp_hll_create(3, 0, err, sizeof err));
    assert_null(jp_hll_create(19, 0, err, sizeof err));
}

static void test_merge_disjoint_halves(void **state)
{
    (void)state;
    char err[128];
    jp_hll_t *a = jp_hll_create(14, 42, err, sizeof err);
    jp_hll_t *b = jp_hll_create(14, 42, err, sizeof err);
    jp_hll_t *u = jp_hll_create(14, 42, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(u);
    add_range(a, 1, 0, 250000);
    add_range(b, 1, 250000, 500000);
    add_range(u, 1, 0, 500000);
    assert_int_equal(jp_hll_merge(a, b, err, sizeof err), 0);
    assert_memory_equal(jp_hll_registers(a), jp_hll_registers(u), 1u << 14);
    assert_true(jp_hll_estimate(a) == jp_hll_estimate(u));
    /* Merging is idempotent. */
    assert_int_equal(jp_hll_merge(a, b, err, sizeof err), 0);
    assert_memory_equal(jp_hll_registers(a), jp_hll_registers(u), 1u << 14);

    jp_hll_t *c = jp_hll_create(12, 42, err, sizeof err);
    jp_hll_t *d = jp_hll_create(14, 43, err, sizeof err);
    assert_int_equal(jp_hll_merge(a, c, err, sizeof err), -1);
    assert_int_equal(jp_hll_merge(a, d, err, sizeof err), -1);
    jp_hll_free(a);
    jp_hll_free(b);
    jp_hll_free(c);
    jp_hll_free(d);
    jp_hll_free(u);
}

static void test_add_hash_rank(void **state)
{
    (void)state;
    char err[128];
    jp_hll_t *h = jp_hll_create(4, 0, err, sizeof err);
    assert_non_null(h);
    /* Index = top 4 bits; rank = 1 + leading zeros of the remaining 60. */
    jp_hll_add_hash(h, 0x3000000000000000ull | (1ull << 55)); /* idx 3, 4 zeros */
    jp_hll_add_hash(h, 0x5000000000000000ull);                /* idx 5, all zero */
    assert_int_equal(jp_hll_registers(h)[3], 5);
    assert_int_equal(jp_hll_registers(h)[5], 61);
    jp_hll_free(h);
}

static void test_serialize_roundtrip(void **state)
{
    (void)state;
    char err[128];
    jp_hll_t *h = jp_hll_create(12, 9, err, sizeof err);
    assert_non_null(h);
    add_range(h, 2, 0, 30000);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_hll_serialize(h, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_hll_t *g = jp_hll_deserialize(&r, err, sizeof err);
    assert_non_null(g);
    assert_true(jp_bytes_reader_done(&r));
    assert_memory_equal(jp_hll_registers(g), jp_hll_registers(h), 1u << 12);
    assert_true(jp_hll_estimate(g) == jp_hll_estimate(h));
    /* Same seed survives: adding the same items to both stays identical. */
    add_range(h, 3, 0, 1000);
    add_range(g, 3, 0, 1000);
    assert_memory_equal(jp_hll_registers(g), jp_hll_registers(h), 1u << 12);
    jp_hll_free(g);
    /* Truncated and out-of-range registers are refused. */
    jp_bytes_reader_init(&r, w.buf, w.len - 1);
    assert_null(jp_hll_deserialize(&r, err, sizeof err));
    w.buf[w.len - 1] = 200;
    jp_bytes_reader_init(&r, w.buf, w.len);
    assert_null(jp_hll_deserialize(&r, err, sizeof err));
    jp_bytes_writer_free(&w);
    jp_hll_free(h);
}

/* Few items: the sparse form, much smaller than the 4096 dense registers,
 * round-trips exactly, and a corrupt register index is refused. */
static void test_sparse_serialization(void **state)
{
    (void)state;
    char err[128];
    jp_hll_t *h = jp_hll_create(12, 9, err, sizeof err);
    add_range(h, 2, 0, 50);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_hll_serialize(h, &w);
    assert_true(w.len < 400);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_hll_t *g = jp_hll_deserialize(&r, err, sizeof err);
    assert_non_null(g);
    assert_true(jp_bytes_reader_done(&r));
    assert_memory_equal(jp_hll_registers(g), jp_hll_registers(h), 1u << 12);
    assert_true(jp_hll_estimate(g) == jp_hll_estimate(h));
    jp_hll_free(g);
    /* the first pair's index (after tag, version, p, seed, mode, count) */
    w.buf[6 + 1 + 8 + 1 + 4 + 3] = 0xff;
    jp_bytes_reader_init(&r, w.buf, w.len);
    assert_null(jp_hll_deserialize(&r, err, sizeof err));
    jp_bytes_writer_free(&w);
    jp_hll_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_1m),
        cmocka_unit_test(test_small_range_and_duplicates),
        cmocka_unit_test(test_merge_disjoint_halves),
        cmocka_unit_test(test_add_hash_rank),
        cmocka_unit_test(test_serialize_roundtrip),
        cmocka_unit_test(test_sparse_serialization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
