/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy compiler (issue 8): partially evaluate the rules over register inputs into a
 * decision tree per route, so the seccomp filter decides in the kernel every call whose outcome
 * registers alone determine. Pure: no syscalls; broker/filter.c turns the tree into BPF. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal/macros.h"
#include "policy-internal.h"

/* MSG_CMSG_COMPAT: the broker strips it from the flags of i386 callers (the compat entry adds
 * it itself and ignores the caller's), so the evaluator never sees it on those routes. */
#define KFLAG_CMSG_COMPAT 0x80000000u

/* Keys only the broker can check: they read caller memory, the socket or /proc. */
#define KEYS_BEYOND_REGISTERS                                                     \
    (POLICY_KEY_TIMEOUT_OVER | POLICY_KEY_TIMEOUT_UNDER | POLICY_KEY_SOCKET |     \
     POLICY_KEY_SOCKET_FAMILY | POLICY_KEY_SOCKET_TYPE | POLICY_KEY_SOCKET_PORT | \
     POLICY_KEY_PROCESS | POLICY_KEY_PROCESS_EXE | POLICY_KEY_PROCESS_COMM |      \
     POLICY_KEY_PROCESS_UID)

/* An edge still to be pointed at the next rule's first node (the "rule does not match" exit). */
struct pending {
    uint32_t node;
    bool on_true;
};

struct kbuild {
    struct mmsg_knode *nodes;
    size_t n_nodes, cap;
    size_t route_start; /* first node of the route being built */
    struct pending *pend;
    size_t n_pend, pend_cap;
    bool too_large;
    int oom;
};

static uint32_t add_node(struct kbuild *b, const struct mmsg_knode *node)
{
    if (b->n_nodes - b->route_start >= MMSG_KNODES_MAX) {
        b->too_large = true;
        return 0;
    }
    if (b->n_nodes == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct mmsg_knode *p = realloc(b->nodes, cap * sizeof(*p));

        if (!p) {
            b->oom = -ENOMEM;
            return 0;
        }
        b->nodes = p;
        b->cap = cap;
    }
    b->nodes[b->n_nodes] = *node;
    return (uint32_t)b->n_nodes++;
}

static void add_pending(struct kbuild *b, uint32_t node, bool on_true)
{
    if (b->n_pend == b->pend_cap) {
        size_t cap = b->pend_cap ? b->pend_cap * 2 : 64;
        struct pending *p = realloc(b->pend, cap * sizeof(*p));

        if (!p) {
            b->oom = -ENOMEM;
            return;
        }
        b->pend = p;
        b->pend_cap = cap;
    }
    b->pend[b->n_pend++] = (struct pending){.node = node, .on_true = on_true};
}

/* Point every pending "no match" edge at the node about to be added. */
static void resolve_pending(struct kbuild *b)
{
    for (size_t i = 0; i < b->n_pend; i++) {
        struct mmsg_knode *n = &b->nodes[b->pend[i].node];

        if (b->pend[i].on_true)
            n->on_true = (uint32_t)b->n_nodes;
        else
            n->on_false = (uint32_t)b->n_nodes;
    }
    b->n_pend = 0;
}

/* A test whose "holds" edge goes to the next node of the rule and whose other edge leaves the
 * rule. @fail_on_true inverts it (for "timeout must not be NULL"). */
static void add_test(struct kbuild *b, const struct mmsg_knode *test, bool fail_on_true)
{
    uint32_t i = add_node(b, test);

    if (b->too_large || b->oom)
        return;
    if (fail_on_true) {
        b->nodes[i].on_false = i + 1;
        add_pending(b, i, true);
    } else {
        b->nodes[i].on_true = i + 1;
        add_pending(b, i, false);
    }
}

