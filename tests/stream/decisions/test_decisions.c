/*
 * The decisions processor (decisions/jp_decisions.h) in the running engine,
 * on the embedded stack, with tests/configs/sim/decisions.yaml (GB, NL, SE;
 * eight weeks) and the test stand-in for the learning loop
 * (support/jp_test_models.h) as the model source - wrapped so that SE has
 * no model and GB's error is out of band from week 7 on.
 *
 * - A replay from offset 0 with a fresh group and fresh state produces
 *   byte-identical records.
 * - Every decision time of a country after its first event has exactly one
 *   record, in order, keyed by country; decision ids are distinct UUIDs.
 * - GB decides with its model once the elasticities are identified: a
 *   horizon of 8 draws, every enabled rule with its slack, provenance
 *   (model version, event-time range, configuration hash, code version);
 *   SE falls back (no model) and keeps the advertised prize; GB falls back
 *   from week 7 (its error) - each with the reason in the record and the
 *   fallback metric counted. jackpot_recommendations_total and
 *   jackpot_recommended_prize_minor agree with the records.
 * - The processors are the app's (app/jp_compose.h: the model stand-in
 *   first, then the decisions). Over real HTTP (the admin server, curl):
 *   what-ifs and the latest answered while the engine decides (200, or 404
 *   before a country's first decision); afterwards the latest is the last
 *   record, a what-if at a prize answers with its figures, and a missing or
 *   malformed prize, a prize off the grid, another draw, a country without
 *   a model or not configured, another route and POST are refused with a
 *   JSON error. In process, a what-if at the recommended prize reproduces
 *   the record's value.
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/jp_admin.h"
#include "app/jp_compose.h"
#include "decisions/jp_decisions.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "jp_test.h"
#include "jp_test_engine.h"
#include "jp_test_models.h"

#define WORLD   "tests/configs/sim/decisions.yaml"
#define WAIT_MS 180000
#define WEEK_MS (7 * 86400000LL)

static jp_test_stack_t st;
static jp_sim_world_t g_world;

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "decisions", 1);
    jp_test_stack_simulate(&st, WORLD, 0);
    jp_test_world_load(WORLD, &g_world);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_sim_world_release(&g_world);
    jp_test_stack_stop(&st);
    return 0;
}

/* The stand-in, except that SE has no model and GB's error is out of band
 * from week 7. */
typedef struct {
    jp_test_models_t *models;
} source_t;

static int source(void *ctx, int partition, const char *country, int64_t time,
                  jp_decisions_model_t *out)
{
    source_t *s = ctx;
    if (strcmp(country, "SE") == 0)
        return 0;
    int rc = jp_test_models_source(s->models, partition, country, time, out);
    if (rc == 1 && strcmp(country, "GB") == 0 && time - g_world.start_ms >= 7 * WEEK_MS)
        out->error = 0.5;
    return rc;
}

typedef struct {
    jp_compose_t app; /* the app's rooms, with the stand-in as model source */
    jp_decisions_t *d;
    jp_test_models_t *models;
    source_t src;
    jp_metrics_t *metrics;
    jp_config_t cfg;
    jp_admin_t *admin;
    char url[64]; /* http://127.0.0.1:<port>/v1/countries/ */
} run_t;

