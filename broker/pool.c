/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The worker pool, shared fairly between processes. Every call that needs its caller opened
 * (memory, fds) or may wait runs on a worker. Each process (thread group) may occupy at most
 * `share` workers at once; its further calls queue behind its own, never behind another
 * process's, and ready processes are served round robin. So one process that blocks many calls
 * (or stalls the broker on a page it never lets fault in) holds only its own share.
 *
 * Every call honours signals: with WAIT_KILLABLE_RECV the kernel holds non-fatal signals of a
 * call the broker has received, so one watcher thread wakes every WATCH_MS and looks at the
 * caller of each queued or running call as often as emu_signal_poll_ms() says (one read of a
 * status file it keeps open: sigwatch.c). It answers an interrupted queued call with
 * ERESTARTSYS (the kernel then restarts the call or fails it with EINTR, as it would have
 * itself) and drops one whose caller is gone; a worker whose caller was interrupted or is gone
 * is woken through its eventfd, looks for itself and ends its wait. So 1,000 waiting calls
 * cost one thread's reads, not 1,000 threads' wake-ups. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "kernel.h"
#include "sigwatch.h"

#define LOG_COMPONENT "pool"
#include "log.h"

#define WATCH_MS 20
#define PQ_BUCKETS 1024

struct proc_queue {
    pid_t tgid;
    unsigned running;
    unsigned queued;
    struct job *head, *tail;
    bool ready; /* on the ready list */
    struct proc_queue *next_ready;
    struct proc_queue *next_hash;
};

struct worker {
    pthread_t thread;
    struct pool *pool;
    struct emu_scratch scratch; /* .wake: this worker's eventfd */
    /* The call it runs, under the pool's lock: copied from the job when taken, since the job
     * itself is released by notify_handle() without that lock. */
    bool busy;
    int listener;
    uint64_t id;
    pid_t tid;
    uint64_t start_ns, watch_ns;
};

struct pool {
    struct mmsg_broker *b;
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t watch;
    struct proc_queue *hash[PQ_BUCKETS];
    struct proc_queue *ready_head, *ready_tail;
    struct worker *workers;
    unsigned n_workers, max_workers, n_idle, n_busy, share;
    unsigned n_queued; /* calls waiting for a worker, every process */
    bool stopping, watcher_started;
    pthread_t watcher;
    struct sigwatch *sigwatch; /* the watcher's alone */
    /* tid -> tgid (tid << 32 | tgid, read and written whole), for the fairness key only: a
     * stale entry only misattributes a share. */
    uint64_t tgids[4096];
    /* Processes that stalled the loop (inline.c), under lock. */
    pid_t stallers[64];
    unsigned n_stallers, next_staller;
};

static unsigned hash_tgid(pid_t tgid)
{
    return (unsigned)tgid % PQ_BUCKETS;
}

static pid_t tgid_cached(struct pool *p, pid_t tid)
{
    unsigned i = (unsigned)tid % ELEMENTSOF(p->tgids);
    uint64_t e = __atomic_load_n(&p->tgids[i], __ATOMIC_RELAXED);
    pid_t tgid;

    if (tid > 0 && (pid_t)(e >> 32) == tid)
        return (pid_t)(uint32_t)e;
    tgid = tid > 0 ? remote_tgid_of(tid) : 0;
    if (tgid <= 0)
        tgid = tid; /* gone or unreadable: its own queue; the worker finds out */
    __atomic_store_n(&p->tgids[i], (uint64_t)(uint32_t)tid << 32 | (uint32_t)tgid,
                     __ATOMIC_RELAXED);
    return tgid;
}

bool pool_inline_ok(struct pool *p, pid_t tid)
{
    pid_t tgid = tgid_cached(p, tid);
    bool ok = true;

    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->n_stallers && ok; i++)
        ok = p->stallers[i] != tgid;
    pthread_mutex_unlock(&p->lock);
    return ok;
}

void pool_mark_staller(struct pool *p, pid_t tid)
{
    pid_t tgid = tgid_cached(p, tid);

    pthread_mutex_lock(&p->lock);
    /* The oldest is forgotten first: a pid is reused eventually. */
    p->stallers[p->next_staller++ % ELEMENTSOF(p->stallers)] = tgid;
    if (p->n_stallers < ELEMENTSOF(p->stallers))
        p->n_stallers++;
    pthread_mutex_unlock(&p->lock);
}

