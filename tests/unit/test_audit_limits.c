/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit sink on its own: faithful strings, rate limiting with summaries that lose no count,
 * the byte bound with its drop report, and reopening a rotated file. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "kernel.h"

static char dir[64], path[128];

static void setup(void)
{
    strcpy(dir, "/tmp/mmsg-audit-XXXXXX");
    cr_assert(ne(ptr, mkdtemp(dir), NULL));
    (void)snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
}

static void teardown(void)
{
    char p[160];

    (void)unlink(path);
    (void)snprintf(p, sizeof(p), "%s.1", path);
    (void)unlink(p);
    (void)rmdir(dir);
}

TestSuite(audit_limits, .init = setup, .fini = teardown);

static struct audit_record deny_record(pid_t tgid, const char *comm, const char *exe)
{
    return (struct audit_record){
        .timestamp_ns = 1,
        .tgid = tgid,
        .tid = tgid,
        .comm = comm,
        .exe = exe,
        .sys = MMSG_SYS_RECVMMSG,
        .arch = AUDIT_ARCH_X86_64_,
        .nr = 299,
        .args_known = true,
        .fd = 3,
        .vlen = 1,
        .decision = "deny",
        .enforcement = "errno",
        .rule = "no-peek",
        .ret_known = true,
        .ret = -EPERM,
    };
}

/* Every line of @p parsed; each must be a JSON object. */
static json_t *load_lines(const char *p)
{
    json_t *arr = json_array();
    char line[16384];
    FILE *f = fopen(p, "re");

    cr_assert(ne(ptr, f, NULL));
    while (fgets(line, sizeof(line), f)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);

        cr_assert(ne(ptr, j, NULL), "not JSON: %s: %s", err.text, line);
        cr_assert(eq(int, json_is_object(j), 1));
        json_array_append_new(arr, j); /* steals j */
    }
    fclose(f);
    return arr;
}

static const char *event_of(json_t *j)
{
    return json_string_value(json_object_get(j, "eventName")); /* borrowed */
}

struct string_case {
    const char *in;
    const char *decoded; /* what a JSON reader gets for processName */
    const char *hex;     /* processNameHex, NULL when absent */
};

static const struct string_case string_cases[] = {
    {"plain", "plain", NULL},
    {"t\xc3\xa9st", "t\xc3\xa9st", NULL}, /* é passes unchanged */
    {"\xe2\x82\xac\xf0\x9f\x98\x80", "\xe2\x82\xac\xf0\x9f\x98\x80", NULL}, /* € and an emoji */
    {"q\"b\\n", "q\"b\\n", NULL},
    {"ctl\x01\x1f\x7f", "ctl\x01\x1f\x7f", NULL},
    {"t\xe9st", "t\xef\xbf\xbdst", "74e97374"},                         /* Latin-1 é: invalid */
    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "c0af"},                   /* overlong '/' */
    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "eda080"}, /* a surrogate */
    {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd", "637574e282"},       /* truncated € */
};

Test(audit_limits, strings_round_trip)
{
    for (size_t i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++) {
        const struct string_case *c = &string_cases[i];
        struct audit_record rec = deny_record(42, c->in, c->in);
        char line[8192];
        json_error_t err;
        json_t *j, *hex;
        int len = audit_format(&rec, line, sizeof(line));

        cr_assert(gt(int, len, 0));
        j = json_loadb(line, (size_t)len, 0, &err);
        cr_assert(ne(ptr, j, NULL), "case %zu not JSON: %s: %s", i, err.text, line);
        cr_expect(
            eq(int, strcmp(json_string_value(json_object_get(j, "processName")), c->decoded), 0),
            "case %zu: %s", i, line);
        hex = json_object_get(j, "processNameHex"); /* borrowed */
        if (c->hex)
            cr_expect(
                eq(int, strcmp(json_string_value(hex) ? json_string_value(hex) : "", c->hex), 0),
                "case %zu: %s", i, line);
        else
            cr_expect(eq(ptr, hex, NULL), "case %zu: %s", i, line);
        cr_expect(eq(int, !c->hex, json_object_get(j, "executableHex") == NULL));
        /* Valid UTF-8 is written as is, not \u-escaped: the bytes appear in the line. */
        if (!c->hex && !strpbrk(c->in, "\"\\\x01\x1f\x7f"))
            cr_expect(ne(ptr, strstr(line, c->in), NULL), "case %zu: %s", i, line);
        json_decref(j);
    }
}

