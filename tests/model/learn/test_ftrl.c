/*
 * jp_ftrl: FTRL-Proximal logistic regression.
 *
 * - Reference: tests/fixtures/model/ftrl_reference.txt was generated once by
 *   tests/fixtures/model/gen_ftrl.py (a step-by-step NumPy FTRL, run with
 *   Debian's /usr/bin/python3) and committed; every pre-update prediction
 *   and the final (z, n) of every coordinate must match to 1e-12.
 * - Learning: on seeded synthetic data from a known logistic model the
 *   learned weights recover the true ones (|error| < 0.05, ~5 standard
 *   errors at 300k samples).
 * - L1: irrelevant features get weights that are exactly 0.0.
 * - Class weights: weighting positives by c shifts the learned intercept by
 *   ln c (weighted MLE of a well-specified logistic model), measured on
 *   imbalanced data; the returned probabilities subtract it again, so they
 *   match the unweighted model's and, at 1% positives with c = 99, their
 *   mean is within 10% of the true rate.
 * - Unseen categories: an untouched bucket has weight 0 and the prediction
 *   is exactly the bias's.
 * - Serialization: sparse, bit-exact round trip; truncation is refused.
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

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static void test_matches_numpy_reference(void **state)
{
    (void)state;
    const char *src = getenv("JACKPOT_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/model/ftrl_reference.txt", src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    unsigned bits;
    double alpha, beta, l1, l2, wp, wn;
    int steps;
    assert_true(getline(&line, &cap, f) > 0);
    assert_int_equal(sscanf(line, "PARAMS %u %lf %lf %lf %lf %lf %lf %d", &bits, &alpha, &beta, &l1,
                            &l2, &wp, &wn, &steps),
                     8);
    char err[128];
    jp_ftrl_t *m = jp_ftrl_create(bits, alpha, beta, l1, l2, wp, wn, err, sizeof err);
    assert_non_null(m);
    int seen_steps = 0, seen_state = 0;
    jp_ftrl_feature_t fs[64];
    while (getline(&line, &cap, f) > 0) {
        char *p = line, *end;
        if (strncmp(p, "STEP ", 5) == 0) {
            p += 5;
            int label = (int)strtol(p, &end, 10);
            p = end;
            size_t nf = (size_t)strtoul(p, &end, 10);
            p = end;
            assert_true(nf <= 64);
            for (size_t j = 0; j < nf; j++) {
                fs[j].index = (uint32_t)strtoul(p, &end, 10);
                p = end;
                fs[j].value = strtod(p, &end);
                p = end;
            }
            double want = strtod(p, &end);
            assert_true(end != p);
            double pre = jp_ftrl_predict(m, fs, nf);
            double got = jp_ftrl_update(m, fs, nf, label);
            assert_true(pre == got);
            if (!(fabs(got - want) <= 1e-12))
                fail_msg("step %d: p %.17g want %.17g", seen_steps, got, want);
            seen_steps++;
        } else if (strncmp(p, "STATE ", 6) == 0) {
            unsigned i;
            double wz, wnn, z, n;
            assert_int_equal(sscanf(p, "STATE %u %lf %lf", &i, &wz, &wnn), 3);
            jp_ftrl_state(m, i, &z, &n);
            if (!(fabs(z - wz) <= 1e-12 && fabs(n - wnn) <= 1e-12))
                fail_msg("coordinate %u: z %.17g n %.17g want %.17g %.17g", i, z, n, wz, wnn);
            seen_state++;
        }
    }
    free(line);
    fclose(f);
    assert_int_equal(seen_steps, steps);
    assert_int_equal(seen_state, (1 << bits) + 1);
    assert_int_equal(jp_ftrl_count(m), (uint64_t)steps);
    jp_ftrl_free(m);
}

enum { NREL = 6, NIRR = 14, NF = NREL + NIRR };
static const double TRUE_W[NREL] = {1.5, -2.0, 0.7, 0.0, -0.4, 1.0};
static const double TRUE_B = -0.5;

/* Numeric features at fixed indices 0..NF-1: the first NREL carry TRUE_W,
 * the rest are noise the label does not depend on. */
static int synth(jp_rng_t *r, jp_ftrl_feature_t *fs, double bias)
{
    double wx = bias;
    for (int j = 0; j < NF; j++) {
        fs[j].index = (uint32_t)j;
        fs[j].value = jp_rng_normal(r);
        if (j < NREL)
            wx += TRUE_W[j] * fs[j].value;
    }
    return jp_rng_uniform(r) < sigmoid(wx);
}

