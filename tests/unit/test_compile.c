/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy compiler (issue 8): for every register input of every route, the leaf of the
 * compiled tree agrees with mmsg_policy_evaluate(), and every decision registers alone make
 * (allow, deny, kill, not audited) is a kernel leaf. Pure: the live proof that the loaded BPF
 * follows the tree is tests/integration/test_kernel_path.c. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "mmsgate/policy.h"

#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wincompatible-pointer-types-discards-qualifiers"
#else
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#endif

static const int32_t fds[] = {INT32_MIN, -1, 0, 3, 4, 5, 6, 999, 1000, 2000, 2001, INT32_MAX};
static const uint32_t vlens[] = {0, 1, 2, 8, 9, 64, 65, 1024, 1025, UINT32_MAX};
/* Each flag bit alone, none, and combinations the test policies care about. */
static const uint32_t flag_sets[] = {
    0,
    0x1,
    0x2,
    0x4,
    0x8,
    0x10,
    0x20,
    0x40,
    0x80,
    0x100,
    0x200,
    0x400,
    0x800,
    0x1000,
    0x2000,
    0x4000,
    0x8000,
    0x10000,
    0x40000,
    0x4000000,
    0x20000000,
    0x40000000,
    0x80000000,
    0x40 | 0x2,
    0x40 | 0x2000,
    0x1 | 0x20,
    0x1 | 0x20 | 0x40,
    0x2 | 0x20,
    0x80000040,
    0x80000002,
    0x10000 | 0x40,
    0xffffffff,
};

/* Timeout: NULL, a short and a long value (so a kernel leaf provably ignores the value), and a
 * non-NULL pointer whose value could not be read. */
struct tcase {
    uint64_t ptr;
    bool known;
    int64_t sec;
};
static const struct tcase timeouts[] = {
    {0, false, 0}, {0x2000, true, 0}, {0x2000, true, 3600}, {0x2000, false, 0}};

static bool decision_is_register_only(const struct mmsg_decision *d, enum mmsg_syscall sys)
{
    unsigned regs = sys == MMSG_SYS_SOCKETCALL ? MMSG_INPUT_SYSCALL : MMSG_INPUT_REGISTERS;

    return (d->inputs & ~regs) == 0;
}

