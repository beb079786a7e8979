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

#endif
