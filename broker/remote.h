/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The calling thread of one notification, as handles bound to it: its address space
 * (/proc/<tid>/mem and maps, bound to its mm when opened) and a pidfd for its fd table.
 * remote_open() opens every handle first and then checks ID_VALID once: a call still pending
 * proves the tid named the caller when each handle was opened, and a handle never follows the
 * number afterwards, so no later read or write can reach a process that took the tid over.
 * /proc files read by number (identity, signals) are trusted only when an ID_VALID after the
 * read says the call was still pending (docs/emulation.md, "Only ever the caller"). */
#ifndef MMSG_BROKER_REMOTE_H
#define MMSG_BROKER_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "handles.h"

#define REMOTE_COMM_MAX 16
#define REMOTE_EXE_MAX 4096
#define REMOTE_VMA_CACHE 8
/* Before Linux 6.11 the maps text is read once per notification, as far as lookups need, and
 * up to this many mappings kept (24 bytes each); a caller with more is scanned afresh at each
 * lookup instead. Lines are read in pieces of REMOTE_MAPS_BUF bytes. */
#define REMOTE_MAPS_MAX 8192
#define REMOTE_MAPS_BUF 8192
/* remote_read() reads up to this much at once, for the reads that follow (remote.c). */
#define REMOTE_WINDOW 512

/* One mapping of the caller, as far as faults are concerned. */
struct remote_vma {
    uint64_t start, end;
    bool readable, writable;
    /* Private and not backed by a file: no other address, in this process or another, shows
     * the same bytes (a shared or file mapping can be mapped twice, or changed through another
     * mapping of the file), so reads of it may be kept (remote_read()). */
    bool anon_private;
};

struct remote {
    int listener;
    uint64_t id;
    pid_t tid;     /* as the broker's pid namespace sees it */
    int memfd;     /* /proc/<tid>/mem: the caller's mm; -1: not opened */
    bool borrowed; /* remote_open_memory(): memfd is not ours; no call behind it */
    int mapsfd;    /* /proc/<tid>/maps: the caller's mm, for protection checks; -1: none */
    int pidfd;     /* the caller's thread (PIDFD_THREAD), else its thread group; -1 */
    int statusfd;  /* /proc/<tid>/status, bound by an ID_VALID after its open; -1: not yet */
    bool pidfd_thread;
    bool bound; /* an ID_VALID passed after every handle above was opened (remote_bind()) */
    struct handles_ref cached; /* .entry: pidfd is the cache's (handles.h), not to be closed */
    uint64_t gen;              /* this opening, for remote_read()'s window; 0: none */
    /* Mappings seen during this notification: copy_{from,to}_user faults on a page the caller
     * cannot read or write, while /proc/<tid>/mem forces access (FOLL_FORCE); these say where. */
    struct remote_vma vmas[REMOTE_VMA_CACHE];
    unsigned n_vmas, next_vma;
    /* Without PROCMAP_QUERY: the maps lines read so far (in address order), the offset to read
     * on from and the partial line read past the last whole one. */
    struct remote_vma *maps;
    size_t n_maps, maps_cap;
    char *maps_buf;
    size_t maps_have;
    off_t maps_off;
    bool maps_eof, maps_too_many;
};

#define REMOTE_NULL                                                             \
    (struct remote)                                                             \
    {                                                                           \
        .listener = -1, .memfd = -1, .mapsfd = -1, .pidfd = -1, .statusfd = -1, \
        .cached = HANDLES_REF_NULL                                              \
    }

/* Whether @err (a -errno of remote_open() or remote_getfd()) is the broker's own shortage of
 * fds or memory, which says nothing about the caller. */
bool remote_out_of_fds(int err);

/* Open the caller's handles, then ID_VALID. Through the thread's kept handles (handles.h) that
 * ID_VALID waits for their first use instead, remote_getfd(), remote_read(), remote_write() or
 * remote_kill(), so that one check binds them and the fd taken. Return: 0; -ESRCH (tid 0:
 * caller outside our pid namespace); -ENOENT (the call is gone); -errno (-EMFILE: out of
 * fds). */
int remote_open(struct remote *r, int listener, uint64_t id, pid_t tid);
void remote_close(struct remote *r);

/* Name the caller without opening anything: enough for remote_identity(),
 * remote_signal_pending() and remote_check(). */
void remote_init(struct remote *r, int listener, uint64_t id, pid_t tid);

/* A caller whose address space is @memfd (an fd whose offsets are addresses, e.g. a memfd in
 * the fuzzer) with no other handles and no protection checks. */
