/*
 * jp_partitioner: the partition a Kafka client chooses for a keyed record,
 * for each client library's default partitioner, and their hash functions.
 *
 * The engine's windows need every record of a country in one task, so it
 * checks each record's partition against the one its producers are
 * expected to use (topics.input_partitioner); the simulator's tests check
 * what librdkafka chose. One implementation serves both.
 *
 * Contract (key: the record's key bytes, n: the topic's partition count > 0):
 * - JP_PARTITIONER_MURMUR2: toPositive(murmur2(key)) % n - the Java
 *   client's default (Utils.murmur2, seed 0x9747b28c), KafkaJS's
 *   DefaultPartitioner, kafka-python's, librdkafka's murmur2/murmur2_random.
 * - JP_PARTITIONER_CRC32 and JP_PARTITIONER_CONSISTENT_RANDOM:
 *   crc32(key) % n (the IEEE CRC-32 of zlib) - librdkafka's
 *   consistent/consistent_random, librdkafka's default (kcat,
 *   confluent-kafka-python, confluent-kafka-go). For keyed records both
 *   choose the same partition; they differ only for empty keys, which
 *   consistent_random spreads at random.
 * - JP_PARTITIONER_FNV1A: |int32(fnv1a_32(key))| % n - Sarama's default
 *   HashPartitioner, librdkafka's fnv1a/fnv1a_random.
 * - JP_PARTITIONER_ANY: no partition is expected (-1).
 * The hash functions are pure and the same on every host.
 */
#ifndef JP_PARTITIONER_H
#define JP_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    JP_PARTITIONER_MURMUR2,
    JP_PARTITIONER_CONSISTENT_RANDOM,
    JP_PARTITIONER_FNV1A,
    JP_PARTITIONER_CRC32,
    JP_PARTITIONER_ANY,
    JP_PARTITIONER__COUNT
} jp_partitioner_t;

/* Kafka's Utils.murmur2 (MurmurHash2, seed 0x9747b28c). */
uint32_t jp_partitioner_murmur2(const void *key, size_t len);
/* 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193). */
uint32_t jp_partitioner_fnv1a(const void *key, size_t len);
/* IEEE 802.3 CRC-32 (zlib's crc32). */
uint32_t jp_partitioner_crc32(const void *key, size_t len);

/* The partition p chooses for a record with this key among n; -1 for
 * JP_PARTITIONER_ANY, n <= 0 or an unknown p. */
int jp_partitioner_partition(jp_partitioner_t p, const void *key, size_t len, int n);

/* The configuration names in jp_partitioner_t order ("murmur2",
 * "consistent_random", "fnv1a", "crc32", "any"), NULL-terminated. */
extern const char *const jp_partitioner_names[JP_PARTITIONER__COUNT + 1];
/* jp_partitioner_names[p], NULL for an unknown value. */
const char *jp_partitioner_name(jp_partitioner_t p);

#endif
