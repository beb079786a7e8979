/*
 * jp_ftrl: FTRL-Proximal logistic regression.
 *
 * Design. The model is two arrays of per-coordinate state (z, n),
 * interleaved so each hashed feature touches one 16-byte slot. Weights are
 * never stored; they are a closed-form function of (z, n) evaluated lazily
 * (McMahan et al. 2013), which is what makes L1 produce exact zeros.
 *
 * Cost (30 features, 2^20 slots): per example 30 cache lines, one division
 * (weight) and one square root (update) per feature, an exp, and a chain of
 * 30 dependent additions (the score, summed in feature order). So:
 * - every slot's cache miss is issued before any slot is used, and a table
 *   of 2 MiB or more is mapped on huge pages where the OS offers them
 *   (madvise): in 4 KiB pages a 16 MiB table misses the TLB on most
 *   hashed accesses;
 * - weights and the learning step run in SIMD kernels, a block of 2 (SSE2)
 *   or 4 (AVX2) features at a time. Each slot's (z, s) is one 16-byte load,
 *   transposed in registers: gathering z and s into stack arrays first
 *   would make every vector load wait for several scalar stores, which
 *   wait behind the slots' cache misses. The zero/non-zero choice of the
 *   weight is a mask, not a branch (|z| <= l1 is data-dependent). The last
 *   partial block is padded with lanes that read zeros and are discarded;
 * - the score is still summed one feature at a time, bias first: the
 *   contract and the NumPy reference fix that order, and any other
 *   association changes the rounding.
 * The learning step uses exactly the weights the prediction used, as in
 * Algorithm 1 of the paper: all of them are computed before any slot
 * changes.
 *
 * Repeated indices. An index listed twice must be updated twice in
 * sequence, the second step seeing the first one's result. A block learns
 * its lanes at once, so a block holding one slot twice (a compare of its
 * four pointers) learns lane by lane in scalar code instead. Repeats in
 * different blocks need nothing: a later block loads its slots after the
 * earlier block stored them, which is the sequential order.
 *
 * Determinism. Every kernel (plain C, SSE2, AVX2) performs the same IEEE-754
 * operations - add, multiply, divide, square root, all correctly rounded -
 * in the same order per lane, with no fused multiply-add (the file is built
 * with -ffp-contract=off and the AVX2 kernels do not enable FMA), so results
 * are bit-identical whichever kernel the CPU gets;
 * tests/model/learn/test_ftrl_kernels.c checks every kernel against the plain
 * sequential algorithm. SSE2 is part of x86-64, so only AVX2 is chosen at
 * run time.
 *
 * The bias is a separate unregularized coordinate: with L1 on the bias a
 * rare positive class could be pinned to p = 0.5 - the class weights are
 * meant to move the threshold, not the regularizer.
 *
 * Class weights speed up learning of a rare class (its gradients count
 * w_pos times), but they also move the learned intercept by ln(w_pos /
 * w_neg); the returned probability subtracts that offset again so the
 * prequential log-loss, Brier score and calibration see calibrated
 * probabilities. One subtraction per example; the learning step keeps
 * the weighted model's own p_w.
 */
#include "model/learn/jp_ftrl.h"

#include "model/base/jp_err.h"

#include "model/base/jp_hash.h"

#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define JP_FTRL_X86 1
#include <immintrin.h>
#else
#define JP_FTRL_X86 0
#endif

/* Features handled with stack buffers; update() needs heap scratch beyond. */
#define JP_FTRL_STACK 256
/* Lanes of the widest kernel: buffers hold whole blocks. */
#define JP_FTRL_BLOCK 4
#define JP_FTRL_ROOM  (JP_FTRL_STACK + JP_FTRL_BLOCK)
#define JP_FTRL_CLAMP 35.0
/* Tables of at least this size get huge pages (the x86-64 huge page). */
#define JP_FTRL_HUGE ((size_t)2 << 20)

