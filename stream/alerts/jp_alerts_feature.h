/*
 * jp_alerts_feature: feature drift of one country between a reference set
 * of closed days and the current window of closed days.
 *
 * Contract:
 * - A day (jp_feat_day_t) gathers, from the records applied with event
 *   times in that UTC day: the advertised prize range and whether a sale
 *   carried a campaign, the tickets of every new subscription and every
 *   extra purchase (histograms by ticket count), renewals and payment
 *   failures, and the channels of new subscriptions; the day window's
 *   FeatureVector adds the sign-ups. Records of a day are all applied
 *   before its window's fact (any later one is LATE), so a closed day is
 *   final and the same in every run. A day without a sale or without a
 *   customer event of the country is incomplete (a silent source, not a
 *   distribution) and is left out of both windows
 *   (jp_feat_day_complete).
 * - Features (jp_feat_t):
 *     signups             numeric: one value per day, compared with PSI on
 *                         reference-quantile bins (small-sample bins and
 *                         smoothing, jp_drift_psi_small_sample) and KS.
 *                         Ties (counts repeat) are broken by a seeded key
 *                         per day, so both statistics see distinct ranks
 *                         and their rank null holds exactly. Sign-ups
 *                         follow the prize, so they are judged only when
 *                         every day of both windows advertised one prize
 *                         and carried no campaign (otherwise the sales
 *                         model's residuals judge them: concept drift).
 *     tickets_per_signup  categorical PSI of the pooled histograms (tickets
 *     tickets_per_extra   1..10, 11 or more), renewal outcomes (renewed,
 *     payment_failures    failed) and new-subscription channels, with the
 *     channel_mix         unseen bucket for categories the reference lacks.
 * - Thresholds are the (1 - alpha) quantiles of each statistic under no
 *   drift (jp_drift_null_threshold; jp_drift_psi_categorical_threshold, a
 *   seeded parametric bootstrap from the reference's shares), so they
 *   follow the sample sizes. A feature drifts when any of its statistics
 *   exceeds its threshold. Numeric thresholds depend only on the sizes and
 *   are cached per process (jp_feat_cache_t). A categorical threshold
 *   depends on the reference: the last one computed is kept in the
 *   feature's state (jp_feat_state_t, stored with it) and rescaled by
 *   (1/nref + 1/ncur); it is recomputed exactly whenever the statistic
 *   exceeds half the rescaled value, the reference's categories changed or
 *   half a year passed, so a decision never rests on the approximation.
 * - Windows too small to judge (fewer than 2 current days, fewer than 7
 *   reference days, categorical counts under min_count) give judged = 0.
 * - Deterministic: seeds come from the caller (country, feature, day).
 */
#ifndef JP_ALERTS_FEATURE_H
#define JP_ALERTS_FEATURE_H

#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"
#include "serde/jp_events.h"

#define JP_FEAT_TICKETS  12 /* histogram buckets: 0 (invalid), 1..10, 11 or more */
#define JP_FEAT_CHANNELS 7  /* jp_sale_channel_t */

typedef enum {
    JP_FEAT_SIGNUPS,
    JP_FEAT_TICKETS_PER_SIGNUP,
    JP_FEAT_TICKETS_PER_EXTRA,
    JP_FEAT_PAYMENT_FAILURES,
    JP_FEAT_CHANNEL_MIX,
    JP_FEAT__COUNT
} jp_feat_t;

/* "signups", ...; the names alerts.feature_drift.features takes. */
const char *jp_feat_name(jp_feat_t f);
/* The feature of a name, -1 if none. */
int jp_feat_by_name(const char *name);

typedef struct jp_feat_day_s {
    int64_t day; /* days since 1970-01-01 (UTC) */
    int closed;  /* its day window closed: final */
    int campaign;
    uint32_t sales, customer_events; /* records of the country that day */
    int64_t prize_min, prize_max;    /* advertised prize (0 and 0: no sale) */
    double signups;
    uint32_t signup_tickets[JP_FEAT_TICKETS];
    uint32_t extra_tickets[JP_FEAT_TICKETS];
    uint32_t renewals, failures;
    uint32_t channels[JP_FEAT_CHANNELS];
} jp_feat_day_t;

void jp_feat_day_init(jp_feat_day_t *d, int64_t day);
/* Closed, with at least one sale and one customer event. */
int jp_feat_day_complete(const jp_feat_day_t *d);
void jp_feat_day_add_sale(jp_feat_day_t *d, const jp_sale_event_t *s);
void jp_feat_day_add_customer(jp_feat_day_t *d, const jp_customer_event_t *c);
/* "FDAY" v1. */
void jp_feat_day_serialize(const jp_feat_day_t *d, jp_bytes_writer_t *w);
int jp_feat_day_deserialize(jp_feat_day_t *d, const void *buf, size_t len);

/* What a feature keeps between evaluations (stored per country and
 * feature). */
typedef struct jp_feat_state_s {
    int64_t last_drift;        /* day of the last drift verdict, INT64_MIN: none */
    int64_t rebase;            /* first day a trailing reference may use, INT64_MIN: any */
    uint32_t quiet;            /* judged evaluations without drift since then */
    double cat_threshold;      /* last exact categorical threshold, 0: none */
    double cat_nref, cat_ncur; /* the sizes it was computed for */
    uint64_t cat_support;      /* bit per category present in that reference */
    uint32_t cat_age;          /* evaluations since (recomputed after 182) */
} jp_feat_state_t;
/* "FSTA" v1. */
void jp_feat_state_serialize(const jp_feat_state_t *s, jp_bytes_writer_t *w);
int jp_feat_state_deserialize(jp_feat_state_t *s, const void *buf, size_t len);

/* Numeric null thresholds by sizes, shared by every task of a process
 * (engine thread only). */
typedef struct jp_feat_cache_s jp_feat_cache_t;
jp_feat_cache_t *jp_feat_cache_new(void);
void jp_feat_cache_free(jp_feat_cache_t *c);

typedef struct jp_feat_params_s {
    double alpha;     /* false-alarm probability of one statistic at one evaluation */
    double min_count; /* categorical: fewest current events (and reference events) */
    uint64_t seed;    /* thresholds' and tie-breaking's randomness */
} jp_feat_params_t;

typedef struct jp_feat_result_s {
    int judged, drift;
    size_t n_stats; /* 2 (PSI, KS) for numeric features, 1 (PSI) otherwise */
    size_t worst;   /* the statistic furthest above (or nearest to) its threshold */
    double stat[2], threshold[2];
    double nref, ncur;     /* days (numeric) or events (categorical) */
    char description[256]; /* "PSI 0.91 > 0.44 (3 bins), KS 0.86 > 0.80; ..." */
} jp_feat_result_t;

/* Judges feature f: ref[0..nref) and cur[0..ncur) are closed days (in any
 * order; a day must not be in both). 0, or -1 with errstr (out of memory,
 * invalid parameters). */
int jp_feat_evaluate(jp_feat_t f, const jp_feat_day_t *const *ref, size_t nref,
                     const jp_feat_day_t *const *cur, size_t ncur, const jp_feat_params_t *p,
                     jp_feat_cache_t *cache, jp_feat_state_t *st, jp_feat_result_t *out,
                     char *errstr, size_t errstr_size);

/* 1 when f can be judged on these days at all (signups: one advertised
 * prize and no campaign over every day). */
int jp_feat_comparable(jp_feat_t f, const jp_feat_day_t *const *ref, size_t nref,
                       const jp_feat_day_t *const *cur, size_t ncur);

#endif
