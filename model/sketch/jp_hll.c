/*
 * jp_hll: HyperLogLog with linear counting for small cardinalities.
 *
 * Design. The classic estimator is kept deliberately: it is what the
 * documented error (1.04/sqrt(m)) refers to, it needs no empirical bias
 * tables (HLL++) and its registers are the whole state, so merge is a max
 * and serialization is a byte copy. Registers are one byte each (ranks are
 * at most 65 - p), which keeps add() to one hash, one shift and one
 * compare. The 64-bit hash removes the need for the large-range correction
 * of the 32-bit original.
 */
#include "model/sketch/jp_hll.h"

#include "model/base/jp_err.h"

#include "model/base/jp_hash.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp_hll_s {
    unsigned p;
    uint32_t m;
    uint64_t seed;
    uint8_t *reg;
};

jp_hll_t *jp_hll_create(unsigned p, uint64_t seed, char *errstr, size_t errstr_size)
{
    if (p < JP_HLL_MIN_P || p > JP_HLL_MAX_P) {
        jp_err_set(errstr, errstr_size, "hll: precision must be in [%d, %d]", JP_HLL_MIN_P,
                   JP_HLL_MAX_P);
        return NULL;
    }
    jp_hll_t *h = calloc(1, sizeof *h);
    if (h)
        h->reg = calloc((size_t)1 << p, 1);
    if (!h || !h->reg) {
        free(h);
        jp_err_set(errstr, errstr_size, "hll: out of memory");
        return NULL;
    }
    h->p = p;
    h->m = (uint32_t)1 << p;
    h->seed = seed;
    return h;
}

void jp_hll_free(jp_hll_t *h)
{
    if (!h)
        return;
    free(h->reg);
    free(h);
}

void jp_hll_clear(jp_hll_t *h)
{
    memset(h->reg, 0, h->m);
}

void jp_hll_add_hash(jp_hll_t *h, uint64_t hash)
{
    uint32_t idx = (uint32_t)(hash >> (64 - h->p));
    uint64_t rest = hash << h->p;
    /* rest == 0 would mean 64 - p zeros: rank 65 - p. */
    uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : (uint8_t)(65 - h->p);
    if (rank > h->reg[idx])
        h->reg[idx] = rank;
}

void jp_hll_add(jp_hll_t *h, const void *item, size_t len)
{
    jp_hll_add_hash(h, jp_hash64(item, len, h->seed));
}

static double jp_hll_alpha(uint32_t m)
{
    switch (m) {
    case 16:
        return 0.673;
    case 32:
        return 0.697;
    case 64:
        return 0.709;
    default:
        return 0.7213 / (1.0 + 1.079 / (double)m);
    }
}

double jp_hll_estimate(const jp_hll_t *h)
{
    double sum = 0;
    uint32_t zeros = 0;
    for (uint32_t j = 0; j < h->m; j++) {
        sum += ldexp(1.0, -(int)h->reg[j]);
        zeros += h->reg[j] == 0;
    }
    double m = (double)h->m;
    double e = jp_hll_alpha(h->m) * m * m / sum;
    if (e <= 2.5 * m && zeros > 0)
        e = m * log(m / (double)zeros);
    return e;
}

int jp_hll_merge(jp_hll_t *dst, const jp_hll_t *src, char *errstr, size_t errstr_size)
{
    if (dst->p != src->p || dst->seed != src->seed) {
        jp_err_set(errstr, errstr_size, "hll: cannot merge sketches with different p or seed");
        return -1;
    }
    for (uint32_t j = 0; j < dst->m; j++)
        if (src->reg[j] > dst->reg[j])
            dst->reg[j] = src->reg[j];
    return 0;
}

unsigned jp_hll_precision(const jp_hll_t *h)
{
    return h->p;
}

uint64_t jp_hll_seed(const jp_hll_t *h)
{
    return h->seed;
}

const uint8_t *jp_hll_registers(const jp_hll_t *h)
{
    return h->reg;
}

/* Version 2 adds a sparse form: a sketch of few distinct items (an hour's
 * players) has mostly zero registers, and sketches travel in every state
 * changelog record, so (index, value) pairs are written when they are
 * smaller than the dense array. Version 1 (dense only) is still read. */
#define HLL_VERSION 2

void jp_hll_serialize(const jp_hll_t *h, jp_bytes_writer_t *w)
{
    uint32_t nz = 0;
    for (uint32_t j = 0; j < h->m; j++)
        nz += h->reg[j] != 0;
    jp_bytes_put_header(w, "HLL1", HLL_VERSION);
    jp_bytes_put_u8(w, (uint8_t)h->p);
    jp_bytes_put_u64(w, h->seed);
    if ((uint64_t)nz * 3 < h->m) {
        jp_bytes_put_u8(w, 1); /* sparse */
        jp_bytes_put_u32(w, nz);
        for (uint32_t j = 0; j < h->m; j++)
            if (h->reg[j]) {
                jp_bytes_put_u32(w, j);
                jp_bytes_put_u8(w, h->reg[j]);
            }
        return;
    }
    jp_bytes_put_u8(w, 0); /* dense */
    jp_bytes_put_raw(w, h->reg, h->m);
}

jp_hll_t *jp_hll_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    uint16_t version = jp_bytes_get_header(r, "HLL1", HLL_VERSION);
    unsigned p = jp_bytes_get_u8(r);
    uint64_t seed = jp_bytes_get_u64(r);
    if (!jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "hll: corrupt or truncated sketch");
        return NULL;
    }
    jp_hll_t *h = jp_hll_create(p, seed, errstr, errstr_size);
    if (!h)
        return NULL;
    int sparse = version >= 2 && jp_bytes_get_u8(r) == 1;
    if (sparse) {
        uint32_t nz = jp_bytes_get_u32(r);
        for (uint32_t k = 0; k < nz && k < h->m && jp_bytes_reader_ok(r); k++) {
            uint32_t j = jp_bytes_get_u32(r);
            uint8_t v = jp_bytes_get_u8(r);
            if (j >= h->m)
                r->err = 1;
            else
                h->reg[j] = v;
        }
        if (nz > h->m)
            r->err = 1;
    } else {
        jp_bytes_get_raw(r, h->reg, h->m);
    }
    int bad = !jp_bytes_reader_ok(r);
    for (uint32_t j = 0; !bad && j < h->m; j++)
        bad = h->reg[j] > 65 - p;
    if (bad) {
        jp_hll_free(h);
        jp_err_set(errstr, errstr_size, "hll: corrupt or truncated sketch");
        return NULL;
    }
    return h;
}
