/*
 * jp_event_time: the guard against event times from the future that a
 * producer alone can forge.
 *
 * A record's event time moves its partition's watermark, so one record
 * dated 2100 would make every later record LATE. The record's own Kafka
 * timestamp is no defence when the producer sets it (CreateTime); it is
 * when the topic uses LogAppendTime (the broker's clock), and jp_validate
 * checks it either way. Here the reference is the partition's own recent
 * past: the event times of its last records (jp_recent_t), summarised by
 * their median and lower quartile, which a few forged records cannot move
 * - it takes a quarter to a half of the window. Every record that is not
 * LATE enters the window, FUTURE_EVENT_TIME ones included, so a genuine
 * jump (a producer back after an outage longer than the bound) becomes
 * the new normal after half a window and processing goes on.
 *
 * Sales and customer events may be at most processing.max_event_time_jump
 * ahead of median + 2 x (median - lower quartile): the median trails the
 * present by half the window, and the quartile term measures that at the
 * partition's own rate, whether it sees a record a second or a record a
 * day. Draw results come days or weeks apart, so they are bounded in draws
 * of their country's calendar instead: at most
 * processing.max_draw_periods_ahead headline draws after the median.
 *
 * Deterministic: the window is a function of the partition's records in
 * offset order, and it is part of the task's state (changelogged), so a
 * restart or restore judges every record exactly as an uninterrupted run.
 */
#ifndef JP_EVENT_TIME_H
#define JP_EVENT_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_calendar.h"

#define JP_RECENT_MAX      31 /* window of sales and customer partitions */
#define JP_RECENT_DRAWS    9  /* window of draw partitions */
#define JP_RECENT_WIRE_LEN (8 * (2 + JP_RECENT_MAX))

/* The last `cap` event times of a partition: a ring, and the same values
 * kept sorted (every record of the partition reads the median and the
 * quartile, so they cost an index, not a sort). */
typedef struct jp_recent_s {
    int64_t t[JP_RECENT_MAX];      /* in arrival order (ring) */
    int64_t sorted[JP_RECENT_MAX]; /* the n values, ascending */
    uint32_t cap, n, next;
} jp_recent_t;

void jp_recent_init(jp_recent_t *r, uint32_t cap);
void jp_recent_add(jp_recent_t *r, int64_t t_ms);
/* The median (the lower one of an even count); -1 when empty. */
int jp_recent_median(const jp_recent_t *r, int64_t *out);

/* JP_RECENT_WIRE_LEN bytes, big-endian; decode returns -1 (and leaves r
 * empty) on a length or content mismatch. */
void jp_recent_encode(const jp_recent_t *r, uint8_t out[JP_RECENT_WIRE_LEN]);
int jp_recent_decode(jp_recent_t *r, const void *buf, size_t len);

/* 1 if t_ms is more than max_jump_ms ahead of the window's median +
 * 2 x (median - lower quartile) (0 when the window is empty: nothing to
 * compare with). */
int jp_event_time_too_far(const jp_recent_t *r, int64_t t_ms, int64_t max_jump_ms);

/* 1 if more than max_periods headline draws of cal lie between the
 * window's median and t_ms (0 when the window is empty). */
int jp_event_time_too_many_draws(const jp_recent_t *r, const jp_calendar_t *cal, int64_t t_ms,
                                 int64_t max_periods);

#endif
