/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Complain mode: "mode" of the policy, the default and each rule decides whether a decision is
 * enforced; the decision itself (action, rule, audit) is the same as in enforce mode. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "mmsgate/policy.h"

/* Single quotes stand for double quotes, so the tables stay readable. */
static int load(const char *sq, struct mmsg_policy **ret, struct mmsg_diags *diags)
{
    char *text = strdup(sq);
    int r;

    if (!text)
        abort();
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    r = mmsg_policy_load_buffer(text, strlen(text), ret, diags);
    free(text);
    return r;
}

#define DENY_RULE(extra)                                              \
    "{'name': 'no-peek', 'match': {'flags': {'any': ['MSG_PEEK']}}, " \
    "'action': 'deny', 'errno': 'EPERM'" extra "}"

struct mode_case {
    const char *policy;
    uint32_t flags;
    enum mmsg_action action;
    const char *rule;
    bool enforce;
};

static const struct mode_case mode_cases[] = {
    /* No mode anywhere: enforce. */
    {"{'version': 1, 'default': {'action': 'allow'}, 'rules': [" DENY_RULE("") "]}", MSG_PEEK,
     MMSG_ACTION_DENY, "no-peek", true},
    /* Policy complains: every decision, the default included, is reported only. */
    {"{'version': 1, 'mode': 'complain', 'default': {'action': 'allow'}, 'rules': [" DENY_RULE(
         "") "]}",
     MSG_PEEK, MMSG_ACTION_DENY, "no-peek", false},
    {"{'version': 1, 'mode': 'complain', 'default': {'action': 'allow'}, 'rules': [" DENY_RULE(
         "") "]}",
     0, MMSG_ACTION_ALLOW, "default", false},
    /* A rule complains in an enforcing policy; the default still enforces. */
    {"{'version': 1, 'default': {'action': 'kill'}, 'rules': [" DENY_RULE(
         ", 'mode': 'complain'") "]}",
     MSG_PEEK, MMSG_ACTION_DENY, "no-peek", false},
    {"{'version': 1, 'default': {'action': 'kill'}, 'rules': [" DENY_RULE(
         ", 'mode': 'complain'") "]}",
     0, MMSG_ACTION_KILL, "default", true},
    /* A rule enforces in a complaining policy: the rule's own mode wins. */
    {"{'version': 1, 'mode': 'complain', 'default': {'action': 'allow'}, 'rules': [" DENY_RULE(
         ", 'mode': 'enforce'") "]}",
     MSG_PEEK, MMSG_ACTION_DENY, "no-peek", true},
    /* The default object has a mode of its own. */
    {"{'version': 1, 'default': {'action': 'deny', 'errno': 'EACCES', 'mode': 'complain'}}", 0,
     MMSG_ACTION_DENY, "default", false},
    {"{'version': 1, 'mode': 'enforce', 'default': {'action': 'deny', 'errno': 'EACCES'}}", 0,
     MMSG_ACTION_DENY, "default", true},
};

Test(complain, mode_decides_enforce)
{
    for (size_t i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]); i++) {
        const struct mode_case *c = &mode_cases[i];
        struct mmsg_call call = {
            .syscall = MMSG_SYS_RECVMMSG, .fd = 3, .vlen = 1, .flags = c->flags};
        struct mmsg_policy *p = NULL;
        struct mmsg_decision d;

        cr_assert(eq(int, load(c->policy, &p, NULL), 0), "case %zu", i);
        cr_assert(eq(int, mmsg_policy_evaluate(p, &call, &d), 0));
        cr_expect(eq(int, d.action, c->action), "case %zu", i);
        cr_expect(eq(int, strcmp(d.rule_name, c->rule), 0), "case %zu: rule %s", i, d.rule_name);
        cr_expect(eq(int, d.enforce, c->enforce), "case %zu", i);
        mmsg_policy_free(p);
    }
}

/* Complain mode must not change what is audited: the deny is still audited, so the operator
 * sees what enforcing would have done. */
Test(complain, audit_unchanged)
{
    struct mmsg_call call = {.syscall = MMSG_SYS_RECVMMSG, .fd = 3, .vlen = 1, .flags = MSG_PEEK};
    struct mmsg_policy *p = NULL;
    struct mmsg_decision d;

    cr_assert(eq(int,
                 load("{'version': 1, 'mode': 'complain', 'default': {'action': 'allow'}, "
                      "'rules': [" DENY_RULE("") "]}",
                      &p, NULL),
                 0));
    (void)mmsg_policy_evaluate(p, &call, &d); /* cannot fail */
    cr_expect(d.audit);
    cr_expect(eq(int, d.errno_value, EPERM));
    mmsg_policy_free(p);
}

struct error_case {
    const char *policy;
    const char *path;
    const char *text;
};

static const struct error_case error_cases[] = {
    {"{'version': 1, 'mode': 'audit', 'default': {'action': 'allow'}}", "mode",
     "unknown mode \"audit\" (expected one of: enforce, complain)"},
    {"{'version': 1, 'mode': true, 'default': {'action': 'allow'}}", "mode",
     "expected a string, got a boolean"},
    {"{'version': 1, 'default': {'action': 'allow'}, 'rules': [" DENY_RULE(", 'mode': 'x'") "]}",
     "rules[0].mode", "unknown mode \"x\" (expected one of: enforce, complain)"},
    {"{'version': 1, 'default': {'action': 'allow', 'mode': 1}}", "default.mode",
     "expected a string, got an integer"},
};

Test(complain, invalid_modes_are_reported_at_their_path)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        struct mmsg_diags diags;
        struct mmsg_policy *p = NULL;

        cr_expect(eq(int, load(error_cases[i].policy, &p, &diags), -EINVAL), "case %zu", i);
        cr_assert(eq(u32, diags.n_diags, 1), "case %zu", i);
        cr_expect(eq(int, strcmp(diags.diag[0].path, error_cases[i].path), 0), "case %zu: %s", i,
                  diags.diag[0].path);
        cr_expect(eq(int, strcmp(diags.diag[0].text, error_cases[i].text), 0), "case %zu: %s", i,
                  diags.diag[0].text);
        cr_expect(gt(int, diags.diag[0].line, 0));
    }
}
