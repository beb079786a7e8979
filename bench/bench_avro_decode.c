/*
 * SaleEvent decode throughput on one core: the compiled jp_avro_plan into
 * jp_sale_event_t versus avro-c's generic value decoding
 * (avro_generic_value_new once + avro_value_read from avro_reader_memory)
 * of the same bytes, plus the full jp_serde_decode path (frame + id cache +
 * plan). The records are 10,000 distinct SaleEvents generated from a fixed
 * seed; each run decodes every record several times. Figures are medians
 * over jp_bench_runs() runs. Targets: >= 4 M records/s and >= 3x avro-c.
 *
 * avro-c is given its best case: one reader over the concatenated records
 * and one reused generic value, so no per-record allocation on its side
 * either.
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jp_bench.h"
#include "serde/jp_serde.h"

#define N_RECORDS 10000
#define PASSES    20

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL; /* fixed seed: same records every run */

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "bench_avro_decode: %s: %s\n", what, why);
    exit(1);
}

int main(void)
{
    jp_bench_pin_one_core();
    char err[256];
    size_t slen;
    const char *json = jp_event_schema_json(JP_EVENT_SALE, &slen);
    if (!json)
        fail("schema", "SaleEvent.avsc not embedded");
    jp_avro_schema_t *schema = jp_avro_schema_parse(json, slen, err, sizeof err);
    if (!schema)
        fail("parse", err);
    jp_serde_err_t e;
    jp_avro_plan_t *plan =
        jp_avro_plan_compile(jp_avro_schema_root(schema), jp_avro_schema_root(schema),
                             &jp_sale_event_layout, &e, err, sizeof err);
    if (!plan)
        fail("plan", err);

    /* Generate the records. */
    static const char *countries[] = {"GB", "NL", "SE", "DE", "NO"};
    static const char *currencies[] = {"GBP", "EUR", "SEK", "EUR", "NOK"};
    jp_avro_buf_t data = {0};
    size_t *offs = malloc((N_RECORDS + 1) * sizeof *offs);
    char ids[64], cust[32], pc[16], draw[32], camp[16];
    for (int i = 0; i < N_RECORDS; i++) {
        uint64_t r = rng();
        int c = (int)(r % 5);
        snprintf(ids, sizeof ids, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(r >> 32),
                 (unsigned)(r >> 16) & 0xffff, (unsigned)r & 0xfff, (unsigned)(r >> 20) & 0xfff,
                 (unsigned long long)(rng() & 0xffffffffffffULL));
        snprintf(cust, sizeof cust, "cust-%llu", (unsigned long long)(rng() % 2000000));
        snprintf(pc, sizeof pc, "AB%d %dCD", (int)(r % 90) + 1, (int)(r % 9) + 1);
        snprintf(draw, sizeof draw, "%s-2023-%02d-%02d", countries[c], (int)(r % 12) + 1,
                 (int)(r % 28) + 1);
        snprintf(camp, sizeof camp, "camp-%d", (int)(r % 50));
        jp_sale_event_t ev = {
            .event_id = jp_avro_str(ids),
            .country = jp_avro_str(countries[c]),
            .event_time = 1700000000000LL + (int64_t)(rng() % 86400000),
            .customer_id = jp_avro_str(cust),
            .postcode = jp_avro_str(pc),
            .channel = (jp_sale_channel_t)(rng() % 7),
            .tickets = (int32_t)(rng() % 10) + 1,
            .amount_minor = (int64_t)(rng() % 100000),
            .currency = jp_avro_str(currencies[c]),
            .draw_id = jp_avro_str(draw),
            .advertised_prize_minor = (int64_t)(rng() % 1000) * 100000,
            .has_campaign = (uint8_t)(r & 1),
            .campaign = jp_avro_str(camp),
        };
        offs[i] = data.len;
        if (jp_avro_plan_encode(plan, &ev, &data, err, sizeof err) != JP_SERDE_OK)
            fail("encode", err);
    }
    offs[N_RECORDS] = data.len;

    /* Framed copies for the serde path. */
    jp_avro_buf_t framed = {0};
    size_t *foffs = malloc((N_RECORDS + 1) * sizeof *foffs);
    for (int i = 0; i < N_RECORDS; i++) {
        foffs[i] = framed.len;
        jp_serde_frame_write(&framed, 1);
        jp_avro_buf_append(&framed, data.data + offs[i], offs[i + 1] - offs[i]);
    }
    foffs[N_RECORDS] = framed.len;
    jp_serde_t *serde = jp_serde_new(NULL, err, sizeof err);
    if (!serde || jp_serde_add_schema(serde, 1, json, err, sizeof err) != JP_SERDE_OK)
        fail("serde", err);

    /* avro-c */
    avro_schema_t as;
    if (avro_schema_from_json_length(json, slen, &as) != 0)
        fail("avro-c schema", avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(as);
    avro_value_t value;
    avro_generic_value_new(iface, &value);

    int runs = jp_bench_runs();
    double *plan_rate = calloc((size_t)runs, sizeof(double));
    double *avroc_rate = calloc((size_t)runs, sizeof(double));
    double *serde_rate = calloc((size_t)runs, sizeof(double));
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_sale_event_t ev;
    const double n = (double)N_RECORDS * PASSES;
    for (int run = 0; run < runs; run++) {
        double t0 = jp_bench_now();
        for (int p = 0; p < PASSES; p++)
            for (int i = 0; i < N_RECORDS; i++) {
                if (jp_avro_plan_decode(plan, data.data + offs[i], offs[i + 1] - offs[i], &ev,
                                        &arena, 0, err, sizeof err) != JP_SERDE_OK)
                    fail("plan decode", err);
                jp_bench_sink(&ev);
            }
        plan_rate[run] = n / (jp_bench_now() - t0);

        t0 = jp_bench_now();
        for (int p = 0; p < PASSES; p++) {
            avro_reader_t reader = avro_reader_memory((const char *)data.data, (int64_t)data.len);
            for (int i = 0; i < N_RECORDS; i++) {
                if (avro_value_read(reader, &value) != 0)
                    fail("avro-c read", avro_strerror());
                jp_bench_sink(&value);
            }
            avro_reader_free(reader);
        }
        avroc_rate[run] = n / (jp_bench_now() - t0);

        t0 = jp_bench_now();
        for (int p = 0; p < PASSES; p++)
            for (int i = 0; i < N_RECORDS; i++) {
                if (jp_serde_decode(serde, JP_EVENT_SALE, framed.data + foffs[i],
                                    foffs[i + 1] - foffs[i], &ev, &arena, err,
                                    sizeof err) != JP_SERDE_OK)
                    fail("serde decode", err);
                jp_bench_sink(&ev);
            }
        serde_rate[run] = n / (jp_bench_now() - t0);
    }
    double plan_med = jp_bench_median(plan_rate, (size_t)runs);
    double avroc_med = jp_bench_median(avroc_rate, (size_t)runs);
    double serde_med = jp_bench_median(serde_rate, (size_t)runs);
    char note[128];
    snprintf(note, sizeof note, "%d records x %d passes, %.1f bytes/record, %d runs", N_RECORDS,
             PASSES, (double)data.len / N_RECORDS, runs);
    jp_bench_row("avro_decode", "plan_sale_event", plan_med, "records/s", ">= 4e6", note);
    jp_bench_row("avro_decode", "avroc_generic_sale_event", avroc_med, "records/s", NULL,
                 "avro_generic_value_new once + avro_value_read");
    jp_bench_row("avro_decode", "plan_vs_avroc", plan_med / avroc_med, "x", ">= 3",
                 "plan records/s over avro-c generic records/s");
    jp_bench_row("avro_decode", "serde_sale_event", serde_med, "records/s", NULL,
                 "framed: magic + id lookup + plan");

    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(as);
    jp_serde_free(serde);
    jp_avro_arena_free(&arena);
    free(plan_rate);
    free(avroc_rate);
    free(serde_rate);
    free(offs);
    free(foffs);
    jp_avro_buf_free(&data);
    jp_avro_buf_free(&framed);
    jp_avro_plan_free(plan);
    jp_avro_schema_free(schema);
    return 0;
}
