/*
 * jp_test_features: decodes into an arena of its own and copies the
 * figures out, so callers keep no arena.
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
    memset(out, 0, sizeof(*out));
    assert_int_equal(fv.country.len, 2);
    memcpy(out->country, fv.country.ptr, 2);
    out->kind = fv.window_kind;
    out->start = fv.window_start;
    out->end = fv.window_end;
    out->tickets = fv.tickets;
    out->revenue = fv.revenue_minor;
    out->extra = fv.extra_tickets;
    out->prizes = fv.prizes_paid_minor;
    out->signups = fv.signups;
    out->cancellations = fv.cancellations;
    out->reactivations = fv.reactivations;
    out->payment_failures = fv.payment_failures;
    out->active = fv.active_subscribers;
    out->players = fv.unique_players;
    jp_avro_arena_free(&arena);
}
