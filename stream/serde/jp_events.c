/*
 * jp_events: field tables binding the event schemas to their C structs.
 *
 * Design. The tables are plain data (name, offsetof, sizeof, sub-layout,
 * presence flag) built by the JP_AVRO_BIND macros, so adding a field is one
 * line here plus the member and the schema field. Nothing is checked here:
 * jp_avro_plan_compile validates every table against its schema (names,
 * member sizes, nested layouts) the first time a plan is built, and the unit
 * tests build one for every event, so a drift fails the test suite rather
 * than corrupting memory.
 */
#include "serde/jp_events.h"

#include <stddef.h>
#include <string.h>

#include "serde/jp_embedded.h"

_Static_assert(sizeof(jp_sale_channel_t) == 4, "Avro enums are bound as 4-byte C enums");

static const jp_avro_bind_t sale_fields[] = {
    JP_AVRO_BIND(jp_sale_event_t, event_id),
    JP_AVRO_BIND(jp_sale_event_t, country),
    JP_AVRO_BIND(jp_sale_event_t, event_time),
    JP_AVRO_BIND(jp_sale_event_t, customer_id),
    JP_AVRO_BIND(jp_sale_event_t, postcode),
    JP_AVRO_BIND(jp_sale_event_t, channel),
    JP_AVRO_BIND(jp_sale_event_t, tickets),
    JP_AVRO_BIND(jp_sale_event_t, amount_minor),
    JP_AVRO_BIND(jp_sale_event_t, currency),
    JP_AVRO_BIND(jp_sale_event_t, draw_id),
    JP_AVRO_BIND(jp_sale_event_t, advertised_prize_minor),
    JP_AVRO_BIND_OPT(jp_sale_event_t, campaign, has_campaign),
    JP_AVRO_BIND_OPT(jp_sale_event_t, purchase, has_purchase),
};
const jp_avro_layout_t jp_sale_event_layout =
    JP_AVRO_LAYOUT("lottery.events.v1.SaleEvent", jp_sale_event_t, sale_fields);

static const jp_avro_bind_t customer_fields[] = {
    JP_AVRO_BIND(jp_customer_event_t, event_id),
    JP_AVRO_BIND(jp_customer_event_t, country),
    JP_AVRO_BIND(jp_customer_event_t, event_time),
    JP_AVRO_BIND(jp_customer_event_t, customer_id),
    JP_AVRO_BIND_OPT(jp_customer_event_t, email, has_email),
    JP_AVRO_BIND(jp_customer_event_t, postcode),
    JP_AVRO_BIND(jp_customer_event_t, type),
    JP_AVRO_BIND(jp_customer_event_t, subscription_tickets),
    JP_AVRO_BIND_OPT(jp_customer_event_t, reason, has_reason),
};
const jp_avro_layout_t jp_customer_event_layout =
    JP_AVRO_LAYOUT("lottery.events.v1.CustomerEvent", jp_customer_event_t, customer_fields);

static const jp_avro_bind_t prize_paid_fields[] = {
    JP_AVRO_BIND(jp_prize_paid_t, kind),
    JP_AVRO_BIND(jp_prize_paid_t, winners),
    JP_AVRO_BIND(jp_prize_paid_t, amount_minor),
};
const jp_avro_layout_t jp_prize_paid_layout =
    JP_AVRO_LAYOUT("lottery.events.v1.PrizePaid", jp_prize_paid_t, prize_paid_fields);

static const jp_avro_bind_t draw_fields[] = {
    JP_AVRO_BIND(jp_draw_result_t, country),
    JP_AVRO_BIND(jp_draw_result_t, draw_id),
    JP_AVRO_BIND(jp_draw_result_t, draw_time),
    JP_AVRO_BIND(jp_draw_result_t, headline_prize_minor),
    JP_AVRO_BIND(jp_draw_result_t, prize_kind),
    JP_AVRO_BIND(jp_draw_result_t, winning_sector),
    JP_AVRO_BIND(jp_draw_result_t, tickets_in_winning_postcode),
    JP_AVRO_BIND_SUB(jp_draw_result_t, prizes_paid, jp_prize_paid_layout),
};
const jp_avro_layout_t jp_draw_result_layout =
    JP_AVRO_LAYOUT("lottery.events.v1.DrawResult", jp_draw_result_t, draw_fields);

