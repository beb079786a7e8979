/*
 * Processors (engine/jp_proc.h) in the running engine, on the embedded
 * stack: a processor that logs every fact it is given - closed windows and
 * a timer at each UTC midnight - as one output record, numbered by a
 * counter it keeps in the task's store.
 *
 * - Facts arrive in time order per task (windows before timers of the same
 *   time), each once, and the log is the same set of records in a
 *   reference run and in a run stopped twice mid-stream, once with its
 *   state directory deleted (a changelog restore): the processor's state
 *   survives both, and what it emits does not depend on fetch timing.
 * - Every window the engine closed reaches the processor, and a timer
 *   fires for every midnight between the first event and the clock.
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/jp_proc.h"
#include "jp_test.h"
#include "jp_test_engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 1
#else
#define WEEKS 2
#endif
#define WAIT_MS 180000
#define DAY_MS  86400000LL

static jp_test_stack_t st;

/* ---- the fact logger ----------------------------------------------------------------- */

typedef struct {
    jp_proc_ctx_t *ctx;
    int64_t n; /* facts logged by this task so far (state) */
} logger_t;

static const char n_key[] = "test-proc/n";

static void *logger_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    (void)global;
    (void)errstr;
    (void)errstr_size;
    logger_t *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    l->ctx = ctx;
    const void *v;
    size_t n;
    if (jp_store_get(jp_proc_store(ctx), JP_CF_MODELS, n_key, sizeof(n_key) - 1, &v, &n) == 1) {
        assert_int_equal(n, sizeof(l->n));
        memcpy(&l->n, v, sizeof(l->n));
    }
    return l;
}

static void logger_close(void *inst)
{
    free(inst);
}

/* key "p<partition>", value "<seq> <time> <what>" */
static int log_fact(logger_t *l, int64_t time, const char *what)
{
    char key[16], val[160];
    snprintf(key, sizeof key, "p%d", jp_proc_partition(l->ctx));
    int len = snprintf(val, sizeof val, "%08" PRId64 " %" PRId64 " %s", l->n++, time, what);
    return jp_proc_emit(l->ctx, JP_OUTPUT_MODELS, key, strlen(key), val, (size_t)len);
}

static int logger_window(void *inst, const jp_feature_vector_t *fv)
{
    char what[96];
    snprintf(what, sizeof what, "W %.*s %d %" PRId64 " %" PRId64, (int)fv->country.len,
             fv->country.ptr, (int)fv->window_kind, fv->window_start, fv->tickets);
    logger_t *l = inst;
    return log_fact(l, fv->window_end + jp_proc_config(l->ctx)->windows.grace_ms, what);
}

static int64_t logger_next_timer(void *inst, int64_t after)
{
    (void)inst;
    int64_t d = after >= 0 ? after / DAY_MS : -((-after + DAY_MS - 1) / DAY_MS);
    return (d + 1) * DAY_MS;
}

static int logger_timer(void *inst, int64_t time)
{
    assert_int_equal(time % DAY_MS, 0);
    assert_true(time <= jp_proc_clock(((logger_t *)inst)->ctx));
    return log_fact(inst, time, "T");
}

static int logger_commit(void *inst)
{
    logger_t *l = inst;
    return jp_store_put(jp_proc_store(l->ctx), JP_CF_MODELS, n_key, sizeof(n_key) - 1, &l->n,
                        sizeof(l->n));
}

static const jp_proc_t logger = {
    .name = "test-logger",
    .open = logger_open,
    .close = logger_close,
    .on_window = logger_window,
    .next_timer = logger_next_timer,
    .on_timer = logger_timer,
    .prepare_commit = logger_commit,
};
static const jp_proc_t *const procs[] = {&logger};

/* ---- runs ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "engine-proc", 1);
    jp_test_stack_simulate(&st, "tests/configs/sim/quarter.yaml", WEEKS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    return 0;
}

static void run_to_end(const jp_config_t *cfg, jp_engine_totals_t *tot)
{
    jp_test_engine_t *e = jp_test_engine_start_with(cfg, NULL, procs, 1);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, WAIT_MS), 0);
    jp_test_engine_stop(e, tot);
}

/* Stops after about `share` of the input, then resumes (optionally from an
 * empty state directory). */
