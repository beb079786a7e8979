/*
 * jp_registry_transfer: export and import over the REST API.
 *
 * Design. Both directions speak only the Confluent REST API through
 * jp_registry_client, so either end may be Confluent Schema Registry,
 * Karapace or `jackpot registry`; nothing reads the embedded registry's
 * log. One helper (rest) performs a request and turns every non-200 reply
 * into REFUSED with the registry's own message, so each step is a line.
 * Import keeps what the ids mean by registering with explicit ids in IMPORT
 * mode - the registry's own mechanism for mirroring - instead of hoping
 * that registering in the same order reproduces them. The mode switch is
 * undone on every path out, so a failed import never leaves the target in
 * IMPORT mode by accident.
 */
#include "registry/jp_registry_transfer.h"

#include "model/base/jp_err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME    "jackpot-registry-export"
#define FORMAT_VERSION 1

/* One request expecting 200 and JSON; *reply gets the parsed body (may be
 * NULL when not wanted). A 404 is reported through *status for callers
 * that accept it. */
static int rest(jp_registry_client_t *c, const char *method, const char *path, json_t *body,
                json_t **reply, int *status, char *errstr, size_t errstr_size)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *out = NULL, err[512];
    int st = 0;
    if (reply)
        *reply = NULL;
    int rc = jp_registry_client_request(c, method, path, text, &st, &out, err, sizeof(err));
    free(text);
    if (status)
        *status = st;
    if (rc != JP_REGISTRY_OK) {
        jp_err_set(errstr, errstr_size, "%s", err);
        free(out);
        return JP_TRANSFER_UNAVAILABLE;
    }
    json_t *j = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
    if (st == 200 && j) {
        if (reply)
            *reply = j;
        else
            json_decref(j);
        free(out);
        return JP_TRANSFER_OK;
    }
    const char *msg = json_string_value(json_object_get(j, "message"));
    jp_err_set(errstr, errstr_size, "%s %s: HTTP %d%s%s", method, path, st, msg ? ": " : "",
               msg ? msg : (st == 200 ? " with a reply that is not JSON" : ""));
    json_decref(j);
    free(out);
    return JP_TRANSFER_REFUSED;
}

/* "/prefix/<escaped subject>/suffix" (malloc'd). */
static char *subject_path(const char *prefix, const char *subject, const char *suffix)
{
    char *esc = jp_registry_client_escape(subject);
    size_t n = esc ? strlen(prefix) + strlen(esc) + strlen(suffix) + 1 : 0;
    char *p = n ? malloc(n) : NULL;
    if (p)
        snprintf(p, n, "%s%s%s", prefix, esc, suffix);
    free(esc);
    return p;
}

/* The reply member key as a string (REFUSED if it is missing). */
static int member_string(json_t *reply, const char *key, const char *what, const char **out,
                         char *errstr, size_t errstr_size)
{
    *out = json_string_value(json_object_get(reply, key));
    if (*out)
        return JP_TRANSFER_OK;
    jp_err_set(errstr, errstr_size, "%s: the reply has no \"%s\"", what, key);
    return JP_TRANSFER_REFUSED;
}

/* ---- export ------------------------------------------------------------------ */

/* {"version","id","schema"[,"schemaType"][,"references"]} of one version. */
static int export_version(jp_registry_client_t *c, const char *subject, json_int_t version,
                          json_t *versions, jp_transfer_stats_t *stats, char *errstr,
                          size_t errstr_size)
{
    char suffix[48];
    snprintf(suffix, sizeof(suffix), "/versions/%lld", (long long)version);
    char *path = subject_path("/subjects/", subject, suffix);
    json_t *reply = NULL;
    int rc =
        path ? rest(c, "GET", path, NULL, &reply, NULL, errstr, errstr_size) : JP_TRANSFER_REFUSED;
    const char *schema = NULL;
    json_int_t id = json_integer_value(json_object_get(reply, "id"));
    if (rc == JP_TRANSFER_OK)
        rc = member_string(reply, "schema", path, &schema, errstr, errstr_size);
    if (rc == JP_TRANSFER_OK && id <= 0) {
        jp_err_set(errstr, errstr_size, "%s: the reply has no schema id", path);
        rc = JP_TRANSFER_REFUSED;
    }
    if (rc == JP_TRANSFER_OK) {
        json_t *v = json_pack("{s:I, s:I, s:s}", "version", version, "id", id, "schema", schema);
        const char *const extra[] = {"schemaType", "references"};
        for (size_t i = 0; v && i < 2; i++)
            if (json_object_get(reply, extra[i]))
                json_object_set(v, extra[i], json_object_get(reply, extra[i]));
        json_array_append_new(versions, v);
        stats->versions++;
    }
    json_decref(reply);
    free(path);
    return rc;
}

