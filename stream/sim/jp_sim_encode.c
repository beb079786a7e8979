/*
 * jp_sim_encode: hand-written Avro writers for the simulator's records.
 * The generic path (jp_serde_encode -> jp_avro_plan_encode) formats the
 * subject name, looks up the id and appends field by field through a
 * growing buffer; the simulator writes millions of records of three fixed
 * types, so it sizes the record once (jp_sim_encode_bound) and writes every
 * field with plain stores. The field order below is the schemas' order;
 * jp_sim_encode_check guards against the schemas moving on without this
 * file.
 */
#include "sim/jp_sim_encode.h"

#include <stdlib.h>
#include <string.h>

#include "serde/jp_serde.h"

#include "model/base/jp_endian.h"

/* The symbol counts of the schemas' enums (the generic encoder refuses
 * values outside them). */
#define SALE_CHANNELS     7
#define PURCHASE_KINDS    4
#define CUSTOMER_EV_TYPES 7
#define PRIZE_KINDS       3
#define VARINT_MAX        10

static unsigned char *put_long(unsigned char *o, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint64_t z = (u << 1) ^ (0 - (u >> 63)); /* zig-zag */
    while (z & ~(uint64_t)0x7f) {
        *o++ = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    *o++ = (unsigned char)z;
    return o;
}

static unsigned char *put_str(unsigned char *o, const jp_avro_str_t *s)
{
    o = put_long(o, (int64_t)s->len);
    if (s->len)
        memcpy(o, s->ptr, s->len);
    return o + s->len;
}

static int str_ok(const jp_avro_str_t *s)
{
    return !s->len || s->ptr;
}

static unsigned char *put_frame(unsigned char *o, int32_t id)
{
    o[0] = 0;
    jp_be32_put(o + 1, (uint32_t)id);
    return o + 5;
}

static size_t sale_bound(const jp_sale_event_t *s)
{
    return 5 + 13 * VARINT_MAX + s->event_id.len + s->country.len + s->customer_id.len +
           s->postcode.len + s->currency.len + s->draw_id.len +
           (s->has_campaign ? s->campaign.len : 0);
}

static size_t sale(const jp_sale_event_t *s, int32_t id, unsigned char *out)
{
    if (!str_ok(&s->event_id) || !str_ok(&s->country) || !str_ok(&s->customer_id) ||
        !str_ok(&s->postcode) || !str_ok(&s->currency) || !str_ok(&s->draw_id) ||
        (s->has_campaign && !str_ok(&s->campaign)) || (int)s->channel < 0 ||
        (int)s->channel >= SALE_CHANNELS ||
        (s->has_purchase && ((int)s->purchase < 0 || (int)s->purchase >= PURCHASE_KINDS)))
        return 0;
    unsigned char *o = put_frame(out, id);
    o = put_str(o, &s->event_id);
    o = put_str(o, &s->country);
    o = put_long(o, s->event_time);
    o = put_str(o, &s->customer_id);
    o = put_str(o, &s->postcode);
    o = put_long(o, (int64_t)s->channel);
    o = put_long(o, s->tickets);
    o = put_long(o, s->amount_minor);
    o = put_str(o, &s->currency);
    o = put_str(o, &s->draw_id);
    o = put_long(o, s->advertised_prize_minor);
    if (s->has_campaign) {
        *o++ = 2; /* branch 1, zig-zag */
        o = put_str(o, &s->campaign);
    } else {
        *o++ = 0;
    }
    if (s->has_purchase) {
        *o++ = 2;
        o = put_long(o, (int64_t)s->purchase);
    } else {
        *o++ = 0;
    }
    return (size_t)(o - out);
}

static size_t customer_bound(const jp_customer_event_t *c)
{
    return 5 + 11 * VARINT_MAX + c->event_id.len + c->country.len + c->customer_id.len +
           (c->has_email ? c->email.len : 0) + c->postcode.len +
           (c->has_reason ? c->reason.len : 0);
}

static size_t customer(const jp_customer_event_t *c, int32_t id, unsigned char *out)
{
    if (!str_ok(&c->event_id) || !str_ok(&c->country) || !str_ok(&c->customer_id) ||
        (c->has_email && !str_ok(&c->email)) || !str_ok(&c->postcode) ||
        (c->has_reason && !str_ok(&c->reason)) || (int)c->type < 0 ||
        (int)c->type >= CUSTOMER_EV_TYPES)
        return 0;
    unsigned char *o = put_frame(out, id);
    o = put_str(o, &c->event_id);
    o = put_str(o, &c->country);
    o = put_long(o, c->event_time);
    o = put_str(o, &c->customer_id);
    if (c->has_email) {
        *o++ = 2;
        o = put_str(o, &c->email);
    } else {
        *o++ = 0;
    }
    o = put_str(o, &c->postcode);
    o = put_long(o, (int64_t)c->type);
    o = put_long(o, c->subscription_tickets);
    if (c->has_reason) {
        *o++ = 2;
        o = put_str(o, &c->reason);
    } else {
        *o++ = 0;
    }
    return (size_t)(o - out);
}

static size_t draw_bound(const jp_draw_result_t *d)
{
    size_t n = 5 + 9 * VARINT_MAX + d->country.len + d->draw_id.len + d->winning_sector.len;
    const jp_prize_paid_t *p = d->prizes_paid.items;
    if (p)
        for (size_t i = 0; i < d->prizes_paid.n; i++)
            n += 3 * VARINT_MAX + p[i].kind.len;
    return n;
}

static size_t draw(const jp_draw_result_t *d, int32_t id, unsigned char *out)
{
    const jp_prize_paid_t *p = d->prizes_paid.items;
    if (!str_ok(&d->country) || !str_ok(&d->draw_id) || !str_ok(&d->winning_sector) ||
        (int)d->prize_kind < 0 || (int)d->prize_kind >= PRIZE_KINDS || (d->prizes_paid.n && !p))
        return 0;
    for (size_t i = 0; i < d->prizes_paid.n; i++)
        if (!str_ok(&p[i].kind))
            return 0;
    unsigned char *o = put_frame(out, id);
    o = put_str(o, &d->country);
    o = put_str(o, &d->draw_id);
    o = put_long(o, d->draw_time);
    o = put_long(o, d->headline_prize_minor);
    o = put_long(o, (int64_t)d->prize_kind);
    o = put_str(o, &d->winning_sector);
    o = put_long(o, d->tickets_in_winning_postcode);
    /* one block of n items, then the empty block that ends the array */
    if (d->prizes_paid.n) {
        o = put_long(o, (int64_t)d->prizes_paid.n);
        for (size_t i = 0; i < d->prizes_paid.n; i++) {
            o = put_str(o, &p[i].kind);
            o = put_long(o, p[i].winners);
            o = put_long(o, p[i].amount_minor);
        }
    }
    *o++ = 0;
    return (size_t)(o - out);
}

size_t jp_sim_encode_bound(jp_event_type_t type, const void *ev)
{
    switch (type) {
    case JP_EVENT_SALE:
        return sale_bound(ev);
    case JP_EVENT_CUSTOMER:
        return customer_bound(ev);
    case JP_EVENT_DRAW:
        return draw_bound(ev);
    default:
        return 0;
    }
}

size_t jp_sim_encode(jp_event_type_t type, const void *ev, int32_t schema_id, unsigned char *out)
{
    switch (type) {
    case JP_EVENT_SALE:
        return sale(ev, schema_id, out);
    case JP_EVENT_CUSTOMER:
        return customer(ev, schema_id, out);
    case JP_EVENT_DRAW:
        return draw(ev, schema_id, out);
    default:
        return 0;
    }
}

/* ---- self-check ------------------------------------------------------------ */

/* A registry that hands out one fixed id and remembers nothing: the check
 * must not touch the run's registry (ids there follow first use). */
#define CHECK_ID 0x01020304

static jp_serde_err_t check_register(void *ctx, const char *subject, const char *schema_json,
                                     int32_t *id_out, char *errstr, size_t errstr_size)
{
    (void)ctx;
    (void)subject;
    (void)schema_json;
    (void)errstr;
    (void)errstr_size;
    *id_out = CHECK_ID;
    return JP_SERDE_OK;
}

static int same(jp_serde_t *s, jp_event_type_t type, const void *ev)
{
    jp_avro_buf_t b = {0};
    char err[256];
    int ok = 0;
    if (jp_serde_encode(s, (int)type, "check", ev, &b, err, sizeof(err)) == JP_SERDE_OK) {
        size_t bound = jp_sim_encode_bound(type, ev);
        unsigned char *d = malloc(bound);
        if (d) {
            size_t n = jp_sim_encode(type, ev, CHECK_ID, d);
            ok = n == b.len && n <= bound && memcmp(d, b.data, n) == 0;
        }
        free(d);
    }
    jp_avro_buf_free(&b);
    return ok;
}

int jp_sim_encode_check(void)
{
    jp_serde_config_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.registry.register_schema = check_register;
    char err[256];
    jp_serde_t *s = jp_serde_new(&sc, err, sizeof(err));
    if (!s)
        return 0;
    int ok = 1;
    /* large and negative values, empty and long strings, every optional */
    for (int v = 0; v < 4 && ok; v++) {
        jp_sale_event_t sa;
        memset(&sa, 0, sizeof(sa));
        sa.event_id = jp_avro_str("0f8fad5b-d9cb-469f-a165-70867728950e");
        sa.country = jp_avro_str(v == 3 ? "" : "GB");
        sa.event_time = v ? 1767571200123LL : -1;
        sa.customer_id = jp_avro_str("GB-0123456789abcdef");
        sa.postcode = jp_avro_str("AB3 7XY");
        sa.channel = (jp_sale_channel_t)(v * 2);
        sa.tickets = v == 2 ? -3 : 1 << (7 * v);
        sa.amount_minor = v == 1 ? INT64_MIN : INT64_MAX - v;
        sa.currency = jp_avro_str("GBP");
        sa.draw_id = jp_avro_str("GB-20260110-saturday");
        sa.advertised_prize_minor = 3000000 * (int64_t)v;
        sa.has_campaign = (uint8_t)(v & 1);
        sa.campaign = jp_avro_str(v & 1 ? "gb-spring-tv" : "");
        sa.has_purchase = (uint8_t)(v >= 2);
        sa.purchase = (jp_sale_purchase_t)v;
        ok = same(s, JP_EVENT_SALE, &sa);

        jp_customer_event_t cu;
        memset(&cu, 0, sizeof(cu));
        cu.event_id = sa.event_id;
        cu.country = sa.country;
        cu.event_time = sa.event_time;
        cu.customer_id = sa.customer_id;
        cu.has_email = (uint8_t)(v & 1);
        cu.email = jp_avro_str("olivia.smith12@example.gb");
        cu.postcode = sa.postcode;
        cu.type = (jp_customer_event_type_t)(v + 2);
        cu.subscription_tickets = v == 2 ? -1 : 300 * v;
        cu.has_reason = (uint8_t)(v >= 2);
        cu.reason = jp_avro_str("voluntary");
        ok = ok && same(s, JP_EVENT_CUSTOMER, &cu);

        jp_prize_paid_t paid[3] = {{jp_avro_str("headline"), 3, 9000000},
                                   {jp_avro_str("street"), 3, 30000},
                                   {jp_avro_str(""), -1, -5}};
        jp_draw_result_t dr;
        memset(&dr, 0, sizeof(dr));
        dr.country = sa.country;
        dr.draw_id = sa.draw_id;
        dr.draw_time = sa.event_time;
        dr.headline_prize_minor = sa.amount_minor;
        dr.prize_kind = (jp_prize_kind_t)(v % 3);
        dr.winning_sector = jp_avro_str(v == 2 ? "" : "AB3 7");
        dr.tickets_in_winning_postcode = 70000 * v;
        dr.prizes_paid = (jp_avro_array_t){v ? paid : NULL, (size_t)v % 4};
        ok = ok && same(s, JP_EVENT_DRAW, &dr);
    }
    jp_serde_free(s);
    return ok;
}
