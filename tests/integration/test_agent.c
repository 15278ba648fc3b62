/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listeners of sandboxes mmsgate did not start: "mmsgate agent" (OCI listenerPath, as runc and
 * crun hand them over) and "mmsgate serve --listener-fd". */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static const char deny_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"EPROTO\"}}\n";
static const char emulate_policy[] = "{\"version\":1,\"default\":{\"action\":\"emulate\"}}\n";

static bool wait_socket(const char *path, int timeout_ms)
{
    struct stat st;

    for (int i = 0; i < timeout_ms / 10; i++) {
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            return true;
        usleep(10000);
    }
    return false;
}

static void run_agent_case(const char *policy, const char *expect1, const char *expect2)
{
    char dir[] = "/tmp/mmsg-agent-XXXXXX", sock[64], *policy_path;
    struct h_run agent, client;
    const char *aargv[] = {"mmsgate", "agent", "--socket", sock, "--policy", NULL, NULL};
    const char *cargv[] = {h_prog("oci-client"), "--agent", sock, NULL};

    cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
    snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
    policy_path = h_temp_file(policy);
    cr_assert(not(eq(ptr, policy_path, NULL)));
    aargv[5] = policy_path;
    cr_assert(eq(int, h_start_cli(&agent, aargv), 0));
    cr_assert(eq(int, wait_socket(sock, 5000), 1), "agent socket never appeared: %s", agent.err);

    cr_expect(eq(int, h_native(&client, cargv, 10000), 0), "client: %s", client.err);
    cr_expect(not(eq(ptr, strstr(client.out, expect1), NULL)), "client said: %s", client.out);
    cr_expect(not(eq(ptr, strstr(client.out, expect2), NULL)), "client said: %s", client.out);
    h_run_done(&client);

    /* The agent serves until told to stop, then exits 0. */
    kill(agent.pid, SIGTERM);
    cr_expect(eq(int, h_finish(&agent, 5000), 0), "agent stderr: %s", agent.err);
    h_run_done(&agent);
    unlink(sock);
    unlink(policy_path);
    free(policy_path);
    rmdir(dir);
}

Test(agent, oci_listener_is_decided_by_policy, .timeout = 30)
{
    run_agent_case(deny_policy, "call ret=-1 errno=EPROTO", "call ret=-1 errno=EPROTO");
}

Test(agent, oci_listener_emulates, .timeout = 30)
{
    run_agent_case(emulate_policy, "call ret=2 errno=0 data=hello,world",
                   "call ret=2 errno=0 data=hello,world");
}

Test(agent, non_socket_path_is_refused, .timeout = 10)
{
    char *file = h_temp_file("not a socket");
    const char *argv[] = {"mmsgate", "agent", "--socket", file, NULL};
    struct h_run r;

    cr_assert(not(eq(ptr, file, NULL)));
    cr_expect(eq(int, h_cli(&r, argv, 5000), 125), "stderr: %s", r.err);
    cr_expect(not(eq(ptr, strstr(r.err, "mmsgate: "), NULL)), "stderr: %s", r.err);
    h_run_done(&r);
    unlink(file);
    free(file);
}

Test(serve, listener_fd_is_served_until_the_sandbox_exits, .timeout = 30)
{
    char *policy_path = h_temp_file(deny_policy);
    struct h_run r;
    const char *argv[] = {h_prog("oci-client"), "--serve", MMSGATE_BIN, policy_path, NULL};

    cr_assert(not(eq(ptr, policy_path, NULL)));
    /* serve exits 0 by itself once the only filtered task has exited (listener hangs up). */
    cr_expect(eq(int, h_native(&r, argv, 10000), 0), "stderr: %s", r.err);
    cr_expect(eq(sz, h_count_lines(r.out, "call ret=-1 errno=EPROTO"), 2), "out: %s", r.out);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}

/* With one listener, serve waits for calls in NOTIF_RECV itself (loop.c loop_run_direct());
 * SIGTERM must still end it while the sandbox lives on and no call comes. */
Test(serve, sigterm_ends_serve_while_it_waits_for_calls, .timeout = 30)
{
    char *policy_path = h_temp_file(deny_policy);
    struct h_run r;
    const char *argv[] = {h_prog("oci-client"), "--serve-hold", MMSGATE_BIN, policy_path, NULL};
    int code;

    cr_assert(not(eq(ptr, policy_path, NULL)));
    cr_assert(eq(int, h_start_native(&r, argv), 0));
    cr_assert(h_wait_for(&r, "holding", 10000), "out: %s err: %s", r.out, r.err);
    cr_expect(eq(sz, h_count_lines(r.out, "call ret=-1 errno=EPROTO"), 2), "out: %s", r.out);
    (void)usleep(100 * 1000); /* serve is back in RECV */
    cr_assert(eq(int, kill(r.pid, SIGTERM), 0));
    code = h_finish(&r, 10000);
    cr_expect(eq(int, code, 0), "serve did not end on SIGTERM (%d); stderr: %s", code, r.err);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}

Test(serve, caller_invisible_in_our_pid_namespace_is_denied, .timeout = 30)
{
    /* notif.pid is 0: the broker cannot look at the caller, so it must fail closed with the
     * deny errno (EPERM) instead of applying the policy (EPROTO) or leaving the call pending. */
    char *policy_path = h_temp_file(emulate_policy);
    struct h_run r;
    const char *argv[] = {h_prog("oci-client"), "--serve-other-pidns", MMSGATE_BIN, policy_path,
                          NULL};

    cr_assert(not(eq(ptr, policy_path, NULL)));
    cr_expect(eq(int, h_native(&r, argv, 10000), 0), "stderr: %s", r.err);
    cr_expect(eq(sz, h_count_lines(r.out, "call ret=-1 errno=EPERM"), 2), "out: %s", r.out);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}
