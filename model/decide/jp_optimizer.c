/*
 * jp_optimizer: choose the headline prize for one country and one decision.
 *
 * Design. The decision space is one-dimensional and small (a grid of at most
 * a few million prizes, typically 10^4), the response model is an arbitrary
 * callback and the rules are a mix of smooth ratios, caps and a probability,
 * so the solver is an exhaustive grid scan followed by a local continuous
 * refinement rather than a general NLP method:
 *
 * 1. One ascending pass over the grid calls the response once per point,
 *    evaluates every enabled rule and keeps, per point, the objective, the
 *    sales mean/sd and a bitmask of violated rules. From the masks alone we get
 *    the optimum (best point with an empty mask; ties go to the lower prize),
 *    which rules are satisfiable on their own, and for each rule the best point
 *    violating only that rule - the "relax this rule alone" test that names a
 *    rule binding even when the grid optimum sits a fraction of a step away
 *    from the rule's limit.
 * 2. Refinement: between the optimum's grid neighbours, an infeasible
 *    neighbour is replaced by the feasibility boundary (bisection), then a
 *    golden-section search maximises the continuous objective. The refined
 *    point must be feasible and no worse than the grid point, otherwise the
 *    grid point stands.
 * 3. Alternatives: greedy passes take the next best feasible grid points at
 *    least alternative_min_gap apart.
 * 4. Infeasible problems: a second pass (exact loss probabilities) ranks the
 *    grid points by number of violated rules, then by total relative
 *    violation, then by objective, and reports that best compromise.
 *
 * Payout: expectations and quantiles over the tickets-in-drawn-postcode
 * distribution are exact: it is sorted once and E[T] and the lower quantile
 * Q_q(T) are computed once; a per-ticket prize scales both linearly with
 * J*s(J). The loss probability P(net < 0) is exact over the discrete payout
 * atoms with normal sales: sum_k p_k * Phi(z_k), z_k linear in the atom's
 * tickets. Only atoms with |z| < 8.3 need erfc (beyond, Phi is 1.0 in double
 * or below 5.3e-17); they are found by binary search and summed from the
 * largest payout down. While scanning, the sum stops as soon as it or an
 * upper bound on it settles the rule (the stream of erfc calls is what a
 * 10^4-point, 200-atom solve spends half its time on). Grid points already
 * failing two other rules skip the loss rule altogether: no answer of the
 * scan depends on it there (see OPT_LOSS_UNKNOWN).
 */
#include "model/decide/jp_optimizer.h"

#include "model/base/jp_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_MS_PER_DAY  86400000LL
#define OPT_MS_52_WEEKS (364LL * OPT_MS_PER_DAY)
#define OPT_MS_LIMIT    (10000LL * 366LL * OPT_MS_PER_DAY)
#define OPT_Z95         1.6448536269514722 /* Phi^-1(0.95) */
#define OPT_Z_CUTOFF    (-8.3)             /* Phi(8.3) rounds to 1.0; Phi(-8.3) < 5.3e-17 */
#define OPT_REL_TOL     1e-9
#define OPT_ABS_TOL     1e-12

static const char *const opt_names[JP_OPT_C_COUNT] = {
    "good_causes_min_share", "prize_share_min",     "prize_share_max",  "max_single_prize",
    "draw_proceeds_cap",     "annual_proceeds_cap", "payout_ratio_min", "payout_ratio_max",
    "cash_safety_net",       "max_change_abs",      "max_change_rel",   "loss_chance",
};

/* Problem-wide quantities computed once per solve. */
typedef struct opt_ctx_s {
    const jp_opt_problem_t *p;
    jp_opt_mass_t *atoms; /* sorted by tickets ascending, normalized */
    double *cum;          /* cum[k] = sum of probs of atoms[0..k) */
    size_t n_atoms;
    double mean_t;      /* E[T] */
    double quantile_t;  /* Q_q(T) at cash_safety.quantile */
    double past_prizes; /* ledger window sums */
    double past_proceeds;
    double secondary_q;
    uint32_t enabled;
} opt_ctx_t;

/* Everything known about one prize. */
typedef struct opt_eval_s {
    double prize, mu, sd, scale, extra;
    double revenue, headline, headline_q, payout, costs, net, objective;
    double ploss; /* NaN when not computed */
    double value[JP_OPT_C_COUNT], limit[JP_OPT_C_COUNT], slack[JP_OPT_C_COUNT];
    uint32_t mask; /* violated enabled rules */
    unsigned n_violated;
    double violation; /* sum of relative violations */
} opt_eval_t;

const char *jp_opt_constraint_name(jp_opt_constraint_id_t id)
{
    return (unsigned)id < JP_OPT_C_COUNT ? opt_names[id] : "unknown";
}

size_t jp_opt_format_mask(uint32_t mask, char *buf, size_t size)
{
    size_t len = 0;
    if (size > 0)
        buf[0] = '\0';
    for (unsigned c = 0; c < JP_OPT_C_COUNT; c++) {
        if (!(mask & (1u << c)))
            continue;
        const char *sep = len ? "," : "";
        int n = snprintf(size > len ? buf + len : NULL, size > len ? size - len : 0, "%s%s", sep,
                         opt_names[c]);
        len += (size_t)n;
    }
    return len;
}

int jp_opt_utc_year(int64_t time_ms)
{
    /* days since 1970-01-01, floored, then Hinnant's civil_from_days */
    int64_t days = time_ms / OPT_MS_PER_DAY;
    if (time_ms % OPT_MS_PER_DAY < 0)
        days--;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    return (int)(yoe + era * 400 + (month <= 2));
}

