/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of a parsed version 1 policy into struct mmsg_policy. Every error is reported,
 * with the line:column and JSON path of the offending value, so one run of "mmsgate check"
 * shows the author everything to fix. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal/macros.h"
#include "policy-internal.h"

/* Hard limits on what a policy may make us allocate and scan per call. */
#define POLICY_RULES_MAX 4096
#define POLICY_FD_ITEMS_MAX 1024
#define POLICY_COMM_MAX 15 /* TASK_COMM_LEN - 1 */
#define POLICY_TIMEOUT_CAP_MS_MAX 86400000
#define POLICY_VLEN_CAP_MAX 1024 /* UIO_MAXIOV: the kernel's own bound on vlen */

struct vctx {
    const char *buf;
    size_t buf_len;
    struct mmsg_diags *diags; /* NULL: count only */
    unsigned n_errors;
    int oom;
    size_t depth;
    struct policy_seg path[POLICY_PATH_DEPTH_MAX];
};

static void push_key(struct vctx *ctx, const char *key)
{
    /* Deeper paths are not reachable: every level is checked against a fixed key list. */
    if (ctx->depth < POLICY_PATH_DEPTH_MAX)
        ctx->path[ctx->depth] = (struct policy_seg){.key = key};
    ctx->depth++;
}

static void push_index(struct vctx *ctx, size_t index)
{
    if (ctx->depth < POLICY_PATH_DEPTH_MAX)
        ctx->path[ctx->depth] = (struct policy_seg){.index = index};
    ctx->depth++;
}

static void pop(struct vctx *ctx)
{
    ctx->depth--;
}

/* Record one error at the current path: at its key when @at_key (unknown keys), else at its
 * value. */
printf_(3, 4) static void error_at(struct vctx *ctx, bool at_key, const char *fmt, ...)
{
    size_t depth = ctx->depth < POLICY_PATH_DEPTH_MAX ? ctx->depth : POLICY_PATH_DEPTH_MAX;
    struct mmsg_diag *d;
    va_list ap;

    ctx->n_errors++;
    if (!ctx->diags)
        return;
    if (ctx->diags->n_diags >= MMSG_DIAGS_MAX) {
        ctx->diags->n_dropped++;
        return;
    }
    d = &ctx->diags->diag[ctx->diags->n_diags++];
    if (policy_locate(ctx->buf, ctx->buf_len, ctx->path, depth, at_key, &d->line, &d->column) < 0) {
        d->line = 0;
        d->column = 0;
    }
    policy_path_format(ctx->path, depth, d->path, sizeof(d->path));
    va_start(ap, fmt);
    (void)vsnprintf(d->text, sizeof(d->text), fmt, ap); /* truncation is acceptable */
    va_end(ap);
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    default:
        return "an unknown value";
    }
}

static bool expect_type(struct vctx *ctx, json_t *j, json_type type, const char *what)
{
    bool ok = json_typeof(j) == type || (type == JSON_TRUE && json_is_boolean(j));

    if (!ok)
        error_at(ctx, false, "expected %s, got %s", what, type_name(j));
    return ok;
}

/* Report keys of @obj that are not in @allowed (a NULL-terminated list, also used for the
 * message so the author sees the valid spellings). */
static void check_keys(struct vctx *ctx, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;

    json_object_foreach (obj, key, value) {
        bool known = false;
        char esc[64], list[160];
        size_t off = 0;

        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                known = true;
        if (known)
            continue;
        list[0] = '\0';
        for (size_t i = 0; allowed[i]; i++) {
            int n = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", allowed[i]);

            if (n < 0 || (size_t)n >= sizeof(list) - off)
                break;
            off += (size_t)n;
        }
        policy_escape(key, esc, sizeof(esc));
        push_key(ctx, key);
        error_at(ctx, true, "unknown key \"%s\" (expected one of: %s)", esc, list);
        pop(ctx);
    }
}

/* Report each key of @required missing from @obj, at the object itself. */
static void check_required(struct vctx *ctx, json_t *obj, const char *key)
{
    if (!json_object_get(obj, key)) /* borrowed; only tested */
        error_at(ctx, false, "missing required key \"%s\"", key);
}

