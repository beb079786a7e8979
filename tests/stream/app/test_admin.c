/*
 * jp_admin over real HTTP: the server runs in-process on 127.0.0.1:0 and
 * requests go through a raw socket client (so malformed requests, exact
 * headers and HEAD can be sent). Covers start/stop/restart, start errors,
 * /healthz, /metrics (content type, body equal to a render, HEAD, 405,
 * scrapes while another thread updates), exact and prefix routes with
 * query strings and bodies, 404, handler status checks, JWT auth through
 * jp_auth (401/403/200 per route access and role, fail-closed without a
 * key, protected reads) and its rate limit (429 + Retry-After), oversized
 * and malformed requests,
 * and jp_admin_query_param.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "app/jp_admin.h"
#include "app/jp_auth.h"
#include "base/jp_metrics.h"
#include "jp_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jwt.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- raw HTTP client ----------------------------------------------------- */

typedef struct {
    int status;    /* 0: the connection closed without a status line */
    char *headers; /* the header block, "\r\n"-separated */
    char *body;
    size_t body_len;
} http_resp_t;

static void resp_free(http_resp_t *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Sends raw bytes, reads until the server closes; -1 if it cannot connect. */
static int http_raw(int port, const char *raw, size_t raw_len, http_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    int fd = connect_port(port);
    if (fd < 0)
        return -1;
    for (size_t off = 0; off < raw_len;) {
        ssize_t n = send(fd, raw + off, raw_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may refuse early (413); read its answer */
        off += (size_t)n;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 20000) == 1) {
        if (len + 1024 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) == 0 && end) {
        r->status = atoi(buf + 9);
        r->headers = strndup(buf, (size_t)(end - buf) + 2);
        r->body_len = len - (size_t)(end + 4 - buf);
        r->body = malloc(r->body_len + 1);
        memcpy(r->body, end + 4, r->body_len + 1);
    }
    free(buf);
    return 0;
}

#define REQ_FMT                                                                                    \
    "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n"

/* One request with Connection: close; extra is "" or "Name: v\r\n..." */
static void http_req(int port, const char *method, const char *target, const char *extra,
                     const char *body, http_resp_t *r)
{
    size_t blen = body ? strlen(body) : 0;
    extra = extra ? extra : "";
    int n = snprintf(NULL, 0, REQ_FMT, method, target, extra, blen);
    char *raw = malloc((size_t)n + blen + 1);
    snprintf(raw, (size_t)n + 1, REQ_FMT, method, target, extra, blen);
    if (blen)
        memcpy(raw + n, body, blen);
    assert_int_equal(http_raw(port, raw, (size_t)n + blen, r), 0);
    free(raw);
}

/* Value of header name (case-insensitive) as a static copy, or NULL. */
static const char *header(const http_resp_t *r, const char *name)
{
    static char val[512];
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL) {
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
            return val;
        }
    }
    return NULL;
}

static jp_admin_t *start(jp_metrics_t *m)
{
    jp_admin_t *a = jp_admin_new(m);
    char err[256] = "";
    assert_non_null(a);
    int rc = jp_admin_start(a, "127.0.0.1:0", err, sizeof(err));
    if (rc)
        print_message("start: %s\n", err);
    assert_int_equal(rc, 0);
    assert_true(jp_admin_port(a) > 0);
    return a;
}

static void expect_json_error(int port, const char *method, const char *target, int status,
                              const char *body)
{
    http_resp_t r;
    http_req(port, method, target, "", NULL, &r);
    assert_int_equal(r.status, status);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    assert_string_equal(r.body, body);
    resp_free(&r);
}

/* ---- handlers ------------------------------------------------------------ */

typedef struct {
    const char *tag;
    atomic_int calls;
    int status;          /* returned */
    const char *ctype;   /* returned */
    char last_body[128]; /* request body seen */
    size_t last_body_len;
} echo_ctx_t;

/* Answers "<tag> <method> <path> ?<query> b=<decoded b> [<body>]". */
static int echo(void *ctx, const char *method, const char *path, const char *query,
                const char *body, size_t body_len, char **body_out, const char **content_type_out)
{
    echo_ctx_t *e = ctx;
    atomic_fetch_add(&e->calls, 1);
    snprintf(e->last_body, sizeof(e->last_body), "%s", body);
    e->last_body_len = body_len;
    char *b = jp_admin_query_param(query, "b");
    size_t n = strlen(e->tag) + strlen(method) + strlen(path) + strlen(query) + body_len +
               (b ? strlen(b) : 4) + 32;
    *body_out = malloc(n);
    snprintf(*body_out, n, "%s %s %s ?%s b=%s [%s]", e->tag, method, path, query, b ? b : "NULL",
             body);
    free(b);
    if (e->ctype)
        *content_type_out = e->ctype;
    return e->status ? e->status : 200;
}

