/*
 * jp_process_metrics: the process_* metrics every Prometheus client library
 * exports, with their usual names and meanings, so the standard dashboards
 * and alerts for a process work on jackpot too:
 *   process_cpu_seconds_total        user + system CPU time (counter)
 *   process_resident_memory_bytes    resident set size
 *   process_virtual_memory_bytes     virtual memory size
 *   process_open_fds                 open file descriptors
 *   process_max_fds                  the soft limit on file descriptors
 *   process_start_time_seconds       start time, seconds since the epoch
 * Read from /proc/self at every scrape (a collector of the registry).
 */
#ifndef JP_PROCESS_METRICS_H
#define JP_PROCESS_METRICS_H

#include "base/jp_metrics.h"

/* Creates the families (with their current values) and registers the
 * collector. Idempotent. 0, or -1 (the registry refused a family, or
 * /proc is not readable). */
int jp_process_metrics_init(jp_metrics_t *m);

#endif
