/*
 * The learning loop on the simulator's truth, through the engine: the
 * simulator streams configs/sim/explore.yaml into the embedded stack while
 * the engine, with the models processor, consumes it (the simulator waits
 * whenever it is 30,000 records ahead: the dev broker keeps only about
 * 5 MB per partition, so a year cannot sit in it; what it writes does not
 * depend on the pacing). The registry is then read back from
 * jackpot.models.v1.
 *
 * Release build: one simulated year of explore.yaml as shipped, for the
 * three countries asserted on (GB, NL, SE: each country has its own random
 * streams, so their events are those of the whole world).
 *   - For GB, NL and SE the registered champion of the sales model (the
 *     version whose latest record has the alias champion) has sign-up and
 *     extra-purchase elasticities within +-10% of the world's truth.
 *   - Every labelled churn example (the trainer's prediction made before it
 *     learned the label, through jp_models' example listener) goes to a CSV;
 *     tests/stream/models/churn_reference.py fits scikit-learn's logistic
 *     regression on the first half of the year of each country and scores
 *     the second half; the trainer's prequential AUC on that same second
 *     half is within 0.02 of it (GB, NL, SE).
 *   - Every ModelVersion record decodes, with finite metrics and
 *     elasticities of the versions it registers.
 * ASan build (about 50 times slower): the same world with populations and
 * flows divided by 20, for 20 weeks. Too little data for accuracy, so it
 * asserts the mechanics: every country registers versions, the first
 * champions are promoted by the gate, records decode, the elasticities are
 * within 5 standard errors of the truth, and the churn reference runs.
 *
 * About 9 million records in the release build: 3-4 minutes on an idle
 * two-core machine, up to 10 on a busy one.
 *
 * Label: integration
 * Timeout: 1800
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

#include "base/jp_clock.h"
#include "jp_test.h"
#include "jp_test_engine.h"
#include "models/jp_models.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"

#if defined(__SANITIZE_ADDRESS__)
#define SMALL 1
#define WEEKS 20
#define SCALE 20.0
#else
#define SMALL 0
#define WEEKS 52
#define SCALE 1.0
#endif
#define WAIT_MS 1800000

static jp_test_stack_t st;

static void write_example(void *ctx, const jp_models_example_t *ex)
{
    FILE *f = ctx;
    fprintf(f, "%s,%lld", ex->country, (long long)ex->time);
    for (size_t i = 0; i < JP_MODELS_CHURN_FEATURES; i++)
        fprintf(f, ",%.17g", ex->x[i]);
    fprintf(f, ",%d,%.17g\n", ex->label, ex->p);
}

/* The latest record of each version, in topic order. */
typedef struct {
    char model[16];
    int version;
    int stage;
    int champion;
    double signups, signups_sd, extras, extras_sd;
    int has_signups, has_extras;
    int64_t event_at;
} latest_t;

static int find_coef(const jp_model_version_t *mv, const char *name, double *est, double *sd)
{
    const jp_named_coefficient_t *c = mv->coefficients.items;
    for (size_t i = 0; i < mv->coefficients.n; i++)
        if (jp_avro_str_eq(c[i].name, name)) {
            *est = c[i].estimate;
            *sd = c[i].stderr_;
            return 1;
        }
    return 0;
}

