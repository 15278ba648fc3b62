/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inputs of one decision, fetched on a worker in a fixed order: open the caller (every
 * handle, then one ID_VALID), socketcall's arguments, the timeout, the socket, the process.
 * Each is read once; the policy, the audit record and any emulation use these copies. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core.h"
#include "uabi.h"

/* Socket facts for the policy, from our own duplicate of the caller's fd. */
static void inspect_socket(int sockfd, struct mmsg_call *call)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss), ilen = sizeof(int);
    int family = 0, type = 0;

    if (sockfd < 0)
        return;
    if (getsockopt(sockfd, SOL_SOCKET, SO_DOMAIN, &family, &ilen) < 0)
        return; /* not a socket: socket keys do not match */
    ilen = sizeof(int);
    if (getsockopt(sockfd, SOL_SOCKET, SO_TYPE, &type, &ilen) < 0)
        return;
    call->socket_known = true;
    call->socket_family = family;
    call->socket_type = type;
    call->socket_local_port = -1;
    if (getsockname(sockfd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            call->socket_local_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            call->socket_local_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
}

/* net/compat.c compat_sys_socketcall(): the five arguments of SYS_RECVMMSG in caller memory.
 * Return: 0; -EFAULT. */
static int read_socketcall(struct job *j)
{
    uint32_t a[5];
    int err;

    err = remote_read(&j->remote, (uint32_t)j->data.args[1], a, sizeof(a));
    if (err < 0)
        return err;
    j->call.fd = (int32_t)a[0];
    j->call.mmsg = a[1];
    j->call.vlen = a[2];
    /* The compat entry adds MSG_CMSG_COMPAT itself and ignores a caller's
     * (docs/recvmmsg-compat.md rule 4). */
    j->call.flags = a[3] & ~MSG_CMSG_COMPAT_;
    j->call.timeout = a[4];
    return 0;
}

/* Whether the copy holds a value (an out-of-range one included, which rules may still match). */
static bool timeout_value_known(const struct emu_call *c)
{
    return c->timeout && c->timeout_read && (!c->timeout_err || c->timeout_err == -EINVAL);
}

static void record_args(struct job *j)
{
    struct audit_record *rec = &j->rec;

    rec->args_known = true;
    rec->fd = j->call.fd;
    rec->mmsg = j->call.mmsg;
    rec->vlen = j->call.vlen;
    rec->flags = j->call.flags;
    rec->timeout = j->call.timeout;
}

int inputs_fetch(struct mmsg_broker *b, struct job *j)
{
    unsigned need = j->pol->inputs;
    int err;

    (void)b;
    err = remote_open(&j->remote, j->listener, j->id, j->tid);
    if (err < 0)
        return err;
    if (j->call.sys == MMSG_SYS_SOCKETCALL) {
        err = read_socketcall(j);
        if (err < 0)
            return err;
        record_args(j);
    }
    decode_call(&j->call, &j->mcall);
    /* The socket first: the ID_VALID after it binds kept handles before any read. */
    j->sockfd = remote_getfd(&j->remote, j->call.fd);
    if (j->sockfd == -ENOENT)
        return -ENOENT;
    /* The timeout is read whenever a rule or an emulation may use it: once, here. */
    if (j->call.timeout)
        (void)uabi_read_timeout(&j->remote, &j->call); /* the outcome is in call.timeout_err */
    if (timeout_value_known(&j->call)) {
        j->mcall.timeout_known = true;
        j->mcall.timeout_sec = j->call.timeout_ts.tv_sec;
        j->mcall.timeout_nsec = j->call.timeout_ts.tv_nsec;
        j->rec.timeout_decoded = true;
        j->rec.tv_sec = j->call.timeout_ts.tv_sec;
        j->rec.tv_nsec = j->call.timeout_ts.tv_nsec;
    }
    if (need & MMSG_INPUT_SOCKET)
        inspect_socket(j->sockfd, &j->mcall);
    if ((need & MMSG_INPUT_PROCESS) && remote_identity(&j->remote, true, &j->ident) >= 0) {
        j->ident_known = true;
        j->mcall.process_known = true;
        j->mcall.exe = j->ident.exe[0] ? j->ident.exe : NULL;
        j->mcall.comm = j->ident.comm;
        j->mcall.uid = j->ident.uid;
    }
    /* Every handle was bound to the caller by remote_open()'s or remote_getfd()'s ID_VALID,
     * and remote_identity() checks again after its reads: nothing here needs another. */
    return 0;
}

void inputs_identity(struct mmsg_broker *b, struct job *j)
{
    struct remote id;

    if (!b->audit || j->ident_known)
        return;
    /* Read through the thread's kept handles or by number, then ID_VALID (in
     * remote_identity()): a reused tid cannot put another process's name in the record. */
    remote_init(&id, j->listener, j->id, j->tid);
    if (remote_identity(&id, false, &j->ident) >= 0)
        j->ident_known = true;
    remote_close(&id);
}
