/*
 * The models room's shared structures (private to stream/models).
 *
 * Store layout (column family models, keys by country first where they
 * belong to one):
 *   m/CC/c          the country's day-processing state (country_t)
 *   m/CC/K/t        model K's trainer (K: 's' sales, 'c' churn)
 *   m/CC/K/r        model K's registry state (aliases, duel, last number)
 *   m/CC/K/v/NNNN   a version kept with its parameters (champion,
 *                   challenger, previous champion)
 *   m/CC/K/h/NNNN   every version's last registry view (JSON), for the API
 *   w/CC/DAY        a closed day window as the sales model took it
 *   x/CC/TIME/TOKEN a pending churn example (renewals before, tickets)
 *   o/I/DAY         per input I and UTC day: min and max offset applied
 * (NNNN, DAY, TIME: big-endian, times offset binary, so keys sort in time
 * order.)
 */
#ifndef JP_MODELS_INTERNAL_H
#define JP_MODELS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "config/jp_calendar.h"
#include "engine/jp_proc.h"
#include "models/jp_models.h"
#include "model/learn/jp_eval.h"
#include "model/learn/jp_flows.h"
#include "model/learn/jp_ftrl.h"

#define DAY_MS          86400000LL
#define N_CAMPAIGNS     4    /* jp_flows' default campaign slots */
#define CHURN_BITS      10   /* hashed coordinates of the churn model */
#define CHURN_MIN_LABEL 100  /* labelled examples of each class before a churn version */
#define WINDOW_DAYS     371  /* stored day windows: jp_flows' ring (53 weeks) */
#define OFFSET_DAYS     400  /* per-day offset ranges kept */
#define SALES_EVAL_WIN  28   /* rolling window of the sales evaluators (days) */
#define CHURN_EVAL_WIN  5000 /* rolling window of the churn evaluators (examples) */
#define REASON_LEN      200

typedef enum { KIND_SALES = 0, KIND_CHURN = 1, KIND__COUNT } kind_t;

extern const char *const jp_models_kind_names[KIND__COUNT]; /* "sales", "churn" */

/* A version: frozen parameters plus its evaluation since it was cut. */
typedef struct version_s {
    int32_t number;
    uint8_t stage;                /* jp_model_stage_t */
    int64_t created_at;           /* event time of the cut */
    int64_t event_at;             /* event time of its last registry event */
    int64_t data_start, data_end; /* event-time range it learned from */
    int64_t off_start[JP_INPUT__COUNT], off_end[JP_INPUT__COUNT]; /* -1: none */
    char event[16];                                               /* its last registry event */
    char reason[REASON_LEN];
    jp_flows_t *flows; /* sales */
    jp_ftrl_t *ftrl;   /* churn */
    /* the trainer's prequential evaluation when the version was cut */
    jp_eval_reg_t *train_reg;
    jp_eval_cls_t *train_cls;
    /* its own evaluation since (as challenger and champion) */
    jp_eval_reg_t *reg;
    jp_eval_cls_t *cls;
    int64_t windows; /* windows evaluated since the cut */
} version_t;

typedef struct model_s {
    kind_t kind;
    int32_t last_number;
    version_t *champion, *challenger, *previous;
    /* challenger vs champion over the same windows since the challenger's
     * cut: windows, and the error sums and counts of each */
    int64_t duel_windows;
    double duel_err[2]; /* [0] challenger, [1] champion */
    double duel_n[2];
    /* the trainer */
    jp_flows_t *flows;
    jp_ftrl_t *ftrl;
    jp_eval_reg_t *train_reg;
    jp_eval_cls_t *train_cls;
    int64_t train_start;   /* event time of its first data (INT64_MIN: none) */
    int64_t trained_until; /* event time of its last data */
    int64_t retrain_from;  /* a pending retrain's change point (INT64_MIN: none) */
    int64_t retrained_at;  /* change point of the trainer's last restart (INT64_MIN: never) */
    /* registry views of every version (number -> JSON), for the API */
    json_t *history; /* object keyed by the number as text */
    int dirty_trainer, dirty_registry;
    int32_t *dirty_versions; /* numbers whose blob or view changed */
    size_t n_dirty_versions, cap_dirty_versions;
    int32_t *deleted_versions; /* numbers whose blob must go */
    size_t n_deleted_versions, cap_deleted_versions;
    int oom; /* a mark could not be kept: the task must rewind */
} model_t;

typedef struct country_s {
    char code[3];
    const jp_country_t *country;
    jp_calendar_t *cal;
    model_t models[KIND__COUNT];
    int64_t first_day;               /* start of the first day window seen (INT64_MIN: none) */
    int64_t last_day_end;            /* end of the last day window processed */
    double prev_held, prev_lapsed;   /* stock at the last window's end (< 0: unknown) */
    char campaigns[N_CAMPAIGNS][32]; /* campaign codes by slot, first seen first */
    int64_t draws_since_cut;
    int dirty;
    jp_gauge_t *error_gauge[KIND__COUNT];
    jp_counter_t *promotions[KIND__COUNT][2]; /* promote, rollback */
} country_t;

/* Offsets applied per input and UTC day. */
typedef struct day_offsets_s {
    int64_t day;
    int64_t lo, hi;
} day_offsets_t;

