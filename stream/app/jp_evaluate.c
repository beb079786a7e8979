/*
 * jp_evaluate: the oracle per recommendation, a table, the per-country
 * lines and a gnuplot PNG.
 *
 * The report reads only the recommendation records and the truth: what
 * the engine decided and with which model (elasticities, exploration are
 * in the record), and what the world really was. gnuplot runs as a child
 * process on a data file and a script written to a temporary directory,
 * so a plot never needs a plotting library linked in.
 */
#define _GNU_SOURCE
#include "app/jp_evaluate.h"

#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "base/jp_clock.h"
#include "app/jp_topic_reader.h"
#include "base/jp_log.h"
#include "model/base/jp_err.h"
#include "registry/jp_registry_client.h"
#include "registry/jp_registry_serde.h"
#include "serde/jp_serde.h"
#include "sim/jp_sim_oracle.h"

extern char **environ;

enum { FLOW_SIGNUPS, FLOW_EXTRAS, FLOW_CANCELLATIONS, N_FLOWS };
static const char *const flow_names[N_FLOWS] = {"signups", "extras", "cancellations"};

typedef struct {
    char country[3];
    char draw_id[48];
    int64_t decision_time, prize, greedy;
    int status, explored;
    double cost_share; /* the model's exploration cost over its greedy value */
    double est[N_FLOWS];
    int has_est[N_FLOWS];
    char fallback[128];
    /* filled by the report */
    int evaluated;
    jp_sim_oracle_eval_t e;
} rec_t;

struct jp_evaluation_s {
    rec_t *recs;
    size_t n, cap;
    jp_evaluation_summary_t *sum;
    size_t n_sum;
};

jp_evaluation_t *jp_evaluation_new(void)
{
    return calloc(1, sizeof(jp_evaluation_t));
}

void jp_evaluation_free(jp_evaluation_t *ev)
{
    if (!ev)
        return;
    free(ev->recs);
    free(ev->sum);
    free(ev);
}

size_t jp_evaluation_count(const jp_evaluation_t *ev)
{
    return ev->n;
}

static void copy_str(char *dst, size_t size, jp_avro_str_t s)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

int jp_evaluation_add(jp_evaluation_t *ev, const jp_recommendation_t *r)
{
    rec_t x;
    memset(&x, 0, sizeof(x));
    copy_str(x.country, sizeof(x.country), r->country);
    copy_str(x.draw_id, sizeof(x.draw_id), r->draw_id);
    x.decision_time = r->decision_time;
    x.prize = r->prize_minor;
    x.status = (int)r->status;
    x.explored = r->exploration.explored;
    x.greedy = r->exploration.greedy_prize_minor;
    x.cost_share = r->exploration.share;
    if (r->has_fallback_reason)
        copy_str(x.fallback, sizeof(x.fallback), r->fallback_reason);
    const jp_elasticity_t *el = r->model.elasticities.items;
    for (size_t i = 0; i < r->model.elasticities.n; i++)
        for (int f = 0; f < N_FLOWS; f++)
            if (jp_avro_str_eq(el[i].flow, flow_names[f])) {
                x.est[f] = el[i].estimate;
                x.has_est[f] = 1;
            }
    for (size_t i = 0; i < ev->n; i++)
        if (strcmp(ev->recs[i].country, x.country) == 0 &&
            strcmp(ev->recs[i].draw_id, x.draw_id) == 0) {
            ev->recs[i] = x;
            return 0;
        }
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? 2 * ev->cap : 64;
        rec_t *v = realloc(ev->recs, cap * sizeof(*v));
        if (!v)
            return -1;
        ev->recs = v;
        ev->cap = cap;
    }
    ev->recs[ev->n++] = x;
    return 0;
}

static int rec_cmp(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    int c = strcmp(x->country, y->country);
    if (c)
        return c;
    return (x->decision_time > y->decision_time) - (x->decision_time < y->decision_time);
}

static void date_of(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, size, "%Y-%m-%d", &tm);
}

