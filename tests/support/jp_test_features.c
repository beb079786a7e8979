/*
 * jp_test_features: decodes into an arena of its own and keeps the
 * numbers, so callers keep no arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jp_test_features.h"

#include <string.h>

void jp_test_features_decode(jp_serde_t *serde, const void *buf, size_t len,
                             jp_test_features_t *out)
{
    char err[256];
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    jp_feature_vector_t fv;
    jp_serde_err_t e =
        jp_serde_decode(serde, JP_EVENT_FEATURES, buf, len, &fv, &arena, err, sizeof(err));
    if (e != JP_SERDE_OK)
        fail_msg("a features record does not decode: %s %s", jp_serde_err_name(e), err);
    assert_int_equal(fv.country.len, 2);
    memset(out, 0, sizeof(*out));
    memcpy(out->country, fv.country.ptr, 2);
    out->fv = fv;
    const jp_held_tickets_t *h = fv.held_ticket_histogram.items;
    for (size_t i = 0; i < fv.held_ticket_histogram.n; i++) {
        out->hist_postcodes += h[i].postcodes;
        out->hist_tickets += h[i].tickets * h[i].postcodes;
    }
    out->fv.country = (jp_avro_str_t){NULL, 0};
    out->fv.channel_mix = (jp_avro_map_t){NULL, NULL, 0};
    out->fv.sector_ticket_quantiles = (jp_avro_array_t){NULL, 0};
    out->fv.campaign_shares = (jp_avro_map_t){NULL, NULL, 0};
    out->fv.held_ticket_quantiles = (jp_avro_array_t){NULL, 0};
    out->fv.held_ticket_histogram = (jp_avro_array_t){NULL, 0};
    jp_avro_arena_free(&arena);
}
