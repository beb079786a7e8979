/*
 * jp_ridge: known answers, long-stream accuracy, the naive failure it
 * avoids, forgetting, serialization and invariance properties.
 *
 * The known answers in tests/fixtures/model/ridge_fixtures.h are generated
 * ONCE by tests/fixtures/model/gen_model_fixtures.py (/usr/bin/python3 +
 * numpy, a batch weighted ridge on the same window); both the script and its
 * output are committed. Re-run the script only when the reference
 * definitions change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_num.h"

#include "model/base/jp_bytes.h"
#include "model/learn/jp_ridge.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fixtures/model/ridge_fixtures.h"

#if defined(__SANITIZE_ADDRESS__)
#define JP_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JP_UNDER_ASAN 1
#endif
#endif

/* The long-stream test runs 10^7 updates in a normal build; it is scaled
 * down to 10^6 under ASan and under valgrind (detected by its preloaded
 * vgpreload library), where 10^7 would take minutes. */
static long long_n(void)
{
#ifdef JP_UNDER_ASAN
    return 1000000L;
#else
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") ? 1000000L : 10000000L;
#endif
}

static void assert_rel_vec(const double *got, const double *want, size_t n, double tol,
                           const char *what)
{
    for (size_t i = 0; i < n; i++)
        jp_assert_near(got[i], want[i], tol, 0, what);
}

/* Checks a fitted model against one numpy checkpoint. */
static void check_fit(jp_ridge_t *r, const double *coef, double icpt, double sigma2,
                      const double *q, size_t nq, const double *mean, const double *var, double tol)
{
    size_t p = jp_ridge_n_features(r);
    double beta[8], b0;
    assert_true(p <= 8);
    assert_int_equal(jp_ridge_coef(r, beta, &b0), 0);
    assert_rel_vec(beta, coef, p, tol, "coef");
    jp_assert_near(b0, icpt, tol, 0, "intercept");
    jp_ridge_info_t info;
    assert_int_equal(jp_ridge_info(r, &info), 0);
    jp_assert_near(info.sigma2, sigma2, tol, 0, "sigma2");
    for (size_t k = 0; k < nq; k++) {
        double m, v;
        assert_int_equal(jp_ridge_predict(r, q + k * p, &m, &v), 0);
        jp_assert_near(m, mean[k], tol, 0, "pred mean");
        jp_assert_near(v, var[k], tol, 0, "pred var");
    }
}

static void test_window_matches_numpy(void **state)
{
    (void)state;
    char err[128];
    jp_ridge_t *r = jp_ridge_create(RW_P, RW_NBLOCKS, RW_LAMBDA, err, sizeof(err));
    jp_ridge_t *r0 = jp_ridge_create(RW_P, RW_NBLOCKS, 0.0, err, sizeof(err));
    assert_non_null(r);
    assert_non_null(r0);
    for (int i = 0; i < RW_N; i++) {
        if (i > 0 && RW_BLOCK[i] != RW_BLOCK[i - 1]) {
            if (RW_BLOCK[i] == 3) { /* blocks 0..2 complete: checkpoint 1 */
                assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
                check_fit(r, RW_C1_COEF, RW_C1_ICPT, RW_C1_SIGMA2, RW_Q, RW_NQ, RW_C1_MEAN,
                          RW_C1_VAR, 1e-9);
            }
            jp_ridge_advance(r);
            jp_ridge_advance(r0);
        }
        assert_int_equal(jp_ridge_update(r, RW_X + i * RW_P, RW_Y[i], RW_W[i]), 0);
        assert_int_equal(jp_ridge_update(r0, RW_X + i * RW_P, RW_Y[i], RW_W[i]), 0);
    }
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
    check_fit(r, RW_C2_COEF, RW_C2_ICPT, RW_C2_SIGMA2, RW_Q, RW_NQ, RW_C2_MEAN, RW_C2_VAR, 1e-9);
    assert_int_equal(jp_ridge_fit(r0, err, sizeof(err)), 0);
    check_fit(r0, RW_C2L0_COEF, RW_C2L0_ICPT, RW_C2L0_SIGMA2, RW_Q, RW_NQ, RW_C2L0_MEAN,
              RW_C2L0_VAR, 1e-9);
    jp_ridge_info_t info;
    assert_int_equal(jp_ridge_info(r, &info), 0);
    assert_int_equal(info.n_samples, 33 + 50 + 27);
    assert_true(info.jitter == 0.0 && info.jitter_steps == 0);
    assert_true(info.cond_est >= 1.0);
    jp_ridge_free(r);
    jp_ridge_free(r0);
}

static void test_forgetting_matches_numpy(void **state)
{
    (void)state;
    char err[128];
    jp_ridge_t *r = jp_ridge_create_forgetting(RF_P, RF_LAMBDA, RF_DU, RF_DB, err, sizeof(err));
    assert_non_null(r);
    for (int i = 0; i < RF_N; i++) {
        if (i == RF_ADV1 || i == RF_ADV2)
            jp_ridge_advance(r);
        assert_int_equal(jp_ridge_update(r, RF_X + i * RF_P, RF_Y[i], RF_W[i]), 0);
    }
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
    check_fit(r, RF_COEF, RF_ICPT, RF_SIGMA2, RF_Q, RF_NQ, RF_MEAN, RF_VAR, 1e-9);
    /* The data switched regime at sample 75 (beta_2: 500 -> 2000); forgetting
     * must have moved the fit to the new regime. */
    double beta[3];
    assert_int_equal(jp_ridge_coef(r, beta, NULL), 0);
    assert_true(fabs(beta[2] - 2000.0) < fabs(beta[2] - 500.0));
    jp_ridge_free(r);
}

/* The generating process of the long-stream and naive tests:
 * y = 3 + 2000 x1 - 4e-6 x2 + 0.5 x3 + N(0, 0.01^2), with
 * x1 ~ 1e-3 N(0,1), x2 ~ 5e8 + 1e6 N(0,1), x3 ~ 1e6 + N(0,1). */
