/*
 * jp_decide: a horizon of draws on top of jp_optimizer.
 *
 * Design. The rules of a lottery are stated per draw, so only the next
 * draw - the one whose prize is being chosen - is checked against them;
 * what the prize does later (subscribers who join or stay, and renew for
 * months) is value, not a constraint. So the horizon enters jp_optimizer as
 * one extra term of its objective, computed by the same callback that gives
 * the first draw's sales: one horizon evaluation per candidate prize, and
 * jp_optimizer keeps everything it does for a single draw (grid scan,
 * refinement, alternatives, binding rules, the infeasible compromise and
 * the rules that conflict).
 *
 * Holding the prize for the whole horizon (rather than optimising a path)
 * keeps the decision one-dimensional and matches how it is used: the next
 * decision re-optimises with what was learned meanwhile (receding
 * horizon). The stock left at the end is valued against the status quo
 * prize's stock, so V stays the horizon's net revenue plus a correction,
 * not a perpetuity of the whole base.
 *
 * Exploration moves along the grid from the greedy prize towards the
 * Thompson prize, checking each point under the best estimate, and stops
 * at the farthest point that is feasible and within budget: the budget
 * bounds what the exploration is expected to cost, whatever the sample.
 */
#include "model/decide/jp_decide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"
#include "model/base/jp_rng.h"

typedef struct dec_ctx_s {
    const jp_decide_problem_t *p;
    const double *params; /* NULL: the best estimate */
    double mean_t;        /* E[T] at active_ref; 1 for a shared prize */
    double sq_active;     /* S_H(J0) */
    double subscriber_value;
    /* the last answer of the horizon callback (the figures of a prize are
     * asked for again after the optimizer has evaluated it) */
    int have_last;
    double last_prize;
    jp_decide_outcome_t last;
    char err[256]; /* the first bad answer of the horizon callback */
} dec_ctx_t;

static int dec_period_ok(const jp_decide_period_t *f)
{
    return isfinite(f->tickets) && f->tickets >= 0.0 && isfinite(f->tickets_sd) &&
           f->tickets_sd >= 0.0 && isfinite(f->active) && f->active > 0.0 && isfinite(f->days) &&
           f->days > 0.0;
}

static int dec_horizon(dec_ctx_t *c, double prize, jp_decide_outcome_t *out)
{
    const jp_decide_problem_t *p = c->p;
    if (c->have_last && c->last_prize == prize) {
        memcpy(out->period, c->last.period, p->horizon_draws * sizeof(*out->period));
        return 0;
    }
    memset(out, 0, sizeof(*out));
    if (p->horizon(p->horizon_ctx, prize, c->params, out) != 0) {
        if (!c->err[0])
            jp_err_set(c->err, sizeof(c->err), "horizon callback failed at prize %.17g", prize);
        return -1;
    }
    for (size_t h = 0; h < p->horizon_draws; h++)
        if (!dec_period_ok(&out->period[h])) {
            if (!c->err[0])
                jp_err_set(c->err, sizeof(c->err),
                           "horizon callback at prize %.17g, draw %zu: tickets %.17g sd %.17g "
                           "active %.17g days %.17g (need finite, tickets and sd >= 0, "
                           "active and days > 0)",
                           prize, h + 1, out->period[h].tickets, out->period[h].tickets_sd,
                           out->period[h].active, out->period[h].days);
            return -1;
        }
    memcpy(c->last.period, out->period, p->horizon_draws * sizeof(*out->period));
    c->last_prize = prize;
    c->have_last = 1;
    return 0;
}

static double dec_at(const double *v, size_t h)
{
    return v ? v[h] : 0.0;
}

/* Per-ticket payouts of draw h at prize J (headline if per ticket, and the
 * per-ticket secondary prizes), which grow with the stock. */
static double dec_variable_payout(const dec_ctx_t *c, double prize, const jp_decide_period_t *f,
                                  size_t h)
{
    const jp_decide_problem_t *p = c->p;
    double s = f->active / p->active_ref;
    double headline = p->opt.prize_kind == JP_OPT_PRIZE_PER_TICKET ? prize * c->mean_t * s : 0.0;
    return headline + dec_at(p->secondary_per_ticket, h) * s;
}

/* Expected net revenue of draw h >= 1 of the horizon. */
static double dec_net(const dec_ctx_t *c, double prize, const jp_decide_period_t *f, size_t h)
{
    const jp_decide_problem_t *p = c->p;
    double revenue = (double)p->opt.ticket_price * f->tickets;
    double fixed_prizes =
        (p->opt.prize_kind == JP_OPT_PRIZE_SHARED ? prize : 0.0) + dec_at(p->secondary_fixed, h);
    return revenue * (1.0 - p->opt.variable_cost_share) - dec_variable_payout(c, prize, f, h) -
           fixed_prizes - (double)p->opt.fixed_costs;
}