static void test_learns_known_model(void **state)
{
    (void)state;
    char err[128];
    jp_ftrl_t *m = jp_ftrl_create(10, 0.1, 1.0, 0.0, 0.0, 1.0, 1.0, err, sizeof err);
    assert_non_null(m);
    jp_rng_t r;
    jp_rng_seed(&r, 1001);
    jp_ftrl_feature_t fs[NF];
    for (int i = 0; i < 300000; i++) {
        int y = synth(&r, fs, TRUE_B);
        jp_ftrl_update(m, fs, NF, y);
    }
    for (int j = 0; j < NF; j++) {
        double want = j < NREL ? TRUE_W[j] : 0.0;
        double got = jp_ftrl_weight(m, (uint32_t)j);
        if (fabs(got - want) > 0.05)
            fail_msg("weight %d: %.4f want %.4f", j, got, want);
    }
    assert_true(fabs(jp_ftrl_bias(m) - TRUE_B) < 0.05);
    jp_ftrl_free(m);
}

static void test_l1_exact_zeros(void **state)
{
    (void)state;
    char err[128];
    /* While its weight is 0, z of an irrelevant coordinate is a plain sum of
     * gradients, a random walk with sd ~ sqrt(n) ~ 80 after 50k examples;
     * relevant coordinates get a drift of |w| E|g x| per example (thousands
     * over the run). l1 = 400 (5 sd) separates them. */
    jp_ftrl_t *m = jp_ftrl_create(10, 0.1, 1.0, 400.0, 1.0, 1.0, 1.0, err, sizeof err);
    assert_non_null(m);
    jp_rng_t r;
    jp_rng_seed(&r, 1002);
    jp_ftrl_feature_t fs[NF];
    for (int i = 0; i < 50000; i++)
        jp_ftrl_update(m, fs, NF, synth(&r, fs, TRUE_B));
    for (int j = 0; j < NF; j++) {
        double w = jp_ftrl_weight(m, (uint32_t)j);
        if (j < NREL && TRUE_W[j] != 0.0)
            assert_true(w != 0.0);
        else if (w != 0.0)
            fail_msg("irrelevant feature %d has weight %.3g", j, w);
    }
    assert_int_equal(jp_ftrl_nnz(m), 5);
    double *all = malloc(jp_ftrl_dim(m) * sizeof *all);
    assert_non_null(all);
    jp_ftrl_weights(m, all);
    for (uint32_t i = NF; i < jp_ftrl_dim(m); i++)
        assert_true(all[i] == 0.0);
    free(all);
    jp_ftrl_free(m);
}

static void test_class_weights_shift_threshold(void **state)
{
    (void)state;
    const double c = 10.0;
    char err[128];
    jp_ftrl_t *plain = jp_ftrl_create(10, 0.5, 1.0, 0.0, 0.0, 1.0, 1.0, err, sizeof err);
    jp_ftrl_t *weighted = jp_ftrl_create(10, 0.5, 1.0, 0.0, 0.0, c, 1.0, err, sizeof err);
    assert_non_null(plain);
    assert_non_null(weighted);
    assert_true(jp_ftrl_logit_offset(plain) == 0.0);
    assert_true(jp_ftrl_logit_offset(weighted) == log(c));
    jp_rng_t r;
    jp_rng_seed(&r, 1003);
    jp_ftrl_feature_t fs[NF];
    int pos = 0;
    const int N = 300000;
    for (int i = 0; i < N; i++) {
        int y = synth(&r, fs, -4.0); /* ~6% positives */
        pos += y;
        jp_ftrl_update(plain, fs, NF, y);
        jp_ftrl_update(weighted, fs, NF, y);
    }
    assert_true(pos > N / 50 && pos < N / 8);
    /* The weighted model's learned intercept moves by ln c ... */
    double shift = jp_ftrl_bias(weighted) - jp_ftrl_bias(plain);
    if (fabs(shift - log(c)) > 0.25)
        fail_msg("intercept shift %.3f, want ln(%g) = %.3f", shift, c, log(c));
    /* ... and its returned probabilities take it back out: they agree with
     * the unweighted model's (mean |difference| well below the 6% rate),
     * where the uncorrected ones would be ~c times larger. */
    double diff = 0.0, mean_plain = 0.0;
    for (int i = 0; i < 20000; i++) {
        synth(&r, fs, -4.0);
        double pp = jp_ftrl_predict(plain, fs, NF), pw = jp_ftrl_predict(weighted, fs, NF);
        diff += fabs(pw - pp);
        mean_plain += pp;
    }
    print_message("mean |p_weighted - p_plain| %.4f, mean p %.4f\n", diff / 20000,
                  mean_plain / 20000);
    assert_true(diff / 20000 < 0.1 * mean_plain / 20000);
    jp_ftrl_free(plain);
    jp_ftrl_free(weighted);
}

