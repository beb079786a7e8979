/*
 * jp_customer: see the header for why every update commutes. The weekly
 * ring keeps 13 weeks (91 days), which serves both the 13-week purchase
 * count and the 90-day payment-failure count. The histories are small
 * sorted arrays (a customer has one or two holding points within any
 * horizon and a handful of lifecycle events a year): insertion by memmove
 * beats any structure at these sizes.
 */
#include "engine/jp_customer.h"

#include <stdlib.h>
#include <string.h>

#include "model/base/jp_bytes.h"

#define WEEK_MS      (7LL * 86400000LL)
#define CUSTOMER_TAG "CUST"
#define CUSTOMER_VER 3

void jp_customer_init(jp_customer_t *c)
{
    memset(c, 0, sizeof(*c));
    c->newest_week = INT64_MIN;
    c->status_ms = INT64_MIN;
}

static int64_t week_of(int64_t t)
{
    return t >= 0 ? t / WEEK_MS : -((-t + WEEK_MS - 1) / WEEK_MS);
}

/* Moves the ring's head to week w, clearing the weeks that fall out. */
static void advance(jp_customer_t *c, int64_t w)
{
    if (c->newest_week == INT64_MIN) {
        c->newest_week = w;
        return;
    }
    if (w <= c->newest_week)
        return;
    int64_t steps = w - c->newest_week;
    if (steps >= JP_CUSTOMER_WEEKS) {
        memset(c->week_tickets, 0, sizeof(c->week_tickets));
        memset(c->week_failures, 0, sizeof(c->week_failures));
    } else {
        for (int64_t k = c->newest_week + 1; k <= w; k++) {
            size_t i = (size_t)(((k % JP_CUSTOMER_WEEKS) + JP_CUSTOMER_WEEKS) % JP_CUSTOMER_WEEKS);
            c->week_tickets[i] = 0;
            c->week_failures[i] = 0;
        }
    }
    c->newest_week = w;
}

/* Bucket of event time t, or -1 if it is older than the ring. */
static int bucket(jp_customer_t *c, int64_t t)
{
    int64_t w = week_of(t);
    advance(c, w);
    if (w <= c->newest_week - JP_CUSTOMER_WEEKS)
        return -1;
    return (int)(((w % JP_CUSTOMER_WEEKS) + JP_CUSTOMER_WEEKS) % JP_CUSTOMER_WEEKS);
}

static void touch(jp_customer_t *c, int64_t t)
{
    if (t > c->last_activity_ms)
        c->last_activity_ms = t;
}

void jp_customer_apply_sale(jp_customer_t *c, const jp_sale_event_t *e)
{
    touch(c, e->event_time);
    int b = bucket(c, e->event_time);
    if (b >= 0)
        c->week_tickets[b] += e->tickets;
    if (e->has_purchase && e->purchase == JP_SALE_PURCHASE_RENEWAL)
        c->renewals++;
}

static int life_cmp(const jp_customer_life_t *a, int64_t t, uint8_t type)
{
    if (a->t != t)
        return a->t < t ? -1 : 1;
    return (a->type > type) - (a->type < type);
}

/* Keeps the JP_CUSTOMER_LIFE latest lifecycle events: which ones they are
 * does not depend on the order they came in. */
static void life_add(jp_customer_t *c, int64_t t, uint8_t type)
{
    size_t n = c->n_life, i = n;
    while (i > 0 && life_cmp(&c->life[i - 1], t, type) > 0)
        i--;
    if (i > 0 && life_cmp(&c->life[i - 1], t, type) == 0)
        return; /* the same event again */
    if (n == JP_CUSTOMER_LIFE) {
        if (i == 0)
            return; /* older than everything kept */
        memmove(&c->life[0], &c->life[1], (i - 1) * sizeof(c->life[0]));
        i--;
    } else {
        memmove(&c->life[i + 1], &c->life[i], (n - i) * sizeof(c->life[0]));
        c->n_life++;
    }
    c->life[i] = (jp_customer_life_t){t, type};
}

