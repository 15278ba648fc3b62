/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The largest iov_len the kernel accepts as non-negative (SSIZE_MAX: 0x7fffffff for i386, where
 * it is the issue 6 finding 5 case, 0x7fffffffffffffff for x86_64), over a small valid buffer,
 * through 417 (i386) or 299 (x86_64), with one datagram queued. Prints
 * "call ret=R errno=E len=L data=D" for a static buffer and for one on the stack; the test
 * compares the lines of a native and a supervised run. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progs.h"

static char static_buf[256];

static void one(const char *where, char *buf)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct iovec iov = {buf, (size_t)SSIZE_MAX};
    struct mmsghdr v = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    long r;

    memset(buf, 0, 16);
    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(rx, (struct sockaddr *)&sin, &slen) < 0 ||
        sendto(tx, "hello", 5, 0, (struct sockaddr *)&sin, sizeof(sin)) != 5) {
        perror("setup");
        _exit(1);
    }
#if defined(__i386__)
    r = syscall(NR_I386_RECVMMSG_TIME64, rx, &v, 1, MSG_DONTWAIT, NULL);
#else
    r = syscall(NR_X86_64_RECVMMSG, rx, &v, 1, MSG_DONTWAIT, NULL);
#endif
    printf("call where=%s ret=%ld errno=%s len=%u data=%.5s\n", where, r,
           r < 0 ? progs_errno_name(errno) : "0", v.msg_len, buf);
    close(rx);
    close(tx);
}

int main(void)
{
    char stack_buf[256];

    setvbuf(stdout, NULL, _IOLBF, 0);
    one("static", static_buf);
    one("stack", stack_buf);
    return 0;
}
