/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keeping containers served across agent restarts and upgrades: the systemd fd store (each
 * listener stored with FDSTORE=1, its container id, bundle and policy in a companion file), and,
 * without systemd, a live hand-over: a newer agent connects to "PATH.ctl", takes the socket
 * path, and the older one passes every listener (SCM_RIGHTS) and then stops receiving. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "agent-internal.h"
#include "internal/macros.h"

#define LOG_COMPONENT "agent"
#include "log.h"

#define FDNAME_PREFIX "mmsgl-"
#define CTL_MSG_MAX 8192
#define HANDOVER_SEND_MS 2000
#define HANDOVER_EXTRA_MS 5000
/* Fail closed for a stored listener whose companion file is gone: its policy is unknown. */
#define POLICY_LOST "!lost-state"

/* ---- messages shared by the fd store files and the hand-over ------------------------------ */

static json_t *held_to_json(const char *type, const struct agent_held *h)
{
    /* json_pack "s" copies; the new object is ours */
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "type", type, "containerId", h->container_id,
                     "bundle", h->bundle, "policy", h->policy, "initPid", (int)h->init_pid,
                     "policySource", (int)h->policy_source);
}

static bool json_to_msg(const json_t *j, struct agent_msg *m)
{
    const char *id = NULL, *bundle = "", *policy = "";
    int pid = 0, source = AGENT_POLICY_DEFAULT;

    *m = (struct agent_msg){0};
    if (json_unpack((json_t *)(uintptr_t)j, "{s:s, s?s, s?s, s?i, s?i}", "containerId", &id,
                    "bundle", &bundle, "policy", &policy, "initPid", &pid, "policySource",
                    &source) < 0)
        return false;
    if (strlen(id) >= sizeof(m->container_id) || strlen(bundle) >= sizeof(m->bundle) ||
        strlen(policy) >= sizeof(m->policy) || source < AGENT_POLICY_DEFAULT ||
        source > AGENT_POLICY_ANNOTATION || pid < 0)
        return false;
    memcpy(m->container_id, id, strlen(id) + 1); /* lengths checked above */
    memcpy(m->bundle, bundle, strlen(bundle) + 1);
    memcpy(m->policy, policy, strlen(policy) + 1);
    m->init_pid = pid;
    m->policy_source = (enum agent_policy_source)source;
    return true;
}

/* ---- sockets -------------------------------------------------------------------------------- */

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/* A listening socket at @tmp, mode 0600: only root (the runtime) may hand us listeners. */
static int listen_at(int type, const char *tmp)
{
    cleanup_close int fd = -1;
    struct sockaddr_un sa;
    int r;

    r = fill_addr(&sa, tmp);
    if (r < 0)
        return r;
    fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (unlink(tmp) < 0 && errno != ENOENT)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    if (chmod(tmp, 0600) < 0 || listen(fd, SOMAXCONN) < 0)
        return -errno;
    return TAKE_FD(fd);
}

/* Put the socket bound at @tmp in place at @path (atomically: a runtime connecting meanwhile
 * reaches either the older agent or us, never nothing) and remember which file is ours. */
static int install(const char *tmp, const char *path, dev_t *ret_dev, ino_t *ret_ino)
{
    struct stat st;

    if (rename(tmp, path) < 0) {
        int r = -errno;

        (void)unlink(tmp); /* ours, unused */
        return r;
    }
    if (lstat(path, &st) == 0) {
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
    }
    return 0;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;

    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

/* One message (and at most one fd) on a SOCK_SEQPACKET hand-over connection. The peer is a
 * root agent reading concurrently, so this waits, bounded, when its buffer is full. */
static int send_ctl(int fd, json_t *j, int pass_fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u = {0};
    cleanup_free char *text = json_dumps(j, JSON_COMPACT);
    struct iovec iov;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    int r;

    if (!text)
        return -ENOMEM;
    iov = (struct iovec){.iov_base = text, .iov_len = strlen(text)};
    if (pass_fd >= 0) {
        struct cmsghdr *cm;

        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
    }
    for (;;) {
        if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        r = wait_fd(fd, POLLOUT, HANDOVER_SEND_MS);
        if (r < 0)
            return r;
    }
}

/* Receive one hand-over message within @timeout_ms. Return: bytes (0: the peer closed);
 * -errno. @ret_fd: the fd that came with it, or -1. */
static int recv_ctl(int fd, char *buf, size_t buf_len, int timeout_ms, int *ret_fd)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = buf_len - 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    int r, got = -1;

    *ret_fd = -1;
    for (;;) {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n >= 0)
            break;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        r = wait_fd(fd, POLLIN, timeout_ms);
        if (r < 0)
            return r;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int x;

            memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (got < 0)
                got = x;
            else
                (void)close(x); /* one fd per message */
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        if (got >= 0)
            (void)close(got);
        return -EMSGSIZE;
    }
    buf[n] = '\0';
    *ret_fd = got;
    return (int)n;
}