void jp_opt_problem_init(jp_opt_problem_t *p)
{
    memset(p, 0, sizeof(*p));
    p->prize_kind = JP_OPT_PRIZE_PER_TICKET;
    p->secondary_prizes_quantile = -1;
    p->rules.cash_safety.quantile = 0.99;
    p->rules.payout_ratio.window = JP_OPT_WINDOW_ROLLING_52W;
    p->n_alternatives = 3;
}

/* ---------------------------------------------------------------- checks */

static int opt_fraction_ok(double x)
{
    return isfinite(x) && x >= 0.0 && x <= 1.0;
}

static int opt_validate(const jp_opt_problem_t *p, char *errstr, size_t size)
{
    const jp_opt_rules_t *u = &p->rules;
#define OPT_REQUIRE(cond, msg)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            jp_err_set(errstr, size, "invalid optimizer problem: %s", msg);                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    OPT_REQUIRE(p->response != NULL || p->outcome != NULL, "response callback is NULL");
    OPT_REQUIRE(p->prize_step > 0, "prize_step must be > 0");
    OPT_REQUIRE(p->prize_min > 0, "prize_min must be > 0");
    OPT_REQUIRE(p->prize_max >= p->prize_min, "prize_max < prize_min");
    OPT_REQUIRE((p->prize_max - p->prize_min) / p->prize_step < JP_OPT_MAX_GRID,
                "grid has more than JP_OPT_MAX_GRID points");
    OPT_REQUIRE(p->prize_kind == JP_OPT_PRIZE_PER_TICKET || p->prize_kind == JP_OPT_PRIZE_SHARED,
                "unknown prize_kind");
    OPT_REQUIRE(p->ticket_price > 0, "ticket_price must be > 0");
    if (p->prize_kind == JP_OPT_PRIZE_PER_TICKET) {
        OPT_REQUIRE(p->tickets_in_postcode && p->n_tickets_in_postcode > 0,
                    "a per-ticket prize needs the tickets-in-postcode distribution");
        double sum = 0.0;
        for (size_t i = 0; i < p->n_tickets_in_postcode; i++) {
            const jp_opt_mass_t *m = &p->tickets_in_postcode[i];
            OPT_REQUIRE(isfinite(m->tickets) && m->tickets >= 0.0,
                        "tickets_in_postcode value must be finite and >= 0");
            OPT_REQUIRE(isfinite(m->prob) && m->prob >= 0.0,
                        "tickets_in_postcode probability must be finite and >= 0");
            sum += m->prob;
        }
        OPT_REQUIRE(fabs(sum - 1.0) <= 1e-6, "tickets_in_postcode probabilities must sum to 1");
    }
    OPT_REQUIRE(isfinite(p->baseline_tickets) && p->baseline_tickets >= 0.0,
                "baseline_tickets must be finite and >= 0");
    OPT_REQUIRE(p->secondary_prizes_expected >= 0, "secondary_prizes_expected must be >= 0");
    OPT_REQUIRE(p->fixed_costs >= 0, "fixed_costs must be >= 0");
    OPT_REQUIRE(isfinite(p->variable_cost_share) && p->variable_cost_share >= 0.0 &&
                    p->variable_cost_share < 1.0,
                "variable_cost_share must be in [0, 1)");
    OPT_REQUIRE(p->n_alternatives <= JP_OPT_MAX_ALTERNATIVES, "n_alternatives too large");
    OPT_REQUIRE(p->alternative_min_gap >= 0, "alternative_min_gap must be >= 0");
    /* +-10,000 years keeps every window computation far from int64 overflow */
    OPT_REQUIRE(p->decision_time_ms > -OPT_MS_LIMIT && p->decision_time_ms < OPT_MS_LIMIT,
                "decision_time_ms out of range");
    OPT_REQUIRE(p->n_ledger == 0 || p->ledger != NULL, "ledger is NULL");
    for (size_t i = 0; i < p->n_ledger; i++)
        OPT_REQUIRE(p->ledger[i].proceeds >= 0 && p->ledger[i].prizes_paid >= 0,
                    "ledger amounts must be >= 0");
    if (u->good_causes.on)
        OPT_REQUIRE(opt_fraction_ok(u->good_causes.min_share),
                    "good_causes.min_share must be in [0, 1]");
    if (u->prize_share.on_min)
        OPT_REQUIRE(isfinite(u->prize_share.min) && u->prize_share.min >= 0.0,
                    "prize_share.min must be >= 0");
    if (u->prize_share.on_max)
        OPT_REQUIRE(isfinite(u->prize_share.max) && u->prize_share.max >= 0.0,
                    "prize_share.max must be >= 0");
    if (u->single_prize.mode != JP_OPT_CAP_NONE) {
        OPT_REQUIRE(u->single_prize.mode <= JP_OPT_CAP_MIN_ABS_REL, "unknown single_prize.mode");
        OPT_REQUIRE(u->single_prize.abs >= 0, "single_prize.abs must be >= 0");
        OPT_REQUIRE(isfinite(u->single_prize.rel) && u->single_prize.rel >= 0.0,
                    "single_prize.rel must be >= 0");
    }
    if (u->payout_ratio.on_min || u->payout_ratio.on_max) {
        OPT_REQUIRE(u->payout_ratio.window == JP_OPT_WINDOW_ROLLING_52W ||
                        u->payout_ratio.window == JP_OPT_WINDOW_CALENDAR_YEAR,
                    "unknown payout_ratio.window");
        OPT_REQUIRE(isfinite(u->payout_ratio.min) && isfinite(u->payout_ratio.max),
                    "payout_ratio limits must be finite");
    }
    if (u->cash_safety.on)
        OPT_REQUIRE(isfinite(u->cash_safety.quantile) && u->cash_safety.quantile > 0.0 &&
                        u->cash_safety.quantile < 1.0,
                    "cash_safety.quantile must be in (0, 1)");
    if (u->max_change.on_abs || u->max_change.on_rel) {
        OPT_REQUIRE(p->has_previous_prize && p->previous_prize > 0,
                    "max_change needs a previous_prize > 0");
        OPT_REQUIRE(u->max_change.abs >= 0, "max_change.abs must be >= 0");
        OPT_REQUIRE(isfinite(u->max_change.rel) && u->max_change.rel >= 0.0,
                    "max_change.rel must be >= 0");
    }
    if (u->loss_chance.on)
        OPT_REQUIRE(opt_fraction_ok(u->loss_chance.epsilon),
                    "loss_chance.epsilon must be in [0, 1]");
#undef OPT_REQUIRE
    return 0;
}

