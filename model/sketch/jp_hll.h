/*
 * jp_hll: HyperLogLog distinct counting (Flajolet, Fusy, Gandouet, Meunier
 * 2007) over the 64-bit jp_hash64.
 *
 * Contract:
 * - precision p in [4, 18]; m = 2^p one-byte registers. Default
 *   JP_HLL_DEFAULT_P = 14: relative standard error 1.04 / sqrt(16384)
 *   = 0.81%, 16 KiB per sketch.
 * - A 64-bit hash h is split into the register index (top p bits) and the
 *   rank = 1 + leading zeros of the remaining 64-p bits (at most 65-p).
 * - Estimate: alpha_m m^2 / sum 2^-M[j]; when it is <= 5m/2 and some
 *   register is still zero, linear counting m ln(m / V) is used instead (the
 *   paper's small-range correction). No large-range correction is needed
 *   with a 64-bit hash.
 * - Merge is the register-wise maximum: merge(sketch(A), sketch(B)) is
 *   bit-identical to sketch(A u B). Both sketches must share p and seed.
 * - Items added with jp_hll_add are hashed with the sketch's seed.
 */
#ifndef JP_HLL_H
#define JP_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

#define JP_HLL_DEFAULT_P 14
#define JP_HLL_MIN_P     4
#define JP_HLL_MAX_P     18

typedef struct jp_hll_s jp_hll_t;

jp_hll_t *jp_hll_create(unsigned p, uint64_t seed, char *errstr, size_t errstr_size);
void jp_hll_free(jp_hll_t *h);
void jp_hll_clear(jp_hll_t *h);

/* Adds an item (hashed with the sketch's seed). */
void jp_hll_add(jp_hll_t *h, const void *item, size_t len);
/* Adds an already computed 64-bit hash. */
void jp_hll_add_hash(jp_hll_t *h, uint64_t hash);
double jp_hll_estimate(const jp_hll_t *h);
/* dst = max(dst, src) register-wise; -1 if p or seed differ. */
int jp_hll_merge(jp_hll_t *dst, const jp_hll_t *src, char *errstr, size_t errstr_size);

unsigned jp_hll_precision(const jp_hll_t *h);
/* The seed items are hashed with (jp_hll_add_hash callers hash with it). */
uint64_t jp_hll_seed(const jp_hll_t *h);
/* Register array (m bytes). */
const uint8_t *jp_hll_registers(const jp_hll_t *h);

void jp_hll_serialize(const jp_hll_t *h, jp_bytes_writer_t *w);
jp_hll_t *jp_hll_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

#endif
