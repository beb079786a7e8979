/*
 * jp_bytes: the endian-stable byte format every stateful model routine
 * serializes to (state stores, the model registry).
 *
 * Design: a growable writer and a bounds-checked reader. Integers are
 * little-endian fixed width; doubles are their IEEE-754 bit pattern as a
 * little-endian u64, so a round trip is exact (including -0.0 and NaN
 * payloads). Each serialized object starts with a 4-byte tag and a u16
 * version written by jp_bytes_put_header; readers check both with
 * jp_bytes_get_header and refuse unknown versions.
 *
 * Errors are sticky: after the first failed read (truncation, bad header)
 * every later read returns zero and jp_bytes_reader_ok() is false, so
 * deserializers read everything and check once at the end.
 */
#ifndef JP_BYTES_H
#define JP_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct jp_bytes_writer_s {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int oom;   /* set when an allocation failed; further writes are ignored */
    int fixed; /* writing into the caller's buffer: never grown or freed */
} jp_bytes_writer_t;

typedef struct jp_bytes_reader_s {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int err; /* sticky: set by the first failed read */
} jp_bytes_reader_t;

void jp_bytes_writer_init(jp_bytes_writer_t *w);
/* A writer over the caller's buffer of cap bytes (for hot paths that must
 * not allocate): writing past cap sets oom, as a failed allocation does.
 * The bytes are in buf, w->len of them; never take or free it. */
void jp_bytes_writer_init_fixed(jp_bytes_writer_t *w, uint8_t *buf, size_t cap);
/* Releases the buffer. */
void jp_bytes_writer_free(jp_bytes_writer_t *w);
/* Hands the buffer to the caller (free() it); NULL if an allocation failed. */
uint8_t *jp_bytes_writer_take(jp_bytes_writer_t *w, size_t *len);

void jp_bytes_put_u8(jp_bytes_writer_t *w, uint8_t v);
void jp_bytes_put_u16(jp_bytes_writer_t *w, uint16_t v);
void jp_bytes_put_u32(jp_bytes_writer_t *w, uint32_t v);
void jp_bytes_put_u64(jp_bytes_writer_t *w, uint64_t v);
void jp_bytes_put_i64(jp_bytes_writer_t *w, int64_t v);
void jp_bytes_put_f64(jp_bytes_writer_t *w, double v);
void jp_bytes_put_raw(jp_bytes_writer_t *w, const void *p, size_t n);
/* Zigzag varint (as Avro's long: 1 byte for -64..63, at most 10): for
 * fields that are usually small or zero. */
void jp_bytes_put_varint(jp_bytes_writer_t *w, int64_t v);
/* tag: exactly 4 characters, e.g. "RIDG". */
void jp_bytes_put_header(jp_bytes_writer_t *w, const char tag[4], uint16_t version);

void jp_bytes_reader_init(jp_bytes_reader_t *r, const void *buf, size_t len);
uint8_t jp_bytes_get_u8(jp_bytes_reader_t *r);
uint16_t jp_bytes_get_u16(jp_bytes_reader_t *r);
uint32_t jp_bytes_get_u32(jp_bytes_reader_t *r);
uint64_t jp_bytes_get_u64(jp_bytes_reader_t *r);
int64_t jp_bytes_get_i64(jp_bytes_reader_t *r);
double jp_bytes_get_f64(jp_bytes_reader_t *r);
/* Copies n bytes into p (zero-fills p on error). */
void jp_bytes_get_raw(jp_bytes_reader_t *r, void *p, size_t n);
/* Reads what jp_bytes_put_varint wrote; a varint longer than 10 bytes is
 * an error (sticky, as a truncation). */
int64_t jp_bytes_get_varint(jp_bytes_reader_t *r);
/* Checks the tag and returns the version (0 and sets err on a tag mismatch
 * or a version above max_version). */
uint16_t jp_bytes_get_header(jp_bytes_reader_t *r, const char tag[4], uint16_t max_version);
/* 1 when no read failed and every byte was consumed. */
int jp_bytes_reader_done(const jp_bytes_reader_t *r);
/* 1 when no read failed. */
int jp_bytes_reader_ok(const jp_bytes_reader_t *r);

#endif
