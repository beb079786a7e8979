/*
 * `jackpot registry` over real HTTP: the binary runs as a subprocess on an
 * ephemeral port (its first stdout line gives the URL), requests go through
 * jp_registry_client and, where headers or sizes must be controlled, a raw
 * socket. Covers every endpoint and error code, idempotency, shared ids,
 * compatibility levels, persistence across SIGTERM/restart, a corrupt log
 * tail, oversized and malformed bodies, and concurrent registrations.
 *
 * Set JP_TEST_WRAPPER (e.g. "valgrind --leak-check=full --error-exitcode=1")
 * to run the server under a wrapper; the server's exit status is asserted,
 * so wrapper-reported errors fail the test.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/jp_registry_client.h"
#include "jp_test.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    pid_t pid;
    char url[128];
    int port;
    jp_registry_client_t *cli;
} fixture_t;

/* ---- server process ------------------------------------------------------ */

/* Starts the registry on dir; 0 with url/pid set, or -1 if it exited before
 * announcing itself (its exit status in *status). */
static int server_start(fixture_t *f, int *status)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[32];
        size_t n = 0;
        char *wrap = getenv("JP_TEST_WRAPPER") ? strdup(getenv("JP_TEST_WRAPPER")) : NULL;
        for (char *tok = wrap ? strtok(wrap, " ") : NULL; tok && n < 24; tok = strtok(NULL, " "))
            argv[n++] = tok;
        argv[n++] = jp_test_bin();
        argv[n++] = "registry";
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--data";
        argv[n++] = f->dir;
        argv[n] = NULL;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[256];
    size_t len = 0;
    struct pollfd p = {fds[0], POLLIN, 0};
    while (len < sizeof(line) - 1 && poll(&p, 1, 60000) == 1) {
        ssize_t r = read(fds[0], line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(fds[0]);
    if (sscanf(line, "listening on %127s", f->url) != 1) {
        int st;
        waitpid(pid, &st, 0);
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return -1;
    }
    f->pid = pid;
    assert_int_equal(sscanf(strrchr(f->url, ':') + 1, "%d", &f->port), 1);
    char err[256];
    f->cli = jp_registry_client_new(f->url, err, sizeof(err));
    assert_non_null(f->cli);
    return 0;
}

/* SIGTERM and assert a clean exit (0), which also checks the wrapper. */
static void server_stop(fixture_t *f)
{
    jp_registry_client_free(f->cli);
    f->cli = NULL;
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void server_restart(fixture_t *f)
{
    server_stop(f);
    int status;
    assert_int_equal(server_start(f, &status), 0);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->dir = jp_test_tmpdir("registry");
    int status;
    assert_int_equal(server_start(f, &status), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->cli)
        server_stop(f);
    jp_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- requests ------------------------------------------------------------ */

/* One request; returns the reply parsed as JSON (NULL if not JSON). */
static json_t *call(fixture_t *f, const char *method, const char *path, const char *body,
                    int *status)
{
    char err[512], *reply = NULL;
    int rc =
        jp_registry_client_request(f->cli, method, path, body, status, &reply, err, sizeof(err));
    if (rc)
        fail_msg("%s %s: %s", method, path, err);
    json_t *j = reply ? json_loads(reply, JSON_DECODE_ANY, NULL) : NULL;
    free(reply);
    return j;
}

/* {"schema": schema} */
static char *schema_body(const char *schema)
{
    json_t *o = json_pack("{s:s}", "schema", schema);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void expect_error(fixture_t *f, const char *method, const char *path, const char *body,
                         int http, int code)
{
    int status;
    json_t *j = call(f, method, path, body, &status);
    if (status != http || json_integer_value(json_object_get(j, "error_code")) != code) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("%s %s: expected %d/%d, got %d %s", method, path, http, code, status,
                 dump ? dump : "(not JSON)");
    }
    assert_non_null(json_string_value(json_object_get(j, "message")));
    json_decref(j);
}

/* Registers; returns the id, asserting HTTP 200. */
static int register_ok(fixture_t *f, const char *subject, const char *schema)
{
    char path[256];
    snprintf(path, sizeof(path), "/subjects/%s/versions", subject);
    char *body = schema_body(schema);
    int status;
    json_t *j = call(f, "POST", path, body, &status);
    free(body);
    if (status != 200) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("register %s: HTTP %d %s", subject, status, dump ? dump : "");
    }
    int id = (int)json_integer_value(json_object_get(j, "id"));
    assert_true(id > 0);
    json_decref(j);
    return id;
}

static void register_refused(fixture_t *f, const char *subject, const char *schema)
{
    char path[256];
    snprintf(path, sizeof(path), "/subjects/%s/versions", subject);
    char *body = schema_body(schema);
    expect_error(f, "POST", path, body, 409, 409);
    free(body);
}

/* GET expecting 200; returns the JSON (caller decrefs). */
static json_t *get_ok(fixture_t *f, const char *path)
{
    int status;
    json_t *j = call(f, "GET", path, NULL, &status);
    if (status != 200)
        fail_msg("GET %s: HTTP %d", path, status);
    assert_non_null(j);
    return j;
}

/* Asserts that a JSON array holds exactly the integers given. */
static void assert_int_list(json_t *a, size_t n, const int *want)
{
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_array_get(a, i)), want[i]);
}

