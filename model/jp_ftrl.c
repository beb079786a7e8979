/*
 * jp_ftrl: FTRL-Proximal logistic regression.
 *
 * Design. The model is two arrays of per-coordinate state (z, n),
 * interleaved so each hashed feature touches one 16-byte slot: with 30
 * features per example the cost is dominated by those cache lines, not by
 * arithmetic. Weights are never stored; they are a closed-form function of
 * (z, n) evaluated lazily (McMahan et al. 2013), which is what makes L1
 * produce exact zeros.
 *
 * update() computes each coordinate's weight once, keeps it in a scratch
 * buffer for the learning step (on the stack for up to 256 features, a
 * reusable heap buffer beyond), so "predict then learn" is one pass over the
 * features plus one over the scratch, and the learning step uses exactly the
 * weights the prediction used, as in Algorithm 1 of the paper.
 *
 * The bias is a separate unregularized coordinate: with L1 on the bias a
 * rare positive class could be pinned to p = 0.5 - the class weights are
 * meant to move the threshold, not the regularizer.
 */
#include "jp_ftrl.h"

#include "jp_err.h"

#include "jp_hash.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JP_FTRL_STACK 256
#define JP_FTRL_CLAMP 35.0

/* s = sqrt(n) rather than n: the weight needs sqrt(n) and the update
 * needs sqrt(n) and sqrt(n + g^2), so storing the root leaves one square
 * root and one division per feature and example. */
typedef struct jp_ftrl_slot_s {
    double z;
    double s;
} jp_ftrl_slot_t;

struct jp_ftrl_s {
    unsigned bits;
    uint32_t dim;
    double alpha, beta, l1, l2, w_pos, w_neg;
    double inv_alpha;
    uint64_t count;
    jp_ftrl_slot_t *slot; /* dim hashed coordinates + the bias at [dim] */
    double *scratch;
    size_t scratch_cap;
};

jp_ftrl_t *jp_ftrl_create(unsigned bits, double alpha, double beta, double l1, double l2,
                          double w_pos, double w_neg, char *errstr, size_t errstr_size)
{
    if (bits < 1 || bits > JP_FTRL_MAX_BITS) {
        jp_err_set(errstr, errstr_size, "ftrl: bits must be in [1, %d]", JP_FTRL_MAX_BITS);
        return NULL;
    }
    if (!(alpha > 0) || !(beta >= 0) || !(l1 >= 0) || !(l2 >= 0) || !(w_pos > 0) || !(w_neg > 0) ||
        !isfinite(alpha + beta + l1 + l2 + w_pos + w_neg)) {
        jp_err_set(errstr, errstr_size,
                   "ftrl: need alpha > 0, beta, l1, l2 >= 0, class weights > 0 (finite)");
        return NULL;
    }
    jp_ftrl_t *m = calloc(1, sizeof *m);
    if (!m) {
        jp_err_set(errstr, errstr_size, "ftrl: out of memory");
        return NULL;
    }
    m->bits = bits;
    m->dim = (uint32_t)1 << bits;
    m->alpha = alpha;
    m->inv_alpha = 1.0 / alpha;
    m->beta = beta;
    m->l1 = l1;
    m->l2 = l2;
    m->w_pos = w_pos;
    m->w_neg = w_neg;
    m->slot = calloc((size_t)m->dim + 1, sizeof *m->slot);
    if (!m->slot) {
        free(m);
        jp_err_set(errstr, errstr_size, "ftrl: out of memory for 2^%u coordinates", bits);
        return NULL;
    }
    return m;
}

void jp_ftrl_free(jp_ftrl_t *m)
{
    if (!m)
        return;
    free(m->slot);
    free(m->scratch);
    free(m);
}

uint32_t jp_ftrl_dim(const jp_ftrl_t *m)
{
    return m->dim;
}

uint64_t jp_ftrl_namespace_key(const char *ns)
{
    return jp_hash_str(ns, 0);
}

uint32_t jp_ftrl_hash_key(const jp_ftrl_t *m, uint64_t ns_key, const void *value, size_t len)
{
    return (uint32_t)(jp_hash64(value, len, ns_key) & (m->dim - 1));
}

