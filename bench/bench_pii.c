/*
 * PII micro-benchmark: the processor tokenizes the customer id of every
 * sale and customer event (HMAC-SHA256) and coarsens the postcode of every
 * sale (jp_pii_postcode_sector), so both are measured per call. A token is
 * measured alone (jp_pii_token) and in batches of 64 (jp_pii_token_many,
 * per token, the way the processor tokenizes a run of records): alone it
 * is two SHA-256 compressions in scalar code, on a CPU without the SHA
 * extensions about half a microsecond of the 3.3 us per event that 300k
 * events/s on one core allows; in a batch up to 16 ids share each SIMD
 * compression. Customer ids are the simulator's shape ("GB-" + 16 hex
 * digits), generated before the clock starts; results are sunk.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jp_bench.h"
#include "engine/jp_pii.h"

#define N_OPS 200000

#define N_IDS 4096 /* distinct ids, cycled */
#define BATCH 64
_Static_assert(N_OPS % BATCH == 0 && N_IDS % BATCH == 0, "batches must not wrap");

static char ids[N_IDS][20];
static jp_pii_value_t values[N_IDS];

static void make_ids(void)
{
    for (uint32_t i = 0; i < N_IDS; i++) {
        int n = snprintf(ids[i], sizeof(ids[i]), "GB-%016llx",
                         (unsigned long long)i * 0x9E3779B97F4A7C15ULL);
        values[i] = (jp_pii_value_t){ids[i], (size_t)n};
    }
}

static double run_tokens(const jp_pii_t *p)
{
    char out[JP_PII_TOKEN_LEN + 1];
    double t0 = jp_bench_now();
    for (uint32_t i = 0; i < N_OPS; i++) {
        const jp_pii_value_t *v = &values[i % N_IDS];
        jp_pii_token(p, "customer", v->ptr, v->len, out);
        jp_bench_sink(out);
    }
    return (jp_bench_now() - t0) / N_OPS * 1e9;
}

static double run_token_batches(const jp_pii_t *p)
{
    static char out[BATCH][JP_PII_TOKEN_LEN + 1];
    double t0 = jp_bench_now();
    for (uint32_t i = 0; i < N_OPS; i += BATCH) {
        jp_pii_token_many(p, "customer", &values[i % N_IDS], BATCH, out);
        jp_bench_sink(out);
    }
    return (jp_bench_now() - t0) / N_OPS * 1e9;
}

static double run_sectors(void)
{
    static const char *const pc[] = {"SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH"};
    char out[16];
    double t0 = jp_bench_now();
    for (uint32_t i = 0; i < N_OPS; i++) {
        const char *s = pc[i % 5];
        if (jp_pii_postcode_sector("GB", s, strlen(s), out, sizeof(out)) != 0)
            return -1;
        jp_bench_sink(out);
    }
    return (jp_bench_now() - t0) / N_OPS * 1e9;
}

int main(void)
{
    jp_bench_pin_one_core();
    static const char key[] = "bench-key-0123456789abcdef-0123456789";
    jp_pii_t *p = jp_pii_new(key, sizeof(key) - 1);
    if (!p) {
        fprintf(stderr, "bench_pii: cannot create the tokenizer\n");
        return 1;
    }
    make_ids();
    int runs = jp_bench_runs();
    double tok[64], batch[64], sec[64];
    if (runs > 64)
        runs = 64;
    for (int k = 0; k < runs; k++) {
        tok[k] = run_tokens(p);
        batch[k] = run_token_batches(p);
        sec[k] = run_sectors();
        if (sec[k] < 0) {
            fprintf(stderr, "bench_pii: a valid GB postcode was rejected\n");
            jp_pii_free(p);
            return 1;
        }
    }
    jp_bench_row("pii", "token_ns", jp_bench_median(tok, (size_t)runs), "ns/op", NULL,
                 "HMAC-SHA256 of one customer id alone (jp_pii_token)");
    jp_bench_row("pii", "token_batch_ns", jp_bench_median(batch, (size_t)runs), "ns/op", NULL,
                 "per token, batches of 64 ids (jp_pii_token_many): the floor per event");
    jp_bench_row("pii", "postcode_sector_ns", jp_bench_median(sec, (size_t)runs), "ns/op", NULL,
                 "GB postcode to its sector");
    jp_pii_free(p);
    return 0;
}
