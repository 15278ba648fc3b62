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

    h_expect_three_datagrams(allow_policy, route_arg, extra);
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
