/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target that blocks (-m32, route 337, NULL timeout) on a UDP socket that never receives and
 * reports the signals it catches: for signal forwarding and for a broker dying under it.
 *
 * Prints "ready pid=P tid=T" just before the call. When the call returns it prints a "call" line;
 * if a handled signal (HUP INT QUIT TERM USR1 USR2, no SA_RESTART) interrupted it, it prints
 * "caught sig=N" and exits 100+N. With --then-loop it then makes up to 200 more calls, each on a
 * datagram it sent itself, printing a "call" line each, so a target left running without its
 * broker shows up as lines with ret=1. Exit: 0 otherwise, 1 on setup failure, 2 on usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progs.h"

#if !defined(__i386__)
#error "sleeper must be built with -m32"
#endif

static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
    caught = sig;
}

static long call_337(int fd, int flags, char *buf, size_t buf_len)
{
    struct compat_iovec iov = {.base = (uint32_t)(uintptr_t)buf, .len = (uint32_t)buf_len};
    struct compat_mmsghdr m = {.iov = (uint32_t)(uintptr_t)&iov, .iovlen = 1};
    long r = syscall(NR_I386_RECVMMSG_TIME32, fd, &m, 1, flags, NULL);

    if (r > 0)
        buf[m.len < buf_len ? m.len : buf_len - 1] = '\0';
    return r;
}

int main(int argc, char **argv)
{
    static const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sin_len = sizeof(sin);
    struct sigaction sa = {.sa_handler = on_signal};
    bool then_loop = false;
    char buf[64];
    long r;
    int err;
    int s;

    if (argc == 2 && strcmp(argv[1], "--then-loop") == 0) {
        then_loop = true;
    } else if (argc != 1) {
        (void)fprintf(stderr, "usage: sleeper [--then-loop]\n");
        return 2;
    }
    /* No SA_RESTART: the blocked call must come back with EINTR so the signal is reported. */
    (void)sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return 1;

    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 1;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(s, (struct sockaddr *)&sin, &sin_len) < 0)
        return 1;

    printf("ready pid=%d tid=%d\n", (int)getpid(), (int)gettid());
    if (fflush(stdout) != 0)
        return 1;

    r = call_337(s, 0, buf, sizeof(buf));
    err = errno;
    printf("call route=337 pid=%d tid=%d ret=%ld errno=%s\n", (int)getpid(), (int)gettid(), r,
           progs_errno_name(r < 0 ? err : 0));
    if (caught) {
        printf("caught sig=%d\n", (int)caught);
        (void)fflush(stdout); /* the exit status carries the same information */
        return 100 + caught;
    }
    for (int i = 0; then_loop && i < 200; i++) {
        if (sendto(s, "loop", 4, 0, (struct sockaddr *)&sin, sizeof(sin)) != 4)
            return 1;
        r = call_337(s, MSG_DONTWAIT, buf, sizeof(buf));
        err = errno;
        printf("call route=337 pid=%d tid=%d ret=%ld errno=%s\n", (int)getpid(), (int)gettid(), r,
               progs_errno_name(r < 0 ? err : 0));
        (void)fflush(stdout); /* best effort: the test reads what arrives */
        usleep(1000);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
