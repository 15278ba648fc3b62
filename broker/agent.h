/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI runtime-spec seccomp agent (listenerPath): receives container listeners from runc, crun
 * and Podman without ever blocking the caller's loop, and keeps them across restarts (systemd
 * fd store, or a live hand-over to a newer agent on the same socket). */
#ifndef MMSG_BROKER_AGENT_H
#define MMSG_BROKER_AGENT_H

#include <stdbool.h>
#include <stddef.h>

struct agent;
struct mmsg_listener_info;

/* Called once per listener received (from a runtime, the fd store, or an older agent).
 * Ownership of @listener_fd moves to the callee, also when it fails; @info is valid during the
 * call only. Return: >= 0 when the listener is served; -errno (logged by the agent). */
typedef int (*agent_listener_fn)(void *userdata, int listener_fd,
                                 const struct mmsg_listener_info *info);

struct agent_options {
    unsigned deadline_ms; /* a peer that started a message must finish it within this; 0: 2000 */
    unsigned idle_ms;     /* a peer that has sent nothing yet may wait this long (crun connects
                           * at "create" and writes at "start"); 0: one hour */
    size_t max_msg;       /* bytes of one message; 0: 1 MiB */
    unsigned max_conns;   /* connections being read at once (when full, the oldest idle one is
                           * closed for a new one); 0: 256 */
    bool no_takeover;     /* do not take over from an agent already serving the socket */
};

/* What agent_dispatch() returns when this agent has handed every listener to a newer agent:
 * the caller must stop receiving notifications on every listener it got from this agent
 * (calls already received are still answered; new ones stay queued in the kernel for the new
 * agent), stop polling agent_fd() and agent_free() it. */
#define AGENT_HANDED_OVER 1

/* Start serving @path (a unix stream socket, mode 0600):
 * - under systemd socket activation (sd_listen_fds), the inherited listening socket is used
 *   and listeners kept in the service's fd store (FDSTORE=1) are adopted;
 * - otherwise, when an agent already serves @path, this one takes over its listeners (and
 *   its socket path) over the control socket "@path.ctl", unless @opts->no_takeover;
 * - otherwise @path is created (a stale socket is replaced; any other file: -EEXIST).
 * Every listener adopted is passed to @on_listener before this returns. Under systemd,
 * READY=1 is sent once the socket listens. RLIMIT_NOFILE's soft limit is raised to the hard
 * one (each listener costs two fds: the caller's and the agent's hand-over copy).
 * Return: 0; -EEXIST; -ENAMETOOLONG; -errno. */
int agent_new(const char *path, const struct agent_options *opts, agent_listener_fn on_listener,
              void *userdata, struct agent **ret);

/* The epoll fd to poll for EPOLLIN; it stays valid until agent_free(). */
int agent_fd(const struct agent *a);

/* Do what is ready (never blocks on a peer): accept connections, read them, hand complete
 * listeners to the callback, expire peers past their deadline, forget listeners whose
 * containers are gone, answer a newer agent's hand-over request. Every refused peer gets one
 * log line. Return: 0; AGENT_HANDED_OVER; -errno (epoll failed: the agent is unusable). */
int agent_dispatch(struct agent *a);

/* Number of listeners the agent holds for hand-over (containers still running). */
size_t agent_n_listeners(const struct agent *a);

/* Close everything; remove the socket file unless a newer agent took it over. Return: NULL. */
struct agent *agent_free(struct agent *a);

#endif