/* s = sqrt(n) rather than n: the weight needs sqrt(n) and the update
 * needs sqrt(n) and sqrt(n + g^2), so storing the root leaves one square
 * root and one division per feature and example. */
typedef struct jp_ftrl_slot_s {
    double z;
    double s;
} jp_ftrl_slot_t;

/* The AVX2 score reads a feature's value as the odd quadword of its
 * 16 bytes. */
_Static_assert(sizeof(jp_ftrl_feature_t) == 16 && offsetof(jp_ftrl_feature_t, value) == 8,
               "jp_ftrl_feature_t is (u32 index, pad, f64 value)");

/* One example's working set. slot, w and x have room for n rounded up to
 * whole blocks; the lanes past n point at pad (zeros when the score reads
 * them, scribbled on by the learning step, never used). */
typedef struct jp_ftrl_ex_s {
    jp_ftrl_slot_t **slot;
    double *w;
    double *x;
    jp_ftrl_slot_t pad[JP_FTRL_BLOCK];
} jp_ftrl_ex_t;

/* Score: fills e for f[0..n) and returns wx + w_0 x_0 + ... + w_{n-1}
 * x_{n-1}, added in that order. Learn: the learning step with gradient
 * scale gs for the example e holds. */
typedef double (*jp_ftrl_score_fn)(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t n,
                                   jp_ftrl_ex_t *e, double wx);
typedef void (*jp_ftrl_learn_fn)(const jp_ftrl_t *m, size_t n, const jp_ftrl_ex_t *e, double gs);

struct jp_ftrl_s {
    unsigned bits;
    uint32_t dim;
    double alpha, beta, l1, l2, w_pos, w_neg;
    double inv_alpha;
    double logit_offset; /* ln(w_pos / w_neg) */
    uint64_t count;
    jp_ftrl_slot_t *slot; /* dim hashed coordinates + the bias at [dim] */
    void *map;            /* mmap-ed region holding slot, or NULL (calloc) */
    size_t map_len;
    void *scratch; /* update() working set for examples > JP_FTRL_STACK */
    size_t scratch_cap;
    jp_ftrl_kernel_t kernel;
    jp_ftrl_score_fn score_fn;
    jp_ftrl_learn_fn learn_fn;
};

static inline double jp_ftrl_w(double z, double sqrt_n, double inv_alpha, double beta, double l1,
                               double l2)
{
    double w = -(z - copysign(l1, z)) / ((beta + sqrt_n) * inv_alpha + l2);
    return fabs(z) <= l1 ? 0.0 : w;
}

static inline void jp_ftrl_learn(jp_ftrl_slot_t *s, double g, double w, double inv_alpha)
{
    double sn = sqrt(s->s * s->s + g * g);
    double sigma = (sn - s->s) * inv_alpha;
    s->z += g - sigma * w;
    s->s = sn;
}

/* Resolves every feature's slot and issues its cache miss before any is
 * used, so the misses of one example overlap; pads the last block of
 * `lanes` with zero slots. */
static inline void jp_ftrl_resolve(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t n,
                                   jp_ftrl_ex_t *e, size_t lanes)
{
    jp_ftrl_slot_t *slot = m->slot, **out = e->slot;
    const uint32_t mask = m->dim - 1;
    size_t j = 0;
    for (; j + 2 <= n; j += 2) {
        jp_ftrl_slot_t *s0 = &slot[f[j].index & mask], *s1 = &slot[f[j + 1].index & mask];
        __builtin_prefetch(s0);
        __builtin_prefetch(s1);
        out[j] = s0;
        out[j + 1] = s1;
    }
    if (j < n) {
        out[j] = &slot[f[j].index & mask];
        __builtin_prefetch(out[j]);
    }
    for (size_t k = 0; n % lanes && k < lanes - n % lanes; k++) {
        e->pad[k] = (jp_ftrl_slot_t){0.0, 0.0};
        out[n + k] = &e->pad[k];
    }
}

