/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The notification loop: one epoll loop receives every notification from every listener,
 * decides it with the policy and answers register-only decisions itself; emulations go to a
 * pool of worker threads.
 *
 * Why threads: an emulated call may legitimately wait (a blocking socket, a long cap) and the
 * kernel gives no way to resume a half-done recvmmsg later, so it needs a context of its own;
 * the epoll thread must stay free to answer other callers. Workers are started on demand up to
 * max_workers; further emulations queue (bounded by MAX_JOBS, beyond which calls fail closed with
 * EAGAIN). A worker answers its own notification (SEND is safe from any thread). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "audit.h"
#include "emulate.h"
#include "kernel.h"
#include "mmsgate/broker.h"
#include "remote.h"

#define LOG_COMPONENT "loop"
#include "log.h"

#define MAX_LISTENERS 64
#define MAX_JOBS 1024
#define DEFAULT_WORKERS 64
#define SYS_RECVMMSG_ 19 /* include/uapi/linux/net.h */

/* Everything the broker knows about one notification. */
struct listener;

struct job {
    struct job *next;     /* free list / queue */
    struct listener *lst; /* holds a reference (n_jobs) while the job lives */
    struct remote remote; /* pidfd open when remote.pidfd >= 0 */
    int listener;
    struct emu_call call;
    int sockfd; /* our duplicate, or -errno */
    struct mmsg_decision decision;
    struct emu_caps caps;
    uint64_t start_ns; /* CLOCK_MONOTONIC at receipt */
    uint64_t wall_ns;  /* CLOCK_REALTIME at receipt */
    bool audit;
    struct audit_record rec;
    struct remote_identity ident;
    bool ident_known;
};

struct worker {
    pthread_t thread;
    struct mmsg_broker *broker;
    struct emu_scratch scratch;
};

struct mmsg_broker {
    const struct mmsg_policy *policy;
    unsigned policy_inputs;
    struct audit *audit;
    bool audit_all;
    int epfd;
    /* A listener that hung up stays open while jobs still answer on it, so a late reply never
     * goes to a closed (or reused) fd number. Free slots have fd -1. Under lock. */
    struct listener {
        int fd;
        unsigned n_jobs;
        bool hung_up;
    } listeners[MAX_LISTENERS];
    unsigned n_listeners; /* not hung up */
    int agent_fd;         /* OCI listenerPath socket, -1 when none */
    struct seccomp_notif_sizes sizes;
    struct seccomp_notif *req;
    struct emu_scratch inline_scratch; /* for emulations that cannot block, on this thread */

    pthread_mutex_t lock;
    pthread_cond_t work;
    struct job *jobs;
    struct job *free_jobs;
    struct job *queue_head, *queue_tail;
    unsigned n_busy; /* jobs taken by workers */
    unsigned n_idle;
    unsigned n_workers;
    unsigned max_workers;
    bool stopping;
    struct worker *workers;
};

static struct ratelimit loop_rl = RATELIMIT_INIT(5000, 10);

static uint64_t realtime_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for CLOCK_REALTIME */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
}

