/*
 * jp_qsketch: DDSketch with logarithmic mapping and collapsing-lowest dense
 * stores.
 *
 * Design. A store is a dense array of weights for a contiguous key range
 * [lo, lo + len), grown geometrically up to max_buckets. When a new key
 * would make the range wider than max_buckets, everything below
 * hi - max_buckets + 1 is folded into that key; a key arriving below the
 * kept range is added to its lowest key. Both rules give every pair the
 * final key max(key, K - max_buckets + 1), K the largest key ever seen, so
 * the result is independent of insertion order and merging is exact - the
 * property the tests check and the processor relies on when it combines
 * per-partition sketches.
 *
 * Negative values live in a second store keyed by |x| (so "lowest" there
 * means closest to zero, as in DataDog's implementation). Quantiles walk
 * negative store (descending key), zero bucket, positive store, following
 * DataDog's sketches-py key_at_rank, then clamp to the exact [min, max].
 */
#include "model/sketch/jp_qsketch.h"

#include "model/base/jp_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jp_qs_store_s {
    double *w;
    int32_t lo;   /* key of w[0] */
    uint32_t len; /* keys in use: [lo, lo + len) */
    uint32_t cap;
    double total;
} jp_qs_store_t;

struct jp_qsketch_s {
    double alpha, gamma, inv_log_gamma, rep_factor;
    uint32_t max_buckets;
    jp_qs_store_t pos, neg;
    double zero, count, sum, min, max;
};

jp_qsketch_t *jp_qsketch_create(double alpha, uint32_t max_buckets, char *errstr,
                                size_t errstr_size)
{
    if (!(alpha > 0 && alpha < 1) || max_buckets < 16 || max_buckets > (1u << 24)) {
        jp_err_set(errstr, errstr_size,
                   "qsketch: need 0 < alpha < 1 and 16 <= max_buckets <= 2^24");
        return NULL;
    }
    jp_qsketch_t *s = calloc(1, sizeof *s);
    if (!s) {
        jp_err_set(errstr, errstr_size, "qsketch: out of memory");
        return NULL;
    }
    s->alpha = alpha;
    s->gamma = (1 + alpha) / (1 - alpha);
    s->inv_log_gamma = 1.0 / log(s->gamma);
    s->rep_factor = 2.0 / (s->gamma + 1.0);
    s->max_buckets = max_buckets;
    s->min = INFINITY;
    s->max = -INFINITY;
    return s;
}

void jp_qsketch_free(jp_qsketch_t *s)
{
    if (!s)
        return;
    free(s->pos.w);
    free(s->neg.w);
    free(s);
}

static void jp_qs_store_clear(jp_qs_store_t *st)
{
    st->len = 0;
    st->lo = 0;
    st->total = 0;
}

void jp_qsketch_clear(jp_qsketch_t *s)
{
    jp_qs_store_clear(&s->pos);
    jp_qs_store_clear(&s->neg);
    s->zero = s->count = s->sum = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
}

static int jp_qs_store_reserve(jp_qs_store_t *st, uint32_t need, uint32_t max)
{
    if (need <= st->cap)
        return 0;
    uint32_t cap = st->cap ? st->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > max)
        cap = max;
    double *w = realloc(st->w, (size_t)cap * sizeof *w);
    if (!w)
        return -1;
    st->w = w;
    st->cap = cap;
    return 0;
}