/* The leaf for a rule (or the default) whose register keys all hold. */
static struct mmsg_knode leaf_of(const struct mmsg_policy *policy, const struct policy_rule *rule,
                                 int index, enum mmsg_syscall sys, unsigned flags)
{
    struct mmsg_knode leaf = {.test = MMSG_KTEST_LEAF, .rule_index = index};
    int mode = rule->mode == POLICY_MODE_INHERIT ? policy->mode : rule->mode;

    leaf.verdict = MMSG_KVERDICT_NOTIFY;
    /* socketcall's tree says which rule may decide (for `mmsgate check`), but its tests are on
     * values in caller memory: every leaf is the broker's, and the filter emits none of it. */
    if (sys == MMSG_SYS_SOCKETCALL)
        leaf.why = MMSG_KWHY_MEMORY_ROUTE;
    else if (rule->keys & KEYS_BEYOND_REGISTERS)
        leaf.why = MMSG_KWHY_INPUTS;
    else if (rule->action == MMSG_ACTION_EMULATE)
        leaf.why = MMSG_KWHY_EMULATE;
    /* An audit line can only be written by the broker: a kernel verdict would leave no trace,
     * and deny and kill are exactly what an operator investigates later. */
    /* Complain mode is audited too ("enforced": false), whatever the action. */
    else if (rule->audit || rule->audit_if_capped || mode == POLICY_MODE_COMPLAIN ||
             (flags & MMSG_COMPILE_AUDIT_ALL))
        leaf.why = MMSG_KWHY_AUDIT;
    else
        switch (rule->action) {
        case MMSG_ACTION_ALLOW:
            leaf.verdict = MMSG_KVERDICT_ALLOW;
            break;
        case MMSG_ACTION_DENY:
            leaf.verdict = MMSG_KVERDICT_ERRNO;
            leaf.errno_value = rule->errno_value;
            break;
        case MMSG_ACTION_KILL:
            leaf.verdict = MMSG_KVERDICT_KILL;
            break;
        case MMSG_ACTION_EMULATE:
        case MMSG_ACTION_MAX_:
        default:
            /* Fail safe: whatever we do not understand is the broker's to decide. */
            leaf.why = MMSG_KWHY_EMULATE;
            break;
        }
    return leaf;
}

/* Whether @rule can match at all on route @sys. */
static bool rule_applies(const struct policy_rule *rule, enum mmsg_syscall sys)
{
    bool compat = sys != MMSG_SYS_RECVMMSG;

    if ((rule->keys & POLICY_KEY_SYSCALL) && !(rule->syscall_mask & (UINT32_C(1) << sys)))
        return false;
    /* The evaluator never sees MSG_CMSG_COMPAT on the i386 routes: "all" including it never
     * holds there, nor does an "any" of nothing else. */
    if (compat && (rule->keys & POLICY_KEY_FLAGS) &&
        ((rule->flags_all & KFLAG_CMSG_COMPAT) ||
         (rule->flags_any && !(rule->flags_any & ~KFLAG_CMSG_COMPAT))))
        return false;
    return true;
}

/* One rule that applies on route @sys: its register tests, then its leaf. Every test's "does
 * not hold" edge is left pending for the next rule. Return whether the rule has no test, so it
 * matches every call that reaches it and later rules are unreachable on this route. */
