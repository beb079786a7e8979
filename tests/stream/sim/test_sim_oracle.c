/*
 * The truth oracle (sim/jp_sim_oracle.h) on the shipped default world:
 * configs/sim/default.yaml is generated in process (no encoding, the
 * truth kept), and every headline draw's decision is solved with the truth
 * model under the shipped country rules.
 *
 * Asserted:
 *   - the shipped configs fit the default world's scale: for GB, NL and SE
 *     every decision has a feasible prize (OPTIMAL), and the oracle's
 *     prizes are real decisions - not all at one end of the grid;
 *   - GB's prize is always feasible and its single-prize cap (10% of the
 *     draw's proceeds) binds;
 *   - the regret of the oracle's own prize is 0 and of its alternatives
 *     (feasible) >= 0: it is the optimum of the same problem;
 *   - INFEASIBLE is the answer for NO, whose secondary prizes alone exceed
 *     its prize share cap: every decision is INFEASIBLE and names
 *     prize_share_max among the rules that cannot all hold.
 * The table it prints (per country: decisions, oracle prizes' range, what
 * binds) is the evidence behind docs/countries.md's note on the scale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "sim/jp_sim.h"
#include "sim/jp_sim_oracle.h"
#include "sim/jp_sim_world.h"
#include "jp_test.h"
#include "jp_test_engine.h"

static jp_sim_truth_t *g_run;
static jp_sim_world_t g_world;

static int setup(void **state)
{
    (void)state;
    g_run = jp_test_world_truth("default", 0, &g_world);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_sim_truth_free(g_run);
    jp_sim_world_release(&g_world);
    return 0;
}

typedef struct {
    size_t evaluated, optimal;
    int64_t lo, hi;
    uint32_t binding, conflict;
} summary_t;

/* Every evaluable decision of a country, at the prize the world advertised
 * before it (a feasible prize never beats the oracle's). */
static void summarize(jp_sim_oracle_t *o, const char *code, summary_t *s)
{
    char err[512];
    memset(s, 0, sizeof(*s));
    s->lo = INT64_MAX;
    size_t n = jp_sim_oracle_draws(o, code);
    for (size_t i = 1; i < n; i++) {
        jp_sim_oracle_eval_t e, self;
        const char *id = jp_sim_oracle_draw_id(o, code, i);
        int rc = jp_sim_oracle_eval(o, code, id, 0, 0, &e, err, sizeof(err));
        if (rc < 0)
            fail_msg("%s %s: %s", code, id, err);
        if (rc > 0)
            continue;
        s->evaluated++;
        s->lo = e.oracle_prize < s->lo ? e.oracle_prize : s->lo;
        s->hi = e.oracle_prize > s->hi ? e.oracle_prize : s->hi;
        s->conflict |= e.conflict_mask;
        if (e.oracle_status != JP_OPT_OPTIMAL)
            continue;
        s->optimal++;
        s->binding |= e.oracle.binding_mask;
        /* the oracle's alternatives are feasible and no better */
        assert_int_equal(
            jp_sim_oracle_eval(o, code, id, e.oracle_prize, 0, &self, err, sizeof(err)), 0);
        assert_true(fabs(self.regret) < 1e-12);
        for (size_t a = 0; a < e.oracle.n_alternatives; a++) {
            assert_int_equal(jp_sim_oracle_eval(o, code, id, e.oracle.alternatives[a].prize, 0,
                                                &self, err, sizeof(err)),
                             0);
            assert_true(self.feasible);
            assert_true(self.regret >= -1e-12);
        }
    }
}

static void test_shipped_configs_fit_the_world(void **state)
{
    (void)state;
    char err[512];
    jp_sim_oracle_t *o =
        jp_sim_oracle_new(jp_sim_truth_json(g_run), &g_world.config, err, sizeof(err));
    assert_non_null(o);
    printf("country decisions optimal  oracle prizes (grid)                      binding / "
           "conflicting rules\n");
    const char *codes[] = {"GB", "NL", "SE", "DE", "NO"};
    summary_t s[5];
    for (size_t c = 0; c < 5; c++) {
        const jp_country_t *k = jp_config_country(&g_world.config, codes[c]);
        summarize(o, codes[c], &s[c]);
        char binding[256], conflict[256];
        jp_opt_format_mask(s[c].binding, binding, sizeof(binding));
        jp_opt_format_mask(s[c].conflict, conflict, sizeof(conflict));
        printf("%-7s %9zu %7zu  %10lld..%-10lld (%lld..%lld)  %s / %s\n", codes[c], s[c].evaluated,
               s[c].optimal, (long long)s[c].lo, (long long)s[c].hi,
               (long long)k->prizes.headline.min_minor, (long long)k->prizes.headline.max_minor,
               binding, conflict);
        assert_true(s[c].evaluated >= (c == 1 ? 8u : 40u));
    }
    /* GB, NL, SE: real decisions - feasible, and moving inside the grid */
    for (size_t c = 0; c < 3; c++) {
        const jp_country_t *k = jp_config_country(&g_world.config, codes[c]);
        assert_true(s[c].optimal * 10 >= s[c].evaluated * 8);
        assert_true(s[c].hi > s[c].lo);
        assert_true(s[c].hi < k->prizes.headline.max_minor);
    }
    assert_int_equal(s[0].optimal, s[0].evaluated); /* GB: the cap moves with its proceeds */
    assert_true(s[0].binding & (1u << JP_OPT_C_SINGLE_PRIZE));
    /* NO: its secondary prizes alone break the prize share cap - INFEASIBLE,
     * and the decision names the rules */
    assert_int_equal(s[4].optimal, 0);
    assert_true(s[4].conflict & (1u << JP_OPT_C_PRIZE_SHARE_MAX));
    jp_sim_oracle_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_configs_fit_the_world),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
