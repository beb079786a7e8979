/*
 * The alerts processor's options, on tests/configs/sim/alerts.yaml (8 weeks
 * written before the engine starts, so it begins far behind):
 *
 * - live checks (not deterministic, off by default): with
 *   alerts.quality.max_lag 100 the run raises ConsumerLagHigh while it
 *   catches up and resolves it once caught up; with
 *   alerts.quality.wall_silence 2s every country and input goes
 *   SilentSource once nothing has arrived for 2 s of wall time after the
 *   end of the input;
 * - alerts.repeat_interval 1d sends a still-firing dead-letter alert again
 *   (same fingerprint and starts_at); alerts.runbook_base_url prefixes
 *   every runbook_url; alerts.resolved_retention 1h drops resolved alerts
 *   from the admin view once a day later has closed; features limited to
 *   channel_mix raises no FeatureDrift for GB's tickets;
 * - the champion's training window as reference (the learning loop's
 *   hook): GB's tickets drift against the first three weeks, the
 *   description says so, and the alert does not resolve while the
 *   reference stays there (no restart of a trailing reference).
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts/jp_alerts.h"
#include "jp_test.h"
#include "jp_test_alerts.h"
#include "jp_test_engine.h"

#define WORLD   "tests/configs/sim/alerts.yaml"
#define WAIT_MS 240000
#define DAY_MS  86400000LL

static jp_test_stack_t *st;

static void simulate_once(void)
{
    if (st->records == 0)
        jp_test_stack_simulate(st, WORLD, 0);
}

static size_t count(const jp_test_alert_t *a, size_t n, const char *name, const char *country,
                    const char *labels, int firing)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += strcmp(a[i].name, name) == 0 && (!country || strcmp(a[i].country, country) == 0) &&
             (!labels || strstr(a[i].labels, labels)) && a[i].firing == firing;
    return k;
}

/* Whether the admin view's document lists a FIRING alert of that name
 * and input label. */
static int lists(const char *doc, const char *name, const char *input)
{
    json_t *j = json_loads(doc, 0, NULL);
    size_t i;
    json_t *x;
    int found = 0;
    json_array_foreach(json_object_get(j, "alerts"), i, x)
    {
        const char *in = json_string_value(json_object_get(json_object_get(x, "labels"), "input"));
        found |= strcmp(json_string_value(json_object_get(x, "name")), name) == 0 && in &&
                 strcmp(in, input) == 0 &&
                 strcmp(json_string_value(json_object_get(x, "status")), "FIRING") == 0;
    }
    json_decref(j);
    return found;
}

