/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A broken or stuck audit sink is reported on stderr and never blocks, crashes or changes what
 * the sandboxed program sees. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char deny_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"EHOSTUNREACH\"}}";

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start the run; returns the policy file, to be removed once the run has finished. */
static char *run_with_sink(const char *sink, const char *repeat, struct h_run *r)
{
    char *policy = h_temp_file(deny_policy);
    const char *argv[] = {"mmsgate",     "run",      "--policy",
                          policy,        "--audit",  sink,
                          "--audit-all", "--",       h_prog("try-recvmmsg64"),
                          "--send",      "1",        "--flags",
                          "DONTWAIT",    "--repeat", repeat,
                          NULL};

    cr_assert(not(eq(ptr, policy, NULL)));
    cr_assert(eq(int, h_start_cli(r, argv), 0));
    return policy;
}

static void policy_done(char *policy)
{
    unlink(policy);
    free(policy);
}

Test(audit_sink, write_errors_are_reported_and_calls_still_decided, .timeout = 30)
{
    struct h_run r;
    char *policy;

    /* Every write to /dev/full fails with ENOSPC. */
    policy = run_with_sink("/dev/full", "50", &r);
    cr_expect(eq(int, h_finish(&r, 20000), 0), "stderr: %s", r.err);
    cr_expect(eq(sz, h_count_lines(r.out, "call "), 50), "out: %s", r.out);
    cr_expect(eq(sz, h_count_lines(r.out, "call route=299 pid="), 50));
    cr_expect(not(eq(ptr, strstr(r.out, "errno=EHOSTUNREACH"), NULL)), "out: %s", r.out);
    cr_expect(not(eq(ptr, strstr(r.err, "mmsgate: audit: writing audit record"), NULL)),
              "stderr: %s", r.err);
    cr_expect(not(eq(ptr, strstr(r.err, "No space left on device"), NULL)), "stderr: %s", r.err);
    h_run_done(&r);
    policy_done(policy);
}

Test(audit_sink, stuck_sink_never_blocks_the_broker, .timeout = 60)
{
    char dir[] = "/tmp/mmsg-fifo-XXXXXX", fifo[64];
    int64_t start;
    struct h_run r;
    char *policy;
    int rd;

    cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
    snprintf(fifo, sizeof(fifo), "%s/audit", dir);
    cr_assert(eq(int, mkfifo(fifo, 0600), 0));
    /* A reader that never reads: the pipe fills after 64 KiB and every write then blocks. */
    rd = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert(rd >= 0);
    /* One page: the audit's rate limit keeps a single denied caller to a few dozen lines, which
     * a default 64 KiB pipe would swallow whole. */
    cr_assert(ge(int, fcntl(rd, F_SETPIPE_SZ, 4096), 4096));
    start = now_ms();
    policy = run_with_sink(fifo, "3000", &r);
    /* 3000 denied calls, about 2 MB of audit lines: the program still finishes, and so does
     * mmsgate, giving up on the sink after a short grace period. */
    cr_expect(eq(int, h_finish(&r, 30000), 0), "stderr: %s", r.err);
    cr_expect(lt(i64, now_ms() - start, h_slow_ms(15000)));
    cr_expect(eq(sz, h_count_lines(r.out, "call route=299 pid="), 3000));
    cr_expect(eq(sz, h_count_lines(r.out, "call route=299 pid="), h_count_lines(r.out, "call ")));
    cr_expect(not(eq(ptr, strstr(r.err, "records not written"), NULL)), "stderr: %s", r.err);
    h_run_done(&r);
    policy_done(policy);
    close(rd);
    unlink(fifo);
    rmdir(dir);
}
