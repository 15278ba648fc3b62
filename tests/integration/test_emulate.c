/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Emulation: the broker performs the call on its own copy of the arguments, and what the
 * target sees (count, lengths, payloads, flags, timeout write-back, errors) is what the kernel
 * gives the same program without mmsgate. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char emulate_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"emulate\"},\"rules\":[]}";

static void expect_payloads(const char *route_arg)
{
    const char *const extra[] = {"--send", "3", "--vlen", "4", "--flags", "DONTWAIT", NULL};

    h_expect_three_datagrams(emulate_policy, route_arg, extra);
}

Test(emulate, route_337_payloads, .timeout = 30)
{
    expect_payloads("337");
}

Test(emulate, route_417_payloads, .timeout = 30)
{
    expect_payloads("417");
}

Test(emulate, route_socketcall_payloads, .timeout = 30)
{
    expect_payloads("sc");
}

Test(emulate, route_299_payloads, .timeout = 30)
{
    expect_payloads("299");
}

Test(emulate, route_int80_payloads, .timeout = 30)
{
    expect_payloads("int80");
}

/* The remaining time is written back after a successful call: below 5 s, above 4 s. */
static void expect_timeout_written_back(const char *route_arg)
{
    const char *const extra[] = {"--send", "2", "--vlen", "2", "--timeout", "5.000000000", NULL};
    struct h_run r;
    struct h_call c;
    int64_t ns = 0;
    int code = h_try(&r, emulate_policy, h_route(route_arg), extra, &c);

    cr_assert(eq(int, code, 0), "mmsgate run exited %d; stderr: %s", code, r.err);
    cr_assert(eq(str, c.route, (char *)route_arg), "no call line; stdout: %s", r.out);
    cr_assert(eq(long, c.ret, 2));
    cr_assert(eq(int, !!(h_timeout_ns(c.timeout, &ns)), 1), "timeout=%s", c.timeout);
    cr_expect(lt(i64, ns, 5000000000), "timeout=%s was not written back", c.timeout);
    cr_expect(gt(i64, ns, 4000000000), "timeout=%s", c.timeout);
    h_run_done(&r);
}

Test(emulate, route_337_timeout_written_back, .timeout = 30)
{
    expect_timeout_written_back("337");
}

Test(emulate, route_417_timeout_written_back, .timeout = 30)
{
    expect_timeout_written_back("417");
}

Test(emulate, route_socketcall_timeout_written_back, .timeout = 30)
{
    expect_timeout_written_back("sc");
}

Test(emulate, route_299_timeout_written_back, .timeout = 30)
{
    expect_timeout_written_back("299");
}

Test(emulate, route_int80_timeout_written_back, .timeout = 30)
{
    expect_timeout_written_back("int80");
}

/* On every route, the call line under emulation equals the native one (minus pid, tid and
 * elapsed time), and so does the exit status. */
static void expect_same_as_native(const char *const extra[], const char *expected_errno)
{
    for (size_t i = 0; i < H_N_ROUTES; i++) {
        const struct h_route *route = &h_routes[i];
        struct h_run gate, native;
        struct h_call cg, cn;
        int code_g = h_try(&gate, emulate_policy, route, extra, &cg);
        int code_n = h_try(&native, NULL, route, extra, &cn);

        cr_assert(eq(int, code_n, 0), "route %s: native run exited %d", route->arg, code_n);
        cr_assert(eq(str, cn.err, (char *)expected_errno),
                  "route %s: the native kernel result changed: %s", route->arg, cn.key);
        cr_expect(eq(int, code_g, code_n), "route %s; stderr: %s", route->arg, gate.err);
        cr_expect(eq(str, cg.key, cn.key), "route %s", route->arg);
        h_run_done(&gate);
        h_run_done(&native);
    }
}

Test(emulate, ebadf_matches_native, .timeout = 60)
{
    const char *const extra[] = {"--fd", "99", "--send", "1", NULL};

    expect_same_as_native(extra, "EBADF");
}

Test(emulate, enotsock_matches_native, .timeout = 60)
{
    const char *const extra[] = {"--notsock", "--send", "1", NULL};

    expect_same_as_native(extra, "ENOTSOCK");
}

Test(emulate, efault_unreadable_timeout_matches_native, .timeout = 60)
{
    const char *const extra[] = {"--timeout", "unreadable", "--send", "1", NULL};

    expect_same_as_native(extra, "EFAULT");
}

Test(emulate, einval_nsec_one_billion_matches_native, .timeout = 60)
{
    const char *const extra[] = {"--timeout", "0.1000000000", "--send", "1", NULL};

    expect_same_as_native(extra, "EINVAL");
}

/* A successful call with no timeout is identical too (payloads, lengths, flags, timeout=none). */
Test(emulate, success_matches_native, .timeout = 60)
{
    const char *const extra[] = {"--send", "5", "--vlen", "3", "--buflen", "4", NULL};

    expect_same_as_native(extra, "0");
}
