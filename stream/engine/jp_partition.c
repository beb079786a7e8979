/*
 * jp_partition: the home check and the repartition bookkeeping of a task
 * (see jp_partition.h for the contract and docs/processor.md for why it
 * gives exactly-once application).
 *
 * Design. The home is computed from the country in the record's value,
 * not from its key: the windows group by that country, so the country is
 * what must meet in one task, and a record whose key is absent, Avro-framed
 * or not its country still has one home. A producer that keys by the
 * country as a plain string with the configured partitioner puts every
 * record at home; anything else costs a hop through the repartition topic
 * (or a dead letter), never a wrong window.
 *
 * The replay table is dense (inputs x source partitions): a few KB for the
 * partition counts Kafka deployments use, encoded whole (with jp_bytes) into
 * one meta value when it changed since the last commit.
 */
#include "engine/jp_partition.h"

#include <stdlib.h>
#include <string.h>

#include "model/base/jp_bytes.h"

int jp_partition_home(const jp_partition_check_t *c, const char *country)
{
    if (!c || c->n_partitions <= 0 || !country)
        return -1;
    return jp_partitioner_partition(c->partitioner, country, strlen(country), c->n_partitions);
}

static size_t words(const jp_partition_state_t *s)
{
    return ((size_t)s->n_partitions + 63) / 64;
}

static size_t cells(const jp_partition_state_t *s)
{
    return (size_t)JP_INPUT__COUNT * (size_t)s->n_partitions;
}

int jp_partition_state_init(jp_partition_state_t *s, int n_partitions)
{
    memset(s, 0, sizeof(*s));
    s->n_partitions = n_partitions > 0 ? n_partitions : 0;
    if (s->n_partitions) {
        s->high = malloc(cells(s) * sizeof(*s->high));
        s->newest = malloc(cells(s) * sizeof(*s->newest));
        if (!s->high || !s->newest) {
            jp_partition_state_free(s);
            return -1;
        }
    }
    jp_partition_state_reset(s);
    return 0;
}

static void countries_free(jp_partition_state_t *s)
{
    for (size_t i = 0; i < s->n_countries; i++)
        free(s->countries[i].sources);
    free(s->countries);
    s->countries = NULL;
    s->n_countries = 0;
}

void jp_partition_state_reset(jp_partition_state_t *s)
{
    s->next_offset = -1;
    for (size_t i = 0; i < cells(s); i++) {
        s->high[i] = -1;
        s->newest[i] = INT64_MIN;
    }
    countries_free(s);
    memset(s->repartitioned, 0, sizeof(s->repartitioned));
    memset(s->received, 0, sizeof(s->received));
    memset(s->replays, 0, sizeof(s->replays));
    s->lost = 0;
    s->dirty = 0;
}

void jp_partition_state_free(jp_partition_state_t *s)
{
    countries_free(s);
    free(s->high);
    free(s->newest);
    s->high = s->newest = NULL;
    s->n_partitions = 0;
}

int jp_partition_state_admit(jp_partition_state_t *s, jp_input_t input, int source,
                             int64_t source_offset)
{
    s->dirty = 1;
    if ((unsigned)input >= JP_INPUT__COUNT)
        return 1;
    if (source < 0 || source >= s->n_partitions) {
        /* A source beyond the inputs' partition count cannot be tracked:
         * processed (the home check dead-letters it if it is no home's). */
        s->received[input]++;
        return 0;
    }
    int64_t *h = &s->high[(size_t)input * (size_t)s->n_partitions + (size_t)source];
    if (source_offset <= *h) {
        s->replays[input]++;
        return 1;
    }
    *h = source_offset;
    s->received[input]++;
    return 0;
}

static jp_partition_country_t *country(const jp_partition_state_t *s, const char *cc)
{
    for (size_t i = 0; i < s->n_countries; i++)
        if (memcmp(s->countries[i].cc, cc, 2) == 0)
            return &s->countries[i];
    return NULL;
}

