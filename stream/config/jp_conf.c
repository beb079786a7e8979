/*
 * jp_conf: the table-driven decoder. It never stops at the first problem:
 * each field is decoded independently and every error is appended to the
 * session, so one `jackpot config check` lists everything wrong at once.
 *
 * Errors are scrubbed through jp_log_scrub as they are recorded, so a
 * secret can never reach an error message even if a value is echoed.
 */
#include "config/jp_conf.h"
#include "model/base/jp_err.h"

#include "base/jp_log.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define JP_CONF_PATH_MAX 256

void jp_conf_init(jp_conf_t *c, const char *env_prefix)
{
    memset(c, 0, sizeof(*c));
    c->env_prefix = env_prefix;
}

void jp_conf_destroy(jp_conf_t *c)
{
    for (size_t i = 0; i < c->n_errors; i++)
        free(c->errors[i]);
    for (size_t i = 0; i < c->n_env_used; i++)
        free(c->env_used[i]);
    free(c->errors);
    free(c->env_used);
    memset(c, 0, sizeof(*c));
}

static void add_error(jp_conf_t *c, const char *text)
{
    char clean[1024];
    jp_log_scrub(text, clean, sizeof(clean));
    if (c->n_errors == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **e = realloc(c->errors, cap * sizeof(*e));
        if (!e)
            return;
        c->errors = e;
        c->cap = cap;
    }
    char *copy = strdup(clean);
    if (copy)
        c->errors[c->n_errors++] = copy;
}

void jp_conf_add_error(jp_conf_t *c, const char *line)
{
    add_error(c, line);
}

static void verrorf(jp_conf_t *c, const jp_yaml_node_t *at, const char *key, const char *fmt,
                    va_list ap) __attribute__((format(printf, 4, 0)));

static void verrorf(jp_conf_t *c, const jp_yaml_node_t *at, const char *key, const char *fmt,
                    va_list ap)
{
    char msg[768], line[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (at && at->line > 0)
        snprintf(line, sizeof(line), "%s:%d:%d: %s: %s", at->file, at->line, at->col, key, msg);
    else if (at)
        snprintf(line, sizeof(line), "%s: %s: %s", at->file, key, msg);
    else
        snprintf(line, sizeof(line), "%s: %s", key, msg);
    add_error(c, line);
}

void jp_conf_errorf(jp_conf_t *c, const jp_yaml_node_t *at, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrorf(c, at, key, fmt, ap);
    va_end(ap);
}

static void join_path(char *out, size_t size, const char *path, const char *key)
{
    if (path && *path)
        snprintf(out, size, "%s.%s", path, key);
    else
        snprintf(out, size, "%s", key);
}

void jp_conf_error_at_key(jp_conf_t *c, const jp_yaml_node_t *map, const char *path,
                          const char *key, const char *fmt, ...)
{
    char full[JP_CONF_PATH_MAX];
    const jp_yaml_node_t *at = jp_yaml_get(map, key);
    join_path(full, sizeof(full), path, key);
    va_list ap;
    va_start(ap, fmt);
    verrorf(c, at ? at : map, full, fmt, ap);
    va_end(ap);
}

int jp_conf_parse_duration(const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                 {"h", 3600000}, {"d", 86400000}, {"w", 7 * 86400000LL}};
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms)
                return -1;
            *ms = (int64_t)v * units[i].ms;
            return 0;
        }
    return -1;
}

char *jp_conf_read_secret(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        jp_err_set(errstr, errstr_size, "cannot read secret file %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    int too_big = !feof(f);
    fclose(f);
    if (too_big) {
        jp_err_set(errstr, errstr_size, "secret file %s is larger than %zu bytes", path,
                   sizeof(buf) - 1);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        jp_err_set(errstr, errstr_size, "secret file %s is empty", path);
        return NULL;
    }
    char *v = strdup(buf);
    if (!v)
        jp_err_set(errstr, errstr_size, "out of memory");
    return v;
}

/* Environment variable name for a key path: JACKPOT_STATE__DIR. */
static void env_name(const jp_conf_t *c, const char *path, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "%s", c->env_prefix);
    for (const char *p = path; *p && o + 3 < size; p++) {
        if (*p == '.') {
            out[o++] = '_';
            out[o++] = '_';
        } else if (*p == '-') {
            out[o++] = '_';
        } else {
            out[o++] = (char)toupper((unsigned char)*p);
        }
    }
    out[o] = '\0';
}

