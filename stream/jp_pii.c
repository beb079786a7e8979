/*
 * jp_pii: HMAC-SHA256 computed from precomputed inner and outer SHA-256
 * states (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m))): the keyed pads
 * are hashed once at jp_pii_new, so a token costs two context copies and
 * the message's blocks. OpenSSL 3's one-shot HMAC() fetches the algorithm
 * and keys a fresh context on every call, which cost more than the rest of
 * processing a record. The key and the keyed states are wiped on free.
 * Postcode parsing is per-country and strict, so a malformed postcode is a
 * validation error rather than a silently odd sector.
 */
#include "jp_pii.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JP_PII_BLOCK 64 /* SHA-256 block size */

struct jp_pii_s {
    EVP_MD_CTX *inner, *outer; /* after (K ^ ipad) and (K ^ opad); never modified */
};

jp_pii_t *jp_pii_new(const void *key, size_t key_len)
{
    if (!key || key_len < 16)
        return NULL;
    jp_pii_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    unsigned char k[JP_PII_BLOCK] = {0}, pad[JP_PII_BLOCK];
    unsigned int kl = 0;
    int ok = 1;
    if (key_len > JP_PII_BLOCK)
        ok = EVP_Digest(key, key_len, k, &kl, EVP_sha256(), NULL);
    else
        memcpy(k, key, key_len);
    p->inner = EVP_MD_CTX_new();
    p->outer = EVP_MD_CTX_new();
    for (int i = 0; i < JP_PII_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    ok = ok && p->inner && p->outer && EVP_DigestInit_ex(p->inner, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(p->inner, pad, sizeof(pad));
    for (int i = 0; i < JP_PII_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(p->outer, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(p->outer, pad, sizeof(pad));
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    if (!ok) {
        jp_pii_free(p);
        return NULL;
    }
    return p;
}

void jp_pii_free(jp_pii_t *p)
{
    if (!p)
        return;
    EVP_MD_CTX_free(p->inner); /* frees wipe the digest state */
    EVP_MD_CTX_free(p->outer);
    free(p);
}

void jp_pii_token(const jp_pii_t *p, const char *domain, const char *value, size_t len,
                  char out[JP_PII_TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char ih[32], mac[32];
    unsigned int n = 0;
    int ok = 1;
    /* The message is domain || 0x00 || value, fed in pieces. Copies of
     * the keyed contexts leave p untouched: thread-safe. */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    ok = c && EVP_MD_CTX_copy_ex(c, p->inner) && EVP_DigestUpdate(c, domain, strlen(domain) + 1) &&
         EVP_DigestUpdate(c, value, len) && EVP_DigestFinal_ex(c, ih, &n) &&
         EVP_MD_CTX_copy_ex(c, p->outer) && EVP_DigestUpdate(c, ih, sizeof(ih)) &&
         EVP_DigestFinal_ex(c, mac, &n);
    EVP_MD_CTX_free(c);
    if (!ok) /* only on allocation failure inside OpenSSL: never a usable token */
        abort();
    for (size_t i = 0; i < JP_PII_TOKEN_LEN / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[JP_PII_TOKEN_LEN] = '\0';
}

void jp_pii_token_many(const jp_pii_t *p, const char *domain, const jp_pii_value_t *values,
                       size_t n, char (*out)[JP_PII_TOKEN_LEN + 1])
{
    for (size_t i = 0; i < n; i++)
        jp_pii_token(p, domain, values[i].ptr, values[i].len, out[i]);
}

/* Upper-cases and removes spaces: "sw1a 1aa" -> "SW1A1AA". */
static size_t compact(const char *in, size_t len, char *out, size_t out_size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ')
            continue;
        if (!isalnum(c) || n + 1 >= out_size)
            return 0;
        out[n++] = (char)toupper(c);
    }
    out[n] = '\0';
    return n;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int jp_pii_postcode_sector(const char *country, const char *postcode, size_t len, char *out,
                           size_t out_size)
{
    char c[16];
    size_t n = compact(postcode, len, c, sizeof(c));
    if (n < 2 || out_size < 8)
        return -1;
    if (strcmp(country, "GB") == 0) {
        /* Inward code is always digit + two letters; outward is 2-4 chars. */
        if (n < 5 || n > 7 || !isdigit((unsigned char)c[n - 3]) ||
            !isalpha((unsigned char)c[n - 2]) || !isalpha((unsigned char)c[n - 1]) ||
            !isalpha((unsigned char)c[0]))
            return -1;
        snprintf(out, out_size, "%.*s %c", (int)(n - 3), c, c[n - 3]);
    } else if (strcmp(country, "NL") == 0) {
        if (n != 6 || !all_digits(c, 4) || !isalpha((unsigned char)c[4]) ||
            !isalpha((unsigned char)c[5]) || c[0] == '0')
            return -1;
        snprintf(out, out_size, "%.4s", c);
    } else if (strcmp(country, "SE") == 0) {
        if (n != 5 || !all_digits(c, 5))
            return -1;
        snprintf(out, out_size, "%.3s", c);
    } else if (strcmp(country, "DE") == 0) {
        if (n != 5 || !all_digits(c, 5))
            return -1;
        snprintf(out, out_size, "%.3s", c);
    } else if (strcmp(country, "NO") == 0) {
        if (n != 4 || !all_digits(c, 4))
            return -1;
        snprintf(out, out_size, "%.2s", c);
    } else {
        if (n < 3)
            return -1;
        snprintf(out, out_size, "%.*s", (int)(n - 2), c);
    }
    return 0;
}
