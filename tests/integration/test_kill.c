/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A kill rule: the target dies by SIGKILL before its call returns; mmsgate run exits 137. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char kill_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"k\",\"match\":"
    "{\"syscall\":[\"recvmmsg_time64\"]},\"action\":\"kill\"}]}";

Test(kill, matching_call_kills_target_with_sigkill, .timeout = 30)
{
    const char *const extra[] = {"--send", "1", NULL};
    struct h_run r;
    struct h_call c;
    int code = h_try(&r, kill_policy, h_route("417"), extra, &c);

    cr_expect(eq(int, code, 128 + 9), "stderr: %s", r.err);
    cr_expect(eq(str, c.route, ""), "the call returned: %s", r.out);
    h_run_done(&r);
}

Test(kill, other_route_unaffected, .timeout = 30)
{
    const char *const extra[] = {"--send", "1", NULL};
    struct h_run r;
    struct h_call c;
    int code = h_try(&r, kill_policy, h_route("337"), extra, &c);

    cr_expect(eq(int, code, 0), "stderr: %s", r.err);
    cr_expect(eq(long, c.ret, 1), "stdout: %s", r.out);
    h_run_done(&r);
}
