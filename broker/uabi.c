/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller's side of the recvmmsg ABI, native and i386: reading its timeout, mmsghdr entries
 * and iovecs in the kernel's order, and writing one datagram's results back in the order of
 * net/socket.c ____sys_recvmsg(). Every access goes through remote.c. */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cmsg.h"
#include "kfeatures.h"
#include "uabi.h"

int uabi_read_timeout(struct remote *r, struct emu_call *c)
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
        c->timeout_err = -EFAULT;
        return c->timeout_err;
    }
    c->timeout_ts.tv_sec = sec;
    c->timeout_ts.tv_nsec = nsec;
    /* fs/select.c poll_select_set_timeout(): timespec64_valid() */
    if (sec < 0 || nsec < 0 || nsec >= 1000000000)
        c->timeout_err = -EINVAL;
    return c->timeout_err;
}

static size_t hdr_stride(const struct emu_call *c)
{
    return c->compat ? sizeof(struct compat_mmsghdr) : sizeof(struct native_mmsghdr);
}

/* One iovec element, decoded: 0; -EFAULT; -EINVAL for a negative length. */
static int decode_iovec(const struct emu_call *c, const void *raw, uint64_t *base, uint64_t *len)
{
    if (c->compat) {
        struct compat_iovec v;

        memcpy(&v, raw, sizeof(v));
        if ((int32_t)v.iov_len < 0)
            return -EINVAL;
        *base = v.iov_base;
        *len = v.iov_len;
    } else {
        struct native_iovec v;

        memcpy(&v, raw, sizeof(v));
        if ((int64_t)v.iov_len < 0)
            return -EINVAL;
        *base = v.iov_base;
        *len = v.iov_len;
    }
    return 0;
}

/* The kernel's iovec import (lib/iov_iter.c iovec_from_user(), __import_iovec()): the native
 * array is copied whole (a fault anywhere is EFAULT), then the first negative length is EINVAL;
 * the compat array is read element by element (copy_compat_iovec_from_user()), so a negative
 * length before an unreadable element is EINVAL. One read of the whole array either way; only
 * a faulting compat array is walked element by element to find which comes first. */
static int read_iovecs(struct remote *r, const struct emu_call *c, uint64_t addr, size_t n_iov,
                       struct iovec *riov, char *raw, size_t *ret_total)
{
    size_t elem = c->compat ? sizeof(struct compat_iovec) : sizeof(struct native_iovec);
    size_t total = 0;
    bool whole;

    whole = remote_read(r, addr, raw, n_iov * elem) >= 0;
    if (!whole && !c->compat)
        return -EFAULT;
    for (size_t i = 0; i < n_iov; i++) {
        uint64_t base, len;
        int err;

        if (!whole && remote_read(r, addr + i * elem, raw + i * elem, elem) < 0)
            return -EFAULT;
        err = decode_iovec(c, raw + i * elem, &base, &len);
        if (err < 0)
            return err;
        if (len > MAX_RW_COUNT_ - total)
            len = MAX_RW_COUNT_ - total;
        total += len;
        riov[i] = (struct iovec){.iov_base = (void *)(uintptr_t)base, .iov_len = len};
    }
    *ret_total = total;
    return 0;
}

