/*
 * jp_eval: regression and classification metrics against numpy references,
 * hand-computed edge cases, and prequential evaluation with delayed labels.
 *
 * The known answers in tests/fixtures/model/eval_fixtures.h are generated
 * ONCE by tests/fixtures/model/gen_model_fixtures.py (/usr/bin/python3 +
 * numpy; AUC by the Mann-Whitney formula with mid-ranks, no scikit-learn);
 * the script and its output are committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_num.h"

#include "model/learn/jp_eval.h"
#include "model/learn/jp_ridge.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fixtures/model/eval_fixtures.h"

static void check_reg(const jp_eval_reg_result_t *r, const double *want, uint64_t n)
{
    assert_int_equal(r->n, n);
    jp_assert_near(r->mae, want[0], 1e-12, 0, "mae");
    jp_assert_near(r->rmse, want[1], 1e-12, 0, "rmse");
    jp_assert_near(r->mape, want[2], 1e-12, 0, "mape");
    assert_int_equal(r->mape_skipped, (uint64_t)want[3]);
    assert_int_equal(r->mape_n + r->mape_skipped, n);
    jp_assert_near(r->smape, want[4], 1e-12, 0, "smape");
    jp_assert_near(r->r2, want[5], 1e-12, 0, "r2");
}

static void test_regression_fixture(void **state)
{
    (void)state;
    char err[128];
    jp_eval_reg_t *e = jp_eval_reg_create(ER_WIN, err, sizeof(err));
    assert_non_null(e);
    for (int i = 0; i < ER_N; i++)
        assert_int_equal(jp_eval_reg_add(e, ER_Y[i], ER_F[i]), 0);
    assert_int_equal(jp_eval_reg_add(e, NAN, 1.0), -1);
    jp_eval_reg_result_t r;
    jp_eval_reg_cumulative(e, &r);
    check_reg(&r, ER_ALL, ER_N);
    jp_eval_reg_rolling(e, &r);
    check_reg(&r, ER_ROLL, ER_WIN);
    jp_eval_reg_free(e);

    /* hand-checked: y = {1, 2, 0}, f = {2, 2, 0}: MAE 1/3, RMSE sqrt(1/3),
     * MAPE 0.5 over 2 (1 skipped), sMAPE (2/3 + 0 + 0)/3, R2 = 1 - 1/2 */
    e = jp_eval_reg_create(0, err, sizeof(err));
    jp_eval_reg_add(e, 1, 2);
    jp_eval_reg_add(e, 2, 2);
    jp_eval_reg_add(e, 0, 0);
    jp_eval_reg_cumulative(e, &r);
    jp_assert_near(r.mae, 1.0 / 3.0, 1e-15, 0, "mae");
    jp_assert_near(r.rmse, sqrt(1.0 / 3.0), 1e-15, 0, "rmse");
    jp_assert_near(r.mape, 0.5, 1e-15, 0, "mape");
    assert_int_equal(r.mape_n, 2);
    assert_int_equal(r.mape_skipped, 1);
    jp_assert_near(r.smape, 2.0 / 9.0, 1e-15, 0, "smape");
    jp_assert_near(r.r2, 0.5, 1e-15, 0, "r2");
    jp_eval_reg_rolling(e, &r); /* no window */
    assert_int_equal(r.n, 0);
    assert_true(isnan(r.mae) && isnan(r.r2));
    jp_eval_reg_free(e);
}

static void check_cls(const jp_eval_cls_result_t *r, const long *cm, const double *m,
                      double auc_tol)
{
    assert_int_equal(r->tp, cm[0]);
    assert_int_equal(r->fp, cm[1]);
    assert_int_equal(r->tn, cm[2]);
    assert_int_equal(r->fn, cm[3]);
    jp_assert_near(r->accuracy, m[0], 1e-12, 0, "accuracy");
    jp_assert_near(r->precision, m[1], 1e-12, 0, "precision");
    jp_assert_near(r->recall, m[2], 1e-12, 0, "recall");
    jp_assert_near(r->f1, m[3], 1e-12, 0, "f1");
    jp_assert_near(r->auc, m[4], auc_tol, 0, "auc");
    jp_assert_near(r->log_loss, m[5], 1e-12, 0, "log-loss");
    jp_assert_near(r->brier, m[6], 1e-12, 0, "brier");
}

