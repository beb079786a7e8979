/*
 * Test support: `jackpot registry` as a subprocess, driven over real HTTP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_registry.h"
#include "jp_test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- server process ------------------------------------------------------ */

/* Starts the registry on dir; 0 with url/pid set, or -1 if it exited before
 * announcing itself (its exit status in *status). */
int jp_test_registry_start(jp_test_registry_t *f, int *status)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        char errpath[1024];
        snprintf(errpath, sizeof(errpath), "%s/server.err", f->dir);
        int efd = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (efd >= 0) {
            dup2(efd, 2);
            close(efd);
        }
        close(fds[0]);
        close(fds[1]);
        const char *argv[32];
        size_t n = 0;
        char *wrap = getenv("JP_TEST_WRAPPER") ? strdup(getenv("JP_TEST_WRAPPER")) : NULL;
        for (char *tok = wrap ? strtok(wrap, " ") : NULL; tok && n < 24; tok = strtok(NULL, " "))
            argv[n++] = tok;
        argv[n++] = jp_test_bin();
        argv[n++] = "registry";
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        argv[n++] = "--data";
        argv[n++] = f->dir;
        argv[n] = NULL;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[256];
    size_t len = 0;
    struct pollfd p = {fds[0], POLLIN, 0};
    while (len < sizeof(line) - 1 && poll(&p, 1, 60000) == 1) {
        ssize_t r = read(fds[0], line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(fds[0]);
    if (sscanf(line, "listening on %127s", f->url) != 1) {
        int st;
        waitpid(pid, &st, 0);
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return -1;
    }
    f->pid = pid;
    assert_int_equal(sscanf(strrchr(f->url, ':') + 1, "%d", &f->port), 1);
    char err[256];
    f->cli = jp_registry_client_new(f->url, err, sizeof(err));
    assert_non_null(f->cli);
    return 0;
}

/* SIGTERM and assert a clean exit (0), which also checks the wrapper. */
void jp_test_registry_stop(jp_test_registry_t *f)
{
    jp_registry_client_free(f->cli);
    f->cli = NULL;
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

void jp_test_registry_restart(jp_test_registry_t *f)
{
    jp_test_registry_stop(f);
    int status;
    assert_int_equal(jp_test_registry_start(f, &status), 0);
}

int jp_test_registry_setup(void **state)
{
    jp_test_registry_t *f = calloc(1, sizeof(*f));
    f->dir = jp_test_tmpdir("registry");
    int status;
    assert_int_equal(jp_test_registry_start(f, &status), 0);
    *state = f;
    return 0;
}

int jp_test_registry_teardown(void **state)
{
    jp_test_registry_t *f = *state;
    if (f->cli)
        jp_test_registry_stop(f);
    jp_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- requests ------------------------------------------------------------ */

/* One request; returns the reply parsed as JSON (NULL if not JSON). */
json_t *jp_test_registry_call(jp_test_registry_t *f, const char *method, const char *path,
                              const char *body, int *status)
{
    char err[512], *reply = NULL;
    int rc =
        jp_registry_client_request(f->cli, method, path, body, status, &reply, err, sizeof(err));
    if (rc)
        fail_msg("%s %s: %s", method, path, err);
    json_t *j = reply ? json_loads(reply, JSON_DECODE_ANY, NULL) : NULL;
    free(reply);
    return j;
}

/* {"schema": schema} */
char *jp_test_registry_schema_body(const char *schema)
{
    json_t *o = json_pack("{s:s}", "schema", schema);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void jp_test_registry_expect_error(jp_test_registry_t *f, const char *method, const char *path,
                                   const char *body, int http, int code)
{
    int status;
    json_t *j = jp_test_registry_call(f, method, path, body, &status);
    if (status != http || json_integer_value(json_object_get(j, "error_code")) != code) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("%s %s: expected %d/%d, got %d %s", method, path, http, code, status,
                 dump ? dump : "(not JSON)");
    }
    assert_non_null(json_string_value(json_object_get(j, "message")));
    json_decref(j);
}

/* Registers; returns the id, asserting HTTP 200. */
int jp_test_registry_register(jp_test_registry_t *f, const char *subject, const char *schema)
{
    char path[256];
    snprintf(path, sizeof(path), "/subjects/%s/versions", subject);
    char *body = jp_test_registry_schema_body(schema);
    int status;
    json_t *j = jp_test_registry_call(f, "POST", path, body, &status);
    free(body);
    if (status != 200) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("register %s: HTTP %d %s", subject, status, dump ? dump : "");
    }
    int id = (int)json_integer_value(json_object_get(j, "id"));
    assert_true(id > 0);
    json_decref(j);
    return id;
}

/* GET expecting 200; returns the JSON (caller decrefs). */
json_t *jp_test_registry_get(jp_test_registry_t *f, const char *path)
{
    int status;
    json_t *j = jp_test_registry_call(f, "GET", path, NULL, &status);
    if (status != 200)
        fail_msg("GET %s: HTTP %d", path, status);
    assert_non_null(j);
    return j;
}

/* Asserts that a JSON array holds exactly the integers given. */
void jp_test_assert_int_list(json_t *a, size_t n, const int *want)
{
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_array_get(a, i)), want[i]);
}

void jp_test_append_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "a");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}
