/*
 * jp_dlq: see jp_dlq.h for the format and why it is built this way. The
 * envelope's plaintext is
 *     u32 key length | key | u32 value length | value | u32 header count
 *     | per header: u32 name length | name | u32 value length | value
 * (big-endian; a length of 0xffffffff stands for null), and the associated
 * data is "jackpot-dlq-v1" | key id | source topic | NUL | partition (8)
 * | offset (8). OpenSSL's EVP interface does AES-256-GCM and HMAC-SHA256.
 */
#include "engine/jp_dlq.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"

#define MAGIC      "JPD1"
#define MAGIC_LEN  4
#define NONCE_LEN  12
#define TAG_LEN    16
#define NULL_LEN   0xffffffffu
#define KEY_KEEP   1024 /* bytes of an oversized key a truncated dead letter keeps */
#define HDR_MARGIN 1024 /* record and header framing a size estimate leaves room for */

struct jp_dlq_key_s {
    uint8_t enc[32], nonce[32];
    char id[JP_DLQ_KEY_ID_LEN + 1];
};

/* ---- keys ------------------------------------------------------------------ */

static void hmac(const uint8_t *key, size_t klen, const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

jp_dlq_key_t *jp_dlq_key_new(const char *hex, char *errstr, size_t errstr_size)
{
    uint8_t master[32];
    if (!hex || strlen(hex) != 64) {
        jp_err_set(errstr, errstr_size, "the dead-letter key must be 64 hex digits (32 bytes)");
        return NULL;
    }
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(master, sizeof(master));
            jp_err_set(errstr, errstr_size, "the dead-letter key must be 64 hex digits");
            return NULL;
        }
        master[i] = (uint8_t)(hi << 4 | lo);
    }
    jp_dlq_key_t *k = calloc(1, sizeof(*k));
    if (!k) {
        OPENSSL_cleanse(master, sizeof(master));
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    static const char enc[] = "jackpot dlq encryption v1", non[] = "jackpot dlq nonce v1",
                      id[] = "jackpot dlq key id v1";
    uint8_t d[32];
    hmac(master, 32, enc, sizeof(enc) - 1, k->enc);
    hmac(master, 32, non, sizeof(non) - 1, k->nonce);
    hmac(master, 32, id, sizeof(id) - 1, d);
    for (int i = 0; i < JP_DLQ_KEY_ID_LEN / 2; i++)
        snprintf(k->id + 2 * i, 3, "%02x", d[i]);
    OPENSSL_cleanse(master, sizeof(master));
    return k;
}

void jp_dlq_key_free(jp_dlq_key_t *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

const char *jp_dlq_key_id(const jp_dlq_key_t *k)
{
    return k->id;
}

/* ---- a growable byte buffer ------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} buf_t;

static void put(buf_t *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n && data)
        memcpy(b->p + b->len, data, n);
    else if (n)
        memset(b->p + b->len, 0, n); /* reserved, written by the caller */
    b->len += n;
}

static void put_u32(buf_t *b, uint32_t u)
{
    uint8_t x[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    put(b, x, 4);
}

static void put_u64(buf_t *b, uint64_t u)
{
    put_u32(b, (uint32_t)(u >> 32));
    put_u32(b, (uint32_t)u);
}

/* A length-prefixed field; data NULL: null. */
static void put_field(buf_t *b, const void *data, size_t n)
{
    put_u32(b, data ? (uint32_t)n : NULL_LEN);
    if (data)
        put(b, data, n);
}

static void associated_data(buf_t *b, const char *key_id, const char *topic, int partition,
                            int64_t offset)
{
    static const char tag[] = "jackpot-dlq-v1";
    put(b, tag, sizeof(tag) - 1);
    put(b, key_id, JP_DLQ_KEY_ID_LEN);
    put(b, topic, strlen(topic) + 1);
    put_u64(b, (uint64_t)(int64_t)partition);
    put_u64(b, (uint64_t)offset);
}

/* ---- building ------------------------------------------------------------------ */

static void add_num(rd_kafka_headers_t *h, const char *name, int64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    rd_kafka_header_add(h, name, -1, num, -1);
}

static rd_kafka_headers_t *clear_headers(const jp_dlq_key_t *k, const jp_dlq_source_t *src)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    rd_kafka_header_add(h, "jp.error.class", -1, src->error_class, -1);
    rd_kafka_header_add(h, "jp.error.message", -1, src->message, -1);
    rd_kafka_header_add(h, "jp.source.topic", -1, src->topic, -1);
    add_num(h, "jp.source.partition", src->partition);
    add_num(h, "jp.source.offset", src->offset);
    add_num(h, "jp.source.timestamp", src->timestamp_ms);
    rd_kafka_header_add(h, JP_DLQ_HDR_KEY, -1, k->id, -1);
    return h;
}

