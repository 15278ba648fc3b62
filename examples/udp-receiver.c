/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udp-receiver: a small UDP service that reads datagrams in batches with glibc's recvmmsg(), the
 * demo target for mmsgate. Self-contained: it sends its own datagrams over loopback, makes the
 * three kinds of call the default policy treats differently, prints one line per call, exits. */

/*
 * What it does, in order:
 *   1. bind a UDP socket to 127.0.0.1 (ephemeral port unless --port);
 *   2. fork a sender that, on request, sends bursts of numbered datagrams ("dgram 1", ...);
 *   (a) per burst: recvmmsg(MSG_WAITFORONE, finite timeout) until the burst is drained;
 *   (b) one recvmmsg(MSG_ERRQUEUE) to drain ICMP errors, as services using IP_RECVERR do;
 *   (c) one recvmmsg() with a NULL timeout on the now quiet socket;
 *   then a summary. Exit 0 when every datagram arrived intact and in order, 1 otherwise, 2 on
 *   a usage error.
 *
 * On i386, glibc 2.36's recvmmsg() converts the timeout to a 64-bit timespec and calls
 * recvmmsg_time64 (417); only if that fails with ENOSYS does it retry recvmmsg_time32 (337).
 * The x86_64 build (udp-receiver64) calls recvmmsg (299).
 *
 * Step (c) would block forever on a quiet socket when run natively: the recvmmsg timeout is
 * only checked after a datagram arrives, and a NULL timeout has none at all. So the socket gets
 * SO_RCVTIMEO = --wait-ms (default 3000 ms), which makes a blocking receive fail with EAGAIN
 * when it expires. Under mmsgate's default policy the broker's 1000 ms cap fires first.
 * SO_RCVTIMEO also bounds step (a), so a lost datagram cannot hang the demo.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VLEN 8         /* entries per recvmmsg() batch */
#define BURST 4        /* datagrams the sender sends per burst */
#define PAYLOAD_MAX 64 /* bytes per receive buffer; our payloads are shorter */
#define BATCH_TIMEOUT_MS 500
#define COUNT_DEFAULT 10
#define COUNT_MAX 1000
#define WAIT_MS_DEFAULT 3000
#define WAIT_MS_MAX 3600000

struct options {
    unsigned count;   /* datagrams to send and receive */
    uint16_t port;    /* 0: ephemeral */
    unsigned wait_ms; /* SO_RCVTIMEO */
    bool quiet;       /* only the summary */
};

/* What came back from the calls, for the summary. */
struct results {
    unsigned n_received;
    unsigned n_batches;
    unsigned n_bad;     /* wrong, truncated or out-of-order payloads */
    int errqueue_errno; /* 0: the call succeeded */
    int errqueue_ret;
    int quiet_errno;
    int quiet_ret;
    long quiet_ms;
};

static const char *errno_name(int e)
{
    /* strerrorname_np() (glibc >= 2.32) gives "EAGAIN" rather than a sentence, which is what
     * the audit log shows too, so the two can be compared side by side. */
    const char *name = strerrorname_np(e);
    return name ? name : "E?";
}

static int64_t now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer; a realtime clock could jump. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long elapsed_ms(int64_t start_ns)
{
    return (long)((now_ns() - start_ns) / 1000000);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [--count N] [--port PORT] [--wait-ms MS] [--quiet]\n"
            "A UDP service on 127.0.0.1 that receives its own datagrams with recvmmsg().\n"
            "  --count N     datagrams to send and receive, in bursts of %d (default %d)\n"
            "  --port PORT   bind this port instead of an ephemeral one\n"
            "  --wait-ms MS  SO_RCVTIMEO on the socket (default %d), so the NULL-timeout wait\n"
            "                ends natively too; under mmsgate the 1000 ms cap fires first\n"
            "  --quiet       print only the summary\n",
            prog, BURST, COUNT_DEFAULT, WAIT_MS_DEFAULT);
}

/* Parse a decimal number in [min, max]. Return: 0, or -EINVAL. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
    char *end = NULL;
    unsigned long v;

    if (s[0] < '0' || s[0] > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* Return: 0 to run, 1 for --help, -EINVAL for a usage error (already reported). */