static bool add_rule(struct kbuild *b, const struct mmsg_policy *policy,
                     const struct policy_rule *rule, int index, enum mmsg_syscall sys,
                     unsigned flags)
{
    bool compat = sys != MMSG_SYS_RECVMMSG;
    unsigned k = rule->keys;
    struct mmsg_knode leaf;

    if (k & POLICY_KEY_FD) {
        /* Alternatives: range j failing tries range j + 1; the last one leaves the rule. Every
         * range that holds jumps past the others, to the next test. */
        size_t first = b->n_nodes;

        for (size_t j = 0; j < rule->n_fds; j++) {
            uint32_t i = add_node(b, &(struct mmsg_knode){.test = MMSG_KTEST_FD,
                                                          .lo = rule->fds[j].lo,
                                                          .hi = rule->fds[j].hi});

            if (b->too_large || b->oom)
                return false;
            b->nodes[i].on_false = i + 1;
            if (j + 1 == rule->n_fds)
                add_pending(b, i, false);
        }
        for (size_t i = first; i < b->n_nodes; i++)
            b->nodes[i].on_true = (uint32_t)b->n_nodes;
    }
    if (k & POLICY_KEY_VLEN)
        add_test(
            b,
            &(struct mmsg_knode){.test = MMSG_KTEST_VLEN, .lo = rule->vlen_lo, .hi = rule->vlen_hi},
            false);
    if (k & POLICY_KEY_FLAGS) {
        uint32_t strip = compat ? KFLAG_CMSG_COMPAT : 0;
        uint32_t any = rule->flags_any & ~strip, none = rule->flags_none & ~strip;

        if (any)
            add_test(b, &(struct mmsg_knode){.test = MMSG_KTEST_FLAGS_ANY, .mask = any}, false);
        if (rule->flags_all)
            add_test(b, &(struct mmsg_knode){.test = MMSG_KTEST_FLAGS_ALL, .mask = rule->flags_all},
                     false);
        if (none)
            add_test(b, &(struct mmsg_knode){.test = MMSG_KTEST_FLAGS_NONE, .mask = none}, false);
    }
    if (k & POLICY_KEY_TIMEOUT_NULL)
        add_test(b, &(struct mmsg_knode){.test = MMSG_KTEST_TIMEOUT_NULL}, !rule->timeout_null);
    /* over_ms/under_ms never hold for a NULL pointer: that much registers decide. */
    if ((k & (POLICY_KEY_TIMEOUT_OVER | POLICY_KEY_TIMEOUT_UNDER)) &&
        !((k & POLICY_KEY_TIMEOUT_NULL) && !rule->timeout_null))
        add_test(b, &(struct mmsg_knode){.test = MMSG_KTEST_TIMEOUT_NULL}, true);
    if (b->too_large || b->oom)
        return false;
    leaf = leaf_of(policy, rule, index, sys, flags);
    (void)add_node(b, &leaf);
    return b->n_pend == 0;
}

static int build_route(struct kbuild *b, const struct mmsg_policy *policy, enum mmsg_syscall sys,
                       unsigned flags)
{
    bool done = false;

    b->route_start = b->n_nodes;
    b->too_large = false;
    b->n_pend = 0;
    for (size_t i = 0; i < policy->n_rules && !done && !b->too_large && !b->oom; i++) {
        if (!rule_applies(&policy->rules[i], sys))
            continue;
        /* The "no match" edges of earlier rules lead to this rule's first node. */
        resolve_pending(b);
        done = add_rule(b, policy, &policy->rules[i], (int)i, sys, flags);
    }
    if (!done && !b->too_large && !b->oom) {
        struct mmsg_knode leaf = leaf_of(policy, &policy->default_rule, -1, sys, flags);

        resolve_pending(b);
        (void)add_node(b, &leaf);
    }
    if (b->oom)
        return b->oom;
    if (b->too_large) {
        /* Fail safe: the broker decides every call of this route. */
        b->n_nodes = b->route_start;
        b->n_pend = 0;
        b->too_large = false;
        (void)add_node(b, &(struct mmsg_knode){.verdict = MMSG_KVERDICT_NOTIFY,
                                               .why = MMSG_KWHY_TOO_LARGE,
                                               .rule_index = -2});
    }
    return b->oom;
}

struct mmsg_kprog *mmsg_kprog_free(struct mmsg_kprog *prog)
{
    if (!prog)
        return NULL;
    free(prog->nodes);
    free(prog);
    return NULL;
}

static void kprog_freep(struct mmsg_kprog **p)
{
    (void)mmsg_kprog_free(*p); /* always NULL */
}

int mmsg_policy_compile(const struct mmsg_policy *policy, unsigned flags,
                        struct mmsg_kprog **ret_prog)
{
    cleanup_(kprog_freep) struct mmsg_kprog *prog = NULL;
    struct kbuild b = {0};
    int r = 0;

    if (!policy || !ret_prog || (flags & ~MMSG_COMPILE_AUDIT_ALL))
        return -EINVAL;
    prog = calloc(1, sizeof(*prog));
    if (!prog)
        return -ENOMEM;
    for (int sys = 0; sys < MMSG_SYS_MAX_ && r >= 0; sys++) {
        prog->root[sys] = (uint32_t)b.n_nodes;
        r = build_route(&b, policy, (enum mmsg_syscall)sys, flags);
    }
    free(b.pend);
    if (r < 0) {
        free(b.nodes);
        return r;
    }
    prog->nodes = b.nodes;
    prog->n_nodes = b.n_nodes;
    *ret_prog = TAKE_PTR(prog);
    return 0;
}

