/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The watcher's status files: a chained hash of (listener, notification id) over a fixed array
 * of SIGWATCH_MAX entries. Notification ids start at a random 64-bit value per listener
 * (kernel/seccomp.c init_listener()), so the pair names one call for the broker's lifetime. */
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal/macros.h"
#include "remote.h"
#include "sigwatch.h"

#define SIGWATCH_BUCKETS 2048 /* a power of two, twice SIGWATCH_MAX */

struct sigwatch_entry {
    int listener;
    uint64_t id;
    int fd;           /* bound to the caller by remote_status_open() */
    uint64_t last_ns; /* last looked at */
    int next;         /* in its bucket, or in the free list; -1 ends */
};

struct sigwatch {
    int buckets[SIGWATCH_BUCKETS];
    int free_head;
    unsigned used;
    struct sigwatch_entry e[SIGWATCH_MAX];
};

static unsigned bucket_of(int listener, uint64_t id)
{
    uint64_t h =
        (id ^ (uint64_t)(unsigned)listener * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;

    return (unsigned)(h >> 32) & (SIGWATCH_BUCKETS - 1);
}

int sigwatch_new(struct sigwatch **ret)
{
    struct sigwatch *w = malloc(sizeof(*w));
    struct rlimit rl;
    int cap = SIGWATCH_MAX;

    if (!w)
        return -ENOMEM;
    /* A quarter of the fd limit at most: the calls themselves need fds (memory, socket, pidfd),
     * and with the common "ulimit -n 1024" a cache of 1,024 would leave them none. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < (rlim_t)cap)
        cap = (int)(rl.rlim_cur / 4);
    for (unsigned i = 0; i < SIGWATCH_BUCKETS; i++)
        w->buckets[i] = -1;
    for (int i = 0; i < SIGWATCH_MAX; i++)
        w->e[i] = (struct sigwatch_entry){.fd = -1, .next = i + 1 < cap ? i + 1 : -1};
    w->free_head = cap > 0 ? 0 : -1;
    w->used = 0;
    *ret = w;
    return 0;
}

struct sigwatch *sigwatch_free(struct sigwatch *w)
{
    if (!w)
        return NULL;
    for (unsigned i = 0; i < SIGWATCH_MAX; i++)
        if (w->e[i].fd >= 0)
            (void)close(w->e[i].fd); /* nothing to do about a failed close */
    free(w);
    return NULL;
}

/* The entry of (@listener, @id), or -1; @ret_link: the link that points at it. */
static int find(struct sigwatch *w, int listener, uint64_t id, int **ret_link)
{
    int *link = &w->buckets[bucket_of(listener, id)];

    while (*link >= 0 && (w->e[*link].listener != listener || w->e[*link].id != id))
        link = &w->e[*link].next;
    *ret_link = link;
    return *link;
}

int sigwatch_check(struct sigwatch *w, int listener, uint64_t id, pid_t tid, uint64_t now_ns)
{
    int *link, i, r;

    i = find(w, listener, id, &link);
    if (i < 0) {
        int fd = remote_status_open(listener, id, tid);

        if (fd < 0)
            return fd;
        if (w->free_head < 0) {
            /* Full: look once and keep nothing. */
            r = remote_status_pending(fd);
            (void)close(fd);
            return r;
        }
        i = w->free_head;
        w->free_head = w->e[i].next;
        w->e[i] = (struct sigwatch_entry){.listener = listener, .id = id, .fd = fd, .next = -1};
        *link = i;
        w->used++;
    }
    w->e[i].last_ns = now_ns;
    return remote_status_pending(w->e[i].fd);
}

void sigwatch_sweep(struct sigwatch *w, uint64_t now_ns, uint64_t stale_ns)
{
    for (unsigned b = 0; b < SIGWATCH_BUCKETS && w->used; b++) {
        int *link = &w->buckets[b];

        while (*link >= 0) {
            struct sigwatch_entry *e = &w->e[*link];
            int i = *link;

            if (now_ns - e->last_ns < stale_ns) {
                link = &e->next;
                continue;
            }
            *link = e->next;
            (void)close(e->fd); /* nothing to do about a failed close */
            *e = (struct sigwatch_entry){.fd = -1, .next = w->free_head};
            w->free_head = i;
            w->used--;
        }
    }
}
