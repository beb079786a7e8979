/*
 * jp_calendar: a country's draw calendar in event time.
 *
 * All times are UTC milliseconds since the epoch (event time, never wall
 * time). Draw times are defined in the country's IANA time zone ("every
 * Saturday at 18:00 Europe/London"), so conversion goes through jp_tz,
 * which reads the system's TZif files: daylight-saving transitions are
 * honoured (a draw at 18:00 local is 17:00 UTC in summer, 18:00 in winter).
 *
 * Draw ids are "<CC>-<YYYYMMDD>-<draw name>" with the local date of the
 * draw, e.g. "GB-20261128-saturday"; jp_calendar_parse_draw_id checks that
 * an id names a real draw of the calendar.
 *
 * The draw period of a headline draw is [previous headline draw, this
 * headline draw): the processor's "draw" window. The decision time of a
 * headline draw is its time minus calendar.decision_lead.
 *
 * A calendar is immutable once built and safe to share between threads.
 */
#ifndef JP_CALENDAR_H
#define JP_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_country.h"

typedef struct jp_calendar_s jp_calendar_t;

typedef struct jp_draw_s {
    int64_t time_ms; /* UTC */
    size_t series;   /* index into the country's calendar.draws */
    int headline;    /* 1 for the headline series */
    char id[48];     /* "GB-20261128-saturday" */
} jp_draw_t;

/* Builds the calendar of a validated country (loads its time zone).
 * NULL with the reason in errstr. */
jp_calendar_t *jp_calendar_new(const jp_country_t *country, char *errstr, size_t errstr_size);
void jp_calendar_free(jp_calendar_t *cal);

/* The first draw (of any series, or of the headline series only when
 * headline_only) strictly after t_ms. Ties between series at the same
 * instant are ordered by series index. 0 on success, -1 if none within
 * ten years. */
int jp_calendar_next_draw(const jp_calendar_t *cal, int64_t t_ms, int headline_only,
                          jp_draw_t *out);

/* The last draw at or before t_ms (same rules). */
int jp_calendar_prev_draw(const jp_calendar_t *cal, int64_t t_ms, int headline_only,
                          jp_draw_t *out);

/* The draw period containing t_ms: [start, end) between consecutive
 * headline draws; *draw receives the headline draw that ends it. */
int jp_calendar_draw_period(const jp_calendar_t *cal, int64_t t_ms, int64_t *start_ms,
                            int64_t *end_ms, jp_draw_t *draw);

/* Decision time of a headline draw: its time minus the decision lead. */
int64_t jp_calendar_decision_time(const jp_calendar_t *cal, const jp_draw_t *draw);

/* Checks that id names a draw of this calendar; fills *out. 0 or -1 with
 * the reason ("unknown draw name", "no saturday draw on 2026-11-27", ...). */
int jp_calendar_parse_draw_id(const jp_calendar_t *cal, const char *id, jp_draw_t *out,
                              char *errstr, size_t errstr_size);

/* Local calendar fields of t_ms in the country's zone (for seasonality
 * features and the simulator): year, month 1-12, day 1-31, weekday 0=Mon..6=Sun,
 * hour, minute, day of year 1-366, UTC offset in seconds. */
typedef struct jp_local_time_s {
    int year, month, day, weekday, hour, minute, yday;
    int32_t utc_offset_s;
} jp_local_time_t;
void jp_calendar_local_time(const jp_calendar_t *cal, int64_t t_ms, jp_local_time_t *out);

#endif
