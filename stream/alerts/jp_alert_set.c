/*
 * jp_alert_set: fingerprints, the FIRING/RESOLVED transitions and the
 * encodings of one alert (see jp_alert_set.h).
 *
 * Why fixed-size labels and annotations: an alert is written to the task
 * store at most once per commit and rebuilt from it after every restart,
 * so a flat struct with bounded strings keeps the (de)serialization a few
 * lines and every entry one allocation. The bounds are far above what the
 * detectors write (a description is one sentence).
 */
#include "alerts/jp_alert_set.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"
#include "model/base/jp_hash.h"

static const jp_alert_rule_info_t rules[JP_ALERT__COUNT] = {
    [JP_ALERT_FEATURE_DRIFT] = {"FeatureDrift", JP_ALERT_SEVERITY_WARNING,
                                "docs/runbooks/FeatureDrift.md"},
    [JP_ALERT_CONCEPT_DRIFT] = {"ConceptDrift", JP_ALERT_SEVERITY_WARNING,
                                "docs/runbooks/ConceptDrift.md"},
    [JP_ALERT_SILENT_SOURCE] = {"SilentSource", JP_ALERT_SEVERITY_CRITICAL,
                                "docs/runbooks/SilentSource.md"},
    [JP_ALERT_DEAD_LETTER_RATE] = {"DeadLetterRateHigh", JP_ALERT_SEVERITY_WARNING,
                                   "docs/runbooks/DeadLetterRateHigh.md"},
    [JP_ALERT_LATE_RATE] = {"LateRateHigh", JP_ALERT_SEVERITY_WARNING,
                            "docs/runbooks/LateRateHigh.md"},
    [JP_ALERT_RECORDS_LOST] = {"InputRecordsLost", JP_ALERT_SEVERITY_CRITICAL,
                               "docs/runbooks/InputRecordsLost.md"},
    [JP_ALERT_MISPARTITIONED] = {"MispartitionedRecords", JP_ALERT_SEVERITY_WARNING,
                                 "docs/runbooks/MispartitionedRecords.md"},
    [JP_ALERT_CONSUMER_LAG] = {"ConsumerLagHigh", JP_ALERT_SEVERITY_WARNING,
                               "docs/runbooks/ConsumerLagHigh.md"},
};

const jp_alert_rule_info_t *jp_alert_rule_info(jp_alert_rule_t rule)
{
    return (unsigned)rule < JP_ALERT__COUNT ? &rules[rule] : NULL;
}

const char *jp_alert_severity_name(jp_alert_severity_t s)
{
    static const char *const names[] = {"INFO", "WARNING", "CRITICAL", "UNKNOWN"};
    return (unsigned)s <= JP_ALERT_SEVERITY_UNKNOWN ? names[s] : "UNKNOWN";
}

const char *jp_alert_status_name(jp_alert_status_t s)
{
    static const char *const names[] = {"FIRING", "RESOLVED", "UNKNOWN"};
    return (unsigned)s <= JP_ALERT_STATUS_UNKNOWN ? names[s] : "UNKNOWN";
}

/* ---- building ---- */

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void jp_alert_init(jp_alert_entry_t *e, jp_alert_rule_t rule, const char *country,
                   int64_t starts_at)
{
    memset(e, 0, sizeof(*e));
    e->rule = rule;
    e->severity = rules[rule].severity;
    e->status = JP_ALERT_STATUS_FIRING;
    e->starts_at = starts_at;
    if (country && country[0]) {
        copy_str(e->country, sizeof(e->country), country);
        jp_alert_label(e, "country", e->country);
    }
}

void jp_alert_label(jp_alert_entry_t *e, const char *key, const char *value)
{
    size_t at = 0;
    while (at < e->n_labels && strcmp(e->labels[at].key, key) < 0)
        at++;
    if (at < e->n_labels && strcmp(e->labels[at].key, key) == 0) {
        copy_str(e->labels[at].value, sizeof(e->labels[at].value), value);
        return;
    }
    if (e->n_labels == JP_ALERT_MAX_LABELS)
        return;
    memmove(&e->labels[at + 1], &e->labels[at], (e->n_labels - at) * sizeof(e->labels[0]));
    copy_str(e->labels[at].key, sizeof(e->labels[at].key), key);
    copy_str(e->labels[at].value, sizeof(e->labels[at].value), value);
    e->n_labels++;
}