static void env_mark_used(jp_conf_t *c, const char *name)
{
    char **u = realloc(c->env_used, (c->n_env_used + 1) * sizeof(*u));
    if (!u)
        return;
    c->env_used = u;
    c->env_used[c->n_env_used] = strdup(name);
    if (c->env_used[c->n_env_used])
        c->n_env_used++;
}

/* An override for path, as a detached scalar node; NULL if none. */
static jp_yaml_node_t *env_override(jp_conf_t *c, const char *path)
{
    if (!c->env_prefix)
        return NULL;
    char name[JP_CONF_PATH_MAX], origin[JP_CONF_PATH_MAX + 8];
    env_name(c, path, name, sizeof(name));
    const char *v = getenv(name);
    if (!v)
        return NULL;
    env_mark_used(c, name);
    snprintf(origin, sizeof(origin), "env %s", name);
    return jp_yaml_scalar_new(v, origin);
}

static const char *type_name(jp_conf_type_t t)
{
    switch (t) {
    case JP_CONF_INT:
        return "an integer";
    case JP_CONF_NUM:
        return "a number";
    case JP_CONF_BOOL:
        return "true or false";
    case JP_CONF_DURATION:
        return "a duration such as 250ms, 30s, 5m, 2h, 7d or 1w";
    case JP_CONF_STRLIST:
        return "a list of strings";
    case JP_CONF_PROPS:
    case JP_CONF_SECTION:
        return "a mapping";
    case JP_CONF_LIST:
        return "a list";
    default:
        return "a string";
    }
}

static void check_range(jp_conf_t *c, const jp_conf_field_t *f, const jp_yaml_node_t *n,
                        const char *path, double v)
{
    if (f->min <= f->max && (v < f->min || v > f->max || isnan(v)))
        jp_conf_errorf(c, n, path, "%s is out of range [%.15g, %.15g]", n->scalar, f->min, f->max);
}

static char *resolve_path(const jp_conf_t *c, const char *p)
{
    if (p[0] == '/' || !c->base_dir || !*c->base_dir)
        return strdup(p);
    size_t n = strlen(c->base_dir) + strlen(p) + 2;
    char *full = malloc(n);
    if (full)
        snprintf(full, n, "%s/%s", c->base_dir, p);
    return full;
}

static int choice_index(const char *const *choices, const char *v)
{
    for (int i = 0; choices && choices[i]; i++)
        if (strcmp(choices[i], v) == 0)
            return i;
    return -1;
}

static void list_choices(const char *const *choices, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; choices && choices[i] && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%s%s", i ? ", " : "", choices[i]);
}