/* ---------------------------------------------------------- precomputation */

static int opt_atom_cmp(const void *a, const void *b)
{
    const jp_opt_mass_t *x = a, *y = b;
    if (x->tickets != y->tickets)
        return x->tickets < y->tickets ? -1 : 1;
    return (x->prob > y->prob) - (x->prob < y->prob);
}

static uint32_t opt_enabled_mask(const jp_opt_problem_t *p)
{
    const jp_opt_rules_t *u = &p->rules;
    uint32_t m = 0;
    m |= (uint32_t)(u->good_causes.on != 0) << JP_OPT_C_GOOD_CAUSES;
    m |= (uint32_t)(u->prize_share.on_min != 0) << JP_OPT_C_PRIZE_SHARE_MIN;
    m |= (uint32_t)(u->prize_share.on_max != 0) << JP_OPT_C_PRIZE_SHARE_MAX;
    m |= (uint32_t)(u->single_prize.mode != JP_OPT_CAP_NONE) << JP_OPT_C_SINGLE_PRIZE;
    m |= (uint32_t)(u->draw_proceeds.on != 0) << JP_OPT_C_DRAW_PROCEEDS;
    m |= (uint32_t)(u->annual_proceeds.on != 0) << JP_OPT_C_ANNUAL_PROCEEDS;
    m |= (uint32_t)(u->payout_ratio.on_min != 0) << JP_OPT_C_PAYOUT_RATIO_MIN;
    m |= (uint32_t)(u->payout_ratio.on_max != 0) << JP_OPT_C_PAYOUT_RATIO_MAX;
    m |= (uint32_t)(u->cash_safety.on != 0) << JP_OPT_C_CASH_SAFETY;
    m |= (uint32_t)(u->max_change.on_abs != 0) << JP_OPT_C_CHANGE_ABS;
    m |= (uint32_t)(u->max_change.on_rel != 0) << JP_OPT_C_CHANGE_REL;
    m |= (uint32_t)(u->loss_chance.on != 0) << JP_OPT_C_LOSS_CHANCE;
    return m;
}

static int opt_in_window(const jp_opt_problem_t *p, int64_t t)
{
    int64_t now = p->decision_time_ms;
    if (t >= now)
        return 0; /* not a past draw */
    if (p->rules.payout_ratio.window == JP_OPT_WINDOW_CALENDAR_YEAR)
        return jp_opt_utc_year(t) == jp_opt_utc_year(now);
    return t > now - OPT_MS_52_WEEKS;
}

int jp_opt_ledger_counts(const jp_opt_problem_t *p, int64_t t_ms)
{
    return opt_in_window(p, t_ms);
}

static int opt_prepare(opt_ctx_t *c, const jp_opt_problem_t *p, char *errstr, size_t size)
{
    memset(c, 0, sizeof(*c));
    c->p = p;
    c->enabled = opt_enabled_mask(p);
    c->mean_t = 1.0;
    c->quantile_t = 1.0;
    if (p->prize_kind == JP_OPT_PRIZE_PER_TICKET) {
        c->n_atoms = p->n_tickets_in_postcode;
        c->atoms = malloc(c->n_atoms * sizeof(*c->atoms));
        if (!c->atoms) {
            jp_err_set(errstr, size, "optimizer: out of memory");
            return -1;
        }
        memcpy(c->atoms, p->tickets_in_postcode, c->n_atoms * sizeof(*c->atoms));
        qsort(c->atoms, c->n_atoms, sizeof(*c->atoms), opt_atom_cmp);
        double sum = 0.0;
        for (size_t i = 0; i < c->n_atoms; i++)
            sum += c->atoms[i].prob;
        c->cum = malloc((c->n_atoms + 1) * sizeof(*c->cum));
        if (!c->cum) {
            jp_err_set(errstr, size, "optimizer: out of memory");
            return -1;
        }
        double mean = 0.0, cum = 0.0;
        double q = p->rules.cash_safety.quantile > 0.0 ? p->rules.cash_safety.quantile : 0.99;
        int have_q = 0;
        for (size_t i = 0; i < c->n_atoms; i++) {
            c->atoms[i].prob /= sum;
            mean += c->atoms[i].prob * c->atoms[i].tickets;
            c->cum[i] = cum;
            cum += c->atoms[i].prob;
            /* lower quantile inf{t : F(t) >= q}, F compared with 1e-12 slack */
            if (!have_q && cum >= q - 1e-12) {
                c->quantile_t = c->atoms[i].tickets;
                have_q = 1;
            }
        }
        if (!have_q)
            c->quantile_t = c->atoms[c->n_atoms - 1].tickets;
        c->cum[c->n_atoms] = cum;
        c->mean_t = mean;
    }
    for (size_t i = 0; i < p->n_ledger; i++) {
        if (!opt_in_window(p, p->ledger[i].draw_time_ms))
            continue;
        c->past_prizes += (double)p->ledger[i].prizes_paid;
        c->past_proceeds += (double)p->ledger[i].proceeds;
    }
    c->secondary_q = p->secondary_prizes_quantile >= 0 ? (double)p->secondary_prizes_quantile
                                                       : (double)p->secondary_prizes_expected;
    return 0;
}

