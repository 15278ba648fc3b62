/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mmsgate run as a parent: exit status mapping, signal forwarding, and failing closed when
 * the broker itself dies. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char allow_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[]}";
static const char emulate_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"emulate\"},\"rules\":[]}";

Test(exit_status, child_exit_code_is_passed_through, .timeout = 30)
{
    const char *const argv[] = {"exit-with", "7", NULL};
    struct h_gate g = {.policy = allow_policy};
    struct h_run r;

    cr_expect(eq(int, h_gate(&r, &g, argv, 20000), 7), "stderr: %s", r.err);
    h_run_done(&r);
}

Test(exit_status, child_sigsegv_gives_139, .timeout = 30)
{
    const char *const argv[] = {"exit-with", "--signal", "11", NULL};
    struct h_gate g = {.policy = allow_policy};
    struct h_run r;

    cr_expect(eq(int, h_gate(&r, &g, argv, 20000), 139), "stderr: %s", r.err);
    h_run_done(&r);
}

Test(exit_status, missing_program_gives_127, .timeout = 30)
{
    const char *const argv[] = {"/nonexistent/mmsg-no-such-program", NULL};
    struct h_gate g = {.policy = allow_policy};
    struct h_run r;

    cr_expect(eq(int, h_gate(&r, &g, argv, 20000), 127), "stderr: %s", r.err);
    h_run_done(&r);
}

Test(exit_status, non_executable_program_gives_126, .timeout = 30)
{
    char *path = h_temp_file("not a program\n");
    const char *argv[] = {path, NULL};
    struct h_gate g = {.policy = allow_policy};
    struct h_run r;

    cr_assert(not(eq(ptr, path, NULL)));
    cr_expect(eq(int, h_gate(&r, &g, argv, 20000), 126), "stderr: %s", r.err);
    (void)unlink(path);
    free(path);
    h_run_done(&r);
}

Test(exit_status, invalid_policy_gives_125, .timeout = 30)
{
    const char *const argv[] = {"exit-with", "0", NULL};
    struct h_gate g = {.policy = "{\"version\":1,\"default\":{\"action\":\"explode\"}}"};
    struct h_run r;

    cr_expect(eq(int, h_gate(&r, &g, argv, 20000), 125), "stderr: %s", r.err);
    h_run_done(&r);
}

/* Start sleeper32 under @policy and wait until its thread is blocked inside 337. */
static pid_t start_blocked_sleeper(struct h_run *r, const char *policy, bool then_loop)
{
    const char *const argv[] = {"sleeper32", then_loop ? "--then-loop" : NULL, NULL};
    struct h_gate g = {.policy = policy};
    char tid_s[32];
    const char *line;

    cr_assert(eq(int, h_start_gate(r, &g, argv), 0));
    cr_assert(eq(int, !!(h_wait_for(r, "\n", 10000) && (line = strstr(r->out, "ready "))), 1),
              "sleeper not ready; stdout: %s stderr: %s", r->out, r->err);
    cr_assert(eq(int, !!(h_field(line, "tid", tid_s, sizeof(tid_s))), 1));
    cr_assert(eq(int, !!(h_wait_in_syscall((pid_t)strtol(tid_s, NULL, 10), 337, 10000)), 1),
              "sleeper never blocked in 337");
    return (pid_t)strtol(tid_s, NULL, 10);
}

static void expect_signal_forwarded(const char *policy, int sig)
{
    char want[32];
    struct h_run r;
    int code;

    (void)start_blocked_sleeper(&r, policy, false);
    cr_assert(eq(int, kill(r.pid, sig), 0));
    code = h_finish(&r, 10000);
    cr_expect(eq(int, code, 100 + sig), "stdout: %s stderr: %s", r.out, r.err);
    (void)snprintf(want, sizeof(want), "caught sig=%d\n", sig);
    cr_expect(not(eq(ptr, strstr(r.out, want), NULL)), "stdout: %s", r.out);
    h_run_done(&r);
}

Test(signals, sigterm_forwarded, .timeout = 30)
{
    expect_signal_forwarded(allow_policy, SIGTERM);
}

Test(signals, sigint_forwarded, .timeout = 30)
{
    expect_signal_forwarded(allow_policy, SIGINT);
}

Test(signals, sighup_forwarded, .timeout = 30)
{
    expect_signal_forwarded(allow_policy, SIGHUP);
}

Test(signals, sigusr1_forwarded, .timeout = 30)
{
    expect_signal_forwarded(allow_policy, SIGUSR1);
}

Test(signals, sigusr2_forwarded, .timeout = 30)
{
    expect_signal_forwarded(allow_policy, SIGUSR2);
}

Test(signals, sigquit_forwarded, .timeout = 30)
{
    expect_signal_forwarded(allow_policy, SIGQUIT);
}

/* The signal reaches a target waiting on an emulated call: the wait is interrupted (EINTR). */
Test(signals, sigterm_interrupts_emulated_wait, .timeout = 30)
{
    expect_signal_forwarded(emulate_policy, SIGTERM);
}

/* Reap @pid (our child through the subreaper flag) within @timeout_ms; its wait status. */
static int wait_orphan(pid_t pid, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 10; i++) {
        int ws = 0;
        pid_t p = waitpid(pid, &ws, WNOHANG);

        if (p == pid)
            return ws;
        if (p < 0 && errno != EINTR)
            return -1;
        (void)usleep(10000);
    }
    return -2;
}

static void expect_target_dies_with_broker(const char *policy)
{
    struct h_run r;
    char pid_s[32];
    pid_t target;
    int ws = 0;

    /* Orphans of mmsgate come to us, so their fate is observable. */
    cr_assert(eq(int, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0));
    (void)start_blocked_sleeper(&r, policy, true);
    cr_assert(eq(int, !!(h_field(strstr(r.out, "ready "), "pid", pid_s, sizeof(pid_s))), 1));
    target = (pid_t)strtol(pid_s, NULL, 10);
    cr_assert(eq(int, kill(r.pid, SIGKILL), 0));
    /* Reap mmsgate by hand: h_finish() would kill its process group, target included. */
    cr_assert(eq(int, waitpid(r.pid, &ws, 0), r.pid));
    r.exited = true;
    r.exit_code = 128 + SIGKILL;
    ws = wait_orphan(target, 5000);
    (void)h_finish(&r, 1000); /* collect what the target printed; exit code known */
    cr_expect(ge(int, ws, 0), "target %d still alive 5 s after the broker died", (int)target);
    if (ws >= 0)
        cr_expect(eq(int, !!(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL), 1),
                  "target wait status 0x%x", ws);
    /* No call the broker never saw may have succeeded. */
    cr_expect(eq(ptr, strstr(r.out, " ret=1 "), NULL), "target ran unfiltered: %s", r.out);
    h_run_done(&r);
}

Test(fail_closed, broker_sigkill_kills_target_waiting_on_emulate, .timeout = 30)
{
    expect_target_dies_with_broker(emulate_policy);
}

Test(fail_closed, broker_sigkill_kills_target_blocked_after_allow, .timeout = 30)
{
    expect_target_dies_with_broker(allow_policy);
}
