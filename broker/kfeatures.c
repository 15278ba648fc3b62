/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Probe, once, which of the kernel features mmsgate uses the running kernel has, and describe
 * what mmsgate does without each (`mmsgate features`, the start-up check of run/serve/agent). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kfeatures.h"
#include "internal/macros.h"
#include "kernel.h"

#define LOG_COMPONENT "features"
#include "log.h"

enum need {
    NEED_REQUIRED, /* mmsgate refuses to start without it */
    NEED_OPTIONAL, /* a fallback is in effect without it */
};

struct feature_info {
    const char *name;
    const char *since; /* mainline release that brought it */
    enum need need;
    size_t offset; /* of its bool in struct features */
    const char *without;
};

#define FEATURE(field) offsetof(struct features, field)

/* What each feature is for and what happens without it. The order is the print order. */
static const struct feature_info feature_table[] = {
    {"SECCOMP_FILTER_FLAG_NEW_LISTENER", "5.0", NEED_REQUIRED, FEATURE(listener),
     "required: the user-notification listener itself."},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "5.19", NEED_REQUIRED, FEATURE(wait_killable_recv),
     "required: once the broker has received a call, only a fatal signal may interrupt it; "
     "without it a signal aborts a call the broker is already performing (its datagrams "
     "would be lost). mmsgate refuses to start (exit 125)."},
    {"pidfd_open", "5.3", NEED_REQUIRED, FEATURE(pidfd_open),
     "required: the caller is opened by pidfd before its memory and fds are trusted."},
    {"pidfd_getfd", "5.6", NEED_REQUIRED, FEATURE(pidfd_getfd),
     "required: emulation works on a duplicate of the caller's socket."},
    {"SECCOMP_IOCTL_NOTIF_ADDFD", "5.9", NEED_REQUIRED, FEATURE(addfd),
     "required: emulated SCM_RIGHTS installs the received fds in the caller."},
    {"SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP", "6.6", NEED_OPTIONAL, FEATURE(sync_wake_up),
     "the caller and the broker are woken by the ordinary scheduler path, possibly on "
     "another CPU; nothing else changes (tests/bench measured no difference with the pair "
     "on one CPU)."},
    {"PIDFD_THREAD", "6.9", NEED_OPTIONAL, FEATURE(pidfd_thread),
     "the caller's thread group is opened instead, and kcmp(KCMP_FILE) proves that the fd "
     "the broker took from it is the calling thread's own; a thread that unshared its fd "
     "table (unshare(CLONE_FILES)) and holds another file at that number, or whose process's "
     "main thread has exited (pthread_exit), is not emulated: its call is denied with EPERM "
     "(rule fd-table-unreachable)."},
    {"PIDFD_SIGNAL_THREAD_GROUP", "6.9", NEED_OPTIONAL, FEATURE(pidfd_signal_thread_group),
     "kill signals the thread-group pidfd, which pidfd_send_signal already delivers to the "
     "whole group; same behaviour."},
    {"PROCMAP_QUERY", "6.11", NEED_OPTIONAL, FEATURE(procmap_query),
     "the caller's protections (copy_to_user faults on pages it cannot write, while "
     "/proc/<tid>/mem would force the write) are read from the /proc/<tid>/maps text "
     "instead: the same answers, a few microseconds more per mapping an emulation touches."},
    {"kcmp", "3.5", NEED_OPTIONAL, FEATURE(kcmp),
     "needed only without PIDFD_THREAD, to prove the caller's fd table; with neither, "
     "mmsgate refuses to start."},
};

static struct features probed;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static bool has(const struct features *f, const struct feature_info *fi)
{
    return *(const bool *)((const char *)f + fi->offset);
}

/* Exit status bits of the listener probe child. */
#define CHILD_RAN 0x80
#define CHILD_LISTENER 0x01
#define CHILD_WAIT_KILLABLE 0x02
#define CHILD_SYNC_WAKE_UP 0x04
#define CHILD_ADDFD 0x08

/* Runs in the probe child, which exists only to own a listener: loading a filter is permanent,
 * so the broker itself must never do it. Raw syscalls only (see probe_listener()). */
