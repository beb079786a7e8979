/*
 * jp_registry_server: HTTP front of jp_registry_store.
 *
 * Design. jp_registry_server_handle decodes each request once into a
 * jp_reg_req_t (method, percent-decoded path segments, query, lazily parsed
 * JSON body) and walks a route table: a route is a path pattern ("*" matches
 * one segment), the methods it accepts, a handler and the label it is
 * counted under in /metrics. A path that matches with the wrong method is a
 * 405; no match is a 404. Handlers only translate between HTTP/JSON and
 * store calls - every rule of the registry (ids, versions, modes, soft
 * deletes, compatibility) lives in the store, whose error codes are
 * Confluent's, so an error reply is just the code, its HTTP status (code /
 * 100, or the code itself when it is already a status) and the store's
 * message. The evhttp callback only copies the request in and the reply
 * out, so the same handler runs without sockets for tests and fuzzing.
 *
 * Metrics: one counter per (method, route, status) seen, created on first
 * use and cached by the server; the schema, subject and version gauges are
 * read from the store when /metrics is rendered.
 *
 * Concurrency: the event loop runs one callback at a time, so requests are
 * serialized without locks; a registration's fsync therefore delays the
 * requests behind it, which is the price of acknowledging only durable
 * writes. Body size is bounded by evhttp (413 before the handler runs) and
 * idle connections time out, so a slow or hostile client cannot pin memory.
 */
#include "registry/jp_registry_server.h"
#include "model/base/jp_err.h"

#include "base/jp_listen.h"
#include "base/jp_log.h"
#include "base/jp_metrics.h"
#include "model/base/jp_err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#define MAX_SEGMENTS 8
#define IDLE_TIMEOUT 60 /* seconds a connection may sit idle */
#define TEXT_PLAIN   "text/plain; charset=utf-8"

/* A counter of requests by method, route and status, cached by the server. */
typedef struct {
    int method, route, status;
    jp_counter_t *counter;
} jp_reg_count_t;

struct jp_registry_server_s {
    struct evhttp *http;
    jp_registry_store_t *store;
    int port;
    char url[300];
    jp_metrics_t *metrics;
    jp_gauge_t *g_schemas, *g_subjects, *g_versions;
    jp_reg_count_t *counts;
    size_t n_counts, cap_counts;
};

typedef struct {
    jp_registry_server_t *srv;
    jp_registry_store_t *store;
    int method;
    char *seg[MAX_SEGMENTS];
    size_t nseg;
    struct evkeyvalq query;
    const char *raw_body;
    size_t raw_len;
    json_t *body;
    jp_registry_reply_t *out; /* status 0 until a handler replies */
} jp_reg_req_t;

/* ---- replies ------------------------------------------------------------- */

static void reply_text_as(jp_reg_req_t *r, int status, const char *content_type, const char *text,
                          size_t len)
{
    jp_registry_reply_t *out = r->out;
    free(out->body);
    out->body = malloc(len + 1);
    out->body_len = out->body ? len : 0;
    if (out->body) {
        memcpy(out->body, text, len);
        out->body[len] = '\0';
    }
    out->status = status;
    out->content_type = content_type;
}

static void reply_text(jp_reg_req_t *r, int status, const char *text, size_t len)
{
    reply_text_as(r, status, JP_REGISTRY_CONTENT_TYPE, text, len);
}

/* Sends value (consumed) as the body. */
static void reply_json(jp_reg_req_t *r, int status, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(value);
    if (!text) {
        static const char oom[] = "{\"error_code\":50001,\"message\":\"out of memory\"}";
        reply_text(r, 500, oom, sizeof(oom) - 1);
        return;
    }
    reply_text(r, status, text, strlen(text));
    free(text);
}

static void reply_error(jp_reg_req_t *r, int code, const char *message)
{
    int status = code >= 10000 ? code / 100 : code;
    reply_json(r, status, json_pack("{s:i, s:s}", "error_code", code, "message", message));
}

/* Replies with the store's answer: the error, or value (consumed). */
static void reply_result(jp_reg_req_t *r, int rc, const char *err, json_t *value)
{
    if (rc) {
        json_decref(value);
        reply_error(r, rc, err);
    } else {
        reply_json(r, 200, value);
    }
}

/* ---- request decoding ---------------------------------------------------- */

static bool query_true(const jp_reg_req_t *r, const char *key)
{
    const char *v = evhttp_find_header(&r->query, key);
    return v && strcasecmp(v, "true") == 0;
}

