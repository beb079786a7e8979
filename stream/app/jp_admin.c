/*
 * jp_admin: admin HTTP server.
 *
 * Design. The server owns a private event_base driven by one thread, so the
 * engine's own loop (Kafka polling, commits) is never blocked by a slow
 * scrape and vice versa. jp_admin_start binds on the caller's thread - so a
 * bad address or a busy port is an error returned to the caller, and the
 * bound port is known before it returns - and only then hands the base to
 * the server thread. Stopping needs no libevent thread support: the base
 * watches the read end of a pipe, jp_admin_stop writes one byte, the event
 * callback calls event_base_loopbreak on the server thread itself, and
 * jp_admin_stop joins the thread before freeing evhttp (which closes the
 * listener and any open connection) and the base.
 *
 * Routes live in one table (built-ins included, so a handler can never
 * shadow /metrics or /healthz) read under a mutex: each request copies its
 * route out and runs the handler without the lock, so a slow handler never
 * delays route registration. Routes that list their methods (built-ins,
 * read-only routes) get 405 + Allow from the dispatcher; the others decide
 * methods themselves.
 *
 * Access is declared by the route, decided by jp_auth: each route says
 * whether it is public (probes, scrapes), read-only, mutating, or - the
 * default - mutating for every method but GET and HEAD, so a route that
 * forgets to declare itself fails closed. The dispatcher only asks jp_auth
 * (rate limit first, so guessing tokens is rate limited too, then the
 * token) and turns the answer into 429/401/403.
 *
 * The server thread starts with every signal blocked: process signals
 * (SIGTERM, SIGINT) go to the engine's threads, and a peer closing its
 * socket mid-response makes the write fail with EPIPE instead of raising
 * SIGPIPE.
 */
#include "app/jp_admin.h"
#include "model/base/jp_err.h"

#include "app/jp_auth.h"
#include "base/jp_clock.h"
#include "base/jp_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *path;
    size_t len;
    bool prefix; /* path ends in '/' */
    jp_admin_access_t access;
    const char *allow; /* the only methods accepted ("GET, HEAD"), NULL: any */
    jp_admin_handler handler;
    void *ctx;
} jp_admin_route_t;

struct jp_admin_s {
    jp_metrics_t *metrics;
    pthread_mutex_t lock; /* routes and auth */
    jp_admin_route_t *routes;
    size_t nroutes, cap;
    jp_auth_t *auth; /* borrowed; NULL: reads open, mutations refused */
    /* running state, owned by the controlling thread */
    bool running;
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_ev;
    int stop_fds[2];
    pthread_t thread;
    _Atomic int port;
};

static const char *const json_type = "application/json";

/* ---- built-in handlers --------------------------------------------------- */

static int on_metrics(void *ctx, const char *method, const char *path, const char *query,
                      const char *body, size_t body_len, char **body_out,
                      const char **content_type_out)
{
    (void)method, (void)path, (void)query, (void)body, (void)body_len;
    jp_metrics_t *m = ctx;
    if (!m) {
        *body_out = strdup("{\"error\":\"no metrics registry\"}");
        return 503;
    }
    *body_out = jp_metrics_render(m);
    *content_type_out = JP_METRICS_CONTENT_TYPE;
    return *body_out ? 200 : 500;
}

static int on_healthz(void *ctx, const char *method, const char *path, const char *query,
                      const char *body, size_t body_len, char **body_out,
                      const char **content_type_out)
{
    (void)ctx, (void)method, (void)path, (void)query, (void)body, (void)body_len;
    *body_out = strdup("ok\n");
    *content_type_out = "text/plain; charset=utf-8";
    return 200;
}

/* ---- routes -------------------------------------------------------------- */

