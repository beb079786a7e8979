/*
 * jp_registry_client: blocking HTTP/1.1 calls to a schema registry over
 * libevent's evhttp client.
 *
 * Design. The client owns a private event_base and one evhttp_connection
 * that is kept alive between calls (a serde resolving ids pays the TCP
 * handshake once). A call runs the base until its request's callback fires;
 * the callback copies status and body out, because evhttp frees the request
 * when the callback returns. evhttp reports a connection failure or a
 * timeout by calling back with no response; the connection is then dropped
 * and rebuilt on the next attempt, so a registry restarting between calls
 * is picked up transparently.
 *
 * All typed calls (get_schema, register) go through request(), which owns
 * the retry policy: a missing reply or a 5xx is retried after
 * backoff << attempt milliseconds, up to the configured attempts; anything
 * else is final. Mapping the final status to a jp_registry_result_t is one
 * helper, so every call classifies NOT_FOUND / UNAVAILABLE the same way.
 */
#include "registry/jp_registry_client.h"
#include "model/base/jp_err.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPLY (64 * 1024 * 1024)

struct jp_registry_client_s {
    struct event_base *base;
    struct evhttp_connection *conn;
    char *host;
    int port;
    char *prefix;   /* URL path without trailing '/', may be "" */
    char *auth;     /* "Basic ..." or NULL */
    char *host_hdr; /* host[:port] */
    char url[512];  /* for messages */
    int attempts;
    int backoff_ms;
    int timeout_ms;
};

typedef struct {
    struct event_base *base;
    bool done;
    int status; /* 0: no reply */
    char *body;
    enum evhttp_request_error error;
    bool has_error;
} jp_reg_attempt_t;

const char *jp_registry_result_name(int result)
{
    switch (result) {
    case JP_REGISTRY_OK:
        return "OK";
    case JP_REGISTRY_ERROR:
        return "ERROR";
    case JP_REGISTRY_NOT_FOUND:
        return "NOT_FOUND";
    case JP_REGISTRY_UNAVAILABLE:
        return "UNAVAILABLE";
    case JP_REGISTRY_INCOMPATIBLE:
        return "INCOMPATIBLE";
    default:
        return "UNKNOWN";
    }
}

static char *base64(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    return out;
}

jp_registry_client_t *jp_registry_client_new(const char *url, char *errstr, size_t errstr_size)
{
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    if (!uri || !scheme || strcmp(scheme, "http") != 0 || !host || !*host) {
        jp_err_set(errstr, errstr_size, "invalid registry URL '%s' (expected http://host:port%s)",
                   url, scheme && strcmp(scheme, "https") == 0 ? "; https is not supported" : "");
        if (uri)
            evhttp_uri_free(uri);
        return NULL;
    }
    jp_registry_client_t *c = calloc(1, sizeof(*c));
    int port = evhttp_uri_get_port(uri);
    const char *path = evhttp_uri_get_path(uri);
    const char *userinfo = evhttp_uri_get_userinfo(uri);
    if (c) {
        c->port = port > 0 ? port : 80;
        /* evhttp keeps IPv6 literals bracketed; the socket layer wants them bare. */
        size_t hlen = strlen(host);
        c->host = host[0] == '[' && hlen > 2 ? strndup(host + 1, hlen - 2) : strdup(host);
        c->prefix = strdup(path ? path : "");
        size_t n = strlen(host) + 16;
        c->host_hdr = malloc(n);
        if (c->host_hdr)
            snprintf(c->host_hdr, n, port > 0 ? "%s:%d" : "%s", host, port);
        c->base = event_base_new();
        c->attempts = 3;
        c->backoff_ms = 100;
        c->timeout_ms = 5000;
        snprintf(c->url, sizeof(c->url), "http://%s%s", c->host_hdr ? c->host_hdr : host,
                 c->prefix ? c->prefix : "");
    }
    if (c && c->prefix) {
        size_t plen = strlen(c->prefix);
        while (plen && c->prefix[plen - 1] == '/')
            c->prefix[--plen] = '\0';
    }
    if (c && userinfo) {
        char *plain = evhttp_uridecode(userinfo, 0, NULL);
        char *enc = plain ? base64(plain) : NULL;
        size_t n = enc ? strlen(enc) + 8 : 0;
        c->auth = enc ? malloc(n) : NULL;
        if (c->auth)
            snprintf(c->auth, n, "Basic %s", enc);
        free(plain);
        free(enc);
    }
    evhttp_uri_free(uri);
    if (!c || !c->host || !c->prefix || !c->host_hdr || !c->base || (userinfo && !c->auth)) {
        jp_err_set(errstr, errstr_size, "out of memory creating the registry client");
        jp_registry_client_free(c);
        return NULL;
    }
    return c;
}

