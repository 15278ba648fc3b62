/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The seccomp filter that sends every route to the recvmmsg operation to the broker. */
#ifndef MMSG_BROKER_FILTER_H
#define MMSG_BROKER_FILTER_H

#include <linux/filter.h>
#include <stdio.h>

struct filter_prog {
    struct sock_fprog fprog; /* owns fprog.filter */
};

/* Build the filter with libseccomp and export it as BPF into @ret (done before fork(), so the
 * child only has to load it). Return: 0; -ENOMEM; other -errno from libseccomp. */
int filter_build(struct filter_prog *ret);
void filter_done(struct filter_prog *prog);

/* Write libseccomp's pseudo filter code for the same filter to @fd. */
int filter_export_pfc(int fd);

/* In the child: PR_SET_NO_NEW_PRIVS, then load @prog with NEW_LISTENER|WAIT_KILLABLE_RECV.
 * Async-signal-safe. Return: the listener fd; -errno. */
int filter_install(const struct filter_prog *prog);

#endif
