/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "mmsgate learn": group observed calls by executable and socket, and write the narrowest
 * policy under which the same workload runs without a denial. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal/macros.h"
#include "learn.h"

#define NS_PER_MS 1000000
#define LEARN_TIMEOUT_MS_MAX 86400000 /* beyond a day, a learned timeout bound is no bound */

struct group {
    /* Key. */
    char *exe; /* owned; NULL: process unknown */
    bool socket_known;
    int family, type;
    int port; /* -1: no port; LEARN_EPHEMERAL_PORT_MIN: any ephemeral port */

    /* What was seen. */
    unsigned long n_calls;
    uint32_t syscall_mask;
    uint32_t vlen_lo, vlen_hi;
    uint32_t flags_seen;
    unsigned long n_timeout_null, n_timeout_value, n_timeout_unknown;
    int64_t timeout_max_ms;
    bool blocking_unbounded; /* a NULL timeout without MSG_DONTWAIT: could wait for ever */
};

struct learn {
    struct group *groups;
    size_t n_groups, cap_groups;
    unsigned long n_calls, n_unlearned;
};

int learn_new(struct learn **ret)
{
    struct learn *l = calloc(1, sizeof(*l));

    if (!l)
        return -ENOMEM;
    *ret = l;
    return 0;
}

struct learn *learn_free(struct learn *l)
{
    if (!l)
        return NULL;
    for (size_t i = 0; i < l->n_groups; i++)
        free(l->groups[i].exe);
    free(l->groups);
    free(l);
    return NULL;
}

unsigned long learn_n_calls(const struct learn *l)
{
    return l->n_calls;
}

static int port_class(const struct mmsg_call *call)
{
    if (!call->socket_known || call->socket_local_port < 0)
        return -1;
    if (call->socket_local_port >= LEARN_EPHEMERAL_PORT_MIN)
        return LEARN_EPHEMERAL_PORT_MIN;
    return call->socket_local_port;
}

static bool same_key(const struct group *g, const char *exe, const struct mmsg_call *call)
{
    if ((g->exe == NULL) != (exe == NULL) || (exe && strcmp(g->exe, exe) != 0))
        return false;
    if (g->socket_known != call->socket_known)
        return false;
    return !call->socket_known || (g->family == call->socket_family &&
                                   g->type == call->socket_type && g->port == port_class(call));
}

int learn_observe(struct learn *l, const struct mmsg_call *call)
{
    const char *exe = call->process_known && call->exe && call->exe[0] ? call->exe : NULL;
    struct group *g = NULL;

    l->n_calls++;
    for (size_t i = 0; i < l->n_groups && !g; i++)
        if (same_key(&l->groups[i], exe, call))
            g = &l->groups[i];
    if (!g) {
        if (l->n_groups >= LEARN_GROUPS_MAX) {
            l->n_unlearned++;
            return -E2BIG;
        }
        if (l->n_groups == l->cap_groups) {
            size_t cap = l->cap_groups ? l->cap_groups * 2 : 8;
            struct group *p = realloc(l->groups, cap * sizeof(*p));

            if (!p)
                return -ENOMEM;
            l->groups = p;
            l->cap_groups = cap;
        }
        g = &l->groups[l->n_groups];
        *g = (struct group){
            .socket_known = call->socket_known,
            .family = call->socket_family,
            .type = call->socket_type,
            .port = port_class(call),
            .vlen_lo = call->vlen,
            .vlen_hi = call->vlen,
        };
        if (exe) {
            g->exe = strdup(exe);
            if (!g->exe)
                return -ENOMEM;
        }
        l->n_groups++;
    }

    g->n_calls++;
    if ((unsigned)call->syscall < MMSG_SYS_MAX_)
        g->syscall_mask |= UINT32_C(1) << call->syscall;
    if (call->vlen < g->vlen_lo)
        g->vlen_lo = call->vlen;
    if (call->vlen > g->vlen_hi)
        g->vlen_hi = call->vlen;
    g->flags_seen |= call->flags;
    if (call->timeout == 0) {
        g->n_timeout_null++;
        if (!(call->flags & MSG_DONTWAIT))
            g->blocking_unbounded = true;
    } else if (!call->timeout_known) {
        g->n_timeout_unknown++;
    } else {
        /* Both fields come from the target: clamp before any arithmetic can overflow. A bad
         * tv_nsec fails the call in the kernel anyway; only a sane bound matters here. */
        int64_t sec = call->timeout_sec, nsec = call->timeout_nsec, ms;

        if (nsec < 0 || nsec > 999999999)
            nsec = 0;
        if (sec < 0)
            ms = 0;
        else if (sec >= LEARN_TIMEOUT_MS_MAX / 1000)
            ms = LEARN_TIMEOUT_MS_MAX;
        else /* rounded up: a 1.5 ms timeout must fall under the learned bound */
            ms = sec * 1000 + nsec / NS_PER_MS + (nsec % NS_PER_MS ? 1 : 0);
        g->n_timeout_value++;
        if (ms > g->timeout_max_ms)
            g->timeout_max_ms = ms;
    }
    return 0;
}

