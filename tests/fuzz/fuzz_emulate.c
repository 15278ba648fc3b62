/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the emulation's decoding and write-back: hostile caller memory (mmsghdr
 * arrays, iovecs, names, control buffers, timeouts, socketcall-sized layouts) is served by a
 * sealed memfd whose offsets are the caller's addresses, through the same remote.c accessors
 * the broker uses (remote_open_memory()); a real socketpair holds real datagrams. Every input
 * must decode, deliver or fail with an errno: no crash, no sanitizer report, no write outside
 * the image (the seal makes a write past it fail as a fault would). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emulate.h"
#include "remote.h"
#include "uabi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first bytes choose the call; the rest is the caller's memory from address 0 on. */
struct header {
    uint8_t compat;  /* i386 layouts when odd */
    uint8_t sys;     /* enum mmsg_syscall, modulo */
    uint8_t n_dgram; /* datagrams queued first, modulo 5 */
    uint8_t caps;    /* bit 0: vlen cap 2; bit 1: clear MSG_PEEK */
    uint32_t mmsg, vlen, flags, timeout;
};

static struct emu_scratch scratch;
static bool scratch_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct header h;
    struct remote r;
    struct emu_call c = {0};
    struct emu_caps caps = {.timeout_cap_ms = -1};
    int memfd, sv[2];

    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    if (!scratch_ready) {
        if (emu_scratch_init(&scratch) < 0)
            return 0;
        scratch_ready = true;
    }
    memfd = memfd_create("caller", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0)
        return 0;
    if (write(memfd, data + sizeof(h), size - sizeof(h)) != (ssize_t)(size - sizeof(h)) ||
        fcntl(memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        close(memfd);
        return 0;
    }
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
        close(memfd);
        return 0;
    }
    for (unsigned i = 0; i < h.n_dgram % 5; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "datagram-%u", i * 7u);

        (void)send(sv[1], msg, (size_t)n, MSG_DONTWAIT);
    }
    remote_open_memory(&r, memfd);
    c.compat = h.compat & 1;
    c.sys = c.compat ? (enum mmsg_syscall)(h.sys % 3) : MMSG_SYS_RECVMMSG;
    c.fd = sv[0];
    c.mmsg = h.mmsg;
    c.vlen = h.vlen % 64; /* bounded: the broker bounds nothing by vlen but the caller's pages */
    /* Never wait: the socket is the fuzzer's own, and nothing would ever arrive. */
    c.flags = (h.flags | MSG_DONTWAIT) & ~(uint32_t)MSG_ERRQUEUE;
    c.timeout = h.timeout;
    if (c.timeout)
        (void)uabi_read_timeout(&r, &c); /* the outcome is in c.timeout_err */
    if (h.caps & 1)
        caps.vlen_cap = 2;
    if (h.caps & 2)
        caps.clear_flags = MSG_PEEK;
    (void)emu_recvmmsg(&r, &c, sv[0], &caps, emu_now_ns(), false, &scratch);
    close(sv[0]);
    close(sv[1]);
    close(memfd);
    return 0;
}
