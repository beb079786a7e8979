/*
 * Configuration: every shipped file loads; each broken file under
 * tests/configs/broken fails with exit 78 and the message its own
 * "# expect:" comment states, at the position the comment points to
 * ("+N:C" = N lines below the comment, column C; "-" = no position).
 * The expectations live next to the broken line, so the table is the
 * directory itself and the positions are checked against the file, not
 * against what the implementation happens to print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BROKEN "tests/configs/broken"

/* Builds the expected error lines of one case file; returns how many. */
static size_t expectations(const char *path, char out[][512], size_t max)
{
    char *text = jp_test_read_file(path, NULL);
    assert_non_null(text);
    size_t n = 0;
    int line = 1;
    for (char *p = text; *p && n < max; line++) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        const char *m = strstr(p, "# expect: ");
        if (m) {
            m += strlen("# expect: ");
            int rel, col, used;
            if (sscanf(m, "+%d:%d %n", &rel, &col, &used) == 2) {
                const char *rest = m + used;
                if (strncmp(rest, "-: ", 3) == 0)
                    rest += 3;
                snprintf(out[n++], 512, "%s:%d:%d: %s", path, line + rel, col, rest);
            } else {
                assert_true(strncmp(m, "- ", 2) == 0);
                snprintf(out[n++], 512, "%s", m + 2);
            }
        }
        if (!eol)
            break;
        p = eol + 1;
    }
    free(text);
    assert_true(n > 0);
    return n;
}

static void check_case(const char *config, const char *expect_file, const char *countries_dir)
{
    char expected[8][512];
    size_t n = expectations(expect_file, expected, 8);
    if (countries_dir)
        setenv("JACKPOT_COUNTRIES__DIR", countries_dir, 1);
    const char *argv[] = {jp_test_bin(), "config", "check", "--config", config, NULL};
    jp_test_result_t r = jp_test_run(argv);
    unsetenv("JACKPOT_COUNTRIES__DIR");
    for (size_t i = 0; i < n; i++) {
        if (!strstr(r.err, expected[i]))
            fail_msg("%s: expected on stderr:\n  %s\ngot:\n%s", expect_file, expected[i], r.err);
    }
    if (r.status != 78)
        fail_msg("%s: exit %d, expected 78", expect_file, r.status);
    assert_string_equal(r.out, "");
    jp_test_result_free(&r);
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void test_broken_processor_configs(void **state)
{
    (void)state;
    DIR *d = opendir(BROKEN);
    assert_non_null(d);
    struct dirent *e;
    size_t cases = 0;
    while ((e = readdir(d))) {
        if (!has_prefix(e->d_name, "p-"))
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", BROKEN, e->d_name);
        check_case(path, path, NULL);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 25);
}

static void test_broken_country_configs(void **state)
{
    (void)state;
    DIR *d = opendir(BROKEN "/countries");
    assert_non_null(d);
    struct dirent *e;
    size_t cases = 0;
    while ((e = readdir(d))) {
        if (!has_prefix(e->d_name, "c-"))
            continue;
        char dir[512], file[600];
        snprintf(dir, sizeof(dir), "countries/%s", e->d_name);
        snprintf(file, sizeof(file), "%s/%s/gb.yaml", BROKEN, dir);
        check_case(BROKEN "/harness.yaml", file, dir);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 15);
}

static void test_shipped_configs_load(void **state)
{
    (void)state;
    const char *argv[] = {jp_test_bin(), "config", "check", NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "configs/jackpot.yaml: ok"));
    assert_non_null(strstr(r.out, "countries        5"));
    static const char *const codes[] = {"DE ", "GB ", "NL ", "NO ", "SE "};
    for (size_t i = 0; i < 5; i++)
        assert_non_null(strstr(r.out, codes[i]));
    jp_test_result_free(&r);
}

/* Collects every error, not just the first: two faults, two lines. */
static void test_all_errors_reported(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("conf");
    char *path = jp_test_write_file(dir, "j.yaml",
                                    "kafka: {bootstrap.servers: x, group.id: g}\n"
                                    "topics:\n"
                                    "  sales: {name: a, partitions: 0}\n"
                                    "  customers: {name: b}\n"
                                    "  draws: {name: c}\n"
                                    "schema_registry: {url: http://r}\n"
                                    "state: {dir: /tmp/s, bogus: 1}\n"
                                    "countries: {dir: /nonexistent}\n");
    const char *argv[] = {jp_test_bin(), "config", "check", "-c", path, NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 78);
    char want1[600], want2[600];
    snprintf(want1, sizeof(want1), "%s:3:32: topics.sales.partitions: 0 is out of range", path);
    snprintf(want2, sizeof(want2), "%s:7:22: state.bogus: unknown key", path);
    assert_non_null(strstr(r.err, want1));
    assert_non_null(strstr(r.err, want2));
    assert_non_null(strstr(r.err, "cannot read country directory /nonexistent"));
    jp_test_result_free(&r);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

static void test_env_and_x_overrides(void **state)
{
    (void)state;
    setenv("JACKPOT_STATE__DIR", "/tmp/from-env", 1);
    setenv("JACKPOT_KAFKA__BOOTSTRAP_SERVERS", "envhost:9092", 1);
    const char *argv[] = {jp_test_bin(), "config", "check", "-X", "group.id=from-x", NULL};
    jp_test_result_t r = jp_test_run(argv);
    unsetenv("JACKPOT_STATE__DIR");
    unsetenv("JACKPOT_KAFKA__BOOTSTRAP_SERVERS");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "state            /tmp/from-env"));
    assert_non_null(strstr(r.out, "envhost:9092, group from-x"));
    jp_test_result_free(&r);

    setenv("JACKPOT_STATE__DIRR", "/tmp/typo", 1);
    const char *argv2[] = {jp_test_bin(), "config", "check", NULL};
    r = jp_test_run(argv2);
    unsetenv("JACKPOT_STATE__DIRR");
    assert_int_equal(r.status, 78);
    assert_non_null(strstr(r.err, "env JACKPOT_STATE__DIRR: no configuration key has this name"));
    jp_test_result_free(&r);

    setenv("JACKPOT_LOG__LEVEL", "chatty", 1);
    r = jp_test_run(argv2);
    unsetenv("JACKPOT_LOG__LEVEL");
    assert_int_equal(r.status, 78);
    assert_non_null(
        strstr(r.err, "env JACKPOT_LOG__LEVEL: log.level: 'chatty' is not one of: debug"));
    jp_test_result_free(&r);

    const char *argv3[] = {jp_test_bin(), "config", "check", "-X", "no.such=1", NULL};
    r = jp_test_run(argv3);
    assert_int_equal(r.status, 78);
    assert_non_null(strstr(r.err, "-X no.such: librdkafka: No such configuration property"));
    jp_test_result_free(&r);
}

