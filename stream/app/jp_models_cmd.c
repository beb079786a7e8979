/*
 * `jackpot models`: the model registry from the command line, through the
 * admin API of a running processor (GET /v1/models..., POST .../promote and
 * .../rollback with the operator's JWT). The command holds no state of its
 * own: what it prints is what the API serves, so scripts can use --json and
 * people the tables.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/jp_commands.h"
#include "config/jp_config.h"
#include "registry/jp_registry_client.h"

const char jp_cmd_models_usage[] =
    "usage: jackpot models list [--country CC] [--json]\n"
    "       jackpot models show CC [--json]\n"
    "       jackpot models compare MODEL VERSION VERSION... [--json]\n"
    "       jackpot models promote MODEL [--version N] [--token-file FILE]\n"
    "       jackpot models rollback MODEL [--token-file FILE]\n"
    "\n"
    "The model registry of a running processor (docs/models.md), through its\n"
    "admin API. MODEL is <kind>-<country>, e.g. sales-GB or churn-NL.\n"
    "\n"
    "  list      every model: champion and challenger versions, the champion's\n"
    "            prequential error and (sales) its elasticities\n"
    "  show      a country's models: each alias with its stage, metrics, data\n"
    "            snapshot and elasticities ({estimate, stderr})\n"
    "  compare   the metrics and coefficients of two or more versions of a\n"
    "            model side by side\n"
    "  promote   makes the challenger (or --version N, the challenger or the\n"
    "            previous champion) the champion, bypassing the gate\n"
    "  rollback  makes the previous champion the champion again\n"
    "\n"
    "Options:\n"
    "      --url URL          the admin API (default: $JACKPOT_ADMIN_URL, else\n"
    "                         http:// + http.listen of the configuration)\n"
    "  -c, --config FILE      processor configuration for the default URL\n"
    "                         (default configs/jackpot.yaml)\n"
    "      --country CC       list: only this country\n"
    "      --version N        promote: the version to promote\n"
    "      --token-file FILE  promote, rollback: a JWT with role operator\n"
    "                         (default: $JACKPOT_TOKEN; docs/security.md mints one)\n"
    "      --json             print the API's JSON\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit codes: 0, 64 usage, 65 refused (unknown model or version, nothing to\n"
    "promote or roll back), 69 the API is unreachable, 77 no or insufficient\n"
    "token (401/403), 70 the API failed.\n";

typedef struct {
    jp_registry_client_t *http;
    int json;
} cli_t;

/* Calls the API; returns an exit code, the body parsed into *out on 200. */
static int call(cli_t *c, const char *method, const char *path, const char *body, json_t **out)
{
    int status = 0;
    char *text = NULL, err[512];
    *out = NULL;
    if (jp_registry_client_request(c->http, method, path, body, &status, &text, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "jackpot models: %s\n", err);
        return EX_UNAVAILABLE;
    }
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "error"));
    int rc = 0;
    if (status == 200 && j) {
        *out = j;
        j = NULL;
    } else if (status == 401 || status == 403) {
        fprintf(stderr, "jackpot models: %d: %s\n", status, msg ? msg : "refused");
        rc = EX_NOPERM;
    } else if (status >= 400 && status < 500) {
        fprintf(stderr, "jackpot models: %d: %s\n", status, msg ? msg : "refused");
        rc = EX_DATAERR;
    } else {
        fprintf(stderr, "jackpot models: %d: %s\n", status, msg ? msg : "the API failed");
        rc = EX_SOFTWARE;
    }
    json_decref(j);
    free(text);
    return rc;
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s)
        puts(s);
    free(s);
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The champion's prequential error: MAPE (sales) or log-loss (churn). */
static void error_text(const json_t *model, const json_t *v, char *out, size_t size)
{
    const json_t *m = json_object_get(v, "metrics");
    int sales = strcmp(json_string_value(json_object_get(model, "kind")), "sales") == 0;
    double e = num(m, sales ? "eval.mape" : "eval.log_loss");
    if (isnan(e))
        snprintf(out, size, "-");
    else if (sales)
        snprintf(out, size, "mape %.2f%%", 100 * e);
    else
        snprintf(out, size, "log-loss %.4f, auc %.3f", e, num(m, "eval.auc"));
}

