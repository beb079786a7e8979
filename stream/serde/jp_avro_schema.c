/*
 * jp_avro_schema: parsing, Parsing Canonical Form, CRC-64-AVRO fingerprints
 * and schema resolution.
 *
 * Design. A schema is parsed once (with jansson) into a graph of immutable
 * nodes that the decoder's plan compiler walks directly; nothing downstream
 * touches JSON again. Every node is allocated separately and recorded in the
 * schema's node list, which is the single owner: references to a named type
 * point at the one node, so recursive records are cycles and freeing walks
 * the list rather than the graph.
 *
 * Field defaults are validated against the field type at parse time (the
 * spec: a union default belongs to its first branch) and encoded in Avro
 * binary right away. The decoder then fills a reader-only field by "reading"
 * those bytes with the same plan machinery as wire data, which gives record,
 * enum, array, map and union defaults for free.
 *
 * Resolution: the rules (match, promotion, union branch choice, field
 * lookup by name and alias, enum symbol mapping) are the small exported
 * functions jp_avro_match .. jp_avro_enum_map. can_read below and the plan
 * compiler (jp_avro_plan.c) both recurse by calling them, so the registry's
 * compatibility verdict and the decoder cannot drift apart. can_read is
 * strict the way the Java SchemaCompatibility checker is: a writer union is
 * readable only if every branch is, and every writer enum symbol must map.
 * Recursive types are handled coinductively: a (reader, writer) pair met
 * again while it is being checked is assumed compatible.
 */
#include "serde/jp_avro_schema.h"

#include "model/base/jp_err.h"
#include "model/base/jp_endian.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp_avro_schema_s {
    jp_avro_node_t *root;
    jp_avro_node_t **nodes; /* every node, owner list */
    size_t n_nodes, cap_nodes;
};

/* ---- small utilities ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} jp_sbuf_t;

static void sbuf_put(jp_sbuf_t *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_str(jp_sbuf_t *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

static void sbuf_byte(jp_sbuf_t *b, unsigned char c)
{
    sbuf_put(b, &c, 1);
}

static void sbuf_varlong(jp_sbuf_t *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint64_t z = (u << 1) ^ (0 - (u >> 63)); /* zigzag, without a signed shift */
    while (z & ~(uint64_t)0x7f) {
        sbuf_byte(b, (unsigned char)((z & 0x7f) | 0x80));
        z >>= 7;
    }
    sbuf_byte(b, (unsigned char)z);
}

static const char *const jp_type_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed",
};

const char *jp_avro_type_name(jp_avro_type_t t)
{
    return (unsigned)t < sizeof jp_type_names / sizeof *jp_type_names ? jp_type_names[t] : "?";
}

static int primitive_type(const char *s, jp_avro_type_t *out)
{
    for (int t = JP_AVRO_NULL; t <= JP_AVRO_STRING; t++)
        if (strcmp(s, jp_type_names[t]) == 0) {
            *out = (jp_avro_type_t)t;
            return 0;
        }
    return -1;
}

static int is_named(jp_avro_type_t t)
{
    return t == JP_AVRO_RECORD || t == JP_AVRO_ENUM || t == JP_AVRO_FIXED;
}

/* Unqualified part of a full name. */
static const char *short_name(const char *full)
{
    const char *dot = strrchr(full, '.');
    return dot ? dot + 1 : full;
}

