/*
 * The CLI contract: usage errors exit 64 with usage on stderr; help and
 * version exit 0 on stdout; every registered command answers --help.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "app/jp_cli.h"
#include "jp_test.h"

#include <stdio.h>
#include <string.h>

static jp_test_result_t run(const char *a1, const char *a2, const char *a3)
{
    const char *argv[] = {jp_test_bin(), a1, a2, a3, NULL};
    return jp_test_run(argv);
}

static void test_no_command_is_usage_error(void **state)
{
    (void)state;
    const char *argv[] = {jp_test_bin(), NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "usage: jackpot <command>"));
    jp_test_result_free(&r);
}

static void test_unknown_command(void **state)
{
    (void)state;
    jp_test_result_t r = run("frobnicate", NULL, NULL);
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "unknown command 'frobnicate'"));
    assert_non_null(strstr(r.err, "usage: jackpot"));
    assert_string_equal(r.out, "");
    jp_test_result_free(&r);
}

static void test_unknown_option(void **state)
{
    (void)state;
    jp_test_result_t r = run("version", "--bogus", NULL);
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "jackpot version: unknown option '--bogus'"));
    assert_non_null(strstr(r.err, "usage: jackpot version"));
    jp_test_result_free(&r);

    r = run("config", "check", "-Q");
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "unknown option '-Q'"));
    jp_test_result_free(&r);

    r = run("config", "check", "--config");
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "option '--config' needs a value"));
    jp_test_result_free(&r);

    r = run("config", "frob", NULL);
    assert_int_equal(r.status, 64);
    assert_non_null(strstr(r.err, "unknown subcommand 'frob'"));
    jp_test_result_free(&r);
}

static void test_help_lists_every_command(void **state)
{
    (void)state;
    jp_test_result_t r = run("help", NULL, NULL);
    assert_int_equal(r.status, 0);
    for (const jp_command_t *c = jp_commands; c->name; c++) {
        char line[64];
        snprintf(line, sizeof(line), "  %-10s %s", c->name, c->summary);
        assert_non_null(strstr(r.out, line));
    }
    jp_test_result_free(&r);
}

/* Every command answers --help on stdout with its own usage, exit 0,
 * whether asked as `jackpot CMD --help` or `jackpot help CMD`. */
static void test_every_command_has_help(void **state)
{
    (void)state;
    for (const jp_command_t *c = jp_commands; c->name; c++) {
        char want[64];
        snprintf(want, sizeof(want), "usage: jackpot %s", c->name);
        jp_test_result_t r = run(c->name, "--help", NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, want));
        assert_string_equal(r.err, "");
        jp_test_result_free(&r);
        r = run("help", c->name, NULL);
        assert_int_equal(r.status, 0);
        assert_string_equal(r.out, c->usage);
        jp_test_result_free(&r);
    }
}

static void test_version(void **state)
{
    (void)state;
    jp_test_result_t r = run("version", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, "jackpot 0.", 10) == 0);
    assert_non_null(strstr(r.out, "(commit "));
    static const char *const libs[] = {"librdkafka 2.", "RocksDB    7.", "avro-c     1.",
                                       "libevent   2.", "libyaml    0."};
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
        assert_non_null(strstr(r.out, libs[i]));
    /* The loaded shared objects, not just build-time versions. */
    assert_non_null(strstr(r.out, "librocksdb.so."));
    assert_non_null(strstr(r.out, "libavro.so."));
    jp_test_result_free(&r);
}

static void test_parse_long(void **state)
{
    (void)state;
    long v;
    assert_int_equal(jp_cli_parse_long("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(jp_cli_parse_long("101", 0, 100, &v), -1);
    assert_int_equal(jp_cli_parse_long("4x", 0, 100, &v), -1);
    assert_int_equal(jp_cli_parse_long("", 0, 100, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_command_is_usage_error),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_help_lists_every_command),
        cmocka_unit_test(test_every_command_has_help),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_parse_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
