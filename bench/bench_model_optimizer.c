/*
 * bench_model_optimizer: one jp_opt_solve on a 10,000-point prize grid with
 * a 200-atom heavy-tailed tickets-in-postcode distribution and every rule on
 * (a per-ticket prize whose payout scales with sales, so each grid point runs
 * the full rule set including the loss-chance sum). Also times the
 * infeasible path, which re-evaluates the whole grid with exact loss
 * probabilities to find the best compromise. Medians of jp_bench_runs()
 * runs, each the mean of a batch of solves, pinned to one core.
 */
#include "jp_bench.h"
#include "model/decide/jp_optimizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define ATOMS 200
#define BATCH 20

typedef struct response_s {
    double a, b, cv;
} response_t;

/* log-linear response: E[N] = exp(a + b*log(J)), sd = cv * E[N] */
static int response(void *ctx, double prize, double *mean, double *sd)
{
    const response_t *r = ctx;
    *mean = exp(r->a + r->b * log(prize));
    *sd = r->cv * *mean;
    return 0;
}

static jp_opt_mass_t atoms[ATOMS];
static jp_opt_ledger_entry_t ledger[104];

static void build(jp_opt_problem_t *p, response_t *resp)
{
    double z = 0.0;
    for (int t = 1; t <= ATOMS; t++)
        z += pow(t, -2.2);
    for (int t = 1; t <= ATOMS; t++)
        atoms[t - 1] = (jp_opt_mass_t){(double)t, pow(t, -2.2) / z};
    *resp = (response_t){.a = log(50.0), .b = 0.5, .cv = 0.15};

    jp_opt_problem_init(p);
    p->prize_min = 10000;
    p->prize_max = 10000000;
    p->prize_step = 999; /* 10,000 points */
    p->prize_kind = JP_OPT_PRIZE_PER_TICKET;
    p->ticket_price = 200;
    p->response = response;
    p->response_ctx = resp;
    p->tickets_in_postcode = atoms;
    p->n_tickets_in_postcode = ATOMS;
    p->baseline_tickets = 80000.0;
    p->secondary_prizes_expected = 300000;
    p->secondary_prizes_quantile = 600000;
    p->fixed_costs = 500000;
    p->variable_cost_share = 0.1;
    p->decision_time_ms = 1790000000000LL;
    for (int i = 0; i < 104; i++)
        ledger[i] = (jp_opt_ledger_entry_t){p->decision_time_ms - (int64_t)(i + 1) * 604800000LL,
                                            15000000, 5000000};
    p->ledger = ledger;
    p->n_ledger = 104;
    p->proceeds_year_to_date = 400000000;
    p->available_cash = 150000000;
    p->has_previous_prize = 1;
    p->previous_prize = 2000000;

    jp_opt_rules_t *u = &p->rules;
    u->good_causes.on = 1;
    u->good_causes.min_share = 0.3;
    u->prize_share.on_min = u->prize_share.on_max = 1;
    u->prize_share.min = 0.1;
    u->prize_share.max = 0.6;
    u->single_prize.mode = JP_OPT_CAP_MAX_ABS_REL;
    u->single_prize.abs = 2500000;
    u->single_prize.rel = 0.1;
    u->draw_proceeds.on = 1;
    u->draw_proceeds.cap = 500000000;
    u->annual_proceeds.on = 1;
    u->annual_proceeds.cap = 5000000000LL;
    u->payout_ratio.on_min = u->payout_ratio.on_max = 1;
    u->payout_ratio.min = 0.2;
    u->payout_ratio.max = 0.5;
    u->cash_safety.on = 1;
    u->cash_safety.quantile = 0.99;
    u->cash_safety.margin = 1000000;
    u->max_change.on_abs = u->max_change.on_rel = 1;
    u->max_change.abs = 3000000;
    u->max_change.rel = 1.5;
    u->loss_chance.on = 1;
    u->loss_chance.epsilon = 0.05;
    p->n_alternatives = 5;
}

static double time_solves(const jp_opt_problem_t *p, jp_opt_result_t *r)
{
    char err[256];
    int runs = jp_bench_runs();
    double *v = calloc((size_t)runs, sizeof(double));
    if (!v)
        exit(1);
    for (int i = 0; i < runs; i++) {
        double t0 = jp_bench_now();
        for (int k = 0; k < BATCH; k++) {
            if (jp_opt_solve(p, r, err, sizeof(err)) != 0) {
                fprintf(stderr, "bench_model_optimizer: %s\n", err);
                exit(1);
            }
            jp_bench_sink(r);
        }
        v[i] = (jp_bench_now() - t0) / BATCH;
    }
    double med = jp_bench_median(v, (size_t)runs);
    free(v);
    return med;
}

int main(void)
{
    jp_bench_pin_one_core();
    jp_opt_problem_t p;
    response_t resp;
    jp_opt_result_t r;
    char note[512], names[256];
    build(&p, &resp);

    double t = time_solves(&p, &r);
    jp_opt_format_mask(r.binding_mask, names, sizeof(names));
    snprintf(note, sizeof(note), "%zu points, %d atoms, status %d, prize %lld, binding %s",
             r.grid_points, ATOMS, (int)r.status, (long long)r.prize, names[0] ? names : "none");
    jp_bench_row("model_optimizer", "solve_ms", t * 1e3, "ms", "< 5", note);
    jp_bench_row("model_optimizer", "grid_points_per_s", (double)r.grid_points / t, "points/s",
                 NULL, NULL);

    p.rules.single_prize.mode = JP_OPT_CAP_ABS;
    p.rules.single_prize.abs = 5000; /* below prize_min: infeasible */
    t = time_solves(&p, &r);
    snprintf(note, sizeof(note), "best-compromise pass, status %d", (int)r.status);
    jp_bench_row("model_optimizer", "solve_infeasible_ms", t * 1e3, "ms", NULL, note);
    return 0;
}
