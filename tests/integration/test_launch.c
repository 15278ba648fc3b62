/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mmsgate run as a launcher: the filter is in place before PROG's first instruction, optional
 * capability dropping, and descendants that outlive PROG are still served and reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

/* The value of "Key:" in a /proc/PID/status text, or "" if absent. */
static void status_value(const char *text, const char *key, char *buf, size_t len)
{
    const char *p = strstr(text, key);
    size_t n = 0;

    buf[0] = '\0';
    if (!p)
        return;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    while (p[n] && p[n] != '\n' && n + 1 < len)
        n++;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

/* The first thing PROG does is read its own status: seccomp mode 2 and no_new_privs there mean
 * there was no instruction of PROG before the filter. */
Test(launch, filter_and_no_new_privs_before_first_instruction, .timeout = 30)
{
    const char *const argv[] = {"mmsgate", "run", "--", "/bin/cat", "/proc/self/status", NULL};
    char v[64];
    struct h_run r;

    cr_assert(eq(int, h_cli(&r, argv, 10000), 0), "stderr: %s", r.err);
    status_value(r.out, "Seccomp:", v, sizeof(v));
    cr_expect(eq(str, v, "2"), "status:\n%s", r.out);
    status_value(r.out, "NoNewPrivs:", v, sizeof(v));
    cr_expect(eq(str, v, "1"), "status:\n%s", r.out);
    status_value(r.out, "Seccomp_filters:", v, sizeof(v));
    cr_expect(eq(str, v, "1"), "status:\n%s", r.out);
    h_run_done(&r);
}

Test(launch, drop_caps_option_clears_every_set, .timeout = 30)
{
    const char *const argv[] = {"mmsgate",           "run", "--drop-caps", "--", "/bin/cat",
                                "/proc/self/status", NULL};
    static const char *const keys[] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"};
    char v[64];
    struct h_run r;

    cr_assert(eq(int, getuid(), 0), "needs root to have capabilities to drop");
    cr_assert(eq(int, h_cli(&r, argv, 10000), 0), "stderr: %s", r.err);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        status_value(r.out, keys[i], v, sizeof(v));
        cr_expect(eq(str, v, "0000000000000000"), "%s in\n%s", keys[i], r.out);
    }
    h_run_done(&r);
}

Test(launch, capabilities_kept_without_drop_caps, .timeout = 30)
{
    /* The control for the test above: as root, PROG has capabilities unless asked. */
    const char *const argv[] = {"mmsgate", "run", "--", "/bin/cat", "/proc/self/status", NULL};
    char v[64];
    struct h_run r;

    cr_assert(eq(int, getuid(), 0), "needs root");
    cr_assert(eq(int, h_cli(&r, argv, 10000), 0), "stderr: %s", r.err);
    status_value(r.out, "CapEff:", v, sizeof(v));
    cr_expect(not(eq(str, v, "0000000000000000")), "status:\n%s", r.out);
    h_run_done(&r);
}

Test(launch, drop_caps_policy_key, .timeout = 30)
{
    char *policy =
        h_temp_file("{\"version\":1,\"drop_caps\":true,\"default\":{\"action\":\"allow\"}}");
    const char *argv[] = {"mmsgate", "run",      "--policy",          NULL,
                          "--",      "/bin/cat", "/proc/self/status", NULL};
    char v[64];
    struct h_run r;

    cr_assert(not(eq(ptr, policy, NULL)));
    argv[3] = policy;
    cr_assert(eq(int, h_cli(&r, argv, 10000), 0), "stderr: %s", r.err);
    status_value(r.out, "CapEff:", v, sizeof(v));
    cr_expect(eq(str, v, "0000000000000000"), "status:\n%s", r.out);
    status_value(r.out, "CapBnd:", v, sizeof(v));
    cr_expect(eq(str, v, "0000000000000000"), "status:\n%s", r.out);
    h_run_done(&r);
    unlink(policy);
    free(policy);
}

/* PROG exits at once, leaving a background child that calls recvmmsg later: run must keep
 * serving it (its call is decided by the policy, not failed with ENOSYS), reap it, and only then
 * exit with PROG's status. */
Test(launch, orphaned_descendant_is_served_until_it_exits, .timeout = 30)
{
    char script[512];
    char *policy =
        h_temp_file("{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"EHOSTUNREACH\"}}");
    const char *argv[] = {"mmsgate", "run", "--policy", NULL, "--", "/bin/sh", "-c", script, NULL};
    struct h_run r;

    cr_assert(not(eq(ptr, policy, NULL)));
    argv[3] = policy;
    snprintf(script, sizeof(script),
             "(sleep 0.3; exec %s --send 1 --vlen 1 --flags DONTWAIT) & exit 3",
             h_prog("try-recvmmsg64"));
    cr_expect(eq(int, h_cli(&r, argv, 10000), 3), "stderr: %s", r.err);
    cr_expect(not(eq(ptr, strstr(r.out, "errno=EHOSTUNREACH"), NULL)), "out: %s\nerr: %s", r.out,
              r.err);
    h_run_done(&r);
    unlink(policy);
    free(policy);
}