static int valid_simple_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!(alpha || (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* A full name: dot-separated simple names. */
static int valid_full_name(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!valid_simple_name(p, n))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

/* ---- parsing ------------------------------------------------------------ */

/* A field default waiting to be encoded: defaults are encoded once the
 * whole schema is parsed, so a default that instantiates a record still
 * being defined (a recursive type) sees all of its fields. */
typedef struct {
    jp_avro_field_t *field;
    json_t *value; /* borrowed from the document, alive until parse returns */
    enum { DEFAULT_PENDING, DEFAULT_ENCODING, DEFAULT_DONE } state;
} jp_pending_default_t;

typedef struct {
    jp_avro_schema_t *s;
    char *errstr;
    size_t errstr_size;
    int failed;
    jp_pending_default_t *defaults;
    size_t n_defaults, cap_defaults;
} jp_parse_t;

static jp_avro_node_t *node_new(jp_parse_t *ps, jp_avro_type_t t)
{
    jp_avro_schema_t *s = ps->s;
    if (s->n_nodes == s->cap_nodes) {
        size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 32;
        jp_avro_node_t **n = realloc(s->nodes, cap * sizeof *n);
        if (!n)
            return NULL;
        s->nodes = n;
        s->cap_nodes = cap;
    }
    jp_avro_node_t *node = calloc(1, sizeof *node);
    if (!node)
        return NULL;
    node->type = t;
    node->enum_default = -1;
    s->nodes[s->n_nodes++] = node;
    return node;
}

static void node_free(jp_avro_node_t *n)
{
    free((void *)n->logical_type);
    free((void *)n->name);
    for (size_t i = 0; i < n->n_aliases; i++)
        free((void *)n->aliases[i]);
    free((void *)n->aliases);
    for (size_t i = 0; i < n->n_fields; i++) {
        const jp_avro_field_t *f = &n->fields[i];
        free((void *)f->name);
        for (size_t j = 0; j < f->n_aliases; j++)
            free((void *)f->aliases[j]);
        free((void *)f->aliases);
        free((void *)f->default_bin);
    }
    free((void *)n->fields);
    for (size_t i = 0; i < n->n_symbols; i++)
        free((void *)n->symbols[i]);
    free((void *)n->symbols);
    free((void *)n->branches);
    free(n);
}

static jp_avro_node_t *find_named(const jp_avro_schema_t *s, const char *full)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (s->nodes[i]->name && strcmp(s->nodes[i]->name, full) == 0)
            return s->nodes[i];
    return NULL;
}

/* Full name of `name` in namespace `ns` (malloc'd). */
static char *qualify(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        return strdup(name);
    size_t n = strlen(ns) + strlen(name) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s.%s", ns, name);
    return out;
}

static jp_avro_node_t *parse_node(jp_parse_t *ps, json_t *j, const char *ns);

static jp_avro_node_t *parse_fail(jp_parse_t *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static jp_avro_node_t *parse_fail(jp_parse_t *ps, const char *fmt, ...)
{
    if (!ps->failed) {
        va_list ap;
        va_start(ap, fmt);
        jp_err_vset(ps->errstr, ps->errstr_size, fmt, ap);
        va_end(ap);
    }
    ps->failed = 1;
    return NULL;
}

/* Reads an "aliases" array into malloc'd strings, qualifying with ns if
 * ns is given (named types) or as-is (fields). */
static int parse_aliases(jp_parse_t *ps, json_t *obj, const char *ns, int qualify_names,
                         const char *const **out, size_t *n_out)
{
    json_t *a = json_object_get(obj, "aliases");
    *out = NULL;
    *n_out = 0;
    if (!a)
        return 0;
    if (!json_is_array(a)) {
        parse_fail(ps, "\"aliases\" must be an array of names%s", "");
        return -1;
    }
    size_t n = json_array_size(a);
    const char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -1;
    *out = v;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        const char *txt = json_string_value(e);
        if (!txt || !(qualify_names ? valid_full_name(txt) : valid_simple_name(txt, strlen(txt)))) {
            parse_fail(ps, "invalid alias %s", txt ? txt : "(not a string)");
            return -1;
        }
        v[i] = qualify_names ? qualify(txt, ns) : strdup(txt);
        if (!v[i])
            return -1;
        *n_out = i + 1;
    }
    return 0;
}

/* Decodes one UTF-8 code point; -1 on invalid input. */
static long utf8_next(const char **p, const char *end)
{
    const unsigned char *s = (const unsigned char *)*p;
    if ((const char *)s >= end)
        return -1;
    long c = s[0];
    int extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
    if (extra)
        c &= (0x3f >> extra);
    if ((const char *)s + 1 + extra > end)
        return -1;
    for (int i = 1; i <= extra; i++)
        c = (c << 6) | (s[i] & 0x3f);
    *p = (const char *)s + 1 + extra;
    return c;
}

static int field_default(jp_parse_t *ps, const jp_avro_field_t *f, jp_sbuf_t *b);

/* Encodes a JSON default as Avro binary of node n (the spec's default value
 * encoding: bytes and fixed as strings of code points 0-255). A record
 * value may omit fields that have defaults of their own. */
static int encode_default(jp_parse_t *ps, const jp_avro_node_t *n, json_t *v, jp_sbuf_t *b)
{
    switch (n->type) {
    case JP_AVRO_NULL:
        return json_is_null(v) ? 0 : -1;
    case JP_AVRO_BOOLEAN:
        if (!json_is_boolean(v))
            return -1;
        sbuf_byte(b, json_is_true(v) ? 1 : 0);
        return 0;
    case JP_AVRO_INT:
    case JP_AVRO_LONG: {
        if (!json_is_integer(v))
            return -1;
        json_int_t x = json_integer_value(v);
        if (n->type == JP_AVRO_INT && (x < INT32_MIN || x > INT32_MAX))
            return -1;
        sbuf_varlong(b, (int64_t)x);
        return 0;
    }
    case JP_AVRO_FLOAT: {
        if (!json_is_number(v))
            return -1;
        double d = json_number_value(v);
        /* Out of float range is infinity (a C cast would be undefined). */
        float f = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
        uint32_t u;
        unsigned char le[4];
        memcpy(&u, &f, 4);
        jp_le32_put(le, u); /* Avro: little-endian */
        sbuf_put(b, le, 4);
        return 0;
    }
    case JP_AVRO_DOUBLE: {
        if (!json_is_number(v))
            return -1;
        double d = json_number_value(v);
        uint64_t u;
        unsigned char le[8];
        memcpy(&u, &d, 8);
        jp_le64_put(le, u);
        sbuf_put(b, le, 8);
        return 0;
    }
    case JP_AVRO_STRING: {
        if (!json_is_string(v))
            return -1;
        size_t len = json_string_length(v);
        sbuf_varlong(b, (int64_t)len);
        sbuf_put(b, json_string_value(v), len);
        return 0;
    }
    case JP_AVRO_BYTES:
    case JP_AVRO_FIXED: {
        if (!json_is_string(v))
            return -1;
        const char *p = json_string_value(v), *end = p + json_string_length(v);
        jp_sbuf_t raw = {0};
        while (p < end) {
            long c = utf8_next(&p, end);
            if (c < 0 || c > 255) {
                free(raw.p);
                return -1;
            }
            sbuf_byte(&raw, (unsigned char)c);
        }
        int rc = raw.oom ? -1 : 0;
        if (n->type == JP_AVRO_FIXED) {
            if (raw.len != n->size)
                rc = -1;
        } else {
            sbuf_varlong(b, (int64_t)raw.len);
        }
        if (raw.len)
            sbuf_put(b, raw.p, raw.len);
        free(raw.p);
        return rc;
    }
    case JP_AVRO_ENUM: {
        const char *sym = json_string_value(v);
        if (!sym)
            return -1;
        for (size_t i = 0; i < n->n_symbols; i++)
            if (strcmp(n->symbols[i], sym) == 0) {
                sbuf_varlong(b, (int64_t)i);
                return 0;
            }
        return -1;
    }
    case JP_AVRO_ARRAY: {
        if (!json_is_array(v))
            return -1;
        size_t cnt = json_array_size(v);
        if (cnt) {
            sbuf_varlong(b, (int64_t)cnt);
            for (size_t i = 0; i < cnt; i++)
                if (encode_default(ps, n->items, json_array_get(v, i), b) < 0)
                    return -1;
        }
        sbuf_byte(b, 0);
        return 0;
    }
    case JP_AVRO_MAP: {
        if (!json_is_object(v))
            return -1;
        size_t cnt = json_object_size(v);
        if (cnt) {
            sbuf_varlong(b, (int64_t)cnt);
            const char *k;
            json_t *e;
            json_object_foreach(v, k, e)
            {
                sbuf_varlong(b, (int64_t)strlen(k));
                sbuf_str(b, k);
                if (encode_default(ps, n->items, e, b) < 0)
                    return -1;
            }
        }
        sbuf_byte(b, 0);
        return 0;
    }
    case JP_AVRO_UNION:
        if (n->n_branches == 0)
            return -1;
        sbuf_byte(b, 0); /* branch 0 */
        return encode_default(ps, n->branches[0], v, b);
    case JP_AVRO_RECORD: {
        if (!json_is_object(v))
            return -1;
        for (size_t i = 0; i < n->n_fields; i++) {
            const jp_avro_field_t *f = &n->fields[i];
            json_t *fv = json_object_get(v, f->name);
            if (fv) {
                if (encode_default(ps, f->type, fv, b) < 0)
                    return -1;
            } else if (!f->has_default || field_default(ps, f, b) < 0) {
                return -1;
            }
        }
        return 0;
    }
    }
    return -1;
}

/* Queues field f's default for encoding after the parse. */
static int defer_default(jp_parse_t *ps, jp_avro_field_t *f, json_t *value)
{
    if (ps->n_defaults == ps->cap_defaults) {
        size_t cap = ps->cap_defaults ? ps->cap_defaults * 2 : 16;
        jp_pending_default_t *v = realloc(ps->defaults, cap * sizeof *v);
        if (!v)
            return -1;
        ps->defaults = v;
        ps->cap_defaults = cap;
    }
    ps->defaults[ps->n_defaults++] = (jp_pending_default_t){f, value, DEFAULT_PENDING};
    f->has_default = 1;
    return 0;
}

/* Encodes the default of f (once; a default that needs itself, e.g. a
 * record default relying on the default being computed, fails). */
static int encode_field_default(jp_parse_t *ps, jp_pending_default_t *d)
{
    if (d->state == DEFAULT_DONE)
        return 0;
    if (d->state == DEFAULT_ENCODING)
        return -1;
    d->state = DEFAULT_ENCODING;
    jp_sbuf_t b = {0};
    if (encode_default(ps, d->field->type, d->value, &b) < 0 || b.oom ||
        (!b.p && !(b.p = calloc(1, 1)))) {
        free(b.p);
        return -1;
    }
    d->field->default_bin = (unsigned char *)b.p;
    d->field->default_len = b.len;
    d->state = DEFAULT_DONE;
    return 0;
}

static int field_default(jp_parse_t *ps, const jp_avro_field_t *f, jp_sbuf_t *b)
{
    for (size_t i = 0; i < ps->n_defaults; i++)
        if (ps->defaults[i].field == f) {
            if (encode_field_default(ps, &ps->defaults[i]) < 0)
                return -1;
            sbuf_put(b, f->default_bin, f->default_len);
            return 0;
        }
    return -1;
}

/* Encodes every queued default; the first that does not match its type
 * fails the parse, naming the field. */
static int encode_defaults(jp_parse_t *ps)
{
    for (size_t i = 0; i < ps->n_defaults; i++)
        if (encode_field_default(ps, &ps->defaults[i]) < 0) {
            const jp_avro_field_t *f = ps->defaults[i].field;
            parse_fail(ps,
                       "field %s: default does not match its type (for a union: its first "
                       "branch)",
                       f->name);
            return -1;
        }
    return 0;
}

static jp_avro_node_t *parse_record(jp_parse_t *ps, json_t *j, jp_avro_node_t *n, const char *ns)
{
    json_t *fields = json_object_get(j, "fields");
    if (!json_is_array(fields))
        return parse_fail(ps, "record %s: \"fields\" must be an array", n->name);
    size_t nf = json_array_size(fields);
    jp_avro_field_t *fv = calloc(nf ? nf : 1, sizeof *fv);
    if (!fv)
        return parse_fail(ps, "out of memory");
    n->fields = fv;
    for (size_t i = 0; i < nf; i++) {
        json_t *fj = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(fj, "name"));
        if (!json_is_object(fj) || !fname || !valid_simple_name(fname, strlen(fname)))
            return parse_fail(ps, "record %s: a field has a missing or invalid name", n->name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(fv[k].name, fname) == 0)
                return parse_fail(ps, "duplicate field name %s", fname);
        jp_avro_field_t *f = &fv[i];
        if (!(f->name = strdup(fname)))
            return parse_fail(ps, "out of memory");
        n->n_fields = i + 1;
        if (parse_aliases(ps, fj, NULL, 0, &f->aliases, &f->n_aliases) < 0)
            return parse_fail(ps, "field %s: bad aliases", fname);
        json_t *tj = json_object_get(fj, "type");
        if (!tj)
            return parse_fail(ps, "field %s has no type", fname);
        if (!(f->type = parse_node(ps, tj, ns)))
            return NULL;
        json_t *dj = json_object_get(fj, "default");
        if (dj && defer_default(ps, f, dj) < 0)
            return parse_fail(ps, "out of memory");
        const char *order = json_string_value(json_object_get(fj, "order"));
        if (json_object_get(fj, "order") &&
            (!order || (strcmp(order, "ascending") && strcmp(order, "descending") &&
                        strcmp(order, "ignore"))))
            return parse_fail(ps, "field %s: invalid order", fname);
    }
    return n;
}

