/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading a policy (jansson parse, then validate.c) and evaluating one call against it. Pure:
 * the only input is the buffer or FILE * given; evaluation does not allocate. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "internal/macros.h"
#include "policy-internal.h"

/* Larger files are not policies; refuse before they make us allocate without bound. */
#define POLICY_FILE_MAX ((size_t)16 * 1024 * 1024)

/* The built-in default (issues 8 and 10). Each rule's reason is in its comment, README's table
 * and docs/policy.md. Calls that cannot block are decided in the kernel (no notification at all);
 * calls that may block are emulated so the cap is real, and audited only when the cap acted. */
static const char default_policy_json[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"description\": \"mmsgate built-in default: calls that cannot wait run in the kernel "
    "untouched; calls that may wait are bounded at 1 s, audited when the bound cut a wait\",\n"
    "  \"default\": {\"action\": \"allow\"},\n"
    "  \"rules\": [\n"
    "    {\"name\": \"nonblocking-calls\", \"match\": {\"flags\": {\"any\": [\"MSG_DONTWAIT\"]}}, "
    "\"action\": \"allow\",\n"
    "     \"comment\": \"MSG_DONTWAIT calls never wait, whatever the timeout pointer: decided in "
    "the kernel, no broker round trip\"},\n"
    "    {\"name\": \"cap-waits\", \"action\": \"emulate\", \"timeout_cap_ms\": 1000, "
    "\"audit\": \"capped\",\n"
    "     \"comment\": \"every other call lacks MSG_DONTWAIT and may block until a datagram "
    "arrives, even with a timeout (the kernel checks it only after one): bound the wait at 1 s; "
    "on an O_NONBLOCK socket the cap never acts and nothing is audited\"}\n"
    "  ]\n"
    "}\n";

const char *mmsg_policy_default_json(void)
{
    return default_policy_json;
}

void policy_rule_done(struct policy_rule *rule)
{
    free(rule->fds);
    rule->fds = NULL;
    free(rule->exe);
    rule->exe = NULL;
    free(rule->comm);
    rule->comm = NULL;
}

struct mmsg_policy *mmsg_policy_free(struct mmsg_policy *policy)
{
    if (!policy)
        return NULL;
    for (size_t i = 0; i < policy->n_rules; i++)
        policy_rule_done(&policy->rules[i]);
    free(policy->rules);
    policy_rule_done(&policy->default_rule);
    free(policy);
    return NULL;
}

static void policy_freep(struct mmsg_policy **p)
{
    (void)mmsg_policy_free(*p); /* always NULL */
}

int mmsg_policy_load_buffer(const char *buf, size_t buf_len, struct mmsg_policy **ret_policy,
                            struct mmsg_diags *reterr_diags)
{
    cleanup_(policy_freep) struct mmsg_policy *policy = NULL;
    cleanup_json json_t *root = NULL;
    json_error_t jerr;
    int r;

    if (!buf || !ret_policy)
        return -EINVAL;
    if (reterr_diags)
        memset(reterr_diags, 0, sizeof(*reterr_diags));

    /* Duplicate keys are rejected: with two "action" keys a reader and the parser could each
     * believe a different one. */
    root = json_loadb(buf, buf_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (reterr_diags) {
            struct mmsg_diag *d = &reterr_diags->diag[0];

            reterr_diags->n_diags = 1;
            d->line = jerr.line > 0 ? jerr.line : 0;
            d->column = jerr.column > 0 ? jerr.column : 0;
            d->path[0] = '\0';
            (void)snprintf(d->text, sizeof(d->text), "%s", jerr.text); /* truncation is fine */
        }
        return -EINVAL;
    }

    policy = calloc(1, sizeof(*policy));
    if (!policy)
        return -ENOMEM;
    r = policy_validate(root, buf, buf_len, policy, reterr_diags);
    if (r < 0)
        return r;

    *ret_policy = TAKE_PTR(policy);
    return 0;
}

int mmsg_policy_load_file(FILE *f, struct mmsg_policy **ret_policy, struct mmsg_diags *reterr_diags)
{
    cleanup_free char *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f || !ret_policy)
        return -EINVAL;
    for (;;) {
        size_t n;

        if (len == cap) {
            size_t new_cap = cap ? cap * 2 : 4096;
            char *p;

            /* One byte over the limit is enough to know the file is too large. */
            if (new_cap > POLICY_FILE_MAX + 1)
                new_cap = POLICY_FILE_MAX + 1;
            if (new_cap == cap)
                return -EFBIG;
            p = realloc(buf, new_cap);
            if (!p)
                return -ENOMEM;
            buf = p;
            cap = new_cap;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                return -EIO;
            if (feof(f))
                break;
        }
    }
    if (len > POLICY_FILE_MAX)
        return -EFBIG;
    return mmsg_policy_load_buffer(buf, len, ret_policy, reterr_diags);
}

static bool fd_matches(const struct policy_rule *rule, int32_t fd)
{
    for (size_t i = 0; i < rule->n_fds; i++)
        if (fd >= rule->fds[i].lo && fd <= rule->fds[i].hi)
            return true;
    return false;
}

static bool in_mask(uint32_t mask, int value)
{
    return value >= 0 && value < 32 && (mask & (UINT32_C(1) << value));
}

/* Whether every match key of @rule holds for @call. Adds to *@inputs the inputs consulted:
 * register keys come first and the first key that fails ends the check, so a rule already
 * excluded by a register never makes the broker read caller memory, the socket or /proc. */
