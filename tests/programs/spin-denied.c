/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target program for the audit flood test: call recvmmsg on an idle non-blocking UDP socket as
 * fast as it can for SECONDS (as an event loop spinning on a denied call does), then print
 * "calls N eperm E other O". With NAME, first set the thread's comm to NAME (raw bytes), so the
 * audit's handling of non-ASCII names can be checked. Built natively and -m32 (the glibc
 * syscall() number is then i386's 337). Exit status: 0, 1 when the setup failed, 2 on usage. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[64];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct mmsghdr msg = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    unsigned long calls = 0, eperm = 0, other = 0;
    double seconds, end;
    int fd;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: spin-denied SECONDS [NAME]\n");
        return 2;
    }
    seconds = atof(argv[1]);
    if (argc == 3 && prctl(PR_SET_NAME, argv[2], 0, 0, 0) < 0) {
        perror("prctl");
        return 1;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("socket");
        return 1;
    }
    end = now_s() + seconds;
    do {
        long r = syscall(SYS_recvmmsg, fd, &msg, 1, MSG_DONTWAIT, NULL);

        calls++;
        if (r < 0 && errno == EPERM)
            eperm++;
        else if (!(r < 0 && errno == EAGAIN))
            other++;
    } while (now_s() < end);
    printf("calls %lu eperm %lu other %lu\n", calls, eperm, other);
    return 0;
}