static void elasticity_text(const json_t *v, char *out, size_t size)
{
    const json_t *el = json_object_get(v, "elasticities");
    size_t n = 0;
    out[0] = '\0';
    const char *flows[] = {"signups", "extras", "cancellations"};
    for (size_t i = 0; i < 3 && el; i++) {
        const json_t *f = json_object_get(el, flows[i]);
        if (json_is_object(f))
            n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s %.3f±%.3f", n ? ", " : "",
                                  flows[i], num(f, "estimate"), num(f, "stderr"));
    }
}

static int version_of(const json_t *alias)
{
    return json_is_object(alias) ? (int)json_integer_value(json_object_get(alias, "version")) : 0;
}

/* GETs path: with --json prints it (*out NULL), else hands it over for a
 * table. Returns the exit code. */
static int get_table(cli_t *c, const char *path, json_t **out)
{
    int rc = call(c, "GET", path, NULL, out);
    if (rc == 0 && c->json) {
        print_json(*out);
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static int cmd_list(cli_t *c, const char *country)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/models%s%s", country ? "?country=" : "",
             country ? country : "");
    json_t *j;
    int rc = get_table(c, path, &j);
    if (rc || !j)
        return rc;
    printf("%-10s %9s %11s %9s  %-26s %s\n", "MODEL", "CHAMPION", "CHALLENGER", "VERSIONS",
           "CHAMPION ERROR", "ELASTICITIES");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "models"), i, m)
    {
        const json_t *al = json_object_get(m, "aliases");
        const json_t *champ = json_object_get(al, "champion");
        char err[64], el[160], cv[16], chv[16];
        error_text(m, champ, err, sizeof(err));
        elasticity_text(champ, el, sizeof(el));
        snprintf(cv, sizeof(cv), "%d", version_of(champ));
        snprintf(chv, sizeof(chv), "%d", version_of(json_object_get(al, "challenger")));
        printf("%-10s %9s %11s %9zu  %-26s %s\n", json_string_value(json_object_get(m, "model")),
               version_of(champ) ? cv : "-",
               version_of(json_object_get(al, "challenger")) ? chv : "-",
               json_array_size(json_object_get(m, "versions")), err, el);
    }
    json_decref(j);
    return 0;
}

static void iso(json_int_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M", &tm);
}

static void show_version(const char *alias, const json_t *model, const json_t *v)
{
    if (!json_is_object(v)) {
        printf("  %-10s -\n", alias);
        return;
    }
    char created[32], from[32], to[32], err[64], el[160];
    iso(json_integer_value(json_object_get(v, "created_at")), created, sizeof(created));
    const json_t *data = json_object_get(v, "data");
    iso(json_integer_value(json_object_get(data, "event_time_start")), from, sizeof(from));
    iso(json_integer_value(json_object_get(data, "event_time_end")), to, sizeof(to));
    error_text(model, v, err, sizeof(err));
    printf("  %-10s version %d, %s, created %s UTC, data %s .. %s\n", alias, version_of(v),
           json_string_value(json_object_get(v, "stage")), created, from, to);
    printf("  %-10s %s: %s\n", "", json_string_value(json_object_get(v, "event")),
           json_string_value(json_object_get(v, "reason")));
    printf("  %-10s prequential error since its cut: %s\n", "", err);
    elasticity_text(v, el, sizeof(el));
    if (el[0])
        printf("  %-10s elasticities: %s\n", "", el);
}

static int cmd_show(cli_t *c, const char *country)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/models?country=%s", country);
    json_t *j;
    int rc = get_table(c, path, &j);
    if (rc || !j)
        return rc;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "models"), i, m)
    {
        const json_t *al = json_object_get(m, "aliases");
        printf("%s (%zu versions)\n", json_string_value(json_object_get(m, "model")),
               json_array_size(json_object_get(m, "versions")));
        show_version("champion", m, json_object_get(al, "champion"));
        show_version("challenger", m, json_object_get(al, "challenger"));
    }
    json_decref(j);
    return 0;
}

