/*
 * jp_alert_set: the alert lifecycle, with Alertmanager's semantics, for one
 * task's alerts (the processor in jp_alerts.h owns one set per task).
 *
 * Contract:
 * - An alert is a rule (its name, default severity and runbook come from
 *   the rule table below) plus labels: the country (if any) and the
 *   dimensions that tell two instances of a rule apart (feature, input,
 *   partition, model, model_version). Its fingerprint is the first 16 hex
 *   digits of XXH64 over the name and the labels sorted by key: the same
 *   rule and labels give the same fingerprint in every process, whatever
 *   order the labels were added in. Annotations (description with the
 *   statistic and its threshold, value, threshold, change point...) and the
 *   summary are not part of it.
 * - jp_alert_set_fire: an absent or RESOLVED fingerprint becomes FIRING
 *   (starts_at from the caller) and is to be sent. A FIRING one is not sent
 *   again: its annotations and summary are refreshed (and stored), and it
 *   is sent only when its severity rose or repeat_ms > 0 and at least
 *   repeat_ms of event time passed since it was last sent. Either way
 *   starts_at stays the one of the first FIRING.
 * - jp_alert_set_resolve: a FIRING fingerprint becomes RESOLVED with
 *   ends_at (never earlier than starts_at) and is to be sent; otherwise
 *   nothing happens.
 * - "To be sent" is the return value: the stored entry, which the caller
 *   encodes (jp_alert_entry_to_avro) and emits. Every change marks the
 *   entry dirty for the caller's store; jp_alert_set_prune drops RESOLVED
 *   entries whose ends_at is older than a retention.
 * - Entries serialize to "ALRT" v1 (jp_bytes); a round trip is exact.
 * - Everything is deterministic: no clock, no randomness; iteration is in
 *   fingerprint order.
 */
#ifndef JP_ALERT_SET_H
#define JP_ALERT_SET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model/base/jp_bytes.h"
#include "serde/jp_events.h"

typedef enum {
    JP_ALERT_FEATURE_DRIFT,
    JP_ALERT_CONCEPT_DRIFT,
    JP_ALERT_SILENT_SOURCE,
    JP_ALERT_DEAD_LETTER_RATE,
    JP_ALERT_LATE_RATE,
    JP_ALERT_RECORDS_LOST,
    JP_ALERT_MISPARTITIONED,
    JP_ALERT_CONSUMER_LAG,
    JP_ALERT__COUNT
} jp_alert_rule_t;

typedef struct jp_alert_rule_info_s {
    const char *name;             /* "FeatureDrift": the alert name and runbook file */
    jp_alert_severity_t severity; /* default severity */
    const char *runbook;          /* "docs/runbooks/FeatureDrift.md" */
} jp_alert_rule_info_t;

/* The rule table (NULL outside the enum). */
const jp_alert_rule_info_t *jp_alert_rule_info(jp_alert_rule_t rule);
/* "INFO", "WARNING", "CRITICAL"; "FIRING", "RESOLVED". */
const char *jp_alert_severity_name(jp_alert_severity_t s);
const char *jp_alert_status_name(jp_alert_status_t s);

#define JP_ALERT_MAX_LABELS 6
#define JP_ALERT_MAX_NOTES  8
#define JP_ALERT_KEY_LEN    24
#define JP_ALERT_LABEL_LEN  40
#define JP_ALERT_NOTE_LEN   320

typedef struct jp_alert_label_s {
    char key[JP_ALERT_KEY_LEN];
    char value[JP_ALERT_LABEL_LEN];
} jp_alert_label_t;

typedef struct jp_alert_note_s {
    char key[JP_ALERT_KEY_LEN];
    char value[JP_ALERT_NOTE_LEN];
} jp_alert_note_t;

typedef struct jp_alert_entry_s {
    char fingerprint[17];
    jp_alert_rule_t rule;
    jp_alert_severity_t severity;
    char country[3];                              /* "" for task-wide alerts */
    jp_alert_label_t labels[JP_ALERT_MAX_LABELS]; /* sorted by key; country included */
    size_t n_labels;
    jp_alert_note_t notes[JP_ALERT_MAX_NOTES]; /* in the order they were set */
    size_t n_notes;
    char summary[JP_ALERT_NOTE_LEN];
    jp_alert_status_t status;
    int64_t starts_at, ends_at, last_sent;
    int dirty; /* changed since the caller last stored it */
} jp_alert_entry_t;

