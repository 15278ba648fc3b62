/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Calls run on the loop thread itself, within a time budget. Handing every call that needs its
 * caller to a worker costs a thread wake-up (and a cross-CPU one when the worker sleeps on the
 * other CPU: 60-115 us here), so the thread that received a call carries it out, as long as
 * that takes at most INLINE_BUDGET_MS. A caller can make any access to its memory stall (a page
 * behind userfaultfd or its own FUSE mount): the watchdog then gives the loop role to a fresh
 * thread, so the other callers wait at most the budget, and the stalled thread finishes its one
 * call and exits. A process that stalled the loop once has its calls go to the pool from then
 * on (its own share of workers), and at most MAX_DEMOTED stalled threads exist at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "core.h"

#define LOG_COMPONENT "inline"
#include "log.h"

#define INLINE_BUDGET_MS 2
/* A call that keeps a CPU busy (a huge vlen, thousands of iovecs) rather than sleeping gets a
 * little longer, counted in the CPU time it used (on a loaded machine a normal call can be
 * preempted for a while), and so does one waiting for a lock of ours. Whatever it does,
 * INLINE_WALL_MAX_MS ends it on the loop. */
#define INLINE_BUDGET_RUNNING_MS 10
#define INLINE_WALL_MAX_MS 500
#define WATCH_INTERVAL_US 1000
/* Samples further apart than this say the machine ran not even the watchdog: what the loop
 * thread did in between is unknown, and a sleep seen before does not count as continuing. */
#define WATCH_GAP_MAX_NS (3 * 1000000ull)
/* The watchdog only ticks while calls run inline; after this long without one it sleeps. */
#define WATCH_IDLE_NS (200 * 1000000ull)
#define MAX_DEMOTED 16
#define KICK_INTERVAL_NS 2000000L

static struct ratelimit inline_rl = RATELIMIT_INIT(10000, 5);

/* The loop thread's own state: its scratch buffers and its incarnation. */
static __thread struct emu_scratch *tl_scratch;
static __thread unsigned tl_gen;
static __thread bool tl_demoted;

bool inline_demoted(void)
{
    return tl_demoted;
}

bool inline_run(struct mmsg_broker *b, struct job *j)
{
    struct inline_state *in = &b->in;
    bool demoted;

    if (!tl_scratch || !pool_inline_ok(b->pool, j->tid))
        return false;
    pthread_mutex_lock(&in->lock);
    if (in->n_demoted >= MAX_DEMOTED) {
        pthread_mutex_unlock(&in->lock);
        return false;
    }
    in->active = true;
    __atomic_store_n(&in->call_done, false, __ATOMIC_RELAXED);
    in->start_ns = emu_now_ns();
    in->last_ns = in->start_ns;
    in->tid = j->tid;
    if (in->watchdog_idle)
        pthread_cond_signal(&in->wake);
    pthread_mutex_unlock(&in->lock);

    j->may_wait = false; /* a call that must wait goes to the pool, having taken nothing */
    notify_handle(b, j, tl_scratch);
    /* Done, said before taking the lock: the watchdog may hold it (and be preempted holding
     * it), and must not take this thread's wait for it for a stuck call. */
    __atomic_store_n(&in->call_done, true, __ATOMIC_RELEASE);

    pthread_mutex_lock(&in->lock);
    demoted = tl_gen != in->gen;
    if (!demoted)
        in->active = false;
    else
        in->n_demoted--; /* this thread is done with the call it was stuck in */
    pthread_mutex_unlock(&in->lock);
    tl_demoted = demoted;
    return true;
}

/* The set of LOOP_KICK_SIGNAL alone. */
static const sigset_t *kick_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, LOOP_KICK_SIGNAL);
    return set;
}

