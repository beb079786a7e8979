/*
 * Calendar micro-benchmark: the processor validates every event's draw id
 * (jp_calendar_parse_draw_id) and looks up the draw of its event time
 * (jp_calendar_next_draw), so both are measured per call on the GB
 * calendar (two series, London DST) and next_draw also on NL (first
 * Sunday of the month: the longest day walk of the shipped configs).
 * Event times advance by a fixed odd step through 2026 so lookups cover
 * both DST regimes; results are sunk so nothing is optimised away.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "jp_bench.h"
#include "config/jp_calendar.h"

#define N_OPS 200000

static jp_calendar_t *open_calendar(const char *code, jp_country_t *k)
{
    char path[256], err[512];
    const char *src = getenv("JACKPOT_SRC");
    snprintf(path, sizeof(path), "%s/configs/countries/%s.yaml", src ? src : ".", code);
    jp_conf_t c;
    jp_conf_init(&c, NULL);
    if (jp_country_load(&c, path, k) != 0) {
        fprintf(stderr, "bench_calendar: %s: %s\n", path, c.n_errors ? c.errors[0] : "?");
        exit(1);
    }
    jp_conf_destroy(&c);
    jp_calendar_t *cal = jp_calendar_new(k, err, sizeof(err));
    if (!cal) {
        fprintf(stderr, "bench_calendar: %s\n", err);
        exit(1);
    }
    return cal;
}

static double run_next(const jp_calendar_t *cal, int headline_only)
{
    const int64_t start = 1767225600000LL; /* 2026-01-01 UTC */
    const int64_t step = 157 * 1000 + 7;   /* ~2.6 minutes: a year in 200k ops */
    jp_draw_t d;
    int64_t acc = 0;
    double t0 = jp_bench_now();
    for (int i = 0; i < N_OPS; i++) {
        jp_calendar_next_draw(cal, start + (int64_t)i * step, headline_only, &d);
        acc += d.time_ms;
    }
    double ns = (jp_bench_now() - t0) * 1e9 / N_OPS;
    jp_bench_sink(&acc);
    return ns;
}

static double run_parse(const jp_calendar_t *cal)
{
    static const char *const ids[4] = {"GB-20261128-saturday", "GB-20260704-daily",
                                       "GB-20260329-daily", "GB-20261227-daily"};
    jp_draw_t d;
    char err[128];
    int64_t acc = 0;
    double t0 = jp_bench_now();
    for (int i = 0; i < N_OPS; i++) {
        if (jp_calendar_parse_draw_id(cal, ids[i & 3], &d, err, sizeof(err)) == 0)
            acc += d.time_ms;
    }
    double ns = (jp_bench_now() - t0) * 1e9 / N_OPS;
    jp_bench_sink(&acc);
    return ns;
}

int main(void)
{
    jp_bench_pin_one_core();
    jp_country_t gb, nl;
    jp_calendar_t *gbc = open_calendar("gb", &gb), *nlc = open_calendar("nl", &nl);
    int runs = jp_bench_runs();
    double *v = calloc((size_t)runs * 4, sizeof(double));
    if (!v)
        return 1;
    for (int r = 0; r < runs; r++) {
        v[r] = run_parse(gbc);
        v[runs + r] = run_next(gbc, 0);
        v[2 * runs + r] = run_next(gbc, 1);
        v[3 * runs + r] = run_next(nlc, 1);
    }
    jp_bench_row("calendar", "parse_draw_id GB", jp_bench_median(v, (size_t)runs), "ns/op", NULL,
                 "valid ids, 4 dates");
    jp_bench_row("calendar", "next_draw GB any", jp_bench_median(v + runs, (size_t)runs), "ns/op",
                 NULL, "2 series, event times through 2026");
    jp_bench_row("calendar", "next_draw GB headline", jp_bench_median(v + 2 * runs, (size_t)runs),
                 "ns/op", NULL, NULL);
    jp_bench_row("calendar", "next_draw NL headline", jp_bench_median(v + 3 * runs, (size_t)runs),
                 "ns/op", NULL, "first Sunday of the month");
    free(v);
    jp_calendar_free(gbc);
    jp_calendar_free(nlc);
    jp_country_release(&gb);
    jp_country_release(&nl);
    return 0;
}