void jp_alert_note(jp_alert_entry_t *e, const char *key, const char *fmt, ...)
{
    size_t i = 0;
    while (i < e->n_notes && strcmp(e->notes[i].key, key) != 0)
        i++;
    if (i == e->n_notes) {
        if (e->n_notes == JP_ALERT_MAX_NOTES)
            return;
        copy_str(e->notes[i].key, sizeof(e->notes[i].key), key);
        e->n_notes++;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->notes[i].value, sizeof(e->notes[i].value), fmt, ap);
    va_end(ap);
}

void jp_alert_summary(jp_alert_entry_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->summary, sizeof(e->summary), fmt, ap);
    va_end(ap);
}

void jp_alert_fingerprint(jp_alert_entry_t *e)
{
    /* name, then key=value pairs in key order; 0x1f/0x1e cannot occur in
     * either, so distinct label sets never hash the same bytes. */
    char buf[JP_ALERT_KEY_LEN + (JP_ALERT_KEY_LEN + JP_ALERT_LABEL_LEN + 2) * JP_ALERT_MAX_LABELS];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", rules[e->rule].name);
    for (size_t i = 0; i < e->n_labels && n < sizeof(buf); i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\x1f%s\x1e%s", e->labels[i].key,
                              e->labels[i].value);
    if (n > sizeof(buf))
        n = sizeof(buf);
    snprintf(e->fingerprint, sizeof(e->fingerprint), "%016llx",
             (unsigned long long)jp_hash64(buf, n, 0));
}

const char *jp_alert_label_get(const jp_alert_entry_t *e, const char *key)
{
    for (size_t i = 0; i < e->n_labels; i++)
        if (strcmp(e->labels[i].key, key) == 0)
            return e->labels[i].value;
    return NULL;
}

const char *jp_alert_note_get(const jp_alert_entry_t *e, const char *key)
{
    for (size_t i = 0; i < e->n_notes; i++)
        if (strcmp(e->notes[i].key, key) == 0)
            return e->notes[i].value;
    return NULL;
}

/* ---- the set ---- */

void jp_alert_set_init(jp_alert_set_t *s)
{
    memset(s, 0, sizeof(*s));
}

void jp_alert_set_free(jp_alert_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Index of fingerprint, or of where it would go (*found 0). */
static size_t find_at(const jp_alert_set_t *s, const char *fp, int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->v[mid]->fingerprint, fp);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

jp_alert_entry_t *jp_alert_set_find(const jp_alert_set_t *s, const char *fingerprint)
{
    int found;
    size_t i = find_at(s, fingerprint, &found);
    return found ? s->v[i] : NULL;
}

int jp_alert_set_put(jp_alert_set_t *s, const jp_alert_entry_t *e)
{
    int found;
    size_t at = find_at(s, e->fingerprint, &found);
    if (found) {
        *s->v[at] = *e;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        jp_alert_entry_t **v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    jp_alert_entry_t *copy = malloc(sizeof(*copy));
    if (!copy)
        return -1;
    *copy = *e;
    memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
    s->v[at] = copy;
    s->n++;
    return 0;
}

int jp_alert_set_fire(jp_alert_set_t *s, jp_alert_entry_t *e, int64_t now, int64_t repeat_ms,
                      jp_alert_entry_t **send)
{
    *send = NULL;
    jp_alert_fingerprint(e);
    jp_alert_entry_t *cur = jp_alert_set_find(s, e->fingerprint);
    if (!cur || cur->status != JP_ALERT_STATUS_FIRING) {
        e->status = JP_ALERT_STATUS_FIRING;
        e->ends_at = 0;
        e->last_sent = now;
        e->dirty = 1;
        if (jp_alert_set_put(s, e) != 0)
            return -1;
        *send = jp_alert_set_find(s, e->fingerprint);
        return 0;
    }
    int rose = e->severity > cur->severity && e->severity != JP_ALERT_SEVERITY_UNKNOWN;
    int repeat = repeat_ms > 0 && now - cur->last_sent >= repeat_ms;
    memcpy(cur->notes, e->notes, sizeof(cur->notes));
    cur->n_notes = e->n_notes;
    memcpy(cur->summary, e->summary, sizeof(cur->summary));
    if (rose)
        cur->severity = e->severity;
    if (rose || repeat) {
        cur->last_sent = now;
        *send = cur;
    }
    cur->dirty = 1;
    return 0;
}

jp_alert_entry_t *jp_alert_set_resolve(jp_alert_set_t *s, const char *fingerprint, int64_t ends_at,
                                       int64_t now)
{
    jp_alert_entry_t *cur = jp_alert_set_find(s, fingerprint);
    if (!cur || cur->status != JP_ALERT_STATUS_FIRING)
        return NULL;
    cur->status = JP_ALERT_STATUS_RESOLVED;
    cur->ends_at = ends_at > cur->starts_at ? ends_at : cur->starts_at;
    cur->last_sent = now;
    cur->dirty = 1;
    return cur;
}

int jp_alert_set_firing(const jp_alert_set_t *s, const char *fingerprint)
{
    const jp_alert_entry_t *e = jp_alert_set_find(s, fingerprint);
    return e && e->status == JP_ALERT_STATUS_FIRING;
}

void jp_alert_set_prune(jp_alert_set_t *s, int64_t now, int64_t retention_ms,
                        void (*gone)(void *ctx, const jp_alert_entry_t *e), void *ctx)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) {
        jp_alert_entry_t *e = s->v[i];
        if (e->status == JP_ALERT_STATUS_RESOLVED && e->ends_at < now - retention_ms) {
            if (gone)
                gone(ctx, e);
            free(e);
            continue;
        }
        s->v[kept++] = e;
    }
    s->n = kept;
}

