/*
 * jp_registry_server: HTTP front of jp_registry_store.
 *
 * Design. One evhttp generic callback decodes each request once into a
 * jp_reg_req_t (method, percent-decoded path segments, query, lazily parsed
 * JSON body) and walks a route table: a route is a path pattern ("*" matches
 * one segment), the methods it accepts and a handler. A path that matches
 * with the wrong method is a 405; no match is a 404. Handlers only translate
 * between HTTP/JSON and store calls - every rule of the registry (ids,
 * versions, soft deletes, compatibility) lives in the store, whose error
 * codes are Confluent's, so an error reply is just the code, its HTTP status
 * (code / 100, or the code itself when it is already a status) and the
 * store's message.
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

struct jp_registry_server_s {
    struct evhttp *http;
    jp_registry_store_t *store;
    int port;
    char url[300];
};

typedef struct {
    struct evhttp_request *req;
    jp_registry_store_t *store;
    enum evhttp_cmd_type method;
    char *seg[MAX_SEGMENTS];
    size_t nseg;
    struct evkeyvalq query;
    json_t *body;
    int status; /* of the reply, for the log line */
} jp_reg_req_t;

/* ---- replies ------------------------------------------------------------- */

static void reply_text(jp_reg_req_t *r, int status, const char *text, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (out)
        evbuffer_add(out, text, len);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", JP_REGISTRY_CONTENT_TYPE);
    evhttp_send_reply(r->req, status, NULL, out); /* NULL: the standard phrase */
    if (out)
        evbuffer_free(out);
    r->status = status;
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

/* ---- request decoding ---------------------------------------------------- */

static bool query_true(const jp_reg_req_t *r, const char *key)
{
    const char *v = evhttp_find_header(&r->query, key);
    return v && strcasecmp(v, "true") == 0;
}

/* The JSON object body; NULL after replying 400 if it is not one. */
static json_t *body_object(jp_reg_req_t *r)
{
    if (r->body)
        return r->body;
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);
    const char *data = (const char *)evbuffer_pullup(in, -1);
    json_error_t err;
    r->body = data ? json_loadb(data, len, 0, &err) : NULL;
    if (!r->body || !json_is_object(r->body)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Malformed request body: %s",
                 r->body ? "expected a JSON object"
                 : len   ? err.text
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

static json_t *int_array(const int32_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
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

static void h_mode(jp_reg_req_t *r)
{
    reply_json(r, 200, json_pack("{s:s}", "mode", "READWRITE"));
}

static void h_subjects(jp_reg_req_t *r)
{
    const char **names;
    size_t n;
    if (jp_registry_store_subjects(r->store, query_true(r, "deleted"), &names, &n)) {
        reply_error(r, JP_REGISTRY_ERR_STORE, "out of memory");
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
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
                                      &v, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else
        reply_json(r, 200, version_json(&v));
}

static void h_delete_subject(jp_reg_req_t *r)
{
    char err[ERRBUF];
    int32_t *versions;
    size_t n;
    int rc = jp_registry_store_delete_subject(r->store, r->seg[1], query_true(r, "permanent"),
                                              &versions, &n, err, sizeof(err));
    if (rc) {
        reply_error(r, rc, err);
        return;
    }
    reply_json(r, 200, int_array(versions, n));
    free(versions);
}

static void h_versions(jp_reg_req_t *r)
{
    char err[ERRBUF];
    int32_t *versions;
    size_t n;
    int rc = jp_registry_store_versions(r->store, r->seg[1], query_true(r, "deleted"), &versions,
                                        &n, err, sizeof(err));
    if (rc) {
        reply_error(r, rc, err);
        return;
    }
    reply_json(r, 200, int_array(versions, n));
    free(versions);
}

static void h_register(jp_reg_req_t *r)
{
    size_t len;
    const char *schema = body_schema(r, &len);
    if (!schema)
        return;
    char err[ERRBUF];
    int32_t id, version;
    int rc = jp_registry_store_register(r->store, r->seg[1], schema, len, &id, &version, err,
                                        sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else
        reply_json(r, 200, json_pack("{s:i}", "id", (int)id));
}

/* GET /subjects/{s}/versions/{v} and .../schema (raw = the schema alone). */
static void get_version(jp_reg_req_t *r, bool raw)
{
    int32_t version;
    if (parse_version(r, r->seg[3], &version))
        return;
    char err[ERRBUF];
    jp_registry_version_t v;
    int rc = jp_registry_store_get_version(r->store, r->seg[1], version, query_true(r, "deleted"),
                                           &v, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else if (raw)
        reply_text(r, 200, v.schema, strlen(v.schema));
    else
        reply_json(r, 200, version_json(&v));
}

static void h_get_version(jp_reg_req_t *r)
{
    get_version(r, false);
}

static void h_get_version_schema(jp_reg_req_t *r)
{
    get_version(r, true);
}

static void h_delete_version(jp_reg_req_t *r)
{
    int32_t version, deleted;
    if (parse_version(r, r->seg[3], &version))
        return;
    char err[ERRBUF];
    int rc = jp_registry_store_delete_version(
        r->store, r->seg[1], version, query_true(r, "permanent"), &deleted, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else
        reply_json(r, 200, json_integer(deleted));
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

static void h_schema_id_versions(jp_reg_req_t *r)
{
    int32_t id;
    if (parse_id(r, r->seg[2], &id))
        return;
    char err[ERRBUF];
    jp_registry_version_t *v;
    size_t n;
    int rc = jp_registry_store_id_versions(r->store, id, query_true(r, "deleted"), &v, &n, err,
                                           sizeof(err));
    if (rc) {
        reply_error(r, rc, err);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:i}", "subject", v[i].subject, "version", (int)v[i].version));
    free(v);
    reply_json(r, 200, a);
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

/* GET /config and /config/{s}. */
static void h_get_config(jp_reg_req_t *r)
{
    const char *subject = r->nseg == 2 ? r->seg[1] : NULL;
    char err[ERRBUF];
    jp_avro_compat_t level;
    int rc = jp_registry_store_get_config(r->store, subject, query_true(r, "defaultToGlobal"),
                                          &level, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else
        reply_json(r, 200, json_pack("{s:s}", "compatibilityLevel", jp_avro_compat_name(level)));
}

/* PUT /config and /config/{s}: {"compatibility": "FULL"}, any case. */
static void h_put_config(jp_reg_req_t *r)
{
    json_t *body = body_object(r);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "compatibility"));
    char upper[32] = "";
    for (size_t i = 0; name && name[i] && i + 1 < sizeof(upper); i++)
        upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
    jp_avro_compat_t level;
    if (!name || strlen(name) >= sizeof(upper) || jp_avro_compat_parse(upper, &level)) {
        reply_error(r, JP_REGISTRY_ERR_INVALID_COMPAT,
                    "Invalid compatibility level. Valid values are none, backward, forward, "
                    "full, backward_transitive, forward_transitive, and full_transitive");
        return;
    }
    char err[ERRBUF];
    int rc = jp_registry_store_set_config(r->store, r->nseg == 2 ? r->seg[1] : NULL, level, err,
                                          sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else
        reply_json(r, 200, json_pack("{s:s}", "compatibility", jp_avro_compat_name(level)));
}

static void h_delete_config(jp_reg_req_t *r)
{
    char err[ERRBUF];
    jp_avro_compat_t previous;
    int rc = jp_registry_store_delete_config(r->store, r->seg[1], &previous, err, sizeof(err));
    if (rc)
        reply_error(r, rc, err);
    else
        reply_json(r, 200, json_pack("{s:s}", "compatibilityLevel", jp_avro_compat_name(previous)));
}

/* ---- routing ------------------------------------------------------------- */

typedef struct {
    const char *pattern[MAX_SEGMENTS + 1]; /* NULL-terminated; "*" = any segment */
    int methods;
    void (*handler)(jp_reg_req_t *r);
} jp_reg_route_t;

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PUT    EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE

static const jp_reg_route_t routes[] = {
    {{NULL}, GET, h_root},
    {{"subjects", NULL}, GET, h_subjects},
    {{"subjects", "*", NULL}, POST, h_lookup},
    {{"subjects", "*", NULL}, DELETE, h_delete_subject},
    {{"subjects", "*", "versions", NULL}, GET, h_versions},
    {{"subjects", "*", "versions", NULL}, POST, h_register},
    {{"subjects", "*", "versions", "*", NULL}, GET, h_get_version},
    {{"subjects", "*", "versions", "*", NULL}, DELETE, h_delete_version},
    {{"subjects", "*", "versions", "*", "schema", NULL}, GET, h_get_version_schema},
    {{"schemas", "types", NULL}, GET, h_schema_types},
    {{"schemas", "ids", "*", NULL}, GET, h_schema_by_id},
    {{"schemas", "ids", "*", "schema", NULL}, GET, h_schema_by_id_raw},
    {{"schemas", "ids", "*", "versions", NULL}, GET, h_schema_id_versions},
    {{"compatibility", "subjects", "*", "versions", NULL}, POST, h_compat},
    {{"compatibility", "subjects", "*", "versions", "*", NULL}, POST, h_compat},
    {{"config", NULL}, GET, h_get_config},
    {{"config", NULL}, PUT, h_put_config},
    {{"config", "*", NULL}, GET, h_get_config},
    {{"config", "*", NULL}, PUT, h_put_config},
    {{"config", "*", NULL}, DELETE, h_delete_config},
    {{"mode", NULL}, GET, h_mode},
};

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

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    jp_registry_server_t *srv = arg;
    jp_reg_req_t r = {.req = req, .store = srv->store, .method = evhttp_request_get_command(req)};
    TAILQ_INIT(&r.query);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    int bad = !uri || split_path(&r, evhttp_uri_get_path(uri)) ||
              (query && evhttp_parse_query_str(query, &r.query));
    bool path_known = false;
    for (size_t i = 0; !bad && i < sizeof(routes) / sizeof(routes[0]) && !r.status; i++) {
        if (!route_matches(&routes[i], &r))
            continue;
        path_known = true;
        if (routes[i].methods & (int)r.method)
            routes[i].handler(&r);
    }
    if (!r.status && path_known)
        reply_error(&r, 405, "HTTP 405 Method Not Allowed");
    else if (!r.status)
        reply_error(&r, 404, "HTTP 404 Not Found");
    jp_log_debug("registry", "%s %s -> %d", method_name(r.method), evhttp_request_get_uri(req),
                 r.status);
    for (size_t i = 0; i < r.nseg; i++)
        free(r.seg[i]);
    evhttp_clear_headers(&r.query);
    json_decref(r.body);
}

/* ---- lifecycle ----------------------------------------------------------- */

jp_registry_server_t *jp_registry_server_new(struct event_base *base, jp_registry_store_t *store,
                                             const char *listen, char *errstr, size_t errstr_size)
{
    char host[256];
    int port;
    if (jp_listen_parse(listen, host, sizeof(host), &port, errstr, errstr_size))
        return NULL;
    jp_registry_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv || !(srv->http = evhttp_new(base))) {
        jp_err_set(errstr, errstr_size, "cannot create the HTTP server");
        free(srv);
        return NULL;
    }
    srv->store = store;
    evhttp_set_max_body_size(srv->http, JP_REGISTRY_MAX_BODY);
    evhttp_set_timeout(srv->http, IDLE_TIMEOUT);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_default_content_type(srv->http, JP_REGISTRY_CONTENT_TYPE);
    evhttp_set_gencb(srv->http, on_request, srv);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(srv->http, host, port);
    if (!bound) {
        jp_err_set(errstr, errstr_size, "cannot listen on %s: %s", listen, strerror(errno));
        jp_registry_server_free(srv);
        return NULL;
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
    return srv;
}

void jp_registry_server_free(jp_registry_server_t *srv)
{
    if (!srv)
        return;
    if (srv->http)
        evhttp_free(srv->http);
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