static int export_subject(jp_registry_client_t *c, const char *subject, json_t *subjects,
                          jp_transfer_stats_t *stats, char *errstr, size_t errstr_size)
{
    json_t *entry = json_pack("{s:s}", "subject", subject), *versions = json_array(), *list = NULL;
    char *vpath = subject_path("/subjects/", subject, "/versions");
    char *cpath = subject_path("/config/", subject, "");
    int rc = entry && versions && vpath && cpath
                 ? rest(c, "GET", vpath, NULL, &list, NULL, errstr, errstr_size)
                 : JP_TRANSFER_REFUSED;
    size_t i;
    json_t *v;
    json_array_foreach(rc == JP_TRANSFER_OK ? list : NULL, i, v)
    {
        if (rc == JP_TRANSFER_OK)
            rc = export_version(c, subject, json_integer_value(v), versions, stats, errstr,
                                errstr_size);
    }
    json_decref(list);
    /* The subject's own level, if it has one (404 when it has none). */
    json_t *level = NULL;
    int status = 0;
    if (rc == JP_TRANSFER_OK &&
        (rc = rest(c, "GET", cpath, NULL, &level, &status, errstr, errstr_size)) ==
            JP_TRANSFER_REFUSED &&
        status == 404)
        rc = JP_TRANSFER_OK;
    if (level)
        json_object_set(entry, "compatibility", json_object_get(level, "compatibilityLevel"));
    json_decref(level);
    if (rc == JP_TRANSFER_OK) {
        json_object_set(entry, "versions", versions);
        json_array_append(subjects, entry);
        stats->subjects++;
    }
    json_decref(entry);
    json_decref(versions);
    free(vpath);
    free(cpath);
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
    return (x > y) - (x < y);
}

/* Distinct ids among the versions of a document's subjects (0 when out of
 * memory: the count is for the summary line only). */
static size_t count_ids(json_t *subjects)
{
    size_t total = 0, i, k, n = 0;
    json_t *s, *v;
    json_array_foreach(subjects, i, s)
    {
        total += json_array_size(json_object_get(s, "versions"));
    }
    json_int_t *ids = malloc((total ? total : 1) * sizeof(*ids));
    if (!ids)
        return 0;
    json_array_foreach(subjects, i, s)
    {
        json_array_foreach(json_object_get(s, "versions"), k, v)
        {
            ids[n++] = json_integer_value(json_object_get(v, "id"));
        }
    }
    qsort(ids, n, sizeof(*ids), cmp_id);
    size_t distinct = 0;
    for (i = 0; i < n; i++)
        distinct += i == 0 || ids[i] != ids[i - 1];
    free(ids);
    return distinct;
}

