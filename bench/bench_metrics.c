/*
 * jp_metrics costs on the engine's hot path and on a scrape, medians over
 * jp_bench_runs() runs, pinned to one core:
 *   - counter add / gauge set / histogram observe (12 buckets), ns per op,
 *     uncontended (the engine thread is the only writer);
 *   - get-or-create of an existing series (what caching the pointer saves);
 *   - rendering a registry of 500 series (300 counters, 150 gauges,
 *     50 histograms of 12 buckets: ~1250 lines) to text.
 * Targets (set for this module, no upstream figure): add <= 10 ns,
 * observe <= 30 ns, render of 500 series <= 1 ms.
 */
#include "jp_bench.h"
#include "base/jp_metrics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS 20000000

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NB (sizeof(bounds) / sizeof(bounds[0]))

static jp_metrics_t *registry_500(void)
{
    jp_metrics_t *m = jp_metrics_new();
    char labels[128];
    for (int f = 0; f < 30; f++) {
        char name[64];
        snprintf(name, sizeof(name), "jp_bench_counter_%02d_total", f);
        for (int c = 0; c < 10; c++) {
            snprintf(labels, sizeof(labels), "topic=\"lottery.sales.v1\",partition=\"%d\"", c);
            jp_counter_add(jp_metrics_counter(m, name, "A counter family.", labels),
                           (uint64_t)(f * 1000003 + c));
        }
    }
    for (int f = 0; f < 15; f++) {
        char name[64];
        snprintf(name, sizeof(name), "jp_bench_gauge_%02d", f);
        for (int c = 0; c < 10; c++) {
            snprintf(labels, sizeof(labels), "country=\"c%d\"", c);
            jp_gauge_set(jp_metrics_gauge(m, name, "A gauge family.", labels), f * 0.37 + c);
        }
    }
    for (int f = 0; f < 5; f++) {
        char name[64];
        snprintf(name, sizeof(name), "jp_bench_latency_%02d_seconds", f);
        for (int c = 0; c < 10; c++) {
            snprintf(labels, sizeof(labels), "task=\"%d\"", c);
            jp_histogram_t *h =
                jp_metrics_histogram(m, name, "A histogram family.", labels, bounds, NB);
            for (int i = 0; i < 100; i++)
                jp_histogram_observe(h, i * 0.013);
        }
    }
    return m;
}

int main(void)
{
    jp_bench_pin_one_core();
    int runs = jp_bench_runs();
    double *add = calloc((size_t)runs, sizeof(double)), *set = calloc((size_t)runs, sizeof(double)),
           *obs = calloc((size_t)runs, sizeof(double)), *get = calloc((size_t)runs, sizeof(double)),
           *render = calloc((size_t)runs, sizeof(double));
    size_t render_bytes = 0;
    jp_metrics_t *m = registry_500();
    jp_counter_t *c = jp_metrics_counter(m, "jp_bench_counter_07_total", "A counter family.",
                                         "topic=\"lottery.sales.v1\",partition=\"3\"");
    jp_gauge_t *g = jp_metrics_gauge(m, "jp_bench_gauge_03", "A gauge family.", "country=\"c1\"");
    jp_histogram_t *h = jp_metrics_histogram(m, "jp_bench_latency_02_seconds",
                                             "A histogram family.", "task=\"4\"", bounds, NB);
    for (int run = 0; run < runs; run++) {
        double t0 = jp_bench_now();
        for (int i = 0; i < OPS; i++)
            jp_counter_add(c, 1);
        add[run] = (jp_bench_now() - t0) * 1e9 / OPS;

        t0 = jp_bench_now();
        for (int i = 0; i < OPS; i++)
            jp_gauge_set(g, (double)i);
        set[run] = (jp_bench_now() - t0) * 1e9 / OPS;

        t0 = jp_bench_now();
        for (int i = 0; i < OPS / 4; i++)
            jp_histogram_observe(h, (i & 1023) * 0.003);
        obs[run] = (jp_bench_now() - t0) * 1e9 / (OPS / 4);

        t0 = jp_bench_now();
        for (int i = 0; i < OPS / 100; i++)
            jp_bench_sink(jp_metrics_counter(m, "jp_bench_counter_21_total", "A counter family.",
                                             "partition=\"5\",topic=\"lottery.sales.v1\""));
        get[run] = (jp_bench_now() - t0) * 1e9 / (OPS / 100);

        t0 = jp_bench_now();
        const int reps = 200;
        for (int i = 0; i < reps; i++) {
            char *text = jp_metrics_render(m);
            render_bytes = strlen(text);
            jp_bench_sink(text);
            free(text);
        }
        render[run] = (jp_bench_now() - t0) * 1e6 / reps;
    }
    char note[128];
    jp_bench_row("metrics", "counter_add", jp_bench_median(add, (size_t)runs), "ns/op", "<= 10",
                 "relaxed fetch_add, one writer");
    jp_bench_row("metrics", "gauge_set", jp_bench_median(set, (size_t)runs), "ns/op", NULL, NULL);
    jp_bench_row("metrics", "histogram_observe_12b", jp_bench_median(obs, (size_t)runs), "ns/op",
                 "<= 30", "binary search + 2 atomics (CAS for the sum)");
    jp_bench_row("metrics", "get_or_create_existing", jp_bench_median(get, (size_t)runs), "ns/op",
                 NULL, "mutex + label canonicalization + 2 binary searches");
    snprintf(note, sizeof(note), "500 series, %zu bytes", render_bytes);
    jp_bench_row("metrics", "render_500_series", jp_bench_median(render, (size_t)runs), "us",
                 "<= 1000", note);
    jp_metrics_free(m);
    free(add);
    free(set);
    free(obs);
    free(get);
    free(render);
    return 0;
}