/* ---- encodings ---- */

static void put_str(jp_bytes_writer_t *w, const char *s)
{
    size_t n = strlen(s);
    jp_bytes_put_u16(w, (uint16_t)n);
    jp_bytes_put_raw(w, s, n);
}

static void get_str(jp_bytes_reader_t *r, char *dst, size_t size)
{
    size_t n = jp_bytes_get_u16(r);
    if (n >= size) {
        r->err = 1;
        dst[0] = '\0';
        return;
    }
    jp_bytes_get_raw(r, dst, n);
    dst[n] = '\0';
}

void jp_alert_entry_serialize(const jp_alert_entry_t *e, jp_bytes_writer_t *w)
{
    jp_bytes_put_header(w, "ALRT", 1);
    put_str(w, e->fingerprint);
    put_str(w, rules[e->rule].name);
    jp_bytes_put_u8(w, (uint8_t)e->severity);
    jp_bytes_put_u8(w, (uint8_t)e->status);
    put_str(w, e->country);
    jp_bytes_put_u8(w, (uint8_t)e->n_labels);
    for (size_t i = 0; i < e->n_labels; i++) {
        put_str(w, e->labels[i].key);
        put_str(w, e->labels[i].value);
    }
    jp_bytes_put_u8(w, (uint8_t)e->n_notes);
    for (size_t i = 0; i < e->n_notes; i++) {
        put_str(w, e->notes[i].key);
        put_str(w, e->notes[i].value);
    }
    put_str(w, e->summary);
    jp_bytes_put_i64(w, e->starts_at);
    jp_bytes_put_i64(w, e->ends_at);
    jp_bytes_put_i64(w, e->last_sent);
}

