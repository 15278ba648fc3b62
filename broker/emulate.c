/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recvmmsg emulation: the kernel's do_recvmmsg() loop (net/socket.c) replayed in the broker on
 * its duplicate of the caller's socket; the caller's memory is read and written by uabi.c and
 * cmsg.c in the kernel's order, receipts that must leave socket state go through mirror.c.
 * Rules cited as "rule N" are in docs/recvmmsg-compat.md. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmsg.h"
#include "emulate.h"
#include "internal/macros.h"
#include "kernel.h"
#include "mirror.h"
#include "uabi.h"

/* While a blocking emulation waits, the pool's watcher thread looks for signals aimed at the
 * caller (the filter uses WAIT_KILLABLE_RECV, so the kernel leaves that to us:
 * docs/recvmmsg-compat.md rule 29) with one read of the caller's bound /proc/<tid>/status: every
 * 20 ms for the first second of a wait, then every fifth of the time waited so far, at most every
 * 500 ms (from 2.5 s on), and wakes the waiting worker (emu_scratch.wake), which then looks
 * itself. 1,000 calls waiting for long thus cost 2,000 reads a second, not 50,000
 * (docs/emulation.md, deliberate difference 7). */
#define SIGNAL_POLL_MS 20
#define SIGNAL_POLL_MAX_MS 500
#define SIGNAL_POLL_FAST_NS 1000000000ull

int64_t emu_signal_poll_ms(uint64_t waited_ns)
{
    int64_t ms;

    if (waited_ns <= SIGNAL_POLL_FAST_NS)
        return SIGNAL_POLL_MS;
    ms = (int64_t)(waited_ns / 5000000);
    return ms < SIGNAL_POLL_MAX_MS ? ms : SIGNAL_POLL_MAX_MS;
}

uint64_t emu_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int emu_scratch_init(struct emu_scratch *s)
{
    s->wake = -1;
    /* mmap: pages are only backed once a large datagram actually touches them. Two payload
     * buffers back to back: a peeked datagram and its second receipt (take_entry()). */
    s->payload = mmap(NULL, (size_t)2 * EMU_PAYLOAD_MAX, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->payload == MAP_FAILED) {
        s->payload = NULL;
        return -ENOMEM;
    }
    s->payload2 = s->payload + EMU_PAYLOAD_MAX;
    /* Native entries that must fail like a caller's entry (see recv_mirrored()). */
    s->trap = mmap(NULL, (size_t)2 * EMU_TRAP_PAGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->trap == MAP_FAILED || mprotect(s->trap + EMU_TRAP_PAGE, EMU_TRAP_PAGE, PROT_NONE) < 0) {
        if (s->trap == MAP_FAILED)
            s->trap = NULL;
        emu_scratch_done(s);
        return -ENOMEM;
    }
    s->control = malloc(EMU_CONTROL_MAX);
    s->control2 = malloc(EMU_CONTROL_MAX);
    s->ucontrol = malloc(EMU_CONTROL_MAX);
    if (!s->control || !s->control2 || !s->ucontrol) {
        emu_scratch_done(s);
        return -ENOMEM;
    }
    return 0;
}

void emu_scratch_done(struct emu_scratch *s)
{
    if (s->payload)
        (void)munmap(s->payload, (size_t)2 * EMU_PAYLOAD_MAX); /* only fails for a bad range */
    if (s->trap)
        (void)munmap(s->trap, (size_t)2 * EMU_TRAP_PAGE); /* only fails for a bad range */
    free(s->control);
    free(s->control2);
    free(s->ucontrol);
    if (s->wake >= 0)
        (void)close(s->wake); /* nothing to do about a failed close */
    *s = (struct emu_scratch){.wake = -1};
}

/* The wait before entry i, when the socket has nothing: until readable, the cap deadline, the
 * SO_RCVTIMEO deadline, a signal for the caller or the broker's shutdown. Return: 0 readable
 * (maybe); -EAGAIN timed out; -ERESTARTSYS_ / -EINTR interrupted; -EMU_STOPPED; -errno. */
