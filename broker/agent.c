/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI seccomp agent: runc, crun and Podman connect to the runtime-spec `listenerPath` socket and
 * send the container process state as JSON together with the listener fd (SCM_RIGHTS). Every
 * connection is a small non-blocking state machine in the agent's own epoll set, so a slow,
 * silent or hostile peer costs the other containers nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-internal.h"
#include "internal/macros.h"
#include "mmsgate/broker.h"

#define LOG_COMPONENT "agent"
#include "log.h"

#define AGENT_DEFAULT_DEADLINE_MS 2000
#define AGENT_DEFAULT_IDLE_MS (3600u * 1000u)
#define AGENT_DEFAULT_MAX_MSG (1u << 20)
#define AGENT_DEFAULT_MAX_CONNS 256
/* runc sends one fd, crun one; the spec allows more ("fds" names each). SCM_MAX_FD (253) is
 * the most one message can carry, so our control buffer never truncates (MSG_CTRUNC would have
 * the kernel drop fds silently). */
#define AGENT_MAX_FDS 253
#define AGENT_KEEP_FDS 16
#define AGENT_CONFIG_MAX (4u << 20)

/* A root peer can still misbehave in a loop: keep stderr readable. */
static struct ratelimit agent_rl = RATELIMIT_INIT(1000, 20);

uint64_t agent_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void close_all(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            (void)close(fds[i]); /* fds we were handed and do not keep */
}

/* ---- held listeners ------------------------------------------------------------------------ */

void agent_held_drop(struct agent *a, struct agent_held *h)
{
    if (h->fdname[0])
        agent_fdstore_remove(a, h);
    (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, h->fd, NULL); /* closing removes it anyway */
    (void)close(h->fd);
    if (h->prev)
        h->prev->next = h->next;
    else
        a->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
    a->n_held--;
    free(h);
}

static const char *source_name(enum agent_policy_source s)
{
    switch (s) {
    case AGENT_POLICY_DEFAULT:
        return "default";
    case AGENT_POLICY_METADATA:
        return "listenerMetadata";
    case AGENT_POLICY_ANNOTATION:
        return "annotation";
    default:
        return "?";
    }
}

int agent_deliver(struct agent *a, int fd, const struct agent_msg *m, bool from_store,
                  const char *fdname)
{
    struct mmsg_listener_info info = {
        .container_id = m->container_id,
        .bundle = m->bundle[0] ? m->bundle : NULL,
        .policy_name = m->policy[0] ? m->policy : NULL,
        .init_pid = m->init_pid,
    };
    struct agent_held *h;
    int r;

    /* Our copy only reports EPOLLHUP (events 0): the container is gone and the copy can go. */
    h = calloc(1, sizeof(*h));
    if (h) {
        struct epoll_event ev = {.events = 0, .data.ptr = h};

        h->kind = AGENT_SRC_HELD;
        h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (h->fd < 0 || epoll_ctl(a->epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0) {
            log_warning_errno(-errno,
                              "container \"%s\": keeping a copy of its listener (it will not "
                              "survive a restart)",
                              m->container_id);
            if (h->fd >= 0)
                (void)close(h->fd);
            free(h);
            h = NULL;
        }
    }
    if (h) {
        memcpy(h->container_id, m->container_id, sizeof(h->container_id));
        memcpy(h->bundle, m->bundle, sizeof(h->bundle));
        memcpy(h->policy, m->policy, sizeof(h->policy));
        h->init_pid = m->init_pid;
        h->policy_source = m->policy_source;
        h->next = a->held;
        if (a->held)
            a->held->prev = h;
        a->held = h;
        a->n_held++;
        if (fdname)
            (void)snprintf(h->fdname, sizeof(h->fdname), "%s", fdname);
        else if (a->fdstore)
            agent_fdstore_add(a, h);
    }

    r = a->on_listener(a->userdata, fd, &info);
    if (r < 0) {
        log_warning_errno(r, "container \"%s\": not served (its calls fail with ENOSYS)",
                          m->container_id);
        if (h)
            agent_held_drop(a, h);
        return r;
    }
    log_info("%s container \"%s\" (pid %d, policy %s from %s)", from_store ? "adopted" : "serving",
             m->container_id, (int)m->init_pid, m->policy[0] ? m->policy : "default",
             source_name(m->policy_source));
    return r;
}

/* ---- connections --------------------------------------------------------------------------- */

static void conn_free(struct agent *a, struct agent_conn *c)
{
    (void)epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL); /* closing removes it anyway */
    (void)close(c->fd);
    close_all(c->fds, c->n_fds);
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->n_conns--;
    free(c->fds);
    free(c->buf);
    free(c);
}

