/*
 * jp_ftrl: online logistic regression trained by FTRL-Proximal
 * (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches",
 * Algorithm 1) on sparse hashed features.
 *
 * Contract:
 * - Features are (index, value) pairs. Categorical features are one-hot by
 *   the hashing trick: index = XXH64(value, seed = XXH64(namespace, 0)) mod
 *   2^bits (jp_ftrl_hash), value 1; unseen categories simply land in some
 *   bucket. Numeric features use the namespace's bucket with their value
 *   (jp_ftrl_hash_numeric). Indices must be < 2^bits. An index listed twice
 *   in one example contributes twice to the score and is updated twice in
 *   sequence.
 * - A bias coordinate (always present, value 1) is kept apart from the
 *   hashed space and is not regularized (l1 = l2 = 0 for it), so class
 *   priors are learned freely.
 * - Per coordinate i: w_i = 0 if |z_i| <= l1, else
 *   -(z_i - sgn(z_i) l1) / ((beta + sqrt(n_i)) (1 / alpha) + l2).
 *   Update with label y in {0,1}: g_i = (p_w - y) x_i c_y where
 *   p_w = 1 / (1 + exp(-clamp(w.x, -35, 35))) and c_1 = w_pos, c_0 = w_neg
 *   (class weights: the weighted log-loss);
 *   sigma_i = (sqrt(n_i + g_i^2) - sqrt(n_i)) (1 / alpha);
 *   z_i += g_i - sigma_i w_i; n_i += g_i^2, with w the pre-update weights.
 *   The state keeps s_i = sqrt(n_i), so sqrt(n_i + g^2) = sqrt(s_i^2 + g^2):
 *   one square root and one division per feature; 1/alpha is computed
 *   once. tests/fixtures/model/gen_ftrl.py spells out the same operations.
 * - Calibrated output. Class weights make the weighted MLE of a logistic
 *   model the unweighted one with its intercept moved by ln(w_pos / w_neg)
 *   (the weights act like case-control sampling), so p_w over-predicts
 *   the positives by that odds ratio. Every probability the model returns
 *   is corrected back (King & Zeng's prior correction):
 *       p = 1 / (1 + exp(-clamp(w.x - ln(w_pos / w_neg), -35, 35))),
 *   exact for a well-specified model, while learning keeps the weighted
 *   gradient above. With w_pos == w_neg the correction is 0 and p = p_w.
 *   Thresholds meant to favour recall belong to the decision, not to the
 *   probability.
 * - jp_ftrl_update returns the (calibrated) prediction made before learning
 *   (prequential "predict, then learn" in one pass).
 * - Serialization is sparse: only coordinates whose z or n is non-zero are
 *   written (u32 index, f64 z, f64 sqrt(n)), so a fresh 2^20 model costs a few
 *   bytes; the round trip is bit-exact.
 * - Not thread-safe per model; distinct models are independent.
 */
#ifndef JP_FTRL_H
#define JP_FTRL_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"

#define JP_FTRL_MAX_BITS 28

typedef struct jp_ftrl_feature_s {
    uint32_t index;
    double value;
} jp_ftrl_feature_t;

typedef struct jp_ftrl_s jp_ftrl_t;

/* bits in [1, JP_FTRL_MAX_BITS]; alpha > 0, beta >= 0, l1 >= 0, l2 >= 0,
 * w_pos > 0, w_neg > 0. NULL with a message on bad parameters or OOM. */
jp_ftrl_t *jp_ftrl_create(unsigned bits, double alpha, double beta, double l1, double l2,
                          double w_pos, double w_neg, char *errstr, size_t errstr_size);
void jp_ftrl_free(jp_ftrl_t *m);

/* Number of hashed coordinates, 2^bits. */
uint32_t jp_ftrl_dim(const jp_ftrl_t *m);
/* Bucket of a categorical value in a namespace. */
uint32_t jp_ftrl_hash(const jp_ftrl_t *m, const char *ns, const char *value);
uint32_t jp_ftrl_hash_bytes(const jp_ftrl_t *m, const char *ns, const void *value, size_t len);
/* The namespace's hash key (XXH64(ns, 0)): compute once per namespace and
 * use jp_ftrl_hash_key in hot loops to hash only the value. */
uint64_t jp_ftrl_namespace_key(const char *ns);
uint32_t jp_ftrl_hash_key(const jp_ftrl_t *m, uint64_t ns_key, const void *value, size_t len);
/* Bucket of a numeric feature (the namespace alone). */
uint32_t jp_ftrl_hash_numeric(const jp_ftrl_t *m, const char *ns);

/* Calibrated probability of the positive class (see above). */
double jp_ftrl_predict(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf);
/* Predicts, then learns from label (0 or non-zero); returns the pre-update
 * probability, or NaN (model unchanged) if scratch memory could not be
 * allocated (only possible for examples with more than 256 features). */
double jp_ftrl_update(jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf, int label);

/* Current weight of a hashed coordinate (index < dim). */
double jp_ftrl_weight(const jp_ftrl_t *m, uint32_t index);
double jp_ftrl_bias(const jp_ftrl_t *m);
/* The logit correction ln(w_pos / w_neg) subtracted from w.x. */
double jp_ftrl_logit_offset(const jp_ftrl_t *m);
/* Fills out[0..dim) with all hashed weights. */
void jp_ftrl_weights(const jp_ftrl_t *m, double *out);
/* Number of hashed coordinates with a non-zero weight (L1 sparsity). */
size_t jp_ftrl_nnz(const jp_ftrl_t *m);
/* Examples learned so far. */
uint64_t jp_ftrl_count(const jp_ftrl_t *m);
/* Raw FTRL state of a coordinate (index == dim is the bias); n is returned
 * as sqrt(n)^2. */
void jp_ftrl_state(const jp_ftrl_t *m, uint32_t index, double *z, double *n);

/* Arithmetic kernels. All of them perform the same IEEE-754 operations in
 * the same order (no fused multiply-add), so predictions and state are
 * bit-identical whichever one runs; models start on AUTO, the widest the
 * CPU supports (AVX2, else SSE2 on x86-64, else SCALAR). Selecting one
 * explicitly exists so tests can prove the identity. */
typedef enum jp_ftrl_kernel_e {
    JP_FTRL_KERNEL_AUTO,
    JP_FTRL_KERNEL_SCALAR,
    JP_FTRL_KERNEL_SSE2,
    JP_FTRL_KERNEL_AVX2
} jp_ftrl_kernel_t;
/* 0, or -1 (nothing changed) if this build or CPU lacks that kernel. */
int jp_ftrl_set_kernel(jp_ftrl_t *m, jp_ftrl_kernel_t k);
/* The kernel in use (never AUTO). */
jp_ftrl_kernel_t jp_ftrl_kernel(const jp_ftrl_t *m);

void jp_ftrl_serialize(const jp_ftrl_t *m, jp_bytes_writer_t *w);
jp_ftrl_t *jp_ftrl_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size);

#endif