int jp_registry_export(jp_registry_client_t *c, char **json_out, jp_transfer_stats_t *stats,
                       char *errstr, size_t errstr_size)
{
    *json_out = NULL;
    *stats = (jp_transfer_stats_t){0};
    json_t *config = NULL, *names = NULL, *subjects = json_array();
    int rc = rest(c, "GET", "/config", NULL, &config, NULL, errstr, errstr_size);
    const char *level = NULL;
    if (rc == JP_TRANSFER_OK)
        rc =
            member_string(config, "compatibilityLevel", "GET /config", &level, errstr, errstr_size);
    if (rc == JP_TRANSFER_OK)
        rc = rest(c, "GET", "/subjects", NULL, &names, NULL, errstr, errstr_size);
    size_t i;
    json_t *name;
    json_array_foreach(rc == JP_TRANSFER_OK ? names : NULL, i, name)
    {
        if (rc == JP_TRANSFER_OK && json_is_string(name))
            rc = export_subject(c, json_string_value(name), subjects, stats, errstr, errstr_size);
    }
    if (rc == JP_TRANSFER_OK) {
        stats->ids = count_ids(subjects);
        json_t *doc = json_pack("{s:s, s:i, s:s, s:O}", "format", FORMAT_NAME, "format_version",
                                FORMAT_VERSION, "compatibility", level, "subjects", subjects);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        size_t n = text ? strlen(text) : 0;
        if (text && (*json_out = realloc(text, n + 2))) {
            memcpy(*json_out + n, "\n", 2);
        } else {
            free(text);
            jp_err_set(errstr, errstr_size, "out of memory");
            rc = JP_TRANSFER_REFUSED;
        }
        json_decref(doc);
    }
    json_decref(config);
    json_decref(names);
    json_decref(subjects);
    return rc;
}

/* ---- import ------------------------------------------------------------------ */

static int bad_input(char *errstr, size_t errstr_size, const char *what)
{
    jp_err_set(errstr, errstr_size, "not a registry export: %s", what);
    return JP_TRANSFER_BAD_INPUT;
}

/* Checks the document's shape before anything is sent. */
static int check_document(json_t *doc, char *errstr, size_t errstr_size)
{
    const char *format = json_string_value(json_object_get(doc, "format"));
    if (!format || strcmp(format, FORMAT_NAME) != 0)
        return bad_input(errstr, errstr_size, "no \"format\": \"" FORMAT_NAME "\"");
    if (json_integer_value(json_object_get(doc, "format_version")) != FORMAT_VERSION)
        return bad_input(errstr, errstr_size, "unsupported \"format_version\"");
    json_t *subjects = json_object_get(doc, "subjects");
    if (!json_is_array(subjects))
        return bad_input(errstr, errstr_size, "\"subjects\" is not an array");
    size_t i, k;
    json_t *s, *v;
    json_array_foreach(subjects, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "subject"));
        json_t *versions = json_object_get(s, "versions");
        if (!name || !json_is_array(versions)) {
            jp_err_set(errstr, errstr_size,
                       "not a registry export: subject %zu has no name or no versions", i + 1);
            return JP_TRANSFER_BAD_INPUT;
        }
        json_array_foreach(versions, k, v)
        {
            if (json_integer_value(json_object_get(v, "id")) < 1 ||
                json_integer_value(json_object_get(v, "version")) < 1 ||
                !json_is_string(json_object_get(v, "schema"))) {
                jp_err_set(errstr, errstr_size,
                           "not a registry export: subject '%s' entry %zu needs an id, a "
                           "version and a schema",
                           name, k + 1);
                return JP_TRANSFER_BAD_INPUT;
            }
        }
    }
    return JP_TRANSFER_OK;
}

static int put_level(jp_registry_client_t *c, const char *path, json_t *level, char *errstr,
                     size_t errstr_size)
{
    if (!json_is_string(level))
        return JP_TRANSFER_OK;
    json_t *body = json_pack("{s:O}", "compatibility", level);
    int rc = rest(c, "PUT", path, body, NULL, NULL, errstr, errstr_size);
    json_decref(body);
    return rc;
}

/* Registers one version with its id and version; the target must answer
 * with that id. */
static int import_version(jp_registry_client_t *c, const char *path, const char *subject, json_t *v,
                          char *errstr, size_t errstr_size)
{
    json_int_t id = json_integer_value(json_object_get(v, "id"));
    json_t *body = json_deep_copy(v), *reply = NULL;
    char why[512];
    int rc =
        body ? rest(c, "POST", path, body, &reply, NULL, why, sizeof(why)) : JP_TRANSFER_REFUSED;
    json_int_t got = json_integer_value(json_object_get(reply, "id"));
    if (rc == JP_TRANSFER_OK && got != id) {
        snprintf(why, sizeof(why), "registered as id %lld", (long long)got);
        rc = JP_TRANSFER_REFUSED;
    }
    if (rc != JP_TRANSFER_OK)
        jp_err_set(errstr, errstr_size, "subject '%s' version %lld (id %lld): %s", subject,
                   json_integer_value(json_object_get(v, "version")), (long long)id, why);
    json_decref(body);
    json_decref(reply);
    return rc;
}

