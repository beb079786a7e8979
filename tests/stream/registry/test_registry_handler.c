/*
 * jp_registry_server_handle in-process (no sockets), over a real store:
 * the inputs tests/fuzz/fuzz_registry_http found to break the handler or
 * the store, each kept here as a regression test, and the shape of every
 * reply (status, body, content type; errors in Confluent's form).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/jp_registry_server.h"
#include "registry/jp_registry_store.h"
#include "jp_test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *dir;
    jp_registry_store_t *store;
    jp_registry_server_t *srv;
} handler_t;

static int setup(void **state)
{
    handler_t *h = calloc(1, sizeof(*h));
    h->dir = jp_test_tmpdir("registry-handler");
    char err[256];
    assert_int_equal(jp_registry_store_open(h->dir, &h->store, err, sizeof(err)), 0);
    h->srv = jp_registry_server_new(NULL, h->store, NULL, err, sizeof(err));
    assert_non_null(h->srv);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    handler_t *h = *state;
    jp_registry_server_free(h->srv);
    jp_registry_store_close(h->store);
    jp_test_rmtree(h->dir);
    free(h->dir);
    free(h);
    return 0;
}

/* One request; returns the status, asserting a well-formed reply. */
static int handle(handler_t *h, const char *method, const char *uri, const char *body)
{
    jp_registry_reply_t r;
    assert_int_equal(jp_registry_server_handle(h->srv, method, uri, body ? body : "",
                                               body ? strlen(body) : 0, &r),
                     0);
    assert_non_null(r.body);
    assert_non_null(r.content_type);
    if (r.status >= 400) {
        json_t *j = json_loads(r.body, 0, NULL);
        json_int_t code = json_integer_value(json_object_get(j, "error_code"));
        assert_int_equal(code >= 10000 ? code / 100 : code, r.status);
        assert_non_null(json_string_value(json_object_get(j, "message")));
        json_decref(j);
    }
    free(r.body);
    return r.status;
}

/* URIs libevent's parser refuses are a 404, not a crash (the handler
 * freed the parse result it did not get). */
static void test_unparsable_uri(void **state)
{
    handler_t *h = *state;
    assert_int_equal(handle(h, "GET", "http://[", NULL), 404);
    assert_int_equal(handle(h, "GET", "http://h:99999/subjects", NULL), 404);
    assert_int_equal(handle(h, "POST", "http://[/subjects/s/versions", "{}"), 404);
    assert_int_equal(handle(h, "GET", "/subjects", NULL), 200);
}

/* Methods the routes do not know, and none at all. */
static void test_odd_methods(void **state)
{
    handler_t *h = *state;
    assert_int_equal(handle(h, "PATCH", "/subjects", NULL), 405);
    assert_int_equal(handle(h, "BREW", "/subjects", NULL), 405);
    assert_int_equal(handle(h, "", "/nowhere", NULL), 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unparsable_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_methods, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
