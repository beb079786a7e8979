/*
 * Test support for `jackpot registry` over real HTTP: the binary runs as a
 * subprocess on an ephemeral port (its first stdout line gives the URL; its
 * stderr goes to DIR/server.err so tests can read its warnings), and
 * requests go through jp_registry_client. Shared by the registry tests.
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <cmocka.h>.
 *
 * Set JP_TEST_WRAPPER (e.g. "valgrind --leak-check=full --error-exitcode=1")
 * to run the server under a wrapper; the server's exit status is asserted,
 * so wrapper-reported errors fail the test.
 */
#ifndef JP_TEST_REGISTRY_H
#define JP_TEST_REGISTRY_H

#include "registry/jp_registry_client.h"

#include <jansson.h>
#include <sys/types.h>

typedef struct jp_test_registry_s {
    char *dir; /* data directory (DIR/registry.log, DIR/server.err) */
    pid_t pid;
    char url[128];
    int port;
    jp_registry_client_t *cli;
} jp_test_registry_t;

/* Starts the registry on f->dir; 0 with url/pid/cli set, or -1 if it exited
 * before announcing itself (its exit status in *status). */
int jp_test_registry_start(jp_test_registry_t *f, int *status);
/* SIGTERM and assert a clean exit (0), which also checks the wrapper. */
void jp_test_registry_stop(jp_test_registry_t *f);
void jp_test_registry_restart(jp_test_registry_t *f);

/* cmocka setup/teardown: a fresh data directory and a running registry in
 * *state (a jp_test_registry_t). */
int jp_test_registry_setup(void **state);
int jp_test_registry_teardown(void **state);

/* One request; the reply parsed as JSON (NULL if not JSON). */
json_t *jp_test_registry_call(jp_test_registry_t *f, const char *method, const char *path,
                              const char *body, int *status);
/* Asserts an error reply {"error_code": code, "message": ...} with status. */
void jp_test_registry_expect_error(jp_test_registry_t *f, const char *method, const char *path,
                                   const char *body, int http, int code);
/* GET expecting 200; the JSON (caller decrefs). */
json_t *jp_test_registry_get(jp_test_registry_t *f, const char *path);
/* {"schema": schema} (malloc'd). */
char *jp_test_registry_schema_body(const char *schema);
/* Registers under subject (already percent-encoded); the id, asserting 200. */
int jp_test_registry_register(jp_test_registry_t *f, const char *subject, const char *schema);

/* Asserts that a JSON array holds exactly the integers given. */
void jp_test_assert_int_list(json_t *a, size_t n, const int *want);
/* Appends text to a file. */
void jp_test_append_file(const char *path, const char *text);

#endif