/* AES-256-GCM of plain under a synthetic nonce, appended to out after the
 * magic. 0 or -1. */
static int seal(const jp_dlq_key_t *k, const buf_t *aad, const buf_t *plain, buf_t *out)
{
    uint8_t mac[32];
    buf_t both = {0};
    put(&both, aad->p, aad->len);
    put(&both, plain->p, plain->len);
    if (both.oom)
        return -1;
    hmac(k->nonce, sizeof(k->nonce), both.p, both.len, mac);
    free(both.p);
    put(out, MAGIC, MAGIC_LEN);
    put(out, mac, NONCE_LEN);
    size_t at = out->len;
    put(out, NULL, plain->len + TAG_LEN);
    if (out->oom)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0,
        ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
             EVP_EncryptInit_ex(c, NULL, NULL, k->enc, mac) == 1 &&
             EVP_EncryptUpdate(c, NULL, &n, aad->p, (int)aad->len) == 1 &&
             EVP_EncryptUpdate(c, out->p + at, &n, plain->p, (int)plain->len) == 1 &&
             EVP_EncryptFinal_ex(c, out->p + at + n, &n) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out->p + at + plain->len) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static int is_country_key(const void *key, size_t len)
{
    const char *s = key;
    return key && len == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

static size_t headers_size(const rd_kafka_headers_t *h, size_t *count)
{
    const char *name;
    const void *v;
    size_t n, total = 0, i = 0;
    for (; h && rd_kafka_header_get_all(h, i, &name, &v, &n) == 0; i++)
        total += strlen(name) + n + 16;
    if (count)
        *count = i;
    return total;
}

int jp_dlq_build(const jp_dlq_key_t *k, const jp_dlq_source_t *src, const void *key, size_t key_len,
                 const void *value, size_t value_len, const rd_kafka_headers_t *orig_headers,
                 size_t max_bytes, jp_dlq_record_t *out)
{
    memset(out, 0, sizeof(*out));
    out->headers = clear_headers(k, src);
    size_t n_orig = 0, clear = headers_size(out->headers, NULL) + 64;
    size_t orig = headers_size(orig_headers, &n_orig);
    size_t overhead = MAGIC_LEN + NONCE_LEN + TAG_LEN + 12 + HDR_MARGIN + clear;
    size_t kept_key = key_len, kept_value = value_len;
    int truncate = max_bytes && overhead + 2 * key_len + value_len + orig > max_bytes;
    if (truncate) {
        if (kept_key > KEY_KEEP)
            kept_key = KEY_KEEP;
        size_t room = max_bytes > overhead + 2 * kept_key ? max_bytes - overhead - 2 * kept_key : 0;
        if (kept_value > room)
            kept_value = room;
        char note[160];
        snprintf(note, sizeof(note), "value_bytes=%zu,kept=%zu,key_bytes=%zu,headers_dropped=%zu",
                 value_len, kept_value, key_len, n_orig);
        rd_kafka_header_add(out->headers, JP_DLQ_HDR_TRUNC, -1, note, -1);
        out->truncated = 1;
    }
    buf_t plain = {0}, aad = {0}, env = {0};
    put_field(&plain, key ? key : NULL, kept_key);
    put_field(&plain, value ? value : NULL, kept_value);
    size_t n_hdrs = truncate ? 0 : n_orig;
    put_u32(&plain, (uint32_t)n_hdrs);
    for (size_t i = 0; i < n_hdrs; i++) {
        const char *name;
        const void *v;
        size_t n;
        rd_kafka_header_get_all(orig_headers, i, &name, &v, &n);
        put_field(&plain, name, strlen(name));
        put_field(&plain, v, n);
    }
    associated_data(&aad, k->id, src->topic, src->partition, src->offset);
    int rc = plain.oom || aad.oom ? -1 : seal(k, &aad, &plain, &env);
    OPENSSL_cleanse(plain.p, plain.len);
    free(plain.p);
    free(aad.p);
    if (rc != 0 || env.oom) {
        free(env.p);
        rd_kafka_headers_destroy(out->headers);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->value = env.p;
    out->value_len = env.len;
    if (is_country_key(key, key_len)) {
        out->key = key;
        out->key_len = key_len;
    }
    return 0;
}

int jp_dlq_build_stub(const rd_kafka_headers_t *refused, size_t refused_value_len,
                      jp_dlq_record_t *out)
{
    memset(out, 0, sizeof(*out));
    out->headers = rd_kafka_headers_copy(refused);
    if (!out->headers)
        return -1;
    rd_kafka_header_remove(out->headers, JP_DLQ_HDR_TRUNC);
    char note[160];
    snprintf(note, sizeof(note), "value_bytes=%zu,kept=0,refused_by_broker=1", refused_value_len);
    rd_kafka_header_add(out->headers, JP_DLQ_HDR_TRUNC, -1, note, -1);
    out->truncated = 1;
    return 0;
}

/* ---- opening -------------------------------------------------------------------- */

/* A clear header as a string (NUL-terminated into buf); -1 if absent. */
static int header_str(const rd_kafka_headers_t *h, const char *name, char *buf, size_t size)
{
    const void *v;
    size_t n;
    if (!h || rd_kafka_header_get_last(h, name, &v, &n) != 0 || !v)
        return -1;
    if (n >= size)
        n = size - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return 0;
}

typedef struct {
    const uint8_t *p;
    size_t len, at;
    int bad;
} reader_t;

static uint32_t get_u32(reader_t *r)
{
    if (r->bad || r->len - r->at < 4) {
        r->bad = 1;
        return 0;
    }
    const uint8_t *p = r->p + r->at;
    r->at += 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A length-prefixed field, copied (NUL-terminated); *is_null set. */
static uint8_t *get_field(reader_t *r, size_t *len, int *is_null)
{
    uint32_t n = get_u32(r);
    *len = 0;
    *is_null = !r->bad && n == NULL_LEN;
    if (r->bad || *is_null)
        return NULL;
    if (r->len - r->at < n) {
        r->bad = 1;
        return NULL;
    }
    uint8_t *copy = malloc((size_t)n + 1);
    if (!copy) {
        r->bad = 1;
        return NULL;
    }
    memcpy(copy, r->p + r->at, n);
    copy[n] = '\0';
    r->at += n;
    *len = n;
    return copy;
}

static int parse_plain(const uint8_t *p, size_t len, jp_dlq_opened_t *o)
{
    reader_t r = {p, len, 0, 0};
    o->key = get_field(&r, &o->key_len, &o->key_null);
    o->value = get_field(&r, &o->value_len, &o->value_null);
    uint32_t n = get_u32(&r);
    if (r.bad || n > len / 8)
        return -1;
    o->header_names = calloc(n ? n : 1, sizeof(*o->header_names));
    o->header_values = calloc(n ? n : 1, sizeof(*o->header_values));
    o->header_lens = calloc(n ? n : 1, sizeof(*o->header_lens));
    if (!o->header_names || !o->header_values || !o->header_lens)
        return -1;
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        size_t nl;
        int null_name, null_value;
        o->header_names[i] = (char *)get_field(&r, &nl, &null_name);
        o->header_values[i] = get_field(&r, &o->header_lens[i], &null_value);
        o->n_headers = i + 1;
        if (null_name)
            r.bad = 1;
    }
    return r.bad || r.at != len ? -1 : 0;
}

int jp_dlq_open(const jp_dlq_key_t *const *keys, size_t n_keys, const void *value, size_t len,
                const rd_kafka_headers_t *headers, jp_dlq_opened_t *o, char *errstr,
                size_t errstr_size)
{
    memset(o, 0, sizeof(*o));
    char num[32];
    if (header_str(headers, "jp.error.class", o->error_class, sizeof(o->error_class)) != 0 ||
        header_str(headers, "jp.source.topic", o->topic, sizeof(o->topic)) != 0) {
        jp_err_set(errstr, errstr_size, "not a dead letter (no jp.error.class / jp.source.topic)");
        return -1;
    }
    header_str(headers, "jp.error.message", o->message, sizeof(o->message));
    header_str(headers, JP_DLQ_HDR_TRUNC, o->truncated, sizeof(o->truncated));
    o->partition = header_str(headers, "jp.source.partition", num, sizeof(num)) == 0
                       ? (int)strtol(num, NULL, 10)
                       : -1;
    o->offset = header_str(headers, "jp.source.offset", num, sizeof(num)) == 0
                    ? strtoll(num, NULL, 10)
                    : -1;
    o->timestamp_ms = header_str(headers, "jp.source.timestamp", num, sizeof(num)) == 0
                          ? strtoll(num, NULL, 10)
                          : -1;
    header_str(headers, JP_DLQ_HDR_KEY, o->key_id, sizeof(o->key_id));
    if (!value || len == 0)
        return 0; /* a stub: headers only */
    const jp_dlq_key_t *k = NULL;
    for (size_t i = 0; i < n_keys && !k; i++)
        if (keys[i] && strcmp(keys[i]->id, o->key_id) == 0)
            k = keys[i];
    if (!k) {
        jp_err_set(errstr, errstr_size, "encrypted with key %s, which was not given",
                   *o->key_id ? o->key_id : "(none)");
        return -1;
    }
    const uint8_t *p = value;
    if (len < MAGIC_LEN + NONCE_LEN + TAG_LEN || memcmp(p, MAGIC, MAGIC_LEN) != 0) {
        jp_err_set(errstr, errstr_size, "not a dead-letter envelope");
        return -1;
    }
    size_t clen = len - MAGIC_LEN - NONCE_LEN - TAG_LEN;
    const uint8_t *nonce = p + MAGIC_LEN, *ct = nonce + NONCE_LEN, *tag = ct + clen;
    buf_t aad = {0};
    associated_data(&aad, k->id, o->topic, o->partition, o->offset);
    uint8_t *plain = malloc(clen ? clen : 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = plain && !aad.oom && c &&
                    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
                    EVP_DecryptInit_ex(c, NULL, NULL, k->enc, nonce) == 1 &&
                    EVP_DecryptUpdate(c, NULL, &n, aad.p, (int)aad.len) == 1 &&
                    EVP_DecryptUpdate(c, plain, &n, ct, (int)clen) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)tag) == 1 &&
                    EVP_DecryptFinal_ex(c, plain + n, &n) == 1;
    EVP_CIPHER_CTX_free(c);
    free(aad.p);
    if (!ok) {
        free(plain);
        jp_err_set(errstr, errstr_size,
                   "the envelope does not authenticate (altered, or not from %s [%d] offset %lld)",
                   o->topic, o->partition, (long long)o->offset);
        return -1;
    }
    int rc = parse_plain(plain, clen, o);
    OPENSSL_cleanse(plain, clen);
    free(plain);
    if (rc != 0) {
        jp_dlq_opened_free(o);
        jp_err_set(errstr, errstr_size, "the envelope's content is malformed");
        return -1;
    }
    o->has_envelope = 1;
    return 0;
}

void jp_dlq_opened_free(jp_dlq_opened_t *o)
{
    if (!o)
        return;
    if (o->key)
        OPENSSL_cleanse(o->key, o->key_len);
    if (o->value)
        OPENSSL_cleanse(o->value, o->value_len);
    free(o->key);
    free(o->value);
    for (size_t i = 0; i < o->n_headers; i++) {
        free(o->header_names[i]);
        free(o->header_values[i]);
    }
    free(o->header_names);
    free(o->header_values);
    free(o->header_lens);
    memset(o, 0, sizeof(*o));
}