void jp_registry_client_free(jp_registry_client_t *c)
{
    if (!c)
        return;
    if (c->conn)
        evhttp_connection_free(c->conn);
    if (c->base)
        event_base_free(c->base);
    free(c->host);
    free(c->prefix);
    free(c->auth);
    free(c->host_hdr);
    free(c);
}

int jp_registry_client_set_bearer(jp_registry_client_t *c, const char *token)
{
    size_t n = strlen(token) + 8;
    char *auth = malloc(n);
    if (!auth)
        return -1;
    snprintf(auth, n, "Bearer %s", token);
    free(c->auth);
    c->auth = auth;
    return 0;
}

void jp_registry_client_set_retry(jp_registry_client_t *c, int attempts, int backoff_ms)
{
    c->attempts = attempts < 1 ? 1 : attempts;
    c->backoff_ms = backoff_ms < 0 ? 0 : backoff_ms;
}

void jp_registry_client_set_timeout(jp_registry_client_t *c, int timeout_ms)
{
    if (timeout_ms > 0)
        c->timeout_ms = timeout_ms;
}

char *jp_registry_client_escape(const char *s)
{
    return evhttp_uriencode(s, -1, 0);
}

/* ---- one attempt --------------------------------------------------------- */

static void on_done(struct evhttp_request *req, void *arg)
{
    jp_reg_attempt_t *a = arg;
    a->done = true;
    a->status = req ? evhttp_request_get_response_code(req) : 0;
    if (a->status) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        a->body = malloc(len + 1);
        if (a->body) {
            evbuffer_copyout(in, a->body, len);
            a->body[len] = '\0';
        }
    }
    event_base_loopbreak(a->base);
}

static void on_error(enum evhttp_request_error error, void *arg)
{
    jp_reg_attempt_t *a = arg;
    a->error = error;
    a->has_error = true;
}

static const char *attempt_error(const jp_reg_attempt_t *a)
{
    if (!a->has_error)
        return "connection failed";
    switch (a->error) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection closed by the registry";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid reply header";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection refused or reset";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "reply too large";
    default:
        return "request cancelled";
    }
}

static int method_type(const char *method, enum evhttp_cmd_type *out)
{
    static const struct {
        const char *name;
        enum evhttp_cmd_type type;
    } map[] = {{"GET", EVHTTP_REQ_GET},
               {"POST", EVHTTP_REQ_POST},
               {"PUT", EVHTTP_REQ_PUT},
               {"DELETE", EVHTTP_REQ_DELETE}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].name, method) == 0) {
            *out = map[i].type;
            return 0;
        }
    return -1;
}

