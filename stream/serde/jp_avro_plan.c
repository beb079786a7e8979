/*
 * jp_avro_plan: compile (writer, reader+layout) pairs into op lists once,
 * execute them per record.
 *
 * Design. Compilation walks the writer and reader schemas together, calling
 * the shared resolution rules of jp_avro_schema (jp_avro_match,
 * jp_avro_union_pick, jp_avro_field_find, jp_avro_enum_map) and never
 * re-deriving them. Records are flattened into their parent's op list in
 * WRITER field order with absolute member offsets (nested structs are just
 * larger offsets), so the hot loop is one switch over a contiguous array.
 * Only arrays, maps and unions open a new block (the element/branch body,
 * executed with its own base pointer); writer-only fields become skip ops,
 * reader-only fields a DEFAULT op that runs the identity plan of the field
 * type over the default's pre-encoded Avro bytes (see jp_avro_schema.c) -
 * so record/enum/array/union defaults need no special cases.
 *
 * Resolution is strict at compile time (an unreadable writer union branch
 * or an unmappable enum symbol fails the compile with INCOMPATIBLE), which
 * is what jp_avro_schema_can_read says; at run time only malformed data can
 * fail. Recursive writer types in writer-only fields are skipped by a
 * generic depth-limited skipper; recursive READER types cannot be bound to C
 * structs and are refused.
 *
 * Encoding reuses identity plans (writer == reader): the same ops are
 * executed in the other direction, which keeps the C layout contract in one
 * place. Floats are assembled byte by byte (Avro is little-endian); gcc
 * turns that into a single load on x86.
 */
#include "serde/jp_avro_plan.h"

#include "model/base/jp_err.h"
#include "model/base/jp_endian.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const jp_serde_err_names[JP_SERDE_ERR__COUNT] = {
    "OK",        "NOT_FRAMED", "UNKNOWN_SCHEMA_ID", "REGISTRY_UNAVAILABLE",
    "TRUNCATED", "MALFORMED",  "INCOMPATIBLE",      "OUT_OF_RANGE",
    "INVALID",   "NO_MEMORY",
};

const char *jp_serde_err_name(jp_serde_err_t e)
{
    return (unsigned)e < JP_SERDE_ERR__COUNT ? jp_serde_err_names[e] : "?";
}

/* ---- arena ---------------------------------------------------------------- */