/* Adds weight to key, collapsing the lowest keys beyond max buckets. */
static int jp_qs_store_add(jp_qs_store_t *st, int32_t key, double weight, uint32_t max)
{
    if (st->len == 0) {
        if (jp_qs_store_reserve(st, 1, max) < 0)
            return -1;
        st->lo = key;
        st->len = 1;
        st->w[0] = weight;
        st->total = weight;
        return 0;
    }
    int64_t lo = st->lo, hi = (int64_t)st->lo + st->len - 1;
    if (key < lo) {
        int64_t new_lo = key;
        if (hi - new_lo + 1 > (int64_t)max)
            new_lo = hi - (int64_t)max + 1;
        if (new_lo < lo) {
            uint32_t shift = (uint32_t)(lo - new_lo);
            if (jp_qs_store_reserve(st, st->len + shift, max) < 0)
                return -1;
            memmove(st->w + shift, st->w, st->len * sizeof *st->w);
            memset(st->w, 0, shift * sizeof *st->w);
            st->lo = (int32_t)new_lo;
            st->len += shift;
        }
        st->w[0] += weight; /* key or the lowest kept key */
        st->total += weight;
        return 0;
    }
    if (key > hi) {
        int64_t new_lo = lo;
        if ((int64_t)key - lo + 1 > (int64_t)max)
            new_lo = (int64_t)key - (int64_t)max + 1;
        uint32_t need = (uint32_t)((int64_t)key - new_lo + 1);
        if (jp_qs_store_reserve(st, need, max) < 0)
            return -1;
        if (new_lo > lo) {
            /* Fold keys below new_lo into new_lo. */
            uint32_t drop = (uint32_t)(new_lo - lo);
            double folded = 0;
            uint32_t k = drop < st->len ? drop : st->len;
            for (uint32_t i = 0; i < k; i++)
                folded += st->w[i];
            if (drop < st->len) {
                memmove(st->w, st->w + drop, (st->len - drop) * sizeof *st->w);
                st->len -= drop;
            } else {
                st->len = 0;
            }
            st->lo = (int32_t)new_lo;
            if (st->len == 0) {
                st->w[0] = 0;
                st->len = 1;
            }
            st->w[0] += folded;
        }
        memset(st->w + st->len, 0, (need - st->len) * sizeof *st->w);
        st->len = need;
    }
    st->w[key - st->lo] += weight;
    st->total += weight;
    return 0;
}

static int32_t jp_qs_key(const jp_qsketch_t *s, double ax)
{
    return (int32_t)ceil(log(ax) * s->inv_log_gamma);
}

static double jp_qs_value(const jp_qsketch_t *s, int32_t key)
{
    return exp((double)key / s->inv_log_gamma) * s->rep_factor;
}

int jp_qsketch_add_weighted(jp_qsketch_t *s, double x, double weight)
{
    if (!isfinite(x) || !(weight > 0) || !isfinite(weight))
        return -1;
    double ax = fabs(x);
    if (ax < JP_QSKETCH_MIN_INDEXABLE) {
        s->zero += weight;
    } else {
        jp_qs_store_t *st = x > 0 ? &s->pos : &s->neg;
        if (jp_qs_store_add(st, jp_qs_key(s, ax), weight, s->max_buckets) < 0)
            return -1;
    }
    s->count += weight;
    s->sum += x * weight;
    if (x < s->min)
        s->min = x;
    if (x > s->max)
        s->max = x;
    return 0;
}

int jp_qsketch_add(jp_qsketch_t *s, double x)
{
    return jp_qsketch_add_weighted(s, x, 1.0);
}

static int jp_qs_store_merge(jp_qs_store_t *dst, const jp_qs_store_t *src, uint32_t max)
{
    /* Highest key first, so at most one collapse happens and lower keys
     * then land directly on their final key. */
    for (uint32_t i = src->len; i-- > 0;)
        if (src->w[i] != 0 && jp_qs_store_add(dst, src->lo + (int32_t)i, src->w[i], max) < 0)
            return -1;
    return 0;
}

static int jp_qs_store_copy(jp_qs_store_t *dst, const jp_qs_store_t *src, uint32_t max)
{
    dst->len = 0;
    if (src->len && jp_qs_store_reserve(dst, src->len, max) < 0)
        return -1;
    if (src->len)
        memcpy(dst->w, src->w, src->len * sizeof *dst->w);
    dst->len = src->len;
    dst->lo = src->lo;
    dst->total = src->total;
    return 0;
}

