/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target program for the kernel fast path test (issue 8): make one recvmmsg-family call per
 * input line, each in a forked child (a kill decision ends only that child), with the exact
 * register values given, and print what happened: "probe i=N ret=R errno=NAME sig=S".
 * The children are vfork()ed: no page tables to copy, which took most of the test's time
 * (integration_kernel_path: 57 s to 5 s on the host, 237 s to 103 s under TCG in tests/vm). The
 * buffers are set up afresh before each, so every call starts from the same memory whatever the
 * previous one wrote.
 *
 * Built -m32 as probe-recvmmsg32 (routes 337, 417, sc) and natively as probe-recvmmsg64 (route
 * 299, where each argument is a full 64-bit register, so upper halves can be set). With
 * --filter FILE it first loads the raw BPF in FILE (as written by `mmsgate filter --bpf`) with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER and closes the listener: every call the filter notifies then
 * fails with ENOSYS, and every other outcome is the kernel's own. Input lines: "FD VLEN FLAGS T"
 * (hexadecimal 64-bit register values; T is n = NULL timeout, v = a valid 2 s timeout, h = a
 * non-NULL pointer whose low half is 0, 64-bit only). fd 3 is a non-blocking UDP socket with
 * nothing queued, fd 0 is /dev/null, fds 4-2047 are closed: no call can block. Exit status: 0 when
 * every line was probed, 1 on a setup failure, 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progs.h"

#define VLEN_BUFS 1024 /* UIO_MAXIOV: the kernel never looks at more entries */
#define SOCK_FD 3
#define FDS_CLOSED_END 2048

enum route {
    ROUTE_337,
    ROUTE_417,
    ROUTE_SC,
    ROUTE_299,
};

static struct {
    void *vec;
    void *iov;
    char *data;
    void *ts32;
    void *ts64;
} bufs;

static int setup(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    struct rlimit no_core = {0, 0};
    int s, null_fd;

    /* A KILL_PROCESS verdict dumps core: not here. */
    if (setrlimit(RLIMIT_CORE, &no_core) < 0)
        return -errno;
    null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0)
        return -errno;
    s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(s, (struct sockaddr *)&sin, &len) < 0 ||
        connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -errno;
    if (s != SOCK_FD && (dup2(s, SOCK_FD) < 0 || close(s) < 0))
        return -errno;
    for (int fd = SOCK_FD + 1; fd < FDS_CLOSED_END; fd++)
        (void)close(fd); /* most are not open: EBADF is the point */

    /* Below 4 GiB for the 32-bit routes' pointers; every entry points at its own buffer. */
    bufs.vec = mmap(NULL, VLEN_BUFS * sizeof(struct mmsghdr), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs.iov = mmap(NULL, VLEN_BUFS * sizeof(struct iovec), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs.data =
        mmap(NULL, VLEN_BUFS * 64, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs.ts32 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufs.vec == MAP_FAILED || bufs.iov == MAP_FAILED || bufs.data == MAP_FAILED ||
        bufs.ts32 == MAP_FAILED)
        return -ENOMEM;
    bufs.ts64 = (char *)bufs.ts32 + 64;
    return 0;
}

static void prepare(enum route route)
{
    for (unsigned i = 0; i < VLEN_BUFS; i++) {
        char *buf = bufs.data + (size_t)i * 64;

        if (route != ROUTE_299) {
            struct compat_mmsghdr *m = (struct compat_mmsghdr *)bufs.vec + i;
            struct compat_iovec *v = (struct compat_iovec *)bufs.iov + i;

            v->base = (uint32_t)(uintptr_t)buf;
            v->len = 64;
            *m = (struct compat_mmsghdr){.iov = (uint32_t)(uintptr_t)v, .iovlen = 1};
        } else {
            struct mmsghdr *m = (struct mmsghdr *)bufs.vec + i;
            struct iovec *v = (struct iovec *)bufs.iov + i;

            v->iov_base = buf;
            v->iov_len = 64;
            memset(m, 0, sizeof(*m));
            m->msg_hdr.msg_iov = v;
            m->msg_hdr.msg_iovlen = 1;
        }
    }
    *(struct old_timespec32 *)bufs.ts32 = (struct old_timespec32){.tv_sec = 2};
    *(struct kernel_timespec64 *)bufs.ts64 = (struct kernel_timespec64){.tv_sec = 2};
}

static long call(enum route route, uint64_t fd, uint64_t vlen, uint64_t flags, char t)
{
    void *ts = route == ROUTE_417 || route == ROUTE_299 ? bufs.ts64 : bufs.ts32;

#if defined(__x86_64__)
    uint64_t ts_reg = t == 'n' ? 0 : t == 'h' ? UINT64_C(0x100000000) : (uint64_t)(uintptr_t)ts;

    if (route == ROUTE_299)
        return syscall(NR_X86_64_RECVMMSG, fd, bufs.vec, vlen, flags, ts_reg);
#else
    uint32_t ts_reg = t == 'n' ? 0 : (uint32_t)(uintptr_t)ts;

    switch (route) {
    case ROUTE_337:
        return syscall(NR_I386_RECVMMSG_TIME32, (uint32_t)fd, bufs.vec, (uint32_t)vlen,
                       (uint32_t)flags, ts_reg);
    case ROUTE_417:
        return syscall(NR_I386_RECVMMSG_TIME64, (uint32_t)fd, bufs.vec, (uint32_t)vlen,
                       (uint32_t)flags, ts_reg);
    case ROUTE_SC: {
        uint32_t args[5] = {(uint32_t)fd, (uint32_t)(uintptr_t)bufs.vec, (uint32_t)vlen,
                            (uint32_t)flags, ts_reg};

        return syscall(NR_I386_SOCKETCALL, SOCKETCALL_SYS_RECVMMSG, args);
    }
    case ROUTE_299:
    default:
        break;
    }
#endif
    errno = EINVAL;
    return -1;
}

static int load_filter(const char *path)
{
    static struct sock_filter insns[BPF_MAXINSNS];
    struct sock_fprog prog = {0};
    ssize_t n;
    long listener;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    n = read(fd, insns, sizeof(insns));
    (void)close(fd); /* read-only */
    if (n <= 0 || n % (ssize_t)sizeof(insns[0]) != 0)
        return -EINVAL;
    prog.len = (unsigned short)(n / (ssize_t)sizeof(insns[0]));
    prog.filter = insns;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    listener =
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0)
        return -errno;
    /* No supervisor: every notified call now fails with ENOSYS. */
    (void)close((int)listener);
    return 0;
}