/* At 1% positives with balancing class weights (w_pos = 99), the mean
 * predicted probability on fresh data is within 10% of the true positive
 * rate (the uncorrected weighted model's would be ~20x too high). */
static void test_class_weights_calibrated(void **state)
{
    (void)state;
    char err[128];
    jp_ftrl_t *m = jp_ftrl_create(10, 0.5, 1.0, 0.0, 0.0, 99.0, 1.0, err, sizeof err);
    assert_non_null(m);
    jp_rng_t r;
    jp_rng_seed(&r, 1006);
    jp_ftrl_feature_t fs[NF];
    const double bias = -7.6; /* ~1% positives with TRUE_W */
    int pos = 0;
    for (int i = 0; i < 400000; i++)
        pos += synth(&r, fs, bias) ? (jp_ftrl_update(m, fs, NF, 1), 1)
                                   : (jp_ftrl_update(m, fs, NF, 0), 0);
    double sum_p = 0.0, sum_true = 0.0, sum_raw = 0.0;
    const int M = 200000;
    for (int i = 0; i < M; i++) {
        synth(&r, fs, bias);
        double wx = bias;
        for (int j = 0; j < NREL; j++)
            wx += TRUE_W[j] * fs[j].value;
        double p = jp_ftrl_predict(m, fs, NF);
        sum_p += p;
        sum_true += sigmoid(wx);
        sum_raw += sigmoid(log(p / (1 - p)) + jp_ftrl_logit_offset(m));
    }
    double rate = sum_true / M, mean_p = sum_p / M;
    print_message("train positives %.2f%%, true rate %.4f%%, mean p %.4f%% (uncorrected %.2f%%)\n",
                  100.0 * pos / 400000, 100 * rate, 100 * mean_p, 100 * sum_raw / M);
    assert_true(rate > 0.007 && rate < 0.013);
    assert_true(fabs(mean_p - rate) <= 0.1 * rate);
    assert_true(sum_raw / M > 5 * rate);
    jp_ftrl_free(m);
}

static void test_hashed_categoricals(void **state)
{
    (void)state;
    char err[128];
    jp_ftrl_t *m = jp_ftrl_create(18, 0.05, 1.0, 0.0, 0.0, 1.0, 1.0, err, sizeof err);
    assert_non_null(m);
    /* Namespaces separate equal values. */
    assert_true(jp_ftrl_hash(m, "channel", "web") != jp_ftrl_hash(m, "country", "web"));
    assert_true(jp_ftrl_hash(m, "channel", "web") == jp_ftrl_hash(m, "channel", "web"));
    assert_true(jp_ftrl_hash(m, "channel", "web") < jp_ftrl_dim(m));
    assert_true(jp_ftrl_hash_key(m, jp_ftrl_namespace_key("channel"), "web", 3) ==
                jp_ftrl_hash(m, "channel", "web"));
    /* True probability depends on (channel, tenure bucket); the model's
     * prediction per cell converges to it. */
    static const char *chan[3] = {"web", "door", "phone"};
    static const char *ten[4] = {"0-1y", "1-3y", "3-10y", "10y+"};
    const double wc[3] = {-1.0, 0.5, 0.0}, wt[4] = {1.0, 0.0, -0.7, -1.5};
    jp_rng_t r;
    jp_rng_seed(&r, 1004);
    for (int i = 0; i < 200000; i++) {
        int a = (int)jp_rng_below(&r, 3), b = (int)jp_rng_below(&r, 4);
        jp_ftrl_feature_t fs[2] = {{jp_ftrl_hash(m, "channel", chan[a]), 1.0},
                                   {jp_ftrl_hash(m, "tenure", ten[b]), 1.0}};
        jp_ftrl_update(m, fs, 2, jp_rng_uniform(&r) < sigmoid(wc[a] + wt[b]));
    }
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 4; b++) {
            jp_ftrl_feature_t fs[2] = {{jp_ftrl_hash(m, "channel", chan[a]), 1.0},
                                       {jp_ftrl_hash(m, "tenure", ten[b]), 1.0}};
            assert_true(fabs(jp_ftrl_predict(m, fs, 2) - sigmoid(wc[a] + wt[b])) < 0.025);
        }
    }
    /* An unseen category hashes to a bucket no example touched (checked
     * against the 7 trained ones), so its weight is exactly 0 and the
     * prediction is the bias alone, bit for bit. */
    uint32_t unseen = jp_ftrl_hash(m, "channel", "carrier-pigeon");
    for (int a = 0; a < 3; a++)
        assert_true(unseen != jp_ftrl_hash(m, "channel", chan[a]));
    for (int b = 0; b < 4; b++)
        assert_true(unseen != jp_ftrl_hash(m, "tenure", ten[b]));
    double z, n;
    jp_ftrl_state(m, unseen, &z, &n);
    assert_true(z == 0.0 && n == 0.0 && jp_ftrl_weight(m, unseen) == 0.0);
    jp_ftrl_feature_t fs[1] = {{unseen, 1.0}};
    double p = jp_ftrl_predict(m, fs, 1);
    assert_true(p == 1.0 / (1.0 + exp(-jp_ftrl_bias(m))));
    jp_ftrl_free(m);
}

