/*
 * jp_test_engine: see jp_test_engine.h. The helpers assert with cmocka, so
 * a failing step fails the test that called it with the reason.
 *
 * Per-run topics: the mock cluster has no CreateTopics, so the helper
 * creates each run's changelog topics (partitioned like the inputs) and
 * features topic before the engine starts; the engine finds them existing.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_engine.h"
#include "jp_test_topic.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/jp_conf.h"
#include "base/jp_log.h"
#include "config/jp_topics.h"
#include "model/base/jp_endian.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim.h"
#include "sim/jp_sim_produce.h"
#include "sim/jp_sim_world.h"
#include "jp_test.h"

void jp_test_config_load(jp_config_t *out)
{
    jp_conf_t conf;
    jp_conf_init(&conf, NULL);
    int rc = jp_config_load(&conf, "configs/jackpot.yaml", NULL, out);
    for (size_t i = 0; i < conf.n_errors; i++)
        fprintf(stderr, "%s\n", conf.errors[i]);
    jp_conf_destroy(&conf);
    assert_int_equal(rc, 0);
}

void jp_test_stack_start(jp_test_stack_t *s, const char *tag, int n_brokers)
{
    char err[512], path[600];
    memset(s, 0, sizeof(*s));
    jp_log_set_level(getenv("JP_TEST_VERBOSE") ? JP_LOG_DEBUG : JP_LOG_ERROR);
    s->dir = jp_test_tmpdir(tag);
    jp_config_t cfg;
    jp_test_config_load(&cfg);
    snprintf(path, sizeof(path), "%s/registry", s->dir);
    s->stack = jp_devstack_start(&cfg, n_brokers, 0, "127.0.0.1:0", path, err, sizeof(err));
    jp_config_release(&cfg);
    if (!s->stack)
        fail_msg("devstack: %s", err);
}

void jp_test_stack_stop(jp_test_stack_t *s)
{
    jp_devstack_stop(s->stack);
    jp_test_rmtree(s->dir);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

static jp_test_stack_t group_stack;

int jp_test_stack_setup(void **state)
{
    jp_test_stack_start(&group_stack, program_invocation_short_name, 1);
    *state = &group_stack;
    return 0;
}

int jp_test_stack_teardown(void **state)
{
    jp_test_stack_stop(*state);
    return 0;
}

void jp_test_world_load(const char *path, jp_sim_world_t *w)
{
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    int rc = jp_sim_world_load(&c, path, w);
    for (size_t i = 0; i < c.n_errors; i++)
        fprintf(stderr, "%s\n", c.errors[i]);
    jp_conf_destroy(&c);
    assert_int_equal(rc, 0);
}

jp_sim_truth_t *jp_test_world_truth(const char *name, int64_t weeks, jp_sim_world_t *w)
{
    char path[1024], err[512];
    snprintf(path, sizeof(path), "%s/configs/sim/%s.yaml", jp_test_src(), name);
    jp_test_world_load(path, w);
    jp_sim_options_t o = {0};
    o.skip_encoding = 1;
    o.weeks = weeks;
    jp_sim_truth_t *truth = jp_sim_truth_new(w, (uint64_t)w->seed, jp_sim_weeks(w, &o));
    assert_non_null(truth);
    if (jp_sim_run(w, &o, truth, NULL, err, sizeof(err)) != 0)
        fail_msg("simulate %s: %s", name, err);
    return truth;
}

void jp_test_stack_simulate(jp_test_stack_t *s, const char *world, int weeks)
{
    jp_sim_world_t w;
    jp_test_world_load(world, &w);
    jp_test_stack_simulate_world(s, &w, weeks);
    jp_sim_world_release(&w);
}

typedef struct {
    jp_test_engine_t *e;
    int64_t already; /* records in the topics before this run */
    int64_t max_ahead;
} pacing_t;

/* Once per simulated hour: holds the producer while it is more than
 * max_ahead records ahead of the engine (up to 5 minutes). */
static void pace(void *ctx, int64_t sim_ms, uint64_t records)
{
    pacing_t *p = ctx;
    (void)sim_ms;
    int64_t written = p->already + (int64_t)records;
    jp_engine_totals_t t;
    jp_test_engine_totals(p->e, &t);
    for (int waited = 0; written - t.consumed > p->max_ahead; waited += 20) {
        if (waited > 300000)
            fail_msg("the engine stayed %lld records behind the simulator for 5 minutes",
                     (long long)(written - t.consumed));
        usleep(20000);
        jp_test_engine_totals(p->e, &t);
    }
}