static void set_level(fixture_t *f, const char *subject, const char *level)
{
    char path[256], body[128];
    snprintf(path, sizeof(path), subject ? "/config/%s" : "/config", subject);
    snprintf(body, sizeof(body), "{\"compatibility\":\"%s\"}", level);
    int status;
    json_t *j = call(f, "PUT", path, body, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "compatibility")), level);
    json_decref(j);
}

/* Raw HTTP over a socket, for headers and sizes the client does not vary.
 * Returns the status code of the reply (0 if none). */
static int raw_request(int port, const char *content_type, const char *path, const char *body,
                       size_t body_len)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      path, content_type, body_len);
    assert_int_equal(send(s, head, (size_t)hl, MSG_NOSIGNAL), hl);
    for (size_t done = 0; done < body_len;) {
        ssize_t w = send(s, body + done, body_len - done, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer and close before reading it all */
        done += (size_t)w;
    }
    char reply[64] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(reply) - 1 && (r = recv(s, reply + got, sizeof(reply) - 1 - got, 0)) > 0)
        got += (size_t)r;
    reply[got] = '\0';
    close(s);
    int status = 0;
    sscanf(reply, "HTTP/1.%*d %d", &status);
    return status;
}

/* ---- schemas ------------------------------------------------------------- */

#define REC_A                                                                                      \
    "{\"type\":\"record\",\"name\":\"Sale\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"
#define REC_A_SPACY                                                                                \
    "{ \"type\" : \"record\",\n  \"name\" : \"Sale\", \"fields\" : [ {\"name\": \"a\", \"type\": " \
    "\"int\"} ] }"
#define REC_AB_DEF                                                                                 \
    "{\"type\":\"record\",\"name\":\"Sale\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"        \
    "{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}]}"
#define REC_AB_NODEF                                                                               \
    "{\"type\":\"record\",\"name\":\"Sale\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"        \
    "{\"name\":\"b\",\"type\":\"string\"}]}"
#define REC_EMPTY "{\"type\":\"record\",\"name\":\"Sale\",\"fields\":[]}"
#define REC_A_STR_DEF                                                                              \
    "{\"type\":\"record\",\"name\":\"Sale\",\"fields\":[{\"name\":\"a\",\"type\":\"string\","      \
    "\"default\":\"\"}]}"
#define ENUM_REC(symbols, dflt)                                                                    \
    "{\"type\":\"record\",\"name\":\"Ev\",\"fields\":[{\"name\":\"c\",\"type\":{\"type\":"         \
    "\"enum\",\"name\":\"Channel\",\"symbols\":[" symbols "]" dflt "}}]}"

/* ---- tests --------------------------------------------------------------- */

