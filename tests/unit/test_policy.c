/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Evaluation of loaded policies: every match key, first-match order, the inputs each decision
 * reports, decision fields, and the built-in default policy. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "mmsgate/policy.h"
#include "cr-literals.h"

/* The CALL() tables override CALL()'s defaults on purpose. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif

/* Replace ' by " and drop the first '@', reporting its 1-based line:column (0:0 if none).
 * Columns count characters, not UTF-8 continuation bytes. */
static char *test_unquote(const char *sq, int *ret_line, int *ret_column)
{
    char *out = malloc(strlen(sq) + 1);
    int line = 1, column = 1;
    size_t o = 0;

    *ret_line = 0;
    *ret_column = 0;
    if (!out)
        abort();
    for (const char *s = sq; *s; s++) {
        if (*s == '@' && *ret_line == 0) {
            *ret_line = line;
            *ret_column = column;
            continue;
        }
        out[o++] = *s == '\'' ? '"' : *s;
        if (*s == '\n') {
            line++;
            column = 1;
        } else if (((unsigned char)*s & 0xc0) != 0x80) {
            column++;
        }
    }
    out[o] = '\0';
    return out;
}

static int test_load(const char *sq, struct mmsg_policy **ret_policy, struct mmsg_diags *diags)
{
    int line, column, r;
    char *text = test_unquote(sq, &line, &column);

    r = mmsg_policy_load_buffer(text, strlen(text), ret_policy, diags);
    free(text);
    return r;
}

/* A policy whose default allows, with @rules as its rules array body. */
#define POLICY(rules) "{'version': 1, 'default': {'action': 'allow'}, 'rules': [" rules "]}"

enum {
    SYS = MMSG_INPUT_SYSCALL,
    FD = MMSG_INPUT_FD,
    VLEN = MMSG_INPUT_VLEN,
    FLG = MMSG_INPUT_FLAGS,
    TPTR = MMSG_INPUT_TIMEOUT_PTR,
    TVAL = MMSG_INPUT_TIMEOUT_VALUE,
    SOCK = MMSG_INPUT_SOCKET,
    PROC = MMSG_INPUT_PROCESS,
};

/* A plain direct call: fd 3, vlen 4, no flags, NULL timeout, nothing beyond registers known. */
#define CALL(...)                                                                \
    {                                                                            \
        .syscall = MMSG_SYS_RECVMMSG_TIME64, .fd = 3, .mmsg = 0x1000, .vlen = 4, \
        .socket_local_port = -1, __VA_ARGS__                                     \
    }

struct eval_case {
    const char *name;
    const char *policy;
    struct mmsg_call call;
    int rule_index; /* expected; -1 default */
    unsigned inputs;
};

/* Rule 0 denies (EPERM) when it matches, so rule_index alone tells whether the key held. */
#define DENY_IF(match) \
    POLICY("{'name': 'r', 'match': " match ", 'action': 'deny', 'errno': 'EPERM'}")

