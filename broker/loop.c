/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event loop: one epoll loop receives every notification from every listener and runs the
 * notification path (notify.c) up to the point where it would touch the caller; the pool
 * (pool.c) does the rest. Also here: the listener table, the job slots, the agent socket,
 * signals, and the broker's lifecycle. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "core.h"
#include "kernel.h"
#include "kfeatures.h"
#include "sandbox.h"
#include "stats.h"

#define LOG_COMPONENT "loop"
#include "log.h"

static struct ratelimit loop_rl = RATELIMIT_INIT(5000, 10);

/* epoll tags that are not listeners. */
static char tag_signals, tag_agent;

/* The signals serve() takes through its signalfd: forwarded to the child (or ending serve and
 * agent), and SIGCHLD. */
static void served_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGCHLD);
    sigaddset(set, MMSG_SIGNAL_RELOAD);
    sigaddset(set, MMSG_SIGNAL_STATS);
}

int mmsg_signals_block(void)
{
    sigset_t set;

    served_signals(&set);
    /* A closed audit pipe must be an EPIPE to report, not a signal that kills the broker. */
    sigaddset(&set, SIGPIPE);
    /* Only the loop role takes its kick (inline.c). */
    sigaddset(&set, LOOP_KICK_SIGNAL);
    return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- jobs --------------------------------------------------------------------------------- */

void job_release(struct mmsg_broker *b, struct job *j)
{
    struct listener *lst = j->lst;

    if (j->sockfd >= 0)
        (void)close(j->sockfd); /* our duplicate; the caller's fd is unaffected */
    remote_close(&j->remote);
    j->pol = loaded_policy_unref(j->pol);
    pthread_mutex_lock(&b->lock);
    if (lst && --lst->n_jobs == 0 && lst->hung_up && lst->fd >= 0) {
        (void)close(lst->fd); /* nothing to do about it; the kernel side is gone already */
        lst->fd = -1;
        lst->next_free = b->free_listeners;
        b->free_listeners = lst;
    }
    j->lst = NULL;
    j->next = b->free_jobs;
    b->free_jobs = j;
    pthread_mutex_unlock(&b->lock);
}

static struct job *job_new(struct mmsg_broker *b, struct listener *lst)
{
    struct job *j;

    pthread_mutex_lock(&b->lock);
    j = b->free_jobs;
    if (j) {
        b->free_jobs = j->next;
        lst->n_jobs++;
    }
    pthread_mutex_unlock(&b->lock);
    if (!j)
        return NULL;
    *j = (struct job){.lst = lst, .listener = lst->fd, .remote = REMOTE_NULL, .sockfd = -EBADF};
    return j;
}

/* A new reference to the policy deciding @lst's calls; NULL when its name does not resolve. */
static struct loaded_policy *policy_for(struct mmsg_broker *b, const struct listener *lst)
{
    struct loaded_policy *p = NULL;

    if (!b->store)
        return lst->policy_name[0] ? NULL : loaded_policy_ref(&b->fixed);
    if (policy_store_get(b->store, lst->policy_name[0] ? lst->policy_name : NULL, &p) < 0)
        return NULL;
    return p;
}

/* SYNC_WAKE_UP wakes each side of a round trip on the other's CPU. With one caller that is a
 * ping-pong on one CPU, the fastest there is; with many, every answered caller is pulled onto
 * the broker's CPU, where they all queue while the other CPUs idle: 100 callers made 15.7k
 * calls/s with it and 29.4k without, the broker getting 66% of a CPU instead of 98%. So it is
 * on while the calls come mostly from one thread after another, off while callers alternate:
 * decided over each SYNC_WINDOW calls, one ioctl when it changes. */
#define SYNC_WINDOW 64
static void adapt_wake(struct listener *lst, pid_t tid)
{
    bool want;

    if (!lst->sync_ok)
        return;
    lst->sync_switches += tid != lst->sync_last_tid;
    lst->sync_last_tid = tid;
    if (++lst->sync_calls < SYNC_WINDOW)
        return;
    want = lst->sync_switches <= SYNC_WINDOW / 8;
    lst->sync_calls = lst->sync_switches = 0;
    if (want == lst->sync_on)
        return;
    if (kernel_notif_set_flags(lst->fd, want ? SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP : 0) < 0)
        lst->sync_ok = false; /* leave it as it is */
    else
        lst->sync_on = want;
}

/* Take the call just received into b->req: a job, the policy, the line (notify.c). */
static void take(struct mmsg_broker *b, struct listener *lst)
{
    struct job *j;

    adapt_wake(lst, (pid_t)b->req->pid);
    j = job_new(b, lst);

    if (!j) {
        /* Every job slot is held by a call in progress: refuse rather than wait. */
        (void)kernel_notif_reply(lst->fd, b->req->id, -EAGAIN, 0); /* ENOENT: gone anyway */
        if (ratelimit_below(&loop_rl))
            log_warning("%d calls in progress: refusing a call with EAGAIN", MAX_JOBS);
        return;
    }
    j->id = b->req->id;
    j->tid = (pid_t)b->req->pid;
    j->data = b->req->data;
    /* The policy this listener's calls are decided by, held for the whole call: a reload
     * never changes the policy under a call in flight. NULL: it does not resolve. */
    j->pol = policy_for(b, lst);
    notify_handle(b, j, NULL);
}

static void on_listener(struct mmsg_broker *b, struct listener *lst)
{
    int err;

    err = kernel_notif_recv(lst->fd, b->req, b->sizes.seccomp_notif);
    /* ENOENT: the caller went away between poll and RECV; EINTR: the next poll says again. */
    if (err == -ENOENT || err == -EINTR)
        return;
    if (err < 0) {
        log_error_errno(err, "receiving notification");
        return;
    }
    take(b, lst);
}

/* Whether every task using @fd's filter has exited. POLLHUP only: seccomp_notify_poll() says
 * POLLERR when a signal interrupts it taking the filter's lock. */
static bool hung_up(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

/* The loop role of a broker with one listener, no agent and no busy-poll (b->direct): it
 * waits for calls in NOTIF_RECV itself. Through epoll, each wake-up polls the listener, and
 * seccomp_notify_poll() walks the whole list of pending calls every time: with 1,000 callers
 * that walk was half the broker's CPU and tripled its cost per call. RECV takes the first
 * pending call without the walk. Signals and the listener's hang-up are the serving thread's
 * (loop_run() there, with the listener watched for EPOLLHUP only); it kicks this thread out of
 * RECV when serving ends (inline_stop()). */
void loop_run_direct(struct mmsg_broker *b)
{
    struct listener *lst = b->direct;

    while (!inline_stopping(b)) {
        int err = kernel_notif_recv(lst->fd, b->req, b->sizes.seccomp_notif);

        if (err == -EINTR)
            continue; /* a kick: see whether serving ends */
        if (err == -ENOENT) {
            /* Linux 6.6+ fails RECV at once when every task using the filter has exited
             * (recv_wait_event()): end the role rather than spin. Linux 6.1 blocks on. */
            if (hung_up(lst->fd))
                return;
            continue;
        }
        if (err < 0) {
            if (ratelimit_below(&loop_rl))
                log_error_errno(err, "receiving notification");
            (void)usleep(1000); /* never spin on an error */
            continue;
        }
        take(b, lst);
        /* The call ran over its budget here: a fresh thread has the role now. */
        if (inline_demoted())
            return;
    }
}

/* ---- listeners ---------------------------------------------------------------------------- */

static struct listener *listener_alloc(struct mmsg_broker *b)
{
    struct listener *lst;

    pthread_mutex_lock(&b->lock);
    lst = b->free_listeners;
    if (lst) {
        b->free_listeners = lst->next_free;
    } else if (b->n_alloc < MAX_LISTENERS) {
        if (b->n_alloc % 64 == 0) {
            struct listener **n =
                realloc(b->listeners, (b->n_alloc + 64) * sizeof(struct listener *));

            if (n)
                b->listeners = n;
            else
                n = NULL;
            if (!n) {
                pthread_mutex_unlock(&b->lock);
                return NULL;
            }
        }
        lst = calloc(1, sizeof(*lst));
        if (lst)
            b->listeners[b->n_alloc++] = lst;
    }
    pthread_mutex_unlock(&b->lock);
    return lst;
}

int mmsg_broker_add_listener_info(struct mmsg_broker *b, int listener_fd,
                                  const struct mmsg_listener_info *info)
{
    struct epoll_event ev = {.events = EPOLLIN};
    struct listener *lst;
    int r;

    lst = listener_alloc(b);
    if (!lst) {
        (void)close(listener_fd);
        return -EMFILE;
    }
    *lst = (struct listener){.fd = listener_fd, .in_use = true};
    if (info) {
        (void)snprintf(lst->policy_name, sizeof(lst->policy_name), "%s",
                       info->policy_name ? info->policy_name : "");
        (void)snprintf(lst->container_id, sizeof(lst->container_id), "%s",
                       info->container_id ? info->container_id : "");
        (void)snprintf(lst->bundle, sizeof(lst->bundle), "%s", info->bundle ? info->bundle : "");
        lst->init_pid = info->init_pid;
    }
    /* About 6 us instead of 40-50 us per round trip on a 2-vCPU VM: the woken caller runs on
     * our CPU. Optional: older kernels (< 6.6) just lack the speed-up. adapt_wake() turns it
     * off while many callers take turns. */
    r = kernel_notif_set_flags(listener_fd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    if (r < 0 && r != -EINVAL && r != -ENOTTY)
        log_debug_errno(r, "setting SYNC_WAKE_UP");
    lst->sync_ok = lst->sync_on = r >= 0;
    ev.data.ptr = lst;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, listener_fd, &ev) < 0) {
        r = -errno;
        pthread_mutex_lock(&b->lock);
        lst->fd = -1;
        lst->in_use = false;
        lst->next_free = b->free_listeners;
        b->free_listeners = lst;
        pthread_mutex_unlock(&b->lock);
        (void)close(listener_fd);
        return r;
    }
    b->n_listeners++;
    return 0;
}

int mmsg_broker_add_listener(struct mmsg_broker *b, int listener_fd)
{
    return mmsg_broker_add_listener_info(b, listener_fd, NULL);
}

/* Stop serving @lst: every task using its filter has exited (or it failed). It is closed once
 * no job needs it any more. */
static void remove_listener(struct mmsg_broker *b, struct listener *lst)
{
    (void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, lst->fd, NULL); /* closing removes it anyway */
    b->n_listeners--;
    pthread_mutex_lock(&b->lock);
    lst->hung_up = true;
    if (lst->n_jobs == 0) {
        (void)close(lst->fd);
        lst->fd = -1;
        lst->next_free = b->free_listeners;
        b->free_listeners = lst;
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- the OCI agent ------------------------------------------------------------------------ */

static int on_agent_listener(void *userdata, int fd, const struct mmsg_listener_info *info)
{
    return mmsg_broker_add_listener_info(userdata, fd, info);
}

int mmsg_broker_add_agent(struct mmsg_broker *b, const char *path)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_agent};
    int r;

    if (b->agent)
        return -EBUSY;
    r = agent_new(path, NULL, on_agent_listener, b, &b->agent);
    if (r < 0)
        return r;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, agent_fd(b->agent), &ev) < 0) {
        r = -errno;
        b->agent = agent_free(b->agent);
        return r;
    }
    return 0;
}

