/*
 * `jackpot registry` over real HTTP (tests/support/jp_test_registry.h): what
 * makes it complete against Confluent's REST API - modes (READWRITE,
 * READONLY, IMPORT) and registration with explicit ids and versions, the
 * listing filters (subjectPrefix, deleted, deletedOnly, latestOnly, paging),
 * /schemas, /schemas/ids/{id}/subjects, referencedby, DELETE /config,
 * normalize, /metrics and /healthz - and the poison schema of issue 15,
 * refused over HTTP and skipped when an older registry's log holds it.
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

#define REC(name, fields) "{\"type\":\"record\",\"name\":\"" name "\",\"fields\":[" fields "]}"
#define F_A               "{\"name\":\"a\",\"type\":\"int\"}"
#define F_B_DEF           "{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}"
#define F_C_NODEF         "{\"name\":\"c\",\"type\":\"long\"}"
/* The poison schema of issue 15: an empty union with a default. */
#define POISON REC("P", "{\"name\":\"c\",\"type\":[],\"default\":null}")

typedef jp_test_registry_t reg_t;

/* POST /subjects/{subject}/versions with extra body members (e.g.
 * ",\"id\":7"); returns the HTTP status and the reply. */
static json_t *post_schema(reg_t *f, const char *subject, const char *query, const char *schema,
                           const char *extra, int *status)
{
    char path[256];
    snprintf(path, sizeof(path), "/subjects/%s/versions%s", subject, query ? query : "");
    json_t *o = json_pack("{s:s}", "schema", schema);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t len = strlen(body);
    char *full = malloc(len + strlen(extra ? extra : "") + 1);
    memcpy(full, body, len - 1); /* without the closing brace */
    sprintf(full + len - 1, "%s}", extra ? extra : "");
    json_t *j = jp_test_registry_call(f, "POST", path, full, status);
    free(body);
    free(full);
    return j;
}

/* Registers with extras, asserting 200; returns the id. */
static int import_ok(reg_t *f, const char *subject, const char *schema, const char *extra)
{
    int status;
    json_t *j = post_schema(f, subject, NULL, schema, extra, &status);
    if (status != 200) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("register %s%s: HTTP %d %s", subject, extra ? extra : "", status,
                 dump ? dump : "");
    }
    int id = (int)json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

/* Asserts a refusal: status, code, and a message containing needle. */
static void refused(json_t *j, int status, int want_status, int code, const char *needle)
{
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (status != want_status || json_integer_value(json_object_get(j, "error_code")) != code ||
        !msg || (needle && !strstr(msg, needle))) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("expected %d/%d \"%s\", got %d %s", want_status, code, needle ? needle : "",
                 status, dump ? dump : "(not JSON)");
    }
    json_decref(j);
}

static void put_ok(reg_t *f, const char *path, const char *body, const char *key, const char *want)
{
    int status;
    json_t *j = jp_test_registry_call(f, "PUT", path, body, &status);
    if (status != 200)
        fail_msg("PUT %s %s: HTTP %d", path, body, status);
    assert_string_equal(json_string_value(json_object_get(j, key)), want);
    json_decref(j);
}

static void expect_member(reg_t *f, const char *path, const char *key, const char *want)
{
    json_t *j = jp_test_registry_get(f, path);
    assert_string_equal(json_string_value(json_object_get(j, key)), want);
    json_decref(j);
}

/* A JSON array of strings equals want (NULL-terminated). */
static void expect_strings(reg_t *f, const char *path, const char *const *want)
{
    json_t *j = jp_test_registry_get(f, path);
    size_t n = 0;
    while (want[n])
        n++;
    char *dump = json_dumps(j, JSON_COMPACT);
    if (!json_is_array(j) || json_array_size(j) != n)
        fail_msg("GET %s: %s, want %zu strings", path, dump, n);
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_array_get(j, i)) ||
            strcmp(json_string_value(json_array_get(j, i)), want[i]) != 0)
            fail_msg("GET %s: %s, item %zu should be %s", path, dump, i, want[i]);
    free(dump);
    json_decref(j);
}

