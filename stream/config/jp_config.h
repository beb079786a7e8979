/*
 * jp_config: the processor configuration (configs/jackpot.yaml) and the
 * country configurations it refers to, loaded and validated together.
 *
 * Precedence, lowest first: built-in defaults, the YAML file, environment
 * overrides (JACKPOT_<SECTION>__<KEY>, see jp_conf.h), and command-line
 * `-X key=value` librdkafka properties. The `kafka:` map is passed to
 * librdkafka untouched; each property is checked by librdkafka itself.
 */
#ifndef JP_CONFIG_H
#define JP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "config/jp_conf.h"
#include "config/jp_country.h"

typedef struct jp_topic_conf_s {
    char *name;
    int64_t partitions;
} jp_topic_conf_t;

/* Shortest accepted http.jwt_key: RFC 7518 3.2, a key at least as long as
 * the HS256 hash. */
#define JP_CONFIG_JWT_MIN_KEY 32

typedef enum { JP_GUARANTEE_AT_LEAST_ONCE, JP_GUARANTEE_EXACTLY_ONCE } jp_guarantee_t;

/* What the engine does with an input record on a partition its country
 * does not map to (topics.mispartitioned, docs/processor.md). */
typedef enum { JP_MISPARTITIONED_REPARTITION, JP_MISPARTITIONED_DEAD_LETTER } jp_mispartitioned_t;

/* How the engine writes its output keys (topics.output_key_format). */
typedef enum { JP_KEY_FORMAT_STRING, JP_KEY_FORMAT_AVRO } jp_key_format_t;
/* What the engine does when records were removed by retention before it
 * read them (processing.on_input_loss). */
typedef enum { JP_INPUT_LOSS_STOP, JP_INPUT_LOSS_CONTINUE } jp_input_loss_t;

/* Upper bounds of the input schemas' variable-length fields (limits.*),
 * in bytes (strings) or items (arrays). */
typedef struct jp_field_limits_s {
    int64_t event_id, customer_id, email, postcode, draw_id, campaign, reason, winning_sector,
        prize_kind, prizes_paid;
} jp_field_limits_t;