/* Lane by lane, in order: the reference semantics. */
static void jp_ftrl_learn_seq(const jp_ftrl_t *m, size_t n, jp_ftrl_slot_t *const *slot,
                              const double *x, const double *w, double gs)
{
    for (size_t j = 0; j < n; j++)
        jp_ftrl_learn(slot[j], gs * x[j], w[j], m->inv_alpha);
}

static double jp_ftrl_score_scalar(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t n,
                                   jp_ftrl_ex_t *e, double wx)
{
    jp_ftrl_resolve(m, f, n, e, 1);
    for (size_t j = 0; j < n; j++) {
        const jp_ftrl_slot_t *s = e->slot[j];
        e->w[j] = jp_ftrl_w(s->z, s->s, m->inv_alpha, m->beta, m->l1, m->l2);
        e->x[j] = f[j].value;
        wx += e->w[j] * e->x[j];
    }
    return wx;
}

static void jp_ftrl_learn_scalar(const jp_ftrl_t *m, size_t n, const jp_ftrl_ex_t *e, double gs)
{
    jp_ftrl_learn_seq(m, n, e->slot, e->x, e->w, gs);
}

#if JP_FTRL_X86
/* Lanes (a, b) of jp_ftrl_w from their slots' (z, s) pairs. */
static inline __m128d jp_ftrl_w2(__m128d a, __m128d b, __m128d l1, __m128d l1cmp, __m128d l2,
                                 __m128d beta, __m128d ia)
{
    const __m128d sign = _mm_set1_pd(-0.0);
    __m128d z = _mm_unpacklo_pd(a, b), s = _mm_unpackhi_pd(a, b);
    __m128d num = _mm_xor_pd(_mm_sub_pd(z, _mm_or_pd(_mm_and_pd(z, sign), l1)), sign);
    __m128d den = _mm_add_pd(_mm_mul_pd(_mm_add_pd(beta, s), ia), l2);
    __m128d zero = _mm_cmple_pd(_mm_andnot_pd(sign, z), l1cmp);
    return _mm_andnot_pd(zero, _mm_div_pd(num, den));
}

static double jp_ftrl_score_sse2(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t n,
                                 jp_ftrl_ex_t *e, double wx)
{
    jp_ftrl_resolve(m, f, n, e, 2);
    jp_ftrl_slot_t *const *slot = e->slot;
    const __m128d sign = _mm_set1_pd(-0.0);
    const __m128d l1 = _mm_andnot_pd(sign, _mm_set1_pd(m->l1)); /* |l1|, as copysign uses */
    const __m128d l1cmp = _mm_set1_pd(m->l1), l2 = _mm_set1_pd(m->l2);
    const __m128d beta = _mm_set1_pd(m->beta), ia = _mm_set1_pd(m->inv_alpha);
    __m128d acc = _mm_set_sd(wx);
    for (size_t j = 0; j < n; j += 2) {
        __m128d w = jp_ftrl_w2(_mm_loadu_pd(&slot[j]->z), _mm_loadu_pd(&slot[j + 1]->z), l1, l1cmp,
                               l2, beta, ia);
        _mm_storeu_pd(&e->w[j], w);
        /* The pad lane of an odd example reads f[j] again, masked to 0. */
        __m128d x = _mm_loadh_pd(_mm_load_sd(&f[j].value), &f[j + (j + 1 < n)].value);
        x = _mm_and_pd(x, _mm_castsi128_pd(_mm_set_epi64x(-(int64_t)(j + 1 < n), -1)));
        _mm_storeu_pd(&e->x[j], x);
        __m128d p = _mm_mul_pd(w, x);
        acc = _mm_add_sd(acc, p);
        if (j + 1 < n)
            acc = _mm_add_sd(acc, _mm_unpackhi_pd(p, p));
    }
    return _mm_cvtsd_f64(acc);
}

