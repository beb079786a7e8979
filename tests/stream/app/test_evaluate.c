/*
 * The evaluation behind `jackpot evaluate` (app/jp_evaluate.h) on a
 * simulated half year of configs/sim/default.yaml (in process, truth
 * kept): recommendations built from the oracle's own prizes have no
 * regret, one of its (feasible) alternatives has some, the per-country lines
 * have the documented form, a replayed record replaces its first copy,
 * exploration's true cost is the value given up against the greedy prize,
 * elasticity errors are reported against the truth, and the plot is a PNG
 * (gnuplot).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include "app/jp_evaluate.h"
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
    g_run = jp_test_world_truth("default", 26, &g_world);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_sim_truth_free(g_run);
    jp_sim_world_release(&g_world);
    return 0;
}

static jp_recommendation_t rec(const char *cc, const char *draw_id, int64_t t, int64_t prize)
{
    jp_recommendation_t r;
    memset(&r, 0, sizeof(r));
    r.country = jp_avro_str(cc);
    r.draw_id = jp_avro_str(draw_id);
    r.decision_time = t;
    r.prize_minor = prize;
    r.status = JP_RECOMMENDATION_OK;
    return r;
}

/* The value of "regret CC x decisions n" in the report. */
static double regret_line(const char *report, const char *cc, size_t *n)
{
    char key[32];
    snprintf(key, sizeof(key), "\nregret %s ", cc);
    const char *p = strstr(report, key);
    assert_non_null(p);
    double v;
    assert_int_equal(sscanf(p + strlen(key), "%lf decisions %zu", &v, n), 2);
    return v;
}

static void test_report(void **state)
{
    (void)state;
    char err[512];
    json_t *truth = jp_sim_truth_json(g_run);
    jp_sim_oracle_t *o = jp_sim_oracle_new(truth, &g_world.config, err, sizeof(err));
    assert_non_null(o);
    jp_evaluation_t *ev = jp_evaluation_new();
    const jp_elasticity_t el[] = {{jp_avro_str("signups"), 0.66, 0.01},
                                  {jp_avro_str("extras"), 0.9, 0.01},
                                  {jp_avro_str("cancellations"), -0.24, 0.02}};
    size_t added[3] = {0};
    const char *codes[] = {"GB", "NL", "SE"};
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 1; i < jp_sim_oracle_draws(o, codes[c]); i++) {
            const char *id = jp_sim_oracle_draw_id(o, codes[c], i);
            jp_sim_oracle_eval_t e;
            int rc = jp_sim_oracle_eval(o, codes[c], id, 0, 0, &e, err, sizeof(err));
            assert_true(rc >= 0);
            int64_t t = e.decision_time_ms;
            /* GB and SE: the oracle's prize; NL: its last (feasible)
             * alternative. A first copy of each with another prize is
             * replaced by the second. */
            jp_recommendation_t r = rec(codes[c], id, t, 1000000);
            assert_int_equal(jp_evaluation_add(ev, &r), 0);
            r.prize_minor = rc == 0 ? e.oracle_prize : 1000000;
            if (c == 1 && rc == 0 && e.oracle.n_alternatives > 0)
                r.prize_minor = e.oracle.alternatives[e.oracle.n_alternatives - 1].prize;
            if (c == 0) {
                /* GB explores: the greedy prize is one step above */
                r.exploration.explored = 1;
                r.exploration.greedy_prize_minor = r.prize_minor + 250000;
                r.model.elasticities = (jp_avro_array_t){(void *)el, 3};
            }
            assert_int_equal(jp_evaluation_add(ev, &r), 0);
            added[c]++;
        }
    assert_int_equal(jp_evaluation_count(ev), added[0] + added[1] + added[2]);

    char *dir = jp_test_tmpdir("evaluate");
    char png[1024];
    snprintf(png, sizeof(png), "%s/decisions.png", dir);
    char *report = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&report, &len);
    assert_int_equal(jp_evaluation_report(ev, truth, &g_world.config, out, png, err, sizeof(err)),
                     0);
    fclose(out);
    printf("%s", report);
    size_t n;
    assert_true(fabs(regret_line(report, "SE", &n)) < 1e-9);
    assert_int_equal(n, added[2]);
    double gb = regret_line(report, "GB", &n);
    assert_int_equal(n, added[0]);
    assert_true(fabs(gb) < 1e-9);
    assert_true(regret_line(report, "NL", &n) > 0.0); /* an alternative gives up some */

    const jp_evaluation_summary_t *s;
    size_t ns = jp_evaluation_summaries(ev, &s);
    assert_int_equal(ns, 3);
    assert_string_equal(s[0].country, "GB");
    assert_int_equal(s[0].explored, added[0]);
    assert_true(s[0].evaluated > 10 && s[0].evaluated < added[0]); /* the last 8 lack a horizon */
    /* GB rows: true exploration cost and elasticity errors against the
     * truth (signups 0.6: +10.0%, extras 0.9: +0.0%, cancellations -0.3: +20.0%) */
    assert_non_null(strstr(report, "+10.0   +0.0  +20.0"));
    assert_non_null(strstr(report, "(horizon beyond the truth)"));

    size_t plen = 0;
    char *img = jp_test_read_file(png, &plen);
    assert_non_null(img);
    assert_true(plen > 1000 && memcmp(img, "\x89PNG", 4) == 0);
    free(img);
    free(report);
    jp_test_rmtree(dir);
    free(dir);
    jp_evaluation_free(ev);
    jp_sim_oracle_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