/* Check every input of every route against @p; return how many kernel leaves were reached. */
static size_t check_policy(const char *what, const struct mmsg_policy *p, unsigned flags)
{
    struct mmsg_kprog *prog = NULL;
    size_t n_kernel = 0;

    cr_assert(eq(int, mmsg_policy_compile(p, flags, &prog), 0), "%s", what);
    for (int sys = 0; sys < MMSG_SYS_MAX_; sys++)
        for (size_t a = 0; a < sizeof(fds) / sizeof(fds[0]); a++)
            for (size_t b = 0; b < sizeof(vlens) / sizeof(vlens[0]); b++)
                for (size_t c = 0; c < sizeof(flag_sets) / sizeof(flag_sets[0]); c++)
                    for (size_t t = 0; t < sizeof(timeouts) / sizeof(timeouts[0]); t++) {
                        /* The broker strips MSG_CMSG_COMPAT from i386 callers' flags. */
                        uint32_t fl =
                            flag_sets[c] & (sys == MMSG_SYS_RECVMMSG ? ~0u : ~0x80000000u);
                        struct mmsg_call call = {
                            .syscall = (enum mmsg_syscall)sys,
                            .fd = fds[a],
                            .vlen = vlens[b],
                            .flags = fl,
                            .timeout = timeouts[t].ptr,
                            .timeout_known = timeouts[t].known,
                            .timeout_sec = timeouts[t].sec,
                            .socket_local_port = -1,
                        };
                        const struct mmsg_knode *leaf = mmsg_kprog_decide(
                            prog, call.syscall, call.fd, call.vlen, call.flags, call.timeout == 0);
                        struct mmsg_decision d;
                        bool kernel_expected;

                        cr_assert(ne(ptr, (void *)leaf, NULL));
                        cr_assert(eq(int, leaf->test, MMSG_KTEST_LEAF));
                        mmsg_policy_evaluate(p, &call, &d);
                        kernel_expected = sys != MMSG_SYS_SOCKETCALL &&
                                          decision_is_register_only(&d, call.syscall) &&
                                          d.action != MMSG_ACTION_EMULATE && !d.audit &&
                                          d.enforce && !d.audit_if_capped &&
                                          !(flags & MMSG_COMPILE_AUDIT_ALL) &&
                                          leaf->why != MMSG_KWHY_TOO_LARGE;
                        if (leaf->verdict == MMSG_KVERDICT_NOTIFY) {
                            /* Completeness: what registers decide is never sent to the broker. */
                            cr_expect(not(kernel_expected),
                                      "%s: sys %d fd %d vlen %u flags 0x%x timeout %d: notified, "
                                      "but rule %d decides it from registers",
                                      what, sys, call.fd, call.vlen, call.flags, (int)t,
                                      d.rule_index);
                            continue;
                        }
                        /* Soundness: a kernel verdict is exactly the evaluator's decision. */
                        n_kernel++;
                        cr_expect(kernel_expected,
                                  "%s: sys %d fd %d vlen %u flags 0x%x timeout %d: kernel %s, but "
                                  "the broker would decide it (rule %d, inputs 0x%x, audit %d)",
                                  what, sys, call.fd, call.vlen, call.flags, (int)t,
                                  mmsg_kverdict_name(leaf->verdict), d.rule_index, d.inputs,
                                  d.audit);
                        cr_expect(eq(int, leaf->rule_index, d.rule_index), "%s", what);
                        switch (leaf->verdict) {
                        case MMSG_KVERDICT_ALLOW:
                            cr_expect(eq(int, d.action, MMSG_ACTION_ALLOW), "%s", what);
                            break;
                        case MMSG_KVERDICT_ERRNO:
                            cr_expect(eq(int, d.action, MMSG_ACTION_DENY), "%s", what);
                            cr_expect(eq(int, leaf->errno_value, d.errno_value), "%s", what);
                            break;
                        case MMSG_KVERDICT_KILL:
                            cr_expect(eq(int, d.action, MMSG_ACTION_KILL), "%s", what);
                            break;
                        case MMSG_KVERDICT_NOTIFY:
                        case MMSG_KVERDICT_MAX_:
                        default:
                            cr_expect(0, "%s: bad verdict %d", what, leaf->verdict);
                            break;
                        }
                    }
    mmsg_kprog_free(prog);
    return n_kernel;
}

static struct mmsg_policy *load_path(const char *path)
{
    struct mmsg_policy *p = NULL;
    FILE *f = fopen(path, "re");

    cr_assert(ne(ptr, f, NULL), "%s", path);
    cr_assert(eq(int, mmsg_policy_load_file(f, &p, NULL), 0), "%s", path);
    fclose(f);
    return p;
}

static size_t check_dir(const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    struct dirent *de;
    size_t n = 0;

    cr_assert(ne(ptr, dir, NULL), "%s", dir_path);
    while ((de = readdir(dir))) {
        char path[4096];
        struct mmsg_policy *p;

        if (!strstr(de->d_name, ".json"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
        p = load_path(path);
        (void)check_policy(path, p, 0);
        cr_expect(eq(sz, check_policy(path, p, MMSG_COMPILE_AUDIT_ALL), 0), "%s", path);
        mmsg_policy_free(p);
        n++;
    }
    closedir(dir);
    return n;
}

Test(compile, examples_agree_with_the_evaluator)
{
    cr_expect(ge(sz, check_dir(MMSG_EXAMPLES_POLICIES_DIR), 4));
}

Test(compile, test_policies_agree_with_the_evaluator)
{
    cr_expect(ge(sz, check_dir(MMSG_TEST_POLICIES_DIR), 2));
}

Test(compile, default_policy_decides_dontwait_in_the_kernel)
{
    const char *text = mmsg_policy_default_json();
    struct mmsg_policy *p = NULL;
    struct mmsg_kprog *prog = NULL;
    const struct mmsg_knode *leaf;

    cr_assert(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, NULL), 0));
    cr_expect(gt(sz, check_policy("default", p, 0), 0));
    cr_assert(eq(int, mmsg_policy_compile(p, 0, &prog), 0));
    /* knotd: recvmmsg_time64(fd, v, 10, MSG_DONTWAIT, NULL), and with a timeout pointer. */
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG_TIME64, 5, 10, 0x40, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_ALLOW));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG_TIME32, 5, 10, 0x40, false);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_ALLOW));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG, 5, 10, 0x40 | 0x2000, false);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_ALLOW));
    /* A call that may block goes to the broker, which bounds it. */
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG_TIME64, 5, 10, 0, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_NOTIFY));
    cr_expect(eq(int, leaf->why, MMSG_KWHY_EMULATE));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_SOCKETCALL, 5, 10, 0x40, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_NOTIFY));
    cr_expect(eq(int, leaf->why, MMSG_KWHY_MEMORY_ROUTE));
    mmsg_kprog_free(prog);
    mmsg_policy_free(p);
}

