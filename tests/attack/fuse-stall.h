/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A FUSE file whose pages never arrive until the test says so: the stall the security review
 * used (issue 6), and one that a read through /proc/PID/mem cannot escape (a userfaultfd page
 * fails such a read at once). Raw /dev/fuse protocol, no libfuse: one regular file "f" of one
 * page; every READ is held until fstall_release(), then answered with zeros. Header-only,
 * shared by test binaries and attacker programs. Needs root (mount). */
#ifndef MMSG_TEST_FUSE_STALL_H
#define MMSG_TEST_FUSE_STALL_H

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FSTALL_FILE_SIZE 4096
#define FSTALL_FILE_INO 2

struct fstall {
    int fd;          /* /dev/fuse */
    int stalled_efd; /* readable once a READ is being held */
    int release_efd; /* written by fstall_release() */
    pthread_t thread;
    char dir[64];
    char file[80];
};

static inline void fstall_attr(uint64_t ino, struct fuse_attr *a)
{
    *a = (struct fuse_attr){.ino = ino, .nlink = 1, .blksize = 4096};
    if (ino == FUSE_ROOT_ID) {
        a->mode = S_IFDIR | 0755;
    } else {
        a->mode = S_IFREG | 0644;
        a->size = FSTALL_FILE_SIZE;
        a->blocks = FSTALL_FILE_SIZE / 512;
    }
}

static inline void fstall_reply(int fd, uint64_t unique, int error, const void *arg, size_t len)
{
    struct fuse_out_header h = {
        .len = (uint32_t)(sizeof(h) + len), .error = error, .unique = unique};
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)(uintptr_t)arg, len}};

    /* A failed reply (the request was interrupted, the mount is gone) needs nothing more. */
    if (writev(fd, iov, len ? 2 : 1) < 0)
        return;
}

/* One request. Return false for a READ that has to wait for the release. */
static inline bool fstall_handle(struct fstall *f, const struct fuse_in_header *in, const void *arg,
                                 bool released)
{
    switch (in->opcode) {
    case FUSE_INIT: {
        const struct fuse_init_in *ii = arg;
        struct fuse_init_out o = {
            .major = FUSE_KERNEL_VERSION,
            .minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION,
            .max_readahead = ii->max_readahead,
            .max_background = 16,
            .congestion_threshold = 12,
            .max_write = 4096,
            .time_gran = 1};
        fstall_reply(f->fd, in->unique, 0, &o, sizeof(o));
        return true;
    }
    case FUSE_LOOKUP: {
        struct fuse_entry_out o = {
            .nodeid = FSTALL_FILE_INO, .generation = 1, .entry_valid = 3600, .attr_valid = 3600};

        if (in->nodeid != FUSE_ROOT_ID || strcmp(arg, "f") != 0) {
            fstall_reply(f->fd, in->unique, -ENOENT, NULL, 0);
            return true;
        }
        fstall_attr(FSTALL_FILE_INO, &o.attr);
        fstall_reply(f->fd, in->unique, 0, &o, sizeof(o));
        return true;
    }
    case FUSE_GETATTR: {
        struct fuse_attr_out o = {.attr_valid = 3600};

        fstall_attr(in->nodeid, &o.attr);
        fstall_reply(f->fd, in->unique, 0, &o, sizeof(o));
        return true;
    }
    case FUSE_OPEN:
    case FUSE_OPENDIR: {
        struct fuse_open_out o = {.fh = 1};

        fstall_reply(f->fd, in->unique, 0, &o, sizeof(o));
        return true;
    }
    case FUSE_READ:
        if (!released)
            return false;
        {
            static const char zeros[FSTALL_FILE_SIZE];
            const struct fuse_read_in *ri = arg;
            size_t n = ri->offset >= FSTALL_FILE_SIZE ? 0 : FSTALL_FILE_SIZE - ri->offset;

            if (n > ri->size)
                n = ri->size;
            fstall_reply(f->fd, in->unique, 0, zeros, n);
        }
        return true;
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
        return true; /* no reply */
    case FUSE_FLUSH:
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
        fstall_reply(f->fd, in->unique, 0, NULL, 0);
        return true;
    default:
        fstall_reply(f->fd, in->unique, -ENOSYS, NULL, 0);
        return true;
    }
}

#define FSTALL_HELD_MAX 8

static inline void *fstall_main(void *arg)
{
    struct fstall *f = arg;
    static char buf[FUSE_MIN_READ_BUFFER + 65536];
    /* READ requests (header and fuse_read_in) held until the release. */
    static char held[FSTALL_HELD_MAX][sizeof(struct fuse_in_header) + sizeof(struct fuse_read_in)];
    unsigned n_held = 0;
    bool released = false;

    for (;;) {
        struct pollfd p[2] = {{.fd = f->fd, .events = POLLIN},
                              {.fd = f->release_efd, .events = POLLIN}};
        ssize_t n;

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return NULL;
        if (!released && (p[1].revents & POLLIN)) {
            uint64_t v;

            released = read(f->release_efd, &v, sizeof(v)) == sizeof(v);
            for (unsigned i = 0; released && i < n_held; i++)
                (void)fstall_handle(f, (struct fuse_in_header *)held[i],
                                    held[i] + sizeof(struct fuse_in_header), true);
        }
        if (!(p[0].revents & (POLLIN | POLLERR | POLLHUP)))
            continue;
        n = read(f->fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == ENOENT || errno == EAGAIN))
            continue;
        if (n < (ssize_t)sizeof(struct fuse_in_header))
            return NULL; /* ENODEV: unmounted */
        if (fstall_handle(f, (struct fuse_in_header *)buf, buf + sizeof(struct fuse_in_header),
                          released))
            continue;
        if (n_held < FSTALL_HELD_MAX && (size_t)n >= sizeof(held[0])) {
            uint64_t one = 1;

            memcpy(held[n_held++], buf, sizeof(held[0]));
            /* Cannot fail for an eventfd below its maximum. */
            if (write(f->stalled_efd, &one, sizeof(one)) != sizeof(one))
                return NULL;
        }
    }
}

/* Mount the file system on a new directory under /tmp and serve it from a thread. The caller
 * should be in a mount namespace of its own. Return 0 or -errno. */
static inline int fstall_start(struct fstall *f)
{
    char opts[128];

    *f = (struct fstall){.fd = -1, .stalled_efd = -1, .release_efd = -1};
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/mmsg-fuse-XXXXXX");
    if (!mkdtemp(f->dir))
        return -errno;
    (void)snprintf(f->file, sizeof(f->file), "%s/f", f->dir);
    f->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    f->stalled_efd = eventfd(0, EFD_CLOEXEC);
    f->release_efd = eventfd(0, EFD_CLOEXEC);
    if (f->fd < 0 || f->stalled_efd < 0 || f->release_efd < 0)
        return -errno;
    (void)snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other",
                   f->fd);
    if (mount("mmsg-stall", f->dir, "fuse", MS_NOSUID | MS_NODEV, opts) < 0)
        return -errno;
    return -pthread_create(&f->thread, NULL, fstall_main, f);
}

/* Wait up to @timeout_ms for a held READ. */
static inline bool fstall_wait_stalled(struct fstall *f, int timeout_ms)
{
    struct pollfd p = {.fd = f->stalled_efd, .events = POLLIN};

    return poll(&p, 1, timeout_ms) == 1;
}

static inline void fstall_release(struct fstall *f)
{
    uint64_t one = 1;

    if (write(f->release_efd, &one, sizeof(one)) != sizeof(one))
        return; /* cannot happen for an eventfd below its maximum */
}

#endif
