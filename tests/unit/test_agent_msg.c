/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's framing and parsing of the runtime-spec container process state, as runc, crun
 * and Podman send it, and what a broken peer sends instead. Pure functions: no sockets. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "agent-msg.h"

#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wincompatible-pointer-types-discards-qualifiers"
#else
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#endif

/* runc 1.1: compact, then the connection is closed. */
static const char runc_msg[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"fds\":[\"seccompFd\"],\"pid\":4422,"
    "\"metadata\":\"policy=web\",\"state\":{\"ociVersion\":\"1.0.2-dev\",\"id\":\"web-1\","
    "\"status\":\"creating\",\"pid\":4422,\"bundle\":\"/var/lib/c/web-1\","
    "\"annotations\":{\"org.mmsgate.policy\":\"ignored-metadata-wins\"}}}";

/* crun 1.8: pretty-printed, a newline, and the connection stays open. */
static const char crun_msg[] = "{\n"
                               "  \"ociVersion\": \"1.0.0\",\n"
                               "  \"fds\": [\n"
                               "    \"seccompFd\"\n"
                               "  ],\n"
                               "  \"pid\": 77,\n"
                               "  \"metadata\": \"\",\n"
                               "  \"state\": {\n"
                               "    \"ociVersion\": \"1.0.0\",\n"
                               "    \"id\": \"db\",\n"
                               "    \"status\": \"creating\",\n"
                               "    \"pid\": 77,\n"
                               "    \"bundle\": \"/b/db\",\n"
                               "    \"annotations\": {\n"
                               "      \"org.mmsgate.policy\": \"strict\"\n"
                               "    }\n"
                               "  }\n"
                               "}\n";

Test(agent_frame, runc_message_ends_at_its_brace)
{
    struct agent_frame f = {0};
    size_t end = 0;

    cr_expect(eq(int, agent_frame_scan(&f, runc_msg, strlen(runc_msg), &end), 1));
    cr_expect(eq(sz, end, strlen(runc_msg)));
}

Test(agent_frame, crun_message_is_complete_before_its_newline_and_eof)
{
    struct agent_frame f = {0};
    size_t end = 0;

    cr_expect(eq(int, agent_frame_scan(&f, crun_msg, strlen(crun_msg), &end), 1));
    cr_expect(eq(sz, end, strlen(crun_msg) - 1));
}

Test(agent_frame, byte_by_byte_split_is_complete_only_at_the_end)
{
    struct agent_frame f = {0};
    size_t end = 0, len = strlen(runc_msg);

    for (size_t i = 1; i < len; i++)
        cr_assert(eq(int, agent_frame_scan(&f, runc_msg, i, &end), 0), "complete at %zu", i);
    cr_expect(eq(int, agent_frame_scan(&f, runc_msg, len, &end), 1));
    cr_expect(eq(sz, end, len));
}

Test(agent_frame, braces_and_quotes_inside_strings_do_not_end_it)
{
    static const char msg[] = "{\"a\":\"}\\\"}{\",\"b\":[{\"c\":\"]\"}]} trailing";
    struct agent_frame f = {0};
    size_t end = 0;

    cr_expect(eq(int, agent_frame_scan(&f, msg, strlen(msg), &end), 1));
    cr_expect(eq(sz, end, strlen(msg) - strlen(" trailing")));
}

Test(agent_frame, garbage_is_refused_at_its_first_byte)
{
    static const char *const bad[] = {"GET / HTTP/1.1\r\n", "[1,2]", "\"seccompFd\"", "x{",
                                      "{\"a\":[1]]"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct agent_frame f = {0};
        size_t end = 0;

        cr_expect(eq(int, agent_frame_scan(&f, bad[i], strlen(bad[i]), &end), -EBADMSG), "%s",
                  bad[i]);
    }
}

Test(agent_frame, absurd_nesting_is_refused)
{
    char deep[2000];
    struct agent_frame f = {0};
    size_t end = 0;

    memset(deep, '[', sizeof(deep));
    deep[0] = '{';
    cr_expect(eq(int, agent_frame_scan(&f, deep, sizeof(deep), &end), -EBADMSG));
}

Test(agent_msg, runc_message_gives_identity_and_metadata_policy)
{
    struct agent_msg m;
    char why[200] = "";

    cr_assert(eq(int, agent_msg_parse(runc_msg, strlen(runc_msg), 1, &m, why, sizeof(why)), 0),
              "%s", why);
    cr_expect(eq(str, m.container_id, "web-1"));
    cr_expect(eq(str, m.bundle, "/var/lib/c/web-1"));
    cr_expect(eq(int, m.init_pid, 4422));
    cr_expect(eq(sz, m.seccomp_index, 0));
    cr_expect(eq(str, m.policy, "web"));
    cr_expect(eq(int, m.policy_source, AGENT_POLICY_METADATA));
}

Test(agent_msg, crun_message_gives_annotation_policy_when_metadata_is_empty)
{
    struct agent_msg m;
    char why[200] = "";

    cr_assert(eq(int, agent_msg_parse(crun_msg, strlen(crun_msg), 1, &m, why, sizeof(why)), 0),
              "%s", why);
    cr_expect(eq(str, m.container_id, "db"));
    cr_expect(eq(str, m.policy, "strict"));
    cr_expect(eq(int, m.policy_source, AGENT_POLICY_ANNOTATION));
    cr_expect(eq(int, m.has_annotations, 1));
}

static const struct {
    const char *json;
    size_t n_fds;
    int expect;
    const char *why; /* a word of the reason */
} bad_msgs[] = {
    {"{\"fds\":[\"seccompFd\"]}", 1, -EBADMSG, "state"},
    {"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"a\"}}", 0, -EBADMSG, "arrived"},
    {"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"a\"}}", 2, -EBADMSG, "arrived"},
    {"{\"fds\":[\"other\"],\"state\":{\"id\":\"a\"}}", 1, -ENOENT, "seccompFd"},
    {"{\"fds\":[\"seccompFd\",\"seccompFd\"],\"state\":{\"id\":\"a\"}}", 2, -EBADMSG, "twice"},
    {"{\"fds\":[3],\"state\":{\"id\":\"a\"}}", 1, -EBADMSG, "string"},
    {"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"\"}}", 1, -EBADMSG, "id"},
    {"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"a\\nb\"}}", 1, -EBADMSG, "id"},
    {"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"a\",\"pid\":-4}}", 1, -EBADMSG, "pid"},
    {"{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"a\",\"annotations\":[]}}", 1, -EBADMSG,
     "annotations"},
    {"{\"fds\":[\"seccompFd\"],\"metadata\":7,\"state\":{\"id\":\"a\"}}", 1, -EBADMSG, "metadata"},
    {"{\"fds\":[\"seccompFd\"],\"fds\":[],\"state\":{\"id\":\"a\"}}", 1, -EBADMSG, "JSON"},
    {"[]", 0, -EBADMSG, "object"},
    {"{\"fds\":", 0, -EBADMSG, "JSON"},
};

Test(agent_msg, malformed_states_are_refused_with_a_reason)
{
    for (size_t i = 0; i < sizeof(bad_msgs) / sizeof(bad_msgs[0]); i++) {
        struct agent_msg m;
        char why[200] = "";
        int r = agent_msg_parse(bad_msgs[i].json, strlen(bad_msgs[i].json), bad_msgs[i].n_fds, &m,
                                why, sizeof(why));

        cr_expect(eq(int, r, bad_msgs[i].expect), "%s", bad_msgs[i].json);
        cr_expect(ne(ptr, strstr(why, bad_msgs[i].why), NULL), "%s: reason \"%s\"",
                  bad_msgs[i].json, why);
    }
}

Test(agent_msg, many_fds_locate_seccompfd_by_name)
{
    static const char msg[] =
        "{\"fds\":[\"a\",\"b\",\"seccompFd\",\"c\"],\"state\":{\"id\":\"multi\"}}";
    struct agent_msg m;
    char why[200] = "";

    cr_assert(eq(int, agent_msg_parse(msg, strlen(msg), 4, &m, why, sizeof(why)), 0), "%s", why);
    cr_expect(eq(sz, m.seccomp_index, 2));
    cr_expect(eq(str, m.policy, ""));
    cr_expect(eq(int, m.policy_source, AGENT_POLICY_DEFAULT));
}

Test(agent_msg, malformed_policy_choice_fails_closed_not_to_the_default)
{
    static const char meta[] =
        "{\"fds\":[\"seccompFd\"],\"metadata\":\"policy=../x\",\"state\":{\"id\":\"a\"}}";
    static const char ann[] = "{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"a\",\"annotations\":"
                              "{\"org.mmsgate.policy\":\"a/b\"}}}";
    struct agent_msg m;
    char why[200] = "";

    cr_assert(eq(int, agent_msg_parse(meta, strlen(meta), 1, &m, why, sizeof(why)), 0));
    cr_expect(eq(str, m.policy, AGENT_POLICY_INVALID_METADATA));
    cr_expect(eq(int, agent_policy_name_valid(m.policy, strlen(m.policy)), 0));
    cr_assert(eq(int, agent_msg_parse(ann, strlen(ann), 1, &m, why, sizeof(why)), 0));
    cr_expect(eq(str, m.policy, AGENT_POLICY_INVALID_ANNOTATION));
    cr_expect(eq(int, agent_policy_name_valid(m.policy, strlen(m.policy)), 0));
}

static const struct {
    const char *metadata;
    int expect;
    const char *name;
} metadata_cases[] = {
    {"", 0, ""},
    {"test", 0, ""},
    {"policy=web", 1, "web"},
    {"  policy=web  ", 1, "web"},
    {"MKNOD=/dev/null;policy=db-2.v1;BPF=hash,array", 1, "db-2.v1"},
    {"a=b,policy=x y=z", 1, "x"},
    {"policy=x;policy=x", 1, "x"},
    {"policy=x;policy=y", -EINVAL, ""},
    {"policy=", -EINVAL, ""},
    {"policy=.hidden", -EINVAL, ""},
    {"policy=a/b", -EINVAL, ""},
    {"policy=0123456789012345678901234567890123456789012345678901234567890123", -EINVAL, ""},
    {"policies=x", 0, ""},
    {"xpolicy=x", 0, ""},
};

Test(agent_msg, listener_metadata_syntax)
{
    for (size_t i = 0; i < sizeof(metadata_cases) / sizeof(metadata_cases[0]); i++) {
        char name[POLICY_NAME_MAX] = "";
        int r = agent_metadata_policy(metadata_cases[i].metadata, name, sizeof(name));

        cr_expect(eq(int, r, metadata_cases[i].expect), "\"%s\"", metadata_cases[i].metadata);
        if (r > 0)
            cr_expect(eq(str, name, metadata_cases[i].name), "\"%s\"", metadata_cases[i].metadata);
    }
}