/* The agent's own epoll set is readable: let it make progress (it never blocks). */
static void on_agent(struct mmsg_broker *b)
{
    int r = agent_dispatch(b->agent);

    if (r == AGENT_HANDED_OVER) {
        /* A newer agent serves every container now: stop receiving, finish what we took. */
        log_info("agent: handed over to a newer agent; finishing the calls in progress");
        for (unsigned i = 0; i < b->n_alloc; i++)
            if (b->listeners[i]->fd >= 0 && !b->listeners[i]->hung_up)
                remove_listener(b, b->listeners[i]);
        (void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, agent_fd(b->agent), NULL);
        b->agent = agent_free(b->agent);
        b->handed_over = true;
    } else if (r < 0 && ratelimit_below(&loop_rl)) {
        log_error_errno(r, "agent");
    }
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* Each call in flight holds up to five fds (the caller's /proc directory, mem, maps, pidfd and
 * socket): a default soft limit of 1024 would fail calls long before the pool is full. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the hard limit stays */
    }
}

int mmsg_broker_new(const struct mmsg_broker_options *opts, struct mmsg_broker **ret_broker)
{
    struct mmsg_broker *b;
    int r;

    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->epfd = -1;
    pthread_mutex_init(&b->lock, NULL);
    inline_init(&b->in);
    b->audit_all = opts->audit_all;
    raise_nofile();

    b->complain = opts->complain;
    b->stats = opts->stats;
    b->learn = opts->learn;
    pthread_mutex_init(&b->learn_lock, NULL);
    b->store = opts->store;
    if (!b->store && opts->policy) {
        /* One fixed policy (learn, library users): a reference the broker never drops. */
        b->fixed = (struct loaded_policy){.refs = 1,
                                          .policy = (struct mmsg_policy *)(uintptr_t)opts->policy,
                                          .inputs = mmsg_policy_inputs(opts->policy)};
        (void)snprintf(b->fixed.name, sizeof(b->fixed.name), "default");
    } else if (!b->store) {
        r = policy_store_new(NULL, NULL, &b->store);
        if (r < 0)
            goto fail;
        b->own_store = true;
    }
    r = kernel_notif_sizes(&b->sizes);
    if (r < 0)
        goto fail;
    /* Sized by the kernel, allocated once: no allocation per notification. */
    b->req = calloc(1, b->sizes.seccomp_notif > sizeof(struct seccomp_notif)
                           ? b->sizes.seccomp_notif
                           : sizeof(struct seccomp_notif));
    b->jobs = calloc(MAX_JOBS, sizeof(*b->jobs));
    if (!b->req || !b->jobs) {
        r = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < MAX_JOBS; i++) {
        b->jobs[i].next = b->free_jobs;
        b->free_jobs = &b->jobs[i];
    }
    b->busy.budget_ns = (uint64_t)opts->busy_poll_us * 1000u;
    b->busy.gap_ns = UINT64_MAX / 2; /* idle until calls come */
    r = pool_new(b, opts->max_workers ? opts->max_workers : MMSG_DEFAULT_WORKERS, &b->pool);
    if (r < 0)
        goto fail;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        r = -errno;
        goto fail;
    }
    if (opts->audit_path) {
        r = audit_open(opts->audit_path, &b->audit);
        if (r < 0)
            goto fail;
    }
    *ret_broker = b;
    return 0;
