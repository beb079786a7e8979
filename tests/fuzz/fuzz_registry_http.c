/*
 * Fuzz target: the embedded registry's request handling
 * (jp_registry_server_handle, the same function the evhttp callback calls)
 * over a real store in a scratch directory, and the store's log replay.
 *
 * Input: a script, one request per line: "METHOD URI BODY" (BODY is the
 * rest of the line, may be empty); at most 64 requests. Each input starts
 * from an empty registry. Properties besides "no crash, no leak, no UB":
 *   - every reply has a status and a body, and error replies are
 *     {"error_code", "message"} with a matching HTTP status;
 *   - reopening the store (replaying the log the requests wrote) rebuilds
 *     exactly what the registry answered before: every subject, version,
 *     id, schema, level and mode.
 */
#include "jp_fuzz.h"

#include "registry/jp_registry_server.h"
#include "registry/jp_registry_store.h"

#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REQUESTS 64

static char dir[512], log_path[600];

static void check_reply(const jp_registry_reply_t *r)
{
    if (r->status < 200 || r->status > 599 || !r->body || !r->content_type)
        jp_fuzz_fail("reply without a status, body or content type");
    if (r->status < 400)
        return;
    json_t *j = json_loads(r->body, 0, NULL);
    json_int_t code = json_integer_value(json_object_get(j, "error_code"));
    if (!json_string_value(json_object_get(j, "message")) ||
        (code >= 10000 ? code / 100 : code) != r->status)
        jp_fuzz_fail("error reply %d is not Confluent's shape: %s", r->status, r->body);
    json_decref(j);
}

typedef struct {
    char *text;
    size_t len, cap;
} buf_t;

/* GET uri, appending the reply to b; returns the reply parsed as JSON. */
static json_t *read_into(jp_registry_server_t *srv, const char *uri, buf_t *b)
{
    jp_registry_reply_t r;
    if (jp_registry_server_handle(srv, "GET", uri, "", 0, &r) != 0)
        jp_fuzz_fail("out of memory");
    while (b->len + r.body_len + 2 > b->cap)
        b->text = realloc(b->text, b->cap = b->cap ? b->cap * 2 : 4096);
    memcpy(b->text + b->len, r.body, r.body_len);
    b->len += r.body_len;
    b->text[b->len++] = '\n';
    b->text[b->len] = '\0';
    json_t *j = json_loads(r.body, 0, NULL);
    free(r.body);
    return j;
}

/* Everything a client can read back, as one string (malloc'd). */
static char *snapshot(jp_registry_server_t *srv)
{
    buf_t b = {0};
    json_decref(read_into(srv, "/schemas?deleted=true", &b));
    json_decref(read_into(srv, "/config", &b));
    json_decref(read_into(srv, "/mode", &b));
    json_t *subjects = read_into(srv, "/subjects?deleted=true", &b);
    size_t k;
    json_t *name;
    json_array_foreach(subjects, k, name)
    {
        char *esc = evhttp_encode_uri(json_string_value(name));
        char uri[16384];
        snprintf(uri, sizeof(uri), "/config/%s", esc);
        json_decref(read_into(srv, uri, &b));
        snprintf(uri, sizeof(uri), "/mode/%s", esc);
        json_decref(read_into(srv, uri, &b));
        free(esc);
    }
    json_decref(subjects);
    return b.text;
}

static jp_registry_store_t *open_store(void)
{
    jp_registry_store_t *st;
    char err[512];
    if (jp_registry_store_open(dir, &st, err, sizeof(err)) != 0)
        jp_fuzz_fail("the registry cannot reopen its own log: %s", err);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        jp_fuzz_path("registry", dir, sizeof(dir));
        snprintf(log_path, sizeof(log_path), "%s/registry.log", dir);
    }
    unlink(log_path);
    jp_registry_store_t *st = open_store();
    char err[256];
    jp_registry_server_t *srv = jp_registry_server_new(NULL, st, NULL, err, sizeof(err));
    if (!srv)
        jp_fuzz_fail("jp_registry_server_new: %s", err);

    char *script = strndup((const char *)data, size); /* stops at a NUL, like a line would */
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(script, "\n", &save); line && n < MAX_REQUESTS;
         line = strtok_r(NULL, "\n", &save), n++) {
        char *uri = strchr(line, ' ');
        if (!uri)
            continue;
        *uri++ = '\0';
        char *body = strchr(uri, ' ');
        if (body)
            *body++ = '\0';
        jp_registry_reply_t r;
        if (jp_registry_server_handle(srv, line, uri, body ? body : "", body ? strlen(body) : 0,
                                      &r) != 0)
            jp_fuzz_fail("out of memory");
        check_reply(&r);
        free(r.body);
    }
    free(script);

    char *before = snapshot(srv);
    jp_registry_server_free(srv);
    jp_registry_store_close(st);
    st = open_store();
    srv = jp_registry_server_new(NULL, st, NULL, err, sizeof(err));
    char *after = snapshot(srv);
    if (strcmp(before, after) != 0)
        jp_fuzz_fail("replay rebuilt another registry:\nbefore:\n%s\nafter:\n%s", before, after);
    free(before);
    free(after);
    jp_registry_server_free(srv);
    jp_registry_store_close(st);
    return 0;
}
