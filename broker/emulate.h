/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Perform one recvmmsg-family call on the caller's behalf, on the broker's copy of its arguments
 * and the broker's duplicate of its fd, and write the results into its memory. */
#ifndef MMSG_BROKER_EMULATE_H
#define MMSG_BROKER_EMULATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "compat32.h"
#include "mmsgate/policy.h"
#include "remote.h"

/* One call, decoded once by the broker. Nothing here is re-read from the caller except what the
 * kernel itself reads lazily (headers, iovecs), in the kernel's order. */
struct emu_call {
    enum mmsg_syscall sys;
    bool compat; /* i386 layouts */
    int32_t fd;
    uint64_t mmsg;
    uint32_t vlen;
    uint32_t flags;             /* MSG_CMSG_COMPAT stripped */
    uint64_t timeout;           /* pointer, 0 = NULL */
    bool timeout_read;          /* emu_read_timeout() ran: timeout_err and timeout_ts are set */
    int timeout_err;            /* 0, -EFAULT (unreadable) or -EINVAL (out of range) */
    struct timespec timeout_ts; /* the broker's copy, valid when timeout && !timeout_err */
};

struct emu_caps {
    int64_t timeout_cap_ms; /* -1: none */
    uint32_t vlen_cap;      /* 0: none */
    uint32_t clear_flags;
};

/* Not an errno: emu_recvmmsg() would have to block and was told not to. */
#define EMU_WOULD_WAIT 4096

/* Not an errno: the broker is shutting down; the call is answered fail-closed. */
#define EMU_STOPPED 4097

/* Per-worker buffers, allocated once (no allocation per notification). */
#define EMU_PAYLOAD_MAX (4u << 20)
#define EMU_CONTROL_MAX (64u << 10)
/* The trap: one readable page, then one PROT_NONE page (mirror_recv() ends entries there). */
#define EMU_TRAP_PAGE 4096u
struct emu_scratch {
    char *payload;                  /* EMU_PAYLOAD_MAX */
    char *payload2;                 /* EMU_PAYLOAD_MAX: a second receipt of a peeked datagram */
    char *control2;                 /* EMU_CONTROL_MAX: its control messages */
    char *control;                  /* native control, EMU_CONTROL_MAX */
    char *ucontrol;                 /* the caller-layout control being built, EMU_CONTROL_MAX */
    struct iovec riov[UIO_MAXIOV_]; /* the current entry's iovecs (caller addresses) */
    struct iovec riov_probe[UIO_MAXIOV_]; /* the next entry's, when probing it */
    char raw_iov[UIO_MAXIOV_ * 16];       /* an entry's iovec array as the caller laid it out */
    char *trap;                           /* one page, then one PROT_NONE page */
    const volatile bool *stop;            /* set when the broker shuts down; may be NULL */
    /* An eventfd another thread writes when this one should look up from a wait: the pool's
     * watcher (a signal for the caller, or the caller gone) and shutdown. -1: none; then the
     * thread must not wait (emu_recvmmsg()'s @may_wait). */
    int wake;
};

int emu_scratch_init(struct emu_scratch *s);
void emu_scratch_done(struct emu_scratch *s);

/**
 * emu_recvmmsg() - the call, emulated.
 * @r:        the caller (open, call still pending)
 * @c:        the decoded call
 * @sockfd:   the broker's duplicate of c->fd, or the -errno remote_getfd() gave (-EBADF)
 * @caps:     the policy's caps
 * @start_ns: CLOCK_MONOTONIC time the notification was received; the cap counts from it
 * @may_wait: whether this thread may block waiting for datagrams (only with @s->wake, through
 *            which it learns of signals for the caller); when false, a call that would have
 *            to wait returns -EMU_WOULD_WAIT having taken nothing from the socket
 * @s:        this thread's scratch buffers
 * @ret_capped: set when the cap's deadline (not the caller's timeout nor SO_RCVTIMEO) ended a
 *            wait; may be NULL
 *
 * Return: the count the caller's call returns (>= 0), or the negative errno it fails with,
 * -ERESTARTSYS_ when a signal for the caller interrupted the wait before any datagram (the
 * kernel then restarts the call or fails it with EINTR, as it would have itself), or
 * -EMU_WOULD_WAIT (see @may_wait), or -EMU_STOPPED (s->stop was set while waiting, before any
 * datagram was taken).
 */
int64_t emu_recvmmsg(struct remote *r, const struct emu_call *c, int sockfd,
                     const struct emu_caps *caps, uint64_t start_ns, bool may_wait,
                     struct emu_scratch *s, bool *ret_capped);

uint64_t emu_now_ns(void);

/* How long a call that has waited @waited_ns may go before its caller is looked at again for a
 * signal: 20 ms for the first second, then a fifth of the time waited, at most 500 ms. */
int64_t emu_signal_poll_ms(uint64_t waited_ns);

#endif
