/*
 * jp_ftrl kernels: every arithmetic kernel gives bit-identical results.
 *
 * - Reference: the plain sequential FTRL-Proximal step of model/learn/jp_ftrl.h
 *   (score bias first then features in order, learn bias then features in
 *   order, each repeat of an index seeing the previous update), written out
 *   here with the same operations; it is what jp_ftrl computed before it had
 *   SIMD kernels.
 * - Every kernel this build and CPU offer (SCALAR, SSE2, AVX2, and AUTO, the
 *   default) must reproduce the reference's predictions (before and after
 *   predict == update's return) and final state bit for bit, and serialize
 *   to the same bytes, on streams built to hit the awkward cases: examples of
 *   0 to 40 features (every block remainder), repeated indices at distances
 *   1 to 5 (inside one block and across blocks), zero, negative and large
 *   values, parameters with l1 = 0, l2 = 0, beta = 0, and examples of more
 *   than 256 features (predict's chunks, update's heap scratch). A kernel
 *   the CPU lacks is skipped, not failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/learn/jp_ftrl.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_s {
    uint32_t dim;
    double beta, l1, l2, w_pos, w_neg, inv_alpha;
    double *z, *s; /* dim + 1, the bias last */
} ref_t;

static double ref_w(double z, double s, double inv_alpha, double beta, double l1, double l2)
{
    double w = -(z - copysign(l1, z)) / ((beta + s) * inv_alpha + l2);
    return fabs(z) <= l1 ? 0.0 : w;
}

static void ref_learn(ref_t *r, uint32_t i, double g, double w)
{
    double sn = sqrt(r->s[i] * r->s[i] + g * g);
    double sigma = (sn - r->s[i]) * r->inv_alpha;
    r->z[i] += g - sigma * w;
    r->s[i] = sn;
}

static double ref_sigmoid(double wx)
{
    if (wx > 35.0)
        wx = 35.0;
    else if (wx < -35.0)
        wx = -35.0;
    return 1.0 / (1.0 + exp(-wx));
}