static int parse_args(int argc, char **argv, struct options *ret_opts)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},   {"port", required_argument, NULL, 'p'},
        {"wait-ms", required_argument, NULL, 'w'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    struct options o = {.count = COUNT_DEFAULT, .port = 0, .wait_ms = WAIT_MS_DEFAULT};
    unsigned long v = 0;
    int c;

    while ((c = getopt_long(argc, argv, "c:p:w:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_uint(optarg, 1, COUNT_MAX, &v) < 0) {
                fprintf(stderr, "udp-receiver: --count: expected 1..%d, got \"%s\"\n", COUNT_MAX,
                        optarg);
                return -EINVAL;
            }
            o.count = (unsigned)v;
            break;
        case 'p':
            if (parse_uint(optarg, 0, 65535, &v) < 0) {
                fprintf(stderr, "udp-receiver: --port: expected 0..65535, got \"%s\"\n", optarg);
                return -EINVAL;
            }
            o.port = (uint16_t)v;
            break;
        case 'w':
            if (parse_uint(optarg, 1, WAIT_MS_MAX, &v) < 0) {
                fprintf(stderr, "udp-receiver: --wait-ms: expected 1..%d, got \"%s\"\n",
                        WAIT_MS_MAX, optarg);
                return -EINVAL;
            }
            o.wait_ms = (unsigned)v;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 1;
        default:
            usage(stderr, argv[0]);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "udp-receiver: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr, argv[0]);
        return -EINVAL;
    }
    *ret_opts = o;
    return 0;
}

/* The service's socket: UDP on 127.0.0.1, close-on-exec, with IP_RECVERR (so ICMP errors are
 * queued for step (b), as in a real service) and SO_RCVTIMEO = wait_ms.
 * Return: the fd, or -errno; *ret_port gets the bound port. */
static int open_service_socket(uint16_t port, unsigned wait_ms, uint16_t *ret_port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t addr_len = sizeof(addr);
    struct timeval tv = {.tv_sec = (time_t)(wait_ms / 1000),
                         .tv_usec = (suseconds_t)(wait_ms % 1000) * 1000};
    int one = 1;
    int fd, r;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0) {
        r = -errno;
        (void)close(fd); /* setup failed; the close result adds nothing */
        return r;
    }
    *ret_port = ntohs(addr.sin_port);
    return fd;
}

/* The sender, in the forked child. For each request byte on @ctl it sends one burst of up to
 * BURST numbered datagrams and answers with the number sent, so the receiver knows the burst is
 * queued before it reads. Returns the child's exit status. */
static int run_sender(int ctl, uint16_t port, unsigned count)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    unsigned next = 1;
    char go;
    int fd;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "udp-receiver: sender: socket: %s\n", strerror(errno));
        return 1;
    }
    while (next <= count && read(ctl, &go, 1) == 1) {
        unsigned char n_sent = 0;

        while (n_sent < BURST && next <= count) {
            char payload[32];
            int len = snprintf(payload, sizeof(payload), "dgram %u", next);

            if (send(fd, payload, (size_t)len, 0) != len) {
                fprintf(stderr, "udp-receiver: sender: send: %s\n", strerror(errno));
                break;
            }
            n_sent++;
            next++;
        }
        if (write(ctl, &n_sent, 1) != 1 || n_sent == 0)
            return 1;
    }
    return 0;
}

/* Fork the sender. Return: 0 with *ret_pid and *ret_ctl (our end of the control socket), or
 * -errno. */
static int start_sender(int service_fd, uint16_t port, unsigned count, pid_t *ret_pid, int *ret_ctl)
{
    pid_t parent = getpid();
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* Anything still buffered would otherwise be printed twice. */
    (void)fflush(stdout);
    pid = fork();
    if (pid < 0) {
        int r = -errno;
        (void)close(sv[0]);
        (void)close(sv[1]);
        return r;
    }
    if (pid == 0) {
        /* Do not outlive the receiver: if it dies, so does the sender. The getppid() check
         * closes the race where the parent died before prctl(). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
        (void)close(sv[0]);
        (void)close(service_fd); /* the sender has no business reading the service socket */
        _exit(run_sender(sv[1], port, count));
    }
    (void)close(sv[1]);
    *ret_pid = pid;
    *ret_ctl = sv[0];
    return 0;
}

/* Write @len bytes of @p to stdout as a quoted string, escaping anything not printable: the
 * bytes came off the network (or out of a broker's emulation) and are not trusted. */
static void print_payload(const unsigned char *p, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
    putchar('"');
}

/* Check one received datagram: it must be "dgram <expected>" and not truncated. */
static bool payload_ok(const struct mmsghdr *m, const unsigned char *buf, unsigned expected)
{
    char want[32];
    int len = snprintf(want, sizeof(want), "dgram %u", expected);

    return !(m->msg_hdr.msg_flags & MSG_TRUNC) && m->msg_len == (unsigned)len &&
           memcmp(buf, want, (size_t)len) == 0;
}

/* Point each of the VLEN entries at its own buffer; recvmmsg() writes msg_len, msg_flags and
 * (with a name) msg_namelen, so they are reset before every call. */
