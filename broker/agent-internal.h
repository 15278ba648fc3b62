/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by agent.c (runtime connections) and agent-restart.c (systemd fd store, live
 * hand-over): the agent's state. Not used elsewhere. */
#ifndef MMSG_BROKER_AGENT_INTERNAL_H
#define MMSG_BROKER_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent-msg.h"
#include "agent.h"

/* What an epoll event's data.ptr points to: each source starts with its kind. */
enum agent_kind {
    AGENT_SRC_SOCKET,  /* the runtime-facing listening socket */
    AGENT_SRC_CONTROL, /* the hand-over listening socket (PATH.ctl) */
    AGENT_SRC_TIMER,   /* timerfd: the earliest peer deadline */
    AGENT_SRC_CONN,    /* a runtime connection being read */
    AGENT_SRC_HELD,    /* our copy of a listener served by the caller (EPOLLHUP only) */
    AGENT_SRC_TAKER,   /* a newer agent asking for our listeners */
};

/* A listener handed to the caller, kept (a dup) so a restart can pass it on. */
struct agent_held {
    enum agent_kind kind; /* AGENT_SRC_HELD */
    int fd;
    char container_id[AGENT_ID_MAX];
    char bundle[PATH_MAX];
    char policy[POLICY_NAME_MAX + 32]; /* "" default */
    enum agent_policy_source policy_source;
    pid_t init_pid;
    char fdname[32]; /* the systemd fd store name, "" when not stored */
    struct agent_held *prev, *next;
};

struct agent_conn {
    enum agent_kind kind; /* AGENT_SRC_CONN */
    int fd;
    unsigned serial; /* for log lines: "connection #N" */
    pid_t peer_pid;  /* SO_PEERCRED, 0 unknown */
    char *buf;
    size_t len, cap;
    int *fds; /* received, not yet given away */
    size_t n_fds;
    bool fds_dropped; /* more fds than we keep arrived (closed) */
    struct agent_frame frame;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC */
    struct agent_conn *prev, *next;
};

struct agent {
    int epfd;
    struct {
        enum agent_kind kind;
        int fd;
    } sock, control, timer, taker;
    char path[108];
    char ctl_path[108];
    dev_t sock_dev, ctl_dev; /* what we created, so we never unlink a successor's file */
    ino_t sock_ino, ctl_ino;
    struct agent_options opts;
    agent_listener_fn on_listener;
    void *userdata;
    struct agent_conn *conns;
    unsigned n_conns, next_serial;
    struct agent_held *held;
    size_t n_held;
    bool fdstore;             /* under systemd with NOTIFY_SOCKET: keep listeners in the fd store */
    char state_dir[PATH_MAX]; /* fd store companions: STATE_DIR/FDNAME.json */
    bool handing_over;        /* a newer agent is taking our listeners */
    bool handed_over;         /* done: everything passed on */
};

uint64_t agent_now_ns(void);

/* Serve one listener: keep a copy for restarts (and the fd store), then give it to the
 * caller's callback. Ownership of @fd moves here. Return: the callback's result. */
int agent_deliver(struct agent *a, int fd, const struct agent_msg *m, bool from_store,
                  const char *fdname);

/* Accept every connection waiting on the runtime socket (at most @max). */
void agent_accept_pending(struct agent *a, unsigned max);
/* Read runtime connection @fd (accepted here, or passed by an older agent before its runtime
 * wrote anything). Ownership of @fd moves here. Return: 0; -EMFILE (table full); -errno. */
int agent_conn_add(struct agent *a, int fd);
/* Close @c without a log line (passed to a newer agent). */
void agent_conn_drop(struct agent *a, struct agent_conn *c);

/* Forget @h (its container is gone): close our copy, drop it from the fd store. */
void agent_held_drop(struct agent *a, struct agent_held *h);

/* agent-restart.c */
/* Bind @a->path: adopt an inherited socket (systemd), or take over from an older agent, or
 * create it; then the control socket. Adopted listeners go through agent_deliver(). */
int agent_restart_setup(struct agent *a);
/* The control socket is readable: a newer agent connects. */
void agent_restart_on_control(struct agent *a);
/* The newer agent's connection is readable (its request, or its end). Return: 0;
 * AGENT_HANDED_OVER when everything was passed on. */
int agent_restart_on_taker(struct agent *a);
/* During a hand-over, a runtime connection completed: pass its listener to the newer agent
 * instead of the caller. Ownership of @fd moves here. */
void agent_restart_forward(struct agent *a, int fd, const struct agent_msg *m);
/* Return AGENT_HANDED_OVER once a hand-over has no connection left to finish, else 0. */
int agent_restart_finish(struct agent *a);
/* The fd store: keep @h (FDSTORE=1) and write its companion file; drop it again. */
void agent_fdstore_add(struct agent *a, struct agent_held *h);
void agent_fdstore_remove(struct agent *a, struct agent_held *h);

#endif