static void check_calib(const jp_eval_cls_t *e, int rolling, const long *cnt, const double *mp,
                        const double *oy)
{
    uint64_t c[10];
    double p[10], o[10];
    assert_int_equal(jp_eval_cls_calibration(e, rolling, 10, c, p, o), 0);
    for (int b = 0; b < 10; b++) {
        assert_int_equal(c[b], cnt[b]);
        jp_assert_near(p[b], mp[b], 1e-12, 0, "calib mean p");
        jp_assert_near(o[b], oy[b], 1e-12, 0, "calib observed");
    }
}

static void test_classification_fixture(void **state)
{
    (void)state;
    char err[128];
    jp_eval_cls_config_t cfg = {EC_WIN, 0.5, 10, 1u << 16};
    jp_eval_cls_t *e = jp_eval_cls_create(&cfg, err, sizeof(err));
    assert_non_null(e);
    for (int i = 0; i < EC_N; i++)
        assert_int_equal(jp_eval_cls_add(e, EC_Y[i], EC_P[i]), 0);
    assert_int_equal(jp_eval_cls_add(e, 2, 0.5), -1);
    assert_int_equal(jp_eval_cls_add(e, 1, 1.5), -1);
    assert_int_equal(jp_eval_cls_add(e, 1, NAN), -1);
    jp_eval_cls_result_t r;
    jp_eval_cls_cumulative(e, &r);
    assert_int_equal(r.n, EC_N);
    /* histogram AUC: 65536 bins; the fixture's tied scores share a bin
     * exactly as they tie in the mid-rank formula */
    check_cls(&r, EC_ALL_CM, EC_ALL_M, 1e-4);
    check_calib(e, 0, EC_ALL_BCNT, EC_ALL_BMP, EC_ALL_BOY);
    assert_int_equal(jp_eval_cls_rolling(e, &r), 0);
    assert_int_equal(r.n, EC_WIN);
    check_cls(&r, EC_ROLL_CM, EC_ROLL_M, 1e-12); /* exact AUC by sorting */
    check_calib(e, 1, EC_ROLL_BCNT, EC_ROLL_BMP, EC_ROLL_BOY);
    uint64_t c[9];
    assert_int_equal(jp_eval_cls_calibration(e, 0, 9, c, NULL, NULL), -1);
    jp_eval_cls_free(e);
}

static void test_classification_edges(void **state)
{
    (void)state;
    char err[128];
    jp_eval_cls_config_t cfg = {100, 0.5, 4, 1024};
    jp_eval_cls_result_t r;
    /* separated, reversed, all tied, one class */
    const double p[4] = {0.1, 0.2, 0.8, 0.9};
    const int ysep[4] = {0, 0, 1, 1}, yrev[4] = {1, 1, 0, 0};
    const int *ys[2] = {ysep, yrev};
    for (int k = 0; k < 2; k++) {
        jp_eval_cls_t *e = jp_eval_cls_create(&cfg, err, sizeof(err));
        for (int i = 0; i < 4; i++)
            jp_eval_cls_add(e, ys[k][i], p[i]);
        jp_eval_cls_cumulative(e, &r);
        jp_assert_near(r.auc, k == 0 ? 1.0 : 0.0, 1e-15, 0, "auc");
        jp_eval_cls_rolling(e, &r);
        jp_assert_near(r.auc, k == 0 ? 1.0 : 0.0, 1e-15, 0, "auc");
        jp_eval_cls_free(e);
    }
    jp_eval_cls_t *e = jp_eval_cls_create(&cfg, err, sizeof(err));
    for (int i = 0; i < 6; i++)
        jp_eval_cls_add(e, i % 2, 0.3);
    jp_eval_cls_cumulative(e, &r);
    jp_assert_near(r.auc, 0.5, 1e-15, 0, "tied auc");
    /* nothing predicted positive: precision/recall/F1 are 0, not NaN */
    assert_true(r.precision == 0.0 && r.recall == 0.0 && r.f1 == 0.0);
    jp_assert_near(r.accuracy, 0.5, 1e-15, 0, "accuracy");
    jp_assert_near(r.log_loss, -(log(0.3) + log(0.7)) / 2, 1e-15, 0, "log-loss");
    jp_assert_near(r.brier, (0.09 + 0.49) / 2, 1e-15, 0, "brier");
    jp_eval_cls_free(e);
    e = jp_eval_cls_create(&cfg, err, sizeof(err));
    jp_eval_cls_add(e, 1, 0.3);
    jp_eval_cls_add(e, 1, 1.0); /* clipped: log(1 - 1e-15), finite */
    jp_eval_cls_cumulative(e, &r);
    assert_true(isnan(r.auc));
    assert_true(isfinite(r.log_loss));
    jp_eval_cls_add(e, 0, 1.0); /* confidently wrong: -log(1e-15) */
    jp_eval_cls_cumulative(e, &r);
    jp_assert_near(r.log_loss, (-log(0.3) - log1p(-(1 - 1e-15)) - log1p(-1e-15)) / 3, 1e-12, 0,
                   "clipped log-loss");
    jp_eval_cls_free(e);
    jp_eval_cls_config_t bad = {10, 0.5, 0, 1024};
    assert_null(jp_eval_cls_create(&bad, err, sizeof(err)));
    bad.n_calib_bins = 10;
    bad.auc_bins = 1;
    assert_null(jp_eval_cls_create(&bad, err, sizeof(err)));
}

