/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Start PROG under the filter: fork, die-with-parent, optional capability drop, no_new_privs and
 * the notify filter, hand the listener to the broker, then exec. The filter is in place before
 * exec, so PROG never runs a single instruction unfiltered. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "filter.h"
#include "internal/macros.h"
#include "mmsgate/broker.h"

#define LOG_COMPONENT "launch"
#include "log.h"

/* Drop every capability: bounding set, ambient, inheritable, permitted, effective. Done before
 * the filter, while CAP_SETPCAP may still be held. */
static int drop_caps(void)
{
    cap_t caps;
    int r = 0;

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
        if (cap_drop_bound(c) < 0 && errno != EINVAL && errno != EPERM)
            return -errno;
    caps = cap_init(); /* all clear */
    if (!caps)
        return -errno;
    if (cap_set_proc(caps) < 0)
        r = -errno;
    (void)cap_free(caps); /* only fails for a bad pointer */
    return r;
}

/* The child between fork() and execve(): it does not recover; it reports its errno through
 * @err_fd (close-on-exec, so a successful exec reports nothing) and exits 127. */
static void child_exec(const struct filter_prog *prog, const struct mmsg_run_options *run,
                       pid_t parent, int sock, int err_fd) __attribute__((noreturn));

static void child_exec(const struct filter_prog *prog, const struct mmsg_run_options *run,
                       pid_t parent, int sock, int err_fd)
{
    sigset_t empty;
    int listener, err;
    char go;

    /* Fail closed: if the broker dies, so does PROG. The parent may have died before the prctl
     * took effect, so check after setting it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
        err = -errno;
        goto fail;
    }
    if (getppid() != parent) {
        err = -ESRCH;
        goto fail;
    }
    /* The broker blocks the signals it forwards; PROG starts with the usual defaults. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL); /* fails only for invalid or RT-internal numbers */
    sigemptyset(&empty);
    (void)sigprocmask(SIG_SETMASK, &empty, NULL); /* cannot fail with a valid set */

    if (run->drop_caps) {
        err = drop_caps();
        if (err < 0)
            goto fail;
    }
    listener = filter_install(prog);
    if (listener < 0) {
        err = listener;
        goto fail;
    }
    err = fdpass_send(sock, listener);
    if (err < 0)
        goto fail;
    (void)close(listener); /* the broker holds it now; it is close-on-exec anyway */
    /* Wait until the broker serves the listener; EOF means it died: do not exec. */
    if (read(sock, &go, 1) != 1) {
        err = -ECONNRESET;
        goto fail;
    }
    (void)close(sock);
    execvp(run->argv[0], run->argv);
    err = -errno;
fail:
    (void)!write(err_fd, &err, sizeof(err)); /* nothing more to do if the parent is gone */
    _exit(127);
}

int mmsg_run(struct mmsg_broker *broker, const struct mmsg_run_options *run, int *ret_status)
{
    struct filter_prog prog = {0};
    cleanup_close int sock_parent = -1, sock_child = -1, err_r = -1, err_w = -1;
    int sv[2], pipefd[2], listener, child_err = 0, r, status = 0;
    pid_t parent = getpid(), pid;
    ssize_t n;

    r = filter_build(run->policy, run->audit_all, &prog);
    if (r < 0)
        return log_error_errno(r, "building the seccomp filter");
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = log_error_errno(-errno, "socketpair");
        goto out;
    }
    sock_parent = sv[0];
    sock_child = sv[1];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        r = log_error_errno(-errno, "pipe2");
        goto out;
    }
    err_r = pipefd[0];
    err_w = pipefd[1];
    /* Orphaned descendants of PROG are reparented to us and reaped: no zombies, and we keep
     * serving their calls until they exit too. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        r = log_error_errno(-errno, "PR_SET_CHILD_SUBREAPER");
        goto out;
    }

    pid = fork();
    if (pid < 0) {
        r = log_error_errno(-errno, "fork");
        goto out;
    }
    if (pid == 0) {
        (void)close(sock_parent);
        (void)close(err_r);
        child_exec(&prog, run, parent, sock_child, err_w);
    }
    (void)close(TAKE_FD(sock_child));
    (void)close(TAKE_FD(err_w));

    listener = fdpass_recv(sock_parent);
    if (listener < 0) {
        /* The child failed before handing it over: its errno is in the pipe. */
        n = read(err_r, &child_err, sizeof(child_err));
        r = n == sizeof(child_err) ? child_err : listener;
        (void)waitpid(pid, NULL, 0);
        r = log_error_errno(r, "setting up the sandbox");
        goto out;
    }
    r = mmsg_broker_add_listener(broker, listener);
    if (r < 0) {
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        r = log_error_errno(r, "serving the listener");
        goto out;
    }
    if (write(sock_parent, "G", 1) != 1) {
        r = -errno;
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        log_error_errno(r, "starting the child");
        goto out;
    }
    n = read(err_r, &child_err, sizeof(child_err));
    if (n == sizeof(child_err)) {
        /* exec failed: nothing of PROG ran. */
        (void)waitpid(pid, NULL, 0);
        r = child_err;
        goto out;
    }

    r = mmsg_broker_serve(broker, pid, &status);
    if (r >= 0)
        *ret_status = status;
out:
    filter_done(&prog);
    return r;
}
