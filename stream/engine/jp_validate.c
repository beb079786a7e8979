/*
 * jp_validate: one function per input type, each a straight list of
 * checks; the first failing check is the verdict. Country lookups go
 * through a small table built from the configuration at start-up (five
 * countries: a linear scan beats hashing).
 */
#include "engine/jp_validate.h"
#include "model/base/jp_err.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fix_names[JP_FIX__COUNT] = {"COUNTRY_CASE", "CURRENCY_CASE",
                                                     "CHANNEL_UNKNOWN"};

/* Tickets of one record above this are out of range whatever the
 * country's per-player cap (0 means no cap). */
#define MAX_TICKETS_PER_RECORD 1000
/* A sale pays for at most a year of a monthly subscription. */
#define MAX_PERIODS_PER_SALE 12
/* Tickets are sold for draws at most this far ahead. */
#define MAX_DRAW_AHEAD_MS (62LL * 86400000LL)
/* Event times outside [1970, 3000) are no timestamps at all (and would
 * overflow the window and draw arithmetic): BAD_EVENT_TIME. */
#define MAX_EVENT_TIME_MS 32503680000000LL

const char *jp_fix_name(jp_fix_t f)
{
    return (unsigned)f < JP_FIX__COUNT ? fix_names[f] : "?";
}

typedef struct {
    const jp_country_t *country;
    jp_calendar_t *calendar;
} entry_t;

struct jp_validator_s {
    entry_t *entries;
    size_t n;
    int64_t max_skew_ms;
    jp_field_limits_t limits;
};