typedef struct inst_s inst_t;

/* A queued admin command. */
typedef struct command_s {
    char country[3];
    kind_t kind;
    int op;          /* 0 promote, 1 rollback */
    int32_t version; /* promote: 0 = the challenger */
    int done; /* 0 queued, -1 taken by the engine thread, 1 done, 2 given up by its caller while
               * taken (the engine thread frees it) */
    int status;
    char message[256];
    struct command_s *next, *next_taken;
} command_t;

struct jp_models_s {
    const jp_config_t *cfg;
    jp_metrics_t *metrics;
    jp_proc_t proc;
    char config_hash[65];
    char code_version[96];
    char feature_fingerprint[2][24]; /* per kind: the input schema's CRC-64-AVRO */
    jp_models_listener_fn listener;
    void *listener_ctx;
    jp_models_example_fn example_fn;
    void *example_ctx;
    /* engine thread: the instances open now */
    inst_t **insts;
    size_t n_insts;
    /* any thread, under lock: snapshots and commands */
    pthread_mutex_t lock;
    pthread_cond_t done;
    json_t *snapshots; /* country -> JSON */
    command_t *commands;
};

struct inst_s {
    jp_models_t *g;
    jp_proc_ctx_t *ctx;
    country_t *countries;
    size_t n_countries;
    day_offsets_t *offsets[JP_INPUT__COUNT];
    size_t n_offsets[JP_INPUT__COUNT], cap_offsets[JP_INPUT__COUNT];
    int offsets_dirty; /* the "o" blob must be rewritten at the commit */
};

/* ---- jp_models.c ---- */
country_t *jp_models_country(inst_t *in, const char *code);
void jp_models_publish(inst_t *in, country_t *c);
void jp_models_data_offsets(inst_t *in, int64_t start, int64_t end, int64_t *lo, int64_t *hi);

/* ---- jp_models_registry.c: versions, gates, records ---- */
version_t *jp_models_version_new(void);
void jp_models_version_free(version_t *v);
/* Serialized version blob (tag "MVER"). */
void jp_models_version_serialize(const version_t *v, kind_t kind, jp_bytes_writer_t *w);
version_t *jp_models_version_deserialize(jp_bytes_reader_t *r, kind_t kind);
/* Cuts a version from the trainer; 0, or -1 on no memory. */
int jp_models_cut(inst_t *in, country_t *c, kind_t kind, int64_t now);
/* Scores a window for the duel and runs the gate once the challenger has
 * been evaluated promote_min_windows times. */
int jp_models_gate(inst_t *in, country_t *c, kind_t kind, int64_t now);
/* Manual changes: 0, or an HTTP status with a message. */
int jp_models_promote(inst_t *in, country_t *c, kind_t kind, int32_t number, int64_t now, char *msg,
                      size_t msg_size);
int jp_models_rollback(inst_t *in, country_t *c, kind_t kind, int64_t now, char *msg,
                       size_t msg_size);
/* The version's view for the API and the history (new reference). */
json_t *jp_models_version_json(const inst_t *in, const country_t *c, kind_t kind,
                               const version_t *v);
/* The model's state as JSON: aliases, versions, trainer. */
json_t *jp_models_model_json(const inst_t *in, const country_t *c, kind_t kind);
void jp_models_model_release(model_t *m);
void jp_models_mark_version(model_t *m, int32_t number);

/* ---- jp_models_sales.c ---- */
int jp_models_sales_init(model_t *m, const country_t *c);
/* A closed day window: evaluate every version, then learn. */
int jp_models_sales_window(inst_t *in, country_t *c, const jp_feature_vector_t *fv);
/* Replays the stored windows from change_point into a fresh trainer. */
int jp_models_sales_retrain(inst_t *in, country_t *c, int64_t change_point);
jp_flows_t *jp_models_flows_copy(const jp_flows_t *m);
/* Each flow's elasticity as JSON {signups, extras, cancellations}. */
json_t *jp_models_elasticities(const jp_flows_t *m);
/* The fitted parameters (tag "FLWP"), not the rings. */
void jp_models_sales_parameters(const jp_flows_t *m, jp_bytes_writer_t *w);
/* Day windows kept for retraining. */
void jp_models_window_serialize(const jp_flows_window_t *w, jp_bytes_writer_t *b);
int jp_models_window_deserialize(const void *buf, size_t len, jp_flows_window_t *w);

/* ---- jp_models_churn.c ---- */
int jp_models_churn_init(model_t *m);
jp_ftrl_t *jp_models_ftrl_new(void);
jp_ftrl_t *jp_models_ftrl_copy(const jp_ftrl_t *m);
/* A renewal (sampled): a pending example. */
int jp_models_churn_record(inst_t *in, const jp_proc_record_t *rec);
/* A customer's erasure: its pending examples go. */
int jp_models_churn_erase(inst_t *in, const char *country, const char *token);
/* Labels, scores and learns from the examples whose horizon ended by end. */
int jp_models_churn_label(inst_t *in, country_t *c, int64_t end);
/* The model's prediction for features x. */
double jp_models_churn_predict(const jp_ftrl_t *m, const double *x);

/* ---- store keys ---- */
size_t jp_models_key(char *out, size_t size, const char *code, int kind, char what, int32_t number);

#endif