/* ---- building an alert ---- */

/* Starts an alert of rule for country (NULL or "": none), severity the
 * rule's default, starts_at now. */
void jp_alert_init(jp_alert_entry_t *e, jp_alert_rule_t rule, const char *country,
                   int64_t starts_at);
/* Adds a label (value truncated to JP_ALERT_LABEL_LEN - 1). */
void jp_alert_label(jp_alert_entry_t *e, const char *key, const char *value);
/* Sets an annotation, printf-style (replaces one of the same key). */
void jp_alert_note(jp_alert_entry_t *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void jp_alert_summary(jp_alert_entry_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The fingerprint of the name and labels (also set by jp_alert_set_fire). */
void jp_alert_fingerprint(jp_alert_entry_t *e);
/* The value of a label or annotation, NULL if absent. */
const char *jp_alert_label_get(const jp_alert_entry_t *e, const char *key);
const char *jp_alert_note_get(const jp_alert_entry_t *e, const char *key);

/* ---- the set ---- */

typedef struct jp_alert_set_s {
    jp_alert_entry_t **v; /* sorted by fingerprint */
    size_t n, cap;
} jp_alert_set_t;

void jp_alert_set_init(jp_alert_set_t *s);
void jp_alert_set_free(jp_alert_set_t *s);
jp_alert_entry_t *jp_alert_set_find(const jp_alert_set_t *s, const char *fingerprint);
/* Adds a stored entry as it is (loading); replaces one of the same
 * fingerprint. 0 or -1 (out of memory). */
int jp_alert_set_put(jp_alert_set_t *s, const jp_alert_entry_t *e);
/* See the contract. *send gets the entry to emit or NULL. 0, or -1 when
 * out of memory. */
int jp_alert_set_fire(jp_alert_set_t *s, jp_alert_entry_t *e, int64_t now, int64_t repeat_ms,
                      jp_alert_entry_t **send);
/* The entry to emit, or NULL when the fingerprint is not FIRING. */
jp_alert_entry_t *jp_alert_set_resolve(jp_alert_set_t *s, const char *fingerprint, int64_t ends_at,
                                       int64_t now);
/* 1 when the fingerprint is FIRING. */
int jp_alert_set_firing(const jp_alert_set_t *s, const char *fingerprint);
/* Removes RESOLVED entries with ends_at < now - retention_ms, calling
 * gone(ctx, fingerprint, country) for each before it is freed. */
void jp_alert_set_prune(jp_alert_set_t *s, int64_t now, int64_t retention_ms,
                        void (*gone)(void *ctx, const jp_alert_entry_t *e), void *ctx);

/* ---- encodings ---- */

void jp_alert_entry_serialize(const jp_alert_entry_t *e, jp_bytes_writer_t *w);
int jp_alert_entry_deserialize(jp_alert_entry_t *e, const void *buf, size_t len, char *errstr,
                               size_t errstr_size);

/* The Avro record of an entry. The strings point into e and scratch,
 * which must outlive out. runbook_base is prefixed to the rule's runbook
 * path. */
typedef struct jp_alert_avro_scratch_s {
    jp_avro_str_t keys[JP_ALERT_MAX_LABELS], values[JP_ALERT_MAX_LABELS];
    jp_avro_str_t note_keys[JP_ALERT_MAX_NOTES], note_values[JP_ALERT_MAX_NOTES];
    char runbook[512];
} jp_alert_avro_scratch_t;
void jp_alert_entry_to_avro(const jp_alert_entry_t *e, const char *runbook_base,
                            jp_alert_avro_scratch_t *scratch, jp_alert_t *out);

/* The entry as a JSON object (the admin view): fingerprint, name,
 * severity, status, country (null), summary, runbook_url, labels,
 * annotations, starts_at, ends_at (null). */
json_t *jp_alert_entry_json(const jp_alert_entry_t *e, const char *runbook_base);

#endif