/* GETs url through curl: the status code, the body in *body (may be NULL). */
static int curl_get(const char *url, const char *method, char **body)
{
    const char *argv[] = {"curl", "-s", "-X", method, "-w", "\n%{http_code}", url, NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    char *nl = strrchr(r.out, '\n');
    assert_non_null(nl);
    int code = atoi(nl + 1);
    *nl = '\0';
    if (body)
        *body = strdup(r.out);
    jp_test_result_free(&r);
    return code;
}

/* What-ifs and the latest over HTTP while the engine decides: every answer
 * is 200, or 404 before the country's first decision. */
static void hammer(const run_t *r, jp_test_engine_t *e)
{
    char urls[2][128];
    snprintf(urls[0], sizeof(urls[0]), "%sGB/whatif?prize=2500000", r->url);
    snprintf(urls[1], sizeof(urls[1]), "%sGB/recommendation", r->url);
    int ok = 0;
    for (;;) {
        jp_engine_totals_t t;
        jp_test_engine_totals(e, &t);
        for (int i = 0; i < 2; i++) {
            int code = curl_get(urls[i], "GET", NULL);
            assert_true(code == 200 || code == 404);
            ok += code == 200;
        }
        if (t.consumed >= st.records)
            break;
    }
    printf("what-ifs while deciding: %d answered 200\n", ok);
}

static void run(run_t *r, const char *tag, int http)
{
    jp_test_engine_config(&st, tag, &r->cfg);
    r->metrics = jp_metrics_new();
    char err[256];
    r->models = jp_test_models_new(&r->cfg, &g_world);
    r->src.models = r->models;
    assert_int_equal(jp_compose_init(&r->app, &r->cfg, r->metrics, jp_test_models_proc(r->models),
                                     source, &r->src, err, sizeof(err)),
                     0);
    r->d = r->app.decisions;
    /* models run before decisions, the alerts last */
    assert_int_equal(r->app.n_procs, r->cfg.alerts.enabled ? 3 : 2);
    assert_ptr_equal(r->app.procs[0], jp_test_models_proc(r->models));
    assert_ptr_equal(r->app.procs[1], jp_decisions_proc(r->app.decisions));
    if (r->cfg.alerts.enabled)
        assert_ptr_equal(r->app.procs[2], jp_alerts_proc(r->app.alerts));
    if (http) {
        r->admin = jp_admin_new(r->metrics);
        assert_int_equal(jp_admin_route_methods(r->admin, "/v1/countries/", JP_ADMIN_READS,
                                                "GET, HEAD", jp_compose_admin_handler, &r->app),
                         0);
        assert_int_equal(jp_admin_start(r->admin, "127.0.0.1:0", err, sizeof(err)), 0);
        snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/v1/countries/",
                 jp_admin_port(r->admin));
    }
    jp_test_engine_t *e = jp_test_engine_start_with(&r->cfg, NULL, r->app.procs, r->app.n_procs);
    if (http)
        hammer(r, e);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, WAIT_MS), 0);
    jp_test_engine_stop(e, NULL);
}

static void run_free(run_t *r)
{
    jp_admin_free(r->admin);
    jp_compose_release(&r->app);
    jp_test_models_free(r->models);
    jp_metrics_free(r->metrics);
    jp_config_release(&r->cfg);
}

typedef struct {
    char country[3];
    int64_t decision_time, prize;
    jp_recommendation_t r; /* strings point into the recset */
} rec_t;

static int rec_cmp(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    int c = strcmp(x->country, y->country);
    return c ? c : (x->decision_time > y->decision_time) - (x->decision_time < y->decision_time);
}

/* Decodes a recommendations recset (key = country), sorted by country and
 * decision time. */
static rec_t *decode(const jp_test_recset_t *set, jp_serde_t *serde, jp_avro_arena_t *arena)
{
    rec_t *v = calloc(set->n + 1, sizeof(*v));
    for (size_t i = 0; i < set->n; i++) {
        const unsigned char *b = (const unsigned char *)set->items[i];
        size_t klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        const char *key = set->items[i] + 4;
        char err[256];
        assert_int_equal(jp_serde_decode(serde, JP_EVENT_RECOMMENDATION, key + klen,
                                         set->lens[i] - 4 - klen, &v[i].r, arena, err, sizeof(err)),
                         JP_SERDE_OK);
        assert_int_equal(klen, 2);
        memcpy(v[i].country, key, 2);
        assert_memory_equal(v[i].r.country.ptr, key, 2);
        v[i].decision_time = v[i].r.decision_time;
        v[i].prize = v[i].r.prize_minor;
    }
    qsort(v, set->n, sizeof(*v), rec_cmp);
    return v;
}

/* 1 if the record's fallback reason mentions what. */
static int says(const jp_recommendation_t *r, const char *what)
{
    return r->has_fallback_reason &&
           memmem(r->fallback_reason.ptr, r->fallback_reason.len, what, strlen(what)) != NULL;
}

static uint64_t counter(jp_metrics_t *m, const char *name, const char *labels)
{
    char *text = jp_metrics_render(m), line[256];
    snprintf(line, sizeof(line), "%s{%s} ", name, labels);
    const char *p = strstr(text, line);
    uint64_t v = p ? strtoull(p + strlen(line), NULL, 10) : 0;
    free(text);
    return v;
}