static const jp_avro_bind_t offset_range_fields[] = {
    JP_AVRO_BIND(jp_offset_range_t, topic),
    JP_AVRO_BIND(jp_offset_range_t, partition),
    JP_AVRO_BIND(jp_offset_range_t, start_offset),
    JP_AVRO_BIND(jp_offset_range_t, end_offset),
};
const jp_avro_layout_t jp_offset_range_layout =
    JP_AVRO_LAYOUT("jackpot.v1.OffsetRange", jp_offset_range_t, offset_range_fields);

static const jp_avro_bind_t data_snapshot_fields[] = {
    JP_AVRO_BIND_SUB(jp_data_snapshot_t, offsets, jp_offset_range_layout),
    JP_AVRO_BIND(jp_data_snapshot_t, event_time_start),
    JP_AVRO_BIND(jp_data_snapshot_t, event_time_end),
};
const jp_avro_layout_t jp_data_snapshot_layout =
    JP_AVRO_LAYOUT("jackpot.v1.DataSnapshot", jp_data_snapshot_t, data_snapshot_fields);

static const jp_avro_bind_t provenance_fields[] = {
    JP_AVRO_BIND(jp_provenance_t, model_version),
    JP_AVRO_BIND_SUB(jp_provenance_t, data_snapshot, jp_data_snapshot_layout),
    JP_AVRO_BIND(jp_provenance_t, config_hash),
    JP_AVRO_BIND(jp_provenance_t, code_version),
};
const jp_avro_layout_t jp_provenance_layout =
    JP_AVRO_LAYOUT("jackpot.v1.Provenance", jp_provenance_t, provenance_fields);

static const jp_avro_bind_t alternative_fields[] = {
    JP_AVRO_BIND(jp_alternative_t, prize_minor),
    JP_AVRO_BIND(jp_alternative_t, expected_sales_minor),
    JP_AVRO_BIND(jp_alternative_t, expected_net_revenue_minor),
    JP_AVRO_BIND(jp_alternative_t, feasible),
    JP_AVRO_BIND(jp_alternative_t, violated_constraints),
};
const jp_avro_layout_t jp_alternative_layout =
    JP_AVRO_LAYOUT("jackpot.v1.Alternative", jp_alternative_t, alternative_fields);

static const jp_avro_bind_t constraint_slack_fields[] = {
    JP_AVRO_BIND(jp_constraint_slack_t, name),    JP_AVRO_BIND(jp_constraint_slack_t, value),
    JP_AVRO_BIND(jp_constraint_slack_t, limit),   JP_AVRO_BIND(jp_constraint_slack_t, slack),
    JP_AVRO_BIND(jp_constraint_slack_t, binding), JP_AVRO_BIND(jp_constraint_slack_t, violated),
};
const jp_avro_layout_t jp_constraint_slack_layout =
    JP_AVRO_LAYOUT("jackpot.v1.ConstraintSlack", jp_constraint_slack_t, constraint_slack_fields);

static const jp_avro_bind_t exploration_fields[] = {
    JP_AVRO_BIND(jp_exploration_t, explored),
    JP_AVRO_BIND(jp_exploration_t, greedy_prize_minor),
    JP_AVRO_BIND(jp_exploration_t, sampled_prize_minor),
    JP_AVRO_BIND(jp_exploration_t, cost_minor),
    JP_AVRO_BIND(jp_exploration_t, budget_minor),
    JP_AVRO_BIND(jp_exploration_t, share),
};
const jp_avro_layout_t jp_exploration_layout =
    JP_AVRO_LAYOUT("jackpot.v1.Exploration", jp_exploration_t, exploration_fields);

static const jp_avro_bind_t elasticity_fields[] = {
    JP_AVRO_BIND(jp_elasticity_t, flow),
    JP_AVRO_BIND(jp_elasticity_t, estimate),
    JP_AVRO_BIND(jp_elasticity_t, sd),
};
const jp_avro_layout_t jp_elasticity_layout =
    JP_AVRO_LAYOUT("jackpot.v1.Elasticity", jp_elasticity_t, elasticity_fields);

