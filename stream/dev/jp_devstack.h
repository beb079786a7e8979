/*
 * jp_devstack: the embedded default in one process - the dev broker and
 * the schema registry (on its own thread) - for `jackpot dev`, benchmarks
 * and integration tests.
 */
#ifndef JP_DEVSTACK_H
#define JP_DEVSTACK_H

#include "dev/jp_broker.h"
#include "config/jp_config.h"

typedef struct jp_devstack_s jp_devstack_t;

/*
 * Starts n_brokers mock brokers from broker_port (0: ephemeral), creates the
 * configured topics, and serves the registry on registry_listen
 * ("127.0.0.1:0" for an ephemeral port) with its data in registry_dir.
 * NULL with errstr.
 */
jp_devstack_t *jp_devstack_start(const jp_config_t *cfg, int n_brokers, int broker_port,
                                 const char *registry_listen, const char *registry_dir,
                                 char *errstr, size_t errstr_size);
const char *jp_devstack_bootstraps(const jp_devstack_t *d);
const char *jp_devstack_registry_url(const jp_devstack_t *d);
jp_broker_t *jp_devstack_broker(jp_devstack_t *d);
void jp_devstack_stop(jp_devstack_t *d);

/* Points cfg (kafka bootstrap.servers, schema_registry.url) at the stack. */
int jp_devstack_configure(const jp_devstack_t *d, jp_config_t *cfg);

#endif