static jp_partition_country_t *country_add(jp_partition_state_t *s, const char *cc)
{
    jp_partition_country_t *c = country(s, cc);
    if (c)
        return c;
    uint64_t *src = calloc((size_t)JP_INPUT__COUNT * words(s) + 1, sizeof(*src));
    jp_partition_country_t *v =
        src ? realloc(s->countries, (s->n_countries + 1) * sizeof(*v)) : NULL;
    if (!v) {
        free(src);
        return NULL;
    }
    s->countries = v;
    c = &v[s->n_countries++];
    memcpy(c->cc, cc, 2);
    c->sources = src;
    return c;
}

int jp_partition_state_applied(jp_partition_state_t *s, jp_input_t input, int source,
                               const char *cc, int64_t t_ms)
{
    if ((unsigned)input >= JP_INPUT__COUNT || source < 0 || source >= s->n_partitions)
        return 0;
    size_t at = (size_t)input * (size_t)s->n_partitions + (size_t)source;
    if (t_ms > s->newest[at])
        s->newest[at] = t_ms;
    jp_partition_country_t *c = country_add(s, cc);
    if (!c)
        return -1;
    c->sources[(size_t)input * words(s) + (size_t)source / 64] |= 1ull << (source % 64);
    s->dirty = 1;
    return 0;
}

void jp_partition_stream_advance(jp_partition_state_t *s, jp_input_t input, int source,
                                 int64_t t_ms)
{
    if ((unsigned)input >= JP_INPUT__COUNT || source < 0 || source >= s->n_partitions)
        return;
    size_t at = (size_t)input * (size_t)s->n_partitions + (size_t)source;
    if (t_ms > s->newest[at]) {
        s->newest[at] = t_ms;
        s->dirty = 1;
    }
}

int64_t jp_partition_stream_newest(const jp_partition_state_t *s, jp_input_t input, int source)
{
    if ((unsigned)input >= JP_INPUT__COUNT || source < 0 || source >= s->n_partitions)
        return INT64_MIN;
    return s->newest[(size_t)input * (size_t)s->n_partitions + (size_t)source];
}

int jp_partition_country_copied(const jp_partition_state_t *s, const char *cc)
{
    return s->n_countries && country(s, cc) != NULL;
}

int64_t jp_partition_feed_newest(const jp_partition_state_t *s, jp_input_t input, const char *cc,
                                 int64_t direct_newest)
{
    const jp_partition_country_t *c = s->n_countries ? country(s, cc) : NULL;
    if (!c)
        return direct_newest;
    int64_t low = INT64_MAX;
    const uint64_t *bits = c->sources + (size_t)input * words(s);
    for (int p = 0; p < s->n_partitions; p++)
        if (bits[p / 64] >> (p % 64) & 1) {
            int64_t n = s->newest[(size_t)input * (size_t)s->n_partitions + (size_t)p];
            if (n < low)
                low = n;
        }
    return low == INT64_MAX ? INT64_MIN : low;
}

/* The lowest (low != 0) or highest newest time over the input's streams. */
static int64_t input_bound(const jp_partition_state_t *s, jp_input_t input, int64_t direct, int low)
{
    int64_t b = direct;
    for (int p = 0; p < s->n_partitions; p++) {
        int64_t n = s->newest[(size_t)input * (size_t)s->n_partitions + (size_t)p];
        if (n != INT64_MIN && (b == INT64_MIN || (low ? n < b : n > b)))
            b = n;
    }
    return b;
}

int64_t jp_partition_input_floor(const jp_partition_state_t *s, jp_input_t input,
                                 int64_t direct_newest)
{
    return input_bound(s, input, direct_newest, 1);
}

int64_t jp_partition_input_ceiling(const jp_partition_state_t *s, jp_input_t input,
                                   int64_t direct_newest)
{
    return input_bound(s, input, direct_newest, 0);
}

#define STATE_TAG     "RPST"
#define STATE_VERSION 1

