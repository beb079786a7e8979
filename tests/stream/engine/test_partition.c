/*
 * jp_partition alone: a record's home per partitioner (the country as a
 * string key), the replay rule of the repartition stream (per input and
 * source partition, a copy at or below the highest source offset applied
 * is a replay), the streams of copies (their event time, the streams that
 * carried each country, and what closes its windows), the state's round
 * trip through its meta value (a changed partition count and a corrupt
 * value reset it), and the source header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "engine/jp_partition.h"

static void test_home(void **state)
{
    (void)state;
    jp_partition_check_t c = {JP_PARTITIONER_MURMUR2, 0, 6};
    assert_int_equal(jp_partition_home(&c, "GB"), 3);
    c.partitioner = JP_PARTITIONER_CONSISTENT_RANDOM;
    assert_int_equal(jp_partition_home(&c, "GB"), 1);
    c.partitioner = JP_PARTITIONER_FNV1A;
    assert_int_equal(jp_partition_home(&c, "GB"), 4);
    c.partitioner = JP_PARTITIONER_ANY;
    assert_int_equal(jp_partition_home(&c, "GB"), -1);
    c.partitioner = JP_PARTITIONER_MURMUR2;
    c.n_partitions = 0; /* unknown: unchecked */
    assert_int_equal(jp_partition_home(&c, "GB"), -1);
    assert_int_equal(jp_partition_home(NULL, "GB"), -1);
}

static void test_replays(void **state)
{
    (void)state;
    jp_partition_state_t s;
    assert_int_equal(jp_partition_state_init(&s, 4), 0);
    assert_int_equal(s.next_offset, -1);
    /* one source partition's copies in order, then the same again from a
     * committed offset (a rewound or new owner of the source) */
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 2, 10), 0);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 2, 14), 0);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 2, 10), 1);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 2, 14), 1);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 2, 15), 0);
    /* other sources and inputs are independent */
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 1, 3), 0);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_CUSTOMERS, 2, 3), 0);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_DRAWS, 2, 0), 0);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_DRAWS, 2, 0), 1);
    /* a source beyond the table is processed, never skipped */
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 9, 1), 0);
    assert_int_equal(jp_partition_state_admit(&s, JP_INPUT_SALES, 9, 1), 0);
    assert_int_equal(s.received[JP_INPUT_SALES], 6);
    assert_int_equal(s.replays[JP_INPUT_SALES], 2);
    assert_int_equal(s.received[JP_INPUT_CUSTOMERS], 1);
    assert_int_equal(s.received[JP_INPUT_DRAWS], 1);
    assert_int_equal(s.replays[JP_INPUT_DRAWS], 1);
    assert_true(s.dirty);
    jp_partition_state_free(&s);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    jp_partition_state_t a, b, c;
    assert_int_equal(jp_partition_state_init(&a, 6), 0);
    assert_int_equal(jp_partition_state_init(&b, 6), 0);
    assert_int_equal(jp_partition_state_init(&c, 3), 0);
    jp_partition_state_admit(&a, JP_INPUT_SALES, 5, 1234567890123LL);
    jp_partition_state_admit(&a, JP_INPUT_CUSTOMERS, 1, 7);
    jp_partition_state_admit(&a, JP_INPUT_CUSTOMERS, 1, 7);
    a.repartitioned[JP_INPUT_DRAWS] = 42;
    size_t n;
    uint8_t *v = jp_partition_state_encode(&a, &n);
    assert_non_null(v);
    b.next_offset = 99; /* a position: kept by decode */
    assert_int_equal(jp_partition_state_decode(&b, v, n), 0);
    assert_int_equal(b.next_offset, 99);
    assert_int_equal(b.repartitioned[JP_INPUT_DRAWS], 42);
    assert_int_equal(b.received[JP_INPUT_CUSTOMERS], 1);
    assert_int_equal(b.replays[JP_INPUT_CUSTOMERS], 1);
    assert_int_equal(jp_partition_state_admit(&b, JP_INPUT_SALES, 5, 1234567890123LL), 1);
    assert_int_equal(jp_partition_state_admit(&b, JP_INPUT_CUSTOMERS, 1, 7), 1);
    assert_int_equal(jp_partition_state_admit(&b, JP_INPUT_CUSTOMERS, 1, 8), 0);
    /* another partition count: every mark would name another partition */
    assert_int_equal(jp_partition_state_decode(&c, v, n), -1);
    assert_int_equal(c.received[JP_INPUT_CUSTOMERS], 0);
    assert_int_equal(jp_partition_state_admit(&c, JP_INPUT_CUSTOMERS, 1, 7), 0);
    /* a corrupt value resets the state and says so */
    assert_int_equal(jp_partition_state_decode(&b, v, n - 3), -1);
    assert_int_equal(b.received[JP_INPUT_CUSTOMERS], 0);
    assert_int_equal(jp_partition_state_decode(&c, "RPST", 4), -1);
    free(v);
    jp_partition_state_free(&a);
    jp_partition_state_free(&b);
    jp_partition_state_free(&c);
}