static const double TRUE_B0 = 3.0;
static const double TRUE_BETA[3] = {2000.0, -4e-6, 0.5};

static double draw_sample(jp_rng_t *g, double *x)
{
    x[0] = 1e-3 * jp_rng_normal(g);
    x[1] = 5e8 + 1e6 * jp_rng_normal(g);
    x[2] = 1e6 + jp_rng_normal(g);
    return TRUE_B0 + TRUE_BETA[0] * x[0] + TRUE_BETA[1] * x[1] + TRUE_BETA[2] * x[2] +
           0.01 * jp_rng_normal(g);
}

static void test_long_stream_accuracy(void **state)
{
    (void)state;
    char err[128];
    const size_t nblocks = 8;
    const long n_updates = long_n();
    const long per_block = n_updates / 16; /* the window holds the last half */
    jp_ridge_t *r = jp_ridge_create(3, nblocks, 1e-3, err, sizeof(err));
    assert_non_null(r);
    jp_rng_t g;
    jp_rng_seed(&g, 7);
    double x[3];
    int fits = 0;
    for (long i = 1; i <= n_updates; i++) {
        double y = draw_sample(&g, x);
        assert_true(jp_ridge_update(r, x, y, 1.0) == 0);
        if (i % per_block != 0)
            continue;
        if (i >= per_block * (long)nblocks && i % (4 * per_block) == 0) {
            assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
            double beta[3], b0;
            assert_int_equal(jp_ridge_coef(r, beta, &b0), 0);
            /* Standard errors are ~1e-5 relative or less; 2e-4 is >20 sigma. */
            assert_rel_vec(beta, TRUE_BETA, 3, 2e-4, "long-stream coef");
            double q[3] = {2e-3, 5.01e8, 1e6 - 1.5}, m, v;
            assert_int_equal(jp_ridge_predict(r, q, &m, &v), 0);
            double truth =
                TRUE_B0 + TRUE_BETA[0] * q[0] + TRUE_BETA[1] * q[1] + TRUE_BETA[2] * q[2];
            assert_true(fabs(m - truth) < 1e-3);
            jp_ridge_info_t info;
            assert_int_equal(jp_ridge_info(r, &info), 0);
            jp_assert_near(info.sigma2, 1e-4, 0.02, 0, "noise variance");
            jp_assert_near(info.weight, (double)(per_block * (long)nblocks), 1e-12, 0,
                           "window weight");
            fits++;
        }
        jp_ridge_advance(r);
    }
    assert_true(fits >= 2);
    print_message("%ld updates, %d checked fits\n", n_updates, fits);
    jp_ridge_free(r);
}

/* ---- the naive approach, implemented here only to show why it is not used:
 * raw sums over the window, the expiring block's raw sums subtracted. ---- */
#define NV_Q 4 /* 3 features + y */
typedef struct {
    double w, s[NV_Q], ss[NV_Q][NV_Q];
} naive_sums_t;

static void naive_add(naive_sums_t *a, const double *z, double sign)
{
    a->w += sign;
    for (int i = 0; i < NV_Q; i++) {
        a->s[i] += sign * z[i];
        for (int j = 0; j < NV_Q; j++)
            a->ss[i][j] += sign * z[i] * z[j];
    }
}

/* Solves the n x n system a x = b (row-major, n <= 8) by Gaussian
 * elimination with partial pivoting; a and b are overwritten, x lands in
 * b. Returns ln |det a|. The tests' own solver, independent of jp_ridge. */
static double dense_solve(int n, double *a, double *b)
{
    double logdet = 0.0;
    for (int k = 0; k < n; k++) {
        int piv = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[piv * n + k]))
                piv = i;
        for (int j = 0; j < n; j++) {
            double t = a[k * n + j];
            a[k * n + j] = a[piv * n + j];
            a[piv * n + j] = t;
        }
        double t = b[k];
        b[k] = b[piv];
        b[piv] = t;
        logdet += log(fabs(a[k * n + k]));
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] / a[k * n + k];
            for (int j = k; j < n; j++)
                a[i * n + j] -= f * a[k * n + j];
            b[i] -= f * b[k];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double acc = b[i];
        for (int j = i + 1; j < n; j++)
            acc -= a[i * n + j] * b[j];
        b[i] = acc / a[i * n + i];
    }
    return logdet;
}

/* Same standardized ridge as jp_ridge, from raw sums. */
static void naive_solve(const naive_sums_t *a, double lambda, double *beta)
{
    double m[NV_Q], sd[3], A[9];
    for (int i = 0; i < NV_Q; i++)
        m[i] = a->s[i] / a->w;
    for (int i = 0; i < 3; i++) {
        double v = a->ss[i][i] / a->w - m[i] * m[i];
        sd[i] = v > 0 ? sqrt(v) : 1e-300;
    }
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            A[i * 3 + j] =
                (a->ss[i][j] - a->w * m[i] * m[j]) / (sd[i] * sd[j]) + (i == j ? lambda : 0);
        beta[i] = (a->ss[i][3] - a->w * m[i] * m[3]) / sd[i];
    }
    dense_solve(3, A, beta);
    for (int i = 0; i < 3; i++)
        beta[i] /= sd[i];
}

static double max_rel_err(const double *beta)
{
    double e = 0;
    for (int i = 0; i < 3; i++) {
        double d = fabs(beta[i] - TRUE_BETA[i]) / fabs(TRUE_BETA[i]);
        e = d > e || isnan(d) ? d : e;
    }
    return e;
}