fail:
    mmsg_broker_free(b);
    return r;
}

struct mmsg_broker *mmsg_broker_free(struct mmsg_broker *b)
{
    if (!b)
        return NULL;
    /* Waiting emulations notice within one signal-poll slice; queued calls are answered. */
    b->stopping = true;
    /* A thread that lost the loop role while stuck in a call (inline.c) gets the same second;
     * if it is still stuck, the listeners are closed (its call fails with ENOSYS) and the
     * broker is left allocated for it: the process is about to exit. */
    for (int i = 0; i < 100 && inline_busy(b); i++)
        (void)usleep(10000);
    if (inline_busy(b)) {
        for (unsigned i = 0; i < b->n_alloc; i++)
            if (b->listeners[i]->fd >= 0)
                (void)close(b->listeners[i]->fd);
        return NULL;
    }
    b->pool = pool_free(b->pool);
    /* Closing a listener completes its pending calls with ENOSYS (kernel/seccomp.c
     * seccomp_notify_detach()): nothing is left waiting on us. */
    for (unsigned i = 0; i < b->n_alloc; i++) {
        if (b->listeners[i]->fd >= 0)
            (void)close(b->listeners[i]->fd);
        free(b->listeners[i]);
    }
    free(b->listeners);
    if (b->epfd >= 0)
        (void)close(b->epfd);
    b->agent = agent_free(b->agent);
    b->audit = audit_close(b->audit);
    if (b->own_store)
        b->store = policy_store_free(b->store);
    pthread_mutex_destroy(&b->learn_lock);
    pthread_mutex_destroy(&b->lock);
    free(b->jobs);
    free(b->req);
    free(b);
    return NULL;
}