static const jp_avro_bind_t model_info_fields[] = {
    JP_AVRO_BIND(jp_model_info_t, versions),
    JP_AVRO_BIND_SUB(jp_model_info_t, elasticities, jp_elasticity_layout),
    JP_AVRO_BIND_OPT(jp_model_info_t, error, has_error),
    JP_AVRO_BIND_OPT(jp_model_info_t, lifetime_days, has_lifetime_days),
};
const jp_avro_layout_t jp_model_info_layout =
    JP_AVRO_LAYOUT("jackpot.v1.ModelInfo", jp_model_info_t, model_info_fields);

static const jp_avro_bind_t recommendation_fields[] = {
    JP_AVRO_BIND(jp_recommendation_t, country),
    JP_AVRO_BIND(jp_recommendation_t, decision_id),
    JP_AVRO_BIND(jp_recommendation_t, draw_id),
    JP_AVRO_BIND(jp_recommendation_t, decision_time),
    JP_AVRO_BIND(jp_recommendation_t, currency),
    JP_AVRO_BIND(jp_recommendation_t, prize_minor),
    JP_AVRO_BIND(jp_recommendation_t, expected_sales_minor),
    JP_AVRO_BIND(jp_recommendation_t, expected_sales_p5_minor),
    JP_AVRO_BIND(jp_recommendation_t, expected_sales_p95_minor),
    JP_AVRO_BIND(jp_recommendation_t, expected_net_revenue_minor),
    JP_AVRO_BIND(jp_recommendation_t, payout_ratio),
    JP_AVRO_BIND(jp_recommendation_t, binding_constraints),
    JP_AVRO_BIND_SUB(jp_recommendation_t, alternatives, jp_alternative_layout),
    JP_AVRO_BIND(jp_recommendation_t, status),
    JP_AVRO_BIND_SUB(jp_recommendation_t, provenance, jp_provenance_layout),
    JP_AVRO_BIND(jp_recommendation_t, expected_tickets),
    JP_AVRO_BIND(jp_recommendation_t, expected_tickets_p5),
    JP_AVRO_BIND(jp_recommendation_t, expected_tickets_p95),
    JP_AVRO_BIND(jp_recommendation_t, expected_payout_minor),
    JP_AVRO_BIND_OPT(jp_recommendation_t, payout_ratio_after, has_payout_ratio_after),
    JP_AVRO_BIND(jp_recommendation_t, loss_probability),
    JP_AVRO_BIND(jp_recommendation_t, horizon_draws),
    JP_AVRO_BIND(jp_recommendation_t, horizon_value_minor),
    JP_AVRO_BIND(jp_recommendation_t, stock_value_minor),
    JP_AVRO_BIND_SUB(jp_recommendation_t, constraints, jp_constraint_slack_layout),
    JP_AVRO_BIND(jp_recommendation_t, infeasible_rules),
    JP_AVRO_BIND_SUB(jp_recommendation_t, exploration, jp_exploration_layout),
    JP_AVRO_BIND_OPT(jp_recommendation_t, fallback_reason, has_fallback_reason),
    JP_AVRO_BIND_SUB(jp_recommendation_t, model, jp_model_info_layout),
};
const jp_avro_layout_t jp_recommendation_layout =
    JP_AVRO_LAYOUT("jackpot.v1.JackpotRecommendation", jp_recommendation_t, recommendation_fields);

static const jp_avro_bind_t alert_fields[] = {
    JP_AVRO_BIND(jp_alert_t, fingerprint),
    JP_AVRO_BIND(jp_alert_t, name),
    JP_AVRO_BIND(jp_alert_t, severity),
    JP_AVRO_BIND(jp_alert_t, status),
    JP_AVRO_BIND_OPT(jp_alert_t, country, has_country),
    JP_AVRO_BIND(jp_alert_t, summary),
    JP_AVRO_BIND(jp_alert_t, runbook_url),
    JP_AVRO_BIND(jp_alert_t, labels),
    JP_AVRO_BIND(jp_alert_t, starts_at),
    JP_AVRO_BIND_OPT(jp_alert_t, ends_at, has_ends_at),
    JP_AVRO_BIND(jp_alert_t, annotations),
};
const jp_avro_layout_t jp_alert_layout =
    JP_AVRO_LAYOUT("jackpot.v1.Alert", jp_alert_t, alert_fields);

