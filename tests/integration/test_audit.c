/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Audit lines, field by field against docs/contract-draft.md, for each route and decision;
 * and which decisions are written with and without --audit-all. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char allow_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[]}";
static const char emulate_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"emulate\"},\"rules\":[]}";
static const char deny_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"no-337\",\"match\":"
    "{\"syscall\":[\"recvmmsg_time32\"]},\"action\":\"deny\",\"errno\":\"EPERM\"}]}";
static const char kill_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"kill-417\","
    "\"match\":{\"syscall\":[\"recvmmsg_time64\"]},\"action\":\"kill\"}]}";
static const char silent_deny_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"quiet\",\"match\":"
    "{\"syscall\":[\"recvmmsg_time32\"]},\"action\":\"deny\",\"errno\":\"EPERM\",\"audit\":"
    "false}]}";
static const char loud_allow_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"loud\",\"match\":"
    "{\"syscall\":[\"recvmmsg\"]},\"action\":\"allow\",\"audit\":true}]}";

/* The call the route tests make: 3 queued, vlen 3, MSG_DONTWAIT, a 2.5 s timeout. */
static const char *const std_extra[] = {"--send",   "3",         "--vlen",      "3", "--flags",
                                        "DONTWAIT", "--timeout", "2.500000000", NULL};

/* Run @route under @policy with --audit, return the parsed audit lines. */
static json_t *run_audited(struct h_run *r, const char *policy, bool audit_all,
                           const struct h_route *route, const char *const extra[],
                           struct h_call *ret_call)
{
    const char *argv[32] = {route->prog, "--route", route->arg};
    struct h_gate g = {.policy = policy, .audit = true, .audit_all = audit_all};
    char err[512] = "";
    size_t k = 3;
    json_t *lines;
    int code;

