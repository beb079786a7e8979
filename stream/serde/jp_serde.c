/*
 * jp_serde: framing, the schema-id cache, plan reuse and registration.
 *
 * Design. The hot path of a decode is: check the 5-byte frame, find the id
 * in an open-addressing table (ids are dense small integers; a multiplicative
 * hash and linear probing), take the plan cached on that entry for this
 * reader, and run it. Only the first record of a new id touches the
 * registry or the compiler; failures are cached too (unknown ids with a
 * per-id doubling TTL, unresolvable pairs as INCOMPATIBLE) so a poison
 * stream costs a table lookup per record, not a registry call.
 *
 * A failure is reported with the same message every time, the first
 * and the cached ones alike (it is remembered with the failure), and the
 * message never quotes the registry's answer or address: messages travel
 * in dead-letter headers, which must be deterministic and must not tell
 * a reader where the registry is. The registry's own words go to the log.
 *
 * Registry outages are a single registry-wide backoff window: while it is
 * open no lookup or registration is attempted. Time comes from an injected
 * monotonic clock and is used only for these windows, never for data, so
 * decoded output stays deterministic.
 */
#include "serde/jp_serde.h"
#include "base/jp_clock.h"
#include "base/jp_log.h"

#include "model/base/jp_bytes.h"
#include "model/base/jp_err.h"
#include "model/base/jp_endian.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ENTRY_OK, ENTRY_UNKNOWN };

typedef struct {
    int32_t id;
    int state;
    jp_avro_schema_t *schema; /* ENTRY_OK */
    jp_avro_plan_t **plans;   /* per reader, compiled lazily */
    jp_serde_err_t *plan_err; /* per reader: cached compile failure */
    char **plan_why;          /* per reader: its message (malloc'd) */
    size_t n_plans;
    int64_t retry_at, ttl; /* ENTRY_UNKNOWN */
    char why[256];         /* ENTRY_UNKNOWN: the message of the failure */
} jp_entry_t;

typedef struct {
    char *subject;
    int32_t id;
} jp_subject_id_t;

typedef struct {
    jp_avro_schema_t *schema;
    char *json;
    const jp_avro_layout_t *layout;
    jp_avro_plan_t *identity; /* encoder */
    jp_subject_id_t *subjects;
    size_t n_subjects;
} jp_reader_t;

struct jp_serde_s {
    jp_serde_config_t conf;
    jp_entry_t **table; /* open addressing, power-of-two capacity */
    size_t cap, count;
    jp_reader_t *readers;
    size_t n_readers;
    /* keys: the schema "string" and its ids per "<topic>-key" subject
     * (json and subjects only) */
    jp_reader_t key;
    int64_t unavailable_until, backoff;
    jp_serde_stats_t stats;
};

static int64_t default_now_ms(void *ctx)
{
    (void)ctx;
    return jp_clock_now_ms();
}

static int64_t now_ms(jp_serde_t *s)
{
    return s->conf.now_ms(s->conf.clock_ctx);
}

/* ---- framing ---------------------------------------------------------------- */

jp_serde_err_t jp_serde_frame_parse(const void *buf, size_t len, int32_t *id,
                                    const unsigned char **payload, size_t *payload_len)
{
    const unsigned char *b = buf;
    if (!b || len < 5 || b[0] != 0)
        return JP_SERDE_NOT_FRAMED;
    *id = (int32_t)jp_be32_get(b + 1);
    *payload = b + 5;
    *payload_len = len - 5;
    return JP_SERDE_OK;
}

int jp_serde_frame_write(jp_avro_buf_t *out, int32_t id)
{
    unsigned char h[5] = {0};
    jp_be32_put(h + 1, (uint32_t)id);
    return jp_avro_buf_append(out, h, 5);
}

/* ---- id table --------------------------------------------------------------- */

static size_t slot_of(const jp_serde_t *s, int32_t id)
{
    return ((uint32_t)id * 2654435761u) & (s->cap - 1);
}