static jp_avro_node_t *parse_enum(jp_parse_t *ps, json_t *j, jp_avro_node_t *n)
{
    json_t *syms = json_object_get(j, "symbols");
    if (!json_is_array(syms))
        return parse_fail(ps, "enum %s: \"symbols\" must be an array", n->name);
    size_t ns = json_array_size(syms);
    const char **sv = calloc(ns ? ns : 1, sizeof *sv);
    if (!sv)
        return parse_fail(ps, "out of memory");
    n->symbols = sv;
    for (size_t i = 0; i < ns; i++) {
        const char *sym = json_string_value(json_array_get(syms, i));
        if (!sym || !valid_simple_name(sym, strlen(sym)))
            return parse_fail(ps, "enum %s: invalid symbol", n->name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(sv[k], sym) == 0)
                return parse_fail(ps, "enum: duplicate symbol %s", sym);
        if (!(sv[i] = strdup(sym)))
            return parse_fail(ps, "out of memory");
        n->n_symbols = i + 1;
    }
    json_t *dj = json_object_get(j, "default");
    if (dj) {
        const char *d = json_string_value(dj);
        for (size_t i = 0; d && i < ns; i++)
            if (strcmp(sv[i], d) == 0)
                n->enum_default = (int)i;
        if (n->enum_default < 0)
            return parse_fail(ps, "enum %s: default is not one of its symbols", n->name);
    }
    return n;
}

