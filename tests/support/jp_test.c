/*
 * Test support: process spawning with captured output and temp files.
 * Output is captured through temporary files rather than pipes so that a
 * child writing a lot to both streams can never deadlock against us.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *jp_test_bin(void)
{
    const char *b = getenv("JACKPOT_BIN");
    return b ? b : "./build/release/jackpot";
}

const char *jp_test_src(void)
{
    const char *s = getenv("JACKPOT_SRC");
    return s ? s : ".";
}

char *jp_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *jp_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/jp-%s-XXXXXX", base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void jp_test_rmtree(const char *path)
{
    const char *argv[] = {"rm", "-rf", path, NULL};
    jp_test_result_t r = jp_test_run(argv);
    jp_test_result_free(&r);
}

char *jp_test_write_file(const char *dir, const char *name, const char *content)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    assert_non_null(path);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

jp_test_result_t jp_test_run(const char *const argv[])
{
    char out_path[] = "/tmp/jp-test-out-XXXXXX", err_path[] = "/tmp/jp-test-err-XXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    assert_true(out_fd >= 0 && err_fd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    close(out_fd);
    close(err_fd);
    jp_test_result_t r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = jp_test_read_file(out_path, NULL);
    r.err = jp_test_read_file(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    assert_non_null(r.out);
    assert_non_null(r.err);
    return r;
}

void jp_test_result_free(jp_test_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