static bool test_holds(const struct mmsg_knode *n, int32_t fd, uint32_t vlen, uint32_t flags,
                       bool timeout_null)
{
    switch (n->test) {
    case MMSG_KTEST_FD:
        return fd >= n->lo && fd <= n->hi;
    case MMSG_KTEST_VLEN:
        return vlen >= n->lo && vlen <= n->hi;
    case MMSG_KTEST_FLAGS_ANY:
        return (flags & n->mask) != 0;
    case MMSG_KTEST_FLAGS_ALL:
        return (flags & n->mask) == n->mask;
    case MMSG_KTEST_FLAGS_NONE:
        return (flags & n->mask) == 0;
    case MMSG_KTEST_TIMEOUT_NULL:
        return timeout_null;
    case MMSG_KTEST_LEAF:
    case MMSG_KTEST_MAX_:
    default:
        return false;
    }
}

const struct mmsg_knode *mmsg_kprog_decide(const struct mmsg_kprog *prog, enum mmsg_syscall sys,
                                           int32_t fd, uint32_t vlen, uint32_t flags,
                                           bool timeout_null)
{
    uint32_t i;

    if (!prog || (unsigned)sys >= MMSG_SYS_MAX_)
        return NULL;
    i = prog->root[sys];
    /* Edges only go forward, so this ends within n_nodes steps. */
    while (i < prog->n_nodes && prog->nodes[i].test != MMSG_KTEST_LEAF) {
        const struct mmsg_knode *n = &prog->nodes[i];
        uint32_t next = test_holds(n, fd, vlen, flags, timeout_null) ? n->on_true : n->on_false;

        if (next <= i)
            return NULL; /* not a tree we built */
        i = next;
    }
    return i < prog->n_nodes ? &prog->nodes[i] : NULL;
}

const char *mmsg_kverdict_name(enum mmsg_kverdict verdict)
{
    static const char *const names[MMSG_KVERDICT_MAX_] = {
        [MMSG_KVERDICT_ALLOW] = "allow",
        [MMSG_KVERDICT_ERRNO] = "errno",
        [MMSG_KVERDICT_KILL] = "kill",
        [MMSG_KVERDICT_NOTIFY] = "notify",
    };

    return (unsigned)verdict < MMSG_KVERDICT_MAX_ ? names[verdict] : NULL;
}

const char *mmsg_kwhy_name(enum mmsg_kwhy why)
{
    static const char *const names[MMSG_KWHY_MAX_] = {
        [MMSG_KWHY_KERNEL] = "decided in the kernel",
        [MMSG_KWHY_MEMORY_ROUTE] = "arguments in caller memory",
        [MMSG_KWHY_INPUTS] = "needs the timeout value, the socket or the process",
        [MMSG_KWHY_AUDIT] = "audited",
        [MMSG_KWHY_EMULATE] = "emulated",
        [MMSG_KWHY_TOO_LARGE] = "tree too large",
    };

    return (unsigned)why < MMSG_KWHY_MAX_ ? names[why] : NULL;
}

/* Cell starts of the partition the FD or VLEN tests of @p cut their axis into: the decision is
 * constant between two consecutive points. */
static int add_points(const struct mmsg_kprog *p, enum mmsg_ktest test, int64_t **pts, size_t *n,
                      size_t *cap)
{
    for (size_t i = 0; i < p->n_nodes; i++) {
        const struct mmsg_knode *k = &p->nodes[i];
        int64_t cand[2] = {k->lo, k->hi + 1};

        if (k->test != test)
            continue;
        for (int c = 0; c < 2; c++) {
            if (*n == *cap) {
                size_t new_cap = *cap ? *cap * 2 : 64;
                int64_t *q = realloc(*pts, new_cap * sizeof(*q));

                if (!q)
                    return -ENOMEM;
                *pts = q;
                *cap = new_cap;
            }
            (*pts)[(*n)++] = cand[c];
        }
    }
    return 0;
}

