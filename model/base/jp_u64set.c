/*
 * jp_u64set: see jp_u64set.h. Linear probing with backward-shift deletion
 * (no tombstones, so probe chains never degrade after removals). Values
 * are mixed (SplitMix64 finalizer) before masking, so callers may pass
 * values whose low bits are not uniform.
 */
#include "model/base/jp_u64set.h"

#include <stdlib.h>

#include "model/base/jp_hash.h"

#define JP_U64SET_MIN_CAP 64

void jp_u64set_init(jp_u64set_t *s)
{
    s->slot = NULL;
    s->cap = s->count = 0;
    s->has_zero = 0;
}

void jp_u64set_free(jp_u64set_t *s)
{
    free(s->slot);
    jp_u64set_init(s);
}

static size_t jp_u64set_home(const jp_u64set_t *s, uint64_t v)
{
    return (size_t)jp_hash_mix64(v) & (s->cap - 1);
}

static int jp_u64set_rehash(jp_u64set_t *s, size_t ncap)
{
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    jp_u64set_t n = {ns, ncap, 0, s->has_zero};
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t v = s->slot[i];
        if (!v)
            continue;
        size_t j = jp_u64set_home(&n, v);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = v;
        n.count++;
    }
    free(s->slot);
    *s = n;
    return 0;
}

int jp_u64set_reserve(jp_u64set_t *s, size_t n)
{
    size_t cap = s->cap ? s->cap : JP_U64SET_MIN_CAP;
    while (cap / 2 < n)
        cap *= 2;
    return cap == s->cap ? 0 : jp_u64set_rehash(s, cap);
}

int jp_u64set_has(const jp_u64set_t *s, uint64_t v)
{
    if (!v)
        return s->has_zero;
    if (!s->cap)
        return 0;
    for (size_t i = jp_u64set_home(s, v);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == v)
            return 1;
        if (!s->slot[i])
            return 0;
    }
}

int jp_u64set_add(jp_u64set_t *s, uint64_t v)
{
    if (!v) {
        int added = !s->has_zero;
        s->has_zero = 1;
        return added;
    }
    if ((s->count + 1) * 2 > s->cap && jp_u64set_reserve(s, s->count + 1) != 0)
        return -1;
    size_t i = jp_u64set_home(s, v);
    while (s->slot[i]) {
        if (s->slot[i] == v)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = v;
    s->count++;
    return 1;
}

int jp_u64set_remove(jp_u64set_t *s, uint64_t v)
{
    if (!v) {
        int had = s->has_zero;
        s->has_zero = 0;
        return had;
    }
    if (!s->cap)
        return 0;
    size_t mask = s->cap - 1, i = jp_u64set_home(s, v);
    while (s->slot[i] != v) {
        if (!s->slot[i])
            return 0;
        i = (i + 1) & mask;
    }
    /* Backward shift: pull later members of the run into the hole when
     * their home is not strictly between the hole and their slot. */
    for (size_t j = (i + 1) & mask; s->slot[j]; j = (j + 1) & mask) {
        size_t h = jp_u64set_home(s, s->slot[j]);
        if (((j - h) & mask) >= ((j - i) & mask)) {
            s->slot[i] = s->slot[j];
            i = j;
        }
    }
    s->slot[i] = 0;
    s->count--;
    return 1;
}

size_t jp_u64set_count(const jp_u64set_t *s)
{
    return s->count + (size_t)s->has_zero;
}

size_t jp_u64set_bytes(const jp_u64set_t *s)
{
    return s->cap * sizeof(uint64_t);
}
