/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Generate and check the OCI seccomp profile section that routes the recvmmsg family to the
 * agent (runtime-spec config-linux.md "Seccomp"; Docker/Podman profile format). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal/macros.h"
#include "oci-profile.h"

#define SYS_RECVMMSG_ 19 /* include/uapi/linux/net.h */

json_t *oci_profile_new(const char *listener, const char *metadata)
{
    json_t *p;

    /* json_pack "s" copies, "o" steals: the result owns everything. x32 is listed so its
     * recvmmsg reaches the agent too (which refuses the ABI with ENOSYS) instead of depending on
     * the runtime's bad-arch action. socketcall is notified for SYS_RECVMMSG only: its other
     * sub-calls (socket, bind, ...) must keep working. */
    p = json_pack("{s:s, s:[s,s,s], s:s, s:[{s:[s,s], s:s}, {s:[s], s:s, s:[{s:i, s:i, s:s}]}]}",
                  "defaultAction", "SCMP_ACT_ALLOW", "architectures", "SCMP_ARCH_X86_64",
                  "SCMP_ARCH_X86", "SCMP_ARCH_X32", "listenerPath", listener, "syscalls", "names",
                  "recvmmsg", "recvmmsg_time64", "action", "SCMP_ACT_NOTIFY", "names", "socketcall",
                  "action", "SCMP_ACT_NOTIFY", "args", "index", 0, "value", SYS_RECVMMSG_, "op",
                  "SCMP_CMP_EQ");
    if (p && metadata && json_object_set_new(p, "listenerMetadata", json_string(metadata)) < 0)
        return json_decref(p), NULL;
    return p;
}