static const jp_avro_bind_t held_tickets_fields[] = {
    JP_AVRO_BIND(jp_held_tickets_t, tickets),
    JP_AVRO_BIND(jp_held_tickets_t, postcodes),
};
const jp_avro_layout_t jp_held_tickets_layout =
    JP_AVRO_LAYOUT("jackpot.v1.HeldTickets", jp_held_tickets_t, held_tickets_fields);

static const jp_avro_bind_t feature_fields[] = {
    JP_AVRO_BIND(jp_feature_vector_t, country),
    JP_AVRO_BIND(jp_feature_vector_t, window_kind),
    JP_AVRO_BIND(jp_feature_vector_t, window_start),
    JP_AVRO_BIND(jp_feature_vector_t, window_end),
    JP_AVRO_BIND(jp_feature_vector_t, tickets),
    JP_AVRO_BIND(jp_feature_vector_t, revenue_minor),
    JP_AVRO_BIND(jp_feature_vector_t, signups),
    JP_AVRO_BIND(jp_feature_vector_t, cancellations),
    JP_AVRO_BIND(jp_feature_vector_t, reactivations),
    JP_AVRO_BIND(jp_feature_vector_t, payment_failures),
    JP_AVRO_BIND(jp_feature_vector_t, active_subscribers),
    JP_AVRO_BIND(jp_feature_vector_t, unique_players),
    JP_AVRO_BIND(jp_feature_vector_t, channel_mix),
    JP_AVRO_BIND(jp_feature_vector_t, extra_tickets),
    JP_AVRO_BIND(jp_feature_vector_t, sector_ticket_quantiles),
    JP_AVRO_BIND(jp_feature_vector_t, prizes_paid_minor),
    JP_AVRO_BIND(jp_feature_vector_t, advertised_prize_minor),
    JP_AVRO_BIND_OPT(jp_feature_vector_t, log_prize_mean, has_log_prize_mean),
    JP_AVRO_BIND(jp_feature_vector_t, log_prize_var),
    JP_AVRO_BIND(jp_feature_vector_t, campaign_shares),
    JP_AVRO_BIND(jp_feature_vector_t, new_subscriptions),
    JP_AVRO_BIND(jp_feature_vector_t, signup_tickets),
    JP_AVRO_BIND(jp_feature_vector_t, signup_tickets_sq),
    JP_AVRO_BIND(jp_feature_vector_t, renewals),
    JP_AVRO_BIND(jp_feature_vector_t, renewal_tickets),
    JP_AVRO_BIND(jp_feature_vector_t, renewal_tickets_sq),
    JP_AVRO_BIND(jp_feature_vector_t, extra_purchases),
    JP_AVRO_BIND(jp_feature_vector_t, extra_tickets_sq),
    JP_AVRO_BIND(jp_feature_vector_t, subscribers_held),
    JP_AVRO_BIND(jp_feature_vector_t, subscribers_lapsed),
    JP_AVRO_BIND(jp_feature_vector_t, participating_postcodes),
    JP_AVRO_BIND(jp_feature_vector_t, held_tickets),
    JP_AVRO_BIND(jp_feature_vector_t, held_tickets_mean),
    JP_AVRO_BIND(jp_feature_vector_t, held_ticket_quantiles),
    JP_AVRO_BIND_SUB(jp_feature_vector_t, held_ticket_histogram, jp_held_tickets_layout),
};
const jp_avro_layout_t jp_feature_vector_layout =
    JP_AVRO_LAYOUT("jackpot.v1.FeatureVector", jp_feature_vector_t, feature_fields);

static const jp_avro_bind_t named_coefficient_fields[] = {
    JP_AVRO_BIND(jp_named_coefficient_t, name),
    JP_AVRO_BIND(jp_named_coefficient_t, estimate),
    /* The schema's "stderr" is a macro name in C, hence the member's "_". */
    {"stderr", offsetof(jp_named_coefficient_t, stderr_),
     JP_AVRO_MEMBER_SIZE(jp_named_coefficient_t, stderr_), NULL, -1},
};
const jp_avro_layout_t jp_named_coefficient_layout =
    JP_AVRO_LAYOUT("jackpot.v1.NamedCoefficient", jp_named_coefficient_t, named_coefficient_fields);

