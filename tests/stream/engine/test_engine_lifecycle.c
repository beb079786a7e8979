/*
 * The engine's life around its data, on the embedded stack:
 *
 * - stale state: a state directory written against one cluster is refused
 *   on another (exit 78, naming both cluster ids), and taken over after a
 *   reset (rebuilt from the new cluster, every record consumed);
 * - retention gaps: records the dev broker trimmed before the engine read
 *   them stop the engine with exit 75 and are counted in
 *   jackpot_input_records_lost_total; with on_input_loss: continue they
 *   are counted (in the task status too) and the rest is processed;
 * - progress: while every commit fails (offset commits refused by the
 *   broker) /readyz reports not ready, and ready again once commits pass;
 * - shutdown: `jackpot run` as a subprocess receives SIGTERM with every
 *   broker down, then with one broker killed mid-run, and exits 0 each time
 *   (a generous waitpid bound only detects a hang; the measured times are
 *   printed, never asserted: the deadline is processing.shutdown_grace);
 *   a later run ends with exactly the totals of an undisturbed reference
 *   run: nothing committed was lost.
 *
 * Label: integration
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/jp_clock.h"
#include "jp_test.h"
#include "jp_test_engine.h"

#define WAIT_MS 180000
#define HANG_MS 120000 /* only a hang detector: far beyond any grace */

/* ---- stale state ----------------------------------------------------------------- */

static void test_state_of_another_cluster_is_refused_then_reset(void **state)
{
    (void)state;
    jp_test_stack_t a, b;
    jp_test_stack_start(&a, "stale-a", 1);
    jp_test_stack_simulate(&a, "tests/configs/sim/quarter.yaml", 1);
    jp_config_t cfg_a, cfg_b;
    jp_test_engine_config(&a, "stale", &cfg_a);
    jp_test_engine_t *e = jp_test_engine_start(&cfg_a, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, a.records, WAIT_MS), 0);
    jp_test_engine_stop(e, NULL);

    /* A new, empty cluster; the same state directory. */
    jp_test_stack_start(&b, "stale-b", 1);
    jp_test_engine_config(&b, "stale", &cfg_b);
    free(cfg_b.state.dir);
    cfg_b.state.dir = strdup(cfg_a.state.dir);
    char err[1024];
    int code = 0;
    jp_metrics_t *m = jp_metrics_new();
    jp_engine_opts_t o = {1, NULL, 0};
    assert_null(jp_engine_new(&cfg_b, m, &o, &code, err, sizeof(err)));
    fprintf(stderr, "refused: %s\n", err);
    assert_int_equal(code, 78);
    assert_non_null(strstr(err, cfg_a.state.dir));
    assert_non_null(strstr(err, "--reset-state"));
    /* both cluster ids named */
    char *first = strstr(err, "mockCluster");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "mockCluster"));
    jp_metrics_free(m);

    /* Reset: the state is rebuilt from cluster b, which has its own input. */
    jp_test_stack_simulate(&b, "tests/configs/sim/quarter.yaml", 1);
    m = jp_metrics_new();
    o.reset_state = 1;
    jp_engine_t *eng = jp_engine_new(&cfg_b, m, &o, &code, err, sizeof(err));
    if (!eng)
        fail_msg("engine with reset: %s", err);
    jp_engine_free(eng);
    jp_metrics_free(m);
    e = jp_test_engine_start(&cfg_b, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, b.records, WAIT_MS), 0);
    jp_engine_totals_t t;
    jp_test_engine_stop(e, &t);
    assert_int_equal(t.consumed, b.records);
    assert_int_equal(t.consumed, t.applied + t.dead_lettered + t.duplicates);
    assert_int_equal(t.late, 0);
    jp_config_release(&cfg_a);
    jp_config_release(&cfg_b);
    jp_test_stack_stop(&b);
    jp_test_stack_stop(&a);
}

/* ---- retention gaps ------------------------------------------------------------- */

/* Writes junk records to sales partition 0 until the broker trimmed the
 * oldest; returns the low watermark (the records lost to any reader). */
