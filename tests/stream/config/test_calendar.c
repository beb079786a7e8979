/*
 * jp_calendar on the shipped country configs (configs/countries/<code>.yaml).
 *
 * Known answers are worked out by hand from the configs and the EU DST
 * rule (last Sunday of March / October at 01:00 UTC), e.g. GB's Saturday
 * 18:00 London draw is 17:00 UTC in summer and 18:00 UTC in winter; the
 * first Sundays of 2026 and the weekday counts of 2026 were taken from
 * Python's datetime. Properties over 2025-2027 tie the functions together:
 * the draw sequence is strictly increasing, each draw falls on its
 * configured local weekday and time, its id parses back to the same draw,
 * and prev_draw / next_draw / draw_period agree with each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test.h"
#include "config/jp_calendar.h"
#include "config/jp_tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600 * (int64_t)1000)
#define DAY_MS  (24 * HOUR_MS)

static int64_t utc_ms(int y, int mo, int d, int h, int mi)
{
    return (jp_tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

typedef struct loaded_s {
    jp_country_t country;
    jp_calendar_t *cal;
} loaded_t;

static void load(const char *code, loaded_t *l)
{
    char path[1024], err[512];
    snprintf(path, sizeof(path), "%s/configs/countries/%s.yaml", jp_test_src(), code);
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    if (jp_country_load(&c, path, &l->country) != 0)
        fail_msg("%s: %s", path, c.n_errors ? c.errors[0] : "?");
    jp_conf_destroy(&c);
    l->cal = jp_calendar_new(&l->country, err, sizeof(err));
    if (!l->cal)
        fail_msg("%s: %s", code, err);
}

static void unload(loaded_t *l)
{
    jp_calendar_free(l->cal);
    jp_country_release(&l->country);
}

static void expect_next(const jp_calendar_t *cal, int64_t t, int headline_only, int64_t want_ms,
                        const char *want_id)
{
    jp_draw_t d;
    assert_int_equal(jp_calendar_next_draw(cal, t, headline_only, &d), 0);
    assert_string_equal(d.id, want_id);
    assert_int_equal(d.time_ms, want_ms);
}

static void test_gb(void **state)
{
    (void)state;
    loaded_t l;
    load("gb", &l);
    jp_draw_t d;
    /* Summer (BST): Saturday 18:00 London = 17:00 UTC. */
    expect_next(l.cal, utc_ms(2026, 7, 1, 0, 0), 1, utc_ms(2026, 7, 4, 17, 0),
                "GB-20260704-saturday");
    /* Winter (GMT): 18:00 UTC. */
    expect_next(l.cal, utc_ms(2026, 11, 25, 0, 0), 1, utc_ms(2026, 11, 28, 18, 0),
                "GB-20261128-saturday");
    /* Any series: the daily noon draw first, strictly after t, then the
     * Saturday one. */
    expect_next(l.cal, utc_ms(2026, 7, 4, 10, 59), 0, utc_ms(2026, 7, 4, 11, 0),
                "GB-20260704-daily");
    expect_next(l.cal, utc_ms(2026, 7, 4, 11, 0), 0, utc_ms(2026, 7, 4, 17, 0),
                "GB-20260704-saturday");
    expect_next(l.cal, utc_ms(2026, 7, 4, 17, 0), 0, utc_ms(2026, 7, 5, 11, 0),
                "GB-20260705-daily");
    assert_int_equal(jp_calendar_next_draw(l.cal, utc_ms(2026, 7, 4, 11, 0), 0, &d), 0);
    assert_int_equal(d.series, 1);
    assert_int_equal(d.headline, 1);
    /* prev: at or before. */
    assert_int_equal(jp_calendar_prev_draw(l.cal, utc_ms(2026, 7, 4, 17, 0), 0, &d), 0);
    assert_string_equal(d.id, "GB-20260704-saturday");
    assert_int_equal(jp_calendar_prev_draw(l.cal, utc_ms(2026, 7, 4, 17, 0) - 1, 0, &d), 0);
    assert_string_equal(d.id, "GB-20260704-daily");
    assert_int_equal(d.series, 0);
    assert_int_equal(d.headline, 0);
    assert_int_equal(jp_calendar_prev_draw(l.cal, utc_ms(2026, 7, 4, 17, 0) - 1, 1, &d), 0);
    assert_string_equal(d.id, "GB-20260627-saturday");
    /* The daily draw across the spring change (Sunday 2026-03-29): noon
     * local is 12:00 UTC before, 11:00 UTC from that day on. */
    expect_next(l.cal, utc_ms(2026, 3, 28, 0, 0), 0, utc_ms(2026, 3, 28, 12, 0),
                "GB-20260328-daily");
    expect_next(l.cal, utc_ms(2026, 3, 28, 18, 0), 0, utc_ms(2026, 3, 29, 11, 0),
                "GB-20260329-daily");
    /* ... and back on Sunday 2026-10-25. */
    expect_next(l.cal, utc_ms(2026, 10, 24, 18, 0), 0, utc_ms(2026, 10, 25, 12, 0),
                "GB-20261025-daily");
    unload(&l);
}

