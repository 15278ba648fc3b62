/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recvmmsg emulation: the kernel's do_recvmmsg() loop (net/socket.c) replayed in the broker on
 * its duplicate of the caller's socket, with the caller's user memory read and written through
 * remote.c in the kernel's order. See ../shared/spec/recvmmsg-compat.md, cited as "spec N". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emulate.h"
#include "internal/macros.h"
#include "kernel.h"

/* While a blocking emulation waits, it looks for signals aimed at the caller this often: the
 * filter uses WAIT_KILLABLE_RECV, so the kernel leaves that to us (spec 29). */
#define SIGNAL_POLL_MS 20
#define TRAP_PAGE 4096u

#ifndef SO_TIMESTAMP_OLD
#define SO_TIMESTAMP_OLD 29
#define SO_TIMESTAMPNS_OLD 35
#define SO_TIMESTAMPING_OLD 37
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

uint64_t emu_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int emu_scratch_init(struct emu_scratch *s)
{
    /* mmap: pages are only backed once a large datagram actually touches them. Two payload
     * buffers back to back: a peeked datagram and its second receipt (take_entry()). */
    s->payload =
        mmap(NULL, 2 * EMU_PAYLOAD_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->payload == MAP_FAILED) {
        s->payload = NULL;
        return -ENOMEM;
    }
    s->payload2 = s->payload + EMU_PAYLOAD_MAX;
    /* Native entries that must fail like a caller's entry (see recv_mirrored()). */
    s->trap = mmap(NULL, 2 * TRAP_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->trap == MAP_FAILED || mprotect(s->trap + TRAP_PAGE, TRAP_PAGE, PROT_NONE) < 0) {
        if (s->trap == MAP_FAILED)
            s->trap = NULL;
        emu_scratch_done(s);
        return -ENOMEM;
    }
    s->control = malloc(EMU_CONTROL_MAX);
    s->control2 = malloc(EMU_CONTROL_MAX);
    s->ucontrol = malloc(EMU_CONTROL_MAX);
    if (!s->control || !s->control2 || !s->ucontrol) {
        emu_scratch_done(s);
        return -ENOMEM;
    }
    return 0;
}

void emu_scratch_done(struct emu_scratch *s)
{
    if (s->payload)
        (void)munmap(s->payload, 2 * EMU_PAYLOAD_MAX); /* only fails for a bad range */
    if (s->trap)
        (void)munmap(s->trap, 2 * TRAP_PAGE); /* only fails for a bad range */
    free(s->control);
    free(s->control2);
    free(s->ucontrol);
    *s = (struct emu_scratch){0};
}

int emu_read_timeout(const struct remote *r, struct emu_call *c)
{
    int64_t sec, nsec;
    int err;

    c->timeout_err = 0;
    c->timeout_read = true;
    if (!c->timeout)
        return 0;
    if (c->sys == MMSG_SYS_RECVMMSG_TIME32 || c->sys == MMSG_SYS_SOCKETCALL) {
        struct old_timespec32 t;

        err = remote_read(r, c->timeout, &t, sizeof(t));
        sec = t.tv_sec;
        nsec = t.tv_nsec;
    } else {
        struct kernel_timespec64 t;

        err = remote_read(r, c->timeout, &t, sizeof(t));
        sec = t.tv_sec;
        /* kernel/time/time.c get_timespec64(): a compat caller's upper half is ignored. */
        nsec = c->compat ? (int64_t)(uint32_t)t.tv_nsec : t.tv_nsec;
    }
    if (err < 0) {
        c->timeout_err = err == -ESRCH ? -ESRCH : -EFAULT;
        return c->timeout_err;
    }
    c->timeout_ts.tv_sec = sec;
    c->timeout_ts.tv_nsec = nsec;
    /* fs/select.c poll_select_set_timeout(): timespec64_valid() */
    if (sec < 0 || nsec < 0 || nsec >= 1000000000)
        c->timeout_err = -EINVAL;
    return c->timeout_err;
}

/* One decoded user mmsghdr. */
struct entry {
    uint64_t hdr; /* user address of entry i */
    uint64_t name;
    int32_t namelen; /* clamped to SOCKADDR_STORAGE_SIZE_ */
    uint64_t control;
    uint64_t controllen;
    size_t n_iov; /* in s->riov */
    size_t total; /* bytes the iovecs describe, capped at MAX_RW_COUNT_ */
};

static size_t hdr_stride(const struct emu_call *c)
{
    return c->compat ? sizeof(struct compat_mmsghdr) : sizeof(struct native_mmsghdr);
}

