/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Differential target: a fixed matrix of recvmmsg-family calls, each on fresh sockets, printing one
 * canonical line per case and route (everything the call may write, normalised only where the
 * value legitimately varies between runs: ports, timestamps, fd numbers, pids). The harness runs
 * it natively and under mmsgate and requires identical lines (tests/differential/).
 *
 * Built -m32 as diffcases32 (routes 337, 417, sc) and natively as diffcases64 (route 299).
 * Usage: diffcasesNN [-r ROUTE] [-c SUBSTRING] [-l]. Exit 0 when every case ran. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../pin-cpu.h"

#if !defined(__i386__) && !defined(__x86_64__)
#error "diffcases is for i386 and x86_64 only"
#endif

#define PAGE 4096u
#define PAT 0xa5
#define HDR_PAT 0x5a5a5a5au
#define NAME_BUF 256
#define CTL_AMPLE 512
#define CTL_SLACK 16
#define MAX_FDS_SCAN 512
#define CASE_ALARM_S 5

#ifndef SO_TIMESTAMP_NEW
#define SO_TIMESTAMP_NEW 63
#define SO_TIMESTAMPNS_NEW 64
#endif
#define SO_TIMESTAMP_OLD_ 29
#define SO_TIMESTAMPNS_OLD_ 35
#define SO_TIMESTAMPING_OLD_ 37
#define MSG_CMSG_COMPAT_ 0x80000000u

enum route {
#ifdef __i386__
    R_337,
    R_417,
    R_SC,
#else
    R_299,
#endif
    R_MAX_,
};

static const char *const route_names[] = {
#ifdef __i386__
    "337",
    "417",
    "sc",
#else
    "299",
#endif
};

enum sk {
    SK_UDP4,
    SK_UDP6,
    SK_UNIX_DGRAM,
    SK_UNIX_SEQ,
    SK_REFUSED, /* UDP4 connected to a closed port, ICMP error pending */
    SK_PIPE,    /* not a socket */
    SK_BADFD,
    SK_BADFD_NEG,
};

enum nl {
    NL_FULL, /* 128 */
    NL_ZERO,
    NL_SHORT, /* 3 */
    NL_EXACT, /* sizeof the family's sockaddr */
    NL_LARGE, /* 200 */
    NL_NEG,   /* -1 */
    NL_NULL,  /* name NULL, namelen 128 */
    NL_NULL_NEG,
};

enum iovm {
    IOV_ONE, /* one iovec of iov_len (64 when 0) */
    IOV_NONE,
    IOV_MANY, /* 3,0,5,1,7,100 */
    IOV_1024, /* 1024 x 1 byte */
    IOV_1025,
};

enum ctlm {
    CTL_NULL, /* control NULL, controllen 0 */
    CTL_AMPLE_,
    CTL_EXACT,   /* sum of CMSG_SPACE of what one datagram brings */
    CTL_LEN,     /* exact minus the last message's alignment padding */
    CTL_SHORT,   /* CTL_LEN - 1 */
    CTL_HDR,     /* sizeof(struct cmsghdr) */
    CTL_SMALL,   /* 4 */
    CTL_ZERO,    /* non-NULL, controllen 0 */
    CTL_NULLLEN, /* NULL, controllen 64 */
    CTL_FDROOM2, /* CMSG_SPACE(2 * sizeof(int)) */
    CTL_MAX_,
};

static const char *const ctl_names[] = {"null", "ample", "exact", "len",     "short",
                                        "hdr",  "small", "zero",  "nulllen", "room2"};

enum tmo {
    T_NULL,
    T_VAL,
    T_UNREADABLE,
    T_READONLY,
    T_NSEC_HI, /* 16-byte layouts: tv_nsec 0xdeadbeef00000005 (compat masks the upper half) */
};

enum fault {
    F_NONE,
    F_HDR_NOREAD,     /* header i on a PROT_NONE page */
    F_HDR_RO,         /* header i on a read-only page */
    F_LEN_RO,         /* header i writable up to its msg_len, which starts a read-only page */
    F_FLAGS_RO,       /* the same from its msg_flags on: the fields the kernel writes last */
    F_IOV_ON_NAMELEN, /* entry i's one iovec is its own msg_namelen (4 bytes): the payload
                       * sets the length move_addr_to_user() reads again */
    F_HDR_ALIAS,      /* the headers in a memfd mapped twice; entry i's one iovec is entry
                       * i+1's header seen through the other mapping */
    F_IOV_NOREAD,     /* msg_iov of entry i is PROT_NONE */
    F_IOV_PARTIAL,    /* entry i has two iovecs, the second on a PROT_NONE page */
    F_PAYLOAD_RO,
    F_PAYLOAD_NONE,
    F_NAME_RO,
    F_NAME_NONE,
    F_CTL_RO,
    F_CTL_NONE,
    F_IOVLEN_BIG, /* entry i: iovlen 1025 */
    F_IOV_NEGLEN, /* entry i: iov_len (size_t)-1 */
    F_NAMELEN_NEG,
    F_SECOND_IOV_NONE, /* entry i: iov[1] base PROT_NONE, datagram fits iov[0] */
};

enum opt {
    O_PASSCRED = 1 << 0,
    O_TS = 1 << 1,
    O_TSNS = 1 << 2,
    O_TSING = 1 << 3,
    O_TS_NEW = 1 << 4,
    O_TSNS_NEW = 1 << 5,
    O_PKTINFO = 1 << 6,
    O_TTL = 1 << 7,
    O_TOS = 1 << 8,
    O_PKTINFO6 = 1 << 9,
    O_HOPLIMIT6 = 1 << 10,
    O_TCLASS6 = 1 << 11,
    O_RECVERR = 1 << 12,
    O_PASSPIDFD = 1 << 13, /* SO_PASSPIDFD (6.5): an SCM_PIDFD of the sender per datagram */
};

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

struct dc {
    char name[64];
    enum sk sk;
    int n_dgram;
    int dgram_len; /* 0: 16 */
    int first_len; /* 0: dgram_len */
    unsigned vlen;
    enum iovm iovm;
    int iov_len; /* 0: 64 */
    enum nl nl;
    enum ctlm ctl;
    uint32_t flags;
    enum tmo tmo;
    int64_t tsec, tnsec;
    bool nonblock;
    int rcvtimeo_ms;
    unsigned opts;
    int n_fds; /* SCM_RIGHTS fds sent with each datagram (unix) */
    enum fault fault;
    unsigned fault_at;
    int only_route; /* -1: all */
};

/* ---- output ---- */

struct out {
    char *s;
    size_t len, cap;
};

static struct out o;

__attribute__((format(printf, 1, 2))) static void put(const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o.s + o.len, o.cap - o.len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o.cap - o.len)
            break;
        o.cap = o.cap * 2 + (size_t)n + 64;
        o.s = realloc(o.s, o.cap);
        if (!o.s)
            abort();
    }
    o.len += (size_t)n;
}

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Hex with runs of >= 6 equal bytes as "xx*N"; very long results become a hash of every byte. */
static void hex(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t start = o.len;

    for (size_t i = 0; i < n;) {
        size_t j = i;

        while (j < n && b[j] == b[i])
            j++;
        if (j - i >= 6) {
            put("%02x*%zu.", b[i], j - i);
            i = j;
        } else {
            put("%02x", b[i]);
            i++;
        }
    }
    if (o.len - start > 2048) {
        o.len = start;
        put("H%zu:%016" PRIx64, n, fnv(p, n));
    }
}

static const char *ename(int e)
{
    static char buf[16];
    const char *s = strerrorname_np(e);

    if (s)
        return s;
    snprintf(buf, sizeof(buf), "E%d", e);
    return buf;
}

/* ---- memory ---- */

#define MAX_MAPS 256
static struct {
    void *addr;
    size_t len;
} maps[MAX_MAPS];
static int n_maps;
static struct {
    void *addr;
    size_t len;
    int prot;
} protects[MAX_MAPS];
static int n_protects;
static char *arena;
static size_t arena_off, arena_len;

static void die(const char *what)
{
    fprintf(stderr, "diffcases: %s: %s\n", what, strerror(errno));
    exit(1);
}

