/*
 * Benchmark support. Every bench program prints its figures as rows
 *   BENCH <tab> benchmark <tab> metric <tab> value <tab> unit <tab> target <tab> note
 * on stdout; scripts/bench collects them from all programs into one table.
 * Figures are medians of JP_BENCH_RUNS runs (default 5). Throughput targets
 * are "on one core", so programs pin themselves to one CPU.
 */
#ifndef JP_BENCH_H
#define JP_BENCH_H

#include <stddef.h>

/* Monotonic clock in seconds. */
double jp_bench_now(void);

/* CPU time of the calling thread in seconds: a rate per CPU second is
 * steadier than one per wall second on a shared machine. */
double jp_bench_thread_cpu(void);

/* Number of repetitions to take the median of (env JP_BENCH_RUNS, default 5). */
int jp_bench_runs(void);

/* Median of v[0..n) (sorts v in place). */
double jp_bench_median(double *v, size_t n);

/* Pins the calling thread to one CPU so "one core" figures mean that. */
/* Undoes jp_bench_pin_one_core for the calling thread (every online CPU),
 * so that threads it creates next - an in-process broker standing in for
 * a separate server - are not confined to the measured core. */
void jp_bench_unpin(void);
void jp_bench_pin_one_core(void);

/* Prints one row. target and note may be NULL (printed as "-"). */
void jp_bench_row(const char *bench, const char *metric, double value, const char *unit,
                  const char *target, const char *note);

/* Keeps the optimizer from discarding a computed value. */
void jp_bench_sink(const void *p);

#endif
