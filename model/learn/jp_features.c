/*
 * jp_features: Welford statistics, imputation, dictionary encoding and
 * feature selection.
 *
 * Design notes:
 * - Welford keeps (W, mean, M2) rather than raw sums so that a feature with
 *   a large offset keeps its variance; merge is Chan et al.'s pairwise
 *   formula, the same one jp_ridge uses for its blocks.
 * - The imputer's mode table is a sorted array per feature (binary search,
 *   insertion by memmove). It is bounded by max_mode_values, which keeps the
 *   O(k) insertion cheap and makes the serialized form canonical (sorted by
 *   value) without a separate sort. The current mode is maintained on every
 *   observation: counts only grow, so "count > best, or equal and value
 *   smaller" keeps it exact without rescanning.
 * - The dictionary stores categories in first-seen order (that order IS the
 *   index) plus an open-addressing table of indices hashed with jp_hash64
 *   (XXH64, stable across platforms). The table is rebuilt on load, so the
 *   serialized form is only the ordered list of categories.
 */
#include "model/learn/jp_features.h"

#include "model/base/jp_err.h"

#include "model/base/jp_hash.h"
#include "model/base/jp_search.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WELF_TAG             "WELF"
#define IMPU_TAG             "IMPU"
#define DICT_TAG             "DICT"
#define FEAT_VERSION         1
#define IMPU_MAX_FEATURES    (1u << 20)
#define IMPU_MAX_MODE_VALUES (1u << 20)
#define DICT_MAX_CATEGORIES  (1u << 24)
#define DICT_MAX_NAME        (1u << 20)

/* ---------------------------------------------------------------- Welford */

void jp_welford_init(jp_welford_t *s)
{
    memset(s, 0, sizeof(*s));
}

void jp_welford_add_weighted(jp_welford_t *s, double x, double w)
{
    if (!(w > 0.0) || !isfinite(w) || !isfinite(x))
        return;
    double w1 = s->w + w;
    double d = x - s->mean;
    s->mean += d * (w / w1);
    s->m2 += w * d * (x - s->mean);
    s->w = w1;
    s->n++;
}

void jp_welford_add(jp_welford_t *s, double x)
{
    jp_welford_add_weighted(s, x, 1.0);
}

void jp_welford_merge(jp_welford_t *dst, const jp_welford_t *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        *dst = *src;
        return;
    }
    double w = dst->w + src->w;
    double d = src->mean - dst->mean;
    dst->mean += d * (src->w / w);
    dst->m2 += src->m2 + d * d * (dst->w * src->w / w);
    dst->w = w;
    dst->n += src->n;
}

double jp_welford_mean(const jp_welford_t *s)
{
    return s->n ? s->mean : NAN;
}

double jp_welford_var(const jp_welford_t *s)
{
    return s->n ? s->m2 / s->w : NAN;
}

double jp_welford_var_sample(const jp_welford_t *s)
{
    return s->n && s->w > 1.0 ? s->m2 / (s->w - 1.0) : NAN;
}

static void welford_put(jp_bytes_writer_t *w, const jp_welford_t *s)
{
    jp_bytes_put_f64(w, s->w);
    jp_bytes_put_f64(w, s->mean);
    jp_bytes_put_f64(w, s->m2);
    jp_bytes_put_u64(w, s->n);
}

static void welford_get(jp_bytes_reader_t *r, jp_welford_t *s)
{
    s->w = jp_bytes_get_f64(r);
    s->mean = jp_bytes_get_f64(r);
    s->m2 = jp_bytes_get_f64(r);
    s->n = jp_bytes_get_u64(r);
}

void jp_welford_serialize(const jp_welford_t *s, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, WELF_TAG, FEAT_VERSION);
    welford_put(w, s);
}

int jp_welford_deserialize(jp_bytes_reader_t *r, jp_welford_t *s)
{
    jp_welford_t t;
    if (jp_bytes_get_header(r, WELF_TAG, FEAT_VERSION) == 0)
        return -1;
    welford_get(r, &t);
    if (!jp_bytes_reader_ok(r))
        return -1;
    *s = t;
    return 0;
}

/* ---------------------------------------------------------------- imputer */