/* Arm the timer for the earliest deadline (or disarm it). */
static void arm_timer(struct agent *a)
{
    struct itimerspec its = {0};
    uint64_t first = UINT64_MAX;

    for (struct agent_conn *c = a->conns; c; c = c->next)
        if (c->deadline_ns < first)
            first = c->deadline_ns;
    if (first != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(first / 1000000000u);
        its.it_value.tv_nsec = (long)(first % 1000000000u);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1; /* zero would disarm */
    }
    /* Cannot fail with a valid fd and value; a missed deadline is caught at the next event. */
    (void)timerfd_settime(a->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

printf_(3, 4) static int refuse(struct agent *a, struct agent_conn *c, const char *fmt, ...);

static bool idle(const struct agent_conn *c)
{
    return c->len == 0 && c->n_fds == 0;
}

/* The table is full: make room by closing the connection idle the longest (it has sent
 * nothing, so nothing is lost but a runtime that may retry). */
static bool evict_idle(struct agent *a)
{
    struct agent_conn *oldest = NULL;

    for (struct agent_conn *c = a->conns; c; c = c->next)
        if (idle(c) && (!oldest || c->serial < oldest->serial))
            oldest = c;
    if (!oldest)
        return false;
    (void)refuse(a, oldest, "idle while %u connections are open: closed for a new one", a->n_conns);
    return true;
}

int agent_conn_add(struct agent *a, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
    struct agent_conn *c;
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);

    if (a->n_conns >= a->opts.max_conns && !evict_idle(a)) {
        (void)close(fd);
        return -EMFILE;
    }
    c = calloc(1, sizeof(*c));
    if (c)
        c->fds = calloc(AGENT_KEEP_FDS, sizeof(int));
    if (!c || !c->fds) {
        free(c);
        (void)close(fd);
        return -ENOMEM;
    }
    c->kind = AGENT_SRC_CONN;
    c->fd = fd;
    c->serial = ++a->next_serial;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
        c->peer_pid = cred.pid;
    /* Idle until its first byte: crun connects at "create" and writes at "start". */
    c->deadline_ns = agent_now_ns() + (uint64_t)a->opts.idle_ms * 1000000u;
    ev.data.ptr = c;
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;

        free(c->fds);
        free(c);
        (void)close(fd);
        return r;
    }
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->n_conns++;
    arm_timer(a);
    return 0;
}

void agent_accept_pending(struct agent *a, unsigned max)
{
    for (unsigned i = 0; i < max; i++) {
        int fd, r;

        fd = accept4(a->sock.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
                ratelimit_below(&agent_rl))
                log_warning_errno(-errno, "accepting a runtime connection");
            return;
        }
        r = agent_conn_add(a, fd);
        if (r == -EMFILE && ratelimit_below(&agent_rl))
            log_warning("%u connections are being read: refusing another", a->n_conns);
        else if (r < 0 && ratelimit_below(&agent_rl))
            log_warning_errno(r, "accepting a runtime connection");
    }
}

void agent_conn_drop(struct agent *a, struct agent_conn *c)
{
    conn_free(a, c);
}