/* Toy model: predicts the mean of the labels it has learned (0 before any). */
typedef struct {
    double sum;
    int n;
    double last_x;
} mean_model_t;

static double mean_predict(void *m, const double *x)
{
    (void)x;
    mean_model_t *mm = m;
    return mm->n ? mm->sum / mm->n : 0.0;
}

static void mean_learn(void *m, const double *x, double y)
{
    mean_model_t *mm = m;
    mm->sum += y;
    mm->n++;
    mm->last_x = x ? x[0] : NAN;
}

static void test_prequential_delayed(void **state)
{
    (void)state;
    char err[128];
    mean_model_t mm = {0, 0, 0};
    jp_preq_model_t model = {mean_predict, mean_learn, &mm};
    jp_preq_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.kind = JP_PREQ_REGRESSION;
    cfg.n_features = 1;
    cfg.capacity = 3;
    cfg.ttl = 10;
    cfg.cls.window = 2;
    jp_preq_t *pq = jp_preq_create(&cfg, &model, err, sizeof(err));
    assert_non_null(pq);
    double x, f;
    /* t=0: ids 1 and 2 predicted (model empty -> 0) */
    x = 11;
    assert_int_equal(jp_preq_predict(pq, 1, 0, &x, &f), 0);
    assert_true(f == 0.0);
    x = 12;
    assert_int_equal(jp_preq_predict(pq, 2, 0, &x, &f), 0);
    assert_int_equal(jp_preq_predict(pq, 2, 0, &x, &f), -1); /* duplicate */
    /* label of 2 arrives first: scored against 0, then learned (mean 4) */
    assert_int_equal(jp_preq_label(pq, 2, 4.0), 0);
    assert_true(mm.last_x == 12.0);
    x = 13;
    assert_int_equal(jp_preq_predict(pq, 3, 5, &x, &f), 0);
    assert_true(f == 4.0);
    /* label of 1: scored against its own prediction 0 (made before any
     * learning), not against the current mean */
    assert_int_equal(jp_preq_label(pq, 1, 2.0), 0);
    assert_true(mm.last_x == 11.0);
    assert_int_equal(jp_preq_label(pq, 1, 2.0), -1); /* already resolved */
    assert_int_equal(jp_preq_label(pq, 99, 2.0), -1);
    assert_int_equal(jp_preq_label(pq, 3, 7.0), 0); /* error 3 */
    jp_eval_reg_result_t r;
    jp_eval_reg_cumulative(jp_preq_reg(pq), &r);
    assert_int_equal(r.n, 3);
    jp_assert_near(r.mae, (4.0 + 2.0 + 3.0) / 3.0, 1e-15, 0, "prequential mae");
    jp_eval_reg_rolling(jp_preq_reg(pq), &r);
    jp_assert_near(r.mae, (2.0 + 3.0) / 2.0, 1e-15, 0, "rolling mae");

    /* capacity 3: a fourth pending prediction evicts the oldest (id 10) */
    for (uint64_t id = 10; id < 14; id++) {
        x = (double)id;
        assert_int_equal(jp_preq_predict(pq, id, (int64_t)id, &x, NULL), 0);
    }
    assert_int_equal(jp_preq_label(pq, 10, 1.0), -1);
    /* ttl 10: at now = 22, t = 11 and 12 expire (t + 10 <= 22), 13 stays */
    assert_int_equal(jp_preq_expire(pq, 22), 2);
    assert_int_equal(jp_preq_label(pq, 13, 1.0), 0);
    jp_preq_stats_t st;
    jp_preq_stats(pq, &st);
    assert_int_equal(st.predictions, 7);
    assert_int_equal(st.labelled, 4);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.unmatched, 3);
    assert_int_equal(st.duplicates, 1);
    assert_null(jp_preq_cls(pq));
    jp_preq_free(pq);
}