static void test_register_lookup_and_read(void **state)
{
    fixture_t *f = *state;
    int id = register_ok(f, "sales-value", REC_A_SPACY);
    assert_int_equal(id, 1);
    /* Idempotent, by canonical form: same id, still one version. */
    assert_int_equal(register_ok(f, "sales-value", REC_A_SPACY), id);
    assert_int_equal(register_ok(f, "sales-value", REC_A), id);
    json_t *j = get_ok(f, "/subjects/sales-value/versions");
    assert_int_list(j, 1, (int[]){1});
    json_decref(j);
    /* The same schema under another subject shares the global id. */
    assert_int_equal(register_ok(f, "other-value", REC_A), id);
    j = get_ok(f, "/subjects");
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "sales-value");
    assert_string_equal(json_string_value(json_array_get(j, 1)), "other-value");
    json_decref(j);

    /* Reads return the text as first registered, byte for byte. */
    j = get_ok(f, "/schemas/ids/1");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_A_SPACY);
    json_decref(j);
    j = get_ok(f, "/subjects/sales-value/versions/1");
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "sales-value");
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_A_SPACY);
    json_decref(j);
    j = get_ok(f, "/subjects/other-value/versions/latest");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_decref(j);
    j = get_ok(f, "/subjects/sales-value/versions/1/schema");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "record");
    json_decref(j);
    j = get_ok(f, "/schemas/ids/1/versions");
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "subject")),
                        "other-value");
    json_decref(j);

    /* A second schema gets the next id and version. */
    assert_int_equal(register_ok(f, "sales-value", REC_AB_DEF), 2);
    j = get_ok(f, "/subjects/sales-value/versions/latest");
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 2);
    json_decref(j);

    /* Lookup by schema. */
    char *body = schema_body(REC_A_SPACY);
    int status;
    j = call(f, "POST", "/subjects/sales-value", body, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "sales-value");
    assert_non_null(json_string_value(json_object_get(j, "schema")));
    json_decref(j);
    expect_error(f, "POST", "/subjects/nope", body, 404, 40401);
    free(body);
    body = schema_body(REC_EMPTY);
    expect_error(f, "POST", "/subjects/sales-value", body, 404, 40403);
    free(body);

    /* Not found and invalid versions. */
    expect_error(f, "GET", "/schemas/ids/99", NULL, 404, 40403);
    expect_error(f, "GET", "/subjects/nope/versions", NULL, 404, 40401);
    expect_error(f, "GET", "/subjects/nope/versions/1", NULL, 404, 40401);
    expect_error(f, "GET", "/subjects/sales-value/versions/7", NULL, 404, 40402);
    expect_error(f, "GET", "/subjects/sales-value/versions/0", NULL, 422, 42202);
    expect_error(f, "GET", "/subjects/sales-value/versions/abc", NULL, 422, 42202);
    expect_error(f, "GET", "/subjects/sales-value/versions/2147483648", NULL, 422, 42202);
    expect_error(f, "GET", "/no/such/path", NULL, 404, 404);
    expect_error(f, "PUT", "/subjects", "{}", 405, 405);

    /* Percent-encoded subject names round-trip. */
    assert_int_equal(register_ok(f, "a%20b%2Fc", REC_A), 1);
    j = get_ok(f, "/subjects");
    assert_string_equal(json_string_value(json_array_get(j, 2)), "a b/c");
    json_decref(j);

    /* Schemas that differ only in what the Parsing Canonical Form drops
     * (logical types, defaults) are different schemas to a reader: they
     * must not share an id. */
    int plain = register_ok(f, "ts", "\"long\"");
    int ts = register_ok(f, "ts2", "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}");
    assert_true(plain != ts);
    j = get_ok(f, "/schemas/ids/4");
    assert_non_null(strstr(json_string_value(json_object_get(j, "schema")), "timestamp-millis"));
    json_decref(j);
}