/* Deny and kill are audited unless the rule says "audit": false: only then may the kernel
 * decide them, since it writes no audit line. */
Test(compile, audited_deny_and_kill_are_notified)
{
    static const char text[] =
        "{\"version\": 1, \"default\": {\"action\": \"kill\"}, \"rules\": ["
        "{\"name\": \"d\", \"match\": {\"fd\": [1]}, \"action\": \"deny\", \"errno\": \"EPERM\"},"
        "{\"name\": \"q\", \"match\": {\"fd\": [2]}, \"action\": \"deny\", \"errno\": \"EPERM\","
        " \"audit\": false}]}";
    struct mmsg_policy *p = NULL;
    struct mmsg_kprog *prog = NULL;
    const struct mmsg_knode *leaf;

    cr_assert(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, NULL), 0));
    cr_assert(eq(int, mmsg_policy_compile(p, 0, &prog), 0));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG, 1, 1, 0, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_NOTIFY));
    cr_expect(eq(int, leaf->why, MMSG_KWHY_AUDIT));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG, 2, 1, 0, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_ERRNO));
    cr_expect(eq(int, leaf->errno_value, EPERM));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG, 3, 1, 0, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_NOTIFY));
    cr_expect(eq(int, leaf->rule_index, -1));
    (void)check_policy("audited", p, 0);
    mmsg_kprog_free(prog);
    mmsg_policy_free(p);
}

/* A tree past MMSG_KNODES_MAX for a route is replaced by "notify everything": slower, still
 * exact, since the broker then evaluates every call. */
Test(compile, oversized_tree_falls_back_to_notify)
{
    size_t cap = 1u << 20, len = 0;
    char *text = malloc(cap);
    struct mmsg_policy *p = NULL;
    struct mmsg_kprog *prog = NULL;
    const struct mmsg_knode *leaf;

    cr_assert(ne(ptr, text, NULL));
    len += (size_t)snprintf(text + len, cap - len,
                            "{\"version\": 1, \"default\": {\"action\": \"allow\"}, \"rules\": [");
    for (int r = 0; r < 10; r++) {
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"name\": \"r%d\", \"action\": \"deny\", \"errno\": \"EPERM\", "
                                "\"audit\": false, \"match\": {\"fd\": [",
                                r ? "," : "", r);
        for (int i = 0; i < 1000; i++)
            len +=
                (size_t)snprintf(text + len, cap - len, "%s%d", i ? "," : "", 100000 * r + 2 * i);
        len += (size_t)snprintf(text + len, cap - len, "]}}");
    }
    len += (size_t)snprintf(text + len, cap - len, "]}");
    cr_assert(lt(sz, len, cap));
    cr_assert(eq(int, mmsg_policy_load_buffer(text, len, &p, NULL), 0));
    cr_assert(eq(int, mmsg_policy_compile(p, 0, &prog), 0));
    leaf = mmsg_kprog_decide(prog, MMSG_SYS_RECVMMSG, 2, 1, 0, true);
    cr_expect(eq(int, leaf->verdict, MMSG_KVERDICT_NOTIFY));
    cr_expect(eq(int, leaf->why, MMSG_KWHY_TOO_LARGE));
    (void)check_policy("oversized", p, 0);
    mmsg_kprog_free(prog);
    mmsg_policy_free(p);
    free(text);
}

Test(compile, bad_flags_are_einval)
{
    const char *text = mmsg_policy_default_json();
    struct mmsg_policy *p = NULL;
    struct mmsg_kprog *prog = NULL;

    cr_assert(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, NULL), 0));
    cr_expect(eq(int, mmsg_policy_compile(p, 1u << 7, &prog), -EINVAL));
    cr_expect(eq(ptr, prog, NULL));
    cr_expect(eq(ptr, mmsg_kprog_free(NULL), NULL));
    mmsg_policy_free(p);
}

