/*
 * bench_model_sketch: sketches and drift statistics on one core -
 * HyperLogLog add (p = 14, 8-byte items hashed with XXH64), DDSketch add
 * (alpha = 0.01) and quantile query, PSI (10 reference-quantile bins) and
 * two-sample KS with p-value on 10k vs 10k samples, and one null-threshold
 * simulation of each at the feature-drift alert's sizes (a champion trained
 * on 364 days against a week, Bonferroni alpha 1.4e-4, 12 / alpha
 * replications: the alerts processor pays this for every new reference
 * size). Medians of jp_bench_runs() runs. The targets are ours: per-event
 * costs small next to Avro decoding, drift statistics well under a window
 * period, a threshold well under a simulated day's processing.
 */
#include "jp_bench.h"
#include "model/learn/jp_drift.h"
#include "model/sketch/jp_hll.h"
#include "model/sketch/jp_qsketch.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { HOPS = 4000000, QOPS = 2000000, QQ = 200000, NS = 10000, DOPS = 20 };

#define NULL_NREF  364
#define NULL_NCUR  7
#define NULL_ALPHA 1.4e-4

int main(void)
{
    jp_bench_pin_one_core();
    char err[256];
    int runs = jp_bench_runs();
    double *t_hll = malloc((size_t)runs * sizeof(double));
    double *t_dd = malloc((size_t)runs * sizeof(double));
    double *t_q = malloc((size_t)runs * sizeof(double));
    double *t_psi = malloc((size_t)runs * sizeof(double));
    double *t_ks = malloc((size_t)runs * sizeof(double));
    double *t_npsi = malloc((size_t)runs * sizeof(double));
    double *t_nks = malloc((size_t)runs * sizeof(double));
    double *vals = malloc(QOPS * sizeof(double));
    double *ref = malloc(NS * sizeof(double)), *cur = malloc(NS * sizeof(double));
    jp_hll_t *h = jp_hll_create(JP_HLL_DEFAULT_P, 1, err, sizeof err);
    if (!t_hll || !t_dd || !t_q || !t_psi || !t_ks || !t_npsi || !t_nks || !vals || !ref || !cur ||
        !h) {
        fprintf(stderr, "bench_model_sketch: setup failed\n");
        return 1;
    }
    jp_rng_t r;
    jp_rng_seed(&r, 2);
    for (int i = 0; i < QOPS; i++)
        vals[i] = 1000.0 * jp_rng_exponential(&r, 1.0);
    for (int i = 0; i < NS; i++) {
        ref[i] = jp_rng_normal(&r);
        cur[i] = 0.05 + jp_rng_normal(&r);
    }
    double acc = 0;
    for (int k = 0; k < runs; k++) {
        double t0 = jp_bench_now();
        for (uint64_t i = 0; i < HOPS; i++) {
            uint64_t item = i + (uint64_t)k * HOPS;
            jp_hll_add(h, &item, sizeof item);
        }
        t_hll[k] = (jp_bench_now() - t0) / HOPS * 1e9;
        acc += jp_hll_estimate(h);

        jp_qsketch_t *s = jp_qsketch_create(0.01, 2048, err, sizeof err);
        if (!s)
            return 1;
        t0 = jp_bench_now();
        for (int i = 0; i < QOPS; i++)
            jp_qsketch_add(s, vals[i]);
        t_dd[k] = (jp_bench_now() - t0) / QOPS * 1e9;

        t0 = jp_bench_now();
        for (int i = 0; i < QQ; i++)
            acc += jp_qsketch_quantile(s, (i % 1000) / 1000.0);
        t_q[k] = (jp_bench_now() - t0) / QQ * 1e9;
        jp_qsketch_free(s);

        double psi = 0, d = 0, p = 0;
        t0 = jp_bench_now();
        for (int i = 0; i < DOPS; i++)
            jp_drift_psi(ref, NS, cur, NS, JP_DRIFT_PSI_BINS, JP_DRIFT_PSI_EPS, &psi, err,
                         sizeof err);
        t_psi[k] = (jp_bench_now() - t0) / DOPS * 1e6;
        t0 = jp_bench_now();
        for (int i = 0; i < DOPS; i++)
            jp_drift_ks_2samp(ref, NS, cur, NS, &d, &p, err, sizeof err);
        t_ks[k] = (jp_bench_now() - t0) / DOPS * 1e6;
        acc += psi + d + p;

        size_t nb;
        double eps, thr_psi = 0, thr_ks = 0;
        uint32_t reps = (uint32_t)ceil(12.0 / NULL_ALPHA);
        jp_drift_psi_small_sample(NULL_NCUR, &nb, &eps);
        t0 = jp_bench_now();
        if (jp_drift_null_threshold(JP_DRIFT_STAT_PSI, NULL_NREF, NULL_NCUR, nb, eps, NULL_ALPHA,
                                    reps, 11 + (uint64_t)k, &thr_psi, err, sizeof err) != 0)
            return 1;
        t_npsi[k] = (jp_bench_now() - t0) * 1e3;
        t0 = jp_bench_now();
        if (jp_drift_null_threshold(JP_DRIFT_STAT_KS, NULL_NREF, NULL_NCUR, 0, 0, NULL_ALPHA, reps,
                                    11 + (uint64_t)k, &thr_ks, err, sizeof err) != 0)
            return 1;
        t_nks[k] = (jp_bench_now() - t0) * 1e3;
        acc += thr_psi + thr_ks;
    }
    jp_bench_sink(&acc);
    size_t n = (size_t)runs;
    jp_bench_row("model_sketch", "hll_add_ns", jp_bench_median(t_hll, n), "ns/op", "<= 50",
                 "p=14, 8-byte items, XXH64");
    jp_bench_row("model_sketch", "ddsketch_add_ns", jp_bench_median(t_dd, n), "ns/op", "<= 100",
                 "alpha=0.01, 2048 buckets");
    jp_bench_row("model_sketch", "ddsketch_quantile_ns", jp_bench_median(t_q, n), "ns/op",
                 "<= 20000", "one quantile query");
    jp_bench_row("model_sketch", "psi_10k_vs_10k_us", jp_bench_median(t_psi, n), "us/op",
                 "<= 10000", "10 quantile bins, sorts the reference");
    jp_bench_row("model_sketch", "ks_10k_vs_10k_us", jp_bench_median(t_ks, n), "us/op", "<= 10000",
                 "statistic + scipy 'asymp' p-value");
    jp_bench_row("model_sketch", "null_threshold_psi_364_vs_7_ms", jp_bench_median(t_npsi, n),
                 "ms/op", "<= 1000", "3 bins, alpha 1.4e-4, 12/alpha reps");
    jp_bench_row("model_sketch", "null_threshold_ks_364_vs_7_ms", jp_bench_median(t_nks, n),
                 "ms/op", "<= 1000", "alpha 1.4e-4, 12/alpha reps");
    jp_hll_free(h);
    free(t_hll);
    free(t_dd);
    free(t_q);
    free(t_psi);
    free(t_ks);
    free(t_npsi);
    free(t_nks);
    free(vals);
    free(ref);
    free(cur);
    return 0;
}
