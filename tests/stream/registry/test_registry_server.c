/*
 * `jackpot registry` over real HTTP (tests/support/jp_test_registry.h):
 * requests go through jp_registry_client and, where headers or sizes must be
 * controlled, a raw socket. Covers every endpoint and error code, idempotency, shared ids,
 * compatibility levels, persistence across SIGTERM/restart, a corrupt log
 * tail, oversized and malformed bodies, and concurrent registrations.
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
#include "jp_test_registry.h"

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

static void register_refused(jp_test_registry_t *f, const char *subject, const char *schema)
{
    char path[256];
    snprintf(path, sizeof(path), "/subjects/%s/versions", subject);
    char *body = jp_test_registry_schema_body(schema);
    jp_test_registry_expect_error(f, "POST", path, body, 409, 409);
    free(body);
}

static void set_level(jp_test_registry_t *f, const char *subject, const char *level)
{
    char path[256], body[128];
    snprintf(path, sizeof(path), subject ? "/config/%s" : "/config", subject);
    snprintf(body, sizeof(body), "{\"compatibility\":\"%s\"}", level);
    int status;
    json_t *j = jp_test_registry_call(f, "PUT", path, body, &status);
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
    jp_test_registry_t *f = *state;
    int id = jp_test_registry_register(f, "sales-value", REC_A_SPACY);
    assert_int_equal(id, 1);
    /* Idempotent, by canonical form: same id, still one version. */
    assert_int_equal(jp_test_registry_register(f, "sales-value", REC_A_SPACY), id);
    assert_int_equal(jp_test_registry_register(f, "sales-value", REC_A), id);
    json_t *j = jp_test_registry_get(f, "/subjects/sales-value/versions");
    jp_test_assert_int_list(j, 1, (int[]){1});
    json_decref(j);
    /* The same schema under another subject shares the global id. */
    assert_int_equal(jp_test_registry_register(f, "other-value", REC_A), id);
    j = jp_test_registry_get(f, "/subjects");
    assert_int_equal(json_array_size(j), 2);
    /* sorted by name, as Confluent lists them */
    assert_string_equal(json_string_value(json_array_get(j, 0)), "other-value");
    assert_string_equal(json_string_value(json_array_get(j, 1)), "sales-value");
    json_decref(j);

    /* Reads return the text as first registered, byte for byte. */
    j = jp_test_registry_get(f, "/schemas/ids/1");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_A_SPACY);
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects/sales-value/versions/1");
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "sales-value");
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_A_SPACY);
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects/other-value/versions/latest");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects/sales-value/versions/1/schema");
    assert_string_equal(json_string_value(json_object_get(j, "type")), "record");
    json_decref(j);
    j = jp_test_registry_get(f, "/schemas/ids/1/versions");
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "subject")),
                        "other-value");
    json_decref(j);

    /* A second schema gets the next id and version. */
    assert_int_equal(jp_test_registry_register(f, "sales-value", REC_AB_DEF), 2);
    j = jp_test_registry_get(f, "/subjects/sales-value/versions/latest");
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 2);
    json_decref(j);

    /* Lookup by schema. */
    char *body = jp_test_registry_schema_body(REC_A_SPACY);
    int status;
    j = jp_test_registry_call(f, "POST", "/subjects/sales-value", body, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "subject")), "sales-value");
    assert_non_null(json_string_value(json_object_get(j, "schema")));
    json_decref(j);
    jp_test_registry_expect_error(f, "POST", "/subjects/nope", body, 404, 40401);
    free(body);
    body = jp_test_registry_schema_body(REC_EMPTY);
    jp_test_registry_expect_error(f, "POST", "/subjects/sales-value", body, 404, 40403);
    free(body);

    /* Not found and invalid versions. */
    jp_test_registry_expect_error(f, "GET", "/schemas/ids/99", NULL, 404, 40403);
    jp_test_registry_expect_error(f, "GET", "/subjects/nope/versions", NULL, 404, 40401);
    jp_test_registry_expect_error(f, "GET", "/subjects/nope/versions/1", NULL, 404, 40401);
    jp_test_registry_expect_error(f, "GET", "/subjects/sales-value/versions/7", NULL, 404, 40402);
    jp_test_registry_expect_error(f, "GET", "/subjects/sales-value/versions/0", NULL, 422, 42202);
    jp_test_registry_expect_error(f, "GET", "/subjects/sales-value/versions/abc", NULL, 422, 42202);
    jp_test_registry_expect_error(f, "GET", "/subjects/sales-value/versions/2147483648", NULL, 422,
                                  42202);
    jp_test_registry_expect_error(f, "GET", "/no/such/path", NULL, 404, 404);
    jp_test_registry_expect_error(f, "PUT", "/subjects", "{}", 405, 405);

    /* Percent-encoded subject names round-trip. */
    assert_int_equal(jp_test_registry_register(f, "a%20b%2Fc", REC_A), 1);
    j = jp_test_registry_get(f, "/subjects");
    assert_string_equal(json_string_value(json_array_get(j, 0)), "a b/c");
    json_decref(j);

    /* Schemas that differ only in what the Parsing Canonical Form drops
     * (logical types, defaults) are different schemas to a reader: they
     * must not share an id. */
    int plain = jp_test_registry_register(f, "ts", "\"long\"");
    int ts = jp_test_registry_register(f, "ts2",
                                       "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}");
    assert_true(plain != ts);
    j = jp_test_registry_get(f, "/schemas/ids/4");
    assert_non_null(strstr(json_string_value(json_object_get(j, "schema")), "timestamp-millis"));
    json_decref(j);
}