/* Produces a world through a producer with these properties on top of
 * the simulator's (NULL: none), paced by engine e (NULL: not paced). */
static void stream_with(jp_test_stack_t *s, const jp_sim_world_t *w, int weeks, jp_test_engine_t *e,
                        int64_t max_ahead, const jp_conf_props_t *producer_props)
{
    char err[1024];
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(s->stack), err, sizeof(err));
    assert_non_null(reg);
    jp_sim_producer_t *prod = jp_sim_producer_new(jp_devstack_bootstraps(s->stack), NULL,
                                                  producer_props, NULL, err, sizeof(err));
    if (!prod)
        fail_msg("producer: %s", err);
    pacing_t p = {e, s->records, max_ahead};
    jp_sim_options_t o = {0};
    o.weeks = weeks;
    o.registry = jp_serde_registry_client(reg);
    o.output = jp_sim_producer_output(prod);
    o.progress = e ? pace : NULL;
    o.progress_ctx = &p;
    jp_sim_stats_t stats;
    if (jp_sim_run(w, &o, NULL, &stats, err, sizeof(err)) != 0)
        fail_msg("simulate: %s", err);
    if (jp_sim_producer_flush(prod, 60000, err, sizeof(err)) != 0)
        fail_msg("simulate: %s", err);
    jp_sim_producer_free(prod);
    jp_registry_client_free(reg);
    s->records += (int64_t)stats.records;
}

void jp_test_stack_stream(jp_test_stack_t *s, const jp_sim_world_t *w, int weeks,
                          jp_test_engine_t *e, int64_t max_ahead)
{
    stream_with(s, w, weeks, e, max_ahead, NULL);
}

void jp_test_stack_simulate_world(jp_test_stack_t *s, const jp_sim_world_t *w, int weeks)
{
    stream_with(s, w, weeks, NULL, 0, NULL);
}

void jp_test_stack_simulate_with(jp_test_stack_t *s, const char *world, int weeks,
                                 const jp_conf_props_t *producer_props)
{
    jp_sim_world_t w;
    jp_test_world_load(world, &w);
    stream_with(s, &w, weeks, NULL, 0, producer_props);
    jp_sim_world_release(&w);
}

static void create_topic(jp_test_stack_t *s, const char *topic, int64_t partitions)
{
    char err[512];
    if (jp_broker_create_topic(jp_devstack_broker(s->stack), topic, (int)partitions, err,
                               sizeof(err)) != 0)
        fail_msg("create %s: %s", topic, err);
}

static void set_string(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    assert_non_null(*field);
}

void jp_test_engine_config(jp_test_stack_t *s, const char *tag, jp_config_t *out)
{
    char buf[600];
    jp_test_config_load(out);
    assert_int_equal(jp_devstack_configure(s->stack, out), 0);
    snprintf(buf, sizeof(buf), "%s/state-%s", s->dir, tag);
    set_string(&out->state.dir, buf);
    char **outputs[] = {&out->topics.features, &out->topics.recommendations, &out->topics.alerts,
                        &out->topics.models};
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
        snprintf(buf, sizeof(buf), "%s.%s", *outputs[i], tag);
        set_string(outputs[i], buf);
        create_topic(s, buf, out->topics.output_partitions);
    }
    snprintf(buf, sizeof(buf), "jackpot.%s.", tag);
    set_string(&out->topics.changelog_prefix, buf);
    for (size_t i = 0; i < jp_topics_n_changelog_stores; i++) {
        jp_topics_changelog(out, jp_topics_changelog_stores[i], buf, sizeof(buf));
        create_topic(s, buf, out->topics.sales.partitions);
    }
    out->processing.commit_interval_ms = 200;
    /* A joining member makes the mock group wait up to the session
     * timeout for the others to rejoin. */
    assert_int_equal(jp_conf_props_set(&out->kafka, "group.id", tag), 0);
    assert_int_equal(jp_conf_props_set(&out->kafka, "session.timeout.ms", "6000"), 0);
    assert_int_equal(jp_conf_props_set(&out->kafka, "heartbeat.interval.ms", "500"), 0);
    /* Named after the group: created once it is set. */
    if (jp_topics_repartition(out, buf, sizeof(buf)))
        create_topic(s, buf, out->topics.sales.partitions);
}

