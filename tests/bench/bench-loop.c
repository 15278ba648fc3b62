/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The timed loop of tests/bench: issue recvmmsg through one raw route (x86_64 `syscall` 299, or
 * i386 `int $0x80` 337 when built -m32) on a non-blocking UDP socket, and print its own ns/call.
 * It runs bare, under a filter, or under a supervisor: whatever wraps it, only it is timed. */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

#if defined(__x86_64__)
#define ROUTE 299 /* arch/x86/entry/syscalls/syscall_64.tbl: recvmmsg */
#elif defined(__i386__)
#define ROUTE 337 /* arch/x86/entry/syscalls/syscall_32.tbl: recvmmsg (time32) */
#else
#error "x86_64 or i386 only"
#endif

#define MAX_RUNS 15

#if defined(__i386__)
/* i386 has two entries to the same syscall table: `int $0x80`, and the vDSO's
 * __kernel_vsyscall (AT_SYSINFO; sysenter/syscall), which is what glibc uses. Both reach
 * do_int80_syscall_32()/do_fast_syscall_32() and the same seccomp check. */
static uintptr_t vsyscall_fn;
#endif

/* The call itself, without glibc: the route is exactly the one named in the table, and no
 * wrapper (cancellation points, time64 fallbacks) adds to what is timed. Returns -errno. */
static long raw_recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, unsigned flags)
{
    long ret;
#if defined(__i386__)
    if (vsyscall_fn) {
        uintptr_t fn = vsyscall_fn; /* on the stack: every general register is an argument */

        __asm__ volatile("call *%[fn]"
                         : "=a"(ret)
                         : "0"((long)ROUTE), "b"(fd), "c"(vec), "d"(vlen), "S"(flags),
                           "D"(0), [fn] "m"(fn)
                         : "memory");
        return ret;
    }
#endif
#if defined(__x86_64__)
    register long r10 __asm__("r10") = (long)flags;
    register long r8 __asm__("r8") = 0; /* timeout: NULL */

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)ROUTE), "D"((long)fd), "S"(vec), "d"((long)vlen), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
#else
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "0"((long)ROUTE), "b"(fd), "c"(vec), "d"(vlen), "S"(flags), "D"(0)
                     : "memory");
#endif
    return ret;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    /* vDSO with the tsc clocksource: no syscall, so no filter sees it. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* CLOCK_MONOTONIC cannot fail */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct counts {
    unsigned long ok, eagain, other;
    long other_ret;
};

struct state {
    int fd;
    /* Every timed call's own latency (ns), over all runs, for the percentiles. */
    uint32_t *lat;
    size_t n_lat, cap_lat;
    struct mmsghdr msg;
    struct iovec iov;
    char buf[64];
    int queued; /* datagrams we know to be in the receive queue */
    struct counts c;
};

/* The @q-quantile (0..1) of the recorded latencies, less @minus (the clock pair in queued mode). */
static double quantile(struct state *s, double q, double minus)
{
    size_t i;

    if (s->n_lat == 0)
        return 0;
    i = (size_t)(q * (double)(s->n_lat - 1) + 0.5);
    return (double)s->lat[i] - minus;
}

