/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An NTP client load generator for tests/bench/real-services.sh (chronyd as a server). Sends
 * NTPv4 client requests (mode 3, 48 bytes) over one UDP socket and matches replies by the
 * transmit timestamp, which a server copies into the origin timestamp of its reply (RFC 5905,
 * section 8; chrony's ntp_core.c does so for every client request). Two modes:
 *   --window W   keep W requests outstanding for --duration seconds: throughput (qps);
 *   --rate R     send R requests per second: every reply's latency (p50, p99).
 * A request without reply within 200 ms counts as lost and is no longer waited for.
 * Prints one line: "sent=N received=N lost=N qps=Q p50_us=X p99_us=Y". Not a test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NTP_LEN 48
#define MAX_OUT 4096       /* outstanding requests tracked */
#define LOST_NS 200000000u /* a request older than this is lost */

struct slot {
    uint64_t seq;
    uint64_t sent_ns;
    int used;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: ntp-load --port P [--server ADDR] [--duration S] "
                    "(--window W | --rate R)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *server = "127.0.0.1";
    long port = 0, window = 0, rate = 0;
    double duration = 5;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    static struct slot out[MAX_OUT];
    uint64_t *lat, n_lat = 0, cap_lat = 1 << 20, sent = 0, received = 0, lost = 0, seq = 0;
    uint64_t start, end, next_send, last_sweep = 0;
    unsigned outstanding = 0;
    int fd;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--server") == 0)
            server = argv[++i];
        else if (strcmp(argv[i], "--port") == 0)
            port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--duration") == 0)
            duration = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--window") == 0)
            window = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rate") == 0)
            rate = strtol(argv[++i], NULL, 10);
        else
            usage();
    }
    if (port <= 0 || port > 65535 || duration <= 0 || (window > 0) == (rate > 0) ||
        window > MAX_OUT / 2 || rate > 1000000)
        usage();
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, server, &sa.sin_addr) != 1)
        usage();
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("ntp-load: socket");
        return 1;
    }
    lat = malloc(cap_lat * sizeof(*lat));
    if (!lat)
        return 1;

    start = now_ns();
    end = start + (uint64_t)(duration * 1e9);
    next_send = start;
    for (;;) {
        uint64_t t = now_ns();
        unsigned char pkt[NTP_LEN];
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int timeout_ms = 1;

        if (t >= end)
            break;
        /* Forget what is too old to answer (every 10 ms: it walks the table). */
        for (unsigned i = 0; t - last_sweep > 10000000u && i < MAX_OUT && outstanding > 0; i++)
            if (out[i].used && t - out[i].sent_ns > LOST_NS) {
                out[i].used = 0;
                outstanding--;
                lost++;
            }
        if (t - last_sweep > 10000000u)
            last_sweep = t;
        /* Send: up to the window, or what the rate owes. */
        while ((window && outstanding < (unsigned)window) || (rate && next_send <= t)) {
            struct slot *s = &out[seq % MAX_OUT];
            uint64_t be;

            if (s->used)
                break; /* the table is full of outstanding requests */
            memset(pkt, 0, sizeof(pkt));
            pkt[0] = (4 << 3) | 3; /* LI 0, version 4, mode 3 (client) */
            be = __builtin_bswap64(seq);
            memcpy(pkt + 40, &be, 8); /* transmit timestamp: our sequence number */
            s->seq = seq;
            s->sent_ns = now_ns();
            if (send(fd, pkt, sizeof(pkt), 0) != (ssize_t)sizeof(pkt)) {
                if (errno == EAGAIN || errno == ENOBUFS)
                    break;
                perror("ntp-load: send");
                return 1;
            }
            s->used = 1;
            outstanding++;
            sent++;
            seq++;
            if (rate)
                next_send += 1000000000u / (uint64_t)rate;
        }
        if (poll(&pf, 1, timeout_ms) <= 0)
            continue;
        for (;;) {
            unsigned char r[512];
            ssize_t n = recv(fd, r, sizeof(r), 0);
            uint64_t be, rseq, tr = now_ns();
            struct slot *s;

            if (n < 0)
                break;
            if (n < NTP_LEN)
                continue;
            memcpy(&be, r + 24, 8); /* origin timestamp: our transmit timestamp */
            rseq = __builtin_bswap64(be);
            s = &out[rseq % MAX_OUT];
            if (!s->used || s->seq != rseq)
                continue; /* late, or not ours */
            s->used = 0;
            outstanding--;
            received++;
            if (rate && n_lat < cap_lat)
                lat[n_lat++] = tr - s->sent_ns;
        }
    }
    lost += outstanding;
    qsort(lat, n_lat, sizeof(*lat), cmp_u64);
    printf("sent=%llu received=%llu lost=%llu qps=%.0f", (unsigned long long)sent,
           (unsigned long long)received, (unsigned long long)lost, received / duration);
    if (n_lat)
        printf(" p50_us=%.1f p99_us=%.1f", lat[n_lat / 2] / 1000.0, lat[n_lat * 99 / 100] / 1000.0);
    else
        printf(" p50_us=- p99_us=-");
    printf("\n");
    free(lat);
    return received ? 0 : 1;
}