static int listener_child(void)
{
    /* Allow everything: the filter exists only so that a listener exists. */
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = 1, .filter = &allow};
    int bits = CHILD_RAN, listener, r;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return bits;
    /* kernel/seccomp.c seccomp_set_mode_filter(): an unknown flag is EINVAL. */
    listener = kernel_seccomp_load(
        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
    if (listener >= 0)
        bits |= CHILD_LISTENER | CHILD_WAIT_KILLABLE;
    else {
        listener = kernel_seccomp_load(SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0)
            return bits;
        bits |= CHILD_LISTENER;
    }
    /* seccomp_notify_ioctl(): an unknown request or flag is EINVAL. */
    if (kernel_notif_set_flags(listener, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0)
        bits |= CHILD_SYNC_WAKE_UP;
    /* seccomp_notify_addfd() validates, then looks up the id: no notification 0 is pending,
     * so a kernel with ADDFD says ENOENT; one without says EINVAL (unknown ioctl). */
    r = kernel_notif_addfd(listener, 0, listener, true);
    if (r == -ENOENT)
        bits |= CHILD_ADDFD;
    return bits;
}

/* The listener features, from a child: clone() without an exit signal, so no SIGCHLD reaches
 * a broker that already waits for its own children's signals. */
static void probe_listener(struct features *f)
{
    int status = 0;
    long pid;

    /* A raw clone, not fork(): no atfork handlers, no exit signal. The child runs only raw
     * syscalls and _exit(), so it is safe even when the caller has threads. */
    pid = syscall(SYS_clone, 0UL, NULL, NULL, NULL, 0UL);
    if (pid < 0)
        return;
    if (pid == 0)
        _exit(listener_child());
    while (waitpid((pid_t)pid, &status, __WALL) < 0)
        if (errno != EINTR)
            return;
    if (!WIFEXITED(status) || !(WEXITSTATUS(status) & CHILD_RAN))
        return;
    f->listener = WEXITSTATUS(status) & CHILD_LISTENER;
    f->wait_killable_recv = WEXITSTATUS(status) & CHILD_WAIT_KILLABLE;
    f->sync_wake_up = WEXITSTATUS(status) & CHILD_SYNC_WAKE_UP;
    f->addfd = WEXITSTATUS(status) & CHILD_ADDFD;
}

static void probe_pidfd(struct features *f)
{
    cleanup_close int pidfd = -1, dup = -1, thread_fd = -1;

    pidfd = kernel_pidfd_open(getpid(), 0);
    if (pidfd < 0)
        return;
    f->pidfd_open = true;
    /* kernel/pid.c pidfd_open(): before 6.9 any flag but PIDFD_NONBLOCK is EINVAL. */
    thread_fd = kernel_pidfd_open(gettid(), PIDFD_THREAD);
    f->pidfd_thread = thread_fd >= 0;
    dup = kernel_pidfd_getfd(pidfd, pidfd);
    f->pidfd_getfd = dup >= 0;
    /* Signal 0 checks permission and delivers nothing; before 6.9 any flag is EINVAL. */
    f->pidfd_signal_thread_group =
        kernel_pidfd_send_signal(pidfd, 0, PIDFD_SIGNAL_THREAD_GROUP) == 0;
}

/* kcmp is not one of the broker's kernel.c wrappers yet; the probe issues it directly. */
static void probe_kcmp(struct features *f)
{
    /* kernel/kcmp.c: 0 means "same"; ENOSYS without CONFIG_KCMP. */
    f->kcmp = syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILES, 0UL, 0UL) == 0;
}

static void probe_procmap_query(struct features *f)
{
    struct procmap_query_ q = {
        .size = sizeof(q),
        .query_addr = (uint64_t)(uintptr_t)&probe_procmap_query,
    };
    cleanup_close int fd = -1;

    fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    /* Before 6.11 /proc/<pid>/maps has no ioctl: ENOTTY. Our own text is mapped: 0. */
    f->procmap_query = ioctl(fd, PROCMAP_QUERY_, &q) == 0 && q.vma_start <= q.query_addr &&
                       q.query_addr < q.vma_end;
}

static bool addrlen_first;
static pthread_once_t addr_order_once = PTHREAD_ONCE_INIT;

/* Receive a datagram whose source has an address (an autobound AF_UNIX socket: 8 bytes) into a
 * name buffer on a page we cannot write. Both orders fail with EFAULT; only a kernel that
 * stores the length first has changed msg_namelen by then. */
static void probe_addr_order(void)
{
    struct sockaddr_un autobind = {.sun_family = AF_UNIX};
    cleanup_close int a = -1, b = -1;
    struct msghdr m;
    struct iovec iov;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char byte = 0;
    int sv[2];
    void *ro;

    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    a = sv[0];
    b = sv[1];
    /* net/unix/af_unix.c unix_bind(): an address of just the family autobinds. */
    if (bind(b, (struct sockaddr *)&autobind, sizeof(sa_family_t)) < 0 ||
        send(b, &byte, 1, MSG_DONTWAIT) != 1)
        return;
    ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ro == MAP_FAILED)
        return;
    iov = (struct iovec){&byte, 1};
    m = (struct msghdr){
        .msg_name = ro, .msg_namelen = sizeof(autobind), .msg_iov = &iov, .msg_iovlen = 1};
    if (recvmsg(a, &m, MSG_DONTWAIT) < 0 && errno == EFAULT)
        addrlen_first = m.msg_namelen != sizeof(autobind);
    (void)munmap(ro, page); /* only fails for a bad range */
}