static void test_compatibility_levels(void **state)
{
    jp_test_registry_t *f = *state;
    /* BACKWARD (default): a field without default is refused (409), with a
     * default it is accepted. */
    assert_int_equal(jp_test_registry_register(f, "bw-value", REC_A), 1);
    register_refused(f, "bw-value", REC_AB_NODEF);
    char *body = jp_test_registry_schema_body(REC_AB_NODEF);
    int status;
    json_t *j = jp_test_registry_call(f, "POST", "/compatibility/subjects/bw-value/versions/latest",
                                      body, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_false(json_object_get(j, "is_compatible")));
    assert_null(json_object_get(j, "messages"));
    json_decref(j);
    j = jp_test_registry_call(f, "POST", "/compatibility/subjects/bw-value/versions/1?verbose=true",
                              body, &status);
    assert_true(json_is_false(json_object_get(j, "is_compatible")));
    assert_true(json_array_size(json_object_get(j, "messages")) >= 1);
    json_decref(j);
    free(body);
    body = jp_test_registry_schema_body(REC_AB_DEF);
    j = jp_test_registry_call(f, "POST", "/compatibility/subjects/bw-value/versions/latest", body,
                              &status);
    assert_true(json_is_true(json_object_get(j, "is_compatible")));
    json_decref(j);
    free(body);
    assert_int_equal(jp_test_registry_register(f, "bw-value", REC_AB_DEF), 2);

    /* Compatibility endpoint errors; unknown subject + latest is
     * compatible, as in Confluent. */
    body = jp_test_registry_schema_body(REC_A);
    j = jp_test_registry_call(f, "POST", "/compatibility/subjects/fresh/versions/latest", body,
                              &status);
    assert_int_equal(status, 200);
    assert_true(json_is_true(json_object_get(j, "is_compatible")));
    json_decref(j);
    jp_test_registry_expect_error(f, "POST", "/compatibility/subjects/fresh/versions/1", body, 404,
                                  40401);
    jp_test_registry_expect_error(f, "POST", "/compatibility/subjects/bw-value/versions/9", body,
                                  404, 40402);
    jp_test_registry_expect_error(f, "POST", "/compatibility/subjects/bw-value/versions/x", body,
                                  422, 42202);
    free(body);
    jp_test_registry_expect_error(f, "POST", "/compatibility/subjects/bw-value/versions/latest",
                                  "{\"schema\":\"{\\\"type\\\":\\\"nonsense\\\"}\"}", 422, 42201);

    /* FORWARD: adding an enum symbol needs a default in the old reader. */
    set_level(f, "enum-d", "FORWARD");
    set_level(f, "enum-nod", "FORWARD");
    jp_test_registry_register(f, "enum-d", ENUM_REC("\"WEB\",\"SHOP\"", ",\"default\":\"WEB\""));
    jp_test_registry_register(f, "enum-d",
                              ENUM_REC("\"WEB\",\"SHOP\",\"APP\"", ",\"default\":\"WEB\""));
    jp_test_registry_register(f, "enum-nod", ENUM_REC("\"WEB\",\"SHOP\"", ""));
    register_refused(f, "enum-nod", ENUM_REC("\"WEB\",\"SHOP\",\"APP\"", ""));

    /* FULL: both directions; NONE: anything. */
    set_level(f, "full", "FULL");
    jp_test_registry_register(f, "full", REC_A);
    register_refused(f, "full", REC_AB_NODEF);
    jp_test_registry_register(f, "full", REC_AB_DEF);
    set_level(f, "none", "NONE");
    jp_test_registry_register(f, "none", REC_A);
    jp_test_registry_register(f, "none", "\"string\"");

    /* Transitive levels see the whole history: v3 reads v2 (by default)
     * but not v1 (int -> string does not promote). */
    set_level(f, "bt", "BACKWARD_TRANSITIVE");
    jp_test_registry_register(f, "plain", REC_A);
    jp_test_registry_register(f, "plain", REC_EMPTY);
    jp_test_registry_register(f, "plain", REC_A_STR_DEF);
    jp_test_registry_register(f, "bt", REC_A);
    jp_test_registry_register(f, "bt", REC_EMPTY);
    register_refused(f, "bt", REC_A_STR_DEF);
    /* Against all versions at once (no version in the path). */
    body = jp_test_registry_schema_body(REC_A_STR_DEF);
    j = jp_test_registry_call(f, "POST", "/compatibility/subjects/bt/versions", body, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_false(json_object_get(j, "is_compatible")));
    json_decref(j);
    free(body);
    /* Soft-deleted versions take no part in checks. */
    j = jp_test_registry_call(f, "DELETE", "/subjects/bt/versions/1", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    jp_test_registry_register(f, "bt", REC_A_STR_DEF);
}

static void test_config(void **state)
{
    jp_test_registry_t *f = *state;
    json_t *j = jp_test_registry_get(f, "/config");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "BACKWARD");
    json_decref(j);
    set_level(f, NULL, "FULL");
    j = jp_test_registry_get(f, "/config");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FULL");
    json_decref(j);
    /* Lower case is accepted and normalised. */
    int status;
    j = jp_test_registry_call(f, "PUT", "/config", "{\"compatibility\":\"full_transitive\"}",
                              &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "compatibility")), "FULL_TRANSITIVE");
    json_decref(j);
    jp_test_registry_expect_error(f, "PUT", "/config", "{\"compatibility\":\"SIDEWAYS\"}", 422,
                                  42203);
    jp_test_registry_expect_error(f, "PUT", "/config", "{\"level\":\"FULL\"}", 422, 42203);
    jp_test_registry_expect_error(f, "PUT", "/config/s", "{\"compatibility\":7}", 422, 42203);

    jp_test_registry_expect_error(f, "GET", "/config/s", NULL, 404, 40408);
    j = jp_test_registry_get(f, "/config/s?defaultToGlobal=true");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")),
                        "FULL_TRANSITIVE");
    json_decref(j);
    set_level(f, "s", "NONE");
    j = jp_test_registry_get(f, "/config/s");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "NONE");
    json_decref(j);
    j = jp_test_registry_call(f, "DELETE", "/config/s", NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "NONE");
    json_decref(j);
    jp_test_registry_expect_error(f, "GET", "/config/s", NULL, 404, 40408);
    /* Confluent answers a DELETE of an unset level with "subject not found". */
    jp_test_registry_expect_error(f, "DELETE", "/config/s", NULL, 404, 40401);
    /* A subject level set before the subject exists still governs it. */
    set_level(f, "later", "NONE");
    jp_test_registry_register(f, "later", REC_A);
    jp_test_registry_register(f, "later", "\"long\"");
}