int mmsg_signals_block(void)
{
    sigset_t set;

    served_signals(&set);
    /* A closed audit pipe must be an EPIPE to report, not a signal that kills the broker. */
    sigaddset(&set, SIGPIPE);
    return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- answering ---------------------------------------------------------------------------- */

static void job_audit(struct mmsg_broker *b, struct job *j, const char *enforcement, bool ret_known,
                      int64_t ret)
{
    struct audit_record *rec = &j->rec;

    if (!b->audit || !(j->audit || b->audit_all))
        return;
    rec->timestamp_ns = j->wall_ns;
    rec->tid = j->remote.tid;
    if (j->ident_known) {
        rec->tgid = j->ident.tgid;
        rec->comm = j->ident.comm;
        rec->exe = j->ident.exe;
    }
    rec->decision = mmsg_action_name(j->decision.action);
    rec->enforcement = enforcement;
    rec->rule = j->decision.rule_name;
    rec->ret_known = ret_known;
    rec->ret = ret;
    rec->duration_ns = emu_now_ns() - j->start_ns;
    audit_write(b->audit, rec);
}

static void job_release(struct mmsg_broker *b, struct job *j)
{
    if (j->sockfd >= 0)
        (void)close(j->sockfd); /* our duplicate; the caller's fd is unaffected */
    remote_close(&j->remote);
    pthread_mutex_lock(&b->lock);
    if (j->lst && --j->lst->n_jobs == 0 && j->lst->hung_up) {
        (void)close(j->lst->fd); /* nothing to do about it; the kernel side is gone already */
        j->lst->fd = -1;
    }
    j->lst = NULL;
    j->next = b->free_jobs;
    b->free_jobs = j;
    pthread_mutex_unlock(&b->lock);
}

/* Reply with a result: @ret >= 0 a count, < 0 an errno. ENOENT (caller gone) is routine. */
static void job_reply(struct mmsg_broker *b, struct job *j, int64_t ret, const char *enforcement)
{
    int err;

    err = kernel_notif_reply(j->listener, j->remote.id, ret < 0 ? (int)ret : 0, ret < 0 ? 0 : ret);
    if (err < 0 && err != -ENOENT && ratelimit_below(&loop_rl))
        log_warning_errno(err, "answering notification %llu", (unsigned long long)j->remote.id);
    job_audit(b, j, enforcement, true, ret);
}

/* ---- workers ------------------------------------------------------------------------------ */

static void job_emulate(struct mmsg_broker *b, struct job *j, struct emu_scratch *s)
{
    int64_t ret;

    ret = emu_recvmmsg(&j->remote, &j->call, j->sockfd, &j->caps, j->start_ns, true, s);
    /* ESRCH / ENOENT: the caller died or the call was withdrawn; the reply below then fails
     * with ENOENT, which is routine. */
    job_reply(b, j, ret, "emulate");
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mmsg_broker *b = w->broker;

    pthread_mutex_lock(&b->lock);
    for (;;) {
        struct job *j;

        while (!b->queue_head && !b->stopping) {
            b->n_idle++;
            pthread_cond_wait(&b->work, &b->lock);
            b->n_idle--;
        }
        if (!b->queue_head)
            break;
        j = b->queue_head;
        b->queue_head = j->next;
        if (!b->queue_head)
            b->queue_tail = NULL;
        b->n_busy++;
        pthread_mutex_unlock(&b->lock);

        job_emulate(b, j, &w->scratch);
        job_release(b, j);

        pthread_mutex_lock(&b->lock);
        b->n_busy--;
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* Queue @j for a worker, starting one if none is idle. Called with b->lock held. */
static int enqueue_locked(struct mmsg_broker *b, struct job *j)
{
    j->next = NULL;
    if (b->queue_tail)
        b->queue_tail->next = j;
    else
        b->queue_head = j;
    b->queue_tail = j;
    if (b->n_idle == 0 && b->n_workers < b->max_workers) {
        struct worker *w = &b->workers[b->n_workers];
        int r;

        w->broker = b;
        r = emu_scratch_init(&w->scratch);
        if (r >= 0) {
            r = -pthread_create(&w->thread, NULL, worker_main, w);
            if (r < 0)
                emu_scratch_done(&w->scratch);
        }
        if (r >= 0)
            b->n_workers++;
        else if (b->n_workers == 0)
            return r; /* nobody will ever take the job */
    }
    pthread_cond_signal(&b->work);
    return 0;
}

/* ---- deciding ----------------------------------------------------------------------------- */

static bool route_of(const struct seccomp_data *d, enum mmsg_syscall *ret)
{
    if (d->arch == AUDIT_ARCH_I386_) {
        if (d->nr == 337)
            *ret = MMSG_SYS_RECVMMSG_TIME32;
        else if (d->nr == 417)
            *ret = MMSG_SYS_RECVMMSG_TIME64;
        else if (d->nr == 102 && (uint32_t)d->args[0] == SYS_RECVMMSG_)
            *ret = MMSG_SYS_SOCKETCALL;
        else
            return false;
        return true;
    }
    if (d->arch == AUDIT_ARCH_X86_64_ && d->nr == 299) {
        *ret = MMSG_SYS_RECVMMSG;
        return true;
    }
    /* x32 (nr | 0x40000000) and anything else the filter might send: not served. */
    return false;
}

static int ensure_remote(struct job *j, int listener, uint64_t id, pid_t tid)
{
    if (j->remote.pidfd >= 0)
        return 0;
    return remote_open(&j->remote, listener, id, tid);
}

/* Socket facts for the policy, from our own duplicate of the caller's fd. */
static void inspect_socket(struct job *j, struct mmsg_call *call)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss), ilen = sizeof(int);
    int family, type;

    if (j->sockfd < 0)
        return;
    if (getsockopt(j->sockfd, SOL_SOCKET, SO_DOMAIN, &family, &ilen) < 0)
        return; /* not a socket: socket keys do not match */
    ilen = sizeof(int);
    if (getsockopt(j->sockfd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0)
        return;
    call->socket_known = true;
    call->socket_family = family;
    call->socket_type = type;
    call->socket_local_port = -1;
    if (getsockname(j->sockfd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            call->socket_local_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            call->socket_local_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
}

/* Inputs that are registers for this route: for socketcall only the route itself. */
static unsigned register_inputs(enum mmsg_syscall sys)
{
    return sys == MMSG_SYS_SOCKETCALL ? MMSG_INPUT_SYSCALL : MMSG_INPUT_REGISTERS;
}

/* Read the caller's timeout, once: the policy, the audit record and an emulation all use this
 * single copy (kept in j->call). Return: 0; -ENOENT when the caller is gone. */
static int read_timeout_once(struct job *j)
{
    if (j->call.timeout_read)
        return 0;
    (void)emu_read_timeout(&j->remote, &j->call); /* the outcome is kept in call.timeout_err */
    return j->call.timeout_err == -ESRCH ? -ENOENT : 0;
}

/* Whether the copy holds a value (an out-of-range one included, which rules may still match). */
static bool timeout_value_known(const struct emu_call *c)
{
    return c->timeout && c->timeout_read && (!c->timeout_err || c->timeout_err == -EINVAL);
}

/* Who made the call, for an audit record that will be written: read only then (it costs a few
 * /proc reads), while the call is still pending, and confirmed with ID_VALID so a reused tid
 * cannot put another process's name in the record. Failures only leave the fields null. */
static void audit_identity(struct mmsg_broker *b, struct job *j)
{
    if (!b->audit || !(j->audit || b->audit_all) || j->ident_known)
        return;
    if (ensure_remote(j, j->listener, j->remote.id, j->remote.tid) < 0)
        return;
    if (remote_identity(&j->remote, &j->ident) >= 0 && remote_check(&j->remote) >= 0)
        j->ident_known = true;
}

static void handle(struct mmsg_broker *b, int listener, const struct seccomp_notif *req,
                   struct job *j)
{
    const struct seccomp_data *d = &req->data;
    struct mmsg_call call = {0};
    const char *enforcement;
    int err = 0;
    int64_t ret = -EPERM;

    struct listener *lst = j->lst;

    *j = (struct job){
        .lst = lst,
        .remote = {.listener = listener, .id = req->id, .tid = (pid_t)req->pid, .pidfd = -1},
        .listener = listener,
        .sockfd = -EBADF,
        .start_ns = emu_now_ns(),
        .wall_ns = realtime_ns(),
        .decision = {.action = MMSG_ACTION_DENY,
                     .errno_value = ENOSYS,
                     .rule_name = "unsupported-route",
                     .rule_index = -1,
                     .audit = true},
    };
    j->rec.arch = d->arch;
    j->rec.nr = d->nr;
    j->rec.sys = MMSG_SYS_MAX_;

    if (!route_of(d, &j->call.sys)) {
        /* Fail closed: a route we do not emulate is refused as if it did not exist. */
        ret = -ENOSYS;
        enforcement = "errno";
        goto respond;
    }
    j->rec.sys = j->call.sys;
    j->call.compat = d->arch == AUDIT_ARCH_I386_;
    if (j->call.sys == MMSG_SYS_SOCKETCALL) {
        uint32_t a[5];

        /* net/compat.c compat_sys_socketcall(): the five arguments are in caller memory. */
        err = ensure_remote(j, listener, req->id, j->remote.tid);
        if (err < 0)
            goto fail;
        err = remote_read(&j->remote, (uint32_t)d->args[1], a, sizeof(a));
        if (err < 0) {
            ret = -EFAULT;
            enforcement = "errno";
            j->decision.rule_name = "unreadable-arguments";
            goto respond;
        }
        j->call.fd = (int32_t)a[0];
        j->call.mmsg = a[1];
        j->call.vlen = a[2];
        j->call.flags = a[3];
        j->call.timeout = a[4];
    } else if (j->call.compat) {
        j->call.fd = (int32_t)(uint32_t)d->args[0];
        j->call.mmsg = (uint32_t)d->args[1];
        j->call.vlen = (uint32_t)d->args[2];
        j->call.flags = (uint32_t)d->args[3];
        j->call.timeout = (uint32_t)d->args[4];
    } else {
        j->call.fd = (int32_t)d->args[0];
        j->call.mmsg = d->args[1];
        j->call.vlen = (uint32_t)d->args[2];
        j->call.flags = (uint32_t)d->args[3];
        j->call.timeout = d->args[4];
    }
    /* The compat entry adds MSG_CMSG_COMPAT itself and ignores a caller's (spec 4). */
    if (j->call.compat)
        j->call.flags &= ~MSG_CMSG_COMPAT_;
    j->rec.args_known = true;
    j->rec.fd = j->call.fd;
    j->rec.mmsg = j->call.mmsg;
    j->rec.vlen = j->call.vlen;
    j->rec.flags = j->call.flags;
    j->rec.timeout = j->call.timeout;

    call.syscall = j->call.sys;
    call.fd = j->call.fd;
    call.mmsg = j->call.mmsg;
    call.vlen = j->call.vlen;
    call.flags = j->call.flags;
    call.timeout = j->call.timeout;

    /* Read only what some rule needs; every read is followed by ID_VALID below. */
    if ((b->policy_inputs & MMSG_INPUT_TIMEOUT_VALUE) && j->call.timeout) {
        err = ensure_remote(j, listener, req->id, j->remote.tid);
        if (err >= 0)
            err = read_timeout_once(j);
        if (err < 0)
            goto fail;
        if (timeout_value_known(&j->call)) {
            call.timeout_known = true;
            call.timeout_sec = j->call.timeout_ts.tv_sec;
            call.timeout_nsec = j->call.timeout_ts.tv_nsec;
        }
    }
    if (b->policy_inputs & MMSG_INPUT_SOCKET) {
        err = ensure_remote(j, listener, req->id, j->remote.tid);
        if (err < 0)
            goto fail;
        j->sockfd = remote_getfd(&j->remote, j->call.fd);
        if (j->sockfd == -ENOENT) {
            err = -ENOENT;
            goto fail;
        }
        inspect_socket(j, &call);
    }
    if (b->policy_inputs & MMSG_INPUT_PROCESS) {
        err = ensure_remote(j, listener, req->id, j->remote.tid);
        if (err < 0)
            goto fail;
        if (remote_identity(&j->remote, &j->ident) >= 0) {
            j->ident_known = true;
            call.process_known = true;
            call.exe = j->ident.exe[0] ? j->ident.exe : NULL;
            call.comm = j->ident.comm;
            call.uid = j->ident.uid;
        }
    }
    /* The tid we read through may have been reused since RECV: only a still-pending call
     * proves that what we read belongs to its caller. */
    if (j->remote.pidfd >= 0) {
        err = remote_check(&j->remote);
        if (err < 0)
            goto fail;
    }

    (void)mmsg_policy_evaluate(b->policy, &call, &j->decision); /* cannot fail */
    j->audit = j->decision.audit;
    audit_identity(b, j);
    if (b->audit && (j->audit || b->audit_all) && j->remote.pidfd >= 0) {
        /* For the record; the decision is made. */
        err = read_timeout_once(j);
        if (err < 0)
            goto fail;
    }
    if (timeout_value_known(&j->call)) {
        j->rec.timeout_decoded = true;
        j->rec.tv_sec = j->call.timeout_ts.tv_sec;
        j->rec.tv_nsec = j->call.timeout_ts.tv_nsec;
    }

    switch (j->decision.action) {
    case MMSG_ACTION_ALLOW:
        /* CONTINUE lets the kernel re-read memory and re-resolve the fd after our check, so it
         * is only sound when the decision rested on nothing but registers. Otherwise the
         * allow is carried out by emulation on our own copy, without caps. */
        if ((j->decision.inputs & ~register_inputs(j->call.sys)) == 0) {
            err = kernel_notif_continue(listener, req->id);
            if (err < 0 && err != -ENOENT && ratelimit_below(&loop_rl))
                log_warning_errno(err, "continuing notification");
            job_audit(b, j, "continue", false, 0);
            goto done;
        }
        j->caps = (struct emu_caps){.timeout_cap_ms = -1};
        goto emulate;
    case MMSG_ACTION_EMULATE:
        j->caps = (struct emu_caps){
            .timeout_cap_ms = j->decision.timeout_cap_ms,
            .vlen_cap = j->decision.vlen_cap,
            .clear_flags = j->decision.clear_flags,
        };
        goto emulate;
    case MMSG_ACTION_DENY:
        ret = -j->decision.errno_value;
        enforcement = "errno";
        goto respond;
    case MMSG_ACTION_KILL:
        err = ensure_remote(j, listener, req->id, j->remote.tid);
        if (err >= 0)
            err = remote_kill(&j->remote);
        if (err < 0 && err != -ENOENT && err != -ESRCH)
            log_warning_errno(err, "killing caller %d", (int)j->remote.tid);
        /* Answer anyway, so the call never runs even if the kill failed. */
        (void)kernel_notif_reply(listener, req->id, -EPERM, 0); /* ENOENT once it is dead */
        job_audit(b, j, "kill", false, 0);
        goto done;
    case MMSG_ACTION_MAX_:
    default:
        ret = -EPERM;
        enforcement = "errno";
        goto respond;
    }

emulate:
    err = ensure_remote(j, listener, req->id, j->remote.tid);
    if (err < 0)
        goto fail;
    err = read_timeout_once(j);
    if (err < 0)
        goto fail;
    if (j->sockfd == -EBADF) {
        j->sockfd = remote_getfd(&j->remote, j->call.fd);
        if (j->sockfd == -ENOENT) {
            err = -ENOENT;
            goto fail;
        }
    }
    err = remote_check(&j->remote);
    if (err < 0)
        goto fail;
    /* A call that cannot block is emulated right here: handing it to a worker would cost a
     * thread wake-up, often on another CPU (tests/bench). */
    ret = emu_recvmmsg(&j->remote, &j->call, j->sockfd, &j->caps, j->start_ns, false,
                       &b->inline_scratch);
    if (ret != -EMU_WOULD_WAIT) {
        enforcement = "emulate";
        goto respond;
    }
    pthread_mutex_lock(&b->lock);
    err = enqueue_locked(b, j);
    pthread_mutex_unlock(&b->lock);
    if (err < 0) {
        ret = -EAGAIN;
        enforcement = "errno";
        goto respond;
    }
    return; /* the worker answers and releases */

fail:
    /* ENOENT: the call is gone (caller killed, or interrupted before we received it). Anything
     * else, ESRCH included (a caller outside our pid namespace has tid 0, so we cannot look at
     * it), is answered with the deny errno: fail closed, and never leave a caller waiting. */
    if (err == -ENOENT)
        goto done;
    if (ratelimit_below(&loop_rl))
        log_warning_errno(err, "handling notification from %d", (int)j->remote.tid);
    ret = -EPERM;
    enforcement = "errno";
respond:
    audit_identity(b, j);
    job_reply(b, j, ret, enforcement);
done:
    job_release(b, j);
}

static int on_listener(struct mmsg_broker *b, struct listener *lst)
{
    int listener = lst->fd;
    struct job *j;
    int err;

    err = kernel_notif_recv(listener, b->req, b->sizes.seccomp_notif);
    if (err == -ENOENT)
        return 0; /* the caller went away between poll and RECV */
    if (err < 0)
        return err;
    pthread_mutex_lock(&b->lock);
    j = b->free_jobs;
    if (j) {
        b->free_jobs = j->next;
        lst->n_jobs++;
        j->lst = lst;
    }
    pthread_mutex_unlock(&b->lock);
    if (!j) {
        /* Every job slot is held by an emulation in progress: refuse rather than wait. */
        (void)kernel_notif_reply(listener, b->req->id, -EAGAIN, 0); /* ENOENT: gone anyway */
        if (ratelimit_below(&loop_rl))
            log_warning("%d emulations in progress: refusing a call with EAGAIN", MAX_JOBS);
        return 0;
    }
    handle(b, listener, b->req, j);
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

int mmsg_broker_new(const struct mmsg_broker_options *opts, struct mmsg_broker **ret_broker)
{
    struct mmsg_broker *b;
    int r;

    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->epfd = -1;
    b->agent_fd = -1;
    for (unsigned i = 0; i < MAX_LISTENERS; i++)
        b->listeners[i].fd = -1;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->work, NULL);
    b->policy = opts->policy;
    b->policy_inputs = mmsg_policy_inputs(opts->policy);
    b->audit_all = opts->audit_all;
    b->max_workers = opts->max_workers ? opts->max_workers : DEFAULT_WORKERS;

    r = kernel_notif_sizes(&b->sizes);
    if (r < 0)
        goto fail;
    /* Sized by the kernel, allocated once: no allocation per notification. */
    b->req = calloc(1, b->sizes.seccomp_notif > sizeof(struct seccomp_notif)
                           ? b->sizes.seccomp_notif
                           : sizeof(struct seccomp_notif));
    b->jobs = calloc(MAX_JOBS, sizeof(*b->jobs));
    b->workers = calloc(b->max_workers, sizeof(*b->workers));
    if (!b->req || !b->jobs || !b->workers) {
        r = -ENOMEM;
        goto fail;
    }
    r = emu_scratch_init(&b->inline_scratch);
    if (r < 0)
        goto fail;
    for (unsigned i = 0; i < MAX_JOBS; i++) {
        b->jobs[i].next = b->free_jobs;
        b->free_jobs = &b->jobs[i];
    }
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
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    for (unsigned i = 0; i < b->n_workers; i++) {
        (void)pthread_join(b->workers[i].thread, NULL); /* workers end once stopping is set */
        emu_scratch_done(&b->workers[i].scratch);
    }
    /* Closing a listener completes its pending calls with ENOSYS (kernel/seccomp.c
     * seccomp_notify_detach()): nothing is left waiting on us. */
    for (unsigned i = 0; i < MAX_LISTENERS; i++)
        if (b->listeners[i].fd >= 0)
            (void)close(b->listeners[i].fd);
    if (b->epfd >= 0)
        (void)close(b->epfd);
    if (b->agent_fd >= 0)
        (void)close(b->agent_fd);
    b->audit = audit_close(b->audit);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->work);
    emu_scratch_done(&b->inline_scratch);
    free(b->workers);
    free(b->jobs);
    free(b->req);
    free(b);
    return NULL;
}

int mmsg_broker_add_listener(struct mmsg_broker *b, int listener_fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener_fd};
    struct listener *lst = NULL;
    int r;

    pthread_mutex_lock(&b->lock);
    for (unsigned i = 0; i < MAX_LISTENERS && !lst; i++)
        if (b->listeners[i].fd < 0)
            lst = &b->listeners[i];
    if (lst)
        *lst = (struct listener){.fd = listener_fd};
    pthread_mutex_unlock(&b->lock);
    if (!lst) {
        (void)close(listener_fd);
        return -EMFILE;
    }
    /* About 6 us instead of 40-50 us per round trip on a 2-vCPU VM: the woken caller runs on
     * our CPU. Optional: older kernels (< 6.6) just lack the speed-up. */
    r = kernel_notif_set_flags(listener_fd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    if (r < 0 && r != -EINVAL && r != -ENOTTY)
        log_debug_errno(r, "setting SYNC_WAKE_UP");
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, listener_fd, &ev) < 0) {
        r = -errno;
        pthread_mutex_lock(&b->lock);
        lst->fd = -1;
        pthread_mutex_unlock(&b->lock);
        (void)close(listener_fd);
        return r;
    }
    b->n_listeners++;
    return 0;
}

static struct listener *find_listener(struct mmsg_broker *b, int fd)
{
    for (unsigned i = 0; i < MAX_LISTENERS; i++)
        if (b->listeners[i].fd == fd && !b->listeners[i].hung_up)
            return &b->listeners[i];
    return NULL;
}

#define EPOLL_SIGNALS (-1)
#define EPOLL_AGENT (-2)

int mmsg_broker_add_agent(struct mmsg_broker *b, const char *path)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = EPOLL_AGENT};
    int fd;

    if (b->agent_fd >= 0)
        return -EBUSY;
    fd = agent_listen(path);
    if (fd < 0)
        return fd;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;

        (void)close(fd);
        return r;
    }
    b->agent_fd = fd;
    return 0;
}

