/*
 * The alerts processor on configs/sim/drift.yaml, through the engine on
 * the embedded broker, against the world's documented changes (its truth):
 *
 *   week 12  GB  sign-up elasticity 0.6 -> 0.1 as the prize moves to 2x
 *   week 16  NL  sign-ups 40 -> 20 a day (level shift)
 *   week 20  GB  tickets per new subscription 1.4 -> 3.0
 *   week 24  NL  payment failures 1.5% -> 8%
 *   week 28  SE  sales silent for 2 weeks
 *
 * The learning loop is not on this branch, so a stand-in plays its part on
 * the same hooks the application wires (jp_test_alerts.h): it scores each
 * weekly headline draw period's sign-ups (GB and SE; NL draws monthly and
 * its level shift is FeatureDrift's here) against a log-linear model of
 * the advertised prize and hands the standardized residual to
 * jp_alerts_observe_eval; the drift listener makes it retrain on the
 * periods after the change point under a new version.
 *
 * Asserted: every change is detected within 2 draw periods of its week
 * (GB and SE draw weekly, NL monthly) by the alert that documents it
 * (ConceptDrift for the elasticity, FeatureDrift on the shifted feature,
 * SilentSource for the sales) naming the right country; every FIRING alert
 * belongs to a documented change of its country; critical concept drift
 * reached the listener with a change point within two periods of the
 * truth; and every drift alert resolved before the world ended (feature
 * drift once the trailing reference holds the new regime, concept drift
 * once the retrained model's residuals stayed quiet for resolve_after).
 * The delays are printed.
 *
 * The 40 weeks (about 650k records) are read while they are written
 * (jp_test_stack_stream): the dev broker keeps about 5 MB per
 * partition. Under ASan the world is cut after week 24 and only the first
 * three changes are checked (the same code, half the records).
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/jp_alerts.h"
#include "jp_test.h"
#include "jp_test_alerts.h"
#include "jp_test_engine.h"
#include "sim/jp_sim_world.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 24
#else
#define WEEKS 40
#endif
#define WORLD   "configs/sim/drift.yaml"
#define DAY_MS  86400000LL
#define WEEK_MS (7 * DAY_MS)

static jp_test_stack_t *st; /* the group's (jp_test_stack_setup) */

static void test_drift_world(void **state)
{
    st = *state;
    jp_test_alerts_run_t run;
    jp_test_alerts_run_live(st, "alerts-world", WORLD, WEEKS, JP_TEST_ALERTS_STANDIN, &run);
    const jp_test_alert_t *al = run.alerts;
    size_t n = run.n;
    jp_sim_world_t w;
    jp_test_world_load(WORLD, &w);
    const jp_sim_change_t *ch = w.changes.items;
    int64_t end_ms = w.start_ms + WEEKS * WEEK_MS;
    /* Every FIRING belongs to a documented change of its country. */
    for (size_t i = 0; i < n; i++) {
        int ok = !al[i].firing;
        for (size_t c = 0; c < w.changes.n && !ok; c++) {
            int64_t at = w.start_ms + ch[c].week * WEEK_MS;
            ok = strcmp(ch[c].country, al[i].country) == 0 &&
                 jp_sim_change_documented(&ch[c], al[i].name, al[i].labels) &&
                 al[i].starts_at >= at && al[i].starts_at <= at + 20 * WEEK_MS;
        }
        if (!ok)
            fail_msg("an alert no change documents: %s %s %s from %" PRId64, al[i].name,
                     al[i].country, al[i].labels, al[i].starts_at);
    }
    /* Every change is detected within 2 draw periods of its week. */
    int checked = 0;
    for (size_t c = 0; c < w.changes.n; c++) {
        int64_t at = w.start_ms + ch[c].week * WEEK_MS;
        int64_t bound = 2 * jp_test_draw_period_ms(&w, ch[c].country, at);
        if (at >= end_ms)
            continue; /* under ASan the world is cut short */
        const jp_test_alert_t *first = NULL;
        for (size_t i = 0; i < n; i++)
            if (al[i].firing && strcmp(al[i].country, ch[c].country) == 0 &&
                jp_sim_change_documented(&ch[c], al[i].name, al[i].labels) &&
                al[i].starts_at >= at && (!first || al[i].starts_at < first->starts_at))
                first = &al[i];
        if (!first && at + bound + WEEK_MS > end_ms)
            continue; /* the world ends before the bound: nothing to require */
        if (!first)
            fail_msg("week %lld %s: not detected", (long long)ch[c].week, ch[c].country);
        printf("week %2lld %s %-13s %-16s -> %-13s %-40s after %5.1f days (bound %.0f)\n",
               (long long)ch[c].week, ch[c].country,
               ch[c].kind == JP_SIM_CHANGE_SILENCE ? "silence" : "change",
               ch[c].target ? ch[c].target : "", first->name, first->labels,
               (double)(first->starts_at - at) / DAY_MS, (double)bound / DAY_MS);
        assert_true(first->starts_at - at <= bound);
        checked++;
    }
    assert_true(checked >= (WEEKS >= 40 ? 5 : 3));
    /* Critical concept drift reached the listener, change point near the
     * truth: the elasticity change of GB. */
    int64_t gb_at = w.start_ms + 12 * WEEK_MS, gb_cp = jp_test_evaluator_first_change(run.ev, "GB");
    assert_true(gb_cp != INT64_MIN);
    printf("retrains %d; GB change point %+.1f days from the truth\n",
           jp_test_evaluator_retrains(run.ev), (double)(gb_cp - gb_at) / DAY_MS);
    assert_true(llabs(gb_cp - gb_at) <= 2 * WEEK_MS);
    /* Every drift alert resolved (only the last weeks' may still fire). */
    for (size_t i = 0; i < n; i++) {
        if (!al[i].firing || strcmp(al[i].name, "SilentSource") == 0)
            continue;
        int resolved = 0;
        for (size_t j = 0; j < n && !resolved; j++)
            resolved = !al[j].firing && strcmp(al[j].fp, al[i].fp) == 0 &&
                       al[j].ends_at >= al[i].starts_at;
        printf("%-12s %s %-40s from %5.1f weeks: %s\n", al[i].name, al[i].country, al[i].labels,
               (double)(al[i].starts_at - w.start_ms) / WEEK_MS,
               resolved ? "resolved" : "still firing");
        if (al[i].starts_at < end_ms - 12 * WEEK_MS)
            assert_true(resolved);
    }
    jp_sim_world_release(&w);
    jp_test_alerts_run_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drift_world),
    };
    return cmocka_run_group_tests(tests, jp_test_stack_setup, jp_test_stack_teardown);
}