/* The partitioning and key-format keys reach the configuration (the
 * engine tests run with them; the summary shows what was loaded). */
static void test_partitioning_and_key_format(void **state)
{
    (void)state;
    const char *argv[] = {jp_test_bin(), "config", "check", NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "(string keys)"));
    assert_non_null(strstr(r.out, "partitioning     murmur2; mispartitioned records: repartition"));
    jp_test_result_free(&r);

    setenv("JACKPOT_TOPICS__OUTPUT_KEY_FORMAT", "avro", 1);
    setenv("JACKPOT_TOPICS__INPUT_PARTITIONER", "fnv1a", 1);
    setenv("JACKPOT_TOPICS__MISPARTITIONED", "dead_letter", 1);
    r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "(avro keys)"));
    assert_non_null(strstr(r.out, "partitioning     fnv1a; mispartitioned records: dead_letter"));
    jp_test_result_free(&r);

    setenv("JACKPOT_TOPICS__INPUT_PARTITIONER", "any", 1);
    r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "partitioning     any; mispartitioned records: not checked"));
    jp_test_result_free(&r);

    setenv("JACKPOT_TOPICS__INPUT_PARTITIONER", "sarama", 1);
    r = jp_test_run(argv);
    unsetenv("JACKPOT_TOPICS__OUTPUT_KEY_FORMAT");
    unsetenv("JACKPOT_TOPICS__INPUT_PARTITIONER");
    unsetenv("JACKPOT_TOPICS__MISPARTITIONED");
    assert_int_equal(r.status, 78);
    assert_non_null(strstr(r.err, "env JACKPOT_TOPICS__INPUT_PARTITIONER: "
                                  "topics.input_partitioner: 'sarama' is not one of: murmur2, "
                                  "consistent_random, fnv1a, crc32, any"));
    jp_test_result_free(&r);
}

/* A secret read from a file never appears in any output, even when the
 * same text is echoed back as part of another error. */
static void test_secret_never_printed(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("secret");
    char *secret = jp_test_write_file(dir, "pw", "s3cr3t-sasl-value\n");
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             "kafka:\n"
             "  bootstrap.servers: x:1\n"
             "  group.id: g\n"
             "  sasl.password_file: %s\n"
             "  client.id: s3cr3t-sasl-value\n"
             "topics:\n"
             "  sales: {name: a}\n"
             "  customers: {name: b}\n"
             "  draws: {name: c}\n"
             "schema_registry: {url: 's3cr3t-sasl-value'}\n"
             "state: {dir: /tmp/s}\n"
             "countries: {dir: %s/configs/countries}\n",
             secret, getenv("JACKPOT_SRC") ? getenv("JACKPOT_SRC") : ".");
    char *path = jp_test_write_file(dir, "j.yaml", cfg);
    const char *argv[] = {jp_test_bin(), "config", "check", "-c", path, NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 78);
    assert_null(strstr(r.err, "s3cr3t"));
    assert_null(strstr(r.out, "s3cr3t"));
    assert_non_null(strstr(r.err, "schema_registry.url: '[REDACTED]' is not an http"));
    jp_test_result_free(&r);
    free(secret);
    free(path);
    jp_test_rmtree(dir);
    free(dir);
}

/* docs/configuration.md is generated from the validation tables; this
 * keeps the committed copy true. Regenerate with
 * `jackpot config reference > docs/configuration.md`. */
static void test_reference_doc_is_current(void **state)
{
    (void)state;
    const char *argv[] = {jp_test_bin(), "config", "reference", NULL};
    jp_test_result_t r = jp_test_run(argv);
    assert_int_equal(r.status, 0);
    char *doc = jp_test_read_file("docs/configuration.md", NULL);
    assert_non_null(doc);
    if (strcmp(doc, r.out) != 0)
        fail_msg("docs/configuration.md is stale: run "
                 "`jackpot config reference > docs/configuration.md`");
    assert_non_null(strstr(doc, "| `rules.max_single_prize.combine` | enum |"));
    free(doc);
    jp_test_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_configs_load),
        cmocka_unit_test(test_partitioning_and_key_format),
        cmocka_unit_test(test_broken_processor_configs),
        cmocka_unit_test(test_broken_country_configs),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_env_and_x_overrides),
        cmocka_unit_test(test_secret_never_printed),
        cmocka_unit_test(test_reference_doc_is_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
