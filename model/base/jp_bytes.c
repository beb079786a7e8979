/*
 * jp_bytes: little-endian writer/reader. See jp_bytes.h for the format.
 * Bytes are assembled with shifts, never memcpy of host integers, so the
 * format is the same on every host.
 */
#include "model/base/jp_bytes.h"

#include <stdlib.h>
#include <string.h>

void jp_bytes_writer_init(jp_bytes_writer_t *w)
{
    memset(w, 0, sizeof(*w));
}

void jp_bytes_writer_init_fixed(jp_bytes_writer_t *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
    w->fixed = 1;
}

void jp_bytes_writer_free(jp_bytes_writer_t *w)
{
    if (!w->fixed)
        free(w->buf);
    memset(w, 0, sizeof(*w));
}

uint8_t *jp_bytes_writer_take(jp_bytes_writer_t *w, size_t *len)
{
    uint8_t *b = w->oom || w->fixed ? NULL : w->buf;
    if (w->oom && !w->fixed)
        free(w->buf);
    if (len)
        *len = b ? w->len : 0;
    memset(w, 0, sizeof(*w));
    return b;
}

static uint8_t *reserve(jp_bytes_writer_t *w, size_t n)
{
    if (w->oom)
        return NULL;
    if (w->len + n > w->cap) {
        if (w->fixed) {
            w->oom = 1;
            return NULL;
        }
        size_t cap = w->cap ? w->cap : 64;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->oom = 1;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void put_le(jp_bytes_writer_t *w, uint64_t v, size_t n)
{
    uint8_t *p = reserve(w, n);
    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void jp_bytes_put_u8(jp_bytes_writer_t *w, uint8_t v)
{
    put_le(w, v, 1);
}
void jp_bytes_put_u16(jp_bytes_writer_t *w, uint16_t v)
{
    put_le(w, v, 2);
}
void jp_bytes_put_u32(jp_bytes_writer_t *w, uint32_t v)
{
    put_le(w, v, 4);
}
void jp_bytes_put_u64(jp_bytes_writer_t *w, uint64_t v)
{
    put_le(w, v, 8);
}
void jp_bytes_put_i64(jp_bytes_writer_t *w, int64_t v)
{
    put_le(w, (uint64_t)v, 8);
}

void jp_bytes_put_f64(jp_bytes_writer_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    put_le(w, bits, 8);
}

void jp_bytes_put_raw(jp_bytes_writer_t *w, const void *p, size_t n)
{
    uint8_t *d = reserve(w, n);
    if (d && n)
        memcpy(d, p, n);
}

void jp_bytes_put_varint(jp_bytes_writer_t *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0); /* zigzag, without signed shifts */
    uint8_t tmp[10];
    size_t n = 0;
    while (z >= 0x80) {
        tmp[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    tmp[n++] = (uint8_t)z;
    jp_bytes_put_raw(w, tmp, n);
}

void jp_bytes_put_header(jp_bytes_writer_t *w, const char tag[4], uint16_t version)
{
    jp_bytes_put_raw(w, tag, 4);
    jp_bytes_put_u16(w, version);
}

void jp_bytes_reader_init(jp_bytes_reader_t *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}

static const uint8_t *take(jp_bytes_reader_t *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_le(jp_bytes_reader_t *r, size_t n)
{
    const uint8_t *p = take(r, n);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t jp_bytes_get_u8(jp_bytes_reader_t *r)
{
    return (uint8_t)get_le(r, 1);
}
uint16_t jp_bytes_get_u16(jp_bytes_reader_t *r)
{
    return (uint16_t)get_le(r, 2);
}
uint32_t jp_bytes_get_u32(jp_bytes_reader_t *r)
{
    return (uint32_t)get_le(r, 4);
}
uint64_t jp_bytes_get_u64(jp_bytes_reader_t *r)
{
    return get_le(r, 8);
}
int64_t jp_bytes_get_i64(jp_bytes_reader_t *r)
{
    return (int64_t)get_le(r, 8);
}

double jp_bytes_get_f64(jp_bytes_reader_t *r)
{
    uint64_t bits = get_le(r, 8);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

void jp_bytes_get_raw(jp_bytes_reader_t *r, void *p, size_t n)
{
    const uint8_t *s = take(r, n);
    if (s)
        memcpy(p, s, n);
    else if (n)
        memset(p, 0, n);
}

int64_t jp_bytes_get_varint(jp_bytes_reader_t *r)
{
    uint64_t z = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        const uint8_t *b = take(r, 1);
        if (!b)
            return 0;
        z |= (uint64_t)(*b & 0x7f) << shift;
        if (!(*b & 0x80))
            return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    r->err = 1;
    return 0;
}

uint16_t jp_bytes_get_header(jp_bytes_reader_t *r, const char tag[4], uint16_t max_version)
{
    char got[4];
    jp_bytes_get_raw(r, got, 4);
    uint16_t v = jp_bytes_get_u16(r);
    if (r->err || memcmp(got, tag, 4) != 0 || v == 0 || v > max_version) {
        r->err = 1;
        return 0;
    }
    return v;
}

int jp_bytes_reader_ok(const jp_bytes_reader_t *r)
{
    return !r->err;
}

int jp_bytes_reader_done(const jp_bytes_reader_t *r)
{
    return !r->err && r->pos == r->len;
}