static void test_nl_first_sunday(void **state)
{
    (void)state;
    static const int days[12] = {4, 1, 1, 5, 3, 7, 5, 2, 6, 4, 1, 6};
    loaded_t l;
    load("nl", &l);
    int64_t t = utc_ms(2025, 12, 31, 0, 0);
    for (int m = 1; m <= 12; m++) {
        jp_draw_t d;
        char want[48];
        assert_int_equal(jp_calendar_next_draw(l.cal, t, 0, &d), 0);
        snprintf(want, sizeof(want), "NL-2026%02d%02d-monthly", m, days[m - 1]);
        assert_string_equal(d.id, want);
        /* 20:00 Amsterdam: CEST (UTC+2) from 29 March to 25 October. */
        int summer = m >= 4 && m <= 10;
        assert_int_equal(d.time_ms, utc_ms(2026, m, days[m - 1], summer ? 18 : 19, 0));
        assert_int_equal(d.headline, 1);
        t = d.time_ms;
    }
    jp_draw_t d;
    char err[256];
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, "NL-20260301-monthly", &d, err, sizeof(err)),
                     0);
    assert_int_equal(d.time_ms, utc_ms(2026, 3, 1, 19, 0));
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, "NL-20260308-monthly", &d, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "no monthly draw on 2026-03-08");
    unload(&l);
}

static void test_no_three_series(void **state)
{
    (void)state;
    static const char *const want[7] = {
        "NO-20260601-weekday", "NO-20260602-weekday",  "NO-20260603-weekday", "NO-20260604-weekday",
        "NO-20260605-weekday", "NO-20260606-saturday", "NO-20260607-sunday"};
    loaded_t l;
    load("no", &l);
    int64_t t = utc_ms(2026, 6, 1, 0, 0); /* a Monday */
    for (int i = 0; i < 7; i++) {
        jp_draw_t d;
        assert_int_equal(jp_calendar_next_draw(l.cal, t, 0, &d), 0);
        assert_string_equal(d.id, want[i]);
        /* 19:00 Oslo in summer = 17:00 UTC. */
        assert_int_equal(d.time_ms, utc_ms(2026, 6, 1 + i, 17, 0));
        assert_int_equal(d.series, i < 5 ? 0 : (size_t)(i - 4));
        assert_int_equal(d.headline, i == 6);
        t = d.time_ms;
    }
    expect_next(l.cal, utc_ms(2026, 6, 1, 0, 0), 1, utc_ms(2026, 6, 7, 17, 0),
                "NO-20260607-sunday");
    /* Winter: 19:00 CET = 18:00 UTC. */
    expect_next(l.cal, utc_ms(2026, 12, 1, 0, 0), 1, utc_ms(2026, 12, 6, 18, 0),
                "NO-20261206-sunday");
    unload(&l);
}

