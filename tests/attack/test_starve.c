/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Issue 6 finding 4: one process with many blocked calls must not take every worker, hold
 * another process's signals, or exhaust the broker's fds. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"
#include "attack.h"

/* Thread names choose the rule: "hog" waits up to 30 s, "hogcap" 1 s, the victim's "vcap"
 * 200 ms (the default) and "vwait" has no cap at all (only a signal ends it). */
static const char policy[] =
    "{\"version\":1,\"default\":{\"action\":\"emulate\",\"timeout_cap_ms\":200},\"rules\":["
    "{\"name\":\"hog\",\"match\":{\"process\":{\"comm\":\"hog\"}},\"action\":\"emulate\","
    "\"timeout_cap_ms\":30000},"
    "{\"name\":\"hogcap\",\"match\":{\"process\":{\"comm\":\"hogcap\"}},\"action\":\"emulate\","
    "\"timeout_cap_ms\":1000},"
    "{\"name\":\"vwait\",\"match\":{\"process\":{\"comm\":\"vwait\"}},\"action\":\"emulate\"}]}";

static const char *result_of(struct h_run *r, const char *const argv[], int timeout_ms)
{
    const char *p;

    cr_assert(eq(int, h_start_cli(r, argv), 0));
    (void)h_wait_for(r, "result ", timeout_ms);
    p = strstr(r->out, "result ");
    cr_assert(not(eq(ptr, (void *)p, NULL)), "no result line: %s %s", r->out, r->err);
    return p;
}

/* 200 threads of one process wait in emulated calls, far more than the 16 workers: a victim
 * process's alarm still fires on time and its capped call still returns after its cap. */
Test(starve, many_waits_of_one_process_leave_another_its_workers_and_signals, .timeout = 120)
{
    char *pol = h_temp_file(policy), cap_err[32] = "", alarm_err[32] = "";
    const char *argv[] = {"mmsgate",         "run",     "--workers", "16", "--policy", pol, "--",
                          ATTACK_STARVE_BIN, "workers", "200",       NULL};
    long long cap_ms = -1, alarm_ms = -1;
    struct h_run r;
    const char *p;

    attack_require_root();
    cr_assert(not(eq(ptr, pol, NULL)));
    p = result_of(&r, argv, 90000);
    fprintf(stderr, "starve: %s", p);
    cr_assert(eq(int,
                 sscanf(p, "result cap_ms=%lld cap_errno=%31s alarm_ms=%lld alarm_errno=%31s",
                        &cap_ms, cap_err, &alarm_ms, alarm_err),
                 4));
    cr_expect(eq(str, cap_err, "EAGAIN"), "the victim's capped call: %s", p);
    cr_expect(lt(i64, cap_ms, 200 + 800), "the victim's 200 ms cap: %s", p);
    cr_expect(eq(str, alarm_err, "EINTR"), "the victim's alarm(2): %s", p);
    cr_expect(lt(i64, alarm_ms, 2000 + 1500), "the victim's alarm(2): %s", p);
    cr_expect(ge(i64, alarm_ms, 1900), "the alarm cannot fire early: %s", p);
    h_run_done(&r);
    unlink(pol);
    free(pol);
}

/* With the common "ulimit -n 1024", 1,000 waiting calls of one process each get their cap's
 * EAGAIN: none fails because the broker ran out of fds. */
Test(starve, a_thousand_waits_under_ulimit_n_1024_do_not_fail, .timeout = 180)
{
    char *pol = h_temp_file(policy);
    const char *argv[] = {"mmsgate",         "run", "--workers", "250", "--policy", pol, "--",
                          ATTACK_STARVE_BIN, "fds", "1000",      NULL};
    struct rlimit rl;
    int calls = -1, eagain = -1, eperm = -1, other = -1;
    struct h_run r;
    const char *p;

    attack_require_root();
    cr_assert(not(eq(ptr, pol, NULL)));
    /* Only the soft limit, as ulimit -n does for a service; the broker is inherited it. */
    cr_assert(eq(int, getrlimit(RLIMIT_NOFILE, &rl), 0));
    cr_assert(ge(u64, (uint64_t)rl.rlim_max, 4096), "hard RLIMIT_NOFILE too low to test");
    rl.rlim_cur = 1024;
    cr_assert(eq(int, setrlimit(RLIMIT_NOFILE, &rl), 0));
    p = result_of(&r, argv, 150000);
    fprintf(stderr, "starve: %s", p);
    cr_assert(eq(
        int,
        sscanf(p, "result calls=%d eagain=%d eperm=%d other=%d", &calls, &eagain, &eperm, &other),
        4));
    cr_expect(eq(int, eperm, 0), "calls failed for want of broker fds: %s", p);
    cr_expect(not(eq(ptr, strstr(p, " restart=0 "), NULL)), "errno 512 reached the program: %s", p);
    cr_expect(eq(int, other, 0), "calls failed with another error (EMFILE: our fd copy): %s", p);
    cr_expect(eq(int, eagain, 1000), "every call should end at its cap: %s", p);
    h_run_done(&r);
    unlink(pol);
    free(pol);
}
