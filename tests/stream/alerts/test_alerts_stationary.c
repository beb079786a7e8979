/*
 * False alarms on a stationary world: tests/configs/sim/stationary.yaml -
 * five lotteries for two years (about 470k records) with no change of the
 * ground truth, GB's prize moving every four weeks, NL drawing monthly, DE
 * and NO sharing a partition - streamed through the engine on the
 * embedded broker into the real learning loop and the alerts processor,
 * composed as `jackpot run` composes them (jp_compose_alerts).
 *
 * Asserted: at most one false drift alert (FeatureDrift or ConceptDrift)
 * per country-year, for every country and over all of them, and no data-
 * quality alert at all (the world has no faults and no silence). Every
 * critical ConceptDrift retrains its model from the change point: a
 * version registered with "change point" in its reason, trained on data
 * from no later than the alert, after models.min_training of it (unless
 * the run ends first). The alerts and the rate are printed. Measured
 * (release): 7 false drift alerts in ten country-years (DE 2, NO 2, GB 2,
 * SE 1, NL 0), 5 of them in the models' first five months.
 *
 * The populations are small, so the thresholds see small samples; they are
 * computed for the sample sizes at hand (null and bootstrap quantiles), and
 * the budget (alerts.*.false_alarms_per_year) is the configured one, not
 * loosened for the test. Under ASan the two years of the real loop take
 * too long for the suite: the world runs 26 weeks with the stand-in sales
 * evaluator of jp_test_alerts.h feeding concept drift (the bound then is
 * one alert per country).
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/jp_alerts.h"
#include "jp_test.h"
#include "jp_test_alerts.h"
#include "jp_test_engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 26
#define LOOP  JP_TEST_ALERTS_STANDIN
#else
#define WEEKS 104
#define LOOP  JP_TEST_ALERTS_MODELS
#endif
#define DAY_MS 86400000LL
#define WORLD  "tests/configs/sim/stationary.yaml"

static jp_test_stack_t *st; /* the group's (jp_test_stack_setup) */

#define WORLD_START 1767571200000LL /* 2026-01-05, the world's start */

/* Every critical ConceptDrift of the real loop retrained its model from
 * the change point (unless the run ended before models.min_training). */
static void check_retrains(const jp_test_alerts_run_t *run, int64_t end_ms)
{
    int checked = 0;
    for (size_t i = 0; i < run->n; i++) {
        const jp_test_alert_t *a = &run->alerts[i];
        const char *m = strstr(a->labels, "model=");
        if (!a->firing || !a->critical || strcmp(a->name, "ConceptDrift") != 0 || !m)
            continue;
        char model[32];
        size_t len = strcspn(m + 6, " ");
        snprintf(model, sizeof(model), "%.*s-%s", (int)len, m + 6, a->country);
        jp_test_retrained_t r;
        /* The change point lies in the version that drifted (a new
         * version restarts the detectors), and a version lives one draw
         * period: a month at most. */
        jp_test_alerts_retrained(st, run->models_topic, model, a->starts_at,
                                 a->starts_at - 35 * DAY_MS, &r);
        if (a->starts_at + run->min_training_ms >= end_ms - 7 * DAY_MS)
            continue; /* the run may end before the restarted trainer is ready */
        if (r.data_start == INT64_MIN)
            fail_msg("no %s version retrained after the critical ConceptDrift at week %.1f", model,
                     (double)(a->starts_at - WORLD_START) / (7 * DAY_MS));
        assert_true(r.data_start <= a->starts_at);
        assert_true(r.registered_at - r.data_start >= run->min_training_ms);
        checked++;
    }
    printf("%d critical ConceptDrift alerts retrained their models from the change point\n",
           checked);
}

static void test_stationary_world(void **state)
{
    st = *state;
    jp_test_alerts_run_t run;
    jp_test_alerts_run_live(st, "alerts-stationary", WORLD, WEEKS, LOOP, &run);
    const jp_test_alert_t *al = run.alerts;
    size_t n = run.n;
    static const char *const countries[] = {"DE", "GB", "NL", "NO", "SE"};
    const size_t n_countries = sizeof(countries) / sizeof(countries[0]);
    double years = WEEKS / 52.0;
    int total = 0;
    for (size_t k = 0; k < n_countries; k++) {
        int drift = 0;
        for (size_t i = 0; i < n; i++)
            if (al[i].firing && strcmp(al[i].country, countries[k]) == 0 &&
                (strcmp(al[i].name, "FeatureDrift") == 0 ||
                 strcmp(al[i].name, "ConceptDrift") == 0))
                drift++;
        printf("%s: %d false drift alerts in %.1f years\n", countries[k], drift, years);
        assert_true(drift <= (years < 1 ? 1 : (int)years));
        total += drift;
    }
    for (size_t i = 0; i < n; i++) {
        if (!al[i].firing)
            continue;
        printf("  %-12s %s %s from week %.1f\n", al[i].name, al[i].country, al[i].labels,
               (double)(al[i].starts_at - WORLD_START) / (7 * DAY_MS));
        assert_true(strcmp(al[i].name, "FeatureDrift") == 0 ||
                    strcmp(al[i].name, "ConceptDrift") == 0);
    }
    printf("%d false drift alerts: %.2f per country-year (%zu records of alerts)\n", total,
           total / (years * (double)n_countries), n);
    assert_true(total <= years * (double)n_countries);
    if (LOOP == JP_TEST_ALERTS_MODELS)
        check_retrains(&run, WORLD_START + WEEKS * 7 * DAY_MS);
    jp_test_alerts_run_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stationary_world),
    };
    return cmocka_run_group_tests(tests, jp_test_stack_setup, jp_test_stack_teardown);
}