static bool rule_matches(const struct policy_rule *rule, const struct mmsg_call *call,
                         unsigned *inputs)
{
    unsigned k = rule->keys;

    if (k & POLICY_KEY_SYSCALL) {
        *inputs |= MMSG_INPUT_SYSCALL;
        if ((unsigned)call->syscall >= MMSG_SYS_MAX_ ||
            !(rule->syscall_mask & (UINT32_C(1) << call->syscall)))
            return false;
    }
    if (k & POLICY_KEY_FD) {
        *inputs |= MMSG_INPUT_FD;
        if (!fd_matches(rule, call->fd))
            return false;
    }
    if (k & POLICY_KEY_VLEN) {
        *inputs |= MMSG_INPUT_VLEN;
        if (call->vlen < rule->vlen_lo || call->vlen > rule->vlen_hi)
            return false;
    }
    if (k & POLICY_KEY_FLAGS) {
        *inputs |= MMSG_INPUT_FLAGS;
        if (rule->flags_any && !(call->flags & rule->flags_any))
            return false;
        if ((call->flags & rule->flags_all) != rule->flags_all)
            return false;
        if (call->flags & rule->flags_none)
            return false;
    }
    if (k & POLICY_KEY_TIMEOUT_NULL) {
        *inputs |= MMSG_INPUT_TIMEOUT_PTR;
        if ((call->timeout == 0) != rule->timeout_null)
            return false;
    }

    /* Keys below need more than registers. */
    if (k & (POLICY_KEY_TIMEOUT_OVER | POLICY_KEY_TIMEOUT_UNDER)) {
        __int128 value_ns;

        /* A NULL pointer fails the key on the register alone: no caller memory is consulted,
         * so such a decision may still be carried out in the kernel (issue 8). */
        *inputs |= MMSG_INPUT_TIMEOUT_PTR;
        if (call->timeout == 0)
            return false;
        *inputs |= MMSG_INPUT_TIMEOUT_VALUE;
        if (!call->timeout_known)
            return false;
        /* 128 bits: the target controls both fields, and sec * 1e9 overflows 64 bits. */
        value_ns = (__int128)call->timeout_sec * 1000000000 + call->timeout_nsec;
        if ((k & POLICY_KEY_TIMEOUT_OVER) && !(value_ns > (__int128)rule->over_ms * 1000000))
            return false;
        if ((k & POLICY_KEY_TIMEOUT_UNDER) && !(value_ns < (__int128)rule->under_ms * 1000000))
            return false;
    }
    if (k & POLICY_KEY_SOCKET) {
        *inputs |= MMSG_INPUT_SOCKET;
        if (!call->socket_known)
            return false;
        if ((k & POLICY_KEY_SOCKET_FAMILY) && !in_mask(rule->family_mask, call->socket_family))
            return false;
        if ((k & POLICY_KEY_SOCKET_TYPE) && !in_mask(rule->type_mask, call->socket_type))
            return false;
        if ((k & POLICY_KEY_SOCKET_PORT) &&
            (call->socket_local_port < 0 || call->socket_local_port < rule->port_lo ||
             call->socket_local_port > rule->port_hi))
            return false;
    }
    if (k & POLICY_KEY_PROCESS) {
        *inputs |= MMSG_INPUT_PROCESS;
        if (!call->process_known)
            return false;
        if ((k & POLICY_KEY_PROCESS_EXE) && (!call->exe || fnmatch(rule->exe, call->exe, 0) != 0))
            return false;
        if ((k & POLICY_KEY_PROCESS_COMM) && (!call->comm || strcmp(rule->comm, call->comm) != 0))
            return false;
        if ((k & POLICY_KEY_PROCESS_UID) && (call->uid < rule->uid_lo || call->uid > rule->uid_hi))
            return false;
    }
    return true;
}

static void decide(const struct mmsg_policy *policy, const struct policy_rule *rule, int index,
                   unsigned inputs, struct mmsg_decision *ret)
{
    int mode = rule->mode == POLICY_MODE_INHERIT ? policy->mode : rule->mode;

    *ret = (struct mmsg_decision){
        .action = rule->action,
        .errno_value = rule->action == MMSG_ACTION_DENY ? rule->errno_value : 0,
        .rule_index = index,
        .rule_name = rule->name,
        .audit = rule->audit,
        .audit_if_capped = rule->audit_if_capped,
        .enforce = mode != POLICY_MODE_COMPLAIN,
        .inputs = inputs,
        .timeout_cap_ms = rule->timeout_cap_ms,
        .vlen_cap = rule->vlen_cap,
        .clear_flags = rule->clear_flags,
    };
}

int mmsg_policy_evaluate(const struct mmsg_policy *policy, const struct mmsg_call *call,
                         struct mmsg_decision *ret_decision)
{
    unsigned inputs = 0;

    for (size_t i = 0; i < policy->n_rules; i++)
        if (rule_matches(&policy->rules[i], call, &inputs)) {
            decide(policy, &policy->rules[i], (int)i, inputs, ret_decision);
            return 0;
        }
    decide(policy, &policy->default_rule, -1, inputs, ret_decision);
    return 0;
}

unsigned mmsg_policy_inputs(const struct mmsg_policy *policy)
{
    return policy->inputs;
}

size_t mmsg_policy_n_rules(const struct mmsg_policy *policy)
{
    return policy->n_rules;
}

unsigned mmsg_policy_rule_inputs(const struct mmsg_policy *policy, size_t index)
{
    if (index >= policy->n_rules)
        return 0;
    return policy->rules[index].inputs;
}

const char *mmsg_policy_rule_name(const struct mmsg_policy *policy, size_t index)
{
    if (index >= policy->n_rules)
        return policy->default_rule.name;
    return policy->rules[index].name;
}

bool mmsg_policy_drop_caps(const struct mmsg_policy *policy)
{
    return policy->drop_caps;
}
