/*
 * The learning loop's mechanics on the embedded stack, with
 * configs/sim/explore.yaml shrunk 50 times (populations and sign-ups) for
 * 12 weeks, produced before the runs (it fits the dev broker):
 *
 * - Determinism: the models topic of a reference run is the same set of
 *   records, byte for byte, as that of a run stopped twice mid-stream, the
 *   second time with its state directory deleted (a changelog restore):
 *   the models' state survives both and nothing depends on fetch timing.
 *   Commits at the harness's 200 ms make the dev broker trim the models
 *   changelog (it keeps ~5 MB of a partition) before the restore: state
 *   written once and never again (the per-day offset ranges of the data
 *   snapshots were such keys) would be lost, and the next version's
 *   training_data would differ.
 * - The registry over the admin API and `jackpot models` (the real binary),
 *   with the engine still running: list, show --json (each alias has
 *   elasticities {signups, extras, cancellations} with estimate and
 *   stderr), compare; rollback (of the first country's sales champion that
 *   replaced an earlier one) refused without a token (401) and with a
 *   viewer's (403), done with an operator's (the previous champion is the
 *   champion again, and a ROLLED_BACK record follows); promote of an
 *   unknown version refused (409).
 * - Hooks: the evaluation listener gets finite residuals and log-losses; a
 *   processor registered after the models (as the alerts would be) calls
 *   the retrain entry point for GB's sales model and reads the champion
 *   accessor on the engine thread; the next GB sales version names the
 *   change point.
 * - Metrics: the prediction error gauges and the promotion counters.
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
#include <jwt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/jp_admin.h"
#include "app/jp_auth.h"
#include "jp_test.h"
#include "jp_test_engine.h"
#include "models/jp_models.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "config/jp_topics.h"
#include "dev/jp_devstack.h"
#include "jp_test_topic.h"

#define WEEKS   12
#define WAIT_MS 300000
#define DAY_MS  86400000LL

static jp_test_stack_t st;
static const char jwt_key[] = "0123456789abcdef0123456789abcdef";

static void shrunk_world(jp_sim_world_t *w)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/configs/sim/explore.yaml", jp_test_src());
    jp_test_world_load(path, w);
    jp_sim_country_t *k = w->countries.items;
    for (size_t i = 0; i < w->countries.n; i++) {
        k[i].population.subscribers /= 50;
        k[i].population.postcodes /= 50;
        k[i].response.signups_per_day /= 50;
    }
}

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "models", 1);
    jp_sim_world_t w;
    shrunk_world(&w);
    jp_test_stack_simulate_world(&st, &w, WEEKS);
    jp_sim_world_release(&w);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    return 0;
}

/* ---- determinism ------------------------------------------------------------- */

static jp_test_engine_t *start(const jp_config_t *cfg, jp_models_t **g)
{
    char err[256];
    *g = jp_models_new(cfg, NULL, err, sizeof(err));
    assert_non_null(*g);
    const jp_proc_t *procs[] = {jp_models_proc(*g)};
    return jp_test_engine_start_with(cfg, NULL, procs, 1);
}

static void run_to_end(const jp_config_t *cfg)
{
    jp_models_t *g;
    jp_test_engine_t *e = start(cfg, &g);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, WAIT_MS), 0);
    jp_test_engine_stop(e, NULL);
    jp_models_free(g);
}

static void run_part(const jp_config_t *cfg, double share, int wipe)
{
    jp_models_t *g;
    jp_test_engine_t *e = start(cfg, &g);
    jp_test_engine_wait_consumed(e, (int64_t)(share * (double)st.records), WAIT_MS);
    jp_test_engine_stop(e, NULL);
    jp_models_free(g);
    if (wipe)
        jp_test_rmtree(cfg->state.dir);
}

/* The first offset of each partition of the models changelog (-1: empty). */
typedef struct {
    int64_t first[16];
} changelog_starts_t;

static void changelog_record(void *ctx, const rd_kafka_message_t *m)
{
    changelog_starts_t *s = ctx;
    if (m->partition >= 0 && m->partition < 16 && s->first[m->partition] < 0)
        s->first[m->partition] = m->offset;
}

