/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mmsgate policy engine: parse, validate and evaluate a version 1 JSON policy against one
 * recvmmsg-family call. Pure code: no syscalls, no globals, no clock, no logging. */
#ifndef MMSGATE_POLICY_H
#define MMSGATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The routes through which a recvmmsg operation can be reached. */
enum mmsg_syscall {
    MMSG_SYS_RECVMMSG_TIME32 = 0, /* i386 337 */
    MMSG_SYS_RECVMMSG_TIME64,     /* i386 417 */
    MMSG_SYS_SOCKETCALL,          /* i386 102, call SYS_RECVMMSG (19) */
    MMSG_SYS_RECVMMSG,            /* x86_64 299 */
    MMSG_SYS_MAX_,
};

enum mmsg_action {
    MMSG_ACTION_ALLOW = 0,
    MMSG_ACTION_DENY,
    MMSG_ACTION_EMULATE,
    MMSG_ACTION_KILL,
    MMSG_ACTION_MAX_,
};

/* Inputs a decision can depend on. A rule (or a whole evaluation) reports the set it consulted so
 * the broker knows whether the decision may be carried out by SECCOMP_USER_NOTIF_FLAG_CONTINUE
 * (only MMSG_INPUT_REGISTERS, and only for routes that pass arguments in registers) or must be
 * enforced by emulation on the broker's own copy, and so a later filter compiler knows which
 * rules can be decided in BPF. */
enum mmsg_input {
    MMSG_INPUT_SYSCALL = 1u << 0,       /* which route */
    MMSG_INPUT_FD = 1u << 1,            /* fd number */
    MMSG_INPUT_VLEN = 1u << 2,          /* vlen */
    MMSG_INPUT_FLAGS = 1u << 3,         /* flags */
    MMSG_INPUT_TIMEOUT_PTR = 1u << 4,   /* timeout pointer NULL or not */
    MMSG_INPUT_TIMEOUT_VALUE = 1u << 5, /* the timespec the pointer points to (caller memory) */
    MMSG_INPUT_SOCKET = 1u << 6,        /* the file behind the fd */
    MMSG_INPUT_PROCESS = 1u << 7,       /* exe, comm, uid of the caller */
};

/* Everything in a direct syscall's registers. For socketcall only MMSG_INPUT_SYSCALL is a
 * register: the five arguments live in caller memory. */
#define MMSG_INPUT_REGISTERS                                                   \
    (MMSG_INPUT_SYSCALL | MMSG_INPUT_FD | MMSG_INPUT_VLEN | MMSG_INPUT_FLAGS | \
     MMSG_INPUT_TIMEOUT_PTR)

/* One call, as the broker resolved it. Fields whose *_known flag is false were not available
 * (unreadable memory, not a socket, process gone); a match on them then does not hold. */
struct mmsg_call {
    enum mmsg_syscall syscall;
    int32_t fd;
    uint64_t mmsg; /* pointer value */
    uint32_t vlen;
    uint32_t flags;   /* as passed, MSG_CMSG_COMPAT not added */
    uint64_t timeout; /* pointer value, 0 = NULL */

    bool timeout_known; /* *timeout was read */
    int64_t timeout_sec;
    int64_t timeout_nsec;

    bool socket_known;     /* fd refers to a socket and it was inspected */
    int socket_family;     /* AF_* */
    int socket_type;       /* SOCK_* without flags */
    int socket_local_port; /* host order, -1 when the family has no port */

    bool process_known;
    const char *exe;  /* borrowed, may be NULL */
    const char *comm; /* borrowed, may be NULL */
    uint32_t uid;     /* real uid */
};

#define MMSG_RULE_NAME_MAX 64

struct mmsg_decision {
    enum mmsg_action action;
    int errno_value;       /* DENY: positive errno */
    int rule_index;        /* -1 for the default */
    const char *rule_name; /* borrowed from the policy: the rule's name, or "default" */
    bool audit;            /* this decision must be audited */
    /* false in complain mode (the policy's or the rule's "mode": "complain"): the broker audits
     * the decision (with "enforced": false) but carries out none of it, answering as for allow;
     * a deny, kill or cap is only reported. */
    bool enforce;
    unsigned inputs; /* enum mmsg_input set consulted to reach this decision */
    /* EMULATE caps. */
    int64_t timeout_cap_ms; /* -1: none */
    uint32_t vlen_cap;      /* 0: none */
    uint32_t clear_flags;   /* MSG_* bits removed before the call */
};

#define MMSG_DIAG_TEXT_MAX 200
#define MMSG_DIAG_PATH_MAX 128
#define MMSG_DIAGS_MAX 64