/* Returns the pre-update probability; learns when ws is given. */
static double ref_step(ref_t *r, const jp_ftrl_feature_t *f, size_t nf, int label, double *ws)
{
    uint32_t b = r->dim;
    double wb = ref_w(r->z[b], r->s[b], r->inv_alpha, r->beta, 0.0, 0.0);
    double wx = wb;
    for (size_t j = 0; j < nf; j++) {
        uint32_t i = f[j].index & (r->dim - 1);
        double w = ref_w(r->z[i], r->s[i], r->inv_alpha, r->beta, r->l1, r->l2);
        if (ws)
            ws[j] = w;
        wx += w * f[j].value;
    }
    /* Returned: the calibrated probability; learned from: the weighted one. */
    double p = ref_sigmoid(wx - log(r->w_pos / r->w_neg));
    if (!ws)
        return p;
    double gs = (ref_sigmoid(wx) - (label ? 1.0 : 0.0)) * (label ? r->w_pos : r->w_neg);
    ref_learn(r, b, gs, wb);
    for (size_t j = 0; j < nf; j++)
        ref_learn(r, f[j].index & (r->dim - 1), gs * f[j].value, ws[j]);
    return p;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

typedef struct params_s {
    unsigned bits;
    double alpha, beta, l1, l2, w_pos, w_neg;
} params_t;

static const params_t PARAMS[] = {
    {6, 0.1, 1.0, 0.5, 1.0, 3.0, 0.7},   /* the NumPy fixture's */
    {8, 0.5, 0.0, 0.0, 0.0, 1.0, 1.0},   /* no regularization, beta = 0 */
    {5, 0.05, 1.0, 2.0, 0.0, 1.0, 4.0},  /* strong L1: many exact zeros */
    {18, 0.2, 1.0, 0.3, 0.1, 2.0, 1.0},  /* 4 MiB table (huge-page path) */
    {12, 1.0, 0.5, 0.0, 5.0, 10.0, 1.0}, /* L2 only */
};

enum { MAXF = 300, STEPS = 6000 };

/* Builds example k of a stream: mostly 0..40 features, sometimes > 256;
 * indices sometimes drawn from a handful so blocks repeat them, and
 * explicit repeats at distances 1..5. */
static size_t make_example(jp_rng_t *rng, uint32_t dim, jp_ftrl_feature_t *f, int *label)
{
    size_t nf = jp_rng_below(rng, 50) == 0 ? 250 + (size_t)jp_rng_below(rng, 51)
                                           : (size_t)jp_rng_below(rng, 41);
    int narrow = jp_rng_below(rng, 3) == 0;
    for (size_t j = 0; j < nf; j++) {
        uint32_t i = (uint32_t)jp_rng_below(rng, narrow ? 6 : dim);
        size_t back = 1 + (size_t)jp_rng_below(rng, 5);
        if (j >= back && jp_rng_below(rng, 8) == 0)
            i = f[j - back].index;
        double v;
        switch (jp_rng_below(rng, 6)) {
        case 0:
            v = jp_rng_normal(rng);
            break;
        case 1:
            v = -3.0 * jp_rng_uniform(rng);
            break;
        case 2:
            v = 0.0;
            break;
        case 3:
            v = 1e3 * jp_rng_normal(rng);
            break;
        default:
            v = 1.0;
        }
        f[j].index = i;
        f[j].value = v;
    }
    *label = jp_rng_uniform(rng) < 0.3;
    return nf;
}

static void serialize(const jp_ftrl_t *m, jp_bytes_writer_t *w)
{
    jp_bytes_writer_init(w);
    jp_ftrl_serialize(m, w);
    assert_false(w->oom);
}

/* Runs every parameter set's stream through kernel k and the reference;
 * returns 0 if this build or CPU lacks k. */
static int check_kernel(jp_ftrl_kernel_t k)
{
    static jp_ftrl_feature_t f[MAXF];
    static double ws[MAXF];
    char err[128];
    for (size_t c = 0; c < sizeof PARAMS / sizeof PARAMS[0]; c++) {
        const params_t *pa = &PARAMS[c];
        jp_ftrl_t *m = jp_ftrl_create(pa->bits, pa->alpha, pa->beta, pa->l1, pa->l2, pa->w_pos,
                                      pa->w_neg, err, sizeof err);
        assert_non_null(m);
        if (jp_ftrl_set_kernel(m, k) != 0) {
            jp_ftrl_free(m);
            return 0;
        }
        assert_true(jp_ftrl_kernel(m) != JP_FTRL_KERNEL_AUTO);
        ref_t r = {jp_ftrl_dim(m),
                   pa->beta,
                   pa->l1,
                   pa->l2,
                   pa->w_pos,
                   pa->w_neg,
                   1.0 / pa->alpha,
                   calloc((size_t)jp_ftrl_dim(m) + 1, sizeof(double)),
                   calloc((size_t)jp_ftrl_dim(m) + 1, sizeof(double))};
        assert_non_null(r.z);
        assert_non_null(r.s);
        jp_rng_t rng;
        jp_rng_seed(&rng, 7000 + c);
        for (int step = 0; step < STEPS; step++) {
            int label;
            size_t nf = make_example(&rng, r.dim, f, &label);
            double want_pre = ref_step(&r, f, nf, label, NULL);
            double pre = jp_ftrl_predict(m, f, nf);
            double want = ref_step(&r, f, nf, label, ws);
            double got = jp_ftrl_update(m, f, nf, label);
            if (!same_bits(pre, want_pre) || !same_bits(got, want))
                fail_msg("kernel %d params %zu step %d (nf %zu): p %.17g / %.17g want %.17g",
                         (int)k, c, step, nf, pre, got, want);
        }
        for (uint32_t i = 0; i <= r.dim; i++) {
            double z, n;
            jp_ftrl_state(m, i, &z, &n);
            if (!same_bits(z, r.z[i]) || !same_bits(n, r.s[i] * r.s[i]))
                fail_msg("kernel %d params %zu coordinate %u: z %.17g n %.17g want %.17g %.17g",
                         (int)k, c, i, z, n, r.z[i], r.s[i] * r.s[i]);
            if (i < r.dim)
                assert_true(same_bits(jp_ftrl_weight(m, i),
                                      ref_w(r.z[i], r.s[i], r.inv_alpha, r.beta, r.l1, r.l2)));
        }
        /* And the scalar kernel serializes the same stream to the same
         * bytes. */
        jp_ftrl_t *plain = jp_ftrl_create(pa->bits, pa->alpha, pa->beta, pa->l1, pa->l2, pa->w_pos,
                                          pa->w_neg, err, sizeof err);
        assert_non_null(plain);
        assert_int_equal(jp_ftrl_set_kernel(plain, JP_FTRL_KERNEL_SCALAR), 0);
        jp_rng_seed(&rng, 7000 + c);
        for (int step = 0; step < STEPS; step++) {
            int label;
            size_t nf = make_example(&rng, r.dim, f, &label);
            jp_ftrl_update(plain, f, nf, label);
        }
        jp_bytes_writer_t a, b;
        serialize(m, &a);
        serialize(plain, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.buf, b.buf, a.len);
        jp_bytes_writer_free(&a);
        jp_bytes_writer_free(&b);
        jp_ftrl_free(plain);
        free(r.z);
        free(r.s);
        jp_ftrl_free(m);
    }
    return 1;
}

static void test_scalar(void **state)
{
    (void)state;
    assert_true(check_kernel(JP_FTRL_KERNEL_SCALAR));
}

static void test_auto(void **state)
{
    (void)state;
    assert_true(check_kernel(JP_FTRL_KERNEL_AUTO));
}

static void test_sse2(void **state)
{
    (void)state;
    if (!check_kernel(JP_FTRL_KERNEL_SSE2))
        skip();
}

static void test_avx2(void **state)
{
    (void)state;
    if (!check_kernel(JP_FTRL_KERNEL_AVX2))
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar),
        cmocka_unit_test(test_auto),
        cmocka_unit_test(test_sse2),
        cmocka_unit_test(test_avx2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