typedef struct {
    jp_impute_spec_t spec;
    jp_welford_t stats;
    uint64_t missing;
    /* mode table: sorted distinct values and their counts */
    double *vals;
    uint64_t *counts;
    size_t n_vals;
    uint64_t overflow;
    double mode;
    uint64_t mode_count;
} impute_col_t;

struct jp_imputer_s {
    size_t p;
    size_t max_vals;
    impute_col_t *cols;
};

void jp_imputer_free(jp_imputer_t *imp)
{
    if (!imp)
        return;
    if (imp->cols)
        for (size_t j = 0; j < imp->p; j++) {
            free(imp->cols[j].vals);
            free(imp->cols[j].counts);
        }
    free(imp->cols);
    free(imp);
}

/* Sets a column's spec and allocates its mode table when needed. */
static int col_init(impute_col_t *c, const jp_impute_spec_t *spec, size_t max_vals)
{
    c->spec = *spec;
    if (spec->strategy != JP_IMPUTE_MODE)
        return 0;
    c->vals = malloc(max_vals * sizeof(double));
    c->counts = malloc(max_vals * sizeof(uint64_t));
    return c->vals && c->counts ? 0 : -1;
}

static int spec_ok(const jp_impute_spec_t *spec)
{
    return (unsigned)spec->strategy <= JP_IMPUTE_CONSTANT && isfinite(spec->constant);
}

static jp_imputer_t *imputer_alloc(size_t p, size_t max_vals, char *errstr, size_t errstr_size)
{
    if (p == 0 || p > IMPU_MAX_FEATURES) {
        jp_err_set(errstr, errstr_size, "imputer: n_features must be in [1, %u]",
                   IMPU_MAX_FEATURES);
        return NULL;
    }
    if (max_vals == 0 || max_vals > IMPU_MAX_MODE_VALUES) {
        jp_err_set(errstr, errstr_size, "imputer: max_mode_values must be in [1, %u]",
                   IMPU_MAX_MODE_VALUES);
        return NULL;
    }
    jp_imputer_t *imp = calloc(1, sizeof(*imp));
    if (!imp || !(imp->cols = calloc(p, sizeof(impute_col_t)))) {
        free(imp);
        jp_err_set(errstr, errstr_size, "imputer: out of memory");
        return NULL;
    }
    imp->p = p;
    imp->max_vals = max_vals;
    return imp;
}

jp_imputer_t *jp_imputer_create(size_t n_features, const jp_impute_spec_t *specs,
                                size_t max_mode_values, char *errstr, size_t errstr_size)
{
    if (!specs) {
        jp_err_set(errstr, errstr_size, "imputer: specs required");
        return NULL;
    }
    jp_imputer_t *imp = imputer_alloc(n_features, max_mode_values, errstr, errstr_size);
    if (!imp)
        return NULL;
    for (size_t j = 0; j < n_features; j++) {
        if (!spec_ok(&specs[j])) {
            jp_err_set(errstr, errstr_size, "imputer: feature %zu: bad strategy or constant", j);
            jp_imputer_free(imp);
            return NULL;
        }
        if (col_init(&imp->cols[j], &specs[j], max_mode_values) != 0) {
            jp_err_set(errstr, errstr_size, "imputer: out of memory");
            jp_imputer_free(imp);
            return NULL;
        }
    }
    return imp;
}

static void mode_observe(impute_col_t *c, size_t cap, double v)
{
    if (v == 0.0)
        v = 0.0; /* -0.0 and 0.0 are one value */
    size_t i = jp_search_left(c->vals, c->n_vals, v);
    if (i == c->n_vals || c->vals[i] != v) {
        if (c->n_vals == cap) {
            c->overflow++;
            return;
        }
        memmove(c->vals + i + 1, c->vals + i, (c->n_vals - i) * sizeof(double));
        memmove(c->counts + i + 1, c->counts + i, (c->n_vals - i) * sizeof(uint64_t));
        c->vals[i] = v;
        c->counts[i] = 0;
        c->n_vals++;
    }
    uint64_t k = ++c->counts[i];
    if (k > c->mode_count || (k == c->mode_count && v < c->mode)) {
        c->mode = v;
        c->mode_count = k;
    }
}

