/*
 * jp_sim_world: the simulator's world file (configs/sim/<name>.yaml), loaded and
 * validated with jp_conf like every other configuration file.
 *
 * A world names the processor configuration it simulates for (its topics,
 * its countries directory, its allowed lateness and grace) and, per
 * simulated country, the ground truth: the subscriber population and its
 * postcodes, how sign-ups, cancellations and extra tickets respond to the
 * advertised headline prize, seasonality, campaigns, the churn hazard, the
 * prize policy; plus fault rates and scheduled changes for drift tests.
 * docs/simulator.md documents the model and its formulas.
 *
 * Contract: jp_sim_world_load collects every problem in the jp_conf
 * session as "file:line:col: key: message" and returns 0 only if there was
 * none. Parsed values (seasonality multipliers, start time) are ready to
 * use; the world owns the loaded processor configuration.
 */
#ifndef JP_SIM_WORLD_H
#define JP_SIM_WORLD_H

#include <stdint.h>

#include "config/jp_conf.h"
#include "config/jp_config.h"
#include "config/jp_country.h"

typedef enum {
    JP_SIM_POLICY_FIXED,
    JP_SIM_POLICY_SCHEDULE,
    JP_SIM_POLICY_RECOMMENDATIONS, /* closed loop; falls back to the schedule */
} jp_sim_policy_t;

typedef enum {
    JP_SIM_CHANGE_ELASTICITY,    /* target: signup | cancel | extra; value */
    JP_SIM_CHANGE_SEASONALITY,   /* weekly (7 values) and/or yearly_amplitude */
    JP_SIM_CHANGE_FEATURE_SHIFT, /* target: tickets_mean | payment_failure | extra_tickets_mean |
                                    signups_per_day */
    JP_SIM_CHANGE_SILENCE,       /* target: sales | customers | draws; weeks (0: forever) */
} jp_sim_change_kind_t;

/* Faults, in the order of the truth file's counts. */
typedef enum {
    JP_SIM_FAULT_DUPLICATE,         /* the same record (same event id) twice */
    JP_SIM_FAULT_LATE,              /* event time older than lateness + grace */
    JP_SIM_FAULT_OUT_OF_ORDER,      /* event time moved back within the lateness */
    JP_SIM_FAULT_NOT_FRAMED,        /* Avro without the Confluent frame */
    JP_SIM_FAULT_UNKNOWN_SCHEMA_ID, /* a frame naming an id the registry lacks */
    JP_SIM_FAULT_TRUNCATED,         /* the Avro datum cut in half */
    JP_SIM_FAULT_WRONG_TYPE,        /* written with a rogue schema (tickets as string) */
    JP_SIM_FAULT_OUT_OF_RANGE,      /* negative ticket count */
    JP_SIM_FAULT_UNKNOWN_COUNTRY,   /* country "ZZ" in key and value */
    JP_SIM_FAULT__COUNT
} jp_sim_fault_t;

/* "duplicate", "late", ... (the YAML keys and the truth file's names). */
const char *jp_sim_fault_name(jp_sim_fault_t f);

typedef struct jp_sim_schedule_entry_s {
    int64_t week; /* from this simulated week on (0 = the first) */
    int64_t prize_minor;
} jp_sim_schedule_entry_t;

typedef struct jp_sim_campaign_s {
    char *name;
    int64_t start_week, weeks;
    double lift; /* multiplies sign-up, reactivation and extra-ticket rates */
} jp_sim_campaign_t;

typedef struct jp_sim_season_s {
    double weekly[7];  /* Mon..Sun, normalized to mean 1 */
    double hourly[24]; /* local hour, normalized to mean 1 */
    double yearly_amplitude;
    int64_t yearly_peak_week;
} jp_sim_season_t;