/* Reap every exited child; record the status of @child (run's program; 0 for serve and agent).
 * run is a subreaper, so orphaned descendants come here too. serve and agent reap as well: a
 * filtered task that is their own child (a launcher that forked it and then exec'd "mmsgate
 * serve", or the broker as pid 1 of a namespace) keeps its filter, and so the listener, alive
 * until it is reaped before Linux 6.11, which releases filters at exit ("seccomp: release task
 * filters when the task exits", Andrei Vagin); on 6.1 such a serve never saw the hang-up. */
static void reap(pid_t child, bool *child_done, int *child_status)
{
    for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);

        if (p <= 0)
            return;
        if (p == child) {
            *child_done = true;
            *child_status = status;
        }
    }
}

/* Re-read every policy (calls in flight keep theirs) and reopen the audit file (logrotate). */
static void reload(struct mmsg_broker *b, const char *why)
{
    int failed = b->store ? policy_store_reload(b->store) : 0;

    if (b->audit && audit_reopen(b->audit) < 0)
        log_warning("%s: reopening the audit file failed; still writing to the old one", why);
    log_info("%s: policies reloaded%s", why, failed ? " (some kept their old version)" : "");
}

/* Drain the signalfd. Return: true when serving must end. */
static bool on_signals(struct mmsg_broker *b, int sigfd, pid_t child, bool child_done)
{
    struct signalfd_siginfo si;
    bool end = false;

    while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
        int sig = (int)si.ssi_signo;

        if (sig == SIGCHLD)
            continue;
        /* Never forwarded: "mmsgate reload PID" and "mmsgate stats PID". */
        if (sig == MMSG_SIGNAL_RELOAD) {
            reload(b, "reload signal");
            continue;
        }
        if (sig == MMSG_SIGNAL_STATS) {
            stats_print(b->stats, b->audit, stderr);
            continue;
        }
        if (child <= 0) {
            if (sig == SIGHUP) {
                reload(b, "SIGHUP"); /* serve and agent */
                continue;
            }
            /* No child to forward to: INT, TERM and QUIT stop serving. Closing the listeners
             * then fails pending and later calls with ENOSYS. */
            if (sig != SIGUSR1 && sig != SIGUSR2)
                end = true;
            continue;
        }
        if (!child_done && kill(child, sig) < 0 && errno != ESRCH)
            log_warning_errno(-errno, "forwarding signal %d", sig);
    }
    return end;
}

