/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `mmsgate features` and the start-up fallback lines, on the running kernel: on the host and,
 * through tests/vm/run.sh, on Debian 12's 6.1 where several features are missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

/* Each optional feature and the mainline release that brought it. Debian's kernels do not
 * backport these, so on Debian (and mainline) "found" must agree with the release; a kernel
 * that backports one (RHEL does) would fail here, and that is worth knowing too. */
static const struct {
    const char *name;
    unsigned major, minor;
} optional[] = {
    {"SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP", 6, 6},
    {"PIDFD_THREAD", 6, 9},
    {"PIDFD_SIGNAL_THREAD_GROUP", 6, 9},
    {"PROCMAP_QUERY", 6, 11},
};

static const char *const required[] = {
    "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    "pidfd_open",
    "pidfd_getfd",
    "SECCOMP_IOCTL_NOTIF_ADDFD",
};

static void kernel_release(char *buf, size_t len, unsigned *major, unsigned *minor)
{
    struct utsname u;

    cr_assert(eq(int, uname(&u), 0));
    (void)snprintf(buf, len, "%s", u.release);
    cr_assert(eq(int, sscanf(u.release, "%u.%u", major, minor), 2), "release %s", u.release);
}

static bool at_least(unsigned major, unsigned minor, unsigned want_major, unsigned want_minor)
{
    return major > want_major || (major == want_major && minor >= want_minor);
}

/* The status word printed after NAME on its own line: "found" or "MISSING" (NULL: no line). */
static const char *status_of(const char *out, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);

    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        char status[16];

        if (strncmp(p, name, n) != 0 || p[n] != ' ')
            continue;
        /* "NAME   Linux X.Y  status" */
        if (sscanf(p + n, " Linux %*s %15s", status) != 1)
            return NULL;
        (void)snprintf(buf, len, "%s", status);
        return buf;
    }
    return NULL;
}

Test(features, prints_kernel_and_required_features, .timeout = 30)
{
    const char *const argv[] = {"mmsgate", "features", NULL};
    char release[65], want[96], st[16];
    unsigned major, minor;
    struct h_run r;

    kernel_release(release, sizeof(release), &major, &minor);
    cr_assert(eq(int, h_cli(&r, argv, 20000), 0), "stdout: %s\nstderr: %s", r.out, r.err);
    (void)snprintf(want, sizeof(want), "kernel: Linux %s\n", release);
    cr_expect(eq(int, strncmp(r.out, want, strlen(want)), 0), "stdout: %s", r.out);
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *s = status_of(r.out, required[i], st, sizeof(st));

        cr_expect(not(eq(ptr, (void *)s, NULL)), "%s not listed: %s", required[i], r.out);
        if (s)
            cr_expect(eq(str, st, "found"), "%s on Linux %s", required[i], release);
    }
    cr_expect(not(eq(ptr, strstr(r.out, "mmsgate can run on this kernel"), NULL)), "%s", r.out);
    h_run_done(&r);
}

Test(features, optional_features_match_the_release, .timeout = 30)
{
    const char *const argv[] = {"mmsgate", "features", NULL};
    char release[65], st[16];
    unsigned major, minor;
    struct h_run r;

    kernel_release(release, sizeof(release), &major, &minor);
    cr_assert(eq(int, h_cli(&r, argv, 20000), 0), "stderr: %s", r.err);
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        const char *s = status_of(r.out, optional[i].name, st, sizeof(st));
        bool want = at_least(major, minor, optional[i].major, optional[i].minor);

        cr_assert(not(eq(ptr, (void *)s, NULL)), "%s not listed: %s", optional[i].name, r.out);
        cr_expect(eq(str, st, want ? "found" : "MISSING"), "%s (Linux %u.%u) on Linux %s",
                  optional[i].name, optional[i].major, optional[i].minor, release);
    }
    h_run_done(&r);
}

/* The order of move_addr_to_user()'s two writes, which the emulation follows, is probed on a
 * real datagram: the length first since Linux 6.18 (docs/recvmmsg-compat.md rule 37). */
Test(features, addr_order_matches_the_release, .timeout = 30)
{
    const char *const argv[] = {"mmsgate", "features", NULL};
    char release[65];
    unsigned major, minor;
    bool first;
    struct h_run r;

    kernel_release(release, sizeof(release), &major, &minor);
    first = at_least(major, minor, 6, 18);
    cr_assert(eq(int, h_cli(&r, argv, 20000), 0), "stderr: %s", r.err);
    cr_expect(not(eq(ptr,
                     strstr(r.out, first ? "writes the address length, then the address"
                                         : "writes the address, then its length"),
                     NULL)),
              "Linux %s: %s", release, r.out);
    h_run_done(&r);
}

/* run logs one line per fallback in effect, naming the feature, and still runs PROG. */
Test(features, run_logs_one_line_per_fallback, .timeout = 60)
{
    const char *const argv[] = {"mmsgate", "run", "--", "/bin/true", NULL};
    char release[65];
    unsigned major, minor, n_missing = 0;
    struct h_run r;

    kernel_release(release, sizeof(release), &major, &minor);
    cr_assert(eq(int, h_cli(&r, argv, 30000), 0), "stderr: %s", r.err);
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        bool missing = !at_least(major, minor, optional[i].major, optional[i].minor);
        char needle[96];

        (void)snprintf(needle, sizeof(needle), "lacks %s (Linux", optional[i].name);
        n_missing += missing;
        if (missing)
            cr_expect(not(eq(ptr, strstr(r.err, needle), NULL)), "stderr: %s", r.err);
        else
            cr_expect(eq(ptr, strstr(r.err, needle), NULL), "stderr: %s", r.err);
    }
    cr_expect(eq(sz, h_count_lines(r.err, "mmsgate: features: "), n_missing), "stderr: %s", r.err);
    h_run_done(&r);
}