static char *map_pages(size_t n_pages)
{
    void *m;

    if (n_maps == MAX_MAPS) {
        errno = ENOMEM;
        die("too many mappings");
    }
    m = mmap(NULL, n_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        die("mmap");
    memset(m, PAT, n_pages * PAGE);
    maps[n_maps].addr = m;
    maps[n_maps].len = n_pages * PAGE;
    n_maps++;
    return m;
}

static void protect_later(void *addr, size_t len, int prot)
{
    protects[n_protects].addr = addr;
    protects[n_protects].len = len;
    protects[n_protects].prot = prot;
    n_protects++;
}

static void apply_protects(void)
{
    for (int i = 0; i < n_protects; i++)
        if (mprotect(protects[i].addr, protects[i].len, protects[i].prot) < 0)
            die("mprotect");
}

static void unmap_all(void)
{
    for (int i = 0; i < n_maps; i++)
        (void)munmap(maps[i].addr, maps[i].len); /* our own mapping */
    n_maps = 0;
    n_protects = 0;
    arena = NULL;
}

/* [p, p+len) ends exactly where a page of @prot begins (applied just before the call). */
static char *before_guard(size_t len, int prot)
{
    size_t np = (len + PAGE - 1) / PAGE;
    char *m = map_pages(np + 1);

    protect_later(m + np * PAGE, PAGE, prot);
    return m + np * PAGE - len;
}

static char *page_with(int prot)
{
    char *m = map_pages(1);

    protect_later(m, PAGE, prot);
    return m;
}

static void *alloc(size_t len)
{
    void *p;

    if (!arena) {
        arena_len = 2048 * PAGE;
        arena = map_pages(2048);
        arena_off = 0;
    }
    len = (len + 15) & ~(size_t)15;
    if (arena_off + len > arena_len) {
        errno = ENOMEM;
        die("arena");
    }
    p = arena + arena_off;
    arena_off += len;
    return p;
}

/* ---- sockets ---- */

struct objs {
    int fd[3];
    dev_t dev[3];
    ino_t ino[3];
    int n;
};

struct setup {
    int rfd;   /* the socket under test (or a non-socket / bad fd) */
    int sfd;   /* sender */
    int extra; /* pipe write end for SK_PIPE */
    uint16_t ports[4];
    int n_ports;
    struct objs objs;
    int family;
};

static bool port_ok(uint16_t port_be)
{
    const unsigned char *b = (const unsigned char *)&port_be;

    return b[0] != PAT && b[1] != PAT;
}

static int udp_bound(int family, uint16_t *ret_port)
{
    for (int tries = 0; tries < 100; tries++) {
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        uint16_t port;

        if (fd < 0)
            die("socket");
        if (family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;

            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            sl = sizeof(*a);
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            sl = sizeof(*a);
        }
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
            die("bind");
        sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
            die("getsockname");
        port = family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                 : ((struct sockaddr_in6 *)&ss)->sin6_port;
        if (port_ok(port)) {
            *ret_port = port;
            return fd;
        }
        close(fd);
    }
    errno = EADDRINUSE;
    die("no usable port");
    return -1;
}

static void setint(int fd, int level, int name, int v)
{
    if (setsockopt(fd, level, name, &v, sizeof(v)) < 0)
        die("setsockopt");
}

static void set_opts(const struct dc *c, struct setup *s)
{
    if (c->opts & O_PASSCRED)
        setint(s->rfd, SOL_SOCKET, SO_PASSCRED, 1);
    /* Before Linux 6.5 there is no such option: neither run gets the message then. */
    if (c->opts & O_PASSPIDFD)
        (void)setsockopt(s->rfd, SOL_SOCKET, SO_PASSPIDFD, &(int){1}, sizeof(int));
    if (c->opts & O_TS)
        setint(s->rfd, SOL_SOCKET, SO_TIMESTAMP_OLD_, 1);
    if (c->opts & O_TSNS)
        setint(s->rfd, SOL_SOCKET, SO_TIMESTAMPNS_OLD_, 1);
    if (c->opts & O_TS_NEW)
        setint(s->rfd, SOL_SOCKET, SO_TIMESTAMP_NEW, 1);
    if (c->opts & O_TSNS_NEW)
        setint(s->rfd, SOL_SOCKET, SO_TIMESTAMPNS_NEW, 1);
    if (c->opts & O_TSING)
        setint(s->rfd, SOL_SOCKET, SO_TIMESTAMPING_OLD_,
               SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE);
    if (c->opts & O_PKTINFO)
        setint(s->rfd, IPPROTO_IP, IP_PKTINFO, 1);
    if (c->opts & O_TTL)
        setint(s->rfd, IPPROTO_IP, IP_RECVTTL, 1);
    if (c->opts & O_TOS)
        setint(s->rfd, IPPROTO_IP, IP_RECVTOS, 1);
    if (c->opts & O_PKTINFO6)
        setint(s->rfd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    if (c->opts & O_HOPLIMIT6)
        setint(s->rfd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
    if (c->opts & O_TCLASS6)
        setint(s->rfd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
    if (c->opts & O_RECVERR)
        setint(s->rfd, IPPROTO_IP, IP_RECVERR, 1);
    if (c->rcvtimeo_ms) {
        struct timeval tv = {c->rcvtimeo_ms / 1000, (c->rcvtimeo_ms % 1000) * 1000};

        if (setsockopt(s->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
            die("SO_RCVTIMEO");
    }
}

static void make_objs(struct objs *ob, int n)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe2");
    ob->fd[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ob->fd[1] = p[0];
    ob->fd[2] = p[1];
    if (ob->fd[0] < 0)
        die("/dev/null");
    for (int i = 0; i < 3; i++) {
        struct stat st;

        if (fstat(ob->fd[i], &st) < 0)
            die("fstat");
        ob->dev[i] = st.st_dev;
        ob->ino[i] = st.st_ino;
    }
    ob->n = n;
}

static void payload_of(int k, int len, unsigned char *buf)
{
    for (int j = 0; j < len; j++)
        buf[j] = (unsigned char)(k * 0x11 + j * 3 + 1);
}

static void send_dgrams(const struct dc *c, struct setup *s, const struct sockaddr *to,
                        socklen_t tolen)
{
    static unsigned char buf[65536];

    for (int k = 0; k < c->n_dgram; k++) {
        int len = c->dgram_len ? c->dgram_len : 16;
        struct iovec iov;
        union {
            char b[CMSG_SPACE(3 * sizeof(int))];
            struct cmsghdr align;
        } u;
        struct msghdr m = {.msg_name = (void *)(uintptr_t)to,
                           .msg_namelen = tolen,
                           .msg_iov = &iov,
                           .msg_iovlen = 1};

        if (k == 0 && c->first_len)
            len = c->first_len < 0 ? 0 : c->first_len; /* -1: an empty datagram */
        iov = (struct iovec){buf, (size_t)len};
        payload_of(k, len, buf);
        if (c->n_fds) {
            struct cmsghdr *cm;

            memset(&u, 0, sizeof(u));
            m.msg_control = u.b;
            m.msg_controllen = CMSG_SPACE((size_t)c->n_fds * sizeof(int));
            cm = CMSG_FIRSTHDR(&m);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN((size_t)c->n_fds * sizeof(int));
            memcpy(CMSG_DATA(cm), s->objs.fd, (size_t)c->n_fds * sizeof(int));
        }
        if (sendmsg(s->sfd, &m, 0) != len)
            die("sendmsg");
    }
}

static void wait_for(int fd, short ev)
{
    struct pollfd p = {.fd = fd, .events = ev};

    if (poll(&p, 1, 2000) != 1)
        die("poll before the call (nothing arrived)");
}

static void setup_sockets(const struct dc *c, struct setup *s)
{
    int sv[2];

    memset(s, 0, sizeof(*s));
    s->rfd = s->sfd = s->extra = -1;
    if (c->n_fds)
        make_objs(&s->objs, c->n_fds);
    switch (c->sk) {
    case SK_UDP4:
    case SK_UDP6: {
        int fam = c->sk == SK_UDP4 ? AF_INET : AF_INET6;
        struct sockaddr_storage to = {0};
        socklen_t tl = sizeof(to);

        s->family = fam;
        s->rfd = udp_bound(fam, &s->ports[0]);
        s->sfd = udp_bound(fam, &s->ports[1]);
        s->n_ports = 2;
        if (fam == AF_INET)
            setint(s->sfd, IPPROTO_IP, IP_TOS, 0x10);
        else
            setint(s->sfd, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
        set_opts(c, s);
        if (getsockname(s->rfd, (struct sockaddr *)&to, &tl) < 0)
            die("getsockname");
        send_dgrams(c, s, (struct sockaddr *)&to, tl);
        if (c->n_dgram)
            wait_for(s->rfd, POLLIN);
        break;
    }
    case SK_UNIX_DGRAM:
    case SK_UNIX_SEQ:
        s->family = AF_UNIX;
        if (socketpair(AF_UNIX,
                       (c->sk == SK_UNIX_DGRAM ? SOCK_DGRAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0,
                       sv) < 0)
            die("socketpair");
        s->rfd = sv[0];
        s->sfd = sv[1];
        set_opts(c, s);
        send_dgrams(c, s, NULL, 0);
        break;
    case SK_REFUSED: {
        struct sockaddr_in to = {0};
        socklen_t tl = sizeof(to);
        int tmp;

        s->family = AF_INET;
        tmp = udp_bound(AF_INET, &s->ports[0]);
        if (getsockname(tmp, (struct sockaddr *)&to, &tl) < 0)
            die("getsockname");
        close(tmp);
        s->rfd = udp_bound(AF_INET, &s->ports[1]);
        s->n_ports = 2;
        set_opts(c, s);
        if (connect(s->rfd, (struct sockaddr *)&to, tl) < 0)
            die("connect");
        if (send(s->rfd, "refused!", 8, 0) != 8)
            die("send");
        wait_for(s->rfd, POLLERR);
        break;
    }
    case SK_PIPE:
        if (pipe2(sv, O_CLOEXEC) < 0)
            die("pipe2");
        s->rfd = sv[0];
        s->extra = sv[1];
        if (write(s->extra, "data", 4) != 4)
            die("write");
        break;
    case SK_BADFD:
        s->rfd = 1000;
        break;
    case SK_BADFD_NEG:
        s->rfd = -1;
        break;
    default:
        abort();
    }
    if (c->nonblock && s->rfd >= 0 && c->sk != SK_BADFD)
        if (fcntl(s->rfd, F_SETFL, O_NONBLOCK) < 0)
            die("O_NONBLOCK");
}

static void teardown(struct setup *s, const struct dc *c)
{
    if (s->rfd >= 0 && c->sk != SK_BADFD)
        close(s->rfd);
    if (s->sfd >= 0)
        close(s->sfd);
    if (s->extra >= 0)
        close(s->extra);
    if (s->objs.n)
        for (int i = 0; i < 3; i++)
            close(s->objs.fd[i]);
}

/* ---- what one datagram's control messages need ---- */

struct cm_size {
    size_t last_len; /* payload bytes of the last message */
    size_t space;    /* sum of CMSG_SPACE */
};

static void add_cm(struct cm_size *z, size_t len)
{
    z->space += CMSG_SPACE(len);
    z->last_len = len;
}

static struct cm_size cm_need(const struct dc *c)
{
    struct cm_size z = {0};

    /* In the order the kernel emits them (timestamps, then the protocol's own / creds, fds). */
    if (c->opts & O_TS)
        add_cm(&z, sizeof(struct timeval));
    if (c->opts & O_TSNS)
        add_cm(&z, sizeof(struct timespec));
    if (c->opts & O_TS_NEW)
        add_cm(&z, 16);
    if (c->opts & O_TSNS_NEW)
        add_cm(&z, 16);
    if (c->opts & O_TSING)
        add_cm(&z, 3 * sizeof(struct timespec));
    if (c->opts & O_PKTINFO)
        add_cm(&z, sizeof(struct in_pktinfo));
    if (c->opts & O_TTL)
        add_cm(&z, sizeof(int));
    if (c->opts & O_TOS)
        add_cm(&z, 1);
    if (c->opts & O_PKTINFO6)
        add_cm(&z, sizeof(struct in6_pktinfo));
    if (c->opts & O_HOPLIMIT6)
        add_cm(&z, sizeof(int));
    if (c->opts & O_TCLASS6)
        add_cm(&z, sizeof(int));
    if (c->opts & O_PASSCRED)
        add_cm(&z, sizeof(struct ucred));
    if (c->opts & O_PASSPIDFD)
        add_cm(&z, sizeof(int));
    if (c->n_fds)
        add_cm(&z, (size_t)c->n_fds * sizeof(int));
    return z;
}

static size_t ctl_len_of(const struct dc *c, bool *ret_null)
{
    struct cm_size z = cm_need(c);

    *ret_null = false;
    switch (c->ctl) {
    case CTL_NULL:
        *ret_null = true;
        return 0;
    case CTL_NULLLEN:
        *ret_null = true;
        return 64;
    case CTL_AMPLE_:
        return CTL_AMPLE;
    case CTL_EXACT:
        return z.space;
    case CTL_LEN:
        return z.space - CMSG_SPACE(z.last_len) + CMSG_LEN(z.last_len);
    case CTL_SHORT:
        return z.space - CMSG_SPACE(z.last_len) + CMSG_LEN(z.last_len) - 1;
    case CTL_HDR:
        return sizeof(struct cmsghdr);
    case CTL_SMALL:
        return 4;
    case CTL_ZERO:
        return 0;
    case CTL_FDROOM2:
        return CMSG_SPACE(2 * sizeof(int));
    case CTL_MAX_:
    default:
        abort();
    }
}

/* ---- building the call ---- */

struct ent {
    bool accessible; /* header readable by us after the call */
    char *name;
    size_t name_buf;
    struct iovec *iov; /* our copy of what we put in (the caller may not read it back) */
    size_t n_iov;
    bool iov_dump; /* the iovec buffers are readable by us */
    char *ctl;
    size_t ctl_buf;
    struct mmsghdr orig;
    uint64_t hash_before;
};

struct call {
    struct mmsghdr *mm;
    struct ent *e;
    unsigned n_ent; /* entries set up (the rest lie on a PROT_NONE page) */
    void *tmo;
    size_t tmo_size;
    unsigned char tmo_orig[16];
    bool tmo_readable;
    uint32_t *sc_args;
};

static size_t name_len_of(const struct dc *c)
{
    switch (c->nl) {
    case NL_FULL:
    case NL_NULL:
        return 128;
    case NL_ZERO:
        return 0;
    case NL_SHORT:
        return 3;
    case NL_EXACT:
        return c->sk == SK_UDP6                                   ? sizeof(struct sockaddr_in6)
               : (c->sk == SK_UNIX_DGRAM || c->sk == SK_UNIX_SEQ) ? sizeof(sa_family_t)
                                                                  : sizeof(struct sockaddr_in);
    case NL_LARGE:
        return 200;
    case NL_NEG:
    case NL_NULL_NEG:
        return (size_t)-1;
    default:
        abort();
    }
}

static uint64_t ent_hash(const struct call *k, unsigned i)
{
    const struct ent *e = &k->e[i];
    uint64_t h = fnv(&k->mm[i], sizeof(k->mm[i]));

    if (e->name)
        h ^= fnv(e->name, e->name_buf) * 3;
    if (e->iov_dump)
        for (size_t j = 0; j < e->n_iov; j++)
            if (e->iov[j].iov_base)
                h ^= fnv(e->iov[j].iov_base, e->iov[j].iov_len + 8) * (5 + j);
    if (e->ctl)
        h ^= fnv(e->ctl, e->ctl_buf) * 7;
    return h;
}

static void build(const struct dc *c, int route, struct call *k)
{
    size_t stride = sizeof(struct mmsghdr), ctl_len;
    unsigned vlen = c->vlen, n_ent = vlen;
    bool ctl_null;
    char *arr, *alias = NULL;

    memset(k, 0, sizeof(*k));
    ctl_len = ctl_len_of(c, &ctl_null);
    if (c->fault == F_HDR_NOREAD) {
        n_ent = c->fault_at < vlen ? c->fault_at : vlen;
        arr = before_guard(n_ent * stride, PROT_NONE);
    } else if ((c->fault == F_HDR_RO || c->fault == F_LEN_RO || c->fault == F_FLAGS_RO) &&
               c->fault_at < vlen) {
        size_t split = c->fault == F_LEN_RO     ? offsetof(struct mmsghdr, msg_len)
                       : c->fault == F_FLAGS_RO ? offsetof(struct mmsghdr, msg_hdr.msg_flags)
                                                : 0;
        size_t before = c->fault_at * stride + split;
        size_t lo = (before + PAGE - 1) / PAGE, hi = (vlen * stride - before + PAGE - 1) / PAGE;
        char *m = map_pages(lo + hi);

        arr = m + lo * PAGE - before;
        protect_later(m + lo * PAGE, hi * PAGE, PROT_READ);
    } else if (c->fault == F_HDR_ALIAS) {
        size_t len = (vlen * stride + PAGE - 1) / PAGE * PAGE;
        int mfd = memfd_create("diffcases-alias", MFD_CLOEXEC);

        if (mfd < 0 || ftruncate(mfd, (off_t)len) < 0)
            die("memfd");
        arr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
        alias = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
        if (arr == MAP_FAILED || alias == MAP_FAILED)
            die("mmap");
        close(mfd);
    } else {
        /* Tight against a PROT_NONE page: reading past entry vlen-1 faults. */
        arr = before_guard(vlen * stride, PROT_NONE);
    }
    k->mm = (struct mmsghdr *)(void *)arr;
    k->n_ent = n_ent;
    k->e = calloc(n_ent ? n_ent : 1, sizeof(*k->e));
    if (!k->e)
        die("calloc");
    for (unsigned i = 0; i < n_ent; i++) {
        struct ent *e = &k->e[i];
        struct msghdr *h = &k->mm[i].msg_hdr;
        bool here = c->fault != F_NONE && c->fault_at == i;
        bool tight = i < 8;
        size_t nl = name_len_of(c), iov_len = c->iov_len ? (size_t)c->iov_len : 64;
        static const size_t many[] = {3, 0, 5, 1, 7, 100};

        e->accessible = true;
        memset(h, PAT, sizeof(*h));
        k->mm[i].msg_len = HDR_PAT;
        h->msg_flags = (int)HDR_PAT;
        /* name */
        if (c->nl == NL_NULL || c->nl == NL_NULL_NEG) {
            h->msg_name = NULL;
        } else if (here && c->fault == F_NAME_RO) {
            h->msg_name = page_with(PROT_READ);
        } else if (here && c->fault == F_NAME_NONE) {
            h->msg_name = page_with(PROT_NONE);
        } else {
            e->name = alloc(NAME_BUF);
            e->name_buf = NAME_BUF;
            memset(e->name, PAT, NAME_BUF);
            h->msg_name = e->name;
        }
        h->msg_namelen = (socklen_t)nl;
        if (here && c->fault == F_NAMELEN_NEG)
            h->msg_namelen = (socklen_t)-1;
        /* iovecs */
        switch (here && c->fault == F_IOVLEN_BIG ? IOV_1025 : c->iovm) {
        case IOV_ONE:
            e->n_iov = 1;
            break;
        case IOV_NONE:
            e->n_iov = 0;
            break;
        case IOV_MANY:
            e->n_iov = sizeof(many) / sizeof(many[0]);
            break;
        case IOV_1024:
            e->n_iov = 1024;
            break;
        case IOV_1025:
            e->n_iov = 1025;
            break;
        default:
            abort();
        }
        if (here && (c->fault == F_IOV_PARTIAL || c->fault == F_SECOND_IOV_NONE))
            e->n_iov = 2;
        e->iov = calloc(e->n_iov ? e->n_iov : 1, sizeof(struct iovec));
        if (!e->iov)
            die("calloc");
        e->iov_dump = true;
        for (size_t j = 0; j < e->n_iov; j++) {
            size_t l = c->iovm == IOV_MANY ? many[j] : (c->iovm == IOV_ONE ? iov_len : 1);

            if (here && (c->fault == F_IOV_PARTIAL || c->fault == F_SECOND_IOV_NONE))
                l = iov_len;
            e->iov[j].iov_len = l;
            e->iov[j].iov_base = alloc(l + 8);
            memset(e->iov[j].iov_base, PAT, l + 8);
        }
        if (here && c->fault == F_PAYLOAD_RO) {
            e->iov[0].iov_base = page_with(PROT_READ);
            e->iov_dump = false;
        }
        if (here && c->fault == F_PAYLOAD_NONE) {
            e->iov[0].iov_base = page_with(PROT_NONE);
            e->iov_dump = false;
        }
        if (here && c->fault == F_SECOND_IOV_NONE) {
            e->iov[1].iov_base = page_with(PROT_NONE);
            e->iov_dump = false;
        }
        if (here && c->fault == F_IOV_NEGLEN)
            e->iov[0].iov_len = (size_t)-1;
        if (here && c->fault == F_HDR_ALIAS && e->n_iov == 1 && i + 1 < n_ent) {
            /* The first 8 bytes: the name pointer (and on i386 msg_namelen), so the next entry
             * still decodes (a payload that breaks its decoding is difference 11 of
             * docs/emulation.md) and fails only writing its name. */
            e->iov[0] = (struct iovec){alias + (i + 1) * stride, 8};
            e->iov_dump = false; /* the next header's own dump shows it */
        }
        if (here && c->fault == F_IOV_ON_NAMELEN && e->n_iov == 1) {
            e->iov[0] = (struct iovec){&h->msg_namelen, sizeof(h->msg_namelen)};
            e->iov_dump = false; /* the header's own dump shows it */
        }
        h->msg_iovlen = e->n_iov;
        if (here && c->fault == F_IOV_NOREAD) {
            h->msg_iov = (struct iovec *)(void *)page_with(PROT_NONE);
        } else if (here && c->fault == F_IOV_PARTIAL) {
            /* the first element readable, the second on the guard page */
            struct iovec *v = (struct iovec *)(void *)before_guard(sizeof(struct iovec), PROT_NONE);

            v[0] = e->iov[0];
            h->msg_iov = v;
        } else {
            struct iovec *v;

            if (tight)
                v = (struct iovec *)(void *)before_guard(e->n_iov * sizeof(*v), PROT_NONE);
            else
                v = alloc(e->n_iov * sizeof(*v) + 1);
            memcpy(v, e->iov, e->n_iov * sizeof(*v));
            h->msg_iov = v;
        }
        if (here && c->fault == F_IOV_NEGLEN)
            e->iov_dump = false;
        /* control */
        if (ctl_null) {
            h->msg_control = NULL;
        } else if (here && c->fault == F_CTL_RO) {
            h->msg_control = page_with(PROT_READ);
        } else if (here && c->fault == F_CTL_NONE) {
            h->msg_control = page_with(PROT_NONE);
        } else {
            e->ctl_buf = ctl_len + CTL_SLACK;
            e->ctl = alloc(e->ctl_buf);
            memset(e->ctl, PAT, e->ctl_buf);
            h->msg_control = e->ctl;
        }
        h->msg_controllen = ctl_len;
        e->orig = k->mm[i];
        e->hash_before = ent_hash(k, i);
    }
    if (c->fault == F_HDR_RO || c->fault == F_LEN_RO || c->fault == F_FLAGS_RO)
        for (unsigned i = c->fault_at; i < n_ent; i++)
            k->e[i].accessible = true;
    /* timeout */
    k->tmo_size = 16;
#ifdef __i386__
    if (route == R_337 || route == R_SC)
        k->tmo_size = 8;
#else
    (void)route;
#endif
    if (c->tmo != T_NULL) {
        unsigned char t[16];
        int64_t sec = c->tsec, nsec = c->tnsec;

        if (k->tmo_size == 8) {
            int32_t a[2] = {(int32_t)sec, (int32_t)nsec};
            memcpy(t, a, 8);
        } else {
            int64_t a[2] = {sec, c->tmo == T_NSEC_HI ? (int64_t)0xdeadbeef00000005ull : nsec};
            memcpy(t, a, 16);
        }
        memcpy(k->tmo_orig, t, sizeof(t));
        k->tmo_readable = true;
        if (c->tmo == T_UNREADABLE) {
            k->tmo = page_with(PROT_NONE);
            k->tmo_readable = false;
        } else if (c->tmo == T_READONLY) {
            k->tmo = page_with(PROT_READ);
            memcpy(k->tmo, t, k->tmo_size);
        } else {
            k->tmo = before_guard(k->tmo_size, PROT_NONE);
            memcpy(k->tmo, t, k->tmo_size);
        }
    }
    k->sc_args = (uint32_t *)(void *)before_guard(5 * sizeof(uint32_t), PROT_NONE);
}

static long do_call(int route, int fd, struct call *k, unsigned vlen, unsigned flags)
{
    switch (route) {
#ifdef __i386__
    case R_337:
        return syscall(337, fd, k->mm, vlen, flags, k->tmo);
    case R_417:
        return syscall(417, fd, k->mm, vlen, flags, k->tmo);
    case R_SC:
        k->sc_args[0] = (uint32_t)fd;
        k->sc_args[1] = (uint32_t)(uintptr_t)k->mm;
        k->sc_args[2] = vlen;
        k->sc_args[3] = flags;
        k->sc_args[4] = (uint32_t)(uintptr_t)k->tmo;
        return syscall(SYS_socketcall, 19, k->sc_args);
#else
    case R_299:
        return syscall(299, fd, k->mm, vlen, flags, k->tmo);
#endif
    default:
        abort();
    }
}

/* ---- dumping ---- */

struct fdstate {
    bool open_before[MAX_FDS_SCAN];
    int base; /* lowest free fd before the call */
};

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void fd_token(int fd, const struct setup *s, const struct fdstate *fs)
{
    struct stat st;
    int fl;
    const char *what = "?";
    char other[48];

    if (fd < 0 || fd >= MAX_FDS_SCAN || fs->open_before[fd]) {
        put("{fd-not-new:%d}", fd - fs->base);
        return;
    }
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fstat(fd, &st) < 0) {
        put("{fd+%d:closed}", fd - fs->base);
        return;
    }
    for (int i = 0; i < 3 && s->objs.n; i++)
        if (st.st_dev == s->objs.dev[i] && st.st_ino == s->objs.ino[i])
            what = i == 0 ? "devnull" : i == 1 ? "pipe-r" : "pipe-w";
    if (what[0] == '?') {
        snprintf(other, sizeof(other), "mode%o", (unsigned)(st.st_mode & S_IFMT));
        what = other;
    }
    put("{fd+%d:%s:%s}", fd - fs->base, what, (fl & FD_CLOEXEC) ? "ce" : "noce");
    close(fd);
}

static void time_fields(const unsigned char *p, size_t n, size_t field)
{
    for (size_t off = 0; off < n; off += field) {
        size_t m = n - off < field ? n - off : field;
        bool zero = true;

        for (size_t j = 0; j < m; j++)
            zero = zero && p[off + j] == 0;
        if (m == field)
            put("%s", zero ? "Z" : "T");
        else
            put("t%zu", m);
    }
}

static void cmsg_data(const struct cmsghdr *cm, const unsigned char *d, size_t n,
                      const struct setup *s, const struct fdstate *fs)
{
    int lvl = cm->cmsg_level, typ = cm->cmsg_type;

    if (lvl == SOL_SOCKET && (typ == SCM_RIGHTS || typ == SCM_PIDFD)) {
        size_t i = 0;

        for (; i + sizeof(int) <= n; i += sizeof(int)) {
            int fd;

            memcpy(&fd, d + i, sizeof(fd));
            fd_token(fd, s, fs);
        }
        hex(d + i, n - i);
        return;
    }
    if (lvl == SOL_SOCKET &&
        (typ == SO_TIMESTAMP_OLD_ || typ == SO_TIMESTAMPNS_OLD_ || typ == SO_TIMESTAMPING_OLD_)) {
        time_fields(d, n, sizeof(long));
        return;
    }
    if (lvl == SOL_SOCKET && (typ == SO_TIMESTAMP_NEW || typ == SO_TIMESTAMPNS_NEW)) {
        time_fields(d, n, 8);
        return;
    }
    if (lvl == SOL_SOCKET && typ == SCM_CREDENTIALS && n >= sizeof(struct ucred)) {
        struct ucred u;

        memcpy(&u, d, sizeof(u));
        if (u.pid == getpid())
            put("pid=self,");
        else
            put("pid=%d,", (int)u.pid);
        put("uid=%u,gid=%u", (unsigned)u.uid, (unsigned)u.gid);
        hex(d + sizeof(u), n - sizeof(u));
        return;
    }
    if (lvl == SOL_SOCKET && typ == SCM_CREDENTIALS) {
        /* cut short: the pid bytes that made it vary between runs; compare them */
        struct ucred me = {getpid(), getuid(), getgid()};

        if (!memcmp(d, &me, n))
            put("cred-prefix-self%zu", n);
        else
            hex(d, n);
        return;
    }
    hex(d, n);
}

static void dump_control(const struct ent *e, size_t controllen, const struct setup *s,
                         const struct fdstate *fs)
{
    size_t off = 0, used = controllen < e->ctl_buf ? controllen : e->ctl_buf;
    const unsigned char *b = (const unsigned char *)e->ctl;

    put(" ctl=");
    while (off + sizeof(struct cmsghdr) <= used) {
        struct cmsghdr cm;
        size_t clen, dlen, next;

        memcpy(&cm, b + off, sizeof(cm));
        clen = cm.cmsg_len;
        put("<");
        hex(b + off, sizeof(cm));
        put("|");
        if (clen < sizeof(cm)) {
            put(">");
            off += sizeof(cm);
            continue;
        }
        dlen = (clen < used - off ? clen : used - off) - sizeof(cm);
        cmsg_data(&cm, b + off + sizeof(cm), dlen, s, fs);
        put(">");
        next = off + CMSG_ALIGN(clen);
        if (next > e->ctl_buf || next <= off)
            next = e->ctl_buf;
        if (next > off + sizeof(cm) + dlen)
            hex(b + off + sizeof(cm) + dlen, next - (off + sizeof(cm) + dlen));
        off = next;
    }
    if (off < e->ctl_buf) {
        put("~");
        hex(b + off, e->ctl_buf - off);
    }
}

static void dump_name(const struct ent *e, const struct setup *s)
{
    const unsigned char *b = (const unsigned char *)e->name;

    put(" name=");
    for (size_t i = 0; i < e->name_buf; i++) {
        bool isport = false;

        if ((s->family == AF_INET || s->family == AF_INET6) && (i == 2 || i == 3))
            for (int p = 0; p < s->n_ports; p++)
                isport = isport || b[i] == ((const unsigned char *)&s->ports[p])[i - 2];
        if (isport) {
            put("P");
        } else {
            size_t j = i;

            while (j < e->name_buf && (j < 2 || j > 3) && b[j] == b[i])
                j++;
            if (j - i >= 6) {
                put("%02x*%zu.", b[i], j - i);
                i = j - 1;
            } else {
                put("%02x", b[i]);
            }
        }
    }
}

static void dump_entry(const struct call *k, unsigned i, const struct setup *s,
                       const struct fdstate *fs)
{
    const struct ent *e = &k->e[i];
    const struct mmsghdr *m = &k->mm[i];
    const struct msghdr *h = &m->msg_hdr, *oh = &e->orig.msg_hdr;
    bool ptrs = h->msg_name == oh->msg_name && h->msg_iov == oh->msg_iov &&
                h->msg_iovlen == oh->msg_iovlen && h->msg_control == oh->msg_control;

    put(" e%u[nl=%08x fl=%08x cl=%llx len=%08x%s", i, (unsigned)h->msg_namelen,
        (unsigned)h->msg_flags, (unsigned long long)h->msg_controllen, m->msg_len,
        ptrs ? "" : " PTRS-CHANGED");
    if (e->name)
        dump_name(e, s);
    if (e->iov_dump)
        for (size_t j = 0; j < e->n_iov; j++) {
            if (e->n_iov > 8 && j >= 2) {
                /* 1024 one-byte iovecs: one hash over all of them */
                uint64_t hsh = 0;

                for (size_t q = j; q < e->n_iov; q++)
                    hsh = hsh * 31 + fnv(e->iov[q].iov_base, e->iov[q].iov_len + 8);
                put(" iov%zu..=H%016" PRIx64, j, hsh);
                break;
            }
            put(" iov%zu=", j);
            hex(e->iov[j].iov_base, e->iov[j].iov_len + 8);
        }
    if (e->ctl)
        dump_control(e, h->msg_controllen, s, fs);
    put("]");
}

static void dump_timeout(const struct call *k)
{
    unsigned char now[16];
    int64_t osec, onsec, sec, nsec;

    if (!k->tmo) {
        put(" tmo=null");
        return;
    }
    if (!k->tmo_readable) {
        put(" tmo=unreadable");
        return;
    }
    memcpy(now, k->tmo, k->tmo_size);
    if (!memcmp(now, k->tmo_orig, k->tmo_size)) {
        put(" tmo=unchanged");
        return;
    }
    if (k->tmo_size == 8) {
        int32_t a[2], b[2];

        memcpy(a, now, 8);
        memcpy(b, k->tmo_orig, 8);
        sec = a[0], nsec = a[1], osec = b[0], onsec = b[1];
    } else {
        int64_t a[2], b[2];

        memcpy(a, now, 16);
        memcpy(b, k->tmo_orig, 16);
        sec = a[0], nsec = a[1], osec = b[0], onsec = (int64_t)(uint32_t)b[1];
    }
    if (sec == 0 && nsec == 0)
        put(" tmo=0");
    else if (sec >= 0 && nsec >= 0 && nsec < 1000000000 &&
             (sec < osec || (sec == osec && nsec < onsec)))
        put(" tmo=<orig");
    else
        put(" tmo=other:%" PRId64 ",%" PRId64, sec, nsec);
}

static void after(const struct dc *c, const struct setup *s, const struct fdstate *fs)
{
    struct pollfd p = {.fd = s->rfd, .events = POLLIN | POLLERR};
    int soerr = 0, left = 0, leaks = 0;
    socklen_t sl = sizeof(soerr);
    static char buf[70000];
    ssize_t n;

    if (c->sk == SK_PIPE || c->sk == SK_BADFD || c->sk == SK_BADFD_NEG)
        goto leakscan;
    (void)poll(&p, 1, 0); /* revents only; never blocks */
    put(" poll=%x", (unsigned)p.revents);
    if (getsockopt(s->rfd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        die("SO_ERROR");
    put(" soerr=%s", soerr ? ename(soerr) : "0");
    n = recv(s->rfd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
        put(" next=%s", ename(errno));
    } else {
        put(" next=%zd:", n);
        hex(buf, (size_t)n < 16 ? (size_t)n : 16);
        left = 1;
        while (recv(s->rfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0 && left < 5000)
            left++;
    }
    put(" left=%d", left);
leakscan:
    for (int fd = 0; fd < MAX_FDS_SCAN; fd++)
        if (!fs->open_before[fd] && fd_open(fd)) {
            leaks++;
            close(fd);
        }
    put(" newfds=%d", leaks);
}

static int n_cases;

static void run_case(const struct dc *c, int route)
{
    struct setup s;
    struct call k;
    struct fdstate fs;
    long r;
    int err = 0;
    unsigned untouched = 0;

    alarm(CASE_ALARM_S);
    setup_sockets(c, &s);
    build(c, route, &k);
    memset(&fs, 0, sizeof(fs));
    fs.base = -1;
    for (int fd = 0; fd < MAX_FDS_SCAN; fd++) {
        fs.open_before[fd] = fd_open(fd);
        if (!fs.open_before[fd] && fs.base < 0)
            fs.base = fd;
    }
    apply_protects();
    errno = 0;
    r = do_call(route, s.rfd, &k, c->vlen, c->flags);
    err = errno;
    o.len = 0;
    put("case %s route=%s ret=%ld errno=%s", c->name, route_names[route], r,
        r < 0 ? ename(err) : "-");
    for (unsigned i = 0; i < k.n_ent; i++) {
        if (!k.e[i].accessible)
            continue;
        if (ent_hash(&k, i) == k.e[i].hash_before) {
            untouched++;
            continue;
        }
        dump_entry(&k, i, &s, &fs);
    }
    put(" untouched=%u/%u", untouched, k.n_ent);
    dump_timeout(&k);
    after(c, &s, &fs);
    puts(o.s);
    fflush(stdout);
    for (unsigned i = 0; i < k.n_ent; i++)
        free(k.e[i].iov);
    free(k.e);
    teardown(&s, c);
    unmap_all();
    alarm(0);
}

/* Each case in a child of its own, so a call that never returns (a difference in itself) is
 * reported as one line and the rest of the matrix still runs. */
static void run_isolated(const struct dc *c, int route)
{
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        run_case(c, route);
        fflush(stdout);
        _exit(0);
    }
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid");
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        printf("case %s route=%s HUNG (no return within %ds)\n", c->name, route_names[route],
               CASE_ALARM_S);
    else if (WIFSIGNALED(status))
        printf("case %s route=%s KILLED by %s\n", c->name, route_names[route],
               sigabbrev_np(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        printf("case %s route=%s FAILED exit %d\n", c->name, route_names[route],
               WEXITSTATUS(status));
}

/* ---- the matrix ---- */

#define MAX_CASES 512
static struct dc table[MAX_CASES];

static struct dc *add(const char *name, struct dc d)
{
    if (n_cases == MAX_CASES)
        abort();
    d.only_route = d.only_route ? d.only_route : -1;
    snprintf(d.name, sizeof(d.name), "%s", name);
    table[n_cases] = d;
    return &table[n_cases++];
}

#define DW MSG_DONTWAIT

static void add_basic(void)
{
    add("udp4-one", (struct dc){.sk = SK_UDP4, .n_dgram = 1, .vlen = 1});
    add("udp4-many", (struct dc){.sk = SK_UDP4, .n_dgram = 5, .vlen = 5});
    add("udp4-vlen0", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 0});
    add("udp4-vlen0-empty", (struct dc){.sk = SK_UDP4, .vlen = 0});
    add("udp4-vlen-lt-queued", (struct dc){.sk = SK_UDP4, .n_dgram = 5, .vlen = 2});
    add("udp4-vlen-gt-queued-dontwait",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 8, .flags = DW});
    add("udp4-vlen1100-dontwait",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 1100, .flags = DW});
    add("udp4-vlen1100-waitforone",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 1100, .flags = MSG_WAITFORONE});
    add("udp4-waitforone",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 8, .flags = MSG_WAITFORONE});
    add("udp4-nonblock", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 8, .nonblock = true});
    add("udp4-nonblock-empty", (struct dc){.sk = SK_UDP4, .vlen = 4, .nonblock = true});
    add("udp4-dontwait-empty", (struct dc){.sk = SK_UDP4, .vlen = 4, .flags = DW});
    add("udp4-waitforone-empty-nonblock",
        (struct dc){.sk = SK_UDP4, .vlen = 4, .flags = MSG_WAITFORONE, .nonblock = true});
    add("udp4-rcvtimeo-empty", (struct dc){.sk = SK_UDP4, .vlen = 4, .rcvtimeo_ms = 100});
    add("udp4-rcvtimeo-some",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 4, .rcvtimeo_ms = 100});
    add("udp4-rcvtimeo-enough",
        (struct dc){.sk = SK_UDP4, .n_dgram = 4, .vlen = 4, .rcvtimeo_ms = 100});
    add("udp4-peek", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .flags = MSG_PEEK});
    add("udp4-peek-dontwait-vlen5",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 5, .flags = MSG_PEEK | DW});
    add("udp4-trunc-short",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .dgram_len = 100, .vlen = 2, .iov_len = 10});
    add("udp4-truncflag-short", (struct dc){.sk = SK_UDP4,
                                            .n_dgram = 2,
                                            .dgram_len = 100,
                                            .vlen = 2,
                                            .iov_len = 10,
                                            .flags = MSG_TRUNC});
    add("udp4-truncflag-ample",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_TRUNC});
    add("udp4-truncflag-peek", (struct dc){.sk = SK_UDP4,
                                           .n_dgram = 1,
                                           .dgram_len = 100,
                                           .vlen = 1,
                                           .iov_len = 10,
                                           .flags = MSG_TRUNC | MSG_PEEK});
    add("udp4-zero-len-dgram",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .first_len = -1, .vlen = 2, .flags = DW});
    add("udp4-iov0", (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .iovm = IOV_NONE});
    add("udp4-iov0-truncflag",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .iovm = IOV_NONE, .flags = MSG_TRUNC});
    add("udp4-iov-many",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .dgram_len = 120, .vlen = 2, .iovm = IOV_MANY});
    add("udp4-iov-many-short",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .dgram_len = 10, .vlen = 2, .iovm = IOV_MANY});
    add("udp4-iov1024", (struct dc){.sk = SK_UDP4, .n_dgram = 1, .vlen = 1, .iovm = IOV_1024});
    add("udp4-iov1025", (struct dc){.sk = SK_UDP4, .n_dgram = 1, .vlen = 1, .iovm = IOV_1025});
    add("udp4-big-dgram",
        (struct dc){.sk = SK_UDP4, .n_dgram = 1, .dgram_len = 60000, .vlen = 1, .iov_len = 65536});
    add("udp4-big-dgram-short",
        (struct dc){.sk = SK_UDP4, .n_dgram = 1, .dgram_len = 60000, .vlen = 1, .iov_len = 1000});
    add("udp4-flag-waitall",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_WAITALL});
    add("udp4-flag-oob",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_OOB | DW});
    add("udp4-flag-errqueue-empty",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_ERRQUEUE});
    add("udp4-flag-cmsg-compat",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_CMSG_COMPAT_ | DW});
    add("udp4-flag-cloexec-nocmsg",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_CMSG_CLOEXEC});
    add("udp4-flag-nosignal",
        (struct dc){.sk = SK_UDP4, .n_dgram = 2, .vlen = 2, .flags = MSG_NOSIGNAL | DW});

    static const struct {
        const char *n;
        enum nl nl;
    } nls[] = {{"full", NL_FULL}, {"0", NL_ZERO},  {"3", NL_SHORT},   {"exact", NL_EXACT},
               {"200", NL_LARGE}, {"neg", NL_NEG}, {"null", NL_NULL}, {"null-neg", NL_NULL_NEG}};
    static const struct {
        const char *n;
        enum sk sk;
    } sks[] = {{"udp4", SK_UDP4}, {"udp6", SK_UDP6}, {"unix", SK_UNIX_DGRAM}, {"seq", SK_UNIX_SEQ}};
    for (size_t a = 0; a < sizeof(sks) / sizeof(sks[0]); a++)
        for (size_t b = 0; b < sizeof(nls) / sizeof(nls[0]); b++) {
            char nm[64];

            snprintf(nm, sizeof(nm), "%s-namelen-%s", sks[a].n, nls[b].n);
            add(nm, (struct dc){.sk = sks[a].sk, .n_dgram = 2, .vlen = 2, .nl = nls[b].nl});
        }

    add("udp6-one", (struct dc){.sk = SK_UDP6, .n_dgram = 1, .vlen = 1});
    add("udp6-many-dontwait", (struct dc){.sk = SK_UDP6, .n_dgram = 4, .vlen = 6, .flags = DW});
    add("udp6-trunc-short",
        (struct dc){.sk = SK_UDP6, .n_dgram = 2, .dgram_len = 100, .vlen = 2, .iov_len = 10});
    add("udp6-truncflag-short", (struct dc){.sk = SK_UDP6,
                                            .n_dgram = 2,
                                            .dgram_len = 100,
                                            .vlen = 2,
                                            .iov_len = 10,
                                            .flags = MSG_TRUNC});
    add("unix-one", (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 1, .vlen = 1});
    add("unix-many-dontwait",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 4, .vlen = 6, .flags = DW});
    add("unix-trunc-short",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .dgram_len = 100, .vlen = 2, .iov_len = 10});
    add("unix-truncflag-short", (struct dc){.sk = SK_UNIX_DGRAM,
                                            .n_dgram = 2,
                                            .dgram_len = 100,
                                            .vlen = 2,
                                            .iov_len = 10,
                                            .flags = MSG_TRUNC});
    add("unix-peek",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 3, .flags = MSG_PEEK | DW});
    add("unix-oob", (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .flags = MSG_OOB});
    add("unix-iov0", (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .iovm = IOV_NONE});
    add("unix-iov-many",
        (struct dc){
            .sk = SK_UNIX_DGRAM, .n_dgram = 2, .dgram_len = 120, .vlen = 2, .iovm = IOV_MANY});
    add("unix-rcvtimeo-some",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 3, .rcvtimeo_ms = 100});
    add("unix-nonblock-empty", (struct dc){.sk = SK_UNIX_DGRAM, .vlen = 3, .nonblock = true});
    add("seq-one", (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 1, .vlen = 1});
    add("seq-many-dontwait", (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 4, .vlen = 6, .flags = DW});
    add("seq-trunc-short",
        (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 2, .dgram_len = 100, .vlen = 2, .iov_len = 10});
    add("seq-truncflag-short", (struct dc){.sk = SK_UNIX_SEQ,
                                           .n_dgram = 2,
                                           .dgram_len = 100,
                                           .vlen = 2,
                                           .iov_len = 10,
                                           .flags = MSG_TRUNC});
    add("seq-peek",
        (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 2, .vlen = 3, .flags = MSG_PEEK | DW});
    add("seq-waitforone",
        (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 2, .vlen = 5, .flags = MSG_WAITFORONE});
    add("seq-iov0", (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 2, .vlen = 2, .iovm = IOV_NONE});
}

