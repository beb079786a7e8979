/*
 * Fuzz target: Avro schema parsing, normalization, the resolution checker,
 * the compatibility levels and the decode-plan compiler - everything a
 * schema served by any registry reaches in the registry and the engine.
 *
 * Input: schema A, optionally followed by a NUL byte and schema B (the
 * seed corpus holds the schemas of schemas/ and the pairs of
 * tests/fixtures/avro/compat.json). Properties checked besides "no crash,
 * no leak, no UB":
 *   - the normalized text of A parses, and normalizing it again is a no-op;
 *   - a schema can read its own data (can_read(A, A));
 *   - the plan compiler and the checker agree on (A, B) whenever the plan
 *     compiler can judge (not recursive), as jp_avro_plan.h promises;
 *   - A as the writer of each engine event compiles or fails with a typed
 *     error, and a compiled plan decodes B's bytes without crashing.
 */
#include "jp_fuzz.h"

#include "serde/jp_avro_plan.h"
#include "serde/jp_avro_schema.h"
#include "serde/jp_events.h"

#include <stdlib.h>
#include <string.h>

static jp_avro_schema_t *readers[JP_EVENT__COUNT];

static void load_readers(void)
{
    if (readers[0])
        return;
    for (int t = 0; t < JP_EVENT__COUNT; t++) {
        size_t len;
        const char *json = jp_event_schema_json((jp_event_type_t)t, &len);
        char err[256];
        if (!json || !(readers[t] = jp_avro_schema_parse(json, len, err, sizeof(err))))
            jp_fuzz_fail("built-in schema %d: %s", t, json ? err : "missing");
    }
}

static void check_normalized(const char *text, size_t len)
{
    char err[256];
    char *norm = jp_avro_schema_normalize(text, len, err, sizeof(err));
    if (!norm)
        jp_fuzz_fail("a parsed schema does not normalize: %s", err);
    char *again = jp_avro_schema_normalize(norm, strlen(norm), err, sizeof(err));
    if (!again)
        jp_fuzz_fail("the normalized text %s is not a schema: %s", norm, err);
    if (strcmp(norm, again) != 0)
        jp_fuzz_fail("normalizing is not idempotent:\n%s\n%s", norm, again);
    free(again);
    free(norm);
}

/* The checker and the plan compiler on one (reader, writer) pair. */
static void check_agreement(const jp_avro_schema_t *r, const jp_avro_schema_t *w)
{
    char err[512];
    int checker = jp_avro_schema_can_read(r, w, err, sizeof(err));
    jp_serde_err_t why = JP_SERDE_OK;
    int plan =
        jp_avro_plan_check(jp_avro_schema_root(w), jp_avro_schema_root(r), &why, err, sizeof(err));
    if (plan < 0 && why != JP_SERDE_INCOMPATIBLE)
        return; /* recursive reader types: the plan compiler cannot judge */
    if ((plan == 0) != (checker == 0))
        jp_fuzz_fail("checker says %s, plan compiler says %s (%s)",
                     checker == 0 ? "readable" : "unreadable", plan == 0 ? "readable" : "not", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_readers();
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t len_a = nul ? (size_t)(nul - data) : size;
    const uint8_t *rest = nul ? nul + 1 : data + size;
    size_t len_b = size - (size_t)(rest - data);

    char err[512];
    jp_avro_schema_t *a = jp_avro_schema_parse(text, len_a, err, sizeof(err));
    if (!a)
        return 0;
    free(jp_avro_schema_canonical(a));
    (void)jp_avro_schema_fingerprint(a);
    check_normalized(text, len_a);
    if (jp_avro_schema_can_read(a, a, err, sizeof(err)) != 0)
        jp_fuzz_fail("a schema cannot read its own data: %s", err);

    jp_avro_schema_t *b =
        len_b ? jp_avro_schema_parse((const char *)rest, len_b, err, sizeof(err)) : NULL;
    if (b) {
        check_agreement(a, b);
        check_agreement(b, a);
        const jp_avro_schema_t *hist[] = {a, b};
        for (int level = JP_AVRO_COMPAT_NONE; level <= JP_AVRO_COMPAT_FULL_TRANSITIVE; level++)
            (void)jp_avro_compat_check((jp_avro_compat_t)level, b, hist, 2, err, sizeof(err));
    }

    /* A as the writer of every engine event, as the serde compiles it. */
    jp_avro_arena_t arena;
    jp_avro_arena_init(&arena);
    for (int t = 0; t < JP_EVENT__COUNT; t++) {
        jp_serde_err_t why;
        jp_avro_plan_t *p =
            jp_avro_plan_compile(jp_avro_schema_root(a), jp_avro_schema_root(readers[t]),
                                 jp_event_info((jp_event_type_t)t)->layout, &why, err, sizeof(err));
        if (!p) {
            if (why == JP_SERDE_OK)
                jp_fuzz_fail("a failed plan compile has no reason");
            continue;
        }
        static _Alignas(16) unsigned char out[1 << 16];
        (void)jp_avro_plan_decode(p, rest, len_b, out, &arena, 0, err, sizeof(err));
        (void)jp_avro_plan_decode(p, rest, len_b, out, &arena, JP_AVRO_PLAN_COPY_STRINGS, err,
                                  sizeof(err));
        jp_avro_arena_reset(&arena);
        jp_avro_plan_free(p);
    }
    jp_avro_arena_free(&arena);
    jp_avro_schema_free(b);
    jp_avro_schema_free(a);
    return 0;
}