void jp_customer_apply_event(jp_customer_t *c, const jp_customer_event_t *e)
{
    touch(c, e->event_time);
    if (e->type == JP_CUSTOMER_EVENT_SIGNUP && (c->signup_ms == 0 || e->event_time < c->signup_ms))
        c->signup_ms = e->event_time;
    if (e->type == JP_CUSTOMER_EVENT_SIGNUP || e->type == JP_CUSTOMER_EVENT_CANCEL ||
        e->type == JP_CUSTOMER_EVENT_PAYMENT_FAILED || e->type == JP_CUSTOMER_EVENT_REACTIVATE)
        life_add(c, e->event_time, (uint8_t)e->type);
    if (e->type == JP_CUSTOMER_EVENT_PAYMENT_FAILED) {
        int b = bucket(c, e->event_time);
        if (b >= 0)
            c->week_failures[b]++;
        return;
    }
    uint8_t status;
    switch (e->type) {
    case JP_CUSTOMER_EVENT_SIGNUP:
    case JP_CUSTOMER_EVENT_REACTIVATE:
        status = JP_CUSTOMER_STATUS_ACTIVE;
        break;
    case JP_CUSTOMER_EVENT_CANCEL:
        status = JP_CUSTOMER_STATUS_CANCELLED;
        break;
    default:
        status = c->status; /* UPDATE: tickets only */
        break;
    }
    /* The latest event wins; at the same instant the higher type wins, so
     * the result does not depend on arrival order. */
    int32_t rank = (int32_t)e->type;
    if (e->event_time > c->status_ms || (e->event_time == c->status_ms && rank > c->status_rank)) {
        c->status_ms = e->event_time;
        c->status_rank = rank;
        c->status = status;
        c->tickets_held = e->subscription_tickets;
    }
}

static int32_t sum_weeks(const jp_customer_t *c, const int32_t *ring, int64_t now_w, int weeks)
{
    int32_t s = 0;
    for (int k = 0; k < weeks; k++) {
        int64_t w = now_w - k;
        if (c->newest_week == INT64_MIN || w > c->newest_week ||
            w <= c->newest_week - JP_CUSTOMER_WEEKS)
            continue;
        s += ring[((w % JP_CUSTOMER_WEEKS) + JP_CUSTOMER_WEEKS) % JP_CUSTOMER_WEEKS];
    }
    return s;
}

void jp_customer_features(const jp_customer_t *c, int64_t now_ms, jp_customer_features_t *out)
{
    int64_t w = week_of(now_ms);
    out->tenure_days = c->signup_ms ? (double)(now_ms - c->signup_ms) / 86400000.0 : 0.0;
    out->tickets_held = c->tickets_held;
    out->tickets_4w = sum_weeks(c, c->week_tickets, w, 4);
    out->tickets_13w = sum_weeks(c, c->week_tickets, w, 13);
    out->payment_failures_90d = sum_weeks(c, c->week_failures, w, 13);
    out->days_since_activity = (double)(now_ms - c->last_activity_ms) / 86400000.0;
    out->status = c->status;
}

int32_t jp_customer_rank_event(const jp_customer_event_t *e)
{
    return 16 + (int32_t)e->type;
}

int32_t jp_customer_rank_sale(const jp_sale_event_t *e)
{
    return e->has_purchase ? (int32_t)e->purchase : (int32_t)JP_SALE_PURCHASE_UNKNOWN;
}

/* Points are ordered by time, rank, then value, so two different events
 * at one instant with one rank still have one order. */
static int point_cmp(const jp_customer_point_t *a, const jp_customer_point_t *b)
{
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->tickets != b->tickets)
        return a->tickets < b->tickets ? -1 : 1;
    return (a->postcode > b->postcode) - (a->postcode < b->postcode);
}

static int same_holding(const jp_customer_point_t *a, const jp_customer_point_t *b)
{
    return a->cls == b->cls && a->tickets == b->tickets && a->postcode == b->postcode;
}

static jp_customer_change_t change(int64_t t, const jp_customer_point_t *from,
                                   const jp_customer_point_t *to)
{
    return (jp_customer_change_t){t,           from->postcode, to->postcode, from->tickets,
                                  to->tickets, from->cls,      to->cls};
}