jp_validator_t *jp_validator_new(const jp_config_t *cfg, char *errstr, size_t errstr_size)
{
    jp_validator_t *v = calloc(1, sizeof(*v));
    if (!v || !(v->entries = calloc(cfg->n_countries ? cfg->n_countries : 1, sizeof(entry_t)))) {
        free(v);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    v->max_skew_ms = cfg->processing.max_clock_skew_ms;
    v->limits = cfg->limits;
    for (size_t i = 0; i < cfg->n_countries; i++) {
        v->entries[i].country = &cfg->country[i];
        v->entries[i].calendar = jp_calendar_new(&cfg->country[i], errstr, errstr_size);
        if (!v->entries[i].calendar) {
            jp_validator_free(v);
            return NULL;
        }
        v->n++;
    }
    return v;
}

void jp_validator_free(jp_validator_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        jp_calendar_free(v->entries[i].calendar);
    free(v->entries);
    free(v);
}

static const entry_t *find(const jp_validator_t *v, const char *code, size_t len)
{
    for (size_t i = 0; i < v->n; i++)
        if (len == 2 && memcmp(v->entries[i].country->code, code, 2) == 0)
            return &v->entries[i];
    return NULL;
}

const jp_country_t *jp_validator_country(const jp_validator_t *v, const char *code,
                                         const jp_calendar_t **cal)
{
    const entry_t *e = find(v, code, strlen(code));
    if (cal)
        *cal = e ? e->calendar : NULL;
    return e ? e->country : NULL;
}

static void reject(jp_verdict_t *out, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reject(jp_verdict_t *out, const char *reason, const char *fmt, ...)
{
    va_list ap;
    out->reason = reason;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

/* Upper-cases a decoded string in place if it is all lower-case letters.
 * Decoded strings point into the record buffer, which the engine owns
 * (a private copy), so this is safe. Returns 1 if it changed anything. */
static int upcase(jp_avro_str_t *s)
{
    int changed = 0;
    for (size_t i = 0; i < s->len; i++)
        if (islower((unsigned char)s->ptr[i])) {
            ((char *)s->ptr)[i] = (char)toupper((unsigned char)s->ptr[i]);
            changed = 1;
        }
    return changed;
}

/* Country lookup with the case fix; NULL after rejecting. */
static const entry_t *country_of(const jp_validator_t *v, jp_avro_str_t *c, jp_verdict_t *out)
{
    if (upcase(c))
        out->fixes |= 1u << JP_FIX_COUNTRY_CASE;
    const entry_t *e = find(v, c->ptr, c->len);
    if (!e) {
        reject(out, "UNKNOWN_COUNTRY", "%s is not a configured country", "country");
        return NULL;
    }
    out->country = e->country;
    out->calendar = e->calendar;
    return e;
}

/* Rejects and leaves the validating function. */
#define REJECT(...)                                                                                \
    do {                                                                                           \
        reject(__VA_ARGS__);                                                                       \
        return;                                                                                    \
    } while (0)

/* The time checks every input shares, in order: a time at all
 * (BAD_EVENT_TIME), then not ahead of the record's Kafka timestamp (the
 * broker's when the topic uses LogAppendTime). 1 after rejecting. */
static int bad_time(const jp_validator_t *v, int64_t event_time, int64_t kafka_ts,
                    jp_verdict_t *out, const char *field)
{
    if (event_time < 0 || event_time >= MAX_EVENT_TIME_MS) {
        reject(out, "BAD_EVENT_TIME", "%s is not a time between 1970 and 3000", field);
        return 1;
    }
    if (kafka_ts >= 0 && event_time > kafka_ts + v->max_skew_ms) {
        reject(out, "FUTURE_EVENT_TIME",
               "%s is further ahead of the record timestamp than processing.max_clock_skew", field);
        return 1;
    }
    return 0;
}

static void start(jp_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
}

/* FIELD_TOO_LONG if the string is longer than its limit; 1 after rejecting. */
static int too_long(const jp_avro_str_t *s, int64_t limit, const char *field, jp_verdict_t *out)
{
    if ((int64_t)s->len <= limit)
        return 0;
    reject(out, "FIELD_TOO_LONG", "%s is longer than limits.%s (%lld bytes)", field, field,
           (long long)limit);
    return 1;
}

/* MISSING_FIELD if the string is empty; 1 after rejecting. */
static int empty(const jp_avro_str_t *s, const char *field, jp_verdict_t *out)
{
    if (s->len)
        return 0;
    reject(out, "MISSING_FIELD", "%s is empty", field);
    return 1;
}

void jp_validate_sale(const jp_validator_t *v, jp_sale_event_t *e, int64_t kafka_ts_ms,
                      jp_verdict_t *out)
{
    start(out);
    const jp_field_limits_t *l = &v->limits;
    const entry_t *c = country_of(v, &e->country, out);
    if (!c || too_long(&e->event_id, l->event_id, "event_id", out) ||
        too_long(&e->customer_id, l->customer_id, "customer_id", out) ||
        too_long(&e->postcode, l->postcode, "postcode", out) ||
        too_long(&e->draw_id, l->draw_id, "draw_id", out) ||
        (e->has_campaign && too_long(&e->campaign, l->campaign, "campaign", out)) ||
        empty(&e->event_id, "event_id", out) ||
        bad_time(v, e->event_time, kafka_ts_ms, out, "event_time"))
        return;
    const jp_country_t *k = c->country;
    int64_t cap = k->ticket.max_per_player > 0 ? k->ticket.max_per_player : MAX_TICKETS_PER_RECORD;
    if (e->tickets < 1 || e->tickets > cap)
        REJECT(out, "OUT_OF_RANGE", "%s is outside 1..the per-player cap", "tickets");
    if (e->amount_minor <= 0 ||
        e->amount_minor > (int64_t)e->tickets * k->ticket.price_minor * MAX_PERIODS_PER_SALE)
        REJECT(out, "OUT_OF_RANGE", "%s is not positive or exceeds a year of tickets",
               "amount_minor");
    if (upcase(&e->currency))
        out->fixes |= 1u << JP_FIX_CURRENCY_CASE;
    if (e->currency.len != 3 || memcmp(e->currency.ptr, k->currency, 3) != 0)
        REJECT(out, "WRONG_CURRENCY", "%s is not the country's currency", "currency");
    if (e->advertised_prize_minor < 0)
        REJECT(out, "OUT_OF_RANGE", "%s is negative", "advertised_prize_minor");
    char id[64];
    jp_draw_t draw;
    char err[128];
    memcpy(id, e->draw_id.ptr, e->draw_id.len); /* limits.draw_id < sizeof(id) */
    id[e->draw_id.len] = '\0';
    if (jp_calendar_parse_draw_id(c->calendar, id, &draw, err, sizeof(err)) != 0)
        REJECT(out, "BAD_DRAW_ID", "%s does not name a draw of the country's calendar", "draw_id");
    if (draw.time_ms < e->event_time || draw.time_ms > e->event_time + MAX_DRAW_AHEAD_MS)
        REJECT(out, "BAD_DRAW_ID", "%s is not an upcoming draw at event_time", "draw_id");
    out->draw_ms = draw.time_ms;
    if (e->channel == JP_SALE_CHANNEL_UNKNOWN)
        out->fixes |= 1u << JP_FIX_CHANNEL_UNKNOWN;
}

void jp_validate_customer(const jp_validator_t *v, jp_customer_event_t *e, int64_t kafka_ts_ms,
                          jp_verdict_t *out)
{
    start(out);
    const jp_field_limits_t *l = &v->limits;
    const entry_t *c = country_of(v, &e->country, out);
    if (!c || too_long(&e->event_id, l->event_id, "event_id", out) ||
        too_long(&e->customer_id, l->customer_id, "customer_id", out) ||
        (e->has_email && too_long(&e->email, l->email, "email", out)) ||
        too_long(&e->postcode, l->postcode, "postcode", out) ||
        (e->has_reason && too_long(&e->reason, l->reason, "reason", out)) ||
        empty(&e->event_id, "event_id", out) ||
        bad_time(v, e->event_time, kafka_ts_ms, out, "event_time"))
        return;
    int64_t cap = c->country->ticket.max_per_player > 0 ? c->country->ticket.max_per_player
                                                        : MAX_TICKETS_PER_RECORD;
    if (e->subscription_tickets < 0 || e->subscription_tickets > cap)
        REJECT(out, "OUT_OF_RANGE", "%s is outside 0..the per-player cap", "subscription_tickets");
    if (e->type == JP_CUSTOMER_EVENT_UNKNOWN)
        REJECT(out, "UNKNOWN_TYPE", "%s is a type this engine cannot apply", "type");
    if (e->customer_id.len == 0)
        REJECT(out, "MISSING_FIELD", "%s is empty", "customer_id");
}

void jp_validate_draw(const jp_validator_t *v, jp_draw_result_t *e, int64_t kafka_ts_ms,
                      jp_verdict_t *out)
{
    start(out);
    const jp_field_limits_t *l = &v->limits;
    const entry_t *c = country_of(v, &e->country, out);
    if (!c || too_long(&e->draw_id, l->draw_id, "draw_id", out) ||
        too_long(&e->winning_sector, l->winning_sector, "winning_sector", out))
        return;
    if ((int64_t)e->prizes_paid.n > l->prizes_paid)
        REJECT(out, "FIELD_TOO_LONG", "%s has more items than limits.%s (%lld)", "prizes_paid",
               "prizes_paid", (long long)l->prizes_paid);
    for (size_t i = 0; i < e->prizes_paid.n; i++)
        if (too_long(&((const jp_prize_paid_t *)e->prizes_paid.items)[i].kind, l->prize_kind,
                     "prize_kind", out))
            return;
    if (bad_time(v, e->draw_time, kafka_ts_ms, out, "draw_time"))
        return;
    char id[64], err[128];
    jp_draw_t draw;
    memcpy(id, e->draw_id.ptr, e->draw_id.len); /* limits.draw_id < sizeof(id) */
    id[e->draw_id.len] = '\0';
    if (jp_calendar_parse_draw_id(c->calendar, id, &draw, err, sizeof(err)) != 0 ||
        draw.time_ms != e->draw_time)
        REJECT(out, "BAD_DRAW_ID", "%s does not match a draw of the calendar at draw_time",
               "draw_id");
    if (e->headline_prize_minor < 0 || e->tickets_in_winning_postcode < 0)
        REJECT(out, "OUT_OF_RANGE", "%s is negative",
               e->headline_prize_minor < 0 ? "headline_prize_minor"
                                           : "tickets_in_winning_postcode");
    const jp_prize_paid_t *p = e->prizes_paid.items;
    for (size_t i = 0; i < e->prizes_paid.n; i++)
        if (p[i].amount_minor < 0 || p[i].winners < 0)
            REJECT(out, "OUT_OF_RANGE", "%s has a negative amount or winner count", "prizes_paid");
}
