/*
 * jp_country_decide: from a country file to a jp_decide problem.
 *
 * Kept next to the configuration because it is a reading of it: which key
 * turns which rule on, what a secondary prize costs in a draw period. The
 * engine and the evaluation both call it, so a rule means the same in a
 * recommendation and in the oracle that judges it.
 */
#include "config/jp_country_decide.h"

#include <math.h>
#include <string.h>

#include "model/base/jp_err.h"

#define DAY_MS 86400000.0

double jp_country_atoms_mean(const jp_opt_mass_t *atoms, size_t n)
{
    double sum = 0.0, mean = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += atoms[i].prob;
        mean += atoms[i].prob * atoms[i].tickets;
    }
    return sum > 0.0 ? mean / sum : 0.0;
}

static void rules_from_config(const jp_country_t *c, jp_opt_rules_t *u)
{
    u->good_causes.on = c->rules.good_causes_min_share > 0.0;
    u->good_causes.min_share = c->rules.good_causes_min_share;
    u->prize_share.on_min = c->rules.prize_share_min > 0.0;
    u->prize_share.min = c->rules.prize_share_min;
    u->prize_share.on_max = 1;
    u->prize_share.max = c->rules.prize_share_max;
    u->single_prize.abs = c->rules.max_single_prize.absolute_minor;
    u->single_prize.rel = c->rules.max_single_prize.relative_to_proceeds;
    if (u->single_prize.rel <= 0.0)
        u->single_prize.mode = JP_OPT_CAP_ABS;
    else
        u->single_prize.mode = c->rules.max_single_prize.combine == JP_SINGLE_CAP_MAX_OF
                                   ? JP_OPT_CAP_MAX_ABS_REL
                                   : JP_OPT_CAP_MIN_ABS_REL;
    u->draw_proceeds.on = c->rules.proceeds_cap_per_draw_minor > 0;
    u->draw_proceeds.cap = c->rules.proceeds_cap_per_draw_minor;
    u->annual_proceeds.on = c->rules.proceeds_cap_annual_minor > 0;
    u->annual_proceeds.cap = c->rules.proceeds_cap_annual_minor;
    u->payout_ratio.on_min = c->rules.payout_ratio.min > 0.0;
    u->payout_ratio.on_max = 1;
    u->payout_ratio.min = c->rules.payout_ratio.min;
    u->payout_ratio.max = c->rules.payout_ratio.max;
    u->payout_ratio.window = c->rules.payout_ratio.period == JP_PAYOUT_CALENDAR_YEAR
                                 ? JP_OPT_WINDOW_CALENDAR_YEAR
                                 : JP_OPT_WINDOW_ROLLING_52W;
    u->cash_safety.on = 1;
    u->cash_safety.quantile = c->cash.safety_quantile;
    u->cash_safety.margin = c->cash.safety_margin_minor;
    u->max_change.on_abs = c->change.max_abs_minor > 0;
    u->max_change.abs = c->change.max_abs_minor;
    u->max_change.on_rel = c->change.max_rel > 0.0;
    u->max_change.rel = c->change.max_rel;
    u->loss_chance.on = c->risk.max_loss_probability > 0.0;
    u->loss_chance.epsilon = c->risk.max_loss_probability;
}

/* Secondary prizes of the draws in (start, end]: per-ticket amounts times
 * mean_t, fixed amounts; and those paid in the draw at `end` whose series
 * is `series` (the headline draw itself). */
static void secondary(const jp_country_t *c, const jp_calendar_t *cal, int64_t start, int64_t end,
                      double mean_t, double *per_ticket, double *fixed, double *in_draw)
{
    const jp_secondary_prize_t *sec = c->prizes.secondary.items;
    const jp_draw_conf_t *series = c->calendar.draws.items;
    *per_ticket = *fixed = *in_draw = 0.0;
    jp_draw_t d;
    for (int64_t t = start; jp_calendar_next_draw(cal, t, 0, &d) == 0 && d.time_ms <= end;
         t = d.time_ms) {
        for (size_t i = 0; i < c->prizes.secondary.n; i++) {
            if (strcmp(sec[i].draw, series[d.series].name) != 0)
                continue;
            double a = (double)sec[i].amount_minor;
            if (sec[i].kind == JP_COUNTRY_PRIZE_PER_TICKET)
                *per_ticket += a * mean_t;
            else
                *fixed += a;
            if (d.time_ms == end && d.headline)
                *in_draw += sec[i].kind == JP_COUNTRY_PRIZE_PER_TICKET ? a * mean_t : a;
        }
    }
}