/* Learning step for lanes (pa, pb), distinct slots. */
static inline void jp_ftrl_learn2(double *pa, double *pb, __m128d x, __m128d w, __m128d gs,
                                  __m128d ia)
{
    __m128d a = _mm_loadu_pd(pa), b = _mm_loadu_pd(pb);
    __m128d z = _mm_unpacklo_pd(a, b), s = _mm_unpackhi_pd(a, b);
    __m128d g = _mm_mul_pd(gs, x);
    __m128d sn = _mm_sqrt_pd(_mm_add_pd(_mm_mul_pd(s, s), _mm_mul_pd(g, g)));
    __m128d sigma = _mm_mul_pd(_mm_sub_pd(sn, s), ia);
    z = _mm_add_pd(z, _mm_sub_pd(g, _mm_mul_pd(sigma, w)));
    _mm_storeu_pd(pa, _mm_unpacklo_pd(z, sn));
    _mm_storeu_pd(pb, _mm_unpackhi_pd(z, sn));
}

static void jp_ftrl_learn_sse2(const jp_ftrl_t *m, size_t n, const jp_ftrl_ex_t *e, double gs)
{
    jp_ftrl_slot_t *const *slot = e->slot;
    const __m128d gv = _mm_set1_pd(gs), ia = _mm_set1_pd(m->inv_alpha);
    for (size_t j = 0; j < n; j += 2) {
        if (slot[j] == slot[j + 1])
            jp_ftrl_learn_seq(m, 2, &slot[j], &e->x[j], &e->w[j], gs);
        else
            jp_ftrl_learn2(&slot[j]->z, &slot[j + 1]->z, _mm_loadu_pd(&e->x[j]),
                           _mm_loadu_pd(&e->w[j]), gv, ia);
    }
}

/* AVX2 without FMA: the lanes of the SSE2 kernels, four at a time. */
__attribute__((target("avx2"))) static inline __m256d jp_ftrl_w4(jp_ftrl_slot_t *const *p,
                                                                 __m256d l1, __m256d l1cmp,
                                                                 __m256d l2, __m256d beta,
                                                                 __m256d ia)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d ac = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(&p[0]->z)),
                                      _mm_loadu_pd(&p[2]->z), 1);
    __m256d bd = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(&p[1]->z)),
                                      _mm_loadu_pd(&p[3]->z), 1);
    __m256d z = _mm256_unpacklo_pd(ac, bd), s = _mm256_unpackhi_pd(ac, bd);
    __m256d num = _mm256_xor_pd(_mm256_sub_pd(z, _mm256_or_pd(_mm256_and_pd(z, sign), l1)), sign);
    __m256d den = _mm256_add_pd(_mm256_mul_pd(_mm256_add_pd(beta, s), ia), l2);
    __m256d zero = _mm256_cmp_pd(_mm256_andnot_pd(sign, z), l1cmp, _CMP_LE_OS);
    return _mm256_andnot_pd(zero, _mm256_div_pd(num, den));
}

/* x of features j..j+3 (zero past n), from f directly and without
 * branches: lanes past n read f[n - 1] and are masked. */
__attribute__((target("avx2"))) static inline __m256d jp_ftrl_load_x4(const jp_ftrl_feature_t *f,
                                                                      size_t j, size_t n)
{
    size_t last = n - 1;
    size_t j1 = j + 1 < last ? j + 1 : last, j2 = j + 2 < last ? j + 2 : last;
    size_t j3 = j + 3 < last ? j + 3 : last;
    __m128d lo = _mm_loadh_pd(_mm_load_sd(&f[j].value), &f[j1].value);
    __m128d hi = _mm_loadh_pd(_mm_load_sd(&f[j2].value), &f[j3].value);
    __m256d x = _mm256_insertf128_pd(_mm256_castpd128_pd256(lo), hi, 1);
    __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
    __m256i live = _mm256_cmpgt_epi64(_mm256_set1_epi64x((int64_t)(n - j)), lane);
    return _mm256_and_pd(x, _mm256_castsi256_pd(live));
}

/* Whether two of the four pointers at p are equal: each lane against its
 * neighbours one and two places on covers all six pairs. */
