/*
 * jp_window on its own: the channel symbols agree with SaleEvent.avsc, a
 * window's content does not depend on the order of its records (the
 * property that makes closed windows deterministic), and the state-store
 * encoding round-trips exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/jp_config.h"
#include "engine/jp_window.h"
#include "jp_test.h"
#include "model/base/jp_rng.h"

static jp_avro_str_t str(const char *s)
{
    return (jp_avro_str_t){s, strlen(s)};
}

static void test_channel_names_match_schema(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/schemas/SaleEvent.avsc", jp_test_src());
    json_error_t jerr;
    json_t *schema = json_load_file(path, 0, &jerr);
    assert_non_null(schema);
    json_t *fields = json_object_get(schema, "fields"), *symbols = NULL;
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(json_string_value(json_object_get(f, "name")), "channel") == 0)
            symbols = json_object_get(json_object_get(f, "type"), "symbols");
    }
    assert_int_equal(json_array_size(symbols), JP_WINDOW_N_CHANNELS);
    for (size_t i = 0; i < JP_WINDOW_N_CHANNELS; i++)
        assert_string_equal(jp_window_channel_name((jp_sale_channel_t)i),
                            json_string_value(json_array_get(symbols, i)));
    json_decref(schema);
}

/* One list of window kind names: serde's (features, metrics, status) and
 * the one windows.sizes accepts (config may not include serde). */
static void test_window_kind_names_agree(void **state)
{
    (void)state;
    for (int k = JP_WINDOW_HOUR; k < JP_WINDOW_UNKNOWN; k++)
        assert_string_equal(jp_window_kind_name((jp_window_kind_t)k), jp_config_window_kinds[k]);
    assert_null(jp_config_window_kinds[JP_WINDOW_UNKNOWN]);
    assert_null(jp_window_kind_name(JP_WINDOW_UNKNOWN));
}

typedef struct {
    char token[16], sector[12];
    jp_sale_event_t e;
} sale_t;

static void make_sales(sale_t *s, size_t n, jp_rng_t *rng)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(s[i].token, sizeof s[i].token, "tok%u", (unsigned)jp_rng_below(rng, 50));
        snprintf(s[i].sector, sizeof s[i].sector, "AB%u 1", (unsigned)jp_rng_below(rng, 9));
        memset(&s[i].e, 0, sizeof s[i].e);
        s[i].e.country = str("GB");
        s[i].e.tickets = 1 + (int32_t)jp_rng_below(rng, 3);
        s[i].e.amount_minor = 1225 * s[i].e.tickets;
        s[i].e.channel = (jp_sale_channel_t)jp_rng_below(rng, JP_WINDOW_N_CHANNELS);
    }
}

static jp_window_t *window_of(const sale_t *s, const size_t *order, size_t n)
{
    jp_window_t *w = jp_window_new("GB", JP_WINDOW_HOUR, 0, 3600000);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        jp_window_sale_keys_t k;
        jp_window_sale_keys(&k, s[order[i]].token, s[order[i]].sector);
        jp_window_add_sale(w, &s[order[i]].e, &k);
    }
    return w;
}

static void test_order_does_not_matter(void **state)
{
    (void)state;
    enum { N = 400 };
    static sale_t sales[N];
    size_t order[N];
    jp_rng_t rng;
    jp_rng_seed(&rng, 7);
    make_sales(sales, N, &rng);
    for (size_t i = 0; i < N; i++)
        order[i] = i;
    jp_window_t *a = window_of(sales, order, N);
    for (size_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)jp_rng_below(&rng, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    jp_window_t *b = window_of(sales, order, N);
    size_t la, lb;
    uint8_t *ba = jp_window_serialize(a, &la), *bb = jp_window_serialize(b, &lb);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);

    int64_t tickets = 0;
    for (size_t i = 0; i < N; i++)
        tickets += sales[i].e.tickets;
    assert_int_equal(a->tickets, tickets);

    char err[256];
    jp_window_t *c = jp_window_deserialize(ba, la, err, sizeof err);
    assert_non_null(c);
    size_t lc;
    uint8_t *bc = jp_window_serialize(c, &lc);
    assert_int_equal(lc, la);
    assert_memory_equal(bc, ba, la);
    assert_null(jp_window_deserialize(ba, la - 1, err, sizeof err));
    free(ba);
    free(bb);
    free(bc);
    jp_window_free(a);
    jp_window_free(b);
    jp_window_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_names_match_schema),
        cmocka_unit_test(test_window_kind_names_agree),
        cmocka_unit_test(test_order_does_not_matter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
