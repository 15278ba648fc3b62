/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Issue 6 finding 2: nothing one supervised process does (a huge vlen with thousands of iovecs,
 * a page that never faults in) delays another supervised process's calls. The attacker and the
 * victim run under the same broker; the victim times 100 of its own calls. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"
#include "attack.h"

#define EMULATE_ALL "{\"version\":1,\"default\":{\"action\":\"emulate\"}}"
/* Generous for a loaded 2-core machine: the victim's calls cost microseconds when unhindered. */
#define P99_BOUND_US 200000

static void expect_victim_unhindered_max(const char *bin, const char *mode, bool check_max)
{
    const char *argv[] = {bin, mode, NULL};
    struct h_gate g = {.policy = EMULATE_ALL};
    long long p50, p99, max;
    struct h_run r;
    const char *p;
    int calls = -1;

    attack_require_root();
    cr_assert(eq(int, h_start_gate(&r, &g, argv), 0));
    /* The program ends itself after at most 20 s of victim calls; mmsgate's exit status is
     * not the point (the attacker is killed). */
    (void)h_wait_for(&r, "result ", 60000);
    p = strstr(r.out, "result ");
    cr_assert(not(eq(ptr, (void *)p, NULL)), "no result line: %s %s", r.out, r.err);
    cr_assert(eq(int,
                 sscanf(p, "result mode=%*s calls=%d p50_us=%lld p99_us=%lld max_us=%lld", &calls,
                        &p50, &p99, &max),
                 4));
    fprintf(stderr, "stall: %s", p);
    cr_expect(eq(int, calls, 100), "the victim's calls were stuck behind the attacker: %s", p);
    cr_expect(lt(i64, p99, P99_BOUND_US), "the victim waited for the attacker: %s", p);
    if (check_max)
        cr_expect(lt(i64, max, P99_BOUND_US), "one of the victim's calls waited: %s", p);
    h_run_done(&r);
}

static void expect_victim_unhindered_bin(const char *bin, const char *mode)
{
    expect_victim_unhindered_max(bin, mode, false);
}

static void expect_victim_unhindered(const char *mode)
{
    expect_victim_unhindered_bin(ATTACK_STALL_BIN, mode);
}

Test(stall, huge_vlen_and_iovecs_do_not_delay_another_process, .timeout = 120)
{
    expect_victim_unhindered("vlen");
}

Test(stall, a_page_that_never_faults_in_does_not_delay_another_process, .timeout = 120)
{
    expect_victim_unhindered("uffd");
}

/* A FUSE page holds every reader, a read through /proc/PID/mem included. */
Test(stall, a_fuse_page_that_never_arrives_does_not_delay_another_process, .timeout = 120)
{
    /* Not a CI failure: the userfaultfd variant covers the finding where FUSE is missing. */
    if (access("/dev/fuse", R_OK | W_OK) < 0)
        cr_skip_test("no /dev/fuse (fuse module not loaded?)");
    expect_victim_unhindered("fuse");
}

/* The broker reads the timeout before it decides: that read must not hold other callers either. */
Test(stall, a_timeout_on_a_fuse_page_does_not_delay_another_process, .timeout = 120)
{
    /* Not a CI failure: the userfaultfd variant covers the finding where FUSE is missing. */
    if (access("/dev/fuse", R_OK | W_OK) < 0)
        cr_skip_test("no /dev/fuse (fuse module not loaded?)");
    expect_victim_unhindered("fuse-timeout");
}

/* A call stuck on the FUSE page holds the socket's lock while it writes; a second process's
 * call on that socket then waits for the lock on the loop thread, and is handed on like any
 * other stuck call (10 ms). Every victim call counts: one wait of the loop is one slow call. */
Test(stall, a_call_waiting_for_a_lock_a_stuck_call_holds_does_not_delay_another_process,
     .timeout = 120)
{
    if (access("/dev/fuse", R_OK | W_OK) < 0)
        cr_skip_test("no /dev/fuse (fuse module not loaded?)");
    expect_victim_unhindered_max(ATTACK_STALL_BIN, "fuse-lock", true);
}

/* i386 socketcall: the broker reads the argument block (fd, vlen, flags...) before anything
 * else. */
Test(stall, a_socketcall_argument_block_on_a_fuse_page_does_not_delay_another_process,
     .timeout = 120)
{
    attack_require_i386();
    if (access("/dev/fuse", R_OK | W_OK) < 0)
        cr_skip_test("no /dev/fuse (fuse module not loaded?)");
    expect_victim_unhindered_bin(ATTACK_STALL32_BIN, "fuse-socketcall");
}