static const struct eval_case eval_cases[] = {
    /* syscall */
    {"syscall hit", DENY_IF("{'syscall': ['socketcall', 'recvmmsg']}"),
     CALL(.syscall = MMSG_SYS_SOCKETCALL), 0, SYS},
    {"syscall miss", DENY_IF("{'syscall': ['socketcall']}"), CALL(), -1, SYS},
    {"syscall out of enum", DENY_IF("{'syscall': ['socketcall']}"),
     CALL(.syscall = (enum mmsg_syscall)99), -1, SYS},
    /* fd: single numbers and ranges */
    {"fd number", DENY_IF("{'fd': [3, [10, 20]]}"), CALL(.fd = 3), 0, FD},
    {"fd range lo", DENY_IF("{'fd': [3, [10, 20]]}"), CALL(.fd = 10), 0, FD},
    {"fd range hi", DENY_IF("{'fd': [3, [10, 20]]}"), CALL(.fd = 20), 0, FD},
    {"fd outside", DENY_IF("{'fd': [3, [10, 20]]}"), CALL(.fd = 21), -1, FD},
    {"fd negative", DENY_IF("{'fd': [[-100, -1]]}"), CALL(.fd = -9), 0, FD},
    /* vlen */
    {"vlen below", DENY_IF("{'vlen': [2, 8]}"), CALL(.vlen = 1), -1, VLEN},
    {"vlen lo", DENY_IF("{'vlen': [2, 8]}"), CALL(.vlen = 2), 0, VLEN},
    {"vlen hi", DENY_IF("{'vlen': [2, 8]}"), CALL(.vlen = 8), 0, VLEN},
    {"vlen above", DENY_IF("{'vlen': [2, 8]}"), CALL(.vlen = 9), -1, VLEN},
    {"vlen uint32 max", DENY_IF("{'vlen': [1025, 4294967295]}"), CALL(.vlen = UINT32_MAX), 0, VLEN},
    /* flags */
    {"flags any one set", DENY_IF("{'flags': {'any': ['MSG_PEEK', 'MSG_OOB']}}"),
     CALL(.flags = 0x1 | 0x40), 0, FLG},
    {"flags any none set", DENY_IF("{'flags': {'any': ['MSG_PEEK', 'MSG_OOB']}}"),
     CALL(.flags = 0x40), -1, FLG},
    {"flags all set", DENY_IF("{'flags': {'all': ['MSG_PEEK', 'MSG_TRUNC']}}"),
     CALL(.flags = 0x2 | 0x20 | 0x40), 0, FLG},
    {"flags all partly", DENY_IF("{'flags': {'all': ['MSG_PEEK', 'MSG_TRUNC']}}"),
     CALL(.flags = 0x2), -1, FLG},
    {"flags none clear", DENY_IF("{'flags': {'none': ['MSG_DONTWAIT']}}"), CALL(.flags = 0x2), 0,
     FLG},
    {"flags none set", DENY_IF("{'flags': {'none': ['MSG_DONTWAIT']}}"), CALL(.flags = 0x40), -1,
     FLG},
    {"flags compat bit", DENY_IF("{'flags': {'any': ['MSG_CMSG_COMPAT']}}"),
     CALL(.flags = 0x80000000u), 0, FLG},
    {"flags any+all+none",
     DENY_IF("{'flags': {'any': ['MSG_OOB'], 'all': ['MSG_PEEK'], 'none': "
             "['MSG_WAITFORONE']}}"),
     CALL(.flags = 0x3), 0, FLG},
    /* timeout pointer */
    {"timeout null holds", DENY_IF("{'timeout': {'null': true}}"), CALL(), 0, TPTR},
    {"timeout null fails", DENY_IF("{'timeout': {'null': true}}"), CALL(.timeout = 0x2000), -1,
     TPTR},
    {"timeout non-null holds", DENY_IF("{'timeout': {'null': false}}"), CALL(.timeout = 0x2000), 0,
     TPTR},
    /* timeout value: exact nanosecond comparison */
    {"over equal is not over", DENY_IF("{'timeout': {'over_ms': 1000}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = 1), -1, TPTR | TVAL},
    {"over by 1 ns", DENY_IF("{'timeout': {'over_ms': 1000}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = 1, .timeout_nsec = 1), 0,
     TPTR | TVAL},
    {"over sub-ms", DENY_IF("{'timeout': {'over_ms': 0}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_nsec = 1), 0, TPTR | TVAL},
    {"over with unread value", DENY_IF("{'timeout': {'over_ms': 0}}"),
     CALL(.timeout = 0x2000, .timeout_sec = 5), -1, TPTR | TVAL},
    /* issue 8: a NULL pointer fails over_ms/under_ms on the register alone. */
    {"over with NULL pointer", DENY_IF("{'timeout': {'over_ms': 0}}"),
     CALL(.timeout_known = true, .timeout_sec = 5), -1, TPTR},
    {"under with NULL pointer", DENY_IF("{'timeout': {'under_ms': 5}}"), CALL(), -1, TPTR},
    {"over huge sec no overflow", DENY_IF("{'timeout': {'over_ms': 1000}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = INT64_MAX,
          .timeout_nsec = 999999999),
     0, TPTR | TVAL},
    {"over negative sec", DENY_IF("{'timeout': {'over_ms': 0}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = INT64_MIN), -1, TPTR | TVAL},
    {"under just below", DENY_IF("{'timeout': {'under_ms': 1000}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_nsec = 999999999), 0, TPTR | TVAL},
    {"under equal is not under", DENY_IF("{'timeout': {'under_ms': 1000}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = 1), -1, TPTR | TVAL},
    {"over and under window", DENY_IF("{'timeout': {'over_ms': 10, 'under_ms': 20}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_nsec = 15000000), 0, TPTR | TVAL},
    {"null false then value", DENY_IF("{'timeout': {'null': false, 'over_ms': 10}}"),
     CALL(.timeout = 0, .timeout_known = true, .timeout_sec = 1), -1, TPTR},
    /* socket */
    {"socket unknown", DENY_IF("{'socket': {'family': 'inet'}}"), CALL(), -1, SOCK},
    {"socket family hit", DENY_IF("{'socket': {'family': ['unix', 'inet6']}}"),
     CALL(.socket_known = true, .socket_family = AF_INET6), 0, SOCK},
    {"socket family miss", DENY_IF("{'socket': {'family': ['unix', 'inet6']}}"),
     CALL(.socket_known = true, .socket_family = AF_INET), -1, SOCK},
    {"socket family netlink packet", DENY_IF("{'socket': {'family': ['netlink', 'packet']}}"),
     CALL(.socket_known = true, .socket_family = AF_PACKET), 0, SOCK},
    {"socket type hit", DENY_IF("{'socket': {'type': 'dgram'}}"),
     CALL(.socket_known = true, .socket_type = SOCK_DGRAM), 0, SOCK},
    {"socket type miss", DENY_IF("{'socket': {'type': ['stream', 'seqpacket', 'raw']}}"),
     CALL(.socket_known = true, .socket_type = SOCK_DGRAM), -1, SOCK},
    {"socket port hit", DENY_IF("{'socket': {'local_port': [5353, 5353]}}"),
     CALL(.socket_known = true, .socket_local_port = 5353), 0, SOCK},
    {"socket port miss", DENY_IF("{'socket': {'local_port': [5353, 5353]}}"),
     CALL(.socket_known = true, .socket_local_port = 53), -1, SOCK},
    {"socket no port", DENY_IF("{'socket': {'local_port': [0, 65535]}}"),
     CALL(.socket_known = true, .socket_local_port = -1), -1, SOCK},
    {"socket empty means known", DENY_IF("{'socket': {}}"), CALL(.socket_known = true), 0, SOCK},
    /* process */
    {"process unknown", DENY_IF("{'process': {'uid': 0}}"), CALL(), -1, PROC},
    {"process exe glob crosses /", DENY_IF("{'process': {'exe': '/usr/*'}}"),
     CALL(.process_known = true, .exe = "/usr/bin/dig"), 0, PROC},
    {"process exe miss", DENY_IF("{'process': {'exe': '/usr/*'}}"),
     CALL(.process_known = true, .exe = "/opt/x"), -1, PROC},
    {"process exe NULL", DENY_IF("{'process': {'exe': '*'}}"), CALL(.process_known = true), -1,
     PROC},
    {"process comm exact", DENY_IF("{'process': {'comm': 'named'}}"),
     CALL(.process_known = true, .comm = "named"), 0, PROC},
    {"process comm prefix no", DENY_IF("{'process': {'comm': 'name'}}"),
     CALL(.process_known = true, .comm = "named"), -1, PROC},
    {"process uid number", DENY_IF("{'process': {'uid': 1000}}"),
     CALL(.process_known = true, .uid = 1000), 0, PROC},
    {"process uid range", DENY_IF("{'process': {'uid': [1000, 1999]}}"),
     CALL(.process_known = true, .uid = 2000), -1, PROC},
    {"process uid max", DENY_IF("{'process': {'uid': 4294967295}}"),
     CALL(.process_known = true, .uid = UINT32_MAX), 0, PROC},
    /* match absent or empty: every call */
    {"no match key", POLICY("{'name': 'r', 'action': 'deny', 'errno': 'EPERM'}"), CALL(), 0, 0},
    {"empty match", DENY_IF("{}"), CALL(), 0, 0},
    /* inputs: register keys first, stop at the first false key */
    {"register false hides memory",
     DENY_IF("{'socket': {'type': 'dgram'}, 'flags': {'any': "
             "['MSG_PEEK']}}"),
     CALL(.socket_known = true, .socket_type = SOCK_DGRAM), -1, FLG},
    {"register true reads memory",
     DENY_IF("{'socket': {'type': 'dgram'}, 'flags': {'any': "
             "['MSG_PEEK']}}"),
     CALL(.flags = 0x2, .socket_known = true, .socket_type = SOCK_DGRAM), 0, FLG | SOCK},
    {"first false register stops", DENY_IF("{'fd': [9], 'vlen': [1, 1], 'syscall': ['recvmmsg']}"),
     CALL(.syscall = MMSG_SYS_SOCKETCALL), -1, SYS},
    {"timeout value before socket",
     DENY_IF("{'process': {'uid': 0}, 'socket': {}, 'timeout': "
             "{'under_ms': 5}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = 9, .process_known = true,
          .socket_known = true),
     -1, TPTR | TVAL},
    {"socket before process", DENY_IF("{'process': {'uid': 0}, 'socket': {'type': 'raw'}}"),
     CALL(.process_known = true, .socket_known = true, .socket_type = SOCK_DGRAM), -1, SOCK},
    {"all keys consulted",
     DENY_IF("{'syscall': ['recvmmsg_time64'], 'fd': [3], 'vlen': [4, 4], "
             "'flags': {'none': ['MSG_OOB']}, 'timeout': {'null': false, "
             "'over_ms': 0}, 'socket': {}, 'process': {}}"),
     CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = 1, .socket_known = true,
          .process_known = true),
     0, SYS | FD | VLEN | FLG | TPTR | TVAL | SOCK | PROC},
    /* first match decides; inputs accumulate over rules tried */
    {"first match wins",
     POLICY("{'name': 'a', 'match': {'vlen': [0, 10]}, 'action': 'deny', 'errno': 'EPERM'},"
            "{'name': 'b', 'match': {'fd': [3]}, 'action': 'kill'}"),
     CALL(), 0, VLEN},
    {"second rule after miss",
     POLICY("{'name': 'a', 'match': {'vlen': [5, 10]}, 'action': 'deny', 'errno': 'EPERM'},"
            "{'name': 'b', 'match': {'fd': [3]}, 'action': 'kill'}"),
     CALL(), 1, VLEN | FD},
    {"default after all misses",
     POLICY("{'name': 'a', 'match': {'vlen': [5, 10]}, 'action': 'deny', 'errno': 'EPERM'},"
            "{'name': 'b', 'match': {'socket': {}}, 'action': 'kill'}"),
     CALL(), -1, VLEN | SOCK},
};

Test(policy_eval, table)
{
    for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        const struct eval_case *c = &eval_cases[i];
        struct mmsg_policy *p = NULL;
        struct mmsg_diags diags;
        struct mmsg_decision d;

        cr_assert(eq(int, test_load(c->policy, &p, &diags), 0), "case \"%s\": %s", c->name,
                  diags.n_diags ? diags.diag[0].text : "");
        cr_assert(eq(int, mmsg_policy_evaluate(p, &c->call, &d), 0));
        cr_expect(eq(int, d.rule_index, c->rule_index), "case \"%s\"", c->name);
        cr_expect(eq(u32, d.inputs, c->inputs), "case \"%s\"", c->name);
        if (c->rule_index < 0)
            cr_expect(eq(str, (char *)d.rule_name, "default"), "case \"%s\"", c->name);
        mmsg_policy_free(p);
    }
}

struct decision_case {
    const char *name;
    const char *rule; /* the only rule; it matches every call */
    struct mmsg_decision want;
};

static const struct decision_case decision_cases[] = {
    {"allow: no audit, no caps",
     "{'name': 'r', 'action': 'allow'}",
     {.action = MMSG_ACTION_ALLOW, .timeout_cap_ms = -1}},
    {"allow audited",
     "{'name': 'r', 'action': 'allow', 'audit': true}",
     {.action = MMSG_ACTION_ALLOW, .audit = true, .timeout_cap_ms = -1}},
    {"deny audits by default",
     "{'name': 'r', 'action': 'deny', 'errno': 'EACCES'}",
     {.action = MMSG_ACTION_DENY, .errno_value = EACCES, .audit = true, .timeout_cap_ms = -1}},
    {"deny audit off",
     "{'name': 'r', 'action': 'deny', 'errno': 'EWOULDBLOCK', 'audit': false}",
     {.action = MMSG_ACTION_DENY, .errno_value = EAGAIN, .timeout_cap_ms = -1}},
    {"deny alias ENOTSUP",
     "{'name': 'r', 'action': 'deny', 'errno': 'ENOTSUP'}",
     {.action = MMSG_ACTION_DENY, .errno_value = EOPNOTSUPP, .audit = true, .timeout_cap_ms = -1}},
    {"kill audits by default",
     "{'name': 'r', 'action': 'kill'}",
     {.action = MMSG_ACTION_KILL, .audit = true, .timeout_cap_ms = -1}},
    {"emulate without caps",
     "{'name': 'r', 'action': 'emulate'}",
     {.action = MMSG_ACTION_EMULATE, .timeout_cap_ms = -1}},
    {"emulate with every cap",
     "{'name': 'r', 'action': 'emulate', 'timeout_cap_ms': 0, 'vlen_cap': 1024, 'clear_flags': "
     "['MSG_ERRQUEUE', 'MSG_PEEK'], 'comment': 'x'}",
     {.action = MMSG_ACTION_EMULATE,
      .timeout_cap_ms = 0,
      .vlen_cap = 1024,
      .clear_flags = 0x2000 | 0x2}},
    {"emulate cap max",
     "{'name': 'r', 'action': 'emulate', 'timeout_cap_ms': 86400000}",
     {.action = MMSG_ACTION_EMULATE, .timeout_cap_ms = 86400000}},
};

Test(policy_eval, decision_fields)
{
    for (size_t i = 0; i < sizeof(decision_cases) / sizeof(decision_cases[0]); i++) {
        const struct decision_case *c = &decision_cases[i];
        char text[512];
        struct mmsg_policy *p = NULL;
        struct mmsg_decision d;
        struct mmsg_call call = CALL();

        snprintf(text, sizeof(text), POLICY("%s"), c->rule);
        cr_assert(eq(int, test_load(text, &p, NULL), 0), "case \"%s\"", c->name);
        mmsg_policy_evaluate(p, &call, &d);
        cr_expect(eq(int, d.action, c->want.action), "case \"%s\"", c->name);
        cr_expect(eq(int, d.errno_value, c->want.errno_value), "case \"%s\"", c->name);
        cr_expect(eq(int, d.audit, c->want.audit), "case \"%s\"", c->name);
        cr_expect(eq(i64, d.timeout_cap_ms, c->want.timeout_cap_ms), "case \"%s\"", c->name);
        cr_expect(eq(u32, d.vlen_cap, c->want.vlen_cap), "case \"%s\"", c->name);
        cr_expect(eq(u32, d.clear_flags, c->want.clear_flags), "case \"%s\"", c->name);
        cr_expect(eq(str, (char *)d.rule_name, "r"), "case \"%s\"", c->name);
        cr_expect(eq(int, d.rule_index, 0), "case \"%s\"", c->name);
        mmsg_policy_free(p);
    }
}

Test(policy_eval, default_decision_carries_its_keys)
{
    struct mmsg_policy *p = NULL;
    struct mmsg_decision d;
    struct mmsg_call call = CALL();

    cr_assert(eq(int,
                 test_load("{'version': 1, 'default': {'action': 'emulate', 'vlen_cap': 8, "
                           "'audit': true}, 'drop_caps': true}",
                           &p, NULL),
                 0));
    mmsg_policy_evaluate(p, &call, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_EMULATE));
    cr_expect(eq(int, d.rule_index, -1));
    cr_expect(eq(str, (char *)d.rule_name, "default"));
    cr_expect(eq(u32, d.vlen_cap, 8));
    cr_expect(eq(int, d.audit, 1));
    cr_expect(eq(u32, d.inputs, 0));
    cr_expect(eq(int, mmsg_policy_drop_caps(p), 1));
    cr_expect(eq(sz, mmsg_policy_n_rules(p), 0));
    mmsg_policy_free(p);
}

/* issue 8: knotd's recvmmsg_time64(fd, v, 10, MSG_DONTWAIT, NULL) under a policy with an
 * over_ms rule was decided "allow" with TIMEOUT_VALUE among its inputs, so the broker emulated
 * it although it read no caller memory. The allow must rest on registers alone. */
Test(policy_eval, null_timeout_allow_rests_on_registers)
{
    struct mmsg_policy *p = NULL;
    struct mmsg_decision d;
    struct mmsg_call knotd = CALL(.vlen = 10, .flags = 0x40);

    cr_assert(eq(int,
                 test_load(POLICY("{'name': 'cap-long-waits', 'match': {'timeout': {'over_ms': "
                                  "1000}}, 'action': 'emulate', 'timeout_cap_ms': 1000}"),
                           &p, NULL),
                 0));
    mmsg_policy_evaluate(p, &knotd, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_ALLOW));
    cr_expect(eq(u32, d.inputs & ~(unsigned)MMSG_INPUT_REGISTERS, 0));
    mmsg_policy_free(p);
}

Test(policy_api, inputs_union_and_per_rule)
{
    struct mmsg_policy *p = NULL;

    cr_assert(eq(int,
                 test_load(POLICY("{'name': 'a', 'match': {'fd': [1]}, 'action': 'allow'},"
                                  "{'name': 'b', 'match': {'timeout': {'over_ms': 5}}, "
                                  "'action': 'allow'},"
                                  "{'name': 'c', 'action': 'allow'}"),
                           &p, NULL),
                 0));
    cr_expect(eq(sz, mmsg_policy_n_rules(p), 3));
    cr_expect(eq(u32, mmsg_policy_rule_inputs(p, 0), FD));
    cr_expect(eq(u32, mmsg_policy_rule_inputs(p, 1), TPTR | TVAL));
    cr_expect(eq(u32, mmsg_policy_rule_inputs(p, 2), 0));
    cr_expect(eq(u32, mmsg_policy_rule_inputs(p, 3), 0));
    cr_expect(eq(u32, mmsg_policy_inputs(p), FD | TPTR | TVAL));
    cr_expect(eq(int, mmsg_policy_drop_caps(p), 0));
    mmsg_policy_free(p);
}

Test(policy_api, free_null)
{
    cr_expect(eq(ptr, mmsg_policy_free(NULL), NULL));
}

/* issues 8 and 10: what real services do must neither cost a broker round trip (knotd's
 * MSG_DONTWAIT batches) nor be denied or audited for nothing (chronyd's error queue and its
 * flags-0 calls on O_NONBLOCK sockets), while a call that may block is still bounded. */
Test(policy_default, validates_and_decides)
{
    const char *text = mmsg_policy_default_json();
    struct mmsg_policy *p = NULL;
    struct mmsg_diags diags;
    struct mmsg_decision d;
    struct mmsg_call knotd = CALL(.vlen = 10, .flags = 0x40);
    struct mmsg_call dontwait_timeout = CALL(.flags = 0x40, .timeout = 0x2000);
    struct mmsg_call errq = CALL(.flags = 0x2000);
    struct mmsg_call errq_dontwait = CALL(.flags = 0x2000 | 0x40);
    struct mmsg_call chronyd = CALL();
    struct mmsg_call long_wait = CALL(.timeout = 0x2000, .timeout_known = true, .timeout_sec = 2);
    struct mmsg_call short_wait =
        CALL(.timeout = 0x2000, .timeout_known = true, .timeout_nsec = 500000000);

    cr_assert(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, &diags), 0));
    cr_expect(eq(sz, mmsg_policy_n_rules(p), 2));
    cr_expect(eq(int, mmsg_policy_drop_caps(p), 0));
    /* Registers only: the broker never needs to read a timeout, a socket or /proc. */
    cr_expect(eq(u32, mmsg_policy_inputs(p), FLG));

    mmsg_policy_evaluate(p, &knotd, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_ALLOW));
    cr_expect(eq(str, (char *)d.rule_name, "nonblocking-calls"));
    cr_expect(eq(int, d.audit, 0));
    cr_expect(eq(u32, d.inputs, FLG));

    mmsg_policy_evaluate(p, &dontwait_timeout, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_ALLOW));
    cr_expect(eq(u32, d.inputs, FLG));

    mmsg_policy_evaluate(p, &errq_dontwait, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_ALLOW));

    /* The error queue is never denied: a denied readable error queue makes chronyd spin. */
    mmsg_policy_evaluate(p, &errq, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_EMULATE));
    cr_expect(eq(int, d.audit, 0));

    mmsg_policy_evaluate(p, &chronyd, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_EMULATE));
    cr_expect(eq(str, (char *)d.rule_name, "cap-waits"));
    cr_expect(eq(i64, d.timeout_cap_ms, 1000));
    cr_expect(eq(int, d.audit, 0));
    cr_expect(eq(int, d.audit_if_capped, 1));

    mmsg_policy_evaluate(p, &long_wait, &d);
    cr_expect(eq(str, (char *)d.rule_name, "cap-waits"));
    cr_expect(eq(i64, d.timeout_cap_ms, 1000));

    /* A short timeout does not bound the wait for the first datagram: capped too. */
    mmsg_policy_evaluate(p, &short_wait, &d);
    cr_expect(eq(int, d.action, MMSG_ACTION_EMULATE));
    cr_expect(eq(i64, d.timeout_cap_ms, 1000));
    mmsg_policy_free(p);
}

Test(policy_load, file_reads_whole_stream)
{
    const char *text = mmsg_policy_default_json();
    FILE *f = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
    struct mmsg_policy *p = NULL;

    cr_assert(ne(ptr, f, NULL));
    cr_expect(eq(int, mmsg_policy_load_file(f, &p, NULL), 0));
    cr_expect(eq(sz, mmsg_policy_n_rules(p), 2));
    mmsg_policy_free(p);
    fclose(f);
}

Test(policy_load, file_over_16_mib_is_efbig)
{
    size_t len = 16u * 1024 * 1024 + 1;
    char *big = malloc(len);
    FILE *f;
    struct mmsg_policy *p = NULL;

    cr_assert(ne(ptr, big, NULL));
    memset(big, ' ', len);
    f = fmemopen(big, len, "r");
    cr_assert(ne(ptr, f, NULL));
    cr_expect(eq(int, mmsg_policy_load_file(f, &p, NULL), -EFBIG));
    cr_expect(eq(ptr, p, NULL));
    fclose(f);
    free(big);
}

Test(policy_load, unterminated_buffer_is_not_overread)
{
    /* The declared length ends before the closing brace: a parser reading to a NUL would
     * accept it. */
    const char text[] = "{\"version\": 1, \"default\": {\"action\": \"allow\"}}";
    struct mmsg_policy *p = NULL;

    cr_expect(eq(int, mmsg_policy_load_buffer(text, sizeof(text) - 2, &p, NULL), -EINVAL));
    cr_expect(eq(int, mmsg_policy_load_buffer(text, sizeof(text) - 1, &p, NULL), 0));
    mmsg_policy_free(p);
}

/* Every error class, with the exact position (the '@' in the policy), path and text. */
struct error_case {
    const char *policy;
    const char *path;
    const char *text;
};

#define MIN_HEAD "{'version': 1, 'default': {'action': 'allow'}, "
#define RULE(body) POLICY("{'name': 'r', " body "}")
#define MATCH(m) RULE("'action': 'allow', 'match': " m)

static const struct error_case error_cases[] = {
    /* top level */
    {"@[]", "", "expected a policy object, got an array"},
    {"@{'default': {'action': 'allow'}}", "", "missing required key \"version\""},
    {"{'version': @2, 'default': {'action': 'allow'}}", "version",
     "unsupported version 2 (expected 1)"},
    {"{'version': @'1', 'default': {'action': 'allow'}}", "version",
     "expected an integer, got a string"},
    {"{'version': @1.0, 'default': {'action': 'allow'}}", "version",
     "expected an integer, got a real number"},
    {"@{'version': 1}", "", "missing required key \"default\""},
    {MIN_HEAD "@'rule': []}", "rule",
     "unknown key \"rule\" (expected one of: version, default, rules, drop_caps, description, "
     "mode)"},
    {MIN_HEAD "'drop_caps': @1}", "drop_caps", "expected a boolean, got an integer"},
    {MIN_HEAD "'description': @null}", "description", "expected a string, got null"},
    {MIN_HEAD "'rules': @{}}", "rules", "expected an array of rules, got an object"},
    /* default */
    {"{'version': 1, 'default': @'allow'}", "default", "expected an object, got a string"},
    {"{'version': 1, 'default': @{}}", "default", "missing required key \"action\""},
    {"{'version': 1, 'default': {'action': 'allow', @'name': 'x'}}", "default.name",
     "unknown key \"name\" (expected one of: action, errno, audit, timeout_cap_ms, vlen_cap, "
     "clear_flags, comment, mode)"},
    {"{'version': 1, 'default': {'action': 'allow', @'match': {}}}", "default.match",
     "unknown key \"match\" (expected one of: action, errno, audit, timeout_cap_ms, vlen_cap, "
     "clear_flags, comment, mode)"},
    {"{'version': 1, 'default': @{'action': 'deny'}}", "default",
     "missing required key \"errno\" (action deny needs an errno name)"},
    /* rule shape and name */
    {POLICY("@'r'"), "rules[0]", "expected a rule object, got a string"},
    {POLICY("@{'action': 'allow'}"), "rules[0]", "missing required key \"name\""},
    {POLICY("{'name': @'', 'action': 'allow'}"), "rules[0].name",
     "rule name must be 1..63 characters, got 0"},
    {POLICY("{'name': @'a234567890123456789012345678901234567890123456789012345678901234', "
            "'action': 'allow'}"),
     "rules[0].name", "rule name must be 1..63 characters, got 64"},
    {POLICY("{'name': @'a b', 'action': 'allow'}"), "rules[0].name",
     "rule name \"a b\" may only use A-Z a-z 0-9 _ . -"},
    {POLICY("{'name': @'default', 'action': 'allow'}"), "rules[0].name",
     "rule name \"default\" is reserved for the default action"},
    {POLICY("{'name': 'x', 'action': 'allow'}, {'name': @'x', 'action': 'allow'}"), "rules[1].name",
     "duplicate rule name \"x\" (first used by rules[0])"},
    {POLICY("{'name': 'r', 'action': 'allow', @'audti': true}"), "rules[0].audti",
     "unknown key \"audti\" (expected one of: name, match, action, errno, audit, timeout_cap_ms, "
     "vlen_cap, clear_flags, comment, mode)"},
    /* action and its keys */
    {POLICY("@{'name': 'r'}"), "rules[0]", "missing required key \"action\""},
    {RULE("'action': @'drop'"), "rules[0].action",
     "unknown action \"drop\" (expected one of: allow, deny, emulate, kill)"},
    {RULE("'action': @3"), "rules[0].action", "expected a string, got an integer"},
    {RULE("'action': 'deny', 'errno': @'EPRM'"), "rules[0].errno", "unknown errno name \"EPRM\""},
    {RULE("'action': 'deny', 'errno': @1"), "rules[0].errno", "expected a string, got an integer"},
    {RULE("'action': 'allow', 'errno': @'EPERM'"), "rules[0].errno",
     "\"errno\" is only for action deny, not allow"},
    {POLICY("@{'name': 'r', 'action': 'deny'}"), "rules[0]",
     "missing required key \"errno\" (action deny needs an errno name)"},
    {RULE("'action': 'kill', 'audit': @'yes'"), "rules[0].audit",
     "unknown audit mode \"yes\" (expected true, false or \"capped\")"},
    {RULE("'action': 'kill', 'audit': @3"), "rules[0].audit",
     "expected a boolean or \"capped\", got an integer"},
    {RULE("'action': 'allow', 'audit': @'capped'"), "rules[0].audit",
     "\"audit\": \"capped\" needs action emulate with timeout_cap_ms"},
    {RULE("'action': 'emulate', 'vlen_cap': 2, 'audit': @'capped'"), "rules[0].audit",
     "\"audit\": \"capped\" needs action emulate with timeout_cap_ms"},
    {RULE("'action': 'deny', 'errno': 'EPERM', 'timeout_cap_ms': @5"), "rules[0].timeout_cap_ms",
     "\"timeout_cap_ms\" is only for action emulate, not deny"},
    {RULE("'action': 'allow', 'vlen_cap': @5"), "rules[0].vlen_cap",
     "\"vlen_cap\" is only for action emulate, not allow"},
    {RULE("'action': 'kill', 'clear_flags': @['MSG_PEEK']"), "rules[0].clear_flags",
     "\"clear_flags\" is only for action emulate, not kill"},
    {RULE("'action': 'emulate', 'timeout_cap_ms': @86400001"), "rules[0].timeout_cap_ms",
     "out of range: 86400001 (expected 0..86400000)"},
    {RULE("'action': 'emulate', 'timeout_cap_ms': @-1"), "rules[0].timeout_cap_ms",
     "out of range: -1 (expected 0..86400000)"},
    {RULE("'action': 'emulate', 'vlen_cap': @0"), "rules[0].vlen_cap",
     "out of range: 0 (expected 1..1024)"},
    {RULE("'action': 'emulate', 'vlen_cap': @1025"), "rules[0].vlen_cap",
     "out of range: 1025 (expected 1..1024)"},
    {RULE("'action': 'emulate', 'clear_flags': @[]"), "rules[0].clear_flags",
     "empty array: give at least one element"},
    {RULE("'action': 'emulate', 'clear_flags': ['MSG_PEEK', @'MSG_PEKE']"),
     "rules[0].clear_flags[1]", "unknown flag name \"MSG_PEKE\""},
    {RULE("'action': 'allow', 'comment': @[]"), "rules[0].comment",
     "expected a string, got an array"},
    /* match */
    {MATCH("@[]"), "rules[0].match", "expected an object, got an array"},
    {MATCH("{@'flgs': {}}"), "rules[0].match.flgs",
     "unknown key \"flgs\" (expected one of: syscall, fd, vlen, flags, timeout, socket, process)"},
    {MATCH("{@'\\u0066lgs': {}}"), "rules[0].match.flgs",
     "unknown key \"flgs\" (expected one of: syscall, fd, vlen, flags, timeout, socket, process)"},
    {MATCH("{'syscall': @[]}"), "rules[0].match.syscall", "empty array: give at least one element"},
    {MATCH("{'syscall': @'recvmmsg'}"), "rules[0].match.syscall",
     "expected an array of syscall names, got a string"},
    {MATCH("{'syscall': ['recvmmsg', @'recvmsg']}"), "rules[0].match.syscall[1]",
     "unknown syscall \"recvmsg\" (expected one of: recvmmsg_time32, recvmmsg_time64, "
     "socketcall, recvmmsg)"},
    {MATCH("{'syscall': ['socketcall', @'socketcall']}"), "rules[0].match.syscall[1]",
     "duplicate syscall \"socketcall\""},
    {MATCH("{'fd': @[]}"), "rules[0].match.fd", "empty array: give at least one element"},
    {MATCH("{'fd': [1, @'2']}"), "rules[0].match.fd[1]",
     "expected an fd number or a [lo, hi] range, got a string"},
    {MATCH("{'fd': [1, @[5, 2]]}"), "rules[0].match.fd[1]", "impossible range: 5 > 2"},
    {MATCH("{'fd': [@2147483648]}"), "rules[0].match.fd[0]",
     "out of range: 2147483648 (expected -2147483648..2147483647)"},
    {MATCH("{'fd': [[0, @-2147483649]]}"), "rules[0].match.fd[0][1]",
     "out of range: -2147483649 (expected -2147483648..2147483647)"},
    {MATCH("{'fd': [@[1, 2, 3]]}"), "rules[0].match.fd[0]",
     "expected a [lo, hi] array of 2 integers, got 3 elements"},
    {MATCH("{'vlen': @[10, 5]}"), "rules[0].match.vlen", "impossible range: 10 > 5"},
    {MATCH("{'vlen': [@-1, 5]}"), "rules[0].match.vlen[0]",
     "out of range: -1 (expected 0..4294967295)"},
    {MATCH("{'vlen': [1, @4294967296]}"), "rules[0].match.vlen[1]",
     "out of range: 4294967296 (expected 0..4294967295)"},
    {MATCH("{'vlen': [@1.5, 2]}"), "rules[0].match.vlen[0]",
     "expected an integer, got a real number"},
    {MATCH("{'vlen': @7}"), "rules[0].match.vlen", "expected a [lo, hi] array, got an integer"},
    {MATCH("{'flags': @{}}"), "rules[0].match.flags",
     "empty flags object: give at least one of any, all, none"},
    {MATCH("{'flags': {@'some': ['MSG_PEEK']}}"), "rules[0].match.flags.some",
     "unknown key \"some\" (expected one of: any, all, none)"},
    {MATCH("{'flags': {'any': @[]}}"), "rules[0].match.flags.any",
     "empty array: give at least one element"},
    {MATCH("{'flags': {'any': ['MSG_PEEK', @'MSG_PEKE']}}"), "rules[0].match.flags.any[1]",
     "unknown flag name \"MSG_PEKE\""},
    {MATCH("{'flags': {'all': ['MSG_PEEK', @'MSG_PEEK']}}"), "rules[0].match.flags.all[1]",
     "duplicate flag MSG_PEEK"},
    {MATCH("{'flags': {'all': [@64]}}"), "rules[0].match.flags.all[0]",
     "expected a string, got an integer"},
    {MATCH("{'flags': {'all': ['MSG_PEEK', 'MSG_OOB'], 'none': @['MSG_OOB']}}"),
     "rules[0].match.flags.none", "impossible match: MSG_OOB in both \"all\" and \"none\""},
    {MATCH("{'flags': {'any': ['MSG_OOB'], 'none': @['MSG_OOB', 'MSG_EOR']}}"),
     "rules[0].match.flags.none", "impossible match: every flag of \"any\" is in \"none\""},
    {MATCH("{'timeout': @{}}"), "rules[0].match.timeout",
     "empty timeout object: give at least one of null, over_ms, under_ms"},
    {MATCH("{'timeout': {'null': @0}}"), "rules[0].match.timeout.null",
     "expected a boolean, got an integer"},
    {MATCH("{'timeout': {'null': @true, 'over_ms': 5}}"), "rules[0].match.timeout.null",
     "impossible match: a NULL timeout has no value for over_ms/under_ms"},
    {MATCH("{'timeout': {'over_ms': 5, 'under_ms': @5}}"), "rules[0].match.timeout.under_ms",
     "impossible range: over_ms 5 >= under_ms 5"},
    {MATCH("{'timeout': {'over_ms': @-1}}"), "rules[0].match.timeout.over_ms",
     "out of range: -1 (expected 0..9223372036854775807)"},
    {MATCH("{'timeout': {@'over': 1}}"), "rules[0].match.timeout.over",
     "unknown key \"over\" (expected one of: null, over_ms, under_ms)"},
    {MATCH("{'socket': @'udp'}"), "rules[0].match.socket", "expected an object, got a string"},
    {MATCH("{'socket': {'family': @'ipx'}}"), "rules[0].match.socket.family",
     "unknown socket family \"ipx\""},
    {MATCH("{'socket': {'family': @[]}}"), "rules[0].match.socket.family",
     "empty array: give at least one element"},
    {MATCH("{'socket': {'type': ['dgram', @'dgram']}}"), "rules[0].match.socket.type[1]",
     "duplicate socket type \"dgram\""},
    {MATCH("{'socket': {'type': @2}}"), "rules[0].match.socket.type",
     "expected a string or an array of strings, got an integer"},
    {MATCH("{'socket': {'local_port': [0, @65536]}}"), "rules[0].match.socket.local_port[1]",
     "out of range: 65536 (expected 0..65535)"},
    {MATCH("{'socket': {'local_port': @[53, 0]}}"), "rules[0].match.socket.local_port",
     "impossible range: 53 > 0"},
    {MATCH("{'socket': {@'port': [1, 2]}}"), "rules[0].match.socket.port",
     "unknown key \"port\" (expected one of: family, type, local_port)"},
    {MATCH("{'process': {'comm': @'abcdefghijklmnop'}}"), "rules[0].match.process.comm",
     "comm must be 1..15 characters (the kernel truncates it), got 16"},
    {MATCH("{'process': {'exe': @''}}"), "rules[0].match.process.exe", "empty exe pattern"},
    {MATCH("{'process': {'uid': @-1}}"), "rules[0].match.process.uid",
     "out of range: -1 (expected 0..4294967295)"},
    {MATCH("{'process': {'uid': @[10, 1]}}"), "rules[0].match.process.uid",
     "impossible range: 10 > 1"},
    {MATCH("{'process': {@'pid': 1}}"), "rules[0].match.process.pid",
     "unknown key \"pid\" (expected one of: exe, comm, uid)"},
    /* positions after multi-line text, escapes and non-ASCII characters */
    {"{\n  'version': 1,\n  'description': 'caf\xc3\xa9 \\\" \\u00e9 [{',\n  'default': "
     "{'action': @'alow'}\n}",
     "default.action", "unknown action \"alow\" (expected one of: allow, deny, emulate, kill)"},
    {"{'description': '\xc3\xa9\xc3\xa9', @'x y': 1, 'version': 1, 'default': {'action': 'allow'}}",
     "[\"x y\"]",
     "unknown key \"x y\" (expected one of: version, default, rules, drop_caps, description, "
     "mode)"},
    {"{'version': 1, 'default': {'action': 'allow'}, @'\\u00e9\\n': 0}", "[\"\\xc3\\xa9\\x0a\"]",
     "unknown key \"\\xc3\\xa9\\x0a\" (expected one of: version, default, rules, drop_caps, "
     "description, mode)"},
};

Test(policy_errors, table)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        int line, column;
        char *text = test_unquote(c->policy, &line, &column);
        struct mmsg_policy *p = NULL;
        struct mmsg_diags diags;
        int r;

        r = mmsg_policy_load_buffer(text, strlen(text), &p, &diags);
        cr_expect(eq(int, r, -EINVAL), "case %zu: %s", i, text);
        cr_expect(eq(ptr, p, NULL));
        cr_expect(eq(u32, diags.n_diags, 1), "case %zu: %s", i, text);
        if (diags.n_diags >= 1) {
            cr_expect(eq(str, diags.diag[0].text, (char *)c->text), "case %zu", i);
            cr_expect(eq(str, diags.diag[0].path, (char *)c->path), "case %zu", i);
            cr_expect(eq(int, diags.diag[0].line, line), "case %zu: %s", i, diags.diag[0].text);
            cr_expect(eq(int, diags.diag[0].column, column), "case %zu: %s", i, diags.diag[0].text);
        }
        mmsg_policy_free(p);
        free(text);
    }
}