static void add_timeouts(void)
{
    add("tmo-zero", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL});
    add("tmo-valid", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tsec = 5});
    add("tmo-1ns", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tnsec = 1});
    add("tmo-neg-sec",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tsec = -1});
    add("tmo-nsec-1e9",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tnsec = 1000000000});
    add("tmo-nsec-neg",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tnsec = -1});
    add("tmo-nsec-hi",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_NSEC_HI, .tsec = 5});
    add("tmo-big-sec",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tsec = 0x100000005ll});
    add("tmo-unreadable", (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_UNREADABLE});
    add("tmo-readonly",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_READONLY, .tsec = 5});
    add("tmo-readonly-empty",
        (struct dc){.sk = SK_UDP4, .vlen = 3, .flags = DW, .tmo = T_READONLY, .tsec = 5});
    add("tmo-valid-vlen0",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 0, .tmo = T_VAL, .tsec = 5});
    add("tmo-valid-entry0-error",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 3, .tmo = T_VAL, .tsec = 5, .nl = NL_NEG});
    add("tmo-valid-waitforone", (struct dc){.sk = SK_UDP4,
                                            .n_dgram = 3,
                                            .vlen = 8,
                                            .flags = MSG_WAITFORONE,
                                            .tmo = T_VAL,
                                            .tsec = 5});
    add("tmo-valid-rcvtimeo-some",
        (struct dc){
            .sk = SK_UDP4, .n_dgram = 2, .vlen = 4, .rcvtimeo_ms = 100, .tmo = T_VAL, .tsec = 5});
    add("tmo-valid-dontwait-empty",
        (struct dc){.sk = SK_UDP4, .vlen = 3, .flags = DW, .tmo = T_VAL, .tsec = 5});
    add("tmo-unreadable-badfd", (struct dc){.sk = SK_BADFD, .vlen = 3, .tmo = T_UNREADABLE});
    add("tmo-inval-badfd", (struct dc){.sk = SK_BADFD, .vlen = 3, .tmo = T_VAL, .tsec = -5});
    add("tmo-inval-notsock", (struct dc){.sk = SK_PIPE, .vlen = 3, .tmo = T_VAL, .tnsec = -1});
    add("tmo-inval-pending-error",
        (struct dc){.sk = SK_REFUSED, .vlen = 1, .tmo = T_VAL, .tnsec = 1000000000});
    add("tmo-valid-pending-error",
        (struct dc){.sk = SK_REFUSED, .vlen = 1, .tmo = T_VAL, .tsec = 5});
    add("tmo-valid-partial-error", (struct dc){.sk = SK_UDP4,
                                               .n_dgram = 3,
                                               .vlen = 3,
                                               .tmo = T_VAL,
                                               .tsec = 5,
                                               .fault = F_NAMELEN_NEG,
                                               .fault_at = 1});
}