/* ---- synthesis ---------------------------------------------------------------------------- */

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET:
        return "inet";
    case AF_INET6:
        return "inet6";
    case AF_UNIX:
        return "unix";
    case AF_NETLINK:
        return "netlink";
    case AF_PACKET:
        return "packet";
    default:
        return NULL;
    }
}

static const char *type_name(int type)
{
    switch (type) {
    case SOCK_DGRAM:
        return "dgram";
    case SOCK_STREAM:
        return "stream";
    case SOCK_SEQPACKET:
        return "seqpacket";
    case SOCK_RAW:
        return "raw";
    default:
        return NULL;
    }
}

/* json_*_set_new() steal the new value; a NULL value (allocation failed) makes them fail, which
 * is counted in *@oom instead of checked at every call. */
static void set(json_t *obj, const char *key, json_t *value, bool *oom)
{
    if (json_object_set_new(obj, key, value) < 0)
        *oom = true;
}

static void append(json_t *arr, json_t *value, bool *oom)
{
    if (json_array_append_new(arr, value) < 0)
        *oom = true;
}

static json_t *range(int64_t lo, int64_t hi, bool *oom)
{
    json_t *r = json_array();

    append(r, json_integer(lo), oom);
    append(r, json_integer(hi), oom);
    return r;
}

/* "learned-<basename of exe>-<n>", in the characters a rule name may use. */
static void rule_name(const struct group *g, size_t index, char *buf, size_t buf_len)
{
    const char *base = g->exe ? strrchr(g->exe, '/') : NULL;
    char clean[32];
    size_t n = 0;

    base = base ? base + 1 : g->exe ? g->exe : "any";
    for (; *base && n < sizeof(clean) - 1; base++) {
        char ch = *base;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';

        if (!ok)
            ch = '_';
        clean[n++] = ch;
    }
    clean[n] = '\0';
    (void)snprintf(buf, buf_len, "learned-%s-%zu", n ? clean : "any", index + 1); /* fits */
}

