/*
 * jp_registry_store: registry state in memory, made durable by an
 * append-only log of mutations.
 *
 * Design. Every mutation is first expressed as a JSON record (register,
 * delete_subject, delete_version, config, mode), appended to
 * DIR/registry.log with one write(2) and fsync'd, and only then applied to
 * memory by the same apply_record() that replays the log at open. One code
 * path therefore defines both the live behaviour and recovery: what a client
 * was told is exactly what a restart rebuilds. Records carry their decisions
 * (the id and version chosen), so replay never re-runs compatibility or mode
 * checks or id allocation and stays valid even if the checker's rules
 * evolve. If memory cannot take a record that was written (allocation
 * failure), the log is truncated back so the two never diverge.
 *
 * Ids are never reused: a schema keeps its id even when every version using
 * it is deleted, so re-registering it gives the same id, and new ids start
 * after the highest id ever seen (max_id). IMPORT mode may bring ids below
 * max_id, so schemas are kept in an array sorted by id (binary search);
 * registrations are rare next to reads. Versions only grow within a subject
 * (next = last + 1, or an imported version above the last).
 *
 * Crash safety: a write torn by a crash leaves a last line without its
 * newline, or garbage. At open, an unparseable line is tolerated only if no
 * valid record follows it - then it is a tail that was never acknowledged
 * and is truncated; otherwise open fails rather than silently dropping
 * acknowledged records. A register record that is valid JSON but whose
 * schema no longer parses (an older registry accepted the empty-union
 * schema that crashed readers) is skipped and reported: its id stays burnt
 * and its version stays taken, and deletes of what was skipped are ignored.
 *
 * Lookups use two small open-addressing string maps (subject name ->
 * subject, identity key -> the first id holding it); keys are owned by the
 * entries, which live until close (a permanently deleted subject keeps an
 * empty entry), so the maps never need deletion.
 */
#include "registry/jp_registry_store.h"

#include "model/base/jp_err.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_NAME    "registry.log"
#define SUBJECT_MAX 4096
#define APPLY_SKIP  (-2) /* apply_register: the record's schema does not parse */

typedef struct {
    int32_t id;
    char *text; /* as first registered */
    char *key;  /* identity: normalized JSON */
    char *norm; /* jp_avro_schema_normalize of text, computed on first use */
    jp_avro_schema_t *parsed;
} reg_schema_t;

typedef struct {
    int32_t version;
    int32_t id;
    bool deleted;
} reg_version_t;

typedef struct {
    char *name;
    reg_version_t *v;
    size_t n, cap;
    int32_t floor; /* versions up to here are taken even if absent (skipped records) */
    bool has_level;
    jp_avro_compat_t level;
    bool has_mode;
    jp_registry_mode_t mode;
} reg_subject_t;

typedef struct {
    const char *key;
    size_t val;
} map_slot_t;

typedef struct {
    map_slot_t *slots;
    size_t cap, n; /* cap is a power of two or 0 */
} strmap_t;

/* A (subject, version) whose register record was skipped at replay. */
typedef struct {
    char *subject;
    int32_t version;
} reg_skipped_t;

struct jp_registry_store_s {
    int fd;
    char *path;
    off_t size;            /* bytes of valid log */
    reg_schema_t *schemas; /* sorted by id */
    size_t n_schemas, cap_schemas;
    int32_t max_id; /* highest id ever known, including skipped ones */
    reg_subject_t *subjects;
    size_t n_subjects, cap_subjects;
    strmap_t by_subject; /* name -> index in subjects */
    strmap_t by_key;     /* identity key -> first id */
    jp_avro_compat_t global_level;
    jp_registry_mode_t global_mode;
    reg_skipped_t *skipped;
    size_t n_skipped, cap_skipped;
    char note[1024];
    bool has_note;
};

/* A schema already parsed by the caller of commit(), handed to apply so a
 * new id does not parse its text twice. Ownership moves to the store. */
typedef struct {
    jp_avro_schema_t *parsed;
    char *key;
} parsed_hint_t;

static const char *const mode_names[] = {"READWRITE", "READONLY", "IMPORT"};

int jp_registry_mode_parse(const char *name, jp_registry_mode_t *out)
{
    for (size_t i = 0; name && i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (strcasecmp(name, mode_names[i]) == 0) {
            *out = (jp_registry_mode_t)i;
            return 0;
        }
    return -1;
}

const char *jp_registry_mode_name(jp_registry_mode_t mode)
{
    return (unsigned)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode] : "?";
}

/* Grows *arr (elements of size elem) to hold at least need; 0 or -1. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Appends a sentence to the recovery note. */
static void note_add(jp_registry_store_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_add(jp_registry_store_t *st, const char *fmt, ...)
{
    size_t len = strlen(st->note);
    if (len && len + 2 < sizeof(st->note)) {
        memcpy(st->note + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->note + len, sizeof(st->note) - len, fmt, ap);
    va_end(ap);
    st->has_note = true;
}

/* ---- string map ---------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static map_slot_t *map_slot(const strmap_t *m, const char *key)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask)
        if (!m->slots[i].key || strcmp(m->slots[i].key, key) == 0)
            return &m->slots[i];
}

static bool map_get(const strmap_t *m, const char *key, size_t *val)
{
    if (!m->cap)
        return false;
    map_slot_t *s = map_slot(m, key);
    if (!s->key)
        return false;
    *val = s->val;
    return true;
}

/* key must outlive the map. 0 or -1 (allocation). */
static int map_put(strmap_t *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        strmap_t bigger = {calloc(m->cap ? m->cap * 2 : 16, sizeof(map_slot_t)),
                           m->cap ? m->cap * 2 : 16, 0};
        if (!bigger.slots)
            return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key) {
                *map_slot(&bigger, m->slots[i].key) = m->slots[i];
                bigger.n++;
            }
        free(m->slots);
        *m = bigger;
    }
    map_slot_t *s = map_slot(m, key);
    if (!s->key)
        m->n++;
    s->key = key;
    s->val = val;
    return 0;
}

/* ---- lookups ------------------------------------------------------------- */