static char *text_get(reg_t *f, const char *path, int *status)
{
    char err[256], *body = NULL;
    if (jp_registry_client_request(f->cli, "GET", path, NULL, status, &body, err, sizeof(err)))
        fail_msg("GET %s: %s", path, err);
    return body;
}

/* ---- the poison schema --------------------------------------------------- */

static void test_poison_schema_refused(void **state)
{
    reg_t *f = *state;
    int status;
    /* The reproducer of issue 15, and its relatives, get 42201 - and the
     * registry is still there to answer the next request. */
    static const char *const bad[] = {
        POISON,
        REC("P", "{\"name\":\"c\",\"type\":[]}"),
        "[]",
        REC("P", "{\"name\":\"c\",\"type\":[\"null\",\"int\"],\"default\":1}"),
        REC("P", "{\"name\":\"c\",\"type\":{\"type\":\"array\",\"items\":[]},\"default\":[]}"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = post_schema(f, "p", NULL, bad[i], NULL, &status);
        refused(j, status, 422, 42201, "Invalid schema");
    }
    char *body = jp_test_registry_schema_body(POISON);
    jp_test_registry_expect_error(f, "POST", "/compatibility/subjects/p/versions/latest", body, 422,
                                  42201);
    assert_int_equal(jp_test_registry_register(f, "p", REC("P", F_A)), 1);
    jp_test_registry_expect_error(f, "POST", "/subjects/p", body, 422, 42201);
    jp_test_registry_expect_error(f, "POST", "/subjects/p?normalize=true", body, 422, 42201);
    free(body);
    json_t *j = post_schema(f, "p", "?normalize=true", POISON, NULL, &status);
    refused(j, status, 422, 42201, "at least one branch");
    /* Nothing of it reached the log: a restart replays cleanly. */
    jp_test_registry_restart(f);
    json_t *v = jp_test_registry_get(f, "/subjects/p/versions");
    jp_test_assert_int_list(v, 1, (int[]){1});
    json_decref(v);
}

/* A log written by an older registry that accepted the poison schema: the
 * restart skips that record and says so, keeps everything else, never
 * hands its id or version out again, and ignores later deletes of it. */
static void test_poison_log_replay(void **state)
{
    reg_t *f = *state;
    assert_int_equal(jp_test_registry_register(f, "a", REC("A", F_A)), 1);
    jp_test_registry_stop(f);
    char log[1024];
    snprintf(log, sizeof(log), "%s/registry.log", f->dir);
    json_t *rec = json_pack("{s:s, s:s, s:i, s:i, s:s}", "op", "register", "subject", "p",
                            "version", 1, "id", 2, "schema", POISON);
    char *line = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    jp_test_append_file(log, line);
    jp_test_append_file(log, "\n");
    /* The same schema under another subject: the same id, skipped too. */
    char *line2 = strdup(line);
    memcpy(strstr(line2, "\"p\""), "\"r\"", 3);
    jp_test_append_file(log, line2);
    jp_test_append_file(log, "\n");
    jp_test_append_file(log, "{\"op\":\"delete_version\",\"subject\":\"p\",\"version\":1,"
                             "\"permanent\":false}\n");
    jp_test_append_file(log, "{\"op\":\"register\",\"subject\":\"q\",\"version\":1,\"id\":3,"
                             "\"schema\":\"\\\"long\\\"\"}\n");
    free(line);
    free(line2);
    for (int round = 0; round < 2; round++) {
        int status;
        if (jp_test_registry_start(f, &status))
            fail_msg("the registry refused its log (exit %d)", status);
        char errpath[1024];
        snprintf(errpath, sizeof(errpath), "%s/server.err", f->dir);
        char *err = jp_test_read_file(errpath, NULL);
        assert_non_null(err);
        if (!strstr(err, "skipped schema id 2 (subject 'p' version 1)") ||
            !strstr(err, "subject 'r' version 1") || !strstr(err, "at least one branch"))
            fail_msg("no warning naming the skipped records: %s", err);
        free(err);
        jp_test_registry_expect_error(f, "GET", "/schemas/ids/2", NULL, 404, 40403);
        expect_member(f, "/schemas/ids/3", "schema", "\"long\"");
        if (round == 0)
            expect_strings(f, "/subjects", (const char *const[]){"a", "q", NULL});
        else
            expect_strings(f, "/subjects", (const char *const[]){"a", "n", "p", "q", NULL});
        if (round == 0) {
            /* The burnt id and the taken version are not handed out again. */
            assert_int_equal(jp_test_registry_register(f, "p", REC("P", F_A)), 4);
            assert_int_equal(jp_test_registry_register(f, "n", REC("N", F_A)), 5);
        }
        json_t *v = jp_test_registry_get(f, "/subjects/p/versions");
        jp_test_assert_int_list(v, 1, (int[]){2});
        json_decref(v);
        jp_test_registry_stop(f);
    }
    int status;
    assert_int_equal(jp_test_registry_start(f, &status), 0);
}

/* ---- modes --------------------------------------------------------------- */

static void test_readonly(void **state)
{
    reg_t *f = *state;
    assert_int_equal(jp_test_registry_register(f, "s", REC("S", F_A)), 1);
    expect_member(f, "/mode", "mode", "READWRITE");
    put_ok(f, "/mode", "{\"mode\":\"readonly\"}", "mode", "READONLY");
    expect_member(f, "/mode", "mode", "READONLY");
    int status;
    json_t *j = post_schema(f, "s", NULL, REC("S", F_A "," F_B_DEF), NULL, &status);
    refused(j, status, 422, 42205, "Subject s in context  is in read-only mode");
    /* Registering what is already there is a read, as in Confluent. */
    assert_int_equal(jp_test_registry_register(f, "s", REC("S", F_A)), 1);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/s/versions/1", NULL, 422, 42205);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/s", NULL, 422, 42205);
    jp_test_registry_expect_error(f, "PUT", "/config", "{\"compatibility\":\"FULL\"}", 422, 42205);
    jp_test_registry_expect_error(f, "PUT", "/config/s", "{\"compatibility\":\"FULL\"}", 422,
                                  42205);
    /* A subject's own mode overrides the global one. */
    put_ok(f, "/mode/t", "{\"mode\":\"READWRITE\"}", "mode", "READWRITE");
    assert_int_equal(jp_test_registry_register(f, "t", REC("T", F_A)), 2);
    expect_member(f, "/mode/t", "mode", "READWRITE");
    jp_test_registry_expect_error(f, "GET", "/mode/s", NULL, 404, 40409);
    expect_member(f, "/mode/s?defaultToGlobal=true", "mode", "READONLY");
    jp_test_registry_expect_error(f, "PUT", "/mode", "{\"mode\":\"SIDEWAYS\"}", 422, 42204);
    jp_test_registry_expect_error(f, "PUT", "/mode", "{}", 422, 42204);
    jp_test_registry_expect_error(f, "PUT", "/mode", "[1]", 400, 400);
    /* Modes persist like config. */
    jp_test_registry_restart(f);
    expect_member(f, "/mode", "mode", "READONLY");
    expect_member(f, "/mode/t", "mode", "READWRITE");
    j = jp_test_registry_call(f, "DELETE", "/mode/t", NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "READWRITE");
    json_decref(j);
    jp_test_registry_expect_error(f, "DELETE", "/mode/t", NULL, 404, 40401);
    j = post_schema(f, "t", NULL, REC("T", F_A "," F_B_DEF), NULL, &status);
    refused(j, status, 422, 42205, "read-only");
    j = jp_test_registry_call(f, "DELETE", "/mode", NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "READONLY");
    json_decref(j);
    expect_member(f, "/mode", "mode", "READWRITE");
    assert_int_equal(jp_test_registry_register(f, "t", REC("T", F_A "," F_B_DEF)), 3);
}

