/*
 * jp_u64set against a reference (a byte per value of a small universe,
 * spread over the 64-bit range so probe runs collide and wrap), through
 * random adds and removals with growth, and the edge cases: 0, removal
 * from an empty set, reserve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "model/base/jp_rng.h"
#include "model/base/jp_u64set.h"

#define UNIVERSE 20000

/* Value i of the universe: 0 and UINT64_MAX included, the rest spread. */
static uint64_t value_of(size_t i)
{
    if (i == 0)
        return 0;
    if (i == 1)
        return UINT64_MAX;
    return (uint64_t)i * 0x9e3779b97f4a7c15ULL;
}

static void test_matches_reference(void **state)
{
    (void)state;
    jp_rng_t rng;
    jp_rng_seed(&rng, 42);
    uint8_t *ref = calloc(UNIVERSE, 1);
    assert_non_null(ref);
    size_t ref_count = 0;
    jp_u64set_t s;
    jp_u64set_init(&s);
    for (int op = 0; op < 400000; op++) {
        size_t i = (size_t)jp_rng_below(&rng, UNIVERSE);
        uint64_t v = value_of(i);
        /* Adds dominate early (growth), removals later (backward shifts). */
        int add = jp_rng_below(&rng, 100) < (op < 200000 ? 70u : 35u);
        if (add) {
            assert_int_equal(jp_u64set_add(&s, v), !ref[i]);
            ref_count += !ref[i];
            ref[i] = 1;
        } else {
            assert_int_equal(jp_u64set_remove(&s, v), ref[i]);
            ref_count -= ref[i];
            ref[i] = 0;
        }
        if (op % 10007 == 0)
            for (size_t k = 0; k < UNIVERSE; k++)
                assert_int_equal(jp_u64set_has(&s, value_of(k)), ref[k]);
    }
    for (size_t k = 0; k < UNIVERSE; k++)
        assert_int_equal(jp_u64set_has(&s, value_of(k)), ref[k]);
    assert_int_equal(jp_u64set_count(&s), ref_count);
    assert_true(jp_u64set_bytes(&s) >= 2 * (ref_count - 1) * sizeof(uint64_t));
    jp_u64set_free(&s);
    free(ref);
}

static void test_edges(void **state)
{
    (void)state;
    jp_u64set_t s;
    jp_u64set_init(&s);
    assert_int_equal(jp_u64set_has(&s, 0), 0);
    assert_int_equal(jp_u64set_has(&s, 7), 0);
    assert_int_equal(jp_u64set_remove(&s, 7), 0);
    assert_int_equal(jp_u64set_remove(&s, 0), 0);
    assert_int_equal(jp_u64set_add(&s, 0), 1);
    assert_int_equal(jp_u64set_add(&s, 0), 0);
    assert_int_equal(jp_u64set_count(&s), 1);
    assert_int_equal(jp_u64set_remove(&s, 0), 1);
    assert_int_equal(jp_u64set_count(&s), 0);

    assert_int_equal(jp_u64set_reserve(&s, 1000), 0);
    size_t bytes = jp_u64set_bytes(&s);
    for (uint64_t v = 1; v <= 1000; v++)
        assert_int_equal(jp_u64set_add(&s, v << 20), 1);
    assert_int_equal(jp_u64set_bytes(&s), bytes); /* reserved: no growth */
    for (uint64_t v = 1; v <= 1000; v++)
        assert_int_equal(jp_u64set_has(&s, v << 20), 1);
    assert_int_equal(jp_u64set_has(&s, 1001ULL << 20), 0);
    jp_u64set_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