void remote_open_memory(struct remote *r, int memfd);

/* Drop what is known of the caller's mappings (after a wait, during which its other threads
 * may have changed them): the next access looks again, as copy_{from,to}_user would. */
void remote_forget_mappings(struct remote *r);

/* ID_VALID: 0 while the call is pending (which binds every handle opened before it); -ENOENT
 * once it is gone. */
int remote_check(struct remote *r);

/* Copy @len bytes at @addr in the caller into @buf. Return: 0; -EFAULT when any byte is
 * unreadable to the caller itself (copy_from_user), or the caller's mm is gone; -ENOENT when
 * the call is gone before kept handles were bound (nothing read). */
int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len);

/* Copy @buf to @addr in the caller like copy_to_user: the bytes before the first page the
 * caller cannot write are written, then -EFAULT. Return: 0; -EFAULT; -ENOENT as
 * remote_read(). */
int remote_write(struct remote *r, uint64_t addr, const void *buf, size_t len);
/* Whether the caller itself could write all @len bytes at @addr (no copy_to_user fault). */
bool remote_writable(struct remote *r, uint64_t addr, size_t len);

/* Write all @len bytes with one write if the caller could write every one of them, else
 * nothing. For fields the kernel stores one by one: when none can fault their order cannot
 * show. Return: 0 written; -EFAULT nothing written (write them one by one to fault exactly). */
int remote_write_whole(struct remote *r, uint64_t addr, const void *buf, size_t len);

/* Scatter @len bytes of @buf into the caller's @n_iov iovecs (caller addresses), in order, as
 * copy_to_iter() does. Return: 0; -EFAULT if any byte could not be written. */
int remote_writev(struct remote *r, const void *buf, size_t len, const struct iovec *riov,
                  size_t n_iov);

/* Duplicate the caller's fd @fd into the broker (same open file description), O_CLOEXEC, and
 * prove it is the caller's own (a thread may have unshared its fd table; without PIDFD_THREAD
 * the pidfd reads the thread group leader's, which is gone once the leader exited). Return:
 * the new fd; -EBADF; -ENOENT (the call is gone); -EXDEV (this kernel cannot reach the caller's
 * fd table); -EMFILE. */
int remote_getfd(struct remote *r, int fd);

struct remote_identity {
    pid_t tgid;
    pid_t ns_tid;  /* the caller's tid in its own (innermost) pid namespace */
    pid_t ns_tgid; /* its process id there */
    uint32_t uid;  /* only with @with_uid */
    char comm[REMOTE_COMM_MAX];
    char exe[REMOTE_EXE_MAX]; /* "" when unreadable (kernel thread, or exe unlinked path) */
};

/* Read tgid, comm and exe (and uid, @with_uid) from /proc, then ID_VALID: what was read is the
 * caller's. Through the thread's kept handles (handles.h), whose ids are read once; a thread
 * seen for the first time gets them kept. Return: 0; -ESRCH (gone, or the tid no longer names
 * the caller). */
int remote_identity(struct remote *r, bool with_uid, struct remote_identity *ret);

/* Whether a signal is pending for the caller that the kernel would deliver to this thread and
 * that interrupts a syscall (caught, or a default stop/terminate action). The first call opens
 * /proc/<tid>/status and binds it with ID_VALID; the file follows the caller's task, never the
 * number, and fails with ESRCH once that task is gone, so later calls are one read. The file is
 * kept in @r until remote_close(). Return: 1, 0, -errno (-ESRCH: gone). */
int remote_signal_pending(struct remote *r);

/* The caller's /proc/<tid>/status, opened by number and then bound by ID_VALID on
 * (@listener, @id): the file follows the caller's task, never the number. Return: the fd;
 * -ESRCH (gone, or tid 0); -errno (-EMFILE). */
int remote_status_open(int listener, uint64_t id, pid_t tid);

/* remote_signal_pending() on a file remote_status_open() returned: one read. Also -ESRCH when
 * the thread has exited (zombie or dead): it is in no call any more. */
int remote_status_pending(int statusfd);

/* SIGKILL the caller's whole process. */
int remote_kill(struct remote *r);

/* The thread group of @tid, read from /proc/<tid>/status: for sharing work fairly only, never
 * for a security decision. Return: the tgid; -errno. */
pid_t remote_tgid_of(pid_t tid);

/* Whether the running kernel has PIDFD_THREAD (6.9) and PROCMAP_QUERY (6.11); probed once. */
bool remote_have_pidfd_thread(void);
bool remote_have_procmap_query(void);

#endif
