/*
 * jp_tz: TZif reader and UTC <-> local conversion.
 *
 * Design. A zone is a sorted table of transition instants, each carrying
 * the UTC offset and DST flag in force from that instant on, plus the
 * POSIX rule from the file's footer. At load time the rule is unrolled into
 * the same table up to the end of JP_TZ_UNROLL_YEAR (a few hundred entries
 * at most: cheap, and the common lookup becomes one binary search with no
 * calendar arithmetic). Instants beyond the table are answered by
 * evaluating the rule for their year, so the zone stays correct forever.
 *
 * Nothing is mutable after load, so a zone is shared between threads
 * without locks; no process-global state (TZ, tzset, localtime) is used.
 *
 * Local -> UTC looks at the offsets in force a day either side of the wall
 * time: if they agree the answer is unique; otherwise both candidate
 * instants are checked, which classifies the wall time as unique, in a gap
 * (neither round-trips: take the pre-transition offset, moving the time
 * forward by the gap) or in an overlap (both round-trip: take the earlier).
 * That is exactly zoneinfo's fold=0 behaviour, which the tests compare to.
 * Zones with two transitions less than two days apart (none in the modern
 * tz database) would need a finer window.
 *
 * Leap-second ("right/") zones are refused: event time is POSIX time.
 */
#include "config/jp_tz.h"

#include "model/base/jp_err.h"
#include "model/base/jp_endian.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JP_TZ_DIR         "/usr/share/zoneinfo"
#define JP_TZ_UNROLL_YEAR 2100
#define JP_TZ_MAX_FILE    (1 << 20)
#define JP_TZ_DAY         86400

typedef enum { JP_TZ_RULE_JULIAN1, JP_TZ_RULE_JULIAN0, JP_TZ_RULE_MONTH } jp_tz_rule_kind_t;

typedef struct jp_tz_rule_s {
    jp_tz_rule_kind_t kind;
    int day;         /* Jn: 1..365; n: 0..365; M: d (0 = Sunday) */
    int month, week; /* M form only */
    int32_t time_s;  /* local time of the transition, -167h..167h */
} jp_tz_rule_t;

typedef struct jp_tz_posix_s {
    int32_t std_off, dst_off; /* local = UTC + off */
    int has_dst;
    jp_tz_rule_t start, end; /* start of DST (in standard time), end (in DST) */
} jp_tz_posix_t;

struct jp_tz_s {
    char *name;
    size_t n;     /* transitions */
    int64_t *at;  /* UTC seconds, strictly increasing */
    int32_t *off; /* offset from at[i] on */
    uint8_t *dst; /* DST flag from at[i] on */
    int32_t off0; /* before the first transition */
    int dst0;
    int has_rule;
    jp_tz_posix_t rule;
    int32_t min_off, max_off; /* over every type and the rule */
};

/* ---- civil calendar (H. Hinnant's algorithms) ---- */

int64_t jp_tz_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t jp_tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void jp_tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (mm <= 2);
    *m = mm;
    *d = dd;
}

int jp_tz_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* ---- POSIX TZ rules ---- */

/* Day number of a rule's date in year y. */
static int64_t rule_day(const jp_tz_rule_t *r, int64_t y)
{
    int64_t jan1 = jp_tz_days_from_civil(y, 1, 1);
    switch (r->kind) {
    case JP_TZ_RULE_JULIAN1: /* Feb 29 is never counted */
        return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60);
    case JP_TZ_RULE_JULIAN0:
        return jan1 + r->day;
    case JP_TZ_RULE_MONTH:
    default: {
        int64_t first = jp_tz_days_from_civil(y, r->month, 1);
        int wd_sun = (jp_tz_weekday(first) + 1) % 7; /* 0 = Sunday */
        int64_t day = first + (r->day - wd_sun + 7) % 7 + 7 * (r->week - 1);
        while (day >= first + month_days(y, r->month))
            day -= 7;
        return day;
    }
    }
}

/* UTC instant of a rule's transition in year y, given the offset in force
 * just before it. */
static int64_t rule_instant(const jp_tz_rule_t *r, int64_t y, int32_t off_before)
{
    return rule_day(r, y) * JP_TZ_DAY + r->time_s - off_before;
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    jp_tz_civil_from_days(jp_tz_floor_div(t, JP_TZ_DAY), &y, &m, &d);
    return y;
}

