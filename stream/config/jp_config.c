/*
 * jp_config: the processor file's table, its cross-field checks, and the
 * loading of the country directory. librdkafka validates its own
 * properties (rd_kafka_conf_set on a scratch configuration), so a typo in
 * the kafka map is caught with its file:line:column before anything runs.
 */
#include "config/jp_config.h"
#include "model/base/jp_err.h"

#include <dirent.h>
#include <libgen.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jp_log.h"
#include "config/jp_yaml.h"
#include "model/base/jp_partitioner.h"
#include "model/base/jp_sha256.h"

static const char *const guarantees[] = {"at_least_once", "exactly_once", NULL};
static const char *const input_loss[] = {"stop", "continue", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
const char *const jp_config_window_kinds[] = {"hour", "day", "draw", NULL};
static const char *const mispartitioned_modes[] = {"repartition", "dead_letter", NULL};
static const char *const key_formats[] = {"string", "avro", NULL};

static int check_kafka_prop(const char *key, const char *value, char *err, size_t n)
{
    char rd_err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, value, rd_err, sizeof(rd_err));
    rd_kafka_conf_destroy(conf);
    if (r == RD_KAFKA_CONF_OK)
        return 0;
    jp_err_set(err, n, "librdkafka: %s", rd_err);
    return -1;
}

static int check_url(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
        jp_err_set(err, n, "'%s' is not an http:// or https:// URL", v);
        return -1;
    }
    return 0;
}

