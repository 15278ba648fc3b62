/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two readers on one socket (issue 6 finding 3): two threads in recvmmsg (299) and one in plain
 * recvfrom() share one UDP socket while several sender sockets send N datagrams, each carrying
 * its sequence number and its sender's port. Prints
 * "result n=N received=R dup=D lost=L mismatch=M": every datagram must arrive exactly once
 * (D = L = 0) and with its own sender's address (M = 0), as natively. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N_MSGS 20000
#define N_SENDERS 4
#define VLEN 8
/* Datagrams in flight at most: far below what the receive buffer holds, so the kernel never
 * drops one and every loss is the receivers' doing. */
#define WINDOW 128
#define MSG_LEN 48
#define NR_X86_64_RECVMMSG 299

static int rx = -1;
static atomic_uint seen[N_MSGS];
static atomic_uint received, mismatched;
static atomic_bool sending_done;

/* One datagram as received: its payload must name the port it came from. */
static void account(const char *buf, size_t len, const struct sockaddr_in *from)
{
    unsigned seq, port;
    char copy[MSG_LEN + 1];

    atomic_fetch_add(&received, 1);
    if (len != MSG_LEN) {
        atomic_fetch_add(&mismatched, 1);
        return;
    }
    memcpy(copy, buf, len);
    copy[len] = '\0';
    if (sscanf(copy, "seq=%u port=%u", &seq, &port) != 2 || seq >= N_MSGS) {
        atomic_fetch_add(&mismatched, 1);
        return;
    }
    atomic_fetch_add(&seen[seq], 1);
    if (from->sin_family != AF_INET || ntohs(from->sin_port) != port)
        atomic_fetch_add(&mismatched, 1);
}

/* A reader stops once the senders are done and the socket stayed quiet for SO_RCVTIMEO. */
static bool keep_reading(long r)
{
    return r >= 0 || ((errno == EAGAIN || errno == EINTR) && !atomic_load(&sending_done));
}

static void *mmsg_reader(void *arg)
{
    char bufs[VLEN][MSG_LEN + 16];
    struct sockaddr_in names[VLEN];
    struct iovec iov[VLEN];
    struct mmsghdr v[VLEN];
    long r;

    (void)arg;
    do {
        for (int i = 0; i < VLEN; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
            v[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &names[i],
                                                .msg_namelen = sizeof(names[i]),
                                                .msg_iov = &iov[i],
                                                .msg_iovlen = 1}};
        }
        r = syscall(NR_X86_64_RECVMMSG, rx, v, VLEN, 0, NULL);
        for (long i = 0; i < r; i++)
            account(bufs[i], v[i].msg_len, &names[i]);
    } while (keep_reading(r));
    return NULL;
}

static void *plain_reader(void *arg)
{
    char buf[MSG_LEN + 16];
    struct sockaddr_in from;
    socklen_t flen;
    ssize_t n;

    (void)arg;
    do {
        flen = sizeof(from);
        n = recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
        if (n >= 0)
            account(buf, (size_t)n, &from);
    } while (keep_reading(n));
    return NULL;
}

static void send_all(const struct sockaddr_in *to)
{
    int tx[N_SENDERS];
    unsigned ports[N_SENDERS];

    for (int k = 0; k < N_SENDERS; k++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);

        tx[k] = socket(AF_INET, SOCK_DGRAM, 0);
        if (tx[k] < 0 || bind(tx[k], (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            getsockname(tx[k], (struct sockaddr *)&sin, &len) < 0) {
            perror("sender socket");
            exit(1);
        }
        ports[k] = ntohs(sin.sin_port);
    }
    for (unsigned seq = 0; seq < N_MSGS; seq++) {
        char msg[MSG_LEN + 1];
        int k = (int)(seq % N_SENDERS);

        /* Bounded wait for the readers to catch up (a lost datagram must not stall us). */
        for (int spins = 0; atomic_load(&received) + WINDOW < seq && spins < 2000; spins++)
            (void)usleep(50);
        (void)snprintf(msg, sizeof(msg), "seq=%08u port=%05u %*s", seq, ports[k], MSG_LEN - 25,
                       "payload");
        if (sendto(tx[k], msg, MSG_LEN, 0, (const struct sockaddr *)to, sizeof(*to)) != MSG_LEN) {
            perror("sendto");
            exit(1);
        }
    }
    for (int k = 0; k < N_SENDERS; k++)
        close(tx[k]);
}

int main(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval quiet = {.tv_sec = 0, .tv_usec = 300000};
    socklen_t len = sizeof(sin);
    int rcvbuf = 8 << 20;
    pthread_t th[3];
    unsigned dup = 0, lost = 0;

    rx = socket(AF_INET, SOCK_DGRAM, 0);
    if (rx < 0 || bind(rx, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(rx, (struct sockaddr *)&sin, &len) < 0 ||
        setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof(quiet)) < 0) {
        perror("receiver socket");
        return 1;
    }
    /* Root lifts the rmem_max limit; without it the window alone keeps the buffer from filling. */
    (void)setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    if (pthread_create(&th[0], NULL, mmsg_reader, NULL) ||
        pthread_create(&th[1], NULL, mmsg_reader, NULL) ||
        pthread_create(&th[2], NULL, plain_reader, NULL)) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    send_all(&sin);
    atomic_store(&sending_done, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < N_MSGS; i++) {
        unsigned c = atomic_load(&seen[i]);

        if (c == 0)
            lost++;
        else
            dup += c - 1;
    }
    printf("result n=%u received=%u dup=%u lost=%u mismatch=%u\n", N_MSGS, atomic_load(&received),
           dup, lost, atomic_load(&mismatched));
    return 0;
}
