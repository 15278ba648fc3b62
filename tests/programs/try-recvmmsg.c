/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target program in the style of bubblewrap's tests/try-syscall.c: issue one recvmmsg-family
 * call through exactly the route asked for (raw syscalls, never the glibc wrapper, which picks
 * 417 or 337 by itself) and print one machine-readable "call ..." line per call.
 *
 * Built twice: -m32 as try-recvmmsg32 (routes 337, 417, sc) and natively as try-recvmmsg64
 * (routes 299, int80). Exit status: 0 when every call was made (whatever it returned), 1 when
 * the setup failed, 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../pin-cpu.h"
#include "progs.h"

#if !defined(__i386__) && !defined(__x86_64__)
#error "try-recvmmsg is for i386 and x86_64 only"
#endif

#define VLEN_MAX 4096
#define BUF_LEN_MAX 65536
#define WORKERS_MAX 256

enum route {
    ROUTE_337,
    ROUTE_417,
    ROUTE_SC,
    ROUTE_299,
    ROUTE_INT80,
};

enum timeout_mode {
    TIMEOUT_NONE,
    TIMEOUT_VALUE,
    TIMEOUT_UNREADABLE,
};

struct opts {
    enum route route;
    int n_send;
    int port;
    unsigned vlen;
    uint32_t flags;
    enum timeout_mode timeout_mode;
    int64_t timeout_sec;
    int64_t timeout_nsec;
    int fd;
    bool notsock;
    bool nonblock;
    bool unix_socket;
    int repeat;
    int threads;
    int forks;
    size_t buf_len;
};

static const char *route_name(enum route r)
{
    switch (r) {
    case ROUTE_337:
        return "337";
    case ROUTE_417:
        return "417";
    case ROUTE_SC:
        return "sc";
    case ROUTE_299:
        return "299";
    case ROUTE_INT80:
        return "int80";
    default:
        return "?";
    }
}

/* The i386 routes take the compat layouts and an 8-byte (337, socketcall) or 16-byte (417)
 * timeout; only 299 takes the native x86_64 layouts. */
static bool route_is_compat(enum route r)
{
    return r != ROUTE_299;
}

static bool route_has_ts64(enum route r)
{
    return r == ROUTE_417 || r == ROUTE_299;
}

static void usage(void)
{
    (void)fprintf(stderr,
                  "usage: try-recvmmsg [--route 337|417|sc|299|int80] [--send N] [--port P]\n"
                  "       [--vlen V] [--flags LIST] [--timeout none|SEC.NSEC|unreadable]\n"
                  "       [--fd N] [--notsock] [--nonblock] [--unix] [--buflen B]\n"
                  "       [--repeat K] [--threads T] [--forks F]\n"
                  "SEC.NSEC is two integers: 0.300000000 is 300 ms, 0.1000000000 is nsec 1e9.\n"
                  "With --forks F, F children each run T threads (or one worker when T is 0).\n");
}

static int parse_flags(const char *list, uint32_t *ret)
{
    static const struct {
        const char *name;
        uint32_t value;
    } names[] = {
        {"OOB", MSG_OOB},           {"PEEK", MSG_PEEK},
        {"TRUNC", MSG_TRUNC},       {"DONTWAIT", MSG_DONTWAIT},
        {"WAITALL", MSG_WAITALL},   {"ERRQUEUE", MSG_ERRQUEUE},
        {"WAITFORONE", 0x10000},    {"CMSG_CLOEXEC", MSG_CMSG_CLOEXEC},
        {"NOSIGNAL", MSG_NOSIGNAL},
    };
    char buf[256];
    uint32_t flags = 0;
    char *save = NULL;

    if (strlen(list) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, list);
    for (char *tok = strtok_r(buf, ",|", &save); tok; tok = strtok_r(NULL, ",|", &save)) {
        const char *name = strncmp(tok, "MSG_", 4) == 0 ? tok + 4 : tok;
        bool found = false;
        char *end = NULL;
        unsigned long v;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(name, names[i].name) == 0) {
                flags |= names[i].value;
                found = true;
            }
        if (found)
            continue;
        errno = 0;
        v = strtoul(tok, &end, 0);
        if (errno != 0 || end == tok || *end != '\0' || v > UINT32_MAX)
            return -EINVAL;
        flags |= (uint32_t)v;
    }
    *ret = flags;
    return 0;
}

