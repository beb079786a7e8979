/*
 * jp_listen: the listen-address parser shared by every HTTP server. The port
 * is the text after the last colon, so IPv6 literals need brackets.
 */
#include "base/jp_listen.h"

#include <stdlib.h>
#include <string.h>

#include "model/base/jp_err.h"

int jp_listen_parse(const char *listen, char *host, size_t host_size, int *port, char *errstr,
                    size_t errstr_size)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    if (!colon || !colon[1] || *end || p < 0 || p > 65535 || hlen == 0) {
        jp_err_set(errstr, errstr_size, "invalid listen address '%s' (expected host:port)", listen);
        return -1;
    }
    if (listen[0] == '[' && hlen >= 2 && listen[hlen - 1] == ']') {
        listen++; /* [v6]: bind without the brackets */
        hlen -= 2;
    }
    if (hlen >= host_size) {
        jp_err_set(errstr, errstr_size, "listen host too long");
        return -1;
    }
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}