/* ---- the newer agent: take over ------------------------------------------------------------ */

static int takeover(struct agent *a, int ctl, const char *tmp)
{
    cleanup_json json_t *req = json_pack("{s:s, s:i}", "type", "takeover", "version", 1);
    char buf[CTL_MSG_MAX];
    unsigned n = 0;
    int r;

    if (!req)
        return -ENOMEM;
    /* The path first: from now on runtimes reach us, so the older agent can finish the
     * connections it has and know no more will come. */
    r = install(tmp, a->path, &a->sock_dev, &a->sock_ino);
    if (r < 0)
        return r;
    r = send_ctl(ctl, req, -1);
    if (r < 0)
        return log_error_errno(r, "asking the running agent for its listeners");
    for (;;) {
        cleanup_json json_t *j = NULL;
        cleanup_close int fd = -1;
        struct agent_msg m;
        const char *type;

        r = recv_ctl(ctl, buf, sizeof(buf), (int)a->opts.deadline_ms + HANDOVER_EXTRA_MS, &fd);
        if (r <= 0) {
            log_error_errno(r ? r : -ECONNRESET,
                            "the running agent stopped the hand-over after %u listeners", n);
            return 0; /* what we got is served; the rest stays with the older agent */
        }
        j = json_loads(buf, 0, NULL);
        type = json_string_value(json_object_get(j, "type")); /* borrowed */
        if (type && strcmp(type, "end") == 0)
            break;
        if (type && strcmp(type, "connection") == 0 && fd >= 0) {
            /* A runtime that connected to the older agent but has not written yet (crun
             * between "create" and "start"): its bytes will come to us. */
            (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            r = agent_conn_add(a, TAKE_FD(fd));
            if (r < 0)
                log_warning_errno(r, "taking over a runtime connection");
            continue;
        }
        if (!type || strcmp(type, "listener") != 0 || fd < 0 || !json_to_msg(j, &m)) {
            log_warning("ignoring a malformed hand-over message");
            continue;
        }
        (void)agent_deliver(a, TAKE_FD(fd), &m, true, NULL); /* logged there */
        n++;
    }
    log_info("took over %u listeners from the running agent", n);
    return 0;
}

/* ---- the fd store ------------------------------------------------------------------------- */

static void state_path(const struct agent *a, const char *fdname, char *buf, size_t len)
{
    (void)snprintf(buf, len, "%s/%s.json", a->state_dir, fdname);
}

void agent_fdstore_add(struct agent *a, struct agent_held *h)
{
    cleanup_json json_t *j = held_to_json("listener", h);
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80], state[96];
    uint64_t rnd = 0;
    int r;

    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        rnd = agent_now_ns() ^ (uint64_t)getpid() << 32;
    (void)snprintf(h->fdname, sizeof(h->fdname), FDNAME_PREFIX "%016llx", (unsigned long long)rnd);
    state_path(a, h->fdname, path, sizeof(path));
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* The companion first: a stored fd without it would fail closed after a restart. */
    if (!j || (mkdir(a->state_dir, 0700) < 0 && errno != EEXIST)) {
        log_warning_errno(j ? -errno : -ENOMEM, "creating \"%s\"", a->state_dir);
        h->fdname[0] = '\0';
        return;
    }
    if (json_dump_file(j, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0) {
        log_warning("writing \"%s\" failed: container \"%s\" will not survive a restart", path,
                    h->container_id);
        (void)unlink(tmp);
        h->fdname[0] = '\0';
        return;
    }
    (void)snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s", h->fdname);
    r = sd_pid_notify_with_fds(0, 0, state, &h->fd, 1);
    if (r <= 0) {
        log_warning_errno(r ? r : -ENOTCONN,
                          "storing the listener of container \"%s\" in the fd store (is "
                          "FileDescriptorStoreMax= set?)",
                          h->container_id);
        (void)unlink(path);
        h->fdname[0] = '\0';
    }
}

void agent_fdstore_remove(struct agent *a, struct agent_held *h)
{
    char path[PATH_MAX + 64], state[96];

    /* systemd also drops a stored fd by itself on EPOLLHUP; saying so is cheap and explicit. */
    (void)snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s", h->fdname);
    (void)sd_pid_notify(0, 0, state); /* best effort: systemd polls the fd anyway */
    state_path(a, h->fdname, path, sizeof(path));
    (void)unlink(path); /* best effort */
    h->fdname[0] = '\0';
}

static void adopt_stored(struct agent *a, int fd, const char *name)
{
    cleanup_json json_t *j = NULL;
    char path[PATH_MAX + 64];
    struct agent_msg m;

    state_path(a, name, path, sizeof(path));
    j = json_load_file(path, 0, NULL);
    if (!j || !json_to_msg(j, &m)) {
        log_warning("stored listener %s has no readable \"%s\": its calls fail closed", name, path);
        m = (struct agent_msg){0};
        (void)snprintf(m.container_id, sizeof(m.container_id), "%s", name);
        (void)snprintf(m.policy, sizeof(m.policy), "%s", POLICY_LOST);
    }
    (void)agent_deliver(a, fd, &m, true, name); /* logged there */
}

/* Companion files of listeners systemd no longer has (their containers exited meanwhile). */
static void collect_stale(struct agent *a)
{
    DIR *d = opendir(a->state_dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char name[sizeof(((struct agent_held *)NULL)->fdname)];
        size_t len = strlen(de->d_name);
        bool held = false;

        if (strncmp(de->d_name, FDNAME_PREFIX, strlen(FDNAME_PREFIX)) != 0 || len < 5 ||
            len - 5 >= sizeof(name) || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        memcpy(name, de->d_name, len - 5);
        name[len - 5] = '\0';
        for (struct agent_held *h = a->held; h && !held; h = h->next)
            held = strcmp(h->fdname, name) == 0;
        if (!held)
            (void)unlinkat(dirfd(d), de->d_name, 0); /* best effort */
    }
    (void)closedir(d);
}

/* Socket activation and the fd store. Return: the number of fds systemd passed. */
static int adopt_systemd(struct agent *a)
{
    char **names = NULL;
    int n;

    n = sd_listen_fds_with_names(1, &names);
    if (n <= 0)
        return n < 0 ? log_warning_errno(n, "reading LISTEN_FDS"), 0 : 0;
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names && names[i] ? names[i] : "";

        /* Inherited fds are not close-on-exec; ours always are. */
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (a->sock.fd < 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
            (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            a->sock.fd = fd;
        } else if (strncmp(name, FDNAME_PREFIX, strlen(FDNAME_PREFIX)) == 0 &&
                   strlen(name) < sizeof(((struct agent_held *)NULL)->fdname)) {
            adopt_stored(a, fd, name);
        } else {
            log_warning("closing inherited fd %d (\"%s\"): not ours", fd, name);
            (void)close(fd);
        }
    }
    for (int i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
    collect_stale(a);
    return n;
}

/* ---- setup ---------------------------------------------------------------------------------- */

/* Create (or re-create after an aborted hand-over) the runtime socket and the control socket;
 * take over from a running agent when @try_takeover. */
static int create_sockets(struct agent *a, bool try_takeover)
{
    char tmp[sizeof(a->path) + 8];
    struct sockaddr_un sa;
    struct stat st;
    int r;

    /* Replace a stale socket from an earlier run, but never another kind of file. */
    if (lstat(a->path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return -EEXIST;
    (void)snprintf(tmp, sizeof(tmp), "%s.new", a->path);
    if (a->sock.fd < 0) {
        a->sock.fd = listen_at(SOCK_STREAM, tmp);
        if (a->sock.fd < 0)
            return a->sock.fd;
        r = -ECONNREFUSED;
        if (try_takeover && fill_addr(&sa, a->ctl_path) == 0) {
            cleanup_close int ctl = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

            if (ctl >= 0 && connect(ctl, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                log_info("an agent is serving \"%s\": taking over", a->path);
                r = takeover(a, ctl, tmp);
                if (r < 0)
                    return r;
            } else {
                r = -ECONNREFUSED;
            }
        }
        if (r == -ECONNREFUSED) {
            r = install(tmp, a->path, &a->sock_dev, &a->sock_ino);
            if (r < 0)
                return r;
        }
    }
    /* The control socket: where a newer agent asks for our listeners. Not under socket
     * activation: systemd owns the path, and its fd store carries restarts. */
    if (a->sock_ino == 0)
        return 0;
    (void)snprintf(tmp, sizeof(tmp), "%s.cnew", a->path);
    a->control.fd = listen_at(SOCK_SEQPACKET, tmp);
    if (a->control.fd < 0)
        return a->control.fd;
    return install(tmp, a->ctl_path, &a->ctl_dev, &a->ctl_ino);
}

int agent_restart_setup(struct agent *a)
{
    const char *rd = getenv("RUNTIME_DIRECTORY");
    int r;

    /* systemd's RuntimeDirectory= (first entry), kept across restarts with
     * RuntimeDirectoryPreserve=restart, like the fd store itself. */
    if (rd && *rd && rd[0] == '/')
        (void)snprintf(a->state_dir, sizeof(a->state_dir), "%.*s", (int)strcspn(rd, ":"), rd);
    else
        (void)snprintf(a->state_dir, sizeof(a->state_dir), "/run/mmsgate");
    a->fdstore = getenv("NOTIFY_SOCKET") != NULL;
    (void)adopt_systemd(a);
    r = create_sockets(a, !a->opts.no_takeover && a->sock.fd < 0);
    if (r < 0)
        return r;
    if (a->fdstore)
        (void)sd_notifyf(0, "READY=1\nSTATUS=serving %zu containers", a->n_held);
    return 0;
}

/* ---- the older agent: hand over ------------------------------------------------------------ */

void agent_restart_on_control(struct agent *a)
{
    struct epoll_event ev = {.events = EPOLLIN};
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int fd;

    fd = accept4(a->control.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    /* The file is 0600 already; a hand-over gives away every container's listener. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid() ||
        a->handing_over) {
        log_warning("refusing a hand-over request from pid %d", (int)cred.pid);
        (void)close(fd);
        return;
    }
    if (a->taker.fd >= 0) {
        (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->taker.fd, NULL);
        (void)close(a->taker.fd); /* an idle earlier request: the newest agent wins */
    }
    a->taker.fd = fd;
    ev.data.ptr = &a->taker;
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        (void)close(fd);
        a->taker.fd = -1;
    }
}

/* The newer agent went away mid-way: serve on, at the path again. */
static void abort_handover(struct agent *a, int error)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int r;

    log_error_errno(error, "hand-over to the newer agent failed: serving on");
    (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->taker.fd, NULL);
    (void)close(a->taker.fd);
    a->taker.fd = -1;
    a->handing_over = false;
    r = create_sockets(a, false);
    if (r >= 0) {
        ev.data.ptr = &a->sock;
        r = epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->sock.fd, &ev) < 0 ? -errno : 0;
    }
    if (r >= 0) {
        ev.data.ptr = &a->control;
        r = epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->control.fd, &ev) < 0 ? -errno : 0;
    }
    if (r < 0)
        log_error_errno(r, "listening on \"%s\" again: new containers cannot reach us", a->path);
}

static int send_held(struct agent *a, const struct agent_held *h)
{
    cleanup_json json_t *j = held_to_json("listener", h);

    return j ? send_ctl(a->taker.fd, j, h->fd) : -ENOMEM;
}

static void close_listening(struct agent *a)
{
    if (a->sock.fd >= 0) {
        (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->sock.fd, NULL);
        (void)close(a->sock.fd);
        a->sock.fd = -1;
    }
    if (a->control.fd >= 0) {
        (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->control.fd, NULL);
        (void)close(a->control.fd);
        a->control.fd = -1;
    }
    /* The paths now belong to the newer agent. */
    a->sock_ino = a->ctl_ino = 0;
}

int agent_restart_on_taker(struct agent *a)
{
    char buf[256];
    json_t *j; /* owned, released below */
    const char *type;
    ssize_t n;
    int r;

    n = recv(a->taker.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (a->handing_over) {
        /* Only its end (or an error) can come now. */
        abort_handover(a, n < 0 ? -errno : -ECONNRESET);
        return 0;
    }
    if (n <= 0) {
        (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->taker.fd, NULL);
        (void)close(a->taker.fd);
        a->taker.fd = -1;
        return 0;
    }
    buf[n] = '\0';
    j = json_loads(buf, 0, NULL);
    type = json_string_value(json_object_get(j, "type")); /* borrowed */
    r = type && strcmp(type, "takeover") == 0;
    json_decref(j);
    if (!r) {
        log_warning("ignoring a malformed hand-over request");
        return 0;
    }
    log_info("a newer agent takes over: passing %zu listeners", a->n_held);
    /* Runtimes that connected before the newer agent took the path are in our backlog: finish
     * them (their listeners are forwarded), then no more can come. */
    agent_accept_pending(a, UINT32_MAX);
    close_listening(a);
    a->handing_over = true;
    for (struct agent_held *h = a->held; h; h = h->next) {
        r = send_held(a, h);
        if (r < 0) {
            abort_handover(a, r);
            return 0;
        }
    }
    /* Connections that sent nothing yet move as they are (their unread bytes belong to the
     * socket, not to us); the others have at most the 2 s deadline left to finish here. */
    for (struct agent_conn *c = a->conns, *next; c; c = next) {
        cleanup_json json_t *msg = json_pack("{s:s}", "type", "connection");

        next = c->next;
        if (c->len != 0 || c->n_fds != 0)
            continue;
        r = msg ? send_ctl(a->taker.fd, msg, c->fd) : -ENOMEM;
        if (r < 0) {
            abort_handover(a, r);
            return 0;
        }
        agent_conn_drop(a, c);
    }
    return agent_restart_finish(a);
}

void agent_restart_forward(struct agent *a, int fd, const struct agent_msg *m)
{
    struct agent_held h = {.init_pid = m->init_pid, .policy_source = m->policy_source, .fd = fd};
    int r;

    memcpy(h.container_id, m->container_id, sizeof(h.container_id));
    memcpy(h.bundle, m->bundle, sizeof(h.bundle));
    memcpy(h.policy, m->policy, sizeof(h.policy));
    r = send_held(a, &h);
    if (r < 0) {
        abort_handover(a, r);
        (void)agent_deliver(a, fd, m, false, NULL); /* serve it ourselves */
        return;
    }
    log_info("container \"%s\" passed to the newer agent", m->container_id);
    (void)close(fd); /* the newer agent has its own */
}

int agent_restart_finish(struct agent *a)
{
    cleanup_json json_t *end = NULL;
    int r;

    if (!a->handing_over || a->n_conns > 0)
        return 0;
    end = json_pack("{s:s, s:I}", "type", "end", "count", (json_int_t)a->n_held);
    r = end ? send_ctl(a->taker.fd, end, -1) : -ENOMEM;
    if (r < 0) {
        abort_handover(a, r);
        return 0;
    }
    log_info("hand-over complete: no longer receiving notifications");
    a->handing_over = false;
    a->handed_over = true;
    return AGENT_HANDED_OVER;
}