Test(policy_errors, syntax_error_uses_jansson_position)
{
    const char text[] = "{\n  \"version\": 1,\n}";
    struct mmsg_diags diags;
    struct mmsg_policy *p = NULL;

    cr_expect(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, &diags), -EINVAL));
    cr_assert(eq(u32, diags.n_diags, 1));
    cr_expect(eq(int, diags.diag[0].line, 3));
    cr_expect(eq(int, diags.diag[0].column, 1));
    cr_expect(eq(str, diags.diag[0].path, ""));
    cr_expect(ne(ptr, strstr(diags.diag[0].text, "expected"), NULL), "%s", diags.diag[0].text);
}

Test(policy_errors, duplicate_key_is_rejected)
{
    int line, column;
    char *text = test_unquote("{'version': 1, 'default': {'action': 'allow', 'action': 'kill'}}",
                              &line, &column);
    struct mmsg_diags diags;
    struct mmsg_policy *p = NULL;

    cr_expect(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, &diags), -EINVAL));
    cr_assert(eq(u32, diags.n_diags, 1));
    cr_expect(eq(int, diags.diag[0].line, 1));
    cr_expect(ne(ptr, strstr(diags.diag[0].text, "duplicate"), NULL), "%s", diags.diag[0].text);
    free(text);
}