static bool get_int(struct vctx *ctx, json_t *j, int64_t min, int64_t max, int64_t *ret)
{
    json_int_t v;

    if (!expect_type(ctx, j, JSON_INTEGER, "an integer"))
        return false;
    v = json_integer_value(j);
    if (v < min || v > max) {
        error_at(ctx, false, "out of range: %lld (expected %lld..%lld)", (long long)v,
                 (long long)min, (long long)max);
        return false;
    }
    *ret = v;
    return true;
}

/* [lo, hi] with min <= lo <= hi <= max. */
static bool get_range(struct vctx *ctx, json_t *j, int64_t min, int64_t max, int64_t *ret_lo,
                      int64_t *ret_hi)
{
    int64_t lo = 0, hi = 0;
    bool ok;

    if (!expect_type(ctx, j, JSON_ARRAY, "a [lo, hi] array"))
        return false;
    if (json_array_size(j) != 2) {
        error_at(ctx, false, "expected a [lo, hi] array of 2 integers, got %zu elements",
                 json_array_size(j));
        return false;
    }
    push_index(ctx, 0);
    ok = get_int(ctx, json_array_get(j, 0), min, max, &lo); /* borrowed */
    pop(ctx);
    push_index(ctx, 1);
    ok = get_int(ctx, json_array_get(j, 1), min, max, &hi) && ok; /* borrowed */
    pop(ctx);
    if (!ok)
        return false;
    if (lo > hi) {
        error_at(ctx, false, "impossible range: %lld > %lld", (long long)lo, (long long)hi);
        return false;
    }
    *ret_lo = lo;
    *ret_hi = hi;
    return true;
}

static const char *get_string(struct vctx *ctx, json_t *j)
{
    if (!expect_type(ctx, j, JSON_STRING, "a string"))
        return NULL;
    return json_string_value(j);
}

static bool nonempty_array(struct vctx *ctx, json_t *j, const char *what)
{
    if (!expect_type(ctx, j, JSON_ARRAY, what))
        return false;
    if (json_array_size(j) == 0) {
        error_at(ctx, false, "empty array: give at least one element");
        return false;
    }
    return true;
}

/* A non-empty array of MSG_* names, each at most once: their OR in *ret. */
static bool get_flag_names(struct vctx *ctx, json_t *j, uint32_t *ret)
{
    uint32_t mask = 0;
    bool ok = true;
    size_t i;
    json_t *item;

    if (!nonempty_array(ctx, j, "an array of MSG_* names"))
        return false;
    json_array_foreach (j, i, item) {
        const char *name;
        uint32_t flag;

        push_index(ctx, i);
        name = get_string(ctx, item);
        if (!name) {
            ok = false;
        } else if (mmsg_msg_flag_from_name(name, &flag) < 0) {
            char esc[64];

            policy_escape(name, esc, sizeof(esc));
            error_at(ctx, false, "unknown flag name \"%s\"", esc);
            ok = false;
        } else if (mask & flag) {
            error_at(ctx, false, "duplicate flag %s", name);
            ok = false;
        } else {
            mask |= flag;
        }
        pop(ctx);
    }
    *ret = mask;
    return ok;
}

/* A string or non-empty array of names from @names (NULL-terminated, value in @values): bits
 * (1 << value) in *ret. */
static void get_name_set(struct vctx *ctx, json_t *j, const char *const *names, const int *values,
                         const char *what, uint32_t *ret)
{
    uint32_t mask = 0;
    size_t n = json_is_array(j) ? json_array_size(j) : 1;

    if (!json_is_string(j) && !nonempty_array(ctx, j, "a string or an array of strings"))
        return;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_is_array(j) ? json_array_get(j, i) : j; /* borrowed */
        const char *name;
        bool found = false;

        if (json_is_array(j))
            push_index(ctx, i);
        name = get_string(ctx, item);
        for (size_t k = 0; name && names[k]; k++) {
            if (strcmp(names[k], name) != 0)
                continue;
            found = true;
            if (mask & (UINT32_C(1) << values[k]))
                error_at(ctx, false, "duplicate %s \"%s\"", what, name);
            mask |= UINT32_C(1) << values[k];
        }
        if (name && !found) {
            char esc[64];

            policy_escape(name, esc, sizeof(esc));
            error_at(ctx, false, "unknown %s \"%s\"", what, esc);
        }
        if (json_is_array(j))
            pop(ctx);
    }
    *ret = mask;
}

