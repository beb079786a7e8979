/*
 * jp_events: the engine's events as typed C structs, one per schema in
 * schemas/ (compiled into the binary), with the field tables that bind each
 * schema field to its member for jp_avro_plan / jp_serde.
 *
 * Contract:
 *   - member names equal schema field names, and the struct, enum and
 *     layout below change together with schemas/<Record>.avsc (the plan
 *     compiler refuses a layout that does not match its schema);
 *   - enums are the reader schema's symbols in order (index = value);
 *   - strings and bytes are jp_avro_str_t (pointer + length, not
 *     NUL-terminated unless decoded with JP_AVRO_PLAN_COPY_STRINGS);
 *     arrays/maps are jp_avro_array_t/jp_avro_map_t whose items have the
 *     C type named in the comment; see jp_avro_plan.h for ownership;
 *   - optional fields (["null", T]) have a uint8_t has_<field> flag.
 */
#ifndef JP_EVENTS_H
#define JP_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_avro_plan.h"

/* ---- inputs (namespace lottery.events.v1) --------------------------------- */

typedef enum {
    JP_SALE_CHANNEL_WEB,
    JP_SALE_CHANNEL_APP,
    JP_SALE_CHANNEL_PHONE,
    JP_SALE_CHANNEL_DIRECT_DEBIT,
    JP_SALE_CHANNEL_RETAIL,
    JP_SALE_CHANNEL_PARTNER,
    JP_SALE_CHANNEL_UNKNOWN,
} jp_sale_channel_t;

typedef enum {
    JP_SALE_PURCHASE_NEW_SUBSCRIPTION,
    JP_SALE_PURCHASE_RENEWAL,
    JP_SALE_PURCHASE_EXTRA,
    JP_SALE_PURCHASE_UNKNOWN,
} jp_sale_purchase_t;

typedef struct jp_sale_event_s {
    jp_avro_str_t event_id;
    jp_avro_str_t country;
    int64_t event_time; /* ms since the epoch */
    jp_avro_str_t customer_id;
    jp_avro_str_t postcode;
    jp_sale_channel_t channel;
    int32_t tickets;
    int64_t amount_minor;
    jp_avro_str_t currency;
    jp_avro_str_t draw_id;
    int64_t advertised_prize_minor;
    uint8_t has_campaign;
    jp_avro_str_t campaign;
    uint8_t has_purchase;
    jp_sale_purchase_t purchase;
} jp_sale_event_t;

typedef enum {
    JP_CUSTOMER_EVENT_SIGNUP,
    JP_CUSTOMER_EVENT_CANCEL,
    JP_CUSTOMER_EVENT_PAYMENT_FAILED,
    JP_CUSTOMER_EVENT_REACTIVATE,
    JP_CUSTOMER_EVENT_ERASE,
    JP_CUSTOMER_EVENT_UPDATE,
    JP_CUSTOMER_EVENT_UNKNOWN,
} jp_customer_event_type_t;

typedef struct jp_customer_event_s {
    jp_avro_str_t event_id;
    jp_avro_str_t country;
    int64_t event_time;
    jp_avro_str_t customer_id;
    uint8_t has_email;
    jp_avro_str_t email;
    jp_avro_str_t postcode;
    jp_customer_event_type_t type;
    int32_t subscription_tickets;
    uint8_t has_reason;
    jp_avro_str_t reason;
} jp_customer_event_t;

typedef enum {
    JP_PRIZE_KIND_PER_TICKET,
    JP_PRIZE_KIND_SHARED,
    JP_PRIZE_KIND_UNKNOWN,
} jp_prize_kind_t;

typedef struct jp_prize_paid_s {
    jp_avro_str_t kind;
    int32_t winners;
    int64_t amount_minor;
} jp_prize_paid_t;

typedef struct jp_draw_result_s {
    jp_avro_str_t country;
    jp_avro_str_t draw_id;
    int64_t draw_time;
    int64_t headline_prize_minor;
    jp_prize_kind_t prize_kind;
    jp_avro_str_t winning_sector;
    int32_t tickets_in_winning_postcode;
    jp_avro_array_t prizes_paid; /* jp_prize_paid_t */
} jp_draw_result_t;

/* ---- outputs (namespace jackpot.v1) -------------------------------------- */

typedef struct jp_offset_range_s {
    jp_avro_str_t topic;
    int32_t partition;
    int64_t start_offset;
    int64_t end_offset;
} jp_offset_range_t;

typedef struct jp_data_snapshot_s {
    jp_avro_array_t offsets; /* jp_offset_range_t */
    int64_t event_time_start;
    int64_t event_time_end;
} jp_data_snapshot_t;

typedef struct jp_provenance_s {
    jp_avro_str_t model_version;
    jp_data_snapshot_t data_snapshot;
    jp_avro_str_t config_hash;
    jp_avro_str_t code_version;
} jp_provenance_t;