/* "+3.1" (relative error in %) or "-" when the model gave none. */
static void rel_error(const rec_t *r, int f, double truth, char *buf, size_t size)
{
    if (!r->has_est[f] || truth == 0.0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%+.1f", 100.0 * (r->est[f] - truth) / fabs(truth));
}

static void print_row(FILE *out, const rec_t *r)
{
    char date[16], es[16], ex[16], ec[16], explore[48];
    date_of(r->decision_time, date, sizeof(date));
    const char *status = r->status == JP_RECOMMENDATION_OK           ? "OK"
                         : r->status == JP_RECOMMENDATION_INFEASIBLE ? "INFEASIBLE"
                                                                     : "UNKNOWN";
    if (!r->evaluated) {
        fprintf(out, "%-3s %-24s %s %12lld %12s %8s  %-10s (horizon beyond the truth)\n",
                r->country, r->draw_id, date, (long long)r->prize, "-", "-", status);
        return;
    }
    const jp_sim_oracle_eval_t *e = &r->e;
    if (r->explored)
        snprintf(explore, sizeof(explore), "yes %.2f%%/%.2f%%", 100.0 * r->cost_share,
                 100.0 * (e->greedy_value - e->value) / fabs(e->oracle_value));
    else
        snprintf(explore, sizeof(explore), "no");
    rel_error(r, FLOW_SIGNUPS, e->e_signup, es, sizeof(es));
    rel_error(r, FLOW_EXTRAS, e->e_extra, ex, sizeof(ex));
    rel_error(r, FLOW_CANCELLATIONS, e->e_cancel, ec, sizeof(ec));
    fprintf(out, "%-3s %-24s %s %12lld %12lld %7.2f%%  %-10s %-19s %6s %6s %6s  %s\n", r->country,
            r->draw_id, date, (long long)r->prize, (long long)e->oracle_prize, 100.0 * e->regret,
            status, explore, es, ex, ec, r->fallback);
}

static int summarize(jp_evaluation_t *ev, const rec_t *r, size_t n)
{
    jp_evaluation_summary_t *v = realloc(ev->sum, (ev->n_sum + 1) * sizeof(*v));
    if (!v)
        return -1;
    ev->sum = v;
    jp_evaluation_summary_t *s = &v[ev->n_sum++];
    memset(s, 0, sizeof(*s));
    memcpy(s->country, r[0].country, 3);
    s->decisions = n;
    double all = 0.0, late = 0.0;
    size_t n_late = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        s->evaluated += r[i].evaluated;
    for (size_t i = 0; i < n; i++) {
        s->explored += r[i].explored != 0;
        s->fallbacks += r[i].fallback[0] != '\0';
        s->infeasible += r[i].status == JP_RECOMMENDATION_INFEASIBLE;
        if (!r[i].evaluated)
            continue;
        all += r[i].e.regret;
        if (k++ >= s->evaluated / 2) {
            late += r[i].e.regret;
            n_late++;
        }
    }
    s->regret_mean = s->evaluated ? all / (double)s->evaluated : NAN;
    s->regret_second_half = n_late ? late / (double)n_late : NAN;
    return 0;
}

/* Runs gnuplot on script; 0 when it exits 0. */
static int run_gnuplot(const char *script, char *errstr, size_t size)
{
    pid_t pid;
    char *argv[] = {"gnuplot", (char *)script, NULL};
    int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (rc != 0) {
        jp_err_set(errstr, size, "cannot run gnuplot (%s): install gnuplot-nox", strerror(rc));
        return -1;
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        jp_err_set(errstr, size, "gnuplot failed on %s", script);
        return -1;
    }
    return 0;
}

/* One panel per country: recommended and oracle prize by decision time. */
static int plot(const rec_t *r, size_t n, size_t n_countries, const char *path, char *errstr,
                size_t size)
{
    char dir[] = "/tmp/jackpot-evaluate-XXXXXX";
    if (!mkdtemp(dir)) {
        jp_err_set(errstr, size, "cannot create a temporary directory");
        return -1;
    }
    char data[sizeof(dir) + 16], script[sizeof(dir) + 16];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(script, sizeof(script), "%s/plot.gp", dir);
    FILE *d = fopen(data, "w"), *s = fopen(script, "w");
    int rc = -1;
    if (!d || !s) {
        jp_err_set(errstr, size, "cannot write in %s", dir);
        goto done;
    }
    fprintf(s,
            "set terminal pngcairo size 1000,%zu\nset output '%s'\n"
            "set multiplot layout %zu,1\nset xdata time\nset timefmt '%%s'\n"
            "set format x '%%Y-%%m-%%d'\nset key top left\nset ylabel 'prize (minor units)'\n",
            (size_t)(260 * (n_countries ? n_countries : 1)), path, n_countries ? n_countries : 1);
    size_t block = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(r[j].country, r[i].country) == 0) {
            if (r[j].evaluated)
                fprintf(d, "%lld %lld %lld\n", (long long)(r[j].decision_time / 1000),
                        (long long)r[j].prize, (long long)r[j].e.oracle_prize);
            j++;
        }
        fprintf(d, "\n\n");
        fprintf(s,
                "set title '%s: recommended vs oracle prize'\n"
                "plot '%s' index %zu using 1:2 with steps title 'recommended', "
                "'' index %zu using 1:3 with steps title 'oracle'\n",
                r[i].country, data, block, block);
        block++;
        i = j;
    }
    fprintf(s, "unset multiplot\n");
    fclose(d);
    fclose(s);
    d = s = NULL;
    rc = run_gnuplot(script, errstr, size);