static void check_syscall(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    size_t i;
    json_t *item;

    if (!nonempty_array(ctx, j, "an array of syscall names"))
        return;
    json_array_foreach (j, i, item) {
        const char *name;
        int sys;

        push_index(ctx, i);
        name = get_string(ctx, item);
        sys = name ? policy_syscall_from_name(name) : -EINVAL;
        if (name && sys < 0) {
            char esc[64];

            policy_escape(name, esc, sizeof(esc));
            error_at(ctx, false,
                     "unknown syscall \"%s\" (expected one of: recvmmsg_time32, recvmmsg_time64, "
                     "socketcall, recvmmsg)",
                     esc);
        } else if (sys >= 0 && (rule->syscall_mask & (UINT32_C(1) << sys))) {
            error_at(ctx, false, "duplicate syscall \"%s\"", name);
        } else if (sys >= 0) {
            rule->syscall_mask |= UINT32_C(1) << sys;
        }
        pop(ctx);
    }
}

static void check_fd(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    size_t i, n;
    json_t *item;

    if (!nonempty_array(ctx, j, "an array of fd numbers and [lo, hi] ranges"))
        return;
    n = json_array_size(j);
    if (n > POLICY_FD_ITEMS_MAX) {
        error_at(ctx, false, "too many fd items: %zu (at most %d)", n, POLICY_FD_ITEMS_MAX);
        return;
    }
    rule->fds = calloc(n, sizeof(*rule->fds));
    if (!rule->fds) {
        ctx->oom = -ENOMEM;
        return;
    }
    json_array_foreach (j, i, item) {
        int64_t lo = 0, hi = 0;
        bool ok;

        push_index(ctx, i);
        if (json_is_array(item)) {
            ok = get_range(ctx, item, INT32_MIN, INT32_MAX, &lo, &hi);
        } else if (json_is_integer(item)) {
            ok = get_int(ctx, item, INT32_MIN, INT32_MAX, &lo);
            hi = lo;
        } else {
            error_at(ctx, false, "expected an fd number or a [lo, hi] range, got %s",
                     type_name(item));
            ok = false;
        }
        if (ok)
            rule->fds[rule->n_fds++] = (struct policy_fd_range){(int32_t)lo, (int32_t)hi};
        pop(ctx);
    }
}

static void check_flags(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    static const char *const keys[] = {"any", "all", "none", NULL};
    json_t *any, *all, *none;

    if (!expect_type(ctx, j, JSON_OBJECT, "an object"))
        return;
    check_keys(ctx, j, keys);
    any = json_object_get(j, "any"); /* borrowed, like the two below */
    all = json_object_get(j, "all");
    none = json_object_get(j, "none");
    if (json_object_size(j) == 0) {
        error_at(ctx, false, "empty flags object: give at least one of any, all, none");
        return;
    }
    /* Source order does not matter here: the diags are sorted by position at the end. */
    if (any) {
        push_key(ctx, "any");
        (void)get_flag_names(ctx, any, &rule->flags_any); /* errors already recorded */
        pop(ctx);
    }
    if (all) {
        push_key(ctx, "all");
        (void)get_flag_names(ctx, all, &rule->flags_all);
        pop(ctx);
    }
    if (none) {
        bool ok;

        push_key(ctx, "none");
        ok = get_flag_names(ctx, none, &rule->flags_none);
        /* A rule that can never match is a mistake the author wants to hear about. */
        if (ok && (rule->flags_all & rule->flags_none)) {
            char list[96];

            (void)mmsg_msg_flags_format(rule->flags_all & rule->flags_none, list, sizeof(list));
            error_at(ctx, false, "impossible match: %s in both \"all\" and \"none\"", list);
        } else if (ok && rule->flags_any && (rule->flags_any & ~rule->flags_none) == 0) {
            error_at(ctx, false, "impossible match: every flag of \"any\" is in \"none\"");
        }
        pop(ctx);
    }
}