static void test_compatibility_levels(void **state)
{
    fixture_t *f = *state;
    /* BACKWARD (default): a field without default is refused (409), with a
     * default it is accepted. */
    assert_int_equal(register_ok(f, "bw-value", REC_A), 1);
    register_refused(f, "bw-value", REC_AB_NODEF);
    char *body = schema_body(REC_AB_NODEF);
    int status;
    json_t *j = call(f, "POST", "/compatibility/subjects/bw-value/versions/latest", body, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_false(json_object_get(j, "is_compatible")));
    assert_null(json_object_get(j, "messages"));
    json_decref(j);
    j = call(f, "POST", "/compatibility/subjects/bw-value/versions/1?verbose=true", body, &status);
    assert_true(json_is_false(json_object_get(j, "is_compatible")));
    assert_true(json_array_size(json_object_get(j, "messages")) >= 1);
    json_decref(j);
    free(body);
    body = schema_body(REC_AB_DEF);
    j = call(f, "POST", "/compatibility/subjects/bw-value/versions/latest", body, &status);
    assert_true(json_is_true(json_object_get(j, "is_compatible")));
    json_decref(j);
    free(body);
    assert_int_equal(register_ok(f, "bw-value", REC_AB_DEF), 2);

    /* Compatibility endpoint errors; unknown subject + latest is
     * compatible, as in Confluent. */
    body = schema_body(REC_A);
    j = call(f, "POST", "/compatibility/subjects/fresh/versions/latest", body, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_true(json_object_get(j, "is_compatible")));
    json_decref(j);
    expect_error(f, "POST", "/compatibility/subjects/fresh/versions/1", body, 404, 40401);
    expect_error(f, "POST", "/compatibility/subjects/bw-value/versions/9", body, 404, 40402);
    expect_error(f, "POST", "/compatibility/subjects/bw-value/versions/x", body, 422, 42202);
    free(body);
    expect_error(f, "POST", "/compatibility/subjects/bw-value/versions/latest",
                 "{\"schema\":\"{\\\"type\\\":\\\"nonsense\\\"}\"}", 422, 42201);

    /* FORWARD: adding an enum symbol needs a default in the old reader. */
    set_level(f, "enum-d", "FORWARD");
    set_level(f, "enum-nod", "FORWARD");
    register_ok(f, "enum-d", ENUM_REC("\"WEB\",\"SHOP\"", ",\"default\":\"WEB\""));
    register_ok(f, "enum-d", ENUM_REC("\"WEB\",\"SHOP\",\"APP\"", ",\"default\":\"WEB\""));
    register_ok(f, "enum-nod", ENUM_REC("\"WEB\",\"SHOP\"", ""));
    register_refused(f, "enum-nod", ENUM_REC("\"WEB\",\"SHOP\",\"APP\"", ""));

    /* FULL: both directions; NONE: anything. */
    set_level(f, "full", "FULL");
    register_ok(f, "full", REC_A);
    register_refused(f, "full", REC_AB_NODEF);
    register_ok(f, "full", REC_AB_DEF);
    set_level(f, "none", "NONE");
    register_ok(f, "none", REC_A);
    register_ok(f, "none", "\"string\"");

    /* Transitive levels see the whole history: v3 reads v2 (by default)
     * but not v1 (int -> string does not promote). */
    set_level(f, "bt", "BACKWARD_TRANSITIVE");
    register_ok(f, "plain", REC_A);
    register_ok(f, "plain", REC_EMPTY);
    register_ok(f, "plain", REC_A_STR_DEF);
    register_ok(f, "bt", REC_A);
    register_ok(f, "bt", REC_EMPTY);
    register_refused(f, "bt", REC_A_STR_DEF);
    /* Against all versions at once (no version in the path). */
    body = schema_body(REC_A_STR_DEF);
    j = call(f, "POST", "/compatibility/subjects/bt/versions", body, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_false(json_object_get(j, "is_compatible")));
    json_decref(j);
    free(body);
    /* Soft-deleted versions take no part in checks. */
    j = call(f, "DELETE", "/subjects/bt/versions/1", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    register_ok(f, "bt", REC_A_STR_DEF);
}

static void test_config(void **state)
{
    fixture_t *f = *state;
    json_t *j = get_ok(f, "/config");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "BACKWARD");
    json_decref(j);
    set_level(f, NULL, "FULL");
    j = get_ok(f, "/config");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FULL");
    json_decref(j);
    /* Lower case is accepted and normalised. */
    int status;
    j = call(f, "PUT", "/config", "{\"compatibility\":\"full_transitive\"}", &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "compatibility")), "FULL_TRANSITIVE");
    json_decref(j);
    expect_error(f, "PUT", "/config", "{\"compatibility\":\"SIDEWAYS\"}", 422, 42203);
    expect_error(f, "PUT", "/config", "{\"level\":\"FULL\"}", 422, 42203);
    expect_error(f, "PUT", "/config/s", "{\"compatibility\":7}", 422, 42203);

    expect_error(f, "GET", "/config/s", NULL, 404, 40408);
    j = get_ok(f, "/config/s?defaultToGlobal=true");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")),
                        "FULL_TRANSITIVE");
    json_decref(j);
    set_level(f, "s", "NONE");
    j = get_ok(f, "/config/s");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "NONE");
    json_decref(j);
    j = call(f, "DELETE", "/config/s", NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "NONE");
    json_decref(j);
    expect_error(f, "GET", "/config/s", NULL, 404, 40408);
    expect_error(f, "DELETE", "/config/s", NULL, 404, 40408);
    /* A subject level set before the subject exists still governs it. */
    set_level(f, "later", "NONE");
    register_ok(f, "later", REC_A);
    register_ok(f, "later", "\"long\"");
}