static void add_errors(void)
{
    add("badfd", (struct dc){.sk = SK_BADFD, .vlen = 1});
    add("badfd-neg", (struct dc){.sk = SK_BADFD_NEG, .vlen = 1});
    add("badfd-vlen0", (struct dc){.sk = SK_BADFD, .vlen = 0});
    add("notsock", (struct dc){.sk = SK_PIPE, .vlen = 1});
    add("notsock-vlen0", (struct dc){.sk = SK_PIPE, .vlen = 0});
    /* The fd is looked up before entry 0 is read: ENOTSOCK, not EFAULT, with or without the
     * error queue; and a pending error comes before entry 0's EFAULT, except with it. */
    add("notsock-hdr-noread", (struct dc){.sk = SK_PIPE, .vlen = 1, .fault = F_HDR_NOREAD});
    add("notsock-errqueue-hdr-noread",
        (struct dc){.sk = SK_PIPE, .vlen = 1, .flags = MSG_ERRQUEUE | DW, .fault = F_HDR_NOREAD});
    add("refused-errqueue-hdr-noread",
        (struct dc){
            .sk = SK_REFUSED, .vlen = 2, .flags = MSG_ERRQUEUE | DW, .fault = F_HDR_NOREAD});
    add("refused-vlen1", (struct dc){.sk = SK_REFUSED, .vlen = 1});
    add("refused-vlen0", (struct dc){.sk = SK_REFUSED, .vlen = 0});
    add("refused-dontwait-vlen4", (struct dc){.sk = SK_REFUSED, .vlen = 4, .flags = DW});
    add("refused-errqueue-norecverr",
        (struct dc){.sk = SK_REFUSED, .vlen = 2, .flags = MSG_ERRQUEUE | DW});
    /* vlen 0 with MSG_ERRQUEUE: EBADF before Linux 6.13, 0 after; the pending error stays. */
    add("refused-errqueue-vlen0",
        (struct dc){.sk = SK_REFUSED, .vlen = 0, .flags = MSG_ERRQUEUE | DW});
    add("refused-errqueue-recverr", (struct dc){.sk = SK_REFUSED,
                                                .vlen = 2,
                                                .flags = MSG_ERRQUEUE | DW,
                                                .opts = O_RECVERR,
                                                .ctl = CTL_AMPLE_});
    add("refused-errqueue-recverr-ctlhdr", (struct dc){.sk = SK_REFUSED,
                                                       .vlen = 2,
                                                       .flags = MSG_ERRQUEUE | DW,
                                                       .opts = O_RECVERR,
                                                       .ctl = CTL_HDR});
    add("refused-errqueue-recverr-ctlnull",
        (struct dc){.sk = SK_REFUSED, .vlen = 2, .flags = MSG_ERRQUEUE | DW, .opts = O_RECVERR});
    add("refused-recverr-normal",
        (struct dc){.sk = SK_REFUSED, .vlen = 2, .flags = DW, .opts = O_RECVERR});
    add("refused-iov-neglen", (struct dc){.sk = SK_REFUSED, .vlen = 1, .fault = F_IOV_NEGLEN});
    /* Datagram 7's first bytes (payload_of(): 78 7b 7e 81) land on entry 7's own msg_namelen:
     * negative, so move_addr_to_user() fails with EINVAL after the datagram was taken; the
     * call returns 7 and leaves EINVAL pending (docs/recvmmsg-compat.md rule 14). Datagram 1's
     * (12 15 18 1b) is a length over 128: clamped. */
    add("iov-on-namelen-negative@7", (struct dc){.sk = SK_UDP4,
                                                 .n_dgram = 8,
                                                 .vlen = 8,
                                                 .flags = DW,
                                                 .fault = F_IOV_ON_NAMELEN,
                                                 .fault_at = 7});
    /* Datagram 0's first 8 bytes land on entry 1's header through a second mapping of the same
     * memory: the kernel reads entry 1 as datagram 0 left it (a name pointer made of payload
     * bytes: EFAULT after datagram 1 was taken, returns 1 and leaves EFAULT pending). */
    add("hdr-alias@0", (struct dc){.sk = SK_UDP4,
                                   .n_dgram = 3,
                                   .vlen = 3,
                                   .flags = DW,
                                   .fault = F_HDR_ALIAS,
                                   .fault_at = 0});
    add("iov-on-namelen-large@1", (struct dc){.sk = SK_UDP4,
                                              .n_dgram = 3,
                                              .vlen = 3,
                                              .flags = DW,
                                              .fault = F_IOV_ON_NAMELEN,
                                              .fault_at = 1});
    add("refused-hdr-noread", (struct dc){.sk = SK_REFUSED, .vlen = 1, .fault = F_HDR_NOREAD});
    add("unix-flag-cmsg-compat", (struct dc){.sk = SK_UNIX_DGRAM,
                                             .n_dgram = 2,
                                             .vlen = 2,
                                             .flags = MSG_CMSG_COMPAT_ | MSG_DONTWAIT});

    static const struct {
        const char *n;
        enum fault f;
    } fs[] = {{"hdr-noread", F_HDR_NOREAD},   {"hdr-ro", F_HDR_RO},
              {"iov-noread", F_IOV_NOREAD},   {"iov-partial", F_IOV_PARTIAL},
              {"payload-ro", F_PAYLOAD_RO},   {"payload-none", F_PAYLOAD_NONE},
              {"name-ro", F_NAME_RO},         {"name-none", F_NAME_NONE},
              {"ctl-ro", F_CTL_RO},           {"ctl-none", F_CTL_NONE},
              {"iovlen-big", F_IOVLEN_BIG},   {"iov-neglen", F_IOV_NEGLEN},
              {"namelen-neg", F_NAMELEN_NEG}, {"second-iov-none", F_SECOND_IOV_NONE},
              {"len-ro", F_LEN_RO},           {"flags-ro", F_FLAGS_RO}};
    for (size_t a = 0; a < sizeof(fs) / sizeof(fs[0]); a++)
        for (unsigned at = 0; at < 3; at++) {
            char nm[64];

            snprintf(nm, sizeof(nm), "fault-udp4-%s@%u", fs[a].n, at);
            add(nm, (struct dc){.sk = SK_UDP4,
                                .n_dgram = 3,
                                .vlen = 3,
                                .flags = DW,
                                .fault = fs[a].f,
                                .fault_at = at,
                                .opts = O_TTL,
                                .ctl = CTL_AMPLE_});
        }
    /* the same on AF_UNIX with fds in flight */
    static const enum fault uf[] = {F_HDR_RO, F_PAYLOAD_RO, F_NAME_RO,
                                    F_CTL_RO, F_CTL_NONE,   F_HDR_NOREAD};
    static const char *const ufn[] = {"hdr-ro", "payload-ro", "name-ro",
                                      "ctl-ro", "ctl-none",   "hdr-noread"};
    for (size_t a = 0; a < sizeof(uf) / sizeof(uf[0]); a++)
        for (unsigned at = 0; at < 2; at++) {
            char nm[64];

            snprintf(nm, sizeof(nm), "fault-unix-fds-%s@%u", ufn[a], at);
            add(nm, (struct dc){.sk = SK_UNIX_DGRAM,
                                .n_dgram = 2,
                                .vlen = 2,
                                .flags = DW,
                                .fault = uf[a],
                                .fault_at = at,
                                .n_fds = 1,
                                .ctl = CTL_AMPLE_});
        }
    /* SCM_PIDFD where the control buffer faults: scm_pidfd_recv() installs the fd only once
     * put_cmsg() has written the message; the caller's fd table must not change. */
    for (unsigned at = 0; at < 2; at++) {
        char nm[64];

        snprintf(nm, sizeof(nm), "fault-unix-pidfd-ctl-ro@%u", at);
        add(nm, (struct dc){.sk = SK_UNIX_DGRAM,
                            .n_dgram = 2,
                            .vlen = 2,
                            .flags = DW,
                            .fault = F_CTL_RO,
                            .fault_at = at,
                            .opts = O_PASSPIDFD,
                            .ctl = CTL_AMPLE_});
    }
    add("cmsg-pidfd-ample-cloexec", (struct dc){.sk = SK_UNIX_DGRAM,
                                                .n_dgram = 2,
                                                .vlen = 2,
                                                .flags = DW | MSG_CMSG_CLOEXEC,
                                                .opts = O_PASSPIDFD,
                                                .ctl = CTL_AMPLE_});
    add("fault-hdr-noread@0-vlen0",
        (struct dc){.sk = SK_UDP4, .n_dgram = 3, .vlen = 0, .fault = F_HDR_NOREAD});
    add("fault-hdr-noread@1-eagain-first", (struct dc){.sk = SK_UDP4,
                                                       .n_dgram = 1,
                                                       .vlen = 3,
                                                       .flags = DW,
                                                       .fault = F_HDR_NOREAD,
                                                       .fault_at = 2});
    add("fault-waitforone-hdr-noread@1", (struct dc){.sk = SK_UDP4,
                                                     .n_dgram = 3,
                                                     .vlen = 3,
                                                     .flags = MSG_WAITFORONE,
                                                     .fault = F_HDR_NOREAD,
                                                     .fault_at = 1});
    add("fault-payload-ro@1-peek", (struct dc){.sk = SK_UDP4,
                                               .n_dgram = 3,
                                               .vlen = 3,
                                               .flags = MSG_PEEK | DW,
                                               .fault = F_PAYLOAD_RO,
                                               .fault_at = 1});
}