/* ---- tests --------------------------------------------------------------- */

static void test_start_stop_restart(void **state)
{
    (void)state;
    jp_admin_t *a = jp_admin_new(NULL);
    char err[256];
    assert_int_equal(jp_admin_port(a), 0);
    jp_admin_stop(a); /* not running: no-op */
    for (int round = 0; round < 3; round++) {
        assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), 0);
        int port = jp_admin_port(a);
        assert_true(port > 0);
        http_resp_t r;
        http_req(port, "GET", "/healthz", "", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "ok\n");
        assert_string_equal(header(&r, "Content-Type"), "text/plain; charset=utf-8");
        resp_free(&r);
        jp_admin_stop(a);
        assert_int_equal(jp_admin_port(a), 0);
        assert_int_equal(http_raw(port, "", 0, &r), -1); /* listener closed */
        jp_admin_stop(a);
    }
    jp_admin_free(a);

    /* freeing a running server stops it */
    a = start(NULL);
    int port = jp_admin_port(a);
    jp_admin_free(a);
    http_resp_t r;
    assert_int_equal(http_raw(port, "", 0, &r), -1);
}

static void test_start_errors(void **state)
{
    (void)state;
    jp_admin_t *a = start(NULL), *b = jp_admin_new(NULL);
    char err[256], listen[64];
    const char *bad[] = {"nonsense", "127.0.0.1:99999", "127.0.0.1:", ":8080", "127.0.0.1:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(jp_admin_start(b, bad[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "invalid listen address"));
        assert_int_equal(jp_admin_port(b), 0);
    }
    assert_int_equal(jp_admin_start(b, NULL, err, sizeof(err)), -1);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", jp_admin_port(a));
    assert_int_equal(jp_admin_start(b, listen, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot listen on"));
    assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), -1);
    assert_string_equal(err, "admin server already running");
    /* the failed attempts left the running one alone */
    http_resp_t r;
    http_req(jp_admin_port(a), "GET", "/healthz", "", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    jp_admin_free(b);
    jp_admin_free(a);
}

static void test_metrics_endpoint(void **state)
{
    (void)state;
    jp_metrics_t *m = jp_metrics_new();
    jp_counter_add(jp_metrics_counter(m, "jp_records_total", "Records.", "topic=\"t\""), 42);
    jp_admin_t *a = start(m);
    int port = jp_admin_port(a);
    char *want = jp_metrics_render(m);
    http_resp_t r;
    http_req(port, "GET", "/metrics", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(r.body, want);
    assert_non_null(strstr(r.body, "jp_records_total{topic=\"t\"} 42\n"));
    resp_free(&r);

    http_req(port, "HEAD", "/metrics", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(atoi(header(&r, "Content-Length")), strlen(want));
    resp_free(&r);

    const char *wrong[] = {"POST", "PUT", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        http_req(port, wrong[i], "/metrics", "", "x", &r);
        assert_int_equal(r.status, 405);
        assert_string_equal(header(&r, "Allow"), "GET, HEAD");
        assert_string_equal(r.body, "{\"error\":\"method not allowed\"}");
        resp_free(&r);
    }
    expect_json_error(port, "POST", "/healthz", 405, "{\"error\":\"method not allowed\"}");
    /* the query string does not change the route */
    http_req(port, "GET", "/metrics?name[]=x", "", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(want);
    jp_admin_free(a);
    jp_metrics_free(m);

    /* without a registry: 503, not a crash */
    a = start(NULL);
    http_req(jp_admin_port(a), "GET", "/metrics", "", NULL, &r);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    jp_admin_free(a);
}

static void test_routes(void **state)
{
    (void)state;
    echo_ctx_t exact = {.tag = "exact"}, pre = {.tag = "prefix"}, deep = {.tag = "deep"},
               odd = {.tag = "odd", .status = 999}, csv = {.tag = "csv", .ctype = "text/csv"},
               late = {.tag = "late", .status = 201};
    jp_admin_t *a = jp_admin_new(NULL);
    /* routing only: declared read-only so that every method reaches them */
    assert_int_equal(jp_admin_route_access(a, "/models", JP_ADMIN_READS, echo, &exact), 0);
    assert_int_equal(jp_admin_route_access(a, "/models/", JP_ADMIN_READS, echo, &pre), 0);
    assert_int_equal(jp_admin_route_access(a, "/models/v/", JP_ADMIN_READS, echo, &deep), 0);
    assert_int_equal(jp_admin_route(a, "/odd", echo, &odd), 0);
    assert_int_equal(jp_admin_route(a, "/csv", echo, &csv), 0);
    assert_int_equal(jp_admin_route(a, "/models", echo, &exact), -1);
    assert_int_equal(jp_admin_route(a, "/metrics", echo, &exact), -1);
    assert_int_equal(jp_admin_route(a, "/healthz", echo, &exact), -1);
    assert_int_equal(jp_admin_route(a, "nope", echo, &exact), -1);
    assert_int_equal(jp_admin_route(a, "", echo, &exact), -1);
    assert_int_equal(jp_admin_route(a, NULL, echo, &exact), -1);
    assert_int_equal(jp_admin_route(a, "/x", NULL, &exact), -1);
    char err[128];
    assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), 0);
    int port = jp_admin_port(a);
    http_resp_t r;

    const struct {
        const char *method, *target, *body, *want;
    } cases[] = {
        {"GET", "/models", NULL, "exact GET /models ? b=NULL []"},
        {"GET", "/models?a=1&b=x%20y+z", NULL, "exact GET /models ?a=1&b=x%20y+z b=x y z []"},
        {"POST", "/models", "{\"k\":1}", "exact POST /models ? b=NULL [{\"k\":1}]"},
        {"GET", "/models/", NULL, "prefix GET /models/ ? b=NULL []"},
        {"DELETE", "/models/champion?b=2", NULL, "prefix DELETE /models/champion ?b=2 b=2 []"},
        {"GET", "/models/v", NULL, "prefix GET /models/v ? b=NULL []"},
        {"PUT", "/models/v/7", "new", "deep PUT /models/v/7 ? b=NULL [new]"},
        {"GET", "/models/a%2Fb", NULL, "prefix GET /models/a%2Fb ? b=NULL []"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_req(port, cases[i].method, cases[i].target, "", cases[i].body, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(header(&r, "Content-Type"), "application/json");
        assert_string_equal(r.body, cases[i].want);
        resp_free(&r);
    }
    http_req(port, "POST", "/models", "", "a\nb", &r);
    assert_int_equal(exact.last_body_len, 3);
    assert_string_equal(exact.last_body, "a\nb");
    resp_free(&r);

    expect_json_error(port, "GET", "/modelsX", 404, "{\"error\":\"not found\"}");
    expect_json_error(port, "GET", "/", 404, "{\"error\":\"not found\"}");
    expect_json_error(port, "GET", "/model", 404, "{\"error\":\"not found\"}");
    expect_json_error(port, "POST", "/nothing/here?x=1", 404, "{\"error\":\"not found\"}");
    expect_json_error(port, "GET", "/odd", 500, "{\"error\":\"internal error\"}");
    assert_int_equal(atomic_load(&odd.calls), 1);

    http_req(port, "GET", "/csv", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type"), "text/csv");
    resp_free(&r);

    /* routes can be added while serving */
    expect_json_error(port, "GET", "/late", 404, "{\"error\":\"not found\"}");
    assert_int_equal(jp_admin_route(a, "/late", echo, &late), 0);
    http_req(port, "GET", "/late", "", NULL, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "late GET /late ? b=NULL []");
    resp_free(&r);
    jp_admin_free(a);
}

/* ---- JWTs ------------------------------------------------------------------ */

static const char test_key[] = "0123456789abcdef0123456789abcdef";

/* A JWT signed with key by alg (JWT_ALG_NONE: unsigned) carrying role (NULL:
 * none) and exp = now + exp_in (exp_in == 0: no exp); extra: more claims
 * as JSON. Static buffer. */
static const char *mint(jwt_alg_t alg, const char *key, const char *role, long exp_in,
                        const char *extra)
{
    static char tok[1024];
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    if (role)
        assert_int_equal(jwt_add_grant(j, "role", role), 0);
    if (exp_in)
        assert_int_equal(jwt_add_grant_int(j, "exp", (long)time(NULL) + exp_in), 0);
    if (extra)
        assert_int_equal(jwt_add_grants_json(j, extra), 0);
    size_t klen = key ? strlen(key) : 0;
    assert_int_equal(jwt_set_alg(j, alg, (const unsigned char *)key, (int)klen), 0);
    char *t = jwt_encode_str(j);
    assert_non_null(t);
    snprintf(tok, sizeof(tok), "%s", t);
    free(t);
    jwt_free(j);
    return tok;
}

static const char *bearer(const char *token)
{
    static char h[1200];
    snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n", token);
    return h;
}

static jp_auth_t *auth_new(int protect_reads, double rate, int64_t burst)
{
    char err[128] = "";
    jp_auth_opts_t o = {test_key, protect_reads, rate, burst};
    jp_auth_t *au = jp_auth_new(&o, err, sizeof(err));
    if (!au)
        print_message("jp_auth_new: %s\n", err);
    assert_non_null(au);
    return au;
}

/* One request; asserts the status and, for refusals, the JSON error shape
 * and the challenge on 401. */
static void expect_status(int port, const char *method, const char *target, const char *hdr,
                          int status)
{
    http_resp_t r;
    http_req(port, method, target, hdr, NULL, &r);
    if (r.status != status)
        print_message("%s %s: %d %s\n", method, target, r.status, r.body ? r.body : "");
    assert_int_equal(r.status, status);
    if (status == 401 || status == 403 || status == 429)
        assert_int_equal(strncmp(r.body, "{\"error\":\"", 10), 0);
    if (status == 401)
        assert_int_equal(strncmp(header(&r, "WWW-Authenticate"), "Bearer", 6), 0);
    resp_free(&r);
}

/* A read-only route: GET and HEAD reach the handler, anything else is 405
 * with the Allow header, and the handler never sees it. */
static void test_read_only_routes(void **state)
{
    (void)state;
    echo_ctx_t ro = {.tag = "ro"};
    jp_admin_t *a = jp_admin_new(NULL);
    assert_int_equal(jp_admin_route_get(a, "/v1/tasks", echo, &ro), 0);
    assert_int_equal(jp_admin_route_get(a, "/v1/tasks", echo, &ro), -1);
    char err[128];
    assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), 0);
    int port = jp_admin_port(a);
    http_resp_t r;
    http_req(port, "GET", "/v1/tasks", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ro GET /v1/tasks ? b=NULL []");
    resp_free(&r);
    http_req(port, "HEAD", "/v1/tasks", "", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        http_req(port, methods[i], "/v1/tasks", "", "x", &r);
        assert_int_equal(r.status, 405);
        assert_string_equal(header(&r, "Allow"), "GET, HEAD");
        resp_free(&r);
    }
    assert_int_equal(atomic_load(&ro.calls), 2);
    jp_admin_free(a);
}

/* A route with its access and its methods: a READS route that answers GET
 * and POST (a POSTed what-if) - POST reaches the handler without a token
 * (reads are open without an authorizer; a BY_METHOD POST would be 401),
 * other methods are 405 with the route's Allow list. */
static void test_route_methods(void **state)
{
    (void)state;
    echo_ctx_t what = {.tag = "whatif"};
    jp_admin_t *a = jp_admin_new(NULL);
    assert_int_equal(
        jp_admin_route_methods(a, "/v1/countries/", JP_ADMIN_READS, "GET, POST", echo, &what), 0);
    assert_int_equal(jp_admin_route_methods(a, "/other", JP_ADMIN_READS, NULL, echo, &what), -1);
    char err[128];
    assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), 0);
    int port = jp_admin_port(a);
    http_resp_t r;
    http_req(port, "GET", "/v1/countries/GB/whatif?prize=5", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "whatif GET /v1/countries/GB/whatif ?prize=5 b=NULL []");
    resp_free(&r);
    http_req(port, "POST", "/v1/countries/GB/whatif", "", "{}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    const char *methods[] = {"HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        http_req(port, methods[i], "/v1/countries/GB/whatif", "", NULL, &r);
        assert_int_equal(r.status, 405);
        assert_string_equal(header(&r, "Allow"), "GET, POST");
        resp_free(&r);
    }
    assert_int_equal(atomic_load(&what.calls), 2);
    jp_admin_free(a);
}

static void test_auth(void **state)
{
    (void)state;
    echo_ctx_t op = {.tag = "op"}, open = {.tag = "open"}, what = {.tag = "whatif"};
    jp_admin_t *a = jp_admin_new(NULL);
    assert_int_equal(jp_admin_route_auth(a, "/admin/", echo, &op), 0);
    assert_int_equal(jp_admin_route(a, "/open", echo, &open), 0);
    assert_int_equal(jp_admin_route_access(a, "/whatif", JP_ADMIN_READS, echo, &what), 0);
    char err[128];
    assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), 0);
    int port = jp_admin_port(a);
    char operator_tok[1024], op_hdr[1200];
    snprintf(operator_tok, sizeof(operator_tok), "%s",
             mint(JWT_ALG_HS256, test_key, "operator", 300, NULL));
    snprintf(op_hdr, sizeof(op_hdr), "%s", bearer(operator_tok));

    /* no authorizer: reads open, anything mutating refused (fail closed) */
    expect_status(port, "POST", "/admin/promote", op_hdr, 401);
    expect_status(port, "GET", "/admin/x", op_hdr, 401);
    expect_status(port, "POST", "/open", op_hdr, 401);
    expect_status(port, "GET", "/open", "", 200);
    expect_status(port, "POST", "/whatif", "", 200);

    jp_auth_t *au = auth_new(0, 0, 0);
    jp_admin_set_auth(a, au);
    const char *refused[] = {
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: Bearer a.b.c\r\n",
        "Authorization: Basic czNjcmV0LVQwa2Vu\r\n",
        "Authorization: Bearer\r\n",
        "Authorization: Bearer \r\n",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        expect_status(port, "POST", "/admin/promote", refused[i], 401);
    const char *bad_tokens[] = {
        mint(JWT_ALG_HS256, "another key, also 32 bytes long!", "operator", 300, NULL),
        mint(JWT_ALG_NONE, NULL, "operator", 300, NULL),
        mint(JWT_ALG_HS512, test_key, "operator", 300, NULL),
        mint(JWT_ALG_HS256, test_key, "operator", -3600, NULL),                 /* expired */
        mint(JWT_ALG_HS256, test_key, "operator", 0, NULL),                     /* no exp */
        mint(JWT_ALG_HS256, test_key, "operator", 0, "{\"exp\":\"later\"}"),    /* exp text */
        mint(JWT_ALG_HS256, test_key, "operator", 300, "{\"nbf\":4102444800}"), /* 2100 */
    };
    for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
        char tok[1024];
        snprintf(tok, sizeof(tok), "%s", bad_tokens[i]);
        expect_status(port, "POST", "/admin/promote", bearer(tok), 401);
    }
    /* a valid token with its signature's last character changed */
    char tampered[1024];
    snprintf(tampered, sizeof(tampered), "%s", operator_tok);
    tampered[strlen(tampered) - 1] ^= 1;
    expect_status(port, "POST", "/admin/promote", bearer(tampered), 401);
    assert_int_equal(atomic_load(&op.calls), 0);

    /* authenticated, but not allowed */
    expect_status(port, "POST", "/admin/promote",
                  bearer(mint(JWT_ALG_HS256, test_key, "viewer", 300, NULL)), 403);
    expect_status(port, "GET", "/admin/x",
                  bearer(mint(JWT_ALG_HS256, test_key, "viewer", 300, NULL)), 403);
    expect_status(port, "POST", "/open", bearer(mint(JWT_ALG_HS256, test_key, "viewer", 300, NULL)),
                  403);
    expect_status(port, "POST", "/admin/promote",
                  bearer(mint(JWT_ALG_HS256, test_key, "root", 300, NULL)), 403);
    expect_status(port, "POST", "/admin/promote",
                  bearer(mint(JWT_ALG_HS256, test_key, NULL, 300, NULL)), 403);
    assert_int_equal(atomic_load(&op.calls), 0);

    /* the operator may; scheme case and blanks do not matter */
    char lower[1200];
    snprintf(lower, sizeof(lower), "Authorization: bearer   %s  \r\n", operator_tok);
    const char *accepted[] = {op_hdr, lower};
    for (size_t i = 0; i < 2; i++) {
        http_resp_t r;
        http_req(port, "POST", "/admin/promote?b=v2", accepted[i], "go", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "op POST /admin/promote ?b=v2 b=v2 [go]");
        resp_free(&r);
    }
    assert_int_equal(atomic_load(&op.calls), 2);
    expect_status(port, "POST", "/open", op_hdr, 200);
    /* reads stay open, probes and scrapes too */
    expect_status(port, "GET", "/open", "", 200);
    expect_status(port, "POST", "/whatif", "", 200);
    expect_status(port, "GET", "/healthz", "", 200);
    expect_status(port, "GET", "/metrics", "", 503); /* no registry given: reached the handler */

    /* protected reads: a viewer (or operator) token is needed, probes stay open */
    jp_auth_t *ro = auth_new(1, 0, 0);
    jp_admin_set_auth(a, ro);
    expect_status(port, "GET", "/open", "", 401);
    expect_status(port, "POST", "/whatif", "", 401);
    expect_status(port, "GET", "/open", bearer(mint(JWT_ALG_HS256, test_key, "viewer", 300, NULL)),
                  200);
    expect_status(port, "GET", "/open", op_hdr, 200);
    expect_status(port, "GET", "/open", bearer(mint(JWT_ALG_HS256, test_key, "guest", 300, NULL)),
                  403);
    expect_status(port, "GET", "/healthz", "", 200);

    /* rate limit: a bucket of 3 refilled once in 1000 s; 429 with Retry-After,
     * for reads and refused requests alike; public routes are not limited */
    jp_auth_t *rl = auth_new(0, 0.001, 3);
    jp_admin_set_auth(a, rl);
    for (int i = 0; i < 2; i++)
        expect_status(port, "GET", "/open", "", 200);
    expect_status(port, "POST", "/admin/promote", "", 401);
    http_resp_t r;
    http_req(port, "GET", "/open", "", NULL, &r);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.body, "{\"error\":\"too many requests\"}");
    const char *ra = header(&r, "Retry-After");
    assert_non_null(ra);
    long retry = strtol(ra, NULL, 10);
    assert_true(retry >= 1 && retry <= 1000);
    resp_free(&r);
    expect_status(port, "POST", "/admin/promote", op_hdr, 429);
    expect_status(port, "GET", "/healthz", "", 200);
    assert_int_equal(atomic_load(&op.calls), 2);

    jp_admin_free(a);
    jp_auth_free(au);
    jp_auth_free(ro);
    jp_auth_free(rl);
}

