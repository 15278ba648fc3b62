/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Carrying out a decision: CONTINUE (the kernel runs the call), an errno, a kill, or the call
 * emulated on the broker's own copy of its arguments. */
#include <errno.h>

#include "core.h"
#include "kernel.h"

#define LOG_COMPONENT "enforce"
#include "log.h"

static struct ratelimit enforce_rl = RATELIMIT_INIT(5000, 10);

/* CONTINUE lets the kernel re-read memory and re-resolve the fd after our check, so it is only
 * sound when the decision rested on nothing but registers. */
static bool registers_decided(const struct job *j)
{
    return (j->decision.inputs & ~decode_register_inputs(j->call.sys)) == 0;
}

static int64_t emulate(struct job *j, struct emu_scratch *s, const char **ret_enforcement)
{
    int64_t ret;

    *ret_enforcement = "emulate";
    if (j->sockfd == -EXDEV) {
        /* Before Linux 6.9 a thread with an unshared fd table, or whose group leader has
         * exited, cannot be reached (remote.h): refuse rather than act on another table's fd. */
        j->decision.rule_name = "fd-table-unreachable";
        *ret_enforcement = "errno";
        return -EPERM;
    }
    if (j->sockfd == -EMFILE || j->sockfd == -ENFILE) {
        j->decision.rule_name = "broker-out-of-fds";
        *ret_enforcement = "errno";
        return -EAGAIN;
    }
    ret = emu_recvmmsg(&j->remote, &j->call, j->sockfd, &j->caps, j->start_ns, j->may_wait, s,
                       &j->capped);
    /* "audit": "capped": the record is written only when the cap actually acted. */
    if (j->capped && j->decision.audit_if_capped)
        j->decision.audit = true;
    if (ret == -EMU_STOPPED) {
        /* The broker is going away: fail closed the way a closed listener would. */
        *ret_enforcement = "errno";
        return -ENOSYS;
    }
    return ret;
}

/* Let the call proceed: CONTINUE where registers alone were consulted, else carried out on our
 * copy of what was read, without caps. Return: as enforce_decision(). */
static int64_t allow(struct job *j, struct emu_scratch *s, const char **ret_enforcement)
{
    int err;

    if (registers_decided(j)) {
        err = kernel_notif_continue(j->listener, j->id);
        if (err < 0 && err != -ENOENT && ratelimit_below(&enforce_rl))
            log_warning_errno(err, "continuing notification");
        *ret_enforcement = "continue";
        return INT64_MIN;
    }
    j->caps = (struct emu_caps){.timeout_cap_ms = -1};
    return emulate(j, s, ret_enforcement);
}

int64_t enforce_decision(struct mmsg_broker *b, struct job *j, struct emu_scratch *s,
                         const char **ret_enforcement)
{
    int err;

    (void)b;
    /* Complain mode: whatever was decided proceeds, as an allow would. */
    if (j->not_enforced)
        return allow(j, s, ret_enforcement);
    switch (j->decision.action) {
    case MMSG_ACTION_ALLOW:
        return allow(j, s, ret_enforcement);
    case MMSG_ACTION_EMULATE:
        j->caps = (struct emu_caps){
            .timeout_cap_ms = j->decision.timeout_cap_ms,
            .vlen_cap = j->decision.vlen_cap,
            .clear_flags = j->decision.clear_flags,
        };
        return emulate(j, s, ret_enforcement);
    case MMSG_ACTION_DENY:
        *ret_enforcement = "errno";
        return -j->decision.errno_value;
    case MMSG_ACTION_KILL:
        err = j->remote.pidfd >= 0 ? 0 : remote_open(&j->remote, j->listener, j->id, j->tid);
        if (err >= 0)
            err = remote_kill(&j->remote);
        if (err < 0 && err != -ENOENT && err != -ESRCH)
            log_warning_errno(err, "killing caller %d", (int)j->tid);
        /* Answer anyway, so the call never runs even if the kill failed. */
        (void)kernel_notif_reply(j->listener, j->id, -EPERM, 0); /* ENOENT once it is dead */
        *ret_enforcement = "kill";
        return INT64_MIN;
    case MMSG_ACTION_MAX_:
    default:
        *ret_enforcement = "errno";
        return -EPERM;
    }
}