static void check_timeout(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    static const char *const keys[] = {"null", "over_ms", "under_ms", NULL};
    json_t *null, *over, *under;
    bool over_ok = false, under_ok = false;

    if (!expect_type(ctx, j, JSON_OBJECT, "an object"))
        return;
    check_keys(ctx, j, keys);
    null = json_object_get(j, "null"); /* borrowed, like the two below */
    over = json_object_get(j, "over_ms");
    under = json_object_get(j, "under_ms");
    if (json_object_size(j) == 0) {
        error_at(ctx, false, "empty timeout object: give at least one of null, over_ms, under_ms");
        return;
    }
    if (null) {
        push_key(ctx, "null");
        if (expect_type(ctx, null, JSON_TRUE, "a boolean")) {
            rule->keys |= POLICY_KEY_TIMEOUT_NULL;
            rule->timeout_null = json_is_true(null);
            if (rule->timeout_null && (over || under))
                error_at(ctx, false,
                         "impossible match: a NULL timeout has no value for over_ms/under_ms");
        }
        pop(ctx);
    }
    if (over) {
        push_key(ctx, "over_ms");
        over_ok = get_int(ctx, over, 0, INT64_MAX, &rule->over_ms);
        if (over_ok)
            rule->keys |= POLICY_KEY_TIMEOUT_OVER;
        pop(ctx);
    }
    if (under) {
        push_key(ctx, "under_ms");
        under_ok = get_int(ctx, under, 0, INT64_MAX, &rule->under_ms);
        if (under_ok)
            rule->keys |= POLICY_KEY_TIMEOUT_UNDER;
        if (over_ok && under_ok && rule->over_ms >= rule->under_ms)
            error_at(ctx, false, "impossible range: over_ms %lld >= under_ms %lld",
                     (long long)rule->over_ms, (long long)rule->under_ms);
        pop(ctx);
    }
}

static void check_socket(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    static const char *const keys[] = {"family", "type", "local_port", NULL};
    static const char *const families[] = {"inet", "inet6", "unix", "netlink", "packet", NULL};
    static const int family_values[] = {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, AF_PACKET};
    static const char *const types[] = {"dgram", "stream", "seqpacket", "raw", NULL};
    static const int type_values[] = {SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET, SOCK_RAW};
    json_t *v;

    if (!expect_type(ctx, j, JSON_OBJECT, "an object"))
        return;
    check_keys(ctx, j, keys);
    rule->keys |= POLICY_KEY_SOCKET;
    v = json_object_get(j, "family"); /* borrowed */
    if (v) {
        push_key(ctx, "family");
        rule->keys |= POLICY_KEY_SOCKET_FAMILY;
        get_name_set(ctx, v, families, family_values, "socket family", &rule->family_mask);
        pop(ctx);
    }
    v = json_object_get(j, "type"); /* borrowed */
    if (v) {
        push_key(ctx, "type");
        rule->keys |= POLICY_KEY_SOCKET_TYPE;
        get_name_set(ctx, v, types, type_values, "socket type", &rule->type_mask);
        pop(ctx);
    }
    v = json_object_get(j, "local_port"); /* borrowed */
    if (v) {
        int64_t lo, hi;

        push_key(ctx, "local_port");
        if (get_range(ctx, v, 0, 65535, &lo, &hi)) {
            rule->keys |= POLICY_KEY_SOCKET_PORT;
            rule->port_lo = (int32_t)lo;
            rule->port_hi = (int32_t)hi;
        }
        pop(ctx);
    }
}

