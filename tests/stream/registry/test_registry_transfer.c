/*
 * `jackpot registry export` and `import` between two embedded registries
 * over real HTTP (tests/support/jp_test_registry.h): the target ends up
 * with the source's ids, versions, schemas and compatibility levels - also
 * ids that are not dense because the source imported them - its mode is
 * restored, a second registration continues after the highest id, and the
 * failures (non-empty target, unreadable or malformed file, no registry)
 * have their exit codes and leave the target's mode alone.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test.h"
#include "jp_test_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jp_test_registry_t src, dst;
    char *tmp;
} pair_t;

static int setup(void **state)
{
    pair_t *p = calloc(1, sizeof(*p));
    p->tmp = jp_test_tmpdir("transfer");
    p->src.dir = jp_test_tmpdir("registry-src");
    p->dst.dir = jp_test_tmpdir("registry-dst");
    int status;
    assert_int_equal(jp_test_registry_start(&p->src, &status), 0);
    assert_int_equal(jp_test_registry_start(&p->dst, &status), 0);
    *state = p;
    return 0;
}

static void registry_free(jp_test_registry_t *r)
{
    if (r->cli)
        jp_test_registry_stop(r);
    jp_test_rmtree(r->dir);
    free(r->dir);
}

static int teardown(void **state)
{
    pair_t *p = *state;
    registry_free(&p->src);
    registry_free(&p->dst);
    jp_test_rmtree(p->tmp);
    free(p->tmp);
    free(p);
    return 0;
}

/* `jackpot registry <verb> --url URL [file]`. */
static jp_test_result_t transfer(const char *verb, const char *url, const char *file)
{
    const char *argv[] = {jp_test_bin(), "registry", verb, "--url", url, file, NULL};
    return jp_test_run(argv);
}

static void call_ok(jp_test_registry_t *r, const char *method, const char *path, const char *body)
{
    int status;
    json_t *j = jp_test_registry_call(r, method, path, body, &status);
    if (status != 200)
        fail_msg("%s %s: HTTP %d", method, path, status);
    json_decref(j);
}

/* The same JSON at path on both registries. */
static void same(pair_t *p, const char *path)
{
    json_t *a = jp_test_registry_get(&p->src, path), *b = jp_test_registry_get(&p->dst, path);
    if (!json_equal(a, b)) {
        char *da = json_dumps(a, JSON_COMPACT), *db = json_dumps(b, JSON_COMPACT);
        fail_msg("GET %s differs:\nsource %s\ntarget %s", path, da, db);
    }
    json_decref(a);
    json_decref(b);
}

static void mode_is(jp_test_registry_t *r, const char *want)
{
    json_t *j = jp_test_registry_get(r, "/mode");
    assert_string_equal(json_string_value(json_object_get(j, "mode")), want);
    json_decref(j);
}

