/*
 * jp_sim_world: the world file's jp_conf tables and the checks between its
 * fields. Field-level validation (types, ranges, unknown keys) comes from
 * jp_conf; this file adds what a table cannot say: seasonality lists of the
 * right length, a schedule sorted by week, changes naming simulated
 * countries, and every simulated country present in the processor
 * configuration the world names (which is loaded here, so the simulator
 * and the processor always agree on topics, lateness and country rules).
 */
#include "sim/jp_sim_world.h"
#include "model/base/jp_err.h"

#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_yaml.h"

#define NR JP_CONF_NO_RANGE
#define END                                                                                        \
    {                                                                                              \
        NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL                                         \
    }

static const char *const fault_names[JP_SIM_FAULT__COUNT] = {
    "duplicate", "late",       "out_of_order", "not_framed",      "unknown_schema_id",
    "truncated", "wrong_type", "out_of_range", "unknown_country",
};

const char *jp_sim_fault_name(jp_sim_fault_t f)
{
    return (unsigned)f < JP_SIM_FAULT__COUNT ? fault_names[f] : "?";
}

static const char *const policies[] = {"fixed", "schedule", "recommendations", NULL};
static const char *const change_kinds[] = {"elasticity", "seasonality", "feature_shift", "silence",
                                           NULL};

static int check_date(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    int y, m, d;
    char extra;
    if (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || y < 1970 ||
        m < 1 || m > 12 || d < 1 || d > 31) {
        jp_err_set(err, n, "'%s' is not a date YYYY-MM-DD", v);
        return -1;
    }
    return 0;
}

#define F(type, member) offsetof(type, member)

static const jp_conf_field_t fault_fields[] = {
    {"duplicate", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_DUPLICATE, 0, "0", 0, 1, NULL, NULL, 0,
     NULL, "share of records sent twice (same event id)"},
    {"late", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_LATE, 0, "0", 0, 1, NULL, NULL, 0, NULL,
     "share of records older than the processor's lateness + grace"},
    {"out_of_order", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_OUT_OF_ORDER, 0, "0", 0, 1, NULL,
     NULL, 0, NULL, "share of records moved back in time within the lateness"},
    {"not_framed", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_NOT_FRAMED, 0, "0", 0, 1, NULL, NULL,
     0, NULL, "share of records without the Confluent frame"},
    {"unknown_schema_id", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_UNKNOWN_SCHEMA_ID, 0, "0", 0,
     1, NULL, NULL, 0, NULL, "share of records naming a schema id the registry lacks"},
    {"truncated", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_TRUNCATED, 0, "0", 0, 1, NULL, NULL, 0,
     NULL, "share of records whose Avro datum is cut in half"},
    {"wrong_type", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_WRONG_TYPE, 0, "0", 0, 1, NULL, NULL,
     0, NULL, "share of sales written with a rogue schema (tickets as a string)"},
    {"out_of_range", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_OUT_OF_RANGE, 0, "0", 0, 1, NULL,
     NULL, 0, NULL, "share of records with a negative ticket count"},
    {"unknown_country", JP_CONF_NUM, sizeof(double) * JP_SIM_FAULT_UNKNOWN_COUNTRY, 0, "0", 0, 1,
     NULL, NULL, 0, NULL, "share of records for country ZZ"},
    END,
};

#define PO(m) (F(jp_sim_country_t, population.m) - F(jp_sim_country_t, population))
static const jp_conf_field_t population_fields[] = {
    {"subscribers", JP_CONF_INT, PO(subscribers), 1, NULL, 0, 5e7, NULL, NULL, 0, NULL,
     "active subscribers at the start"},
    {"postcodes", JP_CONF_INT, PO(postcodes), 1, NULL, 1, 1e7, NULL, NULL, 0, NULL,
     "postcodes in the country"},
    {"postcodes_per_sector", JP_CONF_INT, PO(postcodes_per_sector), 0, "20", 1, 99, NULL, NULL, 0,
     NULL, "postcodes per postcode sector"},
    {"density_sigma", JP_CONF_NUM, PO(density_sigma), 0, "1.2", 0, 4, NULL, NULL, 0, NULL,
     "lognormal sigma of players per postcode (a few dense, many sparse)"},
    {"tickets_mean", JP_CONF_NUM, PO(tickets_mean), 0, "1.3", 1, 20, NULL, NULL, 0, NULL,
     "mean tickets per subscription: 1 + Poisson(mean - 1)"},
    {"max_tenure_months", JP_CONF_INT, PO(max_tenure_months), 0, "36", 0, 240, NULL, NULL, 0, NULL,
     "initial subscribers' tenure is uniform on 0..this"},
    END,
};
#undef PO