static void *loop_thread(void *arg)
{
    struct mmsg_broker *b = arg;
    struct emu_scratch *s = calloc(1, sizeof(*s));
    struct inline_state *in = &b->in;

    if (s && emu_scratch_init(s) >= 0) {
        s->stop = &b->stopping;
        tl_scratch = s;
    }
    pthread_mutex_lock(&in->lock);
    tl_gen = in->gen;
    in->loop_thread = pthread_self();
    in->loop_tid = gettid(); /* read by the watchdog, like loop_thread, under in->lock */
    in->loop_alive = true;
    pthread_mutex_unlock(&in->lock);

    /* Each returns when serving ends, or when this thread lost the role. */
    if (b->direct) {
        sigset_t kick;

        (void)pthread_sigmask(SIG_UNBLOCK, kick_set(&kick), NULL); /* cannot fail */
        loop_run_direct(b);
    } else {
        loop_run(b);
    }

    pthread_mutex_lock(&in->lock);
    if (pthread_equal(in->loop_thread, pthread_self()))
        in->loop_alive = false; /* from here on it may be gone: no more kicks */
    if (!tl_demoted) {
        in->done = true;
        pthread_cond_broadcast(&in->wake);
        pthread_cond_broadcast(&in->finished);
    }
    pthread_mutex_unlock(&in->lock);
    if (tl_scratch) {
        emu_scratch_done(tl_scratch);
        tl_scratch = NULL;
    }
    free(s);
    return NULL;
}

int broker_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    sigset_t kick, old;
    int r;

    (void)pthread_sigmask(SIG_BLOCK, kick_set(&kick), &old); /* cannot fail with a valid set */
    r = pthread_create(t, attr, fn, arg);
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

static int start_loop_thread(struct mmsg_broker *b)
{
    pthread_attr_t attr;
    pthread_t t;
    int r;

    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    r = -broker_thread_create(&t, &attr, loop_thread, b);
    (void)pthread_attr_destroy(&attr);
    return r;
}

/* Read /proc/self/task/@tid/@name into @buf. Return: false when it cannot be read. */
static bool read_task(pid_t tid, const char *name, char *buf, size_t size)
{
    char path[64];
    ssize_t n;
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, size - 1);
    (void)close(fd); /* read-only */
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

enum sleep { RUNNING, SLEEPS_ON_LOCK, SLEEPS };

/* Why a call was taken for stuck, for the warning. */
enum stuck { NOT_STUCK, STUCK_WALL, STUCK_CPU, STUCK_SLEEP };

/* Whether thread @tid of this process sleeps (in a page fault its caller holds up, say) rather
 * than runs or waits for a CPU: a loaded machine makes a call slow without it being stuck, and
 * only a stuck one is worth a new thread. A sleep in futex() is a wait for one of our own locks:
 * held by a worker the machine has not run yet, or by a thread a caller stalls while it holds
 * a socket's lock (emulate.c): worth a new thread too, only later. */
static enum sleep sleeping(pid_t tid, long *ret_syscall)
{
    char buf[256], *paren;

    *ret_syscall = -1;
    if (!read_task(tid, "stat", buf, sizeof(buf)))
        return RUNNING;
    /* "tid (comm) S ...": the comm may hold anything, the state follows its last ')'. */
    paren = strrchr(buf, ')');
    if (!paren || paren[1] != ' ' || (paren[2] != 'S' && paren[2] != 'D'))
        return RUNNING;
    /* "syscall": the number of the system call it sleeps in, first. */
    if (!read_task(tid, "syscall", buf, sizeof(buf)))
        return SLEEPS;
    *ret_syscall = strtol(buf, NULL, 10);
    return *ret_syscall == SYS_futex ? SLEEPS_ON_LOCK : SLEEPS;
}

/* The CPU time the loop thread has used, in ns; 0 when it cannot be read. Under in->lock, with
 * in->loop_alive: the thread exists. */