static jp_avro_node_t *parse_named(jp_parse_t *ps, json_t *j, jp_avro_type_t t, const char *ns)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name || !valid_full_name(name))
        return parse_fail(ps, "%s without a valid name", jp_avro_type_name(t));
    json_t *nsj = json_object_get(j, "namespace");
    if (nsj && !json_is_string(nsj) && !json_is_null(nsj))
        return parse_fail(ps, "%s: namespace must be a string", name);
    const char *own_ns = strchr(name, '.') ? NULL : nsj ? json_string_value(nsj) : ns;
    if (own_ns && *own_ns && !valid_full_name(own_ns))
        return parse_fail(ps, "invalid namespace %s", own_ns);
    char *full = qualify(name, own_ns);
    if (!full)
        return parse_fail(ps, "out of memory");
    jp_avro_type_t prim;
    if (primitive_type(short_name(full), &prim) == 0 && !strchr(full, '.')) {
        parse_fail(ps, "a named type cannot be called %s", full);
        free(full);
        return NULL;
    }
    if (find_named(ps->s, full)) {
        parse_fail(ps, "type %s is defined twice", full);
        free(full);
        return NULL;
    }
    jp_avro_node_t *n = node_new(ps, t);
    if (!n) {
        free(full);
        return parse_fail(ps, "out of memory");
    }
    n->name = full;
    /* Namespace for nested definitions and aliases is this type's own. */
    size_t nslen = (size_t)(short_name(full) - full);
    char *inner = strndup(full, nslen ? nslen - 1 : 0);
    if (!inner)
        return parse_fail(ps, "out of memory");
    jp_avro_node_t *rc = n;
    if (parse_aliases(ps, j, inner, 1, &n->aliases, &n->n_aliases) < 0)
        rc = parse_fail(ps, "%s: bad aliases", full);
    else if (t == JP_AVRO_RECORD)
        rc = parse_record(ps, j, n, inner);
    else if (t == JP_AVRO_ENUM)
        rc = parse_enum(ps, j, n);
    else {
        json_t *size = json_object_get(j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            rc = parse_fail(ps, "fixed %s: size must be a non-negative integer", full);
        else
            n->size = (size_t)json_integer_value(size);
    }
    free(inner);
    return rc;
}

static jp_avro_node_t *parse_union(jp_parse_t *ps, json_t *j, const char *ns)
{
    size_t nb = json_array_size(j);
    if (nb == 0) /* no value could be written or read, and no default fits */
        return parse_fail(ps, "a union must have at least one branch");
    jp_avro_node_t *n = node_new(ps, JP_AVRO_UNION);
    const jp_avro_node_t **bv = n ? calloc(nb ? nb : 1, sizeof *bv) : NULL;
    if (!bv)
        return parse_fail(ps, "out of memory");
    n->branches = bv;
    for (size_t i = 0; i < nb; i++) {
        const jp_avro_node_t *b = parse_node(ps, json_array_get(j, i), ns);
        if (!b)
            return NULL;
        if (b->type == JP_AVRO_UNION)
            return parse_fail(ps, "a union cannot contain a union directly");
        for (size_t k = 0; k < i; k++) {
            const jp_avro_node_t *o = bv[k];
            if (o->type == b->type && (!is_named(b->type) || strcmp(o->name, b->name) == 0))
                return parse_fail(ps, "union contains %s twice",
                                  b->name ? b->name : jp_avro_type_name(b->type));
        }
        bv[i] = b;
        n->n_branches = i + 1;
    }
    return n;
}

static jp_avro_node_t *parse_node(jp_parse_t *ps, json_t *j, const char *ns)
{
    jp_avro_type_t t;
    if (json_is_string(j)) {
        const char *name = json_string_value(j);
        if (primitive_type(name, &t) == 0) {
            jp_avro_node_t *n = node_new(ps, t);
            return n ? n : parse_fail(ps, "out of memory");
        }
        char *full = qualify(name, ns);
        jp_avro_node_t *n = full ? find_named(ps->s, full) : NULL;
        if (!n && full && strchr(name, '.') == NULL)
            n = find_named(ps->s, name); /* a name in the null namespace */
        free(full);
        return n ? n : parse_fail(ps, "unknown type %s", name);
    }
    if (json_is_array(j))
        return parse_union(ps, j, ns);
    if (!json_is_object(j))
        return parse_fail(ps, "a schema must be a string, object or array");
    json_t *tj = json_object_get(j, "type");
    if (!tj)
        return parse_fail(ps, "schema object without \"type\"%s", "");
    if (!json_is_string(tj))
        return parse_node(ps, tj, ns); /* {"type": {...}} wraps a schema */
    const char *ts = json_string_value(tj);
    jp_avro_node_t *n = NULL;
    if (primitive_type(ts, &t) == 0) {
        n = node_new(ps, t);
        if (!n)
            return parse_fail(ps, "out of memory");
    } else if (!strcmp(ts, "record") || !strcmp(ts, "error")) {
        return parse_named(ps, j, JP_AVRO_RECORD, ns);
    } else if (!strcmp(ts, "enum")) {
        return parse_named(ps, j, JP_AVRO_ENUM, ns);
    } else if (!strcmp(ts, "fixed")) {
        n = parse_named(ps, j, JP_AVRO_FIXED, ns);
        if (!n)
            return NULL;
    } else if (!strcmp(ts, "array") || !strcmp(ts, "map")) {
        json_t *sub = json_object_get(j, ts[0] == 'a' ? "items" : "values");
        if (!sub)
            return parse_fail(ps, "%s without its element type", ts);
        n = node_new(ps, ts[0] == 'a' ? JP_AVRO_ARRAY : JP_AVRO_MAP);
        if (!n)
            return parse_fail(ps, "out of memory");
        if (!(n->items = parse_node(ps, sub, ns)))
            return NULL;
    } else {
        /* A named type referenced as {"type": "Name"}. */
        char *full = qualify(ts, ns);
        jp_avro_node_t *r = full ? find_named(ps->s, full) : NULL;
        if (!r)
            r = find_named(ps->s, ts);
        free(full);
        return r ? r : parse_fail(ps, "unknown type %s", ts);
    }
    const char *lt = json_string_value(json_object_get(j, "logicalType"));
    if (lt && !(n->logical_type = strdup(lt)))
        return parse_fail(ps, "out of memory");
    return n;
}

/* Expanded size and zero width of n and everything below it, once per
 * node: named types are shared nodes, so this is linear in the schema text
 * however often a type is used. A node met again while its own size is
 * being computed is a recursive reference and counts as one (expanded ==
 * SIZE_MAX marks "in progress"). Sums saturate above the limit. */
static size_t measure(jp_avro_node_t *n)
{
    if (n->expanded == SIZE_MAX)
        return 1;
    if (n->expanded)
        return n->expanded;
    n->expanded = SIZE_MAX;
    size_t total = 1;
    int zero = n->type == JP_AVRO_NULL || (n->type == JP_AVRO_FIXED && n->size == 0);
    const jp_avro_node_t *kid;
    size_t n_kids = n->type == JP_AVRO_RECORD  ? n->n_fields
                    : n->type == JP_AVRO_UNION ? n->n_branches
                    : n->items                 ? 1
                                               : 0;
    if (n->type == JP_AVRO_RECORD)
        zero = 1;
    for (size_t i = 0; i < n_kids; i++) {
        kid = n->type == JP_AVRO_RECORD  ? n->fields[i].type
              : n->type == JP_AVRO_UNION ? n->branches[i]
                                         : n->items;
        int in_progress = kid->expanded == SIZE_MAX;
        total += measure((jp_avro_node_t *)kid);
        if (total > JP_AVRO_MAX_EXPANDED)
            total = JP_AVRO_MAX_EXPANDED + 1;
        /* A record is zero-width when all its fields are; one that
         * contains itself without a union or array has no finite value. */
        if (n->type == JP_AVRO_RECORD && (in_progress || !kid->zero_width))
            zero = 0;
    }
    n->zero_width = zero;
    n->expanded = total;
    return total;
}