static int wait_readable(struct remote *r, const struct emu_scratch *s, int sockfd, uint32_t flags,
                         uint64_t deadline_ns, bool has_rcvtimeo)
{
    for (;;) {
        struct pollfd p[2] = {
            {.fd = sockfd, .events = (flags & MSG_ERRQUEUE) ? POLLERR | POLLPRI : POLLIN},
            {.fd = s->wake, .events = POLLIN}};
        uint64_t now = emu_now_ns();
        int timeout_ms = -1, n, pending;

        if (s->stop && *s->stop)
            return -EMU_STOPPED;
        if (deadline_ns && now >= deadline_ns)
            return -EAGAIN;
        if (deadline_ns) {
            uint64_t left_ms = (deadline_ns - now + 999999) / 1000000;

            timeout_ms = left_ms < INT32_MAX ? (int)left_ms : INT32_MAX;
        }
        /* Until readable, the deadline, or a wake-up: a signal or the caller gone (the pool's
         * watcher), or shutdown. */
        n = poll(p, 2, timeout_ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0 && (p[1].revents & POLLIN)) {
            eventfd_t ignored;

            (void)eventfd_read(s->wake, &ignored); /* nonblocking; only clears the wake-up */
        }
        if (n > 0 && p[0].revents) {
            /* A caller killed while we waited has no call left: receiving now would take a
             * datagram another reader of the socket should get. */
            if (remote_check(r) < 0)
                return -ENOENT;
            return 0;
        }
        pending = remote_signal_pending(r);
        if (pending < 0)
            return pending == -ESRCH ? -ENOENT : pending;
        /* include/net/sock.h sock_intr_errno(): EINTR when SO_RCVTIMEO is set, else
         * ERESTARTSYS, which the kernel turns into a restart or EINTR per SA_RESTART. */
        if (pending > 0)
            return has_rcvtimeo ? -EINTR : -ERESTARTSYS_;
        /* No ID_VALID here: the status file is bound to the caller's task, and a caller still
         * alive is still in its call (after RECV only a fatal signal ends the wait, and that
         * ends the thread: WAIT_KILLABLE_RECV). The next read, or the check before receiving,
         * sees a caller that is gone. */
    }
}

/* Nanoseconds on CLOCK_MONOTONIC, wide enough for a deadline of TIME64_MAX seconds. */
typedef __int128 wide_ns;

#define TIME64_MAX_ INT64_MAX

/* kernel/time/time.c timespec64_add_safe(): @a + @sec.@nsec, or {TIME64_MAX, 0} when the sum
 * would overflow, so a timeout of {TIME_MAX, 999999999} never wraps into the past. */
static wide_ns add_safe(uint64_t a_ns, int64_t sec, int64_t nsec)
{
    int64_t a_sec = (int64_t)(a_ns / 1000000000u);

    if (sec > TIME64_MAX_ - a_sec - 1)
        return (wide_ns)TIME64_MAX_ * 1000000000;
    return (wide_ns)a_ns + (wide_ns)sec * 1000000000 + nsec;
}

/* The time left until @end_ns, never negative. */
static wide_ns left_ns(wide_ns end_ns)
{
    wide_ns now = emu_now_ns();

    return now < end_ns ? end_ns - now : 0;
}

/* The caller's remaining timeout as a timespec in @buf, or NULL when it has none. */
static const struct timespec *remaining(const struct emu_call *c, wide_ns end_ns,
                                        struct timespec *buf)
{
    wide_ns left = left_ns(end_ns);

    if (!c->timeout)
        return NULL;
    *buf = (struct timespec){(time_t)(left / 1000000000), (long)(left % 1000000000)};
    return buf;
}

/* What one call needs to know of its socket and its deadlines. The socket's facts are read
 * from our duplicate (the same open file) when first needed, not before entry 0: most calls
 * never wait and never peek, so most never need them, and the kernel itself reads O_NONBLOCK,
 * SO_RCVTIMEO and SO_PEEK_OFF at each receipt, not once up front (net/socket.c
 * ____sys_recvmsg(), net/ipv4/udp.c __skb_recv_udp()). */