static double prob_predict(void *m, const double *x)
{
    (void)m;
    return x[0];
}

static void test_prequential_classification_and_table(void **state)
{
    (void)state;
    char err[128];
    jp_preq_model_t model = {prob_predict, NULL, NULL};
    jp_preq_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.kind = JP_PREQ_CLASSIFICATION;
    cfg.n_features = 1;
    cfg.capacity = 64;
    cfg.ttl = 0; /* never expires by time */
    cfg.cls = (jp_eval_cls_config_t){0, 0.5, 10, 1024};
    jp_preq_t *pq = jp_preq_create(&cfg, &model, err, sizeof(err));
    assert_non_null(pq);
    /* Random interleaving of predictions and labels against a reference
     * list exercises the hash table's backward-shift deletion. */
    jp_rng_t g;
    jp_rng_seed(&g, 99);
    uint64_t pending[64];
    double probs[64];
    size_t np = 0;
    uint64_t next_id = 1000;
    double ll = 0;
    int labelled = 0;
    for (int step = 0; step < 20000; step++) {
        if (np < 64 && (np == 0 || jp_rng_uniform(&g) < 0.5)) {
            double x = jp_rng_uniform(&g);
            uint64_t id = next_id;
            next_id += 1 + jp_rng_below(&g, 1000); /* sparse ids */
            assert_int_equal(jp_preq_predict(pq, id, step, &x, NULL), 0);
            pending[np] = id;
            probs[np++] = x;
        } else {
            size_t k = (size_t)jp_rng_below(&g, np);
            int y = jp_rng_uniform(&g) < probs[k];
            assert_int_equal(jp_preq_label(pq, pending[k], y), 0);
            double pc = fmin(fmax(probs[k], 1e-15), 1 - 1e-15);
            ll -= y ? log(pc) : log1p(-pc);
            labelled++;
            pending[k] = pending[--np];
            probs[k] = probs[np];
        }
    }
    assert_true(np > 0);
    /* an invalid label is refused and leaves the prediction pending */
    assert_int_equal(jp_preq_label(pq, pending[0], 3.0), -1);
    assert_int_equal(jp_preq_expire(pq, 1 << 30), 0);
    jp_preq_stats_t st;
    jp_preq_stats(pq, &st);
    assert_int_equal(st.pending, np);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.labelled, labelled);
    for (size_t k = 0; k < np; k++) {
        assert_int_equal(jp_preq_label(pq, pending[k], 1.0), 0);
        ll -= log(fmax(probs[k], 1e-15));
    }
    jp_eval_cls_result_t r;
    jp_eval_cls_cumulative(jp_preq_cls(pq), &r);
    assert_int_equal(r.n, labelled + np);
    jp_assert_near(r.log_loss, ll / (double)(labelled + np), 1e-9, 0, "prequential log-loss");
    jp_preq_free(pq);
}

/* Interval coverage and width (cumulative and rolling, samples without an
 * interval not counted) and the expected calibration error, on values
 * worked by hand. */
