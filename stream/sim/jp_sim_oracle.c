/*
 * jp_sim_oracle: the truth document read once into per-country arrays
 * (headline periods for the horizon, every draw for the ledger), then one
 * jp_decide problem per evaluated decision, built by jp_country_decide as
 * the engine builds its own.
 */
#include "sim/jp_sim_oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_calendar.h"
#include "config/jp_country_decide.h"
#include "model/base/jp_err.h"
#include "model/decide/jp_oracle.h"

#define DAY_MS 86400000.0

typedef struct {
    char id[48];
    int64_t time_ms, prize, switch_ms;
    double exp[6], after[6]; /* signups, reactivations, extra purchases, extra tickets,
                                cancellations, (unused) */
    double renewal_tickets, signup_tickets, realized_revenue;
    double active;
    double pc[6]; /* mean, p50, p90, p99, p999, max */
    double e_signup, e_extra, e_cancel;
} ora_draw_t;

typedef struct {
    char code[3];
    const jp_country_t *c;
    jp_calendar_t *cal;
    double initial_active;
    ora_draw_t *h;
    size_t n_h;
    jp_opt_ledger_entry_t *ledger;
    size_t n_ledger;
} ora_country_t;

struct jp_sim_oracle_s {
    ora_country_t *k;
    size_t n;
};

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t integer(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)llround(num(o, key));
}

static const char *const flow_keys[5] = {"signups", "reactivations", "extra_purchases",
                                         "extra_tickets", "cancellations"};

static int read_headline(const json_t *d, ora_draw_t *h)
{
    const char *id = json_string_value(json_object_get(d, "draw_id"));
    const json_t *exp = json_object_get(d, "expected"),
                 *after = json_object_get(d, "expected_after_switch");
    const json_t *par = json_object_get(d, "parameters"),
                 *pc = json_object_get(d, "tickets_per_postcode");
    if (!id || strlen(id) >= sizeof(h->id) || !exp || !after || !par || !pc)
        return -1;
    memset(h, 0, sizeof(*h));
    strcpy(h->id, id);
    h->time_ms = integer(d, "time_ms");
    h->prize = integer(d, "prize_minor");
    h->switch_ms = integer(d, "switch_ms");
    for (int i = 0; i < 5; i++) {
        h->exp[i] = num(exp, flow_keys[i]);
        h->after[i] = num(after, flow_keys[i]);
    }
    h->renewal_tickets = num(exp, "renewal_tickets");
    h->signup_tickets = num(exp, "signup_tickets");
    h->realized_revenue = num(json_object_get(d, "realized"), "revenue_minor");
    h->active = num(d, "active_subscribers");
    static const char *const pk[6] = {"mean", "p50", "p90", "p99", "p999", "max"};
    for (int i = 0; i < 6; i++)
        h->pc[i] = num(pc, pk[i]);
    h->e_signup = num(par, "signup_elasticity");
    h->e_extra = num(par, "extra_elasticity");
    h->e_cancel = num(par, "cancel_elasticity");
    for (int i = 0; i < 5; i++)
        if (!isfinite(h->exp[i]) || !isfinite(h->after[i]))
            return -1;
    return isfinite(h->renewal_tickets) && isfinite(h->signup_tickets) && isfinite(h->active) &&
                   isfinite(h->pc[0]) && isfinite(h->e_signup) && isfinite(h->e_cancel)
               ? 0
               : -1;
}

static int read_country(ora_country_t *k, const json_t *c, char *errstr, size_t size)
{
    const json_t *draws = json_object_get(c, "draws");
    size_t n = json_array_size(draws);
    k->h = calloc(n ? n : 1, sizeof(*k->h));
    k->ledger = calloc(2 * n + 1, sizeof(*k->ledger));
    if (!k->h || !k->ledger) {
        jp_err_set(errstr, size, "out of memory");
        return -1;
    }
    k->initial_active = num(json_object_get(c, "parameters"), "initial_subscribers");
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(draws, i);
        int64_t t = integer(d, "time_ms");
        k->ledger[k->n_ledger++] = (jp_opt_ledger_entry_t){t, 0, integer(d, "payout_minor")};
        if (!json_is_true(json_object_get(d, "headline")))
            continue;
        ora_draw_t *h = &k->h[k->n_h];
        if (read_headline(d, h) != 0) {
            jp_err_set(errstr, size,
                       "truth: %s draw %zu lacks the oracle's fields (expected, "
                       "expected_after_switch, tickets_per_postcode, parameters): written by an "
                       "older simulator?",
                       k->code, i);
            return -1;
        }
        k->n_h++;
        k->ledger[k->n_ledger++] =
            (jp_opt_ledger_entry_t){t, (int64_t)llround(h->realized_revenue), 0};
    }
    return 0;
}