static void dispatch(struct mmsg_broker *b, const struct epoll_event *ev)
{
    struct listener *lst = ev->data.ptr;

    if (lst->hung_up)
        return; /* removed earlier in this batch */
    if (ev->events & EPOLLIN) {
        on_listener(b, lst);
        return;
    }
    /* EPOLLHUP without EPOLLIN: every task using this filter has exited. */
    if (ev->events & (EPOLLHUP | EPOLLERR)) {
        if (lst == b->direct) {
            inline_stop(b); /* no RECV on it any more: it is about to be closed */
            b->direct = NULL;
        }
        remove_listener(b, lst);
    }
}

/* After a hand-over: let the calls already taken finish and answer (a listener closes when its
 * last job is released), instead of failing them as a shutdown would. */
static void drain(struct mmsg_broker *b)
{
    for (;;) {
        bool busy = false;

        pthread_mutex_lock(&b->lock);
        for (unsigned i = 0; i < b->n_alloc && !busy; i++)
            busy = b->listeners[i]->fd >= 0;
        pthread_mutex_unlock(&b->lock);
        if (!busy)
            return;
        (void)usleep(10000);
    }
}

/* Wait for the next events. Waking a sleeping thread on another CPU costs 60-115 us on a
 * 2-vCPU VM, 20-40 times a notify round trip, so a loop that has just served a call and sees
 * calls arrive often polls the epoll set without sleeping for up to --busy-poll microseconds
 * first: the next call is then taken without a wake-up. "Often" is a moving average of the
 * last gaps below the budget; one idle gap lifts the average far above it, so an idle broker
 * never spins, and a busy one spends at most the budget per call. */
static int wait_events(struct mmsg_broker *b, struct epoll_event *evs, int max)
{
    struct busy_poll *bp = &b->busy;
    uint64_t start = 0;
    int n;

    if (bp->budget_ns) {
        start = emu_now_ns();
        if (bp->gap_ns < bp->budget_ns) {
            bp->spins++;
            do {
                n = epoll_wait(b->epfd, evs, max, 0);
                if (n != 0) {
                    bp->spin_hits += n > 0;
                    goto got;
                }
                __builtin_ia32_pause();
            } while (emu_now_ns() - start < bp->budget_ns);
        }
    }
    n = epoll_wait(b->epfd, evs, max, -1);
got:
    if (bp->budget_ns && n > 0) {
        uint64_t gap = emu_now_ns() - start;

        bp->gap_ns = bp->gap_ns - bp->gap_ns / 8 + gap / 8;
    }
    return n;
}

