/*
 * jp_registry_store: the state of the embedded schema registry - subjects,
 * their versions, global schema ids, compatibility levels, modes - and its
 * persistence in an append-only log.
 *
 * Contract:
 * - Every mutation (register, delete, config, mode) is appended to
 *   DIR/registry.log as one JSON line and fsync'd BEFORE it becomes visible;
 *   opening the store replays the log, so ids and versions survive a restart
 *   and the next id continues after the highest one ever assigned.
 * - A torn or corrupt tail (a crash mid-write) is truncated at open and
 *   reported by jp_registry_store_recovery_note(); corruption followed by
 *   valid records refuses to open (acknowledged data would be lost). A
 *   register record whose schema this version cannot parse (written by an
 *   older, more lenient one) is skipped and reported the same way; its id
 *   and version are never handed out again.
 * - The log is flock'ed: one process per data directory.
 * - Schema identity is the schema's JSON normalized (compact, object keys
 *   sorted): a schema registered under two subjects, or re-registered with
 *   different whitespace or attribute order, gets the same global id. Not
 *   the Parsing Canonical Form: PCF drops defaults, aliases and logical
 *   types, which matter to readers and to compatibility, so schemas that
 *   differ only there get distinct ids (as in Confluent). Every schema is
 *   validated by jp_avro_schema_parse. Reads return the schema text as it
 *   was first registered under that id. With normalize (Confluent's
 *   `?normalize=true`) the text is first rewritten by
 *   jp_avro_schema_normalize, and lookups compare normalized texts.
 * - Compatibility (jp_avro_compat_check) is checked against the subject's
 *   live versions; soft-deleted versions take no part.
 * - Modes (Confluent's): READWRITE (default), READONLY (every write is
 *   refused with 42205), IMPORT (registrations must carry their id, and may
 *   carry their version; compatibility is not checked). A subject's own mode
 *   overrides the global one. Switching to IMPORT requires that no live
 *   subject is in scope (unless forced) and permanently removes the
 *   soft-deleted versions in scope, as Confluent does.
 * - Ids are 1..2^31-1. Assigned ids continue after the highest id ever
 *   known; imported ids may be anywhere, and in IMPORT mode one schema may
 *   hold several ids (as in Confluent); an id never changes its schema.
 * - Operations return 0 or a Confluent error code (jp_registry_err_t) with
 *   a Confluent-style message in errstr. Pointers handed out (names, schema
 *   text) are borrowed and stay valid until the next mutation.
 * - Not thread-safe: one thread (the server's event loop) owns a store.
 */
#ifndef JP_REGISTRY_STORE_H
#define JP_REGISTRY_STORE_H

#include "serde/jp_avro_schema.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jp_registry_store_s jp_registry_store_t;

/* Confluent Schema Registry error codes (the HTTP status is code / 100,
 * except JP_REGISTRY_ERR_INCOMPATIBLE which is both code and status). */
typedef enum {
    JP_REGISTRY_ERR_NONE = 0,
    JP_REGISTRY_ERR_SUBJECT_NOT_FOUND = 40401,
    JP_REGISTRY_ERR_VERSION_NOT_FOUND = 40402,
    JP_REGISTRY_ERR_SCHEMA_NOT_FOUND = 40403,
    JP_REGISTRY_ERR_SUBJECT_SOFT_DELETED = 40404,
    JP_REGISTRY_ERR_SUBJECT_NOT_SOFT_DELETED = 40405,
    JP_REGISTRY_ERR_VERSION_SOFT_DELETED = 40406,
    JP_REGISTRY_ERR_VERSION_NOT_SOFT_DELETED = 40407,
    JP_REGISTRY_ERR_SUBJECT_CONFIG_NOT_FOUND = 40408,
    JP_REGISTRY_ERR_SUBJECT_MODE_NOT_FOUND = 40409,
    JP_REGISTRY_ERR_INCOMPATIBLE = 409,
    JP_REGISTRY_ERR_INVALID_SCHEMA = 42201,
    JP_REGISTRY_ERR_INVALID_VERSION = 42202,
    JP_REGISTRY_ERR_INVALID_COMPAT = 42203,
    JP_REGISTRY_ERR_INVALID_MODE = 42204,
    JP_REGISTRY_ERR_NOT_PERMITTED = 42205,
    JP_REGISTRY_ERR_INVALID_SUBJECT = 42208,
    JP_REGISTRY_ERR_STORE = 50001,
} jp_registry_err_t;

/* Version selectors besides 1..INT32_MAX. */
#define JP_REGISTRY_VERSION_LATEST (-1)
#define JP_REGISTRY_VERSION_ALL    (-2) /* compatibility test against every live version */