static void test_deletes(void **state)
{
    fixture_t *f = *state;
    int id1 = register_ok(f, "d", REC_A);
    int id2 = register_ok(f, "d", REC_AB_DEF);
    int status;
    json_t *j;
    expect_error(f, "DELETE", "/subjects/nope", NULL, 404, 40401);
    expect_error(f, "DELETE", "/subjects/d/versions/5", NULL, 404, 40402);
    /* Soft delete of one version. */
    j = call(f, "DELETE", "/subjects/d/versions/1", NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(j), 1);
    json_decref(j);
    j = get_ok(f, "/subjects/d/versions");
    assert_int_list(j, 1, (int[]){2});
    json_decref(j);
    expect_error(f, "GET", "/subjects/d/versions/1", NULL, 404, 40402);
    j = get_ok(f, "/subjects/d/versions/1?deleted=true");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), id1);
    json_decref(j);
    j = get_ok(f, "/subjects/d/versions?deleted=true");
    assert_int_list(j, 2, (int[]){1, 2});
    json_decref(j);
    expect_error(f, "DELETE", "/subjects/d/versions/1", NULL, 404, 40406);
    expect_error(f, "DELETE", "/subjects/d/versions/2?permanent=true", NULL, 404, 40407);
    j = call(f, "DELETE", "/subjects/d/versions/1?permanent=true", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    expect_error(f, "GET", "/subjects/d/versions/1?deleted=true", NULL, 404, 40402);
    /* Ids outlive their versions. */
    j = get_ok(f, "/schemas/ids/1");
    json_decref(j);

    /* Subject: permanent needs a soft delete first. */
    expect_error(f, "DELETE", "/subjects/d?permanent=true", NULL, 404, 40405);
    j = call(f, "DELETE", "/subjects/d", NULL, &status);
    assert_int_equal(status, 200);
    assert_int_list(j, 1, (int[]){2});
    json_decref(j);
    expect_error(f, "GET", "/subjects/d/versions", NULL, 404, 40401);
    expect_error(f, "GET", "/subjects/d/versions/latest", NULL, 404, 40401);
    expect_error(f, "DELETE", "/subjects/d", NULL, 404, 40404);
    char *body = schema_body(REC_AB_DEF);
    expect_error(f, "POST", "/subjects/d", body, 404, 40401);
    j = call(f, "POST", "/subjects/d?deleted=true", body, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
    json_decref(j);
    free(body);
    j = get_ok(f, "/subjects");
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    j = get_ok(f, "/subjects?deleted=true");
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    j = call(f, "DELETE", "/subjects/d?permanent=true", NULL, &status);
    assert_int_equal(status, 200);
    assert_int_list(j, 1, (int[]){2});
    json_decref(j);
    expect_error(f, "DELETE", "/subjects/d?permanent=true", NULL, 404, 40401);
    j = get_ok(f, "/subjects?deleted=true");
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    /* Re-registering reuses the schema's id. */
    assert_int_equal(register_ok(f, "d", REC_AB_DEF), id2);
}

static void test_invalid_requests(void **state)
{
    fixture_t *f = *state;
    expect_error(f, "POST", "/subjects/s/versions", "{\"schema\": ", 400, 400);
    expect_error(f, "POST", "/subjects/s/versions", "[1,2]", 400, 400);
    expect_error(f, "POST", "/subjects/s/versions", "", 400, 400);
    expect_error(f, "POST", "/subjects/s/versions", "{}", 422, 42201);
    expect_error(f, "POST", "/subjects/s/versions", "{\"schema\": 5}", 422, 42201);
    expect_error(f, "POST", "/subjects/s/versions", "{\"schema\": \"{not avro\"}", 422, 42201);
    expect_error(f, "POST", "/subjects/s/versions",
                 "{\"schema\": \"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"R\\\"}\"}", 422,
                 42201);
    expect_error(f, "POST", "/subjects/s/versions",
                 "{\"schema\": \"\\\"int\\\"\", \"schemaType\": \"PROTOBUF\"}", 422, 42201);
    expect_error(f, "POST", "/subjects/s/versions",
                 "{\"schema\": \"\\\"int\\\"\", \"references\": [{\"name\":\"x\"}]}", 422, 42201);
    /* What confluent_kafka sends for AVRO with no references is fine. */
    int status;
    json_t *j = call(f, "POST", "/subjects/s/versions",
                     "{\"schema\": \"\\\"int\\\"\", \"schemaType\": \"AVRO\", \"references\": []}",
                     &status);
    assert_int_equal(status, 200);
    json_decref(j);

    /* Content types serializers use are all accepted. */
    const char *ok_body = "{\"schema\": \"\\\"long\\\"\"}";
    assert_int_equal(
        raw_request(f->port, "application/json", "/subjects/ct/versions", ok_body, strlen(ok_body)),
        200);
    assert_int_equal(raw_request(f->port, "application/octet-stream", "/subjects/ct/versions",
                                 ok_body, strlen(ok_body)),
                     200);
    assert_int_equal(raw_request(f->port, "application/vnd.schemaregistry.v1+json",
                                 "/subjects/ct/versions", ok_body, strlen(ok_body)),
                     200);

    /* 2 MiB body: refused with a 4xx, and the server lives on. */
    size_t big = 2u << 20;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    int st = raw_request(f->port, "application/json", "/subjects/big/versions", huge, big);
    free(huge);
    assert_true(st >= 400 && st < 500);
    j = get_ok(f, "/subjects");
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    expect_error(f, "GET", "/subjects/big/versions", NULL, 404, 40401);
}

static void test_persistence_across_restart(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(register_ok(f, "p1", REC_A), 1);
    assert_int_equal(register_ok(f, "p1", REC_AB_DEF), 2);
    assert_int_equal(register_ok(f, "p2", REC_EMPTY), 3);
    assert_int_equal(register_ok(f, "p3", REC_A), 1);
    set_level(f, "p1", "FULL");
    set_level(f, NULL, "FORWARD");
    int status;
    json_t *j = call(f, "DELETE", "/subjects/p2", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);

    server_restart(f);

    j = get_ok(f, "/subjects/p1/versions");
    assert_int_list(j, 2, (int[]){1, 2});
    json_decref(j);
    j = get_ok(f, "/subjects/p1/versions/2");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_AB_DEF);
    json_decref(j);
    j = get_ok(f, "/schemas/ids/3");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_EMPTY);
    json_decref(j);
    expect_error(f, "GET", "/subjects/p2/versions", NULL, 404, 40401);
    j = get_ok(f, "/config/p1");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FULL");
    json_decref(j);
    j = get_ok(f, "/config");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FORWARD");
    json_decref(j);
    /* Idempotent after restart; the next id continues after the highest. */
    assert_int_equal(register_ok(f, "p3", REC_A), 1);
    assert_int_equal(register_ok(f, "p4", "\"string\""), 4);
    j = get_ok(f, "/subjects/p3/versions");
    assert_int_list(j, 1, (int[]){1});
    json_decref(j);
}