static void test_hostile_requests(void **state)
{
    (void)state;
    echo_ctx_t e = {.tag = "e"};
    jp_admin_t *a = jp_admin_new(NULL);
    assert_int_equal(jp_admin_route_access(a, "/in", JP_ADMIN_READS, echo, &e), 0);
    char err[128];
    assert_int_equal(jp_admin_start(a, "127.0.0.1:0", err, sizeof(err)), 0);
    int port = jp_admin_port(a);
    http_resp_t r;

    /* body over the limit: 413 before the handler runs */
    char *big = malloc(JP_ADMIN_MAX_BODY + 2);
    memset(big, 'x', JP_ADMIN_MAX_BODY + 1);
    big[JP_ADMIN_MAX_BODY + 1] = '\0';
    http_req(port, "POST", "/in", "", big, &r);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    big[JP_ADMIN_MAX_BODY] = '\0'; /* exactly the limit is fine */
    http_req(port, "POST", "/in", "", big, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(e.last_body_len, JP_ADMIN_MAX_BODY);
    resp_free(&r);
    assert_int_equal(atomic_load(&e.calls), 1);

    /* headers over the limit */
    char *hdr = malloc(JP_ADMIN_MAX_HEADERS + 64);
    snprintf(hdr, JP_ADMIN_MAX_HEADERS + 64, "X-Big: %0*d\r\n", JP_ADMIN_MAX_HEADERS, 0);
    http_req(port, "GET", "/in", hdr, NULL, &r);
    assert_true(r.status == 0 || (r.status >= 400 && r.status < 500));
    resp_free(&r);
    free(hdr);
    free(big);

    const char *garbage[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /in HTTP/9.9\r\n\r\n",
        "BREW /in HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /in HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST /in HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "GET /in HTTP/1.1\r\nbroken header line\r\n\r\n",
        "\x01\x02\x03\xff\r\n\r\n",
        "POST /in HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET /in HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", /* short body, then close */
        "GET /%zz%00?\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        int fd = connect_port(port);
        assert_true(fd >= 0);
        assert_true(send(fd, garbage[i], strlen(garbage[i]), MSG_NOSIGNAL) > 0);
        shutdown(fd, SHUT_WR);
        char buf[512];
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20000) == 1) {
            ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
            if (n > 12) {
                buf[n] = '\0';
                int status = atoi(buf + 9);
                /* refused, or (for the odd but parsable last one) routed */
                assert_true((status >= 400 && status < 600) || status == 200);
            }
        }
        close(fd);
    }
    /* a client that connects and vanishes, and one that stops mid-headers */
    close(connect_port(port));
    int fd = connect_port(port);
    assert_true(send(fd, "GET /healthz HT", 15, MSG_NOSIGNAL) == 15);
    close(fd);

    http_req(port, "GET", "/healthz", "", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    jp_admin_free(a);
}