static void test_naive_subtraction_fails_blocks_pass(void **state)
{
    (void)state;
    char err[128];
    enum { NB = 4, PER = 50000, ROUNDS = 12 };
    jp_ridge_t *r = jp_ridge_create(3, NB, 1e-3, err, sizeof(err));
    assert_non_null(r);
    naive_sums_t total, blocks[NB];
    memset(&total, 0, sizeof(total));
    memset(blocks, 0, sizeof(blocks));
    jp_rng_t g;
    jp_rng_seed(&g, 11);
    double z[NV_Q];
    for (int b = 0; b < ROUNDS; b++) {
        naive_sums_t *cur = &blocks[b % NB];
        if (b >= NB) { /* the window closes: subtract the expired block */
            total.w -= cur->w;
            for (int i = 0; i < NV_Q; i++) {
                total.s[i] -= cur->s[i];
                for (int j = 0; j < NV_Q; j++)
                    total.ss[i][j] -= cur->ss[i][j];
            }
            memset(cur, 0, sizeof(*cur));
            jp_ridge_advance(r);
        } else if (b > 0) {
            jp_ridge_advance(r);
        }
        for (int k = 0; k < PER; k++) {
            z[3] = draw_sample(&g, z);
            naive_add(cur, z, 1.0);
            naive_add(&total, z, 1.0);
            assert_true(jp_ridge_update(r, z, z[3], 1.0) == 0);
        }
    }
    double nb[3], bb[3];
    naive_solve(&total, 1e-3, nb);
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
    assert_int_equal(jp_ridge_coef(r, bb, NULL), 0);
    double e_naive = max_rel_err(nb), e_block = max_rel_err(bb);
    print_message("max relative coefficient error: naive %.3g, blocks %.3g\n", e_naive, e_block);
    /* One tolerance: the block approach meets it, the naive one does not. */
    assert_true(e_block < 1e-3);
    assert_true(!(e_naive < 1e-3)); /* (a NaN counts as failing too) */
    jp_ridge_free(r);
}

static jp_ridge_t *window_model(double lambda)
{
    jp_ridge_t *r = jp_ridge_create(RW_P, RW_NBLOCKS, lambda, NULL, 0);
    assert_non_null(r);
    for (int i = 0; i < RW_N; i++) {
        if (i > 0 && RW_BLOCK[i] != RW_BLOCK[i - 1])
            jp_ridge_advance(r);
        assert_int_equal(jp_ridge_update(r, RW_X + i * RW_P, RW_Y[i], RW_W[i]), 0);
    }
    return r;
}

static uint8_t *serialize(const jp_ridge_t *r, size_t *len)
{
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_ridge_serialize(r, &w);
    uint8_t *buf = jp_bytes_writer_take(&w, len);
    assert_non_null(buf);
    return buf;
}

static jp_ridge_t *deserialize(const uint8_t *buf, size_t len)
{
    jp_bytes_reader_t rd;
    jp_bytes_reader_init(&rd, buf, len);
    char err[128];
    jp_ridge_t *r = jp_ridge_deserialize(&rd, err, sizeof(err));
    if (r)
        assert_true(jp_bytes_reader_done(&rd));
    return r;
}

static void test_serialize_roundtrip(void **state)
{
    (void)state;
    char err[128];
    jp_ridge_t *a = window_model(RW_LAMBDA);
    /* unfitted round trip */
    size_t l0, l1;
    uint8_t *s0 = serialize(a, &l0);
    jp_ridge_t *a0 = deserialize(s0, l0);
    assert_non_null(a0);
    assert_false(jp_ridge_is_fitted(a0));
    uint8_t *s1 = serialize(a0, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);
    free(s0);
    free(s1);
    jp_ridge_free(a0);

    assert_int_equal(jp_ridge_fit(a, err, sizeof(err)), 0);
    s0 = serialize(a, &l0);
    jp_ridge_t *b = deserialize(s0, l0);
    assert_non_null(b);
    s1 = serialize(b, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);
    for (int k = 0; k < RW_NQ; k++) {
        double ma, va, mb, vb;
        assert_int_equal(jp_ridge_predict(a, RW_Q + k * RW_P, &ma, &va), 0);
        assert_int_equal(jp_ridge_predict(b, RW_Q + k * RW_P, &mb, &vb), 0);
        assert_memory_equal(&ma, &mb, sizeof(double));
        assert_memory_equal(&va, &vb, sizeof(double));
    }
    /* The restored model continues identically: advance, more data, refit. */
    jp_ridge_advance(a);
    jp_ridge_advance(b);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(jp_ridge_update(a, RW_X + i * RW_P, RW_Y[i], 1.0), 0);
        assert_int_equal(jp_ridge_update(b, RW_X + i * RW_P, RW_Y[i], 1.0), 0);
    }
    assert_int_equal(jp_ridge_fit(a, err, sizeof(err)), 0);
    assert_int_equal(jp_ridge_fit(b, err, sizeof(err)), 0);
    free(s0);
    free(s1);
    s0 = serialize(a, &l0);
    s1 = serialize(b, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);

    /* Truncated input and a future version are refused. */
    for (size_t cut = 0; cut < l0; cut += 97)
        assert_null(deserialize(s0, cut));
    assert_null(deserialize(s0, l0 - 1));
    s0[4] = 3; /* version u16 little-endian low byte: a future version */
    assert_null(deserialize(s0, l0));
    free(s0);
    free(s1);

    /* Forgetting-mode state round-trips too. */
    jp_ridge_t *f = jp_ridge_create_forgetting(RF_P, RF_LAMBDA, RF_DU, RF_DB, NULL, 0);
    for (int i = 0; i < RF_N; i++)
        assert_int_equal(jp_ridge_update(f, RF_X + i * RF_P, RF_Y[i], RF_W[i]), 0);
    assert_int_equal(jp_ridge_fit(f, err, sizeof(err)), 0);
    s0 = serialize(f, &l0);
    jp_ridge_t *f2 = deserialize(s0, l0);
    assert_non_null(f2);
    s1 = serialize(f2, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);
    free(s0);
    free(s1);
    jp_ridge_free(f);
    jp_ridge_free(f2);
    jp_ridge_free(a);
    jp_ridge_free(b);
}

/* v2 keeps the prior mode, names and pinned flags; a v1 state (the same
 * bytes without the trailer, version 1) still loads, with the trailer's
 * figures recomputed. */