/* How many partitions of the models changelog the dev broker trimmed. */
static int changelog_trimmed(const jp_config_t *cfg)
{
    char topic[256];
    jp_topics_changelog(cfg, "models", topic, sizeof(topic));
    changelog_starts_t s;
    for (int p = 0; p < 16; p++)
        s.first[p] = -1;
    jp_test_read_topic(jp_devstack_bootstraps(st.stack), topic, changelog_record, &s);
    int n = 0;
    for (int p = 0; p < 16; p++)
        n += s.first[p] > 0;
    return n;
}

static void test_registry_is_deterministic(void **state)
{
    (void)state;
    jp_config_t ref_cfg, cfg;
    /* Each commit writes the dirty countries' trainers and versions (about
     * 270 KB each) to the models changelog; the harness's 200 ms commits
     * fill a partition past the dev broker's ~5 MB before the restore.
     * Under ASan the same records take about ten times as many commits:
     * commits a second apart there. */
#if defined(__SANITIZE_ADDRESS__)
    const int64_t interval_ms = 1000;
#else
    const int64_t interval_ms = 200;
#endif
    jp_test_engine_config(&st, "models-ref", &ref_cfg);
    ref_cfg.processing.commit_interval_ms = interval_ms;
    run_to_end(&ref_cfg);
    jp_test_engine_config(&st, "models-restarts", &cfg);
    cfg.processing.commit_interval_ms = interval_ms;
    run_part(&cfg, 0.3, 0);
    run_part(&cfg, 0.6, 1);
    fprintf(stderr, "models changelog: %d partitions trimmed before the restore\n",
            changelog_trimmed(&cfg));
    run_to_end(&cfg);
    jp_test_recset_t ref, got;
    jp_test_read_distinct(&st, ref_cfg.topics.models, &ref);
    jp_test_read_distinct(&st, cfg.topics.models, &got);
    fprintf(stderr, "models topic: %zu distinct records (reference), %zu (restarted)\n", ref.n,
            got.n);
    assert_true(ref.n >= 20);
    assert_true(jp_test_recset_equal(&ref, &got));
    jp_test_recset_free(&ref);
    jp_test_recset_free(&got);
    jp_config_release(&ref_cfg);
    jp_config_release(&cfg);
}

/* ---- hooks ----------------------------------------------------------------- */

typedef struct {
    int64_t residuals, churn_scores, not_finite, bad_partition;
} listened_t;

static int listen_eval(void *ctx, int partition, const jp_models_evaluation_t *ev)
{
    listened_t *l = ctx;
    if (partition < 0)
        l->bad_partition++;
    if (!isfinite(ev->value))
        l->not_finite++;
    else if (strcmp(ev->model, "sales") == 0)
        l->residuals++;
    else
        l->churn_scores++;
    return 0;
}

/* A processor after the models: retrains GB's sales model from its 5th
 * week and reads the champion, on the engine thread, as alerts and
 * decisions would. */
typedef struct {
    jp_models_t *g;
    int64_t start, change_point;
    int retrained, champion_seen;
    int32_t champion_version;
} drift_t;

static drift_t drift;

static void *drift_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    (void)ctx, (void)errstr, (void)errstr_size;
    return global;
}

static int drift_window(void *inst, const jp_feature_vector_t *fv)
{
    drift_t *d = inst;
    if (fv->window_kind != JP_WINDOW_DAY || !jp_avro_str_eq(fv->country, "GB"))
        return 0;
    if (!d->retrained && fv->window_end >= d->start + 8 * 7 * DAY_MS) {
        d->change_point = d->start + 5 * 7 * DAY_MS;
        assert_int_equal(jp_models_retrain(d->g, "GB", "sales", d->change_point), 0);
        assert_int_not_equal(jp_models_retrain(d->g, "GB", "nothing", d->change_point), 0);
        d->retrained = 1;
    }
    jp_models_champion_t c;
    assert_int_equal(jp_models_champion(d->g, "GB", &c), 0);
    if (c.flows) {
        d->champion_seen = 1;
        d->champion_version = c.sales_version;
        assert_true(c.data_end > c.data_start);
    }
    return 0;
}

static const jp_proc_t drift_proc = {
    .name = "test-drift", .global = &drift, .open = drift_open, .on_window = drift_window};

/* ---- the admin API through the CLI ---------------------------------------------- */

static int route_models(void *ctx, const char *method, const char *path, const char *query,
                        const char *body, size_t body_len, char **body_out, const char **ct)
{
    (void)body_len;
    *ct = "application/json";
    return jp_models_http(ctx, method, path, query, body, body_out);
}

