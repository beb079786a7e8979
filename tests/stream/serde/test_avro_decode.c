/*
 * jp_avro_plan: the decoder on hand-built Avro bytes (every type, every
 * resolution rule of the specification, every failure reason a plan can
 * report), the encoder against the same hand-built bytes, and the string
 * ownership modes. Expected values are computed by hand from the encoding
 * rules (zigzag varints, little-endian IEEE floats, block-encoded arrays).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serde/jp_avro_plan.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct {
    jp_avro_schema_t *w, *r;
    jp_avro_plan_t *plan;
} pair_t;

static jp_avro_schema_t *parse(const char *json)
{
    char err[256];
    jp_avro_schema_t *s = jp_avro_schema_parse(json, strlen(json), err, sizeof err);
    if (!s)
        fail_msg("parse: %s\n%s", err, json);
    return s;
}

static pair_t compile(const char *writer, const char *reader, const jp_avro_layout_t *layout)
{
    pair_t p = {parse(writer), reader ? parse(reader) : NULL, NULL};
    jp_avro_schema_t *r = p.r ? p.r : p.w;
    jp_serde_err_t err;
    char why[256];
    p.plan = jp_avro_plan_compile(jp_avro_schema_root(p.w), jp_avro_schema_root(r), layout, &err,
                                  why, sizeof why);
    if (!p.plan)
        fail_msg("compile failed (%s): %s", jp_serde_err_name(err), why);
    return p;
}

static jp_serde_err_t compile_err(const char *writer, const char *reader,
                                  const jp_avro_layout_t *layout, char *why, size_t why_size)
{
    jp_avro_schema_t *w = parse(writer), *r = parse(reader);
    jp_serde_err_t err = JP_SERDE_OK;
    jp_avro_plan_t *plan = jp_avro_plan_compile(jp_avro_schema_root(w), jp_avro_schema_root(r),
                                                layout, &err, why, why_size);
    assert_null(plan);
    jp_avro_schema_free(w);
    jp_avro_schema_free(r);
    return err;
}

static void pair_free(pair_t *p)
{
    jp_avro_plan_free(p->plan);
    jp_avro_schema_free(p->w);
    jp_avro_schema_free(p->r);
}

static jp_serde_err_t decode(const pair_t *p, const unsigned char *buf, size_t len, void *out,
                             jp_avro_arena_t *arena)
{
    char why[256];
    return jp_avro_plan_decode(p->plan, buf, len, out, arena, 0, why, sizeof why);
}

static int str_is(jp_avro_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* ---- every type ----------------------------------------------------------- */

typedef struct {
    int32_t x;
} inner_t;

static const jp_avro_bind_t inner_binds[] = {JP_AVRO_BIND(inner_t, x)};
static const jp_avro_layout_t inner_layout = JP_AVRO_LAYOUT("Inner", inner_t, inner_binds);

typedef struct {
    uint8_t n; /* bound to the null field: never written */
    uint8_t b;
    int32_t i;
    int64_t l;
    float f;
    double d;
    jp_avro_str_t by;
    jp_avro_str_t s;
    inner_t rec;
    int32_t e;
    jp_avro_array_t arr; /* int64_t */
    jp_avro_map_t map;   /* jp_avro_str_t */
    uint8_t has_u;
    int64_t u;
    jp_avro_str_t fx;
} all_t;

static const jp_avro_bind_t all_binds[] = {
    JP_AVRO_BIND(all_t, n),
    JP_AVRO_BIND(all_t, b),
    JP_AVRO_BIND(all_t, i),
    JP_AVRO_BIND(all_t, l),
    JP_AVRO_BIND(all_t, f),
    JP_AVRO_BIND(all_t, d),
    JP_AVRO_BIND(all_t, by),
    JP_AVRO_BIND(all_t, s),
    JP_AVRO_BIND_SUB(all_t, rec, inner_layout),
    JP_AVRO_BIND(all_t, e),
    JP_AVRO_BIND(all_t, arr),
    JP_AVRO_BIND(all_t, map),
    JP_AVRO_BIND_OPT(all_t, u, has_u),
    JP_AVRO_BIND(all_t, fx),
};
static const jp_avro_layout_t all_layout = JP_AVRO_LAYOUT("All", all_t, all_binds);

static const char *ALL_SCHEMA =
    "{\"type\":\"record\",\"name\":\"All\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"rec\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"}]}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"map\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}}]}";

/* Hand-encoded All record. */
static const unsigned char ALL_BYTES[] = {
    /* n: null - nothing */
    0x01,                                           /* b: true */
    0x05,                                           /* i: -3 -> zigzag 5 */
    0xd8, 0x04,                                     /* l: 300 -> zigzag 600 */
    0x00, 0x00, 0xc0, 0x3f,                         /* f: 1.5f */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, /* d: -2.0 */
    0x04, 0x00, 0xff,                               /* by: {0x00, 0xff} */
    0x06, 'h',  0xc3, 0xa9,                         /* s: "hé" (3 UTF-8 bytes) */
    0x80, 0x01,                                     /* rec.x: 64 -> zigzag 128 */
    0x04,                                           /* e: C (index 2) */
    0x02, 0x02,                                     /* arr block 1: count 1, item 1 */
    0x01, 0x02, 0x01,                               /* arr block 2: count -1, 1 byte, item -1 */
    0x00,                                           /* arr end */
    0x02, 0x02, 'k',  0x02, 'v',  0x00,             /* map {"k": "v"} */
    0x02, 0x0e,                                     /* u: branch 1 (long), 7 */
    'a',  'b',  'c',                                /* fx */
};