/* net/compat.c __get_compat_msghdr() / net/socket.c copy_msghdr_from_user(), for entry @i. */
int uabi_read_entry(struct remote *r, const struct emu_call *c, uint32_t i, struct iovec *riov,
                    char *raw, struct uabi_entry *ret)
{
    struct uabi_entry e = {.hdr = c->mmsg + (uint64_t)i * hdr_stride(c)};
    uint64_t iov, iovlen;
    int err;

    if (c->compat) {
        struct compat_msghdr h;

        err = remote_read(r, e.hdr, &h, sizeof(h));
        if (err < 0)
            return -EFAULT;
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
            return -EFAULT;
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
    err = read_iovecs(r, c, iov, e.n_iov, riov, raw, &e.total);
    if (err < 0)
        return err;
    *ret = e;
    return 0;
}

/* Whether [@a, @a + @alen) and [@b, @b + @blen) share a byte. */
static bool overlaps(uint64_t a, size_t alen, uint64_t b, size_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

bool uabi_entry_writable(struct remote *r, const struct emu_call *c, const struct uabi_entry *e,
                         const struct iovec *riov)
{
    uint64_t controllen = e->controllen < EMU_CONTROL_MAX ? e->controllen : EMU_CONTROL_MAX;
    /* A payload or control message written over msg_namelen can make it negative, and
     * move_addr_to_user() then fails with EINVAL, a failure that must be left on the socket
     * like a fault (rule 14): such an entry keeps the peek. Without a name nothing reads it. */
    uint64_t nl = e->hdr + (c->compat ? offsetof(struct compat_msghdr, msg_namelen)
                                      : offsetof(struct native_msghdr, msg_namelen));
    size_t nl_len = e->name ? 4 : 0;

    if (e->n_iov > UABI_WRITABLE_MAX_IOV || !remote_writable(r, e->hdr, hdr_stride(c)))
        return false;
    for (size_t i = 0; i < e->n_iov; i++) {
        uint64_t base = (uint64_t)(uintptr_t)riov[i].iov_base;

        if (!remote_writable(r, base, riov[i].iov_len) ||
            overlaps(base, riov[i].iov_len, nl, nl_len))
            return false;
    }
    /* The whole sockaddr_storage: the length used is read again after the payload is written
     * (move_addr_to_user()), which may have overwritten it. */
    if (e->name && !remote_writable(r, e->name, SOCKADDR_STORAGE_SIZE_))
        return false;
    return !e->control || (remote_writable(r, e->control, (size_t)controllen) &&
                           !overlaps(e->control, (size_t)controllen, nl, nl_len));
}

/* "fromlen shall refer to the value before truncation" (1003.1g, move_addr_to_user()). */
static int store_addrlen(struct remote *r, uint64_t ulen_addr, const struct msghdr *nm)
{
    int32_t klen = (int32_t)nm->msg_namelen;

    return remote_write(r, ulen_addr, &klen, sizeof(klen));
}

/* Write the results of one received datagram (net/socket.c ____sys_recvmsg order: payload and
 * control, then name and namelen, msg_flags, msg_controllen; msg_len is the caller's). */
int uabi_deliver(struct remote *r, const struct emu_call *c, const struct uabi_entry *e,
                 const struct iovec *riov, struct msghdr *nm, ssize_t n, struct cmsg_out *co)
{
    size_t copied = (size_t)n < e->total ? (size_t)n : e->total;
    uint32_t uflags;
    int err;

    if (copied > nm->msg_iov[0].iov_len)
        copied = nm->msg_iov[0].iov_len;
    /* The payload is the one @nm received, whichever receipt that was (mirror_take()). */
    err = remote_writev(r, nm->msg_iov[0].iov_base, copied, riov, e->n_iov);
    if (err < 0)
        goto fault;
    cmsg_translate(co, nm);
    if (e->name) {
        /* net/socket.c move_addr_to_user(): the caller's namelen is read again here. */
        int32_t ulen;
        bool len_first;
        uint64_t ulen_addr = e->hdr + offsetof(struct compat_msghdr, msg_namelen);

        if (!c->compat)
            ulen_addr = e->hdr + offsetof(struct native_msghdr, msg_namelen);
        err = remote_read(r, ulen_addr, &ulen, sizeof(ulen));
        if (err < 0)
            return -EFAULT;
        /* move_addr_to_user(): clamp to the received length; a negative one is EINVAL. The
         * full length is stored before the address is copied since Linux 6.18, after it
         * before (docs/recvmmsg-compat.md rule 37): a fault on either write shows which. */
        if (ulen > (int32_t)nm->msg_namelen)
            ulen = (int32_t)nm->msg_namelen;
        if (ulen < 0)
            return -EINVAL;
        len_first = features_addrlen_first();
        err = len_first ? store_addrlen(r, ulen_addr, nm) : 0;
        if (err >= 0 && ulen > 0)
            err = remote_write(r, e->name, nm->msg_name, (size_t)ulen);
        if (err >= 0 && !len_first)
            err = store_addrlen(r, ulen_addr, nm);
        if (err < 0)
            return -EFAULT;
    }
    uflags = ((uint32_t)nm->msg_flags & ~(uint32_t)MSG_CMSG_CLOEXEC) | co->flags |
             (c->flags & MSG_CMSG_CLOEXEC);
    if (c->compat) {
        uint32_t cl = (uint32_t)co->used, len = (uint32_t)n;
        uint32_t tail[3] = {cl, uflags, len};

        /* msg_controllen, msg_flags and msg_len are adjacent: one write when none faults. */
        static_assert(offsetof(struct compat_mmsghdr, msg_len) ==
                          offsetof(struct compat_msghdr, msg_controllen) + 8,
                      "compat_mmsghdr tail");
        if (remote_write_whole(r, e->hdr + offsetof(struct compat_msghdr, msg_controllen), tail,
                               sizeof(tail)) == 0)
            return 0;
        err = remote_write(r, e->hdr + offsetof(struct compat_msghdr, msg_flags), &uflags, 4);
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct compat_msghdr, msg_controllen), &cl, 4);
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct compat_mmsghdr, msg_len), &len, 4);
    } else {
        uint64_t cl = co->used;
        uint32_t len = (uint32_t)n;
        unsigned char tail[12];

        /* msg_controllen and msg_flags are adjacent (msg_len follows after padding the kernel
         * never writes): one write for the two when neither faults. */
        static_assert(offsetof(struct native_msghdr, msg_flags) ==
                          offsetof(struct native_msghdr, msg_controllen) + 8,
                      "native_msghdr tail");
        memcpy(tail, &cl, 8);
        memcpy(tail + 8, &uflags, 4);
        err = remote_write_whole(r, e->hdr + offsetof(struct native_msghdr, msg_controllen), tail,
                                 sizeof(tail));
        if (err < 0) {
            err = remote_write(r, e->hdr + offsetof(struct native_msghdr, msg_flags), &uflags, 4);
            if (err >= 0)
                err = remote_write(r, e->hdr + offsetof(struct native_msghdr, msg_controllen), &cl,
                                   8);
        }
        if (err >= 0)
            err = remote_write(r, e->hdr + offsetof(struct native_mmsghdr, msg_len), &len, 4);
    }
    return err < 0 ? -EFAULT : 0;
fault:
    cmsg_close_passed_fds(nm);
    return -EFAULT;
}

int uabi_write_timeout(struct remote *r, const struct emu_call *c, int64_t sec, int64_t nsec)
{
    /* kernel/time/time.c put_old_timespec32(): seconds truncated to 32 bits. */
    if (c->sys == MMSG_SYS_RECVMMSG_TIME32 || c->sys == MMSG_SYS_SOCKETCALL) {
        struct old_timespec32 t = {(int32_t)sec, (int32_t)nsec};
        return remote_write(r, c->timeout, &t, sizeof(t));
    }
    struct kernel_timespec64 t = {sec, nsec};
    return remote_write(r, c->timeout, &t, sizeof(t));
}