static uint64_t loop_cpu_ns(const struct inline_state *in)
{
    struct timespec ts;
    clockid_t clock;

    if (!in->loop_alive || pthread_getcpuclockid(in->loop_thread, &clock) != 0 ||
        clock_gettime(clock, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the call running inline is stuck, at @now: it has slept for its caller through
 * INLINE_BUDGET_MS / 2 of samples (from INLINE_BUDGET_MS on), or on a lock of ours through
 * INLINE_BUDGET_RUNNING_MS, or was seen asleep in samples in a row for that long in all, or
 * has used the CPU for INLINE_BUDGET_RUNNING_MS (a huge vlen,
 * thousands of iovecs), or has been running at all for INLINE_WALL_MAX_MS. A sleep counts
 * only as seen in samples in a row, close together, between which the thread used no CPU:
 * a call the machine merely has not run (1,000 runnable callers on 2 CPUs, or a real-time
 * task on its CPU, can keep it waiting for tens of ms), then caught in a brief sleep, is none
 * of these. Demoting it would send all of its process's calls to the pool for good. */
static enum stuck stuck(struct inline_state *in, uint64_t now)
{
    uint64_t cpu, wall, asleep;
    bool continued;
    enum sleep z;

    if (!in->active || __atomic_load_n(&in->call_done, __ATOMIC_ACQUIRE))
        return NOT_STUCK;
    if (in->cpu_call != in->start_ns) {
        /* First look at this call (at most a tick after it started): its CPU clock from here. */
        in->cpu_call = in->start_ns;
        in->cpu_start = loop_cpu_ns(in);
        in->sleep_kind = RUNNING;
        in->asleep_total = 0;
    }
    wall = now - in->start_ns;
    if (wall < INLINE_BUDGET_MS * 1000000ull / 2)
        return NOT_STUCK;
    if (wall >= INLINE_WALL_MAX_MS * 1000000ull)
        return STUCK_WALL;
    cpu = loop_cpu_ns(in);
    if (cpu && in->cpu_start && cpu - in->cpu_start >= INLINE_BUDGET_RUNNING_MS * 1000000ull)
        return STUCK_CPU;
    z = sleeping(in->loop_tid, &in->sleep_syscall);
    if (__atomic_load_n(&in->call_done, __ATOMIC_ACQUIRE))
        return NOT_STUCK; /* it finished meanwhile: its sleep is on our lock */
    /* Short stalls one after the other (a caller's pages each held a little under a sample
     * apart) never make one continuous sleep: they add up instead. */
    if (z != RUNNING && in->sleep_kind != RUNNING && now - in->last_sample <= WATCH_GAP_MAX_NS)
        in->asleep_total += now - in->last_sample;
    if (in->asleep_total >= INLINE_BUDGET_RUNNING_MS * 1000000ull) {
        in->sleep_since = now - in->asleep_total; /* the warning says how long in all */
        return STUCK_SLEEP;
    }
    continued = z != RUNNING && (int)z == in->sleep_kind && cpu == in->sleep_cpu &&
                now - in->last_sample <= WATCH_GAP_MAX_NS;
    in->last_sample = now;
    if (!continued) {
        in->sleep_kind = (int)z;
        in->sleep_since = now;
        in->sleep_cpu = cpu;
        return NOT_STUCK;
    }
    asleep = now - in->sleep_since;
    if (z == SLEEPS)
        return wall >= INLINE_BUDGET_MS * 1000000ull && asleep >= INLINE_BUDGET_MS * 1000000ull / 2
                   ? STUCK_SLEEP
                   : NOT_STUCK;
    return asleep >= INLINE_BUDGET_RUNNING_MS * 1000000ull ? STUCK_SLEEP : NOT_STUCK;
}

static void *watchdog_main(void *arg)
{
    struct mmsg_broker *b = arg;
    struct inline_state *in = &b->in;

    pthread_mutex_lock(&in->lock);
    while (!in->done) {
        uint64_t now = emu_now_ns();

        enum stuck why = stuck(in, now);

        if (why != NOT_STUCK && start_loop_thread(b) >= 0) {
            pid_t tid = in->tid;
            long sys = in->sleep_syscall;
            uint64_t ms = (now - (why == STUCK_SLEEP ? in->sleep_since : in->start_ns)) / 1000000;

            /* The stuck thread keeps its call; a fresh one takes the loop. */
            pool_mark_staller(b->pool, tid);
            in->gen++;
            in->active = false;
            in->n_demoted++;
            /* Not under the lock: stderr may be the caller's, and it can hold a write. */
            pthread_mutex_unlock(&in->lock);
            if (ratelimit_below(&inline_rl)) {
                if (why == STUCK_SLEEP)
                    log_warning("a call from %d ran over its budget on the loop: asleep for %llu "
                                "ms in system call %ld; serving its process apart",
                                (int)tid, (unsigned long long)ms, sys);
                else
                    log_warning("a call from %d ran over its budget on the loop: %s for %llu ms; "
                                "serving its process apart",
                                (int)tid, why == STUCK_CPU ? "on the CPU" : "running",
                                (unsigned long long)ms);
            }
            pthread_mutex_lock(&in->lock);
            continue;
        }
        if (!in->active && now - in->last_ns > WATCH_IDLE_NS) {
            in->watchdog_idle = true;
            pthread_cond_wait(&in->wake, &in->lock);
            in->watchdog_idle = false;
            continue;
        }
        pthread_mutex_unlock(&in->lock);
        (void)usleep(WATCH_INTERVAL_US);
        pthread_mutex_lock(&in->lock);
    }
    pthread_mutex_unlock(&in->lock);
    return NULL;
}

/* The kick only interrupts NOTIF_RECV: no SA_RESTART. */
static void on_kick(int sig)
{
    (void)sig;
}

bool inline_stopping(struct mmsg_broker *b)
{
    return __atomic_load_n(&b->in.stop, __ATOMIC_ACQUIRE);
}

void inline_stop(struct mmsg_broker *b)
{
    struct inline_state *in = &b->in;

    pthread_mutex_lock(&in->lock);
    __atomic_store_n(&in->stop, true, __ATOMIC_RELEASE);
    while (!in->done) {
        struct timespec until;

        /* Again and again until it has gone: a kick that lands just before the thread enters
         * RECV is lost. A thread stuck in a call is replaced by the watchdog, and the new one
         * sees the flag at once. */
        if (in->loop_alive)
            (void)pthread_kill(in->loop_thread, LOOP_KICK_SIGNAL);
        (void)clock_gettime(CLOCK_MONOTONIC, &until); /* in->finished waits on it */
        until.tv_nsec += KICK_INTERVAL_NS;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        (void)pthread_cond_timedwait(&in->finished, &in->lock, &until);
    }
    pthread_mutex_unlock(&in->lock);
}

int inline_serve(struct mmsg_broker *b)
{
    struct inline_state *in = &b->in;
    pthread_t watchdog;
    int r;

    if (b->direct) {
        struct sigaction sa = {.sa_handler = on_kick};

        /* Process-wide: the one before is given back when serving ends (library users). */
        if (sigaction(LOOP_KICK_SIGNAL, &sa, &in->old_kick) < 0)
            return -errno;
    }
    r = -broker_thread_create(&watchdog, NULL, watchdog_main, b);
    if (r < 0)
        return r;
    r = start_loop_thread(b);
    if (r >= 0 && b->direct) {
        /* The loop role waits in RECV; this thread takes the signals and the hang-up. */
        loop_run(b);
        inline_stop(b);
    }
    pthread_mutex_lock(&in->lock);
    if (r < 0) {
        in->done = true;
        pthread_cond_broadcast(&in->wake);
    }
    while (!in->done)
        pthread_cond_wait(&in->finished, &in->lock);
    pthread_mutex_unlock(&in->lock);
    (void)pthread_join(watchdog, NULL);
    if (b->direct)
        (void)sigaction(LOOP_KICK_SIGNAL, &in->old_kick, NULL); /* cannot fail: it was set */
    return r;
}

void inline_init(struct inline_state *in)
{
    *in = (struct inline_state){0};
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->wake, NULL);
    {
        pthread_condattr_t ca;

        /* inline_stop() waits on it with a timeout: immune to the wall clock's steps. */
        (void)pthread_condattr_init(&ca);
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&in->finished, &ca);
        (void)pthread_condattr_destroy(&ca);
    }
}

bool inline_busy(struct mmsg_broker *b)
{
    bool busy;

    pthread_mutex_lock(&b->in.lock);
    busy = b->in.n_demoted > 0;
    pthread_mutex_unlock(&b->in.lock);
    return busy;
}