/* The kernel's iovec import (lib/iov_iter.c __import_iovec / copy_compat_iovec_from_user):
 * elements are taken in order; the first negative length is EINVAL, the first unreadable
 * element EFAULT. */
static int read_iovecs(const struct remote *r, const struct emu_call *c, uint64_t addr,
                       size_t n_iov, struct iovec *riov, size_t *ret_total)
{
    size_t total = 0;

    for (size_t i = 0; i < n_iov; i++) {
        uint64_t base, len;
        int err;

        if (c->compat) {
            struct compat_iovec v;

            err = remote_read(r, addr + i * sizeof(v), &v, sizeof(v));
            if (err < 0)
                return err == -ESRCH ? err : -EFAULT;
            if ((int32_t)v.iov_len < 0)
                return -EINVAL;
            base = v.iov_base;
            len = v.iov_len;
        } else {
            struct native_iovec v;

            err = remote_read(r, addr + i * sizeof(v), &v, sizeof(v));
            if (err < 0)
                return err == -ESRCH ? err : -EFAULT;
            if ((int64_t)v.iov_len < 0)
                return -EINVAL;
            base = v.iov_base;
            len = v.iov_len;
        }
        if (len > MAX_RW_COUNT_ - total)
            len = MAX_RW_COUNT_ - total;
        total += len;
        riov[i] = (struct iovec){.iov_base = (void *)(uintptr_t)base, .iov_len = len};
    }
    *ret_total = total;
    return 0;
}

/* net/compat.c __get_compat_msghdr() / net/socket.c copy_msghdr_from_user(), for entry @i. */
static int read_entry(const struct remote *r, const struct emu_call *c, uint32_t i,
                      struct iovec *riov, struct entry *ret)
{
    struct entry e = {.hdr = c->mmsg + (uint64_t)i * hdr_stride(c)};
    uint64_t iov, iovlen;
    int err;

    if (c->compat) {
        struct compat_msghdr h;

        err = remote_read(r, e.hdr, &h, sizeof(h));
        if (err < 0)
            return err == -ESRCH ? err : -EFAULT;
        e.name = h.msg_name;
        e.namelen = h.msg_namelen;
        iov = h.msg_iov;
        iovlen = h.msg_iovlen;
        e.control = h.msg_control;
        e.controllen = h.msg_controllen;
    } else {
        struct native_msghdr h;

        err = remote_read(r, e.hdr, &h, sizeof(h));
        if (err < 0)
            return err == -ESRCH ? err : -EFAULT;
        e.name = h.msg_name;
        e.namelen = h.msg_namelen;
        iov = h.msg_iov;
        iovlen = h.msg_iovlen;
        e.control = h.msg_control;
        e.controllen = h.msg_controllen;
    }
    if (!e.name)
        e.namelen = 0;
    else if (e.namelen < 0)
        return -EINVAL;
    if (e.namelen > SOCKADDR_STORAGE_SIZE_)
        e.namelen = SOCKADDR_STORAGE_SIZE_;
    if (iovlen > UIO_MAXIOV_)
        return -EMSGSIZE;
    e.n_iov = (size_t)iovlen;
    err = read_iovecs(r, c, iov, e.n_iov, riov, &e.total);
    if (err < 0)
        return err;
    *ret = e;
    return 0;
}

/* Re-emitting control messages in the caller's layout: net/compat.c put_cmsg_compat() and
 * scm_detach_fds_compat(), net/core/scm.c put_cmsg() and scm_detach_fds() (spec 19-21). Each
 * message is written straight to the caller, header and payload only, so alignment padding keeps
 * the caller's bytes, as in the kernel. A faulting write is ignored there: the message is not
 * counted and the cursor does not move. */
struct cmsg_out {
    const struct remote *r;
    bool compat;
    bool cloexec;
    bool any;       /* the caller supplied a control buffer */
    uint64_t uaddr; /* the caller's msg_control */
    char *buf;      /* one message being built (s->ucontrol) */
    size_t cap;     /* the caller's msg_controllen, bounded by EMU_CONTROL_MAX */
    size_t used;
    uint32_t flags; /* MSG_CTRUNC to add */
};

static size_t cmsg_hdr_len(const struct cmsg_out *o)
{
    return o->compat ? sizeof(struct compat_cmsghdr) : sizeof(struct cmsghdr);
}

static size_t cmsg_align(const struct cmsg_out *o, size_t len)
{
    return o->compat ? COMPAT_CMSG_ALIGN(len) : CMSG_ALIGN(len);
}

