/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/bench: what a recvmmsg costs bare, under a RET_ERRNO filter, under a minimal notify
 * supervisor (with and without SYNC_WAKE_UP) and under `mmsgate run` (deny, allow, emulate), on
 * each x86 route. A benchmark, not a test: it prints numbers and never passes or fails on them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* Linux 6.6, 48a1084a8b74 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP /* Linux 6.6 */
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#ifndef MMSG_BENCH_MMSGATE
#define MMSG_BENCH_MMSGATE "build/broker/mmsgate"
#endif
#ifndef MMSG_BENCH_LOOP64
#define MMSG_BENCH_LOOP64 "build/tests/bench/bench-loop64"
#endif
#ifndef MMSG_BENCH_LOOP32
#define MMSG_BENCH_LOOP32 "build/tests/bench/bench-loop32"
#endif

enum kind {
    K_BARE,
    K_ERRNO,
    K_MIN_SYNC,
    K_MIN_NOSYNC,
    K_MM_DENY,
    K_MM_ALLOW,
    K_MM_EMULATE,
    K_MM_KALLOW,
    K_MM_KDENY,
    N_KINDS
};

static const char *const kind_name[N_KINDS] = {
    [K_BARE] = "bare",
    [K_ERRNO] = "RET_ERRNO filter",
    [K_MIN_SYNC] = "minimal notify, SYNC_WAKE_UP",
    [K_MIN_NOSYNC] = "minimal notify, no SYNC",
    [K_MM_DENY] = "mmsgate deny EAGAIN",
    [K_MM_ALLOW] = "mmsgate allow (CONTINUE)",
    [K_MM_EMULATE] = "mmsgate emulate",
    [K_MM_KALLOW] = "mmsgate kernel allow",
    [K_MM_KDENY] = "mmsgate kernel deny EAGAIN",
};

static const char *const policy_json[N_KINDS] = {
    [K_MM_DENY] = "{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"EAGAIN\"}}\n",
    /* "audit": true keeps this allow in the broker (CONTINUE): without it the filter answers. */
    [K_MM_ALLOW] = "{\"version\":1,\"default\":{\"action\":\"allow\",\"audit\":true}}\n",
    [K_MM_EMULATE] = "{\"version\":1,\"default\":{\"action\":\"emulate\"}}\n",
    /* Register-only and not audited: compiled into the filter (issue 8), no notification. */
    [K_MM_KALLOW] = "{\"version\":1,\"default\":{\"action\":\"allow\"}}\n",
    [K_MM_KDENY] =
        "{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"EAGAIN\",\"audit\":false}}\n",
};

struct route {
    const char *name;
    const char *loop;
    const char *entry;
};

enum { R_64, R_32_INT80, R_32_VDSO, N_ROUTES };
enum { M_EMPTY, M_QUEUED, N_MODES };
enum { P_PINNED, P_SPLIT, P_FREE, N_PLACES };
static const char *const mode_name[N_MODES] = {"empty", "queued"};
static const char *const place_name[N_PLACES] = {"same", "split", "free"};

struct result {
    bool done;
    bool sane;
    double ns, min_ns, max_ns, clock_ns, wall_s;
    double p50_ns, p99_ns; /* of every timed call of every run */
    unsigned long calls, ok, eagain, other;
    int seccomp;
};

static struct result results[N_ROUTES][N_MODES][N_KINDS][N_PLACES];
static struct sock_fprog prog_notify, prog_errno;
static char policy_path[N_KINDS][96];
static cpu_set_t set_pinned, set_free;
static int pinned_cpu = -1, split_cpu = -1;
static const char *mmsgate_bin = MMSG_BENCH_MMSGATE;
static char *busy_poll; /* --busy-poll US for the mmsgate rows; NULL: mmsgate's default */