static int64_t overflow_partition(jp_test_stack_t *s, const char *topic, int64_t *high)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", jp_devstack_bootstraps(s->stack), err, sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(p);
    size_t len = 100000;
    char *junk = malloc(len);
    memset(junk, 'j', len);
    int64_t lo = 0, hi = 0;
    for (int batch = 0; batch < 20 && lo == 0; batch++) {
        for (int i = 0; i < 20; i++)
            assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                               RD_KAFKA_V_KEY("GB", 2), RD_KAFKA_V_VALUE(junk, len),
                                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                               RD_KAFKA_V_END),
                             0);
        assert_int_equal(rd_kafka_flush(p, 30000), 0);
        assert_int_equal(rd_kafka_query_watermark_offsets(p, topic, 0, &lo, &hi, 10000), 0);
    }
    free(junk);
    rd_kafka_destroy(p);
    assert_true(lo > 0);
    *high = hi;
    return lo;
}

static void test_records_lost_to_retention(void **state)
{
    (void)state;
    jp_test_stack_t s;
    jp_test_stack_start(&s, "gaps", 1);
    jp_config_t cfg;
    jp_test_engine_config(&s, "gaps-stop", &cfg);
    int64_t hi, lo = overflow_partition(&s, cfg.topics.sales.name, &hi);
    fprintf(stderr, "the broker kept offsets %lld..%lld\n", (long long)lo, (long long)hi - 1);

    /* default: stop with EX_TEMPFAIL, the loss counted */
    assert_int_equal(cfg.processing.on_input_loss, JP_INPUT_LOSS_STOP);
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    char want[256], err[512];
    snprintf(want, sizeof(want),
             "jackpot_input_records_lost_total{partition=\"0\",topic=\"%s\"} %lld",
             cfg.topics.sales.name, (long long)lo);
    char *text = NULL;
    for (int waited = 0; waited < 20000; waited += 100) {
        free(text);
        text = jp_metrics_render(jp_test_engine_metrics(e));
        if (strstr(text, want))
            break;
        usleep(100000);
    }
    if (!strstr(text, want)) {
        const char *l = strstr(text, "lost");
        fail_msg("no '%s' in the metrics; %.300s", want, l ? l - 40 : "no 'lost'");
    }
    free(text);
    jp_engine_totals_t t;
    assert_int_equal(jp_test_engine_finish(e, WAIT_MS, &t, err, sizeof(err)), 75);
    fprintf(stderr, "stopped: %s\n", err);
    assert_non_null(strstr(err, "removed by retention"));
    assert_int_equal(t.consumed, 0); /* nothing past the gap */

    /* continue: counted, and everything that is left is processed */
    jp_config_release(&cfg);
    jp_test_engine_config(&s, "gaps-continue", &cfg);
    cfg.processing.on_input_loss = JP_INPUT_LOSS_CONTINUE;
    e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, hi - lo, WAIT_MS), 0);
    jp_test_engine_stop(e, &t);
    assert_int_equal(t.lost, lo);
    assert_int_equal(t.consumed, hi - lo);
    assert_int_equal(t.dead_lettered, hi - lo); /* junk: NOT_FRAMED */
    jp_config_release(&cfg);
    jp_test_stack_stop(&s);
}

/* ---- progress and readiness ------------------------------------------------------- */

static void test_not_ready_while_commits_fail(void **state)
{
    (void)state;
    jp_test_stack_t s;
    jp_test_stack_start(&s, "stall", 1);
    jp_test_stack_simulate(&s, "tests/configs/sim/quarter.yaml", 1);
    jp_config_t cfg;
    jp_test_engine_config(&s, "stall", &cfg);
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, s.records, WAIT_MS), 0);
    jp_engine_t *eng = jp_test_engine_engine(e);
    for (int waited = 0; !jp_engine_ready(eng) && waited < WAIT_MS; waited += 20)
        usleep(20000);
    assert_true(jp_engine_ready(eng));
    /* Every offset commit refused for a while: each commit fails and
     * rewinds every task; no progress is made. */
    rd_kafka_resp_err_t errs[8];
    for (int i = 0; i < 8; i++)
        errs[i] = RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE;
    rd_kafka_mock_push_request_errors_array(jp_broker_mock(jp_devstack_broker(s.stack)), 8, 8,
                                            errs);
    int saw_not_ready = 0;
    for (int waited = 0; !saw_not_ready && waited < WAIT_MS; waited += 10) {
        saw_not_ready = !jp_engine_ready(eng);
        usleep(10000);
    }
    assert_true(saw_not_ready);
    /* once the broker takes commits again, ready again */
    int ready = 0;
    for (int waited = 0; !ready && waited < WAIT_MS; waited += 20) {
        ready = jp_engine_ready(eng);
        usleep(20000);
    }
    assert_true(ready);
    jp_engine_totals_t t;
    jp_test_engine_stop(e, &t);
    assert_int_equal(t.consumed, s.records);
    jp_config_release(&cfg);
    jp_test_stack_stop(&s);
}

