/*
 * jp_endian: fixed-width integers to and from bytes in a stated byte
 * order, whatever the host's. The one place byte order is written by hand:
 * state keys and values, changelog headers, Confluent framing, tz files and
 * hash inputs all go through these.
 *
 * It lives in model/base although most callers are in stream/: model/
 * needs it too (dedupe segments, hashing, SHA-256) and may not include
 * stream/, while every stream room may include model/base.
 *
 * Big-endian (network order) where bytes must sort like the numbers
 * (RocksDB keys) or a format says so; little-endian where a format says so
 * (Avro floats, hash lanes). The sortable variants store a signed value in
 * offset binary (sign bit flipped), so that negative values sort before
 * positive ones under memcmp. Unaligned pointers are fine: memcpy of a
 * fixed size compiles to one load or store, plus a byte swap where the
 * host's order differs.
 */
#ifndef JP_ENDIAN_H
#define JP_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || !defined(__ORDER_LITTLE_ENDIAN__) || !defined(__ORDER_BIG_ENDIAN__)
#error "jp_endian.h needs the compiler's __BYTE_ORDER__ (GCC or Clang)"
#endif

#define JP_ENDIAN_HOST_LE (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

/* Defines jp_<order><bits>_get(const void *p) -> uint<bits>_t and
 * jp_<order><bits>_put(void *p, uint<bits>_t v); swap: whether the host's
 * order differs from <order>. */
#define JP_ENDIAN_DEFINE(order, bits, swap)                                                        \
    static inline uint##bits##_t jp_##order##bits##_get(const void *p)                             \
    {                                                                                              \
        uint##bits##_t v;                                                                          \
        memcpy(&v, p, sizeof v);                                                                   \
        return (swap) ? __builtin_bswap##bits(v) : v;                                              \
    }                                                                                              \
    static inline void jp_##order##bits##_put(void *p, uint##bits##_t v)                           \
    {                                                                                              \
        v = (swap) ? __builtin_bswap##bits(v) : v;                                                 \
        memcpy(p, &v, sizeof v);                                                                   \
    }

JP_ENDIAN_DEFINE(be, 32, JP_ENDIAN_HOST_LE)  /* jp_be32_get, jp_be32_put */
JP_ENDIAN_DEFINE(be, 64, JP_ENDIAN_HOST_LE)  /* jp_be64_get, jp_be64_put */
JP_ENDIAN_DEFINE(le, 32, !JP_ENDIAN_HOST_LE) /* jp_le32_get, jp_le32_put */
JP_ENDIAN_DEFINE(le, 64, !JP_ENDIAN_HOST_LE) /* jp_le64_get, jp_le64_put */

/* A signed value as 8 bytes that sort (memcmp) in numeric order. */
static inline void jp_be64_put_sortable(void *p, int64_t v)
{
    jp_be64_put(p, (uint64_t)v ^ (1ull << 63));
}

static inline int64_t jp_be64_get_sortable(const void *p)
{
    return (int64_t)(jp_be64_get(p) ^ (1ull << 63));
}

#endif