static int parse_timeout(const char *s, struct opts *o)
{
    const char *dot;
    char sec[32];
    long long v;
    char *end = NULL;

    if (strcmp(s, "none") == 0) {
        o->timeout_mode = TIMEOUT_NONE;
        return 0;
    }
    if (strcmp(s, "unreadable") == 0) {
        o->timeout_mode = TIMEOUT_UNREADABLE;
        return 0;
    }
    dot = strchr(s, '.');
    if (!dot || (size_t)(dot - s) >= sizeof(sec) || dot == s)
        return -EINVAL;
    memcpy(sec, s, (size_t)(dot - s));
    sec[dot - s] = '\0';
    errno = 0;
    v = strtoll(sec, &end, 10);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    o->timeout_sec = v;
    errno = 0;
    v = strtoll(dot + 1, &end, 10);
    if (errno != 0 || end == dot + 1 || *end != '\0')
        return -EINVAL;
    o->timeout_nsec = v;
    o->timeout_mode = TIMEOUT_VALUE;
    return 0;
}

static int parse_route(const char *s, enum route *ret)
{
#if defined(__i386__)
    if (strcmp(s, "337") == 0)
        *ret = ROUTE_337;
    else if (strcmp(s, "417") == 0)
        *ret = ROUTE_417;
    else if (strcmp(s, "sc") == 0)
        *ret = ROUTE_SC;
    else
        return -EINVAL;
#else
    if (strcmp(s, "299") == 0)
        *ret = ROUTE_299;
    else if (strcmp(s, "int80") == 0)
        *ret = ROUTE_INT80;
    else
        return -EINVAL;
#endif
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    long v;

    *o = (struct opts)
    {
#if defined(__i386__)
        .route = ROUTE_337,
#else
        .route = ROUTE_299,
#endif
        .vlen = 0, .fd = -1, .repeat = 1, .buf_len = 256, .timeout_mode = TIMEOUT_NONE,
    };
    bool vlen_set = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        int r = 0;

        if (strcmp(a, "--notsock") == 0) {
            o->notsock = true;
            takes = false;
        } else if (strcmp(a, "--nonblock") == 0) {
            o->nonblock = true;
            takes = false;
        } else if (strcmp(a, "--unix") == 0) {
            o->unix_socket = true;
            takes = false;
        } else if (!val) {
            return -EINVAL;
        } else if (strcmp(a, "--route") == 0) {
            r = parse_route(val, &o->route);
        } else if (strcmp(a, "--send") == 0) {
            r = progs_parse_long(val, 0, 100000, &v);
            o->n_send = (int)v;
        } else if (strcmp(a, "--port") == 0) {
            r = progs_parse_long(val, 0, 65535, &v);
            o->port = (int)v;
        } else if (strcmp(a, "--vlen") == 0) {
            r = progs_parse_long(val, 0, VLEN_MAX, &v);
            o->vlen = (unsigned)v;
            vlen_set = true;
        } else if (strcmp(a, "--flags") == 0) {
            r = parse_flags(val, &o->flags);
        } else if (strcmp(a, "--timeout") == 0) {
            r = parse_timeout(val, o);
        } else if (strcmp(a, "--fd") == 0) {
            r = progs_parse_long(val, 0, 1 << 20, &v);
            o->fd = (int)v;
        } else if (strcmp(a, "--buflen") == 0) {
            r = progs_parse_long(val, 1, BUF_LEN_MAX, &v);
            o->buf_len = (size_t)v;
        } else if (strcmp(a, "--repeat") == 0) {
            r = progs_parse_long(val, 1, 1000000, &v);
            o->repeat = (int)v;
        } else if (strcmp(a, "--threads") == 0) {
            r = progs_parse_long(val, 0, WORKERS_MAX, &v);
            o->threads = (int)v;
        } else if (strcmp(a, "--forks") == 0) {
            r = progs_parse_long(val, 0, WORKERS_MAX, &v);
            o->forks = (int)v;
        } else {
            return -EINVAL;
        }
        if (r < 0)
            return r;
        if (takes)
            i++;
    }
    if (!vlen_set)
        o->vlen = o->n_send > 0 ? (unsigned)o->n_send : 1;
    if (o->vlen > VLEN_MAX)
        return -EINVAL;
    return 0;
}

/* Every buffer the call sees sits below 4 GiB: the int80 route passes 32-bit pointers from a
 * 64-bit process, so they must survive truncation (MAP_32BIT puts them below 2 GiB). */
static void *low_alloc(size_t size, int prot)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    void *p;

#if defined(__x86_64__)
    flags |= MAP_32BIT;