static void test_serialize_v2_and_v1(void **state)
{
    (void)state;
    char err[128];
    const char *names[RW_P] = {"a", "b", "c", "d"};
    jp_ridge_t *a = window_model(RW_LAMBDA);
    jp_ridge_set_evidence(a, 1);
    assert_int_equal(jp_ridge_set_names(a, names, err, sizeof(err)), 0);
    assert_int_equal(jp_ridge_fit(a, err, sizeof(err)), 0);
    size_t l0, l1;
    uint8_t *s0 = serialize(a, &l0);
    jp_ridge_t *b = deserialize(s0, l0);
    assert_non_null(b);
    uint8_t *s1 = serialize(b, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);
    jp_ridge_info_t ia, ib;
    jp_ridge_info(a, &ia);
    jp_ridge_info(b, &ib);
    assert_memory_equal(&ia, &ib, sizeof(ia));
    double ea, sa, eb, sb;
    assert_int_equal(jp_ridge_coef_named(a, "c", &ea, &sa), 0);
    assert_int_equal(jp_ridge_coef_named(b, "c", &eb, &sb), 0);
    assert_true(ea == eb && sa == sb && sa > 0.0);
    /* Both keep choosing lambda by evidence on new data. */
    jp_ridge_advance(a);
    jp_ridge_advance(b);
    for (int i = 0; i < 30; i++) {
        jp_ridge_update(a, RW_X + i * RW_P, RW_Y[i] * 1.5, 1.0);
        jp_ridge_update(b, RW_X + i * RW_P, RW_Y[i] * 1.5, 1.0);
    }
    assert_int_equal(jp_ridge_fit(a, err, sizeof(err)), 0);
    assert_int_equal(jp_ridge_fit(b, err, sizeof(err)), 0);
    jp_ridge_info(a, &ia);
    jp_ridge_info(b, &ib);
    assert_true(ia.lambda == ib.lambda && ia.evidence_iter > 0);
    free(s0);
    free(s1);
    jp_ridge_free(a);
    jp_ridge_free(b);

    /* v1: fixed prior, no names, fitted; the trailer is 2 bytes of flags,
     * lambda, gamma, dof, the iteration count and one flag per feature. */
    jp_ridge_t *f = window_model(RW_LAMBDA);
    assert_int_equal(jp_ridge_fit(f, err, sizeof(err)), 0);
    s0 = serialize(f, &l0);
    size_t v1_len = l0 - (2 + 3 * 8 + 4 + RW_P);
    s0[4] = 1;
    jp_ridge_t *g = deserialize(s0, v1_len);
    assert_non_null(g);
    jp_ridge_info(f, &ia);
    jp_ridge_info(g, &ib);
    assert_memory_equal(&ia, &ib, sizeof(ia));
    for (int k = 0; k < RW_NQ; k++) {
        double ma, va, mb, vb;
        jp_ridge_predict(f, RW_Q + k * RW_P, &ma, &va);
        jp_ridge_predict(g, RW_Q + k * RW_P, &mb, &vb);
        assert_true(ma == mb && va == vb);
    }
    s1 = serialize(g, &l1); /* written back as v2 */
    s0[4] = 2;
    assert_int_equal(l0, l1);
    assert_memory_equal(s0, s1, l0);
    free(s0);
    free(s1);
    jp_ridge_free(f);
    jp_ridge_free(g);

    /* Names are checked. */
    const char *bad[RW_P] = {"a", "", "c", "d"};
    jp_ridge_t *h = jp_ridge_create(RW_P, 1, 1.0, err, sizeof(err));
    assert_int_equal(jp_ridge_set_names(h, bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "feature 1"));
    assert_null(jp_ridge_name(h, 0));
    assert_int_equal(jp_ridge_set_names(h, names, err, sizeof(err)), 0);
    assert_string_equal(jp_ridge_name(h, 1), "b");
    size_t j;
    assert_int_equal(jp_ridge_index(h, "c", &j), 0);
    assert_int_equal(j, 2);
    jp_ridge_free(h);
}

