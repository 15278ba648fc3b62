/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's shared state (not installed): listeners, jobs (one per notification in flight)
 * and the worker pool, as the event loop (loop.c), the notification path (notify.c, decode.c,
 * inputs.c, enforce.c) and the pool (pool.c) see them. */
#ifndef MMSG_BROKER_CORE_H
#define MMSG_BROKER_CORE_H

#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit.h"
#include "emulate.h"
#include "mmsgate/broker.h"
#include "policy-store.h"
#include "remote.h"

#define CONTAINER_ID_MAX 128
#define BUNDLE_MAX 512

/* One listener fd. Allocated once and recycled, never moved or freed while the broker lives, so
 * an epoll event or a job may point at it. A listener that hung up stays open while jobs still
 * answer on it, so a late reply never goes to a closed (or reused) fd number. */
struct listener {
    int fd;          /* -1: free slot; written only under the lock */
    unsigned n_jobs; /* under the lock */
    bool hung_up;    /* set by the loop thread only */
    bool in_use;
    struct listener *next_free;
    char policy_name[POLICY_NAME_MAX]; /* "" : the default policy */
    char container_id[CONTAINER_ID_MAX];
    char bundle[BUNDLE_MAX];
    pid_t init_pid;
    /* SYNC_WAKE_UP, adapted by the loop role (loop.c adapt_wake()) */
    bool sync_ok, sync_on;
    pid_t sync_last_tid;
    unsigned sync_calls, sync_switches;
};

struct proc_queue;

/* Everything the broker knows about one notification. */
struct job {
    struct job *next; /* free list / per-process queue */
    struct listener *lst;
    struct loaded_policy *pol; /* the policy that decides this call (a reference) */
    int listener;              /* lst->fd, captured when received */
    uint64_t id;
    pid_t tid;
    struct seccomp_data data; /* the registers, as received */
    struct proc_queue *pq;    /* while queued or running in the pool */

    struct remote remote;
    struct emu_call call;
    struct mmsg_call mcall; /* what the policy sees */
    bool decoded, decided;
    bool not_enforced; /* complain mode: the decision is audited, the call proceeds */
    bool may_wait;     /* false: run inline, a call that would wait goes to the pool */
    bool capped;       /* the emulation's cap ended a wait */
    int sockfd;        /* our duplicate, or -errno */
    struct mmsg_decision decision;
    struct emu_caps caps;
    uint64_t start_ns; /* CLOCK_MONOTONIC at receipt: caps count from here */
    uint64_t wall_ns;  /* CLOCK_REALTIME at receipt */
    uint64_t watch_ns; /* queued: when the pool's watcher looks at its caller next */
    struct audit_record rec;
    struct remote_identity ident;
    bool ident_known;
};

struct pool;
struct agent;

/* inline.c: the loop role and its watchdog. Under lock. */
struct inline_state {
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* the watchdog, idle */
    pthread_cond_t finished; /* serving ended */
    unsigned gen;            /* incarnation of the loop role */
    bool active;             /* a call runs inline on the loop thread */
    bool call_done;          /* ...and has finished (atomic: set before taking the lock) */
    uint64_t start_ns;       /* since when */
    uint64_t last_ns;        /* the last inline call's start */
    pid_t tid;               /* its caller */
    pid_t loop_tid;          /* the thread holding the loop role (loop_thread) */
    unsigned n_demoted;      /* threads that lost the role and still finish their call */
    bool watchdog_idle, done;
    uint64_t cpu_call, cpu_start; /* the watchdog's: the call (start_ns) and its CPU clock then */
    /* The watchdog's samples of that call: the last one's time, and since when (and at what
     * CPU clock) the loop thread has been seen asleep, of which kind, without running. */
    uint64_t last_sample, sleep_since, sleep_cpu;
    uint64_t asleep_total; /* the time between two samples in a row that both saw a sleep */
    int sleep_kind;
    long sleep_syscall;    /* the system call it was last seen asleep in; -1: none known */
    pthread_t loop_thread; /* the thread holding the loop role, while loop_alive */
    bool loop_alive;
    bool stop;                 /* direct receiving ends (inline_stop()); read without the lock */
    struct sigaction old_kick; /* LOOP_KICK_SIGNAL's action before serving */
};

/* What serving keeps between loop incarnations (loop.c). */
struct serve_state {
    int sigfd;
    pid_t child;
    bool child_done, terminated;
    int child_status;
    int result;
};

/* The loop's adaptive busy-poll (--busy-poll): its budget and the recent gaps between calls. */
struct busy_poll {
    uint64_t budget_ns; /* 0: off */
    uint64_t gap_ns;    /* moving average of the time the loop waited for its next event */
    uint64_t spins, spin_hits;
};

