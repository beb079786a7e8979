/*
 * jp_registry_client against the real registry server running in-process
 * on a thread, and against a scripted evhttp server that misbehaves on
 * purpose (5xx, silence, counting attempts, checking headers), so the
 * client's result codes, retry policy, timeouts, Basic auth and URL prefix
 * are observed from the server side rather than assumed.
 *
 * Label: integration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/jp_registry_client.h"
#include "registry/jp_registry_server.h"
#include "registry/jp_registry_store.h"
#include "jp_test.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An event loop on its own thread; stopped with a thread-safe loopbreak. */
typedef struct {
    struct event_base *base;
    pthread_t thread;
} bg_loop_t;

static void *bg_run(void *arg)
{
    bg_loop_t *l = arg;
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void bg_start(bg_loop_t *l)
{
    assert_int_equal(pthread_create(&l->thread, NULL, bg_run, l), 0);
}

static void bg_stop(bg_loop_t *l)
{
    event_base_loopbreak(l->base);
    pthread_join(l->thread, NULL);
}

/* ---- the real server ----------------------------------------------------- */

typedef struct {
    char *dir;
    jp_registry_store_t *store;
    jp_registry_server_t *srv;
    bg_loop_t loop;
} real_t;

static int real_setup(void **state)
{
    real_t *r = calloc(1, sizeof(*r));
    char err[256];
    r->dir = jp_test_tmpdir("regclient");
    assert_int_equal(jp_registry_store_open(r->dir, &r->store, err, sizeof(err)), 0);
    r->loop.base = event_base_new();
    r->srv = jp_registry_server_new(r->loop.base, r->store, "127.0.0.1:0", err, sizeof(err));
    assert_non_null(r->srv);
    bg_start(&r->loop);
    *state = r;
    return 0;
}

static int real_teardown(void **state)
{
    real_t *r = *state;
    bg_stop(&r->loop);
    jp_registry_server_free(r->srv);
    event_base_free(r->loop.base);
    jp_registry_store_close(r->store);
    jp_test_rmtree(r->dir);
    free(r->dir);
    free(r);
    return 0;
}

#define REC_V1 "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"
#define REC_V2_BAD                                                                                 \
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"           \
    "{\"name\":\"b\",\"type\":\"int\"}]}"

static void test_client_against_registry(void **state)
{
    real_t *r = *state;
    char err[512];
    jp_registry_client_t *c =
        jp_registry_client_new(jp_registry_server_url(r->srv), err, sizeof(err));
    assert_non_null(c);
    int32_t id = 0, again = 0;
    assert_int_equal(jp_registry_client_register(c, "orders-value", REC_V1, &id, err, sizeof(err)),
                     JP_REGISTRY_OK);
    assert_int_equal(id, 1);
    assert_int_equal(
        jp_registry_client_register(c, "orders-value", REC_V1, &again, err, sizeof(err)),
        JP_REGISTRY_OK);
    assert_int_equal(again, id);
    /* Subjects needing escapes reach the server intact. */
    assert_int_equal(
        jp_registry_client_register(c, "a b/c?d", "\"string\"", &again, err, sizeof(err)),
        JP_REGISTRY_OK);
    assert_int_equal(again, 2);
    const char *text;
    assert_int_equal(jp_registry_store_schema_by_id(r->store, 2, &text, err, sizeof(err)), 0);
    jp_registry_version_t v;
    assert_int_equal(jp_registry_store_get_version(r->store, "a b/c?d", JP_REGISTRY_VERSION_LATEST,
                                                   false, &v, err, sizeof(err)),
                     0);

    char *schema = NULL;
    assert_int_equal(jp_registry_client_get_schema(c, id, &schema, err, sizeof(err)),
                     JP_REGISTRY_OK);
    assert_string_equal(schema, REC_V1);
    free(schema);
    assert_int_equal(jp_registry_client_get_schema(c, 42, &schema, err, sizeof(err)),
                     JP_REGISTRY_NOT_FOUND);
    assert_null(schema);
    assert_non_null(strstr(err, "40403"));

    assert_int_equal(
        jp_registry_client_register(c, "orders-value", REC_V2_BAD, &again, err, sizeof(err)),
        JP_REGISTRY_INCOMPATIBLE);
    assert_non_null(strstr(err, "incompatible"));
    assert_int_equal(jp_registry_client_register(c, "orders-value", "{\"type\":\"nope\"}", &again,
                                                 err, sizeof(err)),
                     JP_REGISTRY_ERROR);
    assert_non_null(strstr(err, "42201"));

    /* The raw request returns any status as an answer. */
    int status;
    char *body;
    assert_int_equal(jp_registry_client_request(c, "GET", "/subjects/none/versions", NULL, &status,
                                                &body, err, sizeof(err)),
                     JP_REGISTRY_OK);
    assert_int_equal(status, 404);
    assert_non_null(strstr(body, "40401"));
    free(body);
    assert_int_equal(
        jp_registry_client_request(c, "PATCH", "/", NULL, &status, NULL, err, sizeof(err)),
        JP_REGISTRY_ERROR);

    /* The registry restarts on the same port: the client's kept-alive
     * connection is dead, and the next call must still succeed. */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", jp_registry_server_port(r->srv));
    bg_stop(&r->loop);
    jp_registry_server_free(r->srv);
    r->srv = jp_registry_server_new(r->loop.base, r->store, listen, err, sizeof(err));
    assert_non_null(r->srv);
    bg_start(&r->loop);
    assert_int_equal(jp_registry_client_get_schema(c, id, &schema, err, sizeof(err)),
                     JP_REGISTRY_OK);
    assert_string_equal(schema, REC_V1);
    free(schema);
    jp_registry_client_free(c);
}

/* ---- a scripted server --------------------------------------------------- */

typedef enum { FAKE_503_THEN_OK, FAKE_404, FAKE_SILENT } fake_mode_t;

typedef struct {
    bg_loop_t loop;
    struct evhttp *http;
    int port;
    fake_mode_t mode;
    int fail_first; /* FAKE_503_THEN_OK: replies 503 this many times */
    atomic_int requests;
    char last_uri[256];
    char last_auth[128];
} fake_t;

static void fake_cb(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    int n = atomic_fetch_add(&f->requests, 1);
    snprintf(f->last_uri, sizeof(f->last_uri), "%s", evhttp_request_get_uri(req));
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    snprintf(f->last_auth, sizeof(f->last_auth), "%s", auth ? auth : "");
    struct evbuffer *out = evbuffer_new();
    switch (f->mode) {
    case FAKE_SILENT:
        break; /* never answer: the client must time out */
    case FAKE_404:
        evbuffer_add_printf(out, "{\"error_code\":40403,\"message\":\"Schema not found\"}");
        evhttp_send_reply(req, 404, "Not Found", out);
        break;
    case FAKE_503_THEN_OK:
        if (n < f->fail_first) {
            evbuffer_add_printf(out, "{\"error_code\":50001,\"message\":\"busy\"}");
            evhttp_send_reply(req, 503, "Unavailable", out);
        } else {
            evbuffer_add_printf(out, "{\"schema\":\"\\\"int\\\"\"}");
            evhttp_send_reply(req, 200, "OK", out);
        }
        break;
    }
    evbuffer_free(out);
}

static fake_t *fake_start(fake_mode_t mode, int fail_first)
{
    fake_t *f = calloc(1, sizeof(*f));
    f->mode = mode;
    f->fail_first = fail_first;
    f->loop.base = event_base_new();
    f->http = evhttp_new(f->loop.base);
    evhttp_set_gencb(f->http, fake_cb, f);
    struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
    assert_non_null(b);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &sl), 0);
    f->port = ntohs(sa.sin_port);
    bg_start(&f->loop);
    return f;
}

