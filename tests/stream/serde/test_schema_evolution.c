/*
 * The engine's own output schemas evolve compatibly: FeatureVector v2 and
 * ModelVersion v2 (schemas/) against their first releases (the v1 files in
 * tests/fixtures/avro) pass the registry's FULL check (BACKWARD and
 * FORWARD: every added field has a default), and a record written with v1
 * reads with the engine's v2 reader: the v1 fields as written, the new ones
 * at their defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jp_test.h"
#include "serde/jp_avro_plan.h"
#include "serde/jp_avro_schema.h"
#include "serde/jp_events.h"

static char *slurp(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", jp_test_src(), rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static jp_avro_schema_t *parse_file(const char *rel)
{
    size_t len;
    char *json = slurp(rel, &len), err[256];
    jp_avro_schema_t *s = jp_avro_schema_parse(json, len, err, sizeof err);
    if (!s)
        fail_msg("%s: %s", rel, err);
    free(json);
    return s;
}

static void assert_full_compatible(const char *v1, const char *v2)
{
    jp_avro_schema_t *old = parse_file(v1), *cur = parse_file(v2);
    const jp_avro_schema_t *existing[] = {old};
    char err[512];
    if (jp_avro_compat_check(JP_AVRO_COMPAT_FULL, cur, existing, 1, err, sizeof err) != 0)
        fail_msg("%s -> %s: %s", v1, v2, err);
    jp_avro_schema_free(old);
    jp_avro_schema_free(cur);
}

static void test_full_compatible(void **state)
{
    (void)state;
    assert_full_compatible("tests/fixtures/avro/FeatureVector.v1.avsc",
                           "schemas/FeatureVector.avsc");
    assert_full_compatible("tests/fixtures/avro/ModelVersion.v1.avsc", "schemas/ModelVersion.avsc");
}

/* The v1 fields of the C struct, to write a v1 record: v2 only appended
 * fields, so v1's are the first 16 of the engine's layout. */
#define V1_FIELDS 16

static void test_v1_record_reads_with_v2(void **state)
{
    (void)state;
    jp_avro_schema_t *v1 = parse_file("tests/fixtures/avro/FeatureVector.v1.avsc");
    jp_avro_schema_t *v2 = parse_file("schemas/FeatureVector.avsc");
    jp_serde_err_t e;
    char why[256];
    jp_avro_layout_t v1_layout = jp_feature_vector_layout;
    v1_layout.n_fields = V1_FIELDS;
    jp_avro_plan_t *w = jp_avro_plan_compile(jp_avro_schema_root(v1), jp_avro_schema_root(v1),
                                             &v1_layout, &e, why, sizeof why);
    jp_avro_plan_t *r = jp_avro_plan_compile(jp_avro_schema_root(v1), jp_avro_schema_root(v2),
                                             &jp_feature_vector_layout, &e, why, sizeof why);
    if (!w || !r)
        fail_msg("plan: %s", why);
    double q[7] = {1, 2, 3, 4, 5, 6, 7};
    jp_feature_vector_t in;
    memset(&in, 0, sizeof in);
    in.country = jp_avro_str("NL");
    in.window_kind = JP_WINDOW_DAY;
    in.window_start = 86400000;
    in.window_end = 2 * 86400000;
    in.tickets = 1234;
    in.active_subscribers = 77;
    in.sector_ticket_quantiles.items = q;
    in.sector_ticket_quantiles.n = 7;
    jp_avro_buf_t bytes = {0};
    assert_int_equal(jp_avro_plan_encode(w, &in, &bytes, why, sizeof why), JP_SERDE_OK);
    jp_feature_vector_t out;
    memset(&out, 0x5a, sizeof out);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    assert_int_equal(
        jp_avro_plan_decode(r, bytes.data, bytes.len, &out, &arena, 0, why, sizeof why),
        JP_SERDE_OK);
    assert_true(jp_avro_str_eq(out.country, "NL"));
    assert_int_equal(out.window_kind, JP_WINDOW_DAY);
    assert_int_equal(out.tickets, 1234);
    assert_int_equal(out.active_subscribers, 77);
    assert_int_equal(out.sector_ticket_quantiles.n, 7);
    /* the v2 fields at their defaults */
    assert_int_equal(out.advertised_prize_minor, 0);
    assert_false(out.has_log_prize_mean);
    assert_true(out.log_prize_var == 0.0);
    assert_int_equal(out.campaign_shares.n, 0);
    assert_int_equal(out.renewals, 0);
    assert_int_equal(out.subscribers_held, 0);
    assert_int_equal(out.participating_postcodes, 0);
    assert_true(out.held_tickets_mean == 0.0);
    assert_int_equal(out.held_ticket_quantiles.n, 0);
    assert_int_equal(out.held_ticket_histogram.n, 0);
    jp_avro_arena_free(&arena);
    jp_avro_buf_free(&bytes);
    jp_avro_plan_free(w);
    jp_avro_plan_free(r);
    jp_avro_schema_free(v1);
    jp_avro_schema_free(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_compatible),
        cmocka_unit_test(test_v1_record_reads_with_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
