/*
 * jp_registry_serde: plugs the registry client into serde's registry hooks.
 * serde knows schemas and framing only; this is the one place that maps the
 * client's result codes onto serde's, so serde never links HTTP.
 */
#include "registry/jp_registry_serde.h"

static jp_serde_err_t client_lookup(void *ctx, int32_t id, char **json_out, char *errstr,
                                    size_t errstr_size)
{
    int rc = jp_registry_client_get_schema(ctx, id, json_out, errstr, errstr_size);
    return rc == JP_REGISTRY_OK          ? JP_SERDE_OK
           : rc == JP_REGISTRY_NOT_FOUND ? JP_SERDE_UNKNOWN_SCHEMA_ID
           : rc == JP_REGISTRY_ERROR     ? JP_SERDE_UNKNOWN_SCHEMA_ID
                                         : JP_SERDE_REGISTRY_UNAVAILABLE;
}

static jp_serde_err_t client_register(void *ctx, const char *subject, const char *json,
                                      int32_t *id_out, char *errstr, size_t errstr_size)
{
    int rc = jp_registry_client_register(ctx, subject, json, id_out, errstr, errstr_size);
    return rc == JP_REGISTRY_OK             ? JP_SERDE_OK
           : rc == JP_REGISTRY_INCOMPATIBLE ? JP_SERDE_INCOMPATIBLE
           : rc == JP_REGISTRY_UNAVAILABLE  ? JP_SERDE_REGISTRY_UNAVAILABLE
                                            : JP_SERDE_INVALID;
}

jp_serde_registry_t jp_serde_registry_client(jp_registry_client_t *client)
{
    return (jp_serde_registry_t){client, client_lookup, client_register};
}