static void test_de_se(void **state)
{
    (void)state;
    loaded_t de, se;
    load("de", &de);
    load("se", &se);
    /* 2026-01-07 is a Wednesday: 19:00 CET = 18:00 UTC. */
    expect_next(de.cal, utc_ms(2026, 1, 5, 0, 0), 0, utc_ms(2026, 1, 7, 18, 0),
                "DE-20260107-midweek");
    expect_next(de.cal, utc_ms(2026, 1, 5, 0, 0), 1, utc_ms(2026, 1, 10, 18, 0),
                "DE-20260110-street");
    expect_next(de.cal, utc_ms(2026, 7, 6, 0, 0), 0, utc_ms(2026, 7, 8, 17, 0),
                "DE-20260708-midweek");
    /* Thursday 19:00 Stockholm. */
    expect_next(se.cal, utc_ms(2026, 2, 1, 0, 0), 1, utc_ms(2026, 2, 5, 18, 0),
                "SE-20260205-weekly");
    expect_next(se.cal, utc_ms(2026, 8, 1, 0, 0), 1, utc_ms(2026, 8, 6, 17, 0),
                "SE-20260806-weekly");
    unload(&de);
    unload(&se);
}

/* Walks every draw of 2025-2027 and checks the properties in the header;
 * returns the number of draws with a local date in 2026. */
