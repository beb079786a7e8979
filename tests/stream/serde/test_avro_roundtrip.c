/*
 * Round trips for every schema in schemas/ (through the structs of
 * jp_events.h): encode -> decode -> encode gives identical bytes and equal
 * fields, and avro-c (an independent implementation) reads what we wrote.
 * Interop the other way: records written by avro-c's generic writer with an
 * evolved SaleEvent writer schema (field added, field removed, enum symbol
 * added, int where the reader has long) decode into jp_sale_event_t.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serde/jp_avro_plan.h"
#include "serde/jp_embedded.h"
#include "serde/jp_events.h"

static jp_avro_schema_t *event_schema(jp_event_type_t t)
{
    size_t len;
    const char *json = jp_event_schema_json(t, &len);
    assert_non_null(json);
    char err[256];
    jp_avro_schema_t *s = jp_avro_schema_parse(json, len, err, sizeof err);
    if (!s)
        fail_msg("%s: %s", jp_event_info(t)->schema_file, err);
    return s;
}

static jp_avro_plan_t *identity_plan(const jp_avro_schema_t *s, const jp_avro_layout_t *layout)
{
    jp_serde_err_t err;
    char why[256];
    jp_avro_plan_t *p = jp_avro_plan_compile(jp_avro_schema_root(s), jp_avro_schema_root(s), layout,
                                             &err, why, sizeof why);
    if (!p)
        fail_msg("plan for %s: %s", layout->name, why);
    return p;
}

/* Reads bytes with avro-c's generic reader; returns the value (caller
 * decrefs value and iface). */
static void avroc_read(jp_event_type_t t, const jp_avro_buf_t *buf, avro_value_t *value,
                       avro_value_iface_t **iface, avro_schema_t *schema)
{
    size_t len;
    const char *json = jp_event_schema_json(t, &len);
    if (avro_schema_from_json_length(json, len, schema) != 0)
        fail_msg("avro-c cannot parse %s: %s", jp_event_info(t)->schema_file, avro_strerror());
    *iface = avro_generic_class_from_schema(*schema);
    assert_int_equal(avro_generic_value_new(*iface, value), 0);
    avro_reader_t r = avro_reader_memory((const char *)buf->data, (int64_t)buf->len);
    if (avro_value_read(r, value) != 0)
        fail_msg("avro-c cannot read our %s: %s", jp_event_info(t)->schema_file, avro_strerror());
    avro_reader_free(r);
}

static avro_value_t get(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        fail_msg("avro-c: no field %s", name);
    return f;
}

static void assert_avroc_string(avro_value_t *rec, const char *name, const char *want)
{
    avro_value_t f = get(rec, name);
    const char *s;
    size_t n;
    assert_int_equal(avro_value_get_string(&f, &s, &n), 0);
    assert_string_equal(s, want); /* avro-c strings are NUL-terminated */
}

