/*
 * jp_engine_identity: a state directory belongs to one Kafka cluster and
 * one incarnation of its topics. Pointed at another (a new, empty dev
 * cluster; a topic deleted and created again), the engine would start
 * from its old watermarks and dead-letter every record as LATE, or skip
 * them as already processed. So at start-up, before joining the group:
 *
 *  - the cluster id (rd_kafka_clusterid) is compared with the one
 *    recorded in <state dir>/jackpot-state.json by the first run;
 *  - each task store's offsets are compared with the ends of its topics:
 *    a store that has read an input partition up to offset N, or applied
 *    its changelog up to offset M, cannot belong to a topic that ends
 *    before N or at M. librdkafka 2.0.2 does not expose topic ids, and
 *    this evidence is independent of how the topic was created: it holds
 *    on a cluster whose id did not change (a topic re-created).
 *
 * A mismatch refuses to start (EX_CONFIG) naming both sides, unless the
 * operator asked for a reset (`jackpot run --reset-state`, `jackpot dev
 * --reset`): then the stores and the record are removed first, and the
 * state is rebuilt from the changelogs of the cluster in use.
 */
#define _XOPEN_SOURCE 700
#include "jp_engine-internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/jp_log.h"
#include "model/base/jp_err.h"

#define IDENTITY_FILE "jackpot-state.json"
#define QUERY_MS      10000

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Task directories in dir: their partitions in parts (up to max). */
static size_t task_dirs(const char *dir, int *parts, size_t max)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) && n < max) {
        int p;
        char tail;
        if (sscanf(de->d_name, "task-%d%c", &p, &tail) == 1 && p >= 0)
            parts[n++] = p;
    }
    if (d)
        closedir(d);
    return n;
}

static int reset(jp_engine_t *e, char *errstr, size_t errstr_size)
{
    int parts[MAX_TASKS * 2];
    size_t n = task_dirs(e->state_dir, parts, sizeof(parts) / sizeof(parts[0]));
    char path[1100];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/task-%d", e->state_dir, parts[i]);
        if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            jp_err_set(errstr, errstr_size, "cannot remove %s: %s", path, strerror(errno));
            return -1;
        }
    }
    snprintf(path, sizeof(path), "%s/%s", e->state_dir, IDENTITY_FILE);
    if (unlink(path) != 0 && errno != ENOENT) {
        jp_err_set(errstr, errstr_size, "cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    jp_log_warn("engine", "state directory %s reset (--reset-state): %zu task stores removed",
                e->state_dir, n);
    return 0;
}