uint32_t jp_ftrl_hash_bytes(const jp_ftrl_t *m, const char *ns, const void *value, size_t len)
{
    return jp_ftrl_hash_key(m, jp_ftrl_namespace_key(ns), value, len);
}

uint32_t jp_ftrl_hash(const jp_ftrl_t *m, const char *ns, const char *value)
{
    return jp_ftrl_hash_bytes(m, ns, value, strlen(value));
}

uint32_t jp_ftrl_hash_numeric(const jp_ftrl_t *m, const char *ns)
{
    return (uint32_t)(jp_hash_str(ns, 0) & (m->dim - 1));
}

static inline double jp_ftrl_w(double z, double sqrt_n, double inv_alpha, double beta, double l1,
                               double l2)
{
    /* Branch-free: whether |z| <= l1 is data-dependent and unpredictable,
     * and the division pipelines across features either way. */
    double w = -(z - copysign(l1, z)) / ((beta + sqrt_n) * inv_alpha + l2);
    return fabs(z) <= l1 ? 0.0 : w;
}

static inline double jp_ftrl_sigmoid(double wx)
{
    if (wx > JP_FTRL_CLAMP)
        wx = JP_FTRL_CLAMP;
    else if (wx < -JP_FTRL_CLAMP)
        wx = -JP_FTRL_CLAMP;
    return 1.0 / (1.0 + exp(-wx));
}

/* Score with the bias first, then the features in order; stores each
 * coordinate's weight in ws[1..nf] (ws[0] = bias) when ws is given. */
static double jp_ftrl_score(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf, double *ws)
{
    const jp_ftrl_slot_t *b = &m->slot[m->dim];
    double wb = jp_ftrl_w(b->z, b->s, m->inv_alpha, m->beta, 0.0, 0.0);
    double wx = wb;
    if (ws)
        ws[0] = wb;
    /* Issue every slot's cache miss before using any of them. */
    for (size_t j = 0; j < nf; j++)
        __builtin_prefetch(&m->slot[f[j].index & (m->dim - 1)]);
    for (size_t j = 0; j < nf; j++) {
        const jp_ftrl_slot_t *s = &m->slot[f[j].index & (m->dim - 1)];
        double w = jp_ftrl_w(s->z, s->s, m->inv_alpha, m->beta, m->l1, m->l2);
        if (ws)
            ws[j + 1] = w;
        wx += w * f[j].value;
    }
    return wx;
}

double jp_ftrl_predict(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf)
{
    return jp_ftrl_sigmoid(jp_ftrl_score(m, f, nf, NULL));
}

static inline void jp_ftrl_learn(jp_ftrl_slot_t *s, double g, double w, double inv_alpha)
{
    double sn = sqrt(s->s * s->s + g * g);
    double sigma = (sn - s->s) * inv_alpha;
    s->z += g - sigma * w;
    s->s = sn;
}

double jp_ftrl_update(jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf, int label)
{
    double stackbuf[JP_FTRL_STACK + 1];
    double *ws = stackbuf;
    if (nf > JP_FTRL_STACK) {
        if (m->scratch_cap < nf + 1) {
            double *nb = realloc(m->scratch, (nf + 1) * sizeof *nb);
            if (!nb)
                return NAN;
            m->scratch = nb;
            m->scratch_cap = nf + 1;
        }
        ws = m->scratch;
    }
    double p = jp_ftrl_sigmoid(jp_ftrl_score(m, f, nf, ws));
    double y = label ? 1.0 : 0.0;
    double gs = (p - y) * (label ? m->w_pos : m->w_neg);
    jp_ftrl_learn(&m->slot[m->dim], gs, ws[0], m->inv_alpha);
    for (size_t j = 0; j < nf; j++)
        jp_ftrl_learn(&m->slot[f[j].index & (m->dim - 1)], gs * f[j].value, ws[j + 1],
                      m->inv_alpha);
    m->count++;
    return p;
}

double jp_ftrl_weight(const jp_ftrl_t *m, uint32_t index)
{
    const jp_ftrl_slot_t *s = &m->slot[index & (m->dim - 1)];
    return jp_ftrl_w(s->z, s->s, m->inv_alpha, m->beta, m->l1, m->l2);
}

