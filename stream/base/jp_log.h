/*
 * jp_log: the one logging module. Levels, text or JSON lines, to stderr,
 * with a scrubber: every configured secret is replaced by "[REDACTED]"
 * before a line is written, whatever code produced the message.
 *
 * Thread-safe: a line is formatted into a local buffer and written with a
 * single write(2), so lines from different threads never interleave.
 */
#ifndef JP_LOG_H
#define JP_LOG_H

#include <stddef.h>

typedef enum { JP_LOG_DEBUG, JP_LOG_INFO, JP_LOG_WARN, JP_LOG_ERROR } jp_log_level_t;
typedef enum { JP_LOG_TEXT, JP_LOG_JSON } jp_log_format_t;

/* "debug", "info", "warn", "error" -> level; -1 if unknown. */
int jp_log_level_parse(const char *name, jp_log_level_t *out);
const char *jp_log_level_name(jp_log_level_t level);
/* "text" or "json" -> format; -1 if unknown. */
int jp_log_format_parse(const char *name, jp_log_format_t *out);

void jp_log_set_level(jp_log_level_t level);
void jp_log_set_format(jp_log_format_t format);
/* Redirects output (default 2, stderr); for tests. */
void jp_log_set_fd(int fd);

/* Registers a secret to scrub from every later line. Empty strings are
 * ignored. The value is copied. */
void jp_log_add_secret(const char *secret);
/* Forgets every registered secret. */
void jp_log_clear_secrets(void);
/* Replaces every registered secret in text with "[REDACTED]"; writes at
 * most out_size bytes (always NUL-terminated). Used by the logger and by
 * anything else that prints operator-facing text (e.g. config errors). */
void jp_log_scrub(const char *text, char *out, size_t out_size);

/* Logs one line if level is enabled. component names the subsystem. */
void jp_log(jp_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define jp_log_debug(comp, ...) jp_log(JP_LOG_DEBUG, comp, __VA_ARGS__)
#define jp_log_info(comp, ...)  jp_log(JP_LOG_INFO, comp, __VA_ARGS__)
#define jp_log_warn(comp, ...)  jp_log(JP_LOG_WARN, comp, __VA_ARGS__)
#define jp_log_error(comp, ...) jp_log(JP_LOG_ERROR, comp, __VA_ARGS__)

#endif
