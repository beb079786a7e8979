/*
 * The alerts processor's outputs are deterministic and its state survives
 * restarts, on tests/configs/sim/alerts.yaml (8 weeks: GB's tickets per
 * sign-up shift, NO's sales fall silent for a week on a partition DE keeps
 * going, 3% of records unframed and 2% late everywhere):
 *
 * - a reference run raises FeatureDrift (GB, tickets_per_signup),
 *   SilentSource (NO, sales; FIRING then RESOLVED when NO resumes, with the
 *   gap's times), DeadLetterRateHigh and LateRateHigh (per input partition,
 *   no country), every record keyed by its fingerprint and carrying its
 *   runbook; while it runs, GET /v1/alerts's JSON and the
 *   jackpot_alerts_firing gauges list the firing ones;
 * - a run stopped twice mid-stream, once with its state directory deleted
 *   (a restore from the changelogs), writes exactly the reference's alert
 *   records, each once: a restart neither fires an alert again nor forgets
 *   one it has to resolve.
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

static jp_test_stack_t *st; /* the group's (jp_test_stack_setup) */

static void config(const char *tag, jp_config_t *cfg)
{
    jp_test_engine_config(st, tag, cfg);
    cfg->alerts.feature.reference_days = 21;
}

static void run_part(const jp_config_t *cfg, double share, int wipe)
{
    char err[512];
    jp_alerts_t *a = jp_alerts_new(cfg, NULL, err, sizeof(err));
    assert_non_null(a);
    const jp_proc_t *procs[] = {jp_alerts_proc(a)};
    jp_test_engine_t *e = jp_test_engine_start_with(cfg, NULL, procs, 1);
    jp_test_engine_wait_consumed(e, (int64_t)(share * (double)st->records), WAIT_MS);
    jp_test_engine_stop(e, NULL);
    jp_alerts_free(a);
    if (wipe)
        jp_test_rmtree(cfg->state.dir);
}

/* A run to the end; firing (may be NULL) gets GET /v1/alerts?status=FIRING's
 * document and metrics the rendered registry, taken before the engine
 * stops. */
static void run_to_end(const jp_config_t *cfg, json_t **firing, char **metrics)
{
    char err[512];
    jp_metrics_t *m = jp_metrics_new();
    jp_alerts_t *a = jp_alerts_new(cfg, m, err, sizeof(err));
    assert_non_null(a);
    const jp_proc_t *procs[] = {jp_alerts_proc(a)};
    jp_test_engine_t *e = jp_test_engine_start_with(cfg, NULL, procs, 1);
    assert_int_equal(jp_test_engine_wait(e, -1, st->records, WAIT_MS), 0);
    if (firing) {
        char *s = jp_alerts_json(a, NULL, "FIRING");
        *firing = json_loads(s, 0, NULL);
        free(s);
        *metrics = jp_metrics_render(m);
        char *gb = jp_alerts_json(a, "GB", NULL);
        json_t *j = json_loads(gb, 0, NULL);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(j, "alerts"), i, x)
            assert_string_equal(json_string_value(json_object_get(x, "country")), "GB");
        json_decref(j);
        free(gb);
    }
    jp_test_engine_stop(e, NULL);
    jp_alerts_free(a);
    jp_metrics_free(m);
}

static const jp_test_alert_t *find(const jp_test_alert_t *a, size_t n, const char *name,
                                   const char *country, const char *labels, int firing)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].name, name) == 0 && strcmp(a[i].country, country) == 0 &&
            strstr(a[i].labels, labels) && a[i].firing == firing)
            return &a[i];
    return NULL;
}