static void test_import(void **state)
{
    reg_t *f = *state;
    int status;
    assert_int_equal(jp_test_registry_register(f, "live", REC("L", F_A)), 1);
    /* An explicit id outside IMPORT mode is refused, not ignored. */
    json_t *j = post_schema(f, "s", NULL, REC("S", F_A), ",\"id\":100", &status);
    refused(j, status, 422, 42205, "Subject s in context  is not in import mode");
    /* IMPORT needs an empty registry unless forced. */
    j = jp_test_registry_call(f, "PUT", "/mode", "{\"mode\":\"IMPORT\"}", &status);
    refused(j, status, 422, 42205, "Cannot import since found existing subjects");
    json_decref(jp_test_registry_call(f, "DELETE", "/subjects/live", NULL, &status));
    assert_int_equal(status, 200);
    put_ok(f, "/mode", "{\"mode\":\"IMPORT\"}", "mode", "IMPORT");
    /* Entering IMPORT dropped the soft-deleted versions, as Confluent does. */
    expect_strings(f, "/subjects?deleted=true", (const char *const[]){NULL});

    j = post_schema(f, "s", NULL, REC("S", F_A), NULL, &status);
    refused(j, status, 422, 42205, "is not in read-write mode");
    assert_int_equal(import_ok(f, "s", REC("S", F_A), ",\"id\":100,\"version\":3"), 100);
    json_t *v = jp_test_registry_get(f, "/subjects/s/versions");
    jp_test_assert_int_list(v, 1, (int[]){3});
    json_decref(v);
    /* Importing it again is idempotent; another schema cannot take the id. */
    assert_int_equal(import_ok(f, "s", REC("S", F_A), ",\"id\":100,\"version\":3"), 100);
    j = post_schema(f, "x", NULL, REC("X", F_A), ",\"id\":100", &status);
    refused(j, status, 422, 42205,
            "Overwrite new schema with id 100 in context  is not permitted.");
    /* Compatibility is not checked while importing; versions must ascend. */
    assert_int_equal(import_ok(f, "s", REC("S", F_C_NODEF), ",\"id\":7,\"version\":5"), 7);
    j = post_schema(f, "s", NULL, REC("S", F_A "," F_B_DEF), ",\"id\":8,\"version\":4", &status);
    refused(j, status, 422, 42205, "ascending order");
    j = post_schema(f, "s", NULL, REC("S", F_A "," F_B_DEF), ",\"id\":8,\"version\":5", &status);
    refused(j, status, 422, 42205, "exists with another schema");
    /* One schema may hold two ids when imported so (as in Confluent). */
    assert_int_equal(import_ok(f, "other", REC("S", F_A), ",\"id\":50"), 50);
    j = post_schema(f, "s", NULL, REC("S", F_A), ",\"id\":\"x\"", &status);
    refused(j, status, 422, 42201, "\"id\" must be an integer");

    put_ok(f, "/mode", "{\"mode\":\"READWRITE\"}", "mode", "READWRITE");
    /* New ids continue after the highest imported one. */
    assert_int_equal(jp_test_registry_register(f, "n", REC("N", F_A)), 101);
    /* An explicit version outside IMPORT must be the next one. */
    assert_int_equal(import_ok(f, "n", REC("N", F_A "," F_B_DEF), ",\"version\":2"), 102);
    j = post_schema(f, "n", NULL, REC("N", F_A "," F_B_DEF "," F_C_NODEF), ",\"version\":9",
                    &status);
    refused(j, status, 422, 42201, "Version is not one more than previous version");
    jp_test_registry_restart(f);
    expect_member(f, "/schemas/ids/100", "schema", REC("S", F_A));
    expect_member(f, "/schemas/ids/7", "schema", REC("S", F_C_NODEF));
    expect_member(f, "/subjects/s/versions/latest", "schema", REC("S", F_C_NODEF));
    assert_int_equal(jp_test_registry_register(f, "m", "\"string\""), 103);
    /* A subject-level IMPORT on a fresh subject, while the rest is READWRITE. */
    put_ok(f, "/mode/imp", "{\"mode\":\"IMPORT\"}", "mode", "IMPORT");
    assert_int_equal(import_ok(f, "imp", "\"bytes\"", ",\"id\":60"), 60);
    j = jp_test_registry_call(f, "PUT", "/mode/n", "{\"mode\":\"IMPORT\"}", &status);
    refused(j, status, 422, 42205, "Cannot import");
    put_ok(f, "/mode/n?force=true", "{\"mode\":\"IMPORT\"}", "mode", "IMPORT");
}