static jp_entry_t *table_get(const jp_serde_t *s, int32_t id)
{
    for (size_t i = slot_of(s, id);; i = (i + 1) & (s->cap - 1)) {
        jp_entry_t *e = s->table[i];
        if (!e || e->id == id)
            return e;
    }
}

static int table_put(jp_serde_t *s, jp_entry_t *e)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap * 2;
        jp_entry_t **t = calloc(cap, sizeof *t);
        if (!t)
            return -1;
        jp_entry_t **old = s->table;
        size_t oldcap = s->cap;
        s->table = t;
        s->cap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i]) {
                size_t k = slot_of(s, old[i]->id);
                while (t[k])
                    k = (k + 1) & (cap - 1);
                t[k] = old[i];
            }
        free(old);
    }
    size_t k = slot_of(s, e->id);
    while (s->table[k])
        k = (k + 1) & (s->cap - 1);
    s->table[k] = e;
    s->count++;
    return 0;
}

static void entry_free(jp_entry_t *e)
{
    for (size_t i = 0; i < e->n_plans; i++) {
        jp_avro_plan_free(e->plans[i]);
        if (e->plan_why)
            free(e->plan_why[i]);
    }
    free(e->plans);
    free(e->plan_err);
    free(e->plan_why);
    jp_avro_schema_free(e->schema);
    free(e);
}

/* Finds or creates the entry for id (state ENTRY_UNKNOWN, retry now). */
static jp_entry_t *entry_for(jp_serde_t *s, int32_t id)
{
    jp_entry_t *e = table_get(s, id);
    if (e)
        return e;
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->id = id;
    e->state = ENTRY_UNKNOWN;
    e->retry_at = INT64_MIN;
    if (table_put(s, e) < 0) {
        free(e);
        return NULL;
    }
    return e;
}

static jp_serde_err_t entry_set_schema(jp_entry_t *e, const char *json, size_t n_readers,
                                       char *errstr, size_t errstr_size)
{
    char why[256];
    jp_avro_schema_t *schema = jp_avro_schema_parse(json, strlen(json), why, sizeof why);
    if (!schema) {
        jp_err_set(errstr, errstr_size, "schema id %d is not a valid Avro schema: %s", (int)e->id,
                   why);
        return JP_SERDE_INVALID;
    }
    jp_avro_plan_t **plans = calloc(n_readers ? n_readers : 1, sizeof *plans);
    jp_serde_err_t *errs = calloc(n_readers ? n_readers : 1, sizeof *errs);
    char **whys = calloc(n_readers ? n_readers : 1, sizeof *whys);
    if (!plans || !errs || !whys) {
        free(plans);
        free(errs);
        free(whys);
        jp_avro_schema_free(schema);
        return JP_SERDE_NO_MEMORY;
    }
    e->schema = schema;
    e->plans = plans;
    e->plan_err = errs;
    e->plan_why = whys;
    e->n_plans = n_readers;
    e->state = ENTRY_OK;
    return JP_SERDE_OK;
}

/* Grows every entry's plan arrays when a reader is added. */
static int entries_grow(jp_serde_t *s, size_t n_readers)
{
    for (size_t i = 0; i < s->cap; i++) {
        jp_entry_t *e = s->table[i];
        if (!e || e->state != ENTRY_OK || e->n_plans >= n_readers)
            continue;
        jp_avro_plan_t **p = realloc(e->plans, n_readers * sizeof *p);
        if (!p)
            return -1;
        e->plans = p;
        jp_serde_err_t *er = realloc(e->plan_err, n_readers * sizeof *er);
        if (!er)
            return -1;
        e->plan_err = er;
        char **wh = realloc(e->plan_why, n_readers * sizeof *wh);
        if (!wh)
            return -1;
        e->plan_why = wh;
        for (size_t k = e->n_plans; k < n_readers; k++) {
            p[k] = NULL;
            er[k] = JP_SERDE_OK;
            wh[k] = NULL;
        }
        e->n_plans = n_readers;
    }
    return 0;
}

