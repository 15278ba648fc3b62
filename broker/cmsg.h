/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Control messages of one received datagram, re-emitted in the caller's layout (native or i386)
 * straight into its msg_control, with passed fds installed through ADDFD. */
#ifndef MMSG_BROKER_CMSG_H
#define MMSG_BROKER_CMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "remote.h"

struct cmsg_out {
    struct remote *r;
    bool compat;
    bool cloexec;
    bool any;       /* the caller supplied a control buffer */
    uint64_t uaddr; /* the caller's msg_control */
    char *buf;      /* the messages as built, at their offsets in the caller's buffer */
    size_t cap;     /* the caller's msg_controllen, bounded by EMU_CONTROL_MAX */
    size_t used;
    size_t pend, pend_end; /* built, writable and not yet written: [pend, pend_end) */
    uint32_t flags;        /* MSG_CTRUNC to add */
};

/* Translate the native control messages of @nm into the caller's layout. Our own copies of
 * passed fds are always closed. Faults are not errors (put_cmsg() ignores them too). */
void cmsg_translate(struct cmsg_out *o, struct msghdr *nm);

/* Close fds the kernel passed us for a datagram we could not deliver. */
void cmsg_close_passed_fds(struct msghdr *nm);

#endif