static double dec_stock_value(const dec_ctx_t *c, const jp_decide_outcome_t *o)
{
    if (c->subscriber_value == 0.0)
        return 0.0;
    return (o->period[c->p->horizon_draws - 1].active - c->sq_active) * c->subscriber_value;
}

/* jp_opt_outcome_fn: the first draw, and the rest of the horizon as extra. */
static int dec_outcome(void *ctx, double prize, jp_opt_outcome_t *o)
{
    dec_ctx_t *c = ctx;
    const jp_decide_problem_t *p = c->p;
    jp_decide_outcome_t out;
    if (dec_horizon(c, prize, &out) != 0)
        return -1;
    const jp_decide_period_t *f = &out.period[0];
    o->mean_tickets = f->tickets;
    o->sd_tickets = f->tickets_sd;
    o->payout_scale = f->active / p->active_ref;
    double later = 0.0;
    for (size_t h = 1; h < p->horizon_draws; h++)
        later += dec_net(c, prize, &out.period[h], h);
    o->extra_objective = later + dec_stock_value(c, &out);
    return 0;
}

/* E[T] of the atoms, and the status quo's stock and subscriber value
 * under c->params. */
static int dec_prepare(dec_ctx_t *c, const jp_decide_problem_t *p, const double *params)
{
    memset(c, 0, sizeof(*c));
    c->p = p;
    c->params = params;
    c->mean_t = 1.0;
    if (p->opt.prize_kind == JP_OPT_PRIZE_PER_TICKET) {
        double sum = 0.0, mean = 0.0;
        for (size_t i = 0; i < p->opt.n_tickets_in_postcode; i++) {
            sum += p->opt.tickets_in_postcode[i].prob;
            mean += p->opt.tickets_in_postcode[i].prob * p->opt.tickets_in_postcode[i].tickets;
        }
        c->mean_t = sum > 0.0 ? mean / sum : 0.0;
    }
    if (!(p->lifetime_days > 0.0))
        return 0;
    jp_decide_outcome_t sq;
    double j0 = (double)p->status_quo_prize;
    if (dec_horizon(c, j0, &sq) != 0)
        return -1;
    size_t last = p->horizon_draws - 1;
    const jp_decide_period_t *f = &sq.period[last];
    double margin = (double)p->opt.ticket_price * f->tickets * (1.0 - p->opt.variable_cost_share) -
                    dec_variable_payout(c, j0, f, last);
    c->sq_active = f->active;
    c->subscriber_value = margin / (f->active * f->days) * p->lifetime_days;
    return 0;
}

static int dec_validate(const jp_decide_problem_t *p, char *errstr, size_t size)
{
#define DEC_REQUIRE(cond, msg)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            jp_err_set(errstr, size, "invalid decision problem: %s", msg);                         \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    DEC_REQUIRE(p->horizon != NULL, "horizon callback is NULL");
    DEC_REQUIRE(p->horizon_draws >= 1 && p->horizon_draws <= JP_DECIDE_MAX_HORIZON,
                "horizon_draws must be in 1..JP_DECIDE_MAX_HORIZON");
    DEC_REQUIRE(isfinite(p->active_ref) && p->active_ref > 0.0, "active_ref must be > 0");
    for (size_t h = 0; h < p->horizon_draws; h++) {
        DEC_REQUIRE(isfinite(dec_at(p->secondary_per_ticket, h)) &&
                        dec_at(p->secondary_per_ticket, h) >= 0.0,
                    "secondary_per_ticket must be finite and >= 0");
        DEC_REQUIRE(isfinite(dec_at(p->secondary_fixed, h)) && dec_at(p->secondary_fixed, h) >= 0.0,
                    "secondary_fixed must be finite and >= 0");
    }
    DEC_REQUIRE(!(p->lifetime_days > 0.0) || isfinite(p->lifetime_days),
                "lifetime_days must be finite");
    DEC_REQUIRE(!(p->lifetime_days > 0.0) || p->status_quo_prize > 0,
                "a stock value needs status_quo_prize > 0");
    DEC_REQUIRE(p->n_params <= JP_DECIDE_MAX_PARAMS, "n_params above JP_DECIDE_MAX_PARAMS");
    if (p->explore && p->n_params > 0) {
        DEC_REQUIRE(p->param_mean && p->param_sd, "exploration needs param_mean and param_sd");
        for (size_t k = 0; k < p->n_params; k++)
            DEC_REQUIRE(isfinite(p->param_mean[k]) && isfinite(p->param_sd[k]) &&
                            p->param_sd[k] >= 0.0,
                        "param_mean and param_sd must be finite, sd >= 0");
        DEC_REQUIRE(isfinite(p->explore_max_cost) && p->explore_max_cost >= 0.0,
                    "explore_max_cost must be finite and >= 0");
        DEC_REQUIRE(isfinite(p->explore_max_share) && p->explore_max_share >= 0.0,
                    "explore_max_share must be finite and >= 0");
    }
#undef DEC_REQUIRE
    return 0;
}