/* Decodes one scalar into dst. */
static void decode_scalar(jp_conf_t *c, const jp_conf_field_t *f, const jp_yaml_node_t *n,
                          const char *path, void *dst)
{
    char err[256];
    if (n->kind != JP_YAML_SCALAR) {
        jp_conf_errorf(c, n, path, "expected %s", type_name(f->type));
        return;
    }
    const char *s = n->scalar;
    char *end;
    switch (f->type) {
    case JP_CONF_STR:
    case JP_CONF_PATH:
        if (f->required && !*s) {
            jp_conf_errorf(c, n, path, "must not be empty");
            return;
        }
        free(*(char **)dst);
        *(char **)dst = f->type == JP_CONF_PATH && *s ? resolve_path(c, s) : strdup(s);
        break;
    case JP_CONF_INT: {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (n->quoted || errno || end == s || *end) {
            jp_conf_errorf(c, n, path, "expected an integer, got '%s'", s);
            return;
        }
        *(int64_t *)dst = v;
        check_range(c, f, n, path, (double)v);
        break;
    }
    case JP_CONF_NUM: {
        errno = 0;
        double v = strtod(s, &end);
        if (n->quoted || errno || end == s || *end || !isfinite(v)) {
            jp_conf_errorf(c, n, path, "expected a number, got '%s'", s);
            return;
        }
        *(double *)dst = v;
        check_range(c, f, n, path, v);
        break;
    }
    case JP_CONF_BOOL:
        if (!n->quoted && strcmp(s, "true") == 0)
            *(int *)dst = 1;
        else if (!n->quoted && strcmp(s, "false") == 0)
            *(int *)dst = 0;
        else
            jp_conf_errorf(c, n, path, "expected true or false, got '%s'", s);
        break;
    case JP_CONF_DURATION: {
        int64_t ms;
        if (jp_conf_parse_duration(s, &ms) != 0) {
            jp_conf_errorf(c, n, path, "expected %s, got '%s'", type_name(f->type), s);
            return;
        }
        *(int64_t *)dst = ms;
        if (f->min <= f->max && ((double)ms < f->min || (double)ms > f->max))
            jp_conf_errorf(c, n, path, "%s is out of range [%.0fms, %.0fms]", s, f->min, f->max);
        break;
    }
    case JP_CONF_ENUM: {
        int i = choice_index(f->choices, s);
        if (i < 0) {
            char all[512];
            list_choices(f->choices, all, sizeof(all));
            jp_conf_errorf(c, n, path, "'%s' is not one of: %s", s, all);
            return;
        }
        *(int *)dst = i;
        break;
    }
    default:
        return;
    }
    if (f->check && f->check(path, s, err, sizeof(err)) != 0)
        jp_conf_errorf(c, n, path, "%s", err);
}

static void decode_strlist(jp_conf_t *c, const jp_conf_field_t *f, const jp_yaml_node_t *n,
                           const char *path, jp_conf_strlist_t *dst)
{
    char err[256];
    /* An override arrives as one scalar "a,b,c". */
    if (n->kind == JP_YAML_SCALAR && n->line == 0) {
        char *copy = strdup(n->scalar), *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
            char **v = realloc(dst->v, (dst->n + 1) * sizeof(*v));
            if (!v)
                break;
            dst->v = v;
            char *item = strdup(tok);
            if (!item)
                break;
            dst->v[dst->n++] = item;
        }
        free(copy);
    } else if (n->kind != JP_YAML_SEQ) {
        jp_conf_errorf(c, n, path, "expected %s", type_name(f->type));
        return;
    } else {
        char **v = calloc(n->n ? n->n : 1, sizeof(char *));
        if (!v)
            return; /* out of memory: the list stays empty */
        dst->v = v;
        dst->n = 0;
        for (size_t i = 0; i < n->n; i++) {
            const jp_yaml_node_t *it = n->items[i];
            if (it->kind != JP_YAML_SCALAR) {
                jp_conf_errorf(c, it, path, "list items must be strings");
                continue;
            }
            char *item = strdup(it->scalar);
            if (item)
                dst->v[dst->n++] = item;
        }
    }
    for (size_t i = 0; i < dst->n; i++) {
        const jp_yaml_node_t *at = n->kind == JP_YAML_SEQ && i < n->n ? n->items[i] : n;
        if (f->choices && choice_index(f->choices, dst->v[i]) < 0) {
            char all[512];
            list_choices(f->choices, all, sizeof(all));
            jp_conf_errorf(c, at, path, "'%s' is not one of: %s", dst->v[i], all);
        } else if (f->check && f->check(path, dst->v[i], err, sizeof(err)) != 0) {
            jp_conf_errorf(c, at, path, "%s", err);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(dst->v[i], dst->v[j]) == 0)
                jp_conf_errorf(c, at, path, "'%s' is listed twice", dst->v[i]);
    }
}

int jp_conf_props_set(jp_conf_props_t *p, const char *key, const char *value)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(p->values[i]);
            p->values[i] = v;
            return 0;
        }
    char **k = realloc(p->keys, (p->n + 1) * sizeof(*k));
    if (!k)
        return -1;
    p->keys = k;
    char **v = realloc(p->values, (p->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    p->values = v;
    p->keys[p->n] = strdup(key);
    p->values[p->n] = strdup(value);
    p->n++;
    return 0;
}

static int looks_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret");
}