Test(audit_limits, container_fields_and_enforced)
{
    struct audit_record rec = deny_record(4242, "srv", "/usr/sbin/srv");
    char line[8192];
    json_t *j;

    rec.not_enforced = true;
    rec.policy = "web";
    rec.container_id = "c0ffee";
    rec.bundle = "/run/bundle";
    rec.ns_tgid = 7;
    cr_assert(gt(int, audit_format(&rec, line, sizeof(line)), 0));
    j = json_loads(line, 0, NULL);
    cr_assert(ne(ptr, j, NULL), "%s", line);
    cr_expect(eq(int, json_is_false(json_object_get(j, "enforced")), 1));
    cr_expect(eq(i64, json_integer_value(json_object_get(j, "processId")), 7));
    cr_expect(eq(i64, json_integer_value(json_object_get(j, "hostProcessId")), 4242));
    cr_expect(eq(int, strcmp(json_string_value(json_object_get(j, "containerId")), "c0ffee"), 0));
    cr_expect(eq(int, strcmp(json_string_value(json_object_get(j, "bundle")), "/run/bundle"), 0));
    cr_expect(eq(int, strcmp(json_string_value(json_object_get(j, "policy")), "web"), 0));
    json_decref(j);

    rec = deny_record(4242, "srv", NULL);
    cr_assert(gt(int, audit_format(&rec, line, sizeof(line)), 0));
    j = json_loads(line, 0, NULL);
    cr_expect(eq(int, json_is_true(json_object_get(j, "enforced")), 1));
    cr_expect(eq(i64, json_integer_value(json_object_get(j, "processId")), 4242));
    cr_expect(eq(ptr, json_object_get(j, "containerId"), NULL));
    json_decref(j);
}

/* Sum of individual deny lines and of "suppressed" in summaries, per pid. */
static void count(json_t *lines, pid_t pid, size_t *ret_lines, uint64_t *ret_suppressed,
                  size_t *ret_summaries)
{
    size_t i;
    json_t *j;

    *ret_lines = 0;
    *ret_suppressed = 0;
    *ret_summaries = 0;
    json_array_foreach (lines, i, j) {
        if (json_integer_value(json_object_get(j, "processId")) != pid)
            continue;
        if (strcmp(event_of(j), "audit_summary") == 0) {
            (*ret_summaries)++;
            *ret_suppressed += (uint64_t)json_integer_value(json_object_get(j, "suppressed"));
        } else {
            (*ret_lines)++;
        }
    }
}

Test(audit_limits, rate_limit_summarises_without_losing_counts, .timeout = 30)
{
    const struct audit_limits lim = {.burst = 5, .interval_ns = 200000000, .bytes_per_interval = 0};
    struct audit_record a = deny_record(100, "spin", "/bin/spin");
    struct audit_record b = deny_record(200, "other", "/bin/other");
    struct audit *au = NULL;
    struct audit_counters c;
    size_t n_lines, n_summaries;
    uint64_t suppressed;
    unsigned n_suppressed_ret = 0;
    json_t *lines, *summary = NULL;
    size_t i;
    json_t *j;

    cr_assert(eq(int, audit_open_limits(path, &lim, &au), 0));
    /* 1000 from one process over about three windows, 3 from another. */
    for (int k = 0; k < 1000; k++) {
        if (audit_write(au, &a) == AUDIT_SUPPRESSED)
            n_suppressed_ret++;
        if (k % 100 == 0)
            usleep(60000);
    }
    for (int k = 0; k < 3; k++)
        cr_expect(eq(int, audit_write(au, &b), AUDIT_QUEUED));
    audit_get_counters(au, &c);
    cr_expect(eq(u64, c.suppressed, n_suppressed_ret));
    audit_close(au);

    lines = load_lines(path);
    count(lines, 100, &n_lines, &suppressed, &n_summaries);
    cr_expect(eq(u64, n_lines + suppressed, 1000), "lines %zu suppressed %lu", n_lines,
              (unsigned long)suppressed);
    cr_expect(eq(u64, suppressed, n_suppressed_ret));
    /* At most the burst per window: a few windows of 5, not 1000 lines. */
    cr_expect(le(sz, n_lines, 40));
    cr_expect(ge(sz, n_summaries, 1));
    count(lines, 200, &n_lines, &suppressed, &n_summaries);
    cr_expect(eq(sz, n_lines, 3));
    cr_expect(eq(u64, suppressed, 0));
    json_array_foreach (lines, i, j)
        if (strcmp(event_of(j), "audit_summary") == 0)
            summary = j;
    cr_assert(ne(ptr, summary, NULL));
    cr_expect(eq(int, strcmp(json_string_value(json_object_get(summary, "rule")), "no-peek"), 0));
    cr_expect(eq(int,
                 strncmp(json_string_value(json_object_get(summary, "message")),
                         "rule no-peek denied ", 20),
                 0),
              "%s", json_string_value(json_object_get(summary, "message")));
    cr_expect(ne(ptr,
                 strstr(json_string_value(json_object_get(summary, "message")),
                        "calls from pid 100 (exe /bin/spin) in the last "),
                 NULL));
    json_decref(lines);
}

