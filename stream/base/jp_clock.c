/*
 * jp_clock: one reading of CLOCK_MONOTONIC shared by every caller, and the
 * wall clock for the metrics that compare with record timestamps.
 */
#define _POSIX_C_SOURCE 200809L
#include "base/jp_clock.h"

#include <time.h>

double jp_clock_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t ms_of(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jp_clock_now_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

int64_t jp_clock_wall_ms(void)
{
    return ms_of(CLOCK_REALTIME);
}
