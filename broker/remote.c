/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller of one notification: pidfd, memory access, fd duplication and /proc identity. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal/macros.h"
#include "kernel.h"
#include "remote.h"

int remote_open(struct remote *r, int listener, uint64_t id, pid_t tid)
{
    int fd, err;

    *r = (struct remote){.listener = listener, .id = id, .tid = tid, .pidfd = -1};
    /* notif.pid is 0 when the caller is not visible in our pid namespace. */
    if (tid <= 0)
        return -ESRCH;
    /* notif.pid is a thread id; pidfd_open() of a non-leader needs PIDFD_THREAD (6.9). */
    fd = kernel_pidfd_open(tid, PIDFD_THREAD);
    if (fd < 0) {
        /* A caller that died since RECV is a call that is gone, not a failure. */
        if (kernel_notif_id_valid(listener, id) == -ENOENT)
            return -ENOENT;
        return fd == -ENOENT ? -ESRCH : fd;
    }
    r->pidfd = fd;
    /* The tid could have been reused between RECV and pidfd_open(): only if the call is still
     * pending does the pidfd name its caller (a pending caller cannot exit). */
    err = kernel_notif_id_valid(listener, id);
    if (err < 0) {
        remote_close(r);
        return err;
    }
    return 0;
}

void remote_close(struct remote *r)
{
    if (r->pidfd >= 0)
        (void)close(r->pidfd); /* nothing to do about a failed close of a pidfd */
    r->pidfd = -1;
}

int remote_check(const struct remote *r)
{
    return kernel_notif_id_valid(r->listener, r->id);
}

int remote_read(const struct remote *r, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {.iov_base = buf, .iov_len = len};
    struct iovec rem = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
    ssize_t n;

    if (len == 0)
        return 0;
    n = process_vm_readv(r->tid, &local, 1, &rem, 1, 0);
    if (n < 0)
        return errno == ESRCH ? -ESRCH : -EFAULT;
    if ((size_t)n != len)
        return -EFAULT;
    return 0;
}

int remote_write(const struct remote *r, uint64_t addr, const void *buf, size_t len)
{
    struct iovec local = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
    struct iovec rem = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
    ssize_t n;

    if (len == 0)
        return 0;
    n = process_vm_writev(r->tid, &local, 1, &rem, 1, 0);
    if (n < 0)
        return errno == ESRCH ? -ESRCH : -EFAULT;
    if ((size_t)n != len)
        return -EFAULT;
    return 0;
}

int remote_writev(const struct remote *r, const void *buf, size_t len, const struct iovec *riov,
                  size_t n_iov)
{
    const char *p = buf;

    /* One segment at a time, in order: like the kernel's copy_to_iter(), bytes before a
     * faulting segment are written, and a partial transfer is a fault. Batches of IOV_MAX
     * remote segments would be faster; payload scatter is rarely more than a few iovecs. */
    for (size_t i = 0; i < n_iov && len > 0; i++) {
        size_t chunk = riov[i].iov_len < len ? riov[i].iov_len : len;
        int err;

        err = remote_write(r, (uint64_t)(uintptr_t)riov[i].iov_base, p, chunk);
        if (err < 0)
            return err;
        p += chunk;
        len -= chunk;
    }
    return 0;
}

int remote_getfd(const struct remote *r, int fd)
{
    int nfd;

    if (fd < 0)
        return -EBADF;
    nfd = kernel_pidfd_getfd(r->pidfd, fd);
    /* ESRCH: the caller is exiting; treat as a call that is gone. */
    if (nfd == -ESRCH)
        return -ENOENT;
    return nfd;
}

static int read_small_file(const char *path, char *buf, size_t buf_len)
{
    cleanup_close int fd = -1;
    ssize_t n;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, buf_len - 1);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    return (int)n;
}

/* Parse "Key:\t<value>" from a /proc status text. */
static const char *status_field(const char *status, const char *key)
{
    size_t key_len = strlen(key);

    for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, key_len) == 0 && p[key_len] == ':')
            return p + key_len + 1;
    return NULL;
}

int remote_identity(const struct remote *r, struct remote_identity *ret)
{
    char path[64], status[4096];
    const char *v;
    ssize_t n;
    int err;

    *ret = (struct remote_identity){0};
    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)r->tid); /* cannot truncate */
    err = read_small_file(path, status, sizeof(status));
    if (err < 0)
        return err == -ENOENT ? -ESRCH : err;
    v = status_field(status, "Tgid");
    if (!v)
        return -EIO;
    ret->tgid = (pid_t)strtol(v, NULL, 10);
    v = status_field(status, "Uid");
    if (v)
        ret->uid = (uint32_t)strtoul(v, NULL, 10);
    v = status_field(status, "Threads");
    ret->threaded = v && strtol(v, NULL, 10) > 1;

    (void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)r->tid);
    err = read_small_file(path, ret->comm, sizeof(ret->comm));
    if (err > 0 && ret->comm[err - 1] == '\n')
        ret->comm[err - 1] = '\0';

    (void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)r->tid);
    n = readlink(path, ret->exe, sizeof(ret->exe) - 1);
    ret->exe[n > 0 ? n : 0] = '\0';
    return 0;
}

static uint64_t parse_sigset(const char *status, const char *key)
{
    const char *v = status_field(status, key);

    return v ? strtoull(v, NULL, 16) : 0;
}

int remote_signal_pending(const struct remote *r)
{
    /* Signals whose default action is to ignore them do not interrupt a syscall unless caught:
     * kernel/signal.c sig_kernel_ignore(). Bit n-1 stands for signal n. */
    const uint64_t default_ignored = (1ull << (SIGCHLD - 1)) | (1ull << (SIGURG - 1)) |
                                     (1ull << (SIGWINCH - 1)) | (1ull << (SIGCONT - 1));
    char path[64], status[4096];
    uint64_t pending, blocked, ignored, caught, interrupting;
    int err;

    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)r->tid);
    err = read_small_file(path, status, sizeof(status));
    if (err < 0)
        return err == -ENOENT ? -ESRCH : err;
    /* Thread-directed signals always wake this thread. A process-wide signal may be taken by
     * any thread that does not block it, so only a single-threaded caller is sure to be the
     * one interrupted (spec rule 29); otherwise leave it to another thread. */
    pending = parse_sigset(status, "SigPnd");
    const char *threads = status_field(status, "Threads");
    if (threads && strtol(threads, NULL, 10) == 1)
        pending |= parse_sigset(status, "ShdPnd");
    blocked = parse_sigset(status, "SigBlk");
    ignored = parse_sigset(status, "SigIgn");
    caught = parse_sigset(status, "SigCgt");
    interrupting = pending & ~blocked & ~ignored & (caught | ~default_ignored);
    return interrupting != 0;
}

int remote_kill(const struct remote *r)
{
    return kernel_pidfd_send_signal(r->pidfd, SIGKILL, PIDFD_SIGNAL_THREAD_GROUP);
}