static void test_deletes(void **state)
{
    jp_test_registry_t *f = *state;
    int id1 = jp_test_registry_register(f, "d", REC_A);
    int id2 = jp_test_registry_register(f, "d", REC_AB_DEF);
    int status;
    json_t *j;
    jp_test_registry_expect_error(f, "DELETE", "/subjects/nope", NULL, 404, 40401);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/d/versions/5", NULL, 404, 40402);
    /* Soft delete of one version. */
    j = jp_test_registry_call(f, "DELETE", "/subjects/d/versions/1", NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(j), 1);
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects/d/versions");
    jp_test_assert_int_list(j, 1, (int[]){2});
    json_decref(j);
    jp_test_registry_expect_error(f, "GET", "/subjects/d/versions/1", NULL, 404, 40402);
    j = jp_test_registry_get(f, "/subjects/d/versions/1?deleted=true");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), id1);
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects/d/versions?deleted=true");
    jp_test_assert_int_list(j, 2, (int[]){1, 2});
    json_decref(j);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/d/versions/1", NULL, 404, 40406);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/d/versions/2?permanent=true", NULL, 404,
                                  40407);
    j = jp_test_registry_call(f, "DELETE", "/subjects/d/versions/1?permanent=true", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);
    jp_test_registry_expect_error(f, "GET", "/subjects/d/versions/1?deleted=true", NULL, 404,
                                  40402);
    /* Ids outlive their versions. */
    j = jp_test_registry_get(f, "/schemas/ids/1");
    json_decref(j);

    /* Subject: permanent needs a soft delete first. */
    jp_test_registry_expect_error(f, "DELETE", "/subjects/d?permanent=true", NULL, 404, 40405);
    j = jp_test_registry_call(f, "DELETE", "/subjects/d", NULL, &status);
    assert_int_equal(status, 200);
    jp_test_assert_int_list(j, 1, (int[]){2});
    json_decref(j);
    jp_test_registry_expect_error(f, "GET", "/subjects/d/versions", NULL, 404, 40401);
    jp_test_registry_expect_error(f, "GET", "/subjects/d/versions/latest", NULL, 404, 40401);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/d", NULL, 404, 40404);
    char *body = jp_test_registry_schema_body(REC_AB_DEF);
    jp_test_registry_expect_error(f, "POST", "/subjects/d", body, 404, 40401);
    j = jp_test_registry_call(f, "POST", "/subjects/d?deleted=true", body, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
    json_decref(j);
    free(body);
    j = jp_test_registry_get(f, "/subjects");
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects?deleted=true");
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    j = jp_test_registry_call(f, "DELETE", "/subjects/d?permanent=true", NULL, &status);
    assert_int_equal(status, 200);
    jp_test_assert_int_list(j, 1, (int[]){2});
    json_decref(j);
    jp_test_registry_expect_error(f, "DELETE", "/subjects/d?permanent=true", NULL, 404, 40401);
    j = jp_test_registry_get(f, "/subjects?deleted=true");
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    /* Re-registering reuses the schema's id. */
    assert_int_equal(jp_test_registry_register(f, "d", REC_AB_DEF), id2);
}

