/*
 * jp_log: level filtering, text and JSON lines, and the scrubber that
 * keeps registered secrets out of every line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/jp_log.h"
#include "jp_test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs fn with the log redirected to a temp file; returns what it wrote. */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/jp-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    jp_log_set_fd(fd);
    fn();
    jp_log_set_fd(2);
    close(fd);
    char *out = jp_test_read_file(path, NULL);
    unlink(path);
    return out;
}

static void emit_levels(void)
{
    jp_log_set_level(JP_LOG_WARN);
    jp_log_info("test", "hidden %d", 1);
    jp_log_warn("test", "shown %d", 2);
    jp_log_error("test", "shown %d", 3);
    jp_log_set_level(JP_LOG_INFO);
}

static void test_level_filter(void **state)
{
    (void)state;
    jp_log_set_format(JP_LOG_TEXT);
    char *out = capture(emit_levels);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "warn  test: shown 2\n"));
    assert_non_null(strstr(out, "error test: shown 3\n"));
    free(out);
}

static void emit_secret(void)
{
    jp_log_add_secret("hunter2-secret");
    jp_log_info("kafka", "connecting with password=hunter2-secret and \"quotes\"\n");
    jp_log_clear_secrets();
}

static void test_json_lines_and_scrubbing(void **state)
{
    (void)state;
    jp_log_set_format(JP_LOG_JSON);
    char *out = capture(emit_secret);
    jp_log_set_format(JP_LOG_TEXT);
    assert_null(strstr(out, "hunter2"));
    json_error_t err;
    json_t *j = json_loads(out, JSON_DISABLE_EOF_CHECK, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "component")), "kafka");
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "connecting with password=[REDACTED] and \"quotes\"\n");
    assert_non_null(json_object_get(j, "ts"));
    json_decref(j);
    free(out);
}

static void test_scrub_overlapping_secrets(void **state)
{
    (void)state;
    char out[128];
    jp_log_add_secret("abc");
    jp_log_add_secret("abcdef");
    jp_log_scrub("x abcdef y abc z", out, sizeof(out));
    assert_string_equal(out, "x [REDACTED] y [REDACTED] z");
    jp_log_clear_secrets();
    jp_log_scrub("x abcdef", out, sizeof(out));
    assert_string_equal(out, "x abcdef");
}

static void test_parse_names(void **state)
{
    (void)state;
    jp_log_level_t l;
    jp_log_format_t f;
    assert_int_equal(jp_log_level_parse("debug", &l), 0);
    assert_int_equal(l, JP_LOG_DEBUG);
    assert_int_equal(jp_log_level_parse("verbose", &l), -1);
    assert_int_equal(jp_log_format_parse("json", &f), 0);
    assert_int_equal(f, JP_LOG_JSON);
    assert_int_equal(jp_log_format_parse("xml", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_json_lines_and_scrubbing),
        cmocka_unit_test(test_scrub_overlapping_secrets),
        cmocka_unit_test(test_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