static void test_deterministic_and_restartable(void **state)
{
    st = *state;
    jp_test_stack_simulate(st, WORLD, 0);
    jp_config_t ref_cfg, cfg;
    config("alerts-ref", &ref_cfg);
    json_t *firing = NULL;
    char *metrics = NULL;
    run_to_end(&ref_cfg, &firing, &metrics);

    jp_test_recset_t ref, got;
    jp_test_read_distinct(st, ref_cfg.topics.alerts, &ref);
    assert_true(ref.n > 0);
    assert_int_equal(ref.read, ref.n); /* each record once */
    size_t n_ref, dup;
    jp_test_alert_t *a = jp_test_alerts_read(st, ref_cfg.topics.alerts, &n_ref, &dup);
    assert_int_equal(n_ref, ref.n);
    assert_int_equal(dup, 0);
    for (size_t i = 0; i < ref.n; i++)
        printf("%-8s %-18s %-2s %-32s %lld..%lld\n", a[i].firing ? "FIRING" : "RESOLVED", a[i].name,
               a[i].country, a[i].labels, (long long)a[i].starts_at, (long long)a[i].ends_at);

    jp_sim_world_t w;
    jp_test_world_load(WORLD, &w);
    int64_t change = w.start_ms + 5 * 7 * DAY_MS;
    const jp_test_alert_t *fd =
        find(a, ref.n, "FeatureDrift", "GB", "feature=tickets_per_signup", 1);
    assert_non_null(fd);
    assert_true(fd->starts_at > change && fd->starts_at <= change + 3 * DAY_MS);
    const jp_test_alert_t *s1 = find(a, ref.n, "SilentSource", "NO", "input=sales", 1);
    const jp_test_alert_t *s2 = find(a, ref.n, "SilentSource", "NO", "input=sales", 0);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_int_equal(s1->starts_at, s2->starts_at);
    assert_true(s1->starts_at > change && s1->starts_at <= change + DAY_MS); /* a day's span */
    assert_true(s2->ends_at >= change + 7 * DAY_MS && s2->ends_at <= change + 8 * DAY_MS);
    assert_non_null(find(a, ref.n, "DeadLetterRateHigh", "", "input=sales", 1));
    assert_non_null(find(a, ref.n, "LateRateHigh", "", "input=customers", 1));
    for (size_t i = 0; i < ref.n; i++) /* nothing about DE, nor drift elsewhere */
        assert_true(strcmp(a[i].country, "DE") != 0 && strcmp(a[i].name, "ConceptDrift") != 0);

    /* The admin view and the gauges while it ran. */
    size_t i, n_firing = json_array_size(json_object_get(firing, "alerts"));
    json_t *x;
    int dlq = 0;
    json_array_foreach(json_object_get(firing, "alerts"), i, x)
    {
        assert_string_equal(json_string_value(json_object_get(x, "status")), "FIRING");
        dlq += strcmp(json_string_value(json_object_get(x, "name")), "DeadLetterRateHigh") == 0;
    }
    assert_true(n_firing >= 2 && dlq >= 1);
    char line[160];
    snprintf(line, sizeof(line),
             "jackpot_alerts_firing{country=\"\",name=\"DeadLetterRateHigh\",severity=\"warning\"} "
             "%d\n",
             dlq);
    if (!strstr(metrics, line))
        fail_msg("no '%s' in the metrics", line);
    assert_non_null(strstr(metrics, "jackpot_alerts_firing{country=\"GB\",name=\"FeatureDrift\","
                                    "severity=\"warning\"} 1\n"));
    assert_non_null(
        strstr(metrics, "jackpot_alerts_total{name=\"SilentSource\",status=\"RESOLVED\"} 1\n"));

    /* Stopped twice, once with the state directory gone. */
    config("alerts-restarts", &cfg);
    run_part(&cfg, 0.4, 0);
    run_part(&cfg, 0.7, 1);
    run_to_end(&cfg, NULL, NULL);
    jp_test_read_distinct(st, cfg.topics.alerts, &got);
    assert_int_equal(got.read, got.n);
    assert_true(jp_test_recset_equal(&ref, &got));

    free(a);
    free(metrics);
    json_decref(firing);
    jp_sim_world_release(&w);
    jp_test_recset_free(&ref);
    jp_test_recset_free(&got);
    jp_config_release(&ref_cfg);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_and_restartable),
    };
    return cmocka_run_group_tests(tests, jp_test_stack_setup, jp_test_stack_teardown);
}