typedef struct jp_config_s {
    char *path;            /* the processor file */
    jp_conf_props_t kafka; /* librdkafka properties, passed through */
    struct {
        jp_topic_conf_t sales, customers, draws; /* inputs, co-partitioned */
        char *recommendations, *alerts, *features, *models;
        int64_t output_partitions;
        char *dlq_suffix;       /* <input>.dlq */
        char *changelog_prefix; /* jackpot.<store>-changelog */
        int input_partitioner;  /* jp_partitioner_t the producers of the inputs use */
        int mispartitioned;     /* jp_mispartitioned_t */
        int output_key_format;  /* jp_key_format_t */
    } topics;
    struct {
        char *url;
        jp_conf_secret_t basic_auth; /* "user:password", optional */
        int64_t timeout_ms;
    } schema_registry;
    struct {
        char *dir;
        int64_t block_cache_mb, write_buffer_mb;
        int64_t customer_ttl_ms;
        int64_t window_retention_ms; /* rejected when set: not supported yet */
    } state;
    struct {
        int64_t commit_interval_ms;
        int guarantee; /* jp_guarantee_t */
        int64_t dedupe_horizon_ms;
        int64_t max_clock_skew_ms;
        int64_t max_event_time_jump_ms; /* sales, customers: ahead of the partition's median */
        int64_t max_draw_periods_ahead; /* draws: headline periods ahead of the median */
        int future_wall_clock;          /* also bound event time by the wall clock */
        int on_input_loss;              /* jp_input_loss_t */
        int64_t shutdown_grace_ms;      /* SIGTERM to exit, whatever Kafka does */
    } processing;
    jp_field_limits_t limits;
    struct {
        jp_conf_secret_t key; /* AES-256 key, 64 hex digits */
    } dead_letters;
    struct {
        jp_conf_strlist_t sizes; /* of jp_config_window_kinds */
        int64_t allowed_lateness_ms;
        int64_t grace_ms;
    } windows;
    struct {
        char *listen; /* host:port */
        int64_t ready_max_lag;
        jp_conf_secret_t jwt_key;        /* HS256 key of the admin API's JWTs */
        int auth_reads;                  /* reads need a token too */
        double rate_limit;               /* requests/s per client, 0: none */
        int64_t rate_burst;              /* token bucket size */
        jp_conf_secret_t operator_token; /* removed: rejected when set */
    } http;
    struct {
        int level;  /* jp_log_level_t */
        int format; /* jp_log_format_t */
    } log;
    struct {
        jp_conf_secret_t token_key; /* HMAC key for PII tokens */
    } pii;
    struct {
        int enabled;
        int64_t repeat_interval_ms;    /* 0: a FIRING alert is sent once until it resolves */
        char *runbook_base_url;        /* prefix of docs/runbooks/<name>.md */
        int64_t resolved_retention_ms; /* resolved alerts kept for /v1/alerts (event time) */
        struct {
            int enabled;
            jp_conf_strlist_t features;
            int64_t current_days, reference_days, resolve_days, min_count;
            double false_alarms_per_year;
        } feature;
        struct {
            int enabled;
            double false_alarms_per_year, shift_sd, critical_shift_sd;
            int64_t evaluations_per_year, warmup; /* warmup: removed, rejected */
            int64_t resolve_after_ms;
        } concept;
        struct {
            int64_t bucket_ms;
            double dead_letter_rate, late_rate, false_alarms_per_year;
            int64_t min_records;
            int64_t silence_sales_ms, silence_customers_ms, silence_draws_ms;
            int cross_input_silence;
            int64_t wall_silence_ms; /* live only; 0: off */
            int64_t max_lag;         /* live only; 0: off */
        } quality;
    } alerts;
    struct {
        char *dir;                 /* country files, relative to the processor file */
        jp_conf_strlist_t enabled; /* empty: every *.yaml in dir */
    } countries;
    struct {
        int enabled;              /* run the learning loop (stream/models) */
        int64_t churn_horizon_ms; /* churn label: cancelled within this */
        double churn_sample;      /* share of renewals that become churn examples */
        int64_t stock_warmup_ms;  /* flows per subscriber need the stock known this long */
        int64_t min_training_ms;  /* no version before the model learned this long */
        int64_t version_every;    /* a version every this many headline draws */
    } models;

    jp_country_t *country; /* loaded countries, sorted by code */
    size_t n_countries;
} jp_config_t;

extern const jp_conf_field_t jp_config_fields[];

/*
 * Loads path and every country it refers to; applies environment
 * overrides and then the `-X key=value` properties in xprops (may be
 * NULL). All errors are collected in c; returns 0 if there were none.
 * *out must be released with jp_config_release either way.
 */
int jp_config_load(jp_conf_t *c, const char *path, const jp_conf_props_t *xprops, jp_config_t *out);
void jp_config_release(jp_config_t *cfg);

/* Value of a librdkafka property from the kafka map, or NULL. */
const char *jp_config_kafka_get(const jp_config_t *cfg, const char *key);

/* Finds a loaded country by code; NULL if not configured. */
const jp_country_t *jp_config_country(const jp_config_t *cfg, const char *code);

/* The short human summary `jackpot config check` prints. */
void jp_config_print_summary(const jp_config_t *cfg, FILE *out);

/* SHA-256 (64 hex characters) of the configuration as written: the
 * processor file, then each loaded country's file in code order. Files
 * that cannot be read any more hash as empty. */
void jp_config_hash(const jp_config_t *cfg, char out[65]);

/* Writes docs/configuration.md: every key of both kinds of file. */
void jp_config_print_reference(FILE *out);

/* Parses one "-X key=value" argument into props; -1 if it has no '='. */
int jp_config_add_xprop(jp_conf_props_t *props, const char *arg);

/* The window kinds windows.sizes accepts, NULL-terminated, in the order of
 * serde's jp_window_kind_t (whose jp_window_kind_name gives the same
 * names; tests/stream/engine/test_window.c checks they agree). */
extern const char *const jp_config_window_kinds[];

#endif