/* Event time of the copies: a stream per (input, source); a copied
 * country's feed is the lowest of its own streams of that input, any other
 * country's the input partition's; floor and ceiling span every stream. */
static void test_streams(void **state)
{
    (void)state;
    const int64_t none = INT64_MIN;
    jp_partition_state_t s, back;
    assert_int_equal(jp_partition_state_init(&s, 70), 0); /* two bitmap words */
    assert_int_equal(jp_partition_state_init(&back, 70), 0);
    assert_false(jp_partition_country_copied(&s, "DE"));
    assert_true(jp_partition_feed_newest(&s, JP_INPUT_SALES, "DE", 500) == 500);
    assert_int_equal(jp_partition_state_applied(&s, JP_INPUT_SALES, 2, "DE", 1000), 0);
    assert_int_equal(jp_partition_state_applied(&s, JP_INPUT_SALES, 2, "DE", 900), 0);
    assert_int_equal(jp_partition_state_applied(&s, JP_INPUT_SALES, 66, "NO", 3000), 0);
    assert_int_equal(jp_partition_state_applied(&s, JP_INPUT_SALES, 66, "DE", 700), 0);
    assert_true(jp_partition_stream_newest(&s, JP_INPUT_SALES, 2) == 1000);
    assert_true(jp_partition_stream_newest(&s, JP_INPUT_SALES, 66) == 3000);
    assert_true(jp_partition_stream_newest(&s, JP_INPUT_SALES, 3) == none);
    assert_true(jp_partition_country_copied(&s, "DE"));
    assert_false(jp_partition_country_copied(&s, "GB"));
    /* DE came from 2 and 66: the lower; NO from 66 only; GB: the partition */
    assert_true(jp_partition_feed_newest(&s, JP_INPUT_SALES, "DE", 5000) == 1000);
    assert_true(jp_partition_feed_newest(&s, JP_INPUT_SALES, "NO", 5000) == 3000);
    assert_true(jp_partition_feed_newest(&s, JP_INPUT_SALES, "GB", 5000) == 5000);
    /* no customers copy of DE yet: its windows wait */
    assert_true(jp_partition_feed_newest(&s, JP_INPUT_CUSTOMERS, "DE", 5000) == none);
    assert_true(jp_partition_input_floor(&s, JP_INPUT_SALES, 5000) == 1000);
    assert_true(jp_partition_input_floor(&s, JP_INPUT_SALES, none) == 1000);
    assert_true(jp_partition_input_ceiling(&s, JP_INPUT_SALES, 5000) == 5000);
    assert_true(jp_partition_input_ceiling(&s, JP_INPUT_SALES, none) == 3000);
    assert_true(jp_partition_input_floor(&s, JP_INPUT_DRAWS, none) == none);
    /* all of it survives the meta value */
    size_t n;
    uint8_t *v = jp_partition_state_encode(&s, &n);
    assert_non_null(v);
    assert_int_equal(jp_partition_state_decode(&back, v, n), 0);
    free(v);
    assert_true(jp_partition_feed_newest(&back, JP_INPUT_SALES, "DE", 5000) == 1000);
    assert_true(jp_partition_feed_newest(&back, JP_INPUT_SALES, "NO", 5000) == 3000);
    assert_true(jp_partition_stream_newest(&back, JP_INPUT_SALES, 66) == 3000);
    assert_true(jp_partition_country_copied(&back, "NO"));
    jp_partition_state_reset(&back);
    assert_false(jp_partition_country_copied(&back, "NO"));
    jp_partition_state_free(&s);
    jp_partition_state_free(&back);
}

static void test_source_header(void **state)
{
    (void)state;
    const char *topic;
    size_t tl;
    int32_t p;
    int64_t o;
    const char *h = "lottery.sales.v1/3/123456";
    assert_int_equal(jp_partition_parse_source(h, strlen(h), &topic, &tl, &p, &o), 0);
    assert_int_equal(tl, strlen("lottery.sales.v1"));
    assert_memory_equal(topic, "lottery.sales.v1", tl);
    assert_int_equal(p, 3);
    assert_int_equal(o, 123456);
    static const char *const bad[] = {"",
                                      "t",
                                      "t/",
                                      "t/1",
                                      "t/1/",
                                      "/1/2",
                                      "t/x/2",
                                      "t/1/2x",
                                      "t/1/-2",
                                      "t/99999999999/1",
                                      "t/1/99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(jp_partition_parse_source(bad[i], strlen(bad[i]), &topic, &tl, &p, &o),
                         -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_home),
        cmocka_unit_test(test_replays),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_source_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
