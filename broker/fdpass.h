/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Passing one fd over a unix socket (SCM_RIGHTS): the launcher hands the listener to the broker. */
#ifndef MMSG_BROKER_FDPASS_H
#define MMSG_BROKER_FDPASS_H

/* Send @fd over @sock with one data byte. Async-signal-safe (the launch child uses it between
 * fork and exec). Returns 0, or -errno from sendmsg(2) (EPIPE if the peer is gone). */
int fdpass_send(int sock, int fd);

/* Receive one fd sent by fdpass_send(), close-on-exec. Returns the fd; -ECHILD if the peer
 * closed the socket without sending (it died first); -EBADMSG if the message carried no single
 * fd; or -errno from recvmsg(2). EINTR is retried. */
int fdpass_recv(int sock);

#endif