static struct mmsg_kprog *compile_text(const char *text, struct mmsg_policy **ret_policy)
{
    struct mmsg_kprog *prog = NULL;

    cr_assert(eq(int, mmsg_policy_load_buffer(text, strlen(text), ret_policy, NULL), 0), "%s",
              text);
    cr_assert(eq(int, mmsg_policy_compile(*ret_policy, 0, &prog), 0));
    return prog;
}

/* A reload under run keeps the loaded filter: only a policy that decides every call that filter
 * decides in the kernel the same way may replace it. */
Test(compile, kernel_unchanged_compares_only_kernel_decisions)
{
    static const struct {
        const char *old, *new;
        bool unchanged;
    } cases[] = {
        /* Everything notified before: the broker decides with the new policy. */
        {"{'version':1,'default':{'action':'allow','audit':true}}",
         "{'version':1,'default':{'action':'allow'},'rules':[{'name':'d','match':{'flags':{'any':"
         "['MSG_DONTWAIT']}},'action':'deny','errno':'EPERM'}]}",
         true},
        /* A kernel allow becomes an unaudited deny: changed. */
        {"{'version':1,'default':{'action':'allow'}}",
         "{'version':1,'default':{'action':'allow'},'rules':[{'name':'d','match':{'fd':[[5,9]]},"
         "'action':'deny','errno':'EPERM','audit':false}]}",
         false},
        /* ... or an audited one (the kernel would go on allowing it): changed. */
        {"{'version':1,'default':{'action':'allow'}}",
         "{'version':1,'default':{'action':'allow'},'rules':[{'name':'d','match':{'vlen':[7,7]},"
         "'action':'deny','errno':'EPERM'}]}",
         false},
        /* Another errno: changed. */
        {"{'version':1,'default':{'action':'deny','errno':'EPERM','audit':false}}",
         "{'version':1,'default':{'action':'deny','errno':'EACCES','audit':false}}", false},
        /* Only a cap changes (emulated, so notified): unchanged. */
        {"{'version':1,'default':{'action':'allow'},'rules':[{'name':'c','match':{'flags':{'none':"
         "['MSG_DONTWAIT']}},'action':'emulate','timeout_cap_ms':100}]}",
         "{'version':1,'default':{'action':'allow'},'rules':[{'name':'c','match':{'flags':{'none':"
         "['MSG_DONTWAIT']}},'action':'emulate','timeout_cap_ms':900}]}",
         true},
        /* Same decisions written differently: unchanged. */
        {"{'version':1,'default':{'action':'allow'},'rules':[{'name':'a','match':{'fd':[[0,9]]},"
         "'action':'deny','errno':'EPERM','audit':false}]}",
         "{'version':1,'default':{'action':'allow'},'rules':[{'name':'a','match':{'fd':[[0,4]]},"
         "'action':'deny','errno':'EPERM','audit':false},{'name':'b','match':{'fd':[[5,9]]},"
         "'action':'deny','errno':'EPERM','audit':false}]}",
         true},
        /* One fd at the edge of a range differs: changed. */
        {"{'version':1,'default':{'action':'allow'},'rules':[{'name':'a','match':{'fd':[[0,9]]},"
         "'action':'deny','errno':'EPERM','audit':false}]}",
         "{'version':1,'default':{'action':'allow'},'rules':[{'name':'a','match':{'fd':[[0,8]]},"
         "'action':'deny','errno':'EPERM','audit':false}]}",
         false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mmsg_policy *po = NULL, *pn = NULL;
        char *to = strdup(cases[i].old), *tn = strdup(cases[i].new);
        struct mmsg_kprog *o, *n;
        bool unchanged = !cases[i].unchanged;

        for (char *c = to; *c; c++)
            *c = *c == '\'' ? '"' : *c;
        for (char *c = tn; *c; c++)
            *c = *c == '\'' ? '"' : *c;
        o = compile_text(to, &po);
        n = compile_text(tn, &pn);
        cr_expect(eq(int, mmsg_kprog_kernel_unchanged(o, n, &unchanged), 0), "case %zu", i);
        cr_expect(eq(int, unchanged, cases[i].unchanged), "case %zu", i);
        mmsg_kprog_free(o);
        mmsg_kprog_free(n);
        mmsg_policy_free(po);
        mmsg_policy_free(pn);
        free(to);
        free(tn);
    }
}
