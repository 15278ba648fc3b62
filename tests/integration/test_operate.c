/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operating a service under mmsgate: complain mode lets denied calls proceed (audited as not
 * enforced), a learned policy runs the same workload with zero denials, and a reload switches
 * policies under load without losing a call or mixing versions; the audit file is reopened.
 * 64-bit callers, so these run on hosts without IA32 emulation. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"no-dontwait\","
    "\"match\":{\"flags\":{\"any\":[\"MSG_DONTWAIT\"]}},\"action\":\"deny\",\"errno\":\"EPERM\"}]}";

static const char emulate_policy[] = "{\"version\":1,\"default\":{\"action\":\"emulate\"}}";

struct spin {
    unsigned long calls, eperm, other;
};

static struct spin spin_result(const struct h_run *r)
{
    struct spin s = {0};
    const char *line = strstr(r->out, "calls ");

    cr_assert(ne(ptr, line, NULL), "out: %s\nerr: %s", r->out, r->err);
    cr_assert(
        eq(int, sscanf(line, "calls %lu eperm %lu other %lu", &s.calls, &s.eperm, &s.other), 3));
    return s;
}

static size_t count_decisions(json_t *lines, const char *decision, int enforced)
{
    size_t i, n = 0;
    json_t *j;

    json_array_foreach (lines, i, j) {
        const char *d = json_string_value(json_object_get(j, "decision")); /* borrowed */
        json_t *e = json_object_get(j, "enforced");                        /* borrowed */

        if (d && strcmp(d, decision) == 0 && (enforced < 0 || json_is_true(e) == enforced))
            n++;
    }
    return n;
}

static void expect_complain_run(const char *const extra_opt, const char *policy)
{
    const char *argv[] = {"mmsgate", "run",     "--policy",
                          NULL,      "--audit", NULL,
                          extra_opt, "--",      h_prog("spin-denied64"),
                          "0.2",     NULL};
    char *policy_path = h_temp_file(policy), *audit_path = h_temp_file(""), err[256];
    struct h_run r;
    struct spin s;
    json_t *lines;

    cr_assert(ne(ptr, policy_path, NULL));
    cr_assert(ne(ptr, audit_path, NULL));
    argv[3] = policy_path;
    argv[5] = audit_path;
    if (!extra_opt) /* no option: end the argument list earlier */
        memmove(&argv[6], &argv[7], 4 * sizeof(argv[0]));
    cr_assert(eq(int, h_cli(&r, argv, 30000), 0), "stderr: %s", r.err);
    s = spin_result(&r);
    cr_expect(gt(u64, s.calls, 0));
    cr_expect(eq(u64, s.eperm, 0), "complain mode must not deny: %lu of %lu", s.eperm, s.calls);
    cr_expect(eq(u64, s.other, 0), "every call reached the idle socket (EAGAIN)");
    lines = h_audit_load(audit_path, err, sizeof(err));
    cr_assert(ne(ptr, lines, NULL), "%s", err);
    cr_expect(gt(sz, count_decisions(lines, "deny", 0), 0), "deny audited as not enforced");
    cr_expect(eq(sz, count_decisions(lines, "deny", 1), 0), "no deny audited as enforced");
    json_decref(lines);
    h_run_done(&r);
    unlink(policy_path);
    unlink(audit_path);
    free(policy_path);
    free(audit_path);
}

Test(operate, complain_flag_lets_denied_calls_proceed, .timeout = 60)
{
    expect_complain_run("--complain", deny_policy);
}

Test(operate, complain_mode_in_policy_lets_denied_calls_proceed, .timeout = 60)
{
    expect_complain_run(NULL, "{\"version\":1,\"mode\":\"complain\",\"default\":{\"action\":"
                              "\"allow\"},\"rules\":[{\"name\":\"no-dontwait\",\"match\":{"
                              "\"flags\":{\"any\":[\"MSG_DONTWAIT\"]}},\"action\":\"deny\","
                              "\"errno\":\"EPERM\"}]}");
}