double jp_ftrl_bias(const jp_ftrl_t *m)
{
    const jp_ftrl_slot_t *b = &m->slot[m->dim];
    return jp_ftrl_w(b->z, b->s, m->inv_alpha, m->beta, 0.0, 0.0);
}

void jp_ftrl_weights(const jp_ftrl_t *m, double *out)
{
    for (uint32_t i = 0; i < m->dim; i++)
        out[i] = jp_ftrl_weight(m, i);
}

size_t jp_ftrl_nnz(const jp_ftrl_t *m)
{
    size_t k = 0;
    for (uint32_t i = 0; i < m->dim; i++)
        k += jp_ftrl_weight(m, i) != 0.0;
    return k;
}

uint64_t jp_ftrl_count(const jp_ftrl_t *m)
{
    return m->count;
}

void jp_ftrl_state(const jp_ftrl_t *m, uint32_t index, double *z, double *n)
{
    const jp_ftrl_slot_t *s = &m->slot[index > m->dim ? m->dim : index];
    *z = s->z;
    *n = s->s * s->s;
}

/* Non-zero in the bit pattern, so -0.0 survives the round trip too. */
static int jp_ftrl_slot_used(const jp_ftrl_slot_t *s)
{
    uint64_t a, b;
    memcpy(&a, &s->z, sizeof a);
    memcpy(&b, &s->s, sizeof b);
    return (a | b) != 0;
}

void jp_ftrl_serialize(const jp_ftrl_t *m, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "FTRL", 1);
    jp_bytes_put_u8(w, (uint8_t)m->bits);
    jp_bytes_put_f64(w, m->alpha);
    jp_bytes_put_f64(w, m->beta);
    jp_bytes_put_f64(w, m->l1);
    jp_bytes_put_f64(w, m->l2);
    jp_bytes_put_f64(w, m->w_pos);
    jp_bytes_put_f64(w, m->w_neg);
    jp_bytes_put_u64(w, m->count);
    uint32_t used = 0;
    for (uint32_t i = 0; i <= m->dim; i++)
        used += (uint32_t)jp_ftrl_slot_used(&m->slot[i]);
    jp_bytes_put_u32(w, used);
    for (uint32_t i = 0; i <= m->dim; i++) {
        if (!jp_ftrl_slot_used(&m->slot[i]))
            continue;
        jp_bytes_put_u32(w, i);
        jp_bytes_put_f64(w, m->slot[i].z);
        jp_bytes_put_f64(w, m->slot[i].s);
    }
}

jp_ftrl_t *jp_ftrl_deserialize(jp_bytes_reader_t *r, char *errstr, size_t errstr_size)
{
    jp_bytes_get_header(r, "FTRL", 1);
    unsigned bits = jp_bytes_get_u8(r);
    double alpha = jp_bytes_get_f64(r), beta = jp_bytes_get_f64(r);
    double l1 = jp_bytes_get_f64(r), l2 = jp_bytes_get_f64(r);
    double wp = jp_bytes_get_f64(r), wn = jp_bytes_get_f64(r);
    uint64_t count = jp_bytes_get_u64(r);
    if (!jp_bytes_reader_ok(r)) {
        jp_err_set(errstr, errstr_size, "ftrl: corrupt or truncated model header");
        return NULL;
    }
    jp_ftrl_t *m = jp_ftrl_create(bits, alpha, beta, l1, l2, wp, wn, errstr, errstr_size);
    if (!m)
        return NULL;
    m->count = count;
    uint32_t used = jp_bytes_get_u32(r);
    uint32_t prev = 0;
    int bad = used > m->dim + 1;
    for (uint32_t k = 0; !bad && k < used && jp_bytes_reader_ok(r); k++) {
        uint32_t i = jp_bytes_get_u32(r);
        if (i > m->dim || (k > 0 && i <= prev)) {
            bad = 1;
            break;
        }
        prev = i;
        m->slot[i].z = jp_bytes_get_f64(r);
        m->slot[i].s = jp_bytes_get_f64(r);
        if (!(m->slot[i].s >= 0)) {
            bad = 1;
            break;
        }
    }
    if (bad || !jp_bytes_reader_ok(r)) {
        jp_ftrl_free(m);
        jp_err_set(errstr, errstr_size, "ftrl: corrupt or truncated model state");
        return NULL;
    }
    return m;
}
