/*
 * Benchmark support: clock, medians, CPU pinning and the row format that
 * scripts/bench parses. See jp_bench.h.
 */
#define _GNU_SOURCE
#include "jp_bench.h"

#include <sched.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double jp_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double jp_bench_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int jp_bench_runs(void)
{
    const char *s = getenv("JP_BENCH_RUNS");
    int n = s ? atoi(s) : 5;
    return n > 0 ? n : 5;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double jp_bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void jp_bench_pin_one_core(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

void jp_bench_unpin(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++)
        CPU_SET((int)i, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

void jp_bench_row(const char *bench, const char *metric, double value, const char *unit,
                  const char *target, const char *note)
{
    printf("BENCH\t%s\t%s\t%.6g\t%s\t%s\t%s\n", bench, metric, value, unit, target ? target : "-",
           note ? note : "-");
    fflush(stdout);
}

void jp_bench_sink(const void *p)
{
    /* An empty asm that "uses" p: the compiler must compute it. */
    __asm__ volatile("" : : "r"(p) : "memory");
}