typedef struct jp_alternative_s {
    int64_t prize_minor;
    double expected_sales_minor;
    double expected_net_revenue_minor;
    uint8_t feasible;
    jp_avro_array_t violated_constraints; /* jp_avro_str_t */
} jp_alternative_t;

typedef enum {
    JP_RECOMMENDATION_OK,
    JP_RECOMMENDATION_INFEASIBLE,
    JP_RECOMMENDATION_UNKNOWN,
} jp_recommendation_status_t;

typedef struct jp_constraint_slack_s {
    jp_avro_str_t name;
    double value, limit, slack;
    uint8_t binding, violated;
} jp_constraint_slack_t;

typedef struct jp_exploration_s {
    uint8_t explored;
    int64_t greedy_prize_minor;
    int64_t sampled_prize_minor;
    double cost_minor;
    double budget_minor;
    double share;
} jp_exploration_t;

typedef struct jp_elasticity_s {
    jp_avro_str_t flow;
    double estimate;
    double sd;
} jp_elasticity_t;

typedef struct jp_model_info_s {
    jp_avro_map_t versions;       /* values: jp_avro_str_t */
    jp_avro_array_t elasticities; /* jp_elasticity_t */
    uint8_t has_error;
    double error;
    uint8_t has_lifetime_days;
    double lifetime_days;
} jp_model_info_t;

typedef struct jp_recommendation_s {
    jp_avro_str_t country;
    jp_avro_str_t decision_id;
    jp_avro_str_t draw_id;
    int64_t decision_time;
    jp_avro_str_t currency;
    int64_t prize_minor;
    double expected_sales_minor;
    double expected_sales_p5_minor;
    double expected_sales_p95_minor;
    double expected_net_revenue_minor;
    double payout_ratio;
    jp_avro_array_t binding_constraints; /* jp_avro_str_t */
    jp_avro_array_t alternatives;        /* jp_alternative_t */
    jp_recommendation_status_t status;
    jp_provenance_t provenance;
    double expected_tickets;
    double expected_tickets_p5;
    double expected_tickets_p95;
    double expected_payout_minor;
    uint8_t has_payout_ratio_after;
    double payout_ratio_after;
    double loss_probability;
    int32_t horizon_draws;
    double horizon_value_minor;
    double stock_value_minor;
    jp_avro_array_t constraints;      /* jp_constraint_slack_t */
    jp_avro_array_t infeasible_rules; /* jp_avro_str_t */
    jp_exploration_t exploration;
    uint8_t has_fallback_reason;
    jp_avro_str_t fallback_reason;
    jp_model_info_t model;
} jp_recommendation_t;

typedef enum {
    JP_ALERT_SEVERITY_INFO,
    JP_ALERT_SEVERITY_WARNING,
    JP_ALERT_SEVERITY_CRITICAL,
    JP_ALERT_SEVERITY_UNKNOWN,
} jp_alert_severity_t;

typedef enum {
    JP_ALERT_STATUS_FIRING,
    JP_ALERT_STATUS_RESOLVED,
    JP_ALERT_STATUS_UNKNOWN,
} jp_alert_status_t;

typedef struct jp_alert_s {
    jp_avro_str_t fingerprint;
    jp_avro_str_t name;
    jp_alert_severity_t severity;
    jp_alert_status_t status;
    uint8_t has_country;
    jp_avro_str_t country;
    jp_avro_str_t summary;
    jp_avro_str_t runbook_url;
    jp_avro_map_t labels; /* values: jp_avro_str_t */
    int64_t starts_at;
    uint8_t has_ends_at;
    int64_t ends_at;
    jp_avro_map_t annotations; /* values: jp_avro_str_t */
} jp_alert_t;

typedef enum {
    JP_WINDOW_HOUR,
    JP_WINDOW_DAY,
    JP_WINDOW_DRAW,
    JP_WINDOW_UNKNOWN,
} jp_window_kind_t;

/* "hour", "day", "draw": a window kind's name in windows.sizes, metrics
 * labels and the admin endpoints (config/jp_config.h lists the same names
 * for windows.sizes, since config may not include serde). NULL for
 * JP_WINDOW_UNKNOWN or a value outside the enum. */
const char *jp_window_kind_name(jp_window_kind_t kind);

