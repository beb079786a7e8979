/*
 * jp_auth: JWT roles and per-client rate limits for the admin HTTP API.
 *
 * Design. Tokens are parsed and verified by libjwt, but libjwt 1.10
 * compares the presented signature with strcmp, whose timing tells an
 * attacker how many leading characters were right. So the HMAC-SHA256 of
 * "header.payload" is computed here first (OpenSSL), encoded as base64url
 * and compared with CRYPTO_memcmp: only a token already proven to be
 * signed with our key reaches libjwt. The algorithm is pinned to HS256
 * after decoding as well, so neither "none" nor another algorithm is ever
 * accepted whatever the token's header says.
 *
 * Roles are a closed list (operator > viewer); claims are never echoed in
 * the messages, which are written for a client that may be an attacker.
 *
 * The rate limiter is a token bucket per client address in a small array
 * searched linearly: an admin API sees a handful of clients (Prometheus,
 * kubelet, operators), and JP_AUTH_MAX_CLIENTS bounds the memory an
 * attacker with many addresses can take; the least recently seen bucket
 * makes room. The clock is the caller's, so tests drive it without sleeps.
 */
#include "app/jp_auth.h"

#include <errno.h>
#include <jwt.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/base/jp_err.h"

typedef struct {
    char client[64];
    double tokens;
    int64_t last_ms;
} bucket_t;

struct jp_auth_s {
    unsigned char *key;
    size_t key_len;
    bool protect_reads;
    double rate, burst;
    pthread_mutex_t lock; /* buckets */
    bucket_t *buckets;
    size_t n_buckets;
};

jp_auth_t *jp_auth_new(const jp_auth_opts_t *o, char *errstr, size_t errstr_size)
{
    size_t key_len = o->jwt_key ? strlen(o->jwt_key) : 0;
    if (key_len && key_len < JP_AUTH_MIN_KEY) {
        jp_err_set(errstr, errstr_size, "the JWT key has %zu bytes; HS256 needs at least %d",
                   key_len, JP_AUTH_MIN_KEY);
        return NULL;
    }
    if (o->protect_reads && !key_len) {
        jp_err_set(errstr, errstr_size, "protected reads need a JWT key");
        return NULL;
    }
    if (!(o->rate >= 0) || (o->rate > 0 && o->burst < 1)) {
        jp_err_set(errstr, errstr_size, "rate limit needs rate >= 0 and burst >= 1");
        return NULL;
    }
    jp_auth_t *a = calloc(1, sizeof(*a));
    if (!a || (key_len && !(a->key = malloc(key_len))) ||
        !(a->buckets = calloc(JP_AUTH_MAX_CLIENTS, sizeof(*a->buckets)))) {
        jp_auth_free(a);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (key_len)
        memcpy(a->key, o->jwt_key, key_len);
    a->key_len = key_len;
    a->protect_reads = o->protect_reads != 0;
    a->rate = o->rate;
    a->burst = (double)o->burst;
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

jp_auth_t *jp_auth_from_config(const jp_config_t *cfg, char *errstr, size_t errstr_size)
{
    jp_auth_opts_t o = {cfg->http.jwt_key.value, cfg->http.auth_reads, cfg->http.rate_limit,
                        cfg->http.rate_burst};
    return jp_auth_new(&o, errstr, errstr_size);
}

void jp_auth_free(jp_auth_t *a)
{
    if (!a)
        return;
    if (a->key) {
        OPENSSL_cleanse(a->key, a->key_len);
        free(a->key);
    }
    if (a->buckets)
        pthread_mutex_destroy(&a->lock);
    free(a->buckets);
    free(a);
}

/* ---- tokens --------------------------------------------------------------- */

/* The bearer token of an Authorization header, trimmed, in out (NUL-
 * terminated); false when absent, not "Bearer", empty or too long. */
static bool bearer_token(const char *hdr, char *out, size_t out_size)
{
    if (!hdr || strncasecmp(hdr, "Bearer ", 7) != 0)
        return false;
    const char *t = hdr + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t len = strlen(t);
    while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= out_size)
        return false;
    memcpy(out, t, len);
    out[len] = '\0';
    return true;
}

/* Constant-time check that token's signature is HS256 over its first two
 * parts with our key. */
static bool signature_ok(const jp_auth_t *a, const char *token)
{
    const char *dot = strrchr(token, '.');
    if (!dot || dot == token)
        return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), a->key, (int)a->key_len, (const unsigned char *)token,
              (size_t)(dot - token), mac, &mac_len))
        return false;
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, mac, (int)mac_len);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    const char *sig = dot + 1;
    bool ok = strlen(sig) == (size_t)n && CRYPTO_memcmp(b64, sig, (size_t)n) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