    for (size_t i = 0; extra[i] && k < 31; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    code = h_gate(r, &g, argv, 20000);
    cr_assert(ge(int, code, 0), "mmsgate run timed out; stderr: %s", r->err);
    memset(ret_call, 0, sizeof(*ret_call));
    (void)h_parse_calls(r->out, ret_call, 1);
    lines = h_audit_load(r->audit_path, err, sizeof(err));
    cr_assert(not(eq(ptr, lines, NULL)), "%s", err);
    return lines;
}

static void expect_key_order(json_t *ev)
{
    static const char *const keys[] = {
        "timestamp",   "processId", "threadId",   "processName", "executable",    "eventName",
        "syscall",     "arch",      "args",       "decision",    "enforcement",   "rule",
        "returnValue", "errno",     "durationNs", "enforced",    "hostProcessId",
    };
    void *it = json_object_iter(ev);
    size_t i = 0;

    for (; it && i < sizeof(keys) / sizeof(keys[0]); it = json_object_iter_next(ev, it), i++)
        cr_expect(eq(str, (char *)json_object_iter_key(it), (char *)keys[i]), "key %zu", i);
    cr_expect(eq(sz, json_object_size(ev), sizeof(keys) / sizeof(keys[0])));
}

static json_t *expect_arg(json_t *args, size_t index, const char *name, const char *type)
{
    json_t *a = json_array_get(args, index); /* borrowed */
    json_t *n, *t, *v;

    cr_assert(eq(int, !!(json_is_object(a)), 1), "args[%zu] missing", index);
    n = json_object_get(a, "name"); /* borrowed, like the two below */
    t = json_object_get(a, "type");
    v = json_object_get(a, "value");
    cr_expect(eq(int, !!(json_is_string(n) && strcmp(json_string_value(n), name) == 0), 1),
              "args[%zu].name", index);
    cr_expect(eq(int, !!(json_is_string(t) && strcmp(json_string_value(t), type) == 0), 1),
              "args[%zu].type is not %s", index, type);
    cr_expect(eq(int, !!(json_is_integer(v)), 1), "args[%zu].value is not an integer", index);
    return a;
}

/* Every field of one event for a call through @route that try-recvmmsg reported as @c. */
static void expect_event(json_t *ev, const struct h_run *r, const struct h_route *route,
                         const struct h_call *c, const char *decision, const char *enforcement,
                         const char *rule)
{
    char exe[PATH_MAX];
    json_t *v, *args, *a;
    size_t base;

    cr_assert(eq(int, !!(json_is_object(ev)), 1));
    expect_key_order(ev);

    v = json_object_get(ev, "timestamp"); /* borrowed, like every json_object_get() here */
    cr_expect(eq(int, !!(json_is_integer(v)), 1), "timestamp is not an integer");
    cr_expect(ge(i64, json_integer_value(v), r->real_start_ns), "timestamp before the run");
    cr_expect(le(i64, json_integer_value(v), r->real_end_ns), "timestamp after the run");

    v = json_object_get(ev, "processId");
    cr_expect(eq(int, !!(json_is_integer(v) && json_integer_value(v) == c->pid), 1),
              "processId != %ld", c->pid);
    v = json_object_get(ev, "threadId");
    cr_expect(eq(int, !!(json_is_integer(v) && json_integer_value(v) == c->tid), 1),
              "threadId != %ld", c->tid);
    v = json_object_get(ev, "processName");
    cr_expect(eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), route->prog) == 0), 1),
              "processName is not %s", route->prog);
    v = json_object_get(ev, "executable");
    cr_assert(not(eq(ptr, realpath(h_prog(route->prog), exe), NULL)));
    cr_expect(eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), exe) == 0), 1),
              "executable is not %s", exe);
    v = json_object_get(ev, "eventName");
    cr_expect(
        eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), route->event_name) == 0), 1),
        "eventName is not %s", route->event_name);
    v = json_object_get(ev, "syscall");
    cr_expect(eq(int, !!(json_is_integer(v) && json_integer_value(v) == route->nr), 1),
              "syscall is not %ld", route->nr);
    v = json_object_get(ev, "arch");
    cr_expect(eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), route->arch) == 0), 1),
              "arch is not %s", route->arch);

    args = json_object_get(ev, "args");
    cr_assert(eq(int, !!(json_is_array(args)), 1), "args is not an array");
    base = 0;
    if (route->nr == 102) {
        a = expect_arg(args, 0, "call", "int");
        cr_expect(eq(i64, json_integer_value(json_object_get(a, "value")), 19));
        base = 1;
    }
    cr_expect(eq(sz, json_array_size(args), base + 5));
    a = expect_arg(args, base, "fd", "int");
    cr_expect(ge(i64, json_integer_value(json_object_get(a, "value")), 3));
    a = expect_arg(args, base + 1, "mmsg", "struct mmsghdr*");
    cr_expect(gt(i64, json_integer_value(json_object_get(a, "value")), 0));
    if (strcmp(route->arch, "i386") == 0)
        cr_expect(le(i64, json_integer_value(json_object_get(a, "value")), 0xffffffff));
    a = expect_arg(args, base + 2, "vlen", "unsigned int");
    cr_expect(eq(i64, json_integer_value(json_object_get(a, "value")), 3));
    a = expect_arg(args, base + 3, "flags", "unsigned int");
    cr_expect(eq(i64, json_integer_value(json_object_get(a, "value")), 0x40));
    v = json_object_get(a, "names");
    cr_expect(eq(int,
                 !!(json_is_array(v) && json_array_size(v) == 1 &&
                    strcmp(json_string_value(json_array_get(v, 0)) ?: "", "MSG_DONTWAIT") == 0),
                 1),
              "flags.names is not [\"MSG_DONTWAIT\"]");
    a = expect_arg(args, base + 4, "timeout", route->timeout_type);
    cr_expect(gt(i64, json_integer_value(json_object_get(a, "value")), 0));
    v = json_object_get(a, "decoded");
    cr_expect(eq(int, !!(json_is_object(v)), 1), "timeout.decoded missing");
    cr_expect(eq(int,
                 !!(json_is_integer(json_object_get(v, "tv_sec")) &&
                    json_integer_value(json_object_get(v, "tv_sec")) == 2),
                 1),
              "decoded.tv_sec is not 2");
    cr_expect(eq(int,
                 !!(json_is_integer(json_object_get(v, "tv_nsec")) &&
                    json_integer_value(json_object_get(v, "tv_nsec")) == 500000000),
                 1),
              "decoded.tv_nsec is not 500000000");
    cr_expect(eq(sz, json_object_size(v), 2));

    v = json_object_get(ev, "decision");
    cr_expect(eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), decision) == 0), 1),
              "decision is not %s", decision);
    v = json_object_get(ev, "enforcement");
    cr_expect(eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), enforcement) == 0), 1),
              "enforcement is not %s", enforcement);
    v = json_object_get(ev, "rule");
    cr_expect(eq(int, !!(json_is_string(v) && strcmp(json_string_value(v), rule) == 0), 1),
              "rule is not %s", rule);
    v = json_object_get(ev, "durationNs");
    cr_expect(eq(int, !!(json_is_integer(v) && json_integer_value(v) > 0), 1),
              "durationNs is not > 0");
}