static void walk(const char *code, size_t want_2026)
{
    loaded_t l;
    load(code, &l);
    const jp_draw_conf_t *conf = l.country.calendar.draws.items;
    int64_t t = utc_ms(2025, 1, 1, 0, 0), end = utc_ms(2028, 1, 1, 0, 0);
    size_t n_2026 = 0;
    int64_t last = INT64_MIN;
    jp_draw_t d, e;
    char err[256];
    while (jp_calendar_next_draw(l.cal, t, 0, &d) == 0 && d.time_ms < end) {
        assert_true(d.time_ms > last);
        jp_local_time_t lt;
        jp_calendar_local_time(l.cal, d.time_ms, &lt);
        char hhmm[6];
        snprintf(hhmm, sizeof(hhmm), "%02d:%02d", lt.hour, lt.minute);
        assert_string_equal(hhmm, conf[d.series].time);
        static const char *const wd[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
        int on_day = 0;
        for (size_t k = 0; k < conf[d.series].days.n; k++)
            on_day |= strcmp(conf[d.series].days.v[k], wd[lt.weekday]) == 0;
        assert_true(on_day);
        if (conf[d.series].week_of_month)
            assert_int_equal((lt.day - 1) / 7 + 1, conf[d.series].week_of_month);
        char date[16];
        snprintf(date, sizeof(date), "-%04d%02d%02d-", lt.year, lt.month, lt.day);
        assert_non_null(strstr(d.id, date));
        n_2026 += lt.year == 2026;
        /* Round trips. */
        if (jp_calendar_parse_draw_id(l.cal, d.id, &e, err, sizeof(err)))
            fail_msg("%s: %s", d.id, err);
        assert_int_equal(e.time_ms, d.time_ms);
        assert_int_equal(e.series, d.series);
        assert_string_equal(e.id, d.id);
        assert_int_equal(jp_calendar_prev_draw(l.cal, d.time_ms, 0, &e), 0);
        assert_string_equal(e.id, d.id);
        if (last != INT64_MIN) {
            assert_int_equal(jp_calendar_prev_draw(l.cal, d.time_ms - 1, 0, &e), 0);
            assert_int_equal(e.time_ms, last);
        }
        if (d.headline) {
            /* The period ending at d starts at the previous headline draw. */
            int64_t s, en;
            jp_draw_t p;
            assert_int_equal(jp_calendar_draw_period(l.cal, d.time_ms - 1, &s, &en, &p), 0);
            assert_int_equal(en, d.time_ms);
            assert_string_equal(p.id, d.id);
            assert_true(s < en);
            assert_int_equal(jp_calendar_prev_draw(l.cal, d.time_ms - 1, 1, &e), 0);
            assert_int_equal(s, e.time_ms);
        }
        last = d.time_ms;
        t = d.time_ms;
    }
    assert_int_equal(n_2026, want_2026);
    unload(&l);
}

static void test_walk_all_countries(void **state)
{
    (void)state;
    walk("gb", 365 + 52);
    walk("nl", 12);
    walk("no", 261 + 52 + 52);
    walk("de", 52 + 52);
    walk("se", 53);
}

static void test_period_and_decision(void **state)
{
    (void)state;
    loaded_t l;
    load("gb", &l);
    int64_t s, e;
    jp_draw_t d;
    assert_int_equal(jp_calendar_draw_period(l.cal, utc_ms(2026, 7, 1, 9, 0), &s, &e, &d), 0);
    assert_int_equal(s, utc_ms(2026, 6, 27, 17, 0));
    assert_int_equal(e, utc_ms(2026, 7, 4, 17, 0));
    assert_string_equal(d.id, "GB-20260704-saturday");
    /* [start, end): the draw instant opens the next period. */
    assert_int_equal(jp_calendar_draw_period(l.cal, e - 1, &s, &e, &d), 0);
    assert_int_equal(e, utc_ms(2026, 7, 4, 17, 0));
    assert_int_equal(jp_calendar_draw_period(l.cal, e, &s, &e, &d), 0);
    assert_int_equal(s, utc_ms(2026, 7, 4, 17, 0));
    assert_int_equal(e, utc_ms(2026, 7, 11, 17, 0));
    /* Across the autumn change the period is a week plus an hour. */
    assert_int_equal(jp_calendar_draw_period(l.cal, utc_ms(2026, 10, 26, 0, 0), &s, &e, &d), 0);
    assert_int_equal(e - s, 7 * DAY_MS + HOUR_MS);
    /* Decision lead 48h. */
    assert_int_equal(jp_calendar_draw_period(l.cal, utc_ms(2026, 7, 1, 9, 0), &s, &e, &d), 0);
    assert_int_equal(jp_calendar_decision_time(l.cal, &d), utc_ms(2026, 7, 2, 17, 0));
    unload(&l);

    load("nl", &l); /* 7d */
    assert_int_equal(jp_calendar_next_draw(l.cal, utc_ms(2026, 4, 1, 0, 0), 1, &d), 0);
    assert_int_equal(jp_calendar_decision_time(l.cal, &d), utc_ms(2026, 3, 29, 18, 0));
    unload(&l);
}

static void expect_bad_id(const jp_calendar_t *cal, const char *id, const char *want)
{
    jp_draw_t d;
    char err[256] = "";
    if (jp_calendar_parse_draw_id(cal, id, &d, err, sizeof(err)) != -1)
        fail_msg("'%s' accepted", id);
    if (!strstr(err, want))
        fail_msg("'%s': error '%s', expected '%s'", id, err, want);
}

static void test_parse_draw_id(void **state)
{
    (void)state;
    loaded_t l;
    load("gb", &l);
    jp_draw_t d;
    char err[256];
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, "GB-20261128-saturday", &d, err, sizeof(err)),
                     0);
    assert_int_equal(d.time_ms, utc_ms(2026, 11, 28, 18, 0));
    assert_int_equal(d.series, 1);
    assert_int_equal(d.headline, 1);
    assert_string_equal(d.id, "GB-20261128-saturday");
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, "GB-20260101-daily", &d, err, sizeof(err)),
                     0);
    assert_int_equal(d.time_ms, utc_ms(2026, 1, 1, 12, 0));

    expect_bad_id(l.cal, "GB-20261127-saturday", "no saturday draw on 2026-11-27");
    expect_bad_id(l.cal, "GB-20261128-sunday", "unknown draw name 'sunday'");
    expect_bad_id(l.cal, "NL-20261128-saturday", "is not for country GB");
    expect_bad_id(l.cal, "GB-20261328-saturday", "invalid date");
    expect_bad_id(l.cal, "GB-20270229-daily", "invalid date");
    expect_bad_id(l.cal, "GB-20261100-daily", "invalid date");
    const char *malformed[] = {"",
                               "GB",
                               "GB20261128saturday",
                               "gb-20261128-saturday",
                               "GB-2026112-saturday",
                               "GB-2026-1128-saturday",
                               "GB-20261128-",
                               "GB-20261128_saturday",
                               "GB-2026112a-saturday",
                               "GB-20261128-saturdayxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                               NULL};
    for (int i = 0; malformed[i]; i++)
        expect_bad_id(l.cal, malformed[i], "malformed draw id");
    expect_bad_id(l.cal, NULL, "malformed draw id");
    unload(&l);
}