static int check_listen(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    const char *colon = strrchr(v, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : -1;
    if (!colon || colon == v || port < 0 || port > 65535 || colon[1] == '\0') {
        jp_err_set(err, n, "'%s' is not host:port", v);
        return -1;
    }
    return 0;
}

static int check_topic(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    size_t len = strlen(v);
    int ok = len > 0 && len <= 249 && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
    for (const char *p = v; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '_' || *p == '-';
    if (!ok) {
        jp_err_set(err, n, "'%s' is not a valid Kafka topic name ([a-zA-Z0-9._-], 1..249)", v);
        return -1;
    }
    return 0;
}

#define NR JP_CONF_NO_RANGE
#define END                                                                                        \
    {                                                                                              \
        NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL                                         \
    }

static const jp_conf_field_t input_topic_fields[] = {
    {"name", JP_CONF_STR, offsetof(jp_topic_conf_t, name), 1, NULL, NR, NULL, NULL, 0, check_topic,
     "topic name"},
    {"partitions", JP_CONF_INT, offsetof(jp_topic_conf_t, partitions), 0, "6", 1, 1024, NULL, NULL,
     0, NULL, "partition count; all inputs must be equal (co-partitioned)"},
    END,
};

/* offsetof needs a bare member designator, so sec cannot be parenthesized. */
// NOLINTNEXTLINE(bugprone-macro-parentheses)
#define OFF(sec, member) (offsetof(jp_config_t, sec.member) - offsetof(jp_config_t, sec))
static const jp_conf_field_t topics_fields[] = {
    {"sales", JP_CONF_SECTION, OFF(topics, sales), 1, NULL, NR, NULL, input_topic_fields, 0, NULL,
     "SaleEvent input"},
    {"customers", JP_CONF_SECTION, OFF(topics, customers), 1, NULL, NR, NULL, input_topic_fields, 0,
     NULL, "CustomerEvent input"},
    {"draws", JP_CONF_SECTION, OFF(topics, draws), 1, NULL, NR, NULL, input_topic_fields, 0, NULL,
     "DrawResult input"},
    {"recommendations", JP_CONF_STR, OFF(topics, recommendations), 0, "jackpot.recommendations.v1",
     NR, NULL, NULL, 0, check_topic, "JackpotRecommendation output"},
    {"alerts", JP_CONF_STR, OFF(topics, alerts), 0, "jackpot.alerts.v1", NR, NULL, NULL, 0,
     check_topic, "Alert output"},
    {"features", JP_CONF_STR, OFF(topics, features), 0, "jackpot.features.v1", NR, NULL, NULL, 0,
     check_topic, "FeatureVector output"},
    {"models", JP_CONF_STR, OFF(topics, models), 0, "jackpot.models.v1", NR, NULL, NULL, 0,
     check_topic, "ModelVersion log (compacted)"},
    {"output_partitions", JP_CONF_INT, OFF(topics, output_partitions), 0, "1", 1, 1024, NULL, NULL,
     0, NULL, "partitions of the output topics the dev broker creates"},
    {"dlq_suffix", JP_CONF_STR, OFF(topics, dlq_suffix), 0, ".dlq", NR, NULL, NULL, 0, NULL,
     "dead-letter topic = input topic + suffix"},
    {"changelog_prefix", JP_CONF_STR, OFF(topics, changelog_prefix), 0, "jackpot.", NR, NULL, NULL,
     0, NULL,
     "changelog topic = prefix + store + -changelog; repartition topic = prefix + group.id + "
     "-repartition"},
    {"input_partitioner", JP_CONF_ENUM, OFF(topics, input_partitioner), 0, "murmur2", NR,
     jp_partitioner_names, NULL, 0, NULL,
     "the partitioner the inputs' producers use for the country key (docs/schemas.md); any: "
     "no check"},
    {"mispartitioned", JP_CONF_ENUM, OFF(topics, mispartitioned), 0, "repartition", NR,
     mispartitioned_modes, NULL, 0, NULL,
     "a record on another partition than its country's: through the repartition topic to its "
     "task, or dead-lettered (MISPARTITIONED)"},
    {"output_key_format", JP_CONF_ENUM, OFF(topics, output_key_format), 0, "string", NR,
     key_formats, NULL, 0, NULL,
     "output keys as plain UTF-8 strings, or Avro \"string\" in the Confluent wire format "
     "(subject <topic>-key)"},
    END,
};

static const jp_conf_field_t registry_fields[] = {
    {"url", JP_CONF_STR, OFF(schema_registry, url), 1, NULL, NR, NULL, NULL, 0, check_url,
     "Confluent Schema Registry (or Karapace, or jackpot registry) URL"},
    {"basic_auth", JP_CONF_SECRET, OFF(schema_registry, basic_auth), 0, NULL, NR, NULL, NULL, 0,
     NULL, "user:password, from basic_auth_file"},
    {"timeout", JP_CONF_DURATION, OFF(schema_registry, timeout_ms), 0, "5s", 100, 600000, NULL,
     NULL, 0, NULL, "per-request timeout"},
    END,
};

static const jp_conf_field_t state_fields[] = {
    {"dir", JP_CONF_PATH, OFF(state, dir), 1, NULL, NR, NULL, NULL, 0, NULL,
     "RocksDB state directory (one store per task below it)"},
    {"block_cache_mb", JP_CONF_INT, OFF(state, block_cache_mb), 0, "128", 8, 1 << 20, NULL, NULL, 0,
     NULL, "one block cache shared by every store"},
    {"write_buffer_mb", JP_CONF_INT, OFF(state, write_buffer_mb), 0, "64", 4, 1 << 20, NULL, NULL,
     0, NULL, "write-buffer manager budget shared by every store"},
    {"customer_ttl", JP_CONF_DURATION, OFF(state, customer_ttl_ms), 0, "400d", 86400000.0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL, "inactive customers are forgotten after this"},
    {"window_retention", JP_CONF_DURATION, OFF(state, window_retention_ms), 0, NULL, 3600000.0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "not supported yet (rejected): closed windows are not kept, only the last one per country "
     "and kind"},
    END,
};

static const jp_conf_field_t processing_fields[] = {
    {"commit_interval", JP_CONF_DURATION, OFF(processing, commit_interval_ms), 0, "1s", 10, 600000,
     NULL, NULL, 0, NULL, "how often state, outputs and offsets are committed"},
    {"guarantee", JP_CONF_ENUM, OFF(processing, guarantee), 0, "at_least_once", NR, guarantees,
     NULL, 0, NULL,
     "at_least_once (duplicates removed by event id); exactly_once is not supported yet "
     "(rejected)"},
    {"dedupe_horizon", JP_CONF_DURATION, OFF(processing, dedupe_horizon_ms), 0, "7d", 60000,
     90.0 * 86400000.0, NULL, NULL, 0, NULL, "event ids are remembered this long"},
    {"max_clock_skew", JP_CONF_DURATION, OFF(processing, max_clock_skew_ms), 0, "5m", 0, 86400000.0,
     NULL, NULL, 0, NULL,
     "events further ahead of their record's Kafka timestamp than this are FUTURE_EVENT_TIME"},
    {"max_event_time_jump", JP_CONF_DURATION, OFF(processing, max_event_time_jump_ms), 0, "30d",
     60000, 365.0 * 86400000.0, NULL, NULL, 0, NULL,
     "sales and customer events further ahead than this of their partition's recent event times "
     "(median + 2 x (median - lower quartile) of the last 31) are FUTURE_EVENT_TIME; covers the "
     "longest genuine outage of a producer"},
    {"max_draw_periods_ahead", JP_CONF_INT, OFF(processing, max_draw_periods_ahead), 0, "12", 1,
     1000, NULL, NULL, 0, NULL,
     "draw results more headline-draw periods ahead of the median draw time of their partition's "
     "last 9 records are FUTURE_EVENT_TIME"},
    {"future_wall_clock", JP_CONF_BOOL, OFF(processing, future_wall_clock), 0, "false", NR, NULL,
     NULL, 0, NULL,
     "also reject events further ahead of the wall clock than max_clock_skew (live input only: "
     "verdicts then depend on when records are processed)"},
    {"on_input_loss", JP_CONF_ENUM, OFF(processing, on_input_loss), 0, "stop", NR, input_loss, NULL,
     0, NULL,
     "input records removed by retention before they were read: stop (exit 75) or continue "
     "(logged and counted either way)"},
    {"shutdown_grace", JP_CONF_DURATION, OFF(processing, shutdown_grace_ms), 0, "10s", 1000, 600000,
     NULL, NULL, 0, NULL,
     "SIGTERM/SIGINT to exit at most this long, whatever the Kafka cluster does"},
    END,
};

static const jp_conf_field_t limits_fields[] = {
    {"event_id", JP_CONF_INT, OFF(limits, event_id), 0, "64", 1, 1 << 20, NULL, NULL, 0, NULL,
     "bytes of event_id (sales, customers)"},
    {"customer_id", JP_CONF_INT, OFF(limits, customer_id), 0, "128", 1, 1 << 20, NULL, NULL, 0,
     NULL, "bytes of customer_id (sales, customers)"},
    {"email", JP_CONF_INT, OFF(limits, email), 0, "254", 1, 1 << 20, NULL, NULL, 0, NULL,
     "bytes of email (customers)"},
    {"postcode", JP_CONF_INT, OFF(limits, postcode), 0, "16", 1, 1 << 20, NULL, NULL, 0, NULL,
     "bytes of postcode (sales, customers)"},
    {"draw_id", JP_CONF_INT, OFF(limits, draw_id), 0, "63", 1, 63, NULL, NULL, 0, NULL,
     "bytes of draw_id (sales, draws)"},
    {"campaign", JP_CONF_INT, OFF(limits, campaign), 0, "128", 1, 1 << 20, NULL, NULL, 0, NULL,
     "bytes of campaign (sales)"},
    {"reason", JP_CONF_INT, OFF(limits, reason), 0, "256", 1, 1 << 20, NULL, NULL, 0, NULL,
     "bytes of reason (customers)"},
    {"winning_sector", JP_CONF_INT, OFF(limits, winning_sector), 0, "16", 1, 1 << 20, NULL, NULL, 0,
     NULL, "bytes of winning_sector (draws)"},
    {"prize_kind", JP_CONF_INT, OFF(limits, prize_kind), 0, "64", 1, 1 << 20, NULL, NULL, 0, NULL,
     "bytes of prizes_paid[].kind (draws)"},
    {"prizes_paid", JP_CONF_INT, OFF(limits, prizes_paid), 0, "64", 1, 1 << 20, NULL, NULL, 0, NULL,
     "items of prizes_paid (draws)"},
    END,
};

static const jp_conf_field_t dead_letters_fields[] = {
    {"key", JP_CONF_SECRET, OFF(dead_letters, key), 0, NULL, NR, NULL, NULL, 0, NULL,
     "AES-256 key (64 hex digits) encrypting dead-letter values and original headers, from "
     "key_file (required by `jackpot run`)"},
    END,
};

static const jp_conf_field_t windows_fields[] = {
    {"sizes", JP_CONF_STRLIST, OFF(windows, sizes), 0, "hour,day,draw", NR, jp_config_window_kinds,
     NULL, 0, NULL, "tumbling windows per country"},
    {"allowed_lateness", JP_CONF_DURATION, OFF(windows, allowed_lateness_ms), 0, "10m", 0,
     7.0 * 86400000.0, NULL, NULL, 0, NULL, "watermark = max event time - allowed lateness"},
    {"grace", JP_CONF_DURATION, OFF(windows, grace_ms), 0, "5m", 0, 7.0 * 86400000.0, NULL, NULL, 0,
     NULL, "a window closes this long after the watermark passes its end"},
    END,
};

static const jp_conf_field_t http_fields[] = {
    {"listen", JP_CONF_STR, OFF(http, listen), 0, "127.0.0.1:8080", NR, NULL, NULL, 0, check_listen,
     "admin HTTP address"},
    {"ready_max_lag", JP_CONF_INT, OFF(http, ready_max_lag), 0, "100000", 0, 1e12, NULL, NULL, 0,
     NULL, "/readyz fails above this consumer lag (records)"},
    {"jwt_key", JP_CONF_SECRET, OFF(http, jwt_key), 0, NULL, NR, NULL, NULL, 0, NULL,
     "HS256 key (at least 32 bytes) of the admin API's JWTs, from jwt_key_file; without it, "
     "requests that change anything are refused (docs/security.md)"},
    {"auth_reads", JP_CONF_BOOL, OFF(http, auth_reads), 0, "false", NR, NULL, NULL, 0, NULL,
     "reads need a JWT too (role viewer or operator); /healthz, /readyz, /metrics stay open"},
    {"rate_limit", JP_CONF_NUM, OFF(http, rate_limit), 0, "10", 0, 100000, NULL, NULL, 0, NULL,
     "admin requests per second per client address (0: unlimited); above it 429 + Retry-After"},
    {"rate_burst", JP_CONF_INT, OFF(http, rate_burst), 0, "20", 1, 100000, NULL, NULL, 0, NULL,
     "requests a client may send at once before rate_limit applies"},
    {"operator_token", JP_CONF_SECRET, OFF(http, operator_token), 0, NULL, NR, NULL, NULL, 0, NULL,
     "removed: rejected; the admin API takes JWTs signed with jwt_key_file"},
    END,
};

static const jp_conf_field_t log_fields[] = {
    {"level", JP_CONF_ENUM, OFF(log, level), 0, "info", NR, log_levels, NULL, 0, NULL,
     "debug, info, warn or error"},
    {"format", JP_CONF_ENUM, OFF(log, format), 0, "text", NR, log_formats, NULL, 0, NULL,
     "text or json lines"},
    END,
};

static const jp_conf_field_t pii_fields[] = {
    {"token_key", JP_CONF_SECRET, OFF(pii, token_key), 0, NULL, NR, NULL, NULL, 0, NULL,
     "HMAC-SHA256 key for PII tokens, from token_key_file (required by `jackpot run`)"},
    END,
};

static const char *const drift_features[] = {
    "signups", "tickets_per_signup", "tickets_per_extra", "payment_failures", "channel_mix", NULL};

// NOLINTNEXTLINE(bugprone-macro-parentheses)
#define OFF2(sub, member)                                                                          \
    (offsetof(jp_config_t, alerts.sub.member) - offsetof(jp_config_t, alerts.sub))
static const jp_conf_field_t feature_drift_fields[] = {
    {"enabled", JP_CONF_BOOL, OFF2(feature, enabled), 0, "true", NR, NULL, NULL, 0, NULL,
     "compare each country's recent days with a reference (FeatureDrift)"},
    {"features", JP_CONF_STRLIST, OFF2(feature, features), 0,
     "signups,tickets_per_signup,tickets_per_extra,payment_failures,channel_mix", NR,
     drift_features, NULL, 0, NULL,
     "what is compared: signups per day (PSI and KS; only while the advertised prize stays "
     "the same), the distributions of tickets per sign-up and per extra purchase, renewal "
     "outcomes, the channels of non-renewal sales (categorical PSI)"},
    {"current_days", JP_CONF_INT, OFF2(feature, current_days), 0, "7", 1, 90, NULL, NULL, 0, NULL,
     "the current window: the last N closed days, judged every day"},
    {"reference_days", JP_CONF_INT, OFF2(feature, reference_days), 0, "56", 7, 400, NULL, NULL, 0,
     NULL,
     "trailing reference (the N days before the current window) when the learning loop "
     "gives none"},
    {"false_alarms_per_year", JP_CONF_NUM, OFF2(feature, false_alarms_per_year), 0, "0.1", 0.001,
     10, NULL, NULL, 0, NULL,
     "false FeatureDrift alerts allowed per country and year, shared by every daily test "
     "(Bonferroni)"},
    {"resolve_days", JP_CONF_INT, OFF2(feature, resolve_days), 0, "7", 1, 365, NULL, NULL, 0, NULL,
     "days without a drift verdict (and a quiet one at the end) before a FeatureDrift alert "
     "resolves"},
    {"min_count", JP_CONF_INT, OFF2(feature, min_count), 0, "30", 1, 1e9, NULL, NULL, 0, NULL,
     "categorical features: fewest events in the current window (and per reference week) "
     "to judge"},
    END,
};

static const jp_conf_field_t concept_drift_fields[] = {
    {"enabled", JP_CONF_BOOL, OFF2(concept, enabled), 0, "true", NR, NULL, NULL, 0, NULL,
     "Page-Hinkley and ADWIN on the models' evaluations (ConceptDrift)"},
    {"false_alarms_per_year", JP_CONF_NUM, OFF2(concept, false_alarms_per_year), 0, "0.1", 0.001,
     10, NULL, NULL, 0, NULL, "false ConceptDrift alerts allowed per country, model and year"},
    {"evaluations_per_year", JP_CONF_INT, OFF2(concept, evaluations_per_year), 0, "365", 1, 1e6,
     NULL, NULL, 0, NULL,
     "how many evaluations a model gets per year (365: the learning loop scores each closed day)"},
    {"shift_sd", JP_CONF_NUM, OFF2(concept, shift_sd), 0, "1", 0.1, 10, NULL, NULL, 0, NULL,
     "the mean shift, in residual standard deviations, the detectors are tuned to find fastest"},
    {"critical_shift_sd", JP_CONF_NUM, OFF2(concept, critical_shift_sd), 0, "1", 0, 100, NULL, NULL,
     0, NULL,
     "a detected shift at least this large (mean since the change point) is critical: the "
     "retraining listener is told"},
    {"warmup", JP_CONF_INT, OFF2(concept, warmup), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "removed: rejected; the churn model's scores are standardized by the log-loss its own "
     "predictions expect, with no warm-up"},
    {"resolve_after", JP_CONF_DURATION, OFF2(concept, resolve_after_ms), 0, "28d", 3600000.0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "event time without a new detection before a ConceptDrift alert resolves"},
    END,
};

static const jp_conf_field_t quality_fields[] = {
    {"bucket", JP_CONF_DURATION, OFF2(quality, bucket_ms), 0, "1h", 60000, 7.0 * 86400000.0, NULL,
     NULL, 0, NULL,
     "dead-letter and late rates are judged per bucket of each input partition's event time"},
    {"dead_letter_rate", JP_CONF_NUM, OFF2(quality, dead_letter_rate), 0, "0.01", 0, 1, NULL, NULL,
     0, NULL, "band: the highest normal share of dead-lettered records"},
    {"late_rate", JP_CONF_NUM, OFF2(quality, late_rate), 0, "0.005", 0, 1, NULL, NULL, 0, NULL,
     "band: the highest normal share of late records"},
    {"false_alarms_per_year", JP_CONF_NUM, OFF2(quality, false_alarms_per_year), 0, "0.2", 0.001,
     100, NULL, NULL, 0, NULL,
     "false rate alerts allowed per input partition and year (binomial test per bucket)"},
    {"min_records", JP_CONF_INT, OFF2(quality, min_records), 0, "1000", 1, 1e12, NULL, NULL, 0,
     NULL, "fewest consumed records of a bucket: a quieter one spans several"},
    {"silence_sales", JP_CONF_DURATION, OFF2(quality, silence_sales_ms), 0, "1d", 60000,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "event time without a sale of a country before SilentSource fires"},
    {"silence_customers", JP_CONF_DURATION, OFF2(quality, silence_customers_ms), 0, "3d", 60000,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL, "the same for customer events"},
    {"silence_draws", JP_CONF_DURATION, OFF2(quality, silence_draws_ms), 0, "1d", 60000,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "event time after a scheduled draw without its result (or any later one) before "
     "SilentSource fires"},
    {"cross_input_silence", JP_CONF_BOOL, OFF2(quality, cross_input_silence), 0, "true", NR, NULL,
     NULL, 0, NULL,
     "a silent partition (which stops its task's clock) is judged by the task's other inputs "
     "once it has been read to its end"},
    {"wall_silence", JP_CONF_DURATION, OFF2(quality, wall_silence_ms), 0, "0s", 0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "live deployments: wall time without a record of a country and input before SilentSource "
     "fires (0: off; not deterministic)"},
    {"max_lag", JP_CONF_INT, OFF2(quality, max_lag), 0, "0", 0, 1e12, NULL, NULL, 0, NULL,
     "live deployments: records behind the end of an input partition before ConsumerLagHigh "
     "fires (0: off; not deterministic)"},
    END,
};
#undef OFF2

static const jp_conf_field_t alerts_fields[] = {
    {"enabled", JP_CONF_BOOL, OFF(alerts, enabled), 0, "true", NR, NULL, NULL, 0, NULL,
     "drift and data-quality alerts on topics.alerts"},
    {"repeat_interval", JP_CONF_DURATION, OFF(alerts, repeat_interval_ms), 0, "0s", 0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "event time after which a still-firing alert is sent again (0: once until resolved)"},
    {"runbook_base_url", JP_CONF_STR, OFF(alerts, runbook_base_url), 0, "", NR, NULL, NULL, 0, NULL,
     "prefix of every runbook_url (docs/runbooks/<name>.md)"},
    {"resolved_retention", JP_CONF_DURATION, OFF(alerts, resolved_retention_ms), 0, "30d", 0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "resolved alerts stay in the state and /v1/alerts this long (event time)"},
    {"feature_drift", JP_CONF_SECTION, OFF(alerts, feature), 0, NULL, NR, NULL,
     feature_drift_fields, 0, NULL, "feature drift"},
    {"concept_drift", JP_CONF_SECTION, OFF(alerts, concept), 0, NULL, NR, NULL,
     concept_drift_fields, 0, NULL, "concept drift"},
    {"quality", JP_CONF_SECTION, OFF(alerts, quality), 0, NULL, NR, NULL, quality_fields, 0, NULL,
     "data quality"},
    END,
};

static const jp_conf_field_t countries_fields[] = {
    {"dir", JP_CONF_PATH, OFF(countries, dir), 0, "countries", NR, NULL, NULL, 0, NULL,
     "directory of <code>.yaml country files, relative to this file"},
    {"enabled", JP_CONF_STRLIST, OFF(countries, enabled), 0, NULL, NR, NULL, NULL, 0, NULL,
     "country codes to load (default: every file in dir)"},
    END,
};
static const jp_conf_field_t models_fields[] = {
    {"enabled", JP_CONF_BOOL, OFF(models, enabled), 0, "true", NR, NULL, NULL, 0, NULL,
     "run the learning loop: sales and churn models per country, the model registry "
     "(docs/models.md)"},
    {"churn_horizon", JP_CONF_DURATION, OFF(models, churn_horizon_ms), 0, "30d", 86400000.0,
     365.0 * 86400000.0, NULL, NULL, 0, NULL,
     "a churn example is positive when the customer cancels within this after it"},
    {"churn_sample", JP_CONF_NUM, OFF(models, churn_sample), 0, "0.1", 0.0001, 1, NULL, NULL, 0,
     NULL, "share of renewals that become churn examples (chosen by a hash of customer and time)"},
    {"stock_warmup", JP_CONF_DURATION, OFF(models, stock_warmup_ms), 0, "35d", 0,
     365.0 * 86400000.0, NULL, NULL, 0, NULL,
     "the flows per subscriber (extras, cancellations) learn only once every subscriber had time "
     "to be billed: the stock is unknown before"},
    {"min_training", JP_CONF_DURATION, OFF(models, min_training_ms), 0, "28d", 86400000.0,
     365.0 * 86400000.0, NULL, NULL, 0, NULL, "no version is registered before this much data"},
    {"version_every", JP_CONF_INT, OFF(models, version_every), 0, "1", 1, 520, NULL, NULL, 0, NULL,
     "a new version (the challenger) is cut every this many headline draws of the country"},
    END,
};
#undef OFF

const jp_conf_field_t jp_config_fields[] = {
    {"kafka", JP_CONF_PROPS, offsetof(jp_config_t, kafka), 1, NULL, NR, NULL, NULL, 0,
     check_kafka_prop, "librdkafka properties, passed through untouched"},
    {"topics", JP_CONF_SECTION, offsetof(jp_config_t, topics), 1, NULL, NR, NULL, topics_fields, 0,
     NULL, "topic names"},
    {"schema_registry", JP_CONF_SECTION, offsetof(jp_config_t, schema_registry), 1, NULL, NR, NULL,
     registry_fields, 0, NULL, "schema registry"},
    {"state", JP_CONF_SECTION, offsetof(jp_config_t, state), 1, NULL, NR, NULL, state_fields, 0,
     NULL, "state stores"},
    {"processing", JP_CONF_SECTION, offsetof(jp_config_t, processing), 0, NULL, NR, NULL,
     processing_fields, 0, NULL, "processing guarantees"},
    {"windows", JP_CONF_SECTION, offsetof(jp_config_t, windows), 0, NULL, NR, NULL, windows_fields,
     0, NULL, "event-time windows"},
    {"limits", JP_CONF_SECTION, offsetof(jp_config_t, limits), 0, NULL, NR, NULL, limits_fields, 0,
     NULL, "largest accepted input fields; longer ones are dead-lettered as FIELD_TOO_LONG"},
    {"dead_letters", JP_CONF_SECTION, offsetof(jp_config_t, dead_letters), 0, NULL, NR, NULL,
     dead_letters_fields, 0, NULL, "dead-letter topics (docs/dlq.md)"},
    {"http", JP_CONF_SECTION, offsetof(jp_config_t, http), 0, NULL, NR, NULL, http_fields, 0, NULL,
     "admin HTTP"},
    {"log", JP_CONF_SECTION, offsetof(jp_config_t, log), 0, NULL, NR, NULL, log_fields, 0, NULL,
     "logging"},
    {"pii", JP_CONF_SECTION, offsetof(jp_config_t, pii), 0, NULL, NR, NULL, pii_fields, 0, NULL,
     "PII tokenization"},
    {"alerts", JP_CONF_SECTION, offsetof(jp_config_t, alerts), 0, NULL, NR, NULL, alerts_fields, 0,
     NULL, "drift and data-quality alerts"},
    {"countries", JP_CONF_SECTION, offsetof(jp_config_t, countries), 0, NULL, NR, NULL,
     countries_fields, 0, NULL, "country configurations"},
    {"models", JP_CONF_SECTION, offsetof(jp_config_t, models), 0, NULL, NR, NULL, models_fields, 0,
     NULL, "the learning loop"},
    END,
};

const char *jp_config_kafka_get(const jp_config_t *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->kafka.n; i++)
        if (strcmp(cfg->kafka.keys[i], key) == 0)
            return cfg->kafka.values[i];
    return NULL;
}

const jp_country_t *jp_config_country(const jp_config_t *cfg, const char *code)
{
    for (size_t i = 0; i < cfg->n_countries; i++)
        if (cfg->country[i].code && strcmp(cfg->country[i].code, code) == 0)
            return &cfg->country[i];
    return NULL;
}

int jp_config_add_xprop(jp_conf_props_t *props, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return -1;
    char *key = strndup(arg, (size_t)(eq - arg));
    int r = key ? jp_conf_props_set(props, key, eq + 1) : -1;
    free(key);
    return r;
}

static void apply_xprops(jp_conf_t *c, const jp_conf_props_t *x, jp_config_t *cfg)
{
    for (size_t i = 0; x && i < x->n; i++) {
        char err[512], key[300];
        snprintf(key, sizeof(key), "-X %s", x->keys[i]);
        if (check_kafka_prop(x->keys[i], x->values[i], err, sizeof(err)) != 0)
            jp_conf_errorf(c, NULL, key, "%s", err);
        else
            jp_conf_props_set(&cfg->kafka, x->keys[i], x->values[i]);
    }
}

static int is_yaml_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

static int cmp_country(const void *a, const void *b)
{
    const jp_country_t *x = a, *y = b;
    return strcmp(x->code ? x->code : "", y->code ? y->code : "");
}

static void load_countries(jp_conf_t *c, const jp_yaml_node_t *root, jp_config_t *cfg)
{
    const jp_yaml_node_t *sec = jp_yaml_get(root, "countries");
    const char *dir = cfg->countries.dir;
    char **files = NULL;
    size_t n_files = 0;

    if (cfg->countries.enabled.n) {
        files = calloc(cfg->countries.enabled.n, sizeof(*files));
        for (size_t i = 0; files && i < cfg->countries.enabled.n; i++) {
            char lower[8] = {0};
            const char *code = cfg->countries.enabled.v[i];
            for (size_t k = 0; k < 7 && code[k]; k++)
                lower[k] = (char)(code[k] | 0x20);
            size_t n = strlen(dir) + strlen(lower) + 8;
            files[n_files] = malloc(n);
            if (files[n_files])
                snprintf(files[n_files++], n, "%s/%s.yaml", dir, lower);
        }
    } else {
        struct dirent **list;
        int n = scandir(dir, &list, is_yaml_file, alphasort);
        if (n < 0) {
            jp_conf_error_at_key(c, sec ? sec : root, "countries", "dir",
                                 "cannot read country directory %s: %m", dir);
            return;
        }
        files = calloc((size_t)n + 1, sizeof(*files));
        for (int i = 0; i < n; i++) {
            size_t len = strlen(dir) + strlen(list[i]->d_name) + 2;
            if (files && (files[n_files] = malloc(len)))
                snprintf(files[n_files++], len, "%s/%s", dir, list[i]->d_name);
            free(list[i]);
        }
        free(list);
        if (n == 0)
            jp_conf_error_at_key(c, sec ? sec : root, "countries", "dir",
                                 "no country files (*.yaml) in %s", dir);
    }
    cfg->country = calloc(n_files ? n_files : 1, sizeof(*cfg->country));
    for (size_t i = 0; i < n_files; i++) {
        if (cfg->country)
            jp_country_load(c, files[i], &cfg->country[cfg->n_countries++]);
        free(files[i]);
    }
    free(files);
    if (cfg->country)
        qsort(cfg->country, cfg->n_countries, sizeof(*cfg->country), cmp_country);
}

static void check_consistency(jp_conf_t *c, const jp_yaml_node_t *root, jp_config_t *cfg)
{
    const jp_yaml_node_t *kafka = jp_yaml_get(root, "kafka");
    static const char *const required[] = {"bootstrap.servers", "group.id"};
    for (size_t i = 0; i < 2; i++)
        if (!jp_config_kafka_get(cfg, required[i]))
            jp_conf_errorf(c, kafka ? kafka : root, "kafka", "missing required property '%s'",
                           required[i]);

    const jp_yaml_node_t *topics = jp_yaml_get(root, "topics");
    const jp_topic_conf_t *in[] = {&cfg->topics.sales, &cfg->topics.customers, &cfg->topics.draws};
    static const char *const names[] = {"sales", "customers", "draws"};
    for (size_t i = 1; i < 3; i++)
        /* 0: the count itself was invalid and is reported already. */
        if (in[i]->partitions != in[0]->partitions && in[i]->partitions && in[0]->partitions &&
            in[i]->name && in[0]->name)
            jp_conf_error_at_key(c, jp_yaml_get(topics, names[i]),
                                 i == 1 ? "topics.customers" : "topics.draws", "partitions",
                                 "inputs must be co-partitioned: %s has %lld partitions, %s has "
                                 "%lld",
                                 in[i]->name, (long long)in[i]->partitions, in[0]->name,
                                 (long long)in[0]->partitions);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < i; j++)
            if (in[i]->name && in[j]->name && strcmp(in[i]->name, in[j]->name) == 0) {
                char sec[32];
                snprintf(sec, sizeof(sec), "topics.%s", names[i]);
                jp_conf_error_at_key(c, jp_yaml_get(topics, names[i]), sec, "name",
                                     "topic '%s' is also the %s topic", in[i]->name, names[j]);
            }

    const jp_yaml_node_t *http = jp_yaml_get(root, "http");
    if (cfg->http.operator_token.path)
        jp_conf_error_at_key(c, http, "http", "operator_token_file",
                             "removed: the admin API takes JWTs (HS256, claim role: operator or "
                             "viewer) signed with the key of http.jwt_key_file; see "
                             "docs/security.md");
    if (cfg->http.auth_reads && !cfg->http.jwt_key.path)
        jp_conf_error_at_key(c, http, "http", "auth_reads", "needs http.jwt_key_file");
    if (cfg->http.jwt_key.value && strlen(cfg->http.jwt_key.value) < JP_CONFIG_JWT_MIN_KEY)
        jp_conf_error_at_key(c, http, "http", "jwt_key_file",
                             "the key has %zu bytes; HS256 needs at least %d",
                             strlen(cfg->http.jwt_key.value), JP_CONFIG_JWT_MIN_KEY);
    /* Keys the engine cannot honour yet are refused rather than ignored. */
    const jp_yaml_node_t *processing = jp_yaml_get(root, "processing");
    if (cfg->processing.guarantee == JP_GUARANTEE_EXACTLY_ONCE)
        jp_conf_error_at_key(c, processing ? processing : root, "processing", "guarantee",
                             "exactly_once is not supported yet (the engine has no Kafka "
                             "transactions); use at_least_once");
    const jp_yaml_node_t *concept = jp_yaml_get(jp_yaml_get(root, "alerts"), "concept_drift");
    if (jp_yaml_get(concept, "warmup"))
        jp_conf_error_at_key(c, concept, "alerts.concept_drift", "warmup",
                             "removed: the churn model's scores are standardized by the log-loss "
                             "its own predictions expect, which needs no warm-up; remove the key");
    const jp_yaml_node_t *state = jp_yaml_get(root, "state");
    if (cfg->state.window_retention_ms)
        jp_conf_error_at_key(c, state ? state : root, "state", "window_retention",
                             "not supported yet: closed windows are not kept (only the last "
                             "closed window per country and kind); remove the key");

    if (cfg->windows.grace_ms > 0 && cfg->windows.allowed_lateness_ms > 0 &&
        cfg->windows.grace_ms + cfg->windows.allowed_lateness_ms >=
            cfg->processing.dedupe_horizon_ms)
        jp_conf_error_at_key(c, jp_yaml_get(root, "processing"), "processing", "dedupe_horizon",
                             "must be longer than windows.allowed_lateness + windows.grace");
}

