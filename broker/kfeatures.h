/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel features mmsgate uses, probed once at start-up (named kfeatures, not features: the
 * broker directory is on the include path and glibc has its own <features.h>): what the running
 * kernel has, what mmsgate needs, and which fallback is in effect without each optional one. */
#ifndef MMSG_BROKER_KFEATURES_H
#define MMSG_BROKER_KFEATURES_H

#include <stdbool.h>
#include <stdio.h>

/* One boolean per feature: true when the running kernel has it. Filled once by
 * features_probe(); read-only afterwards, so any thread may read it. */
struct features {
    char release[65];               /* uname(2) release of the running kernel */
    bool wait_killable_recv;        /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 5.19 (required) */
    bool listener;                  /* SECCOMP_FILTER_FLAG_NEW_LISTENER, 5.0 (required) */
    bool addfd;                     /* SECCOMP_IOCTL_NOTIF_ADDFD, 5.9 (required) */
    bool pidfd_open;                /* pidfd_open(2), 5.3 (required) */
    bool pidfd_getfd;               /* pidfd_getfd(2), 5.6 (required) */
    bool pidfd_thread;              /* pidfd_open(PIDFD_THREAD), 6.9 */
    bool pidfd_signal_thread_group; /* pidfd_send_signal(PIDFD_SIGNAL_THREAD_GROUP), 6.9 */
    bool sync_wake_up;              /* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 6.6 */
    bool procmap_query;             /* ioctl(PROCMAP_QUERY) on /proc/<pid>/maps, 6.11 */
    bool kcmp;                      /* kcmp(2) KCMP_FILES/KCMP_FILE (CONFIG_KCMP) */
    bool addrlen_first;             /* behaviour, not a feature: see features_addrlen_first() */
};

/* Probe every feature of the running kernel, once per process (later calls return at once).
 * Side-effect free for the caller: the probes that need a seccomp listener run in a short-lived
 * child. Call it before creating threads. Return: 0 (a probe that fails counts as missing). */
int features_probe(void);

/* The probed features; probes first if features_probe() has not run yet. Never NULL. */
const struct features *features_get(void);

/* Whether the running kernel's net/socket.c move_addr_to_user() stores a received datagram's
 * full address length before it copies the address (Linux 6.18, 1fb0e471611d) rather than after
 * (every earlier kernel). Only a fault on one of the two writes shows the order, and the
 * emulation reproduces it (docs/recvmmsg-compat.md rule 37). Probed once, on a real datagram,
 * on first use; any thread may call it. run, serve and agent probe it at start-up, before
 * their sandbox (features_probe()). */
bool features_addrlen_first(void);

/* The first feature mmsgate cannot work without, as "NAME (Linux X.Y)", or NULL when the kernel
 * has everything required. */
const char *features_missing_required(const struct features *f);

/* Print the kernel release and, for every feature, whether it was found and what mmsgate does
 * without it (`mmsgate features`). Return: 0 when mmsgate can run on this kernel, -EOPNOTSUPP
 * when a required feature is missing, -EIO when @out could not be written. */
int features_print(const struct features *f, FILE *out);

/* Start-up check of run, serve and agent: -EOPNOTSUPP when a required feature is missing (the
 * caller says which, with features_missing_required(), and exits 125); otherwise logs one
 * warning line per fallback in effect and returns the number of fallbacks. */
int features_check_startup(const struct features *f);

#endif