/* ------------------------------------------------------------- evaluation */

static double opt_phi(double z)
{
    return 0.5 * erfc(-z * M_SQRT1_2);
}

/* num/den where den may be 0: the sign of num decides, so an empty
 * denominator fails lower bounds and passes upper bounds only when num <= 0. */
static double opt_ratio(double num, double den)
{
    if (den > 0.0)
        return num / den;
    return num > 0.0 ? INFINITY : (num < 0.0 ? -INFINITY : 0.0);
}

/* First atom index in [0, n] with slope*t + icpt > bound (t ascending, slope >= 0). */
static size_t opt_atom_search(const opt_ctx_t *c, double slope, double icpt, double bound)
{
    size_t lo = 0, hi = c->n_atoms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (slope * c->atoms[mid].tickets + icpt > bound)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* P(net < 0) = sum_k p_k Phi(z_k). Atoms with z > 8.3 count as Phi = 1 and
 * atoms with z < -8.3 as 0 (error < 5.3e-17 each); only the band between is
 * summed, from the top. When only deciding a limit (exact == 0) the sum stops
 * once it exceeds `above`, or once the remaining atoms (all with smaller
 * Phi than the last one summed) cannot lift it above `below`; the value
 * returned then lies on the same side of the limit as the exact one. */
static double opt_loss_prob(const opt_ctx_t *c, const opt_eval_t *e, int exact, double above,
                            double below)
{
    const jp_opt_problem_t *p = c->p;
    double unit = (double)p->ticket_price * (1.0 - p->variable_cost_share);
    double base = (double)p->secondary_prizes_expected + (double)p->fixed_costs;
    if (p->prize_kind == JP_OPT_PRIZE_SHARED) {
        double thr = (e->prize + base) / unit;
        if (e->sd > 0.0)
            return opt_phi((thr - e->mu) / e->sd);
        return thr > e->mu ? 1.0 : 0.0;
    }
    double scale = e->prize * e->scale;
    /* z_k = (thr_k - mu)/sd with thr_k = (scale*t_k + base)/unit: linear in t_k */
    double slope = 0.0, icpt = 0.0;
    int step = !(e->sd > 0.0);
    if (!step) {
        slope = scale / (unit * e->sd);
        icpt = (base / unit - e->mu) / e->sd;
        step = !isfinite(slope) || !isfinite(icpt);
    }
    if (step) {
        /* sales (numerically) known: a loss iff the atom's threshold exceeds mu */
        size_t k = opt_atom_search(c, scale / unit, base / unit, e->mu);
        return c->cum[c->n_atoms] - c->cum[k];
    }
    size_t top = opt_atom_search(c, slope, icpt, -OPT_Z_CUTOFF);
    size_t bottom = opt_atom_search(c, slope, icpt, OPT_Z_CUTOFF);
    double acc = c->cum[c->n_atoms] - c->cum[top];
    for (size_t k = top; k-- > bottom;) {
        double ph = opt_phi(slope * c->atoms[k].tickets + icpt);
        acc += c->atoms[k].prob * ph;
        /* atoms below k have Phi <= ph: acc + ph*cum[k] bounds the total */
        if (!exact && (acc > above || acc + ph * c->cum[k] <= below))
            break;
    }
    return acc < 1.0 ? acc : 1.0;
}

/* Feasibility (and "slack ~ 0") tolerance: relative to the limit, so that a
 * limit met exactly on a grid point survives rounding whatever its unit. */
static double opt_tol(double limit)
{
    return OPT_REL_TOL * fabs(limit) + OPT_ABS_TOL;
}

static void opt_set(opt_eval_t *e, uint32_t enabled, int c, double value, double limit, int upper)
{
    e->value[c] = value;
    if (!(enabled & (1u << c))) {
        e->limit[c] = NAN;
        e->slack[c] = NAN;
        return;
    }
    double slack = upper ? limit - value : value - limit;
    double scale = fabs(limit) > 0.0 ? fabs(limit) : 1.0;
    double tol = opt_tol(limit);
    e->limit[c] = limit;
    e->slack[c] = slack;
    if (!(slack >= -tol)) {
        e->mask |= 1u << c;
        e->n_violated++;
        e->violation += -slack / scale;
    }
}

/* How much of the loss rule to compute. */
typedef enum opt_mode_e {
    OPT_DECIDE = 0, /* only decide P(loss) <= epsilon */
    OPT_EXACT = 1,  /* compute P(loss) fully (reported points) */
    OPT_SCAN = 2    /* as DECIDE, but skip it when >= 2 other rules already fail */
} opt_mode_t;

/* Mask bit of a grid point whose loss rule was skipped by OPT_SCAN. Such a
 * point violates two other rules, so it is neither feasible nor a "violates
 * only rule c" point, and its loss bit changes nothing the scan decides
 * except whether the loss rule alone is satisfiable (checked afterwards). */
#define OPT_LOSS_UNKNOWN (1u << 31)

/* What the callbacks said about one prize. */
typedef struct opt_answer_s {
    double mu, sd, scale, extra;
} opt_answer_t;

/* Evaluates prize J with the callbacks' answer a. */
static void opt_eval(const opt_ctx_t *c, double prize, const opt_answer_t *a, opt_mode_t mode,
                     opt_eval_t *e)
{
    const jp_opt_problem_t *p = c->p;
    const jp_opt_rules_t *u = &p->rules;
    uint32_t en = c->enabled;
    e->prize = prize;
    e->mu = a->mu;
    e->sd = a->sd;
    e->scale = a->scale;
    e->extra = a->extra;
    e->mask = 0;
    e->n_violated = 0;
    e->violation = 0.0;
    double price = (double)p->ticket_price;
    double secondary = (double)p->secondary_prizes_expected;
    e->revenue = price * e->mu;
    if (p->prize_kind == JP_OPT_PRIZE_SHARED) {
        e->headline = prize;
        e->headline_q = prize;
    } else {
        e->headline = prize * e->scale * c->mean_t;
        e->headline_q = prize * e->scale * c->quantile_t;
    }
    e->payout = e->headline + secondary;
    e->costs = (double)p->fixed_costs + p->variable_cost_share * e->revenue;
    e->net = e->revenue - e->payout - e->costs;
    e->objective = e->net + e->extra;
    if (p->objective_after_good_causes && u->good_causes.on)
        e->objective -= u->good_causes.min_share * e->revenue;

    opt_set(e, en, JP_OPT_C_GOOD_CAUSES, opt_ratio(e->net, e->revenue), u->good_causes.min_share,
            0);
    double share = opt_ratio(e->payout, e->revenue);
    opt_set(e, en, JP_OPT_C_PRIZE_SHARE_MIN, share, u->prize_share.min, 0);
    opt_set(e, en, JP_OPT_C_PRIZE_SHARE_MAX, share, u->prize_share.max, 1);

    double abs_cap = (double)u->single_prize.abs, rel_cap = u->single_prize.rel * e->revenue;
    double cap = NAN;
    switch (u->single_prize.mode) {
    case JP_OPT_CAP_ABS:
        cap = abs_cap;
        break;
    case JP_OPT_CAP_REL:
        cap = rel_cap;
        break;
    case JP_OPT_CAP_MAX_ABS_REL:
        cap = abs_cap > rel_cap ? abs_cap : rel_cap;
        break;
    case JP_OPT_CAP_MIN_ABS_REL:
        cap = abs_cap < rel_cap ? abs_cap : rel_cap;
        break;
    case JP_OPT_CAP_NONE:
        break;
    }
    opt_set(e, en, JP_OPT_C_SINGLE_PRIZE, prize, cap, 1);
    opt_set(e, en, JP_OPT_C_DRAW_PROCEEDS, e->revenue, (double)u->draw_proceeds.cap, 1);
    opt_set(e, en, JP_OPT_C_ANNUAL_PROCEEDS, (double)p->proceeds_year_to_date + e->revenue,
            (double)u->annual_proceeds.cap, 1);
    double ratio = opt_ratio(c->past_prizes + e->payout, c->past_proceeds + e->revenue);
    opt_set(e, en, JP_OPT_C_PAYOUT_RATIO_MIN, ratio, u->payout_ratio.min, 0);
    opt_set(e, en, JP_OPT_C_PAYOUT_RATIO_MAX, ratio, u->payout_ratio.max, 1);
    opt_set(e, en, JP_OPT_C_CASH_SAFETY, e->headline_q + c->secondary_q,
            (double)p->available_cash - (double)u->cash_safety.margin, 1);
    double change = p->has_previous_prize ? fabs(prize - (double)p->previous_prize) : NAN;
    opt_set(e, en, JP_OPT_C_CHANGE_ABS, change, (double)u->max_change.abs, 1);
    double rel_change =
        p->has_previous_prize && p->previous_prize > 0 ? change / (double)p->previous_prize : NAN;
    opt_set(e, en, JP_OPT_C_CHANGE_REL, rel_change, u->max_change.rel, 1);

    e->ploss = NAN;
    if (mode == OPT_SCAN && u->loss_chance.on && e->n_violated >= 2) {
        e->value[JP_OPT_C_LOSS_CHANCE] = NAN;
        e->limit[JP_OPT_C_LOSS_CHANCE] = u->loss_chance.epsilon;
        e->slack[JP_OPT_C_LOSS_CHANCE] = NAN;
        e->mask |= OPT_LOSS_UNKNOWN;
        return;
    }
    int exact = mode == OPT_EXACT;
    if (exact || u->loss_chance.on) {
        /* when deciding, bounds beyond the tolerance settle the limit */
        double eps = u->loss_chance.epsilon;
        e->ploss = opt_loss_prob(c, e, exact, eps + 2.0 * opt_tol(eps), eps);
    }
    opt_set(e, en, JP_OPT_C_LOSS_CHANCE, e->ploss, u->loss_chance.epsilon, 1);
}

/* Asks the outcome (or response) callback about one prize. -1 (with
 * errstr) when it fails or answers out of range. */
static int opt_ask(const jp_opt_problem_t *p, double prize, opt_answer_t *a, char *errstr,
                   size_t size)
{
    int rc;
    if (p->outcome) {
        jp_opt_outcome_t o = {NAN, NAN, NAN, NAN};
        rc = p->outcome(p->outcome_ctx, prize, &o);
        *a = (opt_answer_t){o.mean_tickets, o.sd_tickets, o.payout_scale, o.extra_objective};
    } else {
        a->mu = a->sd = NAN;
        rc = p->response(p->response_ctx, prize, &a->mu, &a->sd);
        a->scale = p->baseline_tickets > 0.0 ? a->mu / p->baseline_tickets : 1.0;
        a->extra = 0.0;
    }
    if (rc != 0) {
        jp_err_set(errstr, size, "optimizer: response callback failed at prize %.17g", prize);
        return -1;
    }
    if (!isfinite(a->mu) || !isfinite(a->sd) || a->mu < 0.0 || a->sd < 0.0) {
        jp_err_set(errstr, size,
                   "optimizer: response at prize %.17g gave mean %.17g sd %.17g (need finite >= 0)",
                   prize, a->mu, a->sd);
        return -1;
    }
    if (p->outcome && (!isfinite(a->scale) || a->scale <= 0.0 || !isfinite(a->extra))) {
        jp_err_set(errstr, size,
                   "optimizer: outcome at prize %.17g gave payout scale %.17g extra %.17g "
                   "(need a finite scale > 0 and a finite extra)",
                   prize, a->scale, a->extra);
        return -1;
    }
    return 0;
}

/* Calls the callbacks and evaluates. Returns -1 (with errstr) on a bad answer. */
static int opt_eval_at(const opt_ctx_t *c, double prize, opt_mode_t mode, opt_eval_t *e,
                       char *errstr, size_t size)
{
    opt_answer_t a;
    if (opt_ask(c->p, prize, &a, errstr, size) != 0)
        return -1;
    opt_eval(c, prize, &a, mode, e);
    return 0;
}

/* -------------------------------------------------------------- refinement */

/* Moves from a feasible prize `good` towards an infeasible `bad` and returns
 * the last feasible prize found (feasibility boundary, by bisection). */
static int opt_boundary(const opt_ctx_t *c, double good, double bad, double *out, char *errstr,
                        size_t size)
{
    opt_eval_t e;
    for (int it = 0; it < 80; it++) {
        double mid = 0.5 * (good + bad);
        if (mid == good || mid == bad)
            break;
        if (opt_eval_at(c, mid, OPT_DECIDE, &e, errstr, size) != 0)
            return -1;
        if (e.mask == 0)
            good = mid;
        else
            bad = mid;
    }
    *out = good;
    return 0;
}

/* Golden-section maximisation of the objective on [a, b]; *x gets the best
 * feasible point among the search's final point and both ends. */
static int opt_golden(const opt_ctx_t *c, double a, double b, double *x, double *fx, char *errstr,
                      size_t size)
{
    const double g = 0.6180339887498949;
    opt_eval_t e;
    double best_x = NAN, best_f = -INFINITY;
    if (b > a) {
        double x1 = b - g * (b - a), x2 = a + g * (b - a), f1, f2;
        if (opt_eval_at(c, x1, OPT_DECIDE, &e, errstr, size) != 0)
            return -1;
        f1 = e.objective;
        if (opt_eval_at(c, x2, OPT_DECIDE, &e, errstr, size) != 0)
            return -1;
        f2 = e.objective;
        for (int it = 0; it < 200 && b - a > 1e-13 * fabs(b); it++) {
            if (f1 >= f2) {
                b = x2;
                x2 = x1;
                f2 = f1;
                x1 = b - g * (b - a);
                if (opt_eval_at(c, x1, OPT_DECIDE, &e, errstr, size) != 0)
                    return -1;
                f1 = e.objective;
            } else {
                a = x1;
                x1 = x2;
                f1 = f2;
                x2 = a + g * (b - a);
                if (opt_eval_at(c, x2, OPT_DECIDE, &e, errstr, size) != 0)
                    return -1;
                f2 = e.objective;
            }
        }
    }
    double cand[3] = {0.5 * (a + b), a, b};
    for (int i = 0; i < 3; i++) {
        if (opt_eval_at(c, cand[i], OPT_DECIDE, &e, errstr, size) != 0)
            return -1;
        if (e.mask == 0 && e.objective > best_f) {
            best_f = e.objective;
            best_x = cand[i];
        }
    }
    *x = best_x;
    *fx = best_f;
    return 0;
}

/* ------------------------------------------------------------------ solve */

typedef struct opt_grid_s {
    size_t n;
    opt_answer_t *ans; /* the callbacks' answer per grid point */
    double *obj;
    uint32_t *mask;
} opt_grid_t;

static double opt_grid_prize(const jp_opt_problem_t *p, size_t i)
{
    return (double)(p->prize_min + (int64_t)i * p->prize_step);
}

static void opt_fill_report(const opt_ctx_t *c, const opt_eval_t *e, jp_opt_result_t *r)
{
    const jp_opt_problem_t *p = c->p;
    double price = (double)p->ticket_price;
    r->prize = (int64_t)e->prize;
    r->objective = e->objective;
    r->expected_net_revenue = e->net;
    r->expected_tickets = e->mu;
    r->tickets_p05 = e->mu - OPT_Z95 * e->sd > 0.0 ? e->mu - OPT_Z95 * e->sd : 0.0;
    r->tickets_p95 = e->mu + OPT_Z95 * e->sd;
    r->expected_revenue = e->revenue;
    r->revenue_p05 = price * r->tickets_p05;
    r->revenue_p95 = price * r->tickets_p95;
    r->expected_headline_payout = e->headline;
    r->headline_payout_quantile = e->headline_q;
    r->expected_total_payout = e->payout;
    r->expected_costs = e->costs;
    double den = c->past_proceeds + e->revenue;
    r->payout_ratio_after = den > 0.0 ? (c->past_prizes + e->payout) / den : NAN;
    r->loss_probability = e->ploss;
    r->extra_objective = e->extra;
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        jp_opt_constraint_t *ct = &r->constraints[k];
        ct->value = e->value[k];
        ct->limit = e->limit[k];
        ct->slack = e->slack[k];
        ct->violated = (e->mask >> k) & 1u;
    }
    r->violated_mask = e->mask;
}

