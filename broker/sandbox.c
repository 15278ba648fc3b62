/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's own least privilege, applied once it serves: only the capabilities it needs and
 * a seccomp filter allowing only the system calls it makes (as crun and systemd services do).
 * A broker that a hostile caller somehow took over could then neither exec, nor ptrace, nor
 * write into other processes' memory, nor mount, load modules or make namespaces. */
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "internal/macros.h"
#include "sandbox.h"

#define LOG_COMPONENT "sandbox"
#include "log.h"

/* What serving needs, and why:
 * CAP_SYS_PTRACE  open /proc/<tid>/mem, maps and exe, pidfd_getfd() and kcmp() on callers of
 *                 any uid (ptrace access mode checks), including non-dumpable ones;
 * CAP_KILL        the kill action, and forwarding signals to a child that changed uid. */
static const cap_value_t kept_caps[] = {CAP_SYS_PTRACE, CAP_KILL};

/* Every system call the broker makes while serving: the event loop, workers (emulation, /proc,
 * pidfds, ADDFD), the audit writer, logging to the journal or syslog, the agent's sockets and
 * hand-over, libc's allocator and threads. Anything else fails with ENOSYS (so libc takes its
 * fallbacks: clone3, whose flags are in memory where a filter cannot check them, becomes clone,
 * whose flags it can) and the dangerous ones below with EPERM. */
static const char *const allowed[] = {
    "read",
    "write",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "lseek",
    "close",
    "close_range",
    "openat",
    "open",
    "readlink",
    "readlinkat",
    "newfstatat",
    "fstat",
    "stat",
    "lstat",
    "statx",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "pipe2",
    "ioctl",
    "getdents64",
    "access",
    "faccessat",
    "faccessat2",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "fchmod",
    "fchown",
    "fsync",
    "fdatasync",
    "ftruncate",
    "umask",
    /* events and time */
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "eventfd2",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    /* memory, threads, signals */
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "brk",
    "futex",
    "futex_waitv",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "set_tid_address",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "getcpu",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigtimedwait",
    "sigaltstack",
    "tgkill",
    "tkill",
    "kill",
    "exit",
    "exit_group",
    "restart_syscall",
    "membarrier",
    "getrandom",
    "prlimit64",
    "getrlimit",
    "setrlimit",
    "uname",
    "sysinfo",
    "prctl",
    "arch_prctl",
    "capget",
    "clone",
    /* identity */
    "getpid",
    "gettid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getgroups",
    "getpgrp",
    "getpgid",
    "getsid",
    "getresuid",
    "getresgid",
    /* children (run) */
    "wait4",
    "waitid",
    /* callers */
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "kcmp",
    /* sockets: the caller's (emulation), the agent's, the journal's and syslog's */
    "socket",
    "socketpair",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "shutdown",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
};

/* Refused with EPERM, named so a test and a reader can see them: running programs, tracing or
 * writing other processes, kernel and mount state, namespaces, new kernel attack surface. */
static const char *const forbidden[] = {
    "execve",
    "execveat",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "setns",
    "unshare",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "perf_event_open",
    "reboot",
    "swapon",
    "swapoff",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "open_by_handle_at",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "capset",
    "fork",
    "vfork",
};

static int drop_caps(void)
{
    cap_t caps;
    int r = 0;

    for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
        bool keep = false;

        for (size_t i = 0; i < ELEMENTSOF(kept_caps); i++)
            keep |= kept_caps[i] == c;
        if (!keep && cap_drop_bound(c) < 0 && errno != EINVAL)
            return -errno;
    }
    caps = cap_init(); /* all clear */
    if (!caps)
        return -ENOMEM;
    if (cap_set_flag(caps, CAP_PERMITTED, (int)ELEMENTSOF(kept_caps), kept_caps, CAP_SET) < 0 ||
        cap_set_flag(caps, CAP_EFFECTIVE, (int)ELEMENTSOF(kept_caps), kept_caps, CAP_SET) < 0 ||
        cap_set_proc(caps) < 0)
        r = -errno;
    (void)cap_free(caps); /* only fails for a bad pointer */
    return r;
}

static int load_filter(void)
{
    scmp_filter_ctx ctx;
    int r;

#ifdef MMSG_SANITIZER_BUILD
    /* The sanitizers' runtime makes calls of its own at exit (LeakSanitizer forks a tracer
     * that lists /proc/PID/task with getdents, ptraces the threads...): a sanitizer build keeps
     * the explicit refusals below and lets everything else through. */
    ctx = seccomp_init(SCMP_ACT_ALLOW);
#else
    ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
#endif
    if (!ctx)
        return -ENOMEM;
    for (size_t i = 0; i < ELEMENTSOF(allowed); i++) {
        int nr = seccomp_syscall_resolve_name(allowed[i]);

        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
            /* Threads only: a clone that is not a thread would be a new process. The sanitizers'
             * leak checker forks a tracer at exit, so sanitizer builds allow that one case. */
#ifndef MMSG_SANITIZER_BUILD
        if (strcmp(allowed[i], "clone") == 0) {
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
            if (r < 0)
                goto out;
            continue;
        }
#endif
#ifdef MMSG_SANITIZER_BUILD
        continue; /* allowed by default in this build */
#endif
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r < 0)
            goto out;
    }
    for (size_t i = 0; i < ELEMENTSOF(forbidden); i++) {
        int nr = seccomp_syscall_resolve_name(forbidden[i]);

        if (nr == __NR_SCMP_ERROR)
            continue;
#ifdef MMSG_SANITIZER_BUILD
        /* LeakSanitizer stops the world with ptrace from a forked tracer. */
        if (strcmp(forbidden[i], "ptrace") == 0)
            continue;
#endif
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (r < 0)
            goto out;
    }

    /* The broker is an x86_64 program: a 32-bit or x32 syscall from it is an attack. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r >= 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
    /* Every thread, not only this one: the audit writer already runs. */
    if (r >= 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (r >= 0)
        r = seccomp_load(ctx);
out:
    seccomp_release(ctx);
    return r;
}

int sandbox_apply(void)
{
    static bool applied;
    int r;

    if (applied)
        return 0;
    r = drop_caps();
    if (r < 0)
        return log_error_errno(r, "dropping capabilities");
    r = load_filter();
    if (r < 0)
        return log_error_errno(r, "loading the broker's own seccomp filter");
    applied = true;
    log_debug("serving with CAP_SYS_PTRACE and CAP_KILL only, under a seccomp allow-list");
    return 0;
}