static void append_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "a");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_corrupt_tail(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(register_ok(f, "c", REC_A), 1);
    assert_int_equal(register_ok(f, "c", REC_AB_DEF), 2);
    server_stop(f);
    char log[512];
    snprintf(log, sizeof(log), "%s/registry.log", f->dir);
    size_t clean_len;
    char *clean = jp_test_read_file(log, &clean_len);
    assert_non_null(clean);
    /* A record torn by a crash: no newline, incomplete JSON. */
    append_file(log, "{\"op\":\"register\",\"subject\":\"c\",\"vers");
    int status;
    assert_int_equal(server_start(f, &status), 0);
    json_t *j = get_ok(f, "/subjects/c/versions");
    assert_int_list(j, 2, (int[]){1, 2});
    json_decref(j);
    /* The tail was cut, so new records append cleanly and survive. */
    assert_int_equal(register_ok(f, "c2", "\"bytes\""), 3);
    server_stop(f);
    size_t len;
    char *now = jp_test_read_file(log, &len);
    assert_true(len > clean_len);
    assert_memory_equal(now, clean, clean_len);
    assert_null(strstr(now, "\"vers\n"));
    free(now);
    assert_int_equal(server_start(f, &status), 0);
    j = get_ok(f, "/schemas/ids/3");
    json_decref(j);
    server_stop(f);

    /* Garbage followed by a valid record is not a tail: refuse to start
     * rather than drop acknowledged data. */
    append_file(log, "garbage\n");
    append_file(log, strchr(clean, '\n') + 1); /* a valid record after it */
    assert_int_equal(server_start(f, &status), -1);
    assert_int_equal(status, 73);
    free(clean);
}