static int32_t rule_offset(const jp_tz_posix_t *p, int64_t t, int *is_dst)
{
    int dst = 0;
    if (p->has_dst) {
        int64_t y = year_of(t + p->std_off);
        int64_t s = rule_instant(&p->start, y, p->std_off);
        int64_t e = rule_instant(&p->end, y, p->dst_off);
        dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    }
    if (is_dst)
        *is_dst = dst;
    return dst ? p->dst_off : p->std_off;
}

/* Zone abbreviation: 3+ letters, or <...> of letters, digits, + and -. */
static int parse_name(const char **s)
{
    const char *p = *s;
    if (*p == '<') {
        p++;
        const char *b = p;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '+' || *p == '-')
            p++;
        if (*p != '>' || p - b < 3)
            return -1;
        *s = p + 1;
        return 0;
    }
    const char *b = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    if (p - b < 3)
        return -1;
    *s = p;
    return 0;
}

/* [+-]h[h][:mm[:ss]] with hours up to max_h; seconds into *out. */
static int parse_hms(const char **s, int max_h, int32_t *out)
{
    const char *p = *s;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t v[3] = {0, 0, 0};
    for (int part = 0; part < 3; part++) {
        if (part > 0) {
            if (*p != ':')
                break;
            p++;
        }
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            v[part] = v[part] * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || (part > 0 && (digits != 2 || v[part] > 59)))
            return -1;
    }
    if (v[0] > max_h)
        return -1;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    *s = p;
    return 0;
}

static int parse_int(const char **s, int lo, int hi, int *out)
{
    const char *p = *s;
    int v = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || v < lo || v > hi)
        return -1;
    *out = v;
    *s = p;
    return 0;
}

static int parse_rule_date(const char **s, jp_tz_rule_t *r)
{
    const char *p = *s;
    if (*p == 'M') {
        p++;
        r->kind = JP_TZ_RULE_MONTH;
        if (parse_int(&p, 1, 12, &r->month) || *p++ != '.' || parse_int(&p, 1, 5, &r->week) ||
            *p++ != '.' || parse_int(&p, 0, 6, &r->day))
            return -1;
    } else if (*p == 'J') {
        p++;
        r->kind = JP_TZ_RULE_JULIAN1;
        if (parse_int(&p, 1, 365, &r->day))
            return -1;
    } else {
        r->kind = JP_TZ_RULE_JULIAN0;
        if (parse_int(&p, 0, 365, &r->day))
            return -1;
    }
    r->time_s = 2 * 3600;
    if (*p == '/') {
        p++;
        if (parse_hms(&p, 167, &r->time_s))
            return -1;
    }
    *s = p;
    return 0;
}

static int parse_posix(const char *s, jp_tz_posix_t *out)
{
    memset(out, 0, sizeof(*out));
    int32_t v;
    if (parse_name(&s) || parse_hms(&s, 24, &v))
        return -1;
    out->std_off = -v; /* POSIX offsets are west-positive */
    out->dst_off = out->std_off;
    if (!*s)
        return 0;
    if (parse_name(&s))
        return -1;
    out->has_dst = 1;
    out->dst_off = out->std_off + 3600;
    if (*s && *s != ',') {
        if (parse_hms(&s, 24, &v))
            return -1;
        out->dst_off = -v;
    }
    /* A TZif footer with DST always states its rules. */
    if (*s++ != ',' || parse_rule_date(&s, &out->start) || *s++ != ',' ||
        parse_rule_date(&s, &out->end) || *s)
        return -1;
    return 0;
}

/* ---- zone table ---- */

static int append(jp_tz_t *tz, size_t *cap, int64_t at, int32_t off, int dst)
{
    if (tz->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int64_t *a = realloc(tz->at, nc * sizeof(*a));
        if (a)
            tz->at = a;
        int32_t *o = realloc(tz->off, nc * sizeof(*o));
        if (o)
            tz->off = o;
        uint8_t *d = realloc(tz->dst, nc * sizeof(*d));
        if (d)
            tz->dst = d;
        if (!a || !o || !d)
            return -1;
        *cap = nc;
    }
    tz->at[tz->n] = at;
    tz->off[tz->n] = off;
    tz->dst[tz->n] = (uint8_t)(dst != 0);
    tz->n++;
    return 0;
}