static void cmsg_put_header(struct cmsg_out *o, size_t cmsg_len, int level, int type)
{
    if (o->compat) {
        struct compat_cmsghdr h = {(uint32_t)cmsg_len, level, type};
        memcpy(o->buf, &h, sizeof(h));
    } else {
        struct cmsghdr h = {.cmsg_len = cmsg_len, .cmsg_level = level, .cmsg_type = type};
        memcpy(o->buf, &h, sizeof(h));
    }
}

static void cmsg_put(struct cmsg_out *o, int level, int type, const void *data, size_t len)
{
    size_t rem = o->cap - o->used, hl = cmsg_hdr_len(o), cmlen, step;

    if (!o->any || rem < hl) {
        o->flags |= MSG_CTRUNC;
        return;
    }
    cmlen = hl + len;
    if (cmlen > rem) {
        o->flags |= MSG_CTRUNC; /* set before the copy, fault or not */
        cmlen = rem;
    }
    cmsg_put_header(o, cmlen, level, type);
    memcpy(o->buf + hl, data, cmlen - hl);
    if (remote_write(o->r, o->uaddr + o->used, o->buf, cmlen) < 0)
        return;
    step = hl + cmsg_align(o, len);
    o->used += step < rem ? step : rem;
}

/* SCM_RIGHTS: install as many fds as fit, in order, stopping at the first failure; drop the
 * rest (closing our copies) and flag MSG_CTRUNC, exactly like scm_detach_fds_compat(). The
 * kernel's receive_fd() stores the number before it installs the file, so a slot that cannot be
 * written installs nothing: the broker rewrites the slot's own bytes first to find out, and only
 * then installs the fd with ADDFD and stores its number. */
static void cmsg_put_fds(struct cmsg_out *o, const int *fds, size_t n_fds)
{
    size_t rem = o->cap - o->used, hl = cmsg_hdr_len(o), fdmax, i = 0, cmlen;

    fdmax = (o->any && rem > hl) ? (rem - hl) / sizeof(int) : 0;
    for (; i < n_fds && i < fdmax; i++) {
        uint64_t slot = o->uaddr + o->used + hl + i * sizeof(int);
        int old, nfd;

        if (remote_read(o->r, slot, &old, sizeof(old)) < 0 ||
            remote_write(o->r, slot, &old, sizeof(old)) < 0)
            break;
        nfd = kernel_notif_addfd(o->r->listener, o->r->id, fds[i], o->cloexec);
        if (nfd < 0)
            break;
        /* A fault now (the caller unmapped the slot meanwhile) leaves the fd installed, as a
         * fault writing the header does in the kernel. */
        (void)remote_write(o->r, slot, &nfd, sizeof(nfd));
    }
    if (i > 0) {
        cmlen = hl + i * sizeof(int);
        cmsg_put_header(o, cmlen, SOL_SOCKET, SCM_RIGHTS);
        if (remote_write(o->r, o->uaddr + o->used, o->buf, hl) >= 0) {
            cmlen = hl + cmsg_align(o, i * sizeof(int));
            o->used += cmlen < rem ? cmlen : rem;
        }
    }
    if (i < n_fds || (n_fds && fdmax == 0))
        o->flags |= MSG_CTRUNC;
}

/* Translate the native control messages of one received datagram (in s->control) into the
 * caller's layout. Our own copies of passed fds are always closed. */
