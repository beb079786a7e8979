/*
 * jp_avro_schema: Avro schemas as the engine understands them - parsing,
 * Parsing Canonical Form, fingerprints, and the schema-resolution checker.
 *
 * One implementation of the Avro specification's resolution rules serves
 * both the decoder (jp_avro_plan compiles a writer->reader plan from the
 * same rules) and the schema registry's compatibility checks, so the
 * registry can never accept a schema the engine then fails to read.
 */
#ifndef JP_AVRO_SCHEMA_H
#define JP_AVRO_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

typedef struct jp_avro_schema_s jp_avro_schema_t;

/* Parses a schema from JSON text (a named type, a primitive name, or a
 * union array). NULL with the reason in errstr if it is not a valid schema:
 * JSON that is not a schema, names, defaults that do not match their type
 * (for a union, its first branch), unions with no branch, a branch twice
 * or a union directly inside a union, and schemas whose expanded size is
 * above JP_AVRO_MAX_EXPANDED. */
jp_avro_schema_t *jp_avro_schema_parse(const char *json, size_t len, char *errstr,
                                       size_t errstr_size);
void jp_avro_schema_free(jp_avro_schema_t *s);

/* Parsing Canonical Form (Avro spec), malloc'd; NULL on allocation failure.
 * Two schemas are the same schema iff their canonical forms are equal. */
char *jp_avro_schema_canonical(const jp_avro_schema_t *s);

/* The schema text normalized the way Confluent Schema Registry's
 * `normalize=true` does for Avro (malloc'd JSON; NULL with errstr if the text
 * is not a valid schema): type names fully qualified and "namespace"
 * dropped, references to named types by full name, {"type": "int"} written
 * "int", aliases qualified and sorted, object keys sorted, no whitespace.
 * Unlike the Parsing Canonical Form it keeps everything readers use:
 * defaults, aliases, docs, order, logical types and other attributes. Two
 * texts of the same schema that differ only in how names are written
 * normalize to the same string. */
char *jp_avro_schema_normalize(const char *json, size_t len, char *errstr, size_t errstr_size);

/* CRC-64-AVRO (Rabin) fingerprint of the canonical form. */
uint64_t jp_avro_schema_fingerprint(const jp_avro_schema_t *s);

/* 0 if data written with `writer` can be read with `reader` under the
 * specification's resolution rules; -1 otherwise, with the first
 * incompatibility (and its path, e.g. "SaleEvent.channel") in errstr. */
int jp_avro_schema_can_read(const jp_avro_schema_t *reader, const jp_avro_schema_t *writer,
                            char *errstr, size_t errstr_size);

/* Compatibility levels of the Confluent Schema Registry. */
typedef enum {
    JP_AVRO_COMPAT_NONE,
    JP_AVRO_COMPAT_BACKWARD,
    JP_AVRO_COMPAT_BACKWARD_TRANSITIVE,
    JP_AVRO_COMPAT_FORWARD,
    JP_AVRO_COMPAT_FORWARD_TRANSITIVE,
    JP_AVRO_COMPAT_FULL,
    JP_AVRO_COMPAT_FULL_TRANSITIVE,
} jp_avro_compat_t;

/* "BACKWARD" etc. -> level; -1 if the name is not a level. */
int jp_avro_compat_parse(const char *name, jp_avro_compat_t *out);
const char *jp_avro_compat_name(jp_avro_compat_t level);

/* Checks `candidate` against the existing versions of a subject (oldest
 * first). Non-transitive levels compare with the latest only. BACKWARD:
 * candidate reads existing; FORWARD: existing reads candidate; FULL: both.
 * 0 if compatible; -1 with the reason (naming the version index) in errstr. */
int jp_avro_compat_check(jp_avro_compat_t level, const jp_avro_schema_t *candidate,
                         const jp_avro_schema_t *const *existing, size_t n_existing, char *errstr,
                         size_t errstr_size);

/* ---- Introspection (added for jp_avro_plan and the registry) -------------
 * A parsed schema is a graph of nodes owned by the jp_avro_schema_t; named
 * types referenced twice are the same node, and recursive types form cycles.
 * Nodes are immutable after parsing and valid until jp_avro_schema_free. */
