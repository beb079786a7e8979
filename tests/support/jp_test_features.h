/*
 * jp_test_features: a FeatureVector record as the tests check it - its
 * figures, without the Avro arena behind a decoded jp_feature_vector_t.
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <cmocka.h>.
 */
#ifndef JP_TEST_FEATURES_H
#define JP_TEST_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "serde/jp_serde.h"

typedef struct jp_test_features_s {
    char country[3]; /* NUL-terminated */
    /* Every number of the record; its strings, maps and arrays (country,
     * channel_mix, sector_ticket_quantiles, campaign_shares,
     * held_ticket_quantiles, held_ticket_histogram) are emptied: they
     * pointed into the decoder's arena. */
    jp_feature_vector_t fv;
    /* Sums over held_ticket_histogram: postcodes, and tickets x postcodes. */
    int64_t hist_postcodes, hist_tickets;
} jp_test_features_t;

/* Decodes a framed FeatureVector record with serde (its schema in serde's
 * registry); fails the calling test if it does not decode. */
void jp_test_features_decode(jp_serde_t *serde, const void *buf, size_t len,
                             jp_test_features_t *out);

#endif