static void cmsg_translate(struct cmsg_out *o, struct msghdr *nm)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(nm); cm; cm = CMSG_NXTHDR(nm, cm)) {
        const unsigned char *data = CMSG_DATA(cm);
        size_t len = cm->cmsg_len - CMSG_LEN(0);

        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            size_t n = len / sizeof(int);
            int fds[SCM_MAX_FD_];

            if (n > SCM_MAX_FD_)
                n = SCM_MAX_FD_;
            memcpy(fds, data, n * sizeof(int));
            cmsg_put_fds(o, fds, n);
            for (size_t i = 0; i < n; i++)
                (void)close(fds[i]); /* our copy; the caller got its own through ADDFD */
            continue;
        }
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PIDFD && len == sizeof(int)) {
            int pfd, nfd;

            /* net/core/scm.c scm_pidfd_recv(): needs room for the whole message. */
            memcpy(&pfd, data, sizeof(int));
            if (o->any && o->cap - o->used >= cmsg_hdr_len(o) + sizeof(int) &&
                (nfd = kernel_notif_addfd(o->r->listener, o->r->id, pfd, o->cloexec)) >= 0)
                cmsg_put(o, SOL_SOCKET, SCM_PIDFD, &nfd, sizeof(nfd));
            else
                o->flags |= MSG_CTRUNC;
            (void)close(pfd);
            continue;
        }
        if (o->compat && cm->cmsg_level == SOL_SOCKET) {
            /* net/compat.c put_cmsg_compat(): the three old time layouts shrink to 32 bits. */
            if (cm->cmsg_type == SO_TIMESTAMP_OLD && len == sizeof(struct timeval)) {
                struct timeval tv;
                struct old_timeval32 t32;

                memcpy(&tv, data, sizeof(tv));
                t32 = (struct old_timeval32){(int32_t)tv.tv_sec, (int32_t)tv.tv_usec};
                cmsg_put(o, SOL_SOCKET, cm->cmsg_type, &t32, sizeof(t32));
                continue;
            }
            if ((cm->cmsg_type == SO_TIMESTAMPNS_OLD || cm->cmsg_type == SO_TIMESTAMPING_OLD) &&
                len % sizeof(struct timespec) == 0 && len <= 3 * sizeof(struct timespec)) {
                struct old_timespec32 t32[3];
                size_t n = len / sizeof(struct timespec);

                for (size_t i = 0; i < n; i++) {
                    struct timespec ts;

                    memcpy(&ts, data + i * sizeof(ts), sizeof(ts));
                    t32[i] = (struct old_timespec32){(int32_t)ts.tv_sec, (int32_t)ts.tv_nsec};
                }
                cmsg_put(o, SOL_SOCKET, cm->cmsg_type, t32, n * sizeof(t32[0]));
                continue;
            }
        }
        cmsg_put(o, cm->cmsg_level, cm->cmsg_type, data, len);
    }
}

/* Close fds the kernel passed us for a datagram we could not deliver. */
static void close_passed_fds(struct msghdr *nm)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(nm); cm; cm = CMSG_NXTHDR(nm, cm)) {
        if (cm->cmsg_level != SOL_SOCKET ||
            (cm->cmsg_type != SCM_RIGHTS && cm->cmsg_type != SCM_PIDFD))
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            (void)close(fd);
        }
    }
}

/* The wait before entry i, when the socket has nothing: until readable, the cap deadline, the
 * SO_RCVTIMEO deadline, or a signal for the caller. Return: 0 readable (maybe); -EAGAIN timed
 * out; -ERESTARTSYS_ / -EINTR interrupted; -errno. */
static int wait_readable(const struct remote *r, int sockfd, uint32_t flags, uint64_t deadline_ns,
                         bool has_rcvtimeo)
{
    for (;;) {
        struct pollfd p = {.fd = sockfd,
                           .events = (flags & MSG_ERRQUEUE) ? POLLERR | POLLPRI : POLLIN};
        uint64_t now = emu_now_ns();
        int64_t slice_ms;
        int n, pending;

        if (deadline_ns && now >= deadline_ns)
            return -EAGAIN;
        slice_ms = SIGNAL_POLL_MS;
        if (deadline_ns && (int64_t)((deadline_ns - now + 999999) / 1000000) < slice_ms)
            slice_ms = (int64_t)((deadline_ns - now + 999999) / 1000000);
        n = poll(&p, 1, (int)slice_ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0) {
            /* A caller killed while we waited has no call left: receiving now would take a
             * datagram another reader of the socket should get. */
            if (remote_check(r) < 0)
                return -ENOENT;
            return 0;
        }
        pending = remote_signal_pending(r);
        if (pending < 0)
            return pending;
        /* include/net/sock.h sock_intr_errno(): EINTR when SO_RCVTIMEO is set, else
         * ERESTARTSYS, which the kernel turns into a restart or EINTR per SA_RESTART. */
        if (pending > 0)
            return has_rcvtimeo ? -EINTR : -ERESTARTSYS_;
        if (remote_check(r) < 0)
            return -ENOENT;
    }
}

/* Write the results of one received datagram (net/socket.c ____sys_recvmsg order: payload and
 * control, then name and namelen, msg_flags, msg_controllen; msg_len is the caller's). */
static int deliver(const struct remote *r, const struct emu_call *c, const struct entry *e,
                   struct emu_scratch *s, struct msghdr *nm, ssize_t n, struct cmsg_out *co)
{
    size_t copied = (size_t)n < e->total ? (size_t)n : e->total;
    uint32_t uflags;
    int err;