typedef enum {
    JP_REGISTRY_MODE_READWRITE,
    JP_REGISTRY_MODE_READONLY,
    JP_REGISTRY_MODE_IMPORT,
} jp_registry_mode_t;

/* "READWRITE", "readonly", ... (any case) -> mode; -1 if not a mode. */
int jp_registry_mode_parse(const char *name, jp_registry_mode_t *out);
const char *jp_registry_mode_name(jp_registry_mode_t mode);

/* Which versions (and through them, subjects) a listing shows. A subject is
 * deleted when all its versions are soft-deleted (Confluent's rule). */
typedef enum {
    JP_REGISTRY_LIVE,            /* live versions / subjects with one */
    JP_REGISTRY_INCLUDE_DELETED, /* everything */
    JP_REGISTRY_DELETED_ONLY,    /* soft-deleted versions / deleted subjects */
} jp_registry_filter_t;

/* One version of a subject, as handed out by the store (borrowed). */
typedef struct jp_registry_version_s {
    const char *subject;
    int32_t version;
    int32_t id;
    const char *schema; /* text as registered */
    bool deleted;       /* soft-deleted */
} jp_registry_version_t;

/* Opens (creating DIR and the log if needed) and replays the log.
 * 0, or -1 with errstr. */
int jp_registry_store_open(const char *dir, jp_registry_store_t **out, char *errstr,
                           size_t errstr_size);
void jp_registry_store_close(jp_registry_store_t *st);

/* What recovery did at open (e.g. "truncated a corrupt tail of 17 bytes at
 * line 5", or the register records skipped), or NULL if the log was clean. */
const char *jp_registry_store_recovery_note(const jp_registry_store_t *st);

/* Options of a registration (Confluent's register body and query). */
typedef struct jp_registry_register_opts_s {
    int32_t id;      /* > 0: register under this id (IMPORT mode only); 0: assign */
    int32_t version; /* > 0: this version (outside IMPORT: must be the next one); 0: next */
    bool normalize;  /* store and compare the normalized text */
} jp_registry_register_opts_t;

/* Registers schema text under subject (opts may be NULL): the same schema
 * already live under the subject (with the requested id and version, if
 * any) -> its id and version, nothing written (idempotent, in any mode).
 * Otherwise checks the mode and compatibility and appends a new version.
 * Errors: INVALID_SUBJECT, INVALID_SCHEMA (also a version that is not the
 * next one outside IMPORT), NOT_PERMITTED (READONLY; an id outside IMPORT;
 * no id in IMPORT; an id that holds another schema; a version that exists
 * with another schema), INCOMPATIBLE, STORE. */
int jp_registry_store_register(jp_registry_store_t *st, const char *subject, const char *schema,
                               size_t len, const jp_registry_register_opts_t *opts, int32_t *id_out,
                               int32_t *version_out, char *errstr, size_t errstr_size);

/* Finds the version of subject holding this schema (same identity; with
 * normalize, the same normalized text). include_deleted also searches
 * soft-deleted versions.
 * Errors: SUBJECT_NOT_FOUND, SCHEMA_NOT_FOUND, INVALID_SCHEMA. */
int jp_registry_store_lookup(jp_registry_store_t *st, const char *subject, const char *schema,
                             size_t len, bool include_deleted, bool normalize,
                             jp_registry_version_t *out, char *errstr, size_t errstr_size);

/* Schema text by global id. Errors: SCHEMA_NOT_FOUND. */
int jp_registry_store_schema_by_id(const jp_registry_store_t *st, int32_t id,
                                   const char **schema_out, char *errstr, size_t errstr_size);

/* Every (subject, version) using id, live ones only unless include_deleted,
 * by subject name then version. *out is malloc'd (free it).
 * Errors: SCHEMA_NOT_FOUND. */
int jp_registry_store_id_versions(const jp_registry_store_t *st, int32_t id, bool include_deleted,
                                  jp_registry_version_t **out, size_t *n, char *errstr,
                                  size_t errstr_size);

/* Subject names starting with prefix (NULL or "": all), sorted by name
 * (as Confluent lists them); *names is malloc'd (free it), the strings are
 * borrowed. */
int jp_registry_store_subjects(const jp_registry_store_t *st, const char *prefix,
                               jp_registry_filter_t filter, const char ***names, size_t *n);

/* Every version of the subjects starting with prefix that passes filter,
 * by subject name then version; latest_only keeps the newest of each
 * subject. *out is malloc'd. For GET /schemas and export. */
int jp_registry_store_list(const jp_registry_store_t *st, const char *prefix,
                           jp_registry_filter_t filter, bool latest_only,
                           jp_registry_version_t **out, size_t *n);

/* Version numbers of subject, ascending; *versions is malloc'd.
 * Errors: SUBJECT_NOT_FOUND. */