/* Index of id in the sorted schema array, or where it would go. */
static size_t schema_pos(const jp_registry_store_t *st, int32_t id)
{
    size_t lo = 0, hi = st->n_schemas;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->schemas[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static reg_schema_t *find_schema(const jp_registry_store_t *st, int32_t id)
{
    size_t i = schema_pos(st, id);
    return i < st->n_schemas && st->schemas[i].id == id ? &st->schemas[i] : NULL;
}

static reg_subject_t *find_subject(const jp_registry_store_t *st, const char *name)
{
    size_t i;
    return map_get(&st->by_subject, name, &i) ? &st->subjects[i] : NULL;
}

static size_t live_count(const reg_subject_t *sub)
{
    size_t n = 0;
    for (size_t i = 0; sub && i < sub->n; i++)
        n += !sub->v[i].deleted;
    return n;
}

/* The subject if it is visible: some live version, or any version when
 * include_deleted. */
static reg_subject_t *visible_subject(const jp_registry_store_t *st, const char *name,
                                      bool include_deleted)
{
    reg_subject_t *sub = find_subject(st, name);
    if (!sub || sub->n == 0 || (!include_deleted && live_count(sub) == 0))
        return NULL;
    return sub;
}

/* Index of a version (LATEST: the newest eligible); -1 if none. */
static long find_version(const reg_subject_t *sub, int32_t version, bool include_deleted)
{
    for (size_t i = sub->n; i-- > 0;) {
        const reg_version_t *v = &sub->v[i];
        if (v->deleted && !include_deleted)
            continue;
        if (version == JP_REGISTRY_VERSION_LATEST || v->version == version)
            return (long)i;
    }
    return -1;
}

/* The highest version number taken in a subject (0 if none). */
static int32_t last_version(const reg_subject_t *sub)
{
    int32_t last = sub ? sub->floor : 0;
    if (sub && sub->n && sub->v[sub->n - 1].version > last)
        last = sub->v[sub->n - 1].version;
    return last;
}

static bool passes(const reg_version_t *v, jp_registry_filter_t filter)
{
    return filter == JP_REGISTRY_INCLUDE_DELETED ||
           v->deleted == (filter == JP_REGISTRY_DELETED_ONLY);
}

static void fill_version(const jp_registry_store_t *st, const reg_subject_t *sub,
                         const reg_version_t *v, jp_registry_version_t *out)
{
    out->subject = sub->name;
    out->version = v->version;
    out->id = v->id;
    out->schema = find_schema(st, v->id)->text;
    out->deleted = v->deleted;
}

static jp_avro_compat_t level_of(const jp_registry_store_t *st, const reg_subject_t *sub)
{
    return sub && sub->has_level ? sub->level : st->global_level;
}

static jp_registry_mode_t mode_of(const jp_registry_store_t *st, const reg_subject_t *sub)
{
    return sub && sub->has_mode ? sub->mode : st->global_mode;
}

static int not_found_subject(const char *subject, char *errstr, size_t errstr_size)
{
    jp_err_set(errstr, errstr_size, "Subject '%s' not found.", subject);
    return JP_REGISTRY_ERR_SUBJECT_NOT_FOUND;
}

static int not_found_version(int32_t version, char *errstr, size_t errstr_size)
{
    if (version == JP_REGISTRY_VERSION_LATEST)
        jp_err_set(errstr, errstr_size, "Version latest not found.");
    else
        jp_err_set(errstr, errstr_size, "Version %d not found.", (int)version);
    return JP_REGISTRY_ERR_VERSION_NOT_FOUND;
}

/* Confluent's words for a write the mode refuses ("in context" is empty for
 * the default context, and Java prints a global scope as "null"). */
static int not_permitted(const char *subject, const char *what, char *errstr, size_t errstr_size)
{
    jp_err_set(errstr, errstr_size, "Subject %s in context  is %s", subject ? subject : "null",
               what);
    return JP_REGISTRY_ERR_NOT_PERMITTED;
}

/* 0, or NOT_PERMITTED when the scope of subject (NULL: global) is READONLY. */
static int check_writable(const jp_registry_store_t *st, const char *subject, char *errstr,
                          size_t errstr_size)
{
    const reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    if (mode_of(st, sub) == JP_REGISTRY_MODE_READONLY)
        return not_permitted(subject, "in read-only mode", errstr, errstr_size);
    return 0;
}

static int check_subject(const char *subject, char *errstr, size_t errstr_size)
{
    size_t len = strlen(subject);
    bool ok = len > 0 && len <= SUBJECT_MAX;
    for (const unsigned char *p = (const unsigned char *)subject; ok && *p; p++)
        ok = *p >= 0x20 && *p != 0x7f;
    if (ok) {
        json_t *probe = json_string(subject); /* NULL unless valid UTF-8 */
        ok = probe != NULL;
        json_decref(probe);
    }
    if (!ok) {
        jp_err_set(errstr, errstr_size,
                   "Invalid subject: must be 1..%d bytes of UTF-8 without "
                   "control characters",
                   SUBJECT_MAX);
        return JP_REGISTRY_ERR_INVALID_SUBJECT;
    }
    return 0;
}

/* Parses schema text and computes its identity key: the JSON re-serialized
 * compactly with sorted keys. Not the Parsing Canonical Form, which drops
 * defaults, aliases, docs and logical types: sharing an id across those
 * would hand a consumer that decodes with the writer's schema a
 * timestamp-millis as a bare long, and would let a re-registration that
 * adds an enum default be swallowed as "already registered". */
static int parse_schema(const char *text, size_t len, parsed_hint_t *out, char *errstr,
                        size_t errstr_size)
{
    char why[512] = "";
    out->key = NULL;
    out->parsed = jp_avro_schema_parse(text, len, why, sizeof(why));
    if (!out->parsed) {
        jp_err_set(errstr, errstr_size, "Invalid schema: %s", why);
        return JP_REGISTRY_ERR_INVALID_SCHEMA;
    }
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    out->key = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                   : jp_avro_schema_canonical(out->parsed);
    json_decref(doc);
    if (!out->key) {
        jp_avro_schema_free(out->parsed);
        out->parsed = NULL;
        jp_err_set(errstr, errstr_size, "out of memory computing the schema's identity");
        return JP_REGISTRY_ERR_STORE;
    }
    return 0;
}

static void hint_free(parsed_hint_t *h)
{
    jp_avro_schema_free(h->parsed);
    free(h->key);
    h->parsed = NULL;
    h->key = NULL;
}

/* The normalized text of a stored schema (NULL when out of memory). */
static const char *schema_norm(reg_schema_t *s)
{
    if (!s->norm)
        s->norm = jp_avro_schema_normalize(s->text, strlen(s->text), NULL, 0);
    return s->norm;
}

/* A schema text rewritten by normalization when asked (malloc'd into
 * *owned), or the text itself. 0 or INVALID_SCHEMA. */
static int maybe_normalize(const char **text, size_t *len, bool normalize, char **owned,
                           char *errstr, size_t errstr_size)
{
    *owned = NULL;
    if (!normalize)
        return 0;
    char why[512] = "";
    if (!(*owned = jp_avro_schema_normalize(*text, *len, why, sizeof(why)))) {
        jp_err_set(errstr, errstr_size, "Invalid schema: %s", why);
        return JP_REGISTRY_ERR_INVALID_SCHEMA;
    }
    *text = *owned;
    *len = strlen(*owned);
    return 0;
}

/* ---- applying records (live and replay) ---------------------------------- */

static reg_subject_t *get_or_add_subject(jp_registry_store_t *st, const char *name)
{
    reg_subject_t *sub = find_subject(st, name);
    if (sub)
        return sub;
    if (grow((void **)&st->subjects, &st->cap_subjects, st->n_subjects + 1, sizeof(reg_subject_t)))
        return NULL;
    /* The map holds indices and the names' own storage, so growing the
     * array leaves it valid. */
    sub = &st->subjects[st->n_subjects];
    memset(sub, 0, sizeof(*sub));
    sub->name = strdup(name);
    if (!sub->name || map_put(&st->by_subject, sub->name, st->n_subjects)) {
        free(sub->name);
        return NULL;
    }
    st->n_subjects++;
    return sub;
}

static const char *rec_str(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

/* Adds schema id (not known yet) with its text; takes hint's contents. */
static int insert_schema(jp_registry_store_t *st, int32_t id, const char *text, parsed_hint_t *hint)
{
    if (grow((void **)&st->schemas, &st->cap_schemas, st->n_schemas + 1, sizeof(reg_schema_t)))
        return -1;
    reg_schema_t s = {id, strdup(text), hint->key, NULL, hint->parsed};
    size_t known;
    if (!s.text ||
        (!map_get(&st->by_key, s.key, &known) && map_put(&st->by_key, s.key, (size_t)id))) {
        free(s.text);
        return -1;
    }
    hint->parsed = NULL;
    hint->key = NULL;
    size_t pos = schema_pos(st, id);
    memmove(&st->schemas[pos + 1], &st->schemas[pos], (st->n_schemas - pos) * sizeof(s));
    st->schemas[pos] = s;
    st->n_schemas++;
    if (id > st->max_id)
        st->max_id = id;
    return 0;
}

static int apply_register(jp_registry_store_t *st, const json_t *rec, parsed_hint_t *hint,
                          char *errstr, size_t errstr_size)
{
    const char *subject = rec_str(rec, "subject");
    const char *text = rec_str(rec, "schema");
    json_int_t version = json_integer_value(json_object_get(rec, "version"));
    json_int_t id = json_integer_value(json_object_get(rec, "id"));
    if (!subject || !text || version < 1 || version > INT32_MAX || id < 1 || id > INT32_MAX) {
        jp_err_set(errstr, errstr_size, "malformed register record");
        return -1;
    }
    reg_subject_t *sub = find_subject(st, subject);
    if (sub && sub->n && sub->v[sub->n - 1].version >= version) {
        jp_err_set(errstr, errstr_size, "version %lld of '%s' is not above the last one",
                   (long long)version, subject);
        return -1;
    }
    if (!find_schema(st, (int32_t)id)) {
        parsed_hint_t local = {NULL, NULL};
        if (!hint || !hint->parsed) {
            int rc = parse_schema(text, json_string_length(json_object_get(rec, "schema")), &local,
                                  errstr, errstr_size);
            if (rc)
                return rc == JP_REGISTRY_ERR_INVALID_SCHEMA ? APPLY_SKIP : -1;
            hint = &local;
        }
        if (insert_schema(st, (int32_t)id, text, hint)) {
            hint_free(hint);
            jp_err_set(errstr, errstr_size, "out of memory");
            return -1;
        }
    }
    sub = get_or_add_subject(st, subject);
    if (!sub || grow((void **)&sub->v, &sub->cap, sub->n + 1, sizeof(reg_version_t))) {
        /* A new schema entry stays: ids are never reused, and the record is
         * being rolled back, so the id is simply assigned again. */
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    sub->v[sub->n++] = (reg_version_t){(int32_t)version, (int32_t)id, false};
    return 0;
}

static bool was_skipped(const jp_registry_store_t *st, const char *subject, json_int_t version)
{
    for (size_t i = 0; subject && i < st->n_skipped; i++)
        if (strcmp(st->skipped[i].subject, subject) == 0 &&
            (version < 0 || st->skipped[i].version == version))
            return true;
    return false;
}

static int apply_delete_subject(jp_registry_store_t *st, const json_t *rec, char *errstr,
                                size_t errstr_size)
{
    const char *subject = rec_str(rec, "subject");
    bool permanent = json_is_true(json_object_get(rec, "permanent"));
    reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    if (!sub || sub->n == 0) {
        if (was_skipped(st, subject, -1))
            return 0; /* it only held versions skipped at replay */
        jp_err_set(errstr, errstr_size, "delete of unknown subject");
        return -1;
    }
    if (permanent) {
        if (live_count(sub)) {
            jp_err_set(errstr, errstr_size, "permanent delete of a live subject");
            return -1;
        }
        sub->n = 0;
        sub->floor = 0;
        sub->has_level = false;
    } else {
        for (size_t i = 0; i < sub->n; i++)
            sub->v[i].deleted = true;
    }
    return 0;
}

static int apply_delete_version(jp_registry_store_t *st, const json_t *rec, char *errstr,
                                size_t errstr_size)
{
    const char *subject = rec_str(rec, "subject");
    json_int_t version = json_integer_value(json_object_get(rec, "version"));
    bool permanent = json_is_true(json_object_get(rec, "permanent"));
    reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    long i = sub && version >= 1 && version <= INT32_MAX ? find_version(sub, (int32_t)version, true)
                                                         : -1;
    if (i < 0 && version >= 1 && was_skipped(st, subject, version))
        return 0;
    if (i < 0 || (permanent && !sub->v[i].deleted)) {
        jp_err_set(errstr, errstr_size, "delete of unknown or live version");
        return -1;
    }
    if (permanent) {
        memmove(&sub->v[i], &sub->v[i + 1], (sub->n - (size_t)i - 1) * sizeof(reg_version_t));
        sub->n--;
    } else {
        sub->v[i].deleted = true;
    }
    return 0;
}

static int parse_level(const char *name, int *out)
{
    jp_avro_compat_t level = JP_AVRO_COMPAT_BACKWARD;
    int rc = jp_avro_compat_parse(name, &level);
    *out = (int)level;
    return rc;
}

static int parse_mode(const char *name, int *out)
{
    jp_registry_mode_t mode = JP_REGISTRY_MODE_READWRITE;
    int rc = jp_registry_mode_parse(name, &mode);
    *out = (int)mode;
    return rc;
}

/* The parts of a config or mode record: its value under key (null: unset,
 * *value = def), and the subject it is for (*sub NULL: global). */
static int read_setting(jp_registry_store_t *st, const json_t *rec, const char *key,
                        int (*parse)(const char *, int *), int def, int *value, bool *set,
                        reg_subject_t **sub, char *errstr, size_t errstr_size)
{
    const char *subject = rec_str(rec, "subject");
    json_t *jv = json_object_get(rec, key);
    *value = def;
    *set = !json_is_null(jv);
    if (*set && (!json_is_string(jv) || parse(json_string_value(jv), value))) {
        jp_err_set(errstr, errstr_size, "malformed %s record", rec_str(rec, "op"));
        return -1;
    }
    *sub = subject ? get_or_add_subject(st, subject) : NULL;
    if (subject && !*sub) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

static int apply_config(jp_registry_store_t *st, const json_t *rec, char *errstr,
                        size_t errstr_size)
{
    int level;
    bool set;
    reg_subject_t *sub;
    if (read_setting(st, rec, "level", parse_level, JP_AVRO_COMPAT_BACKWARD, &level, &set, &sub,
                     errstr, errstr_size))
        return -1;
    if (!sub) {
        st->global_level = (jp_avro_compat_t)level; /* null: back to the default */
    } else {
        sub->has_level = set;
        sub->level = (jp_avro_compat_t)level;
    }
    return 0;
}

/* {"op":"mode", "subject"?, "mode": name|null, "clear"?: true}: clear drops
 * the soft-deleted versions in scope (entering IMPORT on an empty scope). */
static int apply_mode(jp_registry_store_t *st, const json_t *rec, char *errstr, size_t errstr_size)
{
    int mode;
    bool set;
    reg_subject_t *sub;
    if (read_setting(st, rec, "mode", parse_mode, JP_REGISTRY_MODE_READWRITE, &mode, &set, &sub,
                     errstr, errstr_size))
        return -1;
    if (json_is_true(json_object_get(rec, "clear")))
        for (size_t i = 0; i < st->n_subjects; i++) {
            reg_subject_t *s = &st->subjects[i];
            if ((sub && s != sub) || live_count(s))
                continue;
            s->n = 0;
            s->floor = 0;
        }
    if (!sub) {
        st->global_mode = (jp_registry_mode_t)mode;
    } else {
        sub->has_mode = set;
        sub->mode = (jp_registry_mode_t)mode;
    }
    return 0;
}

/* 0, -1 (errstr), or APPLY_SKIP for a register record whose schema does
 * not parse. */
static int apply_record(jp_registry_store_t *st, const json_t *rec, parsed_hint_t *hint,
                        char *errstr, size_t errstr_size)
{
    const char *op = rec_str(rec, "op");
    if (op && strcmp(op, "register") == 0)
        return apply_register(st, rec, hint, errstr, errstr_size);
    if (op && strcmp(op, "delete_subject") == 0)
        return apply_delete_subject(st, rec, errstr, errstr_size);
    if (op && strcmp(op, "delete_version") == 0)
        return apply_delete_version(st, rec, errstr, errstr_size);
    if (op && strcmp(op, "config") == 0)
        return apply_config(st, rec, errstr, errstr_size);
    if (op && strcmp(op, "mode") == 0)
        return apply_mode(st, rec, errstr, errstr_size);
    jp_err_set(errstr, errstr_size, "unknown record op '%s'", op ? op : "(none)");
    return -1;
}

/* Replay met a register record whose schema does not parse: the id stays
 * burnt, the version taken, and later deletes of it are ignored. */
static int skip_register(jp_registry_store_t *st, const json_t *rec, size_t lineno, const char *why)
{
    const char *subject = rec_str(rec, "subject");
    json_int_t version = json_integer_value(json_object_get(rec, "version"));
    json_int_t id = json_integer_value(json_object_get(rec, "id"));
    reg_subject_t *sub = get_or_add_subject(st, subject);
    if (!sub ||
        grow((void **)&st->skipped, &st->cap_skipped, st->n_skipped + 1, sizeof(reg_skipped_t)))
        return -1;
    reg_skipped_t *k = &st->skipped[st->n_skipped];
    if (!(k->subject = strdup(subject)))
        return -1;
    k->version = (int32_t)version;
    st->n_skipped++;
    if (version > sub->floor)
        sub->floor = (int32_t)version;
    if (id > st->max_id)
        st->max_id = (int32_t)id;
    note_add(st, "%s: line %zu: skipped schema id %lld (subject '%s' version %lld): %s", st->path,
             lineno, (long long)id, subject, (long long)version, why);
    return 0;
}

/* ---- the log ------------------------------------------------------------- */

/* Appends rec durably, then applies it; on any failure the log is cut back
 * to its previous length and memory is unchanged. Consumes rec (and hint). */
static int commit(jp_registry_store_t *st, json_t *rec, parsed_hint_t *hint, char *errstr,
                  size_t errstr_size)
{
    char *line = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
    size_t len = line ? strlen(line) : 0;
    char *buf = line ? realloc(line, len + 2) : NULL;
    if (!buf) {
        free(line);
        json_decref(rec);
        if (hint)
            hint_free(hint);
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_REGISTRY_ERR_STORE;
    }
    buf[len++] = '\n';
    size_t done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t w = write(st->fd, buf + done, len - done);
        if (w < 0 && errno != EINTR)
            err = errno;
        else if (w > 0)
            done += (size_t)w;
    }
    if (!err && fsync(st->fd))
        err = errno;
    free(buf);
    char why[256] = "";
    if (!err && apply_record(st, rec, hint, why, sizeof(why)) == 0) {
        st->size += (off_t)len;
        json_decref(rec);
        return 0;
    }
    /* Roll back: what was not applied must not be replayed. */
    if (ftruncate(st->fd, st->size) == 0)
        (void)fsync(st->fd);
    json_decref(rec);
    if (hint)
        hint_free(hint);
    jp_err_set(errstr, errstr_size, "Error in the backend data store: %s",
               err ? strerror(err) : why);
    return JP_REGISTRY_ERR_STORE;
}

static int mkdir_p(const char *dir, char *errstr, size_t errstr_size)
{
    char *p = strdup(dir);
    if (!p) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST) {
            jp_err_set(errstr, errstr_size, "cannot create %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return 0;
}

static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            return -1;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Parses one log line; NULL if it is not a complete JSON object. */
static json_t *parse_line(const char *line, size_t len)
{
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (rec && !json_is_object(rec)) {
        json_decref(rec);
        rec = NULL;
    }
    return rec;
}

static int replay(jp_registry_store_t *st, char *errstr, size_t errstr_size)
{
    char *buf;
    size_t len;
    if (lseek(st->fd, 0, SEEK_SET) < 0 || read_all(st->fd, &buf, &len)) {
        jp_err_set(errstr, errstr_size, "cannot read %s: %s", st->path, strerror(errno));
        return -1;
    }
    size_t pos = 0, lineno = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        lineno++;
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        json_t *rec = nl ? parse_line(buf + pos, end - pos) : NULL;
        if (!rec) {
            /* Corrupt: acceptable only as a tail no valid record follows. */
            for (size_t q = nl ? end + 1 : len; q < len && rc == 0;) {
                char *nl2 = memchr(buf + q, '\n', len - q);
                size_t e2 = nl2 ? (size_t)(nl2 - buf) : len;
                json_t *later = nl2 ? parse_line(buf + q, e2 - q) : NULL;
                if (later) {
                    json_decref(later);
                    jp_err_set(errstr, errstr_size,
                               "%s: line %zu is corrupt but valid records follow it; refusing "
                               "to drop them (repair or remove the line)",
                               st->path, lineno);
                    rc = -1;
                }
                q = e2 + 1;
            }
            if (rc)
                break;
            if (ftruncate(st->fd, (off_t)pos) || fsync(st->fd)) {
                jp_err_set(errstr, errstr_size, "cannot truncate %s: %s", st->path,
                           strerror(errno));
                rc = -1;
                break;
            }
            note_add(st, "%s: truncated a corrupt or incomplete tail of %zu bytes at line %zu",
                     st->path, len - pos, lineno);
            len = pos;
            break;
        }
        char why[256];
        int applied = apply_record(st, rec, NULL, why, sizeof(why));
        if (applied == APPLY_SKIP && skip_register(st, rec, lineno, why) < 0) {
            jp_err_set(errstr, errstr_size, "%s: line %zu: out of memory", st->path, lineno);
            rc = -1;
        } else if (applied && applied != APPLY_SKIP) {
            jp_err_set(errstr, errstr_size, "%s: line %zu: %s", st->path, lineno, why);
            rc = -1;
        }
        json_decref(rec);
        pos = end + 1;
    }
    free(buf);
    st->size = (off_t)len;
    return rc;
}

int jp_registry_store_open(const char *dir, jp_registry_store_t **out, char *errstr,
                           size_t errstr_size)
{
    *out = NULL;
    if (mkdir_p(dir, errstr, errstr_size))
        return -1;
    jp_registry_store_t *st = calloc(1, sizeof(*st));
    if (!st) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    st->fd = -1;
    st->global_level = JP_AVRO_COMPAT_BACKWARD;
    st->global_mode = JP_REGISTRY_MODE_READWRITE;
    size_t plen = strlen(dir) + sizeof(LOG_NAME) + 1;
    st->path = malloc(plen);
    if (!st->path) {
        jp_err_set(errstr, errstr_size, "out of memory");
        jp_registry_store_close(st);
        return -1;
    }
    snprintf(st->path, plen, "%s/%s", dir, LOG_NAME);
    struct stat sb;
    bool created = stat(st->path, &sb) != 0;
    st->fd = open(st->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (st->fd < 0) {
        jp_err_set(errstr, errstr_size, "cannot open %s: %s", st->path, strerror(errno));
        jp_registry_store_close(st);
        return -1;
    }
    if (flock(st->fd, LOCK_EX | LOCK_NB)) {
        jp_err_set(errstr, errstr_size, "%s is in use by another registry process", st->path);
        jp_registry_store_close(st);
        return -1;
    }
    if (created) {
        /* Make the new file's directory entry durable too. */
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    if (replay(st, errstr, errstr_size)) {
        jp_registry_store_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

void jp_registry_store_close(jp_registry_store_t *st)
{
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    for (size_t i = 0; i < st->n_schemas; i++) {
        free(st->schemas[i].text);
        free(st->schemas[i].key);
        free(st->schemas[i].norm);
        jp_avro_schema_free(st->schemas[i].parsed);
    }
    for (size_t i = 0; i < st->n_skipped; i++)
        free(st->skipped[i].subject);
    free(st->skipped);
    for (size_t i = 0; i < st->n_subjects; i++) {
        free(st->subjects[i].name);
        free(st->subjects[i].v);
    }
    free(st->schemas);
    free(st->subjects);
    free(st->by_subject.slots);
    free(st->by_key.slots);
    free(st->path);
    free(st);
}

const char *jp_registry_store_recovery_note(const jp_registry_store_t *st)
{
    return st->has_note ? st->note : NULL;
}

/* ---- operations ---------------------------------------------------------- */

/* The live versions' parsed schemas, oldest first (malloc'd array). */
static int live_schemas(const jp_registry_store_t *st, const reg_subject_t *sub,
                        const jp_avro_schema_t ***out, size_t *n)
{
    *n = 0;
    *out = malloc((sub && sub->n ? sub->n : 1) * sizeof(**out));
    if (!*out)
        return -1;
    for (size_t i = 0; sub && i < sub->n; i++)
        if (!sub->v[i].deleted)
            (*out)[(*n)++] = find_schema(st, sub->v[i].id)->parsed;
    return 0;
}

/* The live version of sub already holding this schema, as the request
 * asks for it (its id and version, when given); -1 if none. */
static long registered_as(const jp_registry_store_t *st, const reg_subject_t *sub, const char *key,
                          const jp_registry_register_opts_t *o)
{
    for (size_t i = sub ? sub->n : 0; i-- > 0;) {
        const reg_version_t *v = &sub->v[i];
        if (!v->deleted && strcmp(find_schema(st, v->id)->key, key) == 0 &&
            (!o->id || o->id == v->id) && (!o->version || o->version == v->version))
            return (long)i;
    }
    return -1;
}

/* The version a registration gets under the subject's mode; 0 or an error. */
static int choose_version(const reg_subject_t *sub, const char *subject,
                          const jp_registry_register_opts_t *o, bool import, int32_t *out,
                          char *errstr, size_t errstr_size)
{
    int32_t last = last_version(sub);
    if (!o->version) {
        if (last == INT32_MAX) {
            jp_err_set(errstr, errstr_size,
                       "Error in the backend data store: version space "
                       "exhausted");
            return JP_REGISTRY_ERR_STORE;
        }
        *out = last + 1;
        return 0;
    }
    if (!import && o->version != last + 1) {
        jp_err_set(errstr, errstr_size, "Version is not one more than previous version");
        return JP_REGISTRY_ERR_INVALID_SCHEMA;
    }
    if (o->version <= last) {
        if (find_version(sub, o->version, true) >= 0)
            jp_err_set(errstr, errstr_size,
                       "Version %d of subject '%s' exists with another schema; versions are "
                       "not overwritten",
                       (int)o->version, subject);
        else
            jp_err_set(errstr, errstr_size,
                       "Version %d of subject '%s' is not above its latest version %d; "
                       "versions are imported in ascending order",
                       (int)o->version, subject, (int)last);
        return JP_REGISTRY_ERR_NOT_PERMITTED;
    }
    *out = o->version;
    return 0;
}

/* The id a registration gets: the requested one (which must not hold
 * another schema), the schema's existing id, or a new one. */
static int choose_id(const jp_registry_store_t *st, const parsed_hint_t *hint,
                     const jp_registry_register_opts_t *o, int32_t *out, bool *is_new, char *errstr,
                     size_t errstr_size)
{
    size_t known;
    if (o->id) {
        const reg_schema_t *s = find_schema(st, o->id);
        if (s && strcmp(s->key, hint->key) != 0) {
            jp_err_set(errstr, errstr_size,
                       "Overwrite new schema with id %d in context  is not permitted.", (int)o->id);
            return JP_REGISTRY_ERR_NOT_PERMITTED;
        }
        *out = o->id;
        *is_new = !s;
        return 0;
    }
    if (map_get(&st->by_key, hint->key, &known)) {
        *out = (int32_t)known;
        *is_new = false;
        return 0;
    }
    if (st->max_id == INT32_MAX) {
        jp_err_set(errstr, errstr_size, "Error in the backend data store: id space exhausted");
        return JP_REGISTRY_ERR_STORE;
    }
    *out = st->max_id + 1;
    *is_new = true;
    return 0;
}

static int check_compat(const jp_registry_store_t *st, const reg_subject_t *sub,
                        const char *subject, const jp_avro_schema_t *candidate, char *errstr,
                        size_t errstr_size)
{
    const jp_avro_schema_t **existing;
    size_t n_existing;
    if (live_schemas(st, sub, &existing, &n_existing)) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_REGISTRY_ERR_STORE;
    }
    char why[512] = "";
    int incompatible =
        jp_avro_compat_check(level_of(st, sub), candidate, existing, n_existing, why, sizeof(why));
    free(existing);
    if (!incompatible)
        return 0;
    jp_err_set(errstr, errstr_size,
               "Schema being registered is incompatible with an earlier schema for subject "
               "\"%s\", details: [%s]",
               subject, why);
    return JP_REGISTRY_ERR_INCOMPATIBLE;
}

/* Everything a registration decides before it is written. */
static int plan_register(jp_registry_store_t *st, const char *subject, parsed_hint_t *hint,
                         const jp_registry_register_opts_t *o, int32_t *id, int32_t *version,
                         bool *is_new, bool *done, char *errstr, size_t errstr_size)
{
    const reg_subject_t *sub = find_subject(st, subject);
    long have = registered_as(st, sub, hint->key, o);
    *done = have >= 0;
    if (*done) { /* idempotent, in every mode */
        *id = sub->v[have].id;
        *version = sub->v[have].version;
        return 0;
    }
    jp_registry_mode_t mode = mode_of(st, sub);
    if (mode == JP_REGISTRY_MODE_READONLY)
        return not_permitted(subject, "in read-only mode", errstr, errstr_size);
    if (o->id && mode != JP_REGISTRY_MODE_IMPORT)
        return not_permitted(subject, "not in import mode", errstr, errstr_size);
    if (!o->id && mode != JP_REGISTRY_MODE_READWRITE)
        return not_permitted(subject, "not in read-write mode", errstr, errstr_size);
    bool import = mode == JP_REGISTRY_MODE_IMPORT;
    int rc = choose_version(sub, subject, o, import, version, errstr, errstr_size);
    if (!rc && !import)
        rc = check_compat(st, sub, subject, hint->parsed, errstr, errstr_size);
    if (!rc)
        rc = choose_id(st, hint, o, id, is_new, errstr, errstr_size);
    return rc;
}

int jp_registry_store_register(jp_registry_store_t *st, const char *subject, const char *schema,
                               size_t len, const jp_registry_register_opts_t *opts, int32_t *id_out,
                               int32_t *version_out, char *errstr, size_t errstr_size)
{
    static const jp_registry_register_opts_t defaults = {0, 0, false};
    const jp_registry_register_opts_t *o = opts ? opts : &defaults;
    if (o->id < 0 || o->version < 0) {
        jp_err_set(errstr, errstr_size, "Invalid schema: id and version must be positive");
        return JP_REGISTRY_ERR_INVALID_SCHEMA;
    }
    char *owned;
    int rc = check_subject(subject, errstr, errstr_size);
    if (!rc)
        rc = maybe_normalize(&schema, &len, o->normalize, &owned, errstr, errstr_size);
    if (rc)
        return rc;
    parsed_hint_t hint = {NULL, NULL};
    int32_t id = 0, version = 0;
    bool is_new = false, done = false;
    rc = parse_schema(schema, len, &hint, errstr, errstr_size);
    if (!rc)
        rc = plan_register(st, subject, &hint, o, &id, &version, &is_new, &done, errstr,
                           errstr_size);
    json_t *rec = NULL;
    if (!rc && !done) {
        rec = json_pack("{s:s, s:s, s:i, s:i, s:s%}", "op", "register", "subject", subject,
                        "version", (int)version, "id", (int)id, "schema", schema, len);
        if (!rec) {
            jp_err_set(errstr, errstr_size, "Invalid schema: not valid UTF-8");
            rc = JP_REGISTRY_ERR_INVALID_SCHEMA;
        }
    }
    free(owned);
    if (rc || done) {
        hint_free(&hint);
    } else {
        if (!is_new)
            hint_free(&hint); /* the id's schema is stored already */
        rc = commit(st, rec, is_new ? &hint : NULL, errstr, errstr_size);
    }
    if (rc)
        return rc;
    *id_out = id;
    *version_out = version;
    return 0;
}

int jp_registry_store_lookup(jp_registry_store_t *st, const char *subject, const char *schema,
                             size_t len, bool include_deleted, bool normalize,
                             jp_registry_version_t *out, char *errstr, size_t errstr_size)
{
    reg_subject_t *sub = visible_subject(st, subject, include_deleted);
    if (!sub)
        return not_found_subject(subject, errstr, errstr_size);
    char *owned;
    int rc = maybe_normalize(&schema, &len, normalize, &owned, errstr, errstr_size);
    parsed_hint_t hint = {NULL, NULL};
    if (!rc)
        rc = parse_schema(schema, len, &hint, errstr, errstr_size);
    free(owned);
    if (rc)
        return rc;
    for (size_t i = sub->n; i-- > 0;) {
        reg_schema_t *s = find_schema(st, sub->v[i].id);
        const char *have = normalize ? schema_norm(s) : s->key;
        if (have && strcmp(have, hint.key) == 0 && (include_deleted || !sub->v[i].deleted)) {
            hint_free(&hint);
            fill_version(st, sub, &sub->v[i], out);
            return 0;
        }
    }
    hint_free(&hint);
    jp_err_set(errstr, errstr_size, "Schema not found");
    return JP_REGISTRY_ERR_SCHEMA_NOT_FOUND;
}

int jp_registry_store_schema_by_id(const jp_registry_store_t *st, int32_t id,
                                   const char **schema_out, char *errstr, size_t errstr_size)
{
    const reg_schema_t *s = find_schema(st, id);
    if (!s) {
        jp_err_set(errstr, errstr_size, "Schema %d not found", (int)id);
        return JP_REGISTRY_ERR_SCHEMA_NOT_FOUND;
    }
    *schema_out = s->text;
    return 0;
}

static int cmp_version(const void *a, const void *b)
{
    const jp_registry_version_t *x = a, *y = b;
    int c = strcmp(x->subject, y->subject);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has_prefix(const char *name, const char *prefix)
{
    return !prefix || strncmp(name, prefix, strlen(prefix)) == 0;
}

/* Appends the versions of sub passing filter (only the newest with
 * latest_only, only those with id when id > 0). */
static int collect(const jp_registry_store_t *st, const reg_subject_t *sub,
                   jp_registry_filter_t filter, bool latest_only, int32_t id,
                   jp_registry_version_t **out, size_t *n, size_t *cap)
{
    for (size_t i = sub->n; i-- > 0;) {
        const reg_version_t *v = &sub->v[i];
        if (!passes(v, filter) || (id > 0 && v->id != id))
            continue;
        if (grow((void **)out, cap, *n + 1, sizeof(**out)))
            return -1;
        fill_version(st, sub, v, &(*out)[(*n)++]);
        if (latest_only)
            break;
    }
    return 0;
}

int jp_registry_store_id_versions(const jp_registry_store_t *st, int32_t id, bool include_deleted,
                                  jp_registry_version_t **out, size_t *n, char *errstr,
                                  size_t errstr_size)
{
    const char *text;
    int rc = jp_registry_store_schema_by_id(st, id, &text, errstr, errstr_size);
    if (rc)
        return rc;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    jp_registry_filter_t filter = include_deleted ? JP_REGISTRY_INCLUDE_DELETED : JP_REGISTRY_LIVE;
    for (size_t s = 0; s < st->n_subjects; s++)
        if (collect(st, &st->subjects[s], filter, false, id, out, n, &cap)) {
            free(*out);
            *out = NULL;
            jp_err_set(errstr, errstr_size, "out of memory");
            return JP_REGISTRY_ERR_STORE;
        }
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_version);
    return 0;
}

static bool subject_passes(const reg_subject_t *sub, jp_registry_filter_t filter)
{
    size_t live = live_count(sub);
    return sub->n &&
           (filter == JP_REGISTRY_INCLUDE_DELETED || (filter == JP_REGISTRY_LIVE) == (live > 0));
}

int jp_registry_store_subjects(const jp_registry_store_t *st, const char *prefix,
                               jp_registry_filter_t filter, const char ***names, size_t *n)
{
    *n = 0;
    *names = malloc((st->n_subjects ? st->n_subjects : 1) * sizeof(**names));
    if (!*names)
        return JP_REGISTRY_ERR_STORE;
    for (size_t i = 0; i < st->n_subjects; i++) {
        const reg_subject_t *sub = &st->subjects[i];
        if (subject_passes(sub, filter) && has_prefix(sub->name, prefix))
            (*names)[(*n)++] = sub->name;
    }
    if (*n)
        qsort(*names, *n, sizeof(**names), cmp_name);
    return 0;
}

int jp_registry_store_list(const jp_registry_store_t *st, const char *prefix,
                           jp_registry_filter_t filter, bool latest_only,
                           jp_registry_version_t **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t s = 0; s < st->n_subjects; s++)
        if (has_prefix(st->subjects[s].name, prefix) &&
            collect(st, &st->subjects[s], filter, latest_only, 0, out, n, &cap)) {
            free(*out);
            *out = NULL;
            *n = 0;
            return JP_REGISTRY_ERR_STORE;
        }
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_version);
    return 0;
}

int jp_registry_store_versions(const jp_registry_store_t *st, const char *subject,
                               jp_registry_filter_t filter, int32_t **versions, size_t *n,
                               char *errstr, size_t errstr_size)
{
    const reg_subject_t *sub = visible_subject(st, subject, filter != JP_REGISTRY_LIVE);
    if (!sub)
        return not_found_subject(subject, errstr, errstr_size);
    *n = 0;
    *versions = malloc(sub->n * sizeof(**versions));
    if (!*versions) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_REGISTRY_ERR_STORE;
    }
    for (size_t i = 0; i < sub->n; i++)
        if (passes(&sub->v[i], filter))
            (*versions)[(*n)++] = sub->v[i].version;
    return 0;
}

int jp_registry_store_get_version(const jp_registry_store_t *st, const char *subject,
                                  int32_t version, bool include_deleted, jp_registry_version_t *out,
                                  char *errstr, size_t errstr_size)
{
    const reg_subject_t *sub = visible_subject(st, subject, include_deleted);
    if (!sub)
        return not_found_subject(subject, errstr, errstr_size);
    long i = find_version(sub, version, include_deleted);
    if (i < 0)
        return not_found_version(version, errstr, errstr_size);
    fill_version(st, sub, &sub->v[i], out);
    return 0;
}

int jp_registry_store_test_compat(jp_registry_store_t *st, const char *subject, int32_t version,
                                  const char *schema, size_t len, bool *compatible, char *reason,
                                  size_t reason_size, char *errstr, size_t errstr_size)
{
    *compatible = true;
    if (reason && reason_size)
        reason[0] = '\0';
    const reg_subject_t *sub = visible_subject(st, subject, false);
    bool specific = version != JP_REGISTRY_VERSION_LATEST && version != JP_REGISTRY_VERSION_ALL;
    if (!sub && specific)
        return not_found_subject(subject, errstr, errstr_size);
    long idx = -1;
    if (sub && version != JP_REGISTRY_VERSION_ALL) {
        idx = find_version(sub, version, false);
        if (idx < 0)
            return not_found_version(version, errstr, errstr_size);
    }
    parsed_hint_t hint;
    int rc = parse_schema(schema, len, &hint, errstr, errstr_size);
    if (rc)
        return rc;
    const jp_avro_schema_t **existing = NULL;
    size_t n = 0;
    const jp_avro_schema_t *one;
    if (idx >= 0) {
        one = find_schema(st, sub->v[idx].id)->parsed;
        existing = &one;
        n = 1;
    } else if (live_schemas(st, sub, &existing, &n)) {
        hint_free(&hint);
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_REGISTRY_ERR_STORE;
    }
    *compatible =
        jp_avro_compat_check(level_of(st, sub), hint.parsed, existing, n, reason, reason_size) == 0;
    if (idx < 0)
        free(existing);
    hint_free(&hint);
    return 0;
}

int jp_registry_store_get_config(const jp_registry_store_t *st, const char *subject,
                                 bool default_to_global, jp_avro_compat_t *out, char *errstr,
                                 size_t errstr_size)
{
    const reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    if (subject && !(sub && sub->has_level) && !default_to_global) {
        jp_err_set(errstr, errstr_size,
                   "Subject '%s' does not have subject-level compatibility configured", subject);
        return JP_REGISTRY_ERR_SUBJECT_CONFIG_NOT_FOUND;
    }
    *out = level_of(st, sub);
    return 0;
}

/* {"op":"config"|"mode", "subject"?, key: value|null}, value NULL = null. */
static json_t *setting_record(const char *op, const char *subject, const char *key,
                              const char *value)
{
    json_t *rec = json_pack("{s:s, s:o}", "op", op, key, value ? json_string(value) : json_null());
    if (rec && subject && json_object_set_new(rec, "subject", json_string(subject))) {
        json_decref(rec);
        rec = NULL;
    }
    return rec;
}

int jp_registry_store_set_config(jp_registry_store_t *st, const char *subject,
                                 jp_avro_compat_t level, char *errstr, size_t errstr_size)
{
    int rc = subject ? check_subject(subject, errstr, errstr_size) : 0;
    if (!rc)
        rc = check_writable(st, subject, errstr, errstr_size);
    if (rc)
        return rc;
    return commit(st, setting_record("config", subject, "level", jp_avro_compat_name(level)), NULL,
                  errstr, errstr_size);
}

int jp_registry_store_delete_config(jp_registry_store_t *st, const char *subject,
                                    jp_avro_compat_t *previous, char *errstr, size_t errstr_size)
{
    const reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    if (subject && !(sub && sub->has_level))
        return not_found_subject(subject, errstr, errstr_size);
    int rc = check_writable(st, subject, errstr, errstr_size);
    if (rc)
        return rc;
    *previous = level_of(st, sub);
    return commit(st, setting_record("config", subject, "level", NULL), NULL, errstr, errstr_size);
}

int jp_registry_store_get_mode(const jp_registry_store_t *st, const char *subject,
                               bool default_to_global, jp_registry_mode_t *out, char *errstr,
                               size_t errstr_size)
{
    const reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    if (subject && !(sub && sub->has_mode) && !default_to_global) {
        jp_err_set(errstr, errstr_size, "Subject '%s' does not have subject-level mode configured",
                   subject);
        return JP_REGISTRY_ERR_SUBJECT_MODE_NOT_FOUND;
    }
    *out = mode_of(st, sub);
    return 0;
}

int jp_registry_store_set_mode(jp_registry_store_t *st, const char *subject,
                               jp_registry_mode_t mode, bool force, char *errstr,
                               size_t errstr_size)
{
    int rc = subject ? check_subject(subject, errstr, errstr_size) : 0;
    if (rc)
        return rc;
    const reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    bool clear = false;
    if (mode == JP_REGISTRY_MODE_IMPORT && mode_of(st, sub) != JP_REGISTRY_MODE_IMPORT && !force) {
        for (size_t i = 0; i < st->n_subjects; i++)
            if ((subject ? &st->subjects[i] == sub : true) && live_count(&st->subjects[i])) {
                jp_err_set(errstr, errstr_size, "Cannot import since found existing subjects");
                return JP_REGISTRY_ERR_NOT_PERMITTED;
            }
        clear = true;
    }
    json_t *rec = setting_record("mode", subject, "mode", jp_registry_mode_name(mode));
    if (rec && clear)
        json_object_set_new(rec, "clear", json_true());
    return commit(st, rec, NULL, errstr, errstr_size);
}

int jp_registry_store_delete_mode(jp_registry_store_t *st, const char *subject,
                                  jp_registry_mode_t *previous, char *errstr, size_t errstr_size)
{
    const reg_subject_t *sub = subject ? find_subject(st, subject) : NULL;
    if (subject && !(sub && sub->has_mode))
        return not_found_subject(subject, errstr, errstr_size);
    *previous = mode_of(st, sub);
    return commit(st, setting_record("mode", subject, "mode", NULL), NULL, errstr, errstr_size);
}

int jp_registry_store_delete_subject(jp_registry_store_t *st, const char *subject, bool permanent,
                                     int32_t **versions, size_t *n, char *errstr,
                                     size_t errstr_size)
{
    const reg_subject_t *sub = visible_subject(st, subject, true);
    if (!sub)
        return not_found_subject(subject, errstr, errstr_size);
    size_t live = live_count(sub);
    if (!permanent && !live) {
        jp_err_set(errstr, errstr_size,
                   "Subject '%s' was soft deleted.Set permanent=true to delete permanently",
                   subject);
        return JP_REGISTRY_ERR_SUBJECT_SOFT_DELETED;
    }
    if (permanent && live) {
        jp_err_set(errstr, errstr_size,
                   "Subject '%s' was not deleted first before being permanently deleted", subject);
        return JP_REGISTRY_ERR_SUBJECT_NOT_SOFT_DELETED;
    }
    int rc = check_writable(st, subject, errstr, errstr_size);
    if (rc)
        return rc;
    /* The numbers affected: the live ones (soft) or all of them (permanent). */
    rc = jp_registry_store_versions(st, subject,
                                    permanent ? JP_REGISTRY_INCLUDE_DELETED : JP_REGISTRY_LIVE,
                                    versions, n, errstr, errstr_size);
    if (rc)
        return rc;
    rc = commit(st,
                json_pack("{s:s, s:s, s:b}", "op", "delete_subject", "subject", subject,
                          "permanent", permanent),
                NULL, errstr, errstr_size);
    if (rc) {
        free(*versions);
        *versions = NULL;
        *n = 0;
    }
    return rc;
}

int jp_registry_store_delete_version(jp_registry_store_t *st, const char *subject, int32_t version,
                                     bool permanent, int32_t *deleted, char *errstr,
                                     size_t errstr_size)
{
    const reg_subject_t *sub = visible_subject(st, subject, true);
    if (!sub)
        return not_found_subject(subject, errstr, errstr_size);
    /* Soft deletes address live versions; permanent ones any version. */
    long i = find_version(sub, version, permanent);
    if (i < 0 && !permanent && version != JP_REGISTRY_VERSION_LATEST &&
        find_version(sub, version, true) >= 0) {
        jp_err_set(errstr, errstr_size,
                   "Subject '%s' Version %d was soft deleted.Set permanent=true to delete "
                   "permanently",
                   subject, (int)version);
        return JP_REGISTRY_ERR_VERSION_SOFT_DELETED;
    }
    if (i < 0)
        return not_found_version(version, errstr, errstr_size);
    if (permanent && !sub->v[i].deleted) {
        jp_err_set(errstr, errstr_size,
                   "Subject '%s' Version %d was not deleted first before being permanently "
                   "deleted",
                   subject, (int)sub->v[i].version);
        return JP_REGISTRY_ERR_VERSION_NOT_SOFT_DELETED;
    }
    int rc = check_writable(st, subject, errstr, errstr_size);
    if (rc)
        return rc;
    *deleted = sub->v[i].version;
    return commit(st,
                  json_pack("{s:s, s:s, s:i, s:b}", "op", "delete_version", "subject", subject,
                            "version", (int)*deleted, "permanent", permanent),
                  NULL, errstr, errstr_size);
}

void jp_registry_store_stats(const jp_registry_store_t *st, jp_registry_store_stats_t *out)
{
    out->schemas = st->n_schemas;
    out->subjects = out->versions = 0;
    for (size_t i = 0; i < st->n_subjects; i++) {
        size_t live = live_count(&st->subjects[i]);
        out->subjects += live > 0;
        out->versions += live;
    }
}
