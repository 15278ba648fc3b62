/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Thin wrappers around the raw syscalls and seccomp listener ioctls mmsgate needs. Each returns
 * >= 0 on success and -errno on failure; the routine outcomes are documented per function. */
#ifndef MMSG_BROKER_KERNEL_H
#define MMSG_BROKER_KERNEL_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

/* Newer than Debian 12's linux-libc-dev 6.1. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* Linux 6.6, 48a1084a8b74 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP /* Linux 6.6 */
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV /* Linux 5.19, c2aa2dfef243 */
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef PIDFD_THREAD /* Linux 6.9: pidfd_open() of a non-leader thread */
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PIDFD_SIGNAL_THREAD_GROUP /* Linux 6.9 */
#define PIDFD_SIGNAL_THREAD_GROUP (1UL << 1)
#endif

/* The routes' system call numbers, fixed by the x86 ABIs (arch/x86/entry/syscalls/
 * syscall_32.tbl, syscall_64.tbl): one definition for the filter (filter.c) and the decoder of
 * notifications (decode.c). */
#define NR_I386_SOCKETCALL 102
#define NR_I386_RECVMMSG_TIME32 337
#define NR_I386_RECVMMSG_TIME64 417
#define NR_X86_64_RECVMMSG 299
#define NR_X32_RECVMMSG (X32_SYSCALL_BIT_ | 537u)
#define SOCKETCALL_SYS_RECVMMSG 19 /* include/uapi/linux/net.h SYS_RECVMMSG */

/* include/uapi/linux/fs.h, Linux 6.11 (ed5d583a88a9): the PROCMAP_QUERY ioctl on
 * /proc/<pid>/maps, newer than Debian 12's headers. Our own names, so a later system header
 * cannot clash. */
struct procmap_query_ {
    uint64_t size;
    uint64_t query_flags;
    uint64_t query_addr;
    uint64_t vma_start;
    uint64_t vma_end;
    uint64_t vma_flags;
    uint64_t vma_page_size;
    uint64_t vma_offset;
    uint64_t inode;
    uint32_t dev_major;
    uint32_t dev_minor;
    uint32_t vma_name_size;
    uint32_t build_id_size;
    uint64_t vma_name_addr;
    uint64_t build_id_addr;
};
_Static_assert(sizeof(struct procmap_query_) == 104, "procmap_query is 104 bytes");
#define PROCMAP_QUERY_ _IOWR('f', 17, struct procmap_query_)
#define PROCMAP_QUERY_VMA_READABLE_ 0x01u
#define PROCMAP_QUERY_VMA_WRITABLE_ 0x02u
#define PROCMAP_QUERY_VMA_EXECUTABLE_ 0x04u
#define PROCMAP_QUERY_VMA_SHARED_ 0x08u

#define AUDIT_ARCH_I386_ 0x40000003u
#define AUDIT_ARCH_X86_64_ 0xc000003eu
#define X32_SYSCALL_BIT_ 0x40000000u

/* seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Return: the listener fd when flags include
 * NEW_LISTENER, else 0; -EINVAL for a flag this kernel lacks. */
int kernel_seccomp_load(unsigned long flags, const struct sock_fprog *prog);

/* SECCOMP_GET_NOTIF_SIZES. */
int kernel_notif_sizes(struct seccomp_notif_sizes *ret_sizes);

/* SECCOMP_IOCTL_NOTIF_RECV into @req, which is zeroed first (the kernel rejects a non-zeroed
 * buffer with EINVAL). It blocks until a call is pending. -ENOENT: the caller was gone (killed,
 * or interrupted before we received it), or, from Linux 6.6, every task using the filter has
 * exited - not an error. -EINTR: a signal (loop.c's kick) interrupted the wait. */
int kernel_notif_recv(int listener, struct seccomp_notif *req, size_t req_size);

/* SECCOMP_IOCTL_NOTIF_SEND. -ENOENT: the call is gone (target killed, or a signal interrupted
 * it and any restart is a new notification) - not an error. EINTR is retried. */
int kernel_notif_send(int listener, const struct seccomp_notif_resp *resp);

/* Answer @id with CONTINUE (the kernel runs the call itself on re-read arguments). */
int kernel_notif_continue(int listener, uint64_t id);

/* Answer @id: @error is 0 (then @val is returned) or a negative errno. */
int kernel_notif_reply(int listener, uint64_t id, int error, int64_t val);

/* SECCOMP_IOCTL_NOTIF_ID_VALID. 0: still pending; -ENOENT: gone. */
int kernel_notif_id_valid(int listener, uint64_t id);

/* SECCOMP_IOCTL_NOTIF_ADDFD: install @srcfd in the caller (receive_fd: lowest free number,
 * RLIMIT_NOFILE, LSM). Return: the fd number in the caller; -EMFILE; -ENOENT (gone). */
int kernel_notif_addfd(int listener, uint64_t id, int srcfd, bool cloexec);

/* SECCOMP_IOCTL_NOTIF_SET_FLAGS, the flag passed by value. -EINVAL: unknown flag. */
int kernel_notif_set_flags(int listener, uint64_t flags);

/* pidfd_open(pid, flags); -ESRCH/-ENOENT when gone. */
int kernel_pidfd_open(pid_t pid, unsigned flags);

/* pidfd_getfd(pidfd, fd, 0); the new fd is O_CLOEXEC. -EBADF: no such fd in the target. */
int kernel_pidfd_getfd(int pidfd, int fd);

/* pidfd_send_signal(pidfd, sig, NULL, flags). */
int kernel_pidfd_send_signal(int pidfd, int sig, unsigned flags);

#endif
