/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mmsgate broker: serve seccomp user notifications for the recvmmsg family from any number of
 * listener fds, deciding each call with a policy. */
#ifndef MMSGATE_BROKER_H
#define MMSGATE_BROKER_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "mmsgate/policy.h"

struct mmsg_broker;
struct stats;        /* broker/stats.h */
struct policy_store; /* broker/policy-store.h */
struct learn;        /* policy/learn.h */

/* Signals mmsgate never forwards to PROG ("mmsgate reload PID", "mmsgate stats PID"): reload
 * every policy and reopen the audit file; print the stats table on the log. serve and agent
 * also reload on SIGHUP. */
#define MMSG_SIGNAL_RELOAD (SIGRTMIN + 0)
#define MMSG_SIGNAL_STATS (SIGRTMIN + 1)

/* Worker threads for calls that need their caller, when mmsg_broker_options.max_workers is 0. */
#define MMSG_DEFAULT_WORKERS 256u

struct mmsg_broker_options {
    const struct mmsg_policy *policy; /* borrowed; used when @store is NULL (must outlive) */
    const char *audit_path;           /* NULL: no audit; "-": stderr; else appended to */
    bool audit_all;                   /* audit every decision, not just audited rules */
    unsigned max_workers;             /* threads for emulations; 0: MMSG_DEFAULT_WORKERS */
    unsigned busy_poll_us;            /* spin this long for the next call while calls come
                                       * that often (loop.c); 0: never, sleep at once */
    bool complain;                    /* decide and audit every call, enforce none (--complain) */
    struct policy_store *store;       /* borrowed; NULL: @policy only (or the built-in one);
                                       * reloaded on MMSG_SIGNAL_RELOAD (and SIGHUP for serve
                                       * and agent) */
    struct stats *stats;              /* borrowed; NULL: no counters (stats_record()) */
    struct learn *learn;              /* borrowed; NULL: not learning (learn_observe()) */
};

/**
 * mmsg_broker_new() - create a broker (no listener yet).
 * Return: 0; -ENOMEM; -EINVAL (invalid policy, errors logged as FILE:LINE:COLUMN); -errno
 * opening the policy or the audit sink; -ENOSYS when the kernel lacks SECCOMP_GET_NOTIF_SIZES.
 */
int mmsg_broker_new(const struct mmsg_broker_options *opts, struct mmsg_broker **ret_broker);

/** mmsg_broker_free() - stop workers, flush the audit sink, close every fd. Return: NULL. */
struct mmsg_broker *mmsg_broker_free(struct mmsg_broker *broker);

/**
 * mmsg_broker_add_listener() - serve @listener_fd (ownership moves to the broker). Sets
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP when the kernel has it (6.6+).
 * Return: 0; -EMFILE (too many listeners); -errno from epoll.
 */
int mmsg_broker_add_listener(struct mmsg_broker *broker, int listener_fd);

/* Who a listener serves, for the policy choice and the audit (agent: one per container). */
struct mmsg_listener_info {
    const char *container_id; /* NULL outside the agent */
    const char *bundle;       /* NULL when unknown */
    const char *policy_name;  /* NULL: the default policy */
    pid_t init_pid;           /* the container's first process as the host sees it; 0 unknown */
};

/**
 * mmsg_broker_add_listener_info() - like mmsg_broker_add_listener(), with @info copied into
 * the broker. Calls on this listener are decided by the policy named @info->policy_name; when
 * that name does not resolve, every call fails closed with the deny errno of rule
 * "policy-unavailable" (audited) and one log line says why.
 * Return: as mmsg_broker_add_listener().
 */
int mmsg_broker_add_listener_info(struct mmsg_broker *broker, int listener_fd,
                                  const struct mmsg_listener_info *info);

/**
 * mmsg_broker_add_agent() - listen on the unix socket @path (mode 0600, a stale socket is
 * replaced; under systemd socket activation the inherited socket) for OCI runtimes (runc, crun,
 * Podman) handing over container listeners via the runtime-spec `listenerPath`; each one is
 * served like mmsg_broker_add_listener_info() with the container's identity and policy name.
 * Listeners kept in systemd's fd store, or held by an agent already serving @path (which then
 * hands them over and stops), are adopted first. See docs/containers.md.
 * Return: 0; -EBUSY (already listening); -EEXIST (@path is not a socket); -errno.
 */
int mmsg_broker_add_agent(struct mmsg_broker *broker, const char *path);

/**
 * mmsg_broker_serve() - serve until every listener has hung up (all filtered tasks exited)
 * and, when @child > 0, that child has been reaped; forward INT, TERM, HUP, QUIT, USR1 and USR2
 * to @child. Without a child, INT, TERM, HUP or QUIT end serving; with an agent socket, only
 * they do. The caller must have blocked those signals and SIGCHLD in every thread.
 * @ret_status: the child's wait status, when @child > 0.
 * Return: 0; -errno from epoll or signalfd.
 */
int mmsg_broker_serve(struct mmsg_broker *broker, pid_t child, int *ret_status);

struct mmsg_run_options {
    char *const *argv; /* PROG and its arguments */
    bool drop_caps;    /* drop every capability of PROG (libcap) */
    /* The policy the broker decides with (borrowed; NULL: the filter notifies every call): its
     * register-only decisions are compiled into PROG's filter. Give the broker's own policy
     * and audit_all, or the kernel would answer calls the broker's policy decides otherwise. */
    const struct mmsg_policy *policy;
    bool audit_all;
};

/**
 * mmsg_run() - start @run->argv under the filter and serve it with @broker until it and every
 * filtered descendant have exited.
 * @ret_status: PROG's wait status.
 * Return: 0; -ENOENT / -EACCES / -ENOEXEC (PROG could not be executed: nothing ran); other
 * -errno when the sandbox could not be set up (nothing ran unfiltered).
 */
int mmsg_run(struct mmsg_broker *broker, const struct mmsg_run_options *run, int *ret_status);

/** mmsg_signals_block() - block the signals mmsg_broker_serve() forwards, plus SIGCHLD,
 * SIGPIPE and SIGRTMIN + 2 (which wakes the broker's own loop thread), in the calling thread
 * (call before creating any thread). */
int mmsg_signals_block(void);

#endif
