/*
 * Writes the seed corpus of fuzz_serde_decode: real records of the
 * simulated world configs/sim/default.yaml (its first day in every
 * country, a few of each event type and customer event kind), framed by
 * jp_serde_encode under the schema ids of fuzz_serde_decode's table
 * (1 SaleEvent, 2 CustomerEvent, 3 DrawResult), each also re-framed for the
 * target's newer writers (ids 7-9: an empty array field first). Usage:
 *   make_serde_seeds DIR     (built by the Fuzz build; see tests/fuzz/README.md)
 */
#include "config/jp_conf.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim_gen.h"
#include "sim/jp_sim_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_KIND 3 /* records kept per (event type, customer event kind) */

typedef struct {
    const char *dir;
    jp_serde_t *serde;
    int kept[3][16];
    int written;
} seeds_t;

static jp_serde_err_t fixed_ids(void *ctx, const char *subject, const char *json, int32_t *id_out,
                                char *errstr, size_t errstr_size)
{
    (void)ctx, (void)json, (void)errstr, (void)errstr_size;
    *id_out = strstr(subject, "sales") ? 1 : strstr(subject, "customers") ? 2 : 3;
    return JP_SERDE_OK;
}

static void write_seed(seeds_t *s, int reader, const unsigned char *rec, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/record-%03d", s->dir, s->written++);
    FILE *f = fopen(path, "wb");
    unsigned char head = (unsigned char)(reader | 4); /* with a Kafka timestamp */
    if (!f || fwrite(&head, 1, 1, f) != 1 || fwrite(rec, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static int emit(void *ctx, size_t country, jp_event_type_t type, void *ev)
{
    (void)country;
    seeds_t *s = ctx;
    int reader = type == JP_EVENT_SALE ? 0 : type == JP_EVENT_CUSTOMER ? 1 : 2;
    int kind = type == JP_EVENT_CUSTOMER ? (int)((jp_customer_event_t *)ev)->type : 0;
    if (s->kept[reader][kind] >= PER_KIND)
        return 0;
    s->kept[reader][kind]++;
    static const char *const topics[] = {"lottery.sales.v1", "lottery.customers.v1",
                                         "lottery.draws.v1"};
    jp_avro_buf_t b = {0};
    char err[256];
    if (jp_serde_encode(s->serde, (int)type, topics[reader], ev, &b, err, sizeof(err)) != 0) {
        fprintf(stderr, "encode: %s\n", err);
        return -1;
    }
    write_seed(s, reader, b.data, b.len);
    /* The newer writer: the same record with an empty array field first. */
    unsigned char newer[4096];
    if (b.len < sizeof(newer)) {
        memcpy(newer, b.data, 5);
        newer[4] = (unsigned char)(7 + reader);
        newer[5] = 0;
        memcpy(newer + 6, b.data + 5, b.len - 5);
        write_seed(s, reader, newer, b.len + 1);
    }
    jp_avro_buf_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_serde_seeds DIR\n");
        return 64;
    }
    seeds_t s = {.dir = argv[1]};
    char err[512], path[1024];
    jp_serde_config_t sc = {.registry = {NULL, NULL, fixed_ids}};
    if (!(s.serde = jp_serde_new(&sc, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/configs/sim/default.yaml", JP_FUZZ_SOURCE_DIR);
    jp_conf_t conf;
    jp_sim_world_t w;
    jp_conf_init(&conf, NULL);
    if (jp_sim_world_load(&conf, path, &w) != 0) {
        fprintf(stderr, "%s: %s\n", path, conf.n_errors ? conf.errors[0] : "cannot load");
        return 1;
    }
    jp_sim_emit_t out = {&s, emit};
    for (size_t c = 0; c < w.countries.n; c++) {
        jp_sim_gen_t *g = jp_sim_gen_new(&w, c, 42, NULL, NULL, NULL, err, sizeof(err));
        if (!g) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        for (int h = 0; h < 24 * 8; h++)
            if (jp_sim_gen_hour(g, w.start_ms + (int64_t)h * 3600000, &out) != 0)
                return 1;
        jp_sim_gen_free(g);
    }
    printf("%d seeds in %s\n", s.written, s.dir);
    jp_sim_world_release(&w);
    jp_conf_destroy(&conf);
    jp_serde_free(s.serde);
    return 0;
}