static void run_part(const jp_config_t *cfg, double share, int wipe)
{
    jp_test_engine_t *e = jp_test_engine_start_with(cfg, NULL, procs, 1);
    jp_test_engine_wait_consumed(e, (int64_t)(share * (double)st.records), WAIT_MS);
    jp_test_engine_stop(e, NULL);
    if (wipe)
        jp_test_rmtree(cfg->state.dir);
}

typedef struct {
    int partition;
    int64_t seq, time;
    char what[96];
} fact_t;

static int fact_cmp(const void *a, const void *b)
{
    const fact_t *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The logged facts, sorted by (task, sequence); each sequence once. */
static fact_t *parse(const jp_test_recset_t *r, size_t *n)
{
    fact_t *f = calloc(r->n, sizeof(*f));
    assert_non_null(f);
    for (size_t i = 0; i < r->n; i++) {
        const unsigned char *b = (const unsigned char *)r->items[i];
        size_t klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        const char *key = r->items[i] + 4, *val = key + klen;
        char kbuf[16];
        assert_true(klen < sizeof kbuf);
        memcpy(kbuf, key, klen);
        kbuf[klen] = '\0';
        char buf[200];
        size_t vlen = r->lens[i] - 4 - klen;
        assert_true(vlen < sizeof buf);
        memcpy(buf, val, vlen);
        buf[vlen] = '\0';
        assert_int_equal(sscanf(kbuf, "p%d", &f[i].partition), 1);
        int off = 0;
        assert_int_equal(sscanf(buf, "%" SCNd64 " %" SCNd64 " %n", &f[i].seq, &f[i].time, &off), 2);
        snprintf(f[i].what, sizeof f[i].what, "%s", buf + off);
    }
    qsort(f, r->n, sizeof(*f), fact_cmp);
    for (size_t i = 1; i < r->n; i++)
        if (f[i].partition == f[i - 1].partition)
            assert_int_equal(f[i].seq, f[i - 1].seq + 1); /* each fact once, none missing */
    *n = r->n;
    return f;
}

static void test_facts_in_order_and_survive_restarts(void **state)
{
    (void)state;
    jp_config_t ref_cfg, cfg;
    jp_engine_totals_t ref_tot;
    jp_test_engine_config(&st, "proc-ref", &ref_cfg);
    run_to_end(&ref_cfg, &ref_tot);

    jp_test_engine_config(&st, "proc-restarts", &cfg);
    run_part(&cfg, 0.3, 0);
    run_part(&cfg, 0.6, 1);
    jp_engine_totals_t tot;
    run_to_end(&cfg, &tot);
    jp_test_assert_totals_equal(&tot, &ref_tot);

    jp_test_recset_t ref, got;
    jp_test_read_distinct(&st, ref_cfg.topics.models, &ref);
    jp_test_read_distinct(&st, cfg.topics.models, &got);
    assert_true(ref.n > 0);
    assert_true(jp_test_recset_equal(&ref, &got));

    size_t n;
    fact_t *f = parse(&ref, &n);
    int64_t windows = 0, timers = 0;
    for (size_t i = 0; i < n; i++) {
        int is_timer = strcmp(f[i].what, "T") == 0;
        windows += !is_timer;
        timers += is_timer;
        if (i > 0 && f[i].partition == f[i - 1].partition) {
            assert_true(f[i].time >= f[i - 1].time);
            /* a window of the same time never follows a timer */
            assert_false(f[i].time == f[i - 1].time && !is_timer &&
                         strcmp(f[i - 1].what, "T") == 0);
        }
    }
    /* Windows are delivered once the clock passes them, so the last few
     * of each task may still wait; everything before them arrived. */
    assert_true(windows <= ref_tot.windows_closed);
    assert_true(windows >= ref_tot.windows_closed / 2);
    assert_true(timers >= (int64_t)WEEKS * 7 - 2);
    free(f);
    jp_test_recset_free(&ref);
    jp_test_recset_free(&got);
    jp_config_release(&ref_cfg);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facts_in_order_and_survive_restarts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
