/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One caller must not stall another (issue 6 finding 2). Run under one "mmsgate run": forks an
 * attacker and, once the attacker is inside recvmmsg, a victim that times its own recvmmsg
 * calls on a socket that always has a datagram.
 *   stall vlen: the attacker repeats recvmmsg(MSG_DONTWAIT) with vlen 10,000 and 1,024 iovecs
 *               per entry over hundreds of queued datagrams (natively a few ms per call).
 *   stall uffd: the attacker's entry 0 header sits on a userfaultfd page nobody resolves.
 *   stall fuse: ... on a page of a FUSE file whose reads are never answered (this stall also
 *               holds a read through /proc/PID/mem, which userfaultfd does not).
 *   stall fuse-timeout: only the timeout is on that page.
 *   stall fuse-socketcall (i386 build only): socketcall(SYS_RECVMMSG) whose argument block is
 *               on that page (the broker reads it before it can decide anything).
 *   stall fuse-lock: the attacker's entry 1 has its iovec on that page and its name on a
 *               read-only page (so the broker takes it with a peek, holding the socket's lock
 *               while it writes), and once it is stuck there a second process of its own calls
 *               on the same socket: that call waits for the lock on the loop thread.
 * Prints "result mode=M calls=N p50_us=A p99_us=B max_us=C" (calls < 100 when the victim was
 * still stuck at the deadline; a stuck call counts as taking the whole remaining time).
 * The fuse modes are for runs under mmsgate only: natively the attacker would fault on its own
 * FUSE page, which its own (then dead) server thread never answers, and never exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse-stall.h"

/* x86_64 recvmmsg; i386 recvmmsg_time64 (same timespec layout) and socketcall. */
#if defined(__x86_64__)
#define NR_RECVMMSG 299
#else
#define NR_RECVMMSG 417
#define NR_I386_SOCKETCALL 102
#define SOCKETCALL_SYS_RECVMMSG 19
#endif
#define ATTACK_VLEN 10000
#define ATTACK_IOVS 1024
#define ATTACK_QUEUED 300
#define VICTIM_CALLS 100
#define VICTIM_DEADLINE_MS 20000
#define PAGE 4096

static int64_t now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    printf("error %s: %s\n", what, strerror(errno));
    fflush(stdout);
    _exit(1);
}

/* A UDP socket bound to loopback and a second one connected to it. */
static void socket_pair(int *ret_rx, int *ret_tx)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    int rcvbuf = 64 << 20;

    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(rx, (struct sockaddr *)&sin, &len) < 0 ||
        connect(tx, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("socket");
    (void)setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)); /* root only */
    *ret_rx = rx;
    *ret_tx = tx;
}

static void refill(int rx, int tx, int want)
{
    int queued = 0;

    /* SIOCINQ gives only the first datagram's size for UDP: count by peeking is too costly, so
     * keep sending until a non-blocking send would exceed the buffer or @want is reached. */
    (void)rx;
    while (queued < want && send(tx, "attacker", 8, MSG_DONTWAIT) == 8)
        queued++;
}

static void attack_vlen(int ready)
{
    static struct mmsghdr v[ATTACK_VLEN];
    static struct iovec iov[ATTACK_IOVS];
    static char buf[ATTACK_IOVS];
    int rx, tx;

    socket_pair(&rx, &tx);
    for (int i = 0; i < ATTACK_IOVS; i++)
        iov[i] = (struct iovec){&buf[i], 1};
    for (int i = 0; i < ATTACK_VLEN; i++)
        v[i].msg_hdr = (struct msghdr){.msg_iov = iov, .msg_iovlen = ATTACK_IOVS};
    refill(rx, tx, ATTACK_QUEUED);
    if (write(ready, "R", 1) != 1)
        die("ready");
    for (;;) {
        (void)syscall(NR_RECVMMSG, rx, v, ATTACK_VLEN, MSG_DONTWAIT, NULL);
        refill(rx, tx, ATTACK_QUEUED);
    }
}