static void props_put(jp_conf_t *c, const jp_conf_field_t *f, const jp_yaml_node_t *at,
                      const char *path, const char *key, const char *value, jp_conf_props_t *dst)
{
    char full[JP_CONF_PATH_MAX], err[256];
    size_t kl = strlen(key);
    join_path(full, sizeof(full), path, key);
    if (kl > 5 && strcmp(key + kl - 5, "_file") == 0) {
        char real[JP_CONF_PATH_MAX];
        snprintf(real, sizeof(real), "%.*s", (int)(kl - 5), key);
        char *file = resolve_path(c, value);
        char *secret = file ? jp_conf_read_secret(file, err, sizeof(err)) : NULL;
        free(file);
        if (!secret) {
            jp_conf_errorf(c, at, full, "%s", err);
            return;
        }
        jp_log_add_secret(secret);
        if (f->check && f->check(real, secret, err, sizeof(err)) != 0)
            jp_conf_errorf(c, at, full, "%s", err);
        jp_conf_props_set(dst, real, secret);
        free(secret);
        return;
    }
    if (looks_secret(key)) {
        jp_conf_errorf(c, at, full, "secrets must not be written in configuration: use %s_file",
                       key);
        return;
    }
    if (f->check && f->check(key, value, err, sizeof(err)) != 0)
        jp_conf_errorf(c, at, full, "%s", err);
    jp_conf_props_set(dst, key, value);
}

static void decode_props(jp_conf_t *c, const jp_conf_field_t *f, const jp_yaml_node_t *n,
                         const char *path, jp_conf_props_t *dst)
{
    if (n && n->kind != JP_YAML_MAP) {
        jp_conf_errorf(c, n, path, "expected a mapping");
        return;
    }
    for (size_t i = 0; n && i < n->n; i++) {
        const jp_yaml_node_t *v = n->items[i];
        char full[JP_CONF_PATH_MAX];
        join_path(full, sizeof(full), path, n->keys[i]->scalar);
        if (v->kind != JP_YAML_SCALAR) {
            jp_conf_errorf(c, v, full, "expected a single value");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(n->keys[j]->scalar, n->keys[i]->scalar) == 0)
                jp_conf_errorf(c, n->keys[i], full, "duplicate key");
        props_put(c, f, v, path, n->keys[i]->scalar, v->scalar, dst);
    }
    if (!c->env_prefix)
        return;
    /* JACKPOT_KAFKA__SASL_MECHANISM -> sasl.mechanism */
    char prefix[JP_CONF_PATH_MAX];
    env_name(c, path, prefix, sizeof(prefix));
    strncat(prefix, "__", sizeof(prefix) - strlen(prefix) - 1);
    size_t pl = strlen(prefix);
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, prefix, pl) != 0 || (size_t)(eq - *e) <= pl)
            continue;
        char name[JP_CONF_PATH_MAX], key[JP_CONF_PATH_MAX], origin[JP_CONF_PATH_MAX + 8];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        size_t k = 0;
        for (const char *p = name + pl; *p && k + 1 < sizeof(key); p++)
            key[k++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
        key[k] = '\0';
        /* ..._FILE suffix names a secret file: sasl.password.file -> _file. */
        if (k > 5 && strcmp(key + k - 5, ".file") == 0)
            key[k - 5] = '_';
        env_mark_used(c, name);
        snprintf(origin, sizeof(origin), "env %s", name);
        jp_yaml_node_t *at = jp_yaml_scalar_new(eq + 1, origin);
        if (at)
            props_put(c, f, at, path, key, eq + 1, dst);
        jp_yaml_free(at);
    }
}

