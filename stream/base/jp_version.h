/*
 * jp_version: what `jackpot version` prints. Library versions are those of
 * the libraries actually loaded at run time where the library can tell
 * (librdkafka, libevent, libyaml ask the library; RocksDB and avro-c have no
 * version call in their C API, so the loaded shared object's file name is
 * resolved instead, next to the version the build was configured against).
 */
#ifndef JP_VERSION_H
#define JP_VERSION_H

#include <stdio.h>

/* Writes the version block: project version, git commit, linked libraries. */
void jp_version_print(FILE *out);

#endif