size_t jp_customer_hold(jp_customer_t *c, const jp_customer_point_t *p, int64_t horizon,
                        jp_customer_change_t out[2])
{
    static const jp_customer_point_t none = {0, 0, 0, 0, JP_HOLD_NONE};
    size_t n = c->n_points, i = n, k = 0;
    while (i > 0 && point_cmp(&c->points[i - 1], p) > 0)
        i--;
    if (i > 0 && point_cmp(&c->points[i - 1], p) == 0)
        return 0;
    /* The step function changes on [p->t, next point) only. */
    const jp_customer_point_t *prev = i > 0 ? &c->points[i - 1] : &none;
    if (!same_holding(prev, p)) {
        out[k++] = change(p->t, prev, p);
        if (i < n)
            out[k++] = change(c->points[i].t, p, prev);
    }
    if (n == JP_CUSTOMER_POINTS) {
        if (i == 0)
            return k; /* older than every point kept: nothing to keep */
        memmove(&c->points[0], &c->points[1], (i - 1) * sizeof(c->points[0]));
        i--;
        n--;
    }
    memmove(&c->points[i + 1], &c->points[i], (n - i) * sizeof(c->points[0]));
    c->points[i] = *p;
    n++;
    /* Before the horizon only the last point matters. */
    size_t last_old = 0;
    while (last_old + 1 < n && c->points[last_old + 1].t < horizon)
        last_old++;
    if (last_old) {
        memmove(&c->points[0], &c->points[last_old], (n - last_old) * sizeof(c->points[0]));
        n -= last_old;
    }
    c->n_points = (uint8_t)n;
    return k;
}

void jp_customer_holding(const jp_customer_t *c, jp_customer_point_t *out)
{
    static const jp_customer_point_t none = {0, 0, 0, 0, JP_HOLD_NONE};
    *out = c->n_points ? c->points[c->n_points - 1] : none;
}

void jp_customer_asof(const jp_customer_t *c, int64_t t, int64_t horizon_ms,
                      jp_customer_asof_t *out)
{
    memset(out, 0, sizeof(*out));
    out->signup_ms = c->signup_ms && c->signup_ms < t ? c->signup_ms : 0;
    out->lifecycle = c->n_life;
    int counting = 1; /* failures count back to the last reactivation */
    for (size_t i = c->n_life; i-- > 0;) {
        const jp_customer_life_t *e = &c->life[i];
        if (e->t >= t) {
            out->cancelled += e->type == JP_CUSTOMER_EVENT_CANCEL && e->t < t + horizon_ms;
            continue;
        }
        if (e->type == JP_CUSTOMER_EVENT_REACTIVATE) {
            out->reactivated = 1;
            counting = 0;
        }
        out->failures += counting && e->type == JP_CUSTOMER_EVENT_PAYMENT_FAILED;
    }
}

size_t jp_customer_encode(const jp_customer_t *c, uint8_t out[JP_CUSTOMER_ENCODED_MAX])
{
    jp_bytes_writer_t b;
    jp_bytes_writer_init_fixed(&b, out, JP_CUSTOMER_ENCODED_MAX);
    jp_bytes_put_header(&b, CUSTOMER_TAG, CUSTOMER_VER);
    jp_bytes_put_varint(&b, c->signup_ms);
    jp_bytes_put_varint(&b, c->last_activity_ms);
    jp_bytes_put_varint(&b, c->status_ms);
    jp_bytes_put_varint(&b, c->status_rank);
    jp_bytes_put_u8(&b, c->status);
    jp_bytes_put_varint(&b, c->tickets_held);
    jp_bytes_put_varint(&b, c->newest_week);
    uint32_t mask = 0;
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++)
        mask |= (uint32_t)(c->week_tickets[i] != 0) << i | (uint32_t)(c->week_failures[i] != 0)
                                                               << (JP_CUSTOMER_WEEKS + i);
    jp_bytes_put_u32(&b, mask);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++)
        if (c->week_tickets[i])
            jp_bytes_put_varint(&b, c->week_tickets[i]);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++)
        if (c->week_failures[i])
            jp_bytes_put_varint(&b, c->week_failures[i]);
    jp_bytes_put_varint(&b, c->renewals);
    jp_bytes_put_u8(&b, c->n_points);
    for (size_t i = 0; i < c->n_points; i++) {
        const jp_customer_point_t *p = &c->points[i];
        jp_bytes_put_varint(&b, p->t);
        jp_bytes_put_varint(&b, p->rank);
        jp_bytes_put_varint(&b, p->tickets);
        jp_bytes_put_u64(&b, p->postcode);
        jp_bytes_put_u8(&b, p->cls);
    }
    jp_bytes_put_u8(&b, c->n_life);
    for (size_t i = 0; i < c->n_life; i++) {
        jp_bytes_put_varint(&b, c->life[i].t);
        jp_bytes_put_u8(&b, c->life[i].type);
    }
    return b.len;
}

