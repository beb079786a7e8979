/*
 * False alarms on a stationary world: tests/configs/sim/stationary.yaml -
 * five lotteries for two years (about 470k records) with no change of the
 * ground truth, GB's prize moving every four weeks, NL drawing monthly, DE
 * and NO sharing a partition - streamed through the engine and the alerts
 * processor on the embedded broker, with the stand-in sales evaluator of
 * jp_test_alerts.h feeding concept drift (GB, SE, DE, NO draw weekly).
 *
 * Asserted: at most one false drift alert (FeatureDrift or ConceptDrift)
 * per country-year, for every country and over all of them, and no data-
 * quality alert at all (the world has no faults and no silence). The
 * alerts and the rate are printed.
 *
 * The populations are small, so the thresholds see small samples; they are
 * computed for the sample sizes at hand (null and bootstrap quantiles), and
 * the budget (alerts.*.false_alarms_per_year, 0.2 each by default) is the
 * configured one, not loosened for the test. Under ASan the world runs 26
 * weeks (the bound then is one alert per country).
 *
 * Label: integration
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
#else
#define WEEKS 104
#endif
#define WORLD "tests/configs/sim/stationary.yaml"

static jp_test_stack_t *st; /* the group's (jp_test_stack_setup) */

static void test_stationary_world(void **state)
{
    st = *state;
    jp_test_alerts_run_t run;
    jp_test_alerts_run_live(st, "alerts-stationary", WORLD, WEEKS, JP_TEST_ALERTS_STANDIN, &run);
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
               (double)(al[i].starts_at - 1767571200000LL) / (7 * 86400000.0));
        assert_true(strcmp(al[i].name, "FeatureDrift") == 0 ||
                    strcmp(al[i].name, "ConceptDrift") == 0);
    }
    printf("%d false drift alerts: %.2f per country-year (%zu records of alerts)\n", total,
           total / (years * (double)n_countries), n);
    assert_true(total <= years * (double)n_countries);
    jp_test_alerts_run_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stationary_world),
    };
    return cmocka_run_group_tests(tests, jp_test_stack_setup, jp_test_stack_teardown);
}
