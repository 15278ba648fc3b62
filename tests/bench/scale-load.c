/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load for tests/bench/scaling.sh: N processes (or N threads of one process) making recvmmsg
 * calls (x86_64 route 299) at once, each on its own UDP socket connected to itself.
 *   busy mode: every caller loops "send one datagram, recvmmsg(fd, v, 1, MSG_DONTWAIT, NULL)"
 *              for --duration seconds, timing each recvmmsg (clock_gettime, vDSO: no filter
 *              sees it) into a shared histogram;
 *   wait mode (--wait): every caller makes one recvmmsg(fd, v, 1, 0, NULL) on an empty
 *              blocking socket and stays in it (a policy caps or holds it); after a settling
 *              second the run only measures what the supervisor spends meanwhile.
 * When started by `mmsgate run` (--broker-stats), the parent is the broker: its CPU time
 * (/proc/PPID/stat utime+stime) over the timed window and its VmRSS/VmHWM are reported too.
 * Prints one line of key=value pairs. Not a test: it never judges the numbers. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLERS 4096
/* Latency histogram: 8 sub-buckets per power of two of nanoseconds (about 9% wide). */
#define SUB 8
#define BUCKETS (64 * SUB)

struct shared {
    atomic_int stop;
    atomic_int ready;
    atomic_ullong calls, errors;
    atomic_ullong hist[BUCKETS];
};

static struct shared *sh;
static bool wait_mode;
/* Callers block reading [0] until main closes [1] (every copy: forked callers close theirs):
 * 1,000 callers polling a flag would take both CPUs of a small machine while the rest fork. */
static int go_pipe[2];

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned bucket_of(uint64_t ns)
{
    unsigned p, sub;

    if (ns < SUB)
        return (unsigned)ns;
    p = 63u - (unsigned)__builtin_clzll(ns);
    sub = (unsigned)((ns >> (p - 3)) & (SUB - 1));
    return p * SUB + sub;
}

static double bucket_ns(unsigned b)
{
    unsigned p = b / SUB, sub = b % SUB;

    if (p < 3)
        return b;
    return (double)(1ull << p) * (1.0 + (sub + 0.5) / SUB);
}

static int self_socket(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (wait_mode ? 0 : SOCK_NONBLOCK), 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    return fd;
}

static void *caller(void *arg)
{
    char buf[64];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct mmsghdr m;
    uint64_t calls = 0, errors = 0, local[BUCKETS] = {0};
    int fd = self_socket();

    (void)arg;
    if (fd < 0) {
        perror("scale-load: socket");
        exit(1);
    }
    atomic_fetch_add(&sh->ready, 1);
    while (read(go_pipe[0], buf, 1) < 0 && errno == EINTR)
        ; /* 0: end of file, go */
    if (wait_mode) {
        memset(&m, 0, sizeof(m));
        m.msg_hdr.msg_iov = &iov;
        m.msg_hdr.msg_iovlen = 1;
        (void)syscall(SYS_recvmmsg, fd, &m, 1, 0, NULL);
        return NULL;
    }
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        uint64_t t0, t1;
        long r;

        (void)send(fd, "x", 1, MSG_DONTWAIT); /* fails harmlessly once a deny filled the queue */
        memset(&m, 0, sizeof(m));
        m.msg_hdr.msg_iov = &iov;
        m.msg_hdr.msg_iovlen = 1;
        t0 = now_ns();
        r = syscall(SYS_recvmmsg, fd, &m, 1, MSG_DONTWAIT, NULL);
        t1 = now_ns();
        calls++;
        if (r < 0 && errno != EAGAIN)
            errors++;
        local[bucket_of(t1 - t0)]++;
    }
    atomic_fetch_add(&sh->calls, calls);
    atomic_fetch_add(&sh->errors, errors);
    for (unsigned b = 0; b < BUCKETS; b++)
        if (local[b])
            atomic_fetch_add(&sh->hist[b], local[b]);
    return NULL;
}

