/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Many callers at once: 4 forked processes with 8 threads each, each calling 4 times on its
 * own socket under emulation. Every line must carry that worker's own datagrams, in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

#define N_LINES (4 * 8 * 4)

static void expect_all_lines_correct(const char *route_arg)
{
    const struct h_route *route = h_route(route_arg);
    const char *const argv[] = {route->prog, "--route",  route->arg, "--threads", "8",
                                "--forks",   "4",        "--send",   "12",        "--vlen",
                                "3",         "--repeat", "4",        NULL};
    struct h_gate g = {.policy = "{\"version\":1,\"default\":{\"action\":\"emulate\"},"
                                 "\"rules\":[]}"};
    struct h_call *calls = calloc(N_LINES + 1, sizeof(*calls));
    long pids[4] = {0};
    size_t n_pids = 0;
    struct h_run r;
    size_t n;
    int code;

    cr_assert(not(eq(ptr, calls, NULL)));
    code = h_gate(&r, &g, argv, 60000);
    cr_assert(eq(int, code, 0), "exit %d; stderr: %.2000s", code, r.err);
    n = h_parse_calls(r.out, calls, N_LINES + 1);
    cr_expect(eq(sz, n, N_LINES));
    for (size_t i = 0; i < n; i++) {
        char want[128];
        int seen_before = 0;
        bool known_pid = false;

        /* The k-th call of a thread receives datagrams 3k..3k+2 of its own socket. */
        for (size_t j = 0; j < i; j++)
            if (calls[j].tid == calls[i].tid && calls[j].pid == calls[i].pid)
                seen_before++;
        char want_lens[64];
        int d = 3 * seen_before;

        (void)snprintf(want, sizeof(want), "dgram-%d,dgram-%d,dgram-%d", d, d + 1, d + 2);
        (void)snprintf(want_lens, sizeof(want_lens), "%d,%d,%d", snprintf(NULL, 0, "dgram-%d", d),
                       snprintf(NULL, 0, "dgram-%d", d + 1), snprintf(NULL, 0, "dgram-%d", d + 2));
        cr_expect(eq(long, calls[i].ret, 3), "line %zu: %s", i, calls[i].key);
        cr_expect(eq(str, calls[i].data, want), "line %zu tid %ld", i, calls[i].tid);
        cr_expect(eq(str, calls[i].lens, want_lens), "line %zu", i);
        for (size_t k = 0; k < n_pids; k++)
            known_pid |= pids[k] == calls[i].pid;
        if (!known_pid && n_pids < 4)
            pids[n_pids++] = calls[i].pid;
        else
            cr_expect(eq(int, !!(known_pid), 1), "a fifth process pid %ld", calls[i].pid);
    }
    cr_expect(eq(sz, n_pids, 4));
    free(calls);
    h_run_done(&r);
}

Test(concurrency, threads_and_forks_32bit_337, .timeout = 90)
{
    expect_all_lines_correct("337");
}

Test(concurrency, threads_and_forks_64bit_299, .timeout = 90)
{
    expect_all_lines_correct("299");
}