typedef struct jp_feature_vector_s {
    jp_avro_str_t country;
    jp_window_kind_t window_kind;
    int64_t window_start;
    int64_t window_end;
    int64_t tickets;
    int64_t revenue_minor;
    int64_t signups;
    int64_t cancellations;
    int64_t reactivations;
    int64_t payment_failures;
    int64_t active_subscribers;
    int64_t unique_players;
    jp_avro_map_t channel_mix; /* values: int64_t */
    int64_t extra_tickets;
    jp_avro_array_t sector_ticket_quantiles; /* double */
    int64_t prizes_paid_minor;
    /* v2 */
    int64_t advertised_prize_minor;
    uint8_t has_log_prize_mean;
    double log_prize_mean;
    double log_prize_var;
    jp_avro_map_t campaign_shares; /* values: double */
    int64_t new_subscriptions, signup_tickets, signup_tickets_sq;
    int64_t renewals, renewal_tickets, renewal_tickets_sq;
    int64_t extra_purchases, extra_tickets_sq;
    int64_t subscribers_held, subscribers_lapsed;
    int64_t participating_postcodes, held_tickets;
    double held_tickets_mean;
    jp_avro_array_t held_ticket_quantiles; /* double */
    jp_avro_array_t held_ticket_histogram; /* jp_held_tickets_t */
} jp_feature_vector_t;

typedef struct jp_held_tickets_s {
    int64_t tickets;
    int64_t postcodes;
} jp_held_tickets_t;

typedef struct jp_named_coefficient_s {
    jp_avro_str_t name;
    double estimate;
    double stderr_; /* the schema field "stderr" (a name the C library takes) */
} jp_named_coefficient_t;

typedef struct jp_feature_schema_s {
    jp_avro_str_t record;
    jp_avro_str_t fingerprint;
    jp_avro_array_t features; /* jp_avro_str_t */
} jp_feature_schema_t;

typedef enum {
    JP_MODEL_STAGE_CANDIDATE,
    JP_MODEL_STAGE_STAGING,
    JP_MODEL_STAGE_PRODUCTION,
    JP_MODEL_STAGE_ARCHIVED,
    JP_MODEL_STAGE_UNKNOWN,
} jp_model_stage_t;

typedef struct jp_model_version_s {
    jp_avro_str_t model;
    int32_t version;
    jp_model_stage_t stage;
    jp_avro_array_t aliases; /* jp_avro_str_t */
    jp_avro_str_t parameters;
    jp_avro_map_t metrics; /* values: double */
    jp_data_snapshot_t training_data;
    jp_avro_str_t code_version;
    jp_avro_str_t config_hash;
    int64_t created_at;
    /* v2 */
    jp_avro_str_t country;
    jp_avro_str_t kind;
    jp_avro_str_t event;
    jp_avro_str_t reason;
    int64_t event_at;
    jp_avro_array_t coefficients; /* jp_named_coefficient_t */
    jp_feature_schema_t feature_schema;
} jp_model_version_t;

/* ---- the catalogue ---------------------------------------------------------- */

typedef enum {
    JP_EVENT_SALE,
    JP_EVENT_CUSTOMER,
    JP_EVENT_DRAW,
    JP_EVENT_RECOMMENDATION,
    JP_EVENT_ALERT,
    JP_EVENT_FEATURES,
    JP_EVENT_MODEL_VERSION,
    JP_EVENT__COUNT
} jp_event_type_t;

typedef struct jp_event_info_s {
    jp_event_type_t type;
    const char *record;        /* full name, e.g. "lottery.events.v1.SaleEvent" */
    const char *schema_file;   /* embedded file, e.g. "SaleEvent.avsc" */
    const char *default_topic; /* e.g. "lottery.sales.v1" */
    const jp_avro_layout_t *layout;
} jp_event_info_t;

/* NULL for an out-of-range type. */
const jp_event_info_t *jp_event_info(jp_event_type_t type);

/* The reader schema JSON compiled into the binary (NUL-terminated); NULL if
 * it is missing. */
const char *jp_event_schema_json(jp_event_type_t type, size_t *len);

/* Convenience: 1 if s equals the C string lit. */
int jp_avro_str_eq(jp_avro_str_t s, const char *lit);

/* A jp_avro_str_t view of a C string (NULL gives the empty string). */
jp_avro_str_t jp_avro_str(const char *s);

extern const jp_avro_layout_t jp_sale_event_layout;
extern const jp_avro_layout_t jp_customer_event_layout;
extern const jp_avro_layout_t jp_draw_result_layout;
extern const jp_avro_layout_t jp_prize_paid_layout;
extern const jp_avro_layout_t jp_recommendation_layout;
extern const jp_avro_layout_t jp_alternative_layout;
extern const jp_avro_layout_t jp_constraint_slack_layout;
extern const jp_avro_layout_t jp_exploration_layout;
extern const jp_avro_layout_t jp_elasticity_layout;
extern const jp_avro_layout_t jp_model_info_layout;
extern const jp_avro_layout_t jp_provenance_layout;
extern const jp_avro_layout_t jp_data_snapshot_layout;
extern const jp_avro_layout_t jp_offset_range_layout;
extern const jp_avro_layout_t jp_alert_layout;
extern const jp_avro_layout_t jp_feature_vector_layout;
extern const jp_avro_layout_t jp_held_tickets_layout;
extern const jp_avro_layout_t jp_model_version_layout;
extern const jp_avro_layout_t jp_named_coefficient_layout;
extern const jp_avro_layout_t jp_feature_schema_layout;

#endif