/* ---- registry access --------------------------------------------------------- */

static int registry_open(jp_serde_t *s, char *errstr, size_t errstr_size)
{
    int64_t now = now_ms(s);
    if (now < s->unavailable_until) {
        jp_err_set(errstr, errstr_size, "schema registry unavailable; next attempt in %lld ms",
                   (long long)(s->unavailable_until - now));
        return 0;
    }
    return 1;
}

static void registry_result(jp_serde_t *s, jp_serde_err_t rc)
{
    if (rc == JP_SERDE_REGISTRY_UNAVAILABLE) {
        s->backoff = s->backoff ? s->backoff * 2 : s->conf.backoff_min_ms;
        if (s->backoff > s->conf.backoff_max_ms)
            s->backoff = s->conf.backoff_max_ms;
        s->unavailable_until = now_ms(s) + s->backoff;
    } else {
        s->backoff = 0;
        s->unavailable_until = 0;
    }
}

/* The writer schema entry of id, asking the registry if needed. */
static jp_serde_err_t resolve_id(jp_serde_t *s, int32_t id, jp_entry_t **out, char *errstr,
                                 size_t errstr_size)
{
    jp_entry_t *e = table_get(s, id);
    if (e && e->state == ENTRY_OK) {
        *out = e;
        return JP_SERDE_OK;
    }
    int64_t now = now_ms(s);
    if (e && now < e->retry_at) {
        jp_err_set(errstr, errstr_size, "%s", e->why);
        return JP_SERDE_UNKNOWN_SCHEMA_ID;
    }
    if (!registry_open(s, errstr, errstr_size))
        return JP_SERDE_REGISTRY_UNAVAILABLE;
    if (!s->conf.registry.lookup_by_id) {
        jp_err_set(errstr, errstr_size, "no schema registry configured for schema id %d", (int)id);
        return JP_SERDE_REGISTRY_UNAVAILABLE;
    }
    if (!e && !(e = entry_for(s, id)))
        return JP_SERDE_NO_MEMORY;
    char *json = NULL;
    char why[256] = "";
    s->stats.registry_lookups++;
    jp_serde_err_t rc =
        s->conf.registry.lookup_by_id(s->conf.registry.ctx, id, &json, why, sizeof why);
    registry_result(s, rc);
    if (rc == JP_SERDE_OK && !json)
        rc = JP_SERDE_UNKNOWN_SCHEMA_ID;
    if (rc == JP_SERDE_OK) {
        rc = entry_set_schema(e, json, s->n_readers, e->why, sizeof e->why);
        free(json);
        if (rc == JP_SERDE_OK) {
            *out = e;
            return rc;
        }
        /* An unparsable registry answer is treated like an unknown id
         * (e->why says why: the schema's content, not the registry's). */
        rc = JP_SERDE_UNKNOWN_SCHEMA_ID;
        jp_log_warn("serde", "%s", e->why);
    } else {
        free(json);
        if (rc == JP_SERDE_REGISTRY_UNAVAILABLE) {
            jp_err_set(errstr, errstr_size, "schema registry unavailable looking up id %d: %s",
                       (int)id, why);
            return rc;
        }
        rc = JP_SERDE_UNKNOWN_SCHEMA_ID;
        jp_log_warn("serde", "schema id %d: %s", (int)id, why);
        snprintf(e->why, sizeof e->why, "schema id %d is unknown to the schema registry", (int)id);
    }
    jp_err_set(errstr, errstr_size, "%s", e->why);
    e->ttl = e->ttl ? e->ttl * 2 : s->conf.unknown_ttl_ms;
    if (e->ttl > s->conf.backoff_max_ms)
        e->ttl = s->conf.backoff_max_ms;
    e->retry_at = now_ms(s) + e->ttl;
    return rc;
}

/* ---- readers ------------------------------------------------------------------ */