static size_t read_registry(const char *topic, latest_t *out, size_t cap)
{
    char err[256];
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(st.stack), err, sizeof(err));
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(serde);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", jp_devstack_bootstraps(st.stack), err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", "models-reader", err, sizeof(err));
    rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    size_t n = 0, records = 0;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 5000);
        assert_non_null(m);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        assert_int_equal(m->err, 0);
        jp_model_version_t mv;
        jp_avro_arena_reset(&arena);
        assert_int_equal(jp_serde_decode(serde, JP_EVENT_MODEL_VERSION, m->payload, m->len, &mv,
                                         &arena, err, sizeof(err)),
                         JP_SERDE_OK);
        records++;
        if (getenv("JP_TEST_REGISTRY_LOG"))
            fprintf(stderr, "%.*s/%d %.*s: %.*s\n", (int)mv.model.len, mv.model.ptr,
                    (int)mv.version, (int)mv.event.len, mv.event.ptr, (int)mv.reason.len,
                    mv.reason.ptr);
        /* every metric of every record is a number (NaN only where the
         * metric does not exist yet, e.g. AUC with one class) */
        const double *mvals = mv.metrics.values;
        for (size_t i = 0; i < mv.metrics.n; i++)
            assert_false(isinf(mvals[i]));
        latest_t *e = NULL;
        for (size_t i = 0; i < n; i++)
            if (jp_avro_str_eq(mv.model, out[i].model) && out[i].version == mv.version)
                e = &out[i];
        if (!e) {
            assert_true(n < cap);
            e = &out[n++];
            memset(e, 0, sizeof(*e));
            snprintf(e->model, sizeof(e->model), "%.*s", (int)mv.model.len, mv.model.ptr);
            e->version = mv.version;
        }
        e->stage = mv.stage;
        e->event_at = mv.event_at;
        e->champion = 0;
        const jp_avro_str_t *al = mv.aliases.items;
        for (size_t i = 0; i < mv.aliases.n; i++)
            e->champion |= jp_avro_str_eq(al[i], "champion");
        e->has_signups = find_coef(&mv, "signups.log_prize", &e->signups, &e->signups_sd);
        e->has_extras = find_coef(&mv, "extras.log_prize", &e->extras, &e->extras_sd);
        if (e->has_signups)
            assert_true(isfinite(e->signups) && e->signups_sd > 0);
        rd_kafka_message_destroy(m);
    }
    fprintf(stderr, "models topic: %zu records, %zu versions\n", records, n);
    jp_avro_arena_free(&arena);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    jp_serde_free(serde);
    jp_registry_client_free(reg);
    return n;
}

/* The champion of a model: the version whose latest record names it. */
static const latest_t *champion(const latest_t *v, size_t n, const char *model)
{
    const latest_t *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].model, model) == 0 && v[i].champion &&
            (!best || v[i].event_at > best->event_at))
            best = &v[i];
    return best;
}

/* Keeps the countries the test asserts on (GB, NL, SE) at the front and
 * runs only those: each country has its own random streams, so their
 * events are the same as in the whole world. Returns the full count, to
 * restore before the world is released. */
static size_t keep_asserted(jp_sim_world_t *w)
{
    jp_sim_country_t *k = w->countries.items;
    size_t all = w->countries.n, kept = 0;
    for (size_t i = 0; i < all; i++)
        if (strcmp(k[i].code, "GB") == 0 || strcmp(k[i].code, "NL") == 0 ||
            strcmp(k[i].code, "SE") == 0) {
            jp_sim_country_t t = k[kept];
            k[kept++] = k[i];
            k[i] = t;
        }
    w->countries.n = kept;
    return all;
}

static void shrink(jp_sim_world_t *w, double by)
{
    jp_sim_country_t *k = w->countries.items;
    for (size_t i = 0; i < w->countries.n; i++) {
        k[i].population.subscribers = (int64_t)((double)k[i].population.subscribers / by);
        k[i].population.postcodes = (int64_t)((double)k[i].population.postcodes / by);
        k[i].response.signups_per_day /= by;
    }
}