static void check_all(const all_t *a)
{
    assert_int_equal(a->b, 1);
    assert_int_equal(a->i, -3);
    assert_int_equal(a->l, 300);
    assert_true(a->f == 1.5f);
    assert_true(a->d == -2.0);
    assert_int_equal(a->by.len, 2);
    assert_int_equal((unsigned char)a->by.ptr[0], 0x00);
    assert_int_equal((unsigned char)a->by.ptr[1], 0xff);
    assert_true(str_is(a->s, "h\xc3\xa9"));
    assert_int_equal(a->rec.x, 64);
    assert_int_equal(a->e, 2);
    assert_int_equal(a->arr.n, 2);
    assert_int_equal(((int64_t *)a->arr.items)[0], 1);
    assert_int_equal(((int64_t *)a->arr.items)[1], -1);
    assert_int_equal(a->map.n, 1);
    assert_true(str_is(a->map.keys[0], "k"));
    assert_true(str_is(((jp_avro_str_t *)a->map.values)[0], "v"));
    assert_int_equal(a->has_u, 1);
    assert_int_equal(a->u, 7);
    assert_true(str_is(a->fx, "abc"));
}

static void test_every_type(void **state)
{
    (void)state;
    pair_t p = compile(ALL_SCHEMA, NULL, &all_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    all_t a;
    assert_int_equal(decode(&p, ALL_BYTES, sizeof ALL_BYTES, &a, &arena), JP_SERDE_OK);
    check_all(&a);
    /* zero-copy: strings point into the input */
    assert_ptr_equal(a.s.ptr, (const char *)ALL_BYTES + 20);

    /* the null branch of u */
    unsigned char nul[sizeof ALL_BYTES];
    size_t ulen = sizeof ALL_BYTES - 5; /* bytes before u */
    memcpy(nul, ALL_BYTES, ulen);
    nul[ulen] = 0x00; /* u: branch 0 (null) */
    memcpy(nul + ulen + 1, "abc", 3);
    assert_int_equal(decode(&p, nul, ulen + 4, &a, &arena), JP_SERDE_OK);
    assert_int_equal(a.has_u, 0);
    assert_int_equal(a.u, 0);
    assert_true(str_is(a.fx, "abc"));

    jp_avro_arena_free(&arena);
    pair_free(&p);
}

static void test_copy_strings(void **state)
{
    (void)state;
    pair_t p = compile(ALL_SCHEMA, NULL, &all_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    unsigned char copy[sizeof ALL_BYTES];
    memcpy(copy, ALL_BYTES, sizeof copy);
    all_t a;
    char why[128];
    assert_int_equal(jp_avro_plan_decode(p.plan, copy, sizeof copy, &a, &arena,
                                         JP_AVRO_PLAN_COPY_STRINGS, why, sizeof why),
                     JP_SERDE_OK);
    memset(copy, 0xee, sizeof copy); /* the decoded value no longer needs the input */
    check_all(&a);
    assert_int_equal(a.s.ptr[a.s.len], '\0');
    assert_int_equal(a.map.keys[0].ptr[1], '\0');
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

static void test_encode_identity(void **state)
{
    (void)state;
    pair_t p = compile(ALL_SCHEMA, NULL, &all_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    all_t a;
    assert_int_equal(decode(&p, ALL_BYTES, sizeof ALL_BYTES, &a, &arena), JP_SERDE_OK);
    jp_avro_buf_t out = {0};
    char why[128];
    assert_int_equal(jp_avro_plan_encode(p.plan, &a, &out, why, sizeof why), JP_SERDE_OK);
    /* The encoder writes one block per array: same bytes except the array. */
    static const unsigned char want_arr[] = {0x04, 0x02, 0x01, 0x00};
    size_t head = 26; /* bytes before arr */
    assert_memory_equal(out.data, ALL_BYTES, head);
    assert_memory_equal(out.data + head, want_arr, sizeof want_arr);
    assert_memory_equal(out.data + head + 4, ALL_BYTES + head + 6, sizeof ALL_BYTES - head - 6);
    assert_int_equal(out.len, sizeof ALL_BYTES - 2);

    /* Out-of-range values are refused, not written. */
    size_t before = out.len;
    a.e = 3;
    assert_int_equal(jp_avro_plan_encode(p.plan, &a, &out, why, sizeof why), JP_SERDE_OUT_OF_RANGE);
    assert_int_equal(out.len, before);
    a.e = 0;
    a.fx.len = 2;
    assert_int_equal(jp_avro_plan_encode(p.plan, &a, &out, why, sizeof why), JP_SERDE_OUT_OF_RANGE);
    jp_avro_buf_free(&out);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

/* ---- failure reasons ---------------------------------------------------- */

static void test_truncated_every_prefix(void **state)
{
    (void)state;
    pair_t p = compile(ALL_SCHEMA, NULL, &all_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    all_t a;
    for (size_t n = 0; n < sizeof ALL_BYTES; n++) {
        jp_serde_err_t e = decode(&p, ALL_BYTES, n, &a, &arena);
        if (e != JP_SERDE_TRUNCATED)
            fail_msg("prefix of %zu bytes: %s", n, jp_serde_err_name(e));
        jp_avro_arena_reset(&arena);
    }
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

typedef struct {
    uint8_t b;
    int32_t i;
    jp_avro_str_t s;
    uint8_t has_u;
    int64_t u;
    int32_t e;
} small_t;

static const jp_avro_bind_t small_binds[] = {
    JP_AVRO_BIND(small_t, b), JP_AVRO_BIND(small_t, i),
    JP_AVRO_BIND(small_t, s), JP_AVRO_BIND_OPT(small_t, u, has_u),
    JP_AVRO_BIND(small_t, e),
};
static const jp_avro_layout_t small_layout = JP_AVRO_LAYOUT("Small", small_t, small_binds);
static const char *SMALL_SCHEMA =
    "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}}]"
    "}";

static void test_malformed_and_range(void **state)
{
    (void)state;
    pair_t p = compile(SMALL_SCHEMA, NULL, &small_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    small_t v;
    static const unsigned char ok[] = {0x01, 0x02, 0x02, 'x', 0x00, 0x02};
    assert_int_equal(decode(&p, ok, sizeof ok, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.i, 1);
    assert_int_equal(v.e, 1);
    struct {
        const char *what;
        unsigned char bytes[16];
        size_t len;
        jp_serde_err_t want;
    } cases[] = {
        {"boolean byte 2", {0x02, 0x02, 0x02, 'x', 0x00, 0x02}, 6, JP_SERDE_MALFORMED},
        {"varint of 11 bytes",
         {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         12,
         JP_SERDE_MALFORMED},
        {"varint with bits beyond 64",
         {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
         11,
         JP_SERDE_MALFORMED},
        {"negative string length", {0x01, 0x02, 0x01, 'x', 0x00, 0x02}, 6, JP_SERDE_MALFORMED},
        {"union index 2 of 2", {0x01, 0x02, 0x02, 'x', 0x04, 0x02}, 6, JP_SERDE_MALFORMED},
        {"negative union index", {0x01, 0x02, 0x02, 'x', 0x01, 0x02}, 6, JP_SERDE_MALFORMED},
        {"trailing bytes", {0x01, 0x02, 0x02, 'x', 0x00, 0x02, 0x00}, 7, JP_SERDE_MALFORMED},
        /* 2^31 does not fit an Avro int: zigzag 2^32 = 80 80 80 80 10 */
        {"int overflow",
         {0x01, 0x80, 0x80, 0x80, 0x80, 0x10, 0x02, 'x', 0x00, 0x02},
         10,
         JP_SERDE_OUT_OF_RANGE},
        {"enum index 3 of 3", {0x01, 0x02, 0x02, 'x', 0x00, 0x06}, 6, JP_SERDE_OUT_OF_RANGE},
        {"negative enum index", {0x01, 0x02, 0x02, 'x', 0x00, 0x01}, 6, JP_SERDE_OUT_OF_RANGE},
        {"string longer than the input",
         {0x01, 0x02, 0x0a, 'x', 0x00, 0x02},
         6,
         JP_SERDE_TRUNCATED},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char why[256] = "";
        jp_serde_err_t e = jp_avro_plan_decode(p.plan, cases[k].bytes, cases[k].len, &v, &arena, 0,
                                               why, sizeof why);
        if (e != cases[k].want)
            fail_msg("%s: got %s (%s), want %s", cases[k].what, jp_serde_err_name(e), why,
                     jp_serde_err_name(cases[k].want));
        assert_true(strlen(why) > 0);
    }
    /* INT32_MIN and INT32_MAX themselves are fine. */
    static const unsigned char minmax[] = {0x01, 0xff, 0xff, 0xff, 0xff,
                                           0x0f, 0x02, 'x',  0x00, 0x02};
    assert_int_equal(decode(&p, minmax, sizeof minmax, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.i, INT32_MIN);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

static void test_array_count_bounds(void **state)
{
    (void)state;
    pair_t p = compile(ALL_SCHEMA, NULL, &all_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    all_t a;
    /* a block count of 2^62 must not allocate: it cannot fit the input */
    unsigned char huge[64];
    memcpy(huge, ALL_BYTES, 26); /* up to arr */
    static const unsigned char big[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    memcpy(huge + 26, big, sizeof big);
    assert_int_equal(decode(&p, huge, 26 + sizeof big, &a, &arena), JP_SERDE_TRUNCATED);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

/* Items that encode to no bytes are bounded by a cap, not by the input. */
typedef struct {
    jp_avro_array_t z;
    jp_avro_array_t d;
} zw_t;
static const jp_avro_bind_t zw_binds[] = {JP_AVRO_BIND(zw_t, z), JP_AVRO_BIND(zw_t, d)};
static const jp_avro_layout_t zw_layout = JP_AVRO_LAYOUT("Z", zw_t, zw_binds);

static void test_zero_width_items(void **state)
{
    (void)state;
    const char *writer = "{\"type\":\"record\",\"name\":\"Z\",\"fields\":["
                         "{\"name\":\"z\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";
    const char *reader = "{\"type\":\"record\",\"name\":\"Z\",\"fields\":["
                         "{\"name\":\"z\",\"type\":{\"type\":\"array\",\"items\":\"null\"}},"
                         "{\"name\":\"d\",\"type\":{\"type\":\"array\",\"items\":\"null\"},"
                         "\"default\":[null,null]}]}";
    pair_t p = compile(writer, reader, &zw_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    zw_t v;
    static const unsigned char three[] = {0x06, 0x00}; /* 3 nulls in 2 bytes */
    assert_int_equal(decode(&p, three, sizeof three, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.z.n, 3);
    assert_int_equal(v.d.n, 2);
    static const unsigned char lots[] = {0x80, 0x80, 0x80, 0x02, 0x00}; /* 2^21 items */
    assert_int_equal(decode(&p, lots, sizeof lots, &v, &arena), JP_SERDE_OUT_OF_RANGE);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

/* Corrupted input never crashes and always yields a defined verdict: every
 * single-byte mutation and truncation of ALL_BYTES (seeded, deterministic),
 * run under ASan/UBSan and valgrind by the test suite. */
static void test_mutations(void **state)
{
    (void)state;
    pair_t p = compile(ALL_SCHEMA, NULL, &all_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    uint64_t x = 0x243f6a8885a308d3ULL; /* fixed seed */
    unsigned char buf[sizeof ALL_BYTES + 8];
    int counts[JP_SERDE_ERR__COUNT] = {0};
    for (int iter = 0; iter < 20000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf, ALL_BYTES, sizeof ALL_BYTES);
        buf[x % sizeof ALL_BYTES] = (unsigned char)(x >> 24);
        size_t len = (x >> 40) % 4 == 0 ? (size_t)((x >> 8) % sizeof ALL_BYTES) : sizeof ALL_BYTES;
        all_t a;
        jp_serde_err_t e = decode(&p, buf, len, &a, &arena);
        assert_true(e == JP_SERDE_OK || e == JP_SERDE_TRUNCATED || e == JP_SERDE_MALFORMED ||
                    e == JP_SERDE_OUT_OF_RANGE);
        counts[e]++;
        jp_avro_arena_reset(&arena);
    }
    /* the mutations exercise every verdict */
    assert_true(counts[JP_SERDE_OK] > 0);
    assert_true(counts[JP_SERDE_TRUNCATED] > 0);
    assert_true(counts[JP_SERDE_MALFORMED] > 0);
    assert_true(counts[JP_SERDE_OUT_OF_RANGE] > 0);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

/* ---- resolution rules ------------------------------------------------------ */

static void test_writer_only_fields_skipped(void **state)
{
    (void)state;
    /* The writer has every type as an extra field around the one the reader
     * wants; all must be skipped exactly. */
    const char *writer =
        "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
        "{\"name\":\"xb\",\"type\":\"boolean\"},{\"name\":\"xf\",\"type\":\"float\"},"
        "{\"name\":\"xd\",\"type\":\"double\"},{\"name\":\"xby\",\"type\":\"bytes\"},"
        "{\"name\":\"xfx\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2}},"
        "{\"name\":\"xe\",\"type\":{\"type\":\"enum\",\"name\":\"X\",\"symbols\":[\"P\",\"Q\"]}},"
        "{\"name\":\"xr\",\"type\":{\"type\":\"record\",\"name\":\"XR\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"string\"}]}},"
        "{\"name\":\"xa\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
        "{\"name\":\"xm\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
        "{\"name\":\"xu\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"xn\",\"type\":\"null\"},"
        "{\"name\":\"i\",\"type\":\"int\"},"
        "{\"name\":\"xl\",\"type\":{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
        "{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}}]}";
    const char *reader = "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
                         "{\"name\":\"i\",\"type\":\"int\"}]}";
    typedef struct {
        int32_t i;
    } only_t;
    static const jp_avro_bind_t binds[] = {JP_AVRO_BIND(only_t, i)};
    static const jp_avro_layout_t layout = JP_AVRO_LAYOUT("Small", only_t, binds);
    pair_t p = compile(writer, reader, &layout);
    static const unsigned char bytes[] = {
        0x00,                                           /* xb false */
        0x00, 0x00, 0x80, 0x3f,                         /* xf 1.0f */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, /* xd 1.0 */
        0x02, 0x7f,                                     /* xby {0x7f} */
        'z',  'z',                                      /* xfx */
        0x02,                                           /* xe Q */
        0x04, 0x02, 'q',                                /* xr {a: 2, b: "q"} */
        0x02, 0x02, 'a',  0x00,                         /* xa ["a"] */
        0x01, 0x06, 0x02, 'k',  0x08, 0x00,             /* xm {"k": 4}: count -1, 3 bytes */
        0x02, 0x02, 's',                                /* xu "s" */
        0x54,                                           /* i = 42 */
        0x02, 0x02, 0x04, 0x00,                         /* xl {1, {2, null}} */
    };
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    only_t v;
    assert_int_equal(decode(&p, bytes, sizeof bytes, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.i, 42);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

/* Reader-only fields take the reader schema's default, for every type. */
typedef struct {
    uint8_t b;
    int32_t i;
    int64_t l;
    float f;
    double d;
    jp_avro_str_t by;
    jp_avro_str_t s;
    inner_t rec;
    int32_t e;
    jp_avro_array_t arr;
    jp_avro_map_t map;
    uint8_t has_u;
    int64_t u;
    uint8_t has_v;
    int64_t v;
    jp_avro_str_t fx;
} defaults_t;

static const jp_avro_bind_t defaults_binds[] = {
    JP_AVRO_BIND(defaults_t, b),
    JP_AVRO_BIND(defaults_t, i),
    JP_AVRO_BIND(defaults_t, l),
    JP_AVRO_BIND(defaults_t, f),
    JP_AVRO_BIND(defaults_t, d),
    JP_AVRO_BIND(defaults_t, by),
    JP_AVRO_BIND(defaults_t, s),
    JP_AVRO_BIND_SUB(defaults_t, rec, inner_layout),
    JP_AVRO_BIND(defaults_t, e),
    JP_AVRO_BIND(defaults_t, arr),
    JP_AVRO_BIND(defaults_t, map),
    JP_AVRO_BIND_OPT(defaults_t, u, has_u),
    JP_AVRO_BIND_OPT(defaults_t, v, has_v),
    JP_AVRO_BIND(defaults_t, fx),
};
static const jp_avro_layout_t defaults_layout = JP_AVRO_LAYOUT("D", defaults_t, defaults_binds);

static void test_reader_defaults(void **state)
{
    (void)state;
    const char *writer = "{\"type\":\"record\",\"name\":\"D\",\"fields\":[]}";
    const char *reader =
        "{\"type\":\"record\",\"name\":\"D\",\"fields\":["
        "{\"name\":\"b\",\"type\":\"boolean\",\"default\":true},"
        "{\"name\":\"i\",\"type\":\"int\",\"default\":-42},"
        "{\"name\":\"l\",\"type\":\"long\",\"default\":5000000000},"
        "{\"name\":\"f\",\"type\":\"float\",\"default\":0.25},"
        "{\"name\":\"d\",\"type\":\"double\",\"default\":1e100},"
        "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0000A\"},"
        "{\"name\":\"s\",\"type\":\"string\",\"default\":\"dflt\"},"
        "{\"name\":\"rec\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"fields\":["
        "{\"name\":\"x\",\"type\":\"int\"}]},\"default\":{\"x\":9}},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]},"
        "\"default\":\"B\"},"
        "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\"},\"default\":[1,2,3]},"
        "{\"name\":\"map\",\"type\":{\"type\":\"map\",\"values\":\"string\"},"
        "\"default\":{\"a\":\"b\"}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"long\"],\"default\":null},"
        "{\"name\":\"v\",\"type\":[\"long\",\"null\"],\"default\":77},"
        "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":3},"
        "\"default\":\"xyz\"}]}";
    pair_t p = compile(writer, reader, &defaults_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    defaults_t v;
    memset(&v, 0x5a, sizeof v);
    assert_int_equal(decode(&p, (const unsigned char *)"", 0, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.b, 1);
    assert_int_equal(v.i, -42);
    assert_int_equal(v.l, 5000000000LL);
    assert_true(v.f == 0.25f);
    assert_true(v.d == 1e100);
    assert_int_equal(v.by.len, 3);
    assert_memory_equal(v.by.ptr,
                        "\xff\x00"
                        "A",
                        3);
    assert_true(str_is(v.s, "dflt"));
    assert_int_equal(v.rec.x, 9);
    assert_int_equal(v.e, 1);
    assert_int_equal(v.arr.n, 3);
    assert_int_equal(((int64_t *)v.arr.items)[2], 3);
    assert_int_equal(v.map.n, 1);
    assert_true(str_is(v.map.keys[0], "a"));
    assert_true(str_is(((jp_avro_str_t *)v.map.values)[0], "b"));
    assert_int_equal(v.has_u, 0);
    assert_int_equal(v.u, 0);
    assert_int_equal(v.has_v, 1);
    assert_int_equal(v.v, 77);
    assert_true(str_is(v.fx, "xyz"));
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

typedef struct {
    int64_t a;
    float b;
    double c;
    float d;
    double e;
    double g;
    jp_avro_str_t s;
    jp_avro_str_t t;
} promo_t;
static const jp_avro_bind_t promo_binds[] = {
    JP_AVRO_BIND(promo_t, a), JP_AVRO_BIND(promo_t, b), JP_AVRO_BIND(promo_t, c),
    JP_AVRO_BIND(promo_t, d), JP_AVRO_BIND(promo_t, e), JP_AVRO_BIND(promo_t, g),
    JP_AVRO_BIND(promo_t, s), JP_AVRO_BIND(promo_t, t),
};
static const jp_avro_layout_t promo_layout = JP_AVRO_LAYOUT("P", promo_t, promo_binds);

static void test_promotions(void **state)
{
    (void)state;
    const char *writer =
        "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"},"
        "{\"name\":\"c\",\"type\":\"int\"},{\"name\":\"d\",\"type\":\"long\"},"
        "{\"name\":\"e\",\"type\":\"long\"},{\"name\":\"g\",\"type\":\"float\"},"
        "{\"name\":\"s\",\"type\":\"bytes\"},{\"name\":\"t\",\"type\":\"string\"}]}";
    const char *reader =
        "{\"type\":\"record\",\"name\":\"P\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"float\"},"
        "{\"name\":\"c\",\"type\":\"double\"},{\"name\":\"d\",\"type\":\"float\"},"
        "{\"name\":\"e\",\"type\":\"double\"},{\"name\":\"g\",\"type\":\"double\"},"
        "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"t\",\"type\":\"bytes\"}]}";
    pair_t p = compile(writer, reader, &promo_layout);
    static const unsigned char bytes[] = {
        0x01,                                           /* a = -1 */
        0x06,                                           /* b = 3 */
        0x07,                                           /* c = -4 */
        0x80, 0x80, 0x80, 0x80, 0x20,                   /* d = 2^32 (zigzag 2^33) */
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, /* e = 2^55 - 1 ... */
        0x00, 0x00, 0x20, 0x40,                         /* g = 2.5f */
        0x02, 'B',                                      /* s bytes "B" */
        0x02, 'S',                                      /* t string "S" */
    };
    /* e: zigzag(2^55-1) = 2^56-2 = 0xfffffffffffffe as 8 varint groups:
     * fe ff ff ff ff ff ff 7f */
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    promo_t v;
    assert_int_equal(decode(&p, bytes, sizeof bytes, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.a, -1);
    assert_true(v.b == 3.0f);
    assert_true(v.c == -4.0);
    assert_true(v.d == 4294967296.0f);
    assert_true(v.e == (double)((1LL << 55) - 1));
    assert_true(v.g == 2.5);
    assert_true(str_is(v.s, "B"));
    assert_true(str_is(v.t, "S"));
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

typedef struct {
    int32_t renamed;
    int32_t e;
    int32_t e2;
} alias_t;
static const jp_avro_bind_t alias_binds[] = {JP_AVRO_BIND(alias_t, renamed),
                                             JP_AVRO_BIND(alias_t, e), JP_AVRO_BIND(alias_t, e2)};
static const jp_avro_layout_t alias_layout = JP_AVRO_LAYOUT("New", alias_t, alias_binds);

static void test_aliases_and_enums(void **state)
{
    (void)state;
    /* Record renamed Old -> New (alias), field old -> renamed (alias); enum
     * symbols reordered (mapped by name) and an unknown symbol mapped to the
     * reader's default. */
    const char *writer =
        "{\"type\":\"record\",\"name\":\"ns.Old\",\"fields\":["
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\",\"B\","
        "\"A\"]}},"
        "{\"name\":\"old\",\"type\":\"int\"},"
        "{\"name\":\"e2\",\"type\":{\"type\":\"enum\",\"name\":\"E2\",\"symbols\":[\"A\","
        "\"NEW\"]}}]}";
    const char *reader =
        "{\"type\":\"record\",\"name\":\"ns.New\",\"aliases\":[\"Old\"],\"fields\":["
        "{\"name\":\"renamed\",\"aliases\":[\"old\"],\"type\":\"int\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\","
        "\"C\"]}},"
        "{\"name\":\"e2\",\"type\":{\"type\":\"enum\",\"name\":\"E2\",\"symbols\":[\"A\",\"U\"],"
        "\"default\":\"U\"}}]}";
    pair_t p = compile(writer, reader, &alias_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    alias_t v;
    static const unsigned char b1[] = {0x00, 0x0a, 0x02}; /* e=C, old=5, e2=NEW */
    assert_int_equal(decode(&p, b1, sizeof b1, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.e, 2);                             /* C is index 2 for the reader */
    assert_int_equal(v.renamed, 5);                       /* via the field alias */
    assert_int_equal(v.e2, 1);                            /* NEW unknown -> default U */
    static const unsigned char b2[] = {0x04, 0x0a, 0x00}; /* e=A, e2=A */
    assert_int_equal(decode(&p, b2, sizeof b2, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.e, 0);
    assert_int_equal(v.e2, 0);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

typedef struct {
    uint8_t has_a;
    int64_t a;
    uint8_t has_b;
    int64_t b;
    int64_t c;
    uint8_t has_d;
    double d;
    uint8_t has_s;
    jp_avro_str_t s;
} unions_t;
static const jp_avro_bind_t unions_binds[] = {
    JP_AVRO_BIND_OPT(unions_t, a, has_a),
    JP_AVRO_BIND_OPT(unions_t, b, has_b),
    JP_AVRO_BIND(unions_t, c),
    JP_AVRO_BIND_OPT(unions_t, d, has_d),
    JP_AVRO_BIND_OPT(unions_t, s, has_s),
};
static const jp_avro_layout_t unions_layout = JP_AVRO_LAYOUT("U", unions_t, unions_binds);

static void test_unions(void **state)
{
    (void)state;
    /* a: writer long -> reader [null,long] (non-union writer, union reader)
     * b: writer [null,int] -> reader [null,long] (both unions, promotion)
     * c: writer [int,long] -> reader long (union writer, non-union reader)
     * d: writer int -> reader [null,double] (first matching branch, promoted)
     * s: writer [string,null] -> reader [null,bytes] (branch order, promotion) */
    const char *writer =
        "{\"type\":\"record\",\"name\":\"U\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":[\"null\",\"int\"]},"
        "{\"name\":\"c\",\"type\":[\"int\",\"long\"]},{\"name\":\"d\",\"type\":\"int\"},"
        "{\"name\":\"s\",\"type\":[\"string\",\"null\"]}]}";
    const char *reader =
        "{\"type\":\"record\",\"name\":\"U\",\"fields\":["
        "{\"name\":\"a\",\"type\":[\"null\",\"long\"]},{\"name\":\"b\",\"type\":[\"null\","
        "\"long\"]},"
        "{\"name\":\"c\",\"type\":\"long\"},{\"name\":\"d\",\"type\":[\"null\",\"double\"]},"
        "{\"name\":\"s\",\"type\":[\"null\",\"bytes\"]}]}";
    pair_t p = compile(writer, reader, &unions_layout);
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    unions_t v;
    static const unsigned char b1[] = {0x06,             /* a = 3 */
                                       0x02, 0x08,       /* b = branch int, 4 */
                                       0x00, 0x0a,       /* c = branch int, 5 */
                                       0x0c,             /* d = 6 */
                                       0x00, 0x02, 'z'}; /* s = branch string "z" */
    assert_int_equal(decode(&p, b1, sizeof b1, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.has_a, 1);
    assert_int_equal(v.a, 3);
    assert_int_equal(v.has_b, 1);
    assert_int_equal(v.b, 4);
    assert_int_equal(v.c, 5);
    assert_int_equal(v.has_d, 1);
    assert_true(v.d == 6.0);
    assert_int_equal(v.has_s, 1);
    assert_true(str_is(v.s, "z"));
    static const unsigned char b2[] = {0x06,       /* a = 3 */
                                       0x00,       /* b = null */
                                       0x02, 0x0e, /* c = branch long, 7 */
                                       0x0c,       /* d = 6 */
                                       0x02};      /* s = null */
    assert_int_equal(decode(&p, b2, sizeof b2, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.has_b, 0);
    assert_int_equal(v.c, 7);
    assert_int_equal(v.has_s, 0);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

typedef struct {
    int32_t a;
    int32_t added;
} item_t;
static const jp_avro_bind_t item_binds[] = {JP_AVRO_BIND(item_t, a), JP_AVRO_BIND(item_t, added)};
static const jp_avro_layout_t item_layout = JP_AVRO_LAYOUT("Item", item_t, item_binds);
typedef struct {
    jp_avro_array_t items; /* item_t */
    jp_avro_map_t m;       /* double */
} nested_t;
static const jp_avro_bind_t nested_binds[] = {JP_AVRO_BIND_SUB(nested_t, items, item_layout),
                                              JP_AVRO_BIND(nested_t, m)};
static const jp_avro_layout_t nested_layout = JP_AVRO_LAYOUT("N", nested_t, nested_binds);

static void test_nested_evolution(void **state)
{
    (void)state;
    const char *writer =
        "{\"type\":\"record\",\"name\":\"N\",\"fields\":["
        "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
        "\"name\":\"Item\",\"fields\":[{\"name\":\"gone\",\"type\":\"string\"},"
        "{\"name\":\"a\",\"type\":\"int\"}]}}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}}]}";
    const char *reader =
        "{\"type\":\"record\",\"name\":\"N\",\"fields\":["
        "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
        "\"name\":\"Item\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
        "{\"name\":\"added\",\"type\":\"int\",\"default\":-1}]}}},"
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}}]}";
    pair_t p = compile(writer, reader, &nested_layout);
    static const unsigned char bytes[] = {
        0x04, 0x02, 'x', 0x02, 0x00, 0x04, 0x00, /* items [{gone "x", a 1}, {gone "", a 2}] */
        0x02, 0x02, 'k', 0x05, 0x00,             /* m {"k": -3} */
    };
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    nested_t v;
    assert_int_equal(decode(&p, bytes, sizeof bytes, &v, &arena), JP_SERDE_OK);
    assert_int_equal(v.items.n, 2);
    item_t *it = v.items.items;
    assert_int_equal(it[0].a, 1);
    assert_int_equal(it[0].added, -1);
    assert_int_equal(it[1].a, 2);
    assert_int_equal(it[1].added, -1);
    assert_int_equal(v.m.n, 1);
    assert_true(((double *)v.m.values)[0] == -3.0);
    jp_avro_arena_free(&arena);
    pair_free(&p);
}

static void test_incompatible_and_invalid(void **state)
{
    (void)state;
    char why[256];
    /* reader field without default missing from the writer */
    assert_int_equal(compile_err("{\"type\":\"record\",\"name\":\"Small\",\"fields\":[]}",
                                 SMALL_SCHEMA, &small_layout, why, sizeof why),
                     JP_SERDE_INCOMPATIBLE);
    assert_non_null(strstr(why, "Small.b"));
    /* type mismatch */
    const char *w_str = "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
                        "{\"name\":\"b\",\"type\":\"string\"},{\"name\":\"i\",\"type\":\"int\"},"
                        "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"u\",\"type\":\"null\"},"
                        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                        "\"symbols\":[\"A\"]}}]}";
    assert_int_equal(compile_err(w_str, SMALL_SCHEMA, &small_layout, why, sizeof why),
                     JP_SERDE_INCOMPATIBLE);
    assert_non_null(strstr(why, "Small.b"));
    /* enum symbol the reader lacks, reader has no default */
    const char *w_enum = "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
                         "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"i\",\"type\":\"int\"},"
                         "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"u\",\"type\":\"null\"},"
                         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                         "\"symbols\":[\"A\",\"Z\"]}}]}";
    assert_int_equal(compile_err(w_enum, SMALL_SCHEMA, &small_layout, why, sizeof why),
                     JP_SERDE_INCOMPATIBLE);
    assert_non_null(strstr(why, "Z"));
    /* writer union with a branch the reader cannot read */
    const char *w_union = "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
                          "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"i\",\"type\":[\"int\","
                          "\"string\"]},"
                          "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"u\",\"type\":\"null\"},"
                          "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                          "\"symbols\":[\"A\"]}}]}";
    assert_int_equal(compile_err(w_union, SMALL_SCHEMA, &small_layout, why, sizeof why),
                     JP_SERDE_INCOMPATIBLE);
    /* the same writer, a layout whose member has the wrong size */
    typedef struct {
        uint8_t b;
        int64_t i; /* int needs int32_t */
        jp_avro_str_t s;
        uint8_t has_u;
        int64_t u;
        int32_t e;
    } bad_t;
    static const jp_avro_bind_t bad_binds[] = {
        JP_AVRO_BIND(bad_t, b), JP_AVRO_BIND(bad_t, i),
        JP_AVRO_BIND(bad_t, s), JP_AVRO_BIND_OPT(bad_t, u, has_u),
        JP_AVRO_BIND(bad_t, e),
    };
    static const jp_avro_layout_t bad_layout = JP_AVRO_LAYOUT("Small", bad_t, bad_binds);
    assert_int_equal(compile_err(SMALL_SCHEMA, SMALL_SCHEMA, &bad_layout, why, sizeof why),
                     JP_SERDE_INVALID);
    assert_non_null(strstr(why, "size"));
    /* an optional member without a presence flag */
    static const jp_avro_bind_t noflag_binds[] = {
        JP_AVRO_BIND(small_t, b), JP_AVRO_BIND(small_t, i), JP_AVRO_BIND(small_t, s),
        JP_AVRO_BIND(small_t, u), JP_AVRO_BIND(small_t, e),
    };
    static const jp_avro_layout_t noflag_layout = JP_AVRO_LAYOUT("Small", small_t, noflag_binds);
    assert_int_equal(compile_err(SMALL_SCHEMA, SMALL_SCHEMA, &noflag_layout, why, sizeof why),
                     JP_SERDE_INVALID);
    /* decoding never runs an encoder-only path: encode refuses a resolving plan */
    pair_t p =
        compile(w_str,
                "{\"type\":\"record\",\"name\":\"Small\",\"fields\":["
                "{\"name\":\"i\",\"type\":\"int\"}]}",
                &(const jp_avro_layout_t){"Small", sizeof(int32_t),
                                          (const jp_avro_bind_t[]){{"i", 0, 4, NULL, -1}}, 1});
    int32_t x = 1;
    jp_avro_buf_t out = {0};
    assert_int_equal(jp_avro_plan_encode(p.plan, &x, &out, why, sizeof why), JP_SERDE_INVALID);
    jp_avro_buf_free(&out);
    pair_free(&p);
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(jp_serde_err_name(JP_SERDE_OK), "OK");
    assert_string_equal(jp_serde_err_name(JP_SERDE_NOT_FRAMED), "NOT_FRAMED");
    assert_string_equal(jp_serde_err_name(JP_SERDE_UNKNOWN_SCHEMA_ID), "UNKNOWN_SCHEMA_ID");
    assert_string_equal(jp_serde_err_name(JP_SERDE_REGISTRY_UNAVAILABLE), "REGISTRY_UNAVAILABLE");
    assert_string_equal(jp_serde_err_name(JP_SERDE_TRUNCATED), "TRUNCATED");
    assert_string_equal(jp_serde_err_name(JP_SERDE_MALFORMED), "MALFORMED");
    assert_string_equal(jp_serde_err_name(JP_SERDE_INCOMPATIBLE), "INCOMPATIBLE");
    assert_string_equal(jp_serde_err_name(JP_SERDE_OUT_OF_RANGE), "OUT_OF_RANGE");
    assert_string_equal(jp_serde_err_name((jp_serde_err_t)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_copy_strings),
        cmocka_unit_test(test_encode_identity),
        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_malformed_and_range),
        cmocka_unit_test(test_array_count_bounds),
        cmocka_unit_test(test_zero_width_items),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_writer_only_fields_skipped),
        cmocka_unit_test(test_reader_defaults),
        cmocka_unit_test(test_promotions),
        cmocka_unit_test(test_aliases_and_enums),
        cmocka_unit_test(test_unions),
        cmocka_unit_test(test_nested_evolution),
        cmocka_unit_test(test_incompatible_and_invalid),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
