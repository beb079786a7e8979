/*
 * jp_calendar: draw times of one country, computed on demand.
 *
 * Design. jp_calendar_new turns the country's calendar.draws into a small
 * array of series (weekday bit mask, n-th weekday of the month, local
 * second of the day) and loads the zone; nothing else is precomputed, and
 * nothing changes afterwards, so every query is a pure function of the
 * calendar and its arguments and the calendar is shared between threads
 * without locks.
 *
 * A query walks local days from the local date of t: day matching is
 * integer arithmetic, and only a matching day costs a local -> UTC
 * conversion (a few binary searches in the zone's transition table). For
 * the shipped calendars next_draw looks at one or two days per series (a
 * monthly series at most ~35 cheap day checks), so it is cheap enough to
 * validate every event's draw id. One series' draws are at least a day
 * apart and jp_tz's gap/overlap rule moves an instant by at most the
 * size of the gap (an hour), so along a series the instants increase and
 * the first matching day whose instant lies after t is the answer. The walk
 * starts one local day early so a draw late in an overlap is not missed;
 * the zone's offset range (a few hours) rules most such days out without
 * converting anything.
 *
 * Draws form one sequence ordered by (instant, series index): next_draw
 * returns the first element after t, prev_draw the last element at or
 * before t (so among tied series prev_draw returns the highest index).
 *
 * A draw whose local time falls in a DST gap happens at the moved-forward
 * instant but keeps its local date in the id.
 *
 * Parsed draw ids are remembered, one per calendar and thread: every sale
 * of a week names that week's draw, and a parse (a civil-date round trip,
 * the series lookup and a local -> UTC conversion) was 2-4% of the engine
 * thread's time. The memo is keyed by the calendar's serial number, unique within the
 * process, not its address (a freed calendar's address may come back for a
 * new one after a reload), and by the id's bytes. Only successful parses are
 * remembered, so a rejected id is always parsed afresh and its message is
 * exact. A hit returns what the parse returned, so results do not depend on
 * the memo.
 */
#include "config/jp_calendar.h"
#include "model/base/jp_err.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_tz.h"

#define JP_CAL_DAY         86400
#define JP_CAL_SEARCH_DAYS 3655 /* "none within ten years", plus leap days and slack */
#define JP_CAL_MAX_NAME    35   /* 48 - "CC-YYYYMMDD-" - NUL */

typedef struct jp_cal_series_s {
    char name[JP_CAL_MAX_NAME + 1];
    unsigned days;     /* bit w set: drawn on weekday w (0 = Monday) */
    int week_of_month; /* 0 every week, n: n-th such weekday of the month */
    int32_t sec;       /* local second of the day */
    int headline;
} jp_cal_series_t;

struct jp_calendar_s {
    char code[3];
    jp_tz_t *tz;
    int64_t lead_ms;
    int64_t min_off_ms, max_off_ms; /* the zone's offset range */
    size_t n;
    jp_cal_series_t *s;
    uint64_t serial; /* unique in the process: the parse memo's key */
};

static atomic_uint_fast64_t jp_cal_serials;

/* The last successful jp_calendar_parse_draw_id of this thread per
 * calendar, in slot serial % JP_CAL_MEMO: sales of several countries
 * interleave, and each country has its own calendar. */
#define JP_CAL_MEMO 8
typedef struct {
    uint64_t serial; /* 0: empty */
    char id[sizeof(((jp_draw_t *)0)->id)];
    jp_draw_t draw;
} jp_cal_memo_t;
static _Thread_local jp_cal_memo_t jp_cal_memo[JP_CAL_MEMO];

