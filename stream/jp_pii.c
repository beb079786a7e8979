/*
 * jp_pii: HMAC-SHA256 through OpenSSL's one-shot HMAC(); the key is copied
 * once and wiped on free. Postcode parsing is per-country and strict, so a
 * malformed postcode is a validation error rather than a silently odd
 * sector.
 */
#include "jp_pii.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp_pii_s {
    size_t key_len;
    unsigned char key[];
};

jp_pii_t *jp_pii_new(const void *key, size_t key_len)
{
    if (!key || key_len < 16)
        return NULL;
    jp_pii_t *p = malloc(sizeof(*p) + key_len);
    if (!p)
        return NULL;
    p->key_len = key_len;
    memcpy(p->key, key, key_len);
    return p;
}

void jp_pii_free(jp_pii_t *p)
{
    if (!p)
        return;
    OPENSSL_cleanse(p->key, p->key_len);
    free(p);
}

void jp_pii_token(const jp_pii_t *p, const char *domain, const char *value, size_t len,
                  char out[JP_PII_TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char msg[512], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t dl = strlen(domain);
    /* Values longer than the buffer are hashed first; PII fields are short. */
    unsigned char digest[32];
    if (dl + 1 + len > sizeof(msg)) {
        EVP_Digest(value, len, digest, NULL, EVP_sha256(), NULL);
        value = (const char *)digest;
        len = sizeof(digest);
    }
    memcpy(msg, domain, dl);
    msg[dl] = 0;
    memcpy(msg + dl + 1, value, len);
    HMAC(EVP_sha256(), p->key, (int)p->key_len, msg, dl + 1 + len, mac, &mac_len);
    for (size_t i = 0; i < JP_PII_TOKEN_LEN / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[JP_PII_TOKEN_LEN] = '\0';
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