static void expect_same_draw(const jp_draw_t *a, const jp_draw_t *b)
{
    assert_int_equal(a->time_ms, b->time_ms);
    assert_int_equal(a->series, b->series);
    assert_int_equal(a->headline, b->headline);
    assert_string_equal(a->id, b->id);
}

/* The per-thread memo of parsed ids answers exactly as a parse: the same id
 * again, after a rejected id, on another calendar, and on a calendar
 * rebuilt with another draw time (possibly at the freed one's address). */
static void test_parse_draw_id_memo(void **state)
{
    (void)state;
    loaded_t l;
    load("gb", &l);
    jp_draw_t d, first;
    char err[256];
    const char *id = "GB-20261128-saturday";
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, id, &first, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++) {
        memset(&d, 0xa5, sizeof(d));
        assert_int_equal(jp_calendar_parse_draw_id(l.cal, id, &d, err, sizeof(err)), 0);
        expect_same_draw(&d, &first);
    }
    expect_bad_id(l.cal, "GB-20261128-sunday", "unknown draw name 'sunday'");
    expect_bad_id(l.cal, "GB-20261128-saturdayx", "unknown draw name 'saturdayx'");
    expect_bad_id(l.cal, "GB-20261128-saturda", "unknown draw name 'saturda'");
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, id, &d, err, sizeof(err)), 0);
    expect_same_draw(&d, &first);

    loaded_t nl;
    load("nl", &nl);
    expect_bad_id(nl.cal, id, "is not for country NL");
    assert_int_equal(jp_calendar_parse_draw_id(l.cal, id, &d, err, sizeof(err)), 0);
    expect_bad_id(nl.cal, id, "is not for country NL");
    unload(&nl);

    /* Saturday's draw moved from 18:00 to 20:00: a new calendar. */
    jp_draw_conf_t *conf = l.country.calendar.draws.items;
    char *saved_time = conf[d.series].time;
    conf[d.series].time = (char *)"20:00";
    for (int i = 0; i < 4; i++) {
        jp_calendar_t *cal = jp_calendar_new(&l.country, err, sizeof(err));
        assert_non_null(cal);
        assert_int_equal(jp_calendar_parse_draw_id(cal, id, &d, err, sizeof(err)), 0);
        assert_int_equal(d.time_ms, utc_ms(2026, 11, 28, 20, 0));
        jp_calendar_free(cal);
    }
    conf[d.series].time = saved_time;
    jp_calendar_t *cal = jp_calendar_new(&l.country, err, sizeof(err));
    assert_non_null(cal);
    assert_int_equal(jp_calendar_parse_draw_id(cal, id, &d, err, sizeof(err)), 0);
    assert_int_equal(d.time_ms, utc_ms(2026, 11, 28, 18, 0));
    jp_calendar_free(cal);
    unload(&l);
}