static void record(struct state *s, uint64_t ns)
{
    if (s->n_lat < s->cap_lat)
        s->lat[s->n_lat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void account(struct state *s, long r)
{
    if (r == 1) {
        s->c.ok++;
        s->queued--;
    } else if (r == -EAGAIN) {
        s->c.eagain++;
    } else {
        s->c.other++;
        s->c.other_ret = r;
    }
}

/* Empty queue: one clock pair around n calls for the mean; each call's latency is the time
 * between two successive clock reads (the read itself included, ~20 ns with the vDSO). */
static double run_empty(struct state *s, unsigned long n, bool timed)
{
    uint64_t t0 = now_ns(), prev = t0;

    for (unsigned long i = 0; i < n; i++) {
        uint64_t t;

        account(s, raw_recvmmsg(s->fd, &s->msg, 1, 0));
        t = now_ns();
        if (timed)
            record(s, t - prev);
        prev = t;
    }
    return (double)(prev - t0) / (double)n;
}

/* One datagram queued before every call: send it (untimed) when the last call consumed it, then
 * time the call alone; the clock pair's own cost is subtracted by the caller. Deny/errno cases
 * leave the datagram queued, so the queue holds exactly one datagram at every timed call. */
static double run_queued(struct state *s, unsigned long n, bool timed)
{
    uint64_t sum = 0;

    for (unsigned long i = 0; i < n; i++) {
        uint64_t t0, t1;
        long r;

        if (s->queued == 0) {
            if (send(s->fd, "x", 1, 0) != 1) {
                fprintf(stderr, "bench-loop: send: %s\n", strerror(errno));
                exit(1);
            }
            s->queued = 1;
        }
        t0 = now_ns();
        r = raw_recvmmsg(s->fd, &s->msg, 1, 0);
        t1 = now_ns();
        sum += t1 - t0;
        if (timed)
            record(s, t1 - t0);
        account(s, r);
    }
    return (double)sum / (double)n;
}

static double clock_pair_ns(unsigned long n)
{
    uint64_t sum = 0;

    for (unsigned long i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        uint64_t t1 = now_ns();

        sum += t1 - t0;
    }
    return (double)sum / (double)n;
}

static void usage(void)
{
    fprintf(stderr,
            "Usage: bench-loop --mode empty|queued [--entry int80|vdso|syscall] [--calls N] "
            "[--runs R] [--warmup W] [--cpu C]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned long calls = 20000, warmup = 2000;
    unsigned runs = 5;
    int queued_mode = -1;
    const char *entry = NULL;
    int cpu = -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    struct state s = {.fd = -1};
    double per_run[MAX_RUNS], clk[MAX_RUNS], clock_ns = 0, med;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--mode") == 0)
            queued_mode = strcmp(argv[++i], "queued") == 0 ? 1
                          : strcmp(argv[i], "empty") == 0  ? 0
                                                           : -1;
        else if (strcmp(argv[i], "--calls") == 0)
            calls = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--cpu") == 0)
            cpu = atoi(argv[++i]);
        else if (strcmp(argv[i], "--entry") == 0)
            entry = argv[++i];
        else
            usage();
    }
    if (queued_mode < 0 || calls == 0 || runs == 0 || runs > MAX_RUNS)
        usage();
#if defined(__i386__)
    if (!entry)
        entry = "int80";
    if (strcmp(entry, "vdso") == 0) {
        vsyscall_fn = (uintptr_t)getauxval(AT_SYSINFO);
        if (!vsyscall_fn) {
            fprintf(stderr, "bench-loop: no AT_SYSINFO\n");
            return 1;
        }
    } else if (strcmp(entry, "int80") != 0) {
        usage();
    }
#else
    if (!entry)
        entry = "syscall";
    if (strcmp(entry, "syscall") != 0)
        usage();
#endif

    /* --cpu: the "split" placement, where the supervisor was pinned elsewhere by the driver. */
    if (cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0) {
            fprintf(stderr, "bench-loop: sched_setaffinity: %s\n", strerror(errno));
            return 1;
        }
    }

    /* A UDP socket connected to itself: send() refills its own receive queue. */
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0 || bind(s.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockname(s.fd, (struct sockaddr *)&addr, &alen) < 0 ||
        connect(s.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "bench-loop: socket setup: %s\n", strerror(errno));
        return 1;
    }
    s.iov = (struct iovec){.iov_base = s.buf, .iov_len = sizeof(s.buf)};
    s.msg.msg_hdr.msg_iov = &s.iov;
    s.msg.msg_hdr.msg_iovlen = 1;

    /* Warm-up: fault in code and data, let the supervisor start its threads. */
    if (warmup)
        (void)(queued_mode ? run_queued(&s, warmup, false)
                           : run_empty(&s, warmup, false)); /* untimed */
    s.c = (struct counts){0};
    s.cap_lat = calls * runs;
    s.lat = malloc(s.cap_lat * sizeof(*s.lat));
    if (!s.lat) {
        fprintf(stderr, "bench-loop: out of memory\n");
        return 1;
    }
    for (unsigned r = 0; r < runs; r++) {
        per_run[r] = queued_mode ? run_queued(&s, calls, true) : run_empty(&s, calls, true);
        if (queued_mode)
            clk[r] = clock_pair_ns(calls < 20000 ? 20000 : calls);
    }
    if (queued_mode) {
        clock_ns = median(clk, runs);
        for (unsigned r = 0; r < runs; r++)
            per_run[r] -= clock_ns;
    }
    med = median(per_run, runs); /* sorts per_run: [0] is min, [runs-1] max */
    qsort(s.lat, s.n_lat, sizeof(*s.lat), cmp_u32);
    printf("route=%d entry=%s mode=%s seccomp=%d calls=%lu runs=%u median_ns=%.1f min_ns=%.1f "
           "max_ns=%.1f clock_ns=%.1f ok=%lu eagain=%lu other=%lu other_ret=%ld cpu=%d "
           "p50_ns=%.1f p99_ns=%.1f\n",
           ROUTE, entry, queued_mode ? "queued" : "empty", progs_seccomp_mode(), calls, runs, med,
           per_run[0], per_run[runs - 1], clock_ns, s.c.ok, s.c.eagain, s.c.other, s.c.other_ret,
           sched_getcpu(), quantile(&s, 0.50, clock_ns), quantile(&s, 0.99, clock_ns));
    free(s.lat);
    return 0;
}
