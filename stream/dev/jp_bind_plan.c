/*
 * jp_bind_plan: fixed ports for the dev broker's mock brokers, by
 * interposing bind(2).
 *
 * Why. librdkafka 2.0.2's mock brokers bind 127.0.0.1 port 0 and offer no
 * way to choose the port, yet a dev broker is only useful at a known
 * address. rd_kafka_mock_cluster_new creates its listeners synchronously
 * in the calling thread, broker 1 first, so jp_broker_start arms a port
 * plan on its thread around that one call (jp_bind_plan_arm/disarm), and
 * the bind below hands the planned ports to the IPv4 binds to port 0 made
 * meanwhile. Brokers taken down and up again re-bind their stored address,
 * which already carries the port.
 *
 * Why it is inert everywhere else. The binary has one bind for the whole
 * process (the executable's definition interposes the C library's for
 * every shared library too), so `jackpot run`, the admin server and the
 * registry go through this function as well. Unless a plan is armed it
 * does nothing but call the C library's bind with the caller's arguments
 * and return its result and errno untouched: a process that never starts
 * a dev broker (jackpot run, jackpot registry, ...) never has a plan, and
 * that is decided by one relaxed atomic load of a process-wide count of
 * armed threads. With a plan armed, only the arming thread's binds of an
 * IPv4 socket to port 0 are changed; other threads, other sockets and
 * explicit ports pass through. tests/stream/dev/test_broker.c checks both.
 *
 * Nothing cleaner exists with this librdkafka: a wrapper at link time
 * (--wrap) does not reach the calls librdkafka makes, and a proxy on the
 * fixed ports would not change the addresses the mock brokers advertise.
 */
#define _GNU_SOURCE
#include "jp_bind_plan-internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static atomic_int armed_threads;         /* 0: no plan anywhere, bind is the C library's */
static _Thread_local int plan_next_port; /* next port for this thread; 0: not armed */
static bind_fn libc_bind;
static pthread_once_t libc_bind_once = PTHREAD_ONCE_INIT;

static void find_libc_bind(void)
{
    *(void **)&libc_bind = dlsym(RTLD_NEXT, "bind");
}

static int call_libc_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    pthread_once(&libc_bind_once, find_libc_bind);
    if (!libc_bind) {
        errno = ENOSYS;
        return -1;
    }
    return libc_bind(fd, addr, len);
}

void jp_bind_plan_arm(int first_port)
{
    if (first_port <= 0 || plan_next_port > 0)
        return;
    plan_next_port = first_port;
    atomic_fetch_add(&armed_threads, 1);
}

void jp_bind_plan_disarm(void)
{
    if (plan_next_port <= 0)
        return;
    plan_next_port = 0;
    atomic_fetch_sub(&armed_threads, 1);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (atomic_load_explicit(&armed_threads, memory_order_relaxed) == 0 || plan_next_port <= 0 ||
        !addr || addr->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
        return call_libc_bind(fd, addr, len);
    struct sockaddr_in sin;
    memcpy(&sin, addr, sizeof(sin));
    if (sin.sin_port != 0)
        return call_libc_bind(fd, addr, len);
    sin.sin_port = htons((uint16_t)plan_next_port++);
    return call_libc_bind(fd, (const struct sockaddr *)&sin, sizeof(sin));
}