/* Scrapes while a writer thread updates: every response is a consistent
 * exposition and the last one after the writer stops is exact. */
typedef struct {
    jp_histogram_t *h;
    jp_counter_t *c;
    atomic_bool stop;
} writer_t;

#define WRITES 20000

static void *writer_main(void *p)
{
    writer_t *w = p;
    for (int i = 0; i < WRITES; i++) {
        jp_counter_add(w->c, 1);
        jp_histogram_observe(w->h, i % 2 ? 0.05 : 5);
    }
    return NULL;
}

static void test_scrape_while_updating(void **state)
{
    (void)state;
    const double b[] = {0.1, 1};
    jp_metrics_t *m = jp_metrics_new();
    writer_t w = {
        .h = jp_metrics_histogram(m, "jp_step_seconds", "Step.", NULL, b, 2),
        .c = jp_metrics_counter(m, "jp_steps_total", "Steps.", NULL),
    };
    jp_admin_t *a = start(m);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    for (int i = 0; i < 20; i++) {
        http_resp_t r;
        http_req(jp_admin_port(a), "GET", "/metrics", "", NULL, &r);
        assert_int_equal(r.status, 200);
        const char *inf = strstr(r.body, "jp_step_seconds_bucket{le=\"+Inf\"} ");
        const char *cnt = strstr(r.body, "jp_step_seconds_count ");
        assert_non_null(inf);
        assert_non_null(cnt);
        assert_int_equal(strtoull(inf + 34, NULL, 10), strtoull(cnt + 22, NULL, 10));
        resp_free(&r);
    }
    pthread_join(t, NULL);
    http_resp_t r;
    http_req(jp_admin_port(a), "GET", "/metrics", "", NULL, &r);
    char want[512];
    snprintf(want, sizeof(want),
             "# HELP jp_step_seconds Step.\n# TYPE jp_step_seconds histogram\n"
             "jp_step_seconds_bucket{le=\"0.1\"} %d\n"
             "jp_step_seconds_bucket{le=\"1\"} %d\n"
             "jp_step_seconds_bucket{le=\"+Inf\"} %d\n",
             WRITES / 2, WRITES / 2, WRITES);
    assert_non_null(strstr(r.body, want));
    snprintf(want, sizeof(want), "jp_step_seconds_count %d\n# HELP jp_steps_total", WRITES);
    assert_non_null(strstr(r.body, want));
    snprintf(want, sizeof(want), "jp_steps_total %d\n", WRITES);
    assert_non_null(strstr(r.body, want));
    resp_free(&r);
    jp_admin_free(a);
    jp_metrics_free(m);
}

static void test_query_param(void **state)
{
    (void)state;
    const char *q = "a=1&b=x%20y&c=&d&e=a+b&a=2&%6B=k&utf=K%C3%B8";
    const struct {
        const char *key, *want;
    } cases[] = {{"a", "1"},   {"b", "x y"}, {"c", ""},           {"d", ""},
                 {"e", "a b"}, {"k", "k"},   {"utf", "K\xc3\xb8"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *v = jp_admin_query_param(q, cases[i].key);
        assert_non_null(v);
        assert_string_equal(v, cases[i].want);
        free(v);
    }
    assert_null(jp_admin_query_param(q, "missing"));
    assert_null(jp_admin_query_param(q, "x%20y"));
    assert_null(jp_admin_query_param("", "a"));
    assert_null(jp_admin_query_param(NULL, "a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_stop_restart),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_metrics_endpoint),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_read_only_routes),
        cmocka_unit_test(test_route_methods),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_hostile_requests),
        cmocka_unit_test(test_scrape_while_updating),
        cmocka_unit_test(test_query_param),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