static void test_permutation_invariance(void **state)
{
    (void)state;
    char err[128];
    /* The final window of the fixture (blocks 2..4), fed in three different
     * orders and block splits; the window is the same multiset of samples. */
    int idx[RW_N], n = 0;
    for (int i = 0; i < RW_N; i++)
        if (RW_BLOCK[i] >= 2)
            idx[n++] = i;
    jp_rng_t g;
    jp_rng_seed(&g, 3);
    double ref_beta[RW_P] = {0}, ref_b0 = 0, ref_m = 0;
    for (int trial = 0; trial < 4; trial++) {
        if (trial > 0) /* Fisher-Yates shuffle */
            for (int i = n - 1; i > 0; i--) {
                int j = (int)jp_rng_below(&g, (uint64_t)i + 1);
                int t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
        jp_ridge_t *r = jp_ridge_create(RW_P, 3, RW_LAMBDA, err, sizeof(err));
        int split1 = trial == 0 ? 33 : 10 + 15 * trial, split2 = split1 + 40;
        for (int k = 0; k < n; k++) {
            if (k == split1 || k == split2)
                jp_ridge_advance(r);
            int i = idx[k];
            assert_int_equal(jp_ridge_update(r, RW_X + i * RW_P, RW_Y[i], RW_W[i]), 0);
        }
        assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
        double beta[RW_P], b0, m;
        assert_int_equal(jp_ridge_coef(r, beta, &b0), 0);
        assert_int_equal(jp_ridge_predict(r, RW_Q, &m, NULL), 0);
        if (trial == 0) {
            memcpy(ref_beta, beta, sizeof(beta));
            ref_b0 = b0;
            ref_m = m;
            assert_rel_vec(beta, RW_C2_COEF, RW_P, 1e-9, "coef vs numpy");
        } else {
            assert_rel_vec(beta, ref_beta, RW_P, 1e-12, "permuted coef");
            /* The intercept is ybar - sum beta_j mean_j, a difference of
             * terms ~400x larger than itself: compare at their scale. */
            double scale = fabs(ref_b0);
            for (int j = 0; j < RW_P; j++)
                scale += fabs(ref_beta[j] * RW_Q[j]);
            assert_true(fabs(b0 - ref_b0) <= 1e-12 * scale);
            jp_assert_near(m, ref_m, 1e-12, 0, "permuted prediction");
        }
        jp_ridge_free(r);
    }
}

static void test_feature_scaling(void **state)
{
    (void)state;
    char err[128];
    const double c = 1234.5;
    jp_ridge_t *a = window_model(RW_LAMBDA);
    jp_ridge_t *b = jp_ridge_create(RW_P, RW_NBLOCKS, RW_LAMBDA, err, sizeof(err));
    for (int i = 0; i < RW_N; i++) {
        if (i > 0 && RW_BLOCK[i] != RW_BLOCK[i - 1])
            jp_ridge_advance(b);
        double x[RW_P];
        memcpy(x, RW_X + i * RW_P, sizeof(x));
        x[1] *= c;
        assert_int_equal(jp_ridge_update(b, x, RW_Y[i], RW_W[i]), 0);
    }
    assert_int_equal(jp_ridge_fit(a, err, sizeof(err)), 0);
    assert_int_equal(jp_ridge_fit(b, err, sizeof(err)), 0);
    double ba[RW_P], bb[RW_P], ia, ib;
    jp_ridge_coef(a, ba, &ia);
    jp_ridge_coef(b, bb, &ib);
    for (int j = 0; j < RW_P; j++)
        jp_assert_near(bb[j], j == 1 ? ba[j] / c : ba[j], 1e-12, 0, "scaled coef");
    jp_assert_near(ib, ia, 1e-12, 0, "scaled intercept");
    double q[RW_P], ma, mb, va, vb;
    memcpy(q, RW_Q, sizeof(q));
    jp_ridge_predict(a, q, &ma, &va);
    q[1] *= c;
    jp_ridge_predict(b, q, &mb, &vb);
    jp_assert_near(mb, ma, 1e-12, 0, "scaled prediction");
    jp_assert_near(vb, va, 1e-12, 0, "scaled variance");
    jp_ridge_free(a);
    jp_ridge_free(b);
}

static void test_jitter_constant_and_condition(void **state)
{
    (void)state;
    char err[128];
    /* x1 duplicated and lambda = 0: singular, so the jitter must kick in;
     * x2 constant: coefficient 0. */
    jp_ridge_t *r = jp_ridge_create(3, 1, 0.0, err, sizeof(err));
    jp_ridge_t *ind = jp_ridge_create(2, 1, 0.0, err, sizeof(err));
    jp_ridge_t *cor = jp_ridge_create(2, 1, 0.0, err, sizeof(err));
    jp_rng_t g;
    jp_rng_seed(&g, 5);
    for (int i = 0; i < 500; i++) {
        double u = jp_rng_normal(&g), v = jp_rng_normal(&g);
        double x[3] = {u, u, 42.0};
        assert_int_equal(jp_ridge_update(r, x, 1.0 + 3.0 * u + 0.01 * v, 1.0), 0);
        double xi[2] = {u, v}, xc[2] = {u, u + 1e-3 * v};
        assert_int_equal(jp_ridge_update(ind, xi, u + v, 1.0), 0);
        assert_int_equal(jp_ridge_update(cor, xc, u + v, 1.0), 0);
    }
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
    jp_ridge_info_t info;
    assert_int_equal(jp_ridge_info(r, &info), 0);
    assert_true(info.jitter > 0.0 && info.jitter_steps >= 1);
    double beta[3], b0;
    jp_ridge_coef(r, beta, &b0);
    jp_assert_near(beta[0] + beta[1], 3.0, 1e-2, 0, "collinear sum");
    jp_assert_near(beta[0], beta[1], 1e-3, 0, "collinear split evenly");
    assert_true(beta[2] == 0.0);
    double q[3] = {0.5, 0.5, 42.0}, m;
    jp_ridge_predict(r, q, &m, NULL);
    jp_assert_near(m, 2.5, 1e-2, 0, "collinear prediction");

    jp_ridge_info_t ii, ic;
    assert_int_equal(jp_ridge_fit(ind, err, sizeof(err)), 0);
    assert_int_equal(jp_ridge_fit(cor, err, sizeof(err)), 0);
    jp_ridge_info(ind, &ii);
    jp_ridge_info(cor, &ic);
    assert_true(ii.cond_est < 2.0);
    assert_true(ic.cond_est > 1e5); /* cond_2 of this pair is ~ 4e6 */
    jp_ridge_free(r);
    jp_ridge_free(ind);
    jp_ridge_free(cor);
}

static void test_errors(void **state)
{
    (void)state;
    char err[128] = "";
    assert_null(jp_ridge_create(0, 2, 1.0, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    assert_null(jp_ridge_create(2, 0, 1.0, err, sizeof(err)));
    assert_null(jp_ridge_create(2, 2, -1.0, err, sizeof(err)));
    assert_null(jp_ridge_create(2, 2, NAN, err, sizeof(err)));
    assert_null(jp_ridge_create_forgetting(2, 1.0, 1.5, 1.0, err, sizeof(err)));
    assert_null(jp_ridge_create_forgetting(2, 1.0, 0.9, 0.0, err, sizeof(err)));
    jp_ridge_t *r = jp_ridge_create(2, 2, 1.0, err, sizeof(err));
    double x[2] = {1, 2}, bad[2] = {1, NAN}, m;
    assert_int_equal(jp_ridge_predict(r, x, &m, NULL), -1);
    assert_int_equal(jp_ridge_coef(r, NULL, NULL), -1);
    err[0] = 0;
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(jp_ridge_update(r, bad, 1.0, 1.0), -1);
    assert_int_equal(jp_ridge_update(r, x, INFINITY, 1.0), -1);
    assert_int_equal(jp_ridge_update(r, x, 1.0, -1.0), -1);
    assert_int_equal(jp_ridge_update(r, x, 1.0, 0.0), 0);
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), -1); /* still empty */
    jp_ridge_free(r);
    jp_ridge_free(NULL);
}

/* More features than predict's stack buffer (64): the heap path, and a
 * recovered sparse truth in a wide model. The predictive variance is
 * checked against values a wrong solve would miss: at the window mean it
 * is exactly sigma2 (1 + 1/W); one standard deviation along x0 it adds
 * sigma2 [A^-1]_00, whose expectation for this Gaussian design is
 * sigma2 / (N - P - 2) (inverse Wishart; the sd of that ratio here is
 * ~0.7%), and that increment is also sigma2 times the squared standard
 * error of beta0 in standardized units. */
static void test_wide_model(void **state)
{
    (void)state;
    enum { P = 70, N = 2000 };
    char err[128];
    jp_ridge_t *r = jp_ridge_create(P, 2, 1e-6, err, sizeof(err));
    assert_non_null(r);
    jp_rng_t g;
    jp_rng_seed(&g, 17);
    double x[P], sum[P] = {0}, sum0sq = 0.0;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < P; j++) {
            x[j] = jp_rng_normal(&g);
            sum[j] += x[j];
        }
        sum0sq += x[0] * x[0];
        double y = 2.0 * x[0] - 1.0 * x[P - 1] + 0.001 * jp_rng_normal(&g);
        assert_int_equal(jp_ridge_update(r, x, y, 1.0), 0);
    }
    assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
    double beta[P], se[P], m, v;
    jp_ridge_coef(r, beta, NULL);
    jp_assert_near(beta[0], 2.0, 1e-3, 0, "wide beta0");
    jp_assert_near(beta[P - 1], -1.0, 1e-3, 0, "wide beta69");
    assert_true(fabs(beta[5]) < 1e-3);
    memset(x, 0, sizeof(x));
    x[0] = 1.0;
    assert_int_equal(jp_ridge_predict(r, x, &m, &v), 0);
    jp_ridge_info_t info;
    jp_ridge_info(r, &info);
    jp_assert_near(m, 2.0, 1e-3, 0, "wide prediction");

    double mean[P];
    for (int j = 0; j < P; j++)
        mean[j] = sum[j] / N;
    double s0 = sqrt(sum0sq / N - mean[0] * mean[0]);
    double v_mean, v_step;
    assert_int_equal(jp_ridge_predict(r, mean, NULL, &v_mean), 0);
    jp_assert_near(v_mean, info.sigma2 * (1.0 + 1.0 / info.weight), 1e-9, 0,
                   "variance at the mean");
    mean[0] += s0;
    assert_int_equal(jp_ridge_predict(r, mean, NULL, &v_step), 0);
    double lev = (v_step - v_mean) / info.sigma2;
    jp_assert_near(lev, 1.0 / (N - P - 2), 0.03, 0, "leverage one sd along x0");
    assert_int_equal(jp_ridge_coef_se(r, se, NULL), 0);
    jp_assert_near(se[0] * se[0] * s0 * s0, v_step - v_mean, 1e-6, 0, "se(beta0) vs leverage");
    jp_ridge_free(r);
}