__attribute__((target("avx2"))) static inline __m256i jp_ftrl_dup4(jp_ftrl_slot_t *const *p)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i r1 = _mm256_permute4x64_epi64(v, 0x39), r2 = _mm256_permute4x64_epi64(v, 0x4e);
    return _mm256_or_si256(_mm256_cmpeq_epi64(v, r1), _mm256_cmpeq_epi64(v, r2));
}

/* One block of the score: the weights of the slots at p, which are kept
 * with the values xv for the learning step; returns the products. */
__attribute__((target("avx2"))) static inline __m256d
jp_ftrl_block4(jp_ftrl_slot_t *const *p, __m256d xv, double *wout, double *xout, __m256d l1,
               __m256d l1cmp, __m256d l2, __m256d beta, __m256d ia)
{
    __m256d w = jp_ftrl_w4(p, l1, l1cmp, l2, beta, ia);
    _mm256_storeu_pd(wout, w);
    _mm256_storeu_pd(xout, xv);
    return _mm256_mul_pd(w, xv);
}

__attribute__((target("avx2"))) static double jp_ftrl_score_avx2(const jp_ftrl_t *m,
                                                                 const jp_ftrl_feature_t *f,
                                                                 size_t n, jp_ftrl_ex_t *e,
                                                                 double wx)
{
    jp_ftrl_resolve(m, f, n, e, 4);
    jp_ftrl_slot_t *const *slot = e->slot;
    double *wout = e->w, *xout = e->x;
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d l1 = _mm256_andnot_pd(sign, _mm256_set1_pd(m->l1));
    const __m256d l1cmp = _mm256_set1_pd(m->l1), l2 = _mm256_set1_pd(m->l2);
    const __m256d beta = _mm256_set1_pd(m->beta), ia = _mm256_set1_pd(m->inv_alpha);
    __m128d acc = _mm_set_sd(wx);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        /* A whole block: the values are the odd quadwords of f[j..j+3],
         * two 32-byte loads and a shuffle away, and all four products are
         * added without a test. */
        __m256d a = _mm256_loadu_pd((const double *)(const void *)&f[j]);
        __m256d b = _mm256_loadu_pd((const double *)(const void *)&f[j + 2]);
        __m256d xv = _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xd8);
        __m256d prod = jp_ftrl_block4(&slot[j], xv, &wout[j], &xout[j], l1, l1cmp, l2, beta, ia);
        __m128d lo = _mm256_castpd256_pd128(prod), hi = _mm256_extractf128_pd(prod, 1);
        acc = _mm_add_sd(acc, lo);
        acc = _mm_add_sd(acc, _mm_unpackhi_pd(lo, lo));
        acc = _mm_add_sd(acc, hi);
        acc = _mm_add_sd(acc, _mm_unpackhi_pd(hi, hi));
    }
    if (j < n) { /* the last, partial block: lanes past n read zeros */
        __m256d prod = jp_ftrl_block4(&slot[j], jp_ftrl_load_x4(f, j, n), &wout[j], &xout[j], l1,
                                      l1cmp, l2, beta, ia);
        __m128d lo = _mm256_castpd256_pd128(prod), hi = _mm256_extractf128_pd(prod, 1);
        acc = _mm_add_sd(acc, lo);
        if (j + 1 < n)
            acc = _mm_add_sd(acc, _mm_unpackhi_pd(lo, lo));
        if (j + 2 < n)
            acc = _mm_add_sd(acc, hi);
    }
    return _mm_cvtsd_f64(acc);
}