struct jp_test_engine_s {
    jp_engine_t *e;
    jp_metrics_t *m;
    pthread_t th;
    int rc;
    volatile int done;
    char err[512];
};

static void *engine_thread(void *arg)
{
    jp_test_engine_t *t = arg;
    t->rc = jp_engine_run(t->e, t->err, sizeof(t->err));
    t->done = 1;
    return NULL;
}

jp_test_engine_t *jp_test_engine_start_with(const jp_config_t *cfg, const char *state_dir,
                                            const jp_proc_t *const *procs, size_t n_procs)
{
    jp_test_engine_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    int code;
    t->m = jp_metrics_new();
    jp_engine_opts_t o = {1, state_dir, 0};
    t->e = jp_engine_new(cfg, t->m, &o, &code, t->err, sizeof(t->err));
    if (!t->e)
        fail_msg("engine: %s (exit %d)", t->err, code);
    for (size_t i = 0; i < n_procs; i++)
        assert_int_equal(jp_engine_add_proc(t->e, procs[i]), 0);
    assert_int_equal(pthread_create(&t->th, NULL, engine_thread, t), 0);
    return t;
}

jp_test_engine_t *jp_test_engine_start(const jp_config_t *cfg, const char *state_dir)
{
    return jp_test_engine_start_with(cfg, state_dir, NULL, 0);
}

void jp_test_engine_totals(jp_test_engine_t *t, jp_engine_totals_t *out)
{
    jp_engine_totals(t->e, out);
}

jp_engine_t *jp_test_engine_handle(jp_test_engine_t *t)
{
    return t->e;
}

int jp_test_engine_wait(jp_test_engine_t *t, int want_tasks, int64_t want_consumed, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        jp_engine_totals_t tot;
        jp_engine_totals(t->e, &tot);
        /* Every copy sent through the repartition topic taken in, too: its
         * lag, from the consumer's cached watermarks, may lag the copies. */
        if ((want_tasks < 0 || tot.tasks == want_tasks) &&
            (want_consumed < 0 ||
             (tot.consumed == want_consumed && tot.lag == 0 && tot.received == tot.repartitioned)))
            return 0;
        usleep(50000);
    }
    jp_engine_totals_t tot;
    jp_engine_totals(t->e, &tot);
    fprintf(stderr,
            "engine wait timed out after %d ms: want tasks %d consumed %lld; have tasks %d "
            "consumed %lld applied %lld dead-lettered %lld duplicates %lld repartitioned %lld "
            "received %lld lag %lld commits %lld\n",
            timeout_ms, want_tasks, (long long)want_consumed, tot.tasks, (long long)tot.consumed,
            (long long)tot.applied, (long long)tot.dead_lettered, (long long)tot.duplicates,
            (long long)tot.repartitioned, (long long)tot.received, (long long)tot.lag,
            (long long)tot.commits);
    return -1;
}

void jp_test_engine_wait_consumed(jp_test_engine_t *t, int64_t n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        jp_engine_totals_t tot;
        jp_engine_totals(t->e, &tot);
        if (tot.consumed >= n)
            return;
        usleep(20000);
    }
    fail_msg("no progress to %lld records in %d ms", (long long)n, timeout_ms);
}

void jp_test_engine_stop(jp_test_engine_t *t, jp_engine_totals_t *out)
{
    jp_engine_stop(t->e);
    pthread_join(t->th, NULL);
    if (t->rc != 0)
        fail_msg("engine run: %s", t->err);
    if (out)
        jp_engine_totals(t->e, out);
    jp_engine_free(t->e);
    jp_metrics_free(t->m);
    free(t);
}

int jp_test_engine_finish(jp_test_engine_t *t, int timeout_ms, jp_engine_totals_t *out,
                          char *errstr, size_t errstr_size)
{
    for (int waited = 0; !t->done && waited < timeout_ms; waited += 50)
        usleep(50000);
    if (!t->done)
        return -1;
    pthread_join(t->th, NULL);
    int code = jp_engine_exit_code(t->e);
    if (out)
        jp_engine_totals(t->e, out);
    if (errstr)
        snprintf(errstr, errstr_size, "%s", t->err);
    jp_engine_free(t->e);
    jp_metrics_free(t->m);
    free(t);
    return code;
}