/* One human-readable policy error, shaped like jansson's json_error_t. line/column are 1-based;
 * 0 when unknown. path is a JSON path such as "rules[2].match.flags". */
struct mmsg_diag {
    int line;
    int column;
    char path[MMSG_DIAG_PATH_MAX];
    char text[MMSG_DIAG_TEXT_MAX];
};

/* All errors of one load, in source order. n_dropped counts errors beyond MMSG_DIAGS_MAX. */
struct mmsg_diags {
    unsigned n_diags;
    unsigned n_dropped;
    struct mmsg_diag diag[MMSG_DIAGS_MAX];
};

struct mmsg_policy;

/**
 * mmsg_policy_load_buffer() - parse and validate a policy held in memory.
 * @buf:         JSON text (need not be NUL-terminated)
 * @buf_len:     bytes in @buf
 * @ret_policy:  on success, the new policy (free with mmsg_policy_free())
 * @reterr_diags: on -EINVAL, every error found; may be NULL
 *
 * Return: 0 on success; -EINVAL if the text is not a valid version 1 policy; -ENOMEM.
 */
int mmsg_policy_load_buffer(const char *buf, size_t buf_len, struct mmsg_policy **ret_policy,
                            struct mmsg_diags *reterr_diags);

/**
 * mmsg_policy_load_file() - like mmsg_policy_load_buffer(), reading all of @f.
 *
 * Return: 0; -EINVAL (invalid, see @reterr_diags); -EIO (@f could not be read); -EFBIG (larger
 * than 16 MiB); -ENOMEM.
 */
int mmsg_policy_load_file(FILE *f, struct mmsg_policy **ret_policy,
                          struct mmsg_diags *reterr_diags);

/** mmsg_policy_free() - free @policy (NULL is fine). Return: NULL. */
struct mmsg_policy *mmsg_policy_free(struct mmsg_policy *policy);

/**
 * mmsg_policy_evaluate() - decide one call: rules in order, the first whose every match key
 * holds decides, else the default.
 * @policy: a loaded policy
 * @call:   the call
 * @ret_decision: the decision; its rule_name borrows from @policy
 *
 * Return: 0. (Evaluation cannot fail: a key whose input is unknown does not match.)
 */
int mmsg_policy_evaluate(const struct mmsg_policy *policy, const struct mmsg_call *call,
                         struct mmsg_decision *ret_decision);

/**
 * mmsg_policy_inputs() - the union of inputs any rule of @policy may consult, so the broker
 * reads caller memory, the socket or /proc only when some rule needs it.
 */
unsigned mmsg_policy_inputs(const struct mmsg_policy *policy);

/** mmsg_policy_n_rules() - number of rules. */
size_t mmsg_policy_n_rules(const struct mmsg_policy *policy);

/**
 * mmsg_policy_rule_inputs() - inputs rule @index consults (its match keys). A rule whose set is
 * within MMSG_INPUT_REGISTERS and whose action is DENY can be compiled into the BPF filter.
 * Return: the set, or 0 for an index out of range.
 */
unsigned mmsg_policy_rule_inputs(const struct mmsg_policy *policy, size_t index);

/** mmsg_policy_drop_caps() - whether the policy asks to drop all capabilities of the child. */
bool mmsg_policy_drop_caps(const struct mmsg_policy *policy);

/** mmsg_policy_default_json() - the built-in default policy, as JSON text. */
const char *mmsg_policy_default_json(void);

/* Names, for audit and messages; pure table look-ups. */
const char *mmsg_syscall_name(enum mmsg_syscall sys);  /* "recvmmsg_time32", ...; NULL if bad */
const char *mmsg_action_name(enum mmsg_action action); /* "allow", ...; NULL if bad */
const char *mmsg_errno_name(int errno_value);          /* "EPERM"; NULL if unknown */
int mmsg_errno_from_name(const char *name);            /* positive errno, or -EINVAL */
int mmsg_msg_flag_from_name(const char *name, uint32_t *ret_flag); /* 0 or -EINVAL */
/**
 * mmsg_msg_flags_format() - write the names of @flags ("MSG_PEEK|MSG_DONTWAIT", unknown bits as
 * 0x...; "0" for none) into @buf. Return: 0, or -ENOBUFS when @buf_len is too small.
 */
int mmsg_msg_flags_format(uint32_t flags, char *buf, size_t buf_len);
/** Visit each known flag name in @flags; for audit arrays. Return: count visited. */
size_t mmsg_msg_flags_names(uint32_t flags, const char **ret_names, size_t n_max);

#endif
