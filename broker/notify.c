/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One notification, as one straight line: decode the registers, fetch the inputs the policy
 * needs, decide, enforce, answer from one place. The loop thread runs it until the first step
 * that would touch the caller (memory, fds, a wait) and hands the job to the pool, where a
 * worker runs the same line to the end: the loop never reads caller memory nor blocks. */
#include <errno.h>
#include <time.h>

#include "core.h"
#include "kernel.h"
#include "learn.h"
#include "stats.h"

#define LOG_COMPONENT "notify"
#include "log.h"

static struct ratelimit notify_rl = RATELIMIT_INIT(5000, 10);

static uint64_t realtime_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for CLOCK_REALTIME */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool audited(const struct mmsg_broker *b, const struct job *j)
{
    return b->audit && (j->decision.audit || b->audit_all);
}

/* Write @j's audit record, if it gets one. Return: whether it did, and what the sink did. */
static bool job_audit(struct mmsg_broker *b, struct job *j, const char *enforcement, bool ret_known,
                      int64_t ret, enum audit_result *ret_result)
{
    struct audit_record *rec = &j->rec;
    const struct listener *lst = j->lst;

    if (!audited(b, j))
        return false;
    rec->timestamp_ns = j->wall_ns;
    rec->tid = j->tid;
    if (j->ident_known) {
        rec->tgid = j->ident.tgid;
        rec->comm = j->ident.comm;
        rec->exe = j->ident.exe;
        rec->ns_tgid = j->ident.ns_tgid;
    }
    rec->decision = mmsg_action_name(j->decision.action);
    rec->enforcement = enforcement;
    rec->rule = j->decision.rule_name;
    rec->ret_known = ret_known;
    rec->ret = ret;
    rec->duration_ns = emu_now_ns() - j->start_ns;
    rec->not_enforced = j->not_enforced;
    /* The policy's name where a listener chose one (agent); the default goes unnamed. */
    if (lst && lst->policy_name[0])
        rec->policy = lst->policy_name;
    if (lst && lst->container_id[0]) {
        rec->container_id = lst->container_id;
        rec->bundle = lst->bundle[0] ? lst->bundle : NULL;
    }
    *ret_result = audit_write(b->audit, rec);
    return true;
}

/* Count the answered call (stats.c), with whether a cap actually acted. */
static void job_stats(struct mmsg_broker *b, struct job *j, const char *enforcement, int64_t ret,
                      bool audited_now, enum audit_result result)
{
    struct stats_event ev;

    if (!b->stats)
        return;
    ev = (struct stats_event){
        .policy = j->pol ? j->pol->name : NULL,
        .rule = j->decision.rule_name,
        .action = j->decision.action,
        .enforced = !j->not_enforced,
        .enforcement = enforcement,
        .tgid = j->ident_known ? j->ident.tgid : 0,
        .exe = j->ident_known && j->ident.exe[0] ? j->ident.exe : NULL,
        .audited = audited_now,
        .audit = result,
    };
    if (j->decision.action == MMSG_ACTION_EMULATE && ret != INT64_MIN) {
        int64_t timeout_ns = -1;

        if (j->call.timeout && j->call.timeout_read && !j->call.timeout_err)
            timeout_ns =
                (int64_t)j->call.timeout_ts.tv_sec * 1000000000 + j->call.timeout_ts.tv_nsec;
        ev.cap_cut = stats_cap_cut(&j->decision, j->call.flags, j->call.vlen, timeout_ns, ret,
                                   emu_now_ns() - j->start_ns);
    }
    stats_record(b->stats, &ev);
}

void notify_reply(struct mmsg_broker *b, struct job *j, int64_t ret, const char *enforcement)
{
    enum audit_result result = AUDIT_QUEUED;
    bool audited_now;
    int err;

    if (ret != INT64_MIN) {
        err = kernel_notif_reply(j->listener, j->id, ret < 0 ? (int)ret : 0, ret < 0 ? 0 : ret);
        /* ENOENT: the caller died or a signal withdrew the call; routine. */
        if (err < 0 && err != -ENOENT && ratelimit_below(&notify_rl))
            log_warning_errno(err, "answering notification %llu", (unsigned long long)j->id);
    }
    audited_now = job_audit(b, j, enforcement, ret != INT64_MIN, ret, &result);
    job_stats(b, j, enforcement, ret, audited_now, result);
}

/* The first step of the line: the registers, read from the notification itself. */
static bool decode(struct mmsg_broker *b, struct job *j)
{
    j->start_ns = emu_now_ns();
    j->wall_ns = realtime_ns();
    j->sockfd = -EBADF;
    j->decision = (struct mmsg_decision){.action = MMSG_ACTION_DENY,
                                         .errno_value = ENOSYS,
                                         .rule_name = "unsupported-route",
                                         .rule_index = -1,
                                         .audit = true};
    j->rec.arch = j->data.arch;
    j->rec.nr = j->data.nr;
    j->rec.sys = MMSG_SYS_MAX_;
    j->decoded = true;
    if (!decode_registers(&j->data, &j->call))
        return false;
    /* A served route: until the policy decides, a failure is the broker's, not the route's. */
    j->decision.rule_name = "broker-error";
    j->decision.errno_value = EPERM;
    j->rec.sys = j->call.sys;
    if (j->call.sys != MMSG_SYS_SOCKETCALL) {
        j->rec.args_known = true;
        j->rec.fd = j->call.fd;
        j->rec.mmsg = j->call.mmsg;
        j->rec.vlen = j->call.vlen;
        j->rec.flags = j->call.flags;
        j->rec.timeout = j->call.timeout;
    }
    decode_call(&j->call, &j->mcall);
    (void)b;
    return true;
}