/* The queue of @tgid, or NULL. Locked. */
static struct proc_queue *pq_find(struct pool *p, pid_t tgid)
{
    for (struct proc_queue *q = p->hash[hash_tgid(tgid)]; q; q = q->next_hash)
        if (q->tgid == tgid)
            return q;
    return NULL;
}

static struct proc_queue *pq_get(struct pool *p, pid_t tgid)
{
    struct proc_queue **slot = &p->hash[hash_tgid(tgid)], *q;

    for (q = *slot; q; q = q->next_hash)
        if (q->tgid == tgid)
            return q;
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->tgid = tgid;
    q->next_hash = *slot;
    *slot = q;
    return q;
}

static void pq_put(struct pool *p, struct proc_queue *q)
{
    struct proc_queue **slot = &p->hash[hash_tgid(q->tgid)];

    if (q->running || q->queued || q->ready)
        return;
    while (*slot != q)
        slot = &(*slot)->next_hash;
    *slot = q->next_hash;
    free(q);
}

/* Put @q on the ready list if it has work and room in its share. Locked. */
static void make_ready(struct pool *p, struct proc_queue *q)
{
    if (q->ready || !q->queued || q->running >= p->share)
        return;
    q->ready = true;
    q->next_ready = NULL;
    if (p->ready_tail)
        p->ready_tail->next_ready = q;
    else
        p->ready_head = q;
    p->ready_tail = q;
}

/* The next job, round robin over processes. Locked. */
static struct job *take_job(struct pool *p)
{
    struct proc_queue *q = p->ready_head;
    struct job *j;

    if (!q)
        return NULL;
    p->ready_head = q->next_ready;
    if (!p->ready_head)
        p->ready_tail = NULL;
    q->ready = false;
    j = q->head;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    q->queued--;
    p->n_queued--;
    q->running++;
    make_ready(p, q);
    return j;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->pool;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct job *j;

        while (!p->ready_head && !p->stopping) {
            p->n_idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->n_idle--;
        }
        j = take_job(p);
        if (!j)
            break; /* stopping, nothing left */
        w->busy = true;
        w->listener = j->listener;
        w->id = j->id;
        w->tid = j->tid;
        w->start_ns = j->start_ns;
        w->watch_ns = j->watch_ns;
        p->n_busy++;
        pthread_mutex_unlock(&p->lock);

