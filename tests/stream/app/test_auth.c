/*
 * jp_auth on its own: option checks, the token-bucket limiter driven by an
 * explicit clock (refill, Retry-After, per-client buckets, eviction), the
 * decision table of jp_auth_check, and the http.* configuration keys that
 * feed it, loaded from the shipped configs/jackpot.yaml with environment
 * overrides (each key works; the broken ones are rejected by
 * tests/configs/broken/p-*.yaml through test_config).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "app/jp_auth.h"
#include "config/jp_config.h"
#include "jp_test.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char key[] = "0123456789abcdef0123456789abcdef";

static char *token(const char *role, long exp)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grant(j, "role", role), 0);
    assert_int_equal(jwt_add_grant_int(j, "exp", exp), 0);
    assert_int_equal(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)key, (int)strlen(key)),
                     0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    assert_non_null(t);
    char *h = malloc(strlen(t) + 8);
    sprintf(h, "Bearer %s", t);
    free(t);
    return h;
}

static void test_options(void **state)
{
    (void)state;
    char err[128];
    jp_auth_opts_t o = {"short", 0, 0, 0};
    assert_null(jp_auth_new(&o, err, sizeof(err)));
    assert_string_equal(err, "the JWT key has 5 bytes; HS256 needs at least 32");
    o = (jp_auth_opts_t){NULL, 1, 0, 0};
    assert_null(jp_auth_new(&o, err, sizeof(err)));
    assert_string_equal(err, "protected reads need a JWT key");
    o = (jp_auth_opts_t){key, 0, 5, 0};
    assert_null(jp_auth_new(&o, err, sizeof(err)));
    o = (jp_auth_opts_t){key, 0, -1, 5};
    assert_null(jp_auth_new(&o, err, sizeof(err)));
    o = (jp_auth_opts_t){NULL, 0, 0, 0};
    jp_auth_t *a = jp_auth_new(&o, err, sizeof(err));
    assert_non_null(a);
    jp_auth_free(a);
    jp_auth_free(NULL);
}

static void test_rate_limit(void **state)
{
    (void)state;
    char err[128];
    jp_auth_opts_t o = {NULL, 0, 2.0, 3}; /* 2/s, 3 at once */
    jp_auth_t *a = jp_auth_new(&o, err, sizeof(err));
    assert_non_null(a);
    int64_t retry = -7;
    for (int i = 0; i < 3; i++)
        assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 1000, &retry), 0);
    assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 1000, &retry), -1);
    assert_int_equal(retry, 1);
    /* another client has its own bucket */
    assert_int_equal(jp_auth_rate_take(a, "10.0.0.2", 1000, &retry), 0);
    /* 250 ms: half a token, still refused; 500 ms: one token */
    assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 1250, &retry), -1);
    assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 1500, &retry), 0);
    assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 1500, &retry), -1);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 3; i++)
        assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 100000, &retry), 0);
    assert_int_equal(jp_auth_rate_take(a, "10.0.0.1", 100000, &retry), -1);
    jp_auth_free(a);

    /* slow refill: Retry-After is the whole seconds until the next token */
    o = (jp_auth_opts_t){NULL, 0, 0.01, 1};
    a = jp_auth_new(&o, err, sizeof(err));
    assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), 0);
    assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), -1);
    assert_int_equal(retry, 100);
    assert_int_equal(jp_auth_rate_take(a, "c", 50000, &retry), -1);
    assert_int_equal(retry, 50);

    /* more clients than buckets: the least recently seen one is evicted and
     * starts again with a full bucket */
    for (int i = 0; i < JP_AUTH_MAX_CLIENTS + 1; i++) {
        char c[32];
        snprintf(c, sizeof(c), "client-%d", i);
        assert_int_equal(jp_auth_rate_take(a, c, 60000 + i, &retry), 0);
    }
    assert_int_equal(jp_auth_rate_take(a, "c", 70000, &retry), 0);
    jp_auth_free(a);

    /* rate 0: no limit at all */
    o = (jp_auth_opts_t){NULL, 0, 0, 0};
    a = jp_auth_new(&o, err, sizeof(err));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), 0);
    jp_auth_free(a);
}

