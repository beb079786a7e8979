/*
 * jp_devstack: composition only. The registry's event loop runs on a
 * thread of its own (evhttp is single-threaded per base); stopping breaks
 * the loop from the caller's thread, which libevent allows once
 * evthread_use_pthreads has been called.
 */
#include "dev/jp_devstack.h"
#include "model/base/jp_err.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/jp_registry_server.h"
#include "registry/jp_registry_store.h"

struct jp_devstack_s {
    jp_broker_t *broker;
    struct event_base *base;
    jp_registry_store_t *store;
    jp_registry_server_t *server;
    pthread_t thread;
    int running;
    char url[128];
};

static void *registry_loop(void *arg)
{
    jp_devstack_t *d = arg;
    event_base_loop(d->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

jp_devstack_t *jp_devstack_start(const jp_config_t *cfg, int n_brokers, int broker_port,
                                 const char *registry_listen, const char *registry_dir,
                                 char *errstr, size_t errstr_size)
{
    jp_devstack_t *d = calloc(1, sizeof(*d));
    if (!d) {
        jp_err_set(errstr, errstr_size, "out of memory");
        return NULL;
    }
    evthread_use_pthreads();
    d->broker = jp_broker_start(n_brokers, broker_port, errstr, errstr_size);
    if (!d->broker || jp_broker_create_config_topics(d->broker, cfg, errstr, errstr_size) != 0)
        goto fail;
    if (jp_registry_store_open(registry_dir, &d->store, errstr, errstr_size) != 0)
        goto fail;
    d->base = event_base_new();
    if (!d->base)
        goto fail;
    d->server = jp_registry_server_new(d->base, d->store, registry_listen, errstr, errstr_size);
    if (!d->server)
        goto fail;
    snprintf(d->url, sizeof(d->url), "%s", jp_registry_server_url(d->server));
    if (pthread_create(&d->thread, NULL, registry_loop, d) != 0) {
        jp_err_set(errstr, errstr_size, "cannot start the registry thread");
        goto fail;
    }
    d->running = 1;
    return d;
fail:
    jp_devstack_stop(d);
    return NULL;
}

const char *jp_devstack_bootstraps(const jp_devstack_t *d)
{
    return jp_broker_bootstraps(d->broker);
}

const char *jp_devstack_registry_url(const jp_devstack_t *d)
{
    return d->url;
}

jp_broker_t *jp_devstack_broker(jp_devstack_t *d)
{
    return d->broker;
}

int jp_devstack_configure(const jp_devstack_t *d, jp_config_t *cfg)
{
    char *url = strdup(d->url);
    if (!url || jp_conf_props_set(&cfg->kafka, "bootstrap.servers", jp_devstack_bootstraps(d)))
        return free(url), -1;
    free(cfg->schema_registry.url);
    cfg->schema_registry.url = url;
    return 0;
}

void jp_devstack_stop(jp_devstack_t *d)
{
    if (!d)
        return;
    if (d->running) {
        event_base_loopbreak(d->base);
        pthread_join(d->thread, NULL);
    }
    jp_registry_server_free(d->server);
    if (d->base)
        event_base_free(d->base);
    if (d->store)
        jp_registry_store_close(d->store);
    jp_broker_stop(d->broker);
    free(d);
}
