/*
 * `jackpot tail` and `jackpot dlq` (the binary, as an operator runs it)
 * against the embedded stack: tail gives up on unreachable brokers (69),
 * a missing topic (66) and an empty one (66, with --timeout) instead of
 * hanging, and shows dead-letter headers (--headers) without any input
 * bytes; `dlq show` opens the dead letters with the configured key and
 * prints the original bytes; `dlq replay` writes them back to their
 * source partition unchanged.
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
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jp_test.h"
#include "jp_test_engine.h"

#define WAIT_MS 120000

static struct {
    jp_test_stack_t st;
    jp_config_t cfg;
    char bootstrap[600];
} fx;

static const char *const bad[] = {"not avro: customer C-0001 at SW1A 1AA", "\x01garbage-one",
                                  "\x02garbage-two"};
#define N_BAD 3

static int setup(void **state)
{
    (void)state;
    char err[256];
    jp_test_stack_start(&fx.st, "tail-dlq", 1);
    jp_test_engine_config(&fx.st, "tail-dlq", &fx.cfg);
    snprintf(fx.bootstrap, sizeof(fx.bootstrap), "bootstrap.servers=%s",
             jp_devstack_bootstraps(fx.st.stack));
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", jp_devstack_bootstraps(fx.st.stack), err,
                      sizeof(err));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    for (int i = 0; i < N_BAD; i++)
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(fx.cfg.topics.sales.name),
                                           RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY("GB", 2),
                                           RD_KAFKA_V_VALUE((void *)bad[i], strlen(bad[i])),
                                           RD_KAFKA_V_HEADER("trace", "someone@example.org", -1),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         0);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
    jp_test_engine_t *e = jp_test_engine_start(&fx.cfg, NULL);
    assert_int_equal(jp_test_engine_wait(e, -1, N_BAD, WAIT_MS), 0);
    jp_test_engine_stop(e, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    jp_config_release(&fx.cfg);
    jp_test_stack_stop(&fx.st);
    return 0;
}

static jp_test_result_t tail(const char *topic, const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = {jp_test_bin(),
                          "tail",
                          topic,
                          "--brokers",
                          jp_devstack_bootstraps(fx.st.stack),
                          "--registry",
                          jp_devstack_registry_url(fx.st.stack),
                          a1,
                          a2,
                          a3,
                          NULL};
    return jp_test_run(argv);
}

static void test_tail_gives_up_with_clear_errors(void **state)
{
    (void)state;
    const char *unreachable[] = {jp_test_bin(), "tail",        "lottery.sales.v1",
                                 "--brokers",   "127.0.0.1:1", "--timeout",
                                 "2s",          NULL};
    jp_test_result_t r = jp_test_run(unreachable);
    assert_int_equal(r.status, 69);
    assert_non_null(strstr(r.err, "cannot reach the Kafka brokers at 127.0.0.1:1"));
    jp_test_result_free(&r);

    r = tail("no.such.topic", "--timeout", "5s", NULL);
    assert_int_equal(r.status, 66);
    assert_non_null(strstr(r.err, "topic no.such.topic does not exist"));
    jp_test_result_free(&r);
    /* asking did not create it */
    r = tail("no.such.topic", "--timeout", "5s", NULL);
    assert_int_equal(r.status, 66);
    jp_test_result_free(&r);

    r = tail(fx.cfg.topics.draws.name, "--from-beginning", "--timeout", "2s");
    assert_int_equal(r.status, 66);
    assert_non_null(strstr(r.err, "no record in lottery.draws.v1 within 2000 ms"));
    assert_string_equal(r.out, "");
    jp_test_result_free(&r);
}

static void test_tail_shows_dead_letter_headers(void **state)
{
    (void)state;
    char count[16];
    snprintf(count, sizeof(count), "--count=%d", N_BAD);
    const char *argv[] = {jp_test_bin(),
                          "tail",
                          "lottery.sales.v1.dlq",
                          "--brokers",
                          jp_devstack_bootstraps(fx.st.stack),
                          "--from-beginning",
                          count,
                          "--headers",
                          "--timeout",
                          "10s",
                          NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "SW1A"));
    assert_null(strstr(r.out, "someone@example.org"));
    int lines = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_t *h = json_object_get(j, "headers");
        assert_string_equal(json_string_value(json_object_get(h, "jp.error.class")), "NOT_FRAMED");
        assert_string_equal(json_string_value(json_object_get(h, "jp.source.topic")),
                            "lottery.sales.v1");
        assert_non_null(json_object_get(h, "jp.dlq.key"));
        assert_null(json_object_get(h, "trace")); /* the original headers are encrypted */
        assert_non_null(json_object_get(j, "encrypted_value"));
        json_decref(j);
    }
    assert_int_equal(lines, N_BAD);
    jp_test_result_free(&r);
}

static char *b64(const char *s)
{
    char *out = malloc(4 * ((strlen(s) + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)strlen(s));
    return out;
}

static void test_dlq_show_and_replay(void **state)
{
    (void)state;
    const char *show[] = {
        jp_test_bin(),          "dlq", "show",       "--config", "configs/jackpot.yaml", "--topic",
        "lottery.sales.v1.dlq", "-X",  fx.bootstrap, NULL};
    jp_test_result_t r = jp_test_run(show);
    if (r.status != 0)
        fail_msg("dlq show: exit %d: %s", r.status, r.err);
    for (int i = 0; i < N_BAD; i++) {
        char *want = b64(bad[i]);
        assert_non_null(strstr(r.out, want)); /* the original bytes */
        free(want);
    }
    char *trace = b64("someone@example.org");
    assert_non_null(strstr(r.out, trace)); /* and the original header */
    free(trace);
    assert_non_null(strstr(r.out, "\"error_class\":\"NOT_FRAMED\""));
    jp_test_result_free(&r);

    /* a key that is not the dead letters' opens nothing */
    char *dir = jp_test_tmpdir("dlq-key");
    char *other = jp_test_write_file(
        dir, "other", "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    char env[1000];
    snprintf(env, sizeof(env), "%s/other", dir);
    setenv("JACKPOT_DEAD_LETTERS__KEY_FILE", env, 1);
    r = jp_test_run(show);
    unsetenv("JACKPOT_DEAD_LETTERS__KEY_FILE");
    assert_int_equal(r.status, 65);
    assert_null(strstr(r.out, "value_b64"));
    jp_test_result_free(&r);
    free(other);
    jp_test_rmtree(dir);
    free(dir);

    /* replay: the original bytes back to lottery.sales.v1 partition 0 */
    const char *replay[] = {jp_test_bin(),
                            "dlq",
                            "replay",
                            "--config",
                            "configs/jackpot.yaml",
                            "--topic",
                            "lottery.sales.v1.dlq",
                            "--class",
                            "NOT_FRAMED",
                            "-X",
                            fx.bootstrap,
                            NULL};
    r = jp_test_run(replay);
    if (r.status != 0)
        fail_msg("dlq replay: exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.err, "replayed 3 dead letters"));
    jp_test_result_free(&r);
    jp_test_recset_t input;
    jp_test_read_distinct(&fx.st, fx.cfg.topics.sales.name, &input);
    assert_int_equal(input.read, 2 * N_BAD); /* each record twice, */
    assert_int_equal(input.n, N_BAD);        /* byte for byte the same */
    jp_test_recset_free(&input);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_gives_up_with_clear_errors),
        cmocka_unit_test(test_tail_shows_dead_letter_headers),
        cmocka_unit_test(test_dlq_show_and_replay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