        {
            struct proc_queue *q = j->pq;

            notify_handle(p->b, j, &w->scratch); /* answers and releases j */
            pthread_mutex_lock(&p->lock);
            w->busy = false;
            p->n_busy--;
            q->running--;
            make_ready(p, q);
            pq_put(p, q);
            if (p->ready_head)
                pthread_cond_signal(&p->work);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start a worker if none is idle and the pool may grow. Locked. */
static void grow(struct pool *p)
{
    struct worker *w;
    int r;

    if (p->n_idle > 0 || p->n_workers >= p->max_workers || p->stopping)
        return;
    w = &p->workers[p->n_workers];
    w->pool = p;
    r = emu_scratch_init(&w->scratch);
    if (r >= 0) {
        w->scratch.stop = &p->b->stopping;
        w->scratch.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        r = w->scratch.wake < 0 ? -errno : -broker_thread_create(&w->thread, NULL, worker_main, w);
        if (r < 0)
            emu_scratch_done(&w->scratch);
    }
    if (r >= 0)
        p->n_workers++;
    else
        log_warning_errno(r, "starting a worker (%u running)", p->n_workers);
}

#define WATCH_BATCH 1024
/* A status file not read for this long belongs to a call that has ended. */
#define WATCH_STALE_NS 1000000000ull

struct watched {
    struct job *j; /* queued; NULL: running on worker */
    uint64_t id;
    unsigned worker;
    pid_t tgid; /* its queue is looked up again under the lock: it may be gone by then */
    int listener;
    pid_t tid;
};

/* Take @j out of its queue if it is still queued there. Locked. Return: whether it was. */
static bool unqueue(struct pool *p, struct proc_queue *q, struct job *j, uint64_t id)
{
    struct job **jp = &q->head, *prev = NULL;

    while (*jp && *jp != j) {
        prev = *jp;
        jp = &(*jp)->next;
    }
    if (!*jp || j->id != id)
        return false;
    *jp = j->next;
    if (q->tail == j)
        q->tail = prev;
    q->queued--;
    p->n_queued--;
    if (!q->queued && q->ready) {
        struct proc_queue **rp = &p->ready_head, *last = NULL;

        while (*rp != q) {
            last = *rp;
            rp = &(*rp)->next_ready;
        }
        *rp = q->next_ready;
        if (p->ready_tail == q)
            p->ready_tail = last;
        q->ready = false;
    }
    return true;
}

/* Whether a call received at @start_ns is due a look at @now; if so, when the next one is. */
static bool due(uint64_t *watch_ns, uint64_t start_ns, uint64_t now)
{
    if (*watch_ns > now)
        return false;
    *watch_ns = now + (uint64_t)emu_signal_poll_ms(now - start_ns) * 1000000u;
    return true;
}

/* Snapshot up to WATCH_BATCH calls due a look, running ones first (they hold a worker).
 * Locked. */
static unsigned watch_snapshot(struct pool *p, uint64_t now, struct watched *w)
{
    unsigned n = 0;

    for (unsigned k = 0; k < p->n_workers && n < WATCH_BATCH; k++) {
        struct worker *wk = &p->workers[k];

        if (wk->busy && due(&wk->watch_ns, wk->start_ns, now))
            w[n++] = (struct watched){
                .worker = k, .listener = wk->listener, .id = wk->id, .tid = wk->tid};
    }
    for (unsigned i = 0; i < PQ_BUCKETS && n < WATCH_BATCH; i++)
        for (struct proc_queue *q = p->hash[i]; q && n < WATCH_BATCH; q = q->next_hash)
            for (struct job *j = q->head; j && n < WATCH_BATCH; j = j->next)
                if (due(&j->watch_ns, j->start_ns, now))
                    w[n++] = (struct watched){.j = j,
                                              .tgid = q->tgid,
                                              .listener = j->listener,
                                              .id = j->id,
                                              .tid = j->tid};
    return n;
}

/* One pass: snapshot the calls due a look under the lock, read their callers' status without
 * it, then act on the interrupted ones and those whose caller is gone. */
static void watch_once(struct pool *p)
{
    struct watched w[WATCH_BATCH];
    uint64_t now = emu_now_ns();
    unsigned n;

    pthread_mutex_lock(&p->lock);
    n = watch_snapshot(p, now, w);
    pthread_mutex_unlock(&p->lock);

    for (unsigned i = 0; i < n; i++) {
        struct proc_queue *q;
        bool taken;
        /* A failure of our own (EMFILE opening the status file) says nothing about the caller:
         * leave the call as it is. */
        int pending = sigwatch_check(p->sigwatch, w[i].listener, w[i].id, w[i].tid, now);

        if (pending == 0 || (pending < 0 && pending != -ESRCH))
            continue;
        if (!w[i].j) {
            /* The worker looks for itself (its own status file) and ends its wait; if it has
             * moved on to another call by now, it finds nothing and waits on. */
            (void)eventfd_write(p->workers[w[i].worker].scratch.wake, 1);
            continue;
        }
        pthread_mutex_lock(&p->lock);
        q = pq_find(p, w[i].tgid);
        taken = q && unqueue(p, q, w[i].j, w[i].id);
        if (taken)
            pq_put(p, q);
        pthread_mutex_unlock(&p->lock);
        if (!taken)
            continue; /* a worker took it meanwhile: it is watched as a running call now */
        /* -ERESTARTSYS becomes a restart (SA_RESTART) or EINTR on the way out of the kernel;
         * a caller that is gone makes the reply fail with ENOENT, which is routine. */
        notify_reply(p->b, w[i].j, -ERESTARTSYS_, "errno");
        job_release(p->b, w[i].j);
    }
}

static void *watcher_main(void *arg)
{
    struct pool *p = arg;
    uint64_t swept = emu_now_ns();

    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct timespec until;
        uint64_t now;
        bool busy;

        (void)clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WATCH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&p->watch, &p->lock, &until);
        if (p->stopping)
            break;
        busy = p->n_queued || p->n_busy;
        pthread_mutex_unlock(&p->lock);
        if (busy)
            watch_once(p);
        now = emu_now_ns();
        if (now - swept >= WATCH_STALE_NS) {
            sigwatch_sweep(p->sigwatch, now, WATCH_STALE_NS);
            swept = now;
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_new(struct mmsg_broker *b, unsigned max_workers, struct pool **ret)
{
    struct pool *p;

    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->b = b;
    p->max_workers = max_workers;
    /* A process may hold a quarter of the pool, at least two workers: enough for a service's
     * own concurrency, and four processes' worth remains for everyone else. */
    p->share = max_workers / 4 > 2 ? max_workers / 4 : 2;
    p->workers = calloc(max_workers, sizeof(*p->workers));
    if (!p->workers || sigwatch_new(&p->sigwatch) < 0) {
        free(p->workers);
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->watch, NULL);
    *ret = p;
    return 0;
}

int pool_submit(struct pool *p, struct job *j)
{
    pid_t tgid = tgid_cached(p, j->tid);
    struct proc_queue *q;
    int r = 0;

    pthread_mutex_lock(&p->lock);
    if (!p->watcher_started) {
        r = -broker_thread_create(&p->watcher, NULL, watcher_main, p);
        if (r < 0) {
            pthread_mutex_unlock(&p->lock);
            return r;
        }
        p->watcher_started = true;
    }
    q = p->stopping ? NULL : pq_get(p, tgid);
    if (!q) {
        pthread_mutex_unlock(&p->lock);
        return -EAGAIN;
    }
    j->pq = q;
    j->next = NULL;
    /* The watcher's first look at its caller (as a queued or a running call). */
    j->watch_ns = j->start_ns + (uint64_t)emu_signal_poll_ms(0) * 1000000u;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->queued++;
    p->n_queued++;
    make_ready(p, q);
    if (q->ready)
        grow(p);
    if (p->n_workers == 0) {
        /* Nobody will ever take it. */
        q->head = q->tail = NULL;
        q->queued = 0;
        q->ready = false;
        p->n_queued = 0;
        p->ready_head = p->ready_tail = NULL;
        pq_put(p, q);
        pthread_mutex_unlock(&p->lock);
        return -EAGAIN;
    }
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

struct pool *pool_free(struct pool *p)
{
    struct job *left = NULL;

    if (!p)
        return NULL;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    /* Calls nobody took yet: answered fail-closed below, as a closed listener would. */
    for (unsigned i = 0; i < PQ_BUCKETS; i++)
        for (struct proc_queue *q = p->hash[i]; q; q = q->next_hash) {
            while (q->head) {
                struct job *j = q->head;

                q->head = j->next;
                j->next = left;
                left = j;
            }
            q->tail = NULL;
            q->queued = 0;
            q->ready = false;
        }
    p->ready_head = p->ready_tail = NULL;
    p->n_queued = 0;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->watch);
    /* Waiting workers sleep until their socket, their deadline or this. */
    for (unsigned i = 0; i < p->n_workers; i++)
        (void)eventfd_write(p->workers[i].scratch.wake, 1);
    pthread_mutex_unlock(&p->lock);
    while (left) {
        struct job *j = left;

        left = j->next;
        notify_reply(p->b, j, -ENOSYS, "errno");
        job_release(p->b, j);
    }
    /* Running emulations are woken above, see b->stopping and answer ENOSYS. A
     * worker stuck in a read of a page its caller never lets fault in (userfaultfd) cannot be
     * interrupted: after a second it is left behind, so shutdown stays bounded; closing the
     * listeners then fails its call with ENOSYS, and the process is about to exit. */
    {
        struct timespec deadline;
        bool stuck = false;

        (void)clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        for (unsigned i = 0; i < p->n_workers; i++) {
            if (pthread_timedjoin_np(p->workers[i].thread, NULL, &deadline) != 0) {
                stuck = true;
                continue;
            }
            emu_scratch_done(&p->workers[i].scratch);
        }
        if (p->watcher_started && pthread_timedjoin_np(p->watcher, NULL, &deadline) != 0)
            stuck = true;
        if (stuck) {
            log_warning("a worker did not stop within 1 s (stuck reading caller memory); "
                        "leaving it behind");
            return NULL; /* the pool stays allocated for the thread still using it */
        }
    }
    for (unsigned i = 0; i < PQ_BUCKETS; i++)
        while (p->hash[i]) {
            struct proc_queue *q = p->hash[i];

            p->hash[i] = q->next_hash;
            free(q);
        }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->watch);
    p->sigwatch = sigwatch_free(p->sigwatch);
    free(p->workers);
    free(p);
    return NULL;
}