static void check_country(const jp_config_t *cfg, const rec_t *v, size_t n, const char *cc,
                          size_t *count, size_t *fallbacks, size_t *model)
{
    const jp_country_t *c = jp_config_country(cfg, cc);
    jp_calendar_t *cal = jp_calendar_new(c, NULL, 0);
    *count = *fallbacks = *model = 0;
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].country, cc) != 0)
            continue;
        const jp_recommendation_t *r = &v[i].r;
        /* consecutive decision times of the calendar, from the first after
         * the stream's start */
        jp_draw_t d;
        assert_int_equal(
            jp_calendar_next_draw(
                cal, (prev ? prev : g_world.start_ms) + c->calendar.decision_lead_ms, 1, &d),
            0);
        assert_int_equal(r->decision_time, jp_calendar_decision_time(cal, &d));
        assert_true(jp_avro_str_eq(r->draw_id, d.id));
        prev = r->decision_time;
        (*count)++;
        assert_int_equal(r->decision_id.len, 36);
        assert_int_equal(r->decision_id.ptr[14], '5');
        assert_int_equal(r->provenance.config_hash.len, 64);
        assert_true(r->provenance.code_version.len > 8);
        assert_int_equal(r->provenance.data_snapshot.event_time_end,
                         r->decision_time - cfg->windows.grace_ms);
        assert_true(r->prize_minor >= c->prizes.headline.min_minor &&
                    r->prize_minor <= c->prizes.headline.max_minor);
        if (r->has_fallback_reason) {
            (*fallbacks)++;
            continue;
        }
        (*model)++;
        assert_int_equal(r->horizon_draws, c->decision.horizon_draws);
        assert_true(r->constraints.n >= 5);
        assert_true(r->model.versions.n >= 1);
        assert_true(r->model.elasticities.n >= 3);
        assert_true(r->expected_tickets > 0 && r->expected_sales_minor > 0);
        assert_true(r->expected_tickets_p5 <= r->expected_tickets &&
                    r->expected_tickets <= r->expected_tickets_p95);
        if (r->status == JP_RECOMMENDATION_INFEASIBLE)
            assert_true(r->infeasible_rules.n >= 1);
    }
    jp_calendar_free(cal);
}