/* jp_opt_solve or jp_opt_evaluate on the first draw, under ctx. */
static int dec_opt(dec_ctx_t *c, int evaluate, double prize, size_t n_alternatives,
                   jp_opt_result_t *out, char *errstr, size_t size)
{
    jp_opt_problem_t q = c->p->opt;
    q.response = NULL;
    q.outcome = dec_outcome;
    q.outcome_ctx = c;
    q.n_alternatives = n_alternatives;
    int rc = evaluate ? jp_opt_evaluate(&q, prize, out, errstr, size)
                      : jp_opt_solve(&q, out, errstr, size);
    if (rc != 0 && c->err[0])
        jp_err_set(errstr, size, "%s", c->err);
    return rc;
}

static int dec_ctx_open(dec_ctx_t *c, const jp_decide_problem_t *p, const double *params,
                        char *errstr, size_t size)
{
    if (dec_prepare(c, p, params) != 0) {
        jp_err_set(errstr, size, "%s", c->err);
        return -1;
    }
    return 0;
}

/* Fills the horizon figures of r at r->prize (best estimate). */
static int dec_figures(dec_ctx_t *c, jp_decide_result_t *r, char *errstr, size_t size)
{
    const jp_decide_problem_t *p = c->p;
    double prize = (double)r->prize;
    if (dec_horizon(c, prize, &r->outcome) != 0) {
        jp_err_set(errstr, size, "%s", c->err);
        return -1;
    }
    r->horizon_net = r->opt.expected_net_revenue;
    for (size_t h = 1; h < p->horizon_draws; h++)
        r->horizon_net += dec_net(c, prize, &r->outcome.period[h], h);
    r->stock_value = dec_stock_value(c, &r->outcome);
    r->subscriber_value = c->subscriber_value;
    return 0;
}

static jp_opt_point_t dec_point(const jp_opt_result_t *o)
{
    return (jp_opt_point_t){o->prize, o->objective, o->expected_net_revenue, o->expected_tickets,
                            o->expected_total_payout};
}

/* The prize to explore: from the Thompson prize back towards the greedy
 * one, the first grid point feasible under the best estimate and within
 * budget; 0 if none. */
static int dec_walk(dec_ctx_t *best, const jp_decide_result_t *r, int64_t *chosen,
                    jp_opt_result_t *at, char *errstr, size_t size)
{
    const jp_decide_problem_t *p = best->p;
    int64_t step = r->thompson_prize < r->greedy_prize ? p->opt.prize_step : -p->opt.prize_step;
    *chosen = 0;
    for (int64_t j = r->thompson_prize; j != r->greedy_prize; j += step) {
        if (dec_opt(best, 1, (double)j, 0, at, errstr, size) != 0)
            return -1;
        if (at->status == JP_OPT_OPTIMAL &&
            r->greedy_objective - at->objective <= r->exploration_budget) {
            *chosen = j;
            return 0;
        }
    }
    return 0;
}

/* The smaller of the limits set; 0 when none is. */
static double dec_budget(const jp_decide_problem_t *p, double greedy)
{
    double b = INFINITY;
    if (p->explore_max_share > 0.0)
        b = p->explore_max_share * fabs(greedy);
    if (p->explore_max_cost > 0.0 && p->explore_max_cost < b)
        b = p->explore_max_cost;
    return isfinite(b) ? b : 0.0;
}

