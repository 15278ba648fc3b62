/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A sandbox that was not started by mmsgate: it loads its own notify filter (libseccomp, as
 * runc and crun do) and hands the listener over, then makes recvmmsg calls and prints them.
 *   oci-client --agent SOCKET      like an OCI runtime with listenerPath: connect, send the
 *                                  container process state JSON with the fd (SCM_RIGHTS)
 *   oci-client --serve MMSGATE POLICY
 *                                  fork; the parent execs "MMSGATE serve --listener-fd N"
 *   oci-client --serve-other-pidns MMSGATE POLICY
 *                                  the same, but the broker runs in a new pid namespace where
 *                                  the caller is invisible (notif.pid == 0)
 *   oci-client --serve-hold MMSGATE POLICY
 *                                  like --serve, but the filtered task then waits ("holding")
 *                                  until serve has exited
 * Output: "call ret=N errno=NAME data=..." per call. */
#include <errno.h>
#include <sched.h>
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
#include <unistd.h>

static int load_filter(void)
{
    scmp_filter_ctx ctx;
    int fd;

    if (seccomp_api_get() < 5)
        return -1;
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    /* libseccomp 2.5 asks for a listener by itself when a rule uses SCMP_ACT_NOTIFY. */
    if (!ctx || seccomp_arch_add(ctx, SCMP_ARCH_X86) < 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(recvmmsg), 0) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
        return -1;
    fd = seccomp_notify_fd(ctx);
    seccomp_release(ctx);
    return fd;
}

static int send_with_fd(int sock, const char *text, int fd)
{
    char buf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = (void *)(uintptr_t)text, .iov_len = strlen(text)};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

static void do_calls(void)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
        exit(1);
    for (int i = 0; i < 2; i++) {
        char data[2][16] = {{0}};
        struct iovec iov[2] = {{data[0], 15}, {data[1], 15}};
        struct mmsghdr m[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                               {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}}};
        int r;

        (void)!write(sv[1], "hello", 5);
        (void)!write(sv[1], "world", 5);
        r = recvmmsg(sv[0], m, 2, MSG_DONTWAIT, NULL);
        printf("call ret=%d errno=%s data=%s,%s\n", r, r < 0 ? strerrorname_np(errno) : "0",
               r > 0 ? data[0] : "", r > 1 ? data[1] : "");
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    int listener;

    if (argc == 3 && strcmp(argv[1], "--agent") == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char state[512];
        int sock;

        listener = load_filter();
        if (listener < 0)
            return 1;
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
        if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            return 1;
        /* The runtime-spec "container process state". */
        snprintf(state, sizeof(state),
                 "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
                 "\"metadata\":\"test\",\"state\":{\"ociVersion\":\"1.0.2\",\"id\":\"ctr-1\","
                 "\"status\":\"creating\",\"pid\":%d,\"bundle\":\"/tmp\"}}",
                 getpid(), getpid());
        if (send_with_fd(sock, state, listener) < 0)
            return 1;
        close(sock);
        close(listener);
        do_calls();
        return 0;
    }
    if (argc == 4 &&
        (strcmp(argv[1], "--serve") == 0 || strcmp(argv[1], "--serve-other-pidns") == 0 ||
         strcmp(argv[1], "--serve-hold") == 0)) {
        int sv[2], fd;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
            return 1;
        pid = fork();
        if (pid < 0)
            return 1;
        if (pid > 0) {
            char buf[CMSG_SPACE(sizeof(int))], byte, num[16];
            struct iovec iov = {.iov_base = &byte, .iov_len = 1};
            struct msghdr msg = {.msg_iov = &iov,
                                 .msg_iovlen = 1,
                                 .msg_control = buf,
                                 .msg_controllen = sizeof(buf)};

            if (recvmsg(sv[0], &msg, 0) != 1 || !CMSG_FIRSTHDR(&msg))
                return 1;
            memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
            snprintf(num, sizeof(num), "%d", fd);
            if (strcmp(argv[1], "--serve-other-pidns") == 0) {
                pid_t broker;
                int status;

                /* The broker becomes pid 1 of a new namespace; we wait and pass its status. */
                if (unshare(CLONE_NEWPID) < 0)
                    return 1;
                broker = fork();
                if (broker < 0)
                    return 1;
                if (broker > 0) {
                    /* Reap the filtered child too: before Linux 6.11 its filter, and so the
                     * listener the broker waits on, lives until it is reaped. */
                    pid_t p;

                    while ((p = waitpid(-1, &status, 0)) != broker)
                        if (p < 0)
                            return 1;
                    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
                }
            }
            execl(argv[2], argv[2], "serve", "--policy", argv[3], "--listener-fd", num,
                  (char *)NULL);
            return 127;
        }
        /* --serve-hold: the filtered task stays until serve has gone (killed with it). */
        if (strcmp(argv[1], "--serve-hold") == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            return 1;
        listener = load_filter();
        if (listener < 0 || send_with_fd(sv[1], "L", listener) < 0)
            return 1;
        close(listener);
        do_calls();
        if (strcmp(argv[1], "--serve-hold") == 0) {
            printf("holding\n");
            fflush(stdout);
            for (;;)
                pause();
        }
        return 0;
    }
    fprintf(stderr, "usage: oci-client --agent SOCKET | --serve MMSGATE POLICY\n");
    return 2;
}
