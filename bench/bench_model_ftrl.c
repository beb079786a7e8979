/*
 * bench_model_ftrl: FTRL-Proximal logistic regression throughput on one
 * core - update (predict + learn) and predict per sample with 30 sparse
 * hashed categorical features in a 2^20-bucket model. Examples are hashed
 * up front (the hashing trick's cost is reported separately) from a pool of
 * 8192 examples with realistic category cardinalities; a second row uses
 * uniformly random buckets (every access a cache miss) as the worst case. Target: >= 5 M updates/s;
 * River's LogisticRegression reports about 3e4 samples/s, printed as a ratio. Medians of
 * jp_bench_runs() runs.
 *
 * slot_touch_floor_per_s is the memory floor of any FTRL on the realistic
 * examples: per example, the dot product of the 30 slots' first word (in
 * feature order, as the score) and a read-modify-write of all 30 slots -
 * 16-byte slots in a 2^20 table on huge pages like the model's, with no
 * square root, division or exp. An update cannot be faster than the
 * memory traffic it needs, so update_per_s stays below this row.
 */
#include "jp_bench.h"
#include "model/learn/jp_ftrl.h"
#include "model/base/jp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

enum { NF = 30, POOL = 8192, BITS = 20, OPS = 2000000 };

#define HUGE_PAGE ((size_t)2 << 20)

/* The floor's table: as the model's slots, aligned to and advised for huge
 * pages, zeroed. */
