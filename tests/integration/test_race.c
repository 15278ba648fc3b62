/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TOCTOU: race32 rewrites its fd and its timeout while the call is in flight. The broker must
 * decide and receive on one copy: never a datagram from the forbidden socket B, never the
 * kernel's write-back of a 10 s timeout the policy denies. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

struct race_result {
    long calls, ok_a, ok_b, eperm, eacces, other, foreign;
};

static bool parse_race(const char *out, struct race_result *res)
{
    const char *line = strstr(out, "race ");

    return line && sscanf(line,
                          "race calls=%ld ok_a=%ld ok_b=%ld eperm=%ld eacces=%ld other=%ld "
                          "foreign_timeout=%ld",
                          &res->calls, &res->ok_a, &res->ok_b, &res->eperm, &res->eacces,
                          &res->other, &res->foreign) == 7;
}

Test(race, broker_never_serves_socket_b_or_a_foreign_timeout, .timeout = 120)
{
    int pa = h_free_udp_port(), pb = h_free_udp_port();
    char policy[1024], sa[16], sb[16];
    struct race_result res = {0};
    struct h_gate g = {.policy = policy};
    struct h_run r;
    int code;

    cr_assert(gt(int, pa, 0));
    cr_assert(gt(int, pb, 0));
    cr_assert(ne(int, pa, pb));
    (void)snprintf(policy, sizeof(policy),
                   "{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"EACCES\"},"
                   "\"rules\":[{\"name\":\"long-wait\",\"match\":{\"timeout\":{\"over_ms\":1000}},"
                   "\"action\":\"deny\",\"errno\":\"EPERM\",\"audit\":false},{\"name\":\"port-a\","
                   "\"match\":{\"socket\":{\"family\":\"inet\",\"type\":\"dgram\","
                   "\"local_port\":[%d,%d]}},\"action\":\"allow\"}]}",
                   pa, pa);
    (void)snprintf(sa, sizeof(sa), "%d", pa);
    (void)snprintf(sb, sizeof(sb), "%d", pb);
    {
        const char *const argv[] = {"race32", "--port-a", sa,      "--port-b",
                                    sb,       "--calls",  "10000", NULL};

        code = h_gate(&r, &g, argv, 110000);
    }
    cr_assert(eq(int, code, 0), "exit %d; stderr: %.2000s", code, r.err);
    cr_assert(eq(int, !!(parse_race(r.out, &res)), 1), "stdout: %s", r.out);
    cr_assert(ge(long, res.calls, 10000));
    cr_expect(eq(long, res.ok_b, 0), "%s", r.out);
    cr_expect(eq(long, res.foreign, 0), "%s", r.out);
    /* The race was really exercised: every outcome the policy allows happened. */
    cr_expect(gt(long, res.ok_a, 0), "%s", r.out);
    cr_expect(gt(long, res.eperm, 0), "%s", r.out);
    cr_expect(gt(long, res.eacces, 0), "%s", r.out);
    h_run_done(&r);
}

/* Guard for the test above: without a broker the kernel re-reads fd and timeout, and race32
 * sees it. If this stops holding, the test above proves nothing. */
Test(race, native_run_observes_the_race, .timeout = 60)
{
    const char *const argv[] = {"race32", "--calls", "10000", NULL};
    struct race_result res = {0};
    struct h_run r;
    int code = h_native(&r, argv, 50000);

    cr_assert(eq(int, code, 0), "exit %d; stderr: %s", code, r.err);
    cr_assert(eq(int, !!(parse_race(r.out, &res)), 1), "stdout: %s", r.out);
    cr_expect(gt(long, res.ok_b, 0), "%s", r.out);
    cr_expect(gt(long, res.foreign, 0), "%s", r.out);
    h_run_done(&r);
}