/* ---- numerical robustness and calibration -------------------------------- */

static void test_t_quantile(void **state)
{
    (void)state;
    /* scipy.stats.t.ppf (SciPy 1.10: cephes' stdtrit, which is off by up
     * to ~2e-9 here: its dof-3 value misses the closed form below by that
     * much), including non-integer dof. */
    static const double cases[][3] = {
        {0.975, 2.5, 3.5746548420118773}, {0.975, 10, 2.2281388519649385},
        {0.975, 17.3, 2.107032003753353}, {0.995, 40, 2.7044592674331502},
        {0.9, 3, 1.637744357215907},      {0.025, 7.25, -2.348194848682803},
        {0.975, 1e6, 1.9599663568141066},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        jp_assert_near(jp_ridge_t_quantile(cases[i][0], cases[i][1]), cases[i][2], 1e-8, 0,
                       "t ppf");
    /* Closed forms: dof 1 is Cauchy, tan(pi (p - 1/2)); dof 2 is
     * (2p - 1) / sqrt(2 p (1 - p)); the dof-3 CDF is
     * 1/2 + (u / (1 + u^2) + atan(u)) / pi with u = t / sqrt(3). */
    const double pi = 3.14159265358979323846;
    for (double prob = 0.01; prob < 1.0; prob += 0.07) {
        double u = jp_ridge_t_quantile(prob, 3.0) / sqrt(3.0);
        jp_assert_near(0.5 + (u / (1 + u * u) + atan(u)) / pi, prob, 1e-13, 0, "t cdf dof 3");
        jp_assert_near(jp_ridge_t_quantile(prob, 1.0), tan(pi * (prob - 0.5)), 1e-12, 0,
                       "t ppf dof 1");
        jp_assert_near(jp_ridge_t_quantile(prob, 2.0), (2 * prob - 1) / sqrt(2 * prob * (1 - prob)),
                       1e-12, 0, "t ppf dof 2");
    }
    assert_true(jp_ridge_t_quantile(0.5, 3.0) == 0.0);
    assert_true(isnan(jp_ridge_t_quantile(1.0, 3.0)) && isnan(jp_ridge_t_quantile(0.5, 0.0)));
}

/* A feature that is constant up to rounding (two doubles one ulp apart)
 * and an exactly constant one are pinned: coefficient and standard error
 * exactly 0, listed, and the other coefficients unaffected. Without the
 * guard the first one is standardized from sd ~3e-17 and gets a
 * coefficient of order 1e13. x2 = 1e6 + N(0, 1) (relative sd 1e-6) is a
 * real feature and must stay. */
static void test_pinned_near_constant(void **state)
{
    (void)state;
    char err[128];
    const char *names[4] = {"x0", "rounding", "constant", "big"};
    for (int evidence = 0; evidence <= 1; evidence++) {
        jp_ridge_t *r = jp_ridge_create(4, 2, 1e-3, err, sizeof(err));
        assert_non_null(r);
        jp_ridge_set_evidence(r, evidence);
        assert_int_equal(jp_ridge_set_names(r, names, err, sizeof(err)), 0);
        jp_rng_t g;
        jp_rng_seed(&g, 31);
        const double ulp_apart[2] = {0.3, 0.30000000000000004};
        for (int i = 0; i < 400; i++) {
            if (i == 200)
                jp_ridge_advance(r);
            double x[4] = {jp_rng_normal(&g), ulp_apart[jp_rng_below(&g, 2)], 42.0,
                           1e6 + jp_rng_normal(&g)};
            double y = 1.0 + 2.0 * x[0] + 0.5 * (x[3] - 1e6) + 0.1 * jp_rng_normal(&g);
            assert_int_equal(jp_ridge_update(r, x, y, 1.0), 0);
        }
        assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
        size_t idx[4];
        assert_int_equal(jp_ridge_pinned(r, idx, 4), 2);
        assert_true(idx[0] == 1 && idx[1] == 2);
        jp_ridge_info_t info;
        jp_ridge_info(r, &info);
        assert_int_equal(info.n_pinned, 2);
        assert_true(info.gamma > 1.9 && info.gamma <= 2.0);
        double beta[4], se[4], est, se1;
        jp_ridge_coef(r, beta, NULL);
        jp_ridge_coef_se(r, se, NULL);
        assert_true(beta[1] == 0.0 && beta[2] == 0.0 && se[1] == 0.0 && se[2] == 0.0);
        assert_true(fabs(beta[0] - 2.0) < 5 * se[0] && se[0] < 0.01);
        assert_true(fabs(beta[3] - 0.5) < 5 * se[3] && se[3] < 0.01);
        assert_int_equal(jp_ridge_coef_named(r, "rounding", &est, &se1), 0);
        assert_true(est == 0.0 && se1 == 0.0);
        assert_int_equal(jp_ridge_coef_named(r, "big", &est, &se1), 0);
        assert_true(est == beta[3] && se1 == se[3]);
        assert_int_equal(jp_ridge_coef_named(r, "nope", &est, &se1), -1);
        jp_ridge_free(r);
    }
}

/* Standardized data of the evidence test: n samples of p features. */
#define EV_N 40
#define EV_P 4

/* ln p(y | alpha, lambda) of the Gaussian model in standardized units
 * (centred y, n - 1 residual degrees of freedom for the intercept), plus
 * the 1e-6 gamma hyper-priors, from the tests' own dense algebra. */
static double log_evidence(const double *xs, const double *yc, double la, double ll)
{
    double alpha = exp(la), lambda = exp(ll), a[EV_P * EV_P], m[EV_P] = {0};
    for (int i = 0; i < EV_P; i++) {
        for (int j = 0; j < EV_P; j++) {
            double g = 0.0;
            for (int k = 0; k < EV_N; k++)
                g += xs[k * EV_P + i] * xs[k * EV_P + j];
            a[i * EV_P + j] = alpha * g + (i == j ? lambda : 0.0);
        }
        for (int k = 0; k < EV_N; k++)
            m[i] += alpha * xs[k * EV_P + i] * yc[k];
    }
    double logdet = dense_solve(EV_P, a, m), rss = 0.0, mm = 0.0;
    for (int k = 0; k < EV_N; k++) {
        double f = 0.0;
        for (int i = 0; i < EV_P; i++)
            f += xs[k * EV_P + i] * m[i];
        rss += (yc[k] - f) * (yc[k] - f);
    }
    for (int i = 0; i < EV_P; i++)
        mm += m[i] * m[i];
    return 0.5 * EV_P * ll + 0.5 * (EV_N - 1) * la - 0.5 * alpha * rss - 0.5 * lambda * mm -
           0.5 * logdet + 1e-6 * (la + ll - alpha - lambda);
}

/* The lambda chosen by evidence maximisation equals lambda / alpha at the
 * maximum of the log evidence found by a brute-force grid search (coarse,
 * then fine around the best point) on weak and strong signals. */
static void test_evidence_maximum(void **state)
{
    (void)state;
    char err[128];
    static const double truth[2][EV_P] = {{0.05, -0.02, 0.0, 0.03}, {1.0, 0.5, -0.3, 0.05}};
    for (int c = 0; c < 2; c++) {
        jp_ridge_t *r = jp_ridge_create(EV_P, 1, 1.0, err, sizeof(err));
        jp_ridge_set_evidence(r, 1);
        jp_rng_t g;
        jp_rng_seed(&g, 41 + (uint64_t)c);
        double x[EV_N * EV_P], y[EV_N], mx[EV_P] = {0}, my = 0.0;
        for (int k = 0; k < EV_N; k++) {
            y[k] = 3.0;
            for (int i = 0; i < EV_P; i++) {
                x[k * EV_P + i] = (i + 1) * jp_rng_normal(&g) + 10.0 * i;
                y[k] += truth[c][i] * (x[k * EV_P + i] - 10.0 * i) / (i + 1);
            }
            y[k] += 0.2 * jp_rng_normal(&g);
            assert_int_equal(jp_ridge_update(r, x + k * EV_P, y[k], 1.0), 0);
        }
        assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
        jp_ridge_info_t info;
        jp_ridge_info(r, &info);
        /* Standardize as jp_ridge does: weighted mean, population sd; y to
         * unit variance. */
        double sd[EV_P] = {0}, sy = 0.0, xs[EV_N * EV_P], yc[EV_N];
        for (int k = 0; k < EV_N; k++) {
            my += y[k] / EV_N;
            for (int i = 0; i < EV_P; i++)
                mx[i] += x[k * EV_P + i] / EV_N;
        }
        for (int k = 0; k < EV_N; k++) {
            sy += (y[k] - my) * (y[k] - my) / EV_N;
            for (int i = 0; i < EV_P; i++)
                sd[i] += (x[k * EV_P + i] - mx[i]) * (x[k * EV_P + i] - mx[i]) / EV_N;
        }
        for (int k = 0; k < EV_N; k++) {
            yc[k] = (y[k] - my) / sqrt(sy);
            for (int i = 0; i < EV_P; i++)
                xs[k * EV_P + i] = (x[k * EV_P + i] - mx[i]) / sqrt(sd[i]);
        }
        double best = -INFINITY, bla = 0.0, bll = 0.0;
        for (int pass = 0; pass < 2; pass++) {
            double step = pass == 0 ? 0.1 : 0.002, c_la = bla, c_ll = bll;
            int half = pass == 0 ? 150 : 100;
            for (int i = -half; i <= half; i++) {
                for (int j = -half; j <= half; j++) {
                    double la = c_la + i * step, ll = c_ll + j * step;
                    double le = log_evidence(xs, yc, la, ll);
                    if (le > best) {
                        best = le;
                        bla = la;
                        bll = ll;
                    }
                }
            }
        }
        double want = exp(bll - bla);
        print_message("case %d: lambda %.6g (grid %.6g), gamma %.3f, %u iterations\n", c,
                      info.lambda, want, info.gamma, info.evidence_iter);
        jp_assert_near(info.lambda, want, 0.01, 0, "evidence lambda vs grid maximum");
        assert_true(info.evidence_iter > 1 && info.evidence_iter < 1000);
        jp_assert_near(info.dof, EV_N - 1 - info.gamma, 1e-12, 0, "evidence dof");
        jp_ridge_free(r);
    }
}

/* One replication of a weekly sales-like series: intercept, log prize
 * (rolling jackpot: grows x1.6 per week until won with probability 0.3,
 * at most 8 rollovers), two Fourier harmonics of the year, a slowly moving
 * AR(1) covariate and Gaussian noise. Fills x (n + 1 rows of 6) and y; row
 * n is the week to forecast. */
#define CV_P 6
static void weekly_series(jp_rng_t *g, int n, double *x, double *y)
{
    const double two_pi = 6.283185307179586;
    double phase = 52.0 * jp_rng_uniform(g), cov = 0.3 * jp_rng_normal(g);
    int roll = (int)jp_rng_below(g, 4);
    for (int t = 0; t <= n; t++) {
        double w = two_pi * (t + phase) / 52.0, *xt = x + t * CV_P;
        roll = jp_rng_uniform(g) < 0.3 || roll >= 8 ? 0 : roll + 1;
        cov = 0.95 * cov + 0.1 * jp_rng_normal(g);
        xt[0] = log(1e6) + roll * log(1.6);
        xt[1] = sin(w);
        xt[2] = cos(w);
        xt[3] = sin(2 * w);
        xt[4] = cos(2 * w);
        xt[5] = cov;
        y[t] = 2.0 + 0.6 * xt[0] + 0.3 * xt[1] + 0.2 * xt[2] + 0.05 * xt[3] - 0.03 * xt[4] +
               0.5 * xt[5] + 0.1 * jp_rng_normal(g);
    }
}

/* The 95% predictive interval of the next week covers 93-97% of the
 * outcomes at n = 26, 39 and 52 weekly points (3000 seeded replications
 * each, binomial sd 0.4%), and the log-prize coefficient's t interval
 * (estimate +- t * se) covers the true 0.6 as often. */
static void test_interval_coverage(void **state)
{
    (void)state;
    enum { REPS = 3000 };
    static const int sizes[3] = {26, 39, 52};
    char err[128];
    jp_rng_t g;
    jp_rng_seed(&g, 2026);
    double x[53 * CV_P], y[53];
    for (int s = 0; s < 3; s++) {
        int n = sizes[s], hit = 0, coef_hit = 0;
        double gamma_sum = 0.0;
        for (int rep = 0; rep < REPS; rep++) {
            weekly_series(&g, n, x, y);
            jp_ridge_t *r = jp_ridge_create(CV_P, 1, 1.0, err, sizeof(err));
            jp_ridge_set_evidence(r, 1);
            for (int t = 0; t < n; t++)
                assert_int_equal(jp_ridge_update(r, x + t * CV_P, y[t], 1.0), 0);
            assert_int_equal(jp_ridge_fit(r, err, sizeof(err)), 0);
            double lo, hi, beta[CV_P], se[CV_P];
            assert_int_equal(jp_ridge_predict_interval(r, x + n * CV_P, 0.95, NULL, &lo, &hi), 0);
            hit += lo <= y[n] && y[n] <= hi;
            jp_ridge_info_t info;
            jp_ridge_info(r, &info);
            gamma_sum += info.gamma;
            jp_ridge_coef(r, beta, NULL);
            jp_ridge_coef_se(r, se, NULL);
            double tq = jp_ridge_t_quantile(0.975, info.dof);
            coef_hit += fabs(beta[0] - 0.6) <= tq * se[0];
            jp_ridge_free(r);
        }
        double cov = 100.0 * hit / REPS, ccov = 100.0 * coef_hit / REPS;
        print_message("n = %d: predictive 95%% interval covers %.1f%%, log-prize coefficient "
                      "%.1f%%, mean gamma %.2f\n",
                      n, cov, ccov, gamma_sum / REPS);
        assert_true(cov >= 93.0 && cov <= 97.0);
        assert_true(ccov >= 93.0 && ccov <= 97.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_matches_numpy),
        cmocka_unit_test(test_forgetting_matches_numpy),
        cmocka_unit_test(test_long_stream_accuracy),
        cmocka_unit_test(test_naive_subtraction_fails_blocks_pass),
        cmocka_unit_test(test_serialize_roundtrip),
        cmocka_unit_test(test_serialize_v2_and_v1),
        cmocka_unit_test(test_permutation_invariance),
        cmocka_unit_test(test_feature_scaling),
        cmocka_unit_test(test_jitter_constant_and_condition),
        cmocka_unit_test(test_wide_model),
        cmocka_unit_test(test_t_quantile),
        cmocka_unit_test(test_pinned_near_constant),
        cmocka_unit_test(test_evidence_maximum),
        cmocka_unit_test(test_interval_coverage),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