static int import_subjects(jp_registry_client_t *c, json_t *doc, jp_transfer_stats_t *stats,
                           char *errstr, size_t errstr_size)
{
    int rc = put_level(c, "/config", json_object_get(doc, "compatibility"), errstr, errstr_size);
    size_t i, k;
    json_t *s, *v;
    json_array_foreach(json_object_get(doc, "subjects"), i, s)
    {
        const char *subject = json_string_value(json_object_get(s, "subject"));
        char *cpath = subject_path("/config/", subject, "");
        char *vpath = subject_path("/subjects/", subject, "/versions");
        if (rc == JP_TRANSFER_OK && (!cpath || !vpath)) {
            jp_err_set(errstr, errstr_size, "out of memory");
            rc = JP_TRANSFER_REFUSED;
        }
        if (rc == JP_TRANSFER_OK)
            rc = put_level(c, cpath, json_object_get(s, "compatibility"), errstr, errstr_size);
        json_array_foreach(json_object_get(s, "versions"), k, v)
        {
            if (rc == JP_TRANSFER_OK &&
                (rc = import_version(c, vpath, subject, v, errstr, errstr_size)) == JP_TRANSFER_OK)
                stats->versions++;
        }
        stats->subjects += rc == JP_TRANSFER_OK;
        free(cpath);
        free(vpath);
    }
    if (rc == JP_TRANSFER_OK)
        stats->ids = count_ids(json_object_get(doc, "subjects"));
    return rc;
}

static int set_mode(jp_registry_client_t *c, const char *mode, char *errstr, size_t errstr_size)
{
    json_t *body = json_pack("{s:s}", "mode", mode);
    int rc = rest(c, "PUT", "/mode", body, NULL, NULL, errstr, errstr_size);
    json_decref(body);
    return rc;
}

int jp_registry_import(jp_registry_client_t *c, const char *path, jp_transfer_stats_t *stats,
                       char *errstr, size_t errstr_size)
{
    *stats = (jp_transfer_stats_t){0};
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        if (json_error_code(&jerr) == json_error_cannot_open_file) {
            jp_err_set(errstr, errstr_size, "%s", jerr.text);
            return JP_TRANSFER_NO_INPUT;
        }
        jp_err_set(errstr, errstr_size, "%s:%d: not a registry export: %s", path, jerr.line,
                   jerr.text);
        return JP_TRANSFER_BAD_INPUT;
    }
    int rc = check_document(doc, errstr, errstr_size);
    json_t *mode = NULL;
    if (rc == JP_TRANSFER_OK)
        rc = rest(c, "GET", "/mode", NULL, &mode, NULL, errstr, errstr_size);
    const char *previous = json_string_value(json_object_get(mode, "mode"));
    bool switched = false;
    if (rc == JP_TRANSFER_OK && !previous)
        rc = member_string(mode, "mode", "GET /mode", &previous, errstr, errstr_size);
    if (rc == JP_TRANSFER_OK && strcmp(previous, "IMPORT") != 0) {
        char why[512];
        rc = set_mode(c, "IMPORT", why, sizeof(why));
        if (rc != JP_TRANSFER_OK)
            jp_err_set(errstr, errstr_size, "cannot put the target in IMPORT mode: %s", why);
        switched = rc == JP_TRANSFER_OK;
    }
    if (rc == JP_TRANSFER_OK)
        rc = import_subjects(c, doc, stats, errstr, errstr_size);
    if (switched) {
        char why[512];
        int restored = set_mode(c, previous, why, sizeof(why));
        if (restored != JP_TRANSFER_OK && rc == JP_TRANSFER_OK) {
            jp_err_set(errstr, errstr_size, "imported, but the mode %s was not restored: %s",
                       previous, why);
            rc = restored;
        }
    }
    json_decref(mode);
    json_decref(doc);
    return rc;
}