/* An integer query parameter; def if absent or not a number. */
static long query_long(const jp_reg_req_t *r, const char *key, long def)
{
    const char *v = evhttp_find_header(&r->query, key);
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : def;
    return v && (errno || end == v || *end) ? def : n;
}

/* The window [offset, offset + limit) of n items, Confluent's paging
 * (a negative limit: no limit). */
static void page(const jp_reg_req_t *r, size_t n, size_t *from, size_t *to)
{
    long offset = query_long(r, "offset", 0), limit = query_long(r, "limit", -1);
    *from = offset > 0 ? ((size_t)offset < n ? (size_t)offset : n) : 0;
    *to = limit >= 0 && (size_t)limit < n - *from ? *from + (size_t)limit : n;
}

static jp_registry_filter_t query_filter(const jp_reg_req_t *r)
{
    return query_true(r, "deletedOnly") ? JP_REGISTRY_DELETED_ONLY
           : query_true(r, "deleted")   ? JP_REGISTRY_INCLUDE_DELETED
                                        : JP_REGISTRY_LIVE;
}

/* The JSON object body; NULL after replying 400 if it is not one. */
static json_t *body_object(jp_reg_req_t *r)
{
    if (r->body)
        return r->body;
    json_error_t err;
    r->body = r->raw_len ? json_loadb(r->raw_body, r->raw_len, 0, &err) : NULL;
    if (!r->body || !json_is_object(r->body)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Malformed request body: %s",
                 r->body      ? "expected a JSON object"
                 : r->raw_len ? err.text
                              : "empty body");
        reply_error(r, 400, msg);
        return NULL;
    }
    return r->body;
}

/* The "schema" of a register/lookup/compatibility body; NULL after
 * replying. Only AVRO without references is supported. */
static const char *body_schema(jp_reg_req_t *r, size_t *len)
{
    json_t *body = body_object(r);
    if (!body)
        return NULL;
    json_t *type = json_object_get(body, "schemaType");
    json_t *refs = json_object_get(body, "references");
    json_t *schema = json_object_get(body, "schema");
    if (type && !json_is_null(type) &&
        !(json_is_string(type) && strcmp(json_string_value(type), "AVRO") == 0)) {
        reply_error(r, JP_REGISTRY_ERR_INVALID_SCHEMA,
                    "Invalid schema type: only AVRO is supported by this registry");
        return NULL;
    }
    if (refs && !json_is_null(refs) && !(json_is_array(refs) && json_array_size(refs) == 0)) {
        reply_error(r, JP_REGISTRY_ERR_INVALID_SCHEMA,
                    "Invalid schema: schema references are not supported by this registry");
        return NULL;
    }
    if (!json_is_string(schema) || json_string_length(schema) == 0) {
        reply_error(r, JP_REGISTRY_ERR_INVALID_SCHEMA, "Invalid schema: empty schema");
        return NULL;
    }
    *len = json_string_length(schema);
    return json_string_value(schema);
}

/* An optional integer member of the body ("id", "version"): 0 if absent,
 * null or negative (Confluent's "not given"); -1 after replying if it is
 * not an integer or out of range. */
static int body_int(jp_reg_req_t *r, const char *key, int32_t *out)
{
    json_t *v = json_object_get(r->body, key);
    *out = 0;
    if (!v || json_is_null(v) || (json_is_integer(v) && json_integer_value(v) < 0))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) == 0 || json_integer_value(v) > INT32_MAX) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Invalid schema: \"%s\" must be an integer from 1 to %d", key,
                 INT32_MAX);
        reply_error(r, JP_REGISTRY_ERR_INVALID_SCHEMA, msg);
        return -1;
    }
    *out = (int32_t)json_integer_value(v);
    return 0;
}

/* "latest", "-1" or 1..2^31-1; replies 42202 and returns -1 otherwise. */
static int parse_version(jp_reg_req_t *r, const char *s, int32_t *out)
{
    if (strcmp(s, "latest") == 0 || strcmp(s, "-1") == 0) {
        *out = JP_REGISTRY_VERSION_LATEST;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > INT32_MAX) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "The specified version '%.64s' is not a valid version id. Allowed values are "
                 "between [1, 2^31-1] and the string \"latest\"",
                 s);
        reply_error(r, JP_REGISTRY_ERR_INVALID_VERSION, msg);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* Schema ids in paths: a non-number is simply no such resource. */
