/*
 * jp_country: the country file's table and the checks between its fields
 * (bounds ordered, the step dividing the range, shares that add up, one
 * headline draw, a time zone the system knows). Field-level checks come
 * from jp_conf; everything here reports through the same error list.
 */
#include "config/jp_country.h"
#include "model/base/jp_err.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/jp_yaml.h"

static const char *const prize_kinds[] = {"per_ticket", "shared", NULL};
static const char *const billings[] = {"monthly", "per_draw", NULL};
static const char *const periods[] = {"rolling_52w", "calendar_year", NULL};
static const char *const combines[] = {"max", "min", NULL};
static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
static const char *const fallbacks[] = {"keep", "initial", NULL};

/* ISO 4217 codes of the currencies a European postcode lottery might use;
 * extend when a country in another currency is onboarded. */
static const char *const currencies[] = {"GBP", "EUR", "SEK", "NOK", "DKK", "CHF", "PLN",
                                         "CZK", "HUF", "ISK", "USD", "CAD", "AUD", NULL};

static int check_upper2(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    if (strlen(v) != 2 || !isupper((unsigned char)v[0]) || !isupper((unsigned char)v[1])) {
        jp_err_set(err, n, "'%s' is not an ISO 3166-1 alpha-2 code (two upper-case letters)", v);
        return -1;
    }
    return 0;
}

static int check_currency(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    for (int i = 0; currencies[i]; i++)
        if (strcmp(currencies[i], v) == 0)
            return 0;
    jp_err_set(err, n, "'%s' is not a known ISO 4217 currency code", v);
    return -1;
}

static int check_time_zone(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    char path[512];
    struct stat st;
    /* Names are looked up in the system's tz database, as localtime does;
     * ".." is refused so a name cannot point outside it. */
    if (!*v || v[0] == '/' || strstr(v, "..")) {
        jp_err_set(err, n, "'%s' is not an IANA time zone name", v);
        return -1;
    }
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", v);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        jp_err_set(err, n, "unknown time zone '%s' (not in /usr/share/zoneinfo)", v);
        return -1;
    }
    return 0;
}