static void on_agent(struct mmsg_broker *b)
{
    char container[128];
    int listener = -1, r;

    r = agent_accept(b->agent_fd, &listener, container, sizeof(container));
    if (r == -EAGAIN)
        return;
    if (r < 0) {
        if (ratelimit_below(&loop_rl))
            log_warning_errno(r, "agent: receiving a listener");
        return;
    }
    r = mmsg_broker_add_listener(b, listener);
    if (r < 0)
        log_warning_errno(r, "agent: serving the listener of container \"%s\"", container);
    else
        log_info("agent: serving container \"%s\"", container);
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
    }
    pthread_mutex_unlock(&b->lock);
}

/* Reap every exited child (we are a subreaper, so orphaned descendants come here too); record
 * the status of @child. */
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

int mmsg_broker_serve(struct mmsg_broker *b, pid_t child, int *ret_status)
{
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = EPOLL_SIGNALS};
    int sigfd = -1, r = 0, child_status = 0;
    bool child_done = child <= 0, terminated = false;
    sigset_t set;

    served_signals(&set);
    sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        return log_error_errno(-errno, "signalfd");
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, sigfd, &sev) < 0) {
        r = log_error_errno(-errno, "epoll_ctl");
        goto out;
    }
    /* The child may already be gone. */
    if (child > 0)
        reap(child, &child_done, &child_status);

    /* run: until the child is reaped and every filtered task has exited (listener hung up);
     * agent: until INT or TERM; serve: until the listener hangs up, or INT or TERM. */
    while (!terminated && (child > 0 ? (!child_done || b->n_listeners > 0)
                                     : (b->agent_fd >= 0 || b->n_listeners > 0))) {
        struct epoll_event evs[16];
        int n;

        n = epoll_wait(b->epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = log_error_errno(-errno, "epoll_wait");
            goto out;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct listener *lst;

            if (fd == EPOLL_SIGNALS) {
                struct signalfd_siginfo si;

                while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGCHLD)
                        continue;
                    if (child <= 0) {
                        /* No child to forward to: INT, TERM, HUP and QUIT stop serving. Closing
                         * the listeners then fails pending and later calls with ENOSYS. */
                        if (si.ssi_signo != SIGUSR1 && si.ssi_signo != SIGUSR2)
                            terminated = true;
                        continue;
                    }
                    if (!child_done && kill(child, (int)si.ssi_signo) < 0 && errno != ESRCH)
                        log_warning_errno(-errno, "forwarding signal %u", si.ssi_signo);
                }
                if (child > 0)
                    reap(child, &child_done, &child_status);
                continue;
            }
            if (fd == EPOLL_AGENT) {
                on_agent(b);
                continue;
            }
            lst = find_listener(b, fd);
            if (!lst)
                continue;
            if (evs[i].events & EPOLLIN) {
                r = on_listener(b, lst);
                if (r < 0) {
                    log_error_errno(r, "receiving notification");
                    remove_listener(b, lst);
                    r = 0;
                }
                continue;
            }
            /* EPOLLHUP without EPOLLIN: every task using this filter has exited. */
            if (evs[i].events & (EPOLLHUP | EPOLLERR))
                remove_listener(b, lst);
        }
        if (child > 0)
            reap(child, &child_done, &child_status);
    }
    if (ret_status)
        *ret_status = child_status;
out:
    (void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, sigfd, NULL); /* closing removes it anyway */
    (void)close(sigfd);
    return r;
}