static const char *mint(const char *role)
{
    static char tok[2][1024];
    static int which;
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grant(j, "role", role), 0);
    assert_int_equal(jwt_add_grant_int(j, "exp", (long)time(NULL) + 600), 0);
    assert_int_equal(
        jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)jwt_key, (int)strlen(jwt_key)), 0);
    char *t = jwt_encode_str(j);
    assert_non_null(t);
    which ^= 1;
    snprintf(tok[which], sizeof(tok[which]), "%s", t);
    free(t);
    jwt_free(j);
    return tok[which];
}

/* Runs `jackpot models ARGS --url URL` with JACKPOT_TOKEN set to token
 * (NULL: unset). */
static jp_test_result_t cli(const char *url, const char *token, const char *a1, const char *a2,
                            const char *a3, const char *a4, const char *a5)
{
    if (token)
        setenv("JACKPOT_TOKEN", token, 1);
    else
        unsetenv("JACKPOT_TOKEN");
    const char *argv[] = {jp_test_bin(), "models", "--url", url, a1, a2, a3, a4, a5, NULL};
    return jp_test_run(argv);
}

static json_t *show_country(const char *url, const char *cc)
{
    jp_test_result_t r = cli(url, NULL, "show", cc, "--json", NULL, NULL);
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    jp_test_result_free(&r);
    return j;
}

static json_t *sales_model(json_t *show, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(show, "models"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "model")), name) == 0)
            return m;
    }
    fail_msg("no %s in the show output", name);
    return NULL;
}

/* elasticities: {signups, extras, cancellations}, each {estimate, stderr}
 * (null while not identified: this small world has few sign-ups) */
static void assert_elasticities(const json_t *alias)
{
    const json_t *el = json_object_get(alias, "elasticities");
    const char *flows[] = {"signups", "extras", "cancellations"};
    int some = 0;
    for (size_t i = 0; i < 3; i++) {
        const json_t *f = json_object_get(el, flows[i]);
        assert_true(json_is_object(f) || json_is_null(f));
        if (json_is_object(f)) {
            assert_true(json_is_number(json_object_get(f, "estimate")));
            assert_true(json_number_value(json_object_get(f, "stderr")) > 0);
            some = 1;
        }
    }
    assert_true(some);
}

typedef struct {
    const char *rolled_model;
    int32_t previous; /* the version rolled back to */
    int rolled, retrained;
} registry_seen_t;

static void see_version(void *ctx, const void *rec)
{
    registry_seen_t *s = ctx;
    const jp_model_version_t *mv = rec;
    s->rolled |= jp_avro_str_eq(mv->model, s->rolled_model) &&
                 jp_avro_str_eq(mv->event, "ROLLED_BACK") && mv->version == s->previous;
    s->retrained |= jp_avro_str_eq(mv->model, "sales-GB") &&
                    jp_avro_str_eq(mv->event, "REGISTERED") &&
                    memmem(mv->reason.ptr, mv->reason.len, "change point", 12) != NULL;
}