/* Learning step for the four distinct slots at p. */
__attribute__((target("avx2"))) static inline void
jp_ftrl_learn4(jp_ftrl_slot_t *const *p, __m256d x, __m256d w, __m256d gs, __m256d ia)
{
    double *p0 = &p[0]->z, *p1 = &p[1]->z, *p2 = &p[2]->z, *p3 = &p[3]->z;
    __m256d ac =
        _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p0)), _mm_loadu_pd(p2), 1);
    __m256d bd =
        _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p1)), _mm_loadu_pd(p3), 1);
    __m256d z = _mm256_unpacklo_pd(ac, bd), s = _mm256_unpackhi_pd(ac, bd);
    __m256d g = _mm256_mul_pd(gs, x);
    __m256d sn = _mm256_sqrt_pd(_mm256_add_pd(_mm256_mul_pd(s, s), _mm256_mul_pd(g, g)));
    __m256d sigma = _mm256_mul_pd(_mm256_sub_pd(sn, s), ia);
    z = _mm256_add_pd(z, _mm256_sub_pd(g, _mm256_mul_pd(sigma, w)));
    /* Back to (z, s) pairs: lo = (z0, s0 | z2, s2), hi = (z1, s1 | z3, s3). */
    __m256d lo = _mm256_unpacklo_pd(z, sn), hi = _mm256_unpackhi_pd(z, sn);
    _mm_storeu_pd(p0, _mm256_castpd256_pd128(lo));
    _mm_storeu_pd(p1, _mm256_castpd256_pd128(hi));
    _mm_storeu_pd(p2, _mm256_extractf128_pd(lo, 1));
    _mm_storeu_pd(p3, _mm256_extractf128_pd(hi, 1));
}

__attribute__((target("avx2"))) static void jp_ftrl_learn_avx2(const jp_ftrl_t *m, size_t n,
                                                               const jp_ftrl_ex_t *e, double gs)
{
    jp_ftrl_slot_t *const *slot = e->slot;
    const __m256d gv = _mm256_set1_pd(gs), ia = _mm256_set1_pd(m->inv_alpha);
    for (size_t j = 0; j < n; j += 4) {
        __m256i d = jp_ftrl_dup4(&slot[j]);
        if (_mm256_testz_si256(d, d))
            jp_ftrl_learn4(&slot[j], _mm256_loadu_pd(&e->x[j]), _mm256_loadu_pd(&e->w[j]), gv, ia);
        else
            jp_ftrl_learn_seq(m, n - j < 4 ? n - j : 4, &slot[j], &e->x[j], &e->w[j], gs);
    }
}
#endif

int jp_ftrl_set_kernel(jp_ftrl_t *m, jp_ftrl_kernel_t k)
{
    if (k == JP_FTRL_KERNEL_AUTO) {
#if JP_FTRL_X86
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx2") ? JP_FTRL_KERNEL_AVX2 : JP_FTRL_KERNEL_SSE2;
#else
        k = JP_FTRL_KERNEL_SCALAR;
#endif
    }
    switch (k) {
    case JP_FTRL_KERNEL_SCALAR:
        m->score_fn = jp_ftrl_score_scalar;
        m->learn_fn = jp_ftrl_learn_scalar;
        break;
#if JP_FTRL_X86
    case JP_FTRL_KERNEL_SSE2:
        m->score_fn = jp_ftrl_score_sse2;
        m->learn_fn = jp_ftrl_learn_sse2;
        break;
    case JP_FTRL_KERNEL_AVX2:
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx2"))
            return -1;
        m->score_fn = jp_ftrl_score_avx2;
        m->learn_fn = jp_ftrl_learn_avx2;
        break;
#endif
    default:
        return -1;
    }
    m->kernel = k;
    return 0;
}

jp_ftrl_kernel_t jp_ftrl_kernel(const jp_ftrl_t *m)
{
    return m->kernel;
}

/* Zeroed slots for the model. Large tables are mmap-ed on a huge-page
 * boundary and advised to use huge pages: hashed features hit random
 * 4 KiB pages of the table, so with small pages most accesses also miss the
 * TLB. Pages are still committed lazily, as with calloc. */
static int jp_ftrl_alloc_slots(jp_ftrl_t *m)
{
    size_t bytes = ((size_t)m->dim + 1) * sizeof *m->slot;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= JP_FTRL_HUGE) {
        size_t len = bytes + JP_FTRL_HUGE;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            uintptr_t a = ((uintptr_t)p + JP_FTRL_HUGE - 1) & ~(uintptr_t)(JP_FTRL_HUGE - 1);
            (void)madvise((void *)a, bytes, MADV_HUGEPAGE); /* advice only */
            m->map = p;
            m->map_len = len;
            m->slot = (jp_ftrl_slot_t *)a;
            return 0;
        }
    }