void jp_imputer_observe(jp_imputer_t *imp, const double *x)
{
    for (size_t j = 0; j < imp->p; j++) {
        impute_col_t *c = &imp->cols[j];
        if (!isfinite(x[j])) {
            c->missing++;
            continue;
        }
        jp_welford_add(&c->stats, x[j]);
        if (c->spec.strategy == JP_IMPUTE_MODE)
            mode_observe(c, imp->max_vals, x[j]);
    }
}

double jp_imputer_fill_value(const jp_imputer_t *imp, size_t j)
{
    const impute_col_t *c = &imp->cols[j];
    switch (c->spec.strategy) {
    case JP_IMPUTE_MEAN:
        return c->stats.n ? c->stats.mean : c->spec.constant;
    case JP_IMPUTE_MODE:
        return c->mode_count ? c->mode : c->spec.constant;
    case JP_IMPUTE_CONSTANT:
    default:
        return c->spec.constant;
    }
}

size_t jp_imputer_transform(const jp_imputer_t *imp, const double *x, double *out, double *missing)
{
    size_t n_missing = 0;
    for (size_t j = 0; j < imp->p; j++) {
        int miss = !isfinite(x[j]);
        out[j] = miss ? jp_imputer_fill_value(imp, j) : x[j];
        if (missing)
            missing[j] = miss ? 1.0 : 0.0;
        n_missing += (size_t)miss;
    }
    return n_missing;
}

uint64_t jp_imputer_missing_count(const jp_imputer_t *imp, size_t j)
{
    return imp->cols[j].missing;
}

uint64_t jp_imputer_mode_overflow(const jp_imputer_t *imp, size_t j)
{
    return imp->cols[j].overflow;
}

void jp_imputer_serialize(const jp_imputer_t *imp, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, IMPU_TAG, FEAT_VERSION);
    jp_bytes_put_u32(w, (uint32_t)imp->p);
    jp_bytes_put_u32(w, (uint32_t)imp->max_vals);
    for (size_t j = 0; j < imp->p; j++) {
        const impute_col_t *c = &imp->cols[j];
        jp_bytes_put_u8(w, (uint8_t)c->spec.strategy);
        jp_bytes_put_f64(w, c->spec.constant);
        welford_put(w, &c->stats);
        jp_bytes_put_u64(w, c->missing);
        if (c->spec.strategy != JP_IMPUTE_MODE)
            continue;
        jp_bytes_put_u32(w, (uint32_t)c->n_vals);
        for (size_t i = 0; i < c->n_vals; i++) {
            jp_bytes_put_f64(w, c->vals[i]);
            jp_bytes_put_u64(w, c->counts[i]);
        }
        jp_bytes_put_u64(w, c->overflow);
        jp_bytes_put_f64(w, c->mode);
        jp_bytes_put_u64(w, c->mode_count);
    }
}

jp_imputer_t *jp_imputer_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    if (jp_bytes_get_header(r, IMPU_TAG, FEAT_VERSION) == 0) {
        jp_err_set(errstr, errstr_size, "imputer: bad header or unsupported version");
        return NULL;
    }
    uint32_t p = jp_bytes_get_u32(r), max_vals = jp_bytes_get_u32(r);
    /* every column takes >= 41 bytes: refuse sizes the input cannot hold */
    if (!jp_bytes_reader_ok(r) || (size_t)p * 41 > r->len - r->pos) {
        jp_err_set(errstr, errstr_size, "imputer: truncated or invalid header");
        return NULL;
    }
    jp_imputer_t *imp = imputer_alloc(p, max_vals, errstr, errstr_size);
    if (!imp)
        return NULL;
    int bad = 0;
    for (uint32_t j = 0; j < p && !bad; j++) {
        impute_col_t *c = &imp->cols[j];
        jp_impute_spec_t spec;
        uint8_t st = jp_bytes_get_u8(r);
        spec.strategy = (jp_impute_strategy_t)st;
        spec.constant = jp_bytes_get_f64(r);
        if (st > JP_IMPUTE_CONSTANT || !spec_ok(&spec) || col_init(c, &spec, max_vals) != 0) {
            bad = 1;
            break;
        }
        welford_get(r, &c->stats);
        c->missing = jp_bytes_get_u64(r);
        if (st != JP_IMPUTE_MODE)
            continue;
        uint32_t nv = jp_bytes_get_u32(r);
        if (nv > max_vals) {
            bad = 1;
            break;
        }
        c->n_vals = nv;
        for (size_t i = 0; i < c->n_vals; i++) {
            c->vals[i] = jp_bytes_get_f64(r);
            c->counts[i] = jp_bytes_get_u64(r);
            if (i > 0 && !(c->vals[i] > c->vals[i - 1]))
                bad = 1;
        }
        c->overflow = jp_bytes_get_u64(r);
        c->mode = jp_bytes_get_f64(r);
        c->mode_count = jp_bytes_get_u64(r);
        bad |= !jp_bytes_reader_ok(r);
    }
    if (bad || !jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "imputer: truncated or invalid state");
        jp_imputer_free(imp);
        return NULL;
    }
    return imp;
}

