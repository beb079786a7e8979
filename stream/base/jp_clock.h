/*
 * jp_clock: the process's monotonic clock, for pacing, timeouts, backoff
 * and progress displays - never for anything an output depends on (event
 * time drives every window and decision).
 */
#ifndef JP_CLOCK_H
#define JP_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in seconds and in whole milliseconds. */
double jp_clock_now_s(void);
int64_t jp_clock_now_ms(void);
/* CLOCK_REALTIME, milliseconds since the epoch: only for metrics that
 * compare with Kafka timestamps or event time (lag, latency). */
int64_t jp_clock_wall_ms(void);

#endif
