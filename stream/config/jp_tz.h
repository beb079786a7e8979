/*
 * jp_tz: one IANA time zone, read from the system's TZif files, converting
 * UTC instants to local time and back without touching the process-global
 * TZ / tzset / localtime machinery.
 *
 * A zone is loaded from /usr/share/zoneinfo/<name> (RFC 8536, version 2 or
 * later; the 64-bit section is used). Instants after the last transition in
 * the file follow the POSIX TZ rule in the file's footer, e.g.
 * "GMT0BST,M3.5.0/1,M10.5.0" or "CET-1CEST,M3.5.0,M10.5.0/3" (Mm.w.d, Jn
 * and n date forms, optional /time with sign and hours up to 167, quoted
 * <+03> names). Instants before the first transition use the first local
 * time type, as RFC 8536 says.
 *
 * Local times are expressed as "local seconds": the seconds since
 * 1970-01-01 00:00 of the local wall clock, as if the wall clock were UTC.
 *
 * Local -> UTC is ambiguous twice a year; the rule is deterministic and
 * equals Python's zoneinfo with fold=0:
 *   - in a gap (spring forward, e.g. 01:30 on the day London goes 01:00 ->
 *     02:00), the wall time is interpreted with the offset in force before
 *     the gap, i.e. it moves forward by the gap (01:30 -> 02:30 BST);
 *   - in an overlap (autumn, 01:30 happens twice), the earlier instant (the
 *     one still on summer time) is taken.
 *
 * A zone is immutable once loaded and safe to share between threads.
 */
#ifndef JP_TZ_H
#define JP_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct jp_tz_s jp_tz_t;

/* Loads /usr/share/zoneinfo/<name>. The name must be relative and must not
 * contain "..". NULL with the reason in errstr ("unknown time zone ..."). */
jp_tz_t *jp_tz_load(const char *name, char *errstr, size_t errstr_size);

/* Loads a TZif file from an explicit path; name is what jp_tz_name returns. */
jp_tz_t *jp_tz_load_file(const char *name, const char *path, char *errstr, size_t errstr_size);

/* Parses TZif data already in memory (len bytes). */
jp_tz_t *jp_tz_parse(const char *name, const void *data, size_t len, char *errstr,
                     size_t errstr_size);

/* A zone defined only by a POSIX TZ rule string (the TZif footer syntax),
 * e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
jp_tz_t *jp_tz_from_posix(const char *rule, char *errstr, size_t errstr_size);

void jp_tz_free(jp_tz_t *tz);

const char *jp_tz_name(const jp_tz_t *tz);

/* Offset from UTC (local = UTC + offset) in force at utc_s; *is_dst (may be
 * NULL) receives the DST flag of that local time type. */
int32_t jp_tz_offset(const jp_tz_t *tz, int64_t utc_s, int *is_dst);

/* The smallest and largest offsets the zone ever uses (history included):
 * any local time L is the UTC instant L - o for some o in that range. */
void jp_tz_offset_range(const jp_tz_t *tz, int32_t *min_off, int32_t *max_off);

/* UTC seconds -> local seconds. */
int64_t jp_tz_to_local(const jp_tz_t *tz, int64_t utc_s);

/* Local seconds -> UTC seconds, gaps and overlaps resolved as above.
 * *kind (may be NULL) receives JP_TZ_UNIQUE, JP_TZ_GAP or JP_TZ_OVERLAP. */
enum { JP_TZ_UNIQUE = 0, JP_TZ_GAP = 1, JP_TZ_OVERLAP = 2 };
int64_t jp_tz_to_utc(const jp_tz_t *tz, int64_t local_s, int *kind);

/* Proleptic Gregorian civil calendar helpers (valid far beyond any draw):
 * days since 1970-01-01 <-> year, month 1-12, day 1-31. */
int64_t jp_tz_days_from_civil(int64_t y, int m, int d);
void jp_tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* Weekday of a day number: 0 = Monday .. 6 = Sunday. */
int jp_tz_weekday(int64_t days);
/* Floor division helper (also used for negative seconds). */
int64_t jp_tz_floor_div(int64_t a, int64_t b);

#endif