static void test_admin_cli_and_hooks(void **state)
{
    (void)state;
    char err[256], url[64];
    jp_config_t cfg;
    jp_test_engine_config(&st, "models-api", &cfg);
    jp_metrics_t *metrics = jp_metrics_new();
    jp_models_t *g = jp_models_new(&cfg, metrics, err, sizeof(err));
    assert_non_null(g);
    listened_t heard = {0};
    jp_models_set_listener(g, listen_eval, &heard);
    memset(&drift, 0, sizeof(drift));
    drift.g = g;
    jp_sim_world_t w;
    shrunk_world(&w);
    drift.start = w.start_ms;
    jp_sim_world_release(&w);
    const jp_proc_t *procs[] = {jp_models_proc(g), &drift_proc};
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 2);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, WAIT_MS), 0);

    /* the admin API, as jp_run serves it */
    jp_auth_opts_t ao = {jwt_key, 0, 0, 1};
    jp_auth_t *auth = jp_auth_new(&ao, err, sizeof(err));
    jp_admin_t *admin = jp_admin_new(metrics);
    jp_admin_set_auth(admin, auth);
    assert_int_equal(jp_admin_route_access(admin, "/v1/models", JP_ADMIN_READS, route_models, g),
                     0);
    assert_int_equal(
        jp_admin_route_access(admin, "/v1/models/", JP_ADMIN_BY_METHOD, route_models, g), 0);
    assert_int_equal(jp_admin_start(admin, "127.0.0.1:0", err, sizeof(err)), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", jp_admin_port(admin));

    jp_test_result_t r = cli(url, NULL, "list", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "sales-GB"));
    assert_non_null(strstr(r.out, "churn-NL"));
    fputs(r.out, stderr);
    jp_test_result_free(&r);

    /* Rollback needs a champion that replaced another: the first country,
     * in a fixed order, whose sales model has one (which does depends on
     * the gates' verdicts in this small world, not on the mechanics). */
    const char *order[] = {"GB", "SE", "NL", "NO", "DE"};
    const char *cc = NULL;
    char model[16];
    json_t *shown = NULL, *sales = NULL, *champ = NULL, *prev = NULL;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && !cc; i++) {
        snprintf(model, sizeof(model), "sales-%s", order[i]);
        shown = show_country(url, order[i]);
        sales = sales_model(shown, model);
        champ = json_object_get(json_object_get(sales, "aliases"), "champion");
        prev = json_object_get(sales, "previous_champion");
        if (json_is_object(champ) && json_is_integer(prev))
            cc = order[i];
        else
            json_decref(shown);
    }
    if (!cc)
        fail_msg("no country's sales champion replaced an earlier one");
    fprintf(stderr, "rollback on %s\n", model);
    assert_elasticities(champ);
    int champion = (int)json_integer_value(json_object_get(champ, "version"));
    int previous = (int)json_integer_value(prev);
    char v1[16], v2[16];
    snprintf(v1, sizeof(v1), "%d", previous);
    snprintf(v2, sizeof(v2), "%d", champion);
    json_decref(shown);

    r = cli(url, NULL, "compare", model, v1, v2, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "eval.mape"));
    assert_non_null(strstr(r.out, ".log_prize"));
    jp_test_result_free(&r);

    /* rollback: 401 without a token, 403 for a viewer, done for an operator */
    r = cli(url, NULL, "rollback", model, NULL, NULL, NULL);
    assert_int_equal(r.status, 77);
    assert_non_null(strstr(r.err, "401"));
    jp_test_result_free(&r);
    r = cli(url, mint("viewer"), "rollback", model, NULL, NULL, NULL);
    assert_int_equal(r.status, 77);
    assert_non_null(strstr(r.err, "403"));
    jp_test_result_free(&r);
    r = cli(url, mint("operator"), "rollback", model, NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    jp_test_result_free(&r);
    shown = show_country(url, cc);
    champ = json_object_get(json_object_get(sales_model(shown, model), "aliases"), "champion");
    assert_int_equal(json_integer_value(json_object_get(champ, "version")), previous);
    assert_string_equal(json_string_value(json_object_get(champ, "event")), "ROLLED_BACK");
    json_decref(shown);
    r = cli(url, mint("operator"), "promote", model, "--version", "99999", NULL);
    assert_int_equal(r.status, 65);
    jp_test_result_free(&r);

    jp_admin_free(admin);
    jp_auth_free(auth);
    jp_test_engine_stop(e, NULL);

    /* hooks and metrics */
    fprintf(stderr, "listener: %lld sales residuals, %lld churn scores\n",
            (long long)heard.residuals, (long long)heard.churn_scores);
    assert_true(heard.residuals > 100);
    assert_true(heard.churn_scores > 20);
    assert_int_equal(heard.not_finite, 0);
    assert_int_equal(heard.bad_partition, 0);
    assert_true(drift.retrained);
    assert_true(drift.champion_seen);
    char *text = jp_metrics_render(metrics);
    assert_non_null(strstr(text, "jackpot_model_prediction_error{country=\"GB\",model=\"sales\"}"));
    char rollbacks[128];
    snprintf(rollbacks, sizeof(rollbacks),
             "jackpot_model_promotions_total{action=\"rollback\",country=\"%s\",model=\"sales\"} 1",
             cc);
    assert_non_null(strstr(text, rollbacks));
    free(text);

    /* the registry recorded the rollback and the retrained version */
    registry_seen_t seen = {model, previous, 0, 0};
    jp_model_version_t mv;
    jp_test_decode_topic(&st, cfg.topics.models, JP_EVENT_MODEL_VERSION, &mv, see_version, &seen);
    assert_true(seen.rolled);
    assert_true(seen.retrained);
    jp_models_free(g);
    jp_metrics_free(metrics);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_is_deterministic),
        cmocka_unit_test(test_admin_cli_and_hooks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