int jp_alert_entry_deserialize(jp_alert_entry_t *e, const void *buf, size_t len, char *errstr,
                               size_t errstr_size)
{
    jp_bytes_reader_t r;
    char name[64];
    memset(e, 0, sizeof(*e));
    jp_bytes_reader_init(&r, buf, len);
    jp_bytes_get_header(&r, "ALRT", 1);
    get_str(&r, e->fingerprint, sizeof(e->fingerprint));
    get_str(&r, name, sizeof(name));
    e->rule = JP_ALERT__COUNT;
    for (int i = 0; i < JP_ALERT__COUNT; i++)
        if (strcmp(rules[i].name, name) == 0)
            e->rule = (jp_alert_rule_t)i;
    e->severity = (jp_alert_severity_t)jp_bytes_get_u8(&r);
    e->status = (jp_alert_status_t)jp_bytes_get_u8(&r);
    get_str(&r, e->country, sizeof(e->country));
    e->n_labels = jp_bytes_get_u8(&r);
    if (e->n_labels > JP_ALERT_MAX_LABELS)
        r.err = 1, e->n_labels = 0;
    for (size_t i = 0; i < e->n_labels; i++) {
        get_str(&r, e->labels[i].key, sizeof(e->labels[i].key));
        get_str(&r, e->labels[i].value, sizeof(e->labels[i].value));
    }
    e->n_notes = jp_bytes_get_u8(&r);
    if (e->n_notes > JP_ALERT_MAX_NOTES)
        r.err = 1, e->n_notes = 0;
    for (size_t i = 0; i < e->n_notes; i++) {
        get_str(&r, e->notes[i].key, sizeof(e->notes[i].key));
        get_str(&r, e->notes[i].value, sizeof(e->notes[i].value));
    }
    get_str(&r, e->summary, sizeof(e->summary));
    e->starts_at = jp_bytes_get_i64(&r);
    e->ends_at = jp_bytes_get_i64(&r);
    e->last_sent = jp_bytes_get_i64(&r);
    if (!jp_bytes_reader_done(&r) || e->rule == JP_ALERT__COUNT ||
        e->severity > JP_ALERT_SEVERITY_CRITICAL || e->status > JP_ALERT_STATUS_RESOLVED) {
        jp_err_set(errstr, errstr_size, "alert entry: corrupt (%zu bytes)", len);
        return -1;
    }
    return 0;
}

void jp_alert_entry_to_avro(const jp_alert_entry_t *e, const char *runbook_base,
                            jp_alert_avro_scratch_t *scratch, jp_alert_t *out)
{
    memset(out, 0, sizeof(*out));
    out->fingerprint = jp_avro_str(e->fingerprint);
    out->name = jp_avro_str(rules[e->rule].name);
    out->severity = e->severity;
    out->status = e->status;
    out->has_country = e->country[0] != '\0';
    out->country = jp_avro_str(e->country);
    out->summary = jp_avro_str(e->summary);
    snprintf(scratch->runbook, sizeof(scratch->runbook), "%s%s", runbook_base ? runbook_base : "",
             rules[e->rule].runbook);
    out->runbook_url = jp_avro_str(scratch->runbook);
    for (size_t i = 0; i < e->n_labels; i++) {
        scratch->keys[i] = jp_avro_str(e->labels[i].key);
        scratch->values[i] = jp_avro_str(e->labels[i].value);
    }
    out->labels = (jp_avro_map_t){scratch->keys, scratch->values, e->n_labels};
    for (size_t i = 0; i < e->n_notes; i++) {
        scratch->note_keys[i] = jp_avro_str(e->notes[i].key);
        scratch->note_values[i] = jp_avro_str(e->notes[i].value);
    }
    out->annotations = (jp_avro_map_t){scratch->note_keys, scratch->note_values, e->n_notes};
    out->starts_at = e->starts_at;
    out->has_ends_at = e->status == JP_ALERT_STATUS_RESOLVED;
    out->ends_at = e->ends_at;
}

json_t *jp_alert_entry_json(const jp_alert_entry_t *e, const char *runbook_base)
{
    json_t *o = json_object(), *labels = json_object(), *notes = json_object();
    char runbook[512];
    snprintf(runbook, sizeof(runbook), "%s%s", runbook_base ? runbook_base : "",
             rules[e->rule].runbook);
    json_object_set_new(o, "fingerprint", json_string(e->fingerprint));
    json_object_set_new(o, "name", json_string(rules[e->rule].name));
    json_object_set_new(o, "severity", json_string(jp_alert_severity_name(e->severity)));
    json_object_set_new(o, "status", json_string(jp_alert_status_name(e->status)));
    json_object_set_new(o, "country", e->country[0] ? json_string(e->country) : json_null());
    json_object_set_new(o, "summary", json_string(e->summary));
    json_object_set_new(o, "runbook_url", json_string(runbook));
    for (size_t i = 0; i < e->n_labels; i++)
        json_object_set_new(labels, e->labels[i].key, json_string(e->labels[i].value));
    for (size_t i = 0; i < e->n_notes; i++)
        json_object_set_new(notes, e->notes[i].key, json_string(e->notes[i].value));
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "annotations", notes);
    json_object_set_new(o, "starts_at", json_integer(e->starts_at));
    json_object_set_new(o, "ends_at",
                        e->status == JP_ALERT_STATUS_RESOLVED ? json_integer(e->ends_at)
                                                              : json_null());
    return o;
}
