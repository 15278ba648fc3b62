/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Control messages in the caller's layout: net/compat.c put_cmsg_compat() and
 * scm_detach_fds_compat(), net/core/scm.c put_cmsg() and scm_detach_fds(). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cmsg.h"
#include "compat32.h"
#include "kernel.h"

#ifndef SO_TIMESTAMP_OLD
#define SO_TIMESTAMP_OLD 29
#define SO_TIMESTAMPNS_OLD 35
#define SO_TIMESTAMPING_OLD 37
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/* Re-emitting control messages in the caller's layout: net/compat.c put_cmsg_compat() and
 * scm_detach_fds_compat(), net/core/scm.c put_cmsg() and scm_detach_fds() (docs/recvmmsg-compat.md
 * rules 19-21). Each message is written to the caller, header and payload only, so alignment
 * padding keeps the caller's bytes, as in the kernel. A faulting write is ignored there: the
 * message is not counted and the cursor does not move. Messages that follow each other with no
 * padding between them and that the caller could write are written together, with one write
 * (a timestamp after a timestamp, say); one that would fault is written alone, in order. */

static size_t cmsg_hdr_len(const struct cmsg_out *o)
{
    return o->compat ? sizeof(struct compat_cmsghdr) : sizeof(struct cmsghdr);
}

static size_t cmsg_align(const struct cmsg_out *o, size_t len)
{
    return o->compat ? COMPAT_CMSG_ALIGN(len) : CMSG_ALIGN(len);
}

static void cmsg_put_header(struct cmsg_out *o, char *dst, size_t cmsg_len, int level, int type)
{
    if (o->compat) {
        struct compat_cmsghdr h = {(uint32_t)cmsg_len, level, type};
        memcpy(dst, &h, sizeof(h));
    } else {
        struct cmsghdr h = {.cmsg_len = cmsg_len, .cmsg_level = level, .cmsg_type = type};
        memcpy(dst, &h, sizeof(h));
    }
}

/* Write the messages built and not yet written. A fault now (the caller unmapped its buffer
 * since they were found writable) is ignored like any other. */
static void cmsg_flush(struct cmsg_out *o)
{
    if (o->pend_end > o->pend)
        (void)remote_write(o->r, o->uaddr + o->pend, o->buf + o->pend, o->pend_end - o->pend);
    o->pend = o->pend_end = 0;
}

/* Write @len bytes built at o->buf + o->used: later, with what is pending, when the caller can
 * write them and they follow it; else now, alone. Return: 0; -EFAULT (nothing counts). */
static int cmsg_emit(struct cmsg_out *o, size_t len)
{
    if (!remote_writable(o->r, o->uaddr + o->used, len)) {
        cmsg_flush(o);
        return remote_write(o->r, o->uaddr + o->used, o->buf + o->used, len);
    }
    if (o->pend_end != o->used)
        cmsg_flush(o);
    if (o->pend_end == o->pend)
        o->pend = o->pend_end = o->used;
    o->pend_end += len;
    return 0;
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
    cmsg_put_header(o, o->buf + o->used, cmlen, level, type);
    memcpy(o->buf + o->used + hl, data, cmlen - hl);
    if (cmsg_emit(o, cmlen) < 0)
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

    cmsg_flush(o); /* the messages before these come first, as in the kernel */
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
        cmsg_put_header(o, o->buf + o->used, cmlen, SOL_SOCKET, SCM_RIGHTS);
        if (remote_write(o->r, o->uaddr + o->used, o->buf + o->used, hl) >= 0) {
            cmlen = hl + cmsg_align(o, i * sizeof(int));
            o->used += cmlen < rem ? cmlen : rem;
        }
    }
    if (i < n_fds || (n_fds && fdmax == 0))
        o->flags |= MSG_CTRUNC;
}

void cmsg_translate(struct cmsg_out *o, struct msghdr *nm)
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
            size_t need = cmsg_hdr_len(o) + sizeof(int);
            int pfd, nfd = -EFAULT;

            /* net/core/scm.c scm_pidfd_recv(): it needs room for the whole message; its fd is
             * O_CLOEXEC whatever the flags (pidfd_prepare()), and installed only once
             * put_cmsg() has written the message. Where that faults, nothing is installed and
             * the bytes before the fault are written (the number, last, is past it); where
             * pidfd_prepare() fails, its error is written as the number. */
            memcpy(&pfd, data, sizeof(int));
            if (o->any && o->cap - o->used >= need) {
                if (pfd < 0) /* our own receipt wrote pidfd_prepare()'s error: pass it on */
                    nfd = pfd;
                else if (remote_writable(o->r, o->uaddr + o->used, need))
                    nfd = kernel_notif_addfd(o->r->listener, o->r->id, pfd, true);
                cmsg_put(o, SOL_SOCKET, SCM_PIDFD, &nfd, sizeof(nfd));
            } else {
                o->flags |= MSG_CTRUNC;
            }
            if (pfd >= 0)
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
    cmsg_flush(o);
}

void cmsg_close_passed_fds(struct msghdr *nm)
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