static int check_hhmm(const char *key, const char *v, char *err, size_t n)
{
    (void)key;
    int h, m;
    char extra;
    if (strlen(v) != 5 || sscanf(v, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
        m > 59) {
        jp_err_set(err, n, "'%s' is not a time of day HH:MM", v);
        return -1;
    }
    return 0;
}

#define NR JP_CONF_NO_RANGE

static const jp_conf_field_t draw_fields[] = {
    {"name", JP_CONF_STR, offsetof(jp_draw_conf_t, name), 1, NULL, NR, NULL, NULL, 0, NULL,
     "name of the draw"},
    {"days", JP_CONF_STRLIST, offsetof(jp_draw_conf_t, days), 1, NULL, NR, weekdays, NULL, 0, NULL,
     "weekdays it is drawn on"},
    {"time", JP_CONF_STR, offsetof(jp_draw_conf_t, time), 1, NULL, NR, NULL, NULL, 0, check_hhmm,
     "local time of the draw, HH:MM"},
    {"week_of_month", JP_CONF_INT, offsetof(jp_draw_conf_t, week_of_month), 0, "0", 0, 5, NULL,
     NULL, 0, NULL, "0: every week; n: only the n-th such weekday of the month"},
    {"headline", JP_CONF_BOOL, offsetof(jp_draw_conf_t, headline), 0, "false", NR, NULL, NULL, 0,
     NULL, "the draw whose headline prize the engine recommends"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};

static const jp_conf_field_t secondary_fields[] = {
    {"name", JP_CONF_STR, offsetof(jp_secondary_prize_t, name), 1, NULL, NR, NULL, NULL, 0, NULL,
     "name of the prize"},
    {"kind", JP_CONF_ENUM, offsetof(jp_secondary_prize_t, kind), 1, NULL, NR, prize_kinds, NULL, 0,
     NULL, "per_ticket or shared"},
    {"amount_minor", JP_CONF_INT, offsetof(jp_secondary_prize_t, amount_minor), 1, NULL, 1, 1e15,
     NULL, NULL, 0, NULL, "amount in minor units"},
    {"draw", JP_CONF_STR, offsetof(jp_secondary_prize_t, draw), 1, NULL, NR, NULL, NULL, 0, NULL,
     "the draw (by name) it is paid in"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};

typedef struct {
    int64_t price_minor;
    int billing;
    int64_t max_per_player;
} ticket_t;

static const jp_conf_field_t ticket_fields[] = {
    {"price_minor", JP_CONF_INT, offsetof(ticket_t, price_minor), 1, NULL, 1, 1e9, NULL, NULL, 0,
     NULL, "price of one ticket in minor units"},
    {"billing", JP_CONF_ENUM, offsetof(ticket_t, billing), 1, NULL, NR, billings, NULL, 0, NULL,
     "monthly (subscription) or per_draw"},
    {"max_per_player", JP_CONF_INT, offsetof(ticket_t, max_per_player), 0, "0", 0, 1000, NULL, NULL,
     0, NULL, "0: no cap"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};

#define C_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, calendar))
static const jp_conf_field_t calendar_fields[] = {
    {"time_zone", JP_CONF_STR, C_OFF(calendar.time_zone), 1, NULL, NR, NULL, NULL, 0,
     check_time_zone, "IANA time zone of the draw times"},
    {"draws", JP_CONF_LIST, C_OFF(calendar.draws), 1, NULL, NR, NULL, draw_fields,
     sizeof(jp_draw_conf_t), NULL, "the recurring draws"},
    {"decision_lead", JP_CONF_DURATION, C_OFF(calendar.decision_lead_ms), 1, NULL, 3600000.0,
     30.0 * 86400000.0, NULL, NULL, 0, NULL,
     "how long before each headline draw its prize is decided"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef C_OFF

#define H_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, prizes.headline))
static const jp_conf_field_t headline_fields[] = {
    {"name", JP_CONF_STR, H_OFF(prizes.headline.name), 1, NULL, NR, NULL, NULL, 0, NULL,
     "name of the headline prize"},
    {"kind", JP_CONF_ENUM, H_OFF(prizes.headline.kind), 1, NULL, NR, prize_kinds, NULL, 0, NULL,
     "per_ticket (pays prize x tickets in the postcode) or shared (pays the total)"},
    {"min_minor", JP_CONF_INT, H_OFF(prizes.headline.min_minor), 1, NULL, 1, 1e15, NULL, NULL, 0,
     NULL, "lowest allowed prize"},
    {"max_minor", JP_CONF_INT, H_OFF(prizes.headline.max_minor), 1, NULL, 1, 1e15, NULL, NULL, 0,
     NULL, "highest allowed prize"},
    {"step_minor", JP_CONF_INT, H_OFF(prizes.headline.step_minor), 1, NULL, 1, 1e15, NULL, NULL, 0,
     NULL, "grid step; must divide max - min"},
    {"initial_minor", JP_CONF_INT, H_OFF(prizes.headline.initial_minor), 1, NULL, 1, 1e15, NULL,
     NULL, 0, NULL, "the prize in force before the first recommendation"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef H_OFF

#define P_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, prizes))
static const jp_conf_field_t prizes_fields[] = {
    {"headline", JP_CONF_SECTION, P_OFF(prizes.headline), 1, NULL, NR, NULL, headline_fields, 0,
     NULL, "the prize the engine recommends"},
    {"secondary", JP_CONF_LIST, P_OFF(prizes.secondary), 0, NULL, NR, NULL, secondary_fields,
     sizeof(jp_secondary_prize_t), NULL, "fixed prizes paid besides the headline"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef P_OFF

#define R_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, rules))
#define S_OFF(member)                                                                              \
    (offsetof(jp_country_t, member) - offsetof(jp_country_t, rules.max_single_prize))
#define PR_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, rules.payout_ratio))
static const jp_conf_field_t single_fields[] = {
    {"absolute_minor", JP_CONF_INT, S_OFF(rules.max_single_prize.absolute_minor), 1, NULL, 1, 1e15,
     NULL, NULL, 0, NULL, "absolute cap on one prize"},
    {"relative_to_proceeds", JP_CONF_NUM, S_OFF(rules.max_single_prize.relative_to_proceeds), 0,
     "0", 0, 1, NULL, NULL, 0, NULL, "cap as a share of the draw's proceeds (0: none)"},
    {"combine", JP_CONF_ENUM, S_OFF(rules.max_single_prize.combine), 0, "min", NR, combines, NULL,
     0, NULL, "max: the larger of both caps applies (GB); min: the smaller"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
static const jp_conf_field_t payout_fields[] = {
    {"period", JP_CONF_ENUM, PR_OFF(rules.payout_ratio.period), 1, NULL, NR, periods, NULL, 0, NULL,
     "rolling_52w or calendar_year"},
    {"min", JP_CONF_NUM, PR_OFF(rules.payout_ratio.min), 0, "0", 0, 1, NULL, NULL, 0, NULL,
     "lowest prizes / proceeds over the period"},
    {"max", JP_CONF_NUM, PR_OFF(rules.payout_ratio.max), 1, NULL, 0, 1, NULL, NULL, 0, NULL,
     "highest prizes / proceeds over the period"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
static const jp_conf_field_t rules_fields[] = {
    {"good_causes_min_share", JP_CONF_NUM, R_OFF(rules.good_causes_min_share), 1, NULL, 0, 1, NULL,
     NULL, 0, NULL, "minimum share of proceeds to good causes"},
    {"prize_share_min", JP_CONF_NUM, R_OFF(rules.prize_share_min), 0, "0", 0, 1, NULL, NULL, 0,
     NULL, "lowest share of proceeds paid as prizes"},
    {"prize_share_max", JP_CONF_NUM, R_OFF(rules.prize_share_max), 1, NULL, 0, 1, NULL, NULL, 0,
     NULL, "highest share of proceeds paid as prizes"},
    {"max_single_prize", JP_CONF_SECTION, R_OFF(rules.max_single_prize), 1, NULL, NR, NULL,
     single_fields, 0, NULL, "cap on any one prize"},
    {"proceeds_cap_per_draw_minor", JP_CONF_INT, R_OFF(rules.proceeds_cap_per_draw_minor), 0, "0",
     0, 1e16, NULL, NULL, 0, NULL, "0: none"},
    {"proceeds_cap_annual_minor", JP_CONF_INT, R_OFF(rules.proceeds_cap_annual_minor), 0, "0", 0,
     1e17, NULL, NULL, 0, NULL, "0: none"},
    {"payout_ratio", JP_CONF_SECTION, R_OFF(rules.payout_ratio), 1, NULL, NR, NULL, payout_fields,
     0, NULL, "prizes / proceeds over a period"},
    {"max_draws_per_year", JP_CONF_INT, R_OFF(rules.max_draws_per_year), 0, "0", 0, 366 * 24, NULL,
     NULL, 0, NULL, "0: none"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef R_OFF
#undef S_OFF
#undef PR_OFF

#define K_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, cash))
static const jp_conf_field_t cash_fields[] = {
    {"safety_quantile", JP_CONF_NUM, K_OFF(cash.safety_quantile), 1, NULL, 0.5, 0.999999, NULL,
     NULL, 0, NULL, "payout quantile the available cash must cover"},
    {"safety_margin_minor", JP_CONF_INT, K_OFF(cash.safety_margin_minor), 0, "0", 0, 1e15, NULL,
     NULL, 0, NULL, "cash kept on top of that quantile"},
    {"available", JP_CONF_SECRET, K_OFF(cash.available), 1, NULL, NR, NULL, NULL, 0, NULL,
     "available cash in minor units, read from available_file"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef K_OFF

#define G_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, change))
static const jp_conf_field_t change_fields[] = {
    {"max_abs_minor", JP_CONF_INT, G_OFF(change.max_abs_minor), 0, "0", 0, 1e15, NULL, NULL, 0,
     NULL, "largest change of the headline prize from one draw to the next (0: none)"},
    {"max_rel", JP_CONF_NUM, G_OFF(change.max_rel), 0, "0", 0, 10, NULL, NULL, 0, NULL,
     "largest relative change (0: none)"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef G_OFF

static const jp_conf_field_t risk_fields[] = {
    {"max_loss_probability", JP_CONF_NUM, 0, 0, "0.05", 0, 1, NULL, NULL, 0, NULL,
     "chance constraint: P(net revenue of the draw < 0) at most this"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};

#define D_OFF(member)  (offsetof(jp_country_t, member) - offsetof(jp_country_t, decision))
#define DC_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, decision.costs))
#define DE_OFF(member)                                                                             \
    (offsetof(jp_country_t, member) - offsetof(jp_country_t, decision.exploration))
#define DF_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, decision.fallback))
static const jp_conf_field_t costs_fields[] = {
    {"fixed_per_draw_minor", JP_CONF_INT, DC_OFF(decision.costs.fixed_per_draw_minor), 0, "0", 0,
     1e15, NULL, NULL, 0, NULL, "costs of running one draw"},
    {"variable_share", JP_CONF_NUM, DC_OFF(decision.costs.variable_share), 0, "0", 0, 0.99, NULL,
     NULL, 0, NULL, "costs as a share of ticket revenue"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
static const jp_conf_field_t exploration_fields[] = {
    {"enabled", JP_CONF_BOOL, DE_OFF(decision.exploration.enabled), 0, "true", NR, NULL, NULL, 0,
     NULL, "explore (Thompson sampling) within the budget"},
    {"max_cost_share", JP_CONF_NUM, DE_OFF(decision.exploration.max_cost_share), 0, "0.01", 0, 1,
     NULL, NULL, 0, NULL,
     "expected value a decision may give up to explore, as a share of the best prize's"},
    {"max_cost_minor", JP_CONF_INT, DE_OFF(decision.exploration.max_cost_minor), 0, "0", 0, 1e15,
     NULL, NULL, 0, NULL, "the same in minor units (0: no absolute cap)"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
static const jp_conf_field_t fallback_fields[] = {
    {"rule", JP_CONF_ENUM, DF_OFF(decision.fallback.rule), 0, "keep", NR, fallbacks, NULL, 0, NULL,
     "without a usable model: keep the advertised prize, or go back to the initial one"},
    {"max_error", JP_CONF_NUM, DF_OFF(decision.fallback.max_error), 0, "0.05", 0, 10, NULL, NULL, 0,
     NULL, "the model's recent relative forecast error above which it is not used"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
static const jp_conf_field_t decision_fields[] = {
    {"horizon_draws", JP_CONF_INT, D_OFF(decision.horizon_draws), 0, "8", 1, 64, NULL, NULL, 0,
     NULL, "draws a prize is valued over (it is held for all of them)"},
    {"lifetime_cap", JP_CONF_DURATION, D_OFF(decision.lifetime_cap_ms), 0, "730d", 0,
     3650.0 * 86400000.0, NULL, NULL, 0, NULL,
     "cap on a subscriber's expected remaining lifetime when valuing the stock (0: no value)"},
    {"alternatives", JP_CONF_INT, D_OFF(decision.alternatives), 0, "3", 0, 8, NULL, NULL, 0, NULL,
     "other prizes reported with each decision"},
    {"costs", JP_CONF_SECTION, D_OFF(decision.costs), 0, NULL, NR, NULL, costs_fields, 0, NULL,
     "costs the objective subtracts"},
    {"exploration", JP_CONF_SECTION, D_OFF(decision.exploration), 0, NULL, NR, NULL,
     exploration_fields, 0, NULL, "exploring prizes other than the best estimate's"},
    {"fallback", JP_CONF_SECTION, D_OFF(decision.fallback), 0, NULL, NR, NULL, fallback_fields, 0,
     NULL, "the default rule when there is no usable model"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef D_OFF
#undef DC_OFF
#undef DE_OFF
#undef DF_OFF
#define M_OFF(member) (offsetof(jp_country_t, member) - offsetof(jp_country_t, models))
static const jp_conf_field_t models_fields[] = {
    {"promote_margin", JP_CONF_NUM, M_OFF(models.promote_margin), 0, "0", 0, 0.99, NULL, NULL, 0,
     NULL,
     "a challenger is promoted when its prequential error is at most the champion's x (1 - "
     "margin) over the same windows (docs/models.md)"},
    {"promote_min_windows", JP_CONF_INT, M_OFF(models.promote_min_windows), 0, "7", 1, 365, NULL,
     NULL, 0, NULL, "closed day windows a challenger is evaluated on before the gate decides"},
    {"coverage_min", JP_CONF_NUM, M_OFF(models.coverage_min), 0, "0.5", 0, 1, NULL, NULL, 0, NULL,
     "lowest share of those windows' tickets inside a sales challenger's 5-95% band"},
    {"coverage_max", JP_CONF_NUM, M_OFF(models.coverage_max), 0, "1", 0, 1, NULL, NULL, 0, NULL,
     "highest such share (a band that always covers is too wide)"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};
#undef M_OFF

const jp_conf_field_t jp_country_fields[] = {
    {"code", JP_CONF_STR, offsetof(jp_country_t, code), 1, NULL, NR, NULL, NULL, 0, check_upper2,
     "ISO 3166-1 alpha-2 country code; the file is named after it"},
    {"name", JP_CONF_STR, offsetof(jp_country_t, name), 1, NULL, NR, NULL, NULL, 0, NULL,
     "the lottery's name"},
    {"currency", JP_CONF_STR, offsetof(jp_country_t, currency), 1, NULL, NR, NULL, NULL, 0,
     check_currency, "ISO 4217 code"},
    {"currency_exponent", JP_CONF_INT, offsetof(jp_country_t, currency_exponent), 0, "2", 0, 4,
     NULL, NULL, 0, NULL, "minor units per major unit, as a power of ten"},
    {"ticket", JP_CONF_SECTION, offsetof(jp_country_t, ticket), 1, NULL, NR, NULL, ticket_fields, 0,
     NULL, "the ticket"},
    {"calendar", JP_CONF_SECTION, offsetof(jp_country_t, calendar), 1, NULL, NR, NULL,
     calendar_fields, 0, NULL, "the draw calendar"},
    {"prizes", JP_CONF_SECTION, offsetof(jp_country_t, prizes), 1, NULL, NR, NULL, prizes_fields, 0,
     NULL, "the prize structure"},
    {"rules", JP_CONF_SECTION, offsetof(jp_country_t, rules), 1, NULL, NR, NULL, rules_fields, 0,
     NULL, "regulatory and operator rules"},
    {"cash", JP_CONF_SECTION, offsetof(jp_country_t, cash), 1, NULL, NR, NULL, cash_fields, 0, NULL,
     "cash safety net"},
    {"change", JP_CONF_SECTION, offsetof(jp_country_t, change), 0, NULL, NR, NULL, change_fields, 0,
     NULL, "limits on changing the headline prize"},
    {"risk", JP_CONF_SECTION, offsetof(jp_country_t, risk), 0, NULL, NR, NULL, risk_fields, 0, NULL,
     "risk limits"},
    {"models", JP_CONF_SECTION, offsetof(jp_country_t, models), 0, NULL, NR, NULL, models_fields, 0,
     NULL, "promotion gates of the country's models"},
    {"decision", JP_CONF_SECTION, offsetof(jp_country_t, decision), 0, NULL, NR, NULL,
     decision_fields, 0, NULL, "how the headline prize is decided"},
    {NULL, 0, 0, 0, NULL, NR, NULL, NULL, 0, NULL, NULL},
};

const jp_draw_conf_t *jp_country_headline_draw(const jp_country_t *country)
{
    const jp_draw_conf_t *d = country->calendar.draws.items;
    for (size_t i = 0; i < country->calendar.draws.n; i++)
        if (d[i].headline)
            return &d[i];
    return NULL;
}

static const jp_yaml_node_t *section(const jp_yaml_node_t *root, const char *a, const char *b)
{
    const jp_yaml_node_t *n = jp_yaml_get(root, a);
    return b ? jp_yaml_get(n, b) : n;
}

/* Checks between fields; field-level errors were already reported. */
static void check_consistency(jp_conf_t *c, const jp_yaml_node_t *root, const char *path,
                              jp_country_t *k)
{
    /* The file name is the country code: gb.yaml holds GB. */
    char *copy = strdup(path);
    if (copy && k->code) {
        char *base = basename(copy);
        char *dot = strrchr(base, '.');
        if (dot)
            *dot = '\0';
        if (strlen(base) != 2 || tolower((unsigned char)k->code[0]) != base[0] ||
            tolower((unsigned char)k->code[1]) != base[1])
            jp_conf_error_at_key(c, root, "", "code", "'%s' does not match the file name %s.yaml",
                                 k->code, base);
    }
    free(copy);

    const jp_yaml_node_t *hl = section(root, "prizes", "headline");
    int64_t lo = k->prizes.headline.min_minor, hi = k->prizes.headline.max_minor;
    int64_t step = k->prizes.headline.step_minor, init = k->prizes.headline.initial_minor;
    if (hl && lo > 0 && hi > 0) {
        if (lo > hi)
            jp_conf_error_at_key(c, hl, "prizes.headline", "min_minor",
                                 "min_minor %lld is greater than max_minor %lld", (long long)lo,
                                 (long long)hi);
        else if (step > 0 && (hi - lo) % step != 0)
            jp_conf_error_at_key(c, hl, "prizes.headline", "step_minor",
                                 "step %lld does not divide the range %lld..%lld", (long long)step,
                                 (long long)lo, (long long)hi);
        else if (init > 0 && (init < lo || init > hi))
            jp_conf_error_at_key(c, hl, "prizes.headline", "initial_minor",
                                 "%lld is outside %lld..%lld", (long long)init, (long long)lo,
                                 (long long)hi);
        else if (init > 0 && step > 0 && (init - lo) % step != 0)
            jp_conf_error_at_key(c, hl, "prizes.headline", "initial_minor",
                                 "%lld is not on the grid min_minor + n x step_minor",
                                 (long long)init);
        if (k->rules.max_single_prize.absolute_minor > 0 &&
            k->rules.max_single_prize.relative_to_proceeds == 0 &&
            lo > k->rules.max_single_prize.absolute_minor)
            jp_conf_error_at_key(c, hl, "prizes.headline", "min_minor",
                                 "the lowest allowed prize exceeds "
                                 "rules.max_single_prize.absolute_minor");
    }

    const jp_yaml_node_t *rules = jp_yaml_get(root, "rules");
    if (rules) {
        if (k->rules.prize_share_min > k->rules.prize_share_max)
            jp_conf_error_at_key(c, rules, "rules", "prize_share_min",
                                 "%g is greater than prize_share_max %g", k->rules.prize_share_min,
                                 k->rules.prize_share_max);
        if (k->rules.good_causes_min_share + k->rules.prize_share_min > 1.0)
            jp_conf_error_at_key(c, rules, "rules", "good_causes_min_share",
                                 "good_causes_min_share + prize_share_min exceed 1");
        const jp_yaml_node_t *pr = jp_yaml_get(rules, "payout_ratio");
        if (pr && k->rules.payout_ratio.min > k->rules.payout_ratio.max)
            jp_conf_error_at_key(c, pr, "rules.payout_ratio", "min", "%g is greater than max %g",
                                 k->rules.payout_ratio.min, k->rules.payout_ratio.max);
        if (k->rules.proceeds_cap_annual_minor > 0 &&
            k->rules.proceeds_cap_per_draw_minor > k->rules.proceeds_cap_annual_minor)
            jp_conf_error_at_key(c, rules, "rules", "proceeds_cap_per_draw_minor",
                                 "is greater than proceeds_cap_annual_minor");
    }

    const jp_yaml_node_t *models = jp_yaml_get(root, "models");
    if (models && k->models.coverage_min > k->models.coverage_max)
        jp_conf_error_at_key(c, models, "models", "coverage_min",
                             "%g is greater than coverage_max %g", k->models.coverage_min,
                             k->models.coverage_max);

    const jp_yaml_node_t *draws = section(root, "calendar", "draws");
    const jp_draw_conf_t *d = k->calendar.draws.items;
    size_t n_headline = 0;
    for (size_t i = 0; i < k->calendar.draws.n; i++) {
        n_headline += d[i].headline != 0;
        for (size_t j = 0; j < i; j++)
            if (d[i].name && d[j].name && strcmp(d[i].name, d[j].name) == 0)
                jp_conf_errorf(c, draws && i < draws->n ? draws->items[i] : root, "calendar.draws",
                               "draw name '%s' is used twice", d[i].name);
    }
    if (draws && n_headline != 1)
        jp_conf_errorf(c, draws, "calendar.draws",
                       "exactly one draw must be the headline draw (headline: true), found %zu",
                       n_headline);

    const jp_yaml_node_t *sec = section(root, "prizes", "secondary");
    const jp_secondary_prize_t *s = k->prizes.secondary.items;
    for (size_t i = 0; i < k->prizes.secondary.n; i++) {
        int found = 0;
        for (size_t j = 0; j < k->calendar.draws.n && s[i].draw; j++)
            found |= d[j].name && strcmp(d[j].name, s[i].draw) == 0;
        if (s[i].draw && !found) {
            char p[64];
            snprintf(p, sizeof(p), "prizes.secondary[%zu]", i);
            jp_conf_error_at_key(c, sec && i < sec->n ? sec->items[i] : root, p, "draw",
                                 "no draw named '%s' in calendar.draws", s[i].draw);
        }
    }

    const jp_yaml_node_t *cash = jp_yaml_get(root, "cash");
    if (k->cash.available.value) {
        char *end;
        errno = 0;
        long long v = strtoll(k->cash.available.value, &end, 10);
        if (errno || end == k->cash.available.value || *end || v < 0)
            /* Never echo the content: it is a secret. */
            jp_conf_error_at_key(c, cash, "cash", "available_file",
                                 "%s does not hold a whole, non-negative number of minor units",
                                 k->cash.available.path);
        else
            k->cash.available_minor = v;
    }
}

int jp_country_load(jp_conf_t *c, const char *path, jp_country_t *out)
{
    memset(out, 0, sizeof(*out));
    out->file = strdup(path);
    size_t before = c->n_errors;
    jp_yaml_node_t *root = jp_conf_load_file(c, jp_country_fields, path, out);
    if (!root)
        return -1;
    check_consistency(c, root, path, out);
    jp_yaml_free(root);
    return c->n_errors == before ? 0 : -1;
}

void jp_country_release(jp_country_t *country)
{
    jp_conf_release(jp_country_fields, country);
    free(country->file);
    country->file = NULL;
}
