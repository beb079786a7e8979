/*
 * jp_topics: the names of the topics a deployment uses that are derived
 * rather than configured one by one - dead-letter, changelog and
 * repartition topics -
 * so that the engine, the dev broker (which creates them) and operators'
 * tooling agree on them from the configuration alone.
 */
#ifndef JP_TOPICS_H
#define JP_TOPICS_H

#include <stddef.h>

#include "config/jp_config.h"

/* The state stores that have a compacted changelog topic, one partition per
 * task. The engine's column families of the same names are the stores. */
extern const char *const jp_topics_changelog_stores[];
extern const size_t jp_topics_n_changelog_stores;

/* "<topics.changelog_prefix><store>-changelog". */
void jp_topics_changelog(const jp_config_t *cfg, const char *store, char *buf, size_t size);
/* "<input topic><topics.dlq_suffix>". */
void jp_topics_dlq(const jp_config_t *cfg, const char *input, char *buf, size_t size);
/* "<topics.changelog_prefix><kafka group.id>-repartition" and 1 when the
 * engine routes mispartitioned records through it (input_partitioner not
 * any, mispartitioned: repartition); "" and 0 when it has none. Partitioned
 * like the inputs. */
int jp_topics_repartition(const jp_config_t *cfg, char *buf, size_t size);

#endif
