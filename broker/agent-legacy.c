/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The previous, blocking agent API (agent_listen(), agent_accept()), kept only so that today's
 * loop.c links until it calls agent_new()/agent_dispatch() (issue 9); delete it then. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "internal/macros.h"

#define AGENT_MAX_FDS 16
#define AGENT_STATE_MAX (256u << 10)
#define AGENT_TIMEOUT_MS 2000

int agent_listen(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cleanup_close int fd = -1;
    struct stat st;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* Replace a stale socket from an earlier run, but never another kind of file. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return -EEXIST;
        if (unlink(path) < 0)
            return -errno;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    /* Only root (the runtime) may hand us listeners. */
    if (chmod(path, 0600) < 0)
        return -errno;
    if (listen(fd, 16) < 0)
        return -errno;
    return TAKE_FD(fd);
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            (void)close(fds[i]); /* fds we were handed and do not keep */
}

/* Read the whole message: the fds arrive with the first bytes; the JSON may need more reads.
 * Bounded in size and time so a stuck or hostile client cannot hold the broker's loop. */
static int read_state(int conn, char *buf, size_t buf_len, size_t *ret_len, int *fds,
                      size_t *ret_n_fds)
{
    size_t len = 0, n_fds = 0;

    for (;;) {
        union {
            char buf[CMSG_SPACE(AGENT_MAX_FDS * sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = buf + len, .iov_len = buf_len - len};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        struct pollfd p = {.fd = conn, .events = POLLIN};
        ssize_t n;

        if (len == buf_len)
            return close_fds(fds, n_fds), -EMSGSIZE;
        n = poll(&p, 1, AGENT_TIMEOUT_MS);
        if (n == 0)
            return close_fds(fds, n_fds), -ETIMEDOUT;
        n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return close_fds(fds, n_fds), -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            size_t k;

            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                continue;
            k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                if (n_fds < AGENT_MAX_FDS)
                    fds[n_fds++] = fd;
                else
                    (void)close(fd);
            }
        }
        if (msg.msg_flags & MSG_CTRUNC)
            return close_fds(fds, n_fds), -EMSGSIZE;
        len += (size_t)n;
        if (n == 0 || (len > 0 && buf[len - 1] == '}')) {
            /* runc closes after one message; also accept a complete object without EOF. */
            json_t *probe = json_loadb(buf, len, 0, NULL);

            if (probe || n == 0) {
                json_decref(probe);
                break;
            }
        }
    }
    *ret_len = len;
    *ret_n_fds = n_fds;
    return 0;
}

int agent_accept(int lfd, int *ret_listener, char *ret_container, size_t container_len)
{
    cleanup_close int conn = -1;
    cleanup_json json_t *state = NULL;
    cleanup_free char *buf = NULL;
    int fds[AGENT_MAX_FDS];
    size_t len = 0, n_fds = 0, index;
    json_t *names, *name;
    int r, listener = -1;

    conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0)
        return -errno;
    buf = malloc(AGENT_STATE_MAX);
    if (!buf)
        return -ENOMEM;
    r = read_state(conn, buf, AGENT_STATE_MAX, &len, fds, &n_fds);
    if (r < 0)
        return r;
    state = json_loadb(buf, len, 0, NULL);
    names = json_object_get(state, "fds"); /* borrowed */
    if (!json_is_array(names) || json_array_size(names) != n_fds) {
        close_fds(fds, n_fds);
        return -EBADMSG;
    }
    json_array_foreach (names, index, name) {
        if (listener < 0 && json_is_string(name) &&
            strcmp(json_string_value(name), "seccompFd") == 0)
            listener = TAKE_FD(fds[index]);
    }
    close_fds(fds, n_fds);
    if (listener < 0)
        return -ENOENT;
    if (ret_container && container_len) {
        /* borrowed references into state */
        json_t *st = json_object_get(state, "state");
        const char *id = json_string_value(json_object_get(st, "id"));

        (void)snprintf(ret_container, container_len, "%s", id ? id : "?");
    }
    *ret_listener = listener;
    return 0;
}
