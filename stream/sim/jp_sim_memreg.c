/*
 * jp_sim_memreg: a linear list of (subject, schema) pairs; the simulator
 * registers a handful of schemas, so a list is the simplest right thing.
 */
#include "sim/jp_sim_memreg.h"
#include "model/base/jp_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *subject, *schema;
} entry_t;

struct jp_sim_memreg_s {
    entry_t *v;
    size_t n;
};

jp_sim_memreg_t *jp_sim_memreg_new(void)
{
    return calloc(1, sizeof(jp_sim_memreg_t));
}

void jp_sim_memreg_free(jp_sim_memreg_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].subject);
        free(r->v[i].schema);
    }
    free(r->v);
    free(r);
}

static jp_serde_err_t lookup(void *ctx, int32_t id, char **json_out, char *errstr,
                             size_t errstr_size)
{
    jp_sim_memreg_t *r = ctx;
    if (id < 1 || (size_t)id > r->n) {
        jp_err_set(errstr, errstr_size, "schema id %d not found", (int)id);
        return JP_SERDE_UNKNOWN_SCHEMA_ID;
    }
    *json_out = strdup(r->v[id - 1].schema);
    if (!*json_out) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_SERDE_NO_MEMORY;
    }
    return JP_SERDE_OK;
}

static jp_serde_err_t reg(void *ctx, const char *subject, const char *schema_json, int32_t *id_out,
                          char *errstr, size_t errstr_size)
{
    jp_sim_memreg_t *r = ctx;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].subject, subject) == 0 && strcmp(r->v[i].schema, schema_json) == 0) {
            *id_out = (int32_t)(i + 1);
            return JP_SERDE_OK;
        }
    entry_t *v = realloc(r->v, (r->n + 1) * sizeof(*v));
    if (!v) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_SERDE_NO_MEMORY;
    }
    r->v = v;
    v[r->n].subject = strdup(subject);
    v[r->n].schema = strdup(schema_json);
    if (!v[r->n].subject || !v[r->n].schema) {
        free(v[r->n].subject);
        free(v[r->n].schema);
        jp_err_set(errstr, errstr_size, "out of memory");
        return JP_SERDE_NO_MEMORY;
    }
    *id_out = (int32_t)++r->n;
    return JP_SERDE_OK;
}

jp_serde_registry_t jp_sim_memreg_registry(jp_sim_memreg_t *r)
{
    return (jp_serde_registry_t){.ctx = r, .lookup_by_id = lookup, .register_schema = reg};
}