jp_avro_schema_t *jp_avro_schema_parse(const char *json, size_t len, char *errstr,
                                       size_t errstr_size)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        jp_err_set(errstr, errstr_size, "schema is not JSON: %s (line %d)", jerr.text, jerr.line);
        return NULL;
    }
    jp_avro_schema_t *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    jp_parse_t ps = {.s = s, .errstr = errstr, .errstr_size = errstr_size};
    s->root = parse_node(&ps, root, NULL);
    if (s->root && encode_defaults(&ps) < 0)
        s->root = NULL;
    if (s->root && measure(s->root) > JP_AVRO_MAX_EXPANDED) {
        parse_fail(&ps,
                   "schema too complex: more than %d types when its named types are "
                   "written out where they are used",
                   JP_AVRO_MAX_EXPANDED);
        s->root = NULL;
    }
    free(ps.defaults);
    json_decref(root);
    if (!s->root) {
        if (!ps.failed)
            jp_err_set(errstr, errstr_size, "invalid schema");
        jp_avro_schema_free(s);
        return NULL;
    }
    return s;
}

void jp_avro_schema_free(jp_avro_schema_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_nodes; i++)
        node_free(s->nodes[i]);
    free(s->nodes);
    free(s);
}

const jp_avro_node_t *jp_avro_schema_root(const jp_avro_schema_t *s)
{
    return s->root;
}

/* ---- normalized JSON ----------------------------------------------------- */

/* Named types defined so far while normalizing, in document order (the
 * order the parser defines them, so references resolve the same way). */
typedef struct {
    char **names;
    size_t n, cap;
    int failed;
} jp_norm_t;

static int norm_define(jp_norm_t *nm, const char *full)
{
    if (nm->n == nm->cap) {
        size_t cap = nm->cap ? nm->cap * 2 : 16;
        char **v = realloc(nm->names, cap * sizeof *v);
        if (!v)
            return -1;
        nm->names = v;
        nm->cap = cap;
    }
    if (!(nm->names[nm->n] = strdup(full)))
        return -1;
    nm->n++;
    return 0;
}

static int norm_known(const jp_norm_t *nm, const char *full)
{
    for (size_t i = 0; i < nm->n; i++)
        if (strcmp(nm->names[i], full) == 0)
            return 1;
    return 0;
}

/* A reference to a named type, as the full name it resolves to. */
static json_t *norm_reference(jp_norm_t *nm, const char *name, const char *ns)
{
    jp_avro_type_t t;
    if (primitive_type(name, &t) == 0)
        return json_string(name);
    char *full = qualify(name, ns);
    json_t *out = NULL;
    if (full)
        out = json_string(norm_known(nm, full) || strchr(name, '.') ? full : name);
    free(full);
    return out;
}

/* Qualified and sorted copies of an "aliases" array. */
static json_t *norm_aliases(json_t *a, const char *ns)
{
    size_t n = json_array_size(a);
    char **v = calloc(n ? n : 1, sizeof *v);
    json_t *out = v ? json_array() : NULL;
    for (size_t i = 0; out && i < n; i++)
        if (!(v[i] = ns ? qualify(json_string_value(json_array_get(a, i)), ns)
                        : strdup(json_string_value(json_array_get(a, i))))) {
            json_decref(out);
            out = NULL;
        }
    for (size_t i = 1; out && i < n; i++) /* insertion sort: alias lists are short */
        for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
            char *tmp = v[k];
            v[k] = v[k - 1];
            v[k - 1] = tmp;
        }
    for (size_t i = 0; out && i < n; i++)
        json_array_append_new(out, json_string(v[i]));
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
    return out;
}

static json_t *norm_node(jp_norm_t *nm, json_t *j, const char *ns);

static json_t *norm_named(jp_norm_t *nm, json_t *j, const char *ts, const char *ns)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    json_t *nsj = json_object_get(j, "namespace");
    const char *own_ns = strchr(name, '.') ? NULL : nsj ? json_string_value(nsj) : ns;
    char *full = qualify(name, own_ns);
    size_t nslen = full ? (size_t)(short_name(full) - full) : 0;
    char *inner = full ? strndup(full, nslen ? nslen - 1 : 0) : NULL;
    json_t *out = inner ? json_deep_copy(j) : NULL;
    if (!out || norm_define(nm, full) < 0) {
        json_decref(out);
        out = NULL;
        goto done;
    }
    json_object_del(out, "namespace");
    json_object_set_new(out, "name", json_string(full));
    if (json_object_get(j, "aliases"))
        json_object_set_new(out, "aliases", norm_aliases(json_object_get(j, "aliases"), inner));
    if (strcmp(ts, "record") == 0 || strcmp(ts, "error") == 0) {
        json_t *fields = json_array();
        json_t *f;
        size_t i;
        json_array_foreach(json_object_get(j, "fields"), i, f)
        {
            json_t *nf = json_deep_copy(f);
            json_t *type = norm_node(nm, json_object_get(f, "type"), inner);
            if (!nf || !type) {
                json_decref(nf);
                json_decref(type);
                nm->failed = 1;
                break;
            }
            json_object_set_new(nf, "type", type);
            if (json_object_get(f, "aliases"))
                json_object_set_new(nf, "aliases",
                                    norm_aliases(json_object_get(f, "aliases"), NULL));
            json_array_append_new(fields, nf);
        }
        json_object_set_new(out, "fields", fields);
    }
done:
    free(full);
    free(inner);
    return out;
}