static void opt_alternatives(const jp_opt_problem_t *p, const opt_ctx_t *c, const opt_grid_t *g,
                             size_t opt_i, jp_opt_result_t *r)
{
    size_t chosen[JP_OPT_MAX_ALTERNATIVES + 1];
    size_t n_chosen = 0;
    chosen[n_chosen++] = opt_i;
    int64_t gap = p->alternative_min_gap > 0 ? p->alternative_min_gap : 1;
    while (r->n_alternatives < p->n_alternatives) {
        size_t best = g->n;
        for (size_t i = 0; i < g->n; i++) {
            if (g->mask[i] != 0)
                continue;
            int64_t prize = (int64_t)opt_grid_prize(p, i);
            int near = 0;
            for (size_t k = 0; k < n_chosen && !near; k++) {
                int64_t d = prize - (int64_t)opt_grid_prize(p, chosen[k]);
                near = (d < 0 ? -d : d) < gap;
            }
            if (near)
                continue;
            if (best == g->n || g->obj[i] > g->obj[best])
                best = i; /* ascending scan: ties keep the lower prize */
        }
        if (best == g->n)
            break;
        chosen[n_chosen++] = best;
        opt_eval_t e;
        opt_eval(c, opt_grid_prize(p, best), &g->ans[best], OPT_DECIDE, &e);
        jp_opt_point_t *pt = &r->alternatives[r->n_alternatives++];
        pt->prize = (int64_t)e.prize;
        pt->objective = e.objective;
        pt->expected_net_revenue = e.net;
        pt->expected_tickets = e.mu;
        pt->expected_payout = e.payout;
    }
}

