/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI runtime-spec seccomp agent socket (listenerPath). */
#ifndef MMSG_BROKER_AGENT_H
#define MMSG_BROKER_AGENT_H

#include <stddef.h>

/* Create, bind (mode 0600) and listen on the unix socket @path. Return: the fd; -EEXIST when
 * @path exists and is not a socket; -errno. */
int agent_listen(const char *path);

/* Accept one runtime connection and take its "seccompFd". @ret_container receives the
 * container id for diagnostics. Return: 0; -EBADMSG (not a container process state);
 * -ENOENT (no seccompFd); -ETIMEDOUT; -errno. */
int agent_accept(int lfd, int *ret_listener, char *ret_container, size_t container_len);

#endif