static const char *const jp_cal_weekdays[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static int parse_hhmm(const char *v, int32_t *sec)
{
    if (!v || strlen(v) != 5 || v[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (v[i] < '0' || v[i] > '9'))
            return -1;
    int h = (v[0] - '0') * 10 + (v[1] - '0'), m = (v[3] - '0') * 10 + (v[4] - '0');
    if (h > 23 || m > 59)
        return -1;
    *sec = h * 3600 + m * 60;
    return 0;
}

jp_calendar_t *jp_calendar_new(const jp_country_t *country, char *errstr, size_t errstr_size)
{
    char err[512];
    const char *code = country ? country->code : NULL;
    if (!code || strlen(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' ||
        code[1] > 'Z') {
        jp_err_set(errstr, errstr_size, "country code '%s' is not two upper-case letters",
                   code ? code : "");
        return NULL;
    }
    const jp_draw_conf_t *d = country->calendar.draws.items;
    size_t n = country->calendar.draws.n;
    if (n == 0 || !d) {
        jp_err_set(errstr, errstr_size, "%s: calendar has no draws", code);
        return NULL;
    }
    if (country->calendar.decision_lead_ms < 0) {
        jp_err_set(errstr, errstr_size, "%s: negative decision lead", code);
        return NULL;
    }
    jp_calendar_t *cal = calloc(1, sizeof(*cal));
    if (cal)
        cal->serial = atomic_fetch_add(&jp_cal_serials, 1) + 1;
    if (!cal || !(cal->s = calloc(n, sizeof(*cal->s)))) {
        free(cal);
        jp_err_set(errstr, errstr_size, "%s: out of memory", code);
        return NULL;
    }
    memcpy(cal->code, code, 3);
    cal->lead_ms = country->calendar.decision_lead_ms;
    cal->n = n;
    size_t n_headline = 0;
    for (size_t i = 0; i < n; i++) {
        jp_cal_series_t *s = &cal->s[i];
        const char *name = d[i].name;
        if (!name || !*name || strlen(name) > JP_CAL_MAX_NAME) {
            jp_err_set(errstr, errstr_size, "%s: draw name '%s' is empty or longer than %d", code,
                       name ? name : "", JP_CAL_MAX_NAME);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cal->s[j].name, name) == 0) {
                jp_err_set(errstr, errstr_size, "%s: draw name '%s' is used twice", code, name);
                goto fail;
            }
        memcpy(s->name, name, strlen(name) + 1);
        for (size_t k = 0; k < d[i].days.n; k++) {
            int w = 0;
            while (w < 7 && strcmp(d[i].days.v[k], jp_cal_weekdays[w]) != 0)
                w++;
            if (w == 7) {
                jp_err_set(errstr, errstr_size, "%s: draw '%s': unknown weekday '%s'", code, name,
                           d[i].days.v[k]);
                goto fail;
            }
            s->days |= 1u << w;
        }
        if (!s->days) {
            jp_err_set(errstr, errstr_size, "%s: draw '%s' has no days", code, name);
            goto fail;
        }
        if (parse_hhmm(d[i].time, &s->sec)) {
            jp_err_set(errstr, errstr_size, "%s: draw '%s': time '%s' is not HH:MM", code, name,
                       d[i].time ? d[i].time : "");
            goto fail;
        }
        if (d[i].week_of_month < 0 || d[i].week_of_month > 5) {
            jp_err_set(errstr, errstr_size, "%s: draw '%s': week_of_month must be 0..5", code,
                       name);
            goto fail;
        }
        s->week_of_month = (int)d[i].week_of_month;
        s->headline = d[i].headline != 0;
        n_headline += (size_t)s->headline;
    }
    if (n_headline != 1) {
        jp_err_set(errstr, errstr_size, "%s: exactly one headline draw needed, found %zu", code,
                   n_headline);
        goto fail;
    }
    cal->tz = jp_tz_load(country->calendar.time_zone ? country->calendar.time_zone : "", err,
                         sizeof(err));
    if (!cal->tz) {
        jp_err_set(errstr, errstr_size, "%s: %s", code, err);
        goto fail;
    }
    int32_t lo, hi;
    jp_tz_offset_range(cal->tz, &lo, &hi);
    cal->min_off_ms = (int64_t)lo * 1000;
    cal->max_off_ms = (int64_t)hi * 1000;
    return cal;
fail:
    jp_calendar_free(cal);
    return NULL;
}

void jp_calendar_free(jp_calendar_t *cal)
{
    if (!cal)
        return;
    jp_tz_free(cal->tz);
    free(cal->s);
    free(cal);
}

/* Does series s draw on local day number day? */
static int series_on_day(const jp_cal_series_t *s, int64_t day)
{
    if (!(s->days & (1u << jp_tz_weekday(day))))
        return 0;
    if (s->week_of_month == 0)
        return 1;
    int64_t y;
    int m, dom;
    jp_tz_civil_from_days(day, &y, &m, &dom);
    return (dom - 1) / 7 + 1 == s->week_of_month;
}

static int64_t series_instant_ms(const jp_calendar_t *cal, const jp_cal_series_t *s, int64_t day)
{
    return jp_tz_to_utc(cal->tz, day * JP_CAL_DAY + s->sec, NULL) * 1000;
}

/* Writes n decimal digits of v (zero-padded) at p. */
static char *put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* The id is formatted by hand: snprintf dominated next_draw's cost, and
 * this runs once per event. Names are at most JP_CAL_MAX_NAME long and
 * years of draws have four digits, so the id always fits. */
static void fill_draw(const jp_calendar_t *cal, size_t i, int64_t day, int64_t ms, jp_draw_t *out)
{
    int64_t y;
    int m, d;
    jp_tz_civil_from_days(day, &y, &m, &d);
    out->time_ms = ms;
    out->series = i;
    out->headline = cal->s[i].headline;
    char *p = out->id;
    *p++ = cal->code[0];
    *p++ = cal->code[1];
    *p++ = '-';
    p = put_digits(p, y < 0 ? 0 : y > 9999 ? 9999 : y, 4);
    p = put_digits(p, m, 2);
    p = put_digits(p, d, 2);
    *p++ = '-';
    size_t len = strlen(cal->s[i].name);
    memcpy(p, cal->s[i].name, len + 1);
}

static int64_t local_day_of(const jp_calendar_t *cal, int64_t t_ms)
{
    int64_t t_s = jp_tz_floor_div(t_ms, 1000);
    return jp_tz_floor_div(jp_tz_to_local(cal->tz, t_s), JP_CAL_DAY);
}

/* dir > 0: first draw of the series with instant > t_ms; dir < 0: last
 * with instant <= t_ms. 0 and *day_out / *ms_out, or -1. */
static int series_step(const jp_calendar_t *cal, const jp_cal_series_t *s, int64_t t_ms,
                       int64_t t_day, int dir, int64_t *day_out, int64_t *ms_out)
{
    if (!s->days)
        return -1;
    int64_t day = t_day - dir;
    for (int i = 0; i < JP_CAL_SEARCH_DAYS; i++, day += dir) {
        if (!series_on_day(s, day))
            continue;
        /* The instant is (wall - o) for o in [min_off, max_off]: skip the
         * conversion when that range alone puts it on the wrong side of t
         * (the day before t's local date, for next_draw). */
        int64_t wall_ms = (day * JP_CAL_DAY + s->sec) * 1000;
        if (dir > 0 ? wall_ms - cal->min_off_ms <= t_ms : wall_ms - cal->max_off_ms > t_ms)
            continue;
        int64_t ms = series_instant_ms(cal, s, day);
        if (dir > 0 ? ms > t_ms : ms <= t_ms) {
            *day_out = day;
            *ms_out = ms;
            return 0;
        }
    }
    return -1;
}

static int find_draw(const jp_calendar_t *cal, int64_t t_ms, int headline_only, int dir,
                     jp_draw_t *out)
{
    int found = 0;
    size_t best_i = 0;
    int64_t best_day = 0, best_ms = 0;
    int64_t t_day = local_day_of(cal, t_ms);
    for (size_t i = 0; i < cal->n; i++) {
        if (headline_only && !cal->s[i].headline)
            continue;
        int64_t day, ms;
        if (series_step(cal, &cal->s[i], t_ms, t_day, dir, &day, &ms))
            continue;
        /* Strict for next (ties keep the lower index), non-strict for prev
         * (ties take the higher index): the (instant, index) order. */
        if (!found || (dir > 0 ? ms < best_ms : ms >= best_ms)) {
            found = 1;
            best_i = i;
            best_day = day;
            best_ms = ms;
        }
    }
    if (!found)
        return -1;
    fill_draw(cal, best_i, best_day, best_ms, out);
    return 0;
}

int jp_calendar_next_draw(const jp_calendar_t *cal, int64_t t_ms, int headline_only, jp_draw_t *out)
{
    return find_draw(cal, t_ms, headline_only, 1, out);
}

int jp_calendar_prev_draw(const jp_calendar_t *cal, int64_t t_ms, int headline_only, jp_draw_t *out)
{
    return find_draw(cal, t_ms, headline_only, -1, out);
}

int jp_calendar_draw_period(const jp_calendar_t *cal, int64_t t_ms, int64_t *start_ms,
                            int64_t *end_ms, jp_draw_t *draw)
{
    jp_draw_t prev, next;
    if (find_draw(cal, t_ms, 1, -1, &prev) || find_draw(cal, t_ms, 1, 1, &next))
        return -1;
    *start_ms = prev.time_ms;
    *end_ms = next.time_ms;
    if (draw)
        *draw = next;
    return 0;
}

int64_t jp_calendar_decision_time(const jp_calendar_t *cal, const jp_draw_t *draw)
{
    return draw->time_ms - cal->lead_ms;
}

int jp_calendar_parse_draw_id(const jp_calendar_t *cal, const char *id, jp_draw_t *out,
                              char *errstr, size_t errstr_size)
{
    /* "CC-YYYYMMDD-name" */
    size_t len = id ? strlen(id) : 0;
    jp_cal_memo_t *memo = &jp_cal_memo[cal->serial % JP_CAL_MEMO];
    if (id && memo->serial == cal->serial && len < sizeof(memo->id) &&
        memcmp(memo->id, id, len + 1) == 0) {
        *out = memo->draw;
        return 0;
    }
    int shape = len > 12 && len < sizeof(out->id) && id[2] == '-' && id[11] == '-';
    for (int i = 0; shape && i < 2; i++)
        shape = id[i] >= 'A' && id[i] <= 'Z';
    for (int i = 3; shape && i < 11; i++)
        shape = id[i] >= '0' && id[i] <= '9';
    if (!shape) {
        jp_err_set(errstr, errstr_size, "malformed draw id '%.60s' (expected CC-YYYYMMDD-name)",
                   id ? id : "");
        return -1;
    }
    if (id[0] != cal->code[0] || id[1] != cal->code[1]) {
        jp_err_set(errstr, errstr_size, "draw id '%s' is not for country %s", id, cal->code);
        return -1;
    }
    int y = 0, m, d;
    for (int i = 3; i < 7; i++)
        y = y * 10 + (id[i] - '0');
    m = (id[7] - '0') * 10 + (id[8] - '0');
    d = (id[9] - '0') * 10 + (id[10] - '0');
    int64_t day = 0;
    if (m >= 1 && m <= 12 && d >= 1) {
        day = jp_tz_days_from_civil(y, m, d);
        int64_t cy;
        int cm, cd;
        jp_tz_civil_from_days(day, &cy, &cm, &cd);
        if (cy != y || cm != m || cd != d)
            m = 0;
    } else {
        m = 0;
    }
    if (m == 0) {
        jp_err_set(errstr, errstr_size, "draw id '%s' has an invalid date", id);
        return -1;
    }
    const char *name = id + 12;
    size_t i = 0;
    while (i < cal->n && strcmp(cal->s[i].name, name) != 0)
        i++;
    if (i == cal->n) {
        jp_err_set(errstr, errstr_size, "unknown draw name '%s' for %s", name, cal->code);
        return -1;
    }
    if (!series_on_day(&cal->s[i], day)) {
        jp_err_set(errstr, errstr_size, "no %s draw on %04d-%02d-%02d", name, y, m, d);
        return -1;
    }
    fill_draw(cal, i, day, series_instant_ms(cal, &cal->s[i], day), out);
    memo->serial = cal->serial;
    memcpy(memo->id, id, len + 1); /* len < sizeof(out->id), checked above */
    memo->draw = *out;
    return 0;
}

void jp_calendar_local_time(const jp_calendar_t *cal, int64_t t_ms, jp_local_time_t *out)
{
    int64_t t_s = jp_tz_floor_div(t_ms, 1000);
    int32_t off = jp_tz_offset(cal->tz, t_s, NULL);
    int64_t local = t_s + off;
    int64_t day = jp_tz_floor_div(local, JP_CAL_DAY);
    int64_t sec = local - day * JP_CAL_DAY;
    int64_t y;
    jp_tz_civil_from_days(day, &y, &out->month, &out->day);
    out->year = (int)y;
    out->weekday = jp_tz_weekday(day);
    out->hour = (int)(sec / 3600);
    out->minute = (int)(sec / 60 % 60);
    out->yday = (int)(day - jp_tz_days_from_civil(y, 1, 1)) + 1;
    out->utc_offset_s = off;
}