/* Sends one request; a->status is 0 when no reply arrived. */
static void attempt(jp_registry_client_t *c, enum evhttp_cmd_type type, const char *target,
                    const char *body, jp_reg_attempt_t *a)
{
    memset(a, 0, sizeof(*a));
    a->base = c->base;
    if (!c->conn) {
        c->conn = evhttp_connection_base_new(c->base, NULL, c->host, (unsigned short)c->port);
        if (!c->conn)
            return;
        struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
        evhttp_connection_set_timeout_tv(c->conn, &tv);
        evhttp_connection_set_retries(c->conn, 0);
        evhttp_connection_set_max_body_size(c->conn, MAX_REPLY);
    }
    struct evhttp_request *req = evhttp_request_new(on_done, a);
    if (!req)
        return;
    evhttp_request_set_error_cb(req, on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", c->host_hdr);
    evhttp_add_header(h, "Accept", "application/vnd.schemaregistry.v1+json, application/json");
    if (c->auth)
        evhttp_add_header(h, "Authorization", c->auth);
    if (body) {
        char len[32];
        snprintf(len, sizeof(len), "%zu", strlen(body));
        evhttp_add_header(h, "Content-Type", "application/vnd.schemaregistry.v1+json");
        evhttp_add_header(h, "Content-Length", len);
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    /* On failure evhttp has already failed (and freed) the request. */
    if (evhttp_make_request(c->conn, req, type, target) == 0)
        while (!a->done && event_base_dispatch(c->base) == 0)
            ;
    if (!a->status) {
        /* Start the next attempt on a fresh connection. */
        evhttp_connection_free(c->conn);
        c->conn = NULL;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

int jp_registry_client_request(jp_registry_client_t *c, const char *method,
                               const char *path_and_query, const char *body, int *status,
                               char **body_out, char *errstr, size_t errstr_size)
{
    enum evhttp_cmd_type type;
    if (body_out)
        *body_out = NULL;
    *status = 0;
    if (method_type(method, &type)) {
        jp_err_set(errstr, errstr_size, "unsupported HTTP method '%s'", method);
        return JP_REGISTRY_ERROR;
    }
    size_t n = strlen(c->prefix) + strlen(path_and_query) + 2;
    char *target = malloc(n);
    if (!target) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_REGISTRY_ERROR;
    }
    snprintf(target, n, "%s%s%s", c->prefix, path_and_query[0] == '/' ? "" : "/", path_and_query);
    jp_reg_attempt_t a = {0};
    for (int i = 0; i < c->attempts; i++) {
        if (i > 0)
            sleep_ms((long)c->backoff_ms << (i - 1));
        free(a.body);
        attempt(c, type, target, body, &a);
        if (a.status && a.status < 500)
            break;
    }
    free(target);
    if (!a.status) {
        jp_err_set(errstr, errstr_size, "registry %s unreachable after %d attempt%s: %s", c->url,
                   c->attempts, c->attempts == 1 ? "" : "s", attempt_error(&a));
        return JP_REGISTRY_UNAVAILABLE;
    }
    *status = a.status;
    if (body_out)
        *body_out = a.body;
    else
        free(a.body);
    return JP_REGISTRY_OK;
}

/* ---- typed calls --------------------------------------------------------- */

/* Classifies a final non-200 reply and describes it in errstr. */
static int reply_result(const jp_registry_client_t *c, const char *what, int status,
                        const char *body, char *errstr, size_t errstr_size)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    json_int_t code = json_integer_value(json_object_get(j, "error_code"));
    jp_err_set(errstr, errstr_size, "%s: registry %s replied HTTP %d (error %lld): %s", what,
               c->url, status, (long long)code, msg ? msg : "no message");
    json_decref(j);
    if (status == 404)
        return JP_REGISTRY_NOT_FOUND;
    if (status == 409)
        return JP_REGISTRY_INCOMPATIBLE;
    if (status >= 500)
        return JP_REGISTRY_UNAVAILABLE;
    return JP_REGISTRY_ERROR;
}

/* Runs a request expecting 200 and a JSON object; *out owns it. */
static int call_json(jp_registry_client_t *c, const char *what, const char *method,
                     const char *target, const char *body, json_t **out, char *errstr,
                     size_t errstr_size)
{
    int status;
    char *reply;
    *out = NULL;
    int rc =
        jp_registry_client_request(c, method, target, body, &status, &reply, errstr, errstr_size);
    if (rc)
        return rc;
    if (status != 200) {
        rc = reply_result(c, what, status, reply, errstr, errstr_size);
        free(reply);
        return rc;
    }
    json_error_t err;
    *out = reply ? json_loads(reply, 0, &err) : NULL;
    free(reply);
    if (!json_is_object(*out)) {
        jp_err_set(errstr, errstr_size, "%s: registry %s sent an invalid reply", what, c->url);
        json_decref(*out);
        *out = NULL;
        return JP_REGISTRY_ERROR;
    }
    return JP_REGISTRY_OK;
}

int jp_registry_client_get_schema(jp_registry_client_t *c, int32_t id, char **json_out,
                                  char *errstr, size_t errstr_size)
{
    char target[64], what[64];
    snprintf(target, sizeof(target), "/schemas/ids/%d", (int)id);
    snprintf(what, sizeof(what), "schema id %d", (int)id);
    *json_out = NULL;
    json_t *reply;
    int rc = call_json(c, what, "GET", target, NULL, &reply, errstr, errstr_size);
    if (rc)
        return rc;
    const char *schema = json_string_value(json_object_get(reply, "schema"));
    *json_out = schema ? strdup(schema) : NULL;
    json_decref(reply);
    if (!*json_out) {
        jp_err_set(errstr, errstr_size, "%s: reply without a schema", what);
        return JP_REGISTRY_ERROR;
    }
    return JP_REGISTRY_OK;
}

int jp_registry_client_register(jp_registry_client_t *c, const char *subject,
                                const char *schema_json, int32_t *id_out, char *errstr,
                                size_t errstr_size)
{
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    char *esc = jp_registry_client_escape(subject);
    json_decref(req);
    size_t n = esc ? strlen(esc) + 32 : 0;
    char *target = esc ? malloc(n) : NULL;
    if (!body || !target) {
        free(body);
        free(esc);
        free(target);
        jp_err_set(errstr, errstr_size, "cannot encode the registration (invalid UTF-8?)");
        return JP_REGISTRY_ERROR;
    }
    snprintf(target, n, "/subjects/%s/versions", esc);
    char what[256];
    snprintf(what, sizeof(what), "register under '%.200s'", subject);
    json_t *reply;
    int rc = call_json(c, what, "POST", target, body, &reply, errstr, errstr_size);
    free(body);
    free(esc);
    free(target);
    if (rc)
        return rc;
    json_t *id = json_object_get(reply, "id");
    bool valid = json_is_integer(id);
    json_int_t v = json_integer_value(id);
    json_decref(reply);
    if (!valid || v < 0 || v > INT32_MAX) {
        jp_err_set(errstr, errstr_size, "%s: reply without a valid id", what);
        return JP_REGISTRY_ERROR;
    }
    *id_out = (int32_t)v;
    return JP_REGISTRY_OK;
}