bool features_addrlen_first(void)
{
    (void)pthread_once(&addr_order_once, probe_addr_order); /* only fails for a bad control */
    return addrlen_first;
}

static void probe_all(void)
{
    struct utsname u;
    struct features f = {0};

    if (uname(&u) == 0)
        (void)snprintf(f.release, sizeof(f.release), "%s", u.release);
    else
        (void)snprintf(f.release, sizeof(f.release), "unknown");
    probe_listener(&f);
    probe_pidfd(&f);
    probe_kcmp(&f);
    probe_procmap_query(&f);
    f.addrlen_first = features_addrlen_first();
    probed = f;
}

int features_probe(void)
{
    /* pthread_once also publishes the result to every thread that reads it later. */
    (void)pthread_once(&probe_once, probe_all); /* only fails for a bad once-control */
    return 0;
}

const struct features *features_get(void)
{
    (void)features_probe(); /* always 0 */
    return &probed;
}

const char *features_missing_required(const struct features *f)
{
    static char buf[80];

    for (size_t i = 0; i < ELEMENTSOF(feature_table); i++) {
        const struct feature_info *fi = &feature_table[i];

        if (fi->need == NEED_REQUIRED && !has(f, fi)) {
            (void)snprintf(buf, sizeof(buf), "%s (Linux %s)", fi->name, fi->since);
            return buf;
        }
    }
    /* Without PIDFD_THREAD the fd table of a thread can only be proven with kcmp. */
    if (!f->pidfd_thread && !f->kcmp)
        return "PIDFD_THREAD (Linux 6.9) or kcmp (CONFIG_KCMP)";
    return NULL;
}

/* @text after @prefix, wrapped at word boundaries to 96 columns, continuation lines indented
 * like the first. */
static void print_wrapped(FILE *out, const char *prefix, const char *text)
{
    const size_t width = 96, indent = 8;
    size_t col = strlen(prefix);
    bool line_start = true; /* no word on this line yet */

    (void)fputs(prefix, out);
    while (*text) {
        size_t word = strcspn(text, " ");

        if (!line_start && col + 1 + word > width) {
            (void)fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
            line_start = true;
        }
        if (!line_start) {
            (void)fputc(' ', out);
            col++;
        }
        (void)fwrite(text, 1, word, out);
        col += word;
        line_start = false;
        text += word;
        text += strspn(text, " ");
    }
    (void)fputc('\n', out);
}

int features_print(const struct features *f, FILE *out)
{
    const char *missing = features_missing_required(f);
    unsigned n_fallbacks = 0;

    (void)fprintf(out, "kernel: Linux %s\n", f->release);
    for (size_t i = 0; i < ELEMENTSOF(feature_table); i++) {
        const struct feature_info *fi = &feature_table[i];

        (void)fprintf(out, "%-40s Linux %-5s %s\n", fi->name, fi->since,
                      has(f, fi) ? "found" : "MISSING");
        print_wrapped(out, "    without it: ", fi->without);
        if (fi->need == NEED_OPTIONAL && !has(f, fi) &&
            !(fi->offset == FEATURE(kcmp) && f->pidfd_thread))
            n_fallbacks++;
    }
    (void)fprintf(out, "behaviour: move_addr_to_user() writes %s\n",
                  f->addrlen_first ? "the address length, then the address (Linux 6.18+)"
                                   : "the address, then its length (before Linux 6.18)");
    print_wrapped(out, "    emulation: ",
                  "follows the running kernel's order, which shows only when one of the two "
                  "writes faults.");
    if (missing) {
        (void)fprintf(out, "mmsgate cannot run on this kernel: it needs %s\n", missing);
        return -EOPNOTSUPP;
    }
    (void)fprintf(out, "mmsgate can run on this kernel (%u fallback%s in effect)\n", n_fallbacks,
                  n_fallbacks == 1 ? "" : "s");
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}

int features_check_startup(const struct features *f)
{
    int n = 0;

    if (features_missing_required(f))
        return -EOPNOTSUPP;
    for (size_t i = 0; i < ELEMENTSOF(feature_table); i++) {
        const struct feature_info *fi = &feature_table[i];

        if (fi->need != NEED_OPTIONAL || has(f, fi))
            continue;
        /* kcmp is only used as PIDFD_THREAD's fallback. */
        if (fi->offset == FEATURE(kcmp) && f->pidfd_thread)
            continue;
        log_warning("Linux %s lacks %s (Linux %s): %s", f->release, fi->name, fi->since,
                    fi->without);
        n++;
    }
    return n;
}
