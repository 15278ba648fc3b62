/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The handle cache of handles.h: a table indexed by tid, a mutex held only to look up, insert or
 * release, and a use count so that an entry is never closed under a thread using it. Why it
 * is safe to keep these handles and no others: handles.h and docs/emulation.md. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "handles.h"

struct handles_entry {
    uint64_t last_use;
    pid_t tid; /* 0: free */
    int dirfd, pidfd;
    int commfd; /* /proc/<tid>/comm opened through dirfd, or -1: handles_keep_comm() */
    unsigned refs;
    int next; /* the next entry of its bucket, or of the free list; -1: none */
    struct handles_ids ids;
    bool pidfd_thread;
    bool dead; /* dropped while in use: closed at the last handles_put() */
};

/* Entries are found by tid through HANDLES_BUCKETS chains: with a thousand callers a linear
 * search would cost more than the syscalls it saves. */
#define HANDLES_BUCKETS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct handles_entry table[HANDLES_MAX];
static int buckets[HANDLES_BUCKETS];
static int free_head = -1, n_used;
static uint64_t clock_ticks;
static int limit = -1; /* entries, from RLIMIT_NOFILE once, with the lists; under @lock */

static int *bucket_of(pid_t tid)
{
    return &buckets[(unsigned)tid % HANDLES_BUCKETS];
}

static void close_entry(struct handles_entry *e)
{
    int idx = (int)(e - table);

    for (int *p = bucket_of(e->tid); *p >= 0; p = &table[*p].next)
        if (*p == idx) {
            *p = e->next;
            break;
        }
    /* Nothing to do about a failed close. */
    (void)close(e->dirfd);
    (void)close(e->pidfd);
    if (e->commfd >= 0)
        (void)close(e->commfd);
    *e = (struct handles_entry){.next = free_head};
    free_head = idx;
    n_used--;
}

static int entry_limit(void)
{
    struct rlimit rl;

    if (limit < 0) {
        rlim_t n = HANDLES_MAX;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur / 16 < n)
            n = rl.rlim_cur / 16; /* three fds an entry: under a fifth of the limit */
        limit = (int)n;
        for (int i = 0; i < HANDLES_BUCKETS; i++)
            buckets[i] = -1;
        for (int i = HANDLES_MAX - 1; i >= 0; i--) {
            table[i].next = free_head;
            free_head = i;
        }
    }
    return limit;
}

static void fill(struct handles_entry *e, struct handles_ref *ret)
{
    e->refs++;
    e->last_use = ++clock_ticks;
    *ret = (struct handles_ref){.entry = e,
                                .dirfd = e->dirfd,
                                .pidfd = e->pidfd,
                                .commfd = e->commfd,
                                .pidfd_thread = e->pidfd_thread,
                                .ids = e->ids};
}

bool handles_get(pid_t tid, struct handles_ref *ret)
{
    bool found = false;

    *ret = HANDLES_REF_NULL;
    if (tid <= 0)
        return false;
    pthread_mutex_lock(&lock);
    if (entry_limit() > 0)
        for (int i = *bucket_of(tid); i >= 0; i = table[i].next) {
            struct handles_entry *e = &table[i];

            if (e->tid == tid && !e->dead) {
                fill(e, ret);
                found = true;
                break;
            }
        }
    pthread_mutex_unlock(&lock);
    return found;
}

void handles_put(struct handles_ref *ref, bool stale)
{
    struct handles_entry *e = ref->entry;

    if (!e)
        return;
    pthread_mutex_lock(&lock);
    e->refs--;
    if (stale)
        e->dead = true;
    if (e->dead && e->refs == 0)
        close_entry(e);
    pthread_mutex_unlock(&lock);
    *ref = HANDLES_REF_NULL;
}

void handles_set_ids(struct handles_ref *ref, const struct handles_ids *ids)
{
    if (!ref->entry)
        return;
    pthread_mutex_lock(&lock);
    ref->entry->ids = *ids;
    ref->entry->ids.known = true;
    ref->ids = ref->entry->ids;
    pthread_mutex_unlock(&lock);
}

bool handles_keep_comm(struct handles_ref *ref, int commfd)
{
    bool kept = false;

    if (!ref->entry)
        return false;
    pthread_mutex_lock(&lock);
    if (ref->entry->commfd < 0 && !ref->entry->dead) {
        ref->entry->commfd = commfd;
        ref->commfd = commfd;
        kept = true;
    }
    pthread_mutex_unlock(&lock);
    return kept;
}

bool handles_add(pid_t tid, int dirfd, int pidfd, bool pidfd_thread, struct handles_ref *ret)
{
    struct handles_entry *slot = NULL;
    int n, idx;

    *ret = HANDLES_REF_NULL;
    if (tid <= 0)
        return false;
    pthread_mutex_lock(&lock);
    n = entry_limit();
    /* An older entry for the same number is another thread's, now dead (this one was just
     * proven the caller's): drop it. */
    for (int i = *bucket_of(tid), next; i >= 0; i = next) {
        struct handles_entry *e = &table[i];

        next = e->next;
        if (e->tid == tid && !e->dead) {
            e->dead = true;
            if (e->refs == 0)
                close_entry(e);
        }
    }
    if (n > 0 && n_used >= n) {
        /* Full: the least recently used idle entry makes room (a scan, only when full). */
        struct handles_entry *idle = NULL;

        for (int i = 0; i < HANDLES_MAX; i++) {
            struct handles_entry *e = &table[i];

            if (e->tid != 0 && e->refs == 0 && (!idle || e->last_use < idle->last_use))
                idle = e;
        }
        if (idle)
            close_entry(idle);
    }
    if (n > 0 && n_used < n && free_head >= 0) {
        idx = free_head;
        slot = &table[idx];
        free_head = slot->next;
        *slot = (struct handles_entry){.tid = tid,
                                       .dirfd = dirfd,
                                       .pidfd = pidfd,
                                       .commfd = -1,
                                       .pidfd_thread = pidfd_thread,
                                       .next = *bucket_of(tid)};
        *bucket_of(tid) = idx;
        n_used++;
        fill(slot, ret);
    }
    pthread_mutex_unlock(&lock);
    return slot != NULL;
}

void handles_flush(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < HANDLES_MAX; i++) {
        struct handles_entry *e = &table[i];

        if (e->tid == 0)
            continue;
        if (e->refs == 0)
            close_entry(e);
        else
            e->dead = true;
    }
    pthread_mutex_unlock(&lock);
}
