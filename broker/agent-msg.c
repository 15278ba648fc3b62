/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Framing and parsing of the runtime-spec container process state message (config-linux.md
 * "Seccomp"): pure functions of their arguments. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent-msg.h"
#include "internal/macros.h"

int agent_frame_scan(struct agent_frame *f, const char *buf, size_t len, size_t *ret_end)
{
    for (size_t i = f->scanned; i < len; i++) {
        char c = buf[i];

        f->scanned = i + 1;
        if (!f->started) {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                continue;
            if (c != '{')
                return -EBADMSG;
            f->started = true;
            f->depth = 1;
            continue;
        }
        if (f->in_string) {
            if (f->escape)
                f->escape = false;
            else if (c == '\\')
                f->escape = true;
            else if (c == '"')
                f->in_string = false;
            continue;
        }
        switch (c) {
        case '"':
            f->in_string = true;
            break;
        case '{':
        case '[':
            /* Deeper than any real state; also keeps depth from wrapping. */
            if (++f->depth > 512)
                return -EBADMSG;
            break;
        case '}':
        case ']':
            if (--f->depth == 0) {
                /* Closing the top-level object with ']' is not JSON: refuse it now. */
                if (c != '}')
                    return -EBADMSG;
                *ret_end = i + 1;
                return 1;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

printf_(3, 4) static int fail(char *reterr, size_t reterr_len, const char *fmt, ...)
{
    va_list ap;

    if (reterr_len == 0)
        return -EBADMSG;
    va_start(ap, fmt);
    (void)vsnprintf(reterr, reterr_len, fmt, ap); /* truncation is fine for a reason */
    va_end(ap);
    /* jansson quotes the peer's bytes in its errors: keep control characters out of logs. */
    for (char *p = reterr; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -EBADMSG;
}

bool agent_policy_name_valid(const char *name, size_t len)
{
    if (len == 0 || len >= POLICY_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool is_separator(char c)
{
    return c == ';' || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int agent_metadata_policy(const char *metadata, char *ret, size_t ret_len)
{
    const char *p = metadata, *found = NULL;
    size_t found_len = 0;

    for (;;) {
        const char *entry, *eq;
        size_t len;

        while (*p && is_separator(*p))
            p++;
        if (!*p)
            break;
        entry = p;
        while (*p && !is_separator(*p))
            p++;
        len = (size_t)(p - entry);
        eq = memchr(entry, '=', len);
        /* Other keys and plain words: left to other readers of the metadata, ignored. */
        if (!eq || (size_t)(eq - entry) != strlen("policy") || memcmp(entry, "policy", 6) != 0)
            continue;
        eq++;
        len = (size_t)(p - eq);
        if (!agent_policy_name_valid(eq, len))
            return -EINVAL;
        /* Two different names would leave the choice to the order: refuse the ambiguity. */
        if (found && (found_len != len || memcmp(found, eq, len) != 0))
            return -EINVAL;
        found = eq;
        found_len = len;
    }
    if (!found)
        return 0;
    if (found_len >= ret_len)
        return -EINVAL;
    memcpy(ret, found, found_len);
    ret[found_len] = '\0';
    return 1;
}

int agent_annotations_policy(const json_t *annotations, char *ret, size_t ret_len)
{
    /* borrowed reference into @annotations */
    const json_t *v = json_object_get(annotations, AGENT_ANNOTATION_POLICY);
    const char *s;
    size_t len;

    if (!v)
        return 0;
    if (!json_is_string(v))
        return -EINVAL;
    s = json_string_value(v);
    len = json_string_length(v);
    if (!agent_policy_name_valid(s, len) || len >= ret_len)
        return -EINVAL;
    memcpy(ret, s, len + 1);
    return 1;
}

/* A string that goes into logs and audit records: bounded, no control characters (they are
 * escaped on output anyway, but an id that needs escaping is not one a runtime makes). */
static bool copy_text(const json_t *v, char *dst, size_t dst_len)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);

    if (!s || len == 0 || len >= dst_len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    memcpy(dst, s, len + 1);
    return true;
}

static bool get_pid(const json_t *v, pid_t *ret)
{
    json_int_t n;

    if (!v) {
        *ret = 0;
        return true;
    }
    if (!json_is_integer(v))
        return false;
    n = json_integer_value(v);
    if (n < 0 || n > INT_MAX)
        return false;
    *ret = (pid_t)n;
    return true;
}

int agent_msg_parse(const char *buf, size_t len, size_t n_fds_received, struct agent_msg *ret,
                    char *reterr, size_t reterr_len)
{
    cleanup_json json_t *root = NULL;
    struct agent_msg m = {0};
    json_t *fds, *name, *state, *v; /* borrowed references into root */
    json_error_t jerr;
    bool found = false;
    size_t i;
    int r;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(reterr, reterr_len, "not JSON: %d:%d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root))
        return fail(reterr, reterr_len, "not a JSON object");

    fds = json_object_get(root, "fds");
    if (!json_is_array(fds))
        return fail(reterr, reterr_len, "no \"fds\" array");
    m.n_fds = json_array_size(fds);
    if (m.n_fds != n_fds_received)
        return fail(reterr, reterr_len, "\"fds\" names %zu fds but %zu arrived", m.n_fds,
                    n_fds_received);
    json_array_foreach (fds, i, name) {
        if (!json_is_string(name))
            return fail(reterr, reterr_len, "fds[%zu] is not a string", i);
        if (strcmp(json_string_value(name), "seccompFd") != 0)
            continue;
        if (found)
            return fail(reterr, reterr_len, "\"seccompFd\" named twice");
        found = true;
        m.seccomp_index = i;
    }

    state = json_object_get(root, "state");
    if (!json_is_object(state))
        return fail(reterr, reterr_len, "no \"state\" object");
    if (!copy_text(json_object_get(state, "id"), m.container_id, sizeof(m.container_id)))
        return fail(reterr, reterr_len, "state.id is missing, empty, too long or not text");
    v = json_object_get(state, "bundle");
    if (v && !copy_text(v, m.bundle, sizeof(m.bundle)))
        return fail(reterr, reterr_len, "state.bundle is not a usable path");
    if (!get_pid(json_object_get(root, "pid"), &m.pid))
        return fail(reterr, reterr_len, "\"pid\" is not a pid");
    if (!get_pid(json_object_get(state, "pid"), &m.init_pid))
        return fail(reterr, reterr_len, "state.pid is not a pid");

    v = json_object_get(root, "metadata");
    if (v && !json_is_string(v))
        return fail(reterr, reterr_len, "\"metadata\" is not a string");
    if (v && strlen(json_string_value(v)) != json_string_length(v))
        return fail(reterr, reterr_len, "\"metadata\" contains a NUL");
    r = v ? agent_metadata_policy(json_string_value(v), m.policy, sizeof(m.policy)) : 0;
    if (r < 0) {
        /* Fail closed: a name that cannot resolve, rather than the default policy. */
        (void)snprintf(m.policy, sizeof(m.policy), "%s", AGENT_POLICY_INVALID_METADATA);
        m.policy_source = AGENT_POLICY_METADATA;
    } else if (r > 0) {
        m.policy_source = AGENT_POLICY_METADATA;
    }

    v = json_object_get(state, "annotations");
    if (v && !json_is_object(v))
        return fail(reterr, reterr_len, "state.annotations is not an object");
    m.has_annotations = v != NULL;
    if (m.policy_source == AGENT_POLICY_DEFAULT && v) {
        r = agent_annotations_policy(v, m.policy, sizeof(m.policy));
        if (r < 0)
            (void)snprintf(m.policy, sizeof(m.policy), "%s", AGENT_POLICY_INVALID_ANNOTATION);
        if (r != 0)
            m.policy_source = AGENT_POLICY_ANNOTATION;
    }

    if (!found) {
        (void)fail(reterr, reterr_len, "no \"seccompFd\" among the %zu fds", m.n_fds);
        return -ENOENT;
    }
    *ret = m;
    return 0;
}