static json_t *norm_node(jp_norm_t *nm, json_t *j, const char *ns)
{
    if (json_is_string(j))
        return norm_reference(nm, json_string_value(j), ns);
    if (json_is_array(j)) {
        json_t *out = json_array();
        json_t *b;
        size_t i;
        json_array_foreach(j, i, b)
        {
            json_t *nb = norm_node(nm, b, ns);
            if (!nb) {
                nm->failed = 1;
                break;
            }
            json_array_append_new(out, nb);
        }
        return out;
    }
    json_t *tj = json_object_get(j, "type");
    if (!json_is_string(tj))
        return norm_node(nm, tj, ns); /* {"type": {...}} wraps a schema */
    const char *ts = json_string_value(tj);
    jp_avro_type_t prim;
    if (primitive_type(ts, &prim) == 0)
        return json_object_size(j) == 1 ? json_string(ts) : json_deep_copy(j);
    if (!strcmp(ts, "record") || !strcmp(ts, "error") || !strcmp(ts, "enum") ||
        !strcmp(ts, "fixed"))
        return norm_named(nm, j, ts, ns);
    if (!strcmp(ts, "array") || !strcmp(ts, "map")) {
        const char *key = ts[0] == 'a' ? "items" : "values";
        json_t *out = json_deep_copy(j);
        json_t *sub = norm_node(nm, json_object_get(j, key), ns);
        if (!out || !sub) {
            json_decref(out);
            json_decref(sub);
            return NULL;
        }
        json_object_set_new(out, key, sub);
        return out;
    }
    return norm_reference(nm, ts, ns); /* {"type": "Name"} */
}

char *jp_avro_schema_normalize(const char *json, size_t len, char *errstr, size_t errstr_size)
{
    jp_avro_schema_t *s = jp_avro_schema_parse(json, len, errstr, errstr_size);
    if (!s)
        return NULL;
    jp_avro_schema_free(s);
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    jp_norm_t nm = {0};
    json_t *out = root ? norm_node(&nm, root, NULL) : NULL;
    char *text =
        out && !nm.failed ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    json_decref(out);
    json_decref(root);
    for (size_t i = 0; i < nm.n; i++)
        free(nm.names[i]);
    free(nm.names);
    if (!text)
        jp_err_set(errstr, errstr_size, "out of memory normalizing the schema");
    return text;
}

/* ---- Parsing Canonical Form --------------------------------------------- */

typedef struct {
    jp_sbuf_t b;
    const jp_avro_node_t **seen; /* named types already written */
    size_t n_seen, cap_seen;
} jp_canon_t;

static void canon_node(jp_canon_t *c, const jp_avro_node_t *n)
{
    jp_sbuf_t *b = &c->b;
    if (n->type <= JP_AVRO_STRING) {
        sbuf_str(b, "\"");
        sbuf_str(b, jp_avro_type_name(n->type));
        sbuf_str(b, "\"");
        return;
    }
    if (is_named(n->type)) {
        for (size_t i = 0; i < c->n_seen; i++)
            if (c->seen[i] == n) {
                sbuf_str(b, "\"");
                sbuf_str(b, n->name);
                sbuf_str(b, "\"");
                return;
            }
        if (c->n_seen == c->cap_seen) {
            size_t cap = c->cap_seen ? c->cap_seen * 2 : 16;
            const jp_avro_node_t **v = realloc(c->seen, cap * sizeof *v);
            if (!v) {
                b->oom = 1;
                return;
            }
            c->seen = v;
            c->cap_seen = cap;
        }
        c->seen[c->n_seen++] = n;
    }
    switch (n->type) {
    case JP_AVRO_RECORD:
        sbuf_str(b, "{\"name\":\"");
        sbuf_str(b, n->name);
        sbuf_str(b, "\",\"type\":\"record\",\"fields\":[");
        for (size_t i = 0; i < n->n_fields; i++) {
            sbuf_str(b, i ? ",{\"name\":\"" : "{\"name\":\"");
            sbuf_str(b, n->fields[i].name);
            sbuf_str(b, "\",\"type\":");
            canon_node(c, n->fields[i].type);
            sbuf_str(b, "}");
        }
        sbuf_str(b, "]}");
        break;
    case JP_AVRO_ENUM:
        sbuf_str(b, "{\"name\":\"");
        sbuf_str(b, n->name);
        sbuf_str(b, "\",\"type\":\"enum\",\"symbols\":[");
        for (size_t i = 0; i < n->n_symbols; i++) {
            sbuf_str(b, i ? ",\"" : "\"");
            sbuf_str(b, n->symbols[i]);
            sbuf_str(b, "\"");
        }
        sbuf_str(b, "]}");
        break;
    case JP_AVRO_FIXED: {
        char num[32];
        snprintf(num, sizeof num, "%zu", n->size);
        sbuf_str(b, "{\"name\":\"");
        sbuf_str(b, n->name);
        sbuf_str(b, "\",\"type\":\"fixed\",\"size\":");
        sbuf_str(b, num);
        sbuf_str(b, "}");
        break;
    }
    case JP_AVRO_ARRAY:
    case JP_AVRO_MAP:
        sbuf_str(b, n->type == JP_AVRO_ARRAY ? "{\"type\":\"array\",\"items\":"
                                             : "{\"type\":\"map\",\"values\":");
        canon_node(c, n->items);
        sbuf_str(b, "}");
        break;
    case JP_AVRO_UNION:
        sbuf_str(b, "[");
        for (size_t i = 0; i < n->n_branches; i++) {
            if (i)
                sbuf_str(b, ",");
            canon_node(c, n->branches[i]);
        }
        sbuf_str(b, "]");
        break;
    default:
        break;
    }
}

char *jp_avro_schema_canonical(const jp_avro_schema_t *s)
{
    jp_canon_t c = {0};
    canon_node(&c, s->root);
    free(c.seen);
    if (c.b.oom) {
        free(c.b.p);
        return NULL;
    }
    return c.b.p ? c.b.p : strdup("");
}

/* CRC-64-AVRO, the Rabin fingerprint of the specification. */
#define JP_AVRO_FP_EMPTY 0xc15d213aa4d7a795ULL

uint64_t jp_avro_schema_fingerprint(const jp_avro_schema_t *s)
{
    /* Built per call (2k shifts, nothing next to the canonical form's
     * allocation) so there is no shared mutable state between threads. */
    uint64_t table[256];
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int k = 0; k < 8; k++)
            fp = (fp >> 1) ^ (JP_AVRO_FP_EMPTY & (0 - (fp & 1)));
        table[i] = fp;
    }
    char *canon = jp_avro_schema_canonical(s);
    if (!canon)
        return 0;
    uint64_t fp = JP_AVRO_FP_EMPTY;
    for (const unsigned char *p = (const unsigned char *)canon; *p; p++)
        fp = (fp >> 8) ^ table[(fp ^ *p) & 0xff];
    free(canon);
    return fp;
}

/* ---- resolution rules --------------------------------------------------- */

/* Named-type match: same unqualified name (the spec), or a reader alias
 * naming the writer (full or unqualified). */