static void test_invalid_requests(void **state)
{
    jp_test_registry_t *f = *state;
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions", "{\"schema\": ", 400, 400);
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions", "[1,2]", 400, 400);
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions", "", 400, 400);
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions", "{}", 422, 42201);
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions", "{\"schema\": 5}", 422, 42201);
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions", "{\"schema\": \"{not avro\"}",
                                  422, 42201);
    jp_test_registry_expect_error(
        f, "POST", "/subjects/s/versions",
        "{\"schema\": \"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"R\\\"}\"}", 422, 42201);
    jp_test_registry_expect_error(f, "POST", "/subjects/s/versions",
                                  "{\"schema\": \"\\\"int\\\"\", \"schemaType\": \"PROTOBUF\"}",
                                  422, 42201);
    jp_test_registry_expect_error(
        f, "POST", "/subjects/s/versions",
        "{\"schema\": \"\\\"int\\\"\", \"references\": [{\"name\":\"x\"}]}", 422, 42201);
    /* What confluent_kafka sends for AVRO with no references is fine. */
    int status;
    json_t *j = jp_test_registry_call(
        f, "POST", "/subjects/s/versions",
        "{\"schema\": \"\\\"int\\\"\", \"schemaType\": \"AVRO\", \"references\": []}", &status);
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
    j = jp_test_registry_get(f, "/subjects");
    assert_int_equal(json_array_size(j), 2);
    json_decref(j);
    jp_test_registry_expect_error(f, "GET", "/subjects/big/versions", NULL, 404, 40401);
}