/* ---- listings ------------------------------------------------------------ */

static void test_listings(void **state)
{
    reg_t *f = *state;
    int status;
    assert_int_equal(jp_test_registry_register(f, "b.one-value", REC("A", F_A)), 1);
    assert_int_equal(jp_test_registry_register(f, "b.one-value", REC("A", F_A "," F_B_DEF)), 2);
    assert_int_equal(jp_test_registry_register(f, "a.two-value", REC("A", F_A)), 1);
    assert_int_equal(jp_test_registry_register(f, "b.gone-value", "\"int\""), 3);
    json_decref(jp_test_registry_call(f, "DELETE", "/subjects/b.gone-value", NULL, &status));
    assert_int_equal(status, 200);
    json_decref(
        jp_test_registry_call(f, "DELETE", "/subjects/b.one-value/versions/1", NULL, &status));
    assert_int_equal(status, 200);

    expect_strings(f, "/subjects", (const char *const[]){"a.two-value", "b.one-value", NULL});
    expect_strings(f, "/subjects?subjectPrefix=b.", (const char *const[]){"b.one-value", NULL});
    expect_strings(f, "/subjects?subjectPrefix=b.&deleted=true",
                   (const char *const[]){"b.gone-value", "b.one-value", NULL});
    expect_strings(f, "/subjects?deletedOnly=true", (const char *const[]){"b.gone-value", NULL});
    expect_strings(f, "/subjects?deleted=true&offset=1&limit=1",
                   (const char *const[]){"b.gone-value", NULL});
    json_t *v = jp_test_registry_get(f, "/subjects/b.one-value/versions?deletedOnly=true");
    jp_test_assert_int_list(v, 1, (int[]){1});
    json_decref(v);

    /* GET /schemas: every live version, by subject then version. */
    json_t *j = jp_test_registry_get(f, "/schemas");
    assert_int_equal(json_array_size(j), 2);
    json_t *first = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(first, "subject")), "a.two-value");
    assert_int_equal(json_integer_value(json_object_get(first, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(first, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(first, "schema")), REC("A", F_A));
    json_decref(j);
    j = jp_test_registry_get(f, "/schemas?deleted=true&subjectPrefix=b.");
    assert_int_equal(json_array_size(j), 3);
    json_decref(j);
    j = jp_test_registry_get(f, "/schemas?deleted=true&latestOnly=true");
    assert_int_equal(json_array_size(j), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 2), "version")), 2);
    json_decref(j);
    j = jp_test_registry_get(f, "/schemas?limit=1&offset=1");
    assert_int_equal(json_array_size(j), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "id")), 2);
    json_decref(j);

    /* Subjects of an id, live or all. */
    expect_strings(f, "/schemas/ids/1/subjects", (const char *const[]){"a.two-value", NULL});
    expect_strings(f, "/schemas/ids/1/subjects?deleted=true",
                   (const char *const[]){"a.two-value", "b.one-value", NULL});
    jp_test_registry_expect_error(f, "GET", "/schemas/ids/99/subjects", NULL, 404, 40403);

    /* Nothing refers to a version: references are not supported. */
    v = jp_test_registry_get(f, "/subjects/b.one-value/versions/2/referencedby");
    jp_test_assert_int_list(v, 0, NULL);
    json_decref(v);
    jp_test_registry_expect_error(f, "GET", "/subjects/b.one-value/versions/9/referencedby", NULL,
                                  404, 40402);
    jp_test_registry_expect_error(f, "GET", "/subjects/none/versions/1/referencedby", NULL, 404,
                                  40401);

    /* DELETE /config: back to the default level, reporting the old one. */
    put_ok(f, "/config", "{\"compatibility\":\"FULL\"}", "compatibility", "FULL");
    j = jp_test_registry_call(f, "DELETE", "/config", NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FULL");
    json_decref(j);
    expect_member(f, "/config", "compatibilityLevel", "BACKWARD");
    jp_test_registry_restart(f);
    expect_member(f, "/config", "compatibilityLevel", "BACKWARD");
}