/* utime + stime of @pid in clock ticks; -1 if unreadable. */
static long long cpu_ticks(pid_t pid)
{
    char path[64], buf[2048], *p;
    unsigned long long ut, st;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    /* After "pid (comm)": state is field 3; utime and stime are fields 14 and 15. */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static long status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t klen = strlen(key);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            v = strtol(line + klen + 1, NULL, 10);
    fclose(f);
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: scale-load --callers N [--threads] [--wait] [--duration S] "
                    "[--broker-stats]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long callers = 1;
    double duration = 5;
    bool threads = false, broker_stats = false;
    pid_t broker = getppid(), pids[MAX_CALLERS];
    pthread_t tids[MAX_CALLERS];
    long long cpu0 = -1, cpu1 = -1;
    uint64_t t0, t1, total = 0, seen = 0;
    double p50 = 0, p99 = 0, secs;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = true;
        else if (strcmp(argv[i], "--wait") == 0)
            wait_mode = true;
        else if (strcmp(argv[i], "--broker-stats") == 0)
            broker_stats = true;
        else if (i + 1 < argc && strcmp(argv[i], "--callers") == 0)
            callers = strtol(argv[++i], NULL, 10);
        else if (i + 1 < argc && strcmp(argv[i], "--duration") == 0)
            duration = strtod(argv[++i], NULL);
        else
            usage();
    }
    if (callers < 1 || callers > MAX_CALLERS || duration <= 0)
        usage();
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || pipe2(go_pipe, O_CLOEXEC) < 0)
        return 1;
    for (long i = 0; i < callers; i++) {
        if (threads) {
            if (pthread_create(&tids[i], NULL, caller, NULL) != 0) {
                fprintf(stderr, "scale-load: pthread_create failed at %ld\n", i);
                return 1;
            }
            continue;
        }
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("scale-load: fork");
            return 1;
        }
        if (pids[i] == 0) {
            (void)close(go_pipe[1]);
            caller(NULL);
            _exit(0);
        }
    }
    while (atomic_load(&sh->ready) < callers)
        usleep(1000);
    (void)close(go_pipe[1]);
    if (wait_mode)
        sleep(1); /* every caller reaches its wait */
    if (broker_stats)
        cpu0 = cpu_ticks(broker);
    t0 = now_ns();
    usleep((useconds_t)(duration * 1e6));
    if (broker_stats)
        cpu1 = cpu_ticks(broker);
    t1 = now_ns();
    atomic_store(&sh->stop, 1);
    for (long i = 0; i < callers; i++) {
        if (threads) {
            if (wait_mode)
                continue; /* the process exits with them still waiting */
            pthread_join(tids[i], NULL);
        } else {
            if (wait_mode)
                kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    }
    secs = (double)(t1 - t0) / 1e9;
    for (unsigned b = 0; b < BUCKETS; b++)
        total += sh->hist[b];
    for (unsigned b = 0; b < BUCKETS && total; b++) {
        uint64_t before = seen;

        seen += sh->hist[b];
        if (before < total / 2 && seen >= total / 2)
            p50 = bucket_ns(b);
        if (before < total * 99 / 100 && seen >= total * 99 / 100)
            p99 = bucket_ns(b);
    }
    printf("callers=%ld mode=%s%s calls=%llu errors=%llu calls_per_s=%.0f p50_us=%.1f "
           "p99_us=%.1f",
           callers, threads ? "threads" : "processes", wait_mode ? "-wait" : "",
           (unsigned long long)sh->calls, (unsigned long long)sh->errors, sh->calls / secs,
           p50 / 1000, p99 / 1000);
    if (broker_stats && cpu0 >= 0 && cpu1 >= 0) {
        double cpu_s = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK);

        printf(" broker_cpu_pct=%.1f broker_us_per_call=%.2f broker_rss_kb=%ld broker_hwm_kb=%ld",
               100 * cpu_s / secs, sh->calls ? 1e6 * cpu_s / (double)sh->calls : 0,
               status_kb(broker, "VmRSS"), status_kb(broker, "VmHWM"));
    }
    printf("\n");
    return sh->errors ? 1 : 0;
}
