/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Learning a least-privilege policy from observed calls ("mmsgate learn"): observations in,
 * policy JSON out. Pure: no syscalls, no clock, no logging; not thread-safe (the broker calls
 * learn_observe() from the one thread that decides calls). */
#ifndef MMSGATE_POLICY_LEARN_H
#define MMSGATE_POLICY_LEARN_H

#include <stddef.h>

#include "mmsgate/policy.h"

/* Distinct (executable, route set, socket) groups kept; calls beyond are counted, not learned. */
#define LEARN_GROUPS_MAX 1024
/* Linux's default net.ipv4.ip_local_port_range starts here: a socket bound to a port at or
 * above it is taken as ephemeral (a client socket), learned as the whole range, since the next
 * run gets another port. */
#define LEARN_EPHEMERAL_PORT_MIN 32768

struct learn;

/* Return: 0; -ENOMEM. */
int learn_new(struct learn **ret);
/* NULL is fine. Return: NULL. */
struct learn *learn_free(struct learn *l);

/**
 * learn_observe() - record one call, with every input the broker could resolve (timeout value,
 * socket, process: fetch them all when learning).
 * Return: 0; -E2BIG (LEARN_GROUPS_MAX groups already: counted in the output's description);
 * -ENOMEM.
 */
int learn_observe(struct learn *l, const struct mmsg_call *call);

/** learn_n_calls() - calls observed so far (every learn_observe(), learned or not). */
unsigned long learn_n_calls(const struct learn *l);

/**
 * learn_policy_json() - the least-privilege policy for what was observed: one allow rule per
 * (executable, socket family/type/local port), matching only the routes, vlen range, flags and
 * kind of timeout seen; a default that denies (EPERM, audited) everything else; suggested caps
 * in each rule's comment. @what names the workload in the description (may be NULL).
 * @ret_json: NUL-terminated, free() it.
 * Return: 0; -ENOMEM.
 */
int learn_policy_json(const struct learn *l, const char *what, char **ret_json);

#endif