static void add_cmsgs(void)
{
    static const struct {
        const char *n;
        enum sk sk;
        unsigned opts;
    } ty[] = {
        {"ts", SK_UDP4, O_TS},
        {"tsns", SK_UDP4, O_TSNS},
        {"tsing", SK_UDP4, O_TSING},
        {"ts-new", SK_UDP4, O_TS_NEW},
        {"tsns-new", SK_UDP4, O_TSNS_NEW},
        {"pktinfo", SK_UDP4, O_PKTINFO},
        {"ttl", SK_UDP4, O_TTL},
        {"tos", SK_UDP4, O_TOS},
        {"pktinfo6", SK_UDP6, O_PKTINFO6},
        {"hoplimit6", SK_UDP6, O_HOPLIMIT6},
        {"tclass6", SK_UDP6, O_TCLASS6},
        {"creds", SK_UNIX_DGRAM, O_PASSCRED},
        {"pidfd", SK_UNIX_DGRAM, O_PASSPIDFD},
        {"combo4", SK_UDP4, O_TS | O_PKTINFO | O_TTL | O_TOS},
        {"combo6", SK_UDP6, O_TSNS | O_PKTINFO6 | O_HOPLIMIT6 | O_TCLASS6},
        {"ts-unix", SK_UNIX_DGRAM, O_TS},
        {"tsing-ts", SK_UDP4, O_TSING | O_TS},
    };
    static const enum ctlm modes[] = {CTL_AMPLE_, CTL_EXACT, CTL_LEN,  CTL_SHORT,
                                      CTL_HDR,    CTL_SMALL, CTL_ZERO, CTL_NULLLEN};

    for (size_t a = 0; a < sizeof(ty) / sizeof(ty[0]); a++)
        for (size_t b = 0; b < sizeof(modes) / sizeof(modes[0]); b++) {
            char nm[64];

            snprintf(nm, sizeof(nm), "cmsg-%s-%s", ty[a].n, ctl_names[modes[b]]);
            add(nm, (struct dc){.sk = ty[a].sk,
                                .n_dgram = 2,
                                .vlen = 2,
                                .flags = DW,
                                .opts = ty[a].opts,
                                .ctl = modes[b]});
        }
    /* SCM_RIGHTS */
    add("rights-1-ample",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 1, .ctl = CTL_AMPLE_});
    add("rights-1-exact",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 1, .ctl = CTL_EXACT});
    add("rights-1-short",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 1, .ctl = CTL_SHORT});
    add("rights-3-ample",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_AMPLE_});
    add("rights-3-exact",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_EXACT});
    add("rights-3-room2",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_FDROOM2});
    add("rights-3-short",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_SHORT});
    add("rights-3-hdr",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_HDR});
    add("rights-3-small",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_SMALL});
    add("rights-3-null",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_NULL});
    add("rights-3-zero",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_ZERO});
    add("rights-3-nulllen",
        (struct dc){.sk = SK_UNIX_DGRAM, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_NULLLEN});
    add("rights-1-cloexec", (struct dc){.sk = SK_UNIX_DGRAM,
                                        .n_dgram = 2,
                                        .vlen = 2,
                                        .n_fds = 1,
                                        .ctl = CTL_AMPLE_,
                                        .flags = MSG_CMSG_CLOEXEC});
    add("rights-3-room2-cloexec", (struct dc){.sk = SK_UNIX_DGRAM,
                                              .n_dgram = 2,
                                              .vlen = 2,
                                              .n_fds = 3,
                                              .ctl = CTL_FDROOM2,
                                              .flags = MSG_CMSG_CLOEXEC});
    add("rights-2-creds-ample", (struct dc){.sk = SK_UNIX_DGRAM,
                                            .n_dgram = 2,
                                            .vlen = 2,
                                            .n_fds = 2,
                                            .opts = O_PASSCRED,
                                            .ctl = CTL_AMPLE_});
    add("rights-2-creds-short", (struct dc){.sk = SK_UNIX_DGRAM,
                                            .n_dgram = 2,
                                            .vlen = 2,
                                            .n_fds = 2,
                                            .opts = O_PASSCRED,
                                            .ctl = CTL_SHORT});
    add("rights-2-creds-len", (struct dc){.sk = SK_UNIX_DGRAM,
                                          .n_dgram = 2,
                                          .vlen = 2,
                                          .n_fds = 2,
                                          .opts = O_PASSCRED,
                                          .ctl = CTL_LEN});
    add("rights-2-creds-null", (struct dc){.sk = SK_UNIX_DGRAM,
                                           .n_dgram = 2,
                                           .vlen = 2,
                                           .n_fds = 2,
                                           .opts = O_PASSCRED,
                                           .ctl = CTL_NULL});
    add("rights-2-creds-hdr", (struct dc){.sk = SK_UNIX_DGRAM,
                                          .n_dgram = 2,
                                          .vlen = 2,
                                          .n_fds = 2,
                                          .opts = O_PASSCRED,
                                          .ctl = CTL_HDR});
    add("rights-1-peek", (struct dc){.sk = SK_UNIX_DGRAM,
                                     .n_dgram = 2,
                                     .vlen = 2,
                                     .n_fds = 1,
                                     .ctl = CTL_AMPLE_,
                                     .flags = MSG_PEEK | DW});
    add("rights-1-seq",
        (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 2, .vlen = 2, .n_fds = 1, .ctl = CTL_AMPLE_});
    add("rights-3-seq-room2",
        (struct dc){.sk = SK_UNIX_SEQ, .n_dgram = 2, .vlen = 2, .n_fds = 3, .ctl = CTL_FDROOM2});
    add("rights-1-trunc-payload", (struct dc){.sk = SK_UNIX_DGRAM,
                                              .n_dgram = 2,
                                              .dgram_len = 100,
                                              .vlen = 2,
                                              .iov_len = 10,
                                              .n_fds = 1,
                                              .ctl = CTL_AMPLE_});
    add("rights-1-many-vlen-dontwait", (struct dc){.sk = SK_UNIX_DGRAM,
                                                   .n_dgram = 2,
                                                   .vlen = 4,
                                                   .n_fds = 1,
                                                   .ctl = CTL_AMPLE_,
                                                   .flags = DW});
}

