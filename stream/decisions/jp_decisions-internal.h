/*
 * jp_decisions-internal: what the processor (jp_decisions.c) and the
 * record, JSON and serving code (jp_decisions_record.c) share.
 */
#ifndef JP_DECISIONS_INTERNAL_H
#define JP_DECISIONS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config/jp_calendar.h"
#include "config/jp_country_decide.h"
#include "decisions/jp_decisions.h"
#include "model/decide/jp_decide.h"

#define DEC_FLOWS     4 /* jp_flow_t order: signups, reactivations, extras, cancellations */
#define DEC_MAX_ATOMS 512
#define DEC_N_STATUS  2
#define DEC_N_REASONS 9

/* Why a decision fell back to the country's rule. */
typedef enum {
    DEC_REASON_NO_MODEL,
    DEC_REASON_SOURCE_ERROR,
    DEC_REASON_NOT_READY,
    DEC_REASON_NO_ELASTICITY,
    DEC_REASON_NO_STOCK,
    DEC_REASON_STALE_STOCK,
    DEC_REASON_ERROR_OUT_OF_BAND,
    DEC_REASON_PLAN_FAILED,
    DEC_REASON_SOLVE_FAILED,
} dec_reason_t;

/* The sales model's forecast plan as a jp_decide horizon: period 0 runs
 * from the stock's time to the decision's draw (the draw's proceeds before
 * it are realized and added), the others are whole draw periods. */
typedef struct dec_horizon_s {
    jp_flows_plan_t *plan;
    size_t n;
    double realized_tickets;
    double days[JP_DECIDE_MAX_HORIZON]; /* draw period lengths */
} dec_horizon_t;

int dec_horizon_eval(void *ctx, double prize, const double *params, jp_decide_outcome_t *out);

/* What a record says besides the decision result. */
typedef struct dec_meta_s {
    const jp_country_t *c;
    const char *draw_id;
    int64_t decision_time;
    const char *decision_id;
    const char *config_hash;
    const char *code_version;
    const char *fallback; /* NULL: decided by the model */
    /* models */
    const char *flows_version, *churn_version;
    double est[DEC_FLOWS], sd[DEC_FLOWS];
    int has_est[DEC_FLOWS];
    double error, lifetime_days; /* NaN: unknown */
    /* data snapshot */
    jp_data_snapshot_t snapshot;
} dec_meta_t;

/* A published decision: everything a what-if needs, immutable once
 * published, freed when the last reader lets go. */
typedef struct dec_snapshot_s {
    int refs;
    dec_meta_t meta;
    char draw_id[48], decision_id[37], fallback[160], flows_version[64], churn_version[64];
    jp_offset_range_t offsets[JP_INPUT__COUNT];
    int have_problem; /* a model could evaluate prizes */
    jp_country_decision_t cd;
    dec_horizon_t horizon;
    jp_opt_ledger_entry_t *ledger;
    jp_opt_mass_t atoms[DEC_MAX_ATOMS];
    char *latest_json; /* the record, as JSON */
} dec_snapshot_t;

struct jp_decisions_s {
    const jp_config_t *cfg;
    jp_metrics_t *metrics;
    jp_proc_t proc;
    jp_decisions_model_fn source;
    void *source_ctx;
    char code_version[96];
    /* per configured country (cfg->country order) */
    jp_calendar_t **cal;
    char (*config_hash)[65];
    jp_counter_t *(*recommendations)[DEC_N_STATUS];
    jp_gauge_t **prize;
    jp_counter_t *(*fallbacks)[DEC_N_REASONS];
    /* serving */
    pthread_mutex_t lock;
    dec_snapshot_t **snap;
};

/* The record of a decision (res NULL: a fallback without figures; p: the
 * problem it was solved in, for the price and the horizon) as the Avro
 * struct, with its storage. */
typedef struct dec_record_s dec_record_t;
dec_record_t *dec_record_new(const dec_meta_t *m, int64_t prize, const jp_decide_result_t *res,
                             const jp_decide_problem_t *p);
void dec_record_free(dec_record_t *r);
const jp_recommendation_t *dec_record_avro(const dec_record_t *r);
/* A recommendation as JSON text (malloc'd; whatif adds "whatif": true). */
char *dec_record_json(const jp_recommendation_t *r, int whatif);

/* Publishes s as the country's latest decision (takes ownership). */
void dec_publish(jp_decisions_t *d, size_t country, dec_snapshot_t *s);
void dec_snapshot_release(jp_decisions_t *d, dec_snapshot_t *s);

#endif