/* Unrolls the footer rule after the file's last transition. */
static int unroll_rule(jp_tz_t *tz, size_t *cap)
{
    if (!tz->has_rule || !tz->rule.has_dst)
        return 0;
    const jp_tz_posix_t *p = &tz->rule;
    int64_t last = tz->n ? tz->at[tz->n - 1] : INT64_MIN;
    int64_t y0 = tz->n ? year_of(last) : 1970;
    for (int64_t y = y0; y <= JP_TZ_UNROLL_YEAR; y++) {
        int64_t s = rule_instant(&p->start, y, p->std_off);
        int64_t e = rule_instant(&p->end, y, p->dst_off);
        int64_t t1 = s < e ? s : e, t2 = s < e ? e : s;
        int first_is_start = s < e;
        if (t1 > last) {
            if (append(tz, cap, t1, first_is_start ? p->dst_off : p->std_off, first_is_start))
                return -1;
            last = t1;
        }
        if (t2 > last) {
            if (append(tz, cap, t2, first_is_start ? p->std_off : p->dst_off, !first_is_start))
                return -1;
            last = t2;
        }
    }
    return 0;
}

/* Records the range of offsets the zone can ever use. */
static void set_range(jp_tz_t *tz)
{
    int32_t lo = tz->off0;
    int32_t hi = lo;
    for (size_t i = 0; i < tz->n; i++) {
        lo = tz->off[i] < lo ? tz->off[i] : lo;
        hi = tz->off[i] > hi ? tz->off[i] : hi;
    }
    if (tz->has_rule) {
        int32_t r[2] = {tz->rule.std_off, tz->rule.dst_off};
        for (int i = 0; i < 2; i++) {
            lo = r[i] < lo ? r[i] : lo;
            hi = r[i] > hi ? r[i] : hi;
        }
    }
    tz->min_off = lo;
    tz->max_off = hi;
}

static jp_tz_t *tz_alloc(const char *name)
{
    jp_tz_t *tz = calloc(1, sizeof(*tz));
    if (!tz)
        return NULL;
    tz->name = strdup(name ? name : "");
    if (!tz->name) {
        free(tz);
        return NULL;
    }
    return tz;
}