jp_engine_t *jp_test_engine_engine(jp_test_engine_t *t)
{
    return t->e;
}

jp_metrics_t *jp_test_engine_metrics(jp_test_engine_t *t)
{
    return t->m;
}

static int cmp_item(const void *a, const void *b, size_t la, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static void recset_add(jp_test_recset_t *r, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    size_t len = 4 + klen + vlen;
    char *item = malloc(len);
    assert_non_null(item);
    jp_be32_put(item, (uint32_t)klen);
    if (klen)
        memcpy(item + 4, key, klen);
    if (vlen)
        memcpy(item + 4 + klen, val, vlen);
    r->read++;
    /* binary search for the insertion point; duplicates are dropped */
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_item(r->items[mid], item, r->lens[mid], len);
        if (c == 0) {
            free(item);
            return;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->items = realloc(r->items, r->cap * sizeof(*r->items));
        r->lens = realloc(r->lens, r->cap * sizeof(*r->lens));
        assert_non_null(r->items);
        assert_non_null(r->lens);
    }
    memmove(r->items + lo + 1, r->items + lo, (r->n - lo) * sizeof(*r->items));
    memmove(r->lens + lo + 1, r->lens + lo, (r->n - lo) * sizeof(*r->lens));
    r->items[lo] = item;
    r->lens[lo] = len;
    r->n++;
}

static void recset_record(void *ctx, const rd_kafka_message_t *m)
{
    recset_add(ctx, m->key, m->key_len, m->payload, m->len);
}

void jp_test_read_distinct(jp_test_stack_t *s, const char *topic, jp_test_recset_t *out)
{
    memset(out, 0, sizeof(*out));
    jp_test_read_topic(jp_devstack_bootstraps(s->stack), topic, recset_record, out);
}

int jp_test_recset_equal(const jp_test_recset_t *a, const jp_test_recset_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (cmp_item(a->items[i], b->items[i], a->lens[i], b->lens[i]) != 0)
            return 0;
    return 1;
}

void jp_test_recset_free(jp_test_recset_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i]);
    free(r->items);
    free(r->lens);
    memset(r, 0, sizeof(*r));
}

void jp_test_decode_topic(jp_test_stack_t *s, const char *topic, int reader, void *out,
                          void (*fn)(void *ctx, const void *out), void *ctx)
{
    char err[512];
    jp_test_recset_t recs;
    jp_test_read_distinct(s, topic, &recs);
    jp_registry_client_t *reg =
        jp_registry_client_new(jp_devstack_registry_url(s->stack), err, sizeof(err));
    assert_non_null(reg);
    jp_serde_config_t sc = {0};
    sc.registry = jp_serde_registry_client(reg);
    jp_serde_t *serde = jp_serde_new(&sc, err, sizeof(err));
    assert_non_null(serde);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    for (size_t i = 0; i < recs.n; i++) {
        const unsigned char *b = (const unsigned char *)recs.items[i];
        size_t klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        jp_avro_arena_reset(&arena);
        if (jp_serde_decode(serde, reader, recs.items[i] + 4 + klen, recs.lens[i] - 4 - klen, out,
                            &arena, err, sizeof(err)) != JP_SERDE_OK)
            fail_msg("%s: record %zu: %s", topic, i, err);
        fn(ctx, out);
    }
    jp_avro_arena_free(&arena);
    jp_serde_free(serde);
    jp_registry_client_free(reg);
    jp_test_recset_free(&recs);
}

void jp_test_assert_totals_equal(const jp_engine_totals_t *got, const jp_engine_totals_t *ref)
{
    /* conservation, the repartition topic's copies included (none in flight) */
    assert_int_equal(got->consumed + got->received,
                     got->applied + got->dead_lettered + got->duplicates + got->repartitioned);
    assert_int_equal(got->received, got->repartitioned);
    assert_int_equal(got->consumed, ref->consumed);
    assert_int_equal(got->applied, ref->applied);
    assert_int_equal(got->dead_lettered, ref->dead_lettered);
    assert_int_equal(got->duplicates, ref->duplicates);
    assert_int_equal(got->late, ref->late);
}