static void prepare_batch(struct mmsghdr *msgs, struct iovec *iov,
                          unsigned char (*bufs)[PAYLOAD_MAX], struct sockaddr_in *from)
{
    memset(msgs, 0, sizeof(*msgs) * VLEN);
    for (unsigned i = 0; i < VLEN; i++) {
        iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = PAYLOAD_MAX};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
}

/* Step (a): drain one burst of @n datagrams, starting at sequence number *next.
 * Return: 0, or -errno of the failed call (EAGAIN: SO_RCVTIMEO expired, a datagram was lost). */
static int receive_burst(int fd, unsigned n, const struct options *o, unsigned *next,
                         struct results *res)
{
    struct mmsghdr msgs[VLEN];
    struct iovec iov[VLEN];
    unsigned char bufs[VLEN][PAYLOAD_MAX];
    struct sockaddr_in from[VLEN];
    unsigned got = 0;

    while (got < n) {
        /* MSG_WAITFORONE: block for the first datagram, then take whatever else is queued
         * without waiting; the timeout bounds how long one batch may keep collecting. It is
         * not a wait limit: the kernel checks it only after a datagram has arrived. */
        struct timespec timeout = {.tv_sec = 0, .tv_nsec = BATCH_TIMEOUT_MS * 1000000L};
        int64_t start;
        long ms;
        int r, e;

        prepare_batch(msgs, iov, bufs, from);
        start = now_ns();
        r = recvmmsg(fd, msgs, VLEN, MSG_WAITFORONE, &timeout);
        e = errno;
        ms = elapsed_ms(start);
        if (!o->quiet)
            printf("(a) batch %u: recvmmsg(vlen=%d, flags=MSG_WAITFORONE, timeout=%d ms) = ",
                   res->n_batches + 1, VLEN, BATCH_TIMEOUT_MS);
        if (r < 0) {
            if (!o->quiet)
                printf("-1 %s after %ld ms\n", errno_name(e), ms);
            if (e == EINTR)
                continue;
            return -e;
        }
        res->n_batches++;
        for (int i = 0; i < r; i++) {
            if (!payload_ok(&msgs[i], bufs[i], *next))
                res->n_bad++;
            (*next)++;
        }
        got += (unsigned)r;
        res->n_received += (unsigned)r;
        if (o->quiet)
            continue;
        printf("%d datagram%s", r, r == 1 ? "" : "s");
        for (int i = 0; i < r; i++) {
            size_t len = msgs[i].msg_len < PAYLOAD_MAX ? msgs[i].msg_len : PAYLOAD_MAX;
            /* A demo's output line: nothing to do if stdout is gone. */
            (void)fputs(i == 0 ? ": " : ", ", stdout);
            print_payload(bufs[i], len);
        }
        printf(" in %ld ms\n", ms);
    }
    return 0;
}

/* Step (b): one read of the socket error queue. MSG_ERRQUEUE never blocks; natively an empty
 * queue gives EAGAIN, and so it does under mmsgate's default policy (which emulates it). */
static void read_error_queue(int fd, const struct options *o, struct results *res)
{
    unsigned char buf[PAYLOAD_MAX];
    unsigned char control[256];
    struct sockaddr_in from;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct mmsghdr msg = {.msg_hdr = {.msg_name = &from,
                                      .msg_namelen = sizeof(from),
                                      .msg_iov = &iov,
                                      .msg_iovlen = 1,
                                      .msg_control = control,
                                      .msg_controllen = sizeof(control)}};
    struct timespec timeout = {.tv_sec = 0, .tv_nsec = BATCH_TIMEOUT_MS * 1000000L};
    int64_t start = now_ns();
    int r = recvmmsg(fd, &msg, 1, MSG_ERRQUEUE, &timeout);
    int e = errno;
    long ms = elapsed_ms(start);

    res->errqueue_ret = r;
    res->errqueue_errno = r < 0 ? e : 0;
    if (o->quiet)
        return;
    printf("(b) error queue: recvmmsg(vlen=1, flags=MSG_ERRQUEUE, timeout=%d ms) = ",
           BATCH_TIMEOUT_MS);
    if (r < 0)
        printf("-1 %s after %ld ms\n", errno_name(e), ms);
    else
        printf("%d (%d queued error%s) after %ld ms\n", r, r, r == 1 ? "" : "s", ms);
}

/* Step (c): wait for a full batch with no timeout on a socket nobody sends to any more.
 * Natively SO_RCVTIMEO (--wait-ms) ends it with EAGAIN; under mmsgate's default policy the
 * broker caps the wait at 1000 ms and also answers -1/EAGAIN. */