static const jp_avro_bind_t feature_schema_fields[] = {
    JP_AVRO_BIND(jp_feature_schema_t, record),
    JP_AVRO_BIND(jp_feature_schema_t, fingerprint),
    JP_AVRO_BIND(jp_feature_schema_t, features),
};
const jp_avro_layout_t jp_feature_schema_layout =
    JP_AVRO_LAYOUT("jackpot.v1.FeatureSchema", jp_feature_schema_t, feature_schema_fields);

static const jp_avro_bind_t model_version_fields[] = {
    JP_AVRO_BIND(jp_model_version_t, model),
    JP_AVRO_BIND(jp_model_version_t, version),
    JP_AVRO_BIND(jp_model_version_t, stage),
    JP_AVRO_BIND(jp_model_version_t, aliases),
    JP_AVRO_BIND(jp_model_version_t, parameters),
    JP_AVRO_BIND(jp_model_version_t, metrics),
    JP_AVRO_BIND_SUB(jp_model_version_t, training_data, jp_data_snapshot_layout),
    JP_AVRO_BIND(jp_model_version_t, code_version),
    JP_AVRO_BIND(jp_model_version_t, config_hash),
    JP_AVRO_BIND(jp_model_version_t, created_at),
    JP_AVRO_BIND(jp_model_version_t, country),
    JP_AVRO_BIND(jp_model_version_t, kind),
    JP_AVRO_BIND(jp_model_version_t, event),
    JP_AVRO_BIND(jp_model_version_t, reason),
    JP_AVRO_BIND(jp_model_version_t, event_at),
    JP_AVRO_BIND_SUB(jp_model_version_t, coefficients, jp_named_coefficient_layout),
    JP_AVRO_BIND_SUB(jp_model_version_t, feature_schema, jp_feature_schema_layout),
};
const jp_avro_layout_t jp_model_version_layout =
    JP_AVRO_LAYOUT("jackpot.v1.ModelVersion", jp_model_version_t, model_version_fields);

static const jp_event_info_t jp_event_table[JP_EVENT__COUNT] = {
    {JP_EVENT_SALE, "lottery.events.v1.SaleEvent", "SaleEvent.avsc", "lottery.sales.v1",
     &jp_sale_event_layout},
    {JP_EVENT_CUSTOMER, "lottery.events.v1.CustomerEvent", "CustomerEvent.avsc",
     "lottery.customers.v1", &jp_customer_event_layout},
    {JP_EVENT_DRAW, "lottery.events.v1.DrawResult", "DrawResult.avsc", "lottery.draws.v1",
     &jp_draw_result_layout},
    {JP_EVENT_RECOMMENDATION, "jackpot.v1.JackpotRecommendation", "JackpotRecommendation.avsc",
     "jackpot.recommendations.v1", &jp_recommendation_layout},
    {JP_EVENT_ALERT, "jackpot.v1.Alert", "Alert.avsc", "jackpot.alerts.v1", &jp_alert_layout},
    {JP_EVENT_FEATURES, "jackpot.v1.FeatureVector", "FeatureVector.avsc", "jackpot.features.v1",
     &jp_feature_vector_layout},
    {JP_EVENT_MODEL_VERSION, "jackpot.v1.ModelVersion", "ModelVersion.avsc", "jackpot.models.v1",
     &jp_model_version_layout},
};

const jp_event_info_t *jp_event_info(jp_event_type_t type)
{
    return (unsigned)type < JP_EVENT__COUNT ? &jp_event_table[type] : NULL;
}

const char *jp_event_schema_json(jp_event_type_t type, size_t *len)
{
    const jp_event_info_t *info = jp_event_info(type);
    const jp_embedded_file_t *f = info ? jp_embedded_find(info->schema_file) : NULL;
    if (len)
        *len = f ? f->len : 0;
    return f ? f->data : NULL;
}

const char *jp_window_kind_name(jp_window_kind_t kind)
{
    static const char *const names[] = {"hour", "day", "draw"};
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : NULL;
}

int jp_avro_str_eq(jp_avro_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

jp_avro_str_t jp_avro_str(const char *s)
{
    return (jp_avro_str_t){s ? s : "", s ? strlen(s) : 0};
}
