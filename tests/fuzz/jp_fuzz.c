/*
 * jp_fuzz: the harness side of the fuzz targets. Nothing here depends on
 * the input, so a crash is always in the code under test (or a property
 * it broke, reported through jp_fuzz_fail).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "jp_fuzz.h"

#include "config/jp_conf.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];

const char *jp_fuzz_src(void)
{
    const char *s = getenv("JACKPOT_SRC");
    return s && *s ? s : JP_FUZZ_SOURCE_DIR;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *jp_fuzz_scratch(void)
{
    if (scratch[0])
        return scratch;
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof(scratch), "%s/jp-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch))
        jp_fuzz_fail("cannot create a scratch directory under %s", base);
    atexit(remove_scratch);
    return scratch;
}

const char *jp_fuzz_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", jp_fuzz_scratch(), name);
    return buf;
}

void jp_fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        jp_fuzz_fail("cannot write %s", path);
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            jp_fuzz_fail("cannot write %s", path);
        done += (size_t)w;
    }
    close(fd);
}

void jp_fuzz_link(const char *name, const char *target)
{
    char link[512], dest[512];
    jp_fuzz_path(name, link, sizeof(link));
    snprintf(dest, sizeof(dest), "%s/%s", jp_fuzz_src(), target);
    if (symlink(dest, link) != 0)
        jp_fuzz_fail("cannot link %s to %s", link, dest);
}

const char *jp_fuzz_configs_layout(const char *const *extra, const char *subdir, const char *file,
                                   char *buf, size_t size)
{
    jp_fuzz_link("countries", "configs/countries");
    jp_fuzz_link("dev-secrets", "configs/dev-secrets");
    for (size_t i = 0; extra && extra[i]; i += 2)
        jp_fuzz_link(extra[i], extra[i + 1]);
    char dir[512];
    if (mkdir(jp_fuzz_path(subdir, dir, sizeof(dir)), 0755) != 0)
        jp_fuzz_fail("cannot create %s", dir);
    snprintf(buf, size, "%s/%s", dir, file);
    return buf;
}

void jp_fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("jp_fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void jp_fuzz_check_conf_errors(const struct jp_conf_s *c)
{
    for (size_t i = 0; i < c->n_errors; i++)
        if (!c->errors[i] || !c->errors[i][0])
            jp_fuzz_fail("a configuration error without a message");
}
