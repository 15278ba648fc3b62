/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A deny rule per route: the denied route sees exactly the rule's errno and every other route
 * still works, so each route reaches the broker and is decided by the policy, none unseen. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

/* Deny @policy_name with @errno_name; expect it on the routes whose policy name matches. */
static void expect_only_route_denied(const char *policy_name, const char *errno_name)
{
    char policy[512];

    (void)snprintf(policy, sizeof(policy),
                   "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":"
                   "\"deny-one\",\"match\":{\"syscall\":[\"%s\"]},\"action\":\"deny\","
                   "\"errno\":\"%s\"}]}",
                   policy_name, errno_name);
    for (size_t i = 0; i < H_N_ROUTES; i++) {
        const struct h_route *route = &h_routes[i];
        const char *const extra[] = {"--send", "2", NULL};
        bool denied = strcmp(route->policy_name, policy_name) == 0;
        struct h_run r;
        struct h_call c;
        int code = h_try(&r, policy, route, extra, &c);

        cr_assert(eq(int, code, 0), "route %s: mmsgate run exited %d; stderr: %s", route->arg, code,
                  r.err);
        cr_assert(eq(str, c.route, (char *)route->arg), "route %s: no call line; stdout: %s",
                  route->arg, r.out);
        if (denied) {
            cr_expect(eq(long, c.ret, -1), "route %s should be denied", route->arg);
            cr_expect(eq(str, c.err, (char *)errno_name), "route %s", route->arg);
        } else {
            cr_expect(eq(long, c.ret, 2), "route %s should be allowed", route->arg);
            cr_expect(eq(str, c.data, "dgram-0,dgram-1"), "route %s", route->arg);
        }
        h_run_done(&r);
    }
}

/* Also covers int $0x80 from a 64-bit process, which the kernel reports as i386 337. */
Test(deny, only_recvmmsg_time32_denied_with_eperm, .timeout = 60)
{
    expect_only_route_denied("recvmmsg_time32", "EPERM");
}

Test(deny, only_recvmmsg_time64_denied_with_eacces, .timeout = 60)
{
    expect_only_route_denied("recvmmsg_time64", "EACCES");
}

Test(deny, only_socketcall_denied_with_ebadmsg, .timeout = 60)
{
    expect_only_route_denied("socketcall", "EBADMSG");
}

Test(deny, only_x86_64_recvmmsg_denied_with_enosys, .timeout = 60)
{
    expect_only_route_denied("recvmmsg", "ENOSYS");
}