static void test_persistence_across_restart(void **state)
{
    jp_test_registry_t *f = *state;
    assert_int_equal(jp_test_registry_register(f, "p1", REC_A), 1);
    assert_int_equal(jp_test_registry_register(f, "p1", REC_AB_DEF), 2);
    assert_int_equal(jp_test_registry_register(f, "p2", REC_EMPTY), 3);
    assert_int_equal(jp_test_registry_register(f, "p3", REC_A), 1);
    set_level(f, "p1", "FULL");
    set_level(f, NULL, "FORWARD");
    int status;
    json_t *j = jp_test_registry_call(f, "DELETE", "/subjects/p2", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(j);

    jp_test_registry_restart(f);

    j = jp_test_registry_get(f, "/subjects/p1/versions");
    jp_test_assert_int_list(j, 2, (int[]){1, 2});
    json_decref(j);
    j = jp_test_registry_get(f, "/subjects/p1/versions/2");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_AB_DEF);
    json_decref(j);
    j = jp_test_registry_get(f, "/schemas/ids/3");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), REC_EMPTY);
    json_decref(j);
    jp_test_registry_expect_error(f, "GET", "/subjects/p2/versions", NULL, 404, 40401);
    j = jp_test_registry_get(f, "/config/p1");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FULL");
    json_decref(j);
    j = jp_test_registry_get(f, "/config");
    assert_string_equal(json_string_value(json_object_get(j, "compatibilityLevel")), "FORWARD");
    json_decref(j);
    /* Idempotent after restart; the next id continues after the highest. */
    assert_int_equal(jp_test_registry_register(f, "p3", REC_A), 1);
    assert_int_equal(jp_test_registry_register(f, "p4", "\"string\""), 4);
    j = jp_test_registry_get(f, "/subjects/p3/versions");
    jp_test_assert_int_list(j, 1, (int[]){1});
    json_decref(j);
}

static void test_corrupt_tail(void **state)
{
    jp_test_registry_t *f = *state;
    assert_int_equal(jp_test_registry_register(f, "c", REC_A), 1);
    assert_int_equal(jp_test_registry_register(f, "c", REC_AB_DEF), 2);
    jp_test_registry_stop(f);
    char log[512];
    snprintf(log, sizeof(log), "%s/registry.log", f->dir);
    size_t clean_len;
    char *clean = jp_test_read_file(log, &clean_len);
    assert_non_null(clean);
    /* A record torn by a crash: no newline, incomplete JSON. */
    jp_test_append_file(log, "{\"op\":\"register\",\"subject\":\"c\",\"vers");
    int status;
    assert_int_equal(jp_test_registry_start(f, &status), 0);
    json_t *j = jp_test_registry_get(f, "/subjects/c/versions");
    jp_test_assert_int_list(j, 2, (int[]){1, 2});
    json_decref(j);
    /* The tail was cut, so new records append cleanly and survive. */
    assert_int_equal(jp_test_registry_register(f, "c2", "\"bytes\""), 3);
    jp_test_registry_stop(f);
    size_t len;
    char *now = jp_test_read_file(log, &len);
    assert_true(len > clean_len);
    assert_memory_equal(now, clean, clean_len);
    assert_null(strstr(now, "\"vers\n"));
    free(now);
    assert_int_equal(jp_test_registry_start(f, &status), 0);
    j = jp_test_registry_get(f, "/schemas/ids/3");
    json_decref(j);
    jp_test_registry_stop(f);

    /* Garbage followed by a valid record is not a tail: refuse to start
     * rather than drop acknowledged data. */
    jp_test_append_file(log, "garbage\n");
    jp_test_append_file(log, strchr(clean, '\n') + 1); /* a valid record after it */
    assert_int_equal(jp_test_registry_start(f, &status), -1);
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
    jp_test_registry_t *f = *state;
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
        json_t *j = jp_test_registry_get(f, path);
        assert_int_equal(json_array_size(j), PER_THREAD);
        json_decref(j);
        for (int i = 0; i < PER_THREAD; i += 7) {
            snprintf(path, sizeof(path), "/subjects/conc-%d/versions/%d", t, i + 1);
            j = jp_test_registry_get(f, path);
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
        cmocka_unit_test_setup_teardown(test_register_lookup_and_read, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_compatibility_levels, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_config, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_deletes, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_persistence_across_restart, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_tail, jp_test_registry_setup,
                                        jp_test_registry_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_registrations, jp_test_registry_setup,
                                        jp_test_registry_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
