/*
 * jp_process_metrics: process_* from /proc (Linux), as client_golang and
 * prometheus_client compute them: CPU from utime + stime of
 * /proc/self/stat in clock ticks, memory from its vsize and rss (pages),
 * the start time from its starttime (ticks since boot) plus the boot time
 * of /proc/stat, descriptors by listing /proc/self/fd. Each scrape reads
 * them afresh; the series are created once, at init, so they exist (with
 * real values) before the first scrape.
 */
#include "base/jp_process_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
    jp_counter_t *cpu;
    jp_gauge_t *rss, *vsize, *fds, *max_fds, *start;
} process_series_t;

/* The fields of /proc/self/stat after the command name (which may hold
 * spaces and parentheses: the last ')' ends it). 0 or -1. */
static int read_stat(unsigned long long *utime, unsigned long long *stime,
                     unsigned long long *starttime, unsigned long long *vsize, long long *rss)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    /* from field 3 (state): utime is field 14, stime 15, starttime 22,
     * vsize 23, rss 24 */
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %llu %lld",
                     utime, stime, starttime, vsize, rss) != 5)
        return -1;
    return 0;
}

static double boot_time(void)
{
    char line[256];
    double bt = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %lf", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static void collect(void *ctx)
{
    process_series_t *s = ctx;
    unsigned long long ut, st, start, vsize;
    long long rss;
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (tick > 0 && read_stat(&ut, &st, &start, &vsize, &rss) == 0) {
        jp_counter_float_set(s->cpu, (double)(ut + st) / tick);
        jp_gauge_set(s->vsize, (double)vsize);
        jp_gauge_set(s->rss, (double)rss * (double)sysconf(_SC_PAGESIZE));
        jp_gauge_set(s->start, boot_time() + (double)start / tick);
    }
    int fds = open_fds();
    if (fds >= 0)
        jp_gauge_set(s->fds, fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        jp_gauge_set(s->max_fds, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

int jp_process_metrics_init(jp_metrics_t *m)
{
    process_series_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->cpu = jp_metrics_counter_float(m, "process_cpu_seconds_total",
                                      "Total user and system CPU time spent in seconds.", NULL);
    s->rss = jp_metrics_gauge(m, "process_resident_memory_bytes", "Resident memory size in bytes.",
                              NULL);
    s->vsize =
        jp_metrics_gauge(m, "process_virtual_memory_bytes", "Virtual memory size in bytes.", NULL);
    s->fds = jp_metrics_gauge(m, "process_open_fds", "Number of open file descriptors.", NULL);
    s->max_fds =
        jp_metrics_gauge(m, "process_max_fds", "Maximum number of open file descriptors.", NULL);
    s->start = jp_metrics_gauge(m, "process_start_time_seconds",
                                "Start time of the process since unix epoch in seconds.", NULL);
    if (!s->cpu || !s->rss || !s->vsize || !s->fds || !s->max_fds || !s->start) {
        free(s);
        return -1;
    }
    collect(s);
    if (jp_metrics_add_collector(m, collect, s, free) != 0) {
        free(s);
        return -1;
    }
    return 0;
}
