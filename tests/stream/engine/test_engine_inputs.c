/*
 * No input of a task starves another: with a backlog on every input (weeks
 * of tests/configs/sim/quarter.yaml produced before the engine starts:
 * thousands of sales per task, far fewer customer events and draws), the
 * engine applies each task's inputs side by side. A processor records, per
 * task, the input of every record in the order the task applied it; the
 * test then checks, for every pair of inputs (a, b) of a task, that when
 * half of a's records had been applied, b had applied at least
 * min(all of b, a quarter of (that half - one batch)). The engine serves
 * each input partition in turn, a batch of at most JP_TASK_BATCH_MAX
 * records each, so b keeps pace with a up to the batch of the round under
 * way; the quarter leaves room for b's first records arriving a few rounds
 * after a's. An engine that drained one input while another waited (a
 * flood of sales holding customers and draws back) fails. Nothing here
 * depends on how long anything takes: only on the order.
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/jp_proc.h"
#include "jp_test_engine.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEEKS 3
#else
#define WEEKS 6
#endif
#define WAIT_MS   180000
#define MAX_PARTS 64

static jp_test_stack_t st;

/* Per task, the inputs of its applied records in order (engine thread;
 * read once the engine has stopped). */
typedef struct {
    unsigned char *in;
    size_t n, cap;
} order_t;

static order_t order[MAX_PARTS];

static void *recorder_open(void *global, jp_proc_ctx_t *ctx, char *errstr, size_t errstr_size)
{
    (void)global;
    (void)errstr;
    (void)errstr_size;
    int p = jp_proc_partition(ctx);
    assert_true(p >= 0 && p < MAX_PARTS);
    /* Each task opens once in a run without faults: a rewind would replay
     * records and blur the order. */
    assert_int_equal(order[p].n, 0);
    return &order[p];
}

static int recorder_record(void *inst, const jp_proc_record_t *rec)
{
    order_t *o = inst;
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 4096;
        o->in = realloc(o->in, o->cap);
        assert_non_null(o->in);
    }
    o->in[o->n++] = (unsigned char)rec->input;
    return 0;
}

static const jp_proc_t recorder = {
    .name = "test-input-order",
    .open = recorder_open,
    .on_record = recorder_record,
};
static const jp_proc_t *const procs[] = {&recorder};

static int setup(void **state)
{
    (void)state;
    jp_test_stack_start(&st, "engine-inputs", 1);
    jp_test_stack_simulate(&st, "tests/configs/sim/quarter.yaml", WEEKS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_test_stack_stop(&st);
    for (int p = 0; p < MAX_PARTS; p++)
        free(order[p].in);
    return 0;
}

static const char *const names[JP_INPUT__COUNT] = {"sales", "customers", "draws"};

/* Checks one task's order for every pair of inputs. Returns how many
 * inputs the task had records of. */
static int check_task(int p, const order_t *o)
{
    size_t total[JP_INPUT__COUNT] = {0};
    for (size_t k = 0; k < o->n; k++)
        total[o->in[k]]++;
    int inputs = 0;
    for (int a = 0; a < JP_INPUT__COUNT; a++) {
        inputs += total[a] > 0;
        if (total[a] < 2)
            continue;
        /* b's records applied before a's half-way record */
        size_t seen[JP_INPUT__COUNT] = {0}, half = (total[a] + 1) / 2;
        for (size_t k = 0; k < o->n && seen[a] < half; k++)
            seen[o->in[k]]++;
        for (int b = 0; b < JP_INPUT__COUNT; b++) {
            if (b == a || !total[b])
                continue;
            size_t pace = half > JP_TASK_BATCH_MAX ? (half - JP_TASK_BATCH_MAX) / 4 : 0;
            size_t want = total[b] < pace ? total[b] : pace;
            fprintf(stderr,
                    "task %d: %zu %s, %zu %s; %zu of the %s applied before half of the %s\n", p,
                    total[a], names[a], total[b], names[b], seen[b], names[b], names[a]);
            if (seen[b] < want)
                fail_msg("task %d: only %zu of %zu %s records were applied before half of its "
                         "%zu %s records (at least %zu expected)",
                         p, seen[b], total[b], names[b], total[a], names[a], want);
        }
    }
    return inputs;
}

static void test_no_input_starves_another(void **state)
{
    (void)state;
    jp_config_t cfg;
    jp_test_engine_config(&st, "inputs", &cfg);
    assert_true(cfg.topics.sales.partitions <= MAX_PARTS);
    jp_test_engine_t *e = jp_test_engine_start_with(&cfg, NULL, procs, 1);
    assert_int_equal(jp_test_engine_wait(e, -1, st.records, WAIT_MS), 0);
    jp_engine_totals_t tot;
    jp_test_engine_stop(e, &tot);
    assert_int_equal(tot.consumed, st.records);
    /* Every applied record was seen, once. */
    size_t seen = 0;
    for (int p = 0; p < MAX_PARTS; p++)
        seen += order[p].n;
    assert_int_equal(seen, tot.applied);
    /* The backlog had all three inputs in at least one task, so the check
     * below compares something. */
    int full = 0;
    for (int p = 0; p < (int)cfg.topics.sales.partitions; p++)
        full += check_task(p, &order[p]) == JP_INPUT__COUNT;
    assert_true(full > 0);
    jp_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_input_starves_another),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
