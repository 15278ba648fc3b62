/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target program of tests/signals: i386 recvmmsg_time32 (337) by raw syscall under signal
 * floods, restarts, SIGKILL and threads. One mode per run; it prints one line per fact and
 * leaves the judging to test_signals.c, so the same binary runs natively and under mmsgate. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../pin-cpu.h"

/* Built -m32 as sig32 (the compat route, i386 recvmmsg_time32 337) and natively as sig64 (x86_64
 * recvmmsg 299), for hosts that cannot run i386 code (tests/ia32.h). */
#ifdef __i386__
/* arch/x86/entry/syscalls/syscall_32.tbl */
#define NR_RECVMMSG_TIME32 337
#else
/* arch/x86/entry/syscalls/syscall_64.tbl */
#define NR_RECVMMSG_TIME32 299
#endif
/* include/linux/errno.h: what a stored sk_err of -ERESTARTSYS surfaces as. */
#define ERESTARTSYS_ 512

#ifdef __i386__
/* On i386, glibc's struct mmsghdr is the kernel's compat_mmsghdr. */
_Static_assert(sizeof(struct mmsghdr) == 32, "i386 mmsghdr is 32 bytes");

struct old_timespec32 {
    int32_t tv_sec;
    int32_t tv_nsec;
};
#else
/* The route's own timeout type (struct __kernel_timespec), under the name the code uses. */
struct old_timespec32 {
    int64_t tv_sec;
    int64_t tv_nsec;
};
#endif

static long recvmmsg32(int fd, struct mmsghdr *v, unsigned vlen, unsigned flags,
                       struct old_timespec32 *t)
{
    return syscall(NR_RECVMMSG_TIME32, fd, v, vlen, flags, t);
}

static uint32_t n_handled; /* SIGUSR1 handler runs, updated atomically */

static volatile int64_t first_handled_ms; /* CLOCK_MONOTONIC; read by the main thread only */

static void on_usr1(int sig)
{
    struct timespec ts;

    (void)sig;
    if (!first_handled_ms && clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        first_handled_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    __atomic_add_fetch(&n_handled, 1, __ATOMIC_RELAXED);
}

static uint32_t handled(void)
{
    return __atomic_load_n(&n_handled, __ATOMIC_RELAXED);
}

static void die(const char *what)
{
    printf("error %s: %s (%d)\n", what, strerror(errno), errno);
    fflush(stdout);
    _exit(2);
}

static void install_usr1(bool restart)
{
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0};

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        die("sigaction");
}

static int64_t now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* Wait until thread @tid of @pid is inside syscall @nr (first field of /proc/.../syscall),
 * then another @settle_ms so that a broker has received the notification; or until *@done
 * (when not NULL) says the call already returned. */
static void wait_in_syscall_unless(pid_t pid, pid_t tid, long nr, int settle_ms, const int *done)
{
    char path[96], buf[64];
    int64_t end = now_ms() + 10000;

    (void)snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    while (now_ms() < end && !(done && __atomic_load_n(done, __ATOMIC_ACQUIRE))) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

        if (fd >= 0)
            (void)close(fd); /* read-only file */
        if (n > 0) {
            buf[n] = 0;
            if (strtol(buf, NULL, 10) == nr) {
                sleep_us(settle_ms * 1000L);
                return;
            }
        }
        sleep_us(2000);
    }
    if (done && __atomic_load_n(done, __ATOMIC_ACQUIRE))
        return;
    printf("error timeout waiting for %d/%d in syscall %ld\n", (int)pid, (int)tid, nr);
    fflush(stdout);
    _exit(2);
}

static void wait_in_syscall(pid_t pid, pid_t tid, long nr, int settle_ms)
{
    wait_in_syscall_unless(pid, tid, nr, settle_ms, NULL);
}

static void xsend(int fd, const void *buf, size_t len)
{
    while (send(fd, buf, len, 0) < 0) {
        if (errno != EINTR)
            die("send");
    }
}