static void test_intervals_and_ece(void **state)
{
    (void)state;
    char err[128];
    jp_eval_reg_t *e = jp_eval_reg_create(2, err, sizeof(err));
    assert_non_null(e);
    assert_int_equal(jp_eval_reg_add_interval(e, 1, 1, 0, 2), 0);  /* covered, width 2 */
    assert_int_equal(jp_eval_reg_add_interval(e, 5, 3, 2, 4), 0);  /* missed, width 2 */
    assert_int_equal(jp_eval_reg_add_interval(e, 3, 3, 3, 3), 0);  /* on the bound: covered */
    assert_int_equal(jp_eval_reg_add(e, 2, 2), 0);                 /* no interval */
    assert_int_equal(jp_eval_reg_add_interval(e, 1, 1, 2, 0), -1); /* lo > hi */
    assert_int_equal(jp_eval_reg_add_interval(e, 1, 1, NAN, 0), -1);
    jp_eval_reg_result_t r;
    jp_eval_reg_cumulative(e, &r);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.interval_n, 3);
    jp_assert_near(r.coverage, 2.0 / 3.0, 1e-15, 0, "coverage");
    jp_assert_near(r.mean_width, 4.0 / 3.0, 1e-15, 0, "mean width");
    jp_assert_near(r.mae, 0.5, 1e-15, 0, "mae with intervals");
    jp_eval_reg_rolling(e, &r); /* the last two: (3, [3, 3]) and (2, none) */
    assert_int_equal(r.interval_n, 1);
    assert_true(r.coverage == 1.0 && r.mean_width == 0.0);
    jp_eval_reg_free(e);
    e = jp_eval_reg_create(0, err, sizeof(err));
    jp_eval_reg_add(e, 1, 1);
    jp_eval_reg_cumulative(e, &r);
    assert_true(r.interval_n == 0 && isnan(r.coverage) && isnan(r.mean_width));
    jp_eval_reg_free(e);

    jp_eval_cls_config_t cfg = {0, 0.5, 10, 1024};
    jp_eval_cls_t *c = jp_eval_cls_create(&cfg, err, sizeof(err));
    assert_non_null(c);
    jp_eval_cls_add(c, 0, 0.05);
    jp_eval_cls_add(c, 1, 0.05); /* bin 0: mean p 0.05, rate 0.5 */
    jp_eval_cls_add(c, 1, 0.95); /* bin 9: mean p 0.95, rate 1 */
    jp_eval_cls_result_t cr;
    jp_eval_cls_cumulative(c, &cr);
    jp_assert_near(cr.ece, (2 * 0.45 + 0.05) / 3, 1e-12, 0, "ece");
    jp_eval_cls_free(c);
}

/* The learning loop end to end: a prequential regression evaluator over
 * jp_ridge (evidence prior, a ring of 52 one-week blocks, refitted after
 * every label) on a seeded weekly series; the parked 95% intervals cover
 * 95% +- 3 of the 500 scored weeks, and MAPE is reported. */
typedef struct {
    jp_ridge_t *r;
} weekly_model_t;

static double ridge_mean(void *m, const double *x)
{
    double mean = NAN;
    jp_ridge_predict(((weekly_model_t *)m)->r, x, &mean, NULL);
    return mean;
}

static int ridge_interval(void *m, const double *x, double *lo, double *hi)
{
    return jp_ridge_predict_interval(((weekly_model_t *)m)->r, x, 0.95, NULL, lo, hi);
}

static void ridge_learn(void *m, const double *x, double y)
{
    jp_ridge_t *r = ((weekly_model_t *)m)->r;
    jp_ridge_update(r, x, y, 1.0);
    jp_ridge_fit(r, NULL, 0);
    jp_ridge_advance(r);
}

static void test_prequential_ridge_coverage(void **state)
{
    (void)state;
    char err[128];
    weekly_model_t wm = {jp_ridge_create(3, 52, 1.0, err, sizeof(err))};
    assert_non_null(wm.r);
    jp_ridge_set_evidence(wm.r, 1);
    jp_preq_model_t model = {ridge_mean, ridge_learn, &wm};
    jp_preq_config_t cfg = {JP_PREQ_REGRESSION, 3, 4, 0, {52, 0.5, 10, 1024}};
    jp_preq_t *pq = jp_preq_create(&cfg, &model, err, sizeof(err));
    assert_non_null(pq);
    jp_preq_set_interval(pq, ridge_interval);
    jp_rng_t g;
    jp_rng_seed(&g, 9090);
    int scored = 0;
    for (int t = 0; t < 552; t++) {
        double w = 6.283185307179586 * t / 52.0;
        double x[3] = {log(1e6) + (double)jp_rng_below(&g, 5) * 0.4, sin(w), cos(w)};
        double y = 100.0 + 8.0 * x[0] + 3.0 * x[1] - 2.0 * x[2] + jp_rng_normal(&g);
        if (jp_ridge_is_fitted(wm.r) && t >= 52) {
            assert_int_equal(jp_preq_predict(pq, (uint64_t)t, t, x, NULL), 0);
            assert_int_equal(jp_preq_label(pq, (uint64_t)t, y), 0);
            scored++;
        } else {
            ridge_learn(&wm, x, y);
        }
    }
    jp_eval_reg_result_t r;
    jp_eval_reg_cumulative(jp_preq_reg(pq), &r);
    print_message("prequential ridge: %d weeks, coverage %.1f%%, MAPE %.3f%%, mean width %.2f\n",
                  scored, 100 * r.coverage, 100 * r.mape, r.mean_width);
    assert_int_equal(r.interval_n, 500);
    assert_true(r.coverage >= 0.92 && r.coverage <= 0.98);
    assert_true(r.mape > 0.0 && r.mape < 0.02);
    jp_preq_free(pq);
    jp_ridge_free(wm.r);
}