static json_t *rule_json(const struct group *g, size_t index, bool *oom)
{
    static const char *const routes[] = {"recvmmsg_time32", "recvmmsg_time64", "socketcall",
                                         "recvmmsg"};
    json_t *rule = json_object(), *match = json_object(), *arr;
    const char *names[32];
    size_t n_names;
    char name[MMSG_RULE_NAME_MAX], comment[512];
    int off;

    rule_name(g, index, name, sizeof(name));
    set(rule, "name", json_string(name), oom);

    arr = json_array();
    for (int s = 0; s < MMSG_SYS_MAX_; s++)
        if (g->syscall_mask & (UINT32_C(1) << s))
            append(arr, json_string(routes[s]), oom);
    set(match, "syscall", arr, oom);
    set(match, "vlen", range(g->vlen_lo, g->vlen_hi, oom), oom);

    /* Flags: every known flag never seen is refused, so a new flag (MSG_ERRQUEUE, MSG_PEEK) is
     * a decision for the operator, not something the learned policy lets through. */
    n_names = mmsg_msg_flags_names(~g->flags_seen, names, sizeof(names) / sizeof(names[0]));
    if (n_names > 0) {
        json_t *flags = json_object();

        arr = json_array();
        for (size_t i = 0; i < n_names; i++)
            append(arr, json_string(names[i]), oom);
        set(flags, "none", arr, oom);
        set(match, "flags", flags, oom);
    }

    if (g->n_timeout_null == g->n_calls) {
        json_t *t = json_object();

        set(t, "null", json_true(), oom);
        set(match, "timeout", t, oom);
    } else if (g->n_timeout_value == g->n_calls) {
        /* Generous: a timeout computed from a deadline varies between runs. */
        int64_t under = g->timeout_max_ms * 2 > g->timeout_max_ms + 1000 ? g->timeout_max_ms * 2
                                                                         : g->timeout_max_ms + 1000;
        json_t *t = json_object();

        set(t, "null", json_false(), oom);
        set(t, "under_ms", json_integer(under + 1), oom);
        set(match, "timeout", t, oom);
    }

    if (g->socket_known) {
        json_t *sock = json_object();
        const char *fam = family_name(g->family), *type = type_name(g->type);

        if (fam)
            set(sock, "family", json_string(fam), oom);
        if (type)
            set(sock, "type", json_string(type), oom);
        if (g->port == LEARN_EPHEMERAL_PORT_MIN)
            set(sock, "local_port", range(LEARN_EPHEMERAL_PORT_MIN, 65535, oom), oom);
        else if (g->port >= 0)
            set(sock, "local_port", range(g->port, g->port, oom), oom);
        set(match, "socket", sock, oom);
    }
    if (g->exe) {
        json_t *proc = json_object();

        /* fnmatch() pattern: the path's own *?[ must match literally. */
        if (strpbrk(g->exe, "*?[\\")) {
            char *esc = malloc(strlen(g->exe) * 2 + 1);
            size_t n = 0;

            if (!esc) {
                *oom = true;
            } else {
                for (const char *p = g->exe; *p; p++) {
                    if (strchr("*?[\\", *p))
                        esc[n++] = '\\';
                    esc[n++] = *p;
                }
                esc[n] = '\0';
                set(proc, "exe", json_string(esc), oom);
                free(esc);
            }
        } else {
            set(proc, "exe", json_string(g->exe), oom);
        }
        set(match, "process", proc, oom);
    }
    set(rule, "match", match, oom);
    set(rule, "action", json_string("allow"), oom);

    off = snprintf(comment, sizeof(comment), "learned from %lu calls", g->n_calls);
    if (g->blocking_unbounded)
        off += snprintf(comment + off, sizeof(comment) - (size_t)off,
                        "; unbounded waits seen: suggest action emulate with timeout_cap_ms "
                        "1000");
    else if (g->n_timeout_value > 0)
        off += snprintf(comment + off, sizeof(comment) - (size_t)off,
                        "; longest wait %lld ms: suggest action emulate with timeout_cap_ms "
                        "%lld",
                        (long long)g->timeout_max_ms, (long long)(g->timeout_max_ms * 2 + 1000));
    if (g->vlen_hi > 1 && g->vlen_hi <= 1024)
        (void)snprintf(comment + off, sizeof(comment) - (size_t)off, ", vlen_cap %u",
                       (unsigned)g->vlen_hi);
    set(rule, "comment", json_string(comment), oom); /* truncation is fine for a comment */
    return rule;
}

int learn_policy_json(const struct learn *l, const char *what, char **ret_json)
{
    cleanup_json json_t *root = json_object();
    json_t *rules = json_array(), *def = json_object();
    char desc[512];
    bool oom = root == NULL;
    char *text;

    (void)snprintf(desc, sizeof(desc),
                   "learned by mmsgate learn from %lu calls%s%s%s; everything else is denied",
                   l->n_calls, what ? " of \"" : "", what ? what : "", what ? "\"" : "");
    if (l->n_unlearned)
        (void)snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc),
                       " (%lu calls beyond %d groups were not learned)", l->n_unlearned,
                       LEARN_GROUPS_MAX);
    if (oom)
        return -ENOMEM;
    set(root, "version", json_integer(1), &oom);
    set(root, "description", json_string(desc), &oom);
    set(def, "action", json_string("deny"), &oom);
    set(def, "errno", json_string("EPERM"), &oom);
    set(def, "audit", json_true(), &oom);
    set(def, "comment", json_string("not seen while learning"), &oom);
    set(root, "default", def, &oom);
    for (size_t i = 0; i < l->n_groups; i++)
        append(rules, rule_json(&l->groups[i], i, &oom), &oom);
    set(root, "rules", rules, &oom);
    if (oom)
        return -ENOMEM;
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return -ENOMEM;
    *ret_json = text;
    return 0;
}