static int cmd_compare(cli_t *c, const char *model, char **versions, int n)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/models/%s", model);
    json_t *j;
    int rc = call(c, "GET", path, NULL, &j);
    if (rc)
        return rc;
    json_t *picked = json_array();
    for (int k = 0; k < n; k++) {
        long want;
        if (jp_cli_parse_long(versions[k], 1, 1000000, &want) != 0) {
            fprintf(stderr, "jackpot models: '%s' is not a version number\n", versions[k]);
            rc = EX_USAGE;
            break;
        }
        json_t *found = NULL, *v;
        size_t i;
        json_array_foreach(json_object_get(j, "versions"), i, v)
        {
            if (json_integer_value(json_object_get(v, "version")) == want)
                found = v;
        }
        if (!found) {
            fprintf(stderr, "jackpot models: %s has no version %ld\n", model, want);
            rc = EX_DATAERR;
            break;
        }
        json_array_append(picked, found);
    }
    if (rc == 0 && c->json) {
        print_json(picked);
    } else if (rc == 0) {
        /* rows: every metric any of them has, sorted; then coefficients */
        json_t *names = json_object();
        size_t i;
        json_t *v;
        json_array_foreach(picked, i, v)
        {
            const char *k;
            json_t *x;
            json_object_foreach(json_object_get(v, "metrics"), k, x)
            {
                json_object_set_new(names, k, json_true());
            }
        }
        printf("%-36s", "version");
        json_array_foreach(picked, i, v)
        {
            printf(" %14d", version_of(v));
        }
        printf("\n%-36s", "stage");
        json_array_foreach(picked, i, v)
        {
            printf(" %14s", json_string_value(json_object_get(v, "stage")));
        }
        printf("\n");
        const char **keys = malloc(json_object_size(names) * sizeof(*keys) + 1);
        size_t nk = 0;
        const char *k;
        json_t *x;
        json_object_foreach(names, k, x)
        {
            if (keys)
                keys[nk++] = k;
        }
        for (size_t a = 1; keys && a < nk; a++)
            for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
                const char *t = keys[b];
                keys[b] = keys[b - 1];
                keys[b - 1] = t;
            }
        for (size_t r = 0; keys && r < nk; r++) {
            printf("%-36s", keys[r]);
            json_array_foreach(picked, i, v)
            {
                double d = num(json_object_get(v, "metrics"), keys[r]);
                if (isnan(d))
                    printf(" %14s", "-");
                else
                    printf(" %14.6g", d);
            }
            printf("\n");
        }
        free(keys);
        json_t *first = json_array_get(picked, 0);
        json_t *co;
        json_array_foreach(json_object_get(first, "coefficients"), i, co)
        {
            const char *cname = json_string_value(json_object_get(co, "name"));
            char label[64];
            snprintf(label, sizeof(label), "coef %s", cname ? cname : "?");
            printf("%-36s", label);
            size_t vi;
            json_array_foreach(picked, vi, v)
            {
                double d = NAN, se = NAN;
                size_t ci;
                json_t *cc;
                json_array_foreach(json_object_get(v, "coefficients"), ci, cc)
                {
                    const char *nm = json_string_value(json_object_get(cc, "name"));
                    if (nm && cname && strcmp(nm, cname) == 0) {
                        d = num(cc, "estimate");
                        se = num(cc, "stderr");
                    }
                }
                char cell[32];
                if (isnan(d))
                    snprintf(cell, sizeof(cell), "-");
                else if (isnan(se))
                    snprintf(cell, sizeof(cell), "%.4f", d);
                else
                    snprintf(cell, sizeof(cell), "%.3f±%.3f", d, se);
                printf(" %14s", cell);
            }
            printf("\n");
        }
        json_decref(names);
    }
    json_decref(picked);
    json_decref(j);
    return rc;
}

static int cmd_change(cli_t *c, const char *op, const char *model, long version)
{
    char path[96], body[64] = "";
    snprintf(path, sizeof(path), "/v1/models/%s/%s", model, op);
    if (version > 0)
        snprintf(body, sizeof(body), "{\"version\": %ld}", version);
    json_t *j;
    int rc = call(c, "POST", path, body[0] ? body : NULL, &j);
    if (rc)
        return rc;
    if (c->json) {
        print_json(j);
    } else {
        const json_t *champ = json_object_get(json_object_get(j, "aliases"), "champion");
        printf("%s: version %d is the champion (%s)\n", model, version_of(champ),
               json_string_value(json_object_get(champ, "reason")));
    }
    json_decref(j);
    return 0;
}

/* The admin URL: --url, $JACKPOT_ADMIN_URL, or the configuration's listen
 * address. malloc'd; NULL after printing why. */
