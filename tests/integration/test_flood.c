/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A caller spinning on a denied call cannot flood the audit: a bounded number of lines, and
 * every call accounted for (written, summarised or reported dropped). Audit strings keep
 * non-ASCII names exactly. 64-bit callers, so this runs on hosts without IA32 emulation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char deny_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"no-dontwait\","
    "\"match\":{\"flags\":{\"any\":[\"MSG_DONTWAIT\"]}},\"action\":\"deny\",\"errno\":\"EPERM\"}]}";

static void expect_bounded_and_counted(const char *prog)
{
    const char *const argv[] = {prog, "10", NULL};
    const struct h_gate g = {.policy = deny_policy, .audit = true};
    unsigned long calls = 0, eperm = 0, other = 0;
    uint64_t n_deny = 0, suppressed = 0, dropped = 0, n_summaries = 0;
    char err[256];
    const char *line;
    struct h_run r;
    json_t *lines, *j;
    size_t i;

    cr_assert(eq(int, h_gate(&r, &g, argv, 60000), 0), "stderr: %s", r.err);
    line = strstr(r.out, "calls ");
    cr_assert(ne(ptr, line, NULL), "out: %s", r.out);
    cr_assert(eq(int, sscanf(line, "calls %lu eperm %lu other %lu", &calls, &eperm, &other), 3));
    cr_expect(eq(u64, eperm, calls), "every call denied");
    lines = h_audit_load(r.audit_path, err, sizeof(err));
    cr_assert(ne(ptr, lines, NULL), "%s", err);
    json_array_foreach (lines, i, j) {
        const char *ev = json_string_value(json_object_get(j, "eventName")); /* borrowed */

        if (strcmp(ev, "audit_summary") == 0) {
            n_summaries++;
            suppressed += (uint64_t)json_integer_value(json_object_get(j, "suppressed"));
            cr_expect(
                eq(int, strcmp(json_string_value(json_object_get(j, "rule")), "no-dontwait"), 0));
        } else if (strcmp(ev, "audit_dropped") == 0) {
            dropped += (uint64_t)json_integer_value(json_object_get(j, "sizeLimit")) +
                       (uint64_t)json_integer_value(json_object_get(j, "queueFull"));
        } else {
            n_deny++;
        }
    }
    /* Without the limits this is one line per call: hundreds of thousands in 10 s. */
    cr_expect(gt(u64, calls, 1000), "the caller did spin: %lu calls", calls);
    cr_expect(le(sz, json_array_size(lines), 200), "%zu lines for %lu calls",
              json_array_size(lines), calls);
    cr_expect(ge(u64, n_summaries, 1));
    cr_expect(eq(u64, n_deny + suppressed + dropped, calls),
              "%lu lines + %lu summarised + %lu dropped != %lu calls", (unsigned long)n_deny,
              (unsigned long)suppressed, (unsigned long)dropped, calls);
    json_decref(lines);
    h_run_done(&r);
}

Test(flood, spinning_denied_caller_is_bounded_and_counted, .timeout = 90)
{
    expect_bounded_and_counted("spin-denied64");
}

/* The same through i386 recvmmsg (337), where the kernel can run 32-bit code (the VM suite). */
Test(flood, spinning_denied_i386_caller_is_bounded_and_counted, .timeout = 90)
{
    const char *const probe[] = {"spin-denied32", "0", NULL};
    struct h_run r;
    int code = h_native(&r, probe, 10000);

    h_run_done(&r);
    if (code != 0)
        cr_skip_test("this kernel cannot run i386 programs (no IA32 emulation)");
    expect_bounded_and_counted("spin-denied32");
}

struct name_case {
    const char *comm;
    const char *decoded;
    const char *hex;
};

static const struct name_case name_cases[] = {
    {"t\xc3\xa9st", "t\xc3\xa9st", NULL},
    {"t\xe9st", "t\xef\xbf\xbdst", "74e97374"},
};

Test(flood, process_names_round_trip, .timeout = 60)
{
    for (size_t k = 0; k < sizeof(name_cases) / sizeof(name_cases[0]); k++) {
        const char *const argv[] = {"spin-denied64", "0.05", name_cases[k].comm, NULL};
        const struct h_gate g = {.policy = deny_policy, .audit = true};
        char err[256];
        struct h_run r;
        json_t *lines, *first, *hex;

        cr_assert(eq(int, h_gate(&r, &g, argv, 30000), 0), "stderr: %s", r.err);
        lines = h_audit_load(r.audit_path, err, sizeof(err));
        cr_assert(ne(ptr, lines, NULL), "%s", err);
        cr_assert(gt(sz, json_array_size(lines), 0));
        first = json_array_get(lines, 0); /* borrowed */
        cr_expect(eq(int,
                     strcmp(json_string_value(json_object_get(first, "processName")),
                            name_cases[k].decoded),
                     0),
                  "case %zu: %s", k, json_string_value(json_object_get(first, "processName")));
        hex = json_object_get(first, "processNameHex"); /* borrowed */
        if (name_cases[k].hex)
            cr_expect(eq(int, strcmp(json_string_value(hex) ?: "", name_cases[k].hex), 0));
        else
            cr_expect(eq(ptr, hex, NULL));
        json_decref(lines);
        h_run_done(&r);
    }
}