void loop_run(struct mmsg_broker *b)
{
    struct serve_state *st = &b->serve;

    /* run: until the child is reaped and every filtered task has exited (listener hung up);
     * agent: until INT or TERM; serve: until the listener hangs up, or INT or TERM. */
    while (!st->terminated && (st->child > 0 ? (!st->child_done || b->n_listeners > 0)
                                             : (b->agent || b->n_listeners > 0))) {
        struct epoll_event evs[64];
        int n;

        n = wait_events(b, evs, (int)ELEMENTSOF(evs));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st->result = log_error_errno(-errno, "epoll_wait");
            return;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &tag_signals) {
                st->terminated |= on_signals(b, st->sigfd, st->child, st->child_done);
                reap(st->child, &st->child_done, &st->child_status);
            } else if (evs[i].data.ptr == &tag_agent) {
                on_agent(b);
            } else {
                dispatch(b, &evs[i]);
            }
            /* A call ran over its budget here and a fresh thread has the loop now: the rest
             * of this batch is reported to it again (every source is level-triggered). */
            if (inline_demoted())
                return;
        }
    }
}

/* Serve the one listener of run and serve by RECV alone (loop_run_direct()) and watch it here
 * for its hang-up only. --busy-poll needs epoll (RECV cannot poll without sleeping), and the
 * agent adds listeners as containers come. */
static void choose_direct(struct mmsg_broker *b)
{
    /* EPOLLHUP and EPOLLERR are always reported (epoll_ctl(2)); the wake-up of a new call,
     * keyed EPOLLIN, then leaves this set alone. */
    struct epoll_event ev = {.events = 0};
    struct listener *lst = NULL;

    if (b->agent || b->busy.budget_ns || b->n_listeners != 1)
        return;
    for (unsigned i = 0; i < b->n_alloc && !lst; i++)
        if (b->listeners[i]->fd >= 0 && !b->listeners[i]->hung_up)
            lst = b->listeners[i];
    if (!lst)
        return;
    ev.data.ptr = lst;
    if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, lst->fd, &ev) < 0) {
        log_debug_errno(-errno, "epoll_ctl: the listener stays in the epoll set");
        return;
    }
    b->direct = lst;
}

int mmsg_broker_serve(struct mmsg_broker *b, pid_t child, int *ret_status)
{
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &tag_signals};
    struct serve_state *st = &b->serve;
    sigset_t set;
    int r = 0;

    *st = (struct serve_state){.sigfd = -1, .child = child, .child_done = child <= 0};
    served_signals(&set);
    st->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (st->sigfd < 0)
        return log_error_errno(-errno, "signalfd");
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, st->sigfd, &sev) < 0) {
        r = log_error_errno(-errno, "epoll_ctl");
        goto out;
    }
    /* The emulation follows the kernel's order of writes that a probe finds (kfeatures.c):
     * probe while the sockets and mappings it needs are still allowed. */
    (void)features_addrlen_first(); /* the answer is cached for the emulation */
    /* From here on the broker only serves: least privilege (sandbox.c). */
    r = sandbox_apply();
    if (r < 0)
        goto out;
    /* The child (or serve's own children) may already be gone. */
    reap(child, &st->child_done, &st->child_status);
    choose_direct(b);
    /* The loop runs on a thread of its own, handed on when a call overruns (inline.c). */
    r = inline_serve(b);
    if (r < 0)
        goto out;
    r = st->result;
    if (b->busy.budget_ns)
        log_info("busy-poll: spun %" PRIu64 " times, %" PRIu64 " found a call", b->busy.spins,
                 b->busy.spin_hits);
    if (b->handed_over)
        drain(b);
    if (ret_status)
        *ret_status = st->child_status;
out:
    (void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, st->sigfd, NULL); /* closing removes it anyway */
    (void)close(st->sigfd);
    st->sigfd = -1;
    return r;
}