struct jp_avro_arena_block_s {
    jp_avro_arena_block_t *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void jp_avro_arena_init(jp_avro_arena_t *a)
{
    a->head = NULL;
}

void *jp_avro_arena_alloc(jp_avro_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    jp_avro_arena_block_t *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = b ? b->size * 2 : 4096;
        if (size < n)
            size = n;
        jp_avro_arena_block_t *nb = malloc(sizeof *nb + size);
        if (!nb)
            return NULL;
        nb->size = size;
        nb->used = 0;
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void jp_avro_arena_reset(jp_avro_arena_t *a)
{
    jp_avro_arena_block_t *keep = NULL;
    for (jp_avro_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        if (!keep || b->size > keep->size) {
            free(keep);
            keep = b;
        } else {
            free(b);
        }
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
}

void jp_avro_arena_free(jp_avro_arena_t *a)
{
    for (jp_avro_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

/* ---- output buffer ---------------------------------------------------------- */

int jp_avro_buf_reserve(jp_avro_buf_t *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int jp_avro_buf_append(jp_avro_buf_t *b, const void *data, size_t n)
{
    if (jp_avro_buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

void jp_avro_buf_free(jp_avro_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- plan representation -------------------------------------------------- */

enum {
    OP_BOOL,
    OP_INT,
    OP_INT_LONG,
    OP_INT_FLOAT,
    OP_INT_DOUBLE,
    OP_LONG,
    OP_LONG_FLOAT,
    OP_LONG_DOUBLE,
    OP_FLOAT,
    OP_FLOAT_DOUBLE,
    OP_DOUBLE,
    OP_STR,     /* string or bytes, either side */
    OP_FIXED,   /* a = size */
    OP_ENUM,    /* a = writer symbol count, ptr = int map writer -> reader */
    OP_ARRAY,   /* a = element block, b = element size */
    OP_MAP,     /* a = value block, b = value size */
    OP_WUNION,  /* a = writer branch count, ptr = block per branch; off = presence flag
                   (JP_NO_OFF if none), b = reader null branch (JP_NO_OFF if none) */
    OP_PRESENT, /* store uint8 a at off */
    OP_SKIP_VARINT,
    OP_SKIP_N, /* a = byte count */
    OP_SKIP_BYTES,
    OP_SKIP_NODE, /* ptr = writer node, skipped generically */
    OP_DEFAULT,   /* a = identity block, ptr/b = default bytes */
};

#define JP_NO_OFF     UINT32_MAX
#define JP_ZERO_WIDTH 1
/* Items that encode to no bytes (null, empty records) cannot be bounded by
 * the input size; cap their count instead. */
#define JP_MAX_ZERO_WIDTH_ITEMS (1u << 20)

typedef struct {
    uint16_t op;
    uint16_t flags; /* OP_ARRAY: JP_ZERO_WIDTH if an item may encode to no bytes */
    uint32_t off;
    uint32_t a;
    uint32_t b;
    const void *ptr;
} jp_op_t;

typedef struct {
    jp_op_t *ops;
    uint32_t n, cap;
} jp_block_t;

struct jp_avro_plan_s {
    jp_block_t *blocks; /* block 0 is the root record */
    uint32_t n_blocks, cap_blocks;
    void **allocs; /* enum maps, branch tables */
    size_t n_allocs, cap_allocs;
    size_t root_size;
    int identity;
};

void jp_avro_plan_free(jp_avro_plan_t *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->n_blocks; i++)
        free(p->blocks[i].ops);
    free(p->blocks);
    for (size_t i = 0; i < p->n_allocs; i++)
        free(p->allocs[i]);
    free(p->allocs);
    free(p);
}

/* ---- compiler ------------------------------------------------------------ */

typedef struct {
    jp_avro_plan_t *p;
    jp_serde_err_t err;
    char *errstr;
    size_t errstr_size;
    char path[256];
    int depth;
    int check_only; /* jp_avro_plan_check: resolve without a C layout */
} jp_cc_t;

/* What every field binds to when there is no layout (check_only). */
static const jp_avro_bind_t jp_unbound = {"", 0, 0, NULL, -1};

static int cc_fail(jp_cc_t *cc, jp_serde_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cc_fail(jp_cc_t *cc, jp_serde_err_t err, const char *fmt, ...)
{
    if (cc->err != JP_SERDE_OK)
        return -1;
    cc->err = err;
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    jp_err_set(cc->errstr, cc->errstr_size, "%s: %s", cc->path[0] ? cc->path : "(root)", why);
    return -1;
}

static void *cc_alloc(jp_cc_t *cc, size_t n)
{
    jp_avro_plan_t *p = cc->p;
    if (p->n_allocs == p->cap_allocs) {
        size_t cap = p->cap_allocs ? p->cap_allocs * 2 : 8;
        void **v = realloc(p->allocs, cap * sizeof *v);
        if (!v)
            return NULL;
        p->allocs = v;
        p->cap_allocs = cap;
    }
    void *m = calloc(1, n ? n : 1);
    if (m)
        p->allocs[p->n_allocs++] = m;
    return m;
}

static int cc_block(jp_cc_t *cc)
{
    jp_avro_plan_t *p = cc->p;
    if (p->n_blocks == p->cap_blocks) {
        uint32_t cap = p->cap_blocks ? p->cap_blocks * 2 : 8;
        jp_block_t *v = realloc(p->blocks, cap * sizeof *v);
        if (!v)
            return cc_fail(cc, JP_SERDE_NO_MEMORY, "out of memory");
        p->blocks = v;
        p->cap_blocks = cap;
    }
    p->blocks[p->n_blocks] = (jp_block_t){0};
    return (int)p->n_blocks++;
}

static int cc_emit(jp_cc_t *cc, int blk, uint32_t op, size_t off, uint32_t a, uint32_t b,
                   const void *ptr)
{
    jp_block_t *bl = &cc->p->blocks[blk];
    if (bl->n == bl->cap) {
        uint32_t cap = bl->cap ? bl->cap * 2 : 16;
        jp_op_t *v = realloc(bl->ops, cap * sizeof *v);
        if (!v)
            return cc_fail(cc, JP_SERDE_NO_MEMORY, "out of memory");
        bl->ops = v;
        bl->cap = cap;
    }
    bl->ops[bl->n++] = (jp_op_t){(uint16_t)op, 0, (uint32_t)off, a, b, ptr};
    return 0;
}

/* The single non-null branch of a bindable reader union, NULL if the union
 * is only null; sets *null_idx to the null branch or -1. -1 if unbindable. */
static int union_shape(const jp_avro_node_t *u, const jp_avro_node_t **value, int *null_idx)
{
    *value = NULL;
    *null_idx = -1;
    for (size_t i = 0; i < u->n_branches; i++) {
        if (u->branches[i]->type == JP_AVRO_NULL) {
            *null_idx = (int)i;
        } else {
            if (*value)
                return -1;
            *value = u->branches[i];
        }
    }
    return 0;
}

/* C size of a (non-union) reader node; 0 if it has no C representation. */
static size_t c_size(const jp_avro_node_t *n, const jp_avro_layout_t *sub)
{
    switch (n->type) {
    case JP_AVRO_NULL:
        return 0;
    case JP_AVRO_BOOLEAN:
        return 1;
    case JP_AVRO_INT:
    case JP_AVRO_FLOAT:
    case JP_AVRO_ENUM:
        return 4;
    case JP_AVRO_LONG:
    case JP_AVRO_DOUBLE:
        return 8;
    case JP_AVRO_STRING:
    case JP_AVRO_BYTES:
    case JP_AVRO_FIXED:
        return sizeof(jp_avro_str_t);
    case JP_AVRO_RECORD:
        return sub ? sub->size : 0;
    case JP_AVRO_ARRAY:
        return sizeof(jp_avro_array_t);
    case JP_AVRO_MAP:
        return sizeof(jp_avro_map_t);
    case JP_AVRO_UNION:
        return 0;
    }
    return 0;
}

static int cc_value(jp_cc_t *cc, int blk, const jp_avro_node_t *r, const jp_avro_node_t *w,
                    size_t off, const jp_avro_layout_t *sub, long presence);

/* Skip ops for a writer-only value (none for a value that takes no bytes). */
static int cc_skip(jp_cc_t *cc, int blk, const jp_avro_node_t *w)
{
    if (w->zero_width)
        return 0;
    switch (w->type) {
    case JP_AVRO_NULL:
        return 0;
    case JP_AVRO_BOOLEAN:
        return cc_emit(cc, blk, OP_SKIP_N, 0, 1, 0, NULL);
    case JP_AVRO_INT:
    case JP_AVRO_LONG:
    case JP_AVRO_ENUM:
        return cc_emit(cc, blk, OP_SKIP_VARINT, 0, 0, 0, NULL);
    case JP_AVRO_FLOAT:
        return cc_emit(cc, blk, OP_SKIP_N, 0, 4, 0, NULL);
    case JP_AVRO_DOUBLE:
        return cc_emit(cc, blk, OP_SKIP_N, 0, 8, 0, NULL);
    case JP_AVRO_STRING:
    case JP_AVRO_BYTES:
        return cc_emit(cc, blk, OP_SKIP_BYTES, 0, 0, 0, NULL);
    case JP_AVRO_FIXED:
        return cc_emit(cc, blk, OP_SKIP_N, 0, (uint32_t)w->size, 0, NULL);
    default:
        return cc_emit(cc, blk, OP_SKIP_NODE, 0, 0, 0, w);
    }
}

static const jp_avro_bind_t *find_bind(const jp_cc_t *cc, const jp_avro_layout_t *l,
                                       const char *name)
{
    if (cc->check_only)
        return &jp_unbound;
    for (size_t i = 0; i < l->n_fields; i++)
        if (strcmp(l->fields[i].name, name) == 0)
            return &l->fields[i];
    return NULL;
}

/* Checks that member `b` can hold reader type `t`. */
static int cc_check_member(jp_cc_t *cc, const jp_avro_node_t *t, const jp_avro_bind_t *b)
{
    if (cc->check_only)
        return 0;
    if (t->type == JP_AVRO_UNION) {
        const jp_avro_node_t *v;
        int null_idx;
        if (union_shape(t, &v, &null_idx) < 0)
            return cc_fail(cc, JP_SERDE_INVALID,
                           "only [\"null\", T] unions can be bound to a C member");
        if (null_idx >= 0 && v && b->presence_offset < 0)
            return cc_fail(cc, JP_SERDE_INVALID, "optional member %s needs a presence flag",
                           b->name);
        t = v ? v : t->branches[0];
    }
    size_t want = c_size(t, b->sub);
    if (t->type == JP_AVRO_RECORD && !b->sub)
        return cc_fail(cc, JP_SERDE_INVALID, "member %s needs the layout of record %s", b->name,
                       t->name);
    if (t->type != JP_AVRO_NULL && want != b->size)
        return cc_fail(cc, JP_SERDE_INVALID, "member %s has size %zu, the %s type needs %zu",
                       b->name, b->size, jp_avro_type_name(t->type), want);
    return 0;
}

static int cc_record(jp_cc_t *cc, int blk, const jp_avro_node_t *r, const jp_avro_node_t *w,
                     size_t off, const jp_avro_layout_t *sub)
{
    if (!sub && !cc->check_only)
        return cc_fail(cc, JP_SERDE_INVALID, "no C layout for record %s", r->name);
    if (++cc->depth > 32)
        return cc_fail(cc, JP_SERDE_INVALID, "recursive reader types cannot be bound to C");
    if (!cc->check_only && sub->n_fields != r->n_fields)
        return cc_fail(cc, JP_SERDE_INVALID,
                       "layout %s binds %zu members, record %s has %zu fields", sub->name,
                       sub->n_fields, r->name, r->n_fields);
    int stack_map[64];
    int *w2r = w->n_fields <= 64 ? stack_map : malloc(w->n_fields * sizeof *w2r);
    if (!w2r)
        return cc_fail(cc, JP_SERDE_NO_MEMORY, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < w->n_fields; i++)
        w2r[i] = -1;
    size_t plen = strlen(cc->path);
    /* Pass 1: bindings and the writer->reader field map (the shared rule). */
    for (size_t ri = 0; ri < r->n_fields && rc == 0; ri++) {
        const jp_avro_field_t *rf = &r->fields[ri];
        snprintf(cc->path + plen, sizeof cc->path - plen, "%s%s", plen ? "." : "", rf->name);
        const jp_avro_bind_t *b = find_bind(cc, sub, rf->name);
        if (!b) /* only without check_only, where sub is set */
            rc = cc_fail(cc, JP_SERDE_INVALID, "layout %s has no member for this field",
                         sub ? sub->name : "?");
        else
            rc = cc_check_member(cc, rf->type, b);
        int wi = rc == 0 ? jp_avro_field_find(w, rf) : -1;
        if (wi >= 0 && w2r[wi] >= 0)
            rc = cc_fail(cc, JP_SERDE_INCOMPATIBLE, "two reader fields read writer field %s",
                         w->fields[wi].name);
        else if (wi >= 0)
            w2r[wi] = (int)ri;
        cc->path[plen] = '\0';
    }
    /* Pass 2: writer order - read or skip every writer field. */
    for (size_t wi = 0; wi < w->n_fields && rc == 0; wi++) {
        if (w2r[wi] < 0) {
            rc = cc_skip(cc, blk, w->fields[wi].type);
            continue;
        }
        const jp_avro_field_t *rf = &r->fields[w2r[wi]];
        const jp_avro_bind_t *b = find_bind(cc, sub, rf->name);
        snprintf(cc->path + plen, sizeof cc->path - plen, "%s%s", plen ? "." : "", rf->name);
        rc = cc_value(cc, blk, rf->type, w->fields[wi].type, off + b->offset, b->sub,
                      b->presence_offset >= 0 ? (long)off + b->presence_offset : -1);
        cc->path[plen] = '\0';
    }
    /* Pass 3: reader-only fields take their default. */
    for (size_t ri = 0; ri < r->n_fields && rc == 0; ri++) {
        const jp_avro_field_t *rf = &r->fields[ri];
        if (jp_avro_field_find(w, rf) >= 0)
            continue;
        snprintf(cc->path + plen, sizeof cc->path - plen, "%s%s", plen ? "." : "", rf->name);
        const jp_avro_bind_t *b = find_bind(cc, sub, rf->name);
        int nb;
        if (!rf->has_default)
            rc = cc_fail(cc, JP_SERDE_INCOMPATIBLE,
                         "reader field missing from the writer has no default");
        else if ((nb = cc_block(cc)) < 0)
            rc = -1;
        else if ((rc = cc_value(cc, nb, rf->type, rf->type, off + b->offset, b->sub,
                                b->presence_offset >= 0 ? (long)off + b->presence_offset : -1)) ==
                 0)
            rc = cc_emit(cc, blk, OP_DEFAULT, 0, (uint32_t)nb, (uint32_t)rf->default_len,
                         rf->default_bin);
        cc->path[plen] = '\0';
    }
    if (w2r != stack_map)
        free(w2r);
    cc->depth--;
    return rc;
}

static int cc_value(jp_cc_t *cc, int blk, const jp_avro_node_t *r, const jp_avro_node_t *w,
                    size_t off, const jp_avro_layout_t *sub, long presence)
{
    if (off >= UINT32_MAX)
        return cc_fail(cc, JP_SERDE_INVALID, "offset too large");
    if (w->type == JP_AVRO_UNION) {
        uint32_t *tbl = cc_alloc(cc, w->n_branches * sizeof *tbl);
        if (!tbl)
            return cc_fail(cc, JP_SERDE_NO_MEMORY, "out of memory");
        for (size_t i = 0; i < w->n_branches; i++) {
            int nb = cc_block(cc);
            if (nb < 0 || cc_value(cc, nb, r, w->branches[i], off, sub, presence) < 0)
                return -1;
            tbl[i] = (uint32_t)nb;
        }
        uint32_t null_idx = JP_NO_OFF;
        if (r->type == JP_AVRO_UNION)
            for (size_t i = 0; i < r->n_branches; i++)
                if (r->branches[i]->type == JP_AVRO_NULL)
                    null_idx = (uint32_t)i;
        return cc_emit(cc, blk, OP_WUNION, presence >= 0 ? (size_t)presence : JP_NO_OFF,
                       (uint32_t)w->n_branches, null_idx, tbl);
    }
    if (r->type == JP_AVRO_UNION) {
        int bi = jp_avro_union_pick(r, w);
        if (bi < 0)
            return cc_fail(cc, JP_SERDE_INCOMPATIBLE,
                           "writer type %s matches no branch of the reader union",
                           w->name ? w->name : jp_avro_type_name(w->type));
        const jp_avro_node_t *rb = r->branches[bi];
        if (presence >= 0 &&
            cc_emit(cc, blk, OP_PRESENT, (size_t)presence, rb->type != JP_AVRO_NULL, 0, NULL) < 0)
            return -1;
        return cc_value(cc, blk, rb, w, off, sub, -1);
    }
    jp_avro_match_t m = jp_avro_match(r, w);
    if (m == JP_AVRO_MATCH_NONE)
        return cc_fail(cc, JP_SERDE_INCOMPATIBLE,
                       "reader type %s%s%s cannot read writer type %s%s%s",
                       jp_avro_type_name(r->type), r->name ? " " : "", r->name ? r->name : "",
                       jp_avro_type_name(w->type), w->name ? " " : "", w->name ? w->name : "");
    uint32_t op;
    switch (r->type) {
    case JP_AVRO_NULL:
        return 0;
    case JP_AVRO_BOOLEAN:
        return cc_emit(cc, blk, OP_BOOL, off, 0, 0, NULL);
    case JP_AVRO_INT:
        return cc_emit(cc, blk, OP_INT, off, 0, 0, NULL);
    case JP_AVRO_LONG:
        op = w->type == JP_AVRO_INT ? OP_INT_LONG : OP_LONG;
        return cc_emit(cc, blk, op, off, 0, 0, NULL);
    case JP_AVRO_FLOAT:
        op = w->type == JP_AVRO_INT    ? OP_INT_FLOAT
             : w->type == JP_AVRO_LONG ? OP_LONG_FLOAT
                                       : OP_FLOAT;
        return cc_emit(cc, blk, op, off, 0, 0, NULL);
    case JP_AVRO_DOUBLE:
        op = w->type == JP_AVRO_INT     ? OP_INT_DOUBLE
             : w->type == JP_AVRO_LONG  ? OP_LONG_DOUBLE
             : w->type == JP_AVRO_FLOAT ? OP_FLOAT_DOUBLE
                                        : OP_DOUBLE;
        return cc_emit(cc, blk, op, off, 0, 0, NULL);
    case JP_AVRO_STRING:
    case JP_AVRO_BYTES:
        return cc_emit(cc, blk, OP_STR, off, 0, 0, NULL);
    case JP_AVRO_FIXED:
        return cc_emit(cc, blk, OP_FIXED, off, (uint32_t)r->size, 0, NULL);
    case JP_AVRO_ENUM: {
        int *map = cc_alloc(cc, (w->n_symbols ? w->n_symbols : 1) * sizeof *map);
        char why[200];
        if (!map)
            return cc_fail(cc, JP_SERDE_NO_MEMORY, "out of memory");
        if (jp_avro_enum_map(r, w, map, why, sizeof why) < 0)
            return cc_fail(cc, JP_SERDE_INCOMPATIBLE, "%s", why);
        return cc_emit(cc, blk, OP_ENUM, off, (uint32_t)w->n_symbols, 0, map);
    }
    case JP_AVRO_ARRAY:
    case JP_AVRO_MAP: {
        const jp_avro_node_t *it = r->items;
        if (it->type == JP_AVRO_UNION && !cc->check_only)
            return cc_fail(cc, JP_SERDE_INVALID,
                           "unions as array items or map values cannot "
                           "be bound to C");
        size_t esize = c_size(it, sub);
        if (it->type == JP_AVRO_RECORD && !sub && !cc->check_only)
            return cc_fail(cc, JP_SERDE_INVALID, "no C layout for the items (record %s)", it->name);
        int nb = cc_block(cc);
        size_t plen = strlen(cc->path);
        snprintf(cc->path + plen, sizeof cc->path - plen, "[]");
        int rc = nb < 0 ? -1 : cc_value(cc, nb, it, w->items, 0, sub, -1);
        cc->path[plen] = '\0';
        if (rc < 0 || cc_emit(cc, blk, r->type == JP_AVRO_ARRAY ? OP_ARRAY : OP_MAP, off,
                              (uint32_t)nb, (uint32_t)esize, NULL) < 0)
            return -1;
        if (r->type == JP_AVRO_ARRAY && w->items->zero_width) {
            jp_block_t *bl = &cc->p->blocks[blk];
            bl->ops[bl->n - 1].flags = JP_ZERO_WIDTH;
        }
        return 0;
    }
    case JP_AVRO_RECORD:
        return cc_record(cc, blk, r, w, off, sub);
    case JP_AVRO_UNION:
        break;
    }
    return cc_fail(cc, JP_SERDE_INVALID, "unexpected type");
}

jp_avro_plan_t *jp_avro_plan_compile(const jp_avro_node_t *writer, const jp_avro_node_t *reader,
                                     const jp_avro_layout_t *layout, jp_serde_err_t *err,
                                     char *errstr, size_t errstr_size)
{
    jp_serde_err_t dummy;
    if (!err)
        err = &dummy;
    *err = JP_SERDE_OK;
    if (!writer || !reader || !layout || reader->type != JP_AVRO_RECORD) {
        *err = JP_SERDE_INVALID;
        jp_err_set(errstr, errstr_size, "a plan needs a writer, a reader record and its C layout");
        return NULL;
    }
    jp_avro_plan_t *p = calloc(1, sizeof *p);
    if (!p) {
        *err = JP_SERDE_NO_MEMORY;
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    p->root_size = layout->size;
    p->identity = writer == reader;
    jp_cc_t cc = {.p = p, .errstr = errstr, .errstr_size = errstr_size};
    snprintf(cc.path, sizeof cc.path, "%s", reader->name);
    /* The root "member" is the whole struct. */
    int root = cc_block(&cc);
    if (root < 0 || cc_value(&cc, root, reader, writer, 0, layout, -1) < 0) {
        *err = cc.err != JP_SERDE_OK ? cc.err : JP_SERDE_NO_MEMORY;
        jp_avro_plan_free(p);
        return NULL;
    }
    return p;
}

int jp_avro_plan_check(const jp_avro_node_t *writer, const jp_avro_node_t *reader,
                       jp_serde_err_t *err, char *errstr, size_t errstr_size)
{
    jp_serde_err_t dummy;
    if (!err)
        err = &dummy;
    *err = JP_SERDE_OK;
    jp_avro_plan_t *p = calloc(1, sizeof *p);
    if (!p) {
        *err = JP_SERDE_NO_MEMORY;
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    jp_cc_t cc = {.p = p, .errstr = errstr, .errstr_size = errstr_size, .check_only = 1};
    if (reader->name)
        snprintf(cc.path, sizeof cc.path, "%s", reader->name);
    int root = cc_block(&cc);
    int rc = root < 0 ? -1 : cc_value(&cc, root, reader, writer, 0, NULL, -1);
    if (rc < 0)
        *err = cc.err != JP_SERDE_OK ? cc.err : JP_SERDE_NO_MEMORY;
    jp_avro_plan_free(p);
    return rc;
}

/* ---- decoder ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end, *start;
    jp_avro_arena_t *arena;
    int flags;
    jp_serde_err_t err;
    const char *what;
} jp_cur_t;

static int cur_fail(jp_cur_t *c, jp_serde_err_t err, const char *what)
{
    if (c->err == JP_SERDE_OK) {
        c->err = err;
        c->what = what;
    }
    return -1;
}

/* Every rd_* reader defines *out even when it fails, so no caller can act
 * on an indeterminate value. */
static inline int rd_long(jp_cur_t *c, int64_t *out)
{
    const unsigned char *p = c->p;
    *out = 0;
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= c->end)
            return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a varint");
        unsigned b = *p++;
        if (shift == 63 && b > 1)
            return cur_fail(c, JP_SERDE_MALFORMED, "varint longer than 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            c->p = p;
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return cur_fail(c, JP_SERDE_MALFORMED, "varint longer than 10 bytes");
}

static inline int rd_int(jp_cur_t *c, int32_t *out)
{
    int64_t v;
    *out = 0;
    if (rd_long(c, &v) < 0)
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return cur_fail(c, JP_SERDE_OUT_OF_RANGE, "int value does not fit 32 bits");
    *out = (int32_t)v;
    return 0;
}

static inline int rd_len(jp_cur_t *c, size_t *out)
{
    int64_t v;
    *out = 0;
    if (rd_long(c, &v) < 0)
        return -1;
    if (v < 0)
        return cur_fail(c, JP_SERDE_MALFORMED, "negative length");
    if ((uint64_t)v > (uint64_t)(c->end - c->p))
        return cur_fail(c, JP_SERDE_TRUNCATED, "length runs past the end of the input");
    *out = (size_t)v;
    return 0;
}

static inline int rd_float(jp_cur_t *c, float *out)
{
    *out = 0;
    if (c->end - c->p < 4)
        return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a float");
    uint32_t u = jp_le32_get(c->p);
    memcpy(out, &u, 4);
    c->p += 4;
    return 0;
}

static inline int rd_double(jp_cur_t *c, double *out)
{
    *out = 0;
    if (c->end - c->p < 8)
        return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a double");
    uint64_t u = jp_le64_get(c->p);
    memcpy(out, &u, 8);
    c->p += 8;
    return 0;
}

static int rd_str(jp_cur_t *c, jp_avro_str_t *s, size_t n)
{
    if ((uint64_t)(c->end - c->p) < n)
        return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a string");
    if (c->flags & JP_AVRO_PLAN_COPY_STRINGS) {
        char *d = jp_avro_arena_alloc(c->arena, n + 1);
        if (!d)
            return cur_fail(c, JP_SERDE_NO_MEMORY, "out of memory");
        memcpy(d, c->p, n);
        s->ptr = d;
    } else {
        s->ptr = (const char *)c->p;
    }
    s->len = n;
    c->p += n;
    return 0;
}

/* Block count of an array/map block; a negative count is followed by the
 * block's byte size, which we do not need. */
static int rd_count(jp_cur_t *c, int64_t *count, int zero_width_items)
{
    if (rd_long(c, count) < 0)
        return -1;
    if (*count < 0) {
        int64_t bytes;
        if (*count == INT64_MIN)
            return cur_fail(c, JP_SERDE_MALFORMED, "bad block count");
        *count = -*count;
        if (rd_long(c, &bytes) < 0)
            return -1;
        if (bytes < 0)
            return cur_fail(c, JP_SERDE_MALFORMED, "negative block size");
    }
    /* Refuse counts the input cannot hold instead of allocating for them. */
    if (zero_width_items) {
        if ((uint64_t)*count > JP_MAX_ZERO_WIDTH_ITEMS)
            return cur_fail(c, JP_SERDE_OUT_OF_RANGE, "too many zero-width array items");
    } else if ((uint64_t)*count > (uint64_t)(c->end - c->p)) {
        return cur_fail(c, JP_SERDE_TRUNCATED, "block count exceeds the remaining input");
    }
    return 0;
}

static int skip_node(jp_cur_t *c, const jp_avro_node_t *n, int depth)
{
    size_t len;
    int64_t v;
    if (depth > 64)
        return cur_fail(c, JP_SERDE_MALFORMED, "nesting too deep");
    if (n->zero_width)
        return 0; /* takes no bytes: nothing to walk, however large the type */
    switch (n->type) {
    case JP_AVRO_NULL:
        return 0;
    case JP_AVRO_BOOLEAN:
        len = 1;
        goto fixed;
    case JP_AVRO_FLOAT:
        len = 4;
        goto fixed;
    case JP_AVRO_DOUBLE:
        len = 8;
        goto fixed;
    case JP_AVRO_FIXED:
        len = n->size;
    fixed:
        if ((uint64_t)(c->end - c->p) < len)
            return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a value");
        c->p += len;
        return 0;
    case JP_AVRO_INT:
    case JP_AVRO_LONG:
    case JP_AVRO_ENUM:
        return rd_long(c, &v);
    case JP_AVRO_STRING:
    case JP_AVRO_BYTES:
        if (rd_len(c, &len) < 0)
            return -1;
        c->p += len;
        return 0;
    case JP_AVRO_RECORD:
        for (size_t i = 0; i < n->n_fields; i++)
            if (skip_node(c, n->fields[i].type, depth + 1) < 0)
                return -1;
        return 0;
    case JP_AVRO_ARRAY:
    case JP_AVRO_MAP:
        for (;;) {
            int64_t count;
            if (rd_count(c, &count, n->type == JP_AVRO_ARRAY && n->items->zero_width) < 0)
                return -1;
            if (count == 0)
                return 0;
            if (n->type == JP_AVRO_ARRAY && n->items->zero_width)
                continue; /* the items take no bytes */
            for (int64_t i = 0; i < count; i++) {
                if (n->type == JP_AVRO_MAP) {
                    if (rd_len(c, &len) < 0)
                        return -1;
                    c->p += len;
                }
                if (skip_node(c, n->items, depth + 1) < 0)
                    return -1;
            }
        }
    case JP_AVRO_UNION:
        if (rd_long(c, &v) < 0)
            return -1;
        if (v < 0 || (uint64_t)v >= n->n_branches)
            return cur_fail(c, JP_SERDE_MALFORMED, "union branch index out of range");
        return skip_node(c, n->branches[v], depth + 1);
    }
    return cur_fail(c, JP_SERDE_MALFORMED, "bad schema node");
}

static int exec(const jp_avro_plan_t *p, uint32_t bi, unsigned char *base, jp_cur_t *c);

/* Arrays and maps: blocks of items appended to one arena array. */
static int exec_seq(const jp_avro_plan_t *p, const jp_op_t *op, unsigned char *base, jp_cur_t *c,
                    int is_map)
{
    jp_avro_array_t *arr = (jp_avro_array_t *)(base + op->off);
    jp_avro_map_t *map = (jp_avro_map_t *)(base + op->off);
    unsigned char *items = NULL;
    jp_avro_str_t *keys = NULL;
    size_t n = 0, esize = op->b;
    for (;;) {
        int64_t count;
        if (rd_count(c, &count, op->flags & JP_ZERO_WIDTH) < 0)
            return -1;
        if (count == 0)
            break;
        size_t total = n + (size_t)count;
        unsigned char *ni = jp_avro_arena_alloc(c->arena, total * esize);
        jp_avro_str_t *nk = is_map ? jp_avro_arena_alloc(c->arena, total * sizeof *nk) : NULL;
        if (!ni || (is_map && !nk))
            return cur_fail(c, JP_SERDE_NO_MEMORY, "out of memory");
        if (n) {
            memcpy(ni, items, n * esize);
            if (is_map)
                memcpy(nk, keys, n * sizeof *nk);
        }
        items = ni;
        keys = nk;
        for (; n < total; n++) {
            size_t len;
            if (is_map && (rd_len(c, &len) < 0 || rd_str(c, &keys[n], len) < 0))
                return -1;
            if (exec(p, op->a, items + n * esize, c) < 0)
                return -1;
        }
    }
    if (is_map) {
        map->keys = keys;
        map->values = items;
        map->n = n;
    } else {
        arr->items = items;
        arr->n = n;
    }
    return 0;
}

static int exec(const jp_avro_plan_t *p, uint32_t bi, unsigned char *base, jp_cur_t *c)
{
    const jp_block_t *bl = &p->blocks[bi];
    for (const jp_op_t *op = bl->ops, *end = bl->ops + bl->n; op < end; op++) {
        unsigned char *dst = op->off != JP_NO_OFF ? base + op->off : base;
        int32_t i32;
        int64_t i64;
        float f;
        double d;
        size_t len;
        switch (op->op) {
        case OP_BOOL:
            if (c->p >= c->end)
                return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a boolean");
            if (*c->p > 1)
                return cur_fail(c, JP_SERDE_MALFORMED, "boolean byte is neither 0 nor 1");
            *dst = *c->p++;
            break;
        case OP_INT:
            if (rd_int(c, &i32) < 0)
                return -1;
            memcpy(dst, &i32, 4);
            break;
        case OP_INT_LONG:
            if (rd_int(c, &i32) < 0)
                return -1;
            i64 = i32;
            memcpy(dst, &i64, 8);
            break;
        case OP_INT_FLOAT:
            if (rd_int(c, &i32) < 0)
                return -1;
            f = (float)i32;
            memcpy(dst, &f, 4);
            break;
        case OP_INT_DOUBLE:
            if (rd_int(c, &i32) < 0)
                return -1;
            d = i32;
            memcpy(dst, &d, 8);
            break;
        case OP_LONG:
            if (rd_long(c, &i64) < 0)
                return -1;
            memcpy(dst, &i64, 8);
            break;
        case OP_LONG_FLOAT:
            if (rd_long(c, &i64) < 0)
                return -1;
            f = (float)i64;
            memcpy(dst, &f, 4);
            break;
        case OP_LONG_DOUBLE:
            if (rd_long(c, &i64) < 0)
                return -1;
            d = (double)i64;
            memcpy(dst, &d, 8);
            break;
        case OP_FLOAT:
            if (rd_float(c, &f) < 0)
                return -1;
            memcpy(dst, &f, 4);
            break;
        case OP_FLOAT_DOUBLE:
            if (rd_float(c, &f) < 0)
                return -1;
            d = f;
            memcpy(dst, &d, 8);
            break;
        case OP_DOUBLE:
            if (rd_double(c, &d) < 0)
                return -1;
            memcpy(dst, &d, 8);
            break;
        case OP_STR:
            if (rd_len(c, &len) < 0 || rd_str(c, (jp_avro_str_t *)dst, len) < 0)
                return -1;
            break;
        case OP_FIXED:
            if (rd_str(c, (jp_avro_str_t *)dst, op->a) < 0)
                return -1;
            break;
        case OP_ENUM:
            if (rd_long(c, &i64) < 0)
                return -1;
            if (i64 < 0 || i64 >= op->a)
                return cur_fail(c, JP_SERDE_OUT_OF_RANGE, "enum index out of range");
            i32 = ((const int *)op->ptr)[i64];
            memcpy(dst, &i32, 4);
            break;
        case OP_ARRAY:
        case OP_MAP:
            if (exec_seq(p, op, base, c, op->op == OP_MAP) < 0)
                return -1;
            break;
        case OP_WUNION:
            if (rd_long(c, &i64) < 0)
                return -1;
            if (i64 < 0 || i64 >= op->a)
                return cur_fail(c, JP_SERDE_MALFORMED, "union branch index out of range");
            if (exec(p, ((const uint32_t *)op->ptr)[i64], base, c) < 0)
                return -1;
            break;
        case OP_PRESENT:
            *dst = (unsigned char)op->a;
            break;
        case OP_SKIP_VARINT:
            if (rd_long(c, &i64) < 0)
                return -1;
            break;
        case OP_SKIP_N:
            if ((uint64_t)(c->end - c->p) < op->a)
                return cur_fail(c, JP_SERDE_TRUNCATED, "input ends inside a value");
            c->p += op->a;
            break;
        case OP_SKIP_BYTES:
            if (rd_len(c, &len) < 0)
                return -1;
            c->p += len;
            break;
        case OP_SKIP_NODE:
            if (skip_node(c, op->ptr, 0) < 0)
                return -1;
            break;
        case OP_DEFAULT: {
            jp_cur_t dc = {op->ptr,  (const unsigned char *)op->ptr + op->b,
                           op->ptr,  c->arena,
                           c->flags, JP_SERDE_OK,
                           NULL};
            if (exec(p, op->a, base, &dc) < 0)
                return cur_fail(c, dc.err, dc.what);
            break;
        }
        default:
            return cur_fail(c, JP_SERDE_INVALID, "bad op");
        }
    }
    return 0;
}

jp_serde_err_t jp_avro_plan_decode(const jp_avro_plan_t *p, const void *buf, size_t len, void *out,
                                   jp_avro_arena_t *arena, int flags, char *errstr,
                                   size_t errstr_size)
{
    if (!p || (!buf && len) || !out || !arena) {
        jp_err_set(errstr, errstr_size, "decode: missing argument");
        return JP_SERDE_INVALID;
    }
    const unsigned char *b = buf ? buf : (const unsigned char *)"";
    jp_cur_t c = {b, b + len, b, arena, flags, JP_SERDE_OK, NULL};
    memset(out, 0, p->root_size);
    if (exec(p, 0, out, &c) == 0 && c.p != c.end)
        cur_fail(&c, JP_SERDE_MALFORMED, "trailing bytes after the record");
    if (c.err != JP_SERDE_OK)
        jp_err_set(errstr, errstr_size, "%s at byte %zu", c.what, (size_t)(c.p - c.start));
    return c.err;
}

/* ---- encoder ---------------------------------------------------------------- */

typedef struct {
    jp_avro_buf_t *out;
    jp_serde_err_t err;
    const char *what;
} jp_enc_t;

static int enc_fail(jp_enc_t *e, jp_serde_err_t err, const char *what)
{
    if (e->err == JP_SERDE_OK) {
        e->err = err;
        e->what = what;
    }
    return -1;
}

static int wr(jp_enc_t *e, const void *d, size_t n)
{
    return jp_avro_buf_append(e->out, d, n) < 0 ? enc_fail(e, JP_SERDE_NO_MEMORY, "out of memory")
                                                : 0;
}

static int wr_long(jp_enc_t *e, int64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    uint64_t u = (uint64_t)v;
    uint64_t z = (u << 1) ^ (0 - (u >> 63)); /* zigzag, without a signed shift */
    while (z & ~(uint64_t)0x7f) {
        tmp[n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    tmp[n++] = (unsigned char)z;
    return wr(e, tmp, n);
}

/* The low n bytes (4 or 8) of u, little-endian (Avro float, double). */
static int wr_le(jp_enc_t *e, uint64_t u, size_t n)
{
    unsigned char tmp[8];
    jp_le64_put(tmp, u);
    return wr(e, tmp, n);
}

static int enc(const jp_avro_plan_t *p, uint32_t bi, const unsigned char *base, jp_enc_t *e)
{
    const jp_block_t *bl = &p->blocks[bi];
    for (const jp_op_t *op = bl->ops, *end = bl->ops + bl->n; op < end; op++) {
        const unsigned char *src = op->off != JP_NO_OFF ? base + op->off : base;
        int32_t i32;
        int64_t i64;
        uint32_t u32;
        uint64_t u64;
        int rc = 0;
        switch (op->op) {
        case OP_BOOL: {
            unsigned char v = *src ? 1 : 0;
            rc = wr(e, &v, 1);
            break;
        }
        case OP_INT:
            memcpy(&i32, src, 4);
            rc = wr_long(e, i32);
            break;
        case OP_LONG:
            memcpy(&i64, src, 8);
            rc = wr_long(e, i64);
            break;
        case OP_FLOAT:
            memcpy(&u32, src, 4);
            rc = wr_le(e, u32, 4);
            break;
        case OP_DOUBLE:
            memcpy(&u64, src, 8);
            rc = wr_le(e, u64, 8);
            break;
        case OP_STR:
        case OP_FIXED: {
            const jp_avro_str_t *s = (const jp_avro_str_t *)src;
            if (op->op == OP_FIXED && s->len != op->a)
                return enc_fail(e, JP_SERDE_OUT_OF_RANGE, "fixed value of the wrong length");
            if (s->len && !s->ptr)
                return enc_fail(e, JP_SERDE_INVALID, "string with a length but no data");
            if (op->op == OP_STR)
                rc = wr_long(e, (int64_t)s->len);
            if (rc == 0)
                rc = wr(e, s->ptr, s->len);
            break;
        }
        case OP_ENUM:
            memcpy(&i32, src, 4);
            if (i32 < 0 || (uint32_t)i32 >= op->a)
                return enc_fail(e, JP_SERDE_OUT_OF_RANGE, "enum value out of range");
            rc = wr_long(e, i32);
            break;
        case OP_ARRAY:
        case OP_MAP: {
            const jp_avro_array_t *arr = (const jp_avro_array_t *)src;
            const jp_avro_map_t *map = (const jp_avro_map_t *)src;
            size_t n = op->op == OP_MAP ? map->n : arr->n;
            const unsigned char *items = op->op == OP_MAP ? map->values : arr->items;
            if (n && (!items || (op->op == OP_MAP && !map->keys)))
                return enc_fail(e, JP_SERDE_INVALID, "array or map with items but no data");
            if (n && wr_long(e, (int64_t)n) < 0)
                return -1;
            for (size_t i = 0; i < n; i++) {
                if (op->op == OP_MAP && (wr_long(e, (int64_t)map->keys[i].len) < 0 ||
                                         wr(e, map->keys[i].ptr, map->keys[i].len) < 0))
                    return -1;
                if (enc(p, op->a, items + i * op->b, e) < 0)
                    return -1;
            }
            rc = wr_long(e, 0);
            break;
        }
        case OP_WUNION: {
            /* Identity plan: the branch follows from the presence flag. */
            uint32_t branch = 0;
            if (op->b != JP_NO_OFF && op->off != JP_NO_OFF)
                branch = src[0] ? (op->b == 0 ? 1 : 0) : op->b;
            if (branch >= op->a)
                return enc_fail(e, JP_SERDE_INVALID, "union branch out of range");
            if (wr_long(e, branch) < 0)
                return -1;
            /* The branch body is relative to the same base as this op. */
            rc = enc(p, ((const uint32_t *)op->ptr)[branch], base, e);
            break;
        }
        case OP_PRESENT:
            break;
        default:
            return enc_fail(e, JP_SERDE_INVALID, "not an identity plan");
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

jp_serde_err_t jp_avro_plan_encode(const jp_avro_plan_t *p, const void *in, jp_avro_buf_t *out,
                                   char *errstr, size_t errstr_size)
{
    if (!p || !in || !out) {
        jp_err_set(errstr, errstr_size, "encode: missing argument");
        return JP_SERDE_INVALID;
    }
    if (!p->identity) {
        jp_err_set(errstr, errstr_size, "encode needs a plan compiled with writer == reader");
        return JP_SERDE_INVALID;
    }
    size_t mark = out->len;
    jp_enc_t e = {out, JP_SERDE_OK, NULL};
    if (enc(p, 0, in, &e) < 0) {
        out->len = mark;
        jp_err_set(errstr, errstr_size, "%s", e.what);
    }
    return e.err;
}