static void check_process(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    static const char *const keys[] = {"exe", "comm", "uid", NULL};
    json_t *v;
    const char *s;

    if (!expect_type(ctx, j, JSON_OBJECT, "an object"))
        return;
    check_keys(ctx, j, keys);
    rule->keys |= POLICY_KEY_PROCESS;
    v = json_object_get(j, "exe"); /* borrowed */
    if (v) {
        push_key(ctx, "exe");
        s = get_string(ctx, v);
        if (s && !*s) {
            error_at(ctx, false, "empty exe pattern");
        } else if (s) {
            rule->exe = strdup(s);
            if (!rule->exe)
                ctx->oom = -ENOMEM;
            rule->keys |= POLICY_KEY_PROCESS_EXE;
        }
        pop(ctx);
    }
    v = json_object_get(j, "comm"); /* borrowed */
    if (v) {
        push_key(ctx, "comm");
        s = get_string(ctx, v);
        if (s && (!*s || strlen(s) > POLICY_COMM_MAX)) {
            error_at(ctx, false, "comm must be 1..%d characters (the kernel truncates it), got %zu",
                     POLICY_COMM_MAX, strlen(s));
        } else if (s) {
            rule->comm = strdup(s);
            if (!rule->comm)
                ctx->oom = -ENOMEM;
            rule->keys |= POLICY_KEY_PROCESS_COMM;
        }
        pop(ctx);
    }
    v = json_object_get(j, "uid"); /* borrowed */
    if (v) {
        int64_t lo = 0, hi = 0;
        bool ok;

        push_key(ctx, "uid");
        if (json_is_array(v)) {
            ok = get_range(ctx, v, 0, UINT32_MAX, &lo, &hi);
        } else {
            ok = get_int(ctx, v, 0, UINT32_MAX, &lo);
            hi = lo;
        }
        if (ok) {
            rule->keys |= POLICY_KEY_PROCESS_UID;
            rule->uid_lo = (uint32_t)lo;
            rule->uid_hi = (uint32_t)hi;
        }
        pop(ctx);
    }
}

static void check_match(struct vctx *ctx, json_t *j, struct policy_rule *rule)
{
    static const char *const keys[] = {"syscall", "fd",     "vlen",    "flags",
                                       "timeout", "socket", "process", NULL};
    json_t *v;

    if (!expect_type(ctx, j, JSON_OBJECT, "an object"))
        return;
    check_keys(ctx, j, keys);

    v = json_object_get(j, "syscall"); /* borrowed, like every json_object_get() below */
    if (v) {
        push_key(ctx, "syscall");
        rule->keys |= POLICY_KEY_SYSCALL;
        check_syscall(ctx, v, rule);
        pop(ctx);
    }
    v = json_object_get(j, "fd");
    if (v) {
        push_key(ctx, "fd");
        rule->keys |= POLICY_KEY_FD;
        check_fd(ctx, v, rule);
        pop(ctx);
    }
    v = json_object_get(j, "vlen");
    if (v) {
        int64_t lo = 0, hi = 0;

        push_key(ctx, "vlen");
        rule->keys |= POLICY_KEY_VLEN;
        if (get_range(ctx, v, 0, UINT32_MAX, &lo, &hi)) {
            rule->vlen_lo = (uint32_t)lo;
            rule->vlen_hi = (uint32_t)hi;
        }
        pop(ctx);
    }
    v = json_object_get(j, "flags");
    if (v) {
        push_key(ctx, "flags");
        rule->keys |= POLICY_KEY_FLAGS;
        check_flags(ctx, v, rule);
        pop(ctx);
    }
    v = json_object_get(j, "timeout");
    if (v) {
        push_key(ctx, "timeout");
        check_timeout(ctx, v, rule);
        pop(ctx);
    }
    v = json_object_get(j, "socket");
    if (v) {
        push_key(ctx, "socket");
        check_socket(ctx, v, rule);
        pop(ctx);
    }
    v = json_object_get(j, "process");
    if (v) {
        push_key(ctx, "process");
        check_process(ctx, v, rule);
        pop(ctx);
    }
}