static int dec_explore(dec_ctx_t *best, jp_decide_result_t *r, char *errstr, size_t size)
{
    const jp_decide_problem_t *p = best->p;
    r->exploration_budget = dec_budget(p, r->greedy_objective);
    jp_rng_t rng;
    jp_rng_seed(&rng, p->seed);
    for (size_t k = 0; k < p->n_params; k++)
        r->sampled[k] = p->param_mean[k] + p->param_sd[k] * jp_rng_normal(&rng);
    dec_ctx_t sampled;
    jp_opt_result_t ts;
    if (dec_ctx_open(&sampled, p, r->sampled, errstr, size) != 0 ||
        dec_opt(&sampled, 0, 0.0, 0, &ts, errstr, size) != 0)
        return -1;
    if (ts.status != JP_OPT_OPTIMAL)
        return 0; /* the sampled model sees no feasible prize: stay greedy */
    r->thompson_prize = ts.prize;
    if (ts.prize == r->greedy_prize)
        return 0;
    int64_t chosen;
    jp_opt_result_t at;
    if (dec_walk(best, r, &chosen, &at, errstr, size) != 0)
        return -1;
    if (chosen == 0)
        return 0;
    /* The explored prize's figures, with the greedy solve's diagnostics and
     * the greedy prize first among the alternatives. */
    jp_opt_result_t greedy = r->opt;
    at.grid_points = greedy.grid_points;
    at.feasible_points = greedy.feasible_points;
    at.unconstrained_prize = greedy.unconstrained_prize;
    at.unconstrained_objective = greedy.unconstrained_objective;
    at.n_alternatives = 0;
    if (p->opt.n_alternatives > 0)
        at.alternatives[at.n_alternatives++] = dec_point(&greedy);
    for (size_t i = 0; i < greedy.n_alternatives && at.n_alternatives < p->opt.n_alternatives; i++)
        if (greedy.alternatives[i].prize != chosen)
            at.alternatives[at.n_alternatives++] = greedy.alternatives[i];
    r->opt = at;
    r->prize = chosen;
    r->explored = 1;
    r->exploration_cost = r->greedy_objective - at.objective;
    if (r->exploration_cost < 0.0)
        r->exploration_cost = 0.0;
    return 0;
}

void jp_decide_problem_init(jp_decide_problem_t *p)
{
    memset(p, 0, sizeof(*p));
    jp_opt_problem_init(&p->opt);
    p->horizon_draws = 1;
}

/* Checks the problem and prepares the best estimate's context. */
static int dec_start(const jp_decide_problem_t *p, jp_decide_result_t *r, dec_ctx_t *best,
                     char *errstr, size_t size)
{
    if (!p || !r) {
        jp_err_set(errstr, size, "invalid decision problem: NULL argument");
        return -1;
    }
    memset(r, 0, sizeof(*r));
    if (dec_validate(p, errstr, size) != 0)
        return -1;
    return dec_ctx_open(best, p, NULL, errstr, size);
}

int jp_decide_solve(const jp_decide_problem_t *p, jp_decide_result_t *r, char *errstr,
                    size_t errstr_size)
{
    dec_ctx_t best;
    if (dec_start(p, r, &best, errstr, errstr_size) != 0 ||
        dec_opt(&best, 0, 0.0, p->opt.n_alternatives, &r->opt, errstr, errstr_size) != 0)
        return -1;
    r->prize = r->greedy_prize = r->opt.prize;
    r->greedy_objective = r->opt.objective;
    if (p->explore && p->n_params > 0 && r->opt.status == JP_OPT_OPTIMAL &&
        dec_explore(&best, r, errstr, errstr_size) != 0)
        return -1;
    return dec_figures(&best, r, errstr, errstr_size);
}

int jp_decide_evaluate(const jp_decide_problem_t *p, double prize, jp_decide_result_t *r,
                       char *errstr, size_t errstr_size)
{
    dec_ctx_t best;
    if (dec_start(p, r, &best, errstr, errstr_size) != 0 ||
        dec_opt(&best, 1, prize, 0, &r->opt, errstr, errstr_size) != 0)
        return -1;
    r->prize = r->opt.prize;
    return dec_figures(&best, r, errstr, errstr_size);
}

long jp_decide_atoms_from_quantiles(const double *level, const double *value, size_t n,
                                    double t_min, jp_opt_mass_t *out)
{
    if (n == 0 || !isfinite(t_min) || t_min < 0.0)
        return -1;
    double prev_l = 0.0, prev_v = t_min;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(level[i]) || level[i] <= prev_l || level[i] > 1.0 || !isfinite(value[i]) ||
            value[i] < prev_v)
            return -1;
        out[k++] = (jp_opt_mass_t){0.5 * (prev_v + value[i]), level[i] - prev_l};
        prev_l = level[i];
        prev_v = value[i];
    }
    if (prev_l < 1.0)
        out[k++] = (jp_opt_mass_t){prev_v, 1.0 - prev_l};
    return (long)k;
}
