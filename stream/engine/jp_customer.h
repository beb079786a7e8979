/*
 * jp_customer: the per-customer state kept under the customer's token.
 *
 * Every update is order-independent: status and tickets held follow the
 * event with the latest event time (ties by type), sign-up is the earliest
 * sign-up, last activity the latest event, and purchases and payment
 * failures are counted in weekly buckets of a 13-week ring aligned to event
 * time (a bucket that falls out of the ring is dropped whichever way the
 * events arrived). So the state depends on the set of applied events only.
 *
 * Two short histories serve questions "as of" an event time, asked after
 * later events may already have been applied (the order across input
 * partitions is not deterministic, the answers must be):
 *
 * - Holding points (jp_customer_hold): what the customer holds - a
 *   subscription of n tickets on a postcode (by its token), a lapsed
 *   subscription, nothing - after each event that says so (lifecycle
 *   events, subscription sales, an erasure), sorted by (event time, rank,
 *   value). The holding at time t is the value of the last point at or
 *   before t. Inserting a point changes that step function on [t, next
 *   point) only, and jp_customer_hold returns exactly those changes, so
 *   whoever sums them per postcode (jp_task's holdings) gets, for every
 *   time, the sum of the customers' holdings at that time - whatever the
 *   order the points arrived in. Points older than the caller's horizon
 *   (before which nothing can arrive any more: it would be LATE) are
 *   dropped but the last of them, which carries the value at the horizon.
 * - Lifecycle history: the JP_CUSTOMER_LIFE latest sign-ups, cancellations,
 *   payment failures and reactivations (time and type; the set of the
 *   latest is order-independent), and a count of renewal sales. The churn
 *   model reads features as of an example's time and its label (a
 *   cancellation within a horizon after it) from them
 *   (jp_customer_asof); answers are exact while fewer than
 *   JP_CUSTOMER_LIFE lifecycle events happened after the time asked about.
 */
#ifndef JP_CUSTOMER_H
#define JP_CUSTOMER_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_events.h"

#define JP_CUSTOMER_WEEKS  13
#define JP_CUSTOMER_POINTS 8 /* holding points kept */
#define JP_CUSTOMER_LIFE   8 /* lifecycle events kept */

typedef enum {
    JP_CUSTOMER_STATUS_UNKNOWN,
    JP_CUSTOMER_STATUS_ACTIVE,
    JP_CUSTOMER_STATUS_CANCELLED
} jp_customer_status_t;

/* What a customer holds. */
typedef enum {
    JP_HOLD_NONE = 0,   /* nothing known, or erased */
    JP_HOLD_ACTIVE = 1, /* a subscription in force */
    JP_HOLD_LAPSED = 2  /* cancelled, not reactivated */
} jp_hold_class_t;

/* One holding point: the holding after an event. */
typedef struct jp_customer_point_s {
    int64_t t;
    int32_t rank;      /* tie-break of events at the same instant (jp_customer_rank) */
    int32_t tickets;   /* subscription tickets held (0 unless ACTIVE) */
    uint64_t postcode; /* the postcode's token (jp_task: a keyed hash), 0: unknown */
    uint8_t cls;       /* jp_hold_class_t */
} jp_customer_point_t;

/* A change of the holding step function at time t: from -> to (the
 * postcode, tickets and class of each). */
typedef struct jp_customer_change_s {
    int64_t t;
    uint64_t from_postcode, to_postcode;
    int32_t from_tickets, to_tickets;
    uint8_t from_cls, to_cls;
} jp_customer_change_t;

typedef struct jp_customer_life_s {
    int64_t t;
    uint8_t type; /* jp_customer_event_type_t */
} jp_customer_life_t;

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
    int32_t renewals; /* RENEWAL sales applied */
    uint8_t n_points, n_life;
    jp_customer_point_t points[JP_CUSTOMER_POINTS]; /* sorted (see above) */
    jp_customer_life_t life[JP_CUSTOMER_LIFE];      /* sorted by (t, type) */
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

/* The rank of an event at the same instant as another: lifecycle events
 * above sales, then by type (as the status tie-break). */
int32_t jp_customer_rank_event(const jp_customer_event_t *e);
int32_t jp_customer_rank_sale(const jp_sale_event_t *e);

/* Inserts a holding point (an exact duplicate is a no-op). Writes the
 * changes of the holding step function it causes into out (at most 2:
 * at p->t, and back at the next point's time when p falls between two
 * points) and returns how many. horizon: no point older than it will be
 * inserted any more; the points before it are dropped but the last. When
 * more than JP_CUSTOMER_POINTS remain, the oldest go (then the history
 * before them is lost: only with that many holding changes of one customer
 * newer than the horizon). */
size_t jp_customer_hold(jp_customer_t *c, const jp_customer_point_t *p, int64_t horizon,
                        jp_customer_change_t out[2]);
/* The holding now: the last point's (class NONE and 0 without points). */
void jp_customer_holding(const jp_customer_t *c, jp_customer_point_t *out);

/* What the churn model reads of a customer as of time t. */
typedef struct jp_customer_asof_s {
    int64_t signup_ms;   /* the earliest sign-up before t (0: none seen) */
    int32_t failures;    /* payment failures before t since the last reactivation before t */
    int32_t reactivated; /* 1: a reactivation before t */
    int32_t cancelled;   /* cancellations in [t, t + horizon_ms) */
    int32_t lifecycle;   /* lifecycle events kept (at most JP_CUSTOMER_LIFE) */
} jp_customer_asof_t;
void jp_customer_asof(const jp_customer_t *c, int64_t t, int64_t horizon_ms,
                      jp_customer_asof_t *out);

/* Encoding (jp_bytes, tag "CUST", version 3): times and counts as zigzag
 * varints, the week rings as a bit mask of non-zero weeks plus their
 * values - about 30 bytes for a typical subscriber instead of version 1's
 * fixed 151 (it is written for every active customer at every commit, to
 * RocksDB and the changelog) - then (version 3) the renewal count, the
 * holding points (times as varints, the postcode token as 8 bytes) and
 * the lifecycle history: about 50 bytes for a subscriber with one point.
 * encode writes at most JP_CUSTOMER_ENCODED_MAX bytes into out and returns
 * how many (no allocation, for the per-event path); serialize returns the
 * same bytes in a malloc'd buffer. deserialize reads versions 1 to 3
 * (older ones without histories). */
#define JP_CUSTOMER_ENCODED_MAX                                                                    \
    (6 + 3 * 10 + 5 + 1 + 5 + 10 + 4 + 2 * JP_CUSTOMER_WEEKS * 5 + 5 + 2 +                         \
     JP_CUSTOMER_POINTS * (10 + 5 + 5 + 8 + 1) + JP_CUSTOMER_LIFE * (10 + 1))
size_t jp_customer_encode(const jp_customer_t *c, uint8_t out[JP_CUSTOMER_ENCODED_MAX]);
uint8_t *jp_customer_serialize(const jp_customer_t *c, size_t *len);
int jp_customer_deserialize(const void *buf, size_t len, jp_customer_t *out);

#endif
