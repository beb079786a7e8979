/*
 * jp_avro_plan: compiled Avro decoders and encoders for typed C structs.
 *
 * A plan is compiled once per (writer schema, reader schema + C layout) and
 * then executed per record: a flat list of ops per block ("read a long into
 * offset X", "skip a string", "set the default", "remap the enum through
 * table T", ...), without hashing, name lookups or allocation per field.
 * Resolution follows the Avro specification through the rules in
 * jp_avro_schema.h (one implementation shared with the registry's
 * compatibility checker), so a plan compiles iff jp_avro_schema_can_read
 * accepts the pair.
 *
 * C representation of Avro values (the reader's layout):
 *   null -> nothing; boolean -> uint8_t/bool; int -> int32_t; long -> int64_t;
 *   float -> float; double -> double; enum -> int32_t-sized C enum (reader
 *   symbol index); string, bytes, fixed -> jp_avro_str_t; record -> nested
 *   struct (jp_avro_layout_t); array -> jp_avro_array_t; map -> jp_avro_map_t;
 *   ["null", T] or [T, "null"] -> T plus a uint8_t presence flag
 *   (1 = the non-null branch). Other reader unions are not bindable.
 *
 * Memory contract of decoded values:
 *   - strings/bytes are zero-copy by default: ptr points into the input
 *     buffer (NOT NUL-terminated), so the buffer (e.g. the Kafka message)
 *     must outlive the decoded struct; defaults point into the plan, which
 *     must outlive it too. With JP_AVRO_PLAN_COPY_STRINGS every string is
 *     copied into the arena and NUL-terminated.
 *   - arrays and maps are allocated in the caller's arena; the struct is
 *     valid until jp_avro_arena_reset/free. Decoding never calls malloc once
 *     the arena has grown to its working size.
 * A plan is immutable after compile; executing it from several threads at
 * once is safe (each with its own arena). The schemas it was compiled from
 * must outlive it.
 */
#ifndef JP_AVRO_PLAN_H
#define JP_AVRO_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_avro_schema.h"

/* Reasons a record cannot be decoded or encoded; shared with jp_serde (which
 * adds the framing and registry reasons). JP_SERDE_OK is 0. */
typedef enum {
    JP_SERDE_OK = 0,
    JP_SERDE_NOT_FRAMED,           /* no magic byte 0 + 4-byte schema id */
    JP_SERDE_UNKNOWN_SCHEMA_ID,    /* the registry does not know the id */
    JP_SERDE_REGISTRY_UNAVAILABLE, /* registry unreachable; retried with backoff */
    JP_SERDE_TRUNCATED,            /* input ends inside a value */
    JP_SERDE_MALFORMED,            /* bad varint, negative length, bad union index, bad
                                      boolean, trailing bytes */
    JP_SERDE_INCOMPATIBLE,         /* the writer schema cannot be resolved to the reader */
    JP_SERDE_OUT_OF_RANGE,         /* int overflow, enum index out of range */
    JP_SERDE_INVALID,              /* caller error: bad argument, layout/schema mismatch,
                                      unparsable schema */
    JP_SERDE_NO_MEMORY,
} jp_serde_err_t;

#define JP_SERDE_ERR__COUNT (JP_SERDE_NO_MEMORY + 1)

/* "NOT_FRAMED", ... ; "?" for values outside the enum. */
const char *jp_serde_err_name(jp_serde_err_t e);

/* ---- C representation --------------------------------------------------- */

typedef struct jp_avro_str_s {
    const char *ptr; /* not NUL-terminated unless copied (see above) */
    size_t len;
} jp_avro_str_t;

typedef struct jp_avro_array_s {
    void *items; /* n elements of the item's C type */
    size_t n;
} jp_avro_array_t;

typedef struct jp_avro_map_s {
    jp_avro_str_t *keys;
    void *values; /* n values of the value's C type, values[i] belongs to keys[i] */
    size_t n;
} jp_avro_map_t;

typedef struct jp_avro_layout_s jp_avro_layout_t;

/* Binding of one reader record field to a struct member. */
typedef struct jp_avro_bind_s {
    const char *name;            /* schema field name */
    size_t offset;               /* offsetof the member */
    size_t size;                 /* sizeof the member (checked against the schema type) */
    const jp_avro_layout_t *sub; /* record layout of the field, or of the record inside
                                    its array/map/optional; NULL if none */
    long presence_offset;        /* optional (["null",T]) fields: offsetof a uint8_t flag; -1 */
} jp_avro_bind_t;

