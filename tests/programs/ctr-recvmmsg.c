/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The program inside the test containers (tests/containers): built static, so the rootfs
 * needs nothing but it and busybox. 64-bit on the host (which cannot run i386 code); the same
 * source builds -m32 -static for the VM suite. Direct syscalls, so the route is the one named.
 *   ctr-recvmmsg calls N [PAUSE_MS]  N recvmmsg calls, each on two queued datagrams, PAUSE_MS
 *                                    apart; one line per call:
 *                                    "call i=I ret=R errno=NAME data=A,B us=MICROSECONDS"
 *   ctr-recvmmsg block               one recvmmsg on an empty blocking socket (never returns
 *                                    unless a policy caps it), after printing "blocking"
 *   ctr-recvmmsg wait-file PATH N    wait until PATH exists (a host bind mount), then calls N
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int calls(int n, int pause_ms)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
        return 1;
    for (int i = 0; i < n; i++) {
        char data[2][16] = {{0}};
        struct iovec iov[2] = {{data[0], 15}, {data[1], 15}};
        struct mmsghdr m[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                               {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}}};
        long t0, r;
        int e;

        if (write(sv[1], "hello", 5) != 5 || write(sv[1], "world", 5) != 5)
            return 1;
        t0 = now_us();
        r = syscall(SYS_recvmmsg, sv[0], m, 2, MSG_DONTWAIT, NULL);
        e = r < 0 ? errno : 0;
        printf("call i=%d ret=%ld errno=%s data=%s,%s us=%ld\n", i, r, e ? strerrorname_np(e) : "0",
               r > 0 ? data[0] : "", r > 1 ? data[1] : "", now_us() - t0);
        fflush(stdout);
        /* Drain what a refused call left queued, so each call sees two fresh datagrams. */
        while (recv(sv[0], data[0], sizeof(data[0]), MSG_DONTWAIT) > 0)
            ;
        if (pause_ms > 0)
            usleep((useconds_t)pause_ms * 1000);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "calls") == 0)
        return calls(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 0);
    if (argc == 2 && strcmp(argv[1], "block") == 0) {
        char data[16];
        struct iovec iov = {data, sizeof(data)};
        struct mmsghdr m = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
        int sv[2];
        long r;

        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
            return 1;
        printf("blocking\n");
        fflush(stdout);
        r = syscall(SYS_recvmmsg, sv[0], &m, 1, 0, NULL);
        printf("call ret=%ld errno=%s\n", r, r < 0 ? strerrorname_np(errno) : "0");
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "wait-file") == 0) {
        struct stat st;

        printf("waiting\n");
        fflush(stdout);
        while (stat(argv[2], &st) < 0)
            usleep(20000);
        return calls(atoi(argv[3]), 0);
    }
    fprintf(stderr, "usage: ctr-recvmmsg calls N [PAUSE_MS] | block | wait-file PATH N\n");
    return 2;
}