int jp_config_load(jp_conf_t *c, const char *path, const jp_conf_props_t *xprops, jp_config_t *out)
{
    memset(out, 0, sizeof(*out));
    out->path = strdup(path);
    size_t before = c->n_errors;
    jp_yaml_node_t *root = jp_conf_load_file(c, jp_config_fields, path, out);
    if (!root)
        return -1;
    apply_xprops(c, xprops, out);
    jp_conf_check_env(c);
    check_consistency(c, root, out);
    if (out->countries.dir)
        load_countries(c, root, out);
    jp_yaml_free(root);
    return c->n_errors == before ? 0 : -1;
}

void jp_config_release(jp_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_countries; i++)
        jp_country_release(&cfg->country[i]);
    free(cfg->country);
    jp_conf_release(jp_config_fields, cfg);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}

/* Appends a file's bytes to *buf (nothing if it cannot be read). */
static void append_file(char **buf, size_t *len, const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        char *grown = realloc(*buf, *len + n);
        if (!grown)
            break;
        memcpy(grown + *len, chunk, n);
        *buf = grown;
        *len += n;
    }
    fclose(f);
}

void jp_config_hash(const jp_config_t *cfg, char out[65])
{
    char *buf = NULL;
    size_t len = 0;
    append_file(&buf, &len, cfg->path);
    for (size_t i = 0; i < cfg->n_countries; i++)
        append_file(&buf, &len, cfg->country[i].file);
    uint8_t d[JP_SHA256_LEN];
    jp_sha256(buf, len, d);
    free(buf);
    for (size_t i = 0; i < JP_SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void money(char *out, size_t n, int64_t minor, int64_t exponent, const char *currency)
{
    int64_t scale = 1;
    for (int64_t i = 0; i < exponent; i++)
        scale *= 10;
    /* Whole amounts print without decimals: "250000 GBP", "12.25 GBP". */
    if (exponent > 0 && minor % scale != 0)
        snprintf(out, n, "%lld.%0*lld %s", (long long)(minor / scale), (int)exponent,
                 (long long)(minor % scale), currency);
    else
        snprintf(out, n, "%lld %s", (long long)(minor / scale), currency);
}

void jp_config_print_summary(const jp_config_t *cfg, FILE *out)
{
    fprintf(out, "%s: ok\n", cfg->path);
    fprintf(out, "  kafka            %s, group %s (%zu properties)\n",
            jp_config_kafka_get(cfg, "bootstrap.servers"), jp_config_kafka_get(cfg, "group.id"),
            cfg->kafka.n);
    fprintf(out, "  inputs           %s, %s, %s (%lld partitions each)\n", cfg->topics.sales.name,
            cfg->topics.customers.name, cfg->topics.draws.name,
            (long long)cfg->topics.sales.partitions);
    fprintf(out, "  outputs          %s, %s, %s, %s (%s keys)\n", cfg->topics.recommendations,
            cfg->topics.alerts, cfg->topics.features, cfg->topics.models,
            key_formats[cfg->topics.output_key_format]);
    fprintf(out, "  partitioning     %s; mispartitioned records: %s\n",
            jp_partitioner_names[cfg->topics.input_partitioner],
            cfg->topics.input_partitioner == JP_PARTITIONER_ANY
                ? "not checked"
                : mispartitioned_modes[cfg->topics.mispartitioned]);
    fprintf(out, "  schema registry  %s\n", cfg->schema_registry.url);
    fprintf(out, "  state            %s (block cache %lld MiB, write buffers %lld MiB)\n",
            cfg->state.dir, (long long)cfg->state.block_cache_mb,
            (long long)cfg->state.write_buffer_mb);
    fprintf(out, "  processing       %s, commit every %lld ms\n",
            guarantees[cfg->processing.guarantee], (long long)cfg->processing.commit_interval_ms);
    fprintf(out, "  windows          lateness %lld ms, grace %lld ms\n",
            (long long)cfg->windows.allowed_lateness_ms, (long long)cfg->windows.grace_ms);
    fprintf(out, "  admin http       %s\n", cfg->http.listen);
    fprintf(out, "  pii token key    %s\n",
            cfg->pii.token_key.path ? cfg->pii.token_key.path : "(none: only `jackpot dev` runs)");
    fprintf(out, "  countries        %zu\n", cfg->n_countries);
    for (size_t i = 0; i < cfg->n_countries; i++) {
        const jp_country_t *k = &cfg->country[i];
        const jp_draw_conf_t *d = jp_country_headline_draw(k);
        char lo[64], hi[64], price[64];
        money(lo, sizeof(lo), k->prizes.headline.min_minor, k->currency_exponent, k->currency);
        money(hi, sizeof(hi), k->prizes.headline.max_minor, k->currency_exponent, k->currency);
        money(price, sizeof(price), k->ticket.price_minor, k->currency_exponent, k->currency);
        fprintf(out, "    %s %-28s ticket %s, headline %s %s %s..%s, draw %s %s (%s)\n", k->code,
                k->name, price,
                k->prizes.headline.kind == JP_COUNTRY_PRIZE_PER_TICKET ? "per-ticket" : "shared",
                k->prizes.headline.name, lo, hi, d ? d->name : "?", d ? d->time : "?",
                k->calendar.time_zone);
    }
}

void jp_config_print_reference(FILE *out)
{
    fputs("# Configuration reference\n"
          "\n"
          "Generated by `jackpot config reference` from the validation tables, so it\n"
          "cannot drift from what `jackpot config check` accepts. Durations are written\n"
          "like `250ms`, `30s`, `5m`, `2h`, `7d`, `1w`; money is in minor units of the\n"
          "country's currency (64-bit integers); shares are fractions in [0, 1]. A\n"
          "`secret file` key names a file whose content is the value; secret values\n"
          "never appear in logs or errors. Relative paths are relative to the file.\n"
          "\n"
          "Environment overrides (processor file only): `JACKPOT_<PATH>` with sections\n"
          "joined by `__`, e.g. `JACKPOT_STATE__DIR=/data`,\n"
          "`JACKPOT_KAFKA__BOOTSTRAP_SERVERS=broker:9092`,\n"
          "`JACKPOT_PII__TOKEN_KEY_FILE=/run/secrets/pii`. `-X key=value` on the command\n"
          "line sets a librdkafka property last.\n"
          "\n"
          "## Processor: configs/jackpot.yaml\n"
          "\n",
          out);
    jp_conf_print_reference(jp_config_fields, "", out);
    fputs("\n## Country: configs/countries/<code>.yaml\n"
          "\n"
          "One file per lottery, named after its ISO 3166-1 alpha-2 code. Onboarding a\n"
          "country is adding a file.\n"
          "\n",
          out);
    jp_conf_print_reference(jp_country_fields, "", out);
}