    if (copied > EMU_PAYLOAD_MAX)
        copied = EMU_PAYLOAD_MAX;
    err = remote_writev(r, s->payload, copied, s->riov, e->n_iov);
    if (err < 0)
        goto fault;
    cmsg_translate(co, nm);
    if (e->name) {
        /* net/socket.c move_addr_to_user(): the caller's namelen is read again here. */
        int32_t ulen;
        uint64_t ulen_addr = e->hdr + offsetof(struct compat_msghdr, msg_namelen);

        if (!c->compat)
            ulen_addr = e->hdr + offsetof(struct native_msghdr, msg_namelen);
        err = remote_read(r, ulen_addr, &ulen, sizeof(ulen));
        if (err < 0)
            return -EFAULT;
        /* Linux 6.18 move_addr_to_user(): clamp, store the full length (if the caller's was not
         * negative), then copy the address. */
        if (ulen > (int32_t)nm->msg_namelen)
            ulen = (int32_t)nm->msg_namelen;
        if (ulen >= 0) {
            int32_t klen = (int32_t)nm->msg_namelen;

            err = remote_write(r, ulen_addr, &klen, sizeof(klen));
            if (err < 0)
                return -EFAULT;
        }
        if (ulen < 0)
            return -EINVAL;
        if (ulen > 0) {
            err = remote_write(r, e->name, nm->msg_name, (size_t)ulen);
            if (err < 0)
                return -EFAULT;
        }
    }
    uflags = ((uint32_t)nm->msg_flags & ~(uint32_t)MSG_CMSG_CLOEXEC) | co->flags |
             (c->flags & MSG_CMSG_CLOEXEC);
    if (c->compat) {
        uint32_t cl = (uint32_t)co->used, len = (uint32_t)n;

        err = remote_write(r, e->hdr + offsetof(struct compat_msghdr, msg_flags), &uflags, 4);
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct compat_msghdr, msg_controllen), &cl, 4);
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct compat_mmsghdr, msg_len), &len, 4);
    } else {
        uint64_t cl = co->used;
        uint32_t len = (uint32_t)n;

        err = remote_write(r, e->hdr + offsetof(struct native_msghdr, msg_flags), &uflags, 4);
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct native_msghdr, msg_controllen), &cl, 8);
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct native_mmsghdr, msg_len), &len, 4);
    }
    return err < 0 ? -EFAULT : 0;
fault:
    close_passed_fds(nm);
    return err == -ESRCH ? err : -EFAULT;
}

static int write_timeout(const struct remote *r, const struct emu_call *c, uint64_t rem_ns)
{
    int64_t sec = (int64_t)(rem_ns / 1000000000u), nsec = (int64_t)(rem_ns % 1000000000u);

    /* kernel/time/time.c put_old_timespec32(): seconds truncated to 32 bits. */
    if (c->sys == MMSG_SYS_RECVMMSG_TIME32 || c->sys == MMSG_SYS_SOCKETCALL) {
        struct old_timespec32 t = {(int32_t)sec, (int32_t)nsec};
        return remote_write(r, c->timeout, &t, sizeof(t));
    }
    struct kernel_timespec64 t = {sec, nsec};
    return remote_write(r, c->timeout, &t, sizeof(t));
}

/* Receive one datagram for entry k when entry k+1 is known to fail decoding with @next_err.
 *
 * The kernel would receive entry k, fail on entry k+1, return k+1 and store the error as the
 * socket's pending error (spec 14), which user space cannot set. So the broker asks its own
 * kernel to do exactly that on the shared socket: a native two-entry recvmmsg whose first entry is
 * the broker's buffers and whose second fails the same way (an unreadable header for EFAULT, a
 * negative namelen for EINVAL, iovlen 1025 for EMSGSIZE). @rem, if not NULL, is the caller's
 * remaining timeout: when it runs out after entry k, the kernel stops before entry k+1 as it
 * would have for the caller. Return: bytes of entry k's datagram (@nm updated like recvmsg());
 * -errno (no datagram was taken, nothing was stored). */