static void test_round_trip(void **state)
{
    pair_t *p = *state;
    jp_test_registry_t *src = &p->src;
    /* Ids 40 and 41 as if mirrored from elsewhere, then ordinary ones. */
    call_ok(src, "PUT", "/mode", "{\"mode\":\"IMPORT\"}");
    call_ok(src, "POST", "/subjects/imported-value/versions",
            "{\"schema\":\"\\\"int\\\"\",\"id\":40,\"version\":2}");
    call_ok(src, "POST", "/subjects/imported-value/versions",
            "{\"schema\":\"\\\"long\\\"\",\"id\":41,\"version\":5}");
    call_ok(src, "PUT", "/mode", "{\"mode\":\"READWRITE\"}");
    assert_int_equal(
        jp_test_registry_register(src, "sales-value",
                                  "{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"a\","
                                  "\"type\":\"int\"}]}"),
        42);
    assert_int_equal(jp_test_registry_register(
                         src, "sales-value",
                         "{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"a\","
                         "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":"
                         "\"\"}]}"),
                     43);
    assert_int_equal(jp_test_registry_register(src, "a%2Fslash-value", "\"int\""), 40);
    call_ok(src, "PUT", "/config", "{\"compatibility\":\"FULL\"}");
    call_ok(src, "PUT", "/config/sales-value", "{\"compatibility\":\"NONE\"}");
    /* A soft-deleted version is not exported. */
    assert_int_equal(jp_test_registry_register(src, "sales-value", "\"string\""), 44);
    call_ok(src, "DELETE", "/subjects/sales-value/versions/3", NULL);

    jp_test_result_t r = transfer("export", src->url, NULL);
    if (r.status != 0)
        fail_msg("export exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.err, "exported: 5 versions of 3 subjects, 4 schema ids"));
    char *file = jp_test_write_file(p->tmp, "export.json", r.out);
    jp_test_result_free(&r);

    r = transfer("import", p->dst.url, file);
    if (r.status != 0)
        fail_msg("import exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.err, "imported: 5 versions of 3 subjects, 4 schema ids"));
    jp_test_result_free(&r);

    same(p, "/schemas");
    same(p, "/subjects");
    same(p, "/config");
    same(p, "/config/sales-value");
    same(p, "/subjects/imported-value/versions");
    same(p, "/schemas/ids/41");
    mode_is(&p->dst, "READWRITE");
    /* The target keeps going after the highest id it now knows. */
    assert_int_equal(jp_test_registry_register(&p->dst, "new-value", "\"bytes\""), 44);
    /* ... and it all survives its restart. */
    jp_test_registry_restart(&p->dst);
    same(p, "/schemas/ids/40");
    same(p, "/subjects/sales-value/versions/2");

    /* Into a registry with live subjects: refused before anything is sent,
     * and its mode is left as it was. */
    r = transfer("import", p->dst.url, file);
    assert_int_equal(r.status, 65);
    assert_non_null(strstr(r.err, "Cannot import since found existing subjects"));
    jp_test_result_free(&r);
    mode_is(&p->dst, "READWRITE");
    free(file);
}

static void test_failures(void **state)
{
    pair_t *p = *state;
    char *bad = jp_test_write_file(p->tmp, "bad.json", "{\"format\":\"something else\"}");
    jp_test_result_t r = transfer("import", p->dst.url, bad);
    assert_int_equal(r.status, 65);
    assert_non_null(strstr(r.err, "not a registry export"));
    jp_test_result_free(&r);
    char *broken = jp_test_write_file(p->tmp, "broken.json", "{\n\"format\":\n");
    r = transfer("import", p->dst.url, broken);
    assert_int_equal(r.status, 65);
    assert_non_null(strstr(r.err, "broken.json:3:"));
    jp_test_result_free(&r);
    r = transfer("import", p->dst.url, "/nonexistent/export.json");
    assert_int_equal(r.status, 66);
    jp_test_result_free(&r);
    r = transfer("export", "http://127.0.0.1:1", NULL);
    assert_int_equal(r.status, 69);
    jp_test_result_free(&r);
    const char *argv[] = {jp_test_bin(), "registry", "import", NULL};
    r = jp_test_run(argv);
    assert_int_equal(r.status, 64);
    jp_test_result_free(&r);
    /* A failing version names itself; the mode is restored all the same. */
    char *clash = jp_test_write_file(
        p->tmp, "clash.json",
        "{\"format\":\"jackpot-registry-export\",\"format_version\":1,\"subjects\":["
        "{\"subject\":\"x\",\"versions\":[{\"version\":1,\"id\":3,\"schema\":\"\\\"int\\\"\"},"
        "{\"version\":2,\"id\":3,\"schema\":\"\\\"long\\\"\"}]}]}");
    r = transfer("import", p->dst.url, clash);
    assert_int_equal(r.status, 65);
    assert_non_null(strstr(r.err, "subject 'x' version 2 (id 3)"));
    assert_non_null(strstr(r.err, "Overwrite new schema with id 3"));
    jp_test_result_free(&r);
    mode_is(&p->dst, "READWRITE");
    free(bad);
    free(broken);
    free(clash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