/* ------------------------------------------------------------- dictionary */

typedef struct {
    char *s;
    size_t len;
    uint64_t hash;
} dict_entry_t;

struct jp_dict_s {
    size_t max;
    size_t n;
    dict_entry_t *entries; /* entries[i] has index i + 1 */
    uint32_t *table;       /* 0 = empty, else index */
    size_t mask;
    uint64_t unseen;
};

void jp_dict_free(jp_dict_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->entries[i].s);
    free(d->entries);
    free(d->table);
    free(d);
}

jp_dict_t *jp_dict_create(size_t max_categories, char *errstr, size_t errstr_size)
{
    if (max_categories == 0 || max_categories > DICT_MAX_CATEGORIES) {
        jp_err_set(errstr, errstr_size, "dict: max_categories must be in [1, %u]",
                   DICT_MAX_CATEGORIES);
        return NULL;
    }
    size_t cap = 4;
    while (cap < 2 * max_categories)
        cap *= 2;
    jp_dict_t *d = calloc(1, sizeof(*d));
    if (d) {
        d->entries = calloc(max_categories, sizeof(dict_entry_t));
        d->table = calloc(cap, sizeof(uint32_t));
    }
    if (!d || !d->entries || !d->table) {
        jp_dict_free(d);
        jp_err_set(errstr, errstr_size, "dict: out of memory");
        return NULL;
    }
    d->max = max_categories;
    d->mask = cap - 1;
    return d;
}

/* Slot holding s, or the empty slot where it would go. */
static size_t dict_probe(const jp_dict_t *d, const char *s, size_t len, uint64_t h)
{
    size_t i = (size_t)h & d->mask;
    for (;;) {
        uint32_t idx = d->table[i];
        if (idx == 0)
            return i;
        const dict_entry_t *e = &d->entries[idx - 1];
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->s, s, len) == 0))
            return i;
        i = (i + 1) & d->mask;
    }
}

static uint32_t dict_insert(jp_dict_t *d, size_t slot, const char *s, size_t len, uint64_t h)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return JP_DICT_UNSEEN;
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    d->entries[d->n].s = copy;
    d->entries[d->n].len = len;
    d->entries[d->n].hash = h;
    d->n++;
    d->table[slot] = (uint32_t)d->n;
    return (uint32_t)d->n;
}

uint32_t jp_dict_lookup(const jp_dict_t *d, const char *s, size_t len)
{
    uint64_t h = jp_hash64(s, len, 0);
    return d->table[dict_probe(d, s, len, h)];
}

uint32_t jp_dict_encode(jp_dict_t *d, const char *s, size_t len, int learn)
{
    uint64_t h = jp_hash64(s, len, 0);
    size_t slot = dict_probe(d, s, len, h);
    uint32_t idx = d->table[slot];
    if (idx == 0 && learn && d->n < d->max)
        idx = dict_insert(d, slot, s, len, h);
    if (idx == JP_DICT_UNSEEN)
        d->unseen++;
    return idx;
}

size_t jp_dict_size(const jp_dict_t *d)
{
    return d->n;
}

size_t jp_dict_width(const jp_dict_t *d)
{
    return d->max + 1;
}

