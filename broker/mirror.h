/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The peek/take mirror (mirror.c). */
#ifndef MMSG_BROKER_MIRROR_H
#define MMSG_BROKER_MIRROR_H

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "uabi.h"

/* Receive one datagram into @nm on our duplicate of the caller's socket while making the
 * kernel store @next_err (the next entry's decoding error) as the socket's pending error, as
 * the caller's own call would have. Return: bytes received; -errno (nothing taken). */
ssize_t mirror_recv(int sockfd, struct msghdr *nm, int next_err, int nflags,
                    const struct timespec *rem, struct emu_scratch *s);

/* The lock serialising peek-then-take on the socket @st (striped by inode). */
pthread_mutex_t *mirror_sock_lock(const struct stat *st);

/* Take the datagram a peek (@pm, @pn) gave entry @e and that was written to the caller with
 * result @deliver_err. If another reader took it meanwhile, the datagram taken instead is
 * delivered in full (payload, name, flags, control). Return: the delivery's result; 1 when
 * nothing was left to take (the entry does not count). Called with mirror_sock_lock() held. */
int mirror_take(struct remote *r, const struct emu_call *c, const struct uabi_entry *e,
                struct emu_scratch *s, int sockfd, int nflags, int deliver_err, int next_err,
                const struct timespec *rem, const struct msghdr *pm, ssize_t pn,
                struct cmsg_out *co);

#endif