#endif
    p = mmap(NULL, size, prot, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static uint32_t ptr32(const void *p)
{
    uintptr_t v = (uintptr_t)p;

    return (uint32_t)v;
}

#if defined(__x86_64__)
/* i386 syscall from a 64-bit process: seccomp sees arch i386, nr 337 and the zero-extended
 * 32-bit registers. The kernel clears r8-r11 on this path. */
static long int80_recvmmsg_time32(uint32_t fd, uint32_t vec, uint32_t vlen, uint32_t flags,
                                  uint32_t ts)
{
    long ret;

    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"((long)NR_I386_RECVMMSG_TIME32), "b"((long)fd), "c"((long)vec),
                       "d"((long)vlen), "S"((long)flags), "D"((long)ts)
                     : "memory", "cc", "r8", "r9", "r10", "r11");
    ret = (int32_t)ret;
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}
#endif

struct worker {
    const struct opts *o;
    int status;
};

struct bufs {
    void *vec;  /* compat_mmsghdr[vlen] or mmsghdr[vlen] */
    void *iov;  /* compat_iovec[vlen] or iovec[vlen] */
    char *data; /* vlen * buf_len */
    void *ts;   /* 16 bytes, read as old_timespec32 or __kernel_timespec */
    void *noaccess;
    size_t data_len;
};

static int alloc_bufs(const struct opts *o, struct bufs *b)
{
    size_t n = o->vlen ? o->vlen : 1;

    b->data_len = n * o->buf_len;
    b->vec = low_alloc(n * sizeof(struct mmsghdr), PROT_READ | PROT_WRITE);
    b->iov = low_alloc(n * sizeof(struct iovec), PROT_READ | PROT_WRITE);
    b->data = low_alloc(b->data_len, PROT_READ | PROT_WRITE);
    b->ts = low_alloc(16, PROT_READ | PROT_WRITE);
    b->noaccess = low_alloc(4096, PROT_NONE);
    if (!b->vec || !b->iov || !b->data || !b->ts || !b->noaccess)
        return -ENOMEM;
    return 0;
}

/* Fresh headers, zeroed payloads and the timeout as given, before every call. */
static void *prepare(const struct opts *o, const struct bufs *b)
{
    memset(b->data, 0, b->data_len);
    for (unsigned i = 0; i < o->vlen; i++) {
        char *buf = b->data + (size_t)i * o->buf_len;

        if (route_is_compat(o->route)) {
            struct compat_mmsghdr *m = (struct compat_mmsghdr *)b->vec + i;
            struct compat_iovec *v = (struct compat_iovec *)b->iov + i;

            v->base = ptr32(buf);
            v->len = (uint32_t)o->buf_len;
            *m = (struct compat_mmsghdr){.iov = ptr32(v), .iovlen = 1};
        } else {
            struct mmsghdr *m = (struct mmsghdr *)b->vec + i;
            struct iovec *v = (struct iovec *)b->iov + i;

            v->iov_base = buf;
            v->iov_len = o->buf_len;
            memset(m, 0, sizeof(*m));
            m->msg_hdr.msg_iov = v;
            m->msg_hdr.msg_iovlen = 1;
        }
    }
    switch (o->timeout_mode) {
    case TIMEOUT_NONE:
        return NULL;
    case TIMEOUT_UNREADABLE:
        return b->noaccess;
    case TIMEOUT_VALUE:
        if (route_has_ts64(o->route)) {
            struct kernel_timespec64 *t = b->ts;

            t->tv_sec = o->timeout_sec;
            t->tv_nsec = o->timeout_nsec;
        } else {
            struct old_timespec32 *t = b->ts;

            t->tv_sec = (int32_t)o->timeout_sec;
            t->tv_nsec = (int32_t)o->timeout_nsec;
        }
        return b->ts;
    default:
        return NULL;
    }
}

