/*
 * jp_yaml: a YAML document as a tree of nodes that remember where they came
 * from (file, line, column), so that every configuration error can point at
 * its source. Built on libyaml's event parser.
 *
 * Scalars keep their text and whether they were quoted (a quoted scalar is
 * always a string; a plain one may be a number or boolean). Anchors and
 * aliases are refused: configuration should say things once, plainly.
 * Keys of a mapping must be scalars; duplicates are kept in order so the
 * validator can report them.
 */
#ifndef JP_YAML_H
#define JP_YAML_H

#include <stddef.h>

typedef enum { JP_YAML_SCALAR, JP_YAML_MAP, JP_YAML_SEQ } jp_yaml_kind_t;

typedef struct jp_yaml_node_s jp_yaml_node_t;

struct jp_yaml_node_s {
    jp_yaml_kind_t kind;
    int line, col;          /* 1-based position of the node's first character */
    const char *file;       /* the file it came from (shared, owned by the root) */
    char *scalar;           /* JP_YAML_SCALAR: its text */
    int quoted;             /* JP_YAML_SCALAR: single- or double-quoted, or block */
    size_t n;               /* entries of a map, items of a sequence */
    jp_yaml_node_t **keys;  /* JP_YAML_MAP: key scalars */
    jp_yaml_node_t **items; /* JP_YAML_MAP: values; JP_YAML_SEQ: items */
};

/* Loads a file holding one document. An empty file gives an empty map.
 * On error returns NULL with "file:line:column: message" in errstr. */
jp_yaml_node_t *jp_yaml_load_file(const char *path, char *errstr, size_t errstr_size);

/* Parses text as if it came from `file` (for tests and overrides). */
jp_yaml_node_t *jp_yaml_load_string(const char *text, size_t len, const char *file, char *errstr,
                                    size_t errstr_size);

/* Frees a tree returned by a load function. */
void jp_yaml_free(jp_yaml_node_t *root);

/* The value for key in a map (the first, if duplicated); NULL if absent or
 * if node is not a map. */
const jp_yaml_node_t *jp_yaml_get(const jp_yaml_node_t *map, const char *key);

/* Creates a detached scalar node (e.g. an environment override) that
 * reports itself as coming from `origin` (a label such as
 * "env JACKPOT_STATE__DIR"). Free with jp_yaml_free. */
jp_yaml_node_t *jp_yaml_scalar_new(const char *value, const char *origin);

#endif