/* Proceeds of the ledger's entries before t in t's UTC calendar year. */
static int64_t year_to_date(const jp_opt_ledger_entry_t *l, size_t n, int64_t t)
{
    int year = jp_opt_utc_year(t);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].draw_time_ms < t && jp_opt_utc_year(l[i].draw_time_ms) == year)
            sum += l[i].proceeds;
    return sum;
}

int jp_country_decision_init(jp_country_decision_t *d, const jp_country_t *c,
                             const jp_calendar_t *cal, const jp_draw_t *first,
                             const jp_decision_state_t *s, char *errstr, size_t errstr_size)
{
    memset(d, 0, sizeof(*d));
    if (!(s->active_ref > 0.0) || !isfinite(s->active_ref)) {
        jp_err_set(errstr, errstr_size, "%s: the decision needs the subscriber stock (> 0)",
                   c->code);
        return -1;
    }
    jp_decide_problem_t *p = &d->p;
    jp_decide_problem_init(p);
    jp_opt_problem_t *o = &p->opt;
    o->prize_min = c->prizes.headline.min_minor;
    o->prize_max = c->prizes.headline.max_minor;
    o->prize_step = c->prizes.headline.step_minor;
    o->prize_kind = c->prizes.headline.kind == JP_COUNTRY_PRIZE_SHARED ? JP_OPT_PRIZE_SHARED
                                                                       : JP_OPT_PRIZE_PER_TICKET;
    o->ticket_price = c->ticket.price_minor;
    o->tickets_in_postcode = s->atoms;
    o->n_tickets_in_postcode = s->n_atoms;
    o->fixed_costs = c->decision.costs.fixed_per_draw_minor;
    o->variable_cost_share = c->decision.costs.variable_share;
    rules_from_config(c, &o->rules);
    o->decision_time_ms = s->decision_time_ms;
    o->has_previous_prize = s->previous_prize > 0;
    o->previous_prize = s->previous_prize > 0 ? s->previous_prize : 0;
    if (!o->has_previous_prize)
        o->rules.max_change.on_abs = o->rules.max_change.on_rel = 0;
    o->ledger = s->ledger;
    o->n_ledger = s->n_ledger;
    o->proceeds_year_to_date = year_to_date(s->ledger, s->n_ledger, s->decision_time_ms);
    o->available_cash = c->cash.available_minor;
    o->n_alternatives = (size_t)c->decision.alternatives;
    o->alternative_min_gap = c->prizes.headline.step_minor;

    size_t n = (size_t)c->decision.horizon_draws;
    double mean_t = jp_country_atoms_mean(s->atoms, s->n_atoms);
    jp_draw_t draw = *first, prev;
    if (jp_calendar_prev_draw(cal, first->time_ms - 1, 1, &prev) != 0) {
        jp_err_set(errstr, errstr_size, "%s: no headline draw before %s", c->code, first->id);
        return -1;
    }
    for (size_t h = 0; h < n; h++) {
        jp_horizon_draw_t *q = &d->period[h];
        q->draw = draw;
        q->start_ms = prev.time_ms;
        q->decision_ms = jp_calendar_decision_time(cal, &draw);
        double in_draw;
        secondary(c, cal, q->start_ms, draw.time_ms, mean_t, &d->secondary_per_ticket[h],
                  &d->secondary_fixed[h], &in_draw);
        if (h == 0) {
            o->secondary_prizes_expected =
                (int64_t)llround(d->secondary_per_ticket[0] + d->secondary_fixed[0]);
            o->secondary_prizes_quantile = (int64_t)llround(in_draw);
        }
        prev = draw;
        if (h + 1 < n && jp_calendar_next_draw(cal, draw.time_ms, 1, &draw) != 0) {
            jp_err_set(errstr, errstr_size, "%s: no headline draw after %s", c->code, prev.id);
            return -1;
        }
    }
    p->horizon_draws = n;
    p->active_ref = s->active_ref;
    p->secondary_per_ticket = d->secondary_per_ticket;
    p->secondary_fixed = d->secondary_fixed;
    double cap = (double)c->decision.lifetime_cap_ms / DAY_MS;
    p->lifetime_days = s->lifetime_days > cap ? cap : s->lifetime_days;
    if (!(p->lifetime_days > 0.0))
        p->lifetime_days = 0.0;
    p->status_quo_prize =
        o->has_previous_prize ? o->previous_prize : c->prizes.headline.initial_minor;
    p->explore_max_share = c->decision.exploration.max_cost_share;
    p->explore_max_cost = (double)c->decision.exploration.max_cost_minor;
    return 0;
}