static void fake_stop(fake_t *f)
{
    bg_stop(&f->loop);
    evhttp_free(f->http);
    event_base_free(f->loop.base);
    free(f);
}

/* http://[userinfo@]127.0.0.1:port[path] */
static jp_registry_client_t *client_for(const char *userinfo, int port, const char *path)
{
    char url[256], err[256];
    snprintf(url, sizeof(url), "http://%s%s127.0.0.1:%d%s", userinfo ? userinfo : "",
             userinfo ? "@" : "", port, path ? path : "");
    jp_registry_client_t *c = jp_registry_client_new(url, err, sizeof(err));
    assert_non_null(c);
    jp_registry_client_set_retry(c, 3, 5);
    return c;
}

static void test_retries_5xx_with_backoff(void **state)
{
    (void)state;
    char err[512], *schema = NULL;
    /* Two 503s then success: the third attempt answers. */
    fake_t *f = fake_start(FAKE_503_THEN_OK, 2);
    jp_registry_client_t *c = client_for(NULL, f->port, NULL);
    assert_int_equal(jp_registry_client_get_schema(c, 7, &schema, err, sizeof(err)),
                     JP_REGISTRY_OK);
    assert_string_equal(schema, "\"int\"");
    free(schema);
    assert_int_equal(atomic_load(&f->requests), 3);
    assert_string_equal(f->last_uri, "/schemas/ids/7");
    jp_registry_client_free(c);
    fake_stop(f);

    /* More failures than attempts: UNAVAILABLE after exactly 3 tries. */
    f = fake_start(FAKE_503_THEN_OK, 100);
    c = client_for(NULL, f->port, NULL);
    assert_int_equal(jp_registry_client_get_schema(c, 7, &schema, err, sizeof(err)),
                     JP_REGISTRY_UNAVAILABLE);
    assert_int_equal(atomic_load(&f->requests), 3);
    jp_registry_client_set_retry(c, 1, 0);
    assert_int_equal(jp_registry_client_get_schema(c, 7, &schema, err, sizeof(err)),
                     JP_REGISTRY_UNAVAILABLE);
    assert_int_equal(atomic_load(&f->requests), 4);
    jp_registry_client_free(c);
    fake_stop(f);

    /* A 404 is an answer: not retried, NOT_FOUND. */
    f = fake_start(FAKE_404, 0);
    c = client_for(NULL, f->port, NULL);
    assert_int_equal(jp_registry_client_get_schema(c, 9, &schema, err, sizeof(err)),
                     JP_REGISTRY_NOT_FOUND);
    assert_int_equal(atomic_load(&f->requests), 1);
    jp_registry_client_free(c);
    fake_stop(f);
}