/* "mode": "enforce" or "complain", of a rule, the default or the policy (@obj's member). */
static void check_mode(struct vctx *ctx, json_t *obj, int *ret_mode)
{
    json_t *v = json_object_get(obj, "mode"); /* borrowed */
    const char *s;

    if (!v)
        return;
    push_key(ctx, "mode");
    s = get_string(ctx, v);
    if (s && strcmp(s, "enforce") == 0) {
        *ret_mode = POLICY_MODE_ENFORCE;
    } else if (s && strcmp(s, "complain") == 0) {
        *ret_mode = POLICY_MODE_COMPLAIN;
    } else if (s) {
        char esc[64];

        policy_escape(s, esc, sizeof(esc));
        error_at(ctx, false, "unknown mode \"%s\" (expected one of: enforce, complain)", esc);
    }
    pop(ctx);
}

/* The action and its keys, shared by rules and the default. */
static void check_action(struct vctx *ctx, json_t *obj, struct policy_rule *rule)
{
    json_t *v;
    const char *s;
    bool action_ok = false;

    rule->timeout_cap_ms = -1;
    v = json_object_get(obj, "action"); /* borrowed, like every json_object_get() below */
    if (!v) {
        check_required(ctx, obj, "action");
    } else {
        push_key(ctx, "action");
        s = get_string(ctx, v);
        if (s) {
            int a = policy_action_from_name(s);

            if (a < 0) {
                char esc[64];

                policy_escape(s, esc, sizeof(esc));
                error_at(ctx, false,
                         "unknown action \"%s\" (expected one of: allow, deny, emulate, kill)",
                         esc);
            } else {
                rule->action = (enum mmsg_action)a;
                action_ok = true;
            }
        }
        pop(ctx);
    }

    v = json_object_get(obj, "errno");
    if (v) {
        push_key(ctx, "errno");
        s = get_string(ctx, v);
        if (action_ok && rule->action != MMSG_ACTION_DENY) {
            error_at(ctx, false, "\"errno\" is only for action deny, not %s",
                     mmsg_action_name(rule->action));
        } else if (s) {
            int e = mmsg_errno_from_name(s);

            if (e < 0) {
                char esc[64];

                policy_escape(s, esc, sizeof(esc));
                error_at(ctx, false, "unknown errno name \"%s\"", esc);
            } else {
                rule->errno_value = e;
            }
        }
        pop(ctx);
    } else if (action_ok && rule->action == MMSG_ACTION_DENY) {
        error_at(ctx, false, "missing required key \"errno\" (action deny needs an errno name)");
    }

    /* Deny and kill are the decisions an operator investigates later: audit them unless the
     * policy says otherwise. */
    rule->audit =
        action_ok && (rule->action == MMSG_ACTION_DENY || rule->action == MMSG_ACTION_KILL);
    v = json_object_get(obj, "audit");
    if (v) {
        push_key(ctx, "audit");
        if (expect_type(ctx, v, JSON_TRUE, "a boolean"))
            rule->audit = json_is_true(v);
        pop(ctx);
    }

    v = json_object_get(obj, "timeout_cap_ms");
    if (v) {
        push_key(ctx, "timeout_cap_ms");
        if (action_ok && rule->action != MMSG_ACTION_EMULATE)
            error_at(ctx, false, "\"timeout_cap_ms\" is only for action emulate, not %s",
                     mmsg_action_name(rule->action));
        else
            (void)get_int(ctx, v, 0, POLICY_TIMEOUT_CAP_MS_MAX, &rule->timeout_cap_ms);
        pop(ctx);
    }
    v = json_object_get(obj, "vlen_cap");
    if (v) {
        int64_t cap;

        push_key(ctx, "vlen_cap");
        if (action_ok && rule->action != MMSG_ACTION_EMULATE)
            error_at(ctx, false, "\"vlen_cap\" is only for action emulate, not %s",
                     mmsg_action_name(rule->action));
        else if (get_int(ctx, v, 1, POLICY_VLEN_CAP_MAX, &cap))
            rule->vlen_cap = (uint32_t)cap;
        pop(ctx);
    }
    v = json_object_get(obj, "clear_flags");
    if (v) {
        push_key(ctx, "clear_flags");
        if (action_ok && rule->action != MMSG_ACTION_EMULATE)
            error_at(ctx, false, "\"clear_flags\" is only for action emulate, not %s",
                     mmsg_action_name(rule->action));
        else
            (void)get_flag_names(ctx, v, &rule->clear_flags); /* errors already recorded */
        pop(ctx);
    }
    v = json_object_get(obj, "comment");
    if (v) {
        push_key(ctx, "comment");
        (void)get_string(ctx, v); /* only its type matters */
        pop(ctx);
    }
    check_mode(ctx, obj, &rule->mode);
}