/* Timestamping delivers a software stamp only once the kernel's timestamp static key is on; it is
 * switched on from a workqueue. Hold it on for the whole run and wait until it is. */
static int hold_timestamps(void)
{
    uint16_t pr, ps;
    int r = udp_bound(AF_INET, &pr), s = udp_bound(AF_INET, &ps);
    struct sockaddr_in to = {0};
    socklen_t tl = sizeof(to);

    setint(r, SOL_SOCKET, SO_TIMESTAMPING_OLD_,
           SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE);
    setint(r, SOL_SOCKET, SO_TIMESTAMP_OLD_, 1);
    if (getsockname(r, (struct sockaddr *)&to, &tl) < 0)
        die("getsockname");
    for (int tries = 0; tries < 200; tries++) {
        char data[8], cbuf[256];
        struct iovec iov = {data, sizeof(data)};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        bool got = false;

        if (sendto(s, "x", 1, 0, (struct sockaddr *)&to, tl) != 1)
            die("sendto");
        if (recvmsg(r, &m, 0) < 0)
            die("recvmsg");
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPING_OLD_)
                got = true;
        if (got)
            break;
        usleep(10000);
    }
    close(s);
    return r; /* kept open: the key stays on */
}

int main(int argc, char **argv)
{
    int only_route = -1, opt, total = 0;
    const char *only_case = NULL;
    bool list = false;

    while ((opt = getopt(argc, argv, "r:c:l")) != -1) {
        switch (opt) {
        case 'r':
            for (int r = 0; r < R_MAX_; r++)
                if (!strcmp(optarg, route_names[r]))
                    only_route = r;
            if (only_route < 0) {
                fprintf(stderr, "diffcases: unknown route %s\n", optarg);
                return 2;
            }
            break;
        case 'c':
            only_case = optarg;
            break;
        case 'l':
            list = true;
            break;
        default:
            fprintf(stderr, "usage: %s [-r ROUTE] [-c SUBSTRING] [-l]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    o.cap = 1 << 16;
    o.s = malloc(o.cap);
    if (!o.s)
        die("malloc");
    add_basic();
    add_timeouts();
    add_errors();
    add_cmsgs();
    if (list) {
        for (int i = 0; i < n_cases; i++)
            printf("%s\n", table[i].name);
        return 0;
    }
    (void)hold_timestamps();
    /* Cases send two datagrams and compare their order (tests/pin-cpu.h); every case child
     * inherits the mask. */
    if (pin_to_this_cpu(NULL) < 0)
        die("sched_setaffinity");
    for (int i = 0; i < n_cases; i++) {
        if (only_case && !strstr(table[i].name, only_case))
            continue;
        for (int r = 0; r < R_MAX_; r++) {
            if (only_route >= 0 && r != only_route)
                continue;
            run_isolated(&table[i], r);
            total++;
        }
    }
    printf("cases %d\n", total);
    return 0;
}