static void test_serialize_roundtrip(void **state)
{
    (void)state;
    char err[128];
    jp_ftrl_t *m = jp_ftrl_create(16, 0.2, 1.0, 0.3, 0.1, 2.0, 1.0, err, sizeof err);
    assert_non_null(m);
    jp_rng_t r;
    jp_rng_seed(&r, 1005);
    jp_ftrl_feature_t fs[300];
    for (int i = 0; i < 300; i++) {
        /* Also exercise the heap scratch path (> 256 features). */
        size_t nf = i % 50 == 0 ? 300 : 30;
        for (size_t j = 0; j < nf; j++) {
            fs[j].index = (uint32_t)jp_rng_below(&r, 1u << 16);
            fs[j].value = 1.0;
        }
        assert_false(isnan(jp_ftrl_update(m, fs, nf, jp_rng_uniform(&r) < 0.3)));
    }
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_ftrl_serialize(m, &w);
    /* Sparse: far smaller than 2^16 dense coordinates (2 MiB). */
    assert_true(w.len < 65536u * 20 / 2);
    jp_bytes_reader_t rd;
    jp_bytes_reader_init(&rd, w.buf, w.len);
    jp_ftrl_t *m2 = jp_ftrl_deserialize(&rd, err, sizeof err);
    assert_non_null(m2);
    assert_true(jp_bytes_reader_done(&rd));
    for (uint32_t i = 0; i <= jp_ftrl_dim(m); i++) {
        double z1, n1, z2, n2;
        jp_ftrl_state(m, i, &z1, &n1);
        jp_ftrl_state(m2, i, &z2, &n2);
        assert_memory_equal(&z1, &z2, sizeof z1);
        assert_memory_equal(&n1, &n2, sizeof n1);
    }
    assert_int_equal(jp_ftrl_count(m2), jp_ftrl_count(m));
    /* Same future: both models keep producing identical predictions. */
    for (int i = 0; i < 100; i++) {
        for (size_t j = 0; j < 30; j++)
            fs[j].index = (uint32_t)jp_rng_below(&r, 1u << 16);
        int y = i % 3 == 0;
        assert_true(jp_ftrl_update(m, fs, 30, y) == jp_ftrl_update(m2, fs, 30, y));
    }
    jp_bytes_reader_init(&rd, w.buf, w.len - 3);
    assert_null(jp_ftrl_deserialize(&rd, err, sizeof err));
    jp_bytes_writer_free(&w);
    jp_ftrl_free(m);
    jp_ftrl_free(m2);

    assert_null(jp_ftrl_create(0, 0.1, 1, 0, 0, 1, 1, err, sizeof err));
    assert_null(jp_ftrl_create(10, 0.0, 1, 0, 0, 1, 1, err, sizeof err));
    assert_null(jp_ftrl_create(10, 0.1, 1, 0, 0, 0, 1, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_numpy_reference),
        cmocka_unit_test(test_learns_known_model),
        cmocka_unit_test(test_l1_exact_zeros),
        cmocka_unit_test(test_class_weights_shift_threshold),
        cmocka_unit_test(test_class_weights_calibrated),
        cmocka_unit_test(test_hashed_categoricals),
        cmocka_unit_test(test_serialize_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