static double *floor_table(size_t slots)
{
    size_t bytes = (slots * 2 * sizeof(double) + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    double *t = aligned_alloc(HUGE_PAGE, bytes);
    if (t) {
#ifdef MADV_HUGEPAGE
        (void)madvise(t, bytes, MADV_HUGEPAGE); /* advice only */
#endif
        for (size_t i = 0; i < bytes / sizeof(double); i++)
            t[i] = 0;
    }
    return t;
}

/* One pass of the floor over the pool: returns updates per second. */
static double floor_pass(double *t, const jp_ftrl_feature_t *pool, const int *labels, double *acc)
{
    double t0 = jp_bench_now();
    for (int i = 0; i < OPS; i++) {
        const jp_ftrl_feature_t *f = &pool[(size_t)(i & (POOL - 1)) * NF];
        double dot = 0;
        for (int j = 0; j < NF; j++)
            dot += t[2 * (size_t)f[j].index] * f[j].value;
        double g = (dot > 0) - labels[i & (POOL - 1)];
        for (int j = 0; j < NF; j++) {
            t[2 * (size_t)f[j].index] += g * f[j].value;
            t[2 * (size_t)f[j].index + 1] += f[j].value;
        }
        *acc += g;
    }
    return OPS / (jp_bench_now() - t0);
}

int main(void)
{
    jp_bench_pin_one_core();
    char err[256];
    jp_ftrl_t *m = jp_ftrl_create(BITS, 0.1, 1.0, 1.0, 1.0, 3.0, 1.0, err, sizeof err);
    jp_ftrl_feature_t *pool = malloc((size_t)POOL * NF * sizeof *pool);
    jp_ftrl_feature_t *cold = malloc((size_t)POOL * NF * sizeof *cold);
    int *labels = malloc(POOL * sizeof *labels);
    if (!m || !pool || !cold || !labels) {
        fprintf(stderr, "bench_model_ftrl: %s\n", m ? "out of memory" : err);
        return 1;
    }
    /* Realistic: 30 namespaces (channel, age band, postcode sector, ...)
     * with cardinalities log-uniform in [2, 10000] and skewed popularity
     * (value = card * u^3), so the hot part of the table stays in cache as
     * it does in production. Worst case: 30 uniformly random buckets of the
     * 2^20 (16 MiB) table per example, every access a cache miss. */
    jp_rng_t r;
    jp_rng_seed(&r, 1);
    char ns[16], val[32];
    double card[NF];
    for (int j = 0; j < NF; j++)
        card[j] = floor(exp(log(2.0) + jp_rng_uniform(&r) * (log(10000.0) - log(2.0))));
    for (int i = 0; i < POOL; i++) {
        for (int j = 0; j < NF; j++) {
            snprintf(ns, sizeof ns, "f%02d", j);
            double u = jp_rng_uniform(&r);
            snprintf(val, sizeof val, "v%llu", (unsigned long long)(card[j] * u * u * u));
            pool[(size_t)i * NF + j].index = jp_ftrl_hash(m, ns, val);
            pool[(size_t)i * NF + j].value = 1.0;
            cold[(size_t)i * NF + j].index = (uint32_t)jp_rng_below(&r, jp_ftrl_dim(m));
            cold[(size_t)i * NF + j].value = 1.0;
        }
        labels[i] = jp_rng_uniform(&r) < 0.1;
    }

    int runs = jp_bench_runs();
    double *upd = malloc((size_t)runs * sizeof *upd), *pred = malloc((size_t)runs * sizeof *pred);
    double *hsh = malloc((size_t)runs * sizeof *hsh);
    double *cupd = malloc((size_t)runs * sizeof *cupd);
    double *flr = malloc((size_t)runs * sizeof *flr);
    double *ft = floor_table((size_t)jp_ftrl_dim(m) + 1);
    if (!upd || !pred || !hsh || !cupd || !flr || !ft)
        return 1;
    double acc = 0;
    for (int k = 0; k < runs; k++) {
        double t0 = jp_bench_now();
        for (int i = 0; i < OPS; i++) {
            int e = i & (POOL - 1);
            acc += jp_ftrl_update(m, &pool[(size_t)e * NF], NF, labels[e]);
        }
        upd[k] = OPS / (jp_bench_now() - t0);
        flr[k] = floor_pass(ft, pool, labels, &acc);

        t0 = jp_bench_now();
        for (int i = 0; i < OPS; i++) {
            int e = i & (POOL - 1);
            acc += jp_ftrl_update(m, &cold[(size_t)e * NF], NF, labels[e]);
        }
        cupd[k] = OPS / (jp_bench_now() - t0);

        t0 = jp_bench_now();
        for (int i = 0; i < OPS; i++)
            acc += jp_ftrl_predict(m, &pool[(size_t)(i & (POOL - 1)) * NF], NF);
        pred[k] = (jp_bench_now() - t0) / OPS * 1e9;

        /* Hashing 30 string features per example (the hashing trick). */
        enum { HOPS = 200000 };
        jp_ftrl_feature_t f[NF];
        uint64_t nskey[NF];
        for (int j = 0; j < NF; j++) {
            snprintf(ns, sizeof ns, "f%02d", j);
            nskey[j] = jp_ftrl_namespace_key(ns);
        }
        t0 = jp_bench_now();
        for (int i = 0; i < HOPS; i++) {
            for (int j = 0; j < NF; j++) {
                char v[8] = {'v', (char)('0' + j), (char)('a' + (i & 15)), 0};
                f[j].index = jp_ftrl_hash_key(m, nskey[j], v, 3);
                f[j].value = 1.0;
            }
            jp_bench_sink(f);
        }
        hsh[k] = (jp_bench_now() - t0) / HOPS * 1e9;
    }
    jp_bench_sink(&acc);
    double ups = jp_bench_median(upd, (size_t)runs);
    char note[96];
    snprintf(note, sizeof note, "%.0fx River's ~3e4 samples/s; 30 features, 2^%d buckets",
             ups / 3e4, BITS);
    jp_bench_row("model_ftrl", "update_per_s", ups, "updates/s", ">= 5e6", note);
    jp_bench_row("model_ftrl", "update_vs_river", ups / 3e4, "x", ">= 1", "River ~3e4/s");
    jp_bench_row("model_ftrl", "slot_touch_floor_per_s", jp_bench_median(flr, (size_t)runs),
                 "updates/s", NULL,
                 "memory floor: dot + read-modify-write of the same 30 slots, no FTRL math");
    jp_bench_row("model_ftrl", "update_per_s_cache_cold", jp_bench_median(cupd, (size_t)runs),
                 "updates/s", ">= 5e6", "worst case: 30 random buckets of 16 MiB per example");
    jp_bench_row("model_ftrl", "predict_ns", jp_bench_median(pred, (size_t)runs), "ns/op", "<= 200",
                 "30 features");
    jp_bench_row("model_ftrl", "hash_30_features_ns", jp_bench_median(hsh, (size_t)runs), "ns/op",
                 "<= 1000", "XXH64 of the value, namespace keys cached");
    free(upd);
    free(pred);
    free(hsh);
    free(cupd);
    free(flr);
    free(ft);
    free(cold);
    free(pool);
    free(labels);
    jp_ftrl_free(m);
    return 0;
}