jp_sim_oracle_t *jp_sim_oracle_new(const json_t *truth, const jp_config_t *cfg, char *errstr,
                                   size_t errstr_size)
{
    const json_t *countries = json_object_get(truth, "countries");
    if (!json_is_object(countries)) {
        jp_err_set(errstr, errstr_size, "truth: no \"countries\" object");
        return NULL;
    }
    jp_sim_oracle_t *o = calloc(1, sizeof(*o));
    if (o)
        o->k = calloc(json_object_size(countries) + 1, sizeof(*o->k));
    if (!o || !o->k) {
        free(o);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    const char *code;
    const json_t *c;
    json_object_foreach((json_t *)countries, code, c)
    {
        const jp_country_t *country = jp_config_country(cfg, code);
        if (!country || strlen(code) != 2)
            continue; /* not configured: nothing to evaluate */
        ora_country_t *k = &o->k[o->n++];
        memcpy(k->code, code, 3);
        k->c = country;
        k->cal = jp_calendar_new(country, errstr, errstr_size);
        if (!k->cal || read_country(k, c, errstr, errstr_size) != 0) {
            jp_sim_oracle_free(o);
            return NULL;
        }
    }
    return o;
}

void jp_sim_oracle_free(jp_sim_oracle_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        jp_calendar_free(o->k[i].cal);
        free(o->k[i].h);
        free(o->k[i].ledger);
    }
    free(o->k);
    free(o);
}

static ora_country_t *country_of(const jp_sim_oracle_t *o, const char *code)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->k[i].code, code) == 0)
            return &o->k[i];
    return NULL;
}

size_t jp_sim_oracle_draws(const jp_sim_oracle_t *o, const char *country)
{
    const ora_country_t *k = country_of(o, country);
    return k ? k->n_h : 0;
}

const char *jp_sim_oracle_draw_id(const jp_sim_oracle_t *o, const char *country, size_t i)
{
    const ora_country_t *k = country_of(o, country);
    return k && i < k->n_h ? k->h[i].id : NULL;
}

static void part(jp_oracle_part_t *p, const double *v, int64_t prize)
{
    *p = (jp_oracle_part_t){prize, v[0], v[1], v[2], v[3], v[4]};
}

/* The truth's period j as the oracle takes it. */
static void period(const ora_country_t *k, size_t j, jp_oracle_period_t *q)
{
    const ora_draw_t *h = &k->h[j], *prev = j > 0 ? &k->h[j - 1] : NULL;
    double before[5];
    for (int i = 0; i < 5; i++) {
        before[i] = h->exp[i] - h->after[i];
        if (before[i] < 0.0)
            before[i] = 0.0; /* rounding */
    }
    memset(q, 0, sizeof(*q));
    part(&q->before, before, prev ? prev->prize : h->prize);
    part(&q->after, h->after, h->prize);
    q->renewal_tickets = h->renewal_tickets;
    q->signup_tickets = h->signup_tickets;
    q->active_start = prev ? prev->active : k->initial_active;
    q->active_end = h->active;
    q->days = (double)(h->time_ms - (prev ? prev->time_ms : h->switch_ms)) / DAY_MS;
    q->e_signup = h->e_signup;
    q->e_extra = h->e_extra;
    q->e_cancel = h->e_cancel;
}

