/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The handle cache of handles.h: a small table, a mutex held only to look up, insert or
 * release, and a use count so that an entry is never closed under a thread using it. Why it
 * is safe to keep these two handles and no others: handles.h and docs/emulation.md. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "handles.h"

struct handles_entry {
    pid_t tid; /* 0: free */
    int dirfd, pidfd;
    bool pidfd_thread;
    bool dead; /* dropped while in use: closed at the last handles_put() */
    unsigned refs;
    uint64_t last_use;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct handles_entry table[HANDLES_MAX];
static uint64_t clock_ticks;
static int limit = -1; /* entries, from RLIMIT_NOFILE once; under @lock */

static void close_entry(struct handles_entry *e)
{
    /* Nothing to do about a failed close. */
    (void)close(e->dirfd);
    (void)close(e->pidfd);
    *e = (struct handles_entry){0};
}

static int entry_limit(void)
{
    struct rlimit rl;

    if (limit < 0) {
        rlim_t n = HANDLES_MAX;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur / 16 < n)
            n = rl.rlim_cur / 16;
        limit = (int)n;
    }
    return limit;
}

static void fill(struct handles_entry *e, struct handles_ref *ret)
{
    e->refs++;
    e->last_use = ++clock_ticks;
    *ret = (struct handles_ref){
        .entry = e, .dirfd = e->dirfd, .pidfd = e->pidfd, .pidfd_thread = e->pidfd_thread};
}

bool handles_get(pid_t tid, struct handles_ref *ret)
{
    bool found = false;

    *ret = (struct handles_ref){.dirfd = -1, .pidfd = -1};
    if (tid <= 0)
        return false;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < HANDLES_MAX; i++) {
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
    *ref = (struct handles_ref){.dirfd = -1, .pidfd = -1};
}

bool handles_add(pid_t tid, int dirfd, int pidfd, bool pidfd_thread, struct handles_ref *ret)
{
    struct handles_entry *slot = NULL, *idle = NULL;
    int n, used = 0;

    *ret = (struct handles_ref){.dirfd = -1, .pidfd = -1};
    if (tid <= 0)
        return false;
    pthread_mutex_lock(&lock);
    n = entry_limit();
    if (n <= 0) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    for (int i = 0; i < HANDLES_MAX; i++) {
        struct handles_entry *e = &table[i];

        if (e->tid == 0) {
            if (!slot)
                slot = e;
            continue;
        }
        used++;
        /* An older entry for the same number is another thread's, now dead (this one was
         * just proven the caller's): drop it. */
        if (e->tid == tid && !e->dead) {
            e->dead = true;
            if (e->refs == 0) {
                close_entry(e);
                used--;
                if (!slot)
                    slot = e;
                continue;
            }
        }
        if (e->refs == 0 && (!idle || e->last_use < idle->last_use))
            idle = e;
    }
    if (used >= n || !slot) {
        slot = NULL;
        if (idle) {
            close_entry(idle);
            slot = idle;
        }
    }
    if (slot) {
        *slot = (struct handles_entry){
            .tid = tid, .dirfd = dirfd, .pidfd = pidfd, .pidfd_thread = pidfd_thread};
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
