/*
 * jp_test_engine: the engine in-process on the embedded stack, for the
 * robustness tests (several engines, reference runs, broker faults).
 *
 * A stack (mock cluster + registry) holds one input; each run on it gets
 * its own configuration (jp_test_engine_config): group id, state
 * directory, features topic and changelog topics all named after the run's
 * tag, so runs over the same input do not see each other's state or
 * outputs. Engines run on their own threads (jp_test_engine_start); every
 * helper fails the calling cmocka test on error.
 */
#ifndef JP_TEST_ENGINE_H
#define JP_TEST_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "dev/jp_devstack.h"
#include "engine/jp_engine.h"
#include "sim/jp_sim_truth.h"
#include "sim/jp_sim_world.h"

typedef struct jp_test_stack_s {
    char *dir; /* temporary, removed by jp_test_stack_stop */
    jp_devstack_t *stack;
    int64_t records; /* input records written by jp_test_stack_simulate */
} jp_test_stack_t;

/* Starts the stack (n_brokers mock brokers, the configured topics). */
void jp_test_stack_start(jp_test_stack_t *s, const char *tag, int n_brokers);
void jp_test_stack_stop(jp_test_stack_t *s);

/* cmocka group setup and teardown for a program whose tests share one
 * stack (one broker), tagged with the program's name: *state is the
 * jp_test_stack_t. */
int jp_test_stack_setup(void **state);
int jp_test_stack_teardown(void **state);

/* Loads a world file (path as given) into *w, printing every problem and
 * failing the test on any. Release with jp_sim_world_release. */
void jp_test_world_load(const char *path, jp_sim_world_t *w);

/* Loads the shipped world configs/sim/<name>.yaml into *w and runs
 * `weeks` of it (0: the world's) in process - generated, nothing encoded -
 * keeping the truth (jp_sim_truth_free). Fails the test on any error. */
jp_sim_truth_t *jp_test_world_truth(const char *name, int64_t weeks, jp_sim_world_t *w);

/* Produces `weeks` of a world file (relative to the repository root) into
 * the stack's input topics through jp_sim_producer, schemas registered in
 * the stack's registry. Adds the records written to s->records. */
void jp_test_stack_simulate(jp_test_stack_t *s, const char *world, int weeks);
/* The same through a producer with these properties on top of the
 * simulator's (e.g. partitioner=fnv1a_random); NULL: none. */
void jp_test_stack_simulate_with(jp_test_stack_t *s, const char *world, int weeks,
                                 const jp_conf_props_t *producer_props);
/* jp_test_stack_simulate for a loaded (possibly modified) world; weeks 0:
 * the world's. */
void jp_test_stack_simulate_world(jp_test_stack_t *s, const jp_sim_world_t *w, int weeks);

typedef struct jp_test_engine_s jp_test_engine_t;

/* Produces `weeks` of a loaded world (0: the world's) into the stack's
 * input topics while engine e consumes them: the simulator waits (between
 * simulated hours) whenever it is more than max_ahead records ahead of what
 * e has consumed, since the dev broker keeps only about 5 MB per partition
 * and a long run cannot sit in it. What is written does not depend on the
 * pacing. e NULL: no pacing. Adds the records written to s->records. */
void jp_test_stack_stream(jp_test_stack_t *s, const jp_sim_world_t *w, int weeks,
                          jp_test_engine_t *e, int64_t max_ahead);

/* Loads configs/jackpot.yaml as it is (errors fail the test). */
void jp_test_config_load(jp_config_t *out);

/* Loads configs/jackpot.yaml for a run tagged tag: pointed at the stack,
 * group id and state directory <dir>/state-<tag>[-<instance>], output
 * topics <configured name>.<tag> (features, recommendations, alerts,
 * models; created), changelogs jackpot.<tag>.<store>-changelog
 * (created), repartition topic jackpot.<tag>.<tag>-repartition (created),
 * commit interval 200 ms, short session timeout.
 * Release with jp_config_release. */
void jp_test_engine_config(jp_test_stack_t *s, const char *tag, jp_config_t *out);

/* Starts an engine on its own thread with its own state directory. */
jp_test_engine_t *jp_test_engine_start(const jp_config_t *cfg, const char *state_dir);
/* The same, with processors added to every task. */
jp_test_engine_t *jp_test_engine_start_with(const jp_config_t *cfg, const char *state_dir,
                                            const jp_proc_t *const *procs, size_t n_procs);
void jp_test_engine_totals(jp_test_engine_t *t, jp_engine_totals_t *out);
/* The engine itself, e.g. to reload its countries while it runs. */
jp_engine_t *jp_test_engine_handle(jp_test_engine_t *t);
/* Waits (up to timeout_ms) until the engine's committed totals satisfy:
 * tasks == want_tasks (-1: any) and consumed == want_consumed (-1: any)
 * and lag == 0 and received == repartitioned when want_consumed >= 0. 0,
 * or -1 on timeout. */
int jp_test_engine_wait(jp_test_engine_t *t, int want_tasks, int64_t want_consumed, int timeout_ms);
/* Waits (up to timeout_ms) until the engine's committed totals count at
 * least n consumed records; fails the test otherwise. */
void jp_test_engine_wait_consumed(jp_test_engine_t *t, int64_t n, int timeout_ms);
/* Stops the engine (it commits and leaves the group), checks it returned
 * 0, frees it; out (may be NULL) gets its final totals. */
void jp_test_engine_stop(jp_test_engine_t *t, jp_engine_totals_t *out);
/* Waits (up to timeout_ms) for an engine that stops by itself (an error),
 * frees it; returns jp_engine_exit_code, or -1 if it did not stop. out and
 * errstr (may be NULL) get its totals and error. */
int jp_test_engine_finish(jp_test_engine_t *t, int timeout_ms, jp_engine_totals_t *out,
                          char *errstr, size_t errstr_size);
/* The running engine and its metrics. */
jp_engine_t *jp_test_engine_engine(jp_test_engine_t *t);
jp_metrics_t *jp_test_engine_metrics(jp_test_engine_t *t);

/* A set of distinct (key, value bytes) records. */
typedef struct jp_test_recset_s {
    char **items; /* "<klen:4><key><value>", sorted */
    size_t *lens;
    size_t n, cap;
    size_t read; /* records read, duplicates included */
} jp_test_recset_t;

/* Reads a whole topic (every partition, to its end) into a set. */
void jp_test_read_distinct(jp_test_stack_t *s, const char *topic, jp_test_recset_t *out);
int jp_test_recset_equal(const jp_test_recset_t *a, const jp_test_recset_t *b);
void jp_test_recset_free(jp_test_recset_t *r);

/* Decodes every distinct record of a topic as event `reader` (JP_EVENT_*,
 * schemas from the stack's registry) into *out and calls fn for it (out
 * is valid during the call). A record that does not decode fails the
 * test. */
void jp_test_decode_topic(jp_test_stack_t *s, const char *topic, int reader, void *out,
                          void (*fn)(void *ctx, const void *out), void *ctx);

/* Asserts the run's totals against a reference run's, and conservation
 * (with the repartition topic's copies: every one sent was received). */
void jp_test_assert_totals_equal(const jp_engine_totals_t *got, const jp_engine_totals_t *ref);

#endif