/* ---- shutdown ----------------------------------------------------------------------- */

/* `jackpot run` on the stack, its output in dir/run-<n>.log. */
static pid_t spawn_run(jp_test_stack_t *s, const char *state_dir, int n)
{
    char log[700], bs[600], url[300], sd[700];
    snprintf(log, sizeof(log), "%s/run-%d.log", s->dir, n);
    snprintf(bs, sizeof(bs), "bootstrap.servers=%s", jp_devstack_bootstraps(s->stack));
    snprintf(url, sizeof(url), "JACKPOT_SCHEMA_REGISTRY__URL=%s",
             jp_devstack_registry_url(s->stack));
    snprintf(sd, sizeof(sd), "JACKPOT_STATE__DIR=%s", state_dir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        putenv(url);
        putenv(sd);
        putenv("JACKPOT_HTTP__LISTEN=127.0.0.1:0");
        if (getenv("JP_TEST_VERBOSE"))
            putenv("JACKPOT_LOG__LEVEL=debug");
        putenv("JACKPOT_PROCESSING__COMMIT_INTERVAL=200ms");
        execl(jp_test_bin(), jp_test_bin(), "run", "--config", "configs/jackpot.yaml", "-X", bs,
              "-X", "group.id=shutdown", "-X", "session.timeout.ms=6000", "-X",
              "heartbeat.interval.ms=500", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Sales offsets the group "shutdown" has committed, summed. */
static int64_t committed(jp_test_stack_t *s, const char *topic, int partitions)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", jp_devstack_bootstraps(s->stack), err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", "shutdown", err, sizeof(err)); /* never joins */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    int64_t sum = 0;
    if (rd_kafka_committed(rk, l, 10000) == 0)
        for (int p = 0; p < partitions; p++)
            sum += l->elems[p].offset > 0 ? l->elems[p].offset : 0;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return sum;
}

/* Run n's log on stderr (with JP_TEST_VERBOSE, or when the stop was slow:
 * information for whoever reads the test's output, not an assertion). */
static void show_log(jp_test_stack_t *s, int n, int slow)
{
    if (!getenv("JP_TEST_VERBOSE") && !slow)
        return;
    char log[700];
    snprintf(log, sizeof(log), "%s/run-%d.log", s->dir, n);
    char *text = jp_test_read_file(log, NULL);
    fprintf(stderr, "--- run %d\n%s\n---\n", n, text ? text : "");
    free(text);
}

/* SIGTERM, then waits (HANG_MS at most); the exit status, and the time
 * from the signal to the exit in *ms. */
static int terminate(pid_t pid, double *ms)
{
    double t0 = jp_clock_now_s();
    assert_int_equal(kill(pid, SIGTERM), 0);
    int st = 0;
    for (int waited = 0; waited < HANG_MS; waited += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            *ms = (jp_clock_now_s() - t0) * 1000.0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fail_msg("jackpot run did not exit within %d ms of SIGTERM", HANG_MS);
    return -1;
}

static void set_brokers(rd_kafka_mock_cluster_t *mc, int first, int last, int up)
{
    for (int b = first; b <= last; b++)
        assert_int_equal(
            up ? rd_kafka_mock_broker_set_up(mc, b) : rd_kafka_mock_broker_set_down(mc, b), 0);
}

static void wait_committed(jp_test_stack_t *s, const jp_config_t *cfg, int64_t above)
{
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        if (committed(s, cfg->topics.sales.name, (int)cfg->topics.sales.partitions) > above)
            return;
        usleep(100000);
    }
    fail_msg("jackpot run committed nothing");
}

/* Waits until run n's log says it owns a task. */
static void wait_assigned(jp_test_stack_t *s, int n)
{
    char log[700];
    snprintf(log, sizeof(log), "%s/run-%d.log", s->dir, n);
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        char *text = jp_test_read_file(log, NULL);
        int found = text && strstr(text, "assigned");
        free(text);
        if (found)
            return;
        usleep(100000);
    }
    fail_msg("jackpot run %d was never assigned a task", n);
}