static int route_add(jp_admin_t *a, const char *path, jp_admin_access_t access, const char *allow,
                     jp_admin_handler handler, void *ctx)
{
    if (!path || path[0] != '/' || !handler)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->nroutes; i++)
        if (!strcmp(a->routes[i].path, path))
            goto out;
    if (a->nroutes == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 8;
        jp_admin_route_t *grown = realloc(a->routes, ncap * sizeof(*grown));
        if (!grown)
            goto out;
        a->routes = grown;
        a->cap = ncap;
    }
    jp_admin_route_t *r = &a->routes[a->nroutes];
    if (!(r->path = strdup(path)))
        goto out;
    r->len = strlen(path);
    r->prefix = path[r->len - 1] == '/';
    r->access = access;
    r->allow = allow;
    r->handler = handler;
    r->ctx = ctx;
    a->nroutes++;
    rc = 0;
out:
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int jp_admin_route_access(jp_admin_t *a, const char *path, jp_admin_access_t access,
                          jp_admin_handler handler, void *ctx)
{
    /* Public routes are probes and scrapes: they only read. */
    return route_add(a, path, access, access == JP_ADMIN_PUBLIC ? "GET, HEAD" : NULL, handler, ctx);
}

int jp_admin_route(jp_admin_t *a, const char *path, jp_admin_handler handler, void *ctx)
{
    return route_add(a, path, JP_ADMIN_BY_METHOD, NULL, handler, ctx);
}

int jp_admin_route_get(jp_admin_t *a, const char *path, jp_admin_handler handler, void *ctx)
{
    return route_add(a, path, JP_ADMIN_BY_METHOD, "GET, HEAD", handler, ctx);
}

int jp_admin_route_methods(jp_admin_t *a, const char *path, jp_admin_access_t access,
                           const char *allow, jp_admin_handler handler, void *ctx)
{
    return allow ? route_add(a, path, access, allow, handler, ctx) : -1;
}

int jp_admin_route_auth(jp_admin_t *a, const char *path, jp_admin_handler handler, void *ctx)
{
    return route_add(a, path, JP_ADMIN_MUTATES, NULL, handler, ctx);
}

void jp_admin_set_auth(jp_admin_t *a, jp_auth_t *auth)
{
    pthread_mutex_lock(&a->lock);
    a->auth = auth;
    pthread_mutex_unlock(&a->lock);
}

/* The route for path (exact first, then the longest prefix); caller holds
 * the lock. */
static const jp_admin_route_t *route_match(const jp_admin_t *a, const char *path)
{
    const jp_admin_route_t *best = NULL;
    size_t plen = strlen(path);
    for (size_t i = 0; i < a->nroutes; i++) {
        const jp_admin_route_t *r = &a->routes[i];
        if (!r->prefix && r->len == plen && !memcmp(r->path, path, plen))
            return r;
        if (r->prefix && r->len <= plen && !memcmp(r->path, path, r->len) &&
            (!best || r->len > best->len))
            best = r;
    }
    return best;
}

/* ---- request dispatch ---------------------------------------------------- */

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER"; /* not allowed by evhttp_set_allowed_methods */
    }
}

/* Sends status with body (may be NULL); HEAD gets the headers only, with
 * the Content-Length a GET would have had. */
static void reply(struct evhttp_request *req, int status, const char *content_type,
                  const char *body, const char *allow, const char *retry_after)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evbuffer_new();
    size_t len = body ? strlen(body) : 0;
    evhttp_add_header(h, "Content-Type", content_type ? content_type : json_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (allow)
        evhttp_add_header(h, "Allow", allow);
    if (status == 401)
        evhttp_add_header(h, "WWW-Authenticate", "Bearer realm=\"jackpot\"");
    if (retry_after)
        evhttp_add_header(h, "Retry-After", retry_after);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char cl[32];
        snprintf(cl, sizeof(cl), "%zu", len);
        evhttp_add_header(h, "Content-Length", cl);
    } else if (out && len) {
        evbuffer_add(out, body, len);
    }
    evhttp_send_reply(req, status, NULL, out); /* NULL: the standard reason phrase */
    if (out)
        evbuffer_free(out);
}

/* The request body as a NUL-terminated copy; NULL without memory. */
static char *request_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    *len = in ? evbuffer_get_length(in) : 0;
    char *body = malloc(*len + 1);
    if (!body)
        return NULL;
    if (*len)
        evbuffer_copyout(in, body, *len);
    body[*len] = '\0';
    return body;
}

