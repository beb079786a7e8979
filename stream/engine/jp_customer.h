/*
 * jp_customer: the per-customer state kept under the customer's token.
 *
 * Every update is order-independent: status and tickets held follow the
 * event with the latest event time (ties by type), sign-up is the earliest
 * sign-up, last activity the latest event, and purchases and payment
 * failures are counted in weekly buckets of a 13-week ring aligned to event
 * time (a bucket that falls out of the ring is dropped whichever way the
 * events arrived). So the state depends on the set of applied events only.
 */
#ifndef JP_CUSTOMER_H
#define JP_CUSTOMER_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"

#define JP_CUSTOMER_WEEKS 13

typedef enum {
    JP_CUSTOMER_STATUS_UNKNOWN,
    JP_CUSTOMER_STATUS_ACTIVE,
    JP_CUSTOMER_STATUS_CANCELLED
} jp_customer_status_t;

typedef struct jp_customer_s {
    int64_t signup_ms;        /* earliest sign-up; 0: none seen */
    int64_t last_activity_ms; /* latest event of any kind */
    int64_t status_ms;        /* event time of the status in force */
    int32_t status_rank;      /* tie-break of events at the same instant */
    uint8_t status;           /* jp_customer_status_t */
    int32_t tickets_held;
    int64_t newest_week; /* week index (event time / 1 week) of the ring's head */
    int32_t week_tickets[JP_CUSTOMER_WEEKS]; /* by week index mod 13 */
    int32_t week_failures[JP_CUSTOMER_WEEKS];
} jp_customer_t;

/* Features at event time now_ms. */
typedef struct jp_customer_features_s {
    double tenure_days;
    int32_t tickets_held;
    int32_t tickets_4w, tickets_13w;
    int32_t payment_failures_90d;
    double days_since_activity;
    uint8_t status;
} jp_customer_features_t;

void jp_customer_init(jp_customer_t *c);
void jp_customer_apply_sale(jp_customer_t *c, const jp_sale_event_t *e);
void jp_customer_apply_event(jp_customer_t *c, const jp_customer_event_t *e);
void jp_customer_features(const jp_customer_t *c, int64_t now_ms, jp_customer_features_t *out);

/* Encoding (jp_bytes, tag "CUST", version 2): times and counts as zigzag
 * varints, the week rings as a bit mask of non-zero weeks plus their
 * values - about 30 bytes for a typical subscriber instead of version 1's
 * fixed 151 (it is written for every active customer at every commit, to
 * RocksDB and the changelog). encode writes at most JP_CUSTOMER_ENCODED_MAX
 * bytes into out and returns how many (no allocation, for the per-event
 * path); serialize returns the same bytes in a malloc'd buffer.
 * deserialize reads versions 1 and 2. */
#define JP_CUSTOMER_ENCODED_MAX (6 + 3 * 10 + 5 + 1 + 5 + 10 + 4 + 2 * JP_CUSTOMER_WEEKS * 5)
size_t jp_customer_encode(const jp_customer_t *c, uint8_t out[JP_CUSTOMER_ENCODED_MAX]);
uint8_t *jp_customer_serialize(const jp_customer_t *c, size_t *len);
int jp_customer_deserialize(const void *buf, size_t len, jp_customer_t *out);

#endif