static void test_decisions(void **state)
{
    (void)state;
    run_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    run(&a, "dec-a", 1);
    run(&b, "dec-b", 0);
    jp_test_recset_t ra, rb;
    jp_test_read_distinct(&st, a.cfg.topics.recommendations, &ra);
    jp_test_read_distinct(&st, b.cfg.topics.recommendations, &rb);
    printf("records: %zu and %zu (read %zu, %zu)\n", ra.n, rb.n, ra.read, rb.read);
    assert_true(ra.n >= 15);
    assert_true(jp_test_recset_equal(&ra, &rb)); /* byte-identical replay */

    char err[256];
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(st.stack), err, sizeof(err));
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    rec_t *v = decode(&ra, serde, &arena);

    for (size_t i = 0; i < ra.n; i++)
        printf("%s %.*s prize %lld status %d tickets %.0f value %.4g explored %d: %.*s\n",
               v[i].country, (int)v[i].r.draw_id.len, v[i].r.draw_id.ptr, (long long)v[i].prize,
               (int)v[i].r.status, v[i].r.expected_tickets, v[i].r.horizon_value_minor,
               v[i].r.exploration.explored, (int)v[i].r.fallback_reason.len,
               v[i].r.has_fallback_reason ? v[i].r.fallback_reason.ptr : "");
    for (size_t i = 0; i < ra.n; i++)
        for (size_t j = i + 1; j < ra.n; j++)
            assert_false(v[i].r.decision_id.len == v[j].r.decision_id.len &&
                         memcmp(v[i].r.decision_id.ptr, v[j].r.decision_id.ptr,
                                v[i].r.decision_id.len) == 0);
    size_t gb, gb_fb, gb_model, nl, nl_fb, nl_model, se, se_fb, se_model;
    check_country(&a.cfg, v, ra.n, "GB", &gb, &gb_fb, &gb_model);
    check_country(&a.cfg, v, ra.n, "NL", &nl, &nl_fb, &nl_model);
    check_country(&a.cfg, v, ra.n, "SE", &se, &se_fb, &se_model);
    printf("GB %zu (%zu by the model), NL %zu (%zu), SE %zu (%zu)\n", gb, gb_model, nl, nl_model,
           se, se_model);
    assert_int_equal(gb + nl + se, ra.n);
    assert_true(gb >= 7 && se >= 7 && nl >= 1);
    assert_true(gb_model >= 3);
    assert_int_equal(se_fb, se);
    /* SE: no model - the keep rule, the reason, the metric */
    const rec_t *last_se = NULL, *last_gb = NULL;
    for (size_t i = 0; i < ra.n; i++) {
        if (strcmp(v[i].country, "SE") == 0) {
            assert_true(says(&v[i].r, "no_model"));
            last_se = &v[i];
        }
        if (strcmp(v[i].country, "GB") == 0)
            last_gb = &v[i];
        if (strcmp(v[i].country, "GB") == 0 && v[i].decision_time - g_world.start_ms >= 7 * WEEK_MS)
            assert_true(says(&v[i].r, "error_out_of_band"));
    }
    assert_int_equal(last_se->prize, 5000000); /* the advertised (last drawn) prize */
    assert_true(says(&last_gb->r, "error_out_of_band"));
    assert_int_equal(counter(a.metrics, "jackpot_recommendation_fallbacks_total",
                             "country=\"GB\",reason=\"error_out_of_band\""),
                     1);
    assert_int_equal(counter(a.metrics, "jackpot_recommendation_fallbacks_total",
                             "country=\"SE\",reason=\"no_model\""),
                     se);
    uint64_t ok = counter(a.metrics, "jackpot_recommendations_total",
                          "country=\"GB\",status=\"OK\""),
             inf = counter(a.metrics, "jackpot_recommendations_total",
                           "country=\"GB\",status=\"INFEASIBLE\"");
    assert_int_equal(ok + inf, gb);
    char *text = jp_metrics_render(a.metrics), line[128];
    snprintf(line, sizeof(line), "jackpot_recommended_prize_minor{country=\"GB\"} %lld\n",
             (long long)last_gb->prize);
    assert_non_null(strstr(text, line));
    free(text);

    /* over HTTP (curl): the latest, what-ifs, and what they refuse */
    char url[192], *body = NULL;
    snprintf(url, sizeof(url), "%sGB/recommendation", a.url);
    assert_int_equal(curl_get(url, "GET", &body), 200);
    json_t *h = json_loads(body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(h, "prize_minor")), last_gb->prize);
    json_decref(h);
    free(body);
    snprintf(url, sizeof(url), "%sGB/whatif?prize=%lld", a.url, (long long)last_gb->prize);
    assert_int_equal(curl_get(url, "GET", &body), 200);
    h = json_loads(body, 0, NULL);
    assert_true(json_is_true(json_object_get(h, "whatif")));
    assert_true(json_is_array(json_object_get(h, "constraints")));
    json_decref(h);
    free(body);
    assert_int_equal(curl_get(url, "POST", NULL), 405);
    const char *refused[][2] = {{"GB/whatif", "400"},
                                {"GB/whatif?prize=abc", "400"},
                                {"GB/whatif?prize=1", "400"},
                                {"GB/whatif?prize=2500000&draw=GB-20260103-saturday", "404"},
                                {"SE/whatif?prize=5000000", "404"},
                                {"ZZ/whatif?prize=5000000", "404"},
                                {"GB/unknown", "404"}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(url, sizeof(url), "%s%s", a.url, refused[i][0]);
        assert_int_equal(curl_get(url, "GET", &body), atoi(refused[i][1]));
        h = json_loads(body, 0, NULL);
        assert_true(json_is_string(json_object_get(h, "error")));
        json_decref(h);
        free(body);
    }
    jp_admin_stop(a.admin);

    /* serving: the latest, and what-ifs */
    char *latest = jp_decisions_latest_json(a.d, "GB");
    assert_non_null(latest);
    json_t *j = json_loads(latest, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "prize_minor")), last_gb->prize);
    assert_true(json_is_array(json_object_get(j, "constraints")));
    json_decref(j);
    free(latest);
    int64_t prize = last_gb->prize;
    assert_int_equal(jp_decisions_whatif_json(a.d, "GB", prize, NULL, &body), 200);
    j = json_loads(body, 0, NULL);
    assert_true(json_is_true(json_object_get(j, "whatif")));
    assert_int_equal(json_integer_value(json_object_get(j, "prize_minor")), prize);
    /* the latest decision's value at its own prize (amounts in whole minor
     * units in JSON) */
    assert_true(fabs(json_number_value(json_object_get(j, "horizon_value_minor")) -
                     last_gb->r.horizon_value_minor) <=
                0.5 + 1e-9 * fabs(last_gb->r.horizon_value_minor));
    json_decref(j);
    free(body);
    assert_int_equal(jp_decisions_whatif_json(a.d, "GB", prize, "GB-20260101-saturday", &body),
                     404);
    free(body);
    assert_int_equal(jp_decisions_whatif_json(a.d, "GB", 1, NULL, &body), 400);
    free(body);
    assert_int_equal(jp_decisions_whatif_json(a.d, "SE", 5000000, NULL, &body), 404);
    assert_non_null(strstr(body, "no_model"));
    free(body);
    assert_int_equal(jp_decisions_whatif_json(a.d, "DE", 1000000, NULL, &body), 404);
    free(body);

    free(v);
    jp_avro_arena_free(&arena);
    jp_serde_free(serde);
    jp_registry_client_free(reg);
    jp_test_recset_free(&ra);
    jp_test_recset_free(&rb);
    run_free(&a);
    run_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