static int add_reader(jp_serde_t *s, const char *json, size_t len, const jp_avro_layout_t *layout,
                      char *errstr, size_t errstr_size)
{
    jp_reader_t *v = realloc(s->readers, (s->n_readers + 1) * sizeof *v);
    if (!v) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return -1;
    }
    s->readers = v;
    jp_reader_t *r = &v[s->n_readers];
    memset(r, 0, sizeof *r);
    r->layout = layout;
    r->schema = jp_avro_schema_parse(json, len, errstr, errstr_size);
    r->json = r->schema ? strndup(json, len) : NULL;
    jp_serde_err_t err = JP_SERDE_OK;
    if (r->schema && r->json)
        r->identity =
            jp_avro_plan_compile(jp_avro_schema_root(r->schema), jp_avro_schema_root(r->schema),
                                 layout, &err, errstr, errstr_size);
    if (!r->identity || entries_grow(s, s->n_readers + 1) < 0) {
        jp_avro_plan_free(r->identity);
        jp_avro_schema_free(r->schema);
        free(r->json);
        return -1;
    }
    return (int)s->n_readers++;
}

int jp_serde_add_reader(jp_serde_t *s, const char *schema_json, size_t len,
                        const jp_avro_layout_t *layout, char *errstr, size_t errstr_size)
{
    if (!s || !schema_json || !layout) {
        jp_err_set(errstr, errstr_size, "add_reader: missing argument");
        return -1;
    }
    return add_reader(s, schema_json, len, layout, errstr, errstr_size);
}

jp_serde_t *jp_serde_new(const jp_serde_config_t *config, char *errstr, size_t errstr_size)
{
    jp_serde_t *s = calloc(1, sizeof *s);
    if (!s || !(s->table = calloc(64, sizeof *s->table))) {
        free(s);
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->cap = 64;
    if (config)
        s->conf = *config;
    if (!s->conf.now_ms)
        s->conf.now_ms = default_now_ms;
    if (s->conf.backoff_min_ms <= 0)
        s->conf.backoff_min_ms = 100;
    if (s->conf.backoff_max_ms <= 0)
        s->conf.backoff_max_ms = 30000;
    if (s->conf.unknown_ttl_ms <= 0)
        s->conf.unknown_ttl_ms = 1000;
    for (int t = 0; t < JP_EVENT__COUNT; t++) {
        size_t len;
        const char *json = jp_event_schema_json((jp_event_type_t)t, &len);
        const jp_event_info_t *info = jp_event_info((jp_event_type_t)t);
        char why[256];
        if (!json || add_reader(s, json, len, info->layout, why, sizeof why) < 0) {
            jp_err_set(errstr, errstr_size, "built-in schema %s: %s", info->schema_file,
                       json ? why : "not compiled into the binary");
            jp_serde_free(s);
            return NULL;
        }
    }
    return s;
}

void jp_serde_free(jp_serde_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->table[i])
            entry_free(s->table[i]);
    free(s->table);
    for (size_t i = 0; i < s->n_readers; i++) {
        jp_reader_t *r = &s->readers[i];
        jp_avro_plan_free(r->identity);
        jp_avro_schema_free(r->schema);
        free(r->json);
        for (size_t k = 0; k < r->n_subjects; k++)
            free(r->subjects[k].subject);
        free(r->subjects);
    }
    free(s->readers);
    for (size_t k = 0; k < s->key.n_subjects; k++)
        free(s->key.subjects[k].subject);
    free(s->key.subjects);
    free(s);
}

/* ---- decode / encode ------------------------------------------------------- */

