/*
 * jp_serde: Confluent Schema Registry wire format <-> typed C structs.
 *
 * Wire format: byte 0 = magic 0, bytes 1..4 = schema id (big-endian int32),
 * then one Avro binary datum written with that schema.
 *
 * Decoding: the writer schema is looked up by id, once; the result is
 * cached forever (ids are immutable). A miss asks the registry exactly once;
 * an unknown id is remembered (negative cache) and asked again only after a
 * per-id backoff (unknown_ttl_ms, doubling up to backoff_max_ms). When the
 * registry is unreachable every id lookup fails fast with
 * REGISTRY_UNAVAILABLE until the registry-wide backoff (backoff_min_ms,
 * doubling up to backoff_max_ms) has passed; cached ids keep decoding
 * meanwhile. Nothing here blocks or sleeps: "retry" means a later call asks
 * again. For each (writer id, reader) a jp_avro_plan is compiled once and
 * reused; an incompatible pair is remembered as INCOMPATIBLE.
 *
 * Readers: jp_serde_new registers the engine's events (reader id ==
 * jp_event_type_t, schemas compiled into the binary); jp_serde_add_reader
 * adds others (tests, tools).
 *
 * Encoding: the reader's own schema is the writer schema. On first use per
 * topic it is registered under "<topic>-value" (TopicNameStrategy) and the
 * id is cached (and the schema seeded into the id cache). Keys, when framed,
 * are the schema "string" under "<topic>-key".
 *
 * Decoded strings point into the input buffer unless
 * JP_AVRO_PLAN_COPY_STRINGS is in config.flags; arrays and maps live in the
 * caller's arena (see jp_avro_plan.h).
 *
 * Every failure returns a jp_serde_err_t (jp_avro_plan.h) with a reason in
 * errstr. Not thread-safe: one jp_serde_t per thread (plans are immutable,
 * but the caches are not locked).
 */
#ifndef JP_SERDE_H
#define JP_SERDE_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_avro_plan.h"
#include "serde/jp_events.h"

/* The registry as the serde sees it; the HTTP client plugs in through
 * jp_serde_registry_client(), tests through their own functions. */
typedef struct jp_serde_registry_s {
    void *ctx;
    /* JP_SERDE_OK with *json_out malloc'd (the serde frees it),
     * JP_SERDE_UNKNOWN_SCHEMA_ID if the registry has no such id,
     * JP_SERDE_REGISTRY_UNAVAILABLE if it could not be asked. */
    jp_serde_err_t (*lookup_by_id)(void *ctx, int32_t id, char **json_out, char *errstr,
                                   size_t errstr_size);
    /* JP_SERDE_OK with *id_out, JP_SERDE_INCOMPATIBLE if the subject's
     * compatibility level refuses it, JP_SERDE_REGISTRY_UNAVAILABLE, or
     * JP_SERDE_INVALID if the registry rejected it otherwise. */
    jp_serde_err_t (*register_schema)(void *ctx, const char *subject, const char *schema_json,
                                      int32_t *id_out, char *errstr, size_t errstr_size);
} jp_serde_registry_t;

typedef struct jp_serde_config_s {
    jp_serde_registry_t registry; /* functions may be NULL: lookups then fail UNAVAILABLE */
    /* Monotonic milliseconds for backoff only (never for data); NULL uses
     * CLOCK_MONOTONIC. Tests inject a fake clock. */
    int64_t (*now_ms)(void *clock_ctx);
    void *clock_ctx;
    int64_t backoff_min_ms; /* registry unavailable: first wait; 0 -> 100 */
    int64_t backoff_max_ms; /* cap of every backoff; 0 -> 30000 */
    int64_t unknown_ttl_ms; /* unknown id: first negative-cache period; 0 -> 1000 */
    int flags;              /* JP_AVRO_PLAN_COPY_STRINGS */
} jp_serde_config_t;

typedef struct jp_serde_s jp_serde_t;

typedef struct jp_serde_stats_s {
    uint64_t registry_lookups;   /* lookup_by_id calls */
    uint64_t registry_registers; /* register_schema calls */
    uint64_t plans_compiled;
    uint64_t decoded, decode_errors;
} jp_serde_stats_t;

/* NULL with errstr if the built-in schemas cannot be loaded. */
jp_serde_t *jp_serde_new(const jp_serde_config_t *config, char *errstr, size_t errstr_size);
void jp_serde_free(jp_serde_t *s);

/* Adds a reader (schema JSON + C layout of its root record). Returns the
 * reader id (>= JP_EVENT__COUNT) or -1 with errstr. */
int jp_serde_add_reader(jp_serde_t *s, const char *schema_json, size_t len,
                        const jp_avro_layout_t *layout, char *errstr, size_t errstr_size);

/* Decodes one framed record into out (a struct of the reader's layout). */
jp_serde_err_t jp_serde_decode(jp_serde_t *s, int reader, const void *buf, size_t len, void *out,
                               jp_avro_arena_t *arena, char *errstr, size_t errstr_size);

/* Appends the framed encoding of `in` to out, registering the reader's
 * schema under "<topic>-value" on first use. */
jp_serde_err_t jp_serde_encode(jp_serde_t *s, int reader, const char *topic, const void *in,
                               jp_avro_buf_t *out, char *errstr, size_t errstr_size);

/* Appends key as a Confluent-framed Avro "string" (the schema registered
 * under "<topic>-key" on first use, TopicNameStrategy), the key format of
 * Confluent's serializers for string keys. */
jp_serde_err_t jp_serde_encode_key(jp_serde_t *s, const char *topic, const void *key, size_t len,
                                   jp_avro_buf_t *out, char *errstr, size_t errstr_size);
/* A record key as text: a key in the Confluent frame (magic byte 0, schema
 * id) whose datum is exactly one Avro string is unwrapped (returns 1);
 * any other key - a plain string - is the text itself (returns 0). No
 * registry lookup: a string datum reads the same under any string schema. */
int jp_serde_key_string(const void *key, size_t len, const void **str, size_t *str_len);

/* Seeds the id cache with a known schema (e.g. one just registered by
 * someone else); JP_SERDE_INVALID if the JSON is not a schema. */
jp_serde_err_t jp_serde_add_schema(jp_serde_t *s, int32_t id, const char *schema_json, char *errstr,
                                   size_t errstr_size);

/* Splits the frame: NOT_FRAMED if buf is shorter than 5 bytes or the magic
 * byte is not 0. */
jp_serde_err_t jp_serde_frame_parse(const void *buf, size_t len, int32_t *id,
                                    const unsigned char **payload, size_t *payload_len);
/* Appends magic byte + big-endian id; -1 on allocation failure. */
int jp_serde_frame_write(jp_avro_buf_t *out, int32_t id);

void jp_serde_stats(const jp_serde_t *s, jp_serde_stats_t *out);

#endif