printf_(2, 3) static void finding(struct oci_findings *f, const char *fmt, ...)
{
    va_list ap;

    if (f->n >= ELEMENTSOF(f->text)) {
        f->n_dropped++;
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(f->text[f->n++], OCI_FINDING_MAX, fmt, ap); /* truncation is fine */
    va_end(ap);
}

printf_(2, 3) static void note(struct oci_findings *f, const char *fmt, ...)
{
    va_list ap;

    if (f->n_notes >= ELEMENTSOF(f->notes))
        return;
    va_start(ap, fmt);
    (void)vsnprintf(f->notes[f->n_notes++], OCI_FINDING_MAX, fmt, ap); /* truncation is fine */
    va_end(ap);
}

static bool has_string(const json_t *array, const char *s)
{
    /* jansson's iteration API is not const-correct; nothing is modified */
    json_t *arr = (json_t *)(uintptr_t)array, *v; /* borrowed */
    size_t i;

    json_array_foreach (arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

/* ALLOW, LOG and TRACE let the call run without the agent; ERRNO, KILL and TRAP refuse it. */
static bool allows(const char *action)
{
    return strcmp(action, "SCMP_ACT_ALLOW") == 0 || strcmp(action, "SCMP_ACT_LOG") == 0 ||
           strcmp(action, "SCMP_ACT_TRACE") == 0;
}

static bool nonempty(const json_t *v)
{
    return (json_is_array(v) && json_array_size(v) > 0) ||
           (json_is_object(v) && json_object_size(v) > 0);
}

/* args == [{index 0, value 19, op SCMP_CMP_EQ}]: socketcall(SYS_RECVMMSG) exactly. */
static bool is_recvmmsg_subcall(const json_t *args)
{
    const json_t *a = json_array_get(args, 0); /* borrowed */
    const char *op = json_string_value(json_object_get(a, "op"));

    return json_array_size(args) == 1 && json_integer_value(json_object_get(a, "index")) == 0 &&
           json_integer_value(json_object_get(a, "value")) == SYS_RECVMMSG_ && op &&
           strcmp(op, "SCMP_CMP_EQ") == 0;
}

struct route_rules {
    const char *action;  /* of the last unconditional rule naming it; NULL: none */
    bool cond_notify;    /* a conditional rule notifies it */
    bool subcall_notify; /* socketcall: notified for args[0] == SYS_RECVMMSG exactly */
};

static void scan_rules(const json_t *syscalls, const char *name, struct route_rules *ret)
{
    json_t *arr = (json_t *)(uintptr_t)syscalls, *rule; /* borrowed, not modified */
    size_t i;

    *ret = (struct route_rules){0};
    json_array_foreach (arr, i, rule) {
        const json_t *names = json_object_get(rule, "names"), *args;
        const char *single = json_string_value(json_object_get(rule, "name"));
        const char *action = json_string_value(json_object_get(rule, "action"));
        bool conditional;

        if (!action || !(has_string(names, name) || (single && strcmp(single, name) == 0)))
            continue;
        args = json_object_get(rule, "args");
        /* Docker/Podman "includes"/"excludes" (arches, caps, kernel) apply a rule only
         * sometimes: like args, they do not supervise every call. */
        conditional = nonempty(args) || nonempty(json_object_get(rule, "includes")) ||
                      nonempty(json_object_get(rule, "excludes"));
        if (!conditional) {
            ret->action = action;
            continue;
        }
        if (strcmp(action, "SCMP_ACT_NOTIFY") != 0)
            continue;
        ret->cond_notify = true;
        if (!nonempty(json_object_get(rule, "includes")) &&
            !nonempty(json_object_get(rule, "excludes")) && is_recvmmsg_subcall(args))
            ret->subcall_notify = true;
    }
}

static void collect_arches(const json_t *seccomp, bool *x86_64, bool *x86)
{
    const json_t *arches = json_object_get(seccomp, "architectures");
    json_t *map = json_object_get(seccomp, "archMap"), *e; /* borrowed */
    size_t i;

    *x86_64 = has_string(arches, "SCMP_ARCH_X86_64");
    *x86 = has_string(arches, "SCMP_ARCH_X86");
    json_array_foreach (map, i, e) {
        const char *a = json_string_value(json_object_get(e, "architecture"));
        const json_t *sub = json_object_get(e, "subArchitectures");

        /* The Docker/Podman archMap: the entry for the host's architecture applies. */
        if (a && strcmp(a, "SCMP_ARCH_X86_64") == 0) {
            *x86_64 = true;
            *x86 = *x86 || has_string(sub, "SCMP_ARCH_X86");
        }
        if (a && strcmp(a, "SCMP_ARCH_X86") == 0)
            *x86 = true;
    }
}

static void check_route(const json_t *seccomp, const char *def, const char *name, const char *what,
                        struct oci_findings *f)
{
    struct route_rules rr;
    const char *eff;

    scan_rules(json_object_get(seccomp, "syscalls"), name, &rr);
    eff = rr.action ? rr.action : def;
    if (strcmp(eff, "SCMP_ACT_NOTIFY") == 0)
        return;
    if (allows(eff)) {
        finding(f, "%s (%s) runs without mmsgate: %s by %s%s", name, what, eff,
                rr.action ? "its rule" : "defaultAction",
                rr.cond_notify ? " (notified only when a conditional rule matches)" : "");
        return;
    }
    note(f, "%s (%s) is refused by %s: it never reaches mmsgate", name, what, eff);
}

static void check_socketcall(const json_t *seccomp, const char *def, struct oci_findings *f)
{
    struct route_rules rr, rm;
    const char *eff;

    scan_rules(json_object_get(seccomp, "syscalls"), "socketcall", &rr);
    scan_rules(json_object_get(seccomp, "syscalls"), "recvmmsg", &rm);
    eff = rr.action ? rr.action : def;
    if (strcmp(eff, "SCMP_ACT_NOTIFY") == 0) {
        note(f, "socketcall is notified for every sub-call: mmsgate refuses all but "
                "SYS_RECVMMSG with ENOSYS; notify only args[0] == 19");
        return;
    }
    if (!allows(eff)) {
        note(f, "socketcall is refused by %s: i386 programs must use direct calls", eff);
        return;
    }
    if (rr.action) {
        /* libseccomp lets an unconditional rule for socketcall win over the SYS_RECVMMSG rule
         * that recvmmsg's (or an explicit args) rule adds. */
        finding(f,
                "socketcall is allowed outright (%s by its rule): i386 "
                "socketcall(SYS_RECVMMSG) can bypass mmsgate; notify socketcall with args[0] == "
                "19 instead",
                eff);
        return;
    }
    /* Allowed by default: supervised when a rule notifies sub-call 19 exactly, or when
     * recvmmsg's unconditional NOTIFY rule is multiplexed onto it by libseccomp (i386). */
    if (rr.subcall_notify || (rm.action && strcmp(rm.action, "SCMP_ACT_NOTIFY") == 0))
        return;
    finding(f, "socketcall(SYS_RECVMMSG) (i386 102) runs without mmsgate: %s by defaultAction",
            eff);
}

int oci_check(const json_t *doc, struct oci_findings *ret)
{
    const json_t *seccomp = doc, *v;
    const char *def;
    bool x86_64, x86, any_notify = false;
    json_t *rules, *rule; /* borrowed */
    size_t i;

    *ret = (struct oci_findings){0};
    if (!json_is_object(doc)) {
        finding(ret, "not a JSON object");
        return -EINVAL;
    }
    if (json_object_get(doc, "ociVersion") || json_object_get(doc, "process") ||
        json_object_get(doc, "linux")) {
        seccomp = json_object_get(json_object_get(doc, "linux"), "seccomp");
        if (!json_is_object(seccomp)) {
            finding(ret, "config.json has no linux.seccomp: no recvmmsg route is supervised");
            return 0;
        }
    } else if (!json_object_get(doc, "syscalls") && !json_object_get(doc, "defaultAction")) {
        finding(ret, "neither an OCI config.json nor a seccomp profile");
        return -EINVAL;
    }
    def = json_string_value(json_object_get(seccomp, "defaultAction"));
    if (!def) {
        finding(ret, "no defaultAction");
        return 0;
    }

    collect_arches(seccomp, &x86_64, &x86);
    if (!x86)
        finding(ret, "SCMP_ARCH_X86 is not among the architectures: i386 routes (recvmmsg 337, "
                     "recvmmsg_time64 417, socketcall 102) never reach mmsgate (the runtime's "
                     "bad-arch action decides them)");
    if (!x86_64)
        note(ret, "SCMP_ARCH_X86_64 is not listed: the runtime adds the native architecture");
    check_route(seccomp, def, "recvmmsg", "x86_64 299, i386 337", ret);
    if (x86) {
        check_route(seccomp, def, "recvmmsg_time64", "i386 417", ret);
        check_socketcall(seccomp, def, ret);
    }

    rules = json_object_get(seccomp, "syscalls");
    json_array_foreach (rules, i, rule) {
        const char *action = json_string_value(json_object_get(rule, "action"));

        any_notify = any_notify || (action && strcmp(action, "SCMP_ACT_NOTIFY") == 0);
    }
    v = json_object_get(seccomp, "listenerPath");
    if (any_notify && (!json_is_string(v) || json_string_length(v) == 0))
        finding(ret, "SCMP_ACT_NOTIFY without a listenerPath: no agent receives the listener");
    return 0;
}