static int opt_refine(const jp_opt_problem_t *p, const opt_ctx_t *c, const opt_grid_t *g, size_t i,
                      jp_opt_result_t *r, char *errstr, size_t size)
{
    double prize = opt_grid_prize(p, i);
    double lo = prize, hi = prize;
    if (i > 0) {
        double left = opt_grid_prize(p, i - 1);
        if (g->mask[i - 1] == 0)
            lo = left;
        else if (opt_boundary(c, prize, left, &lo, errstr, size) != 0)
            return -1;
    }
    if (i + 1 < g->n) {
        double right = opt_grid_prize(p, i + 1);
        if (g->mask[i + 1] == 0)
            hi = right;
        else if (opt_boundary(c, prize, right, &hi, errstr, size) != 0)
            return -1;
    }
    r->prize_refined = prize;
    r->objective_refined = g->obj[i];
    double x, fx;
    if (opt_golden(c, lo, hi, &x, &fx, errstr, size) != 0)
        return -1;
    if (fx > r->objective_refined) {
        r->prize_refined = x;
        r->objective_refined = fx;
    }
    return 0;
}

/* The best compromise of an infeasible grid; leaves each point's exact
 * violation mask in g->mask. */
static size_t opt_compromise(const jp_opt_problem_t *p, const opt_ctx_t *c, const opt_grid_t *g)
{
    size_t best = 0;
    opt_eval_t be, e;
    memset(&be, 0, sizeof(be));
    for (size_t i = 0; i < g->n; i++) {
        opt_eval(c, opt_grid_prize(p, i), &g->ans[i], OPT_EXACT, &e);
        g->mask[i] = e.mask;
        int better = i == 0 || e.n_violated < be.n_violated ||
                     (e.n_violated == be.n_violated &&
                      (e.violation < be.violation ||
                       (e.violation == be.violation && e.objective > be.objective)));
        if (better) {
            best = i;
            be = e;
        }
    }
    return best;
}

