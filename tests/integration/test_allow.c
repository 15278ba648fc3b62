/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Default allow: every route reaches the kernel and receives what was queued. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char allow_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[]}";

static void expect_three_received(const char *route_arg)
{
    const char *const extra[] = {"--send", "3", "--vlen", "3", NULL};
    struct h_run r;
    struct h_call c;
    int code = h_try(&r, allow_policy, h_route(route_arg), extra, &c);

    cr_assert(eq(int, code, 0), "mmsgate run exited %d; stderr: %s", code, r.err);
    cr_assert(eq(str, c.route, (char *)route_arg), "no call line; stdout: %s", r.out);
    cr_expect(eq(long, c.ret, 3));
    cr_expect(eq(str, c.err, "0"));
    cr_expect(eq(str, c.lens, "7,7,7"));
    cr_expect(eq(str, c.data, "dgram-0,dgram-1,dgram-2"));
    cr_expect(eq(str, c.flags, "0x0,0x0,0x0"));
    h_run_done(&r);
}

Test(allow, route_337_receives_queued_datagrams, .timeout = 30)
{
    expect_three_received("337");
}

Test(allow, route_417_receives_queued_datagrams, .timeout = 30)
{
    expect_three_received("417");
}

Test(allow, route_socketcall_receives_queued_datagrams, .timeout = 30)
{
    expect_three_received("sc");
}

Test(allow, route_299_receives_queued_datagrams, .timeout = 30)
{
    expect_three_received("299");
}

Test(allow, route_int80_receives_queued_datagrams, .timeout = 30)
{
    expect_three_received("int80");
}