static int names_match(const jp_avro_node_t *r, const jp_avro_node_t *w)
{
    if (strcmp(short_name(r->name), short_name(w->name)) == 0)
        return 1;
    for (size_t i = 0; i < r->n_aliases; i++)
        if (strcmp(r->aliases[i], w->name) == 0 ||
            strcmp(short_name(r->aliases[i]), short_name(w->name)) == 0)
            return 1;
    return 0;
}

jp_avro_match_t jp_avro_match(const jp_avro_node_t *reader, const jp_avro_node_t *writer)
{
    jp_avro_type_t r = reader->type, w = writer->type;
    if (r == w) {
        if (is_named(r) && !names_match(reader, writer))
            return JP_AVRO_MATCH_NONE;
        if (r == JP_AVRO_FIXED && reader->size != writer->size)
            return JP_AVRO_MATCH_NONE;
        return JP_AVRO_MATCH_SAME;
    }
    switch (w) {
    case JP_AVRO_INT:
        return r == JP_AVRO_LONG || r == JP_AVRO_FLOAT || r == JP_AVRO_DOUBLE
                   ? JP_AVRO_MATCH_PROMOTE
                   : JP_AVRO_MATCH_NONE;
    case JP_AVRO_LONG:
        return r == JP_AVRO_FLOAT || r == JP_AVRO_DOUBLE ? JP_AVRO_MATCH_PROMOTE
                                                         : JP_AVRO_MATCH_NONE;
    case JP_AVRO_FLOAT:
        return r == JP_AVRO_DOUBLE ? JP_AVRO_MATCH_PROMOTE : JP_AVRO_MATCH_NONE;
    case JP_AVRO_STRING:
        return r == JP_AVRO_BYTES ? JP_AVRO_MATCH_PROMOTE : JP_AVRO_MATCH_NONE;
    case JP_AVRO_BYTES:
        return r == JP_AVRO_STRING ? JP_AVRO_MATCH_PROMOTE : JP_AVRO_MATCH_NONE;
    default:
        return JP_AVRO_MATCH_NONE;
    }
}

int jp_avro_union_pick(const jp_avro_node_t *reader_union, const jp_avro_node_t *writer)
{
    for (size_t i = 0; i < reader_union->n_branches; i++)
        if (jp_avro_match(reader_union->branches[i], writer) != JP_AVRO_MATCH_NONE)
            return (int)i;
    return -1;
}

int jp_avro_field_find(const jp_avro_node_t *writer_record, const jp_avro_field_t *rf)
{
    for (size_t i = 0; i < writer_record->n_fields; i++)
        if (strcmp(writer_record->fields[i].name, rf->name) == 0)
            return (int)i;
    for (size_t a = 0; a < rf->n_aliases; a++)
        for (size_t i = 0; i < writer_record->n_fields; i++)
            if (strcmp(writer_record->fields[i].name, rf->aliases[a]) == 0)
                return (int)i;
    return -1;
}