uint8_t *jp_partition_state_encode(const jp_partition_state_t *s, size_t *len)
{
    jp_bytes_writer_t w;
    jp_bytes_writer_init(&w);
    jp_bytes_put_header(&w, STATE_TAG, STATE_VERSION);
    jp_bytes_put_u32(&w, (uint32_t)s->n_partitions);
    for (int i = 0; i < JP_INPUT__COUNT; i++) {
        jp_bytes_put_i64(&w, s->repartitioned[i]);
        jp_bytes_put_i64(&w, s->received[i]);
        jp_bytes_put_i64(&w, s->replays[i]);
    }
    jp_bytes_put_i64(&w, s->lost);
    for (size_t i = 0; i < cells(s); i++) {
        jp_bytes_put_varint(&w, s->high[i]);
        jp_bytes_put_varint(&w, s->newest[i]);
    }
    jp_bytes_put_u32(&w, (uint32_t)s->n_countries);
    for (size_t c = 0; c < s->n_countries; c++) {
        jp_bytes_put_raw(&w, s->countries[c].cc, 2);
        for (size_t k = 0; k < (size_t)JP_INPUT__COUNT * words(s); k++)
            jp_bytes_put_u64(&w, s->countries[c].sources[k]);
    }
    return jp_bytes_writer_take(&w, len);
}

int jp_partition_state_decode(jp_partition_state_t *s, const void *val, size_t len)
{
    int64_t next = s->next_offset;
    jp_partition_state_reset(s);
    s->next_offset = next;
    jp_bytes_reader_t r;
    jp_bytes_reader_init(&r, val, len);
    jp_bytes_get_header(&r, STATE_TAG, STATE_VERSION);
    uint32_t n = jp_bytes_get_u32(&r);
    /* the table must match: a changed partition count starts afresh (every
     * source's replay mark would belong to another partition) */
    int ok = jp_bytes_reader_ok(&r) && n == (uint32_t)s->n_partitions;
    for (int i = 0; ok && i < JP_INPUT__COUNT; i++) {
        s->repartitioned[i] = jp_bytes_get_i64(&r);
        s->received[i] = jp_bytes_get_i64(&r);
        s->replays[i] = jp_bytes_get_i64(&r);
    }
    if (ok)
        s->lost = jp_bytes_get_i64(&r);
    for (size_t i = 0; ok && i < cells(s); i++) {
        s->high[i] = jp_bytes_get_varint(&r);
        s->newest[i] = jp_bytes_get_varint(&r);
    }
    uint32_t nc = ok ? jp_bytes_get_u32(&r) : 0;
    for (uint32_t c = 0; ok && jp_bytes_reader_ok(&r) && c < nc && c < len; c++) {
        char cc[2];
        jp_bytes_get_raw(&r, cc, 2);
        jp_partition_country_t *k = country_add(s, cc);
        for (size_t i = 0; k && i < (size_t)JP_INPUT__COUNT * words(s); i++)
            k->sources[i] = jp_bytes_get_u64(&r);
        ok = k != NULL;
    }
    if (!ok || !jp_bytes_reader_done(&r)) {
        jp_partition_state_reset(s);
        s->next_offset = next;
        return -1;
    }
    return 0;
}

/* Parses a non-negative decimal of at most 19 digits at [p, end); the end
 * of the number in *next. -1 if there is none or it overflows. */
static int parse_dec(const char *p, const char *end, int64_t *out, const char **next)
{
    int64_t v = 0;
    const char *q = p;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (q - p >= 18)
            return -1;
        v = v * 10 + (*q - '0');
    }
    if (q == p)
        return -1;
    *out = v;
    *next = q;
    return 0;
}

int jp_partition_parse_source(const void *val, size_t len, const char **topic, size_t *topic_len,
                              int32_t *partition, int64_t *offset)
{
    const char *s = val, *end = s + len;
    /* Topic names have no '/': the last two fields are the numbers. */
    const char *slash = memchr(s, '/', len);
    if (!slash || slash == s)
        return -1;
    int64_t p, o;
    const char *q;
    if (parse_dec(slash + 1, end, &p, &q) != 0 || q >= end || *q != '/' || p > INT32_MAX ||
        parse_dec(q + 1, end, &o, &q) != 0 || q != end)
        return -1;
    *topic = s;
    *topic_len = (size_t)(slash - s);
    *partition = (int32_t)p;
    *offset = o;
    return 0;
}