Test(audit_limits, byte_bound_drops_are_reported, .timeout = 30)
{
    /* Room for about ten lines per (long) interval; no rate limit. */
    const struct audit_limits lim = {
        .burst = 0, .interval_ns = 60 * UINT64_C(1000000000), .bytes_per_interval = 5000};
    struct audit_record a = deny_record(100, "spin", "/bin/spin");
    struct audit *au = NULL;
    unsigned n_dropped_ret = 0;
    uint64_t reported = 0;
    size_t n_lines = 0, i;
    json_t *lines, *j;

    cr_assert(eq(int, audit_open_limits(path, &lim, &au), 0));
    for (int k = 0; k < 200; k++)
        if (audit_write(au, &a) == AUDIT_DROPPED)
            n_dropped_ret++;
    audit_close(au);
    lines = load_lines(path);
    json_array_foreach (lines, i, j) {
        if (strcmp(event_of(j), "audit_dropped") == 0)
            reported += (uint64_t)json_integer_value(json_object_get(j, "sizeLimit"));
        else
            n_lines++;
    }
    cr_expect(gt(u32, n_dropped_ret, 150));
    cr_expect(eq(u64, reported, n_dropped_ret));
    cr_expect(eq(u64, n_lines + reported, 200));
    json_decref(lines);
}

Test(audit_limits, reopen_follows_rotation, .timeout = 30)
{
    struct audit_record a = deny_record(100, "spin", "/bin/spin");
    struct audit *au = NULL;
    char rotated[160];
    json_t *lines;

    (void)snprintf(rotated, sizeof(rotated), "%s.1", path);
    cr_assert(eq(int, audit_open(path, &au), 0));
    audit_write(au, &a);
    usleep(200000); /* let the writer write it */
    cr_assert(eq(int, rename(path, rotated), 0));
    cr_expect(eq(int, audit_reopen(au), 0));
    a.tgid = 101;
    audit_write(au, &a);
    audit_close(au);

    lines = load_lines(rotated);
    cr_expect(eq(sz, json_array_size(lines), 1));
    cr_expect(
        eq(i64, json_integer_value(json_object_get(json_array_get(lines, 0), "processId")), 100));
    json_decref(lines);
    lines = load_lines(path);
    cr_expect(eq(sz, json_array_size(lines), 1));
    cr_expect(
        eq(i64, json_integer_value(json_object_get(json_array_get(lines, 0), "processId")), 101));
    json_decref(lines);
}

Test(audit_limits, reopen_failure_keeps_the_old_file)
{
    struct audit *au = NULL;

    cr_assert(eq(int, audit_open(path, &au), 0));
    cr_assert(eq(int, unlink(path), 0));
    cr_assert(eq(int, rmdir(dir), 0));
    cr_expect(eq(int, audit_reopen(au), -ENOENT));
    audit_close(au);
    cr_assert(ne(ptr, mkdtemp(strcpy(dir, "/tmp/mmsg-audit-XXXXXX")), NULL));
}
