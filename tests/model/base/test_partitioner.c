/*
 * jp_partitioner: murmur2 against Kafka's own vectors (UtilsTest.testMurmur2,
 * as librdkafka's tests use them), FNV-1a and CRC-32 against their
 * published check values, and the partitions of the keys issue 19 reported
 * (GB on 6 partitions: 3 with murmur2, 1 with librdkafka's default, 4 with
 * Sarama's). tests/stream/engine/test_engine_repartition.c checks every
 * partitioner against what librdkafka itself chooses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/base/jp_partitioner.h"

#include <stdio.h>
#include <string.h>

static void test_murmur2_kafka_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint32_t h;
    } v[] = {{"kafka", 0xd067cf64},
             {"giberish123456789", 0x8f552b0c},
             {"1234", 0x9fc97b14},
             {"234", 0xe7c009ca},
             {"34", 0x873930da},
             {"4", 0x5a4b5ca1},
             {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
             {"", 0x106e08d9}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal(jp_partitioner_murmur2(v[i].key, strlen(v[i].key)), v[i].h);
}

static void test_fnv1a_and_crc32_check_values(void **state)
{
    (void)state;
    /* FNV-1a 32: offset basis for "", the reference values of
     * isthe.com/chongo/tech/comp/fnv for "a" and "foobar". */
    assert_int_equal(jp_partitioner_fnv1a("", 0), 0x811c9dc5u);
    assert_int_equal(jp_partitioner_fnv1a("a", 1), 0xe40c292cu);
    assert_int_equal(jp_partitioner_fnv1a("foobar", 6), 0xbf9cf968u);
    /* CRC-32 check value (the catalogue's "123456789"). */
    assert_int_equal(jp_partitioner_crc32("123456789", 9), 0xcbf43926u);
    assert_int_equal(jp_partitioner_crc32("", 0), 0);
}

static void test_partitions_of_issue_19(void **state)
{
    (void)state;
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_MURMUR2, "GB", 2, 6), 3);
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_CONSISTENT_RANDOM, "GB", 2, 6), 1);
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_CRC32, "GB", 2, 6), 1);
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_FNV1A, "GB", 2, 6), 4);
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_ANY, "GB", 2, 6), -1);
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_MURMUR2, "GB", 2, 0), -1);
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER__COUNT, "GB", 2, 6), -1);
}

static void test_reductions(void **state)
{
    (void)state;
    /* murmur2 uses toPositive (drop the sign bit), not abs: "kafka" hashes
     * to 0xd067cf64, whose toPositive is 0x5067cf64. */
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_MURMUR2, "kafka", 5, 1000),
                     (int)(0x5067cf64u % 1000));
    /* Sarama negates the remainder of the signed hash: "a" hashes to
     * 0xe40c292c = -468965076 as an int32, remainder -76 by 1000 (an
     * unsigned reduction would give 220). */
    assert_int_equal(jp_partitioner_partition(JP_PARTITIONER_FNV1A, "a", 1, 1000), 76);
    /* Every partition is in range for every partitioner and count. */
    char key[8];
    for (int n = 1; n <= 64; n++)
        for (int k = 0; k < 200; k++) {
            size_t len = (size_t)snprintf(key, sizeof(key), "K%d", k);
            for (int p = 0; p < JP_PARTITIONER_ANY; p++) {
                int part = jp_partitioner_partition((jp_partitioner_t)p, key, len, n);
                assert_true(part >= 0 && part < n);
            }
        }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(jp_partitioner_name(JP_PARTITIONER_MURMUR2), "murmur2");
    assert_string_equal(jp_partitioner_name(JP_PARTITIONER_CONSISTENT_RANDOM), "consistent_random");
    assert_string_equal(jp_partitioner_name(JP_PARTITIONER_FNV1A), "fnv1a");
    assert_string_equal(jp_partitioner_name(JP_PARTITIONER_CRC32), "crc32");
    assert_string_equal(jp_partitioner_name(JP_PARTITIONER_ANY), "any");
    assert_null(jp_partitioner_name(JP_PARTITIONER__COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_kafka_vectors),
        cmocka_unit_test(test_fnv1a_and_crc32_check_values),
        cmocka_unit_test(test_partitions_of_issue_19),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