/* Cheap edit distance for "did you mean" hints on unknown keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static const jp_conf_field_t *field_for_key(const jp_conf_field_t *fields, const char *key)
{
    size_t kl = strlen(key);
    for (const jp_conf_field_t *f = fields; f->key; f++) {
        if (f->type == JP_CONF_SECRET) {
            size_t fl = strlen(f->key);
            if (kl == fl + 5 && strncmp(key, f->key, fl) == 0 && strcmp(key + fl, "_file") == 0)
                return f;
        }
        if (strcmp(f->key, key) == 0)
            return f;
    }
    return NULL;
}

static void check_keys(jp_conf_t *c, const jp_conf_field_t *fields, const jp_yaml_node_t *map,
                       const char *path)
{
    for (size_t i = 0; i < map->n; i++) {
        const jp_yaml_node_t *k = map->keys[i];
        char full[JP_CONF_PATH_MAX];
        if (k->kind != JP_YAML_SCALAR) {
            jp_conf_errorf(c, k, path && *path ? path : "(root)", "keys must be plain strings");
            continue;
        }
        join_path(full, sizeof(full), path, k->scalar);
        for (size_t j = 0; j < i; j++)
            if (map->keys[j]->kind == JP_YAML_SCALAR &&
                strcmp(map->keys[j]->scalar, k->scalar) == 0)
                jp_conf_errorf(c, k, full, "duplicate key (first at line %d)", map->keys[j]->line);
        if (field_for_key(fields, k->scalar))
            continue;
        const char *best = NULL;
        size_t best_d = 3;
        for (const jp_conf_field_t *f = fields; f->key; f++) {
            size_t d = edit_distance(k->scalar, f->key);
            if (d < best_d) {
                best_d = d;
                best = f->key;
            }
        }
        const jp_conf_field_t *plain = NULL;
        size_t kl = strlen(k->scalar);
        if (kl > 5 && strcmp(k->scalar + kl - 5, "_file") == 0) {
            char base[JP_CONF_PATH_MAX];
            snprintf(base, sizeof(base), "%.*s", (int)(kl - 5), k->scalar);
            plain = field_for_key(fields, base);
        }
        if (plain)
            jp_conf_errorf(c, k, full, "'%s' is not a secret and cannot be read from a file",
                           plain->key);
        else if (best)
            jp_conf_errorf(c, k, full, "unknown key (did you mean '%s'?)", best);
        else
            jp_conf_errorf(c, k, full, "unknown key");
    }
}

static void apply_default(jp_conf_t *c, const jp_conf_field_t *f, const char *path, void *dst)
{
    if (!f->def)
        return;
    jp_yaml_node_t *n = jp_yaml_scalar_new(f->def, "(default)");
    if (!n)
        return;
    if (f->type == JP_CONF_STRLIST)
        decode_strlist(c, f, n, path, dst);
    else
        decode_scalar(c, f, n, path, dst);
    jp_yaml_free(n);
}

static void decode_secret(jp_conf_t *c, const jp_yaml_node_t *n, const char *path,
                          jp_conf_secret_t *dst)
{
    char err[256];
    if (n->kind != JP_YAML_SCALAR || !*n->scalar) {
        jp_conf_errorf(c, n, path, "expected the path of a secret file");
        return;
    }
    free(dst->path);
    free(dst->value);
    dst->value = NULL;
    dst->path = resolve_path(c, n->scalar);
    if (!dst->path)
        return;
    dst->value = jp_conf_read_secret(dst->path, err, sizeof(err));
    if (!dst->value)
        jp_conf_errorf(c, n, path, "%s", err);
    else
        jp_log_add_secret(dst->value);
}

/* at: where to point errors about missing keys when map itself is absent
 * (the nearest enclosing node that exists). */
