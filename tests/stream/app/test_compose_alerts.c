/*
 * The alerts on the real learning loop, composed as `jackpot run` and
 * `jackpot dev` compose them (jp_compose_alerts: the models' evaluations
 * feed concept drift, a critical drift retrains from its change point,
 * the champion's training range is feature drift's reference), on
 * configs/sim/drift.yaml through the engine on the embedded broker. The
 * truth is the world's documented changes (the "changes" of the
 * simulator's truth file): GB's sign-up elasticity falls 0.6 -> 0.1 at
 * week 12 while the prize is at 2x (since week 11), NL's sign-ups halve at
 * week 16, GB's new subscribers hold 3.0 tickets instead of 1.4 from week
 * 20.
 *
 * The first 22 weeks (about 360k records): 2-3 minutes in the release
 * build, 4 under ASan, on a busy two-core machine. Asserted:
 *   - false alarms (FIRING alerts that no change of their country
 *     documents): none before the first documented change (week 12), at
 *     most one in the run (the drift budgets, FeatureDrift 0.1 a country
 *     and year, ConceptDrift 0.1 a country, model and year, expect 0.4 in
 *     22 weeks of three countries). Measured: none. (Before the sales
 *     model's band carried the days of the month it had not seen, the
 *     29th read as a -17 sd miss and SE, which has no concept change,
 *     fired ConceptDrift 4 times in these weeks, once before week 12);
 *   - NL's sign-up halving is detected by a FeatureDrift on sign-ups, and
 *     GB's tickets per sign-up by a FeatureDrift on tickets_per_signup,
 *     each within two draw periods of the change (the bound; NL
 *     draws monthly). Measured: 6 and 2 days;
 * Not asserted, printed: GB's elasticity change. Since concept drift sees
 * the innovations of autocorrelated residuals (jp_alerts_concept.h), the
 * real loop does not find it within the run. The change takes about 50 of
 * GB's 1,600 tickets a day (about 1 sd of the forecast) and the trainer,
 * refitted daily, absorbs it within two weeks (the champions' mean
 * residual -0.5 sd in the second week, about 0 in the third); with the
 * residuals' lag-1 autocorrelation of about 0.5 that moves the innovations
 * by about the CUSUM's allowance (0.5 sd a day), and each weekly version
 * restarts the detectors. The 6-day detection measured before came from
 * another miss of that week (the extras forecast at 6-10x the truth on the
 * 29th-31st), by detectors that fired 1.7 times a country-year on a
 * stationary world. The stand-in evaluator, which scores sign-ups per draw
 * and does not adapt, finds it (test_alerts_world); the retrain after a
 * critical drift is asserted on the real loop by test_alerts_stationary.
 * Printed: the detection delay of every documented change the run covers
 * and every FIRING alert that no change documents (false alarms).
 *
 * Label: integration
 * Timeout: 1200
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_compose_alerts.h"
#include "jp_test.h"
#include "jp_test_alerts.h"
#include "jp_test_engine.h"

#define WEEKS   22
#define WORLD   "configs/sim/drift.yaml"
#define DAY_MS  86400000LL
#define WEEK_MS (7 * DAY_MS)

static jp_test_stack_t *st; /* the group's (jp_test_stack_setup) */

static int64_t change_at(const jp_sim_world_t *w, const jp_sim_change_t *c)
{
    return w->start_ms + c->week * WEEK_MS;
}

/* The first FIRING alert of c's country named `name` that documents c and
 * starts at or after it; NULL if none. */
static const jp_test_alert_t *first_detection(const jp_sim_world_t *w, const jp_sim_change_t *c,
                                              const char *name, const jp_test_alert_t *al, size_t n)
{
    const jp_test_alert_t *first = NULL;
    for (size_t i = 0; i < n; i++)
        if (al[i].firing && c->country && strcmp(al[i].country, c->country) == 0 &&
            (!name || strcmp(al[i].name, name) == 0) &&
            jp_sim_change_documented(c, al[i].name, al[i].labels) &&
            al[i].starts_at >= change_at(w, c) && (!first || al[i].starts_at < first->starts_at))
            first = &al[i];
    return first;
}

/* The documented change of country cc at `week` (asserted present). */
static const jp_sim_change_t *change_of(const jp_sim_world_t *w, const char *cc, int64_t week)
{
    const jp_sim_change_t *ch = w->changes.items;
    for (size_t c = 0; c < w->changes.n; c++)
        if (ch[c].country && strcmp(ch[c].country, cc) == 0 && ch[c].week == week)
            return &ch[c];
    fail_msg("%s: no change of %s at week %lld", WORLD, cc, (long long)week);
    return NULL;
}

/* Asserts that change c was detected by alert `name` no later than
 * `deadline`; returns the alert. */