#define RO(m) (F(jp_sim_country_t, response.m) - F(jp_sim_country_t, response))
static const jp_conf_field_t response_fields[] = {
    {"prize_ref_minor", JP_CONF_INT, RO(prize_ref_minor), 0, "0", 0, 1e15, NULL, NULL, 0, NULL,
     "J_ref of (J / J_ref)^elasticity (0: the country's initial prize)"},
    {"signups_per_day", JP_CONF_NUM, RO(signups_per_day), 1, NULL, 0, 1e7, NULL, NULL, 0, NULL,
     "sign-ups per day at J_ref, seasonality 1, no campaign"},
    {"signup_elasticity", JP_CONF_NUM, RO(signup_elasticity), 0, "0.5", -5, 5, NULL, NULL, 0, NULL,
     "d log(sign-up rate) / d log(J); also drives reactivations"},
    {"cancel_elasticity", JP_CONF_NUM, RO(cancel_elasticity), 0, "-0.2", -5, 5, NULL, NULL, 0, NULL,
     "d log(churn hazard) / d log(J)"},
    {"reactivations_per_day", JP_CONF_NUM, RO(reactivations_per_day), 0, "0.001", 0, 1, NULL, NULL,
     0, NULL, "reactivation rate per cancelled subscriber per day"},
    {"extra_per_subscriber_per_day", JP_CONF_NUM, RO(extra_per_subscriber_per_day), 0, "0.002", 0,
     10, NULL, NULL, 0, NULL, "extra-ticket purchases per active subscriber per day"},
    {"extra_elasticity", JP_CONF_NUM, RO(extra_elasticity), 0, "0.8", -5, 5, NULL, NULL, 0, NULL,
     "d log(extra purchase rate) / d log(J)"},
    {"extra_tickets_mean", JP_CONF_NUM, RO(extra_tickets_mean), 0, "1.5", 1, 100, NULL, NULL, 0,
     NULL, "tickets per extra purchase: 1 + Poisson(mean - 1)"},
    {"payment_failure", JP_CONF_NUM, RO(payment_failure), 0, "0.02", 0, 1, NULL, NULL, 0, NULL,
     "probability that a renewal fails"},
    END,
};
#undef RO

#define CO(m) (F(jp_sim_country_t, churn.m) - F(jp_sim_country_t, churn))
static const jp_conf_field_t churn_fields[] = {
    {"intercept", JP_CONF_NUM, CO(intercept), 0, "-7", -30, 10, NULL, NULL, 0, NULL,
     "logit of the daily cancellation hazard of a new one-ticket subscriber"},
    {"tenure", JP_CONF_NUM, CO(tenure), 0, "-0.3", -10, 10, NULL, NULL, 0, NULL,
     "coefficient of log(1 + tenure in renewals, capped at 24)"},
    {"payment_failures", JP_CONF_NUM, CO(payment_failures), 0, "0.8", -10, 10, NULL, NULL, 0, NULL,
     "coefficient of the failed payments (capped at 3)"},
    {"tickets", JP_CONF_NUM, CO(tickets), 0, "-0.2", -10, 10, NULL, NULL, 0, NULL,
     "coefficient of tickets held - 1"},
    END,
};
#undef CO