static int write_identity(jp_engine_t *e, const char *cluster, char *errstr, size_t errstr_size)
{
    char path[1100], tmp[1110];
    snprintf(path, sizeof(path), "%s/%s", e->state_dir, IDENTITY_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    json_t *j = json_object();
    json_object_set_new(j, "cluster_id", json_string(cluster));
    json_object_set_new(j, "bootstrap_servers",
                        json_string(jp_config_kafka_get(e->cfg, "bootstrap.servers")));
    int rc = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (rc != 0 || rename(tmp, path) != 0) {
        jp_err_set(errstr, errstr_size, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The recorded cluster id (malloc'd), NULL if none was recorded. */
static char *recorded_cluster(const jp_engine_t *e, char *bootstrap, size_t size)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", e->state_dir, IDENTITY_FILE);
    json_t *j = json_load_file(path, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "cluster_id"));
    const char *bs = json_string_value(json_object_get(j, "bootstrap_servers"));
    snprintf(bootstrap, size, "%s", bs ? bs : "?");
    char *out = id ? strdup(id) : NULL;
    json_decref(j);
    return out;
}

static const char *const how_to_reset =
    "to discard this state and rebuild it from this cluster's changelogs, start with "
    "--reset-state (jackpot dev: --reset)";

/* A topic partition ending before the offset a store reached. */
static int behind(jp_engine_t *e, const char *topic, int p, int64_t reached, int inclusive,
                  int *exit_code, char *errstr, size_t errstr_size)
{
    int64_t lo = -1, hi = -1;
    if (reached < 0)
        return 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(e->restorer, topic, p, &lo, &hi, QUERY_MS);
    if (err) {
        jp_err_set(errstr, errstr_size, "cannot read the offsets of %s [%d]: %s", topic, p,
                   rd_kafka_err2str(err));
        *exit_code = 69;
        return -1;
    }
    if (inclusive ? reached < hi : reached <= hi)
        return 0;
    jp_err_set(errstr, errstr_size,
               "state directory %s was written against another %s: task %d has %s %s [%d] up "
               "to offset %lld, but on %s that partition ends at offset %lld (the topic was "
               "re-created, or this is another cluster); %s",
               e->state_dir, topic, p, inclusive ? "applied" : "read", topic, p, (long long)reached,
               jp_config_kafka_get(e->cfg, "bootstrap.servers"), (long long)hi, how_to_reset);
    *exit_code = 78;
    return -1;
}

static int check_tasks(jp_engine_t *e, int *exit_code, char *errstr, size_t errstr_size)
{
    int parts[MAX_TASKS * 2];
    size_t n = task_dirs(e->state_dir, parts, sizeof(parts) / sizeof(parts[0]));
    for (size_t k = 0; k < n; k++) {
        int p = parts[k];
        if (p >= e->n_partitions) {
            jp_err_set(errstr, errstr_size,
                       "state directory %s has a store of task %d, but %s has %d partitions "
                       "(another cluster or re-created topics); %s",
                       e->state_dir, p, e->topics[JP_INPUT_SALES], e->n_partitions, how_to_reset);
            *exit_code = 78;
            return -1;
        }
        int64_t next[JP_INPUT__COUNT], cl[JP_CF__COUNT];
        if (jp_task_peek_offsets(&e->env, e->state_dir, p, next, cl, errstr, errstr_size) != 0) {
            *exit_code = 73;
            return -1;
        }
        for (int i = 0; i < JP_INPUT__COUNT; i++)
            if (behind(e, e->topics[i], p, next[i], 0, exit_code, errstr, errstr_size) != 0)
                return -1;
        for (size_t i = 0; i < N_CHANGELOG; i++) {
            jp_cf_t cf = jp_engine_changelog_cfs[i];
            if (behind(e, e->changelog[cf], p, cl[cf], 1, exit_code, errstr, errstr_size) != 0)
                return -1;
        }
    }
    return 0;
}

int jp_engine_check_identity(jp_engine_t *e, int reset_state, int *exit_code, char *errstr,
                             size_t errstr_size)
{
    if (reset_state && reset(e, errstr, errstr_size) != 0) {
        *exit_code = 73;
        return -1;
    }
    char *cluster = rd_kafka_clusterid(e->producer, QUERY_MS);
    char bootstrap[512];
    char *recorded = recorded_cluster(e, bootstrap, sizeof(bootstrap));
    int rc = 0;
    if (cluster && recorded && strcmp(cluster, recorded) != 0) {
        jp_err_set(errstr, errstr_size,
                   "state directory %s was written against Kafka cluster %s (%s), but %s is "
                   "cluster %s; %s",
                   e->state_dir, recorded, bootstrap,
                   jp_config_kafka_get(e->cfg, "bootstrap.servers"), cluster, how_to_reset);
        *exit_code = 78;
        rc = -1;
    }
    if (rc == 0)
        rc = check_tasks(e, exit_code, errstr, errstr_size);
    if (rc == 0 && cluster && (!recorded || strcmp(cluster, recorded) != 0) &&
        (rc = write_identity(e, cluster, errstr, errstr_size)) != 0)
        *exit_code = 73;
    free(recorded);
    if (cluster)
        rd_kafka_mem_free(e->producer, cluster);
    return rc;
}