static void test_learning_loop_on_truth(void **state)
{
    (void)state;
    char err[512], path[1024], cmd[4096];
    jp_test_stack_start(&st, "models-truth", 1);
    jp_config_t cfg;
    jp_test_engine_config(&st, "truth", &cfg);
    jp_models_t *g = jp_models_new(&cfg, NULL, err, sizeof(err));
    assert_non_null(g);
    snprintf(path, sizeof(path), "%s/churn-examples.csv", st.dir);
    FILE *csv = fopen(path, "w");
    assert_non_null(csv);
    fprintf(csv, "country,time");
    for (size_t i = 0; i < JP_MODELS_CHURN_FEATURES; i++)
        fprintf(csv, ",%s", jp_models_churn_feature_name(i));
    fprintf(csv, ",label,p\n");
    jp_models_set_example_listener(g, write_example, csv);
    const jp_proc_t *procs[] = {jp_models_proc(g)};
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 1);

    char world_path[1024];
    snprintf(world_path, sizeof(world_path), "%s/configs/sim/explore.yaml", jp_test_src());
    jp_sim_world_t w;
    jp_test_world_load(world_path, &w);
    size_t n_countries = SMALL ? w.countries.n : keep_asserted(&w);
    if (SMALL)
        shrink(&w, SCALE);
    double t0 = jp_clock_now_s();
    jp_test_stack_stream(&st, &w, WEEKS, e, 30000);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, WAIT_MS), 0);
    jp_engine_totals_t tot;
    jp_test_engine_stop(e, &tot);
    fclose(csv);
    assert_int_equal(tot.consumed, st.records);
    assert_int_equal(tot.dead_lettered, 0);
    fprintf(stderr, "%lld records through the engine in %.0f s\n", (long long)st.records,
            jp_clock_now_s() - t0);

    latest_t versions[4096];
    size_t n = read_registry(cfg.topics.models, versions, 4096);
    assert_true(n > 0);
    static const char *const asserted[] = {"GB", "NL", "SE"};
    int bad = 0;
    jp_sim_country_t *k = w.countries.items;
    printf("country flow     truth  champion  stderr   error    z\n");
    for (size_t i = 0; i < w.countries.n; i++) {
        char model[16];
        snprintf(model, sizeof(model), "sales-%s", k[i].code);
        const latest_t *c = champion(versions, n, model);
        int checked = 0;
        for (size_t a = 0; a < 3; a++)
            checked |= strcmp(asserted[a], k[i].code) == 0;
        if (!c) {
            printf("%-7s no champion\n", k[i].code);
            bad |= checked || SMALL;
            continue;
        }
        const double truth[2] = {k[i].response.signup_elasticity, k[i].response.extra_elasticity};
        const double est[2] = {c->signups, c->extras}, sd[2] = {c->signups_sd, c->extras_sd};
        const int has[2] = {c->has_signups, c->has_extras};
        const char *names[2] = {"signups", "extras"};
        for (int f = 0; f < 2; f++) {
            if (!has[f] || truth[f] == 0) {
                printf("%-7s %-8s %6.3f  (none)\n", k[i].code, names[f], truth[f]);
                bad |= checked && truth[f] != 0;
                continue;
            }
            double rel = (est[f] - truth[f]) / fabs(truth[f]), z = (est[f] - truth[f]) / sd[f];
            printf("%-7s %-8s %6.3f  %8.4f  %6.4f  %+6.1f%%  %+5.2f  (version %d)\n", k[i].code,
                   names[f], truth[f], est[f], sd[f], 100 * rel, z, c->version);
            if (!SMALL && checked && fabs(rel) > 0.10)
                bad = 1;
            if (SMALL && fabs(z) > 5)
                bad = 1;
        }
    }

    /* churn: the trainer's prequential AUC against scikit-learn's */
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/stream/models/churn_reference.py %s %s",
             jp_test_src(), path, SMALL ? "--any" : "GB,NL,SE");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    while (fgets(line, sizeof(line), p))
        fputs(line, stdout);
    int rc = pclose(p);
    if (getenv("JP_TEST_KEEP_EXAMPLES")) {
        snprintf(cmd, sizeof(cmd), "cp %s %s", path, getenv("JP_TEST_KEEP_EXAMPLES"));
        assert_int_equal(system(cmd), 0);
    }
    printf("churn reference: exit %d\n", rc);
    bad |= rc != 0;

    w.countries.n = n_countries;
    jp_sim_world_release(&w);
    jp_config_release(&cfg);
    jp_models_free(g);
    jp_test_stack_stop(&st);
    assert_false(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learning_loop_on_truth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