struct jp_avro_layout_s {
    const char *name; /* record full name, for messages */
    size_t size;      /* sizeof the struct */
    const jp_avro_bind_t *fields;
    size_t n_fields;
};

#define JP_AVRO_MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#define JP_AVRO_BIND(type, member)                                                                 \
    {                                                                                              \
#member, offsetof(type, member), JP_AVRO_MEMBER_SIZE(type, member), NULL, -1               \
    }
#define JP_AVRO_BIND_SUB(type, member, layout)                                                     \
    {                                                                                              \
#member, offsetof(type, member), JP_AVRO_MEMBER_SIZE(type, member), &(layout), -1          \
    }
#define JP_AVRO_BIND_OPT(type, member, flag)                                                       \
    {                                                                                              \
#member, offsetof(type, member), JP_AVRO_MEMBER_SIZE(type, member), NULL,                  \
            (long)offsetof(type, flag)                                                             \
    }
#define JP_AVRO_LAYOUT(name, type, fields)                                                         \
    {                                                                                              \
        name, sizeof(type), fields, sizeof(fields) / sizeof((fields)[0])                           \
    }

/* ---- arena --------------------------------------------------------------- */

typedef struct jp_avro_arena_block_s jp_avro_arena_block_t;
typedef struct jp_avro_arena_s {
    jp_avro_arena_block_t *head;
} jp_avro_arena_t;

void jp_avro_arena_init(jp_avro_arena_t *a);
/* 16-byte aligned, zeroed memory; NULL on allocation failure. */
void *jp_avro_arena_alloc(jp_avro_arena_t *a, size_t n);
/* Forgets every allocation but keeps the largest block for reuse. */
void jp_avro_arena_reset(jp_avro_arena_t *a);
void jp_avro_arena_free(jp_avro_arena_t *a);

/* ---- output buffer -------------------------------------------------------- */

typedef struct jp_avro_buf_s {
    unsigned char *data;
    size_t len, cap;
} jp_avro_buf_t;

/* Appends n bytes; -1 on allocation failure. */
int jp_avro_buf_append(jp_avro_buf_t *b, const void *data, size_t n);
/* Makes room for n more bytes (capacity doubles); 0, or -1 if out of memory. */
int jp_avro_buf_reserve(jp_avro_buf_t *b, size_t n);
void jp_avro_buf_free(jp_avro_buf_t *b);

/* ---- plans ----------------------------------------------------------------- */

typedef struct jp_avro_plan_s jp_avro_plan_t;

#define JP_AVRO_PLAN_COPY_STRINGS 0x1

/* Compiles the plan that reads data written with `writer` into the C layout
 * of `reader` (a record). NULL with *err = JP_SERDE_INCOMPATIBLE (cannot
 * resolve), JP_SERDE_INVALID (the layout does not fit the reader schema) or
 * JP_SERDE_NO_MEMORY, and the reason in errstr. */
jp_avro_plan_t *jp_avro_plan_compile(const jp_avro_node_t *writer, const jp_avro_node_t *reader,
                                     const jp_avro_layout_t *layout, jp_serde_err_t *err,
                                     char *errstr, size_t errstr_size);
void jp_avro_plan_free(jp_avro_plan_t *p);

/* The plan compiler's verdict on a schema pair without any C layout: 0 if
 * data written with `writer` can be decoded as `reader`, else -1 with *err
 * (INCOMPATIBLE, or INVALID for recursive reader types, which C structs
 * cannot hold) and the reason. Agrees with jp_avro_schema_can_read on every
 * non-recursive pair (tested on the compatibility table). */
int jp_avro_plan_check(const jp_avro_node_t *writer, const jp_avro_node_t *reader,
                       jp_serde_err_t *err, char *errstr, size_t errstr_size);

/* Decodes one Avro binary datum (the whole of buf[0..len)) into out, which is
 * zeroed first. flags: JP_AVRO_PLAN_COPY_STRINGS. */
jp_serde_err_t jp_avro_plan_decode(const jp_avro_plan_t *p, const void *buf, size_t len, void *out,
                                   jp_avro_arena_t *arena, int flags, char *errstr,
                                   size_t errstr_size);

/* Appends the Avro binary encoding of `in` to out. Only for a plan compiled
 * with writer == reader (an identity plan): JP_SERDE_INVALID otherwise.
 * JP_SERDE_OUT_OF_RANGE for an enum value outside the symbols or a fixed of
 * the wrong length. */
jp_serde_err_t jp_avro_plan_encode(const jp_avro_plan_t *p, const void *in, jp_avro_buf_t *out,
                                   char *errstr, size_t errstr_size);

#endif