static void test_local_time(void **state)
{
    (void)state;
    loaded_t gb, nl;
    load("gb", &gb);
    load("nl", &nl);
    jp_local_time_t lt;
    jp_calendar_local_time(gb.cal, utc_ms(2026, 7, 4, 17, 0) + 59999, &lt);
    assert_int_equal(lt.year, 2026);
    assert_int_equal(lt.month, 7);
    assert_int_equal(lt.day, 4);
    assert_int_equal(lt.weekday, 5);
    assert_int_equal(lt.hour, 18);
    assert_int_equal(lt.minute, 0);
    assert_int_equal(lt.yday, 185);
    assert_int_equal(lt.utc_offset_s, 3600);
    /* New Year in Amsterdam an hour before UTC's. */
    jp_calendar_local_time(nl.cal, utc_ms(2026, 12, 31, 23, 30), &lt);
    assert_int_equal(lt.year, 2027);
    assert_int_equal(lt.month, 1);
    assert_int_equal(lt.day, 1);
    assert_int_equal(lt.weekday, 4);
    assert_int_equal(lt.hour, 0);
    assert_int_equal(lt.minute, 30);
    assert_int_equal(lt.yday, 1);
    assert_int_equal(lt.utc_offset_s, 3600);
    /* Leap year end: 31 December 2028 is day 366. */
    jp_calendar_local_time(nl.cal, utc_ms(2028, 12, 31, 12, 0), &lt);
    assert_int_equal(lt.yday, 366);
    /* Negative instants floor: 1969-12-31 23:59:59.999 UTC, when London
     * was on British Standard Time (UTC+1). */
    jp_calendar_local_time(gb.cal, -1, &lt);
    assert_int_equal(lt.year, 1970);
    assert_int_equal(lt.month, 1);
    assert_int_equal(lt.day, 1);
    assert_int_equal(lt.hour, 0);
    assert_int_equal(lt.minute, 59);
    assert_int_equal(lt.weekday, 3);
    assert_int_equal(lt.utc_offset_s, 3600);
    unload(&gb);
    unload(&nl);
}

static void test_gap_draw_and_errors(void **state)
{
    (void)state;
    loaded_t l;
    load("gb", &l);
    jp_draw_conf_t *conf = l.country.calendar.draws.items;
    char err[256];

    /* A daily 01:30 draw on the spring-forward day moves to 02:30 BST
     * (01:30 UTC) but keeps its date. */
    char *saved_time = conf[0].time;
    conf[0].time = (char *)"01:30";
    jp_calendar_t *cal = jp_calendar_new(&l.country, err, sizeof(err));
    assert_non_null(cal);
    expect_next(cal, utc_ms(2026, 3, 28, 18, 0), 0, utc_ms(2026, 3, 29, 1, 30),
                "GB-20260329-daily");
    /* In the autumn overlap the earlier instant (01:30 BST) is the draw. */
    expect_next(cal, utc_ms(2026, 10, 24, 18, 0), 0, utc_ms(2026, 10, 25, 0, 30),
                "GB-20261025-daily");
    jp_calendar_free(cal);
    conf[0].time = (char *)"25:00";
    assert_null(jp_calendar_new(&l.country, err, sizeof(err)));
    assert_non_null(strstr(err, "is not HH:MM"));
    conf[0].time = saved_time;

    char *saved_zone = l.country.calendar.time_zone;
    l.country.calendar.time_zone = (char *)"Europe/Atlantis";
    assert_null(jp_calendar_new(&l.country, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown time zone 'Europe/Atlantis'"));
    l.country.calendar.time_zone = saved_zone;

    size_t saved_n = conf[0].days.n;
    conf[0].days.n = 0;
    assert_null(jp_calendar_new(&l.country, err, sizeof(err)));
    assert_non_null(strstr(err, "has no days"));
    conf[0].days.n = saved_n;

    conf[0].headline = 1; /* two headline draws */
    assert_null(jp_calendar_new(&l.country, err, sizeof(err)));
    assert_non_null(strstr(err, "exactly one headline"));
    conf[0].headline = 0;
    unload(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gb),
        cmocka_unit_test(test_nl_first_sunday),
        cmocka_unit_test(test_no_three_series),
        cmocka_unit_test(test_de_se),
        cmocka_unit_test(test_walk_all_countries),
        cmocka_unit_test(test_period_and_decision),
        cmocka_unit_test(test_parse_draw_id),
        cmocka_unit_test(test_parse_draw_id_memo),
        cmocka_unit_test(test_local_time),
        cmocka_unit_test(test_gap_draw_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