/* The rules that cannot all hold: every rule no grid point satisfies on its
 * own, or else a minimal set that no grid point satisfies together
 * (deletion filter: a rule leaves the set when the others still have no
 * common point; what remains needs every member). */
static uint32_t opt_conflict(const uint32_t *mask, size_t n, uint32_t enabled)
{
    uint32_t alone = 0;
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        uint32_t bit = 1u << k;
        int satisfiable = !(enabled & bit);
        for (size_t i = 0; i < n && !satisfiable; i++)
            satisfiable = !(mask[i] & bit);
        if (!satisfiable)
            alone |= bit;
    }
    if (alone)
        return alone;
    uint32_t set = enabled;
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        uint32_t rest = set & ~(1u << k);
        if (rest == set)
            continue;
        int satisfiable = 0;
        for (size_t i = 0; i < n && !satisfiable; i++)
            satisfiable = (mask[i] & rest) == 0;
        if (!satisfiable)
            set = rest;
    }
    return set;
}

static void opt_constraint_names(const opt_ctx_t *c, jp_opt_result_t *r)
{
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        r->constraints[k].name = opt_names[k];
        r->constraints[k].enabled = (c->enabled >> k) & 1u;
    }
}

/* The checks both entry points start with; clears *r. */
static int opt_start(const jp_opt_problem_t *p, jp_opt_result_t *r, char *errstr, size_t size)
{
    if (!p || !r) {
        jp_err_set(errstr, size, "invalid optimizer problem: NULL argument");
        return -1;
    }
    memset(r, 0, sizeof(*r));
    return opt_validate(p, errstr, size);
}

int jp_opt_evaluate(const jp_opt_problem_t *p, double prize, jp_opt_result_t *r, char *errstr,
                    size_t errstr_size)
{
    if (opt_start(p, r, errstr, errstr_size) != 0)
        return -1;
    if (!isfinite(prize) || prize <= 0.0) {
        jp_err_set(errstr, errstr_size, "invalid prize %.17g (need finite > 0)", prize);
        return -1;
    }
    opt_ctx_t c;
    int rc = -1;
    opt_eval_t e;
    if (opt_prepare(&c, p, errstr, errstr_size) != 0 ||
        opt_eval_at(&c, prize, OPT_EXACT, &e, errstr, errstr_size) != 0)
        goto done;
    opt_fill_report(&c, &e, r);
    r->prize = (int64_t)llround(prize);
    r->prize_refined = prize;
    r->objective_refined = e.objective;
    r->status = e.mask ? JP_OPT_INFEASIBLE : JP_OPT_OPTIMAL;
    opt_constraint_names(&c, r);
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        jp_opt_constraint_t *ct = &r->constraints[k];
        ct->binding = ct->enabled && fabs(ct->slack) <= opt_tol(ct->limit);
        if (ct->binding)
            r->binding_mask |= 1u << k;
    }
    rc = 0;