static size_t decode_map(jp_conf_t *c, const jp_conf_field_t *fields, const jp_yaml_node_t *map,
                         const jp_yaml_node_t *at, const char *path, const char *base_dir,
                         void *out)
{
    size_t before = c->n_errors;
    char *saved_base = c->base_dir;
    char *base = base_dir ? strdup(base_dir) : NULL;
    if (base_dir)
        c->base_dir = base;

    if (map && map->kind != JP_YAML_MAP) {
        jp_conf_errorf(c, map, path && *path ? path : "(root)", "expected a mapping");
        map = NULL;
    }
    if (map)
        at = map;
    if (map)
        check_keys(c, fields, map, path);

    for (const jp_conf_field_t *f = fields; f->key; f++) {
        char full[JP_CONF_PATH_MAX], file_key[JP_CONF_PATH_MAX];
        void *dst = (char *)out + f->offset;
        join_path(full, sizeof(full), path, f->key);
        const jp_yaml_node_t *n = jp_yaml_get(map, f->key);

        if (f->type == JP_CONF_SECRET) {
            snprintf(file_key, sizeof(file_key), "%s_file", f->key);
            char env_path[JP_CONF_PATH_MAX];
            join_path(env_path, sizeof(env_path), path, file_key);
            jp_yaml_node_t *ov = env_override(c, env_path);
            const jp_yaml_node_t *fn = ov ? ov : jp_yaml_get(map, file_key);
            if (n)
                jp_conf_errorf(c, n, full,
                               "secrets must not be written in configuration: use %s_file", f->key);
            else if (fn)
                decode_secret(c, fn, full, dst);
            else if (f->required)
                jp_conf_errorf(c, at, full, "missing required key '%s'", file_key);
            jp_yaml_free(ov);
            continue;
        }
        if (f->type == JP_CONF_SECTION) {
            if (!n && f->required)
                jp_conf_errorf(c, at, full, "missing required section");
            else
                decode_map(c, f->fields, n, at, full, NULL, dst);
            continue;
        }
        if (f->type == JP_CONF_PROPS) {
            decode_props(c, f, n, full, dst);
            continue;
        }
        if (f->type == JP_CONF_LIST) {
            jp_conf_list_t *l = dst;
            if (!n) {
                if (f->required)
                    jp_conf_errorf(c, at, full, "missing required key");
                continue;
            }
            if (n->kind != JP_YAML_SEQ) {
                jp_conf_errorf(c, n, full, "expected a list");
                continue;
            }
            if (f->required && n->n == 0)
                jp_conf_errorf(c, n, full, "must not be empty");
            l->items = calloc(n->n ? n->n : 1, f->elem_size);
            if (!l->items)
                continue;
            l->n = n->n;
            for (size_t i = 0; i < n->n; i++) {
                char item_path[JP_CONF_PATH_MAX + 24];
                snprintf(item_path, sizeof(item_path), "%s[%zu]", full, i);
                decode_map(c, f->fields, n->items[i], n->items[i], item_path, NULL,
                           (char *)l->items + i * f->elem_size);
            }
            continue;
        }
        jp_yaml_node_t *ov = env_override(c, full);
        if (ov)
            n = ov;
        if (!n) {
            if (f->required)
                jp_conf_errorf(c, at, full, "missing required key");
            else
                apply_default(c, f, full, dst);
        } else if (f->type == JP_CONF_STRLIST) {
            decode_strlist(c, f, n, full, dst);
        } else {
            decode_scalar(c, f, n, full, dst);
        }
        jp_yaml_free(ov);
    }
    c->base_dir = saved_base;
    free(base);
    return c->n_errors - before;
}

size_t jp_conf_decode(jp_conf_t *c, const jp_conf_field_t *fields, const jp_yaml_node_t *map,
                      const char *path, const char *base_dir, void *out)
{
    return decode_map(c, fields, map, map, path, base_dir, out);
}

void jp_conf_check_env(jp_conf_t *c)
{
    if (!c->env_prefix)
        return;
    size_t pl = strlen(c->env_prefix);
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, c->env_prefix, pl) != 0)
            continue;
        char name[JP_CONF_PATH_MAX];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        if (!strstr(name + pl, "__"))
            continue; /* not a configuration override (e.g. JACKPOT_BIN) */
        int used = 0;
        for (size_t i = 0; i < c->n_env_used && !used; i++)
            used = strcmp(c->env_used[i], name) == 0;
        if (!used) {
            char line[JP_CONF_PATH_MAX + 64];
            snprintf(line, sizeof(line), "env %s: no configuration key has this name", name);
            add_error(c, line);
        }
    }
}

