/*
 * jp_partitioner: the default partitioners of the Kafka clients people use.
 *
 * Design. A partitioner is "hash, then reduce": what differs between
 * clients is the hash and how a signed or unsigned 32-bit value becomes a
 * non-negative index, and each client's own code is the specification.
 * murmur2 follows Kafka's Utils.murmur2 (a MurmurHash2 variant whose tail
 * bytes are mixed in little-endian order and whose seed is 0x9747b28c),
 * reduced with toPositive (x & 0x7fffffff), not Math.abs. FNV-1a is reduced
 * as Sarama does: the hash as a signed int32, its remainder (truncated
 * toward zero, as in Go and C) negated when negative. CRC-32 is zlib's;
 * librdkafka reduces it as an unsigned value. murmur2 reads its words
 * little-endian (jp_endian.h), so results do not depend on the host.
 */
#include "model/base/jp_partitioner.h"

#include <zlib.h>

#include "model/base/jp_endian.h"

uint32_t jp_partitioner_murmur2(const void *key, size_t len)
{
    const unsigned char *d = key;
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    for (; len >= 4; d += 4, len -= 4) {
        uint32_t k = jp_le32_get(d);
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len) {
    case 3:
        h ^= (uint32_t)d[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)d[1] << 8;
        /* fall through */
    case 1:
        h ^= d[0];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

uint32_t jp_partitioner_fnv1a(const void *key, size_t len)
{
    const unsigned char *d = key;
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < len; i++) {
        h ^= d[i];
        h *= 0x01000193u;
    }
    return h;
}

uint32_t jp_partitioner_crc32(const void *key, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *d = key;
    /* zlib takes a uInt length: feed very long keys in pieces. */
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        c = crc32(c, d, n);
        d += n;
        len -= n;
    }
    return (uint32_t)c;
}

int jp_partitioner_partition(jp_partitioner_t p, const void *key, size_t len, int n)
{
    if (n <= 0)
        return -1;
    switch (p) {
    case JP_PARTITIONER_MURMUR2:
        return (int)((jp_partitioner_murmur2(key, len) & 0x7fffffffu) % (uint32_t)n);
    case JP_PARTITIONER_CONSISTENT_RANDOM:
    case JP_PARTITIONER_CRC32:
        return (int)(jp_partitioner_crc32(key, len) % (uint32_t)n);
    case JP_PARTITIONER_FNV1A: {
        /* Sarama: int32(h) % n, negated when negative (int64: the
         * two's-complement reading of h without an implementation-defined
         * conversion). */
        uint32_t h = jp_partitioner_fnv1a(key, len);
        int64_t r = ((int64_t)h - (h >= 0x80000000u ? 0x100000000LL : 0)) % n;
        return (int)(r < 0 ? -r : r);
    }
    default:
        return -1;
    }
}

const char *const jp_partitioner_names[JP_PARTITIONER__COUNT + 1] = {
    "murmur2", "consistent_random", "fnv1a", "crc32", "any", NULL};

const char *jp_partitioner_name(jp_partitioner_t p)
{
    return (unsigned)p < JP_PARTITIONER__COUNT ? jp_partitioner_names[p] : NULL;
}
