/*
 * jp_listen: the "host:port" listen addresses of the HTTP servers (admin,
 * schema registry). One parser so that every server accepts the same forms:
 * "127.0.0.1:8080", "0.0.0.0:0" (any free port) and "[::1]:8080".
 */
#ifndef JP_LISTEN_H
#define JP_LISTEN_H

#include <stddef.h>

/* Splits "host:port" / "[v6]:port" into host (brackets removed) and port
 * (0..65535); 0, or -1 with errstr. */
int jp_listen_parse(const char *listen, char *host, size_t host_size, int *port, char *errstr,
                    size_t errstr_size);

#endif