static const jp_conf_field_t weekly_fields[] = {
    {"mon", JP_CONF_NUM, 0 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"tue", JP_CONF_NUM, 1 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"wed", JP_CONF_NUM, 2 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"thu", JP_CONF_NUM, 3 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"fri", JP_CONF_NUM, 4 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"sat", JP_CONF_NUM, 5 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"sun", JP_CONF_NUM, 6 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    END,
};

static const jp_conf_field_t change_weekly_fields[] = {
    {"mon", JP_CONF_NUM, 0 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    {"tue", JP_CONF_NUM, 1 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    {"wed", JP_CONF_NUM, 2 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    {"thu", JP_CONF_NUM, 3 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    {"fri", JP_CONF_NUM, 4 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    {"sat", JP_CONF_NUM, 5 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    {"sun", JP_CONF_NUM, 6 * sizeof(double), 0, "0", 0, 1000, NULL, NULL, 0, NULL,
     "multiplier (0: unchanged)"},
    END,
};

/* The default is a built-in day curve (quiet nights, evening peak). */
static const jp_conf_field_t hourly_fields[] = {
    {"0", JP_CONF_NUM, 0 * sizeof(double), 0, "0.3", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"1", JP_CONF_NUM, 1 * sizeof(double), 0, "0.2", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"2", JP_CONF_NUM, 2 * sizeof(double), 0, "0.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"3", JP_CONF_NUM, 3 * sizeof(double), 0, "0.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"4", JP_CONF_NUM, 4 * sizeof(double), 0, "0.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"5", JP_CONF_NUM, 5 * sizeof(double), 0, "0.2", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"6", JP_CONF_NUM, 6 * sizeof(double), 0, "0.4", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"7", JP_CONF_NUM, 7 * sizeof(double), 0, "0.7", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"8", JP_CONF_NUM, 8 * sizeof(double), 0, "0.9", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"9", JP_CONF_NUM, 9 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL, "multiplier"},
    {"10", JP_CONF_NUM, 10 * sizeof(double), 0, "1.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"11", JP_CONF_NUM, 11 * sizeof(double), 0, "1.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"12", JP_CONF_NUM, 12 * sizeof(double), 0, "1.3", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"13", JP_CONF_NUM, 13 * sizeof(double), 0, "1.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"14", JP_CONF_NUM, 14 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"15", JP_CONF_NUM, 15 * sizeof(double), 0, "1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"16", JP_CONF_NUM, 16 * sizeof(double), 0, "1.1", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"17", JP_CONF_NUM, 17 * sizeof(double), 0, "1.3", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"18", JP_CONF_NUM, 18 * sizeof(double), 0, "1.6", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"19", JP_CONF_NUM, 19 * sizeof(double), 0, "1.9", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"20", JP_CONF_NUM, 20 * sizeof(double), 0, "2", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"21", JP_CONF_NUM, 21 * sizeof(double), 0, "1.8", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"22", JP_CONF_NUM, 22 * sizeof(double), 0, "1.2", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    {"23", JP_CONF_NUM, 23 * sizeof(double), 0, "0.6", 0.001, 1000, NULL, NULL, 0, NULL,
     "multiplier"},
    END,
};

#define SO(m) (F(jp_sim_country_t, seasonality.m) - F(jp_sim_country_t, seasonality))
static const jp_conf_field_t season_fields[] = {
    {"weekly", JP_CONF_SECTION, SO(weekly), 0, NULL, NR, NULL, weekly_fields, 0, NULL,
     "multiplier per weekday {mon: .., sun: ..} (normalized to mean 1; default 1)"},
    {"hourly", JP_CONF_SECTION, SO(hourly), 0, NULL, NR, NULL, hourly_fields, 0, NULL,
     "multiplier per local hour {0: .., 23: ..} (normalized; default: a day curve)"},
    {"yearly_amplitude", JP_CONF_NUM, SO(yearly_amplitude), 0, "0", 0, 0.95, NULL, NULL, 0, NULL,
     "A of 1 + A cos(2 pi (week - peak) / 52)"},
    {"yearly_peak_week", JP_CONF_INT, SO(yearly_peak_week), 0, "50", 0, 53, NULL, NULL, 0, NULL,
     "week of the year of the yearly peak"},
    END,
};
#undef SO

static const jp_conf_field_t campaign_fields[] = {
    {"name", JP_CONF_STR, F(jp_sim_campaign_t, name), 1, NULL, NR, NULL, NULL, 0, NULL,
     "campaign name, carried by the sales it causes"},
    {"start_week", JP_CONF_INT, F(jp_sim_campaign_t, start_week), 1, NULL, 0, 1e4, NULL, NULL, 0,
     NULL, "first simulated week"},
    {"weeks", JP_CONF_INT, F(jp_sim_campaign_t, weeks), 0, "1", 1, 1e4, NULL, NULL, 0, NULL,
     "duration"},
    {"lift", JP_CONF_NUM, F(jp_sim_campaign_t, lift), 1, NULL, 0, 100, NULL, NULL, 0, NULL,
     "rate multiplier while active"},
    END,
};

static const jp_conf_field_t schedule_fields[] = {
    {"week", JP_CONF_INT, F(jp_sim_schedule_entry_t, week), 1, NULL, 0, 1e4, NULL, NULL, 0, NULL,
     "from this simulated week on"},
    {"prize_minor", JP_CONF_INT, F(jp_sim_schedule_entry_t, prize_minor), 1, NULL, 1, 1e15, NULL,
     NULL, 0, NULL, "headline prize"},
    END,
};

#define ZO(m) (F(jp_sim_country_t, prize.m) - F(jp_sim_country_t, prize))
static const jp_conf_field_t prize_fields[] = {
    {"policy", JP_CONF_ENUM, ZO(policy), 0, "schedule", NR, policies, NULL, 0, NULL,
     "fixed, schedule, or recommendations (closed loop; falls back to the schedule)"},
    {"fixed_minor", JP_CONF_INT, ZO(fixed_minor), 0, "0", 0, 1e15, NULL, NULL, 0, NULL,
     "the fixed prize (0: the country's initial prize)"},
    {"schedule", JP_CONF_LIST, ZO(schedule), 0, NULL, NR, NULL, schedule_fields,
     sizeof(jp_sim_schedule_entry_t), NULL, "prize by simulated week (empty: initial prize)"},
    {"warmup_weeks", JP_CONF_INT, ZO(warmup_weeks), 0, "0", 0, 1e4, NULL, NULL, 0, NULL,
     "recommendations: the schedule's prizes before this simulated week"},
    {"loop_delay", JP_CONF_DURATION, ZO(loop_delay_ms), 0, "1h", 3600000, 7 * 86400000.0, NULL,
     NULL, 0, NULL,
     "recommendations: a draw's prize is applied this long after its decision time (whole "
     "hours), once the engine's recommendation for it is read"},
    END,
};
#undef ZO

static const jp_conf_field_t country_fields[] = {
    {"code", JP_CONF_STR, F(jp_sim_country_t, code), 1, NULL, NR, NULL, NULL, 0, NULL,
     "country code of a country in the processor configuration"},
    {"population", JP_CONF_SECTION, F(jp_sim_country_t, population), 1, NULL, NR, NULL,
     population_fields, 0, NULL, "subscribers and postcodes"},
    {"response", JP_CONF_SECTION, F(jp_sim_country_t, response), 1, NULL, NR, NULL, response_fields,
     0, NULL, "ground truth: rates and prize elasticities"},
    {"churn", JP_CONF_SECTION, F(jp_sim_country_t, churn), 0, NULL, NR, NULL, churn_fields, 0, NULL,
     "ground truth: logistic daily churn hazard"},
    {"seasonality", JP_CONF_SECTION, F(jp_sim_country_t, seasonality), 0, NULL, NR, NULL,
     season_fields, 0, NULL, "ground truth: weekly, daily and yearly seasonality"},
    {"campaigns", JP_CONF_LIST, F(jp_sim_country_t, campaigns), 0, NULL, NR, NULL, campaign_fields,
     sizeof(jp_sim_campaign_t), NULL, "marketing campaigns"},
    {"prize", JP_CONF_SECTION, F(jp_sim_country_t, prize), 0, NULL, NR, NULL, prize_fields, 0, NULL,
     "the headline prize policy"},
    END,
};

static const jp_conf_field_t change_fields[] = {
    {"week", JP_CONF_INT, F(jp_sim_change_t, week), 1, NULL, 0, 1e4, NULL, NULL, 0, NULL,
     "simulated week it takes effect"},
    {"country", JP_CONF_STR, F(jp_sim_change_t, country), 0, NULL, NR, NULL, NULL, 0, NULL,
     "country code (default: every country)"},
    {"kind", JP_CONF_ENUM, F(jp_sim_change_t, kind), 1, NULL, NR, change_kinds, NULL, 0, NULL,
     "elasticity, seasonality, feature_shift or silence"},
    {"target", JP_CONF_STR, F(jp_sim_change_t, target), 0, NULL, NR, NULL, NULL, 0, NULL,
     "elasticity: signup|cancel|extra; feature_shift: tickets_mean|payment_failure|"
     "extra_tickets_mean|signups_per_day (a level shift); silence: sales|customers|draws"},
    {"value", JP_CONF_NUM, F(jp_sim_change_t, value), 0, "0", -1e15, 1e15, NULL, NULL, 0, NULL,
     "the new value"},
    {"weekly", JP_CONF_SECTION, F(jp_sim_change_t, weekly), 0, NULL, NR, NULL, change_weekly_fields,
     0, NULL, "seasonality: the new weekly multipliers"},
    {"yearly_amplitude", JP_CONF_NUM, F(jp_sim_change_t, yearly_amplitude), 0, "-1", -1, 0.95, NULL,
     NULL, 0, NULL, "seasonality: the new yearly amplitude (-1: unchanged)"},
    {"weeks", JP_CONF_INT, F(jp_sim_change_t, weeks), 0, "0", 0, 1e4, NULL, NULL, 0, NULL,
     "silence: how long (0: to the end)"},
    END,
};

const jp_conf_field_t jp_sim_world_fields[] = {
    {"config", JP_CONF_PATH, F(jp_sim_world_t, config_path), 1, NULL, NR, NULL, NULL, 0, NULL,
     "the processor configuration (topics, countries, lateness)"},
    {"start", JP_CONF_STR, F(jp_sim_world_t, start), 0, "2026-01-05", NR, NULL, NULL, 0, check_date,
     "first simulated day (UTC midnight)"},
    {"weeks", JP_CONF_INT, F(jp_sim_world_t, weeks), 0, "52", 1, 1040, NULL, NULL, 0, NULL,
     "simulated weeks (--weeks overrides)"},
    {"seed", JP_CONF_INT, F(jp_sim_world_t, seed), 0, "1", 0, 9.2e18, NULL, NULL, 0, NULL,
     "seed of every random stream (--seed overrides)"},
    {"faults", JP_CONF_SECTION, F(jp_sim_world_t, fault_rate), 0, NULL, NR, NULL, fault_fields, 0,
     NULL, "fault rates, each a share of the sales and customer records"},
    {"countries", JP_CONF_LIST, F(jp_sim_world_t, countries), 1, NULL, NR, NULL, country_fields,
     sizeof(jp_sim_country_t), NULL, "the simulated countries"},
    {"changes", JP_CONF_LIST, F(jp_sim_world_t, changes), 0, NULL, NR, NULL, change_fields,
     sizeof(jp_sim_change_t), NULL, "scheduled changes of the ground truth (drift tests)"},
    END,
};

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t jp_sim_ms_from_civil(int year, int month, int day)
{
    return days_from_civil(year, month, day) * 86400000LL;
}

void jp_sim_civil_from_ms(int64_t ms, int *year, int *month, int *day, int *hour)
{
    int64_t days = ms >= 0 ? ms / 86400000LL : (ms - 86399999LL) / 86400000LL;
    int64_t rem = ms - days * 86400000LL;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = m;
    *day = d;
    if (hour)
        *hour = (int)(rem / 3600000LL);
}

/* Scales n multipliers to mean 1, so rates are per average day/hour. */
static void normalize(const double *in, size_t n, double *out)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += in[i];
    for (size_t i = 0; i < n; i++)
        out[i] = sum > 0 ? in[i] * (double)n / sum : 1.0;
}

static void check_country(jp_conf_t *c, const jp_yaml_node_t *node, const char *path,
                          jp_sim_world_t *w, jp_sim_country_t *k)
{
    /* Absent sections were not decoded: fill their defaults. */
    if (!jp_yaml_get(jp_yaml_get(node, "seasonality"), "weekly"))
        for (int i = 0; i < 7; i++)
            k->seasonality.weekly[i] = 1.0;
    if (!jp_yaml_get(jp_yaml_get(node, "seasonality"), "hourly"))
        for (int i = 0; i < 24; i++)
            k->seasonality.hourly[i] = strtod(hourly_fields[i].def, NULL);
    normalize(k->seasonality.weekly, 7, k->season.weekly);
    normalize(k->seasonality.hourly, 24, k->season.hourly);
    k->season.yearly_amplitude = k->seasonality.yearly_amplitude;
    k->season.yearly_peak_week = k->seasonality.yearly_peak_week;

    const jp_sim_schedule_entry_t *s = k->prize.schedule.items;
    const jp_yaml_node_t *pn = jp_yaml_get(node, "prize");
    for (size_t i = 1; i < k->prize.schedule.n; i++)
        if (s[i].week <= s[i - 1].week) {
            char p[96];
            snprintf(p, sizeof(p), "%s.prize", path);
            jp_conf_error_at_key(c, pn, p, "schedule", "weeks must increase (entry %zu)", i + 1);
            break;
        }
    if (k->prize.loop_delay_ms % 3600000 != 0) {
        char p[96];
        snprintf(p, sizeof(p), "%s.prize", path);
        jp_conf_error_at_key(c, pn, p, "loop_delay", "must be whole hours");
    }
    if (!k->code)
        return;
    k->country = w->config_loaded ? jp_config_country(&w->config, k->code) : NULL;
    if (w->config_loaded && !k->country)
        jp_conf_error_at_key(c, node, path, "code",
                             "country '%s' is not in the processor configuration %s", k->code,
                             w->config_path);
    if (k->country && k->response.prize_ref_minor == 0)
        k->response.prize_ref_minor = k->country->prizes.headline.initial_minor;
    if (k->country && k->prize.fixed_minor == 0)
        k->prize.fixed_minor = k->country->prizes.headline.initial_minor;
}

int jp_sim_world_load(jp_conf_t *c, const char *path, jp_sim_world_t *out)
{
    memset(out, 0, sizeof(*out));
    out->file = strdup(path);
    size_t before = c->n_errors;
    jp_yaml_node_t *root = jp_conf_load_file(c, jp_sim_world_fields, path, out);
    if (!root)
        return -1;

    if (out->start && c->n_errors == before) {
        int y, m, d;
        sscanf(out->start, "%4d-%2d-%2d", &y, &m, &d);
        out->start_ms = jp_sim_ms_from_civil(y, m, d);
    }
    if (out->config_path) {
        size_t mark = c->n_errors;
        jp_config_load(c, out->config_path, NULL, &out->config);
        out->config_loaded = c->n_errors == mark;
    }

    const jp_yaml_node_t *cn = jp_yaml_get(root, "countries");
    jp_sim_country_t *k = out->countries.items;
    for (size_t i = 0; i < out->countries.n; i++) {
        char p[64];
        snprintf(p, sizeof(p), "countries[%zu]", i);
        const jp_yaml_node_t *node = cn && i < cn->n ? cn->items[i] : root;
        check_country(c, node, p, out, &k[i]);
        for (size_t j = 0; j < i; j++)
            if (k[i].code && k[j].code && strcmp(k[i].code, k[j].code) == 0)
                jp_conf_error_at_key(c, node, p, "code", "country '%s' is simulated twice",
                                     k[i].code);
    }

    const jp_yaml_node_t *chn = jp_yaml_get(root, "changes");
    jp_sim_change_t *ch = out->changes.items;
    for (size_t i = 0; i < out->changes.n; i++) {
        char p[64];
        snprintf(p, sizeof(p), "changes[%zu]", i);
        const jp_yaml_node_t *node = chn && i < chn->n ? chn->items[i] : root;
        int found = ch[i].country == NULL;
        for (size_t j = 0; j < out->countries.n && !found; j++)
            found = k[j].code && strcmp(k[j].code, ch[i].country) == 0;
        if (!found)
            jp_conf_error_at_key(c, node, p, "country", "'%s' is not a simulated country",
                                 ch[i].country);
        static const char *const targets[][5] = {
            {"signup", "cancel", "extra", NULL},
            {NULL},
            {"tickets_mean", "payment_failure", "extra_tickets_mean", "signups_per_day", NULL},
            {"sales", "customers", "draws", NULL},
        };
        const char *const *t = targets[ch[i].kind];
        if (t[0]) {
            int ok = 0;
            for (int j = 0; t[j] && ch[i].target; j++)
                ok |= strcmp(t[j], ch[i].target) == 0;
            if (!ok)
                jp_conf_error_at_key(c, node, p, "target", "'%s' is not a target of %s changes",
                                     ch[i].target ? ch[i].target : "", change_kinds[ch[i].kind]);
        }
        if (ch[i].kind == JP_SIM_CHANGE_SEASONALITY) {
            int zeros = 0;
            for (int d = 0; d < 7; d++)
                zeros += ch[i].weekly[d] == 0;
            if (zeros != 0 && zeros != 7)
                jp_conf_error_at_key(c, node, p, "weekly", "give all seven days or none");
        }
    }
    jp_yaml_free(root);
    return c->n_errors == before ? 0 : -1;
}

void jp_sim_world_release(jp_sim_world_t *w)
{
    if (w->config_path)
        jp_config_release(&w->config);
    jp_conf_release(jp_sim_world_fields, w);
    free(w->file);
    memset(w, 0, sizeof(*w));
}

/* Whether labels holds the pair key=value as a whole word. */
static int has_label(const char *labels, const char *key, const char *value)
{
    size_t kn = strlen(key), vn = strlen(value);
    for (const char *p = labels; p && *p; p = strchr(p, ' '), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kn) == 0 && p[kn] == '=' && strncmp(p + kn + 1, value, vn) == 0 &&
            (p[kn + 1 + vn] == ' ' || p[kn + 1 + vn] == '\0'))
            return 1;
    return 0;
}

int jp_sim_change_documented(const jp_sim_change_t *c, const char *name, const char *labels)
{
    static const char *const features[][2] = {{"tickets_mean", "tickets_per_signup"},
                                              {"extra_tickets_mean", "tickets_per_extra"},
                                              {"payment_failure", "payment_failures"},
                                              {"signups_per_day", "signups"}};
    int concept = strcmp(name, "ConceptDrift") == 0, feature = strcmp(name, "FeatureDrift") == 0;
    const char *target = c->target ? c->target : "";
    switch (c->kind) {
    case JP_SIM_CHANGE_SILENCE:
        return strcmp(name, "SilentSource") == 0 && has_label(labels, "input", target);
    case JP_SIM_CHANGE_ELASTICITY:
        return concept
        ;
    case JP_SIM_CHANGE_FEATURE_SHIFT:
        if (concept && strcmp(target, "signups_per_day") == 0)
            return 1;
        for (size_t i = 0; feature && i < sizeof(features) / sizeof(features[0]); i++)
            if (strcmp(target, features[i][0]) == 0)
                return has_label(labels, "feature", features[i][1]);
        return 0;
    default: /* seasonality */
        return concept
        || feature;
    }
}
