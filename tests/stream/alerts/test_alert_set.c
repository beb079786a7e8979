/*
 * The alert lifecycle (alerts/jp_alert_set.h) with Alertmanager's
 * semantics, and the data-quality arithmetic (alerts/jp_alerts_quality.h):
 *
 * - a fingerprint depends on the name and the labels, not on the order the
 *   labels were added in nor on annotations;
 * - one FIRING per fingerprint until it resolves: a re-evaluation that
 *   still fires refreshes the annotations without sending, except after
 *   the repeat interval or when the severity rises; resolving sends once;
 *   firing again starts a new episode;
 * - entries survive a serialization round trip and become the Avro record
 *   with the runbook under the configured base; every rule's runbook exists
 *   in docs/runbooks;
 * - the binomial tail matches SciPy (binom.sf, SciPy 1.10) and buckets of an
 *   input partition's counters close with exact differences, spanning more
 *   than one period while too few records arrived.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alerts/jp_alert_set.h"
#include "alerts/jp_alerts_quality.h"
#include "jp_test.h"

static void drift_alert(jp_alert_entry_t *e, const char *feature, int64_t at)
{
    jp_alert_init(e, JP_ALERT_FEATURE_DRIFT, "GB", at);
    jp_alert_label(e, "feature", feature);
    jp_alert_note(e, "description", "PSI %.2f above %.2f", 0.9, 0.4);
    jp_alert_summary(e, "GB: %s drifted", feature);
}

static void test_fingerprint(void **state)
{
    (void)state;
    jp_alert_entry_t a, b, c;
    jp_alert_init(&a, JP_ALERT_CONCEPT_DRIFT, "SE", 0);
    jp_alert_label(&a, "model", "sales");
    jp_alert_label(&a, "model_version", "3");
    jp_alert_init(&b, JP_ALERT_CONCEPT_DRIFT, "SE", 99);
    jp_alert_label(&b, "model_version", "3");
    jp_alert_label(&b, "model", "sales");
    jp_alert_note(&b, "value", "2.5");
    jp_alert_fingerprint(&a);
    jp_alert_fingerprint(&b);
    assert_int_equal(strlen(a.fingerprint), 16);
    assert_string_equal(a.fingerprint, b.fingerprint);
    assert_string_equal(a.labels[0].key, "country"); /* sorted by key */
    assert_string_equal(a.labels[2].key, "model_version");
    c = a;
    jp_alert_label(&c, "model_version", "4");
    jp_alert_fingerprint(&c);
    assert_string_not_equal(a.fingerprint, c.fingerprint);
    jp_alert_init(&c, JP_ALERT_FEATURE_DRIFT, "SE", 0); /* another name, same labels */
    jp_alert_label(&c, "model", "sales");
    jp_alert_label(&c, "model_version", "3");
    jp_alert_fingerprint(&c);
    assert_string_not_equal(a.fingerprint, c.fingerprint);
}