#endif
    m->slot = calloc((size_t)m->dim + 1, sizeof *m->slot);
    return m->slot ? 0 : -1;
}

static void jp_ftrl_free_slots(jp_ftrl_t *m)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (m->map) {
        munmap(m->map, m->map_len);
        return;
    }
#endif
    free(m->slot);
}

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
    m->logit_offset = log(w_pos / w_neg);
    if (jp_ftrl_alloc_slots(m) != 0) {
        free(m);
        jp_err_set(errstr, errstr_size, "ftrl: out of memory for 2^%u coordinates", bits);
        return NULL;
    }
    (void)jp_ftrl_set_kernel(m, JP_FTRL_KERNEL_AUTO);
    return m;
}

void jp_ftrl_free(jp_ftrl_t *m)
{
    if (!m)
        return;
    jp_ftrl_free_slots(m);
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

static inline double jp_ftrl_sigmoid(double wx)
{
    if (wx > JP_FTRL_CLAMP)
        wx = JP_FTRL_CLAMP;
    else if (wx < -JP_FTRL_CLAMP)
        wx = -JP_FTRL_CLAMP;
    return 1.0 / (1.0 + exp(-wx));
}

static double jp_ftrl_bias_w(const jp_ftrl_t *m)
{
    const jp_ftrl_slot_t *b = &m->slot[m->dim];
    return jp_ftrl_w(b->z, b->s, m->inv_alpha, m->beta, 0.0, 0.0);
}

double jp_ftrl_predict(const jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf)
{
    jp_ftrl_slot_t *slots[JP_FTRL_ROOM];
    double w[JP_FTRL_ROOM], x[JP_FTRL_ROOM];
    jp_ftrl_ex_t e = {.slot = slots, .w = w, .x = x};
    /* In chunks: the sum continues across them in feature order. */
    double wx = jp_ftrl_bias_w(m);
    for (size_t off = 0; off < nf; off += JP_FTRL_STACK) {
        size_t n = nf - off < JP_FTRL_STACK ? nf - off : JP_FTRL_STACK;
        wx = m->score_fn(m, f + off, n, &e, wx);
    }
    return jp_ftrl_sigmoid(wx - m->logit_offset);
}

double jp_ftrl_update(jp_ftrl_t *m, const jp_ftrl_feature_t *f, size_t nf, int label)
{
    jp_ftrl_slot_t *slots[JP_FTRL_ROOM];
    double w[JP_FTRL_ROOM], x[JP_FTRL_ROOM];
    jp_ftrl_ex_t e = {.slot = slots, .w = w, .x = x};
    if (nf > JP_FTRL_STACK) {
        size_t cap = nf + JP_FTRL_BLOCK;
        if (m->scratch_cap < cap) {
            void *nb = realloc(m->scratch, cap * (2 * sizeof(double) + sizeof(jp_ftrl_slot_t *)));
            if (!nb)
                return NAN;
            m->scratch = nb;
            m->scratch_cap = cap;
        }
        e.w = m->scratch;
        e.x = e.w + m->scratch_cap;
        e.slot = (jp_ftrl_slot_t **)(e.x + m->scratch_cap);
    }
    double wb = jp_ftrl_bias_w(m);
    double wx = m->score_fn(m, f, nf, &e, wb);
    double pw = jp_ftrl_sigmoid(wx);
    double y = label ? 1.0 : 0.0;
    double gs = (pw - y) * (label ? m->w_pos : m->w_neg);
    jp_ftrl_learn(&m->slot[m->dim], gs, wb, m->inv_alpha);
    m->learn_fn(m, nf, &e, gs);
    m->count++;
    return jp_ftrl_sigmoid(wx - m->logit_offset);
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

double jp_ftrl_logit_offset(const jp_ftrl_t *m)
{
    return m->logit_offset;
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
