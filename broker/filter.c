/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Build and load the notify filter. libseccomp builds it (and resolves the multiplexed i386
 * socketcall); it is loaded with a raw seccomp() because libseccomp 2.5.4 cannot request
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter.h"
#include "internal/macros.h"
#include "kernel.h"

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

/* The filter, every arch we know:
 * - x86_64: recvmmsg (299).
 * - x86 (i386): libseccomp's "recvmmsg" is a multiplexed pseudo-syscall: one rule yields both
 *   nr 337 and socketcall(102) with a0 == SYS_RECVMMSG (19); recvmmsg_time64 (417).
 * - x32: recvmmsg (0x40000000|537) shares AUDIT_ARCH_X86_64; on kernels with x32 enabled it
 *   would be an unseen route, so it is notified too and the broker refuses it (ENOSYS).
 * Every rule compares at most one 32-bit argument, which keeps clear of the libseccomp 2.5.4
 * 64-bit comparison merge bug. Unknown arches are killed (libseccomp's default bad-arch action).
 * tests/integration checks every route against the loaded filter. */
static int build_ctx(scmp_filter_ctx *ret_ctx)
{
    cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
    int nr_time64, r;

    /* seccomp_api_get() also makes libseccomp probe the kernel for SCMP_ACT_NOTIFY (without
     * it, rule_add with NOTIFY fails with -EOPNOTSUPP). */
    if (seccomp_api_get() < 5)
        return -EOPNOTSUPP;
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
    if (r < 0 && r != -EEXIST)
        return r;
    r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
    if (r < 0 && r != -EEXIST)
        return r;
    r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(recvmmsg), 0);
    if (r < 0)
        return r;
    nr_time64 = seccomp_syscall_resolve_name("recvmmsg_time64");
    if (nr_time64 == __NR_SCMP_ERROR)
        return -ENOSYS;
    r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr_time64, 0);
    if (r < 0)
        return r;
    *ret_ctx = TAKE_PTR(ctx);
    return 0;
}

int filter_build(struct filter_prog *ret)
{
    cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
    cleanup_close int fd = -1;
    cleanup_free struct sock_filter *insns = NULL;
    struct stat st;
    ssize_t n;
    int r;

    r = build_ctx(&ctx);
    if (r < 0)
        return r;
    /* libseccomp 2.5.4 has no seccomp_export_bpf_mem(): export through a memfd. */
    fd = memfd_create("mmsgate-filter", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return r;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
        st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    insns = malloc((size_t)st.st_size);
    if (!insns)
        return -ENOMEM;
    n = pread(fd, insns, (size_t)st.st_size, 0);
    if (n < 0)
        return -errno;
    if (n != st.st_size)
        return -EIO;
    ret->fprog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    ret->fprog.filter = TAKE_PTR(insns);
    return 0;
}

void filter_done(struct filter_prog *prog)
{
    free(prog->fprog.filter);
    prog->fprog.filter = NULL;
    prog->fprog.len = 0;
}

int filter_export_pfc(int fd)
{
    cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
    int r;

    r = build_ctx(&ctx);
    if (r < 0)
        return r;
    return seccomp_export_pfc(ctx, fd);
}

int filter_install(const struct filter_prog *prog)
{
    /* No new privileges: required to load a filter without CAP_SYS_ADMIN, and it stops PROG
     * from regaining privileges through set-uid binaries. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    /* WAIT_KILLABLE_RECV: once the broker has received a call, non-fatal signals no longer
     * abort it, so datagrams the broker dequeued on the caller's behalf are never lost. */
    return kernel_seccomp_load(
        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog->fprog);
}
