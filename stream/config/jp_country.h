/*
 * jp_country: the business parameters of one lottery, loaded from
 * configs/countries/<code>.yaml. A new country is onboarded by adding a
 * file: nothing here is specific to one country.
 *
 * Money is in minor units of the country's currency (64-bit integers);
 * shares and ratios are fractions in [0, 1].
 */
#ifndef JP_COUNTRY_H
#define JP_COUNTRY_H

#include <stdint.h>

#include "config/jp_conf.h"

typedef enum { JP_COUNTRY_PRIZE_PER_TICKET, JP_COUNTRY_PRIZE_SHARED } jp_country_prize_kind_t;
typedef enum { JP_BILLING_MONTHLY, JP_BILLING_PER_DRAW } jp_billing_t;
typedef enum { JP_PAYOUT_ROLLING_52W, JP_PAYOUT_CALENDAR_YEAR } jp_payout_period_t;
typedef enum { JP_SINGLE_CAP_MAX_OF, JP_SINGLE_CAP_MIN_OF } jp_single_cap_combine_t;
/* What a decision recommends when there is no usable model. */
typedef enum { JP_FALLBACK_KEEP, JP_FALLBACK_INITIAL } jp_fallback_rule_t;

typedef struct jp_draw_conf_s {
    char *name;
    jp_conf_strlist_t days; /* mon..sun */
    char *time;             /* "HH:MM", local time of the country's zone */
    int64_t week_of_month;  /* 0: every week; 1..5: only the n-th such weekday */
    int headline;           /* the draw whose headline prize the engine recommends */
} jp_draw_conf_t;

typedef struct jp_secondary_prize_s {
    char *name;
    int kind; /* jp_country_prize_kind_t */
    int64_t amount_minor;
    char *draw; /* name of the draw it is paid in */
} jp_secondary_prize_t;

typedef struct jp_country_s {
    char *file; /* the file it was loaded from */
    char *code; /* ISO 3166-1 alpha-2, upper case */
    char *name;
    char *currency; /* ISO 4217 */
    int64_t currency_exponent;
    struct {
        int64_t price_minor;
        int billing;            /* jp_billing_t */
        int64_t max_per_player; /* 0: no cap */
    } ticket;
    struct {
        char *time_zone;          /* IANA */
        jp_conf_list_t draws;     /* jp_draw_conf_t */
        int64_t decision_lead_ms; /* decision time before each headline draw */
    } calendar;
    struct {
        struct {
            char *name;
            int kind; /* jp_country_prize_kind_t */
            int64_t min_minor, max_minor, step_minor, initial_minor;
        } headline;
        jp_conf_list_t secondary; /* jp_secondary_prize_t */
    } prizes;
    struct {
        double good_causes_min_share;
        double prize_share_min, prize_share_max;
        struct {
            int64_t absolute_minor;
            double relative_to_proceeds;
            int combine; /* jp_single_cap_combine_t */
        } max_single_prize;
        int64_t proceeds_cap_per_draw_minor; /* 0: none */
        int64_t proceeds_cap_annual_minor;   /* 0: none */
        struct {
            int period; /* jp_payout_period_t */
            double min, max;
        } payout_ratio;
        int64_t max_draws_per_year; /* 0: none */
    } rules;
    struct {
        double safety_quantile;
        int64_t safety_margin_minor;
        jp_conf_secret_t available; /* available cash, minor units, from a secret file */
        int64_t available_minor;    /* parsed from available.value */
    } cash;
    struct {
        int64_t max_abs_minor; /* 0: none */
        double max_rel;        /* 0: none */
    } change;
    struct {
        double max_loss_probability;
    } risk;
    struct {
        int64_t horizon_draws;   /* draws a prize is valued over */
        int64_t lifetime_cap_ms; /* cap on a subscriber's expected remaining lifetime */
        int64_t alternatives;    /* alternatives reported per decision */
        struct {
            int64_t fixed_per_draw_minor;
            double variable_share; /* of ticket revenue */
        } costs;
        struct {
            int enabled;
            double max_cost_share;  /* of |expected value| at the greedy prize */
            int64_t max_cost_minor; /* 0: no absolute cap */
        } exploration;
        struct {
            int rule;         /* jp_fallback_rule_t */
            double max_error; /* model error above this: the fallback */
        } fallback;
    } decision;
    struct {
        double promote_margin;             /* the challenger's error <= champion's x (1 - margin) */
        int64_t promote_min_windows;       /* windows evaluated before the gate decides */
        double coverage_min, coverage_max; /* the sales challenger's 5-95% band coverage */
    } models;
} jp_country_t;

/* The validation table (exposed for documentation and tests). */
extern const jp_conf_field_t jp_country_fields[];

/*
 * Loads and validates one country file into *out (zeroed first). Every
 * problem is appended to c as "file:line:column: key: message". Returns 0
 * if the file added no errors, -1 otherwise; *out must be released with
 * jp_country_release either way.
 */
int jp_country_load(jp_conf_t *c, const char *path, jp_country_t *out);
void jp_country_release(jp_country_t *country);

/* The headline draw of a loaded country (NULL if none, which validation
 * refuses). */
const jp_draw_conf_t *jp_country_headline_draw(const jp_country_t *country);

#endif