/* Whether deciding needs more than the registers (then a worker fetches the inputs). */
static bool decision_needs_caller(const struct job *j)
{
    return (j->pol->inputs & ~decode_register_inputs(j->call.sys)) != 0;
}

void notify_handle(struct mmsg_broker *b, struct job *j, struct emu_scratch *s)
{
    const char *enforcement = "errno";
    int64_t ret = -EPERM;
    int err = 0;

    if (!j->decoded && !decode(b, j)) {
        /* Fail closed: a route we do not emulate is refused as if it did not exist. */
        ret = -ENOSYS;
        goto respond;
    }
    if (!j->pol) {
        /* The listener names a policy that does not resolve: fail closed (docs/containers.md). */
        j->decision.rule_name = "policy-unavailable";
        j->decision.errno_value = EPERM;
        goto respond;
    }
    if (!j->decided && decision_needs_caller(j)) {
        if (!s)
            goto hand_off;
        err = inputs_fetch(b, j);
        if (err == -EFAULT && j->call.sys == MMSG_SYS_SOCKETCALL) {
            ret = -EFAULT; /* compat_sys_socketcall(): the argument block is unreadable */
            j->decision.rule_name = "unreadable-arguments";
            goto respond;
        }
        if (err < 0)
            goto fail;
    }
    if (!j->decided) {
        if (b->learn && j->remote.memfd >= 0) {
            pthread_mutex_lock(&b->learn_lock); /* learn_observe() is not thread-safe */
            learn_observe(b->learn, &j->mcall);
            pthread_mutex_unlock(&b->learn_lock);
        }
        (void)mmsg_policy_evaluate(j->pol->policy, &j->mcall, &j->decision); /* cannot fail */
        /* Complain mode: decided and audited as the policy says, carried out as an allow. */
        j->not_enforced = b->complain || !j->decision.enforce;
        j->decided = true;
    }
    if (!s && !j->not_enforced &&
        (j->decision.action == MMSG_ACTION_EMULATE ||
         (j->decision.action == MMSG_ACTION_ALLOW && decision_needs_caller(j))))
        goto hand_off;
    if (!s && j->not_enforced && decision_needs_caller(j))
        goto hand_off;
    /* An audit record shows the timeout the caller passed, and socketcall's arguments, all in
     * caller memory: reading them is a worker's job (or an inline run's). */
    if (!s && audited(b, j) && (j->call.timeout || j->call.sys == MMSG_SYS_SOCKETCALL))
        goto hand_off;
    if (s && j->remote.memfd < 0) {
        /* Decided on registers, emulated here: open the caller now. */
        err = inputs_fetch(b, j);
        if (err < 0)
            goto fail;
    }
    if (audited(b, j))
        inputs_identity(b, j);
    ret = enforce_decision(b, j, s, &enforcement);
    if (ret == -EMU_WOULD_WAIT)
        goto hand_off; /* inline, it would have to wait: nothing was taken, a worker waits */
    if (audited(b, j))
        inputs_identity(b, j); /* audited only now ("capped"): the call is still pending */
    goto answer;

fail:
    /* ENOENT: the call is gone (caller killed, or interrupted before we received it). Anything
     * else, ESRCH included (a caller outside our pid namespace has tid 0, so we cannot look at
     * it), is answered with the deny errno: fail closed, and never leave a caller waiting. */
    if (err == -ENOENT) {
        job_release(b, j);
        return;
    }
    if (ratelimit_below(&notify_rl))
        log_warning_errno(err, "handling notification from %d", (int)j->tid);
    /* Say what happened, not the route's default: a transient shortage is EAGAIN. */
    j->decision.action = MMSG_ACTION_DENY;
    j->decision.audit = true;
    if (remote_out_of_fds(err)) {
        j->decision.rule_name = "broker-out-of-fds";
        ret = -EAGAIN;
    } else {
        j->decision.rule_name = err == -ESRCH ? "caller-not-visible" : "broker-error";
        ret = -EPERM;
    }
    j->decision.errno_value = (int)-ret;
respond:
    if (audited(b, j))
        inputs_identity(b, j);
answer:
    notify_reply(b, j, ret, enforcement);
    job_release(b, j);
    return;

hand_off:
    /* On the loop thread: carry it out right here within the budget (inline.c), else a
     * worker of the caller's process share. */
    if (!s && inline_run(b, j))
        return;
    j->may_wait = true;
    err = pool_submit(b->pool, j);
    if (err >= 0)
        return; /* a worker continues this line, answers and releases */
    ret = -EAGAIN;
    j->decision = (struct mmsg_decision){.action = MMSG_ACTION_DENY,
                                         .errno_value = EAGAIN,
                                         .rule_name = "broker-busy",
                                         .rule_index = -1,
                                         .audit = true};
    goto respond;
}
