/*
 * jp_err: the one helper that writes an error message into a caller-owned
 * errstr buffer (the librdkafka convention every jp_ API follows). NULL or
 * zero-sized buffers are allowed: the message is then dropped. Messages are
 * truncated to the buffer, never overflow it.
 */
#ifndef JP_ERR_H
#define JP_ERR_H

#include <stdarg.h>
#include <stddef.h>

void jp_err_set(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with a va_list, for helpers that take their own format. */
void jp_err_vset(char *errstr, size_t errstr_size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