/* Say once why a peer was refused. */
printf_(3, 4) static int refuse(struct agent *a, struct agent_conn *c, const char *fmt, ...)
{
    char why[400];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof(why), fmt, ap); /* truncation is fine for a reason */
    va_end(ap);
    if (ratelimit_below(&agent_rl))
        log_warning("connection #%u (pid %d) refused: %s", c->serial, (int)c->peer_pid, why);
    conn_free(a, c);
    return 0;
}

/* Is @fd a seccomp listener? Anything else would be polled and ioctl()ed by the loop. */
static bool is_listener(int fd)
{
    char link[64], target[64];
    ssize_t n;

    (void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof(target) - 1);
    if (n < 0)
        return false;
    target[n] = '\0';
    return strcmp(target, "anon_inode:seccomp notify") == 0;
}

/* The runtime-spec state carries the annotations (runc, crun); when a runtime leaves them out,
 * read them from the bundle's config.json. The bundle comes from a root peer (socket 0600). */
static void policy_from_config(struct agent_msg *m)
{
    cleanup_close int dfd = -1, fd = -1;
    cleanup_json json_t *config = NULL;
    FILE *f;
    struct stat st;
    int r;

    dfd = open(m->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    fd = openat(dfd, "config.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > AGENT_CONFIG_MAX)
        return;
    f = fdopen(TAKE_FD(fd), "r");
    if (!f)
        return;
    config = json_loadf(f, 0, NULL);
    (void)fclose(f); /* read-only */
    /* borrowed reference into config */
    r = agent_annotations_policy(json_object_get(config, "annotations"), m->policy,
                                 sizeof(m->policy));
    if (r < 0)
        (void)snprintf(m->policy, sizeof(m->policy), "%s", AGENT_POLICY_INVALID_ANNOTATION);
    if (r != 0)
        m->policy_source = AGENT_POLICY_ANNOTATION;
}

static int conn_complete(struct agent *a, struct agent_conn *c, size_t end)
{
    char why[300] = "";
    struct agent_msg m;
    int r, fd;

    if (c->fds_dropped)
        return refuse(a, c, "more than %d fds", AGENT_KEEP_FDS);
    r = agent_msg_parse(c->buf, end, c->n_fds, &m, why, sizeof(why));
    if (r < 0)
        return refuse(a, c, "%s", why);
    fd = c->fds[m.seccomp_index];
    if (!is_listener(fd))
        return refuse(a, c, "container \"%s\": seccompFd is not a seccomp listener",
                      m.container_id);
    c->fds[m.seccomp_index] = -1;
    if (m.policy_source == AGENT_POLICY_DEFAULT && !m.has_annotations && m.bundle[0])
        policy_from_config(&m);
    if (m.policy[0] && !agent_policy_name_valid(m.policy, strlen(m.policy)) &&
        ratelimit_below(&agent_rl))
        log_warning("container \"%s\": the policy chosen by its %s is not a valid name: its "
                    "calls fail closed",
                    m.container_id, source_name(m.policy_source));
    conn_free(a, c); /* closes the other fds: we only keep seccompFd */
    if (a->handing_over)
        agent_restart_forward(a, fd, &m);
    else
        (void)agent_deliver(a, fd, &m, false, NULL); /* logged there */
    return 0;
}

static int on_conn(struct agent *a, struct agent_conn *c)
{
    for (;;) {
        union {
            char buf[CMSG_SPACE(AGENT_MAX_FDS * sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov;
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        size_t end = 0;
        bool was_idle;
        ssize_t n;
        int r;

        if (c->len == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 4096;
            char *p;

            if (c->cap >= a->opts.max_msg)
                return refuse(a, c, "message larger than %zu bytes", a->opts.max_msg);
            if (cap > a->opts.max_msg)
                cap = a->opts.max_msg;
            p = realloc(c->buf, cap);
            if (!p)
                return refuse(a, c, "out of memory");
            c->buf = p;
            c->cap = cap;
        }
        iov = (struct iovec){.iov_base = c->buf + c->len, .iov_len = c->cap - c->len};
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof(u.buf);
        was_idle = idle(c);
        n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return refuse(a, c, "reading: %s", strerror(errno));
        }
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            size_t k;

            if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                continue;
            k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                if (c->n_fds < AGENT_KEEP_FDS) {
                    c->fds[c->n_fds++] = fd;
                } else {
                    (void)close(fd); /* more than a runtime sends */
                    c->fds_dropped = true;
                }
            }
        }
        if (msg.msg_flags & MSG_CTRUNC)
            return refuse(a, c, "control message truncated (fds lost)");
        if (n == 0) {
            if (c->len == 0 && c->n_fds == 0)
                return refuse(a, c, "closed without sending anything");
            return refuse(a, c, "closed after %zu bytes and %zu fds, before a complete message",
                          c->len, c->n_fds);
        }
        if (was_idle) {
            /* The message has begun: from now on it must arrive in full, promptly. */
            c->deadline_ns = agent_now_ns() + (uint64_t)a->opts.deadline_ms * 1000000u;
            arm_timer(a);
        }
        c->len += (size_t)n;
        r = agent_frame_scan(&c->frame, c->buf, c->len, &end);
        if (r < 0)
            return refuse(a, c, "not a JSON object (byte %zu)", c->frame.scanned);
        if (r > 0)
            return conn_complete(a, c, end);
    }
}

static void on_timer(struct agent *a)
{
    uint64_t now = agent_now_ns(), ticks;
    struct agent_conn *c, *next;

    (void)!read(a->timer.fd, &ticks, sizeof(ticks)); /* EAGAIN when already re-armed */
    for (c = a->conns; c; c = next) {
        next = c->next;
        if (c->deadline_ns > now)
            continue;
        if (idle(c))
            (void)refuse(a, c, "sent nothing within %u s", a->opts.idle_ms / 1000);
        else
            (void)refuse(a, c, "no complete message within %u ms (%zu bytes, %zu fds received)",
                         a->opts.deadline_ms, c->len, c->n_fds);
    }
    arm_timer(a);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

/* 1,000 containers need 2,000 fds in the agent alone; the soft limit is usually 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_debug_errno(-errno, "raising RLIMIT_NOFILE");
}

int agent_new(const char *path, const struct agent_options *opts, agent_listener_fn on_listener,
              void *userdata, struct agent **ret)
{
    struct epoll_event ev = {.events = EPOLLIN};
    struct agent *a;
    int r;

    if (strlen(path) + strlen(".ctl") >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
        return -ENAMETOOLONG;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->epfd = a->sock.fd = a->control.fd = a->timer.fd = a->taker.fd = -1;
    a->sock.kind = AGENT_SRC_SOCKET;
    a->control.kind = AGENT_SRC_CONTROL;
    a->timer.kind = AGENT_SRC_TIMER;
    a->taker.kind = AGENT_SRC_TAKER;
    (void)snprintf(a->path, sizeof(a->path), "%s", path);
    (void)snprintf(a->ctl_path, sizeof(a->ctl_path), "%s.ctl", path);
    if (opts)
        a->opts = *opts;
    if (!a->opts.deadline_ms)
        a->opts.deadline_ms = AGENT_DEFAULT_DEADLINE_MS;
    if (!a->opts.idle_ms)
        a->opts.idle_ms = AGENT_DEFAULT_IDLE_MS;
    if (!a->opts.max_msg)
        a->opts.max_msg = AGENT_DEFAULT_MAX_MSG;
    if (!a->opts.max_conns)
        a->opts.max_conns = AGENT_DEFAULT_MAX_CONNS;
    a->on_listener = on_listener;
    a->userdata = userdata;
    raise_nofile();

    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    a->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (a->epfd < 0 || a->timer.fd < 0) {
        r = -errno;
        goto fail;
    }
    ev.data.ptr = &a->timer;
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->timer.fd, &ev) < 0) {
        r = -errno;
        goto fail;
    }
    r = agent_restart_setup(a);
    if (r < 0)
        goto fail;
    ev.data.ptr = &a->sock;
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->sock.fd, &ev) < 0) {
        r = -errno;
        goto fail;
    }
    if (a->control.fd >= 0) {
        ev.data.ptr = &a->control;
        if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->control.fd, &ev) < 0) {
            r = -errno;
            goto fail;
        }
    }
    *ret = a;
    return 0;
fail:
    agent_free(a);
    return r;
}

int agent_fd(const struct agent *a)
{
    return a->epfd;
}

size_t agent_n_listeners(const struct agent *a)
{
    return a->n_held;
}

int agent_dispatch(struct agent *a)
{
    if (a->handed_over)
        return AGENT_HANDED_OVER;
    /* One event per epoll_wait(): a handler may free a connection or held listener that a
     * later entry of a batch would still point to. Bounded so a flood cannot starve the caller's
     * loop; level-triggered, so what is left wakes the caller again. */
    for (int round = 0; round < 64; round++) {
        struct epoll_event ev;
        enum agent_kind *kind;
        int n;

        n = epoll_wait(a->epfd, &ev, 1, 0);
        if (n < 0)
            return errno == EINTR ? 0 : -errno;
        if (n == 0)
            break;
        kind = ev.data.ptr;
        switch (*kind) {
        case AGENT_SRC_SOCKET:
            /* Bounded so a flood of connections cannot starve the caller's loop. */
            agent_accept_pending(a, 32);
            break;
        case AGENT_SRC_CONTROL:
            agent_restart_on_control(a);
            break;
        case AGENT_SRC_TIMER:
            on_timer(a);
            break;
        case AGENT_SRC_CONN:
            (void)on_conn(a, (struct agent_conn *)kind); /* refusals are logged there */
            break;
        case AGENT_SRC_HELD:
            /* Every task using the filter has exited: the container is gone. */
            agent_held_drop(a, (struct agent_held *)kind);
            break;
        case AGENT_SRC_TAKER:
            if (agent_restart_on_taker(a) == AGENT_HANDED_OVER)
                return AGENT_HANDED_OVER;
            break;
        default:
            break;
        }
        if (a->handing_over && agent_restart_finish(a) == AGENT_HANDED_OVER)
            return AGENT_HANDED_OVER;
    }
    return 0;
}

/* Remove @path only if it is still the file we created: after a hand-over it is the newer
 * agent's. */
static void unlink_ours(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;

    if (ino == 0 || lstat(path, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
        return;
    (void)unlink(path); /* best effort at exit */
}

struct agent *agent_free(struct agent *a)
{
    if (!a)
        return NULL;
    while (a->conns)
        conn_free(a, a->conns);
    /* Our copies only: the caller holds its own, and the fd store keeps its own. Closing them
     * must not remove them from the fd store: that is what survives a restart. */
    while (a->held) {
        struct agent_held *h = a->held;

        a->held = h->next;
        (void)close(h->fd);
        free(h);
    }
    if (!a->handed_over) {
        unlink_ours(a->path, a->sock_dev, a->sock_ino);
        unlink_ours(a->ctl_path, a->ctl_dev, a->ctl_ino);
    }
    if (a->sock.fd >= 0)
        (void)close(a->sock.fd);
    if (a->control.fd >= 0)
        (void)close(a->control.fd);
    if (a->taker.fd >= 0)
        (void)close(a->taker.fd);
    if (a->timer.fd >= 0)
        (void)close(a->timer.fd);
    if (a->epfd >= 0)
        (void)close(a->epfd);
    free(a);
    return NULL;
}
