/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI seccomp profiles for mmsgate: generate the section that sends every recvmmsg route to the
 * agent, and find the routes an existing config.json or profile leaves unsupervised. Pure
 * functions of their JSON arguments (jansson), no I/O. */
#ifndef MMSG_BROKER_OCI_PROFILE_H
#define MMSG_BROKER_OCI_PROFILE_H

#include <stddef.h>

#include <jansson.h>

#define OCI_DEFAULT_LISTENER "/run/mmsgate/agent.sock"

/* The seccomp section: defaultAction SCMP_ACT_ALLOW, the three x86 architectures, listenerPath
 * @listener, listenerMetadata @metadata (NULL: none), and SCMP_ACT_NOTIFY for recvmmsg,
 * recvmmsg_time64 and socketcall(SYS_RECVMMSG). Return: a new object; NULL on ENOMEM. */
json_t *oci_profile_new(const char *listener, const char *metadata);

#define OCI_FINDING_MAX 256

struct oci_findings {
    size_t n;         /* problems found (each a route left unsupervised) */
    size_t n_notes;   /* remarks that are not problems */
    size_t n_dropped; /* problems beyond the array */
    char text[16][OCI_FINDING_MAX];
    char notes[8][OCI_FINDING_MAX];
};

/* Check @doc: an OCI config.json (its linux.seccomp), an OCI seccomp section, or a
 * Docker/Podman profile (archMap, "name"/"names", includes/excludes). Every route by which a
 * recvmmsg call could run without reaching the agent is a finding: a route allowed (by a rule
 * or the default action), notified only conditionally, i386 missing from the architectures,
 * socketcall allowed outright, or no listenerPath. Return: 0 (look at @ret->n); -EINVAL when
 * @doc is neither (the reason in @ret->text[0]). */
int oci_check(const json_t *doc, struct oci_findings *ret);

#endif