int jp_qsketch_merge(jp_qsketch_t *dst, const jp_qsketch_t *src, char *errstr, size_t errstr_size)
{
    if (dst->alpha != src->alpha || dst->max_buckets != src->max_buckets) {
        jp_err_set(errstr, errstr_size, "qsketch: cannot merge sketches with different parameters");
        return -1;
    }
    /* Merge into copies of the stores so a failure leaves dst unchanged. */
    jp_qs_store_t pos = {0}, neg = {0};
    if (jp_qs_store_copy(&pos, &dst->pos, dst->max_buckets) < 0 ||
        jp_qs_store_copy(&neg, &dst->neg, dst->max_buckets) < 0 ||
        jp_qs_store_merge(&pos, &src->pos, dst->max_buckets) < 0 ||
        jp_qs_store_merge(&neg, &src->neg, dst->max_buckets) < 0) {
        free(pos.w);
        free(neg.w);
        jp_err_set(errstr, errstr_size, "qsketch: out of memory");
        return -1;
    }
    free(dst->pos.w);
    free(dst->neg.w);
    dst->pos = pos;
    dst->neg = neg;
    dst->zero += src->zero;
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return 0;
}

/* sketches-py DenseStore.key_at_rank. */
static int32_t jp_qs_key_at_rank(const jp_qs_store_t *st, double rank, int lower)
{
    double running = 0;
    for (uint32_t i = 0; i < st->len; i++) {
        running += st->w[i];
        if ((lower && running > rank) || (!lower && running >= rank + 1))
            return st->lo + (int32_t)i;
    }
    return st->lo + (int32_t)st->len - 1;
}

double jp_qsketch_quantile(const jp_qsketch_t *s, double q)
{
    if (!(s->count > 0) || !(q >= 0 && q <= 1))
        return NAN;
    /* The extremes are tracked exactly. */
    if (q == 0)
        return s->min;
    if (q == 1)
        return s->max;
    double rank = q * (s->count - 1);
    double v;
    if (rank < s->neg.total) {
        double rev = s->neg.total - rank - 1;
        v = -jp_qs_value(s, jp_qs_key_at_rank(&s->neg, rev, 0));
    } else if (rank < s->zero + s->neg.total) {
        v = 0;
    } else {
        v = jp_qs_value(s, jp_qs_key_at_rank(&s->pos, rank - s->zero - s->neg.total, 1));
    }
    if (v < s->min)
        v = s->min;
    if (v > s->max)
        v = s->max;
    return v;
}

double jp_qsketch_rank(const jp_qsketch_t *s, double x)
{
    if (isnan(x))
        return NAN;
    double r = 0;
    double ax = fabs(x);
    if (x < 0 && ax >= JP_QSKETCH_MIN_INDEXABLE) {
        /* Negative buckets with |key| >= key(|x|) hold values <= x's bucket. */
        int32_t k = ax == INFINITY ? INT32_MAX : jp_qs_key(s, ax);
        for (uint32_t i = 0; i < s->neg.len; i++)
            if (s->neg.lo + (int32_t)i >= k)
                r += s->neg.w[i];
        return r;
    }
    r = s->neg.total + s->zero;
    if (ax < JP_QSKETCH_MIN_INDEXABLE)
        return r;
    int32_t k = x == INFINITY ? INT32_MAX : jp_qs_key(s, ax);
    for (uint32_t i = 0; i < s->pos.len; i++)
        if (s->pos.lo + (int32_t)i <= k)
            r += s->pos.w[i];
    return r;
}

double jp_qsketch_cdf(const jp_qsketch_t *s, double x)
{
    if (!(s->count > 0))
        return NAN;
    return jp_qsketch_rank(s, x) / s->count;
}

double jp_qsketch_count(const jp_qsketch_t *s)
{
    return s->count;
}