static int parse_id(jp_reg_req_t *r, const char *s, int32_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT32_MAX) {
        reply_error(r, 404, "HTTP 404 Not Found");
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static json_t *version_json(const jp_registry_version_t *v)
{
    return json_pack("{s:s, s:i, s:i, s:s}", "subject", v->subject, "version", (int)v->version,
                     "id", (int)v->id, "schema", v->schema);
}

/* A page of ints as a JSON array. */
static json_t *int_array(const jp_reg_req_t *r, const int32_t *v, size_t n)
{
    size_t from, to;
    page(r, n, &from, &to);
    json_t *a = json_array();
    for (size_t i = from; a && i < to; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* ---- handlers ------------------------------------------------------------ */

#define ERRBUF 1024

static void h_root(jp_reg_req_t *r)
{
    reply_json(r, 200, json_object());
}

static void h_schema_types(jp_reg_req_t *r)
{
    reply_json(r, 200, json_pack("[s]", "AVRO"));
}

static void h_healthz(jp_reg_req_t *r)
{
    reply_text_as(r, 200, TEXT_PLAIN, "ok\n", 3);
}

static void h_metrics(jp_reg_req_t *r)
{
    jp_registry_server_t *srv = r->srv;
    jp_registry_store_stats_t st;
    jp_registry_store_stats(r->store, &st);
    jp_gauge_set(srv->g_schemas, (double)st.schemas);
    jp_gauge_set(srv->g_subjects, (double)st.subjects);
    jp_gauge_set(srv->g_versions, (double)st.versions);
    char *text = jp_metrics_render(srv->metrics);
    if (!text) {
        reply_error(r, JP_REGISTRY_ERR_STORE, "out of memory");
        return;
    }
    reply_text_as(r, 200, JP_METRICS_CONTENT_TYPE, text, strlen(text));
    free(text);
}

static void h_subjects(jp_reg_req_t *r)
{
    const char **names;
    size_t n, from, to;
    if (jp_registry_store_subjects(r->store, evhttp_find_header(&r->query, "subjectPrefix"),
                                   query_filter(r), &names, &n)) {
        reply_error(r, JP_REGISTRY_ERR_STORE, "out of memory");
        return;
    }
    page(r, n, &from, &to);
    json_t *a = json_array();
    for (size_t i = from; a && i < to; i++)
        json_array_append_new(a, json_string(names[i]));
    free(names);
    reply_json(r, 200, a);
}

static void h_lookup(jp_reg_req_t *r)
{
    size_t len;
    const char *schema = body_schema(r, &len);
    if (!schema)
        return;
    char err[ERRBUF];
    jp_registry_version_t v;
    int rc = jp_registry_store_lookup(r->store, r->seg[1], schema, len, query_true(r, "deleted"),
                                      query_true(r, "normalize"), &v, err, sizeof(err));
    reply_result(r, rc, err, rc ? NULL : version_json(&v));
}

static void h_delete_subject(jp_reg_req_t *r)
{
    char err[ERRBUF];
    int32_t *versions = NULL;
    size_t n = 0;
    int rc = jp_registry_store_delete_subject(r->store, r->seg[1], query_true(r, "permanent"),
                                              &versions, &n, err, sizeof(err));
    reply_result(r, rc, err, rc ? NULL : int_array(r, versions, n));
    free(versions);
}

static void h_versions(jp_reg_req_t *r)
{
    char err[ERRBUF];
    int32_t *versions = NULL;
    size_t n = 0;
    int rc = jp_registry_store_versions(r->store, r->seg[1], query_filter(r), &versions, &n, err,
                                        sizeof(err));
    reply_result(r, rc, err, rc ? NULL : int_array(r, versions, n));
    free(versions);
}

/* POST /subjects/{s}/versions {"schema", "id"?, "version"?}[?normalize=true]. */
static void h_register(jp_reg_req_t *r)
{
    size_t len;
    const char *schema = body_schema(r, &len);
    jp_registry_register_opts_t o = {.normalize = query_true(r, "normalize")};
    if (!schema || body_int(r, "id", &o.id) || body_int(r, "version", &o.version))
        return;
    char err[ERRBUF];
    int32_t id, version;
    int rc = jp_registry_store_register(r->store, r->seg[1], schema, len, &o, &id, &version, err,
                                        sizeof(err));
    reply_result(r, rc, err, rc ? NULL : json_pack("{s:i}", "id", (int)id));
}

/* The version a /subjects/{s}/versions/{v}/... path names; -1 after
 * replying. */
static int path_version(jp_reg_req_t *r, jp_registry_version_t *v)
{
    int32_t version;
    if (parse_version(r, r->seg[3], &version))
        return -1;
    char err[ERRBUF];
    int rc = jp_registry_store_get_version(r->store, r->seg[1], version, query_true(r, "deleted"),
                                           v, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    return rc ? -1 : 0;
}

static void h_get_version(jp_reg_req_t *r)
{
    jp_registry_version_t v;
    if (path_version(r, &v) == 0)
        reply_json(r, 200, version_json(&v));
}

static void h_get_version_schema(jp_reg_req_t *r)
{
    jp_registry_version_t v;
    if (path_version(r, &v) == 0)
        reply_text(r, 200, v.schema, strlen(v.schema));
}

/* Schema references are not supported, so nothing refers to a version. */
static void h_referenced_by(jp_reg_req_t *r)
{
    jp_registry_version_t v;
    if (path_version(r, &v) == 0)
        reply_json(r, 200, json_array());
}

static void h_delete_version(jp_reg_req_t *r)
{
    int32_t version, deleted;
    if (parse_version(r, r->seg[3], &version))
        return;
    char err[ERRBUF];
    int rc = jp_registry_store_delete_version(
        r->store, r->seg[1], version, query_true(r, "permanent"), &deleted, err, sizeof(err));
    reply_result(r, rc, err, rc ? NULL : json_integer(deleted));
}

/* GET /schemas?subjectPrefix=&deleted=&latestOnly=&offset=&limit= */
static void h_schemas(jp_reg_req_t *r)
{
    jp_registry_version_t *v;
    size_t n, from, to;
    if (jp_registry_store_list(r->store, evhttp_find_header(&r->query, "subjectPrefix"),
                               query_true(r, "deleted") ? JP_REGISTRY_INCLUDE_DELETED
                                                        : JP_REGISTRY_LIVE,
                               query_true(r, "latestOnly"), &v, &n)) {
        reply_error(r, JP_REGISTRY_ERR_STORE, "out of memory");
        return;
    }
    page(r, n, &from, &to);
    json_t *a = json_array();
    for (size_t i = from; a && i < to; i++)
        json_array_append_new(a, version_json(&v[i]));
    free(v);
    reply_json(r, 200, a);
}

/* GET /schemas/ids/{id} and .../schema (raw). */
static void get_schema(jp_reg_req_t *r, bool raw)
{
    int32_t id;
    if (parse_id(r, r->seg[2], &id))
        return;
    char err[ERRBUF];
    const char *schema;
    int rc = jp_registry_store_schema_by_id(r->store, id, &schema, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else if (raw)
        reply_text(r, 200, schema, strlen(schema));
    else
        reply_json(r, 200, json_pack("{s:s}", "schema", schema));
}

static void h_schema_by_id(jp_reg_req_t *r)
{
    get_schema(r, false);
}

static void h_schema_by_id_raw(jp_reg_req_t *r)
{
    get_schema(r, true);
}

/* GET /schemas/ids/{id}/versions ([{"subject","version"}]) and
 * .../subjects (the distinct subjects). */
static void id_usage(jp_reg_req_t *r, bool subjects_only)
{
    int32_t id;
    if (parse_id(r, r->seg[2], &id))
        return;
    char err[ERRBUF];
    jp_registry_version_t *v;
    size_t n, from, to;
    int rc = jp_registry_store_id_versions(r->store, id, query_true(r, "deleted"), &v, &n, err,
                                           sizeof(err));
    if (rc) {
        reply_error(r, rc, err);
        return;
    }
    size_t kept = 0; /* versions come sorted by subject: keep a subject's first */
    for (size_t i = 0; i < n; i++)
        if (!subjects_only || !kept || strcmp(v[kept - 1].subject, v[i].subject) != 0)
            v[kept++] = v[i];
    page(r, kept, &from, &to);
    json_t *a = json_array();
    for (size_t i = from; a && i < to; i++)
        json_array_append_new(a, subjects_only ? json_string(v[i].subject)
                                               : json_pack("{s:s, s:i}", "subject", v[i].subject,
                                                           "version", (int)v[i].version));
    free(v);
    reply_json(r, 200, a);
}

static void h_schema_id_versions(jp_reg_req_t *r)
{
    id_usage(r, false);
}

static void h_schema_id_subjects(jp_reg_req_t *r)
{
    id_usage(r, true);
}

/* POST /compatibility/subjects/{s}/versions[/{v}]: without a version the
 * schema is tested against the whole live history. */
static void h_compat(jp_reg_req_t *r)
{
    int32_t version = JP_REGISTRY_VERSION_ALL;
    if (r->nseg == 5 && parse_version(r, r->seg[4], &version))
        return;
    size_t len;
    const char *schema = body_schema(r, &len);
    if (!schema)
        return;
    char err[ERRBUF], reason[ERRBUF];
    bool ok;
    int rc = jp_registry_store_test_compat(r->store, r->seg[2], version, schema, len, &ok, reason,
                                           sizeof(reason), err, sizeof(err));
    if (rc) {
        reply_error(r, rc, err);
        return;
    }
    json_t *res = json_pack("{s:b}", "is_compatible", ok);
    if (res && query_true(r, "verbose")) {
        json_t *msgs = json_array();
        if (!ok)
            json_array_append_new(msgs, json_string(reason));
        json_object_set_new(res, "messages", msgs);
    }
    reply_json(r, 200, res);
}

/* The subject of /config/{s} and /mode/{s}; NULL for the global forms. */
static const char *setting_subject(const jp_reg_req_t *r)
{
    return r->nseg == 2 ? r->seg[1] : NULL;
}

/* GET /config and /config/{s}. */
static void h_get_config(jp_reg_req_t *r)
{
    char err[ERRBUF];
    jp_avro_compat_t level;
    int rc = jp_registry_store_get_config(
        r->store, setting_subject(r), query_true(r, "defaultToGlobal"), &level, err, sizeof(err));
    reply_result(r, rc, err,
                 rc ? NULL : json_pack("{s:s}", "compatibilityLevel", jp_avro_compat_name(level)));
}

/* The upper-cased text of a body member (any case accepted), "" if absent
 * or too long. */
static void body_upper(jp_reg_req_t *r, const char *key, char *out, size_t out_size)
{
    const char *name = json_string_value(json_object_get(r->body, key));
    out[0] = '\0';
    if (!name || strlen(name) >= out_size)
        return;
    size_t i = 0;
    for (; name[i]; i++)
        out[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
    out[i] = '\0';
}

/* PUT /config and /config/{s}: {"compatibility": "FULL"}, any case. */
static void h_put_config(jp_reg_req_t *r)
{
    if (!body_object(r))
        return;
    char upper[32];
    body_upper(r, "compatibility", upper, sizeof(upper));
    jp_avro_compat_t level;
    if (jp_avro_compat_parse(upper, &level)) {
        reply_error(r, JP_REGISTRY_ERR_INVALID_COMPAT,
                    "Invalid compatibility level. Valid values are none, backward, forward, "
                    "full, backward_transitive, forward_transitive, and full_transitive");
        return;
    }
    char err[ERRBUF];
    int rc = jp_registry_store_set_config(r->store, setting_subject(r), level, err, sizeof(err));
    reply_result(r, rc, err,
                 rc ? NULL : json_pack("{s:s}", "compatibility", jp_avro_compat_name(level)));
}

/* DELETE /config and /config/{s}: the level removed. */
static void h_delete_config(jp_reg_req_t *r)
{
    char err[ERRBUF];
    jp_avro_compat_t previous;
    int rc =
        jp_registry_store_delete_config(r->store, setting_subject(r), &previous, err, sizeof(err));
    reply_result(r, rc, err,
                 rc ? NULL
                    : json_pack("{s:s}", "compatibilityLevel", jp_avro_compat_name(previous)));
}

/* GET /mode and /mode/{s}[?defaultToGlobal=true]. */
static void h_get_mode(jp_reg_req_t *r)
{
    char err[ERRBUF];
    jp_registry_mode_t mode;
    int rc = jp_registry_store_get_mode(r->store, setting_subject(r),
                                        query_true(r, "defaultToGlobal"), &mode, err, sizeof(err));
    reply_result(r, rc, err, rc ? NULL : json_pack("{s:s}", "mode", jp_registry_mode_name(mode)));
}

/* PUT /mode and /mode/{s}: {"mode": "IMPORT"}, any case; ?force=true. */
static void h_put_mode(jp_reg_req_t *r)
{
    if (!body_object(r))
        return;
    char upper[32];
    body_upper(r, "mode", upper, sizeof(upper));
    jp_registry_mode_t mode;
    if (jp_registry_mode_parse(upper, &mode)) {
        reply_error(r, JP_REGISTRY_ERR_INVALID_MODE,
                    "Invalid mode. Valid values are READWRITE, READONLY and IMPORT.");
        return;
    }
    char err[ERRBUF];
    int rc = jp_registry_store_set_mode(r->store, setting_subject(r), mode, query_true(r, "force"),
                                        err, sizeof(err));
    reply_result(r, rc, err, rc ? NULL : json_pack("{s:s}", "mode", jp_registry_mode_name(mode)));
}

/* DELETE /mode and /mode/{s}: the mode removed. */
static void h_delete_mode(jp_reg_req_t *r)
{
    char err[ERRBUF];
    jp_registry_mode_t previous;
    int rc =
        jp_registry_store_delete_mode(r->store, setting_subject(r), &previous, err, sizeof(err));
    reply_result(r, rc, err,
                 rc ? NULL : json_pack("{s:s}", "mode", jp_registry_mode_name(previous)));
}

/* ---- routing ------------------------------------------------------------- */

typedef struct {
    const char *pattern[MAX_SEGMENTS + 1]; /* NULL-terminated; "*" = any segment */
    int methods;
    void (*handler)(jp_reg_req_t *r);
    const char *label; /* route label in /metrics */
} jp_reg_route_t;

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PUT    EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE
#define S_V    "/subjects/{subject}/versions"

static const jp_reg_route_t routes[] = {
    {{NULL}, GET, h_root, "/"},
    {{"healthz", NULL}, GET, h_healthz, "/healthz"},
    {{"metrics", NULL}, GET, h_metrics, "/metrics"},
    {{"subjects", NULL}, GET, h_subjects, "/subjects"},
    {{"subjects", "*", NULL}, POST, h_lookup, "/subjects/{subject}"},
    {{"subjects", "*", NULL}, DELETE, h_delete_subject, "/subjects/{subject}"},
    {{"subjects", "*", "versions", NULL}, GET, h_versions, S_V},
    {{"subjects", "*", "versions", NULL}, POST, h_register, S_V},
    {{"subjects", "*", "versions", "*", NULL}, GET, h_get_version, S_V "/{version}"},
    {{"subjects", "*", "versions", "*", NULL}, DELETE, h_delete_version, S_V "/{version}"},
    {{"subjects", "*", "versions", "*", "schema", NULL},
     GET,
     h_get_version_schema,
     S_V "/{version}/schema"},
    {{"subjects", "*", "versions", "*", "referencedby", NULL},
     GET,
     h_referenced_by,
     S_V "/{version}/referencedby"},
    {{"schemas", NULL}, GET, h_schemas, "/schemas"},
    {{"schemas", "types", NULL}, GET, h_schema_types, "/schemas/types"},
    {{"schemas", "ids", "*", NULL}, GET, h_schema_by_id, "/schemas/ids/{id}"},
    {{"schemas", "ids", "*", "schema", NULL}, GET, h_schema_by_id_raw, "/schemas/ids/{id}/schema"},
    {{"schemas", "ids", "*", "versions", NULL},
     GET,
     h_schema_id_versions,
     "/schemas/ids/{id}/versions"},
    {{"schemas", "ids", "*", "subjects", NULL},
     GET,
     h_schema_id_subjects,
     "/schemas/ids/{id}/subjects"},
    {{"compatibility", "subjects", "*", "versions", NULL}, POST, h_compat, "/compatibility" S_V},
    {{"compatibility", "subjects", "*", "versions", "*", NULL},
     POST,
     h_compat,
     "/compatibility" S_V "/{version}"},
    {{"config", NULL}, GET, h_get_config, "/config"},
    {{"config", NULL}, PUT, h_put_config, "/config"},
    {{"config", NULL}, DELETE, h_delete_config, "/config"},
    {{"config", "*", NULL}, GET, h_get_config, "/config/{subject}"},
    {{"config", "*", NULL}, PUT, h_put_config, "/config/{subject}"},
    {{"config", "*", NULL}, DELETE, h_delete_config, "/config/{subject}"},
    {{"mode", NULL}, GET, h_get_mode, "/mode"},
    {{"mode", NULL}, PUT, h_put_mode, "/mode"},
    {{"mode", NULL}, DELETE, h_delete_mode, "/mode"},
    {{"mode", "*", NULL}, GET, h_get_mode, "/mode/{subject}"},
    {{"mode", "*", NULL}, PUT, h_put_mode, "/mode/{subject}"},
    {{"mode", "*", NULL}, DELETE, h_delete_mode, "/mode/{subject}"},
};

#define N_ROUTES        (sizeof(routes) / sizeof(routes[0]))
#define ROUTE_UNMATCHED ((int)N_ROUTES)

static bool route_matches(const jp_reg_route_t *route, const jp_reg_req_t *r)
{
    size_t i = 0;
    for (; route->pattern[i]; i++)
        if (i >= r->nseg ||
            (strcmp(route->pattern[i], "*") != 0 && strcmp(route->pattern[i], r->seg[i]) != 0))
            return false;
    return i == r->nseg;
}

/* Splits the raw path into percent-decoded segments (empty ones skipped).
 * -1 if there are too many or one decodes to an embedded NUL. */
static int split_path(jp_reg_req_t *r, const char *path)
{
    while (path && *path) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);
        if (len) {
            if (r->nseg == MAX_SEGMENTS)
                return -1;
            char *raw = strndup(path, len);
            size_t dlen = 0;
            char *seg = raw ? evhttp_uridecode(raw, 0, &dlen) : NULL;
            free(raw);
            if (!seg)
                return -1;
            r->seg[r->nseg++] = seg;
            if (strlen(seg) != dlen)
                return -1;
        }
        path = slash ? slash + 1 : "";
    }
    return 0;
}

static const struct {
    int method;
    const char *name;
} methods[] = {
    {EVHTTP_REQ_GET, "GET"},       {EVHTTP_REQ_POST, "POST"},   {EVHTTP_REQ_PUT, "PUT"},
    {EVHTTP_REQ_DELETE, "DELETE"}, {EVHTTP_REQ_HEAD, "HEAD"},   {EVHTTP_REQ_OPTIONS, "OPTIONS"},
    {EVHTTP_REQ_PATCH, "PATCH"},   {EVHTTP_REQ_TRACE, "TRACE"}, {EVHTTP_REQ_CONNECT, "CONNECT"},
};

static int method_of(const char *name)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].method;
    return 0;
}

static const char *method_name(int method)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (methods[i].method == method)
            return methods[i].name;
    return "OTHER";
}

/* Counts one request; a failure to count never fails the request. */
static void count_request(jp_registry_server_t *srv, int method, int route, int status)
{
    for (size_t i = 0; i < srv->n_counts; i++) {
        jp_reg_count_t *c = &srv->counts[i];
        if (c->method == method && c->route == route && c->status == status) {
            jp_counter_add(c->counter, 1);
            return;
        }
    }
    if (srv->n_counts == srv->cap_counts) {
        size_t cap = srv->cap_counts ? srv->cap_counts * 2 : 32;
        jp_reg_count_t *v = realloc(srv->counts, cap * sizeof(*v));
        if (!v)
            return;
        srv->counts = v;
        srv->cap_counts = cap;
    }
    char labels[256];
    snprintf(labels, sizeof(labels), "code=\"%d\",method=\"%s\",route=\"%s\"", status,
             method_name(method), route < ROUTE_UNMATCHED ? routes[route].label : "unmatched");
    jp_counter_t *counter =
        jp_metrics_counter(srv->metrics, "jackpot_registry_http_requests_total",
                           "HTTP requests answered, by method, route and status code", labels);
    if (!counter)
        return;
    srv->counts[srv->n_counts++] = (jp_reg_count_t){method, route, status, counter};
    jp_counter_add(counter, 1);
}

int jp_registry_server_handle(jp_registry_server_t *srv, const char *method, const char *uri,
                              const char *body, size_t body_len, jp_registry_reply_t *out)
{
    *out = (jp_registry_reply_t){0};
    jp_reg_req_t r = {.srv = srv,
                      .store = srv->store,
                      .method = method_of(method),
                      .raw_body = body,
                      .raw_len = body_len,
                      .out = out};
    TAILQ_INIT(&r.query);
    struct evhttp_uri *parsed = evhttp_uri_parse_with_flags(uri, EVHTTP_URI_NONCONFORMANT);
    const char *query = parsed ? evhttp_uri_get_query(parsed) : NULL;
    int bad = !parsed || split_path(&r, evhttp_uri_get_path(parsed)) ||
              (query && evhttp_parse_query_str(query, &r.query));
    bool path_known = false;
    int route = ROUTE_UNMATCHED;
    for (size_t i = 0; !bad && i < N_ROUTES && !out->status; i++) {
        if (!route_matches(&routes[i], &r))
            continue;
        path_known = true;
        route = (int)i;
        if (routes[i].methods & r.method)
            routes[i].handler(&r);
    }
    if (!out->status && path_known)
        reply_error(&r, 405, "HTTP 405 Method Not Allowed");
    else if (!out->status)
        reply_error(&r, 404, "HTTP 404 Not Found");
    count_request(srv, r.method, route, out->status);
    for (size_t i = 0; i < r.nseg; i++)
        free(r.seg[i]);
    evhttp_clear_headers(&r.query);
    if (parsed) /* evhttp_uri_free(NULL) crashes */
        evhttp_uri_free(parsed);
    json_decref(r.body);
    return out->body ? 0 : -1;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    jp_registry_server_t *srv = arg;
    int method = evhttp_request_get_command(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
    jp_registry_reply_t reply;
    const char *uri = evhttp_request_get_uri(req);
    int rc = jp_registry_server_handle(srv, method_name(method), uri, data ? data : "",
                                       data ? len : 0, &reply);
    struct evbuffer *out = evbuffer_new();
    if (out && rc == 0)
        evbuffer_add(out, reply.body, reply.body_len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      reply.content_type ? reply.content_type : JP_REGISTRY_CONTENT_TYPE);
    evhttp_send_reply(req, rc == 0 ? reply.status : 500, NULL, out); /* NULL: standard phrase */
    if (out)
        evbuffer_free(out);
    jp_log_debug("registry", "%s %s -> %d", method_name(method), uri, rc == 0 ? reply.status : 500);
    free(reply.body);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int server_metrics(jp_registry_server_t *srv)
{
    srv->metrics = jp_metrics_new();
    if (!srv->metrics)
        return -1;
    srv->g_schemas = jp_metrics_gauge(srv->metrics, "jackpot_registry_schemas",
                                      "Schema ids known to the registry", NULL);
    srv->g_subjects = jp_metrics_gauge(srv->metrics, "jackpot_registry_subjects",
                                       "Subjects with at least one live version", NULL);
    srv->g_versions = jp_metrics_gauge(srv->metrics, "jackpot_registry_versions",
                                       "Live (not soft-deleted) subject versions", NULL);
    return srv->g_schemas && srv->g_subjects && srv->g_versions ? 0 : -1;
}

static int server_bind(jp_registry_server_t *srv, struct event_base *base, const char *listen,
                       const char *host, int port, char *errstr, size_t errstr_size)
{
    if (!(srv->http = evhttp_new(base))) {
        jp_err_set(errstr, errstr_size, "cannot create the HTTP server");
        return -1;
    }
    evhttp_set_max_body_size(srv->http, JP_REGISTRY_MAX_BODY);
    evhttp_set_timeout(srv->http, IDLE_TIMEOUT);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_default_content_type(srv->http, JP_REGISTRY_CONTENT_TYPE);
    evhttp_set_gencb(srv->http, on_request, srv);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(srv->http, host, port);
    if (!bound) {
        jp_err_set(errstr, errstr_size, "cannot listen on %s: %s", listen, strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    bool v6 = strchr(host, ':') != NULL;
    snprintf(srv->url, sizeof(srv->url), "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "",
             srv->port);
    return 0;
}

jp_registry_server_t *jp_registry_server_new(struct event_base *base, jp_registry_store_t *store,
                                             const char *listen, char *errstr, size_t errstr_size)
{
    char host[256];
    int port = 0;
    if (!base != !listen) {
        jp_err_set(errstr, errstr_size, "a served registry needs an event base and an address");
        return NULL;
    }
    if (listen && jp_listen_parse(listen, host, sizeof(host), &port, errstr, errstr_size))
        return NULL;
    jp_registry_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv || server_metrics(srv)) {
        jp_err_set(errstr, errstr_size, "out of memory");
        jp_registry_server_free(srv);
        return NULL;
    }
    srv->store = store;
    if (listen && server_bind(srv, base, listen, host, port, errstr, errstr_size)) {
        jp_registry_server_free(srv);
        return NULL;
    }
    return srv;
}

void jp_registry_server_free(jp_registry_server_t *srv)
{
    if (!srv)
        return;
    if (srv->http)
        evhttp_free(srv->http);
    jp_metrics_free(srv->metrics);
    free(srv->counts);
    free(srv);
}

int jp_registry_server_port(const jp_registry_server_t *srv)
{
    return srv->port;
}

const char *jp_registry_server_url(const jp_registry_server_t *srv)
{
    return srv->url;
}