jp_serde_err_t jp_serde_decode(jp_serde_t *s, int reader, const void *buf, size_t len, void *out,
                               jp_avro_arena_t *arena, char *errstr, size_t errstr_size)
{
    if (!s || reader < 0 || (size_t)reader >= s->n_readers || !out || !arena) {
        jp_err_set(errstr, errstr_size, "decode: bad argument");
        return JP_SERDE_INVALID;
    }
    int32_t id;
    const unsigned char *payload;
    size_t plen;
    jp_entry_t *e = NULL;
    jp_serde_err_t rc = jp_serde_frame_parse(buf, len, &id, &payload, &plen);
    if (rc != JP_SERDE_OK) {
        jp_err_set(errstr, errstr_size,
                   "not in the Confluent wire format (magic byte 0 + 4-byte id)");
        goto done;
    }
    if ((rc = resolve_id(s, id, &e, errstr, errstr_size)) != JP_SERDE_OK)
        goto done;
    jp_avro_plan_t *plan = e->plans[reader];
    if (!plan) {
        if ((rc = e->plan_err[reader]) != JP_SERDE_OK) {
            jp_err_set(errstr, errstr_size, "%s",
                       e->plan_why[reader] ? e->plan_why[reader] : "incompatible");
            goto done;
        }
        char why[300];
        plan = jp_avro_plan_compile(jp_avro_schema_root(e->schema),
                                    jp_avro_schema_root(s->readers[reader].schema),
                                    s->readers[reader].layout, &rc, why, sizeof why);
        if (!plan) {
            char msg[400];
            snprintf(msg, sizeof msg, "schema id %d cannot be read as %s: %s", (int)id,
                     s->readers[reader].layout->name, why);
            if (rc != JP_SERDE_NO_MEMORY) {
                e->plan_err[reader] = rc;
                free(e->plan_why[reader]);
                e->plan_why[reader] = strdup(msg);
            }
            jp_err_set(errstr, errstr_size, "%s", msg);
            goto done;
        }
        s->stats.plans_compiled++;
        e->plans[reader] = plan;
    }
    rc = jp_avro_plan_decode(plan, payload, plen, out, arena, s->conf.flags, errstr, errstr_size);
done:
    if (rc == JP_SERDE_OK)
        s->stats.decoded++;
    else
        s->stats.decode_errors++;
    return rc;
}

/* The id of r's schema under "<topic><suffix>" (TopicNameStrategy),
 * registered on first use. */
static jp_serde_err_t subject_id(jp_serde_t *s, jp_reader_t *r, const char *topic,
                                 const char *suffix, int32_t *id, char *errstr, size_t errstr_size)
{
    size_t n = strlen(topic) + strlen(suffix) + 1;
    char *subject = malloc(n);
    if (!subject)
        return JP_SERDE_NO_MEMORY;
    snprintf(subject, n, "%s%s", topic, suffix);
    for (size_t i = 0; i < r->n_subjects; i++)
        if (strcmp(r->subjects[i].subject, subject) == 0) {
            *id = r->subjects[i].id;
            free(subject);
            return JP_SERDE_OK;
        }
    jp_serde_err_t rc = JP_SERDE_REGISTRY_UNAVAILABLE;
    char why[256] = "no schema registry configured";
    if (!registry_open(s, errstr, errstr_size)) {
        free(subject);
        return rc;
    }
    if (s->conf.registry.register_schema) {
        s->stats.registry_registers++;
        rc = s->conf.registry.register_schema(s->conf.registry.ctx, subject, r->json, id, why,
                                              sizeof why);
        registry_result(s, rc);
    }
    jp_subject_id_t *v = NULL;
    if (rc == JP_SERDE_OK && !(v = realloc(r->subjects, (r->n_subjects + 1) * sizeof *v)))
        rc = JP_SERDE_NO_MEMORY;
    if (rc != JP_SERDE_OK) {
        if (rc != JP_SERDE_NO_MEMORY)
            jp_err_set(errstr, errstr_size, "registering %s: %s", subject, why);
        free(subject);
        return rc;
    }
    r->subjects = v;
    v[r->n_subjects++] = (jp_subject_id_t){subject, *id};
    /* Our own records must decode without asking the registry. */
    jp_entry_t *e = table_get(s, *id);
    if (!e || e->state != ENTRY_OK) {
        if (!e && !(e = entry_for(s, *id)))
            return JP_SERDE_OK; /* the cache is an optimisation */
        entry_set_schema(e, r->json, s->n_readers, NULL, 0);
    }
    return JP_SERDE_OK;
}

