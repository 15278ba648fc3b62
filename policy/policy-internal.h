/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to policy/: the compiled form of a policy, the validator's entry point, the source
 * locator used for diagnostics and name look-ups not in the public API. */
#ifndef MMSGATE_POLICY_INTERNAL_H
#define MMSGATE_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mmsgate/policy.h"

/* One step of a JSON path: an object member (key != NULL) or an array element. */
struct policy_seg {
    const char *key; /* borrowed; NULL for an array index */
    size_t index;
};

/* Deepest path the validator looks into: rules[i].match.fd[j][k] has six steps. */
#define POLICY_PATH_DEPTH_MAX 8

/* Which match keys a rule has; evaluation checks them in this order (registers first). */
enum policy_key {
    POLICY_KEY_SYSCALL = 1u << 0,
    POLICY_KEY_FD = 1u << 1,
    POLICY_KEY_VLEN = 1u << 2,
    POLICY_KEY_FLAGS = 1u << 3,
    POLICY_KEY_TIMEOUT_NULL = 1u << 4,
    POLICY_KEY_TIMEOUT_OVER = 1u << 5,
    POLICY_KEY_TIMEOUT_UNDER = 1u << 6,
    POLICY_KEY_SOCKET = 1u << 7,
    POLICY_KEY_SOCKET_FAMILY = 1u << 8,
    POLICY_KEY_SOCKET_TYPE = 1u << 9,
    POLICY_KEY_SOCKET_PORT = 1u << 10,
    POLICY_KEY_PROCESS = 1u << 11,
    POLICY_KEY_PROCESS_EXE = 1u << 12,
    POLICY_KEY_PROCESS_COMM = 1u << 13,
    POLICY_KEY_PROCESS_UID = 1u << 14,
};

/* "mode" of a rule or of the whole policy: complain decides and audits, but enforces nothing. */
enum policy_mode {
    POLICY_MODE_INHERIT = 0, /* a rule without "mode": the policy's */
    POLICY_MODE_ENFORCE,
    POLICY_MODE_COMPLAIN,
};

struct policy_fd_range {
    int32_t lo;
    int32_t hi;
};

struct policy_rule {
    char name[MMSG_RULE_NAME_MAX];
    unsigned keys;   /* enum policy_key set */
    unsigned inputs; /* enum mmsg_input set of those keys */

    uint32_t syscall_mask; /* bit (1 << enum mmsg_syscall) */
    struct policy_fd_range *fds;
    size_t n_fds;
    uint32_t vlen_lo, vlen_hi;
    uint32_t flags_any, flags_all, flags_none; /* 0: that sub-key absent */
    bool timeout_null;
    int64_t over_ms, under_ms;
    uint32_t family_mask; /* bit (1 << AF_*) */
    uint32_t type_mask;   /* bit (1 << SOCK_*) */
    int32_t port_lo, port_hi;
    char *exe;  /* owned fnmatch pattern */
    char *comm; /* owned */
    uint32_t uid_lo, uid_hi;

    enum mmsg_action action;
    int errno_value;
    bool audit;
    bool audit_if_capped;   /* "audit": "capped" (emulate with a timeout cap only) */
    int mode;               /* enum policy_mode */
    int64_t timeout_cap_ms; /* -1: none */
    uint32_t vlen_cap;      /* 0: none */
    uint32_t clear_flags;
};

struct mmsg_policy {
    struct policy_rule default_rule; /* no keys; name "default" */
    struct policy_rule *rules;
    size_t n_rules;
    bool drop_caps;
    int mode;        /* enum policy_mode of the policy: ENFORCE or COMPLAIN */
    unsigned inputs; /* union of every rule's inputs */
};

/* validate.c: check @root (the parsed text @buf) and fill @policy, which the caller zeroed and
 * frees on failure. Return: 0; -EINVAL with every error in @reterr_diags (may be NULL); -ENOMEM. */
int policy_validate(json_t *root, const char *buf, size_t buf_len, struct mmsg_policy *policy,
                    struct mmsg_diags *reterr_diags);

/* policy.c: release what a rule owns (not the rule itself). */
void policy_rule_done(struct policy_rule *rule);

/* locate.c: the 1-based line and column (in UTF-8 characters, like jansson) in @buf of the value
 * at @segs, or of its key when @want_key and the last step is a key. Return: 0; -ENOENT when the
 * path is not in the text; -EINVAL when the text is not well-formed JSON along the way. */
int policy_locate(const char *buf, size_t buf_len, const struct policy_seg *segs, size_t n_segs,
                  bool want_key, int *ret_line, int *ret_column);

/* locate.c: "rules[2].match.flags.any[1]"; keys that are not identifiers are written
 * ["like \"this\""]. Truncated to fit @buf (always NUL-terminated). */
void policy_path_format(const struct policy_seg *segs, size_t n_segs, char *buf, size_t buf_len);

/* locate.c: copy @s into @buf escaped for a message (quotes, backslashes, control and non-ASCII
 * bytes as \xNN), truncated with "..." to fit. */
void policy_escape(const char *s, char *buf, size_t buf_len);

/* names.c */
int policy_syscall_from_name(const char *name);  /* enum mmsg_syscall or -EINVAL */
int policy_action_from_name(const char *name);   /* enum mmsg_action or -EINVAL */
const char *policy_msg_flag_name(uint32_t flag); /* one bit; NULL if unknown */

#endif
