/*
 * jp_sim_oracle: decision quality against the simulator's ground truth.
 *
 * For a recommendation (country, draw, prize) it rebuilds, from the truth
 * document (jp_sim_truth.h), the decision problem the engine faced - the
 * country's rules through jp_country_decide, the state at the draw's
 * decision time as the truth knows it - and solves it with the truth model
 * as the horizon (model/decide/jp_oracle.h): the oracle prize and its true
 * value V*, and the true value of the recommended prize. Regret is
 * (V* - V(prize)) / |V*|.
 *
 * The state at the decision of headline draw k (its decision time T):
 * the previous draw's prize as the status quo and for the change limits;
 * the tickets per participating postcode at draw k-1 (quantiles, rescaled
 * to the true mean) and the stock then; the ledger of every draw before T
 * (realized proceeds of each headline period, payouts of every draw); the
 * stock's expected lifetime as 1 / its mean daily hazard over period k-1.
 * The horizon's periods k..k+H-1 must all be in the truth: decisions too
 * close to the end are reported as not evaluable.
 */
#ifndef JP_SIM_ORACLE_H
#define JP_SIM_ORACLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/jp_config.h"
#include "model/decide/jp_decide.h"

typedef struct jp_sim_oracle_s jp_sim_oracle_t;

/* Reads the truth document (borrowed while the oracle lives) for the
 * countries of cfg (their rules and calendars). NULL with errstr. */
jp_sim_oracle_t *jp_sim_oracle_new(const json_t *truth, const jp_config_t *cfg, char *errstr,
                                   size_t errstr_size);
void jp_sim_oracle_free(jp_sim_oracle_t *o);

typedef struct jp_sim_oracle_eval_s {
    int64_t decision_time_ms, draw_time_ms;
    jp_opt_status_t oracle_status; /* INFEASIBLE: oracle_prize is the compromise */
    uint32_t conflict_mask;        /* the rules that cannot all hold (INFEASIBLE) */
    int64_t oracle_prize;
    double oracle_value; /* V* */
    double value;        /* V(prize) */
    int feasible;        /* prize satisfies every rule (under the truth) */
    double greedy_value; /* V(greedy) when a greedy prize was given, else NaN */
    double regret;       /* (V* - V(prize)) / |V*| */
    /* the truth's elasticities in force at the draw */
    double e_signup, e_extra, e_cancel;
    jp_opt_result_t oracle; /* the oracle's solve: figures and rules at its prize */
} jp_sim_oracle_eval_t;

/* Evaluates the decision of draw_id in country (decision_time_ms and
 * draw_time_ms are set even when it is skipped), recommended `prize` (<= 0:
 * the prize advertised before it) and the best estimate's `greedy` prize
 * (0 if unknown). 0; 1 when the truth
 * does not hold the decision's horizon (skipped); -1 with errstr. */
int jp_sim_oracle_eval(jp_sim_oracle_t *o, const char *country, const char *draw_id, int64_t prize,
                       int64_t greedy, jp_sim_oracle_eval_t *out, char *errstr, size_t errstr_size);

/* The headline draws of a country in the truth, in order (0 if unknown). */
size_t jp_sim_oracle_draws(const jp_sim_oracle_t *o, const char *country);
/* Draw id of the i-th headline draw of a country (NULL if out of range). */
const char *jp_sim_oracle_draw_id(const jp_sim_oracle_t *o, const char *country, size_t i);

#endif