static const jp_test_alert_t *assert_detected(const jp_sim_world_t *w, const jp_sim_change_t *c,
                                              const char *name, int64_t deadline,
                                              const jp_test_alert_t *al, size_t n)
{
    const jp_test_alert_t *a = first_detection(w, c, name, al, n);
    if (!a)
        fail_msg("week %lld %s %s: no %s by week %d", (long long)c->week, c->country, c->target,
                 name, WEEKS);
    if (a->starts_at > deadline)
        fail_msg("week %lld %s %s: %s %.1f days after the change, bound %.1f", (long long)c->week,
                 c->country, c->target, name, (double)(a->starts_at - change_at(w, c)) / DAY_MS,
                 (double)(deadline - change_at(w, c)) / DAY_MS);
    return a;
}

static void print_truth(const jp_sim_world_t *w, const jp_test_alert_t *al, size_t n,
                        int64_t end_ms)
{
    const jp_sim_change_t *ch = w->changes.items;
    for (size_t c = 0; c < w->changes.n; c++) {
        if (change_at(w, &ch[c]) >= end_ms)
            continue;
        const jp_test_alert_t *first = first_detection(w, &ch[c], NULL, al, n);
        if (first)
            printf("week %2lld %s %-16s -> %-12s %-40s after %5.1f days\n", (long long)ch[c].week,
                   ch[c].country, ch[c].target, first->name, first->labels,
                   (double)(first->starts_at - change_at(w, &ch[c])) / DAY_MS);
        else
            printf("week %2lld %s %-16s -> not detected by week %d\n", (long long)ch[c].week,
                   ch[c].country, ch[c].target, WEEKS);
    }
}

/* FIRING alerts that no change of their country documents, printed; how
 * many there are, and in *early how many of them start before `before`. */
static int false_alarms(const jp_sim_world_t *w, const jp_test_alert_t *al, size_t n,
                        int64_t before, int *early)
{
    const jp_sim_change_t *ch = w->changes.items;
    int all = 0;
    *early = 0;
    for (size_t i = 0; i < n; i++) {
        int documented = !al[i].firing;
        for (size_t c = 0; c < w->changes.n && !documented; c++)
            documented = ch[c].country && strcmp(ch[c].country, al[i].country) == 0 &&
                         jp_sim_change_documented(&ch[c], al[i].name, al[i].labels) &&
                         al[i].starts_at >= change_at(w, &ch[c]);
        if (documented)
            continue;
        printf("false alarm: %s %s %s at week %.1f\n", al[i].name, al[i].country, al[i].labels,
               (double)(al[i].starts_at - w->start_ms) / WEEK_MS);
        all++;
        *early += al[i].starts_at < before;
    }
    return all;
}

static void test_drift_reaches_the_models(void **state)
{
    st = *state;
    char err[512];
    jp_config_t cfg;
    jp_test_engine_config(st, "compose-alerts", &cfg);
    jp_models_t *models = jp_models_new(&cfg, NULL, err, sizeof(err));
    if (!models)
        fail_msg("models: %s", err);
    jp_alerts_t *alerts;
    if (jp_compose_alerts(&cfg, NULL, models, &alerts, err, sizeof(err)) != 0)
        fail_msg("compose: %s", err);
    assert_non_null(alerts);
    const jp_proc_t *procs[] = {jp_models_proc(models), jp_alerts_proc(alerts)};
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 2);
    jp_sim_world_t w;
    jp_test_world_load(WORLD, &w);
    jp_test_stack_stream(st, &w, WEEKS, e, 20000);
    assert_int_equal(jp_test_engine_wait(e, -1, st->records, 600000), 0);
    jp_test_engine_stop(e, NULL);

    size_t n;
    jp_test_alert_t *al = jp_test_alerts_read(st, cfg.topics.alerts, &n, NULL);
    int64_t end_ms = w.start_ms + WEEKS * WEEK_MS;
    print_truth(&w, al, n, end_ms);

    /* False alarms: none before the first documented change, at most one
     * in the run (the drift budgets expect 0.4). */
    int64_t first_change = end_ms;
    const jp_sim_change_t *ch = w.changes.items;
    for (size_t c = 0; c < w.changes.n; c++)
        if (change_at(&w, &ch[c]) < first_change)
            first_change = change_at(&w, &ch[c]);
    int early, all = false_alarms(&w, al, n, first_change, &early);
    printf("false alarms: %d, %d before the first change (week %.0f)\n", all, early,
           (double)(first_change - w.start_ms) / WEEK_MS);
    assert_int_equal(early, 0);
    assert_true(all <= 1);

    /* Feature shifts: two draw periods after the change. */
    const jp_sim_change_t *nl = change_of(&w, "NL", 16), *tk = change_of(&w, "GB", 20);
    assert_detected(&w, nl, "FeatureDrift",
                    change_at(&w, nl) + 2 * jp_test_draw_period_ms(&w, "NL", change_at(&w, nl)), al,
                    n);
    assert_detected(&w, tk, "FeatureDrift",
                    change_at(&w, tk) + 2 * jp_test_draw_period_ms(&w, "GB", change_at(&w, tk)), al,
                    n);

    free(al);
    jp_sim_world_release(&w);
    jp_alerts_free(alerts);
    jp_models_free(models);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drift_reaches_the_models),
    };
    return cmocka_run_group_tests(tests, jp_test_stack_setup, jp_test_stack_teardown);
}