/* encode -> decode -> encode; returns the first encoding (caller frees). */
static jp_avro_buf_t roundtrip(jp_event_type_t t, const void *in, void *out, jp_avro_arena_t *arena)
{
    const jp_event_info_t *info = jp_event_info(t);
    jp_avro_schema_t *s = event_schema(t);
    jp_avro_plan_t *p = identity_plan(s, info->layout);
    jp_avro_buf_t a = {0}, b = {0};
    char why[256];
    assert_int_equal(jp_avro_plan_encode(p, in, &a, why, sizeof why), JP_SERDE_OK);
    assert_int_equal(jp_avro_plan_decode(p, a.data, a.len, out, arena, 0, why, sizeof why),
                     JP_SERDE_OK);
    assert_int_equal(jp_avro_plan_encode(p, out, &b, why, sizeof why), JP_SERDE_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    jp_avro_buf_free(&b);
    jp_avro_plan_free(p);
    jp_avro_schema_free(s);
    return a;
}

#define S(lit)               jp_avro_str(lit)
#define ASSERT_STR(got, lit) assert_true(jp_avro_str_eq((got), (lit)))

static void test_sale_event(void **state)
{
    (void)state;
    jp_sale_event_t in = {
        .event_id = S("6f1c2a9e-4d1b-4a53-9a39-0f5b8f2f0c11"),
        .country = S("GB"),
        .event_time = 1700000000123,
        .customer_id = S("cust-42"),
        .postcode = S("EH1 1AA"),
        .channel = JP_SALE_CHANNEL_DIRECT_DEBIT,
        .tickets = 3,
        .amount_minor = 3300,
        .currency = S("GBP"),
        .draw_id = S("GB-2023-11-14"),
        .advertised_prize_minor = 3000000,
        .has_campaign = 1,
        .campaign = S("xmas"),
    };
    jp_sale_event_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_SALE, &in, &out, &arena);
    ASSERT_STR(out.event_id, "6f1c2a9e-4d1b-4a53-9a39-0f5b8f2f0c11");
    ASSERT_STR(out.postcode, "EH1 1AA");
    assert_int_equal(out.event_time, 1700000000123);
    assert_int_equal(out.channel, JP_SALE_CHANNEL_DIRECT_DEBIT);
    assert_int_equal(out.tickets, 3);
    assert_int_equal(out.amount_minor, 3300);
    assert_int_equal(out.advertised_prize_minor, 3000000);
    assert_int_equal(out.has_campaign, 1);
    ASSERT_STR(out.campaign, "xmas");

    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_SALE, &bytes, &v, &iface, &schema);
    assert_avroc_string(&v, "country", "GB");
    assert_avroc_string(&v, "currency", "GBP");
    avro_value_t f = get(&v, "tickets");
    int32_t i32;
    avro_value_get_int(&f, &i32);
    assert_int_equal(i32, 3);
    f = get(&v, "channel");
    int e;
    avro_value_get_enum(&f, &e);
    assert_int_equal(e, JP_SALE_CHANNEL_DIRECT_DEBIT);
    f = get(&v, "campaign");
    avro_value_t branch;
    avro_value_get_current_branch(&f, &branch);
    assert_int_equal(avro_value_get_type(&branch), AVRO_STRING);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);

    /* without a campaign */
    in.has_campaign = 0;
    jp_avro_buf_free(&bytes);
    bytes = roundtrip(JP_EVENT_SALE, &in, &out, &arena);
    assert_int_equal(out.has_campaign, 0);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_customer_event(void **state)
{
    (void)state;
    jp_customer_event_t in = {
        .event_id = S("2b0c9a64-1d2e-4f0a-8f55-7c9e0d1a2b3c"),
        .country = S("NL"),
        .event_time = 1700000000000,
        .customer_id = S("c-1"),
        .has_email = 1,
        .email = S("a@example.org"),
        .postcode = S("1012 AB"),
        .type = JP_CUSTOMER_EVENT_CANCEL,
        .subscription_tickets = 0,
        .has_reason = 0,
    };
    jp_customer_event_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_CUSTOMER, &in, &out, &arena);
    ASSERT_STR(out.email, "a@example.org");
    assert_int_equal(out.has_email, 1);
    assert_int_equal(out.has_reason, 0);
    assert_int_equal(out.type, JP_CUSTOMER_EVENT_CANCEL);
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_CUSTOMER, &bytes, &v, &iface, &schema);
    assert_avroc_string(&v, "postcode", "1012 AB");
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_draw_result(void **state)
{
    (void)state;
    jp_prize_paid_t prizes[2] = {
        {S("headline"), 12, 36000000},
        {S("street"), 40, 400000},
    };
    jp_draw_result_t in = {
        .country = S("GB"),
        .draw_id = S("GB-2023-11-14"),
        .draw_time = 1699990000000,
        .headline_prize_minor = 3000000,
        .prize_kind = JP_PRIZE_KIND_PER_TICKET,
        .winning_sector = S("EH1 1"),
        .tickets_in_winning_postcode = 12,
        .prizes_paid = {prizes, 2},
    };
    jp_draw_result_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_DRAW, &in, &out, &arena);
    assert_int_equal(out.prizes_paid.n, 2);
    const jp_prize_paid_t *p = out.prizes_paid.items;
    ASSERT_STR(p[1].kind, "street");
    assert_int_equal(p[1].winners, 40);
    assert_int_equal(p[0].amount_minor, 36000000);
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_DRAW, &bytes, &v, &iface, &schema);
    avro_value_t arr = get(&v, "prizes_paid");
    size_t n;
    avro_value_get_size(&arr, &n);
    assert_int_equal(n, 2);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_recommendation(void **state)
{
    (void)state;
    jp_avro_str_t binding[2] = {S("max_single_prize"), S("payout_ratio_52w")};
    jp_avro_str_t violated[1] = {S("cash_safety_net")};
    jp_alternative_t alts[2] = {
        {2500000, 9.1e6, 1.2e6, 1, {NULL, 0}},
        {3500000, 9.4e6, 0.9e6, 0, {violated, 1}},
    };
    jp_offset_range_t ranges[1] = {{S("lottery.sales.v1"), 3, 100, 2000}};
    jp_recommendation_t in = {
        .country = S("GB"),
        .decision_id = S("0d9f8e7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"),
        .draw_id = S("GB-2023-11-21"),
        .decision_time = 1700000000000,
        .currency = S("GBP"),
        .prize_minor = 3000000,
        .expected_sales_minor = 9.3e6,
        .expected_sales_p5_minor = 8.1e6,
        .expected_sales_p95_minor = 1.05e7,
        .expected_net_revenue_minor = 1.1e6,
        .payout_ratio = 0.41,
        .binding_constraints = {binding, 2},
        .alternatives = {alts, 2},
        .status = JP_RECOMMENDATION_OK,
        .provenance = {S("sales-GB@12"),
                       {{ranges, 1}, 1699000000000, 1700000000000},
                       S("ab12"),
                       S("0.1.0+abc")},
    };
    jp_recommendation_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_RECOMMENDATION, &in, &out, &arena);
    assert_int_equal(out.binding_constraints.n, 2);
    ASSERT_STR(((jp_avro_str_t *)out.binding_constraints.items)[1], "payout_ratio_52w");
    const jp_alternative_t *a = out.alternatives.items;
    assert_int_equal(a[1].feasible, 0);
    assert_int_equal(a[1].violated_constraints.n, 1);
    assert_true(a[0].expected_sales_minor == 9.1e6);
    assert_true(out.payout_ratio == 0.41);
    const jp_offset_range_t *r = out.provenance.data_snapshot.offsets.items;
    assert_int_equal(r[0].partition, 3);
    assert_int_equal(r[0].end_offset, 2000);
    ASSERT_STR(out.provenance.code_version, "0.1.0+abc");
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_RECOMMENDATION, &bytes, &v, &iface, &schema);
    avro_value_t prov = get(&v, "provenance");
    assert_avroc_string(&prov, "config_hash", "ab12");
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_alert(void **state)
{
    (void)state;
    jp_avro_str_t keys[2] = {S("feature"), S("partition")};
    jp_avro_str_t vals[2] = {S("tickets"), S("3")};
    jp_alert_t in = {
        .fingerprint = S("f00d"),
        .name = S("FeatureDriftCritical"),
        .severity = JP_ALERT_SEVERITY_CRITICAL,
        .status = JP_ALERT_STATUS_RESOLVED,
        .has_country = 1,
        .country = S("SE"),
        .summary = S("PSI 0.31 on tickets"),
        .runbook_url = S("docs/runbooks/feature-drift.md"),
        .labels = {keys, vals, 2},
        .starts_at = 1700000000000,
        .has_ends_at = 1,
        .ends_at = 1700003600000,
    };
    jp_alert_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_ALERT, &in, &out, &arena);
    assert_int_equal(out.labels.n, 2);
    ASSERT_STR(out.labels.keys[1], "partition");
    ASSERT_STR(((jp_avro_str_t *)out.labels.values)[1], "3");
    assert_int_equal(out.has_ends_at, 1);
    assert_int_equal(out.ends_at, 1700003600000);
    assert_int_equal(out.status, JP_ALERT_STATUS_RESOLVED);
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_ALERT, &bytes, &v, &iface, &schema);
    avro_value_t labels = get(&v, "labels");
    avro_value_t lv;
    assert_int_equal(avro_value_get_by_name(&labels, "feature", &lv, NULL), 0);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_feature_vector(void **state)
{
    (void)state;
    jp_avro_str_t keys[2] = {S("WEB"), S("DIRECT_DEBIT")};
    int64_t mix[2] = {120, 880};
    double q[5] = {1, 3, 9, 27, 140};
    jp_feature_vector_t in = {
        .country = S("DE"),
        .window_kind = JP_WINDOW_DAY,
        .window_start = 1699920000000,
        .window_end = 1700006400000,
        .tickets = 1000,
        .revenue_minor = 500000,
        .signups = 7,
        .cancellations = 3,
        .reactivations = 1,
        .payment_failures = 2,
        .active_subscribers = 40000,
        .unique_players = 950,
        .channel_mix = {keys, mix, 2},
        .extra_tickets = 120,
        .sector_ticket_quantiles = {q, 5},
        .prizes_paid_minor = 0,
    };
    jp_feature_vector_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_FEATURES, &in, &out, &arena);
    assert_int_equal(((int64_t *)out.channel_mix.values)[1], 880);
    assert_true(((double *)out.sector_ticket_quantiles.items)[4] == 140);
    assert_int_equal(out.active_subscribers, 40000);
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_FEATURES, &bytes, &v, &iface, &schema);
    assert_avroc_string(&v, "country", "DE");
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_model_version(void **state)
{
    (void)state;
    jp_avro_str_t aliases[1] = {S("champion")};
    jp_avro_str_t mkeys[2] = {S("mae"), S("rmse")};
    double mvals[2] = {12.5, 17.25};
    static const char params[] = {0x4a, 0x50, 0x00, 0x01, (char)0xff};
    jp_model_version_t in = {
        .model = S("sales-GB"),
        .version = 12,
        .stage = JP_MODEL_STAGE_PRODUCTION,
        .aliases = {aliases, 1},
        .parameters = {params, sizeof params},
        .metrics = {mkeys, mvals, 2},
        .training_data = {{NULL, 0}, 1699000000000, 1700000000000},
        .code_version = S("0.1.0"),
        .config_hash = S("beef"),
        .created_at = 1700000000000,
    };
    jp_model_version_t out;
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_avro_buf_t bytes = roundtrip(JP_EVENT_MODEL_VERSION, &in, &out, &arena);
    assert_int_equal(out.parameters.len, sizeof params);
    assert_memory_equal(out.parameters.ptr, params, sizeof params);
    assert_true(((double *)out.metrics.values)[1] == 17.25);
    assert_int_equal(out.training_data.offsets.n, 0);
    assert_int_equal(out.stage, JP_MODEL_STAGE_PRODUCTION);
    avro_value_t v;
    avro_value_iface_t *iface;
    avro_schema_t schema;
    avroc_read(JP_EVENT_MODEL_VERSION, &bytes, &v, &iface, &schema);
    assert_avroc_string(&v, "model", "sales-GB");
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    jp_avro_buf_free(&bytes);
    jp_avro_arena_free(&arena);
}