static long call(const struct opts *o, int fd, void *vec, void *ts)
{
    switch (o->route) {
#if defined(__i386__)
    case ROUTE_337:
        return syscall(NR_I386_RECVMMSG_TIME32, fd, vec, o->vlen, o->flags, ts);
    case ROUTE_417:
        return syscall(NR_I386_RECVMMSG_TIME64, fd, vec, o->vlen, o->flags, ts);
    case ROUTE_SC: {
        uint32_t args[5] = {(uint32_t)fd, ptr32(vec), o->vlen, o->flags, ptr32(ts)};

        return syscall(NR_I386_SOCKETCALL, SOCKETCALL_SYS_RECVMMSG, args);
    }
    case ROUTE_299:
    case ROUTE_INT80:
        break; /* parse_route() accepts them only in the 64-bit build */
#else
    case ROUTE_299:
        return syscall(NR_X86_64_RECVMMSG, fd, vec, o->vlen, o->flags, ts);
    case ROUTE_INT80:
        return int80_recvmmsg_time32((uint32_t)fd, ptr32(vec), o->vlen, o->flags, ptr32(ts));
    case ROUTE_337:
    case ROUTE_417:
    case ROUTE_SC:
        break; /* parse_route() accepts them only in the 32-bit build */
#endif
    default:
        break;
    }
    errno = EINVAL;
    return -1;
}

/* Payload bytes as text; bytes that would break the line's "key=a,b" syntax are escaped. */
static size_t put_data(char *out, const char *data, size_t len)
{
    size_t k = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];

        if (c > 0x20 && c < 0x7f && c != ',' && c != '\\' && c != '=')
            out[k++] = (char)c;
        else
            k += (size_t)sprintf(out + k, "\\x%02x", c);
    }
    return k;
}

static int print_line(const struct opts *o, const struct bufs *b, const void *ts, long ret, int err,
                      int64_t elapsed_ns)
{
    long n = ret > 0 ? ret : 0;
    size_t cap = 512 + (size_t)n * (o->buf_len * 4 + 48);
    char *line = malloc(cap);
    size_t k = 0;
    int r = 0;

    if (!line)
        return -ENOMEM;
    k += (size_t)sprintf(
        line + k, "call route=%s pid=%d tid=%d ret=%ld errno=%s n=%ld lens=", route_name(o->route),
        (int)getpid(), (int)gettid(), ret, progs_errno_name(ret < 0 ? err : 0), n);
    for (long i = 0; i < n; i++) {
        uint32_t len = route_is_compat(o->route) ? ((struct compat_mmsghdr *)b->vec)[i].len
                                                 : ((struct mmsghdr *)b->vec)[i].msg_len;

        k += (size_t)sprintf(line + k, "%s%" PRIu32, i ? "," : "", len);
    }
    k += (size_t)sprintf(line + k, " data=");
    for (long i = 0; i < n; i++) {
        uint32_t len = route_is_compat(o->route) ? ((struct compat_mmsghdr *)b->vec)[i].len
                                                 : ((struct mmsghdr *)b->vec)[i].msg_len;

        if (i)
            line[k++] = ',';
        k += put_data(line + k, b->data + (size_t)i * o->buf_len,
                      len < o->buf_len ? len : o->buf_len);
    }
    k += (size_t)sprintf(line + k, " flags=");
    for (long i = 0; i < n; i++) {
        uint32_t fl = route_is_compat(o->route)
                          ? ((struct compat_mmsghdr *)b->vec)[i].flags
                          : (uint32_t)((struct mmsghdr *)b->vec)[i].msg_hdr.msg_flags;

        k += (size_t)sprintf(line + k, "%s0x%" PRIx32, i ? "," : "", fl);
    }
    if (!ts)
        k += (size_t)sprintf(line + k, " timeout=none");
    else if (ts == b->noaccess)
        k += (size_t)sprintf(line + k, " timeout=unreadable");
    else if (route_has_ts64(o->route))
        k += (size_t)sprintf(line + k, " timeout=%lld.%09lld",
                             (long long)((const struct kernel_timespec64 *)ts)->tv_sec,
                             (long long)((const struct kernel_timespec64 *)ts)->tv_nsec);
    else
        k += (size_t)sprintf(line + k, " timeout=%lld.%09lld",
                             (long long)((const struct old_timespec32 *)ts)->tv_sec,
                             (long long)((const struct old_timespec32 *)ts)->tv_nsec);
    k += (size_t)sprintf(line + k, " elapsed_ms=%lld\n", (long long)(elapsed_ns / 1000000));

    /* One write per line so lines of concurrent workers never interleave. */
    for (size_t off = 0; off < k;) {
        ssize_t w = write(STDOUT_FILENO, line + off, k - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            r = -errno;
            break;
        }
        off += (size_t)w;
    }
    free(line);
    return r;
}