static ssize_t recv_mirrored(int sockfd, struct msghdr *nm, int next_err, int nflags,
                             const struct timespec *rem, struct emu_scratch *s)
{
    char *page_end = s->trap + TRAP_PAGE;
    struct mmsghdr *v;
    struct timespec t;
    int n;

    v = (struct mmsghdr *)(page_end - (next_err == -EFAULT ? 1 : 2) * sizeof(*v));
    v[0] = (struct mmsghdr){.msg_hdr = *nm};
    if (next_err != -EFAULT) {
        v[1] = (struct mmsghdr){0};
        if (next_err == -EMSGSIZE) {
            v[1].msg_hdr.msg_iovlen = UIO_MAXIOV_ + 1;
        } else {
            /* net/socket.c copy_msghdr_from_user(): a named message with namelen < 0. */
            v[1].msg_hdr.msg_name = v;
            v[1].msg_hdr.msg_namelen = (socklen_t)-1;
        }
    }
    if (rem)
        t = *rem;
    n = recvmmsg(sockfd, v, 2, nflags, rem ? &t : NULL);
    if (n < 0)
        return -errno;
    *nm = v[0].msg_hdr;
    return (ssize_t)v[0].msg_len;
}

/* Emulations that peek and then take a datagram (take_entry()) hold their socket's lock across
 * both, so two broker threads serving the same socket never peek the same datagram. Striped by
 * inode: unrelated sockets rarely share a stripe, and a shared one only serialises briefly. */
