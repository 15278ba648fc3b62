/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TOCTOU race target (-m32): while the main thread calls recvmmsg_time32(X, ..., &ts), a second
 * thread keeps switching what the broker would inspect: fd X between sockets A and B (dup3) and
 * ts between {0,0} and {10,0}. A broker that decides on one read of the fd or the timeout and
 * lets the kernel re-read them (CONTINUE) is caught receiving from B ("ok_b") or having the
 * kernel write back the remainder of a 10 s timeout ("foreign_timeout"). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progs.h"

#if !defined(__i386__)
#error "race32 must be built with -m32"
#endif

#define QUEUE_DEPTH 32

struct shared {
    struct old_timespec32 ts; /* read by the kernel (or the broker) during the call */
    int fd_a;
    int fd_b;
    int fd_x;
    bool stop;
};

static struct shared sh;

static void usage(void)
{
    (void)fprintf(stderr, "usage: race32 [--port-a P] [--port-b P] [--calls N]\n");
}

static int bind_udp(int port, struct sockaddr_in *ret_addr)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0)
        return -errno;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(s, (struct sockaddr *)&sin, &len) < 0) {
        int r = -errno;

        (void)close(s); /* setup already failed */
        return r;
    }
    *ret_addr = sin;
    return s;
}

static int send_one(int sender, const struct sockaddr_in *to, char tag, unsigned i)
{
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "%c-%u", tag, i);

    if (sendto(sender, msg, (size_t)len, 0, (const struct sockaddr *)to, sizeof(*to)) != len)
        return -errno;
    return 0;
}

/* Tight loop over the four combinations of (timeout, fd). */
static void *flipper(void *arg)
{
    (void)arg;
    for (unsigned k = 0; !__atomic_load_n(&sh.stop, __ATOMIC_RELAXED); k++) {
        __atomic_store_n(&sh.ts.tv_sec, (k & 1) ? 10 : 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh.ts.tv_nsec, 0, __ATOMIC_RELAXED);
        /* dup3 onto an fd number in use is atomic: X always names A or B. */
        (void)dup3((k & 2) ? sh.fd_b : sh.fd_a, sh.fd_x, O_CLOEXEC);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long port_a = 0, port_b = 0, calls = 10000;
    unsigned long ok_a = 0, ok_b = 0, eperm = 0, eacces = 0, other = 0, foreign = 0;
    unsigned sent_a = 0, sent_b = 0;
    struct sockaddr_in addr_a, addr_b;
    int sender;
    pthread_t t;

    /* Every option takes one value: step over the pair. */
    for (int i = 1; i < argc; i += 2) {
        long *dst = NULL;

        if (strcmp(argv[i], "--port-a") == 0)
            dst = &port_a;
        else if (strcmp(argv[i], "--port-b") == 0)
            dst = &port_b;
        else if (strcmp(argv[i], "--calls") == 0)
            dst = &calls;
        if (!dst || i + 1 >= argc ||
            progs_parse_long(argv[i + 1], dst == &calls ? 1 : 0, dst == &calls ? 100000000 : 65535,
                             dst) < 0) {
            usage();
            return 2;
        }
    }

    sh.fd_a = bind_udp((int)port_a, &addr_a);
    sh.fd_b = bind_udp((int)port_b, &addr_b);
    sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sh.fd_a < 0 || sh.fd_b < 0 || sender < 0) {
        (void)fprintf(stderr, "race32: socket setup failed\n");
        return 1;
    }
    sh.fd_x = fcntl(sh.fd_a, F_DUPFD_CLOEXEC, 0);
    if (sh.fd_x < 0) {
        (void)fprintf(stderr, "race32: dup: %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < QUEUE_DEPTH; i++)
        if (send_one(sender, &addr_a, 'A', sent_a++) < 0 ||
            send_one(sender, &addr_b, 'B', sent_b++) < 0) {
            (void)fprintf(stderr, "race32: send: %s\n", strerror(errno));
            return 1;
        }
    if (pthread_create(&t, NULL, flipper, NULL) != 0) {
        (void)fprintf(stderr, "race32: pthread_create failed\n");
        return 1;
    }

    for (long i = 0; i < calls; i++) {
        char buf[64] = {0};
        struct compat_iovec iov = {.base = (uint32_t)(uintptr_t)buf, .len = sizeof(buf) - 1};
        struct compat_mmsghdr m = {.iov = (uint32_t)(uintptr_t)&iov, .iovlen = 1};
        long r = syscall(NR_I386_RECVMMSG_TIME32, sh.fd_x, &m, 1, MSG_DONTWAIT, &sh.ts);
        int err = errno;
        int32_t sec = __atomic_load_n(&sh.ts.tv_sec, __ATOMIC_RELAXED);
        int32_t nsec = __atomic_load_n(&sh.ts.tv_nsec, __ATOMIC_RELAXED);

        if (r == 1) {
            bool from_b = buf[0] == 'B';

            if (from_b)
                ok_b++;
            else
                ok_a++;
            if (!(nsec == 0 && (sec == 0 || sec == 10)))
                foreign++;
            /* Refill the socket the datagram came from so both queues stay non-empty. */
            if (send_one(sender, from_b ? &addr_b : &addr_a, from_b ? 'B' : 'A',
                         from_b ? sent_b++ : sent_a++) < 0) {
                (void)fprintf(stderr, "race32: send: %s\n", strerror(errno));
                return 1;
            }
        } else if (r < 0 && err == EPERM) {
            eperm++;
        } else if (r < 0 && err == EACCES) {
            eacces++;
        } else {
            other++;
        }
    }
    __atomic_store_n(&sh.stop, true, __ATOMIC_RELAXED);
    (void)pthread_join(t, NULL); /* our own joinable thread */
    printf("race calls=%ld ok_a=%lu ok_b=%lu eperm=%lu eacces=%lu other=%lu foreign_timeout=%lu\n",
           calls, ok_a, ok_b, eperm, eacces, other, foreign);
    return fflush(stdout) == 0 ? 0 : 1;
}
