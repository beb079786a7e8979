/*
 * jp_version: runtime library versions. dl_iterate_phdr walks the objects
 * loaded into this process, so the file names printed are the ones in use,
 * not the ones the build saw.
 */
#define _GNU_SOURCE
#include "base/jp_version.h"

#include "base/jp_build_info.h"

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <yaml.h>

#include <jansson.h>
#include <limits.h>
#include <link.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#ifndef JP_ROCKSDB_BUILD_VERSION
#define JP_ROCKSDB_BUILD_VERSION "unknown"
#endif
#ifndef JP_AVRO_BUILD_VERSION
#define JP_AVRO_BUILD_VERSION "unknown"
#endif

typedef struct {
    const char *needle;
    char path[PATH_MAX];
} find_lib_t;

static int find_lib_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    find_lib_t *f = arg;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, f->needle, strlen(f->needle)) == 0) {
        char *real = realpath(info->dlpi_name, NULL);
        snprintf(f->path, sizeof(f->path), "%s", real ? real : info->dlpi_name);
        free(real);
        return 1;
    }
    return 0;
}

/* File name of the loaded shared object whose name starts with prefix. */
static const char *loaded_object(const char *prefix, find_lib_t *f)
{
    f->needle = prefix;
    f->path[0] = '\0';
    dl_iterate_phdr(find_lib_cb, f);
    if (!f->path[0])
        return "statically linked";
    const char *base = strrchr(f->path, '/');
    return base ? base + 1 : f->path;
}

void jp_version_print(FILE *out)
{
    find_lib_t f;
    fprintf(out, "jackpot %s (commit %s)\n", jp_build_version, jp_build_commit);
    fprintf(out, "  librdkafka %s\n", rd_kafka_version_str());
    fprintf(out, "  RocksDB    %s (%s)\n", JP_ROCKSDB_BUILD_VERSION,
            loaded_object("librocksdb.so", &f));
    fprintf(out, "  avro-c     %s (%s)\n", JP_AVRO_BUILD_VERSION, loaded_object("libavro.so", &f));
    fprintf(out, "  libevent   %s\n", event_get_version());
    fprintf(out, "  libyaml    %s\n", yaml_get_version_string());
    fprintf(out, "  jansson    %s\n", jansson_version_str());
    fprintf(out, "  OpenSSL    %s\n", OpenSSL_version(OPENSSL_VERSION));
}
