/*
 * jp_registry_serde: the adapter that lets jp_serde look schemas up in, and
 * register them with, a schema registry through jp_registry_client.
 */
#ifndef JP_REGISTRY_SERDE_H
#define JP_REGISTRY_SERDE_H

#include "registry/jp_registry_client.h"
#include "serde/jp_serde.h"

/* serde's registry hooks over client (ctx is the client, owned by the
 * caller; it must outlive the serde that uses the hooks). */
jp_serde_registry_t jp_serde_registry_client(jp_registry_client_t *client);

#endif
