/*
 * jp_yaml: builds the node tree from libyaml events with an explicit stack
 * (no recursion, so a hostile deeply nested file cannot overflow the C
 * stack; depth is capped instead). The root owns a copy of the file name
 * that every node points at.
 */
#include "config/jp_yaml.h"
#include "model/base/jp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define JP_YAML_MAX_DEPTH 64

typedef struct {
    jp_yaml_node_t *node;
    jp_yaml_node_t *pending_key; /* map: key read, value not yet */
} frame_t;

static jp_yaml_node_t *node_new(jp_yaml_kind_t kind, const yaml_mark_t *m, const char *file)
{
    jp_yaml_node_t *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    n->file = file;
    return n;
}

static void node_free(jp_yaml_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            node_free(n->keys[i]);
        node_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->scalar);
    free(n);
}

void jp_yaml_free(jp_yaml_node_t *root)
{
    if (!root)
        return;
    char *file = (char *)root->file;
    node_free(root);
    free(file);
}

/* Appends child to a sequence, or as key/value to a map. */
static int attach(frame_t *f, jp_yaml_node_t *child)
{
    jp_yaml_node_t *p = f->node;
    if (p->kind == JP_YAML_MAP && !f->pending_key) {
        f->pending_key = child;
        return 0;
    }
    jp_yaml_node_t **items = realloc(p->items, (p->n + 1) * sizeof(*items));
    if (!items)
        return -1;
    p->items = items;
    if (p->kind == JP_YAML_MAP) {
        jp_yaml_node_t **keys = realloc(p->keys, (p->n + 1) * sizeof(*keys));
        if (!keys)
            return -1;
        p->keys = keys;
        p->keys[p->n] = f->pending_key;
        f->pending_key = NULL;
    }
    p->items[p->n++] = child;
    return 0;
}

/* Hands a new node to the innermost open collection, or makes it the root.
 * libyaml emits one root node per document; a second one is refused rather
 * than leaked. 0, or -1 (out of memory, or a second root). */
static int place(frame_t *stack, int depth, jp_yaml_node_t **root, jp_yaml_node_t *n)
{
    if (depth > 0)
        return attach(&stack[depth - 1], n);
    if (*root)
        return -1;
    *root = n;
    return 0;
}

static jp_yaml_node_t *build(yaml_parser_t *parser, const char *file, char *errstr,
                             size_t errstr_size)
{
    frame_t stack[JP_YAML_MAX_DEPTH];
    int depth = 0;
    jp_yaml_node_t *root = NULL;
    int done = 0, failed = 0;

    while (!done && !failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
            jp_err_set(errstr, errstr_size, "%s:%zu:%zu: %s%s%s", file,
                       parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                       parser->problem ? parser->problem : "malformed YAML",
                       parser->context ? " " : "", parser->context ? parser->context : "");
            failed = 1;
            break;
        }
        jp_yaml_node_t *n = NULL;
        switch (ev.type) {
        case YAML_ALIAS_EVENT:
            jp_err_set(errstr, errstr_size, "%s:%zu:%zu: aliases are not supported", file,
                       ev.start_mark.line + 1, ev.start_mark.column + 1);
            failed = 1;
            break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.anchor) {
                jp_err_set(errstr, errstr_size, "%s:%zu:%zu: anchors are not supported", file,
                           ev.start_mark.line + 1, ev.start_mark.column + 1);
                failed = 1;
                break;
            }
            n = node_new(JP_YAML_SCALAR, &ev.start_mark, file);
            if (n) {
                n->scalar = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
                n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            }
            if (!n || !n->scalar || place(stack, depth, &root, n) < 0) {
                node_free(n); /* not placed, so still ours */
                failed = 1;
                jp_err_set(errstr, errstr_size, "%s: out of memory", file);
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if ((ev.type == YAML_MAPPING_START_EVENT ? ev.data.mapping_start.anchor
                                                     : ev.data.sequence_start.anchor) != NULL) {
                jp_err_set(errstr, errstr_size, "%s:%zu:%zu: anchors are not supported", file,
                           ev.start_mark.line + 1, ev.start_mark.column + 1);
                failed = 1;
                break;
            }
            if (depth == JP_YAML_MAX_DEPTH) {
                jp_err_set(errstr, errstr_size, "%s:%zu:%zu: nested deeper than %d levels", file,
                           ev.start_mark.line + 1, ev.start_mark.column + 1, JP_YAML_MAX_DEPTH);
                failed = 1;
                break;
            }
            n = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? JP_YAML_SEQ : JP_YAML_MAP,
                         &ev.start_mark, file);
            if (!n || place(stack, depth, &root, n) < 0) {
                node_free(n);
                failed = 1;
                jp_err_set(errstr, errstr_size, "%s: out of memory", file);
                break;
            }
            stack[depth].node = n;
            stack[depth].pending_key = NULL;
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth == 0) { /* libyaml balances events; do not trust it blindly */
                jp_err_set(errstr, errstr_size, "%s:%zu:%zu: unbalanced collection end", file,
                           ev.start_mark.line + 1, ev.start_mark.column + 1);
                failed = 1;
                break;
            }
            depth--;
            break;
        case YAML_DOCUMENT_END_EVENT:
            done = 1;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    /* A scalar key whose value never came is only possible on failure. */
    for (int i = 0; i < depth; i++)
        node_free(stack[i].pending_key);
    if (failed) {
        node_free(root);
        return NULL;
    }
    return root;
}