struct emu_run {
    int sockfd; /* our duplicate of the caller's fd */
    uint32_t flags, vlen;
    wide_ns end_ns;  /* the caller's timeout; meaningless without one */
    uint64_t cap_ns; /* the policy's cap, 0: none */
    struct timeval rcvtimeo;
    bool nonblock_known, nonblock;
    bool rcvtimeo_known, has_rcvtimeo;
    bool peek_known, peek_ok;
    bool st_known;
    /* do_recvmmsg()'s sock_error() before entry 0 has run: a native recvmmsg() on our
     * duplicate did it (it does so before its own first entry), or none is due (MSG_ERRQUEUE). */
    bool err_fetched;
    bool capped; /* the cap's deadline ended a wait */
    struct stat st;
};

static void prepare(const struct emu_call *c, int sockfd, const struct emu_caps *caps,
                    uint64_t start_ns, struct emu_run *run)
{
    *run = (struct emu_run){
        .sockfd = sockfd,
        .flags = c->flags & ~caps->clear_flags,
        .vlen = c->vlen,
    };
    run->err_fetched = run->flags & MSG_ERRQUEUE;
    if (caps->vlen_cap && run->vlen > caps->vlen_cap)
        run->vlen = caps->vlen_cap;
    if (c->timeout)
        run->end_ns = add_safe(start_ns, c->timeout_ts.tv_sec, c->timeout_ts.tv_nsec);
    if (caps->timeout_cap_ms >= 0)
        run->cap_ns = start_ns + (uint64_t)caps->timeout_cap_ms * 1000000u;
}

/* Whether a receipt may not wait: MSG_DONTWAIT, O_NONBLOCK, or the error queue of an inet
 * socket. Return: 1, 0; -errno. */
static int run_nonblock(struct emu_run *run)
{
    int fl;

    if (run->nonblock_known)
        return run->nonblock;
    run->nonblock = run->flags & MSG_DONTWAIT;
    if (!run->nonblock && (run->flags & MSG_ERRQUEUE)) {
        int family = 0;
        socklen_t flen = sizeof(family);

        /* net/ipv4/ip_sockglue.c ip_recv_error(), net/ipv6/datagram.c ipv6_recv_error(): the
         * error queue is read without ever waiting. */
        if (getsockopt(run->sockfd, SOL_SOCKET, SO_DOMAIN, &family, &flen) == 0 &&
            (family == AF_INET || family == AF_INET6))
            run->nonblock = true;
    }
    if (!run->nonblock) {
        fl = fcntl(run->sockfd, F_GETFL);
        if (fl < 0)
            return -errno;
        run->nonblock = fl & O_NONBLOCK;
    }
    run->nonblock_known = true;
    return run->nonblock;
}

/* SO_RCVTIMEO, needed only by a receipt about to wait. Return: 0; -errno. */
static int run_rcvtimeo(struct emu_run *run)
{
    socklen_t optlen = sizeof(run->rcvtimeo);

    if (run->rcvtimeo_known)
        return 0;
    if (getsockopt(run->sockfd, SOL_SOCKET, SO_RCVTIMEO, &run->rcvtimeo, &optlen) < 0)
        return -errno;
    run->has_rcvtimeo = run->rcvtimeo.tv_sec || run->rcvtimeo.tv_usec;
    run->rcvtimeo_known = true;
    return 0;
}

/* Whether entries after the first may be peeked: not with SO_PEEK_OFF set (peeking moves it). */
static bool run_peek_ok(struct emu_run *run)
{
    socklen_t optlen = sizeof(int);
    int peek_off = -1;

    if (!run->peek_known) {
        run->peek_ok = getsockopt(run->sockfd, SOL_SOCKET, SO_PEEK_OFF, &peek_off, &optlen) < 0 ||
                       peek_off < 0;
        run->peek_known = true;
    }
    return run->peek_ok;
}

/* The socket's identity, the key of its peek lock (mirror_sock_lock()). Return: 0; -errno. */
static int run_stat(struct emu_run *run)
{
    if (run->st_known)
        return 0;
    if (fstat(run->sockfd, &run->st) < 0)
        return -errno;
    run->st_known = true;
    return 0;
}

