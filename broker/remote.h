/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The calling thread of one notification: its pidfd, its memory, its fds, its identity.
 * Order, always: remote_open() (pidfd, then ID_VALID), read what is needed, remote_check()
 * (ID_VALID again: the tid may have been reused by another process meanwhile), decide on the
 * copies. */
#ifndef MMSG_BROKER_REMOTE_H
#define MMSG_BROKER_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define REMOTE_COMM_MAX 16
#define REMOTE_EXE_MAX 4096

struct remote {
    int listener;
    uint64_t id;
    pid_t tid; /* as the broker's pid namespace sees it */
    int pidfd; /* PIDFD_THREAD pidfd of tid, -1 when not open */
};

/* Open the caller: pidfd_open(tid, PIDFD_THREAD), then ID_VALID so the pidfd is known to name
 * the thread that made call @id. Return: 0; -ESRCH (tid 0: caller outside our pid namespace,
 * or gone); -ENOENT (the call is gone). */
int remote_open(struct remote *r, int listener, uint64_t id, pid_t tid);
void remote_close(struct remote *r);

/* ID_VALID: 0 while the call is pending; -ENOENT once it is gone. */
int remote_check(const struct remote *r);

/* Copy @len bytes at @addr in the caller into @buf. Return: 0; -EFAULT when any byte is
 * unreadable (a short transfer counts as a fault, like copy_from_user). */
int remote_read(const struct remote *r, uint64_t addr, void *buf, size_t len);

/* Copy @len bytes from @buf to @addr in the caller; faults like copy_to_user (process_vm_writev
 * does not force writes into read-only mappings). Return: 0; -EFAULT. */
int remote_write(const struct remote *r, uint64_t addr, const void *buf, size_t len);

/* Scatter @len bytes of @buf into the caller's @n_iov iovecs (remote addresses), in order.
 * Return: 0; -EFAULT if any byte could not be written. */
int remote_writev(const struct remote *r, const void *buf, size_t len, const struct iovec *riov,
                  size_t n_iov);

/* Duplicate the caller's fd @fd into the broker (same open file description), O_CLOEXEC.
 * Return: the new fd; -EBADF. */
int remote_getfd(const struct remote *r, int fd);

struct remote_identity {
    pid_t tgid;
    uint32_t uid;
    bool threaded; /* more than one thread */
    char comm[REMOTE_COMM_MAX];
    char exe[REMOTE_EXE_MAX]; /* "" when unreadable (kernel thread, or exe unlinked path) */
};

/* Read tgid, uid, comm and exe from /proc. Return: 0; -ESRCH. Follow with remote_check(). */
int remote_identity(const struct remote *r, struct remote_identity *ret);

/* Whether a signal is pending for the caller that the kernel would deliver to this thread and
 * that interrupts a syscall (caught, or a default stop/terminate action). Return: 1, 0, -errno. */
int remote_signal_pending(const struct remote *r);

/* SIGKILL the caller's whole process. */
int remote_kill(const struct remote *r);

#endif
