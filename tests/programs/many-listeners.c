/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* N real listeners for one agent, cheaply: fork N tiny processes; each loads its own notify
 * filter for recvmmsg (libseccomp, as runc does) and hands the listener to the agent like an
 * OCI runtime (container id "many-I"), then waits. Once all N are handed over, some of them
 * (the callers: the first and the last by default) make recvmmsg calls, which only the agent
 * can answer, one caller after another.
 *   many-listeners SOCKET N [--calls TOTAL] [--callers K] [--wait]
 * --calls TOTAL: spread over the callers (default: one each); --callers K: K callers spread
 * evenly from the first listener to the last (default 2; fewer when N < K); --wait: read a line
 * from stdin after "ready N" and again after the calls, so a benchmark can measure the agent at
 * those points (tests/bench/listeners.sh).
 * Output: "ready N", then for each caller's first call "call i=I ret=R errno=NAME us=MICROSECONDS"
 * (the round trip through the agent's broker), then with --calls "latency calls=C p50_us=X
 * p99_us=Y max_us=Z differ=D" over every call (D: calls whose result differs from their
 * caller's first). Exit 0 when every step worked (the calls' results are for the caller of
 * this program to judge). */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLERS 64
#define MAX_CALLS 1000000

/* What the callers share with the parent (MAP_SHARED, written before fork). */
struct shared {
    unsigned differ; /* calls whose result differs from their caller's first */
    uint64_t ns[];   /* every call's round trip, caller after caller */
};

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

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* @n calls by listener @i, their round trips into @ns. A datagram is queued at every call (a
 * call that received it gets the next one, untimed), so allow, deny and emulate policies each
 * see the same call every time. */
static void calls(int i, unsigned n, uint64_t *ns, unsigned *differ)
{
    int sv[2], first_r = 0, first_errno = 0;
    char data[16];

    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || write(sv[1], "x", 1) != 1)
        _exit(1);
    for (unsigned k = 0; k < n; k++) {
        struct iovec iov = {data, sizeof(data)};
        struct mmsghdr m = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
        uint64_t t0, t1;
        int r, e;

        t0 = now_ns();
        r = recvmmsg(sv[0], &m, 1, MSG_DONTWAIT, NULL);
        t1 = now_ns();
        e = r < 0 ? errno : 0;
        ns[k] = t1 - t0;
        if (k == 0) {
            first_r = r;
            first_errno = e;
            printf("call i=%d ret=%d errno=%s us=%llu\n", i, r, r < 0 ? strerrorname_np(e) : "0",
                   (unsigned long long)(ns[k] / 1000));
            fflush(stdout);
        } else if (r != first_r || e != first_errno) {
            __atomic_add_fetch(differ, 1, __ATOMIC_RELAXED);
        }
        if (r > 0 && write(sv[1], "x", 1) != 1)
            _exit(1);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double percentile_us(const uint64_t *sorted, size_t n, unsigned pct)
{
    size_t rank = (n * pct + 99) / 100;

    return (double)sorted[rank ? rank - 1 : 0] / 1000.0;
}

static void wait_stdin(void)
{
    char line[64];

    (void)!fgets(line, sizeof(line), stdin); /* a line or EOF: either means go on */
}

/* A whole decimal number in [@min, @max], or -1: "2k" is not 2. */
static long parse_count(const char *s, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: many-listeners SOCKET N [--calls TOTAL] [--callers K] [--wait]\n");
}

int main(int argc, char **argv)
{
    int n, n_callers = 2, caller_at[MAX_CALLERS], ready[2], hold[2], go[MAX_CALLERS][2];
    unsigned total = 0, share[MAX_CALLERS], offset[MAX_CALLERS];
    bool wait_lines = false;
    struct shared *sh;
    size_t sh_len;
    char byte;

    if (argc < 3 || (n = (int)parse_count(argv[2], 1, 100000)) < 1) {
        usage();
        return 2;
    }
    for (int a = 3; a < argc; a++) {
        if (strcmp(argv[a], "--calls") == 0 && a + 1 < argc) {
            long v = parse_count(argv[++a], 1, MAX_CALLS);

            if (v < 0) {
                fprintf(stderr, "--calls: 1 to %d\n", MAX_CALLS);
                return 2;
            }
            total = (unsigned)v;
        } else if (strcmp(argv[a], "--callers") == 0 && a + 1 < argc) {
            n_callers = (int)parse_count(argv[++a], 1, MAX_CALLERS);
            if (n_callers < 0) {
                fprintf(stderr, "--callers: 1 to %d\n", MAX_CALLERS);
                return 2;
            }
        } else if (strcmp(argv[a], "--wait") == 0) {
            wait_lines = true;
        } else {
            usage();
            return 2;
        }
    }
    /* Callers from the first listener to the last, evenly; the same index only once. */
    {
        int k = 0;

        for (int j = 0; j < n_callers; j++) {
            int at = n_callers == 1 ? 0 : (int)((long)j * (n - 1) / (n_callers - 1));

            if (k == 0 || caller_at[k - 1] != at)
                caller_at[k++] = at;
        }
        n_callers = k;
    }
    if (!total)
        total = (unsigned)n_callers;
    if (total < (unsigned)n_callers)
        n_callers = (int)total;
    for (int j = 0, at = 0; j < n_callers; j++) {
        share[j] = total / (unsigned)n_callers + ((unsigned)j < total % (unsigned)n_callers);
        offset[j] = (unsigned)at;
        at += (int)share[j];
    }
    sh_len = sizeof(*sh) + (size_t)total * sizeof(uint64_t);
    sh = mmap(NULL, sh_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || pipe(ready) < 0 || pipe(hold) < 0)
        return 1;
    for (int j = 0; j < n_callers; j++)
        if (pipe(go[j]) < 0)
            return 1;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int listener = load_filter(), me = -1;

            if (listener < 0 || hand_over(argv[1], listener, i) < 0)
                _exit(1);
            close(listener);
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            for (int j = 0; j < n_callers; j++)
                if (caller_at[j] == i)
                    me = j;
            if (me >= 0) {
                if (read(go[me][0], &byte, 1) != 1)
                    _exit(1);
                calls(i, share[me], sh->ns + offset[me], &sh->differ);
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
    if (wait_lines)
        wait_stdin();
    /* One caller at a time: each round trip is timed without the others queued beside it. */
    for (int j = 0; j < n_callers; j++)
        if (write(go[j][1], "g", 1) != 1 || read(ready[0], &byte, 1) != 1)
            return 1;
    if (total > (unsigned)n_callers) {
        qsort(sh->ns, total, sizeof(uint64_t), cmp_u64);
        printf("latency calls=%u p50_us=%.1f p99_us=%.1f max_us=%.1f differ=%u\n", total,
               percentile_us(sh->ns, total, 50), percentile_us(sh->ns, total, 99),
               (double)sh->ns[total - 1] / 1000.0, sh->differ);
        fflush(stdout);
    }
    if (wait_lines)
        wait_stdin();
    close(hold[1]);
    while (wait(NULL) > 0)
        ;
    return 0;
}