#define SOCK_LOCKS 64
static pthread_mutex_t sock_locks[SOCK_LOCKS] = {[0 ... SOCK_LOCKS - 1] =
                                                     PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t *sock_lock(const struct stat *st)
{
    return &sock_locks[(st->st_ino ^ st->st_dev) % SOCK_LOCKS];
}

/* The fields the kernel derives from one datagram, for comparing a peeked one with a taken one.
 * Control messages are left out: fd numbers differ between two receipts of the same message. */
static bool same_datagram(const struct msghdr *a, ssize_t na, const struct msghdr *b, ssize_t nb)
{
    size_t len = (size_t)na < a->msg_iov[0].iov_len ? (size_t)na : a->msg_iov[0].iov_len;

    return na == nb && a->msg_namelen == b->msg_namelen &&
           memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0 &&
           memcmp(a->msg_iov[0].iov_base, b->msg_iov[0].iov_base, len) == 0 &&
           ((a->msg_flags ^ b->msg_flags) & ~MSG_CTRUNC) == 0;
}

/* The caller's remaining timeout as a timespec in @buf, or NULL when it has none. */
static const struct timespec *remaining(const struct emu_call *c, uint64_t end_ns,
                                        struct timespec *buf)
{
    uint64_t now = emu_now_ns(), left = now < end_ns ? end_ns - now : 0;

    if (!c->timeout)
        return NULL;
    *buf = (struct timespec){(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
    return buf;
}

/* Take the datagram entry @e was just given from a peek (@pm, @pn), now that writing it to the
 * caller returned @deliver_err. The take leaves on the socket what the kernel would have: the
 * delivery's fault, else the next entry's decoding error (@next_err), through recv_mirrored().
 * If a reader outside the broker took the peeked datagram meanwhile, the one taken instead is
 * delivered; if none is left, the entry is not counted. Return: @deliver_err, or the result of
 * delivering a different datagram; 1 when nothing was taken. Called with the socket's lock. */
static int take_entry(const struct remote *r, const struct emu_call *c, const struct entry *e,
                      struct emu_scratch *s, int sockfd, int nflags, int deliver_err, int next_err,
                      const struct timespec *rem, const struct msghdr *pm, ssize_t pn,
                      struct cmsg_out *co)
{
    struct sockaddr_storage addr;
    struct msghdr tm = {
        .msg_name = &addr,
        .msg_namelen = sizeof(addr),
        .msg_iov = &(struct iovec){s->payload2, pm->msg_iov[0].iov_len},
        .msg_iovlen = 1,
        .msg_control = pm->msg_control ? s->control2 : NULL,
        .msg_controllen = pm->msg_control ? pm->msg_controllen : 0,
    };
    int take_err = deliver_err < 0 ? deliver_err : next_err, err = deliver_err;
    ssize_t tn;

    if (deliver_err == -ESRCH)
        return deliver_err;
    if (take_err < 0) {
        tn = recv_mirrored(sockfd, &tm, take_err, nflags, rem, s);
    } else {
        tn = recvmsg(sockfd, &tm, nflags);
        if (tn < 0)
            tn = -errno;
    }
    if (tn < 0)
        return 1;
    if (deliver_err >= 0 && !same_datagram(pm, pn, &tm, tn)) {
        struct cmsg_out again = *co;

        again.used = 0;
        again.flags = 0;
        err = deliver(r, c, e, s, &tm, tn, &again);
        *co = again;
    } else {
        close_passed_fds(&tm);
    }
    return err;
}

int64_t emu_recvmmsg(const struct remote *r, const struct emu_call *c, int sockfd,
                     const struct emu_caps *caps, uint64_t start_ns, bool may_wait,
                     struct emu_scratch *s)
{
    uint32_t flags = c->flags & ~caps->clear_flags, vlen = c->vlen;
    uint64_t end_ns = 0, cap_ns = 0, rem_ns = 0;
    struct timeval rcvtimeo = {0};
    socklen_t optlen = sizeof(rcvtimeo);
    bool nonblock, has_rcvtimeo, peek_ok;
    int64_t datagrams = 0;
    int peek_off = -1;
    struct stat st;
    int err = 0, fl;

    /* net/socket.c __sys_recvmmsg(): the timeout is checked before the fd. */
    if (c->timeout_err)
        return c->timeout_err;
    if (sockfd < 0)
        return sockfd;
    if (fstat(sockfd, &st) < 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    if (caps->vlen_cap && vlen > caps->vlen_cap)
        vlen = caps->vlen_cap;
    if (c->timeout)
        end_ns = start_ns + (uint64_t)c->timeout_ts.tv_sec * 1000000000u +
                 (uint64_t)c->timeout_ts.tv_nsec;
    if (caps->timeout_cap_ms >= 0)
        cap_ns = start_ns + (uint64_t)caps->timeout_cap_ms * 1000000u;

    /* O_NONBLOCK and SO_RCVTIMEO live on the shared open file / socket: read them from ours. */
    fl = fcntl(sockfd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (getsockopt(sockfd, SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, &optlen) < 0)
        return -errno;
    has_rcvtimeo = rcvtimeo.tv_sec || rcvtimeo.tv_usec;
    optlen = sizeof(peek_off);
    peek_ok = getsockopt(sockfd, SOL_SOCKET, SO_PEEK_OFF, &peek_off, &optlen) < 0 || peek_off < 0;
    nonblock = (flags & MSG_DONTWAIT) || (fl & O_NONBLOCK);
    if (flags & MSG_ERRQUEUE) {
        int family = 0;
        socklen_t flen = sizeof(family);

        /* net/ipv4/ip_sockglue.c ip_recv_error(), net/ipv6/datagram.c ipv6_recv_error(): the
         * error queue is read without ever waiting. */
        if (getsockopt(sockfd, SOL_SOCKET, SO_DOMAIN, &family, &flen) == 0 &&
            (family == AF_INET || family == AF_INET6))
            nonblock = true;
    }
    /* Without a context of its own (may_wait false) the call may only wait before entry 0,
     * where giving up takes nothing from the socket: after that it must never block. */
    if (!may_wait && !nonblock && !(flags & MSG_WAITFORONE) && vlen > 1)
        return -EMU_WOULD_WAIT;

    /* A job may have waited in the queue: a caller that died meanwhile must not consume the
     * pending error or a datagram. */
    if (may_wait && remote_check(r) < 0)
        return -ENOENT;

    /* do_recvmmsg() fetches and clears a pending socket error before the first entry, even
     * for vlen 0: a native call with vlen 0 on our duplicate (same open file) does exactly
     * that. */
    if (recvmmsg(sockfd, NULL, 0, (int)(flags & ~MSG_WAITFORONE), NULL) < 0)
        return -errno;

    while ((uint32_t)datagrams < vlen) {
        struct sockaddr_storage addr;
        struct entry e;
        struct msghdr nm;
        struct cmsg_out co;
        uint64_t entry_start = emu_now_ns();
        size_t ncontrol = 0;
        int next_err, nflags;
        struct timespec rem;
        struct iovec niov;
        bool use_peek;
        ssize_t n;

        err = read_entry(r, c, (uint32_t)datagrams, s->riov, &e);
        if (err < 0)
            break;
        co = (struct cmsg_out){
            .r = r,
            .compat = c->compat,
            .cloexec = flags & MSG_CMSG_CLOEXEC,
            .any = e.control != 0,
            .uaddr = e.control,
            .buf = s->ucontrol,
            .cap = e.controllen < EMU_CONTROL_MAX ? (size_t)e.controllen : EMU_CONTROL_MAX,
        };
        /* A native buffer that cannot truncate what the caller's could hold (spec 24). */
        if (e.control && e.controllen) {
            ncontrol = 2 * co.cap + 64;
            if (ncontrol > EMU_CONTROL_MAX)
                ncontrol = EMU_CONTROL_MAX;
        }
        /* Will the entry after this one fail to decode? Reading it early is invisible to the
         * caller (our reads never fault it), and it is read again, lazily, if it is reached. */
        next_err = 0;
        if ((uint32_t)datagrams + 1 < vlen) {
            struct entry next;

            next_err = read_entry(r, c, (uint32_t)datagrams + 1, s->riov_probe, &next);
            if (next_err == -ESRCH) {
                err = next_err;
                break;
            }
        }
        /* Entries after the first are peeked, written to the caller and only then taken: a
         * fault writing them must leave EFAULT on the socket (spec 14-15), which the take can
         * do (recv_mirrored()) only while the datagram is still queued. Not with the caller's
         * own MSG_PEEK (nothing is taken anyway) nor with SO_PEEK_OFF (peeking moves it). */
        use_peek = datagrams > 0 && !(flags & MSG_PEEK) && peek_ok;
        if (use_peek)
            pthread_mutex_lock(sock_lock(&st));
        /* Outlives the receive loop: take_entry() compares the peeked payload through it. */
        niov = (struct iovec){s->payload, e.total < EMU_PAYLOAD_MAX ? e.total : EMU_PAYLOAD_MAX};
        for (;;) {
            uint64_t deadline = cap_ns;

            nm = (struct msghdr){
                .msg_name = &addr,
                .msg_namelen = sizeof(addr),
                .msg_iov = &niov,
                .msg_iovlen = 1,
                .msg_control = ncontrol ? s->control : NULL,
                .msg_controllen = ncontrol,
            };
            nflags = (int)((flags & ~MSG_WAITFORONE) | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (use_peek) {
                n = recvmsg(sockfd, &nm, nflags | MSG_PEEK);
            } else if (next_err < 0) {
                n = recv_mirrored(sockfd, &nm, next_err, nflags, remaining(c, end_ns, &rem), s);
                if (n < 0)
                    errno = (int)-n;
            } else {
                n = recvmsg(sockfd, &nm, nflags);
            }
            if (n >= 0)
                break;
            err = -errno;
            if (err != -EAGAIN || nonblock)
                break;
            if (!may_wait) {
                /* Only reachable at entry 0 (see above): nothing was taken yet. */
                err = -EMU_WOULD_WAIT;
                break;
            }
            if (has_rcvtimeo) {
                uint64_t t = entry_start + (uint64_t)rcvtimeo.tv_sec * 1000000000u +
                             (uint64_t)rcvtimeo.tv_usec * 1000u;
                if (!deadline || t < deadline)
                    deadline = t;
            }
            if (use_peek)
                pthread_mutex_unlock(sock_lock(&st));
            err = wait_readable(r, sockfd, flags, deadline, has_rcvtimeo);
            if (use_peek)
                pthread_mutex_lock(sock_lock(&st));
            if (err < 0)
                break;
        }
        if (n < 0) {
            if (use_peek)
                pthread_mutex_unlock(sock_lock(&st));
            break;
        }
        err = deliver(r, c, &e, s, &nm, n, &co);
        if (use_peek) {
            err = take_entry(r, c, &e, s, sockfd, nflags, err, next_err, remaining(c, end_ns, &rem),
                             &nm, n, &co);
            pthread_mutex_unlock(sock_lock(&st));
            if (err == 1)
                break; /* the datagram was gone: this entry does not count */
        } else if (err < 0 && err != -ESRCH && datagrams > 0 && (flags & MSG_PEEK)) {
            /* The caller's own peek: nothing is taken, but the fault is stored (spec 14). */
            struct msghdr pm = nm;

            pm.msg_control = ncontrol ? s->control : NULL;
            pm.msg_controllen = ncontrol;
            if (recv_mirrored(sockfd, &pm, err, nflags, NULL, s) >= 0)
                close_passed_fds(&pm);
        }
        if (err < 0)
            break;
        datagrams++;

        /* do_recvmmsg(): after each entry. */
        if (flags & MSG_WAITFORONE)
            nonblock = true;
        if (c->timeout) {
            uint64_t now = emu_now_ns();

            rem_ns = now < end_ns ? end_ns - now : 0;
            if (rem_ns == 0)
                break;
        }
        if (nm.msg_flags & MSG_OOB)
            break;
        /* The native call already met the next entry's error and stored it on the socket. */
        if (next_err < 0)
            break;
    }

    if (datagrams == 0)
        return err;
    /* An error after entry 0 is not returned (spec 14). A decoding error of a later entry was
     * stored on the socket by recv_mirrored(); see docs/emulation.md for the rest. */
    if (c->timeout) {
        err = write_timeout(r, c, rem_ns);
        if (err < 0)
            return -EFAULT;
    }
    return datagrams;
}