Test(policy_errors, every_error_in_source_order)
{
    /* The default's missing errno is found after the rules' errors in validation order but
     * comes first in the text. */
    static const char policy[] =
        "{\n"
        "  'rules': [\n"
        "    {'name': 'a', 'action': 'allow', 'match': {'vlen': [9, 1]}},\n"
        "    {'name': 'a', 'action': 'deny', 'errno': 'EPRM'}\n"
        "  ],\n"
        "  'version': 3,\n"
        "  'default': {'action': 'deny'}\n"
        "}\n";
    static const struct {
        int line, column;
        const char *path;
    } want[] = {
        {3, 56, "rules[0].match.vlen"},
        {4, 14, "rules[1].name"},
        {4, 46, "rules[1].errno"},
        {6, 14, "version"},
        {7, 14, "default"},
    };
    int line, column;
    char *text = test_unquote(policy, &line, &column);
    struct mmsg_diags diags;
    struct mmsg_policy *p = NULL;

    cr_expect(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, &diags), -EINVAL));
    cr_assert(eq(u32, diags.n_diags, 5));
    cr_expect(eq(u32, diags.n_dropped, 0));
    for (size_t i = 0; i < 5; i++) {
        cr_expect(eq(int, diags.diag[i].line, want[i].line), "diag %zu: %s", i, diags.diag[i].text);
        cr_expect(eq(int, diags.diag[i].column, want[i].column), "diag %zu: %s", i,
                  diags.diag[i].text);
        cr_expect(eq(str, diags.diag[i].path, (char *)want[i].path), "diag %zu", i);
    }
    free(text);
}