/* Rate limit, then token: 0 when the request may reach its handler, else
 * the status, with a JSON error in *body_out (malloc'd) and Retry-After. */
static int admit(jp_admin_t *a, struct evhttp_request *req, const jp_admin_route_t *r,
                 const char *method, char **body_out, char retry_after[24])
{
    if (r->access == JP_ADMIN_PUBLIC)
        return 0;
    bool mutating = r->access == JP_ADMIN_MUTATES ||
                    (r->access == JP_ADMIN_BY_METHOD && strcmp(method, "GET") != 0 &&
                     strcmp(method, "HEAD") != 0);
    char *peer = NULL, why[256] = "too many requests";
    ev_uint16_t peer_port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &peer_port);
    int64_t retry = 0;
    pthread_mutex_lock(&a->lock);
    int status = jp_auth_rate_take(a->auth, peer, jp_clock_now_ms(), &retry) != 0 ? 429 : 0;
    if (!status)
        status = jp_auth_check(
            a->auth, evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization"),
            mutating, (int64_t)time(NULL), why, sizeof(why));
    pthread_mutex_unlock(&a->lock);
    if (status == 429)
        snprintf(retry_after, 24, "%lld", (long long)retry);
    if (status) { /* jp_auth's messages are plain text without quotes or backslashes */
        size_t n = strlen(why) + 16;
        if ((*body_out = malloc(n)))
            snprintf(*body_out, n, "{\"error\":\"%s\"}", why);
    }
    return status;
}