static uint32_t flag_bits(const struct mmsg_kprog *p)
{
    uint32_t m = 0;

    for (size_t i = 0; i < p->n_nodes; i++)
        if (p->nodes[i].test == MMSG_KTEST_FLAGS_ANY || p->nodes[i].test == MMSG_KTEST_FLAGS_ALL ||
            p->nodes[i].test == MMSG_KTEST_FLAGS_NONE)
            m |= p->nodes[i].mask;
    return m;
}

/* The @index-th subset of the bits of @mask. */
static uint32_t subset(uint32_t mask, uint64_t index)
{
    uint32_t out = 0;

    for (int b = 0; b < 32; b++)
        if (mask & (UINT32_C(1) << b)) {
            if (index & 1)
                out |= UINT32_C(1) << b;
            index >>= 1;
        }
    return out;
}

#define KCOMPARE_POINTS_MAX (UINT64_C(1) << 24)

static int bit_count(uint32_t v)
{
    int n = 0;

    for (; v; v &= v - 1)
        n++;
    return n;
}

int mmsg_kprog_kernel_unchanged(const struct mmsg_kprog *old, const struct mmsg_kprog *new,
                                bool *ret_unchanged)
{
    cleanup_free int64_t *fds = NULL, *vlens = NULL;
    size_t n_fds = 0, cap_fds = 0, n_vlens = 0, cap_vlens = 0;
    uint32_t mask = flag_bits(old) | flag_bits(new);
    uint64_t n_flags;
    int r;

    /* Both ends of each axis, then every boundary either tree tests. */
    r = add_points(old, MMSG_KTEST_FD, &fds, &n_fds, &cap_fds);
    if (r >= 0)
        r = add_points(new, MMSG_KTEST_FD, &fds, &n_fds, &cap_fds);
    if (r >= 0)
        r = add_points(old, MMSG_KTEST_VLEN, &vlens, &n_vlens, &cap_vlens);
    if (r >= 0)
        r = add_points(new, MMSG_KTEST_VLEN, &vlens, &n_vlens, &cap_vlens);
    if (r < 0)
        return r;
    if (bit_count(mask) > 24)
        return -E2BIG;
    n_flags = UINT64_C(1) << bit_count(mask);
    if ((uint64_t)(n_fds + 1) * (n_vlens + 1) * n_flags * 2 > KCOMPARE_POINTS_MAX)
        return -E2BIG;
    for (int sys = 0; sys < MMSG_SYS_MAX_; sys++)
        for (size_t a = 0; a <= n_fds; a++) {
            int64_t fd = a == n_fds ? INT32_MIN : fds[a];

            if (fd < INT32_MIN || fd > INT32_MAX)
                continue;
            for (size_t b = 0; b <= n_vlens; b++) {
                int64_t vlen = b == n_vlens ? 0 : vlens[b];

                if (vlen < 0 || vlen > UINT32_MAX)
                    continue;
                for (uint64_t f = 0; f < n_flags; f++)
                    for (int t = 0; t < 2; t++) {
                        uint32_t flags = subset(mask, f);
                        const struct mmsg_knode *o = mmsg_kprog_decide(
                            old, (enum mmsg_syscall)sys, (int32_t)fd, (uint32_t)vlen, flags, t);
                        const struct mmsg_knode *n = mmsg_kprog_decide(
                            new, (enum mmsg_syscall)sys, (int32_t)fd, (uint32_t)vlen, flags, t);

                        if (!o || !n)
                            return -EINVAL;
                        /* What old leaves to the broker, the broker decides with the new
                         * policy; what old decides itself must not change. */
                        if (o->verdict != MMSG_KVERDICT_NOTIFY &&
                            (o->verdict != n->verdict || (o->verdict == MMSG_KVERDICT_ERRNO &&
                                                          o->errno_value != n->errno_value))) {
                            *ret_unchanged = false;
                            return 0;
                        }
                    }
            }
        }
    *ret_unchanged = true;
    return 0;
}