Test(operate, learned_policy_reruns_with_zero_denials, .timeout = 90)
{
    char learned[] = "/tmp/mmsg-learned-XXXXXX", err[256];
    const char *learn[] = {"mmsgate", "learn", "--output", learned, "--", h_prog("spin-denied64"),
                           "0.2",     NULL};
    const char *check[] = {"mmsgate", "check", learned, NULL};
    const char *rerun[] = {"mmsgate", "run",         "--policy",
                           learned,   "--audit-all", "--audit",
                           NULL,      "--",          h_prog("spin-denied64"),
                           "0.2",     NULL};
    char *audit_path = h_temp_file("");
    struct h_run r;
    struct spin s;
    json_t *lines;
    int fd = mkstemp(learned);

    cr_assert(ge(int, fd, 0));
    close(fd);
    cr_assert(eq(int, h_cli(&r, learn, 30000), 0), "stderr: %s", r.err);
    s = spin_result(&r);
    cr_expect(eq(u64, s.eperm, 0), "learning allows everything");
    h_run_done(&r);
    cr_expect(eq(int, h_cli(&r, check, 10000), 0), "mmsgate check: %s", r.err);
    cr_expect(ne(ptr, strstr(r.out, "valid, 1 rule"), NULL), "one executable, one socket: %s",
              r.out);
    h_run_done(&r);

    rerun[6] = audit_path;
    cr_assert(eq(int, h_cli(&r, rerun, 30000), 0), "stderr: %s", r.err);
    s = spin_result(&r);
    cr_expect(gt(u64, s.calls, 0));
    cr_expect(eq(u64, s.eperm, 0), "denied %lu of %lu under the learned policy", s.eperm, s.calls);
    lines = h_audit_load(audit_path, err, sizeof(err));
    cr_assert(ne(ptr, lines, NULL), "%s", err);
    cr_expect(gt(sz, json_array_size(lines), 0));
    cr_expect(eq(sz, count_decisions(lines, "deny", -1), 0));
    json_decref(lines);
    h_run_done(&r);
    unlink(learned);
    unlink(audit_path);
    free(audit_path);
}

/* run: "mmsgate reload PID" while PROG spins switches allow -> deny; no call fails other than
 * by the policy, every decision names a rule of one whole version, and the audit file renamed
 * away before the reload is reopened. */
Test(operate, reload_under_load_switches_policy_and_reopens_audit, .timeout = 90)
{
    static const char allow_policy[] =
        "{\"version\":1,\"default\":{\"action\":\"allow\",\"audit\":true}}";
    char *policy_path = h_temp_file(allow_policy), *audit_path = h_temp_file(""), rotated[64];
    char pid[16], err[256];
    const char *argv[] = {"mmsgate", "run",      "--policy", policy_path,
                          "--audit", audit_path, "--",       h_prog("spin-denied64"),
                          "3",       NULL};
    const char *reload[] = {"mmsgate", "reload", pid, NULL};
    struct h_run r, rr;
    struct spin s;
    json_t *before, *after;
    size_t i;
    json_t *j;
    FILE *f;

    cr_assert(ne(ptr, policy_path, NULL));
    cr_assert(ne(ptr, audit_path, NULL));
    (void)snprintf(rotated, sizeof(rotated), "%s.1", audit_path);
    cr_assert(eq(int, h_start_cli(&r, argv), 0));
    usleep(1000000);
    /* The new version, then logrotate's move of the audit file. */
    f = fopen(policy_path, "we");
    cr_assert(ne(ptr, f, NULL));
    fputs(deny_policy, f);
    fclose(f);
    cr_assert(eq(int, rename(audit_path, rotated), 0));
    (void)snprintf(pid, sizeof(pid), "%d", (int)r.pid);
    cr_expect(eq(int, h_cli(&rr, reload, 10000), 0), "mmsgate reload: %s", rr.err);
    h_run_done(&rr);
    cr_assert(eq(int, h_finish(&r, 30000), 0), "stderr: %s", r.err);
    s = spin_result(&r);
    cr_expect(gt(u64, s.eperm, 0), "the reloaded policy denied nothing");
    cr_expect(lt(u64, s.eperm, s.calls), "the first policy allowed nothing");
    cr_expect(eq(u64, s.other, 0), "a call failed other than by the policy");

    before = h_audit_load(rotated, err, sizeof(err));
    cr_assert(ne(ptr, before, NULL), "%s", err);
    after = h_audit_load(audit_path, err, sizeof(err));
    cr_assert(ne(ptr, after, NULL), "%s", err);
    cr_expect(gt(sz, count_decisions(before, "allow", -1), 0));
    cr_expect(gt(sz, count_decisions(after, "deny", -1), 0), "nothing written after reopen");
    /* Whole versions only: allow by "default" or deny by "no-dontwait". */
    json_array_foreach (after, i, j) {
        const char *rule = json_string_value(json_object_get(j, "rule"));
        const char *dec = json_string_value(json_object_get(j, "decision"));

        if (!dec)
            continue; /* a summary or drop report */
        bool whole = (strcmp(dec, "allow") == 0 && strcmp(rule, "default") == 0) ||
                     (strcmp(dec, "deny") == 0 && strcmp(rule, "no-dontwait") == 0);

        cr_expect(whole, "decision %s by %s", dec, rule);
    }
    json_decref(before);
    json_decref(after);
    h_run_done(&r);
    unlink(policy_path);
    unlink(audit_path);
    unlink(rotated);
    free(policy_path);
    free(audit_path);
}