int jp_avro_enum_map(const jp_avro_node_t *reader, const jp_avro_node_t *writer, int *map,
                     char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < writer->n_symbols; i++) {
        map[i] = reader->enum_default;
        for (size_t k = 0; k < reader->n_symbols; k++)
            if (strcmp(reader->symbols[k], writer->symbols[i]) == 0) {
                map[i] = (int)k;
                break;
            }
        if (map[i] < 0) {
            jp_err_set(errstr, errstr_size,
                       "enum symbol %s of the writer is not in the reader and the reader has no "
                       "default",
                       writer->symbols[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- can_read: the recursion over the rules ----------------------------- */

typedef struct jp_pair_s {
    const jp_avro_node_t *r, *w;
    const struct jp_pair_s *up;
} jp_pair_t;

/* Record pairs already proven readable. Sound to reuse even when proven
 * under the coinductive assumption for an enclosing pair: the first failure
 * anywhere fails the whole check, so a success that is reused is part of a
 * check that succeeds. Without it, a record used in many places is
 * re-checked at each, exponentially in the nesting depth. */
typedef struct {
    const jp_avro_node_t **r, **w;
    size_t n, cap; /* open addressing, cap a power of two */
} jp_pairset_t;

typedef struct {
    char path[512];
    char *errstr;
    size_t errstr_size;
    jp_pairset_t proven;
} jp_resolve_t;

static size_t pair_slot(const jp_pairset_t *p, const jp_avro_node_t *r, const jp_avro_node_t *w)
{
    uint64_t h = ((uint64_t)(uintptr_t)r * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)(uintptr_t)w;
    h ^= h >> 29;
    for (size_t i = (size_t)(h * 0xbf58476d1ce4e5b9ULL) & (p->cap - 1);; i = (i + 1) & (p->cap - 1))
        if (!p->r[i] || (p->r[i] == r && p->w[i] == w))
            return i;
}

static int pair_proven(const jp_pairset_t *p, const jp_avro_node_t *r, const jp_avro_node_t *w)
{
    return p->cap && p->r[pair_slot(p, r, w)] != NULL;
}

/* Remembers a proven pair; forgetting one (out of memory) only costs time. */
static void pair_add(jp_pairset_t *p, const jp_avro_node_t *r, const jp_avro_node_t *w)
{
    if ((p->n + 1) * 2 > p->cap) {
        jp_pairset_t bigger = {calloc(p->cap ? p->cap * 2 : 64, sizeof(*p->r)),
                               calloc(p->cap ? p->cap * 2 : 64, sizeof(*p->w)), 0,
                               p->cap ? p->cap * 2 : 64};
        if (!bigger.r || !bigger.w) {
            free(bigger.r);
            free(bigger.w);
            return;
        }
        for (size_t i = 0; i < p->cap; i++)
            if (p->r[i]) {
                size_t k = pair_slot(&bigger, p->r[i], p->w[i]);
                bigger.r[k] = p->r[i];
                bigger.w[k] = p->w[i];
                bigger.n++;
            }
        free(p->r);
        free(p->w);
        *p = bigger;
    }
    size_t k = pair_slot(p, r, w);
    if (!p->r[k])
        p->n++;
    p->r[k] = r;
    p->w[k] = w;
}

static int resolve_fail(jp_resolve_t *rs, const char *why)
{
    jp_err_set(rs->errstr, rs->errstr_size, "%s: %s", rs->path[0] ? rs->path : "(root)", why);
    return -1;
}

static int resolve(jp_resolve_t *rs, const jp_avro_node_t *r, const jp_avro_node_t *w,
                   const jp_pair_t *stack)
{
    char why[300];
    if (w->type == JP_AVRO_UNION) {
        for (size_t i = 0; i < w->n_branches; i++)
            if (resolve(rs, r, w->branches[i], stack) < 0)
                return -1;
        return 0;
    }
    if (r->type == JP_AVRO_UNION) {
        int b = jp_avro_union_pick(r, w);
        if (b < 0) {
            snprintf(why, sizeof why, "writer type %s matches no branch of the reader union",
                     w->name ? w->name : jp_avro_type_name(w->type));
            return resolve_fail(rs, why);
        }
        return resolve(rs, r->branches[b], w, stack);
    }
    if (jp_avro_match(r, w) == JP_AVRO_MATCH_NONE) {
        snprintf(why, sizeof why, "reader type %s%s%s cannot read writer type %s%s%s",
                 jp_avro_type_name(r->type), r->name ? " " : "", r->name ? r->name : "",
                 jp_avro_type_name(w->type), w->name ? " " : "", w->name ? w->name : "");
        return resolve_fail(rs, why);
    }
    switch (r->type) {
    case JP_AVRO_ARRAY:
    case JP_AVRO_MAP: {
        size_t len = strlen(rs->path);
        snprintf(rs->path + len, sizeof rs->path - len, "%s",
                 r->type == JP_AVRO_ARRAY ? "[]" : "{}");
        int rc = resolve(rs, r->items, w->items, stack);
        rs->path[len] = '\0';
        return rc;
    }
    case JP_AVRO_ENUM: {
        int stackmap[64];
        int *map = w->n_symbols <= 64 ? stackmap : malloc(w->n_symbols * sizeof *map);
        if (!map)
            return resolve_fail(rs, "out of memory");
        int rc = jp_avro_enum_map(r, w, map, why, sizeof why);
        if (map != stackmap)
            free(map);
        return rc < 0 ? resolve_fail(rs, why) : 0;
    }
    case JP_AVRO_RECORD: {
        if (pair_proven(&rs->proven, r, w))
            return 0;
        for (const jp_pair_t *p = stack; p; p = p->up)
            if (p->r == r && p->w == w)
                return 0; /* recursive type: already being checked */
        jp_pair_t me = {r, w, stack};
        size_t len = strlen(rs->path);
        /* Which writer fields are taken: a writer field read twice is an error. */
        unsigned char *taken = calloc(w->n_fields ? w->n_fields : 1, 1);
        if (!taken)
            return resolve_fail(rs, "out of memory");
        int rc = 0;
        for (size_t i = 0; i < r->n_fields && rc == 0; i++) {
            const jp_avro_field_t *rf = &r->fields[i];
            snprintf(rs->path + len, sizeof rs->path - len, "%s%s", len ? "." : "",
                     len ? rf->name : short_name(r->name));
            if (!len) { /* root: "Record.field" */
                size_t l2 = strlen(rs->path);
                snprintf(rs->path + l2, sizeof rs->path - l2, ".%s", rf->name);
            }
            int wi = jp_avro_field_find(w, rf);
            if (wi >= 0 && taken[wi]) {
                rc = resolve_fail(rs, "two reader fields read the same writer field");
            } else if (wi < 0) {
                if (!rf->has_default)
                    rc = resolve_fail(rs, "reader field missing from the writer has no default");
            } else {
                taken[wi] = 1;
                rc = resolve(rs, rf->type, w->fields[wi].type, &me);
            }
            rs->path[len] = '\0';
        }
        free(taken);
        if (rc == 0)
            pair_add(&rs->proven, r, w);
        return rc;
    }
    default:
        return 0;
    }
}

int jp_avro_schema_can_read(const jp_avro_schema_t *reader, const jp_avro_schema_t *writer,
                            char *errstr, size_t errstr_size)
{
    jp_resolve_t rs = {.errstr = errstr, .errstr_size = errstr_size};
    int rc = resolve(&rs, reader->root, writer->root, NULL);
    free(rs.proven.r);
    free(rs.proven.w);
    return rc;
}

/* ---- compatibility levels ----------------------------------------------- */

static const char *const jp_compat_names[] = {
    "NONE", "BACKWARD",        "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE",
};

int jp_avro_compat_parse(const char *name, jp_avro_compat_t *out)
{
    for (size_t i = 0; i < sizeof jp_compat_names / sizeof *jp_compat_names; i++)
        if (name && strcmp(name, jp_compat_names[i]) == 0) {
            *out = (jp_avro_compat_t)i;
            return 0;
        }
    return -1;
}

const char *jp_avro_compat_name(jp_avro_compat_t level)
{
    return (unsigned)level < sizeof jp_compat_names / sizeof *jp_compat_names
               ? jp_compat_names[level]
               : "?";
}

int jp_avro_compat_check(jp_avro_compat_t level, const jp_avro_schema_t *candidate,
                         const jp_avro_schema_t *const *existing, size_t n_existing, char *errstr,
                         size_t errstr_size)
{
    int backward = 0, forward = 0, transitive = 0;
    switch (level) {
    case JP_AVRO_COMPAT_NONE:
        return 0;
    case JP_AVRO_COMPAT_BACKWARD_TRANSITIVE:
        transitive = 1;
        /* fall through */
    case JP_AVRO_COMPAT_BACKWARD:
        backward = 1;
        break;
    case JP_AVRO_COMPAT_FORWARD_TRANSITIVE:
        transitive = 1;
        /* fall through */
    case JP_AVRO_COMPAT_FORWARD:
        forward = 1;
        break;
    case JP_AVRO_COMPAT_FULL_TRANSITIVE:
        transitive = 1;
        /* fall through */
    case JP_AVRO_COMPAT_FULL:
        backward = forward = 1;
        break;
    default:
        jp_err_set(errstr, errstr_size, "unknown compatibility level %d", (int)level);
        return -1;
    }
    if (n_existing == 0)
        return 0;
    char why[400];
    for (size_t i = transitive ? 0 : n_existing - 1; i < n_existing; i++) {
        if (backward && jp_avro_schema_can_read(candidate, existing[i], why, sizeof why) < 0) {
            jp_err_set(errstr, errstr_size,
                       "%s: the new schema cannot read data written with version index %zu: %s",
                       jp_avro_compat_name(level), i, why);
            return -1;
        }
        if (forward && jp_avro_schema_can_read(existing[i], candidate, why, sizeof why) < 0) {
            jp_err_set(errstr, errstr_size,
                       "%s: version index %zu cannot read data written with the new schema: %s",
                       jp_avro_compat_name(level), i, why);
            return -1;
        }
    }
    return 0;
}