/* The integer claim name: 1 present, 0 absent, -1 present but not an
 * integer (libjwt reports both as ENOENT, so the JSON decides). */
static int int_claim(jwt_t *jwt, const char *name, long *out)
{
    errno = 0;
    *out = jwt_get_grant_int(jwt, name);
    if (errno == 0)
        return 1;
    char *js = jwt_get_grants_json(jwt, name);
    int present = js != NULL;
    free(js);
    return present ? -1 : 0;
}

int jp_auth_check(const jp_auth_t *a, const char *authorization, int mutating, int64_t now_s,
                  char *why, size_t why_size)
{
    if (!mutating && !(a && a->protect_reads))
        return 0;
    if (!a || !a->key_len) {
        jp_err_set(why, why_size,
                   "this server has no JWT key (http.jwt_key_file): requests that change "
                   "anything are refused");
        return 401;
    }
    char token[8192];
    if (!bearer_token(authorization, token, sizeof(token))) {
        jp_err_set(why, why_size, "missing bearer token (Authorization: Bearer <JWT>)");
        return 401;
    }
    int status = 401;
    jwt_t *jwt = NULL;
    long exp = 0, nbf = 0;
    if (!signature_ok(a, token) || jwt_decode(&jwt, token, a->key, (int)a->key_len) != 0 ||
        jwt_get_alg(jwt) != JWT_ALG_HS256) {
        jp_err_set(why, why_size, "invalid token (HS256 signature with the server's key needed)");
        goto out;
    }
    int has_exp = int_claim(jwt, "exp", &exp), has_nbf = int_claim(jwt, "nbf", &nbf);
    if (has_exp != 1 || has_nbf < 0) {
        jp_err_set(why, why_size, "invalid token: needs an integer exp claim (and nbf, if any)");
        goto out;
    }
    if (now_s > (int64_t)exp + JP_AUTH_LEEWAY_S) {
        jp_err_set(why, why_size, "token expired");
        goto out;
    }
    if (has_nbf && now_s + JP_AUTH_LEEWAY_S < (int64_t)nbf) {
        jp_err_set(why, why_size, "token not valid yet (nbf)");
        goto out;
    }
    const char *role = jwt_get_grant(jwt, "role");
    bool operator_role = role && strcmp(role, "operator") == 0;
    bool viewer_role = role && strcmp(role, "viewer") == 0;
    if (operator_role || (viewer_role && !mutating)) {
        status = 0;
    } else {
        status = 403;
        jp_err_set(why, why_size, "%s",
                   mutating ? "this request changes state: it needs role operator"
                            : "reading needs role viewer or operator");
    }
out:
    jwt_free(jwt);
    OPENSSL_cleanse(token, sizeof(token));
    return status;
}

/* ---- rate limit ------------------------------------------------------------ */

int jp_auth_rate_take(jp_auth_t *a, const char *client, int64_t now_ms, int64_t *retry_after_s)
{
    if (!a || a->rate <= 0)
        return 0;
    if (!client)
        client = "";
    pthread_mutex_lock(&a->lock);
    bucket_t *b = NULL, *oldest = NULL;
    for (size_t i = 0; i < a->n_buckets && !b; i++) {
        if (strncmp(a->buckets[i].client, client, sizeof(b->client) - 1) == 0)
            b = &a->buckets[i];
        else if (!oldest || a->buckets[i].last_ms < oldest->last_ms)
            oldest = &a->buckets[i];
    }
    if (!b) {
        b = a->n_buckets < JP_AUTH_MAX_CLIENTS ? &a->buckets[a->n_buckets++] : oldest;
        memset(b, 0, sizeof(*b));
        strncpy(b->client, client, sizeof(b->client) - 1);
        b->tokens = a->burst;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens = fmin(a->burst, b->tokens + (double)(now_ms - b->last_ms) * a->rate / 1000.0);
        b->last_ms = now_ms;
    }
    int rc = 0;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        double wait = ceil((1.0 - b->tokens) / a->rate);
        *retry_after_s = wait < 1 ? 1 : (int64_t)wait;
        rc = -1;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}
