/*
 * jp_registry_server: the Confluent Schema Registry REST API over a
 * jp_registry_store, served by libevent's evhttp.
 *
 * Contract:
 * - Serves the API real serializers, tools and operators use (see
 *   docs/registry.md): subjects and versions, schemas by id, listings and
 *   their filters, lookup, compatibility tests, global and subject config
 *   and modes (READWRITE, READONLY, IMPORT), soft and permanent deletes,
 *   `normalize`, plus GET /metrics (Prometheus) and GET /healthz.
 *   Responses are application/vnd.schemaregistry.v1+json; errors are
 *   {"error_code": N, "message": "..."} with Confluent's codes and statuses.
 * - Request bodies are JSON whatever their Content-Type says
 *   (application/vnd.schemaregistry.v1+json, application/json,
 *   application/octet-stream, ...). Bodies above JP_REGISTRY_MAX_BODY get
 *   413 from evhttp; malformed JSON gets 400 (error_code 400).
 * - Runs on the caller's event_base; everything happens on the thread that
 *   dispatches it. evhttp handles one request at a time per base, which is
 *   what serializes access to the store (no locks needed).
 * - One line per request is logged at debug level through jp_log.
 * - jp_registry_server_handle answers one request without any socket: the
 *   evhttp callback is a thin shell around it, and tests and the fuzz
 *   target drive it directly.
 */
#ifndef JP_REGISTRY_SERVER_H
#define JP_REGISTRY_SERVER_H

#include "registry/jp_registry_store.h"

#include <stddef.h>

struct event_base;

#define JP_REGISTRY_MAX_BODY     (1024 * 1024) /* bytes */
#define JP_REGISTRY_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

typedef struct jp_registry_server_s jp_registry_server_t;

/* Binds listen ("host:port", "[v6]:port"; port 0 picks a free port) and
 * serves store on base. The store must outlive the server. NULL with the
 * reason in errstr. With base and listen both NULL nothing is bound: the
 * server only answers jp_registry_server_handle. */
jp_registry_server_t *jp_registry_server_new(struct event_base *base, jp_registry_store_t *store,
                                             const char *listen, char *errstr, size_t errstr_size);
void jp_registry_server_free(jp_registry_server_t *srv);

/* A reply of jp_registry_server_handle; body is malloc'd (free it). */
typedef struct jp_registry_reply_s {
    int status;
    const char *content_type; /* static */
    char *body;
    size_t body_len;
} jp_registry_reply_t;

/* Answers one request: method ("GET", "POST", ...), uri (path and query,
 * as on the request line) and body. 0, or -1 when out of memory. */
int jp_registry_server_handle(jp_registry_server_t *srv, const char *method, const char *uri,
                              const char *body, size_t body_len, jp_registry_reply_t *out);

/* The port actually bound. */
int jp_registry_server_port(const jp_registry_server_t *srv);
/* "http://host:port" with the actual port. */
const char *jp_registry_server_url(const jp_registry_server_t *srv);

#endif
