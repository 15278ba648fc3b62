/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's own least privilege (broker/sandbox.c), applied in a test process exactly as the
 * broker applies it to itself: what it may still do, and that what it must not do fails. The
 * running broker's status is checked too. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sandbox.h"

static uint64_t status_hex(const char *status, const char *key)
{
    const char *p = strstr(status, key);

    return p ? strtoull(p + strlen(key), NULL, 16) : ~0ull;
}

static void read_status(pid_t pid, char *buf, size_t len)
{
    char path[64];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(ge(int, fd, 0));
    n = read(fd, buf, len - 1);
    cr_assert(gt(long, (long)n, 0L));
    buf[n] = '\0';
    close(fd);
}

static void *thread_main(void *arg)
{
    return arg;
}

/* Only CAP_SYS_PTRACE (19) and CAP_KILL (5) are left, and a filter with no_new_privs. */
Test(sandbox, keeps_two_capabilities_and_a_filter, .timeout = 10)
{
    char status[4096];

    if (geteuid() != 0)
        cr_skip_test("needs root");
    cr_assert(eq(int, sandbox_apply(), 0));
    read_status(getpid(), status, sizeof(status));
    cr_expect(eq(u64, status_hex(status, "CapEff:\t"), (1ull << 19) | (1ull << 5)));
    cr_expect(eq(u64, status_hex(status, "CapBnd:\t"), (1ull << 19) | (1ull << 5)));
    cr_expect(not(eq(ptr, strstr(status, "Seccomp:\t2"), NULL)));
    cr_expect(not(eq(ptr, strstr(status, "NoNewPrivs:\t1"), NULL)));
}

/* What the broker uses keeps working: threads, files, sockets, pidfds. */
Test(sandbox, serving_calls_still_work, .timeout = 10)
{
    pthread_t t;
    int sv[2], fd;

    cr_assert(eq(int, sandbox_apply(), 0));
    cr_expect(eq(int, pthread_create(&t, NULL, thread_main, NULL), 0));
    cr_expect(eq(int, pthread_join(t, NULL), 0));
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    cr_expect(ge(int, fd, 0));
    close(fd);
    cr_expect(eq(int, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0));
    fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    cr_expect(ge(int, fd, 0));
    close(fd);
}

/* What it must never do fails: exec, trace, write other processes, mount, namespaces, fork. */
Test(sandbox, forbidden_calls_fail, .timeout = 10)
{
    char *const argv[] = {"/bin/true", NULL};
    char byte = 0;
    struct iovec local = {&byte, 1}, remote = {&byte, 1};

    cr_assert(eq(int, sandbox_apply(), 0));
    errno = 0;
    cr_expect(eq(int, execv("/bin/true", argv), -1));
    cr_expect(eq(int, errno, EPERM));
    errno = 0;
    cr_expect(eq(long, (long)process_vm_writev(getppid(), &local, 1, &remote, 1, 0), -1L));
    cr_expect(eq(int, errno, EPERM));
    errno = 0;
    cr_expect(eq(int, mount("none", "/mnt", "tmpfs", 0, NULL), -1));
    cr_expect(eq(int, errno, EPERM));
    errno = 0;
    cr_expect(eq(int, unshare(CLONE_NEWNS), -1));
    cr_expect(eq(int, errno, EPERM));
    errno = 0;
    cr_expect(eq(int, setuid(1000), -1));
    cr_expect(eq(int, errno, EPERM));
#ifndef MMSG_SANITIZER_BUILD
    /* fork(): glibc uses clone without CLONE_THREAD, which the filter refuses (a sanitizer
     * build allows it: LeakSanitizer forks its tracer, broker/sandbox.c). */
    cr_expect(eq(int, (int)fork(), -1));
#endif
}

/* The real broker, while it serves a program, is in that state too. */
Test(sandbox, running_broker_is_sandboxed, .timeout = 30)
{
    char status[4096];
    struct h_run r;

    if (geteuid() != 0)
        cr_skip_test("needs root");
    {
        const char *cli[] = {"mmsgate", "run", "--", "/bin/sleep", "2", NULL};

        cr_assert(eq(int, h_start_cli(&r, cli), 0));
    }
    /* Give it time to start serving (the sandbox is applied before the first event). */
    for (int i = 0; i < 200; i++) {
        read_status(r.pid, status, sizeof(status));
        if (strstr(status, "Seccomp:\t2"))
            break;
        usleep(10000);
    }
    cr_expect(not(eq(ptr, strstr(status, "Seccomp:\t2"), NULL)), "%s", status);
    cr_expect(eq(u64, status_hex(status, "CapEff:\t"), (1ull << 19) | (1ull << 5)));
    cr_expect(eq(int, h_finish(&r, 10000), 0), "stderr: %s", r.err);
    h_run_done(&r);
}
