/*
 * jp_topics: derived topic names. The changelog store list and the
 * repartition topic are the contract between the engine (which writes and
 * reads them) and whoever creates topics ahead of it (the dev broker, a
 * deployment's topic init job).
 */
#include "config/jp_topics.h"

#include <stdio.h>

#include "model/base/jp_partitioner.h"

const char *const jp_topics_changelog_stores[] = {"meta",   "windows", "customers", "dedupe",
                                                  "models", "ledger",  "alerts"};
const size_t jp_topics_n_changelog_stores =
    sizeof(jp_topics_changelog_stores) / sizeof(jp_topics_changelog_stores[0]);

void jp_topics_changelog(const jp_config_t *cfg, const char *store, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s-changelog", cfg->topics.changelog_prefix, store);
}

void jp_topics_dlq(const jp_config_t *cfg, const char *input, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", input, cfg->topics.dlq_suffix);
}

int jp_topics_repartition(const jp_config_t *cfg, char *buf, size_t size)
{
    if (cfg->topics.input_partitioner == JP_PARTITIONER_ANY ||
        cfg->topics.mispartitioned != JP_MISPARTITIONED_REPARTITION) {
        if (size)
            buf[0] = '\0';
        return 0;
    }
    const char *group = jp_config_kafka_get(cfg, "group.id");
    snprintf(buf, size, "%s%s-repartition", cfg->topics.changelog_prefix, group ? group : "");
    return 1;
}