/* "busy-poll: spun N times, M found a call" from a run at -v. */
static void busy_counts(const struct h_run *r, unsigned long *spins, unsigned long *hits)
{
    const char *line = strstr(r->err, "busy-poll: spun ");

    cr_assert(ne(ptr, line, NULL), "err: %s", r->err);
    cr_assert(eq(int, sscanf(line, "busy-poll: spun %lu times, %lu found a call", spins, hits), 2));
}

/* --busy-poll: a caller making calls back to back finds the broker still polling (the counters
 * it prints at -v), and every call is still answered as the policy says. */
Test(operate, busy_poll_serves_back_to_back_calls, .timeout = 60)
{
    char *policy_path = h_temp_file(deny_policy);
    const char *argv[] = {"mmsgate",   "run",         "-v", "--busy-poll",
                          "1000",      "--policy",    NULL, "--audit",
                          "/dev/null", "--audit-all", "--", h_prog("spin-denied64"),
                          "0.3",       NULL};
    unsigned long spins = 0, hits = 0;
    struct h_run r;
    struct spin s;

    cr_assert(ne(ptr, policy_path, NULL));
    argv[6] = policy_path;
    cr_assert(eq(int, h_cli(&r, argv, 30000), 0), "err: %s", r.err);
    s = spin_result(&r);
    busy_counts(&r, &spins, &hits);
    fprintf(stderr, "operate: busy-poll, back to back: %lu calls, spun %lu, found %lu\n", s.calls,
            spins, hits);
    cr_expect(gt(u64, s.calls, 100));
    cr_expect(eq(u64, s.eperm, s.calls), "every call decided by the policy: %lu of %lu", s.eperm,
              s.calls);
    cr_expect(gt(u64, hits, 0), "spun %lu times, found %lu", spins, hits);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}

/* --busy-poll spins only while calls come more often than its budget: calls 5 ms apart (each a
 * new process) against a 1 ms budget never make it spin, where polling after every call would
 * burn a millisecond each time. */
Test(operate, busy_poll_never_spins_for_sparse_calls, .timeout = 60)
{
    char *policy_path = h_temp_file(deny_policy);
    char script[512];
    const char *argv[] = {"mmsgate",  "run", "-v",      "--busy-poll", "1000",
                          "--policy", NULL,  "--audit", "/dev/null",   "--audit-all",
                          "--",       "sh",  "-c",      NULL,          NULL};
    unsigned long spins = 0, hits = 0;
    struct h_run r;

    cr_assert(ne(ptr, policy_path, NULL));
    (void)snprintf(script, sizeof(script),
                   "i=0; while [ $i -lt 40 ]; do %s 0 || exit 1; sleep 0.005; i=$((i+1)); done",
                   h_prog("spin-denied64"));
    argv[6] = policy_path;
    argv[13] = script;
    cr_assert(eq(int, h_cli(&r, argv, 60000), 0), "err: %s", r.err);
    cr_expect(eq(sz, h_count_lines(r.out, "calls 1 eperm 1 other 0"), 40), "out: %s", r.out);
    busy_counts(&r, &spins, &hits);
    fprintf(stderr, "operate: busy-poll, 5 ms apart: spun %lu, found %lu\n", spins, hits);
    cr_expect(le(u64, spins, 4), "spun %lu times for 40 calls 5 ms apart", spins);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}