static void test_options_and_live_checks(void **state)
{
    st = *state;
    simulate_once();
    jp_config_t cfg;
    jp_test_engine_config(st, "alerts-live", &cfg);
    cfg.alerts.feature.reference_days = 21;
    cfg.alerts.quality.max_lag = 100;
    cfg.alerts.quality.wall_silence_ms = 2000;
    cfg.alerts.repeat_interval_ms = DAY_MS;
    cfg.alerts.resolved_retention_ms = 3600000;
    free(cfg.alerts.runbook_base_url);
    cfg.alerts.runbook_base_url = strdup("https://runbooks.example/");
    for (size_t i = 0; i < cfg.alerts.feature.features.n; i++)
        free(cfg.alerts.feature.features.v[i]);
    cfg.alerts.feature.features.v[0] = strdup("channel_mix");
    cfg.alerts.feature.features.n = 1;
    char err[512];
    jp_alerts_t *a = jp_alerts_new(&cfg, NULL, err, sizeof(err));
    assert_non_null(a);
    const jp_proc_t *procs[] = {jp_alerts_proc(a)};
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 1);
    assert_int_equal(jp_test_engine_wait(e, -1, st->records, WAIT_MS), 0);
    /* Nothing more arrives: after 2 s of wall time every source is silent. */
    char *firing = NULL;
    for (int i = 0; i < 300; i++) {
        free(firing);
        firing = jp_alerts_json(a, "GB", "FIRING");
        if (lists(firing, "SilentSource", "sales"))
            break;
        usleep(100000);
    }
    char *all = jp_alerts_json(a, NULL, NULL);
    jp_test_engine_stop(e, NULL);
    jp_alerts_free(a);
    assert_true(lists(firing, "SilentSource", "sales"));
    assert_non_null(strstr(firing, "https://runbooks.example/docs/runbooks/SilentSource.md"));
    /* NO's silence of week 5 resolved weeks before the end: out of the view. */
    json_t *j = json_loads(all, 0, NULL);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "alerts"), i, x)
    {
        const char *name = json_string_value(json_object_get(x, "name"));
        const char *status = json_string_value(json_object_get(x, "status"));
        assert_false(strcmp(name, "SilentSource") == 0 && strcmp(status, "RESOLVED") == 0 &&
                     json_integer_value(json_object_get(x, "ends_at")) <
                         json_integer_value(json_object_get(x, "starts_at")) + 8 * DAY_MS);
    }
    json_decref(j);
    free(all);
    free(firing);

    size_t n;
    jp_test_alert_t *al =
        jp_test_alerts_read_base(st, cfg.topics.alerts, "https://runbooks.example/", &n);
    for (size_t k = 0; k < n; k++)
        printf("%-8s %-20s %-2s %s\n", al[k].firing ? "FIRING" : "RESOLVED", al[k].name,
               al[k].country, al[k].labels);
    assert_true(count(al, n, "ConsumerLagHigh", "", NULL, 1) >= 1);
    assert_true(count(al, n, "ConsumerLagHigh", "", NULL, 0) >= 1);
    assert_true(count(al, n, "SilentSource", "GB", "input=sales", 1) >= 1);
    assert_int_equal(count(al, n, "FeatureDrift", NULL, NULL, 1), 0);
    /* A still-firing dead-letter alert was sent again a day later. */
    int repeated = 0;
    for (size_t p = 0; p < n; p++)
        for (size_t q = p + 1; q < n; q++)
            repeated |= al[p].firing && al[q].firing && strcmp(al[p].fp, al[q].fp) == 0 &&
                        al[p].starts_at == al[q].starts_at &&
                        strcmp(al[p].name, "DeadLetterRateHigh") == 0;
    assert_true(repeated);
    free(al);
    jp_config_release(&cfg);
}

/* The learning loop's reference: the first 21 days, whatever the day. */
static int champion_window(void *ctx, int partition, const char *country, int64_t *start_ms,
                           int64_t *end_ms)
{
    (void)partition, (void)country;
    const int64_t *start = ctx;
    *start_ms = *start;
    *end_ms = *start + 21 * DAY_MS;
    return 1;
}

static void test_champion_reference(void **state)
{
    st = *state;
    simulate_once();
    jp_sim_world_t w;
    jp_test_world_load(WORLD, &w);
    int64_t start = w.start_ms;
    jp_config_t cfg;
    jp_test_engine_config(st, "alerts-champion", &cfg);
    char err[512];
    jp_alerts_t *a = jp_alerts_new(&cfg, NULL, err, sizeof(err));
    assert_non_null(a);
    jp_alerts_set_reference_source(a, champion_window, &start);
    const jp_proc_t *procs[] = {jp_alerts_proc(a)};
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 1);
    assert_int_equal(jp_test_engine_wait(e, -1, st->records, WAIT_MS), 0);
    char *gb = jp_alerts_json(a, "GB", NULL);
    jp_test_engine_stop(e, NULL);
    jp_alerts_free(a);
    json_t *j = json_loads(gb, 0, NULL);
    size_t i;
    json_t *x;
    int found = 0;
    json_array_foreach(json_object_get(j, "alerts"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "name")), "FeatureDrift") != 0)
            continue;
        const char *d =
            json_string_value(json_object_get(json_object_get(x, "annotations"), "description"));
        printf("%s %s: %s\n", json_string_value(json_object_get(x, "status")),
               json_string_value(json_object_get(json_object_get(x, "labels"), "feature")), d);
        if (strstr(json_string_value(json_object_get(json_object_get(x, "labels"), "feature")),
                   "tickets_per_signup")) {
            found = 1;
            assert_non_null(strstr(d, "the champion's training window 2026-01-05"));
            assert_string_equal(json_string_value(json_object_get(x, "status")), "FIRING");
            assert_true(json_integer_value(json_object_get(x, "starts_at")) > start + 35 * DAY_MS);
        }
    }
    assert_true(found);
    json_decref(j);
    free(gb);
    jp_sim_world_release(&w);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_and_live_checks),
        cmocka_unit_test(test_champion_reference),
    };
    return cmocka_run_group_tests(tests, jp_test_stack_setup, jp_test_stack_teardown);
}