typedef enum {
    JP_AVRO_NULL,
    JP_AVRO_BOOLEAN,
    JP_AVRO_INT,
    JP_AVRO_LONG,
    JP_AVRO_FLOAT,
    JP_AVRO_DOUBLE,
    JP_AVRO_BYTES,
    JP_AVRO_STRING,
    JP_AVRO_RECORD,
    JP_AVRO_ENUM,
    JP_AVRO_ARRAY,
    JP_AVRO_MAP,
    JP_AVRO_UNION,
    JP_AVRO_FIXED,
} jp_avro_type_t;

typedef struct jp_avro_node_s jp_avro_node_t;

typedef struct jp_avro_field_s {
    const char *name;
    const char *const *aliases; /* field aliases (plain names) */
    size_t n_aliases;
    const jp_avro_node_t *type;
    int has_default;
    /* The JSON default, validated at parse time and pre-encoded in Avro
     * binary of `type` (first branch for unions), so a reader can "read" it. */
    const unsigned char *default_bin;
    size_t default_len;
} jp_avro_field_t;

struct jp_avro_node_s {
    jp_avro_type_t type;
    const char *logical_type;   /* "timestamp-millis", "uuid", ... or NULL */
    const char *name;           /* full name of record, enum, fixed; else NULL */
    const char *const *aliases; /* full names */
    size_t n_aliases;
    const jp_avro_field_t *fields; /* record */
    size_t n_fields;
    const char *const *symbols; /* enum */
    size_t n_symbols;
    int enum_default;                      /* index of the enum default, -1 if none */
    const jp_avro_node_t *items;           /* array items, map values */
    const jp_avro_node_t *const *branches; /* union */
    size_t n_branches;
    size_t size; /* fixed */
    /* Nodes of the value's tree with every named type written out where
     * it is used (a recursive reference counts as one): what a walk over
     * the type costs. Parsing refuses schemas above JP_AVRO_MAX_EXPANDED. */
    size_t expanded;
    int zero_width; /* 1 if every value encodes to no bytes (null, fixed 0, such records) */
};

/* The largest expanded size (see jp_avro_node_t.expanded) a schema may
 * have: far above real schemas, low enough that no walk over a schema -
 * compatibility, plan compilation, skipping a value - can take long. Small
 * texts can describe huge trees (a record of ten fields of a record of ten
 * fields of ...), which would otherwise stall the registry and the engine. */
#define JP_AVRO_MAX_EXPANDED 100000

const jp_avro_node_t *jp_avro_schema_root(const jp_avro_schema_t *s);
const char *jp_avro_type_name(jp_avro_type_t t);

/* ---- The resolution rules, one implementation ----------------------------
 * jp_avro_schema_can_read and jp_avro_plan's compiler both resolve by calling
 * these, so they cannot disagree. */

typedef enum {
    JP_AVRO_MATCH_NONE = 0, /* the schemas do not match */
    JP_AVRO_MATCH_SAME,     /* same type (named types: name or alias matches) */
    JP_AVRO_MATCH_PROMOTE,  /* int->long/float/double, long->float/double,
                               float->double, string<->bytes */
} jp_avro_match_t;

/* Shallow match of two non-union nodes (the spec's "schemas match"); children
 * (fields, items, values) are the caller's to resolve recursively. Fixed
 * nodes match only with equal sizes. */
jp_avro_match_t jp_avro_match(const jp_avro_node_t *reader, const jp_avro_node_t *writer);

/* Index of the first branch of the reader union that matches the (non-union)
 * writer node, -1 if none. */
int jp_avro_union_pick(const jp_avro_node_t *reader_union, const jp_avro_node_t *writer);

/* Index of the writer record field that feeds reader field `rf` (same name,
 * or a reader field alias equal to the writer field name), -1 if none. */
int jp_avro_field_find(const jp_avro_node_t *writer_record, const jp_avro_field_t *rf);

/* Maps writer enum symbol i to reader symbol map[i] (by name; a symbol the
 * reader lacks maps to the reader's enum default). map has writer->n_symbols
 * slots. -1 if a symbol has no reader symbol and the reader has no default
 * (errstr names it). */
int jp_avro_enum_map(const jp_avro_node_t *reader, const jp_avro_node_t *writer, int *map,
                     char *errstr, size_t errstr_size);

#endif