double jp_qsketch_sum(const jp_qsketch_t *s)
{
    return s->sum;
}

double jp_qsketch_min(const jp_qsketch_t *s)
{
    return s->min;
}

double jp_qsketch_max(const jp_qsketch_t *s)
{
    return s->max;
}

double jp_qsketch_alpha(const jp_qsketch_t *s)
{
    return s->alpha;
}

size_t jp_qsketch_buckets(const jp_qsketch_t *s, jp_qsketch_bucket_t *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = s->neg.len; i-- > 0;) {
        if (s->neg.w[i] == 0)
            continue;
        if (n < cap)
            out[n] = (jp_qsketch_bucket_t){-jp_qs_value(s, s->neg.lo + (int32_t)i), s->neg.w[i]};
        n++;
    }
    if (s->zero > 0) {
        if (n < cap)
            out[n] = (jp_qsketch_bucket_t){0.0, s->zero};
        n++;
    }
    for (uint32_t i = 0; i < s->pos.len; i++) {
        if (s->pos.w[i] == 0)
            continue;
        if (n < cap)
            out[n] = (jp_qsketch_bucket_t){jp_qs_value(s, s->pos.lo + (int32_t)i), s->pos.w[i]};
        n++;
    }
    return n;
}

static void jp_qs_store_put(const jp_qs_store_t *st, jp_bytes_writer_t *w)
{
    jp_bytes_put_u32(w, (uint32_t)st->lo);
    jp_bytes_put_u32(w, st->len);
    jp_bytes_put_f64(w, st->total);
    for (uint32_t i = 0; i < st->len; i++)
        jp_bytes_put_f64(w, st->w[i]);
}

static int jp_qs_store_get(jp_qs_store_t *st, jp_bytes_reader_t *r, uint32_t max)
{
    st->lo = (int32_t)jp_bytes_get_u32(r);
    uint32_t len = jp_bytes_get_u32(r);
    st->total = jp_bytes_get_f64(r);
    if (!jp_bytes_reader_ok(r) || len > max || (len && jp_qs_store_reserve(st, len, max) < 0))
        return -1;
    for (uint32_t i = 0; i < len; i++)
        st->w[i] = jp_bytes_get_f64(r);
    st->len = len;
    return jp_bytes_reader_ok(r) ? 0 : -1;
}

void jp_qsketch_serialize(const jp_qsketch_t *s, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "DDSK", 1);
    jp_bytes_put_f64(w, s->alpha);
    jp_bytes_put_u32(w, s->max_buckets);
    jp_bytes_put_f64(w, s->zero);
    jp_bytes_put_f64(w, s->count);
    jp_bytes_put_f64(w, s->sum);
    jp_bytes_put_f64(w, s->min);
    jp_bytes_put_f64(w, s->max);
    jp_qs_store_put(&s->pos, w);
    jp_qs_store_put(&s->neg, w);
}

jp_qsketch_t *jp_qsketch_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    jp_bytes_get_header(r, "DDSK", 1);
    double alpha = jp_bytes_get_f64(r);
    uint32_t maxb = jp_bytes_get_u32(r);
    if (!jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "qsketch: corrupt or truncated sketch");
        return NULL;
    }
    jp_qsketch_t *s = jp_qsketch_create(alpha, maxb, errstr, errstr_size);
    if (!s)
        return NULL;
    s->zero = jp_bytes_get_f64(r);
    s->count = jp_bytes_get_f64(r);
    s->sum = jp_bytes_get_f64(r);
    s->min = jp_bytes_get_f64(r);
    s->max = jp_bytes_get_f64(r);
    if (jp_qs_store_get(&s->pos, r, maxb) < 0 || jp_qs_store_get(&s->neg, r, maxb) < 0) {
        jp_qsketch_free(s);
        jp_err_set(errstr, errstr_size, "qsketch: corrupt or truncated sketch");
        return NULL;
    }
    return s;
}
