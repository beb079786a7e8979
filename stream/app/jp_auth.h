/*
 * jp_auth: who may call the admin HTTP API, and how often.
 *
 * Contract:
 * - Identity: "Authorization: Bearer <JWT>", HS256 only, signed with the
 *   key of http.jwt_key_file (at least JP_AUTH_MIN_KEY bytes). A token must
 *   carry `exp` (seconds since the epoch) and `role`; `nbf`, when present,
 *   is honoured. Both are checked against the caller's wall clock with
 *   JP_AUTH_LEEWAY_S seconds of leeway for clock skew.
 * - Roles: "operator" may do everything; "viewer" may read. Any other role
 *   is authenticated but allowed nothing (403).
 * - jp_auth_check decides one request: a read is allowed without a token
 *   unless reads are protected; a mutating request always needs a valid
 *   operator token. Without a key (NULL auth, or no key in the options)
 *   every request that needs a token is refused: fail closed.
 *   Result: 0 (allowed), 401 (no, malformed, badly signed, expired token,
 *   or no key configured), 403 (valid token, role not allowed). `why` gets
 *   a message for the client that never contains the token or any claim.
 * - jp_auth_rate_take: one token bucket per client address (`rate` tokens a
 *   second, `burst` deep). 0 when the request may go on; -1 when the
 *   bucket is empty, with *retry_after_s the whole seconds until a token is
 *   back (>= 1). rate 0 disables the limit. At most JP_AUTH_MAX_CLIENTS
 *   buckets are kept; a new client evicts the one seen least recently.
 *   The caller passes a monotonic clock in milliseconds, so the limiter
 *   itself never reads a clock.
 * - Thread-safe (one mutex); never prints.
 */
#ifndef JP_AUTH_H
#define JP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config/jp_config.h"

#define JP_AUTH_MIN_KEY     JP_CONFIG_JWT_MIN_KEY
#define JP_AUTH_LEEWAY_S    30
#define JP_AUTH_MAX_CLIENTS 1024

typedef struct jp_auth_s jp_auth_t;

typedef struct jp_auth_opts_s {
    const char *jwt_key; /* NULL or "": no key, every request needing a token is refused */
    int protect_reads;   /* reads need a viewer or operator token too */
    double rate;         /* requests per second per client; 0: unlimited */
    int64_t burst;       /* bucket size, >= 1 when rate > 0 */
} jp_auth_opts_t;

/* NULL with the reason in errstr (key shorter than JP_AUTH_MIN_KEY,
 * protect_reads without a key, bad rate or burst, no memory). */
jp_auth_t *jp_auth_new(const jp_auth_opts_t *opts, char *errstr, size_t errstr_size);
/* The options of the processor configuration's http section. */
jp_auth_t *jp_auth_from_config(const jp_config_t *cfg, char *errstr, size_t errstr_size);
void jp_auth_free(jp_auth_t *a);

/* authorization: the request's Authorization header (NULL if absent);
 * now_s: the wall clock, seconds since the epoch. See the contract. */
int jp_auth_check(const jp_auth_t *a, const char *authorization, int mutating, int64_t now_s,
                  char *why, size_t why_size);

/* client: the peer address as text; now_ms: a monotonic clock. */
int jp_auth_rate_take(jp_auth_t *a, const char *client, int64_t now_ms, int64_t *retry_after_s);

#endif
