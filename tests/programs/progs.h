/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared bits of the supervised target programs: the i386 layouts they build by hand, errno
 * names for their output lines, a clock and a number parser. Header-only so each program stays
 * one file. */
#ifndef MMSG_TEST_PROGS_H
#define MMSG_TEST_PROGS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* include/net/compat.h: struct compat_mmsghdr (compat_msghdr + msg_len), 32 bytes. */
struct compat_mmsghdr {
    uint32_t name;
    int32_t namelen;
    uint32_t iov;
    uint32_t iovlen;
    uint32_t control;
    uint32_t controllen;
    uint32_t flags;
    uint32_t len;
};
_Static_assert(sizeof(struct compat_mmsghdr) == 32, "compat_mmsghdr is 32 bytes");
_Static_assert(offsetof(struct compat_mmsghdr, iov) == 8, "compat_msghdr.msg_iov at 8");
_Static_assert(offsetof(struct compat_mmsghdr, flags) == 24, "compat_msghdr.msg_flags at 24");
_Static_assert(offsetof(struct compat_mmsghdr, len) == 28, "compat_mmsghdr.msg_len at 28");

/* include/linux/compat.h: struct compat_iovec. */
struct compat_iovec {
    uint32_t base;
    uint32_t len;
};
_Static_assert(sizeof(struct compat_iovec) == 8, "compat_iovec is 8 bytes");

/* include/vdso/time32.h: struct old_timespec32, the timeout of 337 and socketcall. */
struct old_timespec32 {
    int32_t tv_sec;
    int32_t tv_nsec;
};
_Static_assert(sizeof(struct old_timespec32) == 8, "old_timespec32 is 8 bytes");

/* include/uapi/linux/time_types.h: struct __kernel_timespec, the timeout of 417 and 299. */
struct kernel_timespec64 {
    int64_t tv_sec;
    int64_t tv_nsec;
};
_Static_assert(sizeof(struct kernel_timespec64) == 16, "__kernel_timespec is 16 bytes");

/* Syscall numbers, spelled out so the route is exactly the one asked for whatever the libc
 * headers say (arch/x86/entry/syscalls/syscall_{32,64}.tbl). */
#define NR_I386_SOCKETCALL 102
#define NR_I386_RECVMMSG_TIME32 337
#define NR_I386_RECVMMSG_TIME64 417
#define NR_X86_64_RECVMMSG 299
#define SOCKETCALL_SYS_RECVMMSG 19

static inline const char *progs_errno_name(int e)
{
    static const struct {
        int value;
        const char *name;
    } table[] = {
        {EPERM, "EPERM"},
        {ENOENT, "ENOENT"},
        {ESRCH, "ESRCH"},
        {EINTR, "EINTR"},
        {EIO, "EIO"},
        {ENXIO, "ENXIO"},
        {E2BIG, "E2BIG"},
        {EBADF, "EBADF"},
        {ECHILD, "ECHILD"},
        {EAGAIN, "EAGAIN"},
        {ENOMEM, "ENOMEM"},
        {EACCES, "EACCES"},
        {EFAULT, "EFAULT"},
        {EBUSY, "EBUSY"},
        {EEXIST, "EEXIST"},
        {ENODEV, "ENODEV"},
        {EINVAL, "EINVAL"},
        {ENFILE, "ENFILE"},
        {EMFILE, "EMFILE"},
        {ENOTTY, "ENOTTY"},
        {ENOSPC, "ENOSPC"},
        {EPIPE, "EPIPE"},
        {ERANGE, "ERANGE"},
        {ENOSYS, "ENOSYS"},
        {EBADMSG, "EBADMSG"},
        {ENOTSOCK, "ENOTSOCK"},
        {EMSGSIZE, "EMSGSIZE"},
        {EPROTOTYPE, "EPROTOTYPE"},
        {EOPNOTSUPP, "EOPNOTSUPP"},
        {ECONNREFUSED, "ECONNREFUSED"},
        {ENOTCONN, "ENOTCONN"},
        {ETIMEDOUT, "ETIMEDOUT"},
        {ECANCELED, "ECANCELED"},
        {EOVERFLOW, "EOVERFLOW"},
        {ENOBUFS, "ENOBUFS"},
        {ENETDOWN, "ENETDOWN"},
        {EHOSTUNREACH, "EHOSTUNREACH"},
        {512, "ERESTARTSYS"},
    };
    static __thread char other[16];

    if (e == 0)
        return "0";
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].value == e)
            return table[i].name;
    (void)snprintf(other, sizeof(other), "E%d", e);
    return other;
}

/* The decimal integer @s, all of it, within [@lo, @hi]; -EINVAL otherwise (*@ret untouched). */
static inline int progs_parse_long(const char *s, long lo, long hi, long *ret)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *ret = v;
    return 0;
}

static inline int64_t progs_now_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* /proc/self/status "Seccomp:": 0 none, 2 filter (-1 if unreadable). Printed by programs so
 * their driver can check that the broker really filtered them (or really did not). */
static inline int progs_seccomp_mode(void)
{
    char line[256];
    int mode = -1;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Seccomp: %d", &mode) == 1)
            break;
    (void)fclose(f); /* read-only */
    return mode;
}

#endif