struct mmsg_broker {
    struct policy_store *store; /* borrowed (options), or owned when own_store */
    bool own_store;
    struct loaded_policy fixed; /* options.policy when there is no store; never freed */
    bool complain;
    struct stats *stats;
    struct learn *learn; /* learn_observe() is not thread-safe: under learn_lock */
    pthread_mutex_t learn_lock;
    struct audit *audit;
    bool audit_all;
    int epfd;
    struct agent *agent; /* OCI listenerPath socket and its peers (agent.c); NULL: none */
    struct seccomp_notif_sizes sizes;
    struct seccomp_notif *req;

    pthread_mutex_t lock; /* listeners' fd/n_jobs, the job free list */
    struct listener **listeners;
    unsigned n_alloc, n_listeners; /* slots allocated; listeners not hung up */
    struct listener *free_listeners;
    struct job *jobs;
    struct job *free_jobs;

    struct listener *direct; /* the one listener, served by RECV alone (loop_run_direct()) */
    struct pool *pool;
    volatile bool stopping; /* read by emulations waiting for data */
    bool handed_over;       /* the agent gave every listener to a newer agent */
    struct inline_state in;
    struct serve_state serve;
    struct busy_poll busy;
};

#define MAX_JOBS 4096
/* Interrupts the loop role's NOTIF_RECV (inline_stop()); blocked by mmsg_signals_block(). */
#define LOOP_KICK_SIGNAL (SIGRTMIN + 2)
#define MAX_LISTENERS 4096

/* notify.c: the notification path. On the loop thread (@s NULL) it decides what registers
 * decide and hands the rest to the pool; on a worker it runs to the end. */
void notify_handle(struct mmsg_broker *b, struct job *j, struct emu_scratch *s);
/* Answer @j with @ret (>= 0 a count, < 0 an errno) and write its audit record. */
void notify_reply(struct mmsg_broker *b, struct job *j, int64_t ret, const char *enforcement);
/* Give @j's resources back (called once per job, after its answer). */
void job_release(struct mmsg_broker *b, struct job *j);

/* decode.c: the call from its registers. Return: false for a route mmsgate does not serve. */
bool decode_registers(const struct seccomp_data *d, struct emu_call *ret);
/* Fill @call with the register inputs of @c (all of them but the route for socketcall only once
 * its arguments are read). */
void decode_call(const struct emu_call *c, struct mmsg_call *call);
/* The inputs that are registers on @sys's route. */
unsigned decode_register_inputs(enum mmsg_syscall sys);

/* inputs.c: open the caller and read, once and in a fixed order, every input @j's policy needs.
 * Return: 0; -ENOENT (the call is gone); -EFAULT (socketcall arguments unreadable); -errno. */
int inputs_fetch(struct mmsg_broker *b, struct job *j);
/* Who made the call, for an audit record that will be written. */
void inputs_identity(struct mmsg_broker *b, struct job *j);

/* enforce.c: carry out @j's decision. Return: the answer (count or -errno), with
 * @ret_enforcement; INT64_MIN when the decision was answered already (CONTINUE, kill). */
int64_t enforce_decision(struct mmsg_broker *b, struct job *j, struct emu_scratch *s,
                         const char **ret_enforcement);

/* loop.c: the event loop, run by whichever thread holds the loop role; with b->direct, the
 * serving thread runs it for signals and the hang-up, and the loop role runs
 * loop_run_direct(). */
void loop_run(struct mmsg_broker *b);
void loop_run_direct(struct mmsg_broker *b);

/* inline.c */
void inline_init(struct inline_state *in);
/* Run @j on this loop thread within the budget. Return: false when it may not (then the pool
 * takes it); true when it ran (answered, or handed to the pool from within). */
bool inline_run(struct mmsg_broker *b, struct job *j);
/* Whether this thread lost the loop role while running a call inline. */
bool inline_demoted(void);
/* Start the watchdog and the first loop thread; return when serving ends. */
int inline_serve(struct mmsg_broker *b);
/* Whether a thread that lost the loop role is still finishing its call. */
bool inline_busy(struct mmsg_broker *b);
/* pthread_create() with LOOP_KICK_SIGNAL blocked in the new thread: only the loop role takes
 * it (a thread created by the loop thread would inherit its unblocked mask). */
int broker_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
/* Direct receiving (b->direct): whether it is to end; end it, kicking the loop role out of
 * NOTIF_RECV, and return once no thread holds the role. */
bool inline_stopping(struct mmsg_broker *b);
void inline_stop(struct mmsg_broker *b);

/* pool.c: workers shared fairly per process. */
int pool_new(struct mmsg_broker *b, unsigned max_workers, struct pool **ret);
/* Queue @j for its process; never blocks. Return: 0; -EAGAIN (nobody can take it). */
int pool_submit(struct pool *p, struct job *j);
/* Whether @tid's process may have calls run inline (it never stalled the loop). */
bool pool_inline_ok(struct pool *p, pid_t tid);
/* @tid's process stalled the loop: its calls go to its share of workers from now on. */
void pool_mark_staller(struct pool *p, pid_t tid);
/* Answer every queued call fail-closed, end waits, join the workers. */
struct pool *pool_free(struct pool *p);

#endif