/* normalize=true stores the normalized text and finds other spellings. */
static void test_normalize(void **state)
{
    reg_t *f = *state;
    int status;
    const char *spelled = "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":"
                          "[{\"name\":\"a\",\"type\":{\"type\":\"int\"}}]}";
    const char *other = "{\"fields\":[{\"type\":\"int\",\"name\":\"a\"}],\"name\":\"n.R\","
                        "\"type\":\"record\"}";
    json_t *j = post_schema(f, "s", "?normalize=true", spelled, NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    expect_member(f, "/schemas/ids/1", "schema",
                  "{\"fields\":[{\"name\":\"a\",\"type\":\"int\"}],\"name\":\"n.R\",\"type\":"
                  "\"record\"}");
    j = post_schema(f, "s", "?normalize=true", other, NULL, &status);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_decref(j);
    char *body = jp_test_registry_schema_body(spelled);
    jp_test_registry_expect_error(f, "POST", "/subjects/s", body, 404, 40403);
    j = jp_test_registry_call(f, "POST", "/subjects/s?normalize=true", body, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    json_decref(j);
    free(body);
    json_t *v = jp_test_registry_get(f, "/subjects/s/versions");
    jp_test_assert_int_list(v, 1, (int[]){1});
    json_decref(v);
}

/* ---- operations ---------------------------------------------------------- */

static void test_metrics_and_healthz(void **state)
{
    reg_t *f = *state;
    int status;
    char *text = text_get(f, "/healthz", &status);
    assert_int_equal(status, 200);
    assert_string_equal(text, "ok\n");
    free(text);
    assert_int_equal(jp_test_registry_register(f, "s", REC("S", F_A)), 1);
    assert_int_equal(jp_test_registry_register(f, "s", REC("S", F_A "," F_B_DEF)), 2);
    assert_int_equal(jp_test_registry_register(f, "t", REC("S", F_A)), 1);
    jp_test_registry_expect_error(f, "GET", "/schemas/ids/9", NULL, 404, 40403);
    jp_test_registry_expect_error(f, "GET", "/nowhere", NULL, 404, 404);
    json_decref(jp_test_registry_call(f, "DELETE", "/subjects/t", NULL, &status));
    text = text_get(f, "/metrics", &status);
    assert_int_equal(status, 200);
    static const char *const want[] = {
        "# TYPE jackpot_registry_http_requests_total counter\n",
        "jackpot_registry_http_requests_total{code=\"200\",method=\"POST\","
        "route=\"/subjects/{subject}/versions\"} 3\n",
        "jackpot_registry_http_requests_total{code=\"404\",method=\"GET\","
        "route=\"/schemas/ids/{id}\"} 1\n",
        "jackpot_registry_http_requests_total{code=\"404\",method=\"GET\",route=\"unmatched\"} 1\n",
        "jackpot_registry_http_requests_total{code=\"200\",method=\"GET\",route=\"/healthz\"} 1\n",
        "jackpot_registry_schemas 2\n",
        "jackpot_registry_subjects 1\n",
        "jackpot_registry_versions 2\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("/metrics lacks %s in:\n%s", want[i], text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poison_schema_refused, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_poison_log_replay, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_import, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_listings, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_normalize, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_healthz, jp_test_registry_setup,
                                        jp_test_registry_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