const char *jp_dict_name(const jp_dict_t *d, uint32_t idx, size_t *len)
{
    if (idx == 0 || idx > d->n)
        return NULL;
    if (len)
        *len = d->entries[idx - 1].len;
    return d->entries[idx - 1].s;
}

uint64_t jp_dict_unseen_count(const jp_dict_t *d)
{
    return d->unseen;
}

int jp_dict_onehot(const jp_dict_t *d, uint32_t idx, double *out, size_t out_len)
{
    if (out_len < d->max + 1 || idx > d->n)
        return -1;
    memset(out, 0, (d->max + 1) * sizeof(double));
    out[idx] = 1.0;
    return 0;
}

void jp_dict_serialize(const jp_dict_t *d, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, DICT_TAG, FEAT_VERSION);
    jp_bytes_put_u32(w, (uint32_t)d->max);
    jp_bytes_put_u32(w, (uint32_t)d->n);
    jp_bytes_put_u64(w, d->unseen);
    for (size_t i = 0; i < d->n; i++) {
        jp_bytes_put_u32(w, (uint32_t)d->entries[i].len);
        jp_bytes_put_raw(w, d->entries[i].s, d->entries[i].len);
    }
}

jp_dict_t *jp_dict_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    if (jp_bytes_get_header(r, DICT_TAG, FEAT_VERSION) == 0) {
        jp_err_set(errstr, errstr_size, "dict: bad header or unsupported version");
        return NULL;
    }
    uint32_t max = jp_bytes_get_u32(r), n = jp_bytes_get_u32(r);
    uint64_t unseen = jp_bytes_get_u64(r);
    if (!jp_bytes_reader_ok(r) || n > max || (size_t)n * 4 > r->len - r->pos) {
        jp_err_set(errstr, errstr_size, "dict: truncated or invalid header");
        return NULL;
    }
    jp_dict_t *d = jp_dict_create(max, errstr, errstr_size);
    if (!d)
        return NULL;
    char *buf = NULL;
    int bad = 0;
    for (uint32_t i = 0; i < n && !bad; i++) {
        uint32_t len = jp_bytes_get_u32(r);
        if (!jp_bytes_reader_ok(r) || len > DICT_MAX_NAME || len > r->len - r->pos) {
            bad = 1;
            break;
        }
        char *nb = realloc(buf, len + 1);
        if (!nb) {
            bad = 1;
            break;
        }
        buf = nb;
        jp_bytes_get_raw(r, buf, len);
        uint64_t h = jp_hash64(buf, len, 0);
        size_t slot = dict_probe(d, buf, len, h);
        /* a duplicate name or a failed copy makes the state invalid */
        bad = d->table[slot] != 0 || dict_insert(d, slot, buf, len, h) == JP_DICT_UNSEEN;
    }
    free(buf);
    d->unseen = unseen;
    if (bad || !jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "dict: truncated or invalid state");
        jp_dict_free(d);
        return NULL;
    }
    return d;
}

/* -------------------------------------------------------------- selection */

size_t jp_select_by_variance(const jp_welford_t *stats, size_t n, double threshold, uint8_t *keep)
{
    size_t kept = 0;
    for (size_t j = 0; j < n; j++) {
        double v = jp_welford_var(&stats[j]);
        keep[j] = v > threshold; /* NaN (no data) is never kept */
        kept += keep[j];
    }
    return kept;
}

size_t jp_select_by_l1(const double *weights, size_t n, double threshold, size_t max_features,
                       uint8_t *keep)
{
    size_t kept = 0;
    for (size_t j = 0; j < n; j++) {
        double a = fabs(weights[j]);
        keep[j] = a > 0.0 && a >= threshold;
        kept += keep[j];
    }
    /* Cap: repeatedly drop the smallest kept |w| (ties: the higher index),
     * which leaves the max_features largest with ties to the lower index. */
    while (max_features > 0 && kept > max_features) {
        size_t worst = n;
        for (size_t j = 0; j < n; j++)
            if (keep[j] && (worst == n || fabs(weights[j]) <= fabs(weights[worst])))
                worst = j;
        keep[worst] = 0;
        kept--;
    }
    return kept;
}