static void test_every_schema_covered(void **state)
{
    (void)state;
    /* Every embedded schema has an event type, and every event type a plan. */
    size_t files = 0;
    for (const jp_embedded_file_t *f = jp_embedded_files; f->name; f++) {
        int found = 0;
        for (int t = 0; t < JP_EVENT__COUNT; t++)
            found |= strcmp(jp_event_info((jp_event_type_t)t)->schema_file, f->name) == 0;
        if (!found)
            fail_msg("schemas/%s has no jp_event_type_t", f->name);
        files++;
    }
    assert_int_equal(files, JP_EVENT__COUNT);
    for (int t = 0; t < JP_EVENT__COUNT; t++) {
        jp_avro_schema_t *s = event_schema((jp_event_type_t)t);
        assert_string_equal(jp_avro_schema_root(s)->name,
                            jp_event_info((jp_event_type_t)t)->record);
        jp_avro_plan_free(identity_plan(s, jp_event_info((jp_event_type_t)t)->layout));
        jp_avro_schema_free(s);
    }
}

/* ---- avro-c writer, evolved writer schema --------------------------------- */

static const char *EVOLVED_SALE =
    "{\"type\":\"record\",\"name\":\"SaleEvent\",\"namespace\":\"lottery.events.v1\","
    "\"fields\":["
    "{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"loyalty_tier\",\"type\":\"string\",\"default\":\"none\"},"
    "{\"name\":\"country\",\"type\":\"string\"},"
    "{\"name\":\"event_time\",\"type\":\"long\"},"
    "{\"name\":\"customer_id\",\"type\":\"string\"},"
    "{\"name\":\"postcode\",\"type\":\"string\"},"
    "{\"name\":\"channel\",\"type\":{\"type\":\"enum\",\"name\":\"SaleChannel\",\"symbols\":["
    "\"WEB\",\"APP\",\"PHONE\",\"DIRECT_DEBIT\",\"RETAIL\",\"PARTNER\",\"UNKNOWN\",\"KIOSK\"],"
    "\"default\":\"UNKNOWN\"}},"
    "{\"name\":\"tickets\",\"type\":\"int\"},"
    "{\"name\":\"amount_minor\",\"type\":\"int\"},"
    "{\"name\":\"currency\",\"type\":\"string\"},"
    "{\"name\":\"draw_id\",\"type\":\"string\"},"
    "{\"name\":\"advertised_prize_minor\",\"type\":\"long\"},"
    "{\"name\":\"scores\",\"type\":{\"type\":\"array\",\"items\":\"double\"},\"default\":[]}]}";

