/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One fd over a unix socket with SCM_RIGHTS, and one data byte (a message with no data would be
 * indistinguishable from EOF on a stream socket). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fdpass.h"

/* The message both sides use: one byte of data, room for one SCM_RIGHTS fd. */
struct fd_msg {
    char byte;
    struct iovec iov;
    struct msghdr msg;
    /* Last: to clang, CMSG_SPACE() is not an integer constant expression (it folds it as a GNU
     * extension), and it accepts such a variable-sized field only at the end of a struct. */
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
};

static void fd_msg_init(struct fd_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->byte = 'L';
    m->iov = (struct iovec){.iov_base = &m->byte, .iov_len = 1};
    m->msg = (struct msghdr){
        .msg_iov = &m->iov,
        .msg_iovlen = 1,
        .msg_control = m->u.buf,
        .msg_controllen = sizeof(m->u.buf),
    };
}

int fdpass_send(int sock, int fd)
{
    struct fd_msg m;
    struct cmsghdr *cm;

    fd_msg_init(&m);
    cm = CMSG_FIRSTHDR(&m.msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    if (sendmsg(sock, &m.msg, MSG_NOSIGNAL) != 1)
        return -errno;
    return 0;
}

int fdpass_recv(int sock)
{
    struct fd_msg m;
    struct cmsghdr *cm;
    ssize_t n;
    int fd;

    fd_msg_init(&m);
    do
        n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -ECHILD;
    cm = CMSG_FIRSTHDR(&m.msg);
    if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int)))
        return -EBADMSG;
    memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    return fd;
}