/* method is one of allow's comma-separated names. */
static int method_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; *p;) {
        p += strspn(p, ", ");
        size_t len = strcspn(p, ", ");
        if (len == n && strncmp(p, method, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    jp_admin_t *a = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    const char *method = method_name(evhttp_request_get_command(req));
    if (!path || !*path)
        path = "/";

    pthread_mutex_lock(&a->lock);
    const jp_admin_route_t *found = route_match(a, path);
    jp_admin_route_t r = found ? *found : (jp_admin_route_t){0}; /* r.path: do not use */
    pthread_mutex_unlock(&a->lock);

    if (!found) {
        reply(req, 404, NULL, "{\"error\":\"not found\"}", NULL, NULL);
        return;
    }
    if (r.allow && !method_allowed(r.allow, method)) {
        reply(req, 405, NULL, "{\"error\":\"method not allowed\"}", r.allow, NULL);
        return;
    }
    char *refusal = NULL, retry_after[24];
    int refused = admit(a, req, &r, method, &refusal, retry_after);
    if (refused) {
        reply(req, refused, NULL, refusal ? refusal : "{\"error\":\"refused\"}", NULL,
              refused == 429 ? retry_after : NULL);
        free(refusal);
        return;
    }
    size_t body_len;
    char *body = request_body(req, &body_len), *out = NULL;
    const char *ctype = NULL;
    int status =
        body ? r.handler(r.ctx, method, path, query ? query : "", body, body_len, &out, &ctype)
             : 500;
    if (status < 100 || status > 599) {
        free(out);
        out = strdup("{\"error\":\"internal error\"}");
        ctype = NULL;
        status = 500;
    }
    reply(req, status, ctype, out, NULL, NULL);
    free(out);
    free(body);
}

/* ---- lifecycle ----------------------------------------------------------- */

jp_admin_t *jp_admin_new(jp_metrics_t *metrics)
{
    jp_admin_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->metrics = metrics;
    a->stop_fds[0] = a->stop_fds[1] = -1;
    pthread_mutex_init(&a->lock, NULL);
    atomic_init(&a->port, 0);
    if (route_add(a, "/metrics", JP_ADMIN_PUBLIC, "GET, HEAD", on_metrics, metrics) ||
        route_add(a, "/healthz", JP_ADMIN_PUBLIC, "GET, HEAD", on_healthz, NULL)) {
        jp_admin_free(a);
        return NULL;
    }
    return a;
}

void jp_admin_free(jp_admin_t *a)
{
    if (!a)
        return;
    jp_admin_stop(a);
    for (size_t i = 0; i < a->nroutes; i++)
        free(a->routes[i].path);
    free(a->routes);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    event_base_loopbreak(arg);
}

static void *server_main(void *arg)
{
    jp_admin_t *a = arg;
    event_base_dispatch(a->base);
    return NULL;
}

/* Frees whatever jp_admin_start created; the thread is not running. */
static void teardown(jp_admin_t *a)
{
    if (a->http)
        evhttp_free(a->http);
    if (a->stop_ev)
        event_free(a->stop_ev);
    if (a->base)
        event_base_free(a->base);
    for (int i = 0; i < 2; i++)
        if (a->stop_fds[i] >= 0)
            close(a->stop_fds[i]);
    a->http = NULL;
    a->stop_ev = NULL;
    a->base = NULL;
    a->stop_fds[0] = a->stop_fds[1] = -1;
    atomic_store(&a->port, 0);
}

static int bound_port(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

int jp_admin_start(jp_admin_t *a, const char *listen, char *errstr, size_t errstr_size)
{
    char host[256];
    int port;
    if (a->running) {
        jp_err_set(errstr, errstr_size, "admin server already running");
        return -1;
    }
    if (!listen) {
        jp_err_set(errstr, errstr_size, "no listen address");
        return -1;
    }
    if (jp_listen_parse(listen, host, sizeof(host), &port, errstr, errstr_size))
        return -1;
    if (pipe(a->stop_fds) != 0) {
        jp_err_set(errstr, errstr_size, "pipe: %s", strerror(errno));
        a->stop_fds[0] = a->stop_fds[1] = -1;
        return -1;
    }
    for (int i = 0; i < 2; i++)
        fcntl(a->stop_fds[i], F_SETFD, FD_CLOEXEC);
    if (!(a->base = event_base_new()) || !(a->http = evhttp_new(a->base)) ||
        !(a->stop_ev = event_new(a->base, a->stop_fds[0], EV_READ, on_stop, a->base)) ||
        event_add(a->stop_ev, NULL) != 0) {
        jp_err_set(errstr, errstr_size, "cannot create the admin HTTP server");
        teardown(a);
        return -1;
    }
    evhttp_set_max_body_size(a->http, JP_ADMIN_MAX_BODY);
    evhttp_set_max_headers_size(a->http, JP_ADMIN_MAX_HEADERS);
    evhttp_set_timeout(a->http, JP_ADMIN_TIMEOUT_S);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(a->http, on_request, a);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(a->http, host, port);
    int bp = bound ? bound_port(bound) : -1;
    if (bp < 0) {
        jp_err_set(errstr, errstr_size, "cannot listen on %s: %s", listen, strerror(errno));
        teardown(a);
        return -1;
    }
    atomic_store(&a->port, bp);

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->thread, NULL, server_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        jp_err_set(errstr, errstr_size, "cannot start the admin thread: %s", strerror(rc));
        teardown(a);
        return -1;
    }
    a->running = true;
    return 0;
}

int jp_admin_port(const jp_admin_t *a)
{
    return atomic_load(&((jp_admin_t *)a)->port);
}

void jp_admin_stop(jp_admin_t *a)
{
    if (!a || !a->running)
        return;
    ssize_t w;
    do
        w = write(a->stop_fds[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(a->thread, NULL);
    teardown(a);
    a->running = false;
}

/* ---- query strings ------------------------------------------------------- */

char *jp_admin_query_param(const char *query, const char *key)
{
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char *k = strndup(p, (size_t)(kend - p));
        char *kd = k ? evhttp_uridecode(k, 1, NULL) : NULL;
        bool match = kd && !strcmp(kd, key);
        free(k);
        free(kd);
        if (match) {
            char *v = eq ? strndup(eq + 1, (size_t)(end - eq - 1)) : strdup("");
            char *vd = v ? evhttp_uridecode(v, 1, NULL) : NULL;
            free(v);
            return vd;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}
