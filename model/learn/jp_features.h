/*
 * jp_features: online feature-engineering primitives.
 *
 * Contract:
 * - jp_welford_t: weighted online mean and variance (Welford/West), with an
 *   exact-in-exact-arithmetic pairwise merge (Chan et al.). Variance is the
 *   population variance (divide by the sum of weights); the sample variance
 *   divides by (sum of weights - 1). Both are NaN while undefined.
 * - jp_imputer_t: per-feature imputation of missing values. A value is
 *   missing when it is not finite (NaN or +-inf). Strategies: the running
 *   mean of the observed values, their mode (most frequent value; ties go to
 *   the smallest value; at most max_mode_values distinct values are tracked,
 *   later new values are counted as overflow and ignored), or a constant.
 *   Until a mean/mode feature has seen a value, the spec's constant is used.
 *   transform writes the filled vector and, optionally, a 0/1 was-missing
 *   indicator per feature.
 * - jp_dict_t: a dictionary encoder for categorical strings. Known
 *   categories get indices 1..K in first-seen order; index 0
 *   (JP_DICT_UNSEEN) is every category not in the dictionary (never seen,
 *   or seen after the dictionary was full or while not learning). The
 *   one-hot encoding has the fixed width max_categories + 1 (slot 0 = unseen)
 *   so a model's input dimension never changes as categories are learned.
 * - Feature selection: by variance threshold (keep var > threshold, as
 *   scikit-learn's VarianceThreshold) and by weight magnitude (keep
 *   |w| >= threshold and w != 0, then at most max_features of the largest
 *   |w|, ties broken by lower index).
 * - Stateful objects serialize through jp_bytes with a tag and version
 *   ("WELF", "IMPU", "DICT" v1); a round trip is exact and re-serializes to
 *   identical bytes.
 */
#ifndef JP_FEATURES_H
#define JP_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

/* ---- online mean / variance ---- */

typedef struct {
    double w;    /* sum of weights */
    double mean; /* weighted mean */
    double m2;   /* sum of w (x - mean)^2 */
    uint64_t n;  /* number of observations */
} jp_welford_t;

void jp_welford_init(jp_welford_t *s);
void jp_welford_add(jp_welford_t *s, double x);
/* w <= 0 or non-finite x/w is ignored. */
void jp_welford_add_weighted(jp_welford_t *s, double x, double w);
void jp_welford_merge(jp_welford_t *dst, const jp_welford_t *src);
double jp_welford_mean(const jp_welford_t *s);
double jp_welford_var(const jp_welford_t *s);
double jp_welford_var_sample(const jp_welford_t *s);
void jp_welford_serialize(const jp_welford_t *s, jp_bytes_writer_t *w);
int jp_welford_deserialize(jp_bytes_reader_t *r, jp_welford_t *s);

/* ---- imputation ---- */

typedef enum {
    JP_IMPUTE_MEAN = 0,
    JP_IMPUTE_MODE = 1,
    JP_IMPUTE_CONSTANT = 2
} jp_impute_strategy_t;

typedef struct {
    jp_impute_strategy_t strategy;
    double constant; /* CONSTANT's value; fallback for MEAN/MODE before data */
} jp_impute_spec_t;

typedef struct jp_imputer_s jp_imputer_t;

/* specs[n_features]; max_mode_values >= 1. */
jp_imputer_t *jp_imputer_create(size_t n_features, const jp_impute_spec_t *specs,
                                size_t max_mode_values, char *errstr, size_t errstr_size);
void jp_imputer_free(jp_imputer_t *imp);
/* Learns from the finite entries of x[n_features]. */
void jp_imputer_observe(jp_imputer_t *imp, const double *x);
/* out[j] = x[j] if finite, else the fill value; missing (may be NULL)
 * gets 1.0 / 0.0. out may alias x. Returns the number of missing entries. */
size_t jp_imputer_transform(const jp_imputer_t *imp, const double *x, double *out, double *missing);
double jp_imputer_fill_value(const jp_imputer_t *imp, size_t j);
/* Observations seen missing for feature j, and distinct values dropped from
 * the mode table because it was full. */
uint64_t jp_imputer_missing_count(const jp_imputer_t *imp, size_t j);
uint64_t jp_imputer_mode_overflow(const jp_imputer_t *imp, size_t j);
void jp_imputer_serialize(const jp_imputer_t *imp, jp_bytes_writer_t *w);
jp_imputer_t *jp_imputer_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

/* ---- categorical encoding ---- */

#define JP_DICT_UNSEEN 0u

typedef struct jp_dict_s jp_dict_t;

/* max_categories in [1, 2^24]. */
jp_dict_t *jp_dict_create(size_t max_categories, char *errstr, size_t errstr_size);
void jp_dict_free(jp_dict_t *d);
/* Index of s[0..len) (bytes, not NUL-terminated). When learn is non-zero a
 * new category is added while there is room. Unseen results are counted. */
uint32_t jp_dict_encode(jp_dict_t *d, const char *s, size_t len, int learn);
/* Same without learning or counting. */
uint32_t jp_dict_lookup(const jp_dict_t *d, const char *s, size_t len);
size_t jp_dict_size(const jp_dict_t *d);
/* One-hot width: max_categories + 1. */
size_t jp_dict_width(const jp_dict_t *d);
/* Category bytes of index idx (1..size) or NULL. */
const char *jp_dict_name(const jp_dict_t *d, uint32_t idx, size_t *len);
uint64_t jp_dict_unseen_count(const jp_dict_t *d);
/* Writes the one-hot vector of idx into out[0..width). -1 if out_len <
 * width or idx > size. */
int jp_dict_onehot(const jp_dict_t *d, uint32_t idx, double *out, size_t out_len);
void jp_dict_serialize(const jp_dict_t *d, jp_bytes_writer_t *w);
jp_dict_t *jp_dict_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

/* ---- feature selection: keep[j] = 1/0; return the number kept ---- */

size_t jp_select_by_variance(const jp_welford_t *stats, size_t n, double threshold, uint8_t *keep);
/* max_features == 0: no cap. */
size_t jp_select_by_l1(const double *weights, size_t n, double threshold, size_t max_features,
                       uint8_t *keep);

#endif