Test(policy_errors, beyond_limit_are_counted)
{
    char text[4096];
    size_t off;
    struct mmsg_diags diags;
    struct mmsg_policy *p = NULL;

    off = (size_t)snprintf(text, sizeof(text),
                           "{\"version\": 1, \"default\": {\"action\": \"allow\"}");
    for (int i = 0; i < MMSG_DIAGS_MAX + 6; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, ", \"k%d\": 0", i);
    snprintf(text + off, sizeof(text) - off, "}");

    cr_expect(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, &diags), -EINVAL));
    cr_expect(eq(u32, diags.n_diags, MMSG_DIAGS_MAX));
    cr_expect(eq(u32, diags.n_dropped, 6));
    cr_expect(eq(str, diags.diag[0].path, "k0"));
}

Test(policy_errors, null_diags_still_fails)
{
    struct mmsg_policy *p = NULL;

    cr_expect(eq(int, test_load("{'version': 1}", &p, NULL), -EINVAL));
    cr_expect(eq(int, test_load("{", &p, NULL), -EINVAL));
    cr_expect(eq(ptr, p, NULL));
}

static void expect_valid_text(const char *what, const char *text, size_t len)
{
    struct mmsg_policy *p = NULL;
    struct mmsg_diags diags = {0};
    int r = mmsg_policy_load_buffer(text, len, &p, &diags);

    cr_expect(eq(int, r, 0), "%s: %d:%d %s: %s", what, diags.n_diags ? diags.diag[0].line : 0,
              diags.n_diags ? diags.diag[0].column : 0, diags.n_diags ? diags.diag[0].path : "",
              diags.n_diags ? diags.diag[0].text : "");
    mmsg_policy_free(p);
}