static void test_unreachable_and_timeout(void **state)
{
    (void)state;
    char err[512], *schema = NULL;
    /* A port nobody listens on: take a free one and close it. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
    close(s);
    jp_registry_client_t *c = client_for(NULL, ntohs(sa.sin_port), NULL);
    int32_t id;
    assert_int_equal(jp_registry_client_get_schema(c, 1, &schema, err, sizeof(err)),
                     JP_REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(err, "3 attempts"));
    assert_int_equal(jp_registry_client_register(c, "s", "\"int\"", &id, err, sizeof(err)),
                     JP_REGISTRY_UNAVAILABLE);
    jp_registry_client_free(c);

    /* A server that never answers: each attempt times out. */
    fake_t *f = fake_start(FAKE_SILENT, 0);
    c = client_for(NULL, f->port, NULL);
    jp_registry_client_set_retry(c, 2, 1);
    jp_registry_client_set_timeout(c, 200);
    assert_int_equal(jp_registry_client_get_schema(c, 1, &schema, err, sizeof(err)),
                     JP_REGISTRY_UNAVAILABLE);
    assert_non_null(strstr(err, "timed out"));
    assert_int_equal(atomic_load(&f->requests), 2);
    jp_registry_client_free(c);
    fake_stop(f);
}

static void test_url_auth_and_prefix(void **state)
{
    (void)state;
    char err[512], *schema = NULL;
    fake_t *f = fake_start(FAKE_503_THEN_OK, 0);
    jp_registry_client_t *c = client_for("user:p%40ss", f->port, "/registry/");
    assert_int_equal(jp_registry_client_get_schema(c, 3, &schema, err, sizeof(err)),
                     JP_REGISTRY_OK);
    free(schema);
    assert_string_equal(f->last_uri, "/registry/schemas/ids/3");
    /* base64("user:p@ss") */
    assert_string_equal(f->last_auth, "Basic dXNlcjpwQHNz");
    jp_registry_client_free(c);
    fake_stop(f);

    assert_null(jp_registry_client_new("https://127.0.0.1:1", err, sizeof(err)));
    assert_non_null(strstr(err, "https"));
    assert_null(jp_registry_client_new("ftp://x", err, sizeof(err)));
    assert_null(jp_registry_client_new("not a url", err, sizeof(err)));
    assert_string_equal(jp_registry_result_name(JP_REGISTRY_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(jp_registry_result_name(JP_REGISTRY_UNAVAILABLE), "UNAVAILABLE");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads(); /* loopbreak from the test thread */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_against_registry, real_setup, real_teardown),
        cmocka_unit_test(test_retries_5xx_with_backoff),
        cmocka_unit_test(test_unreachable_and_timeout),
        cmocka_unit_test(test_url_auth_and_prefix),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    libevent_global_shutdown();
    return rc;
}