jp_yaml_node_t *jp_yaml_load_string(const char *text, size_t len, const char *file, char *errstr,
                                    size_t errstr_size)
{
    yaml_parser_t parser;
    char *file_copy = strdup(file);
    if (!file_copy || !yaml_parser_initialize(&parser)) {
        free(file_copy);
        jp_err_set(errstr, errstr_size, "%s: out of memory", file);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    jp_yaml_node_t *root = build(&parser, file_copy, errstr, errstr_size);
    yaml_parser_delete(&parser);
    if (!root && errstr[0] == '\0')
        jp_err_set(errstr, errstr_size, "%s: empty document", file);
    if (root && root->kind == JP_YAML_SCALAR && root->scalar[0] == '\0' && !root->quoted) {
        /* An empty file parses as one empty plain scalar: treat as {}. */
        root->kind = JP_YAML_MAP;
        free(root->scalar);
        root->scalar = NULL;
    }
    if (!root) {
        /* No document at all (empty input) is an empty map too. */
        if (strstr(errstr, "empty document")) {
            yaml_mark_t m = {0, 0, 0};
            errstr[0] = '\0';
            root = node_new(JP_YAML_MAP, &m, file_copy);
        }
        if (!root) {
            free(file_copy);
            return NULL;
        }
    }
    return root;
}

jp_yaml_node_t *jp_yaml_load_file(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        jp_err_set(errstr, errstr_size, "%s: cannot open: %m", path);
        return NULL;
    }
    size_t cap = 8192, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        jp_err_set(errstr, errstr_size, "%s: too large or out of memory", path);
        return NULL;
    }
    errstr[0] = '\0';
    jp_yaml_node_t *root = jp_yaml_load_string(buf, len, path, errstr, errstr_size);
    free(buf);
    return root;
}

const jp_yaml_node_t *jp_yaml_get(const jp_yaml_node_t *map, const char *key)
{
    if (!map || map->kind != JP_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->kind == JP_YAML_SCALAR && strcmp(map->keys[i]->scalar, key) == 0)
            return map->items[i];
    return NULL;
}

jp_yaml_node_t *jp_yaml_scalar_new(const char *value, const char *origin)
{
    jp_yaml_node_t *n = calloc(1, sizeof(*n));
    char *file = strdup(origin);
    char *v = strdup(value);
    if (!n || !file || !v) {
        free(n);
        free(file);
        free(v);
        return NULL;
    }
    n->kind = JP_YAML_SCALAR;
    n->file = file;
    n->scalar = v;
    return n;
}