Test(policy_examples, every_example_and_the_default_validate)
{
    DIR *dir = opendir(MMSG_EXAMPLES_POLICIES_DIR);
    struct dirent *de;
    size_t n = 0;

    expect_valid_text("default", mmsg_policy_default_json(), strlen(mmsg_policy_default_json()));
    cr_assert(ne(ptr, dir, NULL), "%s", MMSG_EXAMPLES_POLICIES_DIR);
    while ((de = readdir(dir))) {
        char path[4096];
        FILE *f;
        struct mmsg_policy *p = NULL;
        struct mmsg_diags diags = {0};

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", MMSG_EXAMPLES_POLICIES_DIR, de->d_name);
        f = fopen(path, "re");
        cr_assert(ne(ptr, f, NULL), "%s", path);
        cr_expect(eq(int, mmsg_policy_load_file(f, &p, &diags), 0), "%s: %d:%d %s: %s", path,
                  diags.n_diags ? diags.diag[0].line : 0, diags.n_diags ? diags.diag[0].column : 0,
                  diags.n_diags ? diags.diag[0].path : "", diags.n_diags ? diags.diag[0].text : "");
        mmsg_policy_free(p);
        fclose(f);
        n++;
    }
    closedir(dir);
    /* A missing directory or a renamed file must not pass silently. */
    cr_expect(ge(sz, n, 4));
}