static void test_sigterm_with_the_cluster_down(void **state)
{
    (void)state;
    jp_test_stack_t s;
    jp_test_stack_start(&s, "shutdown", 3);
    jp_test_stack_simulate(&s, "tests/configs/sim/quarter.yaml", 2);
    rd_kafka_mock_cluster_t *mc = jp_broker_mock(jp_devstack_broker(s.stack));
    jp_config_t ref_cfg, cfg;
    jp_test_engine_config(&s, "shutdown-ref", &ref_cfg);
    jp_test_engine_t *ref = jp_test_engine_start(&ref_cfg, NULL);
    assert_int_equal(jp_test_engine_wait(ref, -1, s.records, WAIT_MS), 0);
    jp_engine_totals_t ref_tot;
    jp_test_engine_stop(ref, &ref_tot);

    /* The subprocess runs with the default changelogs and features topic
     * (the stack created them) and group "shutdown", whose repartition
     * topic is created here as deploy/topics/create-topics.sh does. */
    jp_test_engine_config(&s, "shutdown", &cfg);
    char err[256];
    assert_int_equal(jp_broker_create_topic(jp_devstack_broker(s.stack),
                                            "jackpot.shutdown-repartition",
                                            (int)cfg.topics.sales.partitions, err, sizeof(err)),
                     0);
    char state_dir[700];
    snprintf(state_dir, sizeof(state_dir), "%s/state-subprocess", s.dir);
    double ms_all, ms_one;
    int rc;

    /* 1: every broker unreachable when SIGTERM comes */
    pid_t pid = spawn_run(&s, state_dir, 1);
    wait_committed(&s, &cfg, 0);
    set_brokers(mc, 1, 3, 0);
    usleep(500000); /* the outage's start, not an assertion */
    rc = terminate(pid, &ms_all);
    show_log(&s, 1, ms_all > cfg.processing.shutdown_grace_ms / 2);
    assert_int_equal(rc, 0);
    set_brokers(mc, 1, 3, 1);

    /* 2: one broker killed mid-run (whatever is left to read) */
    pid = spawn_run(&s, state_dir, 2);
    wait_assigned(&s, 2);
    set_brokers(mc, 2, 2, 0);
    usleep(500000);
    rc = terminate(pid, &ms_one);
    show_log(&s, 2, ms_one > cfg.processing.shutdown_grace_ms / 2);
    assert_int_equal(rc, 0);
    set_brokers(mc, 2, 2, 1);
    fprintf(stderr,
            "SIGTERM to exit: %.0f ms with every broker down, %.0f ms with one broker down "
            "(shutdown_grace %lld ms)\n",
            ms_all, ms_one, (long long)cfg.processing.shutdown_grace_ms);

    /* Nothing committed was lost: the same group and state finish with the
     * totals of the undisturbed reference run. */
    assert_int_equal(jp_conf_props_set(&cfg.kafka, "group.id", "shutdown"), 0);
    free(cfg.state.dir);
    cfg.state.dir = strdup(state_dir);
    free(cfg.topics.changelog_prefix);
    cfg.topics.changelog_prefix = strdup("jackpot.");
    jp_test_engine_t *e = jp_test_engine_start(&cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, s.records, WAIT_MS), 0);
    jp_engine_totals_t tot;
    jp_test_engine_stop(e, &tot);
    jp_test_assert_totals_equal(&tot, &ref_tot);
    jp_config_release(&cfg);
    jp_config_release(&ref_cfg);
    jp_test_stack_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_of_another_cluster_is_refused_then_reset),
        cmocka_unit_test(test_records_lost_to_retention),
        cmocka_unit_test(test_not_ready_while_commits_fail),
        cmocka_unit_test(test_sigterm_with_the_cluster_down),
    };
    if (getenv("JP_TEST_FILTER")) /* e.g. "*sigterm*": one test while working on it */
        cmocka_set_test_filter(getenv("JP_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