static void attack_uffd(int ready)
{
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg;
    struct uffd_msg msg;
    char *page;
    int uffd, rx, tx;
    pid_t holder;

    socket_pair(&rx, &tx);
    refill(rx, tx, 1);
    page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (page == MAP_FAILED || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
        die("userfaultfd");
    reg = (struct uffdio_register){.range = {(uintptr_t)page, PAGE},
                                   .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
        die("UFFDIO_REGISTER");
    /* The fault handler: takes the broker's fault, says so, and never resolves it. */
    holder = fork();
    if (holder == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* ends with the attacker */
        if (read(uffd, &msg, sizeof(msg)) == sizeof(msg) && write(ready, "R", 1) == 1)
            for (;;)
                pause();
        _exit(1);
    }
    (void)syscall(NR_RECVMMSG, rx, (struct mmsghdr *)page, 1, MSG_DONTWAIT, NULL);
    /* Returned: the broker could not be stalled (a /proc/PID/mem read does not wait for
     * userfaultfd); the victim may start all the same. */
    if (write(ready, "R", 1) != 1)
        die("ready");
    for (;;)
        pause();
}

static struct fstall fuse_fs;
static int fuse_ready = -1;
static int lock_go = -1; /* fuse-lock: tells the second process to call */
static void *ro_page;

/* Two entries on @rx, entry 1 with its iovec at @iov1 and its name on the read-only page. */
static void two_entries(int rx, void *iov1)
{
    static char buf0[64];
    struct iovec iov[2] = {{buf0, sizeof(buf0)}, {iov1, 64}};
    struct mmsghdr v[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                           {.msg_hdr = {.msg_name = ro_page,
                                        .msg_namelen = sizeof(struct sockaddr_in),
                                        .msg_iov = &iov[1],
                                        .msg_iovlen = 1}}};

    (void)syscall(NR_RECVMMSG, rx, v, 2, MSG_DONTWAIT, NULL);
}

/* Tells the launcher once the broker's read is held by the FUSE server; with fuse-lock, first
 * starts the second process's call and gives it time to reach the socket's lock. */
static void *say_when_stalled(void *arg)
{
    (void)arg;
    if (!fstall_wait_stalled(&fuse_fs, -1))
        return NULL;
    if (lock_go >= 0) {
        /* Forked before: a fork now would wait for our mm, which the stalled read holds. */
        if (write(lock_go, "G", 1) != 1)
            die("go");
        (void)usleep(100 * 1000);
    }
    if (write(fuse_ready, "R", 1) != 1)
        die("ready");
    return NULL;
}

/* @what: "fuse" (the mmsghdr on the FUSE page), "fuse-timeout" (only the timeout there; the
 * broker reads it before it decides) or "fuse-socketcall" (the argument block there). */
static void attack_fuse(int ready, const char *what)
{
    static char buf[64];
    static struct iovec iov = {buf, sizeof(buf)};
    static struct mmsghdr v = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    pthread_t th;
    void *page;
    int rx, tx, fd, e;

    socket_pair(&rx, &tx);
    refill(rx, tx, 1);
    if (strcmp(what, "fuse-lock") == 0) {
        int go[2];
        pid_t second;

        ro_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ro_page == MAP_FAILED || pipe(go) < 0)
            die("fuse-lock setup");
        second = fork();
        if (second < 0)
            die("fork");
        if (second == 0) {
            static char buf2[64];
            char c;

            if (read(go[0], &c, 1) != 1)
                _exit(1);
            refill(rx, tx, 2);
            two_entries(rx, buf2);
            _exit(0);
        }
        lock_go = go[1];
        refill(rx, tx, 1); /* two in all */
    }
    /* Our own mount namespace: the mount disappears with us. This process is the FUSE server
     * (a thread); it never keeps a file of its own mount open, which would deadlock its exit. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("mount namespace");
    e = fstall_start(&fuse_fs);
    if (e < 0) {
        errno = -e;
        die("FUSE mount");
    }
    fd = open(fuse_fs.file, O_RDONLY | O_CLOEXEC);
    page = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (page == MAP_FAILED)
        die("mapping the FUSE file");
    close(fd);
    fuse_ready = ready;
    if (pthread_create(&th, NULL, say_when_stalled, NULL) != 0)
        die("pthread_create");
    if (strcmp(what, "fuse-timeout") == 0) {
        (void)syscall(NR_RECVMMSG, rx, &v, 1, MSG_DONTWAIT, page);
    } else if (strcmp(what, "fuse-lock") == 0) {
        two_entries(rx, page);
    } else if (strcmp(what, "fuse-socketcall") == 0) {
#if defined(__i386__)
        (void)syscall(NR_I386_SOCKETCALL, SOCKETCALL_SYS_RECVMMSG, page);
#else
        die("socketcall is an i386 route");
#endif
    } else {
        (void)syscall(NR_RECVMMSG, rx, (struct mmsghdr *)page, 1, MSG_DONTWAIT, NULL);
    }
    if (write(ready, "R", 1) != 1)
        die("ready");
    for (;;)
        pause();
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The victim: VICTIM_CALLS timed calls, each on a socket holding one datagram. Writes each
 * latency (int64 us) to @out as it goes, so a stuck call is still visible. */
static void victim(int out)
{
    char buf[64];
    struct iovec iov = {buf, sizeof(buf)};
    struct mmsghdr v;
    int rx, tx;

    socket_pair(&rx, &tx);
    for (int i = 0; i < VICTIM_CALLS; i++) {
        int64_t t0, dt;
        long r;

        if (send(tx, "victim", 6, 0) != 6)
            die("send");
        v = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
        t0 = now_us();
        r = syscall(NR_RECVMMSG, rx, &v, 1, 0, NULL);
        dt = now_us() - t0;
        if (r != 1)
            die("victim recvmmsg");
        if (write(out, &dt, sizeof(dt)) != sizeof(dt))
            die("write");
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    int ready[2], lat[2], n = 0;
    int64_t lats[VICTIM_CALLS], start, left;
    pid_t attacker, vic;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2 || (strcmp(argv[1], "vlen") && strcmp(argv[1], "uffd") &&
                      strcmp(argv[1], "fuse") && strcmp(argv[1], "fuse-timeout") &&
                      strcmp(argv[1], "fuse-socketcall") && strcmp(argv[1], "fuse-lock")))
        return 2;
    if (pipe(ready) < 0 || pipe(lat) < 0)
        die("pipe");
    attacker = fork();
    if (attacker == 0) {
        close(ready[0]);
        if (strcmp(argv[1], "vlen") == 0)
            attack_vlen(ready[1]);
        if (strncmp(argv[1], "fuse", 4) == 0)
            attack_fuse(ready[1], argv[1]);
        attack_uffd(ready[1]);
    }
    close(ready[1]);
    {
        struct pollfd p = {.fd = ready[0], .events = POLLIN};
        char c;

        if (poll(&p, 1, 20000) != 1 || read(ready[0], &c, 1) != 1)
            die("attacker not ready");
    }
    vic = fork();
    if (vic == 0) {
        close(lat[0]);
        victim(lat[1]);
    }
    close(lat[1]);
    start = now_us();
    while (n < VICTIM_CALLS && (left = VICTIM_DEADLINE_MS * 1000ll - (now_us() - start)) > 0) {
        struct pollfd p = {.fd = lat[0], .events = POLLIN};

        if (poll(&p, 1, (int)(left / 1000) + 1) != 1)
            continue;
        if (read(lat[0], &lats[n], sizeof(lats[n])) != sizeof(lats[n]))
            break;
        n++;
    }
    printf("victim calls=%d\n", n);
    /* A call still stuck at the deadline took at least everything since the last one ended. */
    {
        int m = n;
        int64_t sorted[VICTIM_CALLS + 1];

        memcpy(sorted, lats, (size_t)n * sizeof(lats[0]));
        if (n < VICTIM_CALLS) {
            int64_t spent = 0;

            for (int i = 0; i < n; i++)
                spent += lats[i];
            sorted[m++] = now_us() - start - spent;
        }
        qsort(sorted, (size_t)m, sizeof(sorted[0]), cmp64);
        printf("result mode=%s calls=%d p50_us=%lld p99_us=%lld max_us=%lld\n", argv[1], n,
               (long long)sorted[m / 2], (long long)sorted[(m * 99 + 99) / 100 - 1],
               (long long)sorted[m - 1]);
    }
    (void)kill(attacker, SIGKILL);
    (void)kill(vic, SIGKILL);
    return 0;
}