/* do_recvmmsg()'s work before entry 0, when entry 0 did not get as far as a native receipt
 * (vlen 0, or its decoding failed): net/socket.c sockfd_lookup_light() (-ENOTSOCK), then
 * sock_error(), fetched and cleared, unless MSG_ERRQUEUE. A native call with vlen 0 on our
 * duplicate does both; with MSG_ERRQUEUE and vlen > 0 it cannot be used (EBADF before Linux
 * 6.13, rule 38), and only the socket check is due. Return: 0; -errno. */
static int fetch_sock_error(struct emu_run *run)
{
    if ((run->flags & MSG_ERRQUEUE) && run->vlen > 0) {
        int type;
        socklen_t len = sizeof(type);

        /* The kernel's own socket lookup: EBADF for an O_PATH file, ENOTSOCK for others. */
        return getsockopt(run->sockfd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ? -errno : 0;
    }
    if (recvmmsg(run->sockfd, NULL, 0, (int)(run->flags & ~MSG_WAITFORONE), NULL) < 0)
        return -errno;
    return 0;
}

/* One entry's receipt state. */
struct emu_entry {
    struct uabi_entry e;
    struct sockaddr_storage addr;
    struct msghdr nm;
    struct iovec niov;
    struct cmsg_out co;
    size_t ncontrol;
    int next_err, nflags;
    bool use_peek;
};

/* Receive the datagram for entry @x into @x->nm (waiting if the call may), peeked when
 * @x->use_peek: then the socket's lock is held from the peek until complete_entry() has taken
 * it, so two broker threads serving one socket never peek the same datagram. Return: bytes
 * (lock held if peeked); -errno (lock not held). */
static ssize_t receive(struct remote *r, const struct emu_call *c, struct emu_run *run,
                       struct emu_entry *x, bool may_wait, struct emu_scratch *s)
{
    uint64_t entry_start = emu_now_ns();
    struct timespec rem;
    ssize_t n;
    int err;

    if (x->use_peek)
        pthread_mutex_lock(mirror_sock_lock(&run->st));
    for (;;) {
        uint64_t deadline = run->cap_ns;
        int nb;

        x->nm = (struct msghdr){
            .msg_name = &x->addr,
            .msg_namelen = sizeof(x->addr),
            .msg_iov = &x->niov,
            .msg_iovlen = 1,
            .msg_control = x->ncontrol ? s->control : NULL,
            .msg_controllen = x->ncontrol,
        };
        x->nflags = (int)((run->flags & ~MSG_WAITFORONE) | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (x->use_peek) {
            n = recvmsg(run->sockfd, &x->nm, x->nflags | MSG_PEEK);
            n = n < 0 ? -errno : n;
        } else if (x->next_err < 0) {
            /* A native recvmmsg(): its sock_error() is do_recvmmsg()'s before entry 0. */
            n = mirror_recv(run->sockfd, &x->nm, x->next_err, x->nflags,
                            remaining(c, run->end_ns, &rem), s);
            run->err_fetched = true;
        } else if (!run->err_fetched) {
            /* Entry 0: a native one-entry recvmmsg() fetches the pending error first, as
             * do_recvmmsg() does before its loop, and then receives like recvmsg(). */
            struct mmsghdr one = {.msg_hdr = x->nm};

            n = recvmmsg(run->sockfd, &one, 1, x->nflags, NULL);
            n = n < 0 ? -errno : (ssize_t)one.msg_len;
            x->nm = one.msg_hdr;
            run->err_fetched = true;
        } else {
            n = recvmsg(run->sockfd, &x->nm, x->nflags);
            n = n < 0 ? -errno : n;
        }
        if (n >= 0)
            return n;
        if (n != -EAGAIN)
            break;
        nb = run_nonblock(run);
        if (nb != 0) {
            n = nb < 0 ? nb : n;
            break;
        }
        if (!may_wait) {
            n = -EMU_WOULD_WAIT; /* only reachable at entry 0: nothing was taken yet */
            break;
        }
        err = run_rcvtimeo(run);
        if (err < 0) {
            n = err;
            break;
        }
        if (run->has_rcvtimeo) {
            uint64_t t = entry_start + (uint64_t)run->rcvtimeo.tv_sec * 1000000000u +
                         (uint64_t)run->rcvtimeo.tv_usec * 1000u;
            if (!deadline || t < deadline)
                deadline = t;
        }
        if (x->use_peek)
            pthread_mutex_unlock(mirror_sock_lock(&run->st));
        err = wait_readable(r, s, run->sockfd, run->flags, deadline, run->has_rcvtimeo);
        remote_forget_mappings(r); /* the caller's other threads ran meanwhile */
        if (err == -EAGAIN && run->cap_ns && deadline == run->cap_ns)
            run->capped = true;
        if (x->use_peek)
            pthread_mutex_lock(mirror_sock_lock(&run->st));
        if (err < 0) {
            n = err;
            break;
        }
    }
    if (x->use_peek)
        pthread_mutex_unlock(mirror_sock_lock(&run->st));
    return n;
}

/* Decode entry @k (and probe entry k+1, whose decoding error the kernel would meet next) into
 * @x. Return: 0; -errno of entry @k's decoding. */
static int decode_entry(struct remote *r, const struct emu_call *c, struct emu_run *run, uint32_t k,
                        struct emu_entry *x, struct emu_scratch *s)
{
    int err;

    *x = (struct emu_entry){0};
    err = uabi_read_entry(r, c, k, s->riov, s->raw_iov, &x->e);
    if (err < 0)
        return err;
    x->co = (struct cmsg_out){
        .r = r,
        .compat = c->compat,
        .cloexec = run->flags & MSG_CMSG_CLOEXEC,
        .any = x->e.control != 0,
        .uaddr = x->e.control,
        .buf = s->ucontrol,
        .cap = x->e.controllen < EMU_CONTROL_MAX ? (size_t)x->e.controllen : EMU_CONTROL_MAX,
    };
    /* A native buffer that cannot truncate what the caller's could hold (docs/recvmmsg-compat.md
     * rule 24). */
    if (x->e.control && x->e.controllen) {
        x->ncontrol = 2 * x->co.cap + 64;
        if (x->ncontrol > EMU_CONTROL_MAX)
            x->ncontrol = EMU_CONTROL_MAX;
    }
    /* Reading entry k+1 early is invisible to the caller (our reads never fault it), and it is
     * read again, lazily, if it is reached. */
    if (k + 1 < run->vlen) {
        struct uabi_entry next;

        x->next_err = uabi_read_entry(r, c, k + 1, s->riov_probe, s->raw_iov, &next);
    }
    /* Entries after the first are peeked, written to the caller and only then taken: a fault
     * writing them must leave EFAULT on the socket (docs/recvmmsg-compat.md rules 14-15), which the
     * take can do (mirror_recv()) only while the datagram is still queued. Not with the caller's
     * own MSG_PEEK (nothing is taken anyway) nor with SO_PEEK_OFF (peeking moves it). Nor
     * when no write of this entry can fault (every page it may write is writable): the
     * datagram is then taken at once, one receipt instead of two (docs/emulation.md,
     * deliberate difference 9). */
    x->use_peek = k > 0 && !(run->flags & MSG_PEEK) && !uabi_entry_writable(r, c, &x->e, s->riov) &&
                  run_peek_ok(run);
    if (x->use_peek) {
        err = run_stat(run);
        if (err < 0)
            return err;
    }
    x->niov =
        (struct iovec){s->payload, x->e.total < EMU_PAYLOAD_MAX ? x->e.total : EMU_PAYLOAD_MAX};
    return 0;
}

/* Write entry @k's datagram (@n bytes, in @x) to the caller and, for a peeked one, take it and
 * drop the socket's lock. Return: 0; 1 (the datagram was gone: the entry does not count);
 * -errno (the entry failed). */
static int complete_entry(struct remote *r, const struct emu_call *c, struct emu_run *run,
                          uint32_t k, struct emu_entry *x, ssize_t n, struct emu_scratch *s)
{
    struct timespec rem;
    int err;

    err = uabi_deliver(r, c, &x->e, s->riov, &x->nm, n, &x->co);
    if (x->use_peek) {
        err = mirror_take(r, c, &x->e, s, run->sockfd, x->nflags, err, x->next_err,
                          remaining(c, run->end_ns, &rem), &x->nm, n, &x->co);
        pthread_mutex_unlock(mirror_sock_lock(&run->st));
    } else if (err < 0 && k > 0 && (run->flags & MSG_PEEK)) {
        /* The caller's own peek: nothing is taken, but a fault after entry 0 is stored
         * (docs/recvmmsg-compat.md rule 14): the broker peeks again through the mirror to
         * make its kernel store it. */
        struct msghdr pm = x->nm;

        if (mirror_recv(run->sockfd, &pm, err, x->nflags, NULL, s) >= 0)
            cmsg_close_passed_fds(&pm);
    }
    return err;
}

int64_t emu_recvmmsg(struct remote *r, const struct emu_call *c, int sockfd,
                     const struct emu_caps *caps, uint64_t start_ns, bool may_wait,
                     struct emu_scratch *s, bool *ret_capped)
{
    struct emu_run run;
    wide_ns rem_ns = 0;
    int64_t datagrams = 0;
    int err;

    /* net/socket.c SYSCALL_DEFINE5(recvmmsg): a native caller may not pass MSG_CMSG_COMPAT;
     * refused before anything else (the compat entry strips it instead, decode.c). */
    if (!c->compat && (c->flags & MSG_CMSG_COMPAT_))
        return -EINVAL;
    /* net/socket.c __sys_recvmmsg(): the timeout is checked before the fd. */
    if (c->timeout_err)
        return c->timeout_err;
    if (sockfd < 0)
        return sockfd;
    prepare(c, sockfd, caps, start_ns, &run);
    /* Without a context of its own (may_wait false) the call may only wait before entry 0,
     * where giving up takes nothing from the socket: after that it must never block. */
    if (!may_wait && !(run.flags & MSG_WAITFORONE) && run.vlen > 1) {
        err = run_nonblock(&run);
        if (err < 0)
            return err;
        if (!err)
            return -EMU_WOULD_WAIT;
    }
    /* A job may have waited in the queue: a caller that died meanwhile must not consume the
     * pending error or a datagram. */
    if (may_wait && remote_check(r) < 0)
        return -ENOENT;
    /* do_recvmmsg() looks the socket up and fetches and clears a pending socket error before
     * the first entry, even for vlen 0. Entry 0's native receipt does both (receive()); only
     * when there is no entry 0, or it cannot be decoded, is that done apart (rule 38 for
     * MSG_ERRQUEUE). */
    err = 0;
    if (run.vlen == 0)
        err = fetch_sock_error(&run);
    if (err < 0)
        return err;

    if (ret_capped)
        *ret_capped = false;
    while ((uint32_t)datagrams < run.vlen) {
        struct emu_entry x;
        ssize_t n;

        err = decode_entry(r, c, &run, (uint32_t)datagrams, &x, s);
        if (err < 0 && datagrams == 0) {
            int sock_err = fetch_sock_error(&run); /* it comes first */

            err = sock_err < 0 ? sock_err : err;
        }
        if (err < 0)
            break;
        n = receive(r, c, &run, &x, may_wait, s);
        if (n < 0) {
            err = (int)n;
            break;
        }
        err = complete_entry(r, c, &run, (uint32_t)datagrams, &x, n, s);
        if (err == 1)
            break;
        if (err < 0)
            break;
        datagrams++;

        /* do_recvmmsg(): after each entry. */
        if (run.flags & MSG_WAITFORONE)
            run.nonblock_known = run.nonblock = true;
        if (c->timeout) {
            rem_ns = left_ns(run.end_ns);
            if (rem_ns == 0)
                break;
        }
        if (x.nm.msg_flags & MSG_OOB)
            break;
        /* The native call already met the next entry's error and stored it on the socket. */
        if (x.next_err < 0)
            break;
    }

    if (ret_capped)
        *ret_capped = run.capped;
    if (datagrams == 0)
        return err;
    /* An error after entry 0 is not returned (docs/recvmmsg-compat.md rule 14). A decoding error of
     * a later entry was stored on the socket by mirror_recv(); see docs/emulation.md for the rest.
     */
    if (c->timeout && uabi_write_timeout(r, c, (int64_t)(rem_ns / 1000000000),
                                         (int64_t)(rem_ns % 1000000000)) < 0)
        return -EFAULT;
    return datagrams;
}
