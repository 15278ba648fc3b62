/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The peek/take mirror: receiving on the caller's socket so that what the kernel leaves on it
 * (a pending error after a fault or a bad later entry) is what the caller's own call would have
 * left, and so that a datagram another reader took meanwhile is never delivered twice. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cmsg.h"
#include "mirror.h"

/* Receive one datagram for entry k when entry k+1 is known to fail decoding with @next_err.
 *
 * The kernel would receive entry k, fail on entry k+1, return k+1 and store the error as the
 * socket's pending error (docs/recvmmsg-compat.md rule 14), which user space cannot set. So the
 * broker asks its own kernel to do exactly that on the shared socket: a native two-entry recvmmsg
 * whose first entry is the broker's buffers and whose second fails the same way (an unreadable
 * header for EFAULT, a negative namelen for EINVAL, iovlen 1025 for EMSGSIZE). @rem, if not NULL,
 * is the caller's remaining timeout: when it runs out after entry k, the kernel stops before entry
 * k+1 as it would have for the caller. Return: bytes of entry k's datagram (@nm updated like
 * recvmsg()); -errno (no datagram was taken, nothing was stored). */
ssize_t mirror_recv(int sockfd, struct msghdr *nm, int next_err, int nflags,
                    const struct timespec *rem, struct emu_scratch *s)
{
    char *page_end = s->trap + EMU_TRAP_PAGE;
    struct mmsghdr *v;
    struct timespec t;
    int n;

    v = (struct mmsghdr *)(page_end - (next_err == -EFAULT ? 1 : 2) * sizeof(*v));
    v[0] = (struct mmsghdr){.msg_hdr = *nm};
    if (next_err != -EFAULT) {
        v[1] = (struct mmsghdr){0};
        if (next_err == -EMSGSIZE) {
            v[1].msg_hdr.msg_iovlen = UIO_MAXIOV_ + 1;
        } else {
            /* net/socket.c copy_msghdr_from_user(): a named message with namelen < 0. */
            v[1].msg_hdr.msg_name = v;
            v[1].msg_hdr.msg_namelen = (socklen_t)-1;
        }
    }
    if (rem)
        t = *rem;
    n = recvmmsg(sockfd, v, 2, nflags, rem ? &t : NULL);
    if (n < 0)
        return -errno;
    *nm = v[0].msg_hdr;
    return (ssize_t)v[0].msg_len;
}

/* Emulations that peek and then take a datagram (mirror_take()) hold their socket's lock across
 * both, so two broker threads serving the same socket never peek the same datagram. Striped by
 * inode: unrelated sockets rarely share a stripe, and a shared one only serialises briefly. */
#define SOCK_LOCKS 64
static pthread_mutex_t sock_locks[SOCK_LOCKS] = {[0 ... SOCK_LOCKS - 1] =
                                                     PTHREAD_MUTEX_INITIALIZER};

pthread_mutex_t *mirror_sock_lock(const struct stat *st)
{
    return &sock_locks[(st->st_ino ^ st->st_dev) % SOCK_LOCKS];
}

/* The fields the kernel derives from one datagram, for comparing a peeked one with a taken one.
 * Control messages are left out: fd numbers differ between two receipts of the same message. */
static bool same_datagram(const struct msghdr *a, ssize_t na, const struct msghdr *b, ssize_t nb)
{
    size_t len = (size_t)na < a->msg_iov[0].iov_len ? (size_t)na : a->msg_iov[0].iov_len;

    return na == nb && a->msg_namelen == b->msg_namelen &&
           memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0 &&
           memcmp(a->msg_iov[0].iov_base, b->msg_iov[0].iov_base, len) == 0 &&
           ((a->msg_flags ^ b->msg_flags) & ~MSG_CTRUNC) == 0;
}

/* Take the datagram entry @e was just given from a peek (@pm, @pn), now that writing it to the
 * caller returned @deliver_err. The take leaves on the socket what the kernel would have: the
 * delivery's fault, else the next entry's decoding error (@next_err), through mirror_recv().
 * If a reader outside the broker took the peeked datagram meanwhile, the one taken instead is
 * delivered; if none is left, the entry is not counted. Return: @deliver_err, or the result of
 * delivering a different datagram; 1 when nothing was taken. Called with the socket's lock. */
int mirror_take(struct remote *r, const struct emu_call *c, const struct uabi_entry *e,
                struct emu_scratch *s, int sockfd, int nflags, int deliver_err, int next_err,
                const struct timespec *rem, const struct msghdr *pm, ssize_t pn,
                struct cmsg_out *co)
{
    struct sockaddr_storage addr;
    struct msghdr tm = {
        .msg_name = &addr,
        .msg_namelen = sizeof(addr),
        .msg_iov = &(struct iovec){s->payload2, pm->msg_iov[0].iov_len},
        .msg_iovlen = 1,
        .msg_control = pm->msg_control ? s->control2 : NULL,
        .msg_controllen = pm->msg_control ? pm->msg_controllen : 0,
    };
    int take_err = deliver_err < 0 ? deliver_err : next_err, err = deliver_err;
    ssize_t tn;

    if (take_err < 0) {
        tn = mirror_recv(sockfd, &tm, take_err, nflags, rem, s);
    } else {
        tn = recvmsg(sockfd, &tm, nflags);
        if (tn < 0)
            tn = -errno;
    }
    if (tn < 0)
        return 1;
    if (deliver_err >= 0 && !same_datagram(pm, pn, &tm, tn)) {
        struct cmsg_out again = *co;

        again.used = 0;
        again.flags = 0;
        err = uabi_deliver(r, c, e, s->riov, &tm, tn, &again);
        *co = again;
    } else {
        cmsg_close_passed_fds(&tm);
    }
    return err;
}