int jp_registry_store_versions(const jp_registry_store_t *st, const char *subject,
                               jp_registry_filter_t filter, int32_t **versions, size_t *n,
                               char *errstr, size_t errstr_size);

/* One version (1.. or JP_REGISTRY_VERSION_LATEST).
 * Errors: SUBJECT_NOT_FOUND, VERSION_NOT_FOUND. */
int jp_registry_store_get_version(const jp_registry_store_t *st, const char *subject,
                                  int32_t version, bool include_deleted, jp_registry_version_t *out,
                                  char *errstr, size_t errstr_size);

/* Tests schema against version (1.., LATEST: the subject's level applied to
 * that one version; ALL: the level applied to the live history, so the
 * transitive levels see every version). *compatible tells the outcome; when
 * false, reason holds why. LATEST or ALL on a subject without live versions
 * is compatible, as in Confluent.
 * Errors: SUBJECT_NOT_FOUND, VERSION_NOT_FOUND, INVALID_SCHEMA. */
int jp_registry_store_test_compat(jp_registry_store_t *st, const char *subject, int32_t version,
                                  const char *schema, size_t len, bool *compatible, char *reason,
                                  size_t reason_size, char *errstr, size_t errstr_size);

/* Compatibility level: subject NULL = global (default BACKWARD). For a
 * subject without its own level: SUBJECT_CONFIG_NOT_FOUND, unless
 * default_to_global. */
int jp_registry_store_get_config(const jp_registry_store_t *st, const char *subject,
                                 bool default_to_global, jp_avro_compat_t *out, char *errstr,
                                 size_t errstr_size);
/* Errors: INVALID_SUBJECT, NOT_PERMITTED (READONLY), STORE. */
int jp_registry_store_set_config(jp_registry_store_t *st, const char *subject,
                                 jp_avro_compat_t level, char *errstr, size_t errstr_size);
/* Removes a subject's own level (subject NULL: resets the global level to
 * BACKWARD), reporting the one removed.
 * Errors: SUBJECT_NOT_FOUND (no level of its own, as Confluent answers),
 * NOT_PERMITTED (READONLY), STORE. */
int jp_registry_store_delete_config(jp_registry_store_t *st, const char *subject,
                                    jp_avro_compat_t *previous, char *errstr, size_t errstr_size);

/* Mode: subject NULL = global (default READWRITE). For a subject without its
 * own mode: SUBJECT_MODE_NOT_FOUND, unless default_to_global. */
int jp_registry_store_get_mode(const jp_registry_store_t *st, const char *subject,
                               bool default_to_global, jp_registry_mode_t *out, char *errstr,
                               size_t errstr_size);
/* Sets the mode of subject (NULL: global). Switching to IMPORT needs an
 * empty scope unless force (see above).
 * Errors: INVALID_SUBJECT, NOT_PERMITTED, STORE. */
int jp_registry_store_set_mode(jp_registry_store_t *st, const char *subject,
                               jp_registry_mode_t mode, bool force, char *errstr,
                               size_t errstr_size);
/* Removes a subject's own mode (NULL: resets the global mode to READWRITE),
 * reporting the one removed. Errors: SUBJECT_NOT_FOUND, STORE. */
int jp_registry_store_delete_mode(jp_registry_store_t *st, const char *subject,
                                  jp_registry_mode_t *previous, char *errstr, size_t errstr_size);

/* Soft-deletes every live version of subject (the numbers deleted in
 * *versions, malloc'd), or with permanent removes a subject that was
 * soft-deleted first (the numbers removed).
 * Errors: SUBJECT_NOT_FOUND, SUBJECT_SOFT_DELETED (soft delete twice),
 * SUBJECT_NOT_SOFT_DELETED (permanent before soft), NOT_PERMITTED, STORE. */
int jp_registry_store_delete_subject(jp_registry_store_t *st, const char *subject, bool permanent,
                                     int32_t **versions, size_t *n, char *errstr,
                                     size_t errstr_size);

/* Soft-deletes one version (1.. or LATEST), or with permanent removes a
 * version that was soft-deleted first. *deleted gets the version number.
 * Errors: SUBJECT_NOT_FOUND, VERSION_NOT_FOUND, VERSION_SOFT_DELETED,
 * VERSION_NOT_SOFT_DELETED, NOT_PERMITTED, STORE. */
int jp_registry_store_delete_version(jp_registry_store_t *st, const char *subject, int32_t version,
                                     bool permanent, int32_t *deleted, char *errstr,
                                     size_t errstr_size);

/* Sizes for metrics: distinct schema ids, subjects with a live version,
 * and live versions. */
typedef struct jp_registry_store_stats_s {
    size_t schemas, subjects, versions;
} jp_registry_store_stats_t;
void jp_registry_store_stats(const jp_registry_store_t *st, jp_registry_store_stats_t *out);

#endif