static bool valid_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

static void check_rule(struct vctx *ctx, json_t *j, struct policy_rule *rules, size_t index)
{
    static const char *const keys[] = {"name",    "match",          "action",   "errno",
                                       "audit",   "timeout_cap_ms", "vlen_cap", "clear_flags",
                                       "comment", "mode",           NULL};
    struct policy_rule *rule = &rules[index];
    json_t *v;

    if (!expect_type(ctx, j, JSON_OBJECT, "a rule object"))
        return;
    check_keys(ctx, j, keys);

    v = json_object_get(j, "name"); /* borrowed, like the one below */
    if (!v) {
        check_required(ctx, j, "name");
    } else {
        const char *s;

        push_key(ctx, "name");
        s = get_string(ctx, v);
        if (s) {
            size_t len = strlen(s);
            bool chars_ok = true;
            char esc[96];

            for (size_t i = 0; i < len; i++)
                chars_ok = chars_ok && valid_name_char(s[i]);
            policy_escape(s, esc, sizeof(esc));
            if (len == 0 || len >= MMSG_RULE_NAME_MAX) {
                error_at(ctx, false, "rule name must be 1..%d characters, got %zu",
                         MMSG_RULE_NAME_MAX - 1, len);
            } else if (!chars_ok) {
                error_at(ctx, false, "rule name \"%s\" may only use A-Z a-z 0-9 _ . -", esc);
            } else if (strcmp(s, "default") == 0) {
                /* Audit lines name the default decision "default": a rule must not look like it. */
                error_at(ctx, false, "rule name \"default\" is reserved for the default action");
            } else {
                bool dup = false;

                for (size_t i = 0; i < index && !dup; i++)
                    if (strcmp(rules[i].name, s) == 0) {
                        error_at(ctx, false,
                                 "duplicate rule name \"%s\" (first used by rules[%zu])", esc, i);
                        dup = true;
                    }
                if (!dup)
                    memcpy(rule->name, s, len + 1);
            }
        }
        pop(ctx);
    }

    v = json_object_get(j, "match");
    if (v) {
        push_key(ctx, "match");
        check_match(ctx, v, rule);
        pop(ctx);
    }
    check_action(ctx, j, rule);
}

static unsigned inputs_of(unsigned keys)
{
    unsigned inputs = 0;

    if (keys & POLICY_KEY_SYSCALL)
        inputs |= MMSG_INPUT_SYSCALL;
    if (keys & POLICY_KEY_FD)
        inputs |= MMSG_INPUT_FD;
    if (keys & POLICY_KEY_VLEN)
        inputs |= MMSG_INPUT_VLEN;
    if (keys & POLICY_KEY_FLAGS)
        inputs |= MMSG_INPUT_FLAGS;
    if (keys & POLICY_KEY_TIMEOUT_NULL)
        inputs |= MMSG_INPUT_TIMEOUT_PTR;
    if (keys & (POLICY_KEY_TIMEOUT_OVER | POLICY_KEY_TIMEOUT_UNDER))
        inputs |= MMSG_INPUT_TIMEOUT_PTR | MMSG_INPUT_TIMEOUT_VALUE;
    if (keys & POLICY_KEY_SOCKET)
        inputs |= MMSG_INPUT_SOCKET;
    if (keys & POLICY_KEY_PROCESS)
        inputs |= MMSG_INPUT_PROCESS;
    return inputs;
}