static void expect_result(json_t *ev, const struct h_call *c)
{
    json_t *rv = json_object_get(ev, "returnValue"); /* borrowed, like errno below */
    json_t *en = json_object_get(ev, "errno");

    cr_expect(eq(int, !!(json_is_integer(rv) && json_integer_value(rv) == c->ret), 1),
              "returnValue is not %ld", c->ret);
    if (c->ret < 0)
        cr_expect(eq(int, !!(json_is_string(en) && strcmp(json_string_value(en), c->err) == 0), 1),
                  "errno is not %s", c->err);
    else
        cr_expect(eq(int, !!(json_is_null(en)), 1), "errno is not null");
}

/* Allow is carried out by CONTINUE (result unknown: null) or, where the broker must not let
 * the kernel re-read inspected memory, by emulation (result known). */
static void expect_allow_line(const char *route_arg)
{
    const struct h_route *route = h_route(route_arg);
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, allow_policy, true, route, std_extra, &c);
    json_t *ev = json_array_get(lines, 0);
    json_t *enf;

    cr_assert(eq(str, c.route, (char *)route_arg), "no call line; stdout: %s", r.out);
    cr_assert(eq(sz, json_array_size(lines), 1), "stderr: %s", r.err);
    enf = json_object_get(ev, "enforcement"); /* borrowed */
    if (json_is_string(enf) && strcmp(json_string_value(enf), "emulate") == 0) {
        expect_event(ev, &r, route, &c, "allow", "emulate", "default");
        expect_result(ev, &c);
    } else {
        expect_event(ev, &r, route, &c, "allow", "continue", "default");
        cr_expect(eq(int, !!(json_is_null(json_object_get(ev, "returnValue"))), 1),
                  "returnValue is not null");
        cr_expect(eq(int, !!(json_is_null(json_object_get(ev, "errno"))), 1), "errno is not null");
    }
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, allow_line_route_337, .timeout = 30)
{
    expect_allow_line("337");
}

Test(audit, allow_line_route_417, .timeout = 30)
{
    expect_allow_line("417");
}

Test(audit, allow_line_route_socketcall, .timeout = 30)
{
    expect_allow_line("sc");
}

Test(audit, allow_line_route_299, .timeout = 30)
{
    expect_allow_line("299");
}

Test(audit, allow_line_route_int80, .timeout = 30)
{
    expect_allow_line("int80");
}

