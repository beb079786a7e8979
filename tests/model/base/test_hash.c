/*
 * jp_hash: XXH64 against the published reference vectors (xxHash
 * specification / python-xxhash documentation), the SplitMix64 finalizer
 * against values derived by hand from its definition, seed sensitivity and
 * bucket uniformity for the hashing trick.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_hash.h"

#include <math.h>
#include <string.h>

static void test_xxh64_reference_vectors(void **state)
{
    (void)state;
    /* Reference XXH64 values (seed 0) from the xxHash project. */
    assert_true(jp_hash64("", 0, 0) == 0xEF46DB3751D8E999ull);
    assert_true(jp_hash64(NULL, 0, 0) == 0xEF46DB3751D8E999ull);
    assert_true(jp_hash64("a", 1, 0) == 0xD24EC4F1A98C6E5Bull);
    assert_true(jp_hash64("abc", 3, 0) == 0x44BC2CF5AD770999ull);
    /* 39 bytes: exercises the 32-byte stripe loop and every tail size. */
    const char *s = "Nobody inspects the spammish repetition";
    assert_true(jp_hash64(s, strlen(s), 0) == 0xFBCEA83C8A378BF1ull);
    assert_true(jp_hash_str(s, 0) == 0xFBCEA83C8A378BF1ull);
}

static void test_seed_changes_output(void **state)
{
    (void)state;
    assert_true(jp_hash64("abc", 3, 1) != jp_hash64("abc", 3, 0));
    assert_true(jp_hash64("abc", 3, 1) == jp_hash64("abc", 3, 1));
    /* Unaligned input gives the same value as aligned input. */
    char buf[80];
    const char *s = "postcode-sector:NL-1012-AB|channel:web|age:35-44";
    size_t n = strlen(s);
    memcpy(buf + 3, s, n);
    assert_true(jp_hash64(buf + 3, n, 7) == jp_hash64(s, n, 7));
}

static void test_mix64(void **state)
{
    (void)state;
    assert_true(jp_hash_mix64(0) == 0);
    /* x = 1: (1 ^ 0) * C1 = C1; then z ^= z >> 27, * C2; z ^= z >> 31. */
    uint64_t z = 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    assert_true(jp_hash_mix64(1) == z);
    /* Avalanche: flipping one input bit flips about half the output bits. */
    double total = 0;
    int trials = 0;
    for (uint64_t x = 1; x < 2000; x += 7) {
        for (int b = 0; b < 64; b += 9) {
            total += __builtin_popcountll(jp_hash_mix64(x) ^ jp_hash_mix64(x ^ (1ull << b)));
            trials++;
        }
    }
    double mean = total / trials;
    assert_true(mean > 30.0 && mean < 34.0);
}

static void test_bucket_uniformity(void **state)
{
    (void)state;
    /* The hashing trick takes the low bits: a chi-square over 256 buckets of
     * 256k sequential keys must look uniform (255 dof: mean 255, sd ~22.6;
     * 400 is > 6 sd). */
    enum { B = 256, N = 1 << 18 };
    static unsigned counts[B];
    memset(counts, 0, sizeof counts);
    char key[32];
    for (int i = 0; i < N; i++) {
        int len = 0;
        int v = i;
        do {
            key[len++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        counts[jp_hash64(key, (size_t)len, 42) & (B - 1)]++;
    }
    double expect = (double)N / B, chi2 = 0;
    for (int b = 0; b < B; b++)
        chi2 += (counts[b] - expect) * (counts[b] - expect) / expect;
    assert_true(chi2 < 400.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_reference_vectors),
        cmocka_unit_test(test_seed_changes_output),
        cmocka_unit_test(test_mix64),
        cmocka_unit_test(test_bucket_uniformity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
