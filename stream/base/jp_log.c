/*
 * jp_log: formatting, scrubbing and the single write per line.
 *
 * Secrets are held in a small mutex-protected array: there are a handful
 * (a SASL password, the PII key, a registry credential) and scrubbing is a
 * plain substring replace per secret, cheap next to the write itself.
 * Timestamps are wall-clock: logs are for people, and never feed outputs.
 */
#include "base/jp_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JP_LOG_MAX_SECRETS 32
#define JP_LOG_LINE_MAX    4096

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static jp_log_level_t log_level = JP_LOG_INFO;
static jp_log_format_t log_format = JP_LOG_TEXT;
static int log_fd = 2;
static char *secrets[JP_LOG_MAX_SECRETS];
static size_t n_secrets;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int jp_log_level_parse(const char *name, jp_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (jp_log_level_t)i;
            return 0;
        }
    return -1;
}

const char *jp_log_level_name(jp_log_level_t level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

int jp_log_format_parse(const char *name, jp_log_format_t *out)
{
    if (strcmp(name, "text") == 0)
        *out = JP_LOG_TEXT;
    else if (strcmp(name, "json") == 0)
        *out = JP_LOG_JSON;
    else
        return -1;
    return 0;
}

void jp_log_set_level(jp_log_level_t level)
{
    log_level = level;
}

void jp_log_set_format(jp_log_format_t format)
{
    log_format = format;
}

void jp_log_set_fd(int fd)
{
    log_fd = fd;
}

void jp_log_add_secret(const char *secret)
{
    if (!secret || !*secret)
        return;
    pthread_mutex_lock(&log_lock);
    int known = 0;
    for (size_t i = 0; i < n_secrets; i++)
        known |= strcmp(secrets[i], secret) == 0;
    if (!known && n_secrets < JP_LOG_MAX_SECRETS)
        secrets[n_secrets++] = strdup(secret);
    pthread_mutex_unlock(&log_lock);
}

void jp_log_clear_secrets(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < n_secrets; i++)
        free(secrets[i]);
    n_secrets = 0;
    pthread_mutex_unlock(&log_lock);
}

/* Longest secret starting at p, or 0. Caller holds log_lock. */
static size_t secret_at(const char *p)
{
    size_t best = 0;
    for (size_t i = 0; i < n_secrets; i++) {
        size_t n = strlen(secrets[i]);
        if (n > best && strncmp(p, secrets[i], n) == 0)
            best = n;
    }
    return best;
}

void jp_log_scrub(const char *text, char *out, size_t out_size)
{
    static const char redacted[] = "[REDACTED]";
    size_t o = 0;
    if (out_size == 0)
        return;
    pthread_mutex_lock(&log_lock);
    for (const char *p = text; *p && o + 1 < out_size;) {
        size_t n = n_secrets ? secret_at(p) : 0;
        if (n) {
            size_t r = sizeof(redacted) - 1;
            if (o + r >= out_size)
                break;
            memcpy(out + o, redacted, r);
            o += r;
            p += n;
        } else {
            out[o++] = *p++;
        }
    }
    pthread_mutex_unlock(&log_lock);
    out[o] = '\0';
}

/* Appends s to buf as JSON string content (without quotes). */
static size_t json_escape(char *buf, size_t size, size_t o, const char *s)
{
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    return o;
}

void jp_log(jp_log_level_t level, const char *component, const char *fmt, ...)
{
    if (level < log_level)
        return;
    char msg[JP_LOG_LINE_MAX], clean[JP_LOG_LINE_MAX], line[JP_LOG_LINE_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    jp_log_scrub(msg, clean, sizeof(clean));

    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%03ldZ", ts.tv_nsec / 1000000);

    size_t o;
    if (log_format == JP_LOG_JSON) {
        o = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"",
                             when, level_names[level]);
        o = json_escape(line, sizeof(line), o, component);
        o += (size_t)snprintf(line + o, sizeof(line) - o, "\",\"msg\":\"");
        o = json_escape(line, sizeof(line), o, clean);
        o += (size_t)snprintf(line + o, sizeof(line) - o, "\"}\n");
    } else {
        o = (size_t)snprintf(line, sizeof(line), "%s %-5s %s: %s\n", when, level_names[level],
                             component, clean);
    }
    if (o >= sizeof(line)) {
        o = sizeof(line) - 1;
        line[o - 1] = '\n';
    }
    ssize_t r = write(log_fd, line, o);
    (void)r;
}