static double now_s(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same shape as broker/filter.c build_ctx() (x86_64 + x86 + x32; recvmmsg, which for x86
 * is 337 and socketcall(SYS_RECVMMSG); recvmmsg_time64), so filter length is not what differs
 * between our rows and mmsgate's; only the action does. */
static int build_prog(uint32_t action, struct sock_fprog *ret)
{
    scmp_filter_ctx ctx;
    struct stat st;
    int fd = -1, r, nr64;
    void *insns = NULL;

    if (seccomp_api_get() < 5) /* also makes libseccomp probe for SCMP_ACT_NOTIFY */
        return -EOPNOTSUPP;
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
    if (r == 0 || r == -EEXIST)
        r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
    if (r == 0 || r == -EEXIST)
        r = seccomp_rule_add(ctx, action, SCMP_SYS(recvmmsg), 0);
    nr64 = seccomp_syscall_resolve_name("recvmmsg_time64");
    if (r == 0)
        r = nr64 == __NR_SCMP_ERROR ? -ENOSYS : seccomp_rule_add(ctx, action, nr64, 0);
    if (r == 0) {
        fd = memfd_create("bench-filter", MFD_CLOEXEC);
        r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
    }
    if (r == 0 && fstat(fd, &st) < 0)
        r = -errno;
    if (r == 0 && (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0))
        r = -EINVAL;
    if (r == 0 && !(insns = malloc((size_t)st.st_size)))
        r = -ENOMEM;
    if (r == 0 && pread(fd, insns, (size_t)st.st_size, 0) != st.st_size)
        r = -EIO;
    if (r == 0) {
        ret->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
        ret->filter = insns;
        insns = NULL;
    }
    free(insns);
    if (fd >= 0)
        (void)close(fd); /* a memfd we only read */
    seccomp_release(ctx);
    return r;
}

/* The minimal supervisor: poll, RECV, SEND -EAGAIN, until the last filtered task is gone
 * (POLLHUP). It waits in poll() because mmsgate waits in epoll, so both pay the same kind of
 * wait. With SYNC_WAKE_UP the caller wakes the listener's wait queue on its own CPU
 * (kernel/seccomp.c seccomp_do_user_notification(): wake_up_poll_on_current_cpu()) and SEND
 * completes the caller on the supervisor's CPU (complete_on_current_cpu()). */
/* Answer @listener's notifications until the target @pid has exited. Its exit, not the
 * listener's hang-up, ends the loop: before Linux 6.11 a filter (and so the listener) lives until
 * its task is reaped, and we reap only after this returns. */
static int supervise(int listener, pid_t pid, bool sync)
{
    struct seccomp_notif_sizes sizes = {0};
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    int r = 0, pidfd;

    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -errno;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return -errno;
    req = calloc(1, sizes.seccomp_notif);
    resp = calloc(1, sizes.seccomp_notif_resp);
    if (!req || !resp)
        r = -ENOMEM;
    /* The flag is the ioctl argument itself (kernel/seccomp.c seccomp_notify_set_flags()). */
    if (r == 0 && sync &&
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
              (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0) {
        static bool told;

        /* Before 6.6 (Debian 12's 6.1, tests/vm) the flag does not exist: measure the row
         * without it rather than lose the table, and say so once. */
        if (errno != EINVAL)
            r = -errno;
        else if (!told) {
            told = true;
            fprintf(stderr, "bench: no SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6) on this "
                            "kernel: the SYNC_WAKE_UP rows run without it\n");
        }
    }
    while (r == 0) {
        struct pollfd p[2] = {{.fd = listener, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};

        if (poll(p, 2, -1) < 0) {
            if (errno != EINTR)
                r = -errno;
            continue;
        }
        if (!(p[0].revents & POLLIN)) {
            if ((p[0].revents & (POLLHUP | POLLERR)) || (p[1].revents & POLLIN))
                break;
            continue;
        }
        memset(req, 0, sizes.seccomp_notif); /* RECV wants a zeroed buffer */
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
            if (errno != ENOENT && errno != EINTR) /* ENOENT: the caller went away */
                r = -errno;
            continue;
        }
        memset(resp, 0, sizes.seccomp_notif_resp);
        resp->id = req->id;
        resp->error = -EAGAIN;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
            r = -errno;
    }
    (void)close(pidfd); /* ours; nothing to report */
    free(req);
    free(resp);
    return r;
}

/* Child side: set up the wrapper, then exec the loop (or mmsgate). Never returns. */
static void noreturn_child(enum kind k, int out, int sock, char **loop_argv)
{
    int fd;

    if (dup2(out, STDOUT_FILENO) < 0)
        _exit(127);
    switch (k) {
    case K_BARE:
        break;
    case K_ERRNO:
    case K_MIN_SYNC:
    case K_MIN_NOSYNC:
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(127);
        fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                          k == K_ERRNO ? 0 : SECCOMP_FILTER_FLAG_NEW_LISTENER,
                          k == K_ERRNO ? &prog_errno : &prog_notify);
        if (fd < 0)
            _exit(127);
        if (k != K_ERRNO && (fdpass_send(sock, fd) < 0 || close(fd) < 0))
            _exit(127);
        break;
    case K_MM_DENY:
    case K_MM_ALLOW:
    case K_MM_EMULATE:
    case K_MM_KALLOW:
    case K_MM_KDENY: {
        static char a0[] = "mmsgate", a1[] = "run", a2[] = "--policy", a4[] = "--";
        static char bp[] = "--busy-poll";
        char *argv[32] = {a0, a1, a2, policy_path[k]};
        unsigned i = 4;

        if (busy_poll) {
            argv[i++] = bp;
            argv[i++] = busy_poll;
        }
        argv[i++] = a4;

        for (char **a = loop_argv; *a && i < 31; a++)
            argv[i++] = *a;
        argv[i] = NULL;
        execv(mmsgate_bin, argv);
        _exit(127);
    }
    case N_KINDS:
    default:
        _exit(127);
    }
    execv(loop_argv[0], loop_argv);
    _exit(127);
}

static int parse(const char *out, struct result *res)
{
    const char *p = strstr(out, "seccomp=");
    const char *q = strstr(out, "median_ns=");

    if (!p || !q || sscanf(p, "seccomp=%d calls=%lu", &res->seccomp, &res->calls) != 2)
        return -EBADMSG;
    if (sscanf(q, "median_ns=%lf min_ns=%lf max_ns=%lf clock_ns=%lf ok=%lu eagain=%lu other=%lu",
               &res->ns, &res->min_ns, &res->max_ns, &res->clock_ns, &res->ok, &res->eagain,
               &res->other) != 7)
        return -EBADMSG;
    q = strstr(out, "p50_ns=");
    if (!q || sscanf(q, "p50_ns=%lf p99_ns=%lf", &res->p50_ns, &res->p99_ns) != 2)
        return -EBADMSG;
    return 0;
}

static int run_case(const struct route *rt, int mode, enum kind k, int place, unsigned long calls,
                    unsigned runs, struct result *res)
{
    char s_calls[32], s_runs[32], s_warm[32], out[1024];
    /* Writable copies: execv() takes char *const[], and -Wwrite-strings makes literals const. */
    char a_loop[4096], a_mode[16], a_entry[16], o_mode[] = "--mode", o_entry[] = "--entry",
                                                o_calls[] = "--calls", o_runs[] = "--runs",
                                                o_warm[] = "--warmup", o_cpu[] = "--cpu", s_cpu[16];
    char *loop_argv[] = {a_loop, o_mode, a_mode, o_entry, a_entry, o_calls, s_calls,
                         o_runs, s_runs, o_warm, s_warm,  NULL,    NULL,    NULL};
    bool minimal = k == K_MIN_SYNC || k == K_MIN_NOSYNC;
    int pfd[2] = {-1, -1}, sp[2] = {-1, -1}, listener = -1, status, r = 0;
    size_t len = 0;
    ssize_t n;
    pid_t pid;
    double t0 = now_s();

    snprintf(a_loop, sizeof(a_loop), "%s", rt->loop);
    snprintf(a_mode, sizeof(a_mode), "%s", mode_name[mode]);
    snprintf(a_entry, sizeof(a_entry), "%s", rt->entry);
    snprintf(s_calls, sizeof(s_calls), "%lu", calls);
    snprintf(s_runs, sizeof(s_runs), "%u", runs);
    snprintf(s_warm, sizeof(s_warm), "%lu", calls / 10 < 100 ? 100 : calls / 10);
    snprintf(s_cpu, sizeof(s_cpu), "%d", split_cpu);
    if (place == P_SPLIT) {
        loop_argv[11] = o_cpu;
        loop_argv[12] = s_cpu;
    }
    /* Placement is inherited: the supervisor (us, or mmsgate and all its threads) and the
     * target share one CPU ("same"), or may both use every CPU we were given ("free"). In
     * "split" the loop then moves itself to another CPU, so every wakeup crosses vCPUs. */
    if (sched_setaffinity(0, sizeof(cpu_set_t), place == P_FREE ? &set_free : &set_pinned) < 0)
        return -errno;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    if (minimal && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        r = -errno;
        goto out;
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0)
        noreturn_child(k, pfd[1], sp[1], loop_argv);
    (void)close(pfd[1]); /* ours to close; the child holds its copy */
    pfd[1] = -1;
    if (minimal) {
        (void)close(sp[1]); /* so a dead child gives EOF */
        sp[1] = -1;
        listener = fdpass_recv(sp[0]);
        if (listener < 0) {
            r = listener;
        } else {
            r = supervise(listener, pid, k == K_MIN_SYNC);
            (void)close(listener); /* the listener was only ours */
        }
        if (r < 0)
            (void)kill(pid, SIGKILL); /* its calls would block forever without us */
    }
    while ((n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            len += (size_t)n;
    out[len] = '\0';
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            r = -errno;
            goto out;
        }
    res->wall_s = now_s() - t0;
    if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        fprintf(stderr, "bench: %s %s %s: child status 0x%x, output \"%s\"\n", kind_name[k],
                rt->name, mode_name[mode], (unsigned)status, out);
        r = -ECHILD;
    }
    if (r == 0)
        r = parse(out, res);
    if (r == 0) {
        bool consumes = mode == M_QUEUED &&
                        (k == K_BARE || k == K_MM_ALLOW || k == K_MM_EMULATE || k == K_MM_KALLOW);
        unsigned long total = res->calls * runs;

        res->done = true;
        /* The row measured what it claims: filtered (or not), and every call ended the way
         * that case must end (1 datagram, or EAGAIN). */
        res->sane = res->seccomp == (k == K_BARE ? 0 : 2) && res->other == 0 &&
                    (consumes ? res->ok == total : res->eagain == total);
    }
out:
    if (pfd[0] >= 0)
        (void)close(pfd[0]); /* pipe fds: nothing to report on close */
    if (pfd[1] >= 0)
        (void)close(pfd[1]);
    if (sp[0] >= 0)
        (void)close(sp[0]);
    if (sp[1] >= 0)
        (void)close(sp[1]);
    return r;
}

static void ratio(char *buf, size_t size, const struct result *num, const struct result *den)
{
    if (!num->done || !den || !den->done || den->ns <= 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1fx", num->ns / den->ns);
}

static void print_table(unsigned runs)
{
    printf("\n%-29s %-10s %-6s %-6s %6s %10s %8s %8s %8s %8s %8s %8s %7s  %s\n", "case", "route",
           "queue", "cpu", "calls", "ns/call", "min-max%", "x bare", "x errno", "x minsup", "p50",
           "p99", "p99/p50", "check");
    for (int rt = 0; rt < N_ROUTES; rt++) {
        static const char *const rname[N_ROUTES] = {"299", "337/int80", "337/vdso"};

        for (int m = 0; m < N_MODES; m++) {
            for (int k = 0; k < N_KINDS; k++) {
                for (int pl = 0; pl < N_PLACES; pl++) {
                    const struct result *res = &results[rt][m][k][pl];
                    char b[16], e[16], s[16], spread[16];

                    if (!res->done)
                        continue;
                    ratio(b, sizeof(b), res, &results[rt][m][K_BARE][P_PINNED]);
                    ratio(e, sizeof(e), res, &results[rt][m][K_ERRNO][P_PINNED]);
                    /* Supervised rows against the minimal supervisor in the same placement. */
                    ratio(s, sizeof(s), res,
                          &results[rt][m][K_MIN_SYNC][k == K_BARE || k == K_ERRNO ? P_PINNED : pl]);
                    snprintf(spread, sizeof(spread), "%.0f%%",
                             res->ns > 0 ? 100.0 * (res->max_ns - res->min_ns) / res->ns : 0.0);
                    printf("%-29s %-10s %-6s %-6s %6lu %10.0f %8s %8s %8s %8s %8.0f %8.0f %6.1fx  "
                           "%s\n",
                           kind_name[k], rname[rt], mode_name[m], place_name[pl], res->calls,
                           res->ns, spread, b, e, s, res->p50_ns, res->p99_ns,
                           res->p50_ns > 0 ? res->p99_ns / res->p50_ns : 0.0,
                           res->sane ? "ok" : "UNEXPECTED RESULT (see stderr)");
                    if (!res->sane)
                        fprintf(stderr,
                                "bench: %s %s %s %s: seccomp=%d ok=%lu eagain=%lu other=%lu "
                                "over %u runs\n",
                                kind_name[k], rname[rt], mode_name[m], place_name[pl], res->seccomp,
                                res->ok, res->eagain, res->other, runs);
                }
            }
            printf("\n");
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: bench [--calls N] [--free-calls N] [--runs R] [--cpu C] [--mmsgate PATH]\n"
               "             [--busy-poll US] [--loop64 PATH] [--loop32 PATH]\n"
               "Prints ns per recvmmsg call, bare and under each kind of seccomp supervision.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"calls", required_argument, NULL, 'n'},   {"free-calls", required_argument, NULL, 'f'},
        {"runs", required_argument, NULL, 'r'},    {"cpu", required_argument, NULL, 'c'},
        {"mmsgate", required_argument, NULL, 'm'}, {"busy-poll", required_argument, NULL, 'b'},
        {"loop64", required_argument, NULL, '6'},  {"loop32", required_argument, NULL, '3'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct route routes[N_ROUTES] = {
        [R_64] = {"299", MMSG_BENCH_LOOP64, "syscall"},
        [R_32_INT80] = {"337/int80", MMSG_BENCH_LOOP32, "int80"},
        [R_32_VDSO] = {"337/vdso", MMSG_BENCH_LOOP32, "vdso"},
    };
    unsigned long calls = 20000, free_calls = 0;
    unsigned runs = 5;
    char dir[] = "/tmp/mmsg-bench-XXXXXX", clocksource[64] = "?";
    struct utsname u;
    double t0 = now_s();
    FILE *f;
    int c, r;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            calls = strtoul(optarg, NULL, 10);
            break;
        case 'f':
            free_calls = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            runs = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            pinned_cpu = atoi(optarg);
            break;
        case 'm':
            mmsgate_bin = optarg;
            break;
        case 'b':
            busy_poll = optarg;
            break;
        case '6':
            routes[R_64].loop = optarg;
            break;
        case '3':
            routes[R_32_INT80].loop = routes[R_32_VDSO].loop = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (calls == 0 || runs == 0 || runs > 15 || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (free_calls == 0)
        free_calls = calls / 10 < 200 ? (calls < 200 ? calls : 200) : calls / 10;

    if (sched_getaffinity(0, sizeof(set_free), &set_free) < 0) {
        perror("bench: sched_getaffinity");
        return 1;
    }
    for (int i = 0; pinned_cpu < 0 && i < CPU_SETSIZE; i++) /* default: the first allowed */
        if (CPU_ISSET(i, &set_free))
            pinned_cpu = i;
    if (pinned_cpu < 0 || pinned_cpu >= CPU_SETSIZE || !CPU_ISSET(pinned_cpu, &set_free)) {
        fprintf(stderr, "bench: --cpu %d is not an allowed CPU\n", pinned_cpu);
        return 2;
    }
    for (int i = 0; split_cpu < 0 && i < CPU_SETSIZE; i++)
        if (i != pinned_cpu && CPU_ISSET(i, &set_free))
            split_cpu = i;
    CPU_ZERO(&set_pinned);
    CPU_SET(pinned_cpu, &set_pinned);

    r = build_prog(SCMP_ACT_NOTIFY, &prog_notify);
    if (r == 0)
        r = build_prog(SCMP_ACT_ERRNO(EAGAIN), &prog_errno);
    if (r < 0) {
        fprintf(stderr, "bench: building filters: %s\n", strerror(-r));
        return 1;
    }
    if (!mkdtemp(dir)) {
        perror("bench: mkdtemp");
        return 1;
    }
    for (int k = K_MM_DENY; k <= K_MM_KDENY; k++) {
        snprintf(policy_path[k], sizeof(policy_path[k]), "%s/%d.json", dir, k);
        f = fopen(policy_path[k], "we");
        if (!f || fputs(policy_json[k], f) < 0 || fclose(f) != 0) {
            perror("bench: writing policy");
            return 1;
        }
    }
    if ((f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re"))) {
        if (fscanf(f, "%63s", clocksource) != 1)
            snprintf(clocksource, sizeof(clocksource), "?");
        (void)fclose(f); /* read-only */
    }
    (void)uname(&u); /* cannot fail with a valid buffer */
    printf("mmsgate bench: %s %s %s, %d CPUs allowed, clocksource %s\n", u.sysname, u.release,
           u.machine, CPU_COUNT(&set_free), clocksource);
    printf("calls %lu per run (split and free placement: %lu, bounding their time), median of %u "
           "runs, warm-up calls/10\n",
           calls, free_calls, runs);
    printf("cpu: same = supervisor and target both pinned to CPU %d (sched_setaffinity); split = "
           "supervisor on CPU %d, target on CPU %d;\n     free = both may use any of the %d "
           "allowed CPUs. bare and RET_ERRNO have no supervisor: run once, on CPU %d\n",
           pinned_cpu, pinned_cpu, split_cpu, CPU_COUNT(&set_free), pinned_cpu);
    printf("filters: %u BPF insns (notify), %u (errno), built like broker/filter.c\n",
           prog_notify.len, prog_errno.len);
    printf("mmsgate rows: %s%s\n", busy_poll ? "--busy-poll " : "default options",
           busy_poll ? busy_poll : "");
    fflush(stdout);

    for (int rt = 0; rt < N_ROUTES; rt++) {
        for (int m = 0; m < N_MODES; m++) {
            for (int k = 0; k < N_KINDS; k++) {
                for (int pl = 0; pl < N_PLACES; pl++) {
                    /* No wakeups without a supervisor: placement matters only for notify. */
                    if (pl != P_PINNED &&
                        (k == K_BARE || k == K_ERRNO || k == K_MM_KALLOW || k == K_MM_KDENY))
                        continue;
                    if (pl == P_SPLIT && split_cpu < 0)
                        continue; /* one CPU: nothing to split across */
                    r = run_case(&routes[rt], m, k, pl, pl == P_PINNED ? calls : free_calls, runs,
                                 &results[rt][m][k][pl]);
                    if (r < 0)
                        fprintf(stderr, "bench: %s %s %s %s: %s\n", kind_name[k], routes[rt].name,
                                mode_name[m], place_name[pl], strerror(-r));
                    else /* progress: the table comes at the end, and a slow VM may not get there */
                        fprintf(stderr, "bench: %s %s %s %s: %.0f ns/call (%.1f s)\n", kind_name[k],
                                routes[rt].name, mode_name[m], place_name[pl],
                                results[rt][m][k][pl].ns, results[rt][m][k][pl].wall_s);
                }
            }
        }
    }
    (void)sched_setaffinity(0, sizeof(set_free), &set_free); /* restore; nothing left to run */
    print_table(runs);
    for (int k = K_MM_DENY; k <= K_MM_KDENY; k++)
        (void)unlink(policy_path[k]); /* our own temp files */
    (void)rmdir(dir);
    printf("total wall time %.1f s\n", now_s() - t0);
    return 0;
}
