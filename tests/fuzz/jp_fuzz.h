/*
 * Support shared by the libFuzzer targets of tests/fuzz: the source tree
 * (for real configuration files and schemas), a private scratch directory
 * removed at exit, and writing an input into a file for the loaders that
 * read paths. Every target is built by `make fuzz` (clang, libFuzzer,
 * ASan+UBSan) and run by scripts/fuzz.
 */
#ifndef JP_FUZZ_H
#define JP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The source tree root (compiled in; JACKPOT_SRC overrides). */
const char *jp_fuzz_src(void);

/* A scratch directory for this process (on /dev/shm when there is one, so
 * fsync costs nothing), created on first use and removed at exit. */
const char *jp_fuzz_scratch(void);

/* dir/name under the scratch directory (static buffer, one per call site
 * is enough: callers use it at once). */
const char *jp_fuzz_path(const char *name, char *buf, size_t size);

/* Writes data to path (replacing it); aborts on I/O errors, which are the
 * harness's fault, not the input's. */
void jp_fuzz_write(const char *path, const uint8_t *data, size_t size);

/* A symlink scratch/name -> source/target (for files inputs refer to). */
void jp_fuzz_link(const char *name, const char *target);

/* Lays the scratch directory out like configs/ - countries/, dev-secrets/,
 * plus each extra (name, target) pair of links (NULL-terminated) - and creates the directory subdir
 * for the input; returns the input's path scratch/subdir/file in buf. */
const char *jp_fuzz_configs_layout(const char *const *extra, const char *subdir, const char *file,
                                   char *buf, size_t size);

struct jp_conf_s;
/* Every error a configuration loader collected has a message. */
void jp_fuzz_check_conf_errors(const struct jp_conf_s *c);

/* Aborts with a message: a property the input broke (libFuzzer reports it
 * as a crash and saves the input). */
void jp_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
