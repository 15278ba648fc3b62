/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI runtime-spec "container process state" message that runc and crun send to the
 * seccomp agent (config-linux.md "Seccomp", listenerPath): framing and parsing, pure functions
 * (no I/O, no logging) so they can be fuzzed (tests/fuzz/fuzz_agent_msg.c). */
#ifndef MMSG_BROKER_AGENT_MSG_H
#define MMSG_BROKER_AGENT_MSG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "policy-store.h"

#define AGENT_ID_MAX 256 /* a container id, with its NUL (runc and Podman: 64 hex digits) */

/* The OCI annotation that names a container's policy (a fallback to listenerMetadata). */
#define AGENT_ANNOTATION_POLICY "org.mmsgate.policy"

/* Policy names that can never resolve (they contain '!', which policy names cannot): given to
 * a container whose listenerMetadata or annotation is malformed, so its calls fail closed
 * (rule "policy-unavailable") instead of silently getting the default policy. */
#define AGENT_POLICY_INVALID_METADATA "!invalid-listenerMetadata"
#define AGENT_POLICY_INVALID_ANNOTATION "!invalid-annotation"

/* Where the container's policy name came from. */
enum agent_policy_source {
    AGENT_POLICY_DEFAULT,    /* nothing chose one: the agent's --policy */
    AGENT_POLICY_METADATA,   /* listenerMetadata "policy=NAME" */
    AGENT_POLICY_ANNOTATION, /* state.annotations (or the bundle's config.json) */
};

/* Incremental framing: the message is one JSON object; runc sends it compact and closes the
 * connection, crun sends it pretty-printed with a newline and keeps the connection open, and a
 * peer may split it over any number of writes. The scanner finds the end of the top-level
 * object without parsing it, so the agent never waits for an end of file that may not come. */
struct agent_frame {
    size_t scanned; /* bytes of the buffer already looked at */
    unsigned depth; /* nesting of objects and arrays */
    bool started;   /* the top-level '{' was seen */
    bool in_string; /* inside a JSON string */
    bool escape;    /* the previous byte was a backslash inside a string */
};

/* Look at @buf[@f->scanned .. @len) (the buffer only grows between calls). Return: 1 and
 * @ret_end (one past the closing '}') when the top-level object is complete; 0 when more bytes
 * are needed; -EBADMSG when the bytes cannot start a JSON object (anything but whitespace before
 * '{'), so garbage is refused at its first byte. */
int agent_frame_scan(struct agent_frame *f, const char *buf, size_t len, size_t *ret_end);

/* What the agent needs from one message. */
struct agent_msg {
    size_t n_fds;         /* entries of "fds": how many fds the peer says it sent */
    size_t seccomp_index; /* index of "seccompFd" in "fds" */
    pid_t pid;            /* "pid": the process whose filter this is; 0 absent */
    pid_t init_pid;       /* "state.pid": the container's init; 0 absent */
    char container_id[AGENT_ID_MAX];
    char bundle[PATH_MAX];             /* "" absent */
    char policy[POLICY_NAME_MAX + 32]; /* "" when the default policy applies */
    enum agent_policy_source policy_source;
    bool has_annotations; /* state.annotations is present (so config.json is not needed) */
};

/* Parse the JSON object @buf[0 .. @len) received together with @n_fds_received fds. Policy
 * choice within the message: listenerMetadata (see agent_metadata_policy()), then the state's
 * annotation AGENT_ANNOTATION_POLICY. @reterr (@reterr_len bytes) receives a one-line reason on
 * failure. Return: 0; -EBADMSG (not JSON, or not a container process state: the reason says
 * which field); -ENOENT (no "seccompFd" among the fds). */
int agent_msg_parse(const char *buf, size_t len, size_t n_fds_received, struct agent_msg *ret,
                    char *reterr, size_t reterr_len);

/* The policy named by listenerMetadata @metadata. Syntax (ours: the spec leaves metadata
 * opaque): entries separated by ';', ',' or whitespace; the entry "policy=NAME" names the
 * policy; other entries (other keys, plain words) are ignored. Return: 1 and @ret filled; 0
 * when no "policy=" entry; -EINVAL (an empty or invalid name, or "policy=" given twice with
 * different names). */
int agent_metadata_policy(const char *metadata, char *ret, size_t ret_len);

/* The policy named by the annotations object @annotations (borrowed). Return: 1
 * and @ret filled; 0 when absent; -EINVAL (not a string or not a valid name). */
int agent_annotations_policy(const json_t *annotations, char *ret, size_t ret_len);

/* Policy names: [A-Za-z0-9_.-]{1,63}, not starting with '.' (as policy_store_get()). */
bool agent_policy_name_valid(const char *name, size_t len);

#endif