typedef struct jp_sim_country_s {
    char *code;
    struct {
        int64_t subscribers; /* active at the start */
        int64_t postcodes;
        int64_t postcodes_per_sector;
        double density_sigma; /* lognormal sigma of the players per postcode */
        double tickets_mean;  /* tickets per subscription: 1 + Poisson(mean - 1) */
        int64_t max_tenure_months;
    } population;
    struct {
        int64_t prize_ref_minor; /* J_ref */
        double signups_per_day;
        double signup_elasticity;
        double cancel_elasticity;
        double reactivations_per_day; /* per cancelled subscriber */
        double extra_per_subscriber_per_day;
        double extra_elasticity;
        double extra_tickets_mean;
        double payment_failure; /* probability per renewal */
    } response;
    struct {
        double intercept, tenure, payment_failures, tickets;
    } churn;
    struct {
        double weekly[7];  /* as written: mon..sun */
        double hourly[24]; /* as written: local hour 0..23 */
        double yearly_amplitude;
        int64_t yearly_peak_week;
    } seasonality;
    jp_conf_list_t campaigns; /* jp_sim_campaign_t */
    struct {
        int policy; /* jp_sim_policy_t */
        int64_t fixed_minor;
        jp_conf_list_t schedule; /* jp_sim_schedule_entry_t, sorted by week */
        /* recommendations: the schedule before this simulated week; then each
         * draw's prize is the recommendation for it, taken loop_delay after
         * its decision time (the engine decides once its clock passes the
         * decision time, which needs records beyond it) */
        int64_t warmup_weeks;
        int64_t loop_delay_ms;
    } prize;

    /* Derived at load time. */
    jp_sim_season_t season;
    const jp_country_t *country; /* from the processor configuration */
} jp_sim_country_t;

typedef struct jp_sim_change_s {
    int64_t week;
    char *country; /* NULL: every country */
    int kind;      /* jp_sim_change_kind_t */
    char *target;
    double value;
    double weekly[7];        /* all 0: unchanged */
    double yearly_amplitude; /* < 0: unchanged */
    int64_t weeks;           /* silence: its length (0: to the end) */
} jp_sim_change_t;

typedef struct jp_sim_world_s {
    char *file;
    char *config_path; /* the processor configuration */
    char *start;       /* YYYY-MM-DD, UTC midnight */
    int64_t weeks;
    int64_t seed;
    double fault_rate[JP_SIM_FAULT__COUNT];
    jp_conf_list_t countries; /* jp_sim_country_t */
    jp_conf_list_t changes;   /* jp_sim_change_t */

    /* Derived at load time. */
    int64_t start_ms;
    jp_config_t config;
    int config_loaded;
} jp_sim_world_t;

extern const jp_conf_field_t jp_sim_world_fields[];

/* Loads and validates path into *out (zeroed first); every problem goes to
 * c. 0 if there was none. Release with jp_sim_world_release either way. */
int jp_sim_world_load(jp_conf_t *c, const char *path, jp_sim_world_t *out);
void jp_sim_world_release(jp_sim_world_t *w);

/* Whether an alert named name with labels ("key=value" pairs separated by
 * spaces, e.g. "feature=signups model=sales") documents change c: a
 * ConceptDrift for an elasticity change; a FeatureDrift on the shifted
 * feature for a feature shift (tickets_per_signup, tickets_per_extra,
 * payment_failures; for sign-ups per day also a ConceptDrift: sign-ups
 * follow the prize, so a level shift shows in the sales model); either
 * drift for a change of seasonality; SilentSource on the silenced input.
 * The country is the caller's to compare (tests and `jackpot dev`'s
 * summary share this one rule). */
int jp_sim_change_documented(const jp_sim_change_t *c, const char *name, const char *labels);

/* Civil date (proleptic Gregorian) of UTC ms; and its inverse at midnight. */
void jp_sim_civil_from_ms(int64_t ms, int *year, int *month, int *day, int *hour);
int64_t jp_sim_ms_from_civil(int year, int month, int day);

#endif