Test(audit, emulate_line_reports_count, .timeout = 30)
{
    const struct h_route *route = h_route("417");
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, emulate_policy, true, route, std_extra, &c);
    json_t *ev = json_array_get(lines, 0);

    cr_assert(eq(long, c.ret, 3), "stdout: %s", r.out);
    cr_assert(eq(sz, json_array_size(lines), 1), "stderr: %s", r.err);
    expect_event(ev, &r, route, &c, "emulate", "emulate", "default");
    expect_result(ev, &c);
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, deny_line_reports_errno, .timeout = 30)
{
    const struct h_route *route = h_route("sc");
    const char policy[] =
        "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"no-sc\","
        "\"match\":{\"syscall\":[\"socketcall\"]},\"action\":\"deny\",\"errno\":\"EPERM\"}]}";
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, policy, true, route, std_extra, &c);
    json_t *ev = json_array_get(lines, 0);

    cr_assert(eq(str, c.err, "EPERM"), "stdout: %s", r.out);
    cr_assert(eq(sz, json_array_size(lines), 1), "stderr: %s", r.err);
    expect_event(ev, &r, route, &c, "deny", "errno", "no-sc");
    expect_result(ev, &c);
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, kill_line_has_null_result, .timeout = 30)
{
    const struct h_route *route = h_route("417");
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, kill_policy, false, route, std_extra, &c);
    json_t *ev = json_array_get(lines, 0);

    cr_assert(eq(sz, json_array_size(lines), 1), "stderr: %s", r.err);
    cr_expect(eq(int,
                 !!(json_is_string(json_object_get(ev, "decision")) &&
                    strcmp(json_string_value(json_object_get(ev, "decision")), "kill") == 0),
                 1),
              "decision is not kill");
    cr_expect(eq(int,
                 !!(json_is_string(json_object_get(ev, "enforcement")) &&
                    strcmp(json_string_value(json_object_get(ev, "enforcement")), "kill") == 0),
                 1),
              "enforcement is not kill");
    cr_expect(eq(int, !!(json_is_null(json_object_get(ev, "returnValue"))), 1),
              "returnValue is not null");
    cr_expect(eq(int, !!(json_is_null(json_object_get(ev, "errno"))), 1), "errno is not null");
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, deny_written_without_audit_all, .timeout = 30)
{
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, deny_policy, false, h_route("337"), std_extra, &c);

    cr_assert(eq(str, c.err, "EPERM"), "stdout: %s", r.out);
    cr_expect(eq(sz, json_array_size(lines), 1));
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, allow_not_written_without_audit_all, .timeout = 30)
{
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, allow_policy, false, h_route("337"), std_extra, &c);

    cr_assert(eq(long, c.ret, 3), "stdout: %s", r.out);
    cr_expect(eq(sz, json_array_size(lines), 0));
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, rule_audit_false_silences_deny, .timeout = 30)
{
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, silent_deny_policy, false, h_route("337"), std_extra, &c);

    cr_assert(eq(str, c.err, "EPERM"), "stdout: %s", r.out);
    cr_expect(eq(sz, json_array_size(lines), 0));
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, rule_audit_true_writes_allow, .timeout = 30)
{
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, loud_allow_policy, false, h_route("299"), std_extra, &c);

    cr_assert(eq(long, c.ret, 3), "stdout: %s", r.out);
    cr_expect(eq(sz, json_array_size(lines), 1));
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, fd_value_and_null_timeout, .timeout = 30)
{
    const char *const extra[] = {"--fd", "99", "--vlen", "2", NULL};
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, emulate_policy, true, h_route("337"), extra, &c);
    json_t *args = json_object_get(json_array_get(lines, 0), "args"); /* borrowed */
    json_t *fd = json_array_get(args, 0), *ts = json_array_get(args, 4);

    cr_assert(eq(str, c.err, "EBADF"), "stdout: %s", r.out);
    cr_assert(eq(sz, json_array_size(lines), 1), "stderr: %s", r.err);
    cr_expect(eq(i64, json_integer_value(json_object_get(fd, "value")), 99));
    cr_expect(eq(int,
                 !!(json_is_integer(json_object_get(ts, "value")) &&
                    json_integer_value(json_object_get(ts, "value")) == 0),
                 1),
              "timeout value is not 0");
    cr_expect(eq(ptr, json_object_get(ts, "decoded"), NULL), "NULL timeout has decoded");
    cr_expect(
        eq(int,
           !!(json_is_integer(json_object_get(json_array_get(lines, 0), "returnValue")) &&
              json_integer_value(json_object_get(json_array_get(lines, 0), "returnValue")) == -1),
           1),
        "returnValue is not -1");
    json_decref(lines);
    h_run_done(&r);
}

Test(audit, unreadable_timeout_not_decoded, .timeout = 30)
{
    const char *const extra[] = {"--timeout", "unreadable", "--send", "1", NULL};
    struct h_run r;
    struct h_call c;
    json_t *lines = run_audited(&r, emulate_policy, true, h_route("337"), extra, &c);
    json_t *ts = json_array_get(json_object_get(json_array_get(lines, 0), "args"), 4);

    cr_assert(eq(str, c.err, "EFAULT"), "stdout: %s", r.out);
    cr_assert(eq(sz, json_array_size(lines), 1), "stderr: %s", r.err);
    cr_expect(gt(i64, json_integer_value(json_object_get(ts, "value")), 0));
    cr_expect(eq(ptr, json_object_get(ts, "decoded"), NULL), "unreadable timeout has decoded");
    json_decref(lines);
    h_run_done(&r);
}