done:
    free(c.atoms);
    free(c.cum);
    return rc;
}

int jp_opt_solve(const jp_opt_problem_t *p, jp_opt_result_t *r, char *errstr, size_t errstr_size)
{
    if (opt_start(p, r, errstr, errstr_size) != 0)
        return -1;
    int rc = -1;
    opt_ctx_t c;
    opt_grid_t g = {0};
    if (opt_prepare(&c, p, errstr, errstr_size) != 0)
        goto done;
    g.n = (size_t)((p->prize_max - p->prize_min) / p->prize_step) + 1;
    g.ans = malloc(g.n * sizeof(*g.ans));
    g.obj = malloc(g.n * sizeof(double));
    g.mask = malloc(g.n * sizeof(uint32_t));
    if (!g.ans || !g.obj || !g.mask) {
        jp_err_set(errstr, errstr_size, "optimizer: out of memory");
        goto done;
    }

    size_t opt_i = g.n, unc_i = 0;
    size_t relax_i[JP_OPT_C_COUNT];
    uint32_t satisfied = 0;
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++)
        relax_i[k] = g.n;
    for (size_t i = 0; i < g.n; i++) {
        opt_eval_t e;
        if (opt_eval_at(&c, opt_grid_prize(p, i), OPT_SCAN, &e, errstr, errstr_size) != 0)
            goto done;
        g.ans[i] = (opt_answer_t){e.mu, e.sd, e.scale, e.extra};
        g.obj[i] = e.objective;
        g.mask[i] = e.mask;
        /* a skipped loss rule is not known to be satisfied here */
        satisfied |= ~e.mask & ~(e.mask & OPT_LOSS_UNKNOWN ? 1u << JP_OPT_C_LOSS_CHANCE : 0u);
        /* strict '>' in an ascending scan: ties keep the lower prize */
        if (e.objective > g.obj[unc_i])
            unc_i = i;
        if (e.mask == 0) {
            r->feasible_points++;
            if (opt_i == g.n || e.objective > g.obj[opt_i])
                opt_i = i;
        } else if ((e.mask & (e.mask - 1)) == 0) {
            unsigned k = (unsigned)__builtin_ctz(e.mask);
            if (relax_i[k] == g.n || e.objective > g.obj[relax_i[k]])
                relax_i[k] = i;
        }
    }

    uint32_t loss_bit = 1u << JP_OPT_C_LOSS_CHANCE;
    for (size_t i = 0; i < g.n && (c.enabled & loss_bit) && !(satisfied & loss_bit); i++) {
        if (!(g.mask[i] & OPT_LOSS_UNKNOWN))
            continue;
        opt_eval_t e;
        opt_eval(&c, opt_grid_prize(p, i), &g.ans[i], OPT_DECIDE, &e);
        if (!(e.mask & loss_bit))
            satisfied |= loss_bit;
    }
    opt_eval_t ue;
    opt_eval(&c, opt_grid_prize(p, unc_i), &g.ans[unc_i], OPT_DECIDE, &ue);

    r->grid_points = g.n;
    r->unconstrained_prize = (int64_t)opt_grid_prize(p, unc_i);
    r->unconstrained_objective = g.obj[unc_i];
    opt_constraint_names(&c, r);
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        jp_opt_constraint_t *ct = &r->constraints[k];
        ct->violated_unconstrained = (ue.mask >> k) & 1u;
        ct->alone_satisfiable = !ct->enabled || ((satisfied >> k) & 1u);
    }

    opt_eval_t e;
    if (opt_i == g.n) {
        r->status = JP_OPT_INFEASIBLE;
        size_t i = opt_compromise(p, &c, &g);
        opt_eval(&c, opt_grid_prize(p, i), &g.ans[i], OPT_EXACT, &e);
        opt_fill_report(&c, &e, r);
        r->prize_refined = e.prize;
        r->objective_refined = e.objective;
        r->conflict_mask = opt_conflict(g.mask, g.n, c.enabled);
        rc = 0;
        goto done;
    }

    r->status = JP_OPT_OPTIMAL;
    opt_eval(&c, opt_grid_prize(p, opt_i), &g.ans[opt_i], OPT_EXACT, &e);
    opt_fill_report(&c, &e, r);
    for (unsigned k = 0; k < JP_OPT_C_COUNT; k++) {
        jp_opt_constraint_t *ct = &r->constraints[k];
        if (!ct->enabled)
            continue;
        int tight = fabs(ct->slack) <= opt_tol(ct->limit);
        /* relaxing this rule alone admits a strictly better grid point */
        int relax_gains = relax_i[k] != g.n && g.obj[relax_i[k]] > g.obj[opt_i];
        ct->binding = tight || relax_gains;
        if (ct->binding)
            r->binding_mask |= 1u << k;
    }
    if (opt_refine(p, &c, &g, opt_i, r, errstr, errstr_size) != 0)
        goto done;
    opt_alternatives(p, &c, &g, opt_i, r);
    rc = 0;
done:
    free(g.ans);
    free(g.obj);
    free(g.mask);
    free(c.atoms);
    free(c.cum);
    return rc;
}
