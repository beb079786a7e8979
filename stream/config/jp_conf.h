/*
 * jp_conf: declarative validation of YAML configuration into C structs.
 *
 * Every configuration file (the processor, each country, each simulator
 * world) is described by a table of jp_conf_field_t: key, type, where it
 * goes in the struct, whether it is required, its default, its range. One
 * decoder walks a YAML tree against such a table and collects EVERY error,
 * each as "file:line:column: key.path: message", instead of stopping at the
 * first. Unknown keys, wrong types, missing required keys, out-of-range
 * values and duplicate keys are found here; checks between fields belong to
 * the module that owns the file and report through jp_conf_errorf.
 *
 * Secrets: a field of type JP_CONF_SECRET is never written in the YAML
 * itself; its key is given as `<key>_file: PATH` and the value is read from
 * that file (a k8s Secret or Secrets Manager mount). Secret values are
 * registered with the log scrubber and never appear in errors.
 *
 * Environment overrides: when a prefix is set (the processor config uses
 * "JACKPOT_"), a variable PREFIX + PATH, where PATH is the key path in upper
 * case with sections joined by "__" (state.dir -> JACKPOT_STATE__DIR),
 * replaces the value from the file. Unknown override variables are errors.
 */
#ifndef JP_CONF_H
#define JP_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/jp_yaml.h"

typedef enum {
    JP_CONF_STR,      /* char * */
    JP_CONF_PATH,     /* char *, relative paths resolved against the file's directory */
    JP_CONF_INT,      /* int64_t */
    JP_CONF_NUM,      /* double */
    JP_CONF_BOOL,     /* int (0/1) */
    JP_CONF_DURATION, /* int64_t milliseconds; text like 250ms, 1s, 5m, 2h, 7d, 4w */
    JP_CONF_ENUM,     /* int: index into choices */
    JP_CONF_SECRET,   /* jp_conf_secret_t, from `<key>_file: PATH` */
    JP_CONF_STRLIST,  /* jp_conf_strlist_t (choices, when set, restrict items) */
    JP_CONF_PROPS,    /* jp_conf_props_t: free-form string map, e.g. librdkafka properties */
    JP_CONF_SECTION,  /* nested struct described by fields */
    JP_CONF_LIST,     /* jp_conf_list_t of elem_size structs described by fields */
} jp_conf_type_t;

typedef struct jp_conf_secret_s {
    char *path;  /* the file it was read from */
    char *value; /* its content, trailing newline removed */
} jp_conf_secret_t;

typedef struct jp_conf_strlist_s {
    char **v;
    size_t n;
} jp_conf_strlist_t;

typedef struct jp_conf_props_s {
    char **keys;
    char **values;
    size_t n;
} jp_conf_props_t;

typedef struct jp_conf_list_s {
    void *items; /* n elements of the field's elem_size */
    size_t n;
} jp_conf_list_t;

typedef struct jp_conf_s jp_conf_t;
typedef struct jp_conf_field_s jp_conf_field_t;

/* Extra validation of a scalar's text (or a PROPS entry). Returns 0, or -1
 * with a message (no position, no key) in errstr. */
typedef int (*jp_conf_check_cb)(const char *key, const char *value, char *errstr,
                                size_t errstr_size);

struct jp_conf_field_s {
    const char *key;
    jp_conf_type_t type;
    size_t offset;
    int required;
    const char *def;               /* default, as YAML text; NULL: none (zero/NULL) */
    double min, max;               /* inclusive numeric range, checked when min <= max */
    const char *const *choices;    /* ENUM names, STRLIST allowed items; NULL-terminated */
    const jp_conf_field_t *fields; /* SECTION / LIST element table, ends with key NULL */
    size_t elem_size;              /* LIST element size */
    jp_conf_check_cb check;        /* optional */
    const char *doc;               /* one line, for `--help`-style listings */
};

#define JP_CONF_NO_RANGE 1, 0

struct jp_conf_s {
    char **errors; /* "file:line:col: key: message", already scrubbed */
    size_t n_errors;
    size_t cap;
    const char *env_prefix; /* "JACKPOT_" or NULL for no overrides */
    char *base_dir;         /* directory of the file being decoded */
    char **env_used;        /* override variables consumed so far */
    size_t n_env_used;
};

/* Starts a validation session. env_prefix may be NULL. */
void jp_conf_init(jp_conf_t *c, const char *env_prefix);
/* Frees the collected errors. */
void jp_conf_destroy(jp_conf_t *c);

/* Decodes map (the file's root, or a section) into out according to
 * fields; path is the key path of map ("" for the root). base_dir is used
 * for relative PATH and SECRET files. Returns the number of errors added. */
size_t jp_conf_decode(jp_conf_t *c, const jp_conf_field_t *fields, const jp_yaml_node_t *map,
                      const char *path, const char *base_dir, void *out);

/* Reports variables with the session's prefix and a "__" that no field
 * consumed. Call once after decoding everything the prefix applies to. */
void jp_conf_check_env(jp_conf_t *c);

/* Adds an error at node (NULL: no position) for key path. */
void jp_conf_errorf(jp_conf_t *c, const jp_yaml_node_t *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds a complete error line (e.g. a YAML parser error, already carrying
 * its file:line:column). */
void jp_conf_add_error(jp_conf_t *c, const char *line);

/* Adds an error at the node of `key` inside map (or at map itself if the
 * key is absent): the usual way to report a check between fields. */
void jp_conf_error_at_key(jp_conf_t *c, const jp_yaml_node_t *map, const char *path,
                          const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Loads path and decodes its root against fields into out (relative paths
 * resolve against the file's directory). Returns the YAML tree for the
 * caller's checks between fields (free it with jp_yaml_free), or NULL when
 * the file could not be read or parsed (the error is recorded in c). */
jp_yaml_node_t *jp_conf_load_file(jp_conf_t *c, const jp_conf_field_t *fields, const char *path,
                                  void *out);

/* Frees the keys and values of a property map and empties it. */
void jp_conf_props_free(jp_conf_props_t *props);

/* Sets key to value in a property map, replacing an existing value.
 * 0, or -1 when out of memory. */
int jp_conf_props_set(jp_conf_props_t *props, const char *key, const char *value);

/* Writes a Markdown table of every key of fields (recursively): key path,
 * type, default, range or choices, and the field's doc line. */
void jp_conf_print_reference(const jp_conf_field_t *fields, const char *path, FILE *out);

/* Frees everything jp_conf_decode allocated inside obj. */
void jp_conf_release(const jp_conf_field_t *fields, void *obj);

/* Parses a duration ("250ms", "5m", ...) into milliseconds. 0 / -1. */
int jp_conf_parse_duration(const char *text, int64_t *ms);

/* Reads a secret file: its content without trailing newlines (malloc'd),
 * or NULL with the reason in errstr (the path is named, never the value). */
char *jp_conf_read_secret(const char *path, char *errstr, size_t errstr_size);

#endif
