/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mmsgate broker: serve seccomp user notifications for the recvmmsg family from any number of
 * listener fds, deciding each call with a policy. */
#ifndef MMSGATE_BROKER_H
#define MMSGATE_BROKER_H

#include <stdbool.h>
#include <sys/types.h>

#include "mmsgate/policy.h"

struct mmsg_broker;

struct mmsg_broker_options {
    const struct mmsg_policy *policy; /* borrowed; must outlive the broker */
    const char *audit_path;           /* NULL: no audit; "-": stderr; else appended to */
    bool audit_all;                   /* audit every decision, not just audited rules */
    unsigned max_workers;             /* threads for blocking emulations; 0: default (64) */
};

/**
 * mmsg_broker_new() - create a broker (no listener yet).
 * Return: 0; -ENOMEM; -errno opening the audit sink; -ENOSYS when the kernel lacks
 * SECCOMP_GET_NOTIF_SIZES.
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

/**
 * mmsg_broker_add_agent() - listen on the unix socket @path (mode 0600, a stale socket is
 * replaced) for OCI runtimes (runc, crun) handing over container listeners via the
 * runtime-spec `listenerPath`; each one received is served like mmsg_broker_add_listener().
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

/** mmsg_signals_block() - block the signals mmsg_broker_serve() forwards, plus SIGCHLD and
 * SIGPIPE, in the calling thread (call before creating any thread). */
int mmsg_signals_block(void);

#endif
