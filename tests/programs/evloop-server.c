/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An event-loop UDP echo server written the way real services that call recvmmsg are, for the
 * test that the default policy never makes one spin or stop serving (tests/integration
 * test_eventloop.c). Two styles:
 *   evloop-server errqueue PORT
 *     chronyd's: an O_NONBLOCK socket with IP_RECVERR and software TX timestamps, so every reply
 *     leaves an entry on the socket's error queue; select() on the read and exception sets
 *     (SO_SELECT_ERR_QUEUE); recvmmsg(fd, v, 8, MSG_ERRQUEUE, NULL) when the queue is reported,
 *     recvmmsg(fd, v, 8, 0, NULL) when the socket is readable.
 *   evloop-server dontwait PORT
 *     knotd's: a blocking socket, poll() for POLLIN, then recvmmsg(fd, v, 10, MSG_DONTWAIT, NULL).
 * Each datagram is answered with its own bytes, except two commands: "stats" is answered with
 * the counters below, and "quit" ends the loop. Calls go through glibc's recvmmsg(), as in the
 * real services (i386: recvmmsg_time64, 417, or its fallbacks; x86_64: 299).
 * Output: "ready seccomp=S" (the Seccomp: field of /proc/self/status: 2 when filtered), then at
 * exit the last stats line. Counters: served (datagrams echoed), wakeups (select/poll returns),
 * calls (recvmmsg calls), errq (error-queue entries read), eagain (calls that found nothing),
 * failed (calls that failed otherwise: a denied call, for example; the loop goes on as real
 * servers do, which is how a deny makes them spin) and last_error (the errno name of the last
 * of those, 0 if none). Exit status: 0, 1 on a setup error, 2 on
 * usage. */
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "progs.h"

#define BATCH 10
#define DATA_MAX 512

struct counters {
    unsigned long served, wakeups, calls, errq, eagain, failed;
    int last_errno; /* of the last failed call, 0 if none */
};

static int format_stats(char *buf, size_t len, const struct counters *c)
{
    return snprintf(buf, len,
                    "stats served=%lu wakeups=%lu calls=%lu errq=%lu eagain=%lu failed=%lu "
                    "last_error=%s",
                    c->served, c->wakeups, c->calls, c->errq, c->eagain, c->failed,
                    c->last_errno ? progs_errno_name(c->last_errno) : "0");
}

/* One batch: up to @vlen datagrams (or error-queue entries with MSG_ERRQUEUE). Datagrams are
 * echoed, commands answered. Return false when "quit" arrived. */
static bool receive_batch(int fd, unsigned vlen, int flags, struct counters *c)
{
    static char data[BATCH][DATA_MAX], control[BATCH][256];
    static struct sockaddr_in peers[BATCH];
    struct iovec iov[BATCH];
    struct mmsghdr v[BATCH];
    bool go_on = true;
    int n;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < vlen; i++) {
        iov[i] = (struct iovec){.iov_base = data[i], .iov_len = DATA_MAX - 1};
        v[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
                                       .msg_namelen = sizeof(peers[i]),
                                       .msg_iov = &iov[i],
                                       .msg_iovlen = 1,
                                       .msg_control = control[i],
                                       .msg_controllen = sizeof(control[i])};
    }
    c->calls++;
    n = recvmmsg(fd, v, vlen, flags, NULL);
    if (n < 0) {
        if (errno == EAGAIN) {
            c->eagain++;
        } else {
            c->failed++;
            c->last_errno = errno;
        }
        return true;
    }
    if (flags & MSG_ERRQUEUE) {
        c->errq += (unsigned long)n;
        return true;
    }
    for (int i = 0; i < n; i++) {
        char *text = data[i], reply[256];
        size_t len = v[i].msg_len;

        text[len] = '\0';
        if (strcmp(text, "quit") == 0) {
            go_on = false;
            continue;
        }
        if (strcmp(text, "stats") == 0) {
            text = reply;
            len = (size_t)format_stats(reply, sizeof(reply), c);
        } else {
            c->served++;
        }
        (void)sendto(fd, text, len, 0, (struct sockaddr *)&peers[i], v[i].msg_hdr.msg_namelen);
    }
    return go_on;
}

static int serve_errqueue(int fd, struct counters *c)
{
    int one = 1, ts = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                      SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_ID;
    bool go_on = true;

    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SELECT_ERR_QUEUE, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)) < 0) {
        perror("evloop-server: socket options");
        return 1;
    }
    while (go_on) {
        fd_set rd, ex;

        FD_ZERO(&rd);
        FD_ZERO(&ex);
        FD_SET(fd, &rd);
        FD_SET(fd, &ex);
        if (select(fd + 1, &rd, NULL, &ex, NULL) < 0) {
            if (errno == EINTR)
                continue;
            perror("evloop-server: select");
            return 1;
        }
        c->wakeups++;
        /* An error-queue entry makes the socket readable too; chronyd drains the queue first. */
        if (FD_ISSET(fd, &ex))
            (void)receive_batch(fd, 8, MSG_ERRQUEUE, c);
        if (FD_ISSET(fd, &rd))
            go_on = receive_batch(fd, 8, 0, c);
    }
    return 0;
}

static int serve_dontwait(int fd, struct counters *c)
{
    bool go_on = true;

    while (go_on) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("evloop-server: poll");
            return 1;
        }
        c->wakeups++;
        go_on = receive_batch(fd, BATCH, MSG_DONTWAIT, c);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct counters c = {0};
    char line[256];
    int fd, port, ret;

    if (argc != 3 || (strcmp(argv[1], "errqueue") != 0 && strcmp(argv[1], "dontwait") != 0) ||
        (port = atoi(argv[2])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: evloop-server errqueue|dontwait PORT\n");
        return 2;
    }
    sin.sin_port = htons((uint16_t)port);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("evloop-server: socket");
        return 1;
    }
    printf("ready seccomp=%d\n", progs_seccomp_mode());
    fflush(stdout);
    ret = strcmp(argv[1], "errqueue") == 0 ? serve_errqueue(fd, &c) : serve_dontwait(fd, &c);
    format_stats(line, sizeof(line), &c);
    printf("%s\n", line);
    return ret;
}
