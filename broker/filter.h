/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp filter: decides in the kernel what a policy decides from registers alone and
 * sends every other call of the recvmmsg family to the broker. */
#ifndef MMSG_BROKER_FILTER_H
#define MMSG_BROKER_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdio.h>

#include "mmsgate/policy.h"

struct filter_prog {
    struct sock_fprog fprog; /* owns fprog.filter */
    bool notify_all;         /* no policy, or its tree did not fit: every call is notified */
};

/* Build the filter for @policy into @ret (done before fork(), so the child only has to load
 * it): register-only decisions of @policy are returned by the kernel; with @audit_all every
 * decision is audited, so every call of the family is notified. @policy NULL: every call is
 * notified (for a broker whose policy is not known here). A policy too large for one BPF
 * program also falls back to that. Return: 0; -ENOMEM. */
int filter_build(const struct mmsg_policy *policy, bool audit_all, struct filter_prog *ret);
void filter_done(struct filter_prog *prog);

/* Print the same filter readably to @f: the decision tree per route, then every BPF
 * instruction with a comment. Return: 0; -ENOMEM; -EIO. */
int filter_print(const struct mmsg_policy *policy, bool audit_all, FILE *f);

/* Write the same filter's raw instructions (struct sock_filter[]) to a new file @path (mode
 * 0644, replaced if it exists). Return: 0; -ENOMEM; -errno. */
int filter_write_bpf(const struct mmsg_policy *policy, bool audit_all, const char *path);

/* In the child: PR_SET_NO_NEW_PRIVS, then load @prog with NEW_LISTENER|WAIT_KILLABLE_RECV.
 * Async-signal-safe. Return: the listener fd; -errno. */
int filter_install(const struct filter_prog *prog);

#endif
