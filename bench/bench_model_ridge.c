/*
 * bench_model_ridge: jp_ridge per-sample update, per-sample predict (mean
 * only, and mean + variance) and the solve (merge of the ring + Cholesky +
 * noise estimate, with a fixed prior and with the evidence prior), for 8 and
 * 16 features in window mode with 8 blocks, and
 * the update in forgetting mode (which also scales the co-moments). Inputs
 * are generated beforehand (jp_rng) so the timings contain no RNG. Medians
 * of jp_bench_runs() runs, pinned to one core.
 */
#include "jp_bench.h"
#include "model/learn/jp_ridge.h"
#include "model/base/jp_rng.h"

#include <stdio.h>
#include <stdlib.h>

#define NS      4096    /* distinct input rows, cycled */
#define UPDATES 2000000 /* per run */
#define PREDS   2000000
#define SOLVES  2000

static double *rows, *ys;

static void make_data(size_t p)
{
    jp_rng_t g;
    jp_rng_seed(&g, 42);
    for (size_t i = 0; i < NS; i++) {
        double y = 1.0;
        for (size_t j = 0; j < p; j++) {
            double x = (double)(j + 1) * 10.0 + jp_rng_normal(&g) * (double)(j + 1);
            rows[i * p + j] = x;
            y += 0.1 * (double)j * x;
        }
        ys[i] = y + jp_rng_normal(&g);
    }
}

typedef enum { OP_UPDATE, OP_PREDICT_MEAN, OP_PREDICT_VAR, OP_SOLVE } op_t;

/* Seconds per operation for one run. */
static double run_once(jp_ridge_t *r, size_t p, op_t op)
{
    double t0, t1, sink = 0.0, m, v;
    switch (op) {
    case OP_UPDATE:
        t0 = jp_bench_now();
        for (long i = 0; i < UPDATES; i++)
            jp_ridge_update(r, rows + (size_t)(i % NS) * p, ys[i % NS], 1.0);
        t1 = jp_bench_now();
        jp_bench_sink(r);
        return (t1 - t0) / UPDATES;
    case OP_PREDICT_MEAN:
    case OP_PREDICT_VAR:
        t0 = jp_bench_now();
        for (long i = 0; i < PREDS; i++) {
            jp_ridge_predict(r, rows + (size_t)(i % NS) * p, &m, op == OP_PREDICT_VAR ? &v : NULL);
            sink += m + (op == OP_PREDICT_VAR ? v : 0.0);
        }
        t1 = jp_bench_now();
        jp_bench_sink(&sink);
        return (t1 - t0) / PREDS;
    case OP_SOLVE:
    default:
        t0 = jp_bench_now();
        for (int i = 0; i < SOLVES; i++)
            jp_ridge_fit(r, NULL, 0);
        t1 = jp_bench_now();
        jp_bench_sink(r);
        return (t1 - t0) / SOLVES;
    }
}

static double median_of_runs(jp_ridge_t *r, size_t p, op_t op)
{
    int runs = jp_bench_runs();
    double *v = calloc((size_t)runs, sizeof(double));
    if (!v)
        return 0.0;
    for (int i = 0; i < runs; i++)
        v[i] = run_once(r, p, op);
    double med = jp_bench_median(v, (size_t)runs);
    free(v);
    return med;
}

static void bench_p(size_t p)
{
    char name[32], note[96];
    snprintf(name, sizeof(name), "model_ridge_p%zu", p);
    make_data(p);
    jp_ridge_t *r = jp_ridge_create(p, 8, 1.0, NULL, 0);
    jp_ridge_t *f = jp_ridge_create_forgetting(p, 1.0, 0.999, 1.0, NULL, 0);
    if (!r || !f) {
        fprintf(stderr, "bench_model_ridge: create failed\n");
        exit(1);
    }
    for (int b = 0; b < 8; b++) { /* fill the whole ring */
        for (size_t i = 0; i < NS; i++)
            jp_ridge_update(r, rows + i * p, ys[i], 1.0);
        jp_ridge_advance(r);
    }
    for (size_t i = 0; i < NS; i++)
        jp_ridge_update(r, rows + i * p, ys[i], 1.0);

    double t = median_of_runs(r, p, OP_UPDATE);
    snprintf(note, sizeof(note), "window mode, 8 blocks, %d updates/run", UPDATES);
    jp_bench_row(name, "update_ns_per_sample", t * 1e9, "ns", NULL, note);
    jp_bench_row(name, "update_per_s", 1.0 / t, "ops/s", NULL, note);
    t = median_of_runs(f, p, OP_UPDATE);
    jp_bench_row(name, "update_forgetting_ns_per_sample", t * 1e9, "ns", NULL,
                 "decay 0.999 per update");

    t = median_of_runs(r, p, OP_SOLVE);
    snprintf(note, sizeof(note), "merge 8 blocks + Cholesky + sigma2, %d solves/run", SOLVES);
    jp_bench_row(name, "solve_us", t * 1e6, "us", NULL, note);
    jp_ridge_set_evidence(r, 1);
    t = median_of_runs(r, p, OP_SOLVE);
    jp_ridge_info_t info;
    jp_ridge_info(r, &info);
    snprintf(note, sizeof(note), "evidence prior: + Jacobi eigen + %u fixed-point iterations",
             info.evidence_iter);
    jp_bench_row(name, "solve_evidence_us", t * 1e6, "us", NULL, note);
    jp_ridge_set_evidence(r, 0);
    jp_ridge_fit(r, NULL, 0);

    t = median_of_runs(r, p, OP_PREDICT_MEAN);
    jp_bench_row(name, "predict_mean_ns_per_sample", t * 1e9, "ns", NULL, NULL);
    jp_bench_row(name, "predict_mean_per_s", 1.0 / t, "ops/s", NULL, NULL);
    t = median_of_runs(r, p, OP_PREDICT_VAR);
    jp_bench_row(name, "predict_mean_var_ns_per_sample", t * 1e9, "ns", NULL,
                 "variance by one triangular solve");
    jp_bench_row(name, "predict_mean_var_per_s", 1.0 / t, "ops/s", NULL, NULL);
    jp_ridge_free(r);
    jp_ridge_free(f);
}

int main(void)
{
    jp_bench_pin_one_core();
    rows = malloc(NS * 16 * sizeof(double));
    ys = malloc(NS * sizeof(double));
    if (!rows || !ys)
        return 1;
    bench_p(8);
    bench_p(16);
    free(rows);
    free(ys);
    return 0;
}
