/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* N real listeners for one agent, cheaply: fork N tiny processes; each loads its own notify
 * filter for recvmmsg (libseccomp, as runc does) and hands the listener to the agent like an
 * OCI runtime (container id "many-I"), then waits. Once all N are handed over, the first and
 * the last make one recvmmsg call each, which only the agent can answer.
 *   many-listeners SOCKET N
 * Output: "ready N", then "call i=I ret=R errno=NAME us=MICROSECONDS" for I = 0 and N-1 (the
 * round trip through the agent's broker, for the benchmark figures). Exit 0 when every
 * step worked (the calls' results are for the test to judge). */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int load_filter(void)
{
    scmp_filter_ctx ctx;
    int fd;

    if (seccomp_api_get() < 5)
        return -1;
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(recvmmsg), 0) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
        return -1;
    fd = seccomp_notify_fd(ctx);
    seccomp_release(ctx);
    return fd;
}

static int hand_over(const char *path, int listener, int i)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char text[256], cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = text};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    int sock;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    iov.iov_len = (size_t)snprintf(text, sizeof(text),
                                   "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
                                   "\"state\":{\"id\":\"many-%d\",\"pid\":%d}}",
                                   getpid(), i, getpid());
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &listener, sizeof(int));
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        sendmsg(sock, &msg, 0) < 0)
        return -1;
    close(sock);
    return 0;
}

static void call(int i)
{
    int sv[2];
    char data[16];
    struct iovec iov = {data, sizeof(data)};
    struct mmsghdr m = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    int r;

    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || write(sv[1], "x", 1) != 1)
        _exit(1);
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = recvmmsg(sv[0], &m, 1, MSG_DONTWAIT, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("call i=%d ret=%d errno=%s us=%ld\n", i, r, r < 0 ? strerrorname_np(errno) : "0",
           (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int n, ready[2], hold[2], go_first[2], go_last[2];
    char byte;

    if (argc != 3 || (n = atoi(argv[2])) < 2) {
        fprintf(stderr, "usage: many-listeners SOCKET N (N >= 2)\n");
        return 2;
    }
    if (pipe(ready) < 0 || pipe(hold) < 0 || pipe(go_first) < 0 || pipe(go_last) < 0)
        return 1;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int listener = load_filter(), go = i == 0 ? go_first[0] : go_last[0];

            if (listener < 0 || hand_over(argv[1], listener, i) < 0)
                _exit(1);
            close(listener);
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            if (i == 0 || i == n - 1) {
                if (read(go, &byte, 1) != 1)
                    _exit(1);
                call(i);
                if (write(ready[1], "c", 1) != 1)
                    _exit(1);
            }
            close(hold[1]);
            (void)!read(hold[0], &byte, 1); /* EOF when the parent is done */
            _exit(0);
        }
        /* One at a time: a burst of a thousand connections is not what a node sees. */
        if (read(ready[0], &byte, 1) != 1) {
            fprintf(stderr, "child %d failed\n", i);
            return 1;
        }
    }
    printf("ready %d\n", n);
    fflush(stdout);
    if (write(go_first[1], "g", 1) != 1 || read(ready[0], &byte, 1) != 1 ||
        write(go_last[1], "g", 1) != 1 || read(ready[0], &byte, 1) != 1)
        return 1;
    close(hold[1]);
    while (wait(NULL) > 0)
        ;
    return 0;
}