static void xwrite(int fd, const void *buf, size_t len)
{
    while (write(fd, buf, len) < 0) {
        if (errno != EINTR)
            die("write");
    }
}

static void xread(int fd, void *buf, size_t len)
{
    ssize_t n;

    while ((n = read(fd, buf, len)) < 0) {
        if (errno != EINTR)
            die("read");
    }
    if ((size_t)n != len) {
        errno = EIO;
        die("short read");
    }
}

/* A datagram pair: [0] receives, [1] sends to it. UDP gets a large forced receive buffer. */
static void make_pair(bool udp, int sv[2])
{
    if (!udp) {
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
            die("socketpair");
        return;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int big = 4 << 20;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sv[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sv[1] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sv[0] < 0 || sv[1] < 0)
        die("socket");
    if (setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0 &&
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) < 0)
        die("SO_RCVBUF");
    if (bind(sv[0], (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(sv[0], (struct sockaddr *)&sin, &len) < 0 ||
        connect(sv[1], (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("udp setup");
}

/* ---- noloss: a numbered stream under a SIGUSR1 flood ------------------------------------ */

#define NOLOSS_VLEN 16
#define NOLOSS_WINDOW 256 /* UDP datagrams in flight; far below the forced receive buffer */
#define NOLOSS_END 0xffffffffu
#define NOLOSS_MAGIC 0x6d6d7367u

struct noloss_msg {
    uint32_t seq;
    uint32_t magic;
    uint32_t pad[2];
};

static volatile int stop_flood;
static uint32_t n_sent_signals;

struct flood {
    pid_t pid, tid; /* tgkill(pid, tid) */
    long period_us;
};

static void *flood_thread(void *arg)
{
    const struct flood *f = arg;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL); /* never take the receiver's signals */
    while (!stop_flood) {
        if (syscall(SYS_tgkill, f->pid, f->tid, SIGUSR1) == 0)
            n_sent_signals++;
        sleep_us(f->period_us);
    }
    return NULL;
}

/* The sender: @count numbered datagrams, then an end mark. With @ack_fd (UDP) it keeps at most
 * NOLOSS_WINDOW datagrams unacknowledged, so the kernel never has a reason to drop one. */
static void noloss_sender(int fd, uint32_t count, int ack_fd)
{
    uint32_t acked = 0;

    for (uint32_t seq = 0; seq <= count; seq++) {
        struct noloss_msg m = {.seq = seq == count ? NOLOSS_END : seq, .magic = NOLOSS_MAGIC};

        while (ack_fd >= 0 && seq - acked >= NOLOSS_WINDOW)
            xread(ack_fd, &acked, sizeof(acked));
        xsend(fd, &m, sizeof(m));
    }
    _exit(0);
}

/* noloss unix|udp restart|norestart proc|thread notimeout|timeout COUNT PERIOD_US */
static int mode_noloss(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "noloss: bad arguments\n");
        return 2;
    }
    bool udp = strcmp(argv[1], "udp") == 0;
    bool restart = strcmp(argv[2], "restart") == 0;
    bool thread = strcmp(argv[3], "thread") == 0;
    bool with_timeout = strcmp(argv[4], "timeout") == 0;
    uint32_t count = (uint32_t)strtoul(argv[5], NULL, 10);
    long period_us = strtol(argv[6], NULL, 10);
    uint8_t *seen = calloc(count, 1);
    int sv[2], ack[2] = {-1, -1};
    pid_t sender, flooder = -1;
    pthread_t flood_tid;
    struct flood fl = {.pid = getpid(), .tid = gettid_(), .period_us = period_us};
    uint64_t received = 0, dup = 0, reordered = 0, eintr = 0, other = 0, calls = 0, err512 = 0;
    int64_t next = 0, start;
    int other_errno = 0;
    static struct mmsghdr vec[NOLOSS_VLEN];
    static struct noloss_msg bufs[NOLOSS_VLEN];
    static struct iovec iov[NOLOSS_VLEN];

    if (!seen)
        die("calloc");
    install_usr1(restart);
    make_pair(udp, sv);
    if (udp && pipe2(ack, O_CLOEXEC) < 0)
        die("pipe2");
    sender = fork();
    if (sender < 0)
        die("fork");
    if (sender == 0) {
        signal(SIGUSR1, SIG_IGN);
        (void)close(sv[0]); /* the receiver's end */
        if (udp) {
            /* The receiver checks the order (tests/pin-cpu.h). */
            if (pin_to_this_cpu(NULL) < 0)
                die("sched_setaffinity");
        }
        noloss_sender(sv[1], count, ack[0]);
    }
    (void)close(sv[1]); /* the sender's end */
    if (thread) {
        if (pthread_create(&flood_tid, NULL, flood_thread, &fl) != 0)
            die("pthread_create");
    } else {
        pid_t me = getpid();

        flooder = fork();
        if (flooder < 0)
            die("fork");
        if (flooder == 0) {
            signal(SIGUSR1, SIG_IGN);
            signal(SIGTERM, SIG_DFL);
            for (;;) {
                /* Process-directed: the kernel picks the (only) thread. */
                if (kill(me, SIGUSR1) < 0)
                    _exit(0);
                sleep_us(period_us);
            }
        }
    }

    for (int i = 0; i < NOLOSS_VLEN; i++) {
        iov[i] = (struct iovec){&bufs[i], sizeof(bufs[i])};
        vec[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    start = now_ms();
    for (bool done = false; !done;) {
        struct old_timespec32 t = {1, 0};
        long r = recvmmsg32(sv[0], vec, NOLOSS_VLEN, 0, with_timeout ? &t : NULL);

        calls++;
        if (r < 0) {
            if (errno == EINTR) {
                eintr++;
                continue;
            }
            /* A batch interrupted after its first datagram stores ERESTARTSYS as sk_err, and
             * the next call reports it (docs/recvmmsg-compat.md rule 14): the kernel's own
             * behaviour. */
            if (errno == ERESTARTSYS_) {
                err512++;
                continue;
            }
            other++;
            other_errno = errno;
            if (other > 100)
                break;
            continue;
        }
        for (long i = 0; i < r; i++) {
            uint32_t seq = bufs[i].seq;

            if (vec[i].msg_len != sizeof(struct noloss_msg) || bufs[i].magic != NOLOSS_MAGIC) {
                other++;
                other_errno = -1;
                continue;
            }
            if (seq == NOLOSS_END) {
                done = true;
                continue;
            }
            if (seq >= count) {
                other++;
                other_errno = -2;
                continue;
            }
            received++;
            if (seen[seq]) {
                dup++;
                continue;
            }
            seen[seq] = 1;
            if ((int64_t)seq != next)
                reordered++;
            next = (int64_t)seq + 1;
        }
        if (udp) {
            uint32_t n = (uint32_t)received;

            xwrite(ack[1], &n, sizeof(n));
        }
    }
    int64_t elapsed = now_ms() - start;

    if (thread) {
        stop_flood = 1;
        (void)pthread_join(flood_tid, NULL);
    } else {
        (void)kill(flooder, SIGKILL);
        (void)waitpid(flooder, NULL, 0);
    }
    (void)kill(sender, SIGKILL); /* normally gone already; not if we stopped early */
    (void)waitpid(sender, NULL, 0);
    uint64_t gap = 0;
    for (uint32_t s = 0; s < count; s++)
        gap += !seen[s];
    printf("noloss received=%llu expected=%u dup=%llu gap=%llu reordered=%llu eintr=%llu "
           "signals=%u err512=%llu other=%llu other_errno=%d calls=%llu sent_signals=%u "
           "elapsed_ms=%lld\n",
           (unsigned long long)received, count, (unsigned long long)dup, (unsigned long long)gap,
           (unsigned long long)reordered, (unsigned long long)eintr, handled(),
           (unsigned long long)err512, (unsigned long long)other, other_errno,
           (unsigned long long)calls, n_sent_signals, (long long)elapsed);
    free(seen);
    return 0;
}

/* ---- restart: one signal while an emulated call waits ------------------------------------ */

static void print_call(const char *tag, long r, int err, struct mmsghdr *vec, char (*bufs)[32])
{
    printf("%s ret=%ld errno=%d data=", tag, r, r < 0 ? err : 0);
    for (long i = 0; i < r; i++)
        printf("%s%.*s", i ? "," : "", (int)vec[i].msg_len, bufs[i]);
    printf(" signals=%u\n", handled());
    fflush(stdout);
}

/* restart SCENARIO, where SCENARIO is
 *   idle-restart  idle-eintr  idle-rcvtimeo  idle-stop  idle-late-eintr
 *   batch-restart batch-eintr batch-rcvtimeo
 * idle: nothing queued, one SIGUSR1 (SIGSTOP+SIGCONT for idle-stop) while the call waits, then
 * datagrams "late" and "tail"; idle-late-eintr sends the signal only after 1.5 s of waiting,
 * when the broker looks for signals less often. batch: vlen 4 with "d0","d1" queued, the signal
 * while entry 2 waits. */
static int mode_restart(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "restart: bad arguments\n");
        return 2;
    }
    const char *sc = argv[1];
    bool batch = strncmp(sc, "batch-", 6) == 0;
    bool restart = strstr(sc, "-eintr") == NULL;
    bool rcvtimeo = strstr(sc, "-rcvtimeo") != NULL;
    bool stop = strcmp(sc, "idle-stop") == 0;
    bool late = strstr(sc, "-late") != NULL;
    struct mmsghdr vec[4];
    char bufs[4][32];
    struct iovec iov[4];
    int sv[2], go[2];
    pid_t me = getpid(), helper;
    long r;
    int64_t t0;

    install_usr1(restart);
    make_pair(false, sv);
    if (pipe2(go, O_CLOEXEC) < 0)
        die("pipe2");
    if (rcvtimeo) {
        struct timeval tv = {5, 0};

        if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
            die("SO_RCVTIMEO");
    }
    if (batch) {
        xsend(sv[1], "d0", 2);
        xsend(sv[1], "d1", 2);
    }
    helper = fork();
    if (helper < 0)
        die("fork");
    if (helper == 0) {
        char c;

        xread(go[0], &c, 1);
        wait_in_syscall(me, me, NR_RECVMMSG_TIME32, 200);
        if (stop) {
            char path[64], st[512];

            (void)kill(me, SIGSTOP);
            (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)me);
            bool stopped = false;

            for (int i = 0; i < 1000 && !stopped; i++) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t n = fd >= 0 ? read(fd, st, sizeof(st) - 1) : -1;
                const char *p;

                if (fd >= 0)
                    (void)close(fd); /* read-only file */
                st[n > 0 ? n : 0] = 0;
                p = strrchr(st, ')');
                stopped = p && p[1] == ' ' && p[2] == 'T';
                if (!stopped)
                    sleep_us(2000);
            }
            printf("helper stopped=%s\n", stopped ? "yes" : "no");
            fflush(stdout);
            sleep_us(100000);
            (void)kill(me, SIGCONT);
        } else {
            if (late)
                sleep_us(1500000);
            (void)kill(me, SIGUSR1);
        }
        sleep_us(300000);
        xsend(sv[1], "late", 4);
        xsend(sv[1], "tail", 4);
        _exit(0);
    }
    for (int i = 0; i < 4; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
        vec[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    xwrite(go[1], "g", 1);
    t0 = now_ms();
    r = recvmmsg32(sv[0], vec, batch ? 4 : 1, 0, NULL);
    print_call("call1", r, errno, vec, bufs);
    {
        int64_t t1 = now_ms();

        printf("call1_waited=%s\n", t1 - t0 >= 400 ? "long" : "short");
        /* The signal came 1.5 s into the wait: noticed within a second of it (the broker's
         * bound is 300 ms at that point; the rest is slack for a loaded machine). */
        if (late)
            printf("call1_noticed=%s\n", t1 - t0 < 2500 ? "within-1s" : "late");
        /* A restarted call returns with the datagram sent 300 ms after the signal; the
         * handler must have run when the signal came, not when the datagram did. */
        if (restart && !batch && !stop && !rcvtimeo)
            printf("call1_handler=%s\n", first_handled_ms && first_handled_ms + 150 <= t1
                                             ? "while-waiting"
                                             : "at-return");
    }
    if (batch) {
        int soerr = -1;
        socklen_t len = sizeof(soerr);

        /* What the interrupted batch left behind (docs/recvmmsg-compat.md rule 14): first as the
         * next call's result, then through SO_ERROR after a second interruption-free look. */
        r = recvmmsg32(sv[0], vec, 4, MSG_DONTWAIT, NULL);
        print_call("call2", r, errno, vec, bufs);
        if (getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            die("SO_ERROR");
        printf("so_error=%d\n", soerr);
    }
    /* Whatever is still to come must not have been lost: "late" if call1 did not get it,
     * else "tail". */
    r = recvmmsg32(sv[0], vec, 1, 0, NULL);
    while (r < 0 && errno == EINTR)
        r = recvmmsg32(sv[0], vec, 1, 0, NULL);
    print_call("last", r, errno, vec, bufs);
    (void)waitpid(helper, NULL, 0);
    return 0;
}

/* ---- kill: SIGKILL mid-call, a survivor on the same socket ------------------------------- */

#define KILL_COUNT 200

/* kill: prints "warm" and waits for a line on stdin, then kills a process blocked in an
 * emulated call on a socket it shares with a second process, also blocked there, queues
 * KILL_COUNT datagrams right after the kill and an end mark 500 ms later, and reports what the
 * survivor got; prints "killed-done" and
 * waits for stdin again before exiting (so the test can count the broker's fds). */
static int mode_kill(void)
{
    struct mmsghdr vec[16];
    char bufs[16][32];
    struct iovec iov[16];
    int sv[2], warm[2], res[2];
    pid_t victim, survivor;
    char line[16];
    int status;

    for (int i = 0; i < 16; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
        vec[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    /* Warm up: one emulated call, so the broker's worker exists before the first count. */
    make_pair(false, warm);
    xsend(warm[1], "w", 1);
    if (recvmmsg32(warm[0], vec, 1, 0, NULL) != 1)
        die("warm-up recvmmsg");
    printf("warm\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        die("stdin");

    make_pair(false, sv);
    if (pipe2(res, O_CLOEXEC) < 0)
        die("pipe2");
    victim = fork();
    if (victim < 0)
        die("fork");
    if (victim == 0) {
        long r = recvmmsg32(sv[0], vec, 4, 0, NULL);
        printf("error victim returned %ld errno %d\n", r, errno);
        fflush(stdout);
        _exit(3);
    }
    wait_in_syscall(victim, victim, NR_RECVMMSG_TIME32, 200);
    survivor = fork();
    if (survivor < 0)
        die("fork");
    if (survivor == 0) {
        uint32_t got = 0, wrong = 0, calls = 0;
        uint32_t expect = 0;
        int64_t first_wrong = -1;

        for (bool done = false; !done;) {
            long r = recvmmsg32(sv[0], vec, 16, MSG_WAITFORONE, NULL);

            calls++;
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                die("survivor recvmmsg");
            }
            for (long i = 0; i < r; i++) {
                uint32_t seq;

                memcpy(&seq, bufs[i], sizeof(seq));
                if (seq == NOLOSS_END) {
                    done = true;
                    continue;
                }
                if (vec[i].msg_len != sizeof(seq) || seq != expect) {
                    if (!wrong)
                        first_wrong = (int64_t)expect;
                    wrong++;
                }
                expect = seq + 1;
                got++;
            }
        }
        printf("survivor received=%u expected=%u wrong=%u first_missing=%lld calls=%u\n", got,
               KILL_COUNT, wrong, (long long)first_wrong, calls);
        fflush(stdout);
        _exit(0);
    }
    wait_in_syscall(survivor, survivor, NR_RECVMMSG_TIME32, 100);
    if (kill(victim, SIGKILL) < 0)
        die("kill");
    if (waitpid(victim, &status, 0) < 0)
        die("waitpid");
    printf("victim %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "killed" : "other");
    fflush(stdout);
    /* Straight after the kill: nothing queued now was ever dequeued for the victim. */
    for (uint32_t seq = 0; seq < KILL_COUNT; seq++)
        xsend(sv[1], &seq, sizeof(seq));
    /* The end mark comes later, when any broker thread serving the victim has had ample time
     * (25 of its 20 ms signal-and-liveness polls) to see it is gone. */
    sleep_us(500000);
    {
        uint32_t end = NOLOSS_END;

        xsend(sv[1], &end, sizeof(end));
    }
    if (waitpid(survivor, &status, 0) < 0)
        die("waitpid");
    printf("survivor exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    printf("killed-done\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        die("stdin");
    return 0;
}

/* ---- threads: 8 callers, each on its own socket ------------------------------------------ */

#define N_THREADS 8
#define PER_THREAD 64
#define SIGNALLED 3 /* the thread that receives tgkill'ed signals */

struct caller {
    int idx;
    int fd;
    pid_t tid;
    uint32_t got, wrong, eintr, other;
};

static void *caller_main(void *arg)
{
    struct caller *c = arg;
    struct mmsghdr vec[4];
    uint32_t bufs[4][2];
    struct iovec iov[4];

    __atomic_store_n(&c->tid, gettid_(), __ATOMIC_RELEASE);
    for (int i = 0; i < 4; i++) {
        iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
        vec[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    while (c->got < PER_THREAD) {
        long r = recvmmsg32(c->fd, vec, 4, 0, NULL);

        if (r < 0) {
            if (errno == EINTR)
                c->eintr++;
            else
                c->other++;
            if (c->other > 10)
                break;
            continue;
        }
        for (long i = 0; i < r; i++) {
            if (vec[i].msg_len != sizeof(bufs[i]) || bufs[i][0] != (uint32_t)c->idx ||
                bufs[i][1] != c->got)
                c->wrong++;
            c->got++;
        }
    }
    return NULL;
}

/* threads: 8 threads block in recvmmsg on their own sockets; thread SIGNALLED gets a burst of
 * thread-directed SIGUSR1 (no SA_RESTART), then every thread gets its datagrams. */
static int mode_threads(void)
{
    struct caller c[N_THREADS];
    pthread_t th[N_THREADS];
    int send_fd[N_THREADS];
    pid_t me = getpid();

    install_usr1(false);
    for (int i = 0; i < N_THREADS; i++) {
        int sv[2];

        make_pair(false, sv);
        c[i] = (struct caller){.idx = i, .fd = sv[0]};
        send_fd[i] = sv[1];
    }
    /* Only the callers may take SIGUSR1; this thread only sends it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (int i = 0; i < N_THREADS; i++)
        if (pthread_create(&th[i], NULL, caller_main, &c[i]) != 0)
            die("pthread_create");
    (void)pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < N_THREADS; i++) {
        while (!__atomic_load_n(&c[i].tid, __ATOMIC_ACQUIRE))
            sleep_us(1000);
        wait_in_syscall(me, c[i].tid, NR_RECVMMSG_TIME32, 0);
    }
    sleep_us(200000);
    uint32_t sent_signals = 0;
    for (int k = 0; k < 20; k++) {
        uint32_t before = handled();

        if (syscall(SYS_tgkill, me, c[SIGNALLED].tid, SIGUSR1) == 0)
            sent_signals++;
        /* Paced by the handler, not by a fixed sleep: a second SIGUSR1 sent while the first is
         * still pending merges with it (standard signals do not queue), which on a loaded
         * machine would make the count differ for reasons that are not the broker's. */
        for (int w = 0; w < 2000 && handled() == before; w++)
            sleep_us(1000);
        sleep_us(5000);
    }
    for (uint32_t seq = 0; seq < PER_THREAD; seq++) {
        for (int i = 0; i < N_THREADS; i++) {
            uint32_t m[2] = {(uint32_t)i, seq};

            xsend(send_fd[i], m, sizeof(m));
        }
        if (seq % 8 == 0)
            sleep_us(1000);
    }
    for (int i = 0; i < N_THREADS; i++) {
        (void)pthread_join(th[i], NULL);
        printf("thread %d received=%u expected=%u wrong=%u eintr=%u other=%u\n", i, c[i].got,
               PER_THREAD, c[i].wrong, c[i].eintr, c[i].other);
    }
    printf("threads signals=%u sent_signals=%u signalled=%d\n", handled(), sent_signals, SIGNALLED);
    return 0;
}

/* ---- unshare: the same fd number, two file tables ---------------------------------------- */

struct unshared {
    int fd;     /* the shared number */
    int b_recv; /* socket B's receiving end, before dup2 */
    pid_t tid;
    char got[32];
    long ret;
    int err;
    int unshare_err;
    int done; /* the thread's call returned (before 6.9 the broker refuses it at once) */
};

static void *unshared_main(void *arg)
{
    struct unshared *u = arg;
    struct mmsghdr vec[1];
    struct iovec iov = {u->got, sizeof(u->got) - 1};

    /* kernel/fork.c ksys_unshare(CLONE_FILES): this thread gets its own copy of the table. */
    if (unshare(CLONE_FILES) < 0) {
        u->unshare_err = errno;
    } else if (dup3(u->b_recv, u->fd, O_CLOEXEC) < 0) {
        u->unshare_err = errno;
    }
    __atomic_store_n(&u->tid, gettid_(), __ATOMIC_RELEASE);
    if (u->unshare_err)
        return NULL;
    vec[0].msg_hdr = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
    u->ret = recvmmsg32(u->fd, vec, 1, 0, NULL);
    u->err = u->ret < 0 ? errno : 0;
    __atomic_store_n(&u->done, 1, __ATOMIC_RELEASE);
    if (u->ret == 1)
        u->got[vec[0].msg_len < sizeof(u->got) ? vec[0].msg_len : 0] = 0;
    return NULL;
}

struct sender_arg {
    pid_t pid, t1, t2;
    int a_send, b_send;
    const int *t2_done;
};

static void *unshare_sender(void *arg)
{
    struct sender_arg *s = arg;

    wait_in_syscall(s->pid, s->t1, NR_RECVMMSG_TIME32, 0);
    wait_in_syscall_unless(s->pid, s->t2, NR_RECVMMSG_TIME32, 200, s->t2_done);
    xsend(s->b_send, "from-B", 6);
    sleep_us(50000);
    xsend(s->a_send, "from-A", 6);
    return NULL;
}

/* unshare: socket A's receiving end has number X in the main thread's table; a thread that
 * unshared its table puts socket B's receiving end at X. Both block on X. */
static int mode_unshare(void)
{
    int a[2], b[2];
    struct unshared u = {0};
    struct sender_arg s;
    pthread_t tu, ts;
    struct mmsghdr vec[1];
    char got[32] = "";
    struct iovec iov = {got, sizeof(got) - 1};
    long r;

    make_pair(false, a);
    make_pair(false, b);
    /* A call served against the wrong table waits on the wrong socket: end it, not the test. */
    {
        struct timeval tv = {3, 0};

        if (setsockopt(a[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(b[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
            die("SO_RCVTIMEO");
    }
    u.fd = a[0];
    u.b_recv = b[0];
    if (pthread_create(&tu, NULL, unshared_main, &u) != 0)
        die("pthread_create");
    while (!__atomic_load_n(&u.tid, __ATOMIC_ACQUIRE))
        sleep_us(1000);
    if (u.unshare_err) {
        printf("error unshare %d\n", u.unshare_err);
        return 2;
    }
    s = (struct sender_arg){getpid(), gettid_(), u.tid, a[1], b[1], &u.done};
    if (pthread_create(&ts, NULL, unshare_sender, &s) != 0)
        die("pthread_create");
    vec[0].msg_hdr = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
    r = recvmmsg32(a[0], vec, 1, 0, NULL);
    if (r == 1)
        got[vec[0].msg_len < sizeof(got) ? vec[0].msg_len : 0] = 0;
    (void)pthread_join(tu, NULL);
    (void)pthread_join(ts, NULL);
    printf("unshare fd=%d main ret=%ld errno=%d data=%s\n", a[0], r, r < 0 ? errno : 0, got);
    printf("unshare fd=%d thread ret=%ld errno=%d data=%s\n", u.fd, u.ret, u.err, u.got);
    return 0;
}

/* ---- leader-gone: a call from a thread whose group leader has exited --------------------- */

/* The leader's state letter in /proc/self/task/<tgid>/stat (after "comm) "), or 0. */
static char leader_state(pid_t tgid)
{
    char path[64], buf[512];
    const char *p;
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tgid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd); /* read-only file */
    if (n <= 0)
        return 0;
    buf[n] = 0;
    p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static void *gone_main(void *arg)
{
    int fd = *(int *)arg;
    pid_t tgid = getpid();
    struct mmsghdr vec[1];
    char got[32] = "";
    struct iovec iov = {got, sizeof(got) - 1};
    int64_t end = now_ms() + 10000;
    long r;

    /* kernel/exit.c: a leader that exits before its threads stays a zombie ('Z') with no fd
     * table (exit_files()) until the last thread exits. */
    while (leader_state(tgid) != 'Z') {
        if (now_ms() > end) {
            printf("error the leader did not exit\n");
            fflush(stdout);
            _exit(2);
        }
        sleep_us(2000);
    }
    vec[0].msg_hdr = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
    r = recvmmsg32(fd, vec, 1, MSG_DONTWAIT, NULL);
    if (r == 1)
        got[vec[0].msg_len < sizeof(got) ? vec[0].msg_len : 0] = 0;
    printf("leader-gone ret=%ld errno=%d data=%s\n", r, r < 0 ? errno : 0, got);
    fflush(stdout);
    exit(0); /* exit_group: the zombie leader is reaped with us */
}

/* leader-gone: a datagram is queued; main starts a thread and exits; once the leader
 * is a zombie the thread receives. Before Linux 6.9 the broker reaches fds only through the
 * leader (no PIDFD_THREAD): the call must still be answered. */
static int mode_leader_gone(void)
{
    static int a[2];
    pthread_t t;

    make_pair(false, a);
    xsend(a[1], "from-A", 6);
    if (pthread_create(&t, NULL, gone_main, &a[0]) != 0)
        die("pthread_create");
    /* The exit system call ends this thread only, as pthread_exit() would, without the
     * unwinder pthread_exit() loads (libgcc_s, which the VM's initramfs does not carry). */
    (void)syscall(SYS_exit, 0);
    return 2; /* not reached: exit does not return */
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: sig32 noloss|restart|kill|threads|unshare|leader-gone ...\n");
        return 2;
    }
    if (strcmp(argv[1], "noloss") == 0)
        return mode_noloss(argc - 1, argv + 1);
    if (strcmp(argv[1], "restart") == 0)
        return mode_restart(argc - 1, argv + 1);
    if (strcmp(argv[1], "kill") == 0)
        return mode_kill();
    if (strcmp(argv[1], "threads") == 0)
        return mode_threads();
    if (strcmp(argv[1], "unshare") == 0)
        return mode_unshare();
    if (strcmp(argv[1], "leader-gone") == 0)
        return mode_leader_gone();
    fprintf(stderr, "sig32: unknown mode %s\n", argv[1]);
    return 2;
}