static int setup_socket(const struct opts *o, int *ret_sock, int *ret_peer)
{
    int type = SOCK_DGRAM | SOCK_CLOEXEC | (o->nonblock ? SOCK_NONBLOCK : 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sin_len = sizeof(sin);
    int sv[2];
    int s;

    if (o->unix_socket) {
        if (socketpair(AF_UNIX, type, 0, sv) < 0)
            return -errno;
        *ret_sock = sv[0];
        *ret_peer = sv[1];
        return 0;
    }
    s = socket(AF_INET, type, 0);
    if (s < 0)
        return -errno;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)o->port);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(s, (struct sockaddr *)&sin, &sin_len) < 0 ||
        connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        int r = -errno;

        (void)close(s); /* setup already failed; the close result adds nothing */
        return r;
    }
    *ret_sock = s;
    *ret_peer = s;
    return 0;
}

/* The tests expect the datagrams in the order sent: send from one CPU (tests/pin-cpu.h), then give
 * the mask back. */
static int send_all(const struct opts *o, int peer)
{
    cpu_set_t was;
    bool pinned = pin_to_this_cpu(&was) == 0;
    int r = 0;

    for (int i = 0; i < o->n_send && r == 0; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "dgram-%d", i);

        if (send(peer, msg, (size_t)len, 0) != len)
            r = -errno;
    }
    if (pinned)
        (void)sched_setaffinity(0, sizeof(was), &was); /* best effort: placement only */
    return r;
}

static int run_worker(const struct opts *o)
{
    struct bufs b = {0};
    int sock = -1, peer = -1, fd;
    int r;

    r = setup_socket(o, &sock, &peer);
    if (r < 0) {
        (void)fprintf(stderr, "try-recvmmsg: socket: %s\n", strerror(-r));
        return 1;
    }
    r = send_all(o, peer);
    if (r < 0) {
        (void)fprintf(stderr, "try-recvmmsg: send: %s\n", strerror(-r));
        return 1;
    }
    if (alloc_bufs(o, &b) < 0) {
        (void)fprintf(stderr, "try-recvmmsg: mmap: %s\n", strerror(ENOMEM));
        return 1;
    }
    fd = sock;
    if (o->notsock) {
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            (void)fprintf(stderr, "try-recvmmsg: /dev/null: %s\n", strerror(errno));
            return 1;
        }
    } else if (o->fd >= 0) {
        fd = o->fd;
    }
    for (int k = 0; k < o->repeat; k++) {
        void *ts = prepare(o, &b);
        int64_t t0 = progs_now_ns();
        long ret = call(o, fd, b.vec, ts);
        int err = errno;
        int64_t t1 = progs_now_ns();

        r = print_line(o, &b, ts, ret, err, t1 - t0);
        if (r < 0) {
            (void)fprintf(stderr, "try-recvmmsg: stdout: %s\n", strerror(-r));
            return 1;
        }
    }
    /* Sockets and mappings go away with the process; a worker thread leaks them until then. */
    if (sock >= 0)
        (void)close(sock);
    if (peer >= 0 && peer != sock)
        (void)close(peer);
    return 0;
}

static void *thread_main(void *arg)
{
    struct worker *w = arg;

    w->status = run_worker(w->o);
    return NULL;
}

static int run_threads(const struct opts *o)
{
    struct worker w[WORKERS_MAX];
    pthread_t t[WORKERS_MAX];
    int status = 0;
    int n;

    if (o->threads == 0)
        return run_worker(o);
    for (n = 0; n < o->threads; n++) {
        w[n] = (struct worker){.o = o};
        if (pthread_create(&t[n], NULL, thread_main, &w[n]) != 0) {
            (void)fprintf(stderr, "try-recvmmsg: pthread_create failed\n");
            status = 1;
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        (void)pthread_join(t[i], NULL); /* joinable threads we created: cannot fail */
        if (w[i].status != 0)
            status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct opts o;
    pid_t pids[WORKERS_MAX];
    int status = 0;
    int n;

    if (parse_args(argc, argv, &o) < 0) {
        usage();
        return 2;
    }
    if (o.forks == 0)
        return run_threads(&o);

    for (n = 0; n < o.forks; n++) {
        pids[n] = fork();
        if (pids[n] < 0) {
            (void)fprintf(stderr, "try-recvmmsg: fork: %s\n", strerror(errno));
            status = 1;
            break;
        }
        if (pids[n] == 0)
            _exit(run_threads(&o));
    }
    for (int i = 0; i < n; i++) {
        int ws = 0;

        while (waitpid(pids[i], &ws, 0) < 0)
            if (errno != EINTR) {
                ws = 1 << 8;
                break;
            }
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            status = 1;
    }
    return status;
}
