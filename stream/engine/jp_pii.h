/*
 * jp_pii: tokenization of personal data before it touches state, logs or
 * outputs.
 *
 * A token is HMAC-SHA256(key, domain || 0x00 || value), truncated to 128
 * bits and written as 32 lower-case hex characters. The domain ("customer",
 * "email", ...) separates namespaces, so equal strings in different roles
 * do not share a token. The key comes from a secret file; without it no
 * token can be recomputed from a raw value, and tokens are stable across
 * restarts and instances that share the key (state keyed by token survives
 * rebalances).
 *
 * Postcodes are not tokenized but coarsened: only the postcode sector is
 * kept (jp_pii_postcode_sector), which is what the draw features need.
 */
#ifndef JP_PII_H
#define JP_PII_H

#include <stddef.h>

#define JP_PII_TOKEN_LEN 32 /* hex characters, without the NUL */

typedef struct jp_pii_s jp_pii_t;

/* key: the secret bytes (at least 16). NULL if the key is too short. */
jp_pii_t *jp_pii_new(const void *key, size_t key_len);
void jp_pii_free(jp_pii_t *p);

/* Writes the token of value (len bytes) in domain into out
 * (JP_PII_TOKEN_LEN + 1 bytes, NUL-terminated). Thread-safe; cannot fail
 * (no allocation). A batch of one: where several values are at hand,
 * jp_pii_token_many is several times cheaper per token. */
void jp_pii_token(const jp_pii_t *p, const char *domain, const char *value, size_t len,
                  char out[JP_PII_TOKEN_LEN + 1]);

/* One value to tokenize: len bytes at ptr (not NUL-terminated). */
typedef struct jp_pii_value_s {
    const char *ptr;
    size_t len;
} jp_pii_value_t;

/* The tokens of n values in one domain: out[i] is exactly what
 * jp_pii_token(p, domain, values[i].ptr, values[i].len, out[i]) writes.
 * Thread-safe; cannot fail. Batches exist for speed: up to 16 values are
 * hashed side by side in SIMD lanes where the CPU allows it (model/
 * jp_sha256.h), so batches of 16 or more get the full benefit. */
void jp_pii_token_many(const jp_pii_t *p, const char *domain, const jp_pii_value_t *values,
                       size_t n, char (*out)[JP_PII_TOKEN_LEN + 1]);

/*
 * The postcode sector of a postcode in a country's format, normalized
 * (upper case, single inner space), into out. 0, or -1 if the postcode is
 * not valid for the country. Sectors:
 *   GB  "SW1A 1AA" -> "SW1A 1"   outward code + first digit of the inward code
 *   NL  "1234 AB"  -> "1234"     the four digits (PC4)
 *   SE  "123 45"   -> "123"      the first three digits
 *   DE  "10115"    -> "101"      the first three digits
 *   NO  "0150"     -> "01"       the first two digits
 * Other countries: digits and letters kept, the last two characters dropped.
 */
int jp_pii_postcode_sector(const char *country, const char *postcode, size_t len, char *out,
                           size_t out_size);

#endif
