/*
 * jp_dlq: the dead-letter record format - what the engine writes to
 * <input topic><dlq suffix> and what `jackpot dlq show|replay` reads back.
 *
 * Privacy. Input records carry personal data (customer ids, emails,
 * postcodes) that the engine tokenizes before anything else sees it; a
 * dead letter must keep the original bytes for replay, so it keeps them
 * encrypted. The value of a dead letter is an envelope
 *     "JPD1" | nonce (12) | AES-256-GCM(original key, value, headers) | tag (16)
 * and its clear headers are only the engine's own, which never carry
 * input values: jp.error.class, jp.error.message, jp.source.topic,
 * jp.source.partition, jp.source.offset, jp.source.timestamp, jp.dlq.key
 * (the id of the key that encrypted it) and, when the dead letter could
 * not be written whole, jp.truncated. The record key is the original key
 * only when it is a 2-letter country code; any other key is in the
 * envelope alone. Without the key (`dead_letters.key_file`) a dead letter
 * reveals why and where a record was rejected, never what it said, so
 * deleting or rotating the key makes every dead letter written with it
 * unreadable (crypto-shredding).
 *
 * Keys. The configured 32-byte key is never used directly: HMAC-SHA256
 * derives an encryption key, a nonce key and the 16-hex-digit key id, so
 * the id (in every record, for rotation) reveals nothing of the key.
 *
 * Nonces are synthetic: HMAC(nonce key, associated data | plaintext),
 * truncated to 96 bits. The same record dead-lettered twice (a rewind
 * re-reads it) gives byte-identical dead letters - outputs stay
 * deterministic - and two different records never share a nonce unless
 * HMAC collides (they differ in source offset or content), which a
 * counter- or offset-derived nonce could not promise once a topic is
 * recreated. The associated data binds the envelope to its source topic,
 * partition and offset, so an envelope moved under other headers does not
 * open.
 *
 * Truncation. A dead letter larger than max_bytes (the producer's
 * message.max.bytes) is written truncated: the original headers are
 * dropped, the key and value are cut so that the record fits, and
 * jp.truncated says what was kept ("value_bytes=N,kept=K,key_bytes=M,
 * headers_dropped=H"). The original can still be fetched from its source
 * topic, partition and offset while the input retains it.
 */
#ifndef JP_DLQ_H
#define JP_DLQ_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define JP_DLQ_KEY_ID_LEN 16 /* hex digits */
#define JP_DLQ_HDR_KEY    "jp.dlq.key"
#define JP_DLQ_HDR_TRUNC  "jp.truncated"

typedef struct jp_dlq_key_s jp_dlq_key_t;

/* From the secret's text: exactly 64 hex digits. NULL with errstr (which
 * never quotes the secret). */
jp_dlq_key_t *jp_dlq_key_new(const char *hex, char *errstr, size_t errstr_size);
void jp_dlq_key_free(jp_dlq_key_t *k);
/* NUL-terminated JP_DLQ_KEY_ID_LEN hex digits. */
const char *jp_dlq_key_id(const jp_dlq_key_t *k);

/* Where a dead letter comes from and why. */
typedef struct jp_dlq_source_s {
    const char *error_class, *message; /* message names fields, never values */
    const char *topic;
    int partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1: none */
} jp_dlq_source_t;

/* A dead letter ready to produce: the caller owns value (free) and
 * headers (rd_kafka_headers_destroy, or hand them to the producer). */
typedef struct jp_dlq_record_s {
    uint8_t *value;
    size_t value_len;
    const void *key; /* the original key when it is a country code, else NULL */
    size_t key_len;
    rd_kafka_headers_t *headers;
    int truncated;
} jp_dlq_record_t;

/* Builds the dead letter of one input record (orig_headers may be NULL).
 * max_bytes bounds the whole record; 0 or -1 (out of memory). */
int jp_dlq_build(const jp_dlq_key_t *k, const jp_dlq_source_t *src, const void *key, size_t key_len,
                 const void *value, size_t value_len, const rd_kafka_headers_t *orig_headers,
                 size_t max_bytes, jp_dlq_record_t *out);

/* A dead letter with no envelope at all, from the clear headers of one
 * the broker refused (a topic max.message.bytes below the producer's):
 * jp.truncated says the whole value was dropped. headers is copied. */
int jp_dlq_build_stub(const rd_kafka_headers_t *refused, size_t refused_value_len,
                      jp_dlq_record_t *out);

/* A dead letter opened with its key. */
typedef struct jp_dlq_opened_s {
    char error_class[64], message[256], topic[256], key_id[JP_DLQ_KEY_ID_LEN + 1];
    char truncated[128]; /* jp.truncated, "" if whole */
    int partition;
    int64_t offset, timestamp_ms;
    int has_envelope;     /* 0 for a stub: nothing to replay */
    uint8_t *key, *value; /* NULL when absent; malloc'd */
    size_t key_len, value_len;
    int key_null, value_null;
    size_t n_headers; /* the original headers */
    char **header_names;
    uint8_t **header_values; /* NULL for a null header value */
    size_t *header_lens;
} jp_dlq_opened_t;

/* Opens a dead letter (its value and headers as consumed) with whichever
 * of keys[0..n_keys) its jp.dlq.key names. 0, or -1 with errstr: not a
 * dead letter, no key with that id, or an envelope that fails
 * authentication (altered, or moved under other headers). */
int jp_dlq_open(const jp_dlq_key_t *const *keys, size_t n_keys, const void *value, size_t len,
                const rd_kafka_headers_t *headers, jp_dlq_opened_t *out, char *errstr,
                size_t errstr_size);
void jp_dlq_opened_free(jp_dlq_opened_t *o);

#endif