/* Payout atoms from draw h's quantiles, rescaled to its true mean. */
static size_t atoms_of(const ora_draw_t *h, jp_opt_mass_t *a)
{
    const double level[5] = {0.5, 0.9, 0.99, 0.999, 1.0};
    long n = jp_decide_atoms_from_quantiles(level, h->pc + 1, 5, 1.0, a);
    if (n <= 0)
        return 0;
    double m = jp_country_atoms_mean(a, (size_t)n);
    for (long i = 0; i < n && m > 0.0; i++)
        a[i].tickets *= h->pc[0] / m;
    return (size_t)n;
}

int jp_sim_oracle_eval(jp_sim_oracle_t *o, const char *country, const char *draw_id, int64_t prize,
                       int64_t greedy, jp_sim_oracle_eval_t *out, char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof(*out));
    out->greedy_value = NAN;
    ora_country_t *k = country_of(o, country);
    if (!k) {
        jp_err_set(errstr, errstr_size, "%s: not in the truth or not configured", country);
        return -1;
    }
    size_t j = 0;
    while (j < k->n_h && strcmp(k->h[j].id, draw_id) != 0)
        j++;
    jp_draw_t draw;
    if (jp_calendar_parse_draw_id(k->cal, draw_id, &draw, errstr, errstr_size) != 0)
        return -1;
    out->decision_time_ms = jp_calendar_decision_time(k->cal, &draw);
    out->draw_time_ms = draw.time_ms;
    size_t H = (size_t)k->c->decision.horizon_draws;
    if (j == 0 || H == 0 || j + H > k->n_h)
        return 1; /* no period before it, or its horizon runs past the truth
                     (the configuration has horizon_draws >= 1) */
    const ora_draw_t *prev = &k->h[j - 1];
    jp_oracle_period_t q[JP_DECIDE_MAX_HORIZON];
    for (size_t h = 0; h < H; h++)
        period(k, j + h, &q[h]);
    jp_oracle_t truth = {q, H};
    jp_opt_mass_t atoms[8];
    int64_t t = jp_calendar_decision_time(k->cal, &draw);
    size_t n_ledger = 0;
    while (n_ledger < k->n_ledger && k->ledger[n_ledger].draw_time_ms < t)
        n_ledger++;
    /* the stock's mean daily hazard over the previous period */
    double prev_active = j >= 2 ? k->h[j - 2].active : k->initial_active;
    double prev_days = j >= 2 ? (double)(prev->time_ms - k->h[j - 2].time_ms) / DAY_MS : q[0].days;
    double hazard = prev->exp[4] / (0.5 * (prev_active + prev->active) * prev_days);
    jp_decision_state_t s = {.decision_time_ms = t,
                             .previous_prize = prev->prize,
                             .ledger = k->ledger,
                             .n_ledger = n_ledger,
                             .atoms = atoms,
                             .n_atoms = atoms_of(prev, atoms),
                             .active_ref = prev->active,
                             .lifetime_days = hazard > 0.0 ? 1.0 / hazard : 0.0};
    jp_country_decision_t d;
    if (jp_country_decision_init(&d, k->c, k->cal, &draw, &s, errstr, errstr_size) != 0)
        return -1;
    d.p.horizon = jp_oracle_horizon;
    d.p.horizon_ctx = &truth;
    jp_decide_result_t r;
    if (jp_decide_solve(&d.p, &r, errstr, errstr_size) != 0)
        return -1;
    out->oracle_status = r.opt.status;
    out->conflict_mask = r.opt.conflict_mask;
    out->oracle_prize = r.prize;
    out->oracle_value = r.opt.objective;
    out->oracle = r.opt;
    out->e_signup = q[0].e_signup;
    out->e_extra = q[0].e_extra;
    out->e_cancel = q[0].e_cancel;
    if (prize <= 0)
        prize = prev->prize;
    if (jp_decide_evaluate(&d.p, (double)prize, &r, errstr, errstr_size) != 0)
        return -1;
    out->value = r.opt.objective;
    out->feasible = r.opt.status == JP_OPT_OPTIMAL;
    out->regret = (out->oracle_value - out->value) / fabs(out->oracle_value);
    if (greedy > 0) {
        if (jp_decide_evaluate(&d.p, (double)greedy, &r, errstr, errstr_size) != 0)
            return -1;
        out->greedy_value = r.opt.objective;
    }
    return 0;
}