jp_tz_t *jp_tz_parse(const char *name, const void *data, size_t len, char *errstr,
                     size_t errstr_size)
{
    const uint8_t *b = data;
    const uint8_t *end = b + len;
    if (len < 44 || memcmp(b, "TZif", 4) != 0) {
        jp_err_set(errstr, errstr_size, "%s: not a TZif file", name);
        return NULL;
    }
    if (b[4] < '2') {
        jp_err_set(errstr, errstr_size, "%s: TZif version 1 is not supported", name);
        return NULL;
    }
    /* Skip the version-1 block to reach the 64-bit header. */
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = jp_be32_get(b + 20 + 4 * i);
    uint64_t v1 = (uint64_t)c[3] * 5 + (uint64_t)c[4] * 6 + c[5] + (uint64_t)c[2] * 8 + c[1] + c[0];
    if (v1 > len - 44 || len - 44 - v1 < 44) {
        jp_err_set(errstr, errstr_size, "%s: truncated TZif file", name);
        return NULL;
    }
    const uint8_t *h = b + 44 + v1;
    if (memcmp(h, "TZif", 4) != 0) {
        jp_err_set(errstr, errstr_size, "%s: bad TZif version-2 header", name);
        return NULL;
    }
    for (int i = 0; i < 6; i++)
        c[i] = jp_be32_get(h + 20 + 4 * i);
    uint32_t isutcnt = c[0], isstdcnt = c[1], leapcnt = c[2], timecnt = c[3], typecnt = c[4],
             charcnt = c[5];
    if (leapcnt) {
        jp_err_set(errstr, errstr_size, "%s: leap-second zones are not supported", name);
        return NULL;
    }
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || charcnt == 0) {
        jp_err_set(errstr, errstr_size, "%s: invalid TZif counts", name);
        return NULL;
    }
    const uint8_t *p = h + 44;
    uint64_t need = (uint64_t)timecnt * 9 + (uint64_t)typecnt * 6 + charcnt + isstdcnt + isutcnt;
    if (need > (uint64_t)(end - p)) {
        jp_err_set(errstr, errstr_size, "%s: truncated TZif file", name);
        return NULL;
    }
    const uint8_t *times = p, *idx = p + (size_t)timecnt * 8, *types = idx + timecnt;
    const uint8_t *footer = types + (size_t)typecnt * 6 + charcnt + isstdcnt + isutcnt;

    for (uint32_t i = 0; i < typecnt; i++) {
        int32_t off = (int32_t)jp_be32_get(types + 6 * i);
        if (off < -89999 || off > 93599 || types[6 * i + 4] > 1 || types[6 * i + 5] >= charcnt) {
            jp_err_set(errstr, errstr_size, "%s: invalid local time type", name);
            return NULL;
        }
    }

    jp_tz_t *tz = tz_alloc(name);
    if (!tz) {
        jp_err_set(errstr, errstr_size, "%s: out of memory", name);
        return NULL;
    }
    size_t cap = 0;
    tz->off0 = (int32_t)jp_be32_get(types);
    tz->dst0 = types[4];
    for (uint32_t i = 0; i < timecnt; i++) {
        int64_t at = (int64_t)jp_be64_get(times + 8 * i);
        if (idx[i] >= typecnt || (i > 0 && at <= tz->at[tz->n - 1])) {
            jp_err_set(errstr, errstr_size, "%s: invalid transition table", name);
            jp_tz_free(tz);
            return NULL;
        }
        const uint8_t *t = types + 6 * idx[i];
        if (append(tz, &cap, at, (int32_t)jp_be32_get(t), t[4])) {
            jp_err_set(errstr, errstr_size, "%s: out of memory", name);
            jp_tz_free(tz);
            return NULL;
        }
    }

    /* Footer (required from version 2 on): "\n<rule>\n"; an empty rule
     * means "the last type forever". */
    {
        const uint8_t *nl =
            footer + 1 < end ? memchr(footer + 1, '\n', (size_t)(end - footer - 1)) : NULL;
        if (footer >= end || *footer != '\n' || !nl) {
            jp_err_set(errstr, errstr_size, "%s: malformed TZif footer", name);
            jp_tz_free(tz);
            return NULL;
        }
        size_t rl = (size_t)(nl - footer - 1);
        if (rl > 0) {
            char rule[256];
            if (rl >= sizeof(rule)) {
                jp_err_set(errstr, errstr_size, "%s: TZif footer too long", name);
                jp_tz_free(tz);
                return NULL;
            }
            memcpy(rule, footer + 1, rl);
            rule[rl] = '\0';
            if (parse_posix(rule, &tz->rule)) {
                jp_err_set(errstr, errstr_size, "%s: unsupported TZ rule '%s' in footer", name,
                           rule);
                jp_tz_free(tz);
                return NULL;
            }
            tz->has_rule = 1;
        }
    }
    if (unroll_rule(tz, &cap)) {
        jp_err_set(errstr, errstr_size, "%s: out of memory", name);
        jp_tz_free(tz);
        return NULL;
    }
    set_range(tz);
    return tz;
}

jp_tz_t *jp_tz_from_posix(const char *rule, char *errstr, size_t errstr_size)
{
    jp_tz_posix_t p;
    if (!rule || parse_posix(rule, &p)) {
        jp_err_set(errstr, errstr_size, "invalid POSIX TZ rule '%s'", rule ? rule : "");
        return NULL;
    }
    jp_tz_t *tz = tz_alloc(rule);
    if (!tz) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    tz->rule = p;
    tz->has_rule = 1;
    tz->off0 = p.std_off;
    /* No table: every instant is answered by the rule itself. */
    set_range(tz);
    return tz;
}

