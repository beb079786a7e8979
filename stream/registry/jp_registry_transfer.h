/*
 * jp_registry_transfer: moving schemas between Confluent-compatible
 * registries (`jackpot registry export|import`), e.g. mirroring production's
 * schema ids into a dev registry.
 *
 * Contract:
 * - Export reads the source through the classic REST endpoints every
 *   registry serves (GET /config, /subjects, /subjects/{s}/versions[/{v}],
 *   /config/{s}) and writes one JSON document:
 *     {"format": "jackpot-registry-export", "format_version": 1,
 *      "compatibility": "BACKWARD",
 *      "subjects": [{"subject": "s", "compatibility"?: "FULL",
 *                    "versions": [{"version": 1, "id": 7, "schema": "...",
 *                                  "schemaType"?: ..., "references"?: [...]}]}]}
 *   Subjects in the source's order (sorted), versions ascending; live
 *   versions only (soft-deleted ones are not exported). No URL or
 *   credential is written into the document.
 * - Import puts the target in IMPORT mode (global) unless it already is,
 *   which Confluent and this registry allow only on a registry without live
 *   subjects; sets the global and subject compatibility levels; registers
 *   every version with its id and version number, checking the id the
 *   target answers; and restores the target's previous mode afterwards,
 *   also when the import fails part-way (what was imported stays).
 * - Re-importing a document into a target still in IMPORT mode is
 *   idempotent.
 */
#ifndef JP_REGISTRY_TRANSFER_H
#define JP_REGISTRY_TRANSFER_H

#include "registry/jp_registry_client.h"

#include <stddef.h>

typedef enum {
    JP_TRANSFER_OK = 0,
    JP_TRANSFER_UNAVAILABLE = -1, /* the registry could not be reached */
    JP_TRANSFER_REFUSED = -2,     /* the registry answered with an error or nonsense */
    JP_TRANSFER_BAD_INPUT = -3,   /* the document is not an export */
    JP_TRANSFER_NO_INPUT = -4,    /* the file cannot be read */
} jp_transfer_result_t;

typedef struct jp_transfer_stats_s {
    size_t subjects, versions, ids;
} jp_transfer_stats_t;

/* Exports the registry behind c: *json_out (malloc'd, ends with a newline).
 * OK, UNAVAILABLE or REFUSED with the reason in errstr. */
int jp_registry_export(jp_registry_client_t *c, char **json_out, jp_transfer_stats_t *stats,
                       char *errstr, size_t errstr_size);

/* Imports the file at path (a document made by jp_registry_export) into
 * the registry behind c. OK, UNAVAILABLE, REFUSED, BAD_INPUT (with
 * file:line for JSON errors) or NO_INPUT, with the reason in errstr (naming
 * the subject and version that failed). */
int jp_registry_import(jp_registry_client_t *c, const char *path, jp_transfer_stats_t *stats,
                       char *errstr, size_t errstr_size);

#endif
