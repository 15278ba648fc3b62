/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller's side of the recvmmsg ABI (uabi.c). */
#ifndef MMSG_BROKER_UABI_H
#define MMSG_BROKER_UABI_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "emulate.h"

/* One decoded user mmsghdr. */
struct uabi_entry {
    uint64_t hdr; /* user address of entry i */
    uint64_t name;
    int32_t namelen; /* clamped to SOCKADDR_STORAGE_SIZE_ */
    uint64_t control;
    uint64_t controllen;
    size_t n_iov; /* in the riov given to uabi_read_entry() */
    size_t total; /* bytes the iovecs describe, capped at MAX_RW_COUNT_ */
};

struct cmsg_out;

/* Entries with more iovecs than this are not checked by uabi_entry_writable() (false). */
#define UABI_WRITABLE_MAX_IOV 64

/* Whether no write of any datagram's results for @e could fault: its header, every iovec
 * (@riov), its name and its control buffer are all writable to the caller. */
bool uabi_entry_writable(struct remote *r, const struct emu_call *c, const struct uabi_entry *e,
                         const struct iovec *riov);

/* Read and validate the caller's timeout into @c (sets timeout_read, timeout_err, timeout_ts).
 * Return: c->timeout_err (0, -EFAULT, -EINVAL). */
int uabi_read_timeout(struct remote *r, struct emu_call *c);

/* net/compat.c __get_compat_msghdr() / net/socket.c copy_msghdr_from_user() for entry @i, with
 * its iovecs in @riov (UIO_MAXIOV_ elements) and @raw (UIO_MAXIOV_ * 16 bytes of scratch).
 * Return: 0; -EFAULT; -EINVAL; -EMSGSIZE. */
int uabi_read_entry(struct remote *r, const struct emu_call *c, uint32_t i, struct iovec *riov,
                    char *raw, struct uabi_entry *ret);

/* Write the results of one received datagram (@nm, @n bytes) for entry @e: payload into the
 * caller's @riov, control messages, name and namelen, msg_flags, msg_controllen, msg_len.
 * Return: 0; -EFAULT; -EINVAL (negative namelen met on the way back). */
int uabi_deliver(struct remote *r, const struct emu_call *c, const struct uabi_entry *e,
                 const struct iovec *riov, struct msghdr *nm, ssize_t n, struct cmsg_out *co);

/* Write the remaining timeout back (kernel/time/time.c put_timespec64()/put_old_timespec32()). */
int uabi_write_timeout(struct remote *r, const struct emu_call *c, int64_t sec, int64_t nsec);

#endif