static void check_rules(struct vctx *ctx, json_t *j, struct mmsg_policy *policy)
{
    size_t i, n;
    json_t *item;

    if (!expect_type(ctx, j, JSON_ARRAY, "an array of rules"))
        return;
    n = json_array_size(j);
    if (n > POLICY_RULES_MAX) {
        error_at(ctx, false, "too many rules: %zu (at most %d)", n, POLICY_RULES_MAX);
        return;
    }
    if (n == 0)
        return;
    policy->rules = calloc(n, sizeof(*policy->rules));
    if (!policy->rules) {
        ctx->oom = -ENOMEM;
        return;
    }
    /* Counted now so mmsg_policy_free() releases whatever the rules own on any path. */
    policy->n_rules = n;
    json_array_foreach (j, i, item) {
        push_index(ctx, i);
        check_rule(ctx, item, policy->rules, i);
        pop(ctx);
        policy->rules[i].inputs = inputs_of(policy->rules[i].keys);
        policy->inputs |= policy->rules[i].inputs;
    }
}

static void sort_diags(struct mmsg_diags *diags)
{
    /* Insertion sort: stable (errors at one position keep their order) and no qsort(), which
     * the purity check does not need to allow. At most MMSG_DIAGS_MAX elements. */
    for (unsigned i = 1; i < diags->n_diags; i++) {
        struct mmsg_diag tmp = diags->diag[i];
        unsigned k = i;

        while (k > 0 &&
               (diags->diag[k - 1].line > tmp.line ||
                (diags->diag[k - 1].line == tmp.line && diags->diag[k - 1].column > tmp.column))) {
            diags->diag[k] = diags->diag[k - 1];
            k--;
        }
        diags->diag[k] = tmp;
    }
}

int policy_validate(json_t *root, const char *buf, size_t buf_len, struct mmsg_policy *policy,
                    struct mmsg_diags *reterr_diags)
{
    static const char *const top_keys[] = {"version",     "default", "rules", "drop_caps",
                                           "description", "mode",    NULL};
    static const char *const default_keys[] = {"action",         "errno",    "audit",
                                               "timeout_cap_ms", "vlen_cap", "clear_flags",
                                               "comment",        "mode",     NULL};
    struct vctx ctx = {.buf = buf, .buf_len = buf_len, .diags = reterr_diags};
    json_t *v;

    if (!expect_type(&ctx, root, JSON_OBJECT, "a policy object"))
        goto out;
    check_keys(&ctx, root, top_keys);

    v = json_object_get(root, "version"); /* borrowed, like every json_object_get() below */
    if (!v) {
        check_required(&ctx, root, "version");
    } else {
        push_key(&ctx, "version");
        if (expect_type(&ctx, v, JSON_INTEGER, "an integer") && json_integer_value(v) != 1)
            error_at(&ctx, false, "unsupported version %lld (expected 1)",
                     (long long)json_integer_value(v));
        pop(&ctx);
    }

    v = json_object_get(root, "default");
    if (!v) {
        check_required(&ctx, root, "default");
    } else {
        push_key(&ctx, "default");
        if (expect_type(&ctx, v, JSON_OBJECT, "an object")) {
            check_keys(&ctx, v, default_keys);
            check_action(&ctx, v, &policy->default_rule);
        }
        pop(&ctx);
    }
    memcpy(policy->default_rule.name, "default", sizeof("default"));
    policy->mode = POLICY_MODE_ENFORCE;
    check_mode(&ctx, root, &policy->mode);

    v = json_object_get(root, "rules");
    if (v) {
        push_key(&ctx, "rules");
        check_rules(&ctx, v, policy);
        pop(&ctx);
    }

    v = json_object_get(root, "drop_caps");
    if (v) {
        push_key(&ctx, "drop_caps");
        if (expect_type(&ctx, v, JSON_TRUE, "a boolean"))
            policy->drop_caps = json_is_true(v);
        pop(&ctx);
    }

    v = json_object_get(root, "description");
    if (v) {
        push_key(&ctx, "description");
        (void)get_string(&ctx, v); /* only its type matters */
        pop(&ctx);
    }

out:
    if (ctx.oom < 0)
        return ctx.oom;
    if (ctx.n_errors > 0) {
        if (reterr_diags)
            sort_diags(reterr_diags);
        return -EINVAL;
    }
    return 0;
}
