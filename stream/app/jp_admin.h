/*
 * jp_admin: the admin HTTP server (metrics, health, engine routes) on
 * libevent's evhttp, in its own thread with its own event_base.
 *
 * Contract:
 * - Lifecycle: jp_admin_new -> jp_admin_route* / jp_admin_set_auth
 *   -> jp_admin_start -> ... -> jp_admin_stop -> jp_admin_free. Routes and the
 *   auth may also be changed while the server runs (they are read under a
 *   mutex per request); start/stop/free belong to one controlling thread.
 *   jp_admin_stop returns once the server thread has been joined and every
 *   socket closed; it may be followed by another jp_admin_start.
 * - Built-in routes: GET/HEAD /metrics renders the jp_metrics_t given to
 *   jp_admin_new (JP_METRICS_CONTENT_TYPE; 503 if none was given);
 *   GET/HEAD /healthz answers 200 "ok" (the server thread is alive). Another
 *   method on them is 405 with an Allow header.
 * - Routing: a path registered with a trailing '/' is a prefix route
 *   ("/models/" serves "/models/x" and "/models/"); otherwise the path must
 *   match exactly. The exact match wins, then the longest prefix. No match:
 *   404 {"error":"not found"}. Paths are matched as sent (percent-encoded).
 * - Handlers run on the server thread, one request at a time. They must not
 *   touch engine state directly: read a snapshot under the engine's own lock
 *   (or ask the engine thread) and return. They get the method ("GET",
 *   "POST", ...), the path, the raw query string ("" if none; see
 *   jp_admin_query_param) and the request body (body_len bytes, NUL-terminated;
 *   at most JP_ADMIN_MAX_BODY bytes, larger requests get 413 before any
 *   handler runs). They return the HTTP status (100..599, anything else is
 *   turned into 500) and may set *body_out to a malloc'd NUL-terminated body
 *   (freed by the server) and *content_type_out to a static string (default
 *   "application/json"). The handler decides on 405 for its own methods.
 * - Access: every route declares one jp_admin_access_t. PUBLIC routes
 *   (/metrics, /healthz, probes) are never rate limited nor authenticated.
 *   For the others the jp_auth_t given to jp_admin_set_auth decides (see
 *   jp_auth.h): first the client's rate limit (429 with Retry-After), then
 *   the token (401 with WWW-Authenticate: Bearer, or 403), each with a body
 *   {"error": "..."}; the handler runs only when both pass. A request is
 *   mutating when its route is MUTATES, or BY_METHOD (the default of
 *   jp_admin_route) and the method is not GET or HEAD. Without a jp_auth_t
 *   reads are open, nothing is rate limited and mutating requests get 401
 *   (fail closed).
 * - Malformed requests get evhttp's 400; headers above JP_ADMIN_MAX_HEADERS
 *   bytes are refused; idle connections time out after JP_ADMIN_TIMEOUT_S.
 * - Never prints; errors come back in errstr.
 */
#ifndef JP_ADMIN_H
#define JP_ADMIN_H

#include "base/jp_metrics.h"

#include <stddef.h>

#define JP_ADMIN_MAX_BODY    (64 * 1024) /* request body bytes */
#define JP_ADMIN_MAX_HEADERS (16 * 1024) /* request header bytes */
#define JP_ADMIN_TIMEOUT_S   30

typedef struct jp_admin_s jp_admin_t;
typedef struct jp_auth_s jp_auth_t;

/* What a route does, for authorization. */
typedef enum {
    JP_ADMIN_BY_METHOD = 0, /* GET/HEAD read, every other method mutates */
    JP_ADMIN_READS,         /* every method only reads (e.g. a POSTed what-if) */
    JP_ADMIN_MUTATES,       /* every method changes state (promote, rollback, reload) */
    JP_ADMIN_PUBLIC,        /* probes and scrapes: no token, no rate limit, GET/HEAD only */
} jp_admin_access_t;

typedef int (*jp_admin_handler)(void *ctx, const char *method, const char *path, const char *query,
                                const char *body, size_t body_len, char **body_out,
                                const char **content_type_out);

/* metrics (may be NULL) must outlive the server. NULL only without memory. */
jp_admin_t *jp_admin_new(jp_metrics_t *metrics);
/* Stops the server if it runs, then frees everything. */
void jp_admin_free(jp_admin_t *a);

/* Registers handler for path (exact) or for every path under it (when path
 * ends in '/'). path must start with '/'; registering a path twice (or a
 * built-in) fails. 0 or -1. */
int jp_admin_route(jp_admin_t *a, const char *path, jp_admin_handler handler, void *ctx);
/* Same, for a read-only route: GET and HEAD reach the handler, any other
 * method is answered 405 with "Allow: GET, HEAD" by the server. */
int jp_admin_route_get(jp_admin_t *a, const char *path, jp_admin_handler handler, void *ctx);
/* The same with the route's access declared (jp_admin_route is
 * JP_ADMIN_BY_METHOD). */
int jp_admin_route_access(jp_admin_t *a, const char *path, jp_admin_access_t access,
                          jp_admin_handler handler, void *ctx);
/* The same with the methods the route answers, allow ("GET, HEAD", names
 * separated by commas and spaces; borrowed, it must outlive the server): any
 * other method gets 405 with that Allow header from the server and never
 * reaches the handler. */
int jp_admin_route_methods(jp_admin_t *a, const char *path, jp_admin_access_t access,
                           const char *allow, jp_admin_handler handler, void *ctx);
/* Shorthand for JP_ADMIN_MUTATES: every method needs an operator token. */
int jp_admin_route_auth(jp_admin_t *a, const char *path, jp_admin_handler handler, void *ctx);
/* Sets the authorizer (borrowed: it must outlive the server; NULL removes
 * it). */
void jp_admin_set_auth(jp_admin_t *a, jp_auth_t *auth);

/* Binds listen ("host:port", "[v6]:port"; port 0 picks a free port) and
 * starts the server thread. 0, or -1 with the reason in errstr (bad
 * address, port in use, already running). */
int jp_admin_start(jp_admin_t *a, const char *listen, char *errstr, size_t errstr_size);
/* The bound port while running, else 0. */
int jp_admin_port(const jp_admin_t *a);
/* Stops serving and joins the server thread; no-op when not running. */
void jp_admin_stop(jp_admin_t *a);

/* Value of key in a query string ("a=1&b=x%20y"), percent- and
 * '+'-decoded, malloc'd; NULL when absent (or undecodable). */
char *jp_admin_query_param(const char *query, const char *key);

#endif