void jp_conf_release(const jp_conf_field_t *fields, void *obj)
{
    for (const jp_conf_field_t *f = fields; f->key; f++) {
        void *p = (char *)obj + f->offset;
        switch (f->type) {
        case JP_CONF_STR:
        case JP_CONF_PATH:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case JP_CONF_SECRET: {
            jp_conf_secret_t *s = p;
            if (s->value)
                memset(s->value, 0, strlen(s->value));
            free(s->path);
            free(s->value);
            s->path = s->value = NULL;
            break;
        }
        case JP_CONF_STRLIST: {
            jp_conf_strlist_t *l = p;
            for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        }
        case JP_CONF_PROPS: {
            jp_conf_props_t *pr = p;
            for (size_t i = 0; i < pr->n; i++) {
                free(pr->keys[i]);
                free(pr->values[i]);
            }
            free(pr->keys);
            free(pr->values);
            memset(pr, 0, sizeof(*pr));
            break;
        }
        case JP_CONF_SECTION:
            jp_conf_release(f->fields, p);
            break;
        case JP_CONF_LIST: {
            jp_conf_list_t *l = p;
            for (size_t i = 0; i < l->n; i++)
                jp_conf_release(f->fields, (char *)l->items + i * f->elem_size);
            free(l->items);
            l->items = NULL;
            l->n = 0;
            break;
        }
        default:
            break;
        }
    }
}

static const char *ref_type(const jp_conf_field_t *f)
{
    switch (f->type) {
    case JP_CONF_STR:
        return "string";
    case JP_CONF_PATH:
        return "path";
    case JP_CONF_INT:
        return "integer";
    case JP_CONF_NUM:
        return "number";
    case JP_CONF_BOOL:
        return "boolean";
    case JP_CONF_DURATION:
        return "duration";
    case JP_CONF_ENUM:
        return "enum";
    case JP_CONF_SECRET:
        return "secret file";
    case JP_CONF_STRLIST:
        return "list of strings";
    case JP_CONF_PROPS:
        return "map";
    case JP_CONF_SECTION:
        return "section";
    case JP_CONF_LIST:
        return "list of sections";
    }
    return "?";
}

void jp_conf_print_reference(const jp_conf_field_t *fields, const char *path, FILE *out)
{
    if (!path || !*path)
        fputs("| key | type | required | default | allowed | meaning |\n"
              "|---|---|---|---|---|---|\n",
              out);
    for (const jp_conf_field_t *f = fields; f->key; f++) {
        char full[JP_CONF_PATH_MAX], allowed[512] = "";
        join_path(full, sizeof(full), path, f->key);
        if (f->type == JP_CONF_SECRET)
            strncat(full, "_file", sizeof(full) - strlen(full) - 1);
        if (f->type == JP_CONF_LIST)
            strncat(full, "[]", sizeof(full) - strlen(full) - 1);
        if (f->choices)
            list_choices(f->choices, allowed, sizeof(allowed));
        else if (f->min <= f->max && f->type == JP_CONF_DURATION)
            snprintf(allowed, sizeof(allowed), "%.0fms .. %.0fms", f->min, f->max);
        else if (f->min <= f->max)
            snprintf(allowed, sizeof(allowed), "%.15g .. %.15g", f->min, f->max);
        fprintf(out, "| `%s` | %s | %s | %s | %s | %s |\n", full, ref_type(f),
                f->required ? "yes" : "no", f->def ? f->def : "", allowed, f->doc ? f->doc : "");
        if (f->type == JP_CONF_SECTION || f->type == JP_CONF_LIST)
            jp_conf_print_reference(f->fields, full, out);
    }
}

jp_yaml_node_t *jp_conf_load_file(jp_conf_t *c, const jp_conf_field_t *fields, const char *path,
                                  void *out)
{
    char err[1024];
    jp_yaml_node_t *root = jp_yaml_load_file(path, err, sizeof(err));
    if (!root) {
        jp_conf_add_error(c, err);
        return NULL;
    }
    char *dir_copy = strdup(path);
    jp_conf_decode(c, fields, root, "", dir_copy ? dirname(dir_copy) : ".", out);
    free(dir_copy);
    return root;
}

void jp_conf_props_free(jp_conf_props_t *props)
{
    for (size_t i = 0; i < props->n; i++) {
        free(props->keys[i]);
        free(props->values[i]);
    }
    free(props->keys);
    free(props->values);
    memset(props, 0, sizeof(*props));
}
