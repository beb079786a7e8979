/*
 * jp_registry_client: a blocking client of a Confluent-compatible schema
 * registry (Confluent, Karapace, or `jackpot registry`), for the serde, the
 * engine and tests.
 *
 * Contract:
 * - URL: http://[user:password@]host[:port][/prefix]. userinfo becomes HTTP
 *   Basic authentication. https is not supported (use a sidecar/proxy).
 * - Every call returns a jp_registry_result_t: JP_REGISTRY_OK (0) or a
 *   negative code, with a message in errstr (caller-owned). NOT_FOUND and
 *   UNAVAILABLE are distinct so a deserializer can dead-letter an unknown id
 *   but retry later when the registry is down.
 * - Connection failures, timeouts and 5xx replies are retried with
 *   exponential backoff: attempts (default 3) with delays backoff, 2*backoff,
 *   4*backoff, ... (default 100 ms; deterministic, no jitter). Each attempt
 *   is bounded by the timeout (default 5000 ms of inactivity). 4xx replies
 *   are answers and are never retried.
 * - Schemas by id are immutable in a registry, so callers may cache
 *   get_schema results forever; this client does not cache.
 * - Not thread-safe: it owns a private event_base and one keep-alive
 *   connection. Use one client per thread. The process should ignore
 *   SIGPIPE (a peer closing mid-request would otherwise kill it).
 */
#ifndef JP_REGISTRY_CLIENT_H
#define JP_REGISTRY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct jp_registry_client_s jp_registry_client_t;

typedef enum {
    JP_REGISTRY_OK = 0,
    JP_REGISTRY_ERROR = -1,        /* rejected (4xx other than 404/409) or a bad reply */
    JP_REGISTRY_NOT_FOUND = -2,    /* 404: no such id, subject or version */
    JP_REGISTRY_UNAVAILABLE = -3,  /* unreachable, timed out, or 5xx after every attempt */
    JP_REGISTRY_INCOMPATIBLE = -4, /* 409: the subject's compatibility level refused it */
} jp_registry_result_t;

/* "OK", "NOT_FOUND", ... */
const char *jp_registry_result_name(int result);

/* NULL with errstr if the URL is not usable. Does not connect. */
jp_registry_client_t *jp_registry_client_new(const char *url, char *errstr, size_t errstr_size);
void jp_registry_client_free(jp_registry_client_t *c);

/* Sends "Authorization: Bearer <token>" instead of the URL's Basic
 * credentials (the admin API's JWTs, for `jackpot models`). 0, or -1 on no
 * memory (the client is unchanged). */
int jp_registry_client_set_bearer(jp_registry_client_t *c, const char *token);

/* attempts >= 1 (total tries, first included), backoff_ms >= 0. */
void jp_registry_client_set_retry(jp_registry_client_t *c, int attempts, int backoff_ms);
/* timeout_ms > 0: per attempt, for connecting and for each read/write. */
void jp_registry_client_set_timeout(jp_registry_client_t *c, int timeout_ms);

/* GET /schemas/ids/{id}: *json_out receives the schema text (malloc'd,
 * caller frees). NOT_FOUND if the registry has no such id. */
int jp_registry_client_get_schema(jp_registry_client_t *c, int32_t id, char **json_out,
                                  char *errstr, size_t errstr_size);

/* POST /subjects/{subject}/versions: registers schema_json (Avro) and
 * stores its global id in *id_out. Idempotent on the registry side.
 * INCOMPATIBLE if the subject's level refuses it, ERROR if it is invalid. */
int jp_registry_client_register(jp_registry_client_t *c, const char *subject,
                                const char *schema_json, int32_t *id_out, char *errstr,
                                size_t errstr_size);

/* Any request: method "GET", "POST", "PUT" or "DELETE"; path_and_query
 * relative to the URL (e.g. "/subjects?deleted=true", already
 * percent-encoded); body may be NULL. OK whenever a reply arrived (its
 * status in *status, body in *body_out, malloc'd and NUL-terminated, may be
 * NULL if not wanted), UNAVAILABLE if none did. Retries as above; after
 * the last attempt a 5xx reply is returned as OK with that status. */
int jp_registry_client_request(jp_registry_client_t *c, const char *method,
                               const char *path_and_query, const char *body, int *status,
                               char **body_out, char *errstr, size_t errstr_size);

/* Percent-encodes s for use as one path segment (malloc'd). */
char *jp_registry_client_escape(const char *s);

#endif