done:
    if (d)
        fclose(d);
    if (s)
        fclose(s);
    unlink(data);
    unlink(script);
    rmdir(dir);
    return rc;
}

int jp_evaluation_report(jp_evaluation_t *ev, const json_t *truth, const jp_config_t *cfg,
                         FILE *out, const char *plot_path, char *errstr, size_t errstr_size)
{
    jp_sim_oracle_t *o = jp_sim_oracle_new(truth, cfg, errstr, errstr_size);
    if (!o)
        return -1;
    if (ev->n > 1) /* recs is NULL before the first record (UBSan: qsort(NULL, 0)) */
        qsort(ev->recs, ev->n, sizeof(*ev->recs), rec_cmp);
    ev->n_sum = 0;
    fprintf(out,
            "cc  draw                     decided          prize       oracle   regret  status     "
            "explored (cost model/true) elasticity error %% (signups extras cancellations)  "
            "fallback\n");
    int rc = 0;
    size_t n_countries = 0;
    for (size_t i = 0; i < ev->n && rc == 0;) {
        size_t j = i;
        while (j < ev->n && strcmp(ev->recs[j].country, ev->recs[i].country) == 0) {
            rec_t *r = &ev->recs[j];
            int e = jp_sim_oracle_eval(o, r->country, r->draw_id, r->prize,
                                       r->explored ? r->greedy : 0, &r->e, errstr, errstr_size);
            if (e < 0) {
                rc = -1;
                break;
            }
            r->evaluated = e == 0;
            print_row(out, r);
            j++;
        }
        if (rc == 0 && summarize(ev, &ev->recs[i], j - i) != 0) {
            jp_err_set(errstr, errstr_size, "out of memory");
            rc = -1;
        }
        n_countries++;
        i = j;
    }
    for (size_t k = 0; k < ev->n_sum && rc == 0; k++) {
        const jp_evaluation_summary_t *s = &ev->sum[k];
        fprintf(out,
                "%s: %zu decisions, %zu evaluated, mean regret %.2f%%, %zu explored, %zu "
                "fallbacks, %zu infeasible\n",
                s->country, s->decisions, s->evaluated, 100.0 * s->regret_mean, s->explored,
                s->fallbacks, s->infeasible);
    }
    for (size_t k = 0; k < ev->n_sum && rc == 0; k++)
        fprintf(out, "regret %s %.2f decisions %zu\n", ev->sum[k].country,
                100.0 * ev->sum[k].regret_second_half, ev->sum[k].decisions);
    if (rc == 0 && plot_path)
        rc = plot(ev->recs, ev->n, n_countries, plot_path, errstr, errstr_size);
    jp_sim_oracle_free(o);
    return rc;
}

