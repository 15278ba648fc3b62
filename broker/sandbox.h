/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's own least privilege (sandbox.c). */
#ifndef MMSG_BROKER_SANDBOX_H
#define MMSG_BROKER_SANDBOX_H

/* Keep only CAP_SYS_PTRACE and CAP_KILL (effective, permitted and bounding set) and load the
 * broker's seccomp allow-list, with no_new_privs. Once per process; later calls do nothing.
 * Return: 0; -errno (logged). */
int sandbox_apply(void);

#endif