jp_serde_err_t jp_serde_encode(jp_serde_t *s, int reader, const char *topic, const void *in,
                               jp_avro_buf_t *out, char *errstr, size_t errstr_size)
{
    if (!s || reader < 0 || (size_t)reader >= s->n_readers || !topic || !in || !out) {
        jp_err_set(errstr, errstr_size, "encode: bad argument");
        return JP_SERDE_INVALID;
    }
    jp_reader_t *r = &s->readers[reader];
    int32_t id;
    jp_serde_err_t rc = subject_id(s, r, topic, "-value", &id, errstr, errstr_size);
    if (rc != JP_SERDE_OK)
        return rc;
    size_t mark = out->len;
    if (jp_serde_frame_write(out, id) < 0)
        return JP_SERDE_NO_MEMORY;
    rc = jp_avro_plan_encode(r->identity, in, out, errstr, errstr_size);
    if (rc != JP_SERDE_OK)
        out->len = mark;
    return rc;
}

jp_serde_err_t jp_serde_encode_key(jp_serde_t *s, const char *topic, const void *key, size_t len,
                                   jp_avro_buf_t *out, char *errstr, size_t errstr_size)
{
    static char string_schema[] = "\"string\"";
    if (!s || !topic || (!key && len) || !out) {
        jp_err_set(errstr, errstr_size, "encode_key: bad argument");
        return JP_SERDE_INVALID;
    }
    s->key.json = string_schema; /* never freed: the key reader is json and subjects only */
    int32_t id;
    jp_serde_err_t rc = subject_id(s, &s->key, topic, "-key", &id, errstr, errstr_size);
    if (rc != JP_SERDE_OK)
        return rc;
    uint8_t head[10];
    jp_bytes_writer_t w;
    jp_bytes_writer_init_fixed(&w, head, sizeof(head));
    jp_bytes_put_varint(&w, (int64_t)len); /* an Avro string: its length as a long, then bytes */
    if (jp_serde_frame_write(out, id) < 0 || jp_avro_buf_append(out, head, w.len) < 0 ||
        (len && jp_avro_buf_append(out, key, len) < 0))
        return JP_SERDE_NO_MEMORY;
    return JP_SERDE_OK;
}

int jp_serde_key_string(const void *key, size_t len, const void **str, size_t *str_len)
{
    int32_t id;
    const unsigned char *payload;
    size_t plen;
    *str = key;
    *str_len = len;
    if (jp_serde_frame_parse(key, len, &id, &payload, &plen) != JP_SERDE_OK)
        return 0;
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, payload, plen);
    int64_t n = jp_bytes_get_varint(&r);
    if (!jp_bytes_reader_ok(&r) || n < 0 || (uint64_t)n != plen - r.pos)
        return 0; /* framed, but not one Avro string: left as it is */
    *str = payload + r.pos;
    *str_len = (size_t)n;
    return 1;
}

jp_serde_err_t jp_serde_add_schema(jp_serde_t *s, int32_t id, const char *schema_json, char *errstr,
                                   size_t errstr_size)
{
    if (!s || !schema_json) {
        jp_err_set(errstr, errstr_size, "add_schema: missing argument");
        return JP_SERDE_INVALID;
    }
    jp_entry_t *e = table_get(s, id);
    if (e && e->state == ENTRY_OK)
        return JP_SERDE_OK; /* ids are immutable */
    if (!e && !(e = entry_for(s, id)))
        return JP_SERDE_NO_MEMORY;
    return entry_set_schema(e, schema_json, s->n_readers, errstr, errstr_size);
}

void jp_serde_stats(const jp_serde_t *s, jp_serde_stats_t *out)
{
    *out = s->stats;
}
