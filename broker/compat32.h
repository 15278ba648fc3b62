/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* i386 (compat) and x86_64 user layouts of the recvmmsg family, fixed-width, as the kernel reads
 * them: include/net/compat.h, include/linux/compat.h, include/vdso/time32.h, include/uapi/linux/
 * time_types.h. See docs/recvmmsg-compat.md rules 5-7. */
#ifndef MMSG_BROKER_COMPAT32_H
#define MMSG_BROKER_COMPAT32_H

#include <stddef.h>
#include <stdint.h>

struct compat_msghdr {
    uint32_t msg_name;
    int32_t msg_namelen;
    uint32_t msg_iov;
    uint32_t msg_iovlen;
    uint32_t msg_control;
    uint32_t msg_controllen;
    uint32_t msg_flags;
};

struct compat_mmsghdr {
    struct compat_msghdr msg_hdr;
    uint32_t msg_len;
};

struct compat_iovec {
    uint32_t iov_base;
    uint32_t iov_len;
};

struct old_timespec32 {
    int32_t tv_sec;
    int32_t tv_nsec;
};

struct old_timeval32 {
    int32_t tv_sec;
    int32_t tv_usec;
};

/* __kernel_timespec: 417 on i386 and 299 on x86_64. */
struct kernel_timespec64 {
    int64_t tv_sec;
    int64_t tv_nsec;
};

struct compat_cmsghdr {
    uint32_t cmsg_len;
    int32_t cmsg_level;
    int32_t cmsg_type;
};

/* x86_64 struct mmsghdr as user space lays it out. */
struct native_msghdr {
    uint64_t msg_name;
    int32_t msg_namelen;
    uint32_t pad0;
    uint64_t msg_iov;
    uint64_t msg_iovlen;
    uint64_t msg_control;
    uint64_t msg_controllen;
    int32_t msg_flags;
    uint32_t pad1;
};

struct native_mmsghdr {
    struct native_msghdr msg_hdr;
    uint32_t msg_len;
    uint32_t pad;
};

struct native_iovec {
    uint64_t iov_base;
    uint64_t iov_len;
};

_Static_assert(sizeof(struct compat_msghdr) == 28, "compat_msghdr");
_Static_assert(offsetof(struct compat_msghdr, msg_namelen) == 4, "compat namelen");
_Static_assert(offsetof(struct compat_msghdr, msg_iov) == 8, "compat iov");
_Static_assert(offsetof(struct compat_msghdr, msg_iovlen) == 12, "compat iovlen");
_Static_assert(offsetof(struct compat_msghdr, msg_control) == 16, "compat control");
_Static_assert(offsetof(struct compat_msghdr, msg_controllen) == 20, "compat controllen");
_Static_assert(offsetof(struct compat_msghdr, msg_flags) == 24, "compat flags");
_Static_assert(sizeof(struct compat_mmsghdr) == 32, "compat_mmsghdr");
_Static_assert(offsetof(struct compat_mmsghdr, msg_len) == 28, "compat msg_len");
_Static_assert(sizeof(struct compat_iovec) == 8, "compat_iovec");
_Static_assert(sizeof(struct old_timespec32) == 8, "old_timespec32");
_Static_assert(sizeof(struct old_timeval32) == 8, "old_timeval32");
_Static_assert(sizeof(struct kernel_timespec64) == 16, "__kernel_timespec");
_Static_assert(sizeof(struct compat_cmsghdr) == 12, "compat_cmsghdr");
_Static_assert(sizeof(struct native_msghdr) == 56, "msghdr");
_Static_assert(offsetof(struct native_msghdr, msg_namelen) == 8, "namelen");
_Static_assert(offsetof(struct native_msghdr, msg_iov) == 16, "iov");
_Static_assert(offsetof(struct native_msghdr, msg_iovlen) == 24, "iovlen");
_Static_assert(offsetof(struct native_msghdr, msg_control) == 32, "control");
_Static_assert(offsetof(struct native_msghdr, msg_controllen) == 40, "controllen");
_Static_assert(offsetof(struct native_msghdr, msg_flags) == 48, "flags");
_Static_assert(sizeof(struct native_mmsghdr) == 64, "mmsghdr");
_Static_assert(offsetof(struct native_mmsghdr, msg_len) == 56, "msg_len");
_Static_assert(sizeof(struct native_iovec) == 16, "iovec");

#define COMPAT_CMSG_ALIGN(len) (((len) + 3u) & ~3u)
#define COMPAT_CMSG_LEN(len) (sizeof(struct compat_cmsghdr) + (len))
#define COMPAT_CMSG_SPACE(len) (sizeof(struct compat_cmsghdr) + COMPAT_CMSG_ALIGN(len))

/* include/linux/socket.h, include/linux/uio.h, include/linux/fs.h */
#define MSG_CMSG_COMPAT_ 0x80000000u
#define UIO_MAXIOV_ 1024u
#define MAX_RW_COUNT_ 0x7ffff000u
#define ERESTARTSYS_ 512
/* sizeof(struct sockaddr_storage): the kernel clamps msg_namelen to it. */
#define SOCKADDR_STORAGE_SIZE_ 128
/* include/net/scm.h: most fds one SCM_RIGHTS message carries. */
#define SCM_MAX_FD_ 253

#endif
