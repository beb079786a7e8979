/*
 * jp_customer: see the header for why every update commutes. The weekly
 * ring keeps 13 weeks (91 days), which serves both the 13-week purchase
 * count and the 90-day payment-failure count.
 */
#include "jp_customer.h"

#include <stdlib.h>
#include <string.h>

#include "jp_bytes.h"

#define WEEK_MS      (7LL * 86400000LL)
#define CUSTOMER_TAG "CUST"
#define CUSTOMER_VER 1

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
}

void jp_customer_apply_event(jp_customer_t *c, const jp_customer_event_t *e)
{
    touch(c, e->event_time);
    if (e->type == JP_CUSTOMER_EVENT_SIGNUP && (c->signup_ms == 0 || e->event_time < c->signup_ms))
        c->signup_ms = e->event_time;
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

uint8_t *jp_customer_serialize(const jp_customer_t *c, size_t *len)
{
    jp_bytes_writer_t b;
    jp_bytes_writer_init(&b);
    jp_bytes_put_header(&b, CUSTOMER_TAG, CUSTOMER_VER);
    jp_bytes_put_i64(&b, c->signup_ms);
    jp_bytes_put_i64(&b, c->last_activity_ms);
    jp_bytes_put_i64(&b, c->status_ms);
    jp_bytes_put_u32(&b, (uint32_t)c->status_rank);
    jp_bytes_put_u8(&b, c->status);
    jp_bytes_put_u32(&b, (uint32_t)c->tickets_held);
    jp_bytes_put_i64(&b, c->newest_week);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++) {
        jp_bytes_put_u32(&b, (uint32_t)c->week_tickets[i]);
        jp_bytes_put_u32(&b, (uint32_t)c->week_failures[i]);
    }
    return jp_bytes_writer_take(&b, len);
}

int jp_customer_deserialize(const void *buf, size_t len, jp_customer_t *c)
{
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, buf, len);
    jp_bytes_get_header(&r, CUSTOMER_TAG, CUSTOMER_VER);
    c->signup_ms = jp_bytes_get_i64(&r);
    c->last_activity_ms = jp_bytes_get_i64(&r);
    c->status_ms = jp_bytes_get_i64(&r);
    c->status_rank = (int32_t)jp_bytes_get_u32(&r);
    c->status = jp_bytes_get_u8(&r);
    c->tickets_held = (int32_t)jp_bytes_get_u32(&r);
    c->newest_week = jp_bytes_get_i64(&r);
    for (int i = 0; i < JP_CUSTOMER_WEEKS; i++) {
        c->week_tickets[i] = (int32_t)jp_bytes_get_u32(&r);
        c->week_failures[i] = (int32_t)jp_bytes_get_u32(&r);
    }
    return jp_bytes_reader_done(&r) ? 0 : -1;
}
