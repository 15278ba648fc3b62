/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oci-profile output and check-oci findings: each way a profile leaves a recvmmsg route
 * unsupervised is reported, and the generated profile has none. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "oci-profile.h"

#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wincompatible-pointer-types-discards-qualifiers"
#else
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#endif

#define GOOD_RULES                                                                       \
    "[{\"names\":[\"recvmmsg\",\"recvmmsg_time64\"],\"action\":\"SCMP_ACT_NOTIFY\"},"    \
    "{\"names\":[\"socketcall\"],\"action\":\"SCMP_ACT_NOTIFY\",\"args\":[{\"index\":0," \
    "\"value\":19,\"op\":\"SCMP_CMP_EQ\"}]}]"
#define ARCHES "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]"

static const struct {
    const char *name;
    const char *json;
    size_t n_findings;
    const char *finding; /* a substring of one of them; NULL when none expected */
} cases[] = {
    {"good profile",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":" GOOD_RULES "}",
     0, NULL},
    {"good config.json",
     "{\"ociVersion\":\"1.0.2\",\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
     "\"architectures\":" ARCHES ",\"listenerPath\":\"/s\",\"syscalls\":" GOOD_RULES "}}}",
     0, NULL},
    {"deny-by-default allowlist with notify", /* Docker-style: unlisted calls are refused */
     "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\",\"recvmmsg_time64\"],"
     "\"action\":\"SCMP_ACT_NOTIFY\"},{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
     0, NULL},
    {"config.json without seccomp", "{\"ociVersion\":\"1.0.2\",\"linux\":{}}", 1,
     "no linux.seccomp"},
    {"time64 forgotten",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\"],\"action\":"
     "\"SCMP_ACT_NOTIFY\"}]}",
     1, "recvmmsg_time64 (i386 417) runs without mmsgate"},
    {"time64 allowed by a rule in a deny-by-default profile",
     "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\"],\"action\":"
     "\"SCMP_ACT_NOTIFY\"},{\"names\":[\"recvmmsg_time64\",\"read\"],\"action\":"
     "\"SCMP_ACT_ALLOW\"}]}",
     1, "by its rule"},
    {"socketcall allowed outright",
     "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\",\"recvmmsg_time64\"],"
     "\"action\":\"SCMP_ACT_NOTIFY\"},{\"names\":[\"socketcall\"],\"action\":"
     "\"SCMP_ACT_ALLOW\"}]}",
     1, "socketcall is allowed outright"},
    {"i386 missing",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
     "\"listenerPath\":\"/s\",\"syscalls\":" GOOD_RULES "}",
     1, "SCMP_ARCH_X86 is not among"},
    {"i386 via Docker archMap is fine",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"archMap\":[{\"architecture\":"
     "\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]}],"
     "\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\",\"recvmmsg_time64\"],"
     "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
     0, NULL},
    {"notified only for some arguments",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\"],\"action\":"
     "\"SCMP_ACT_NOTIFY\",\"args\":[{\"index\":2,\"value\":1,\"op\":\"SCMP_CMP_GT\"}]},"
     "{\"names\":[\"recvmmsg_time64\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
     2, "conditional rule"},
    {"notified only on some arches (Podman includes)",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":[\"recvmmsg\",\"recvmmsg_time64\"],"
     "\"action\":\"SCMP_ACT_NOTIFY\",\"includes\":{\"arches\":[\"amd64\"]}}]}",
     3, "recvmmsg (x86_64 299, i386 337) runs without mmsgate"},
    {"no listenerPath",
     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":" ARCHES ",\"syscalls\":" GOOD_RULES
     "}",
     1, "without a listenerPath"},
    {"single-name Docker rule allowing recvmmsg",
     "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":" ARCHES
     ",\"listenerPath\":\"/s\",\"syscalls\":[{\"name\":\"recvmmsg\",\"action\":"
     "\"SCMP_ACT_LOG\"},{\"names\":[\"recvmmsg_time64\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
     1, "SCMP_ACT_LOG"},
};

Test(check_oci, every_unsupervised_route_is_reported)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t err;
        json_t *doc = json_loads(cases[i].json, 0, &err);
        struct oci_findings f;
        bool found = cases[i].finding == NULL;

        cr_assert(ne(ptr, doc, NULL), "%s: %s", cases[i].name, err.text);
        cr_expect(eq(int, oci_check(doc, &f), 0), "%s", cases[i].name);
        cr_expect(eq(sz, f.n, cases[i].n_findings), "%s: %s", cases[i].name,
                  f.n ? f.text[0] : "no findings");
        for (size_t k = 0; k < f.n && !found; k++)
            found = strstr(f.text[k], cases[i].finding) != NULL;
        cr_expect(found, "%s: no finding says \"%s\"", cases[i].name,
                  cases[i].finding ? cases[i].finding : "");
        json_decref(doc);
    }
}

Test(check_oci, neither_config_nor_profile_is_an_error)
{
    json_t *doc = json_loads("{\"hello\":1}", 0, NULL);
    struct oci_findings f;

    cr_expect(eq(int, oci_check(doc, &f), -EINVAL));
    json_decref(doc);
}

Test(oci_profile, generated_profile_supervises_every_route)
{
    json_t *p = oci_profile_new("/run/x.sock", "policy=web");
    struct oci_findings f;

    cr_assert(ne(ptr, p, NULL));
    cr_expect(eq(str, json_string_value(json_object_get(p, "listenerPath")), "/run/x.sock"));
    cr_expect(eq(str, json_string_value(json_object_get(p, "listenerMetadata")), "policy=web"));
    cr_expect(eq(sz, json_array_size(json_object_get(p, "architectures")), 3));
    cr_expect(eq(int, oci_check(p, &f), 0));
    cr_expect(eq(sz, f.n, 0), "%s", f.n ? f.text[0] : "");
    json_decref(p);
}

Test(oci_profile, without_metadata_has_no_metadata_key)
{
    json_t *p = oci_profile_new("/run/x.sock", NULL);

    cr_assert(ne(ptr, p, NULL));
    cr_expect(eq(ptr, json_object_get(p, "listenerMetadata"), NULL));
    json_decref(p);
}