static int parse_route(const char *s, enum route *ret)
{
#if defined(__x86_64__)
    if (strcmp(s, "299") == 0) {
        *ret = ROUTE_299;
        return 0;
    }
#else
    if (strcmp(s, "337") == 0) {
        *ret = ROUTE_337;
        return 0;
    }
    if (strcmp(s, "417") == 0) {
        *ret = ROUTE_417;
        return 0;
    }
    if (strcmp(s, "sc") == 0) {
        *ret = ROUTE_SC;
        return 0;
    }
#endif
    return -EINVAL;
}

/* Input @idx in a vfork()ed child, and its outcome on stdout. Return: 0; 1 on a failure. */
static int probe_one(enum route route, unsigned long idx, uint64_t fd, uint64_t vlen,
                     uint64_t flags, char t)
{
    char out[160];
    int status = 0, len;
    pid_t pid;

    (void)fflush(stdout);
    prepare(route);
    pid = vfork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        long ret = call(route, fd, vlen, flags, t);
        int err = errno;

        len = snprintf(out, sizeof(out), "probe i=%lu ret=%ld errno=%s sig=0\n", idx, ret,
                       progs_errno_name(ret < 0 ? err : 0));
        _exit(write(STDOUT_FILENO, out, (size_t)len) == len ? 0 : 1);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    if (WIFSIGNALED(status)) {
        len =
            snprintf(out, sizeof(out), "probe i=%lu ret=- errno=- sig=%d\n", idx, WTERMSIG(status));
        if (write(STDOUT_FILENO, out, (size_t)len) != len)
            return 1;
    } else if (WEXITSTATUS(status) != 0) {
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *inputs = NULL, *filter = NULL;
    enum route route = ROUTE_299;
    bool have_route = false;
    static char text[1 << 20];
    size_t text_len;
    char *line;
    FILE *f;
    int r;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--route") == 0 && parse_route(argv[i + 1], &route) == 0)
            have_route = true;
        else if (strcmp(argv[i], "--inputs") == 0)
            inputs = argv[i + 1];
        else if (strcmp(argv[i], "--filter") == 0)
            filter = argv[i + 1];
        else
            break;
    }
    if (!have_route || !inputs || argc % 2 == 0) {
        (void)fprintf(stderr, "usage: probe-recvmmsg --route R --inputs FILE [--filter BPF]\n");
        return 2;
    }
    /* Read every line now: setup() takes over fd 3 and closes the others. */
    f = fopen(inputs, "re");
    if (!f) {
        (void)fprintf(stderr, "probe-recvmmsg: %s: %s\n", inputs, strerror(errno));
        return 1;
    }
    text_len = fread(text, 1, sizeof(text) - 1, f);
    (void)fclose(f); /* read-only */
    text[text_len] = '\0';
    r = setup();
    if (r == 0 && filter)
        r = load_filter(filter);
    if (r < 0) {
        (void)fprintf(stderr, "probe-recvmmsg: setup: %s\n", strerror(-r));
        return 1;
    }
    line = text;
    for (unsigned long idx = 0; line && *line;
         idx++, line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        unsigned long long fd, vlen, flags;
        char t;

        if (sscanf(line, "%llx %llx %llx %c", &fd, &vlen, &flags, &t) != 4) {
            (void)fprintf(stderr, "probe-recvmmsg: bad input line %lu\n", idx);
            return 2;
        }
        r = probe_one(route, idx, fd, vlen, flags, t);
        if (r != 0)
            return r;
    }
    return 0;
}
