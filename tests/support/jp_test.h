/*
 * Test support shared by the cmocka programs: temporary directories, files,
 * and running the jackpot binary (or any command) with its output captured.
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <cmocka.h>.
 */
#ifndef JP_TEST_H
#define JP_TEST_H

#include <stddef.h>

/* Result of jp_test_run: exit status and captured output (NUL-terminated,
 * owned by the caller, release with jp_test_result_free). */
typedef struct jp_test_result_s {
    int status; /* exit code, or 128+signal */
    char *out;  /* stdout */
    char *err;  /* stderr */
} jp_test_result_t;

/* Runs argv (argv[0] looked up in PATH unless it has a slash) with stdin
 * from /dev/null; waits for it. Aborts the test on spawn failure. */
jp_test_result_t jp_test_run(const char *const argv[]);
void jp_test_result_free(jp_test_result_t *r);

/* Path of the jackpot binary under test (env JACKPOT_BIN). */
const char *jp_test_bin(void);
/* Source tree root (env JACKPOT_SRC, default "."). */
const char *jp_test_src(void);

/* Creates a fresh directory under $TMPDIR; returns a malloc'd path. */
char *jp_test_tmpdir(const char *tag);
/* Removes a directory tree (rm -rf). */
void jp_test_rmtree(const char *path);
/* Writes content to dir/name; returns the malloc'd path. */
char *jp_test_write_file(const char *dir, const char *name, const char *content);
/* Reads a whole file; NULL if it cannot be read. */
char *jp_test_read_file(const char *path, size_t *len);

#endif