#define THREADS    8
#define PER_THREAD 50

typedef struct {
    const char *url;
    int t;
    int ids[PER_THREAD];
    int again;
    int failures;
} worker_t;

static char *worker_schema(int t, int i)
{
    char *s = malloc(160);
    snprintf(s, 160,
             "{\"type\":\"record\",\"name\":\"W%d_%d\",\"fields\":[{\"name\":\"x\",\"type\":"
             "\"long\"}]}",
             t, i);
    return s;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    char err[256], subject[32];
    jp_registry_client_t *c = jp_registry_client_new(w->url, err, sizeof(err));
    snprintf(subject, sizeof(subject), "conc-%d", w->t);
    for (int i = 0; c && i < PER_THREAD; i++) {
        char *s = worker_schema(w->t, i);
        int32_t id = 0;
        if (jp_registry_client_register(c, subject, s, &id, err, sizeof(err)))
            w->failures++;
        w->ids[i] = id;
        free(s);
    }
    char *s = worker_schema(w->t, 0);
    int32_t id = 0;
    if (c && jp_registry_client_register(c, subject, s, &id, err, sizeof(err)))
        w->failures++;
    w->again = id;
    free(s);
    jp_registry_client_free(c);
    return NULL;
}

static void test_concurrent_registrations(void **state)
{
    fixture_t *f = *state;
    set_level(f, NULL, "NONE"); /* unrelated records under one subject */
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (worker_t){.url = f->url, .t = t};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    static bool seen[THREADS * PER_THREAD + 1];
    memset(seen, 0, sizeof(seen));
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(w[t].failures, 0);
        assert_int_equal(w[t].again, w[t].ids[0]);
        for (int i = 0; i < PER_THREAD; i++) {
            int id = w[t].ids[i];
            assert_true(id >= 1 && id <= THREADS * PER_THREAD);
            assert_false(seen[id]);
            seen[id] = true;
        }
    }
    /* Versions follow each thread's order; ids resolve to its schemas. */
    for (int t = 0; t < THREADS; t++) {
        char path[64];
        snprintf(path, sizeof(path), "/subjects/conc-%d/versions", t);
        json_t *j = get_ok(f, path);
        assert_int_equal(json_array_size(j), PER_THREAD);
        json_decref(j);
        for (int i = 0; i < PER_THREAD; i += 7) {
            snprintf(path, sizeof(path), "/subjects/conc-%d/versions/%d", t, i + 1);
            j = get_ok(f, path);
            assert_int_equal(json_integer_value(json_object_get(j, "id")), w[t].ids[i]);
            char *want = worker_schema(t, i);
            assert_string_equal(json_string_value(json_object_get(j, "schema")), want);
            free(want);
            json_decref(j);
        }
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_lookup_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compatibility_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_registrations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