static void test_lifecycle(void **state)
{
    (void)state;
    jp_alert_set_t s;
    jp_alert_set_init(&s);
    jp_alert_entry_t e, *send;
    const int64_t day = 86400000;

    drift_alert(&e, "signups", 10 * day);
    assert_int_equal(jp_alert_set_fire(&s, &e, 10 * day, 0, &send), 0);
    assert_non_null(send);
    assert_int_equal(send->status, JP_ALERT_STATUS_FIRING);
    assert_int_equal(send->starts_at, 10 * day);
    char fp[17];
    snprintf(fp, sizeof(fp), "%s", send->fingerprint);

    /* Still firing a day later: not sent, annotations refreshed. */
    drift_alert(&e, "signups", 11 * day);
    jp_alert_note(&e, "description", "PSI 1.20 above 0.40");
    assert_int_equal(jp_alert_set_fire(&s, &e, 11 * day, 0, &send), 0);
    assert_null(send);
    const jp_alert_entry_t *cur = jp_alert_set_find(&s, fp);
    assert_int_equal(cur->starts_at, 10 * day);
    assert_string_equal(jp_alert_note_get(cur, "description"), "PSI 1.20 above 0.40");

    /* With a repeat interval of 3 days it is sent again on day 13, not 12. */
    assert_int_equal(jp_alert_set_fire(&s, &e, 12 * day, 3 * day, &send), 0);
    assert_null(send);
    assert_int_equal(jp_alert_set_fire(&s, &e, 13 * day, 3 * day, &send), 0);
    assert_non_null(send);
    assert_int_equal(send->starts_at, 10 * day);

    /* A rise in severity is sent at once. */
    e.severity = JP_ALERT_SEVERITY_CRITICAL;
    assert_int_equal(jp_alert_set_fire(&s, &e, 13 * day + 1, 0, &send), 0);
    assert_non_null(send);
    assert_int_equal(send->severity, JP_ALERT_SEVERITY_CRITICAL);

    /* Resolving sends once; ends_at never precedes starts_at. */
    send = jp_alert_set_resolve(&s, fp, 20 * day, 20 * day);
    assert_non_null(send);
    assert_int_equal(send->status, JP_ALERT_STATUS_RESOLVED);
    assert_int_equal(send->ends_at, 20 * day);
    assert_null(jp_alert_set_resolve(&s, fp, 21 * day, 21 * day));
    assert_false(jp_alert_set_firing(&s, fp));

    /* Firing again is a new episode with its own starts_at. */
    drift_alert(&e, "signups", 30 * day);
    assert_int_equal(jp_alert_set_fire(&s, &e, 30 * day, 0, &send), 0);
    assert_non_null(send);
    assert_int_equal(send->starts_at, 30 * day);
    assert_int_equal(send->severity, JP_ALERT_SEVERITY_WARNING);
    assert_int_equal(s.n, 1);

    /* Another feature is another alert; pruning drops only old resolved
     * entries. */
    drift_alert(&e, "channel_mix", 31 * day);
    assert_int_equal(jp_alert_set_fire(&s, &e, 31 * day, 0, &send), 0);
    assert_non_null(jp_alert_set_resolve(&s, e.fingerprint, 32 * day, 32 * day));
    assert_int_equal(s.n, 2);
    jp_alert_set_prune(&s, 40 * day, 30 * day, NULL, NULL);
    assert_int_equal(s.n, 2);
    jp_alert_set_prune(&s, 63 * day, 30 * day, NULL, NULL);
    assert_int_equal(s.n, 1);
    assert_true(jp_alert_set_firing(&s, fp));
    jp_alert_set_free(&s);
}

static void test_encodings(void **state)
{
    (void)state;
    jp_alert_entry_t e, back;
    jp_alert_init(&e, JP_ALERT_DEAD_LETTER_RATE, NULL, 123456);
    jp_alert_label(&e, "input", "sales");
    jp_alert_label(&e, "partition", "3");
    jp_alert_note(&e, "description", "5 of 100 records");
    jp_alert_note(&e, "value", "0.05");
    jp_alert_summary(&e, "lottery.sales.v1 partition 3: 5%% dead-lettered");
    jp_alert_fingerprint(&e);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_alert_entry_serialize(&e, &w);
    char err[128];
    assert_int_equal(jp_alert_entry_deserialize(&back, w.buf, w.len, err, sizeof(err)), 0);
    assert_memory_equal(&back, &e, sizeof(e));
    assert_int_equal(jp_alert_entry_deserialize(&back, w.buf, w.len - 1, err, sizeof(err)), -1);
    jp_bytes_writer_free(&w);

    jp_alert_avro_scratch_t sc = {0};
    jp_alert_t a;
    jp_alert_entry_to_avro(&e, "https://example.org/jackpot/", &sc, &a);
    assert_false(a.has_country);
    assert_false(a.has_ends_at);
    assert_int_equal(a.labels.n, 2);
    assert_int_equal(a.annotations.n, 2);
    assert_true(jp_avro_str_eq(a.name, "DeadLetterRateHigh"));
    assert_true(jp_avro_str_eq(a.runbook_url,
                               "https://example.org/jackpot/docs/runbooks/DeadLetterRateHigh.md"));
    json_t *j = jp_alert_entry_json(&e, "");
    assert_string_equal(json_string_value(json_object_get(j, "runbook_url")),
                        "docs/runbooks/DeadLetterRateHigh.md");
    assert_true(json_is_null(json_object_get(j, "country")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "labels"), "partition")), "3");
    json_decref(j);
}

/* Every rule's runbook is docs/runbooks/<name>.md and exists. */
static void test_runbooks(void **state)
{
    (void)state;
    for (int r = 0; r < JP_ALERT__COUNT; r++) {
        const jp_alert_rule_info_t *info = jp_alert_rule_info((jp_alert_rule_t)r);
        char want[128], path[1024];
        snprintf(want, sizeof(want), "docs/runbooks/%s.md", info->name);
        assert_string_equal(info->runbook, want);
        snprintf(path, sizeof(path), "%s/%s", jp_test_src(), info->runbook);
        if (access(path, R_OK) != 0)
            fail_msg("missing runbook %s", path);
    }
    assert_null(jp_alert_rule_info(JP_ALERT__COUNT));
}