static void wait_quiet(int fd, const struct options *o, struct results *res)
{
    struct mmsghdr msgs[VLEN];
    struct iovec iov[VLEN];
    unsigned char bufs[VLEN][PAYLOAD_MAX];
    struct sockaddr_in from[VLEN];
    int64_t start;
    int r, e;

    prepare_batch(msgs, iov, bufs, from);
    start = now_ns();
    r = recvmmsg(fd, msgs, VLEN, 0, NULL);
    e = errno;
    res->quiet_ms = elapsed_ms(start);
    res->quiet_ret = r;
    res->quiet_errno = r < 0 ? e : 0;
    if (o->quiet)
        return;
    printf("(c) quiet socket: recvmmsg(vlen=%d, flags=0, timeout=NULL) = ", VLEN);
    if (r < 0)
        printf("-1 %s after %ld ms\n", errno_name(e), res->quiet_ms);
    else
        printf("%d datagram%s after %ld ms (unexpected: nobody sends)\n", r, r == 1 ? "" : "s",
               res->quiet_ms);
}

static void print_summary(const struct options *o, const struct results *res)
{
    printf("summary: received %u/%u datagrams in %u batch%s, %u bad; ", res->n_received, o->count,
           res->n_batches, res->n_batches == 1 ? "" : "es", res->n_bad);
    if (res->errqueue_ret < 0)
        printf("error queue: %s; ", errno_name(res->errqueue_errno));
    else
        printf("error queue: %d; ", res->errqueue_ret);
    if (res->quiet_ret < 0)
        printf("NULL-timeout wait: %s after %ld ms", errno_name(res->quiet_errno), res->quiet_ms);
    else
        printf("NULL-timeout wait: %d after %ld ms", res->quiet_ret, res->quiet_ms);
    /* Tell the two ways (c) can end apart: SO_RCVTIMEO at --wait-ms, or something earlier,
     * such as mmsgate's cap. 90% leaves room for timer slack without confusing the two. */
    if (res->quiet_ret < 0 && res->quiet_errno == EAGAIN)
        printf(" (%s)\n", res->quiet_ms * 10 < (long)o->wait_ms * 9
                              ? "ended before SO_RCVTIMEO: capped by a supervisor"
                              : "ended by SO_RCVTIMEO");
    else
        putchar('\n');
}

int main(int argc, char **argv)
{
    struct options o;
    struct results res = {0};
    uint16_t port = 0;
    pid_t sender = -1;
    int fd = -1, ctl = -1, status = 0, r;
    unsigned next = 1, remaining;

    r = parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : 2;
    /* One line per call, in order with whatever a supervisor writes to stderr. */
    /* Fails only for an invalid mode; full buffering would merely reorder the lines. */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);

    fd = open_service_socket(o.port, o.wait_ms, &port);
    if (fd < 0) {
        fprintf(stderr, "udp-receiver: socket on 127.0.0.1:%u: %s\n", o.port, strerror(-fd));
        return 1;
    }
    if (!o.quiet)
        printf("udp-receiver: pid %d, listening on 127.0.0.1:%u, %u datagrams in bursts of %d, "
               "SO_RCVTIMEO %u ms\n",
               (int)getpid(), port, o.count, BURST, o.wait_ms);
    r = start_sender(fd, port, o.count, &sender, &ctl);
    if (r < 0) {
        fprintf(stderr, "udp-receiver: starting the sender: %s\n", strerror(-r));
        (void)close(fd);
        return 1;
    }

    /* (a) Ask for a burst, wait until the sender says it is queued, drain it. */
    for (remaining = o.count; remaining > 0;) {
        unsigned char n = 0;
        char go = 'g';

        if (write(ctl, &go, 1) != 1 || read(ctl, &n, 1) != 1 || n == 0) {
            fprintf(stderr, "udp-receiver: the sender stopped early\n");
            break;
        }
        r = receive_burst(fd, n, &o, &next, &res);
        if (r < 0) {
            fprintf(stderr, "udp-receiver: receiving burst: %s\n", strerror(-r));
            break;
        }
        remaining -= n < remaining ? n : remaining;
    }
    /* Closing our end tells the sender to stop; then reap it so nothing sends during (c). */
    (void)close(ctl);
    if (waitpid(sender, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "udp-receiver: the sender failed\n");

    read_error_queue(fd, &o, &res); /* (b) */
    wait_quiet(fd, &o, &res);       /* (c) */
    (void)close(fd);                /* exiting; nothing to report */

    print_summary(&o, &res);
    return res.n_received == o.count && res.n_bad == 0 ? 0 : 1;
}