/* A CPU hog on CPU 0: SCHED_FIFO bursts of HOG_BURST_MS, HOG_GAP_MS apart, HOG_BURSTS times. */
#define HOG_BURSTS 10
#define HOG_BURST_MS 40
#define HOG_GAP_MS 60

static void *hog(void *arg)
{
    struct sched_param sp = {.sched_priority = 1};
    cpu_set_t cpu0;

    (void)arg;
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    if (sched_setaffinity(0, sizeof(cpu0), &cpu0) < 0 ||
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
        return (void *)1;
    (void)usleep(300 * 1000); /* the broker is serving */
    for (int i = 0; i < HOG_BURSTS; i++) {
        struct timespec t0, t;

        (void)clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            (void)clock_gettime(CLOCK_MONOTONIC, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < HOG_BURST_MS);
        (void)usleep(HOG_GAP_MS * 1000);
    }
    return NULL;
}

/* A call carried out on the loop thread is handed on to a fresh thread, and its process served
 * apart from then on, only when it is stuck: asleep for its caller, or using the CPU. A broker
 * the machine merely does not run (here a real-time hog takes its CPU for 40 ms, ten times,
 * while a caller on the other CPU makes emulated calls back to back) has nothing stuck. */
Test(operate, a_preempted_call_is_not_taken_for_a_stuck_one, .timeout = 60)
{
    char *policy_path = h_temp_file(emulate_policy);
    const char *argv[] = {"/usr/bin/taskset",
                          "-c",
                          "0",
                          MMSGATE_BIN,
                          "run",
                          "--policy",
                          NULL,
                          "--",
                          "/usr/bin/taskset",
                          "-c",
                          "1",
                          h_prog("spin-denied64"),
                          "1.5",
                          NULL};
    pthread_t t;
    void *hog_ret = NULL;
    struct h_run r;
    struct spin s;

    if (geteuid() != 0)
        cr_skip_test("SCHED_FIFO needs root");
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        cr_skip_test("needs two CPUs");
    cr_assert(ne(ptr, policy_path, NULL));
    argv[6] = policy_path;
    cr_assert(eq(int, pthread_create(&t, NULL, hog, NULL), 0));
    cr_assert(eq(int, h_native(&r, argv, 30000), 0), "err: %s", r.err);
    cr_assert(eq(int, pthread_join(t, &hog_ret), 0));
    cr_assert(eq(ptr, hog_ret, NULL), "could not start the hog");
    s = spin_result(&r);
    fprintf(stderr, "operate: preempted broker: %lu calls\n", s.calls);
    cr_expect(gt(u64, s.calls, 100));
    cr_expect(eq(u64, s.eperm + s.other, 0), "every call emulated (EAGAIN): %lu EPERM, %lu other",
              s.eperm, s.other);
    /* Taken for asleep, or for running too long, is what preemption could fake. The CPU budget
     * is not: the thread's CPU clock stands still while it is preempted. (In a VM with no steal
     * time, qemu TCG here, it also runs while the host does not run the vCPU, and TCG makes an
     * emulation cost milliseconds of it: a demotion for CPU there says nothing about this.) */
    cr_expect(eq(ptr, strstr(r.err, "asleep for"), NULL), "a preempted call was demoted: %s",
              r.err);
    cr_expect(eq(ptr, strstr(r.err, ": running for"), NULL), "a preempted call was demoted: %s",
              r.err);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}