static void test_binomial(void **state)
{
    (void)state;
    static const struct {
        int64_t k, n;
        double p, sf;
    } known[] = {
        {5, 100, 0.01, 0.0034323215877545207}, {3, 1000, 0.001, 0.080209342840201},
        {60, 1000, 0.05, 0.08673217838486187}, {1, 10, 0.1, 0.6513215599000001},
        {40, 1000, 0.05, 0.9401851209480963},  {200, 100000, 0.001, 8.887059167655946e-19},
        {12, 50, 0.1, 0.003219921135909919},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        double got = jp_binomial_sf(known[i].k, known[i].n, known[i].p);
        if (fabs(got - known[i].sf) > 1e-9 * known[i].sf + 1e-15)
            fail_msg("sf(%lld, %lld, %g) = %.17g, SciPy %.17g", (long long)known[i].k,
                     (long long)known[i].n, known[i].p, got, known[i].sf);
    }
    assert_true(jp_binomial_sf(0, 10, 0.5) == 1.0);
    assert_true(jp_binomial_sf(11, 10, 0.5) == 0.0);

    jp_quality_rate_t r;
    jp_quality_rate(3, 40, 0.01, 1e-4, 50, &r); /* too few records */
    assert_false(r.judged);
    jp_quality_rate(2, 100, 0.01, 1e-4, 50, &r); /* 2% of 100 is no evidence */
    assert_true(r.judged);
    assert_false(r.high);
    jp_quality_rate(60, 1000, 0.01, 1e-4, 50, &r);
    assert_true(r.high);
    assert_true(r.p_value < 1e-20);
}

static void test_buckets(void **state)
{
    (void)state;
    jp_quality_t q;
    jp_quality_bucket_t b;
    /* Records lost to retention before the partition's first record (the
     * task counted 3 at that record) belong to the first bucket. */
    jp_proc_counts_t c = {.lost = 3};
    const int64_t hour = 3600000;
    jp_quality_init(&q);
    /* Bucket 0: 10 records, 2 dead letters (1 late) between them. */
    for (int i = 0; i < 10; i++) {
        c.consumed++;
        c.applied += i > 0;
        assert_int_equal(jp_quality_record(&q, hour, 5, 1000 * i, &c, &b), 0);
        if (i == 4)
            c.consumed += 2, c.dead_lettered += 2, c.late += 1;
    }
    c.lost += 5; /* records lost before the next one */
    c.consumed++;
    /* The first record of the next hour closes bucket 0 ... */
    assert_int_equal(jp_quality_record(&q, hour, 5, hour + 5, &c, &b), 1);
    assert_int_equal(b.start_ms, 0);
    assert_int_equal(b.end_ms, hour);
    assert_int_equal(b.consumed, 12);
    assert_int_equal(b.dead_lettered, 2);
    assert_int_equal(b.late, 1);
    assert_int_equal(b.lost, 3 + 5);
    /* ... and an out-of-order record does not move the stream time back. */
    c.consumed++;
    assert_int_equal(jp_quality_record(&q, hour, 5, hour - 10, &c, &b), 0);
    assert_int_equal(q.stream_time, hour + 5);
    /* Hour 1 holds 2 records: too few (5) to judge, so its bucket goes on
     * through hour 2 and closes in hour 3 with 6. */
    c.consumed++;
    assert_int_equal(jp_quality_record(&q, hour, 5, 2 * hour + 1, &c, &b), 0);
    for (int i = 0; i < 3; i++) {
        c.consumed++;
        assert_int_equal(jp_quality_record(&q, hour, 5, 2 * hour + 2 + i, &c, &b), 0);
    }
    c.consumed++;
    assert_int_equal(jp_quality_record(&q, hour, 5, 3 * hour, &c, &b), 1);
    assert_int_equal(b.start_ms, hour);
    assert_int_equal(b.end_ms, 3 * hour);
    assert_int_equal(b.consumed, 6);
    assert_int_equal(b.lost, 0);
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_quality_serialize(&q, &w);
    jp_quality_t back;
    assert_int_equal(jp_quality_deserialize(&back, w.buf, w.len), 0);
    assert_memory_equal(&back, &q, sizeof(q));
    jp_bytes_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_encodings),   cmocka_unit_test(test_runbooks),
        cmocka_unit_test(test_binomial),    cmocka_unit_test(test_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