static char *admin_url(const char *url, const char *config)
{
    const char *env = getenv("JACKPOT_ADMIN_URL");
    if (url || env)
        return strdup(url ? url : env);
    jp_conf_t conf;
    jp_config_t cfg;
    jp_conf_init(&conf, "JACKPOT_");
    char *out = NULL;
    if (jp_config_load(&conf, config, NULL, &cfg) == 0 && cfg.http.listen) {
        const char *l = cfg.http.listen;
        size_t n = strlen(l) + 24;
        if ((out = malloc(n))) {
            if (strncmp(l, "0.0.0.0:", 8) == 0)
                snprintf(out, n, "http://127.0.0.1:%s", l + 8);
            else
                snprintf(out, n, "http://%s", l);
        }
    } else {
        for (size_t i = 0; i < conf.n_errors; i++)
            fprintf(stderr, "%s\n", conf.errors[i]);
    }
    jp_config_release(&cfg);
    jp_conf_destroy(&conf);
    return out;
}

/* The operator token: the file's content without trailing newlines, or
 * $JACKPOT_TOKEN. NULL when there is none. */
static char *operator_token(const char *file)
{
    const char *env = getenv("JACKPOT_TOKEN");
    if (!file)
        return env ? strdup(env) : NULL;
    char err[256];
    char *t = jp_conf_read_secret(file, err, sizeof(err));
    if (!t)
        fprintf(stderr, "jackpot models: %s\n", err);
    return t;
}

int jp_cmd_models(const jp_command_t *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"country", required_argument, NULL, 'C'},
                                             {"version", required_argument, NULL, 'V'},
                                             {"token-file", required_argument, NULL, 't'},
                                             {"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    const char *url = NULL, *config = "configs/jackpot.yaml", *country = NULL, *token_file = NULL;
    long version = 0;
    cli_t c = {NULL, 0};
    int code, o;
    while ((o = jp_cli_getopt(cmd, argc, argv, "c:", longopts, &code)) != -1) {
        switch (o) {
        case JP_CLI_EXIT:
            return code;
        case 'u':
            url = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'C':
            if (strlen(optarg) != 2)
                return jp_cli_usage_error(cmd, "--country needs a two-letter code");
            country = optarg;
            break;
        case 'V':
            if (jp_cli_parse_long(optarg, 1, 1000000, &version) != 0)
                return jp_cli_usage_error(cmd, "--version needs a version number");
            break;
        case 't':
            token_file = optarg;
            break;
        case 'j':
            c.json = 1;
            break;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1)
        return jp_cli_usage_error(cmd, "which subcommand: list, show, compare, promote, rollback?");
    const char *sub = args[0];
    int want = strcmp(sub, "list") == 0       ? 1
               : strcmp(sub, "show") == 0     ? 2
               : strcmp(sub, "compare") == 0  ? -4
               : strcmp(sub, "promote") == 0  ? 2
               : strcmp(sub, "rollback") == 0 ? 2
                                              : 0;
    if (!want)
        return jp_cli_usage_error(cmd, "unknown subcommand '%s'", sub);
    if ((want > 0 && nargs != want) || (want < 0 && nargs < -want))
        return jp_cli_usage_error(cmd, "wrong number of arguments for '%s'", sub);
    if (strcmp(sub, "show") == 0 && strlen(args[1]) != 2)
        return jp_cli_usage_error(cmd, "show needs a two-letter country code");
    char *base = admin_url(url, config);
    if (!base)
        return EX_CONFIG;
    char err[512];
    c.http = jp_registry_client_new(base, err, sizeof(err));
    free(base);
    if (!c.http) {
        fprintf(stderr, "jackpot models: %s\n", err);
        return EX_USAGE;
    }
    jp_registry_client_set_retry(c.http, 1, 0);
    int rc;
    if (strcmp(sub, "list") == 0) {
        rc = cmd_list(&c, country);
    } else if (strcmp(sub, "show") == 0) {
        rc = cmd_show(&c, args[1]);
    } else if (strcmp(sub, "compare") == 0) {
        rc = cmd_compare(&c, args[1], args + 2, nargs - 2);
    } else {
        char *token = operator_token(token_file);
        if (token && jp_registry_client_set_bearer(c.http, token) != 0)
            rc = EX_OSERR;
        else
            rc = cmd_change(&c, sub, args[1], strcmp(sub, "promote") == 0 ? version : 0);
        free(token);
    }
    jp_registry_client_free(c.http);
    return rc;
}