static void test_decisions(void **state)
{
    (void)state;
    char err[128], why[256];
    long now = 1767225600; /* 2026-01-01 */
    jp_auth_opts_t o = {key, 0, 0, 0};
    jp_auth_t *open_reads = jp_auth_new(&o, err, sizeof(err));
    o.protect_reads = 1;
    jp_auth_t *closed_reads = jp_auth_new(&o, err, sizeof(err));
    char *op = token("operator", now + 60), *viewer = token("viewer", now + 60),
         *expired = token("operator", now - 31), *skewed = token("operator", now - 29);

    const struct {
        const jp_auth_t *a;
        const char *hdr;
        int mutating, want;
    } cases[] = {
        {NULL, NULL, 0, 0},
        {NULL, op, 1, 401},
        {open_reads, NULL, 0, 0},
        {open_reads, NULL, 1, 401},
        {open_reads, viewer, 1, 403},
        {open_reads, op, 1, 0},
        {open_reads, expired, 1, 401},
        {open_reads, skewed, 1, 0},
        {closed_reads, NULL, 0, 401},
        {closed_reads, viewer, 0, 0},
        {closed_reads, op, 0, 0},
        {closed_reads, "Bearer x.y.z", 0, 401},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        int got = jp_auth_check(cases[i].a, cases[i].hdr, cases[i].mutating, now, why, sizeof(why));
        if (got != cases[i].want)
            print_message("case %zu: %d (%s)\n", i, got, why);
        assert_int_equal(got, cases[i].want);
        /* refusals explain themselves without quoting the token */
        if (got) {
            assert_true(strlen(why) > 0);
            assert_null(strchr(why, '"'));
            assert_null(strstr(why, "eyJ"));
        }
    }
    jp_auth_check(open_reads, NULL, 1, now, why, sizeof(why));
    assert_string_equal(why, "missing bearer token (Authorization: Bearer <JWT>)");
    jp_auth_check(open_reads, viewer, 1, now, why, sizeof(why));
    assert_string_equal(why, "this request changes state: it needs role operator");
    jp_auth_check(open_reads, expired, 1, now, why, sizeof(why));
    assert_string_equal(why, "token expired");
    free(op);
    free(viewer);
    free(expired);
    free(skewed);
    jp_auth_free(open_reads);
    jp_auth_free(closed_reads);
}

/* The http keys, through the shipped configuration and JACKPOT_ overrides. */
static void test_config_keys(void **state)
{
    (void)state;
    char *dir = jp_test_tmpdir("auth-config");
    char *key_file = jp_test_write_file(dir, "jwt", "0123456789abcdef0123456789abcdef\n");
    char cfg_path[1024];
    snprintf(cfg_path, sizeof(cfg_path), "%s/configs/jackpot.yaml", jp_test_src());

    /* defaults: no key, reads open, 10/s with a burst of 20 */
    jp_conf_t c;
    jp_config_t cfg;
    jp_conf_init(&c, "JACKPOT_");
    assert_int_equal(jp_config_load(&c, cfg_path, NULL, &cfg), 0);
    jp_conf_destroy(&c);
    assert_null(cfg.http.jwt_key.value);
    assert_int_equal(cfg.http.auth_reads, 0);
    assert_true(cfg.http.rate_limit == 10.0);
    assert_int_equal(cfg.http.rate_burst, 20);
    char err[128];
    jp_auth_t *a = jp_auth_from_config(&cfg, err, sizeof(err));
    assert_non_null(a);
    char *op = token("operator", (long)time(NULL) + 60);
    assert_int_equal(jp_auth_check(a, op, 1, (int64_t)time(NULL), err, sizeof(err)), 401);
    int64_t retry;
    for (int i = 0; i < 20; i++)
        assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), 0);
    assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), -1);
    assert_int_equal(jp_auth_rate_take(a, "c", 100, &retry), 0); /* 10/s: one per 100 ms */
    jp_auth_free(a);
    jp_config_release(&cfg);

    /* every key set */
    setenv("JACKPOT_HTTP__JWT_KEY_FILE", key_file, 1);
    setenv("JACKPOT_HTTP__AUTH_READS", "true", 1);
    setenv("JACKPOT_HTTP__RATE_LIMIT", "0.5", 1);
    setenv("JACKPOT_HTTP__RATE_BURST", "2", 1);
    jp_conf_init(&c, "JACKPOT_");
    int rc = jp_config_load(&c, cfg_path, NULL, &cfg);
    for (size_t i = 0; i < c.n_errors; i++)
        print_message("%s\n", c.errors[i]);
    jp_conf_destroy(&c);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.http.jwt_key.value, "0123456789abcdef0123456789abcdef");
    a = jp_auth_from_config(&cfg, err, sizeof(err));
    assert_non_null(a);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(jp_auth_check(a, op, 1, now, err, sizeof(err)), 0);
    assert_int_equal(jp_auth_check(a, NULL, 0, now, err, sizeof(err)), 401); /* auth_reads */
    for (int i = 0; i < 2; i++)
        assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), 0);
    assert_int_equal(jp_auth_rate_take(a, "c", 0, &retry), -1);
    assert_int_equal(retry, 2); /* 0.5/s */
    jp_auth_free(a);
    jp_config_release(&cfg);

    unsetenv("JACKPOT_HTTP__JWT_KEY_FILE");
    unsetenv("JACKPOT_HTTP__AUTH_READS");
    unsetenv("JACKPOT_HTTP__RATE_LIMIT");
    unsetenv("JACKPOT_HTTP__RATE_BURST");
    free(op);
    free(key_file);
    jp_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