/* Writes a and b's serializations and compares them. */
static int same_bytes(jp_bytes_writer_t *a, jp_bytes_writer_t *b)
{
    return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

/* A restored evaluator reports the same metrics, re-serializes to the same
 * bytes, and goes on exactly like the original; corrupt bytes are refused. */
static void test_serialization(void **state)
{
    (void)state;
    char err[128];
    jp_rng_t rng;
    jp_rng_seed(&rng, 11);
    jp_eval_reg_t *reg = jp_eval_reg_create(16, err, sizeof(err));
    jp_eval_cls_config_t cc = {20, 0.5, 10, 4096};
    jp_eval_cls_t *cls = jp_eval_cls_create(&cc, err, sizeof(err));
    assert_non_null(reg);
    assert_non_null(cls);
    for (int i = 0; i < 50; i++) {
        double y = 100 + 10 * jp_rng_normal(&rng), f = y + jp_rng_normal(&rng);
        if (i % 3)
            jp_eval_reg_add_interval(reg, y, f, f - 2, f + 2);
        else
            jp_eval_reg_add(reg, y, f);
        double p = jp_rng_uniform(&rng);
        jp_eval_cls_add(cls, jp_rng_uniform(&rng) < p, p);
    }
    jp_bytes_writer_t w, w2;
    jp_bytes_writer_init(&w);
    jp_eval_reg_serialize(reg, &w);
    jp_eval_cls_serialize(cls, &w);
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, w.buf, w.len);
    jp_eval_reg_t *reg2 = jp_eval_reg_deserialize(&r, err, sizeof(err));
    jp_eval_cls_t *cls2 = jp_eval_cls_deserialize(&r, err, sizeof(err));
    assert_non_null(reg2);
    assert_non_null(cls2);
    assert_true(jp_bytes_reader_done(&r));
    jp_bytes_writer_init(&w2);
    jp_eval_reg_serialize(reg2, &w2);
    jp_eval_cls_serialize(cls2, &w2);
    assert_true(same_bytes(&w, &w2));

    /* both continue identically */
    for (int i = 0; i < 7; i++) {
        jp_eval_reg_add_interval(reg, i, i + 0.5, i - 1, i + 1);
        jp_eval_reg_add_interval(reg2, i, i + 0.5, i - 1, i + 1);
        jp_eval_cls_add(cls, i & 1, 0.1 * i);
        jp_eval_cls_add(cls2, i & 1, 0.1 * i);
    }
    jp_eval_reg_result_t a, b;
    jp_eval_reg_cumulative(reg, &a);
    jp_eval_reg_cumulative(reg2, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    jp_eval_reg_rolling(reg, &a);
    jp_eval_reg_rolling(reg2, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    jp_eval_cls_result_t ca, cb;
    jp_eval_cls_cumulative(cls, &ca);
    jp_eval_cls_cumulative(cls2, &cb);
    assert_memory_equal(&ca, &cb, sizeof(ca));
    assert_true(ca.n == 57 && ca.auc > 0.5);
    assert_int_equal(jp_eval_cls_rolling(cls, &ca), 0);
    assert_int_equal(jp_eval_cls_rolling(cls2, &cb), 0);
    assert_memory_equal(&ca, &cb, sizeof(ca));

    /* truncated bytes are refused */
    jp_bytes_reader_init(&r, w.buf, w.len / 2);
    jp_eval_reg_t *bad = jp_eval_reg_deserialize(&r, err, sizeof(err));
    jp_eval_cls_t *bad2 = jp_eval_cls_deserialize(&r, err, sizeof(err));
    assert_true(bad == NULL || bad2 == NULL);
    jp_eval_reg_free(bad);
    jp_eval_cls_free(bad2);

    jp_bytes_writer_free(&w);
    jp_bytes_writer_free(&w2);
    jp_eval_reg_free(reg);
    jp_eval_reg_free(reg2);
    jp_eval_cls_free(cls);
    jp_eval_cls_free(cls2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression_fixture),
        cmocka_unit_test(test_classification_fixture),
        cmocka_unit_test(test_classification_edges),
        cmocka_unit_test(test_prequential_delayed),
        cmocka_unit_test(test_intervals_and_ece),
        cmocka_unit_test(test_prequential_ridge_coverage),
        cmocka_unit_test(test_prequential_classification_and_table),
        cmocka_unit_test(test_serialization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
