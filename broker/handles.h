/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Handles on a caller thread kept from one notification to the next: an O_PATH fd of
 * /proc/<tid>, the pidfd through which its fds are reached and, once its identity has been
 * read, its /proc/<tid>/comm. All are bound to the thread's struct pid, never to its number,
 * and none captures an address space: /proc/<tid>/mem and maps, which do (an exec changes the
 * mm under a live tid), stay per notification. comm is read afresh at each pread() from
 * offset 0 (fs/seq_file.c restarts there; fs/proc/base.c comm_show() looks the task up).
 *
 * A cached entry is only ever used like this (remote_open()): after NOTIF_RECV, open
 * /proc/<tid>/mem through the cached dirfd (that fails unless the entry's struct pid still has
 * a task, so the number is still its own), then, before the first use of anything opened,
 * ID_VALID (the call's thread held the number throughout; remote_bind()). Together they prove
 * the entry's struct pid is the caller's, so its pidfd is too (docs/emulation.md, "Only ever
 * the caller"). An entry whose open fails is dropped.
 *
 * Thread-safe. At most HANDLES_MAX entries, found by tid through a hash, and no more than
 * RLIMIT_NOFILE / 16 (three fds each); the least recently used idle entry makes room, and when none
 * is idle the handles are simply not kept. */
#define HANDLES_MAX 4096

struct handles_entry;

/* What never changes for a thread while its struct pid has a task (an exec by another thread
 * of its group takes the group leader's pid, and ends this thread): its process and its ids
 * in its own pid namespace, read once from its status file for remote_identity(). */
struct handles_ids {
    bool known;
    pid_t tgid, ns_tid, ns_tgid;
};

/* A use of cached handles: not to be closed; released with handles_put(). */
struct handles_ref {
    struct handles_entry *entry; /* NULL: nothing cached */
    int dirfd, pidfd;
    int commfd; /* -1: none kept yet */
    bool pidfd_thread;
    struct handles_ids ids;
};

/* A use of nothing: no entry, no fds. */
#define HANDLES_REF_NULL ((struct handles_ref){.dirfd = -1, .pidfd = -1, .commfd = -1})

/* Look up @tid's handles. Return: true and @ret filled (the entry is held until handles_put());
 * false, nothing cached. */
bool handles_get(pid_t tid, struct handles_ref *ret);

/* Release a use. @stale: opening through the dirfd failed; the entry is dropped (its fds are
 * closed once no one uses them). */
void handles_put(struct handles_ref *ref, bool stale);

/* Keep @dirfd and @pidfd, just bound to @tid's caller by an ID_VALID. Return: true, the cache
 * owns them and @ret holds a use; false, they stay the caller's (nothing is kept). */
bool handles_add(pid_t tid, int dirfd, int pidfd, bool pidfd_thread, struct handles_ref *ret);

/* Keep @commfd, opened through @ref's dirfd, for the entry's next reads. Return: true, the
 * cache owns it (and @ref->commfd is it); false, it stays the caller's to close. */
bool handles_keep_comm(struct handles_ref *ref, int commfd);

/* Remember @ids for the entry @ref uses (read through its dirfd, then bound by an ID_VALID). */
void handles_set_ids(struct handles_ref *ref, const struct handles_ids *ids);

/* Close every idle entry (out of fds: make room). */
void handles_flush(void);
