/*
 * jp_qsketch: mergeable quantile sketch with a relative-accuracy guarantee
 * (DDSketch: Masson, Rim, Lee 2019, "DDSketch: A Fast and Fully-Mergeable
 * Quantile Sketch with Relative-Error Guarantees", VLDB).
 *
 * Contract:
 * - Relative accuracy alpha in (0, 1) (JP_QSKETCH_DEFAULT_ALPHA = 0.01):
 *   gamma = (1 + alpha) / (1 - alpha); a value x > 0 goes to bucket
 *   key = ceil(ln x / ln gamma), i.e. (gamma^(key-1), gamma^key], whose
 *   representative 2 gamma^key / (gamma + 1) is within alpha of every value
 *   in it. Negative values use a mirrored store on |x|; values with
 *   |x| < JP_QSKETCH_MIN_INDEXABLE (and 0) are counted in a zero bucket.
 * - Each store holds at most max_buckets keys (default
 *   JP_QSKETCH_DEFAULT_MAX_BUCKETS = 2048, DataDog's default); beyond that
 *   the lowest keys are collapsed into the lowest kept key (DataDog's
 *   CollapsingLowestDenseStore). Accuracy is then lost only for the
 *   smallest magnitudes. The final state depends only on the multiset of
 *   inserted (key, weight) pairs, so merge(sketch(A), sketch(B)) equals
 *   sketch(A u B) exactly (bucket counts; sum may differ by rounding).
 * - Weighted insertion (value, weight > 0), e.g. tickets per postcode
 *   sector. Counts are doubles (exact for integer totals < 2^53).
 * - quantile(q) follows DataDog's sketches: rank = q (count - 1), the value
 *   of the bucket holding that rank, clamped to [min, max] (q = 0 and
 *   q = 1 return the exact min and max); so for
 *   |x| >= min_indexable it is within alpha relative error of the sorted
 *   sample's element at floor or ceil of that rank.
 * - rank(x) = total weight of buckets whose values are <= x's bucket, an
 *   approximation of #{v <= x} exact up to the weight of x's own bucket;
 *   cdf(x) = rank(x) / count.
 * - jp_qsketch_buckets lists the non-empty buckets as (representative
 *   value, weight) in increasing value order - a discrete distribution.
 */
#ifndef JP_QSKETCH_H
#define JP_QSKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

#define JP_QSKETCH_DEFAULT_ALPHA       0.01
#define JP_QSKETCH_DEFAULT_MAX_BUCKETS 2048
#define JP_QSKETCH_MIN_INDEXABLE       1e-300

typedef struct jp_qsketch_s jp_qsketch_t;

typedef struct jp_qsketch_bucket_s {
    double value;
    double count;
} jp_qsketch_bucket_t;

/* alpha in (0, 1), max_buckets >= 16. NULL with a message otherwise. */
jp_qsketch_t *jp_qsketch_create(double alpha, uint32_t max_buckets, char *errstr,
                                size_t errstr_size);
void jp_qsketch_free(jp_qsketch_t *s);
void jp_qsketch_clear(jp_qsketch_t *s);

/* 0, or -1 on a non-finite value, non-positive or non-finite weight, or
 * allocation failure (sketch unchanged). */
int jp_qsketch_add(jp_qsketch_t *s, double x);
int jp_qsketch_add_weighted(jp_qsketch_t *s, double x, double weight);

/* dst += src; -1 if alpha or max_buckets differ, or on allocation failure
 * (dst unchanged then). */
int jp_qsketch_merge(jp_qsketch_t *dst, const jp_qsketch_t *src, char *errstr, size_t errstr_size);

/* NaN when empty or q outside [0, 1]. */
double jp_qsketch_quantile(const jp_qsketch_t *s, double q);
double jp_qsketch_rank(const jp_qsketch_t *s, double x);
double jp_qsketch_cdf(const jp_qsketch_t *s, double x);

double jp_qsketch_count(const jp_qsketch_t *s);
double jp_qsketch_sum(const jp_qsketch_t *s);
double jp_qsketch_min(const jp_qsketch_t *s); /* +inf when empty */
double jp_qsketch_max(const jp_qsketch_t *s); /* -inf when empty */
double jp_qsketch_alpha(const jp_qsketch_t *s);

/* Writes up to cap buckets to out (may be NULL with cap 0); returns the
 * number of non-empty buckets. */
size_t jp_qsketch_buckets(const jp_qsketch_t *s, jp_qsketch_bucket_t *out, size_t cap);

void jp_qsketch_serialize(const jp_qsketch_t *s, jp_bytes_writer_t *w);
jp_qsketch_t *jp_qsketch_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

#endif
