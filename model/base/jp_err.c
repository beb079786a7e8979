/*
 * jp_err: formatting into the caller's buffer. Kept in model/ (no I/O) so
 * that both model/ and stream/ use the same helper.
 */
#include "model/base/jp_err.h"

#include <stdarg.h>
#include <stdio.h>

void jp_err_vset(char *errstr, size_t errstr_size, const char *fmt, va_list ap)
{
    if (!errstr || errstr_size == 0)
        return;
    vsnprintf(errstr, errstr_size, fmt, ap);
}

void jp_err_set(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jp_err_vset(errstr, errstr_size, fmt, ap);
    va_end(ap);
}