uint8_t *jp_customer_serialize(const jp_customer_t *c, size_t *len)
{
    uint8_t tmp[JP_CUSTOMER_ENCODED_MAX];
    size_t n = jp_customer_encode(c, tmp);
    uint8_t *buf = malloc(n);
    if (buf)
        memcpy(buf, tmp, n);
    if (len)
        *len = buf ? n : 0;
    return buf;
}

/* Version 1: every field fixed-width. */
static void customer_read_v1(jp_bytes_reader_t *r, jp_customer_t *c)
{
    c->signup_ms = jp_bytes_get_i64(r);
    c->last_activity_ms = jp_bytes_get_i64(r);
    c->status_ms = jp_bytes_get_i64(r);
    c->status_rank = (int32_t)jp_bytes_get_u32(r);
    c->status = jp_bytes_get_u8(r);
    c->tickets_held = (int32_t)jp_bytes_get_u32(r);
    c->newest_week = jp_bytes_get_i64(r);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++) {
        c->week_tickets[i] = (int32_t)jp_bytes_get_u32(r);
        c->week_failures[i] = (int32_t)jp_bytes_get_u32(r);
    }
}

/* A varint that must fit an int32 (else the reader fails). */
static int32_t customer_get_i32(jp_bytes_reader_t *r)
{
    int64_t v = jp_bytes_get_varint(r);
    if (v < INT32_MIN || v > INT32_MAX) {
        r->err = 1;
        return 0;
    }
    return (int32_t)v;
}

static void customer_read_v2(jp_bytes_reader_t *r, jp_customer_t *c)
{
    c->signup_ms = jp_bytes_get_varint(r);
    c->last_activity_ms = jp_bytes_get_varint(r);
    c->status_ms = jp_bytes_get_varint(r);
    c->status_rank = customer_get_i32(r);
    c->status = jp_bytes_get_u8(r);
    c->tickets_held = customer_get_i32(r);
    c->newest_week = jp_bytes_get_varint(r);
    uint32_t mask = jp_bytes_get_u32(r);
    if (mask >> (2 * JP_CUSTOMER_WEEKS))
        r->err = 1;
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++)
        c->week_tickets[i] = mask >> i & 1 ? customer_get_i32(r) : 0;
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++)
        c->week_failures[i] = mask >> (JP_CUSTOMER_WEEKS + i) & 1 ? customer_get_i32(r) : 0;
}

/* Version 3: version 2, then the histories. */
static void customer_read_v3(jp_bytes_reader_t *r, jp_customer_t *c)
{
    customer_read_v2(r, c);
    c->renewals = customer_get_i32(r);
    c->n_points = jp_bytes_get_u8(r);
    if (c->n_points > JP_CUSTOMER_POINTS) {
        r->err = 1;
        return;
    }
    for (size_t i = 0; i < c->n_points; i++) {
        jp_customer_point_t *p = &c->points[i];
        p->t = jp_bytes_get_varint(r);
        p->rank = customer_get_i32(r);
        p->tickets = customer_get_i32(r);
        p->postcode = jp_bytes_get_u64(r);
        p->cls = jp_bytes_get_u8(r);
        if (p->cls > JP_HOLD_LAPSED || (i > 0 && point_cmp(&c->points[i - 1], p) >= 0))
            r->err = 1;
    }
    c->n_life = jp_bytes_get_u8(r);
    if (c->n_life > JP_CUSTOMER_LIFE) {
        r->err = 1;
        return;
    }
    for (size_t i = 0; i < c->n_life; i++) {
        c->life[i].t = jp_bytes_get_varint(r);
        c->life[i].type = jp_bytes_get_u8(r);
        if (i > 0 && life_cmp(&c->life[i - 1], c->life[i].t, c->life[i].type) >= 0)
            r->err = 1;
    }
}

int jp_customer_deserialize(const void *buf, size_t len, jp_customer_t *c)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    uint16_t ver = jp_bytes_get_header(&r, CUSTOMER_TAG, CUSTOMER_VER);
    jp_customer_init(c);
    if (ver == 1)
        customer_read_v1(&r, c);
    else if (ver == 2)
        customer_read_v2(&r, c);
    else
        customer_read_v3(&r, c);
    return jp_bytes_reader_done(&r) ? 0 : -1;
}