typedef struct {
    jp_serde_t *serde;
    jp_avro_arena_t arena;
    jp_evaluation_t *ev;
    long undecodable;
} reader_t;

static void take(reader_t *r, const rd_kafka_message_t *m)
{
    jp_recommendation_t rec;
    char err[256];
    jp_avro_arena_reset(&r->arena);
    if (jp_serde_decode(r->serde, JP_EVENT_RECOMMENDATION, m->payload, m->len, &rec, &r->arena, err,
                        sizeof(err)) != JP_SERDE_OK) {
        if (r->undecodable++ == 0)
            jp_log_warn("evaluate", "partition %d offset %lld does not decode: %s",
                        (int)m->partition, (long long)m->offset, err);
        return;
    }
    jp_evaluation_add(r->ev, &rec);
}

/* Reads topic from the beginning up to the ends it has now (a group-less
 * reader, app/jp_topic_reader.h). */
static int read_topic(const char *brokers, const jp_conf_props_t *xprops, const char *topic,
                      reader_t *r, char *err, size_t n)
{
    rd_kafka_t *rk = jp_topic_reader_new("jackpot-evaluate", brokers, NULL, xprops, err, n);
    jp_topic_ends_t ends = {0};
    if (!rk || jp_topic_reader_assign(rk, brokers, topic, 1, 10000, &ends, err, n) != 0) {
        jp_topic_reader_free(rk);
        return -1;
    }
    int64_t left = 0;
    for (int i = 0; i < ends.n; i++) {
        if (ends.hi[i] < 0) {
            jp_err_set(err, n, "topic %s partition %d: its offsets are unknown", topic,
                       (int)ends.partition[i]);
            jp_topic_ends_free(&ends);
            jp_topic_reader_free(rk);
            return -1;
        }
        left += ends.hi[i] - ends.lo[i];
    }
    double deadline = jp_clock_now_s() + 60.0;
    while (left > 0 && jp_clock_now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        for (int i = 0; !m->err && i < ends.n; i++)
            if (ends.partition[i] == m->partition && m->offset < ends.hi[i] &&
                m->offset >= ends.lo[i]) {
                left -= m->offset + 1 - ends.lo[i];
                ends.lo[i] = m->offset + 1;
                take(r, m);
                deadline = jp_clock_now_s() + 60.0;
            }
        rd_kafka_message_destroy(m);
    }
    if (left > 0)
        jp_err_set(err, n, "topic %s: %lld records could not be read within a minute", topic,
                   (long long)left);
    jp_topic_ends_free(&ends);
    jp_topic_reader_free(rk);
    return left > 0 ? -1 : 0;
}

long jp_evaluation_read(jp_evaluation_t *ev, const char *brokers, const jp_conf_props_t *props,
                        const char *topic, const char *registry_url, char *errstr,
                        size_t errstr_size)
{
    reader_t r = {0};
    r.ev = ev;
    jp_avro_arena_init(&r.arena);
    jp_registry_client_t *reg = jp_registry_client_new(registry_url, errstr, errstr_size);
    jp_serde_config_t sc;
    memset(&sc, 0, sizeof(sc));
    if (reg)
        sc.registry = jp_serde_registry_client(reg);
    r.serde = reg ? jp_serde_new(&sc, errstr, errstr_size) : NULL;
    long rc = -1;
    if (r.serde && read_topic(brokers, props, topic, &r, errstr, errstr_size) == 0)
        rc = r.undecodable;
    jp_serde_free(r.serde);
    jp_avro_arena_free(&r.arena);
    jp_registry_client_free(reg);
    return rc;
}

size_t jp_evaluation_summaries(const jp_evaluation_t *ev, const jp_evaluation_summary_t **out)
{
    *out = ev->sum;
    return ev->n_sum;
}