static void set_str(avro_value_t *rec, const char *name, const char *v)
{
    avro_value_t f = get(rec, name);
    assert_int_equal(avro_value_set_string(&f, v), 0);
}

static void test_avroc_evolved_writer(void **state)
{
    (void)state;
    avro_schema_t ws;
    assert_int_equal(avro_schema_from_json_length(EVOLVED_SALE, strlen(EVOLVED_SALE), &ws), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(ws);
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(iface, &rec), 0);
    set_str(&rec, "event_id", "e-1");
    set_str(&rec, "loyalty_tier", "gold");
    set_str(&rec, "country", "NO");
    avro_value_t f = get(&rec, "event_time");
    avro_value_set_long(&f, 1700000000999);
    set_str(&rec, "customer_id", "c-9");
    set_str(&rec, "postcode", "0150");
    f = get(&rec, "channel");
    avro_value_set_enum(&f, 7); /* KIOSK: unknown to the reader */
    f = get(&rec, "tickets");
    avro_value_set_int(&f, 5);
    f = get(&rec, "amount_minor");
    avro_value_set_int(&f, 12500); /* int, the reader has long */
    set_str(&rec, "currency", "NOK");
    set_str(&rec, "draw_id", "NO-1");
    f = get(&rec, "advertised_prize_minor");
    avro_value_set_long(&f, 50000000);
    f = get(&rec, "scores");
    for (int i = 0; i < 3; i++) {
        avro_value_t item;
        avro_value_append(&f, &item, NULL);
        avro_value_set_double(&item, i * 0.5);
    }
    char buf[512];
    avro_writer_t w = avro_writer_memory(buf, sizeof buf);
    assert_int_equal(avro_value_write(w, &rec), 0);
    size_t len = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(ws);

    char err[256];
    jp_avro_schema_t *writer =
        jp_avro_schema_parse(EVOLVED_SALE, strlen(EVOLVED_SALE), err, sizeof err);
    assert_non_null(writer);
    jp_avro_schema_t *reader = event_schema(JP_EVENT_SALE);
    /* The checker agrees with the plan compiler. */
    assert_int_equal(jp_avro_schema_can_read(reader, writer, err, sizeof err), 0);
    jp_serde_err_t e;
    jp_avro_plan_t *p =
        jp_avro_plan_compile(jp_avro_schema_root(writer), jp_avro_schema_root(reader),
                             &jp_sale_event_layout, &e, err, sizeof err);
    assert_non_null(p);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_sale_event_t out;
    assert_int_equal(jp_avro_plan_decode(p, buf, len, &out, &arena, 0, err, sizeof err),
                     JP_SERDE_OK);
    ASSERT_STR(out.event_id, "e-1");
    ASSERT_STR(out.country, "NO");
    assert_int_equal(out.event_time, 1700000000999);
    ASSERT_STR(out.postcode, "0150");
    assert_int_equal(out.channel, JP_SALE_CHANNEL_UNKNOWN);
    assert_int_equal(out.tickets, 5);
    assert_int_equal(out.amount_minor, 12500);
    ASSERT_STR(out.currency, "NOK");
    assert_int_equal(out.advertised_prize_minor, 50000000);
    assert_int_equal(out.has_campaign, 0); /* reader-only, default null */
    jp_avro_arena_free(&arena);
    jp_avro_plan_free(p);
    jp_avro_schema_free(writer);
    jp_avro_schema_free(reader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sale_event),
        cmocka_unit_test(test_customer_event),
        cmocka_unit_test(test_draw_result),
        cmocka_unit_test(test_recommendation),
        cmocka_unit_test(test_alert),
        cmocka_unit_test(test_feature_vector),
        cmocka_unit_test(test_model_version),
        cmocka_unit_test(test_every_schema_covered),
        cmocka_unit_test(test_avroc_evolved_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