jp_tz_t *jp_tz_load_file(const char *name, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        jp_err_set(errstr, errstr_size, "unknown time zone '%s' (cannot open %s)", name, path);
        return NULL;
    }
    uint8_t *buf = malloc(JP_TZ_MAX_FILE);
    if (!buf) {
        fclose(f);
        jp_err_set(errstr, errstr_size, "%s: out of memory", name);
        return NULL;
    }
    size_t len = fread(buf, 1, JP_TZ_MAX_FILE, f);
    int bad = ferror(f) || !feof(f);
    fclose(f);
    jp_tz_t *tz = NULL;
    if (bad)
        jp_err_set(errstr, errstr_size, "%s: cannot read %s (or too large)", name, path);
    else
        tz = jp_tz_parse(name, buf, len, errstr, errstr_size);
    free(buf);
    return tz;
}

jp_tz_t *jp_tz_load(const char *name, char *errstr, size_t errstr_size)
{
    if (!name || !*name || name[0] == '/' || strstr(name, "..")) {
        jp_err_set(errstr, errstr_size, "'%s' is not an IANA time zone name", name ? name : "");
        return NULL;
    }
    char path[512];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", JP_TZ_DIR, name) >= sizeof(path)) {
        jp_err_set(errstr, errstr_size, "'%s' is not an IANA time zone name", name);
        return NULL;
    }
    return jp_tz_load_file(name, path, errstr, errstr_size);
}

void jp_tz_free(jp_tz_t *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->at);
    free(tz->off);
    free(tz->dst);
    free(tz);
}

const char *jp_tz_name(const jp_tz_t *tz)
{
    return tz->name;
}

/* ---- conversion ---- */

/* Largest i with at[i] <= t; requires n > 0 and at[0] <= t. */
static size_t find_index(const jp_tz_t *tz, int64_t t)
{
    size_t lo = 0, hi = tz->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int32_t jp_tz_offset(const jp_tz_t *tz, int64_t t, int *is_dst)
{
    if (tz->n == 0 || t >= tz->at[tz->n - 1]) {
        if (tz->has_rule)
            return rule_offset(&tz->rule, t, is_dst);
        if (tz->n == 0) {
            if (is_dst)
                *is_dst = tz->dst0;
            return tz->off0;
        }
    }
    if (t < tz->at[0]) {
        if (is_dst)
            *is_dst = tz->dst0;
        return tz->off0;
    }
    size_t i = find_index(tz, t);
    if (is_dst)
        *is_dst = tz->dst[i];
    return tz->off[i];
}

void jp_tz_offset_range(const jp_tz_t *tz, int32_t *min_off, int32_t *max_off)
{
    *min_off = tz->min_off;
    *max_off = tz->max_off;
}

int64_t jp_tz_to_local(const jp_tz_t *tz, int64_t utc_s)
{
    return utc_s + jp_tz_offset(tz, utc_s, NULL);
}

int64_t jp_tz_to_utc(const jp_tz_t *tz, int64_t local_s, int *kind)
{
    /* Fast path (the common case, one binary search): inside the table
     * with no transition within a day either side. Same answer as below. */
    if (tz->n > 1 && local_s - JP_TZ_DAY >= tz->at[0] && local_s + JP_TZ_DAY < tz->at[tz->n - 1]) {
        size_t i = find_index(tz, local_s - JP_TZ_DAY);
        if (tz->at[i + 1] > local_s + JP_TZ_DAY) {
            if (kind)
                *kind = JP_TZ_UNIQUE;
            return local_s - tz->off[i];
        }
    }
    int32_t before = jp_tz_offset(tz, local_s - JP_TZ_DAY, NULL);
    int32_t after = jp_tz_offset(tz, local_s + JP_TZ_DAY, NULL);
    int k = JP_TZ_UNIQUE;
    int64_t u = local_s - before;
    if (before != after) {
        int64_t u1 = local_s - before, u2 = local_s - after;
        int ok1 = jp_tz_to_local(tz, u1) == local_s;
        int ok2 = jp_tz_to_local(tz, u2) == local_s;
        if (ok1 && ok2) {
            k = JP_TZ_OVERLAP;
            u = u1 < u2 ? u1 : u2;
        } else if (ok2) {
            u = u2;
        } else if (!ok1) {
            k = JP_TZ_GAP; /* u1: the pre-gap offset moves the time forward */
        }
    }
    if (kind)
        *kind = k;
    return u;
}
