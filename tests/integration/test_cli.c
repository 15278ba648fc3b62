/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command line of docs/contract-draft.md: check, policy default, --help, --version. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

static const char valid_policy[] =
    "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"x\",\"match\":"
    "{\"syscall\":[\"recvmmsg_time32\"]},\"action\":\"deny\",\"errno\":\"EPERM\"}]}\n";
/* The error is on line 4, in "action". */
static const char invalid_policy[] = "{\n"
                                     "  \"version\": 1,\n"
                                     "  \"default\": {\n"
                                     "    \"action\": \"explode\"\n"
                                     "  }\n"
                                     "}\n";

Test(cli, check_valid_policy_exits_0, .timeout = 10)
{
    char *path = h_temp_file(valid_policy);
    const char *const argv[] = {"mmsgate", "check", path, NULL};
    struct h_run r;

    cr_assert(not(eq(ptr, path, NULL)));
    cr_expect(eq(int, h_cli(&r, argv, 5000), 0), "stderr: %s", r.err);
    (void)unlink(path);
    free(path);
    h_run_done(&r);
}

Test(cli, check_invalid_policy_exits_1_with_location, .timeout = 10)
{
    char *path = h_temp_file(invalid_policy);
    const char *const argv[] = {"mmsgate", "check", path, NULL};
    char pattern[256];
    regex_t re;
    struct h_run r;

    cr_assert(not(eq(ptr, path, NULL)));
    cr_expect(eq(int, h_cli(&r, argv, 5000), 1), "stderr: %s", r.err);
    /* "FILE:LINE:COLUMN: path: message", at the offending line. */
    (void)snprintf(pattern, sizeof(pattern), "(^|\n)%s:4:[0-9]+: [^\n]*default[^\n]*action", path);
    cr_assert(eq(int, regcomp(&re, pattern, REG_EXTENDED), 0));
    cr_expect(eq(int, regexec(&re, r.err, 0, NULL, 0), 0), "stderr: %s", r.err);
    regfree(&re);
    (void)unlink(path);
    free(path);
    h_run_done(&r);
}

Test(cli, check_missing_file_exits_2, .timeout = 10)
{
    const char *const argv[] = {"mmsgate", "check", "/nonexistent/mmsg-policy.json", NULL};
    struct h_run r;

    cr_expect(eq(int, h_cli(&r, argv, 5000), 2), "stderr: %s", r.err);
    cr_expect(not(eq(ptr, strstr(r.err, "mmsgate: "), NULL)), "stderr: %s", r.err);
    h_run_done(&r);
}

Test(cli, policy_default_passes_check, .timeout = 10)
{
    const char *const argv[] = {"mmsgate", "policy", "default", NULL};
    struct h_run r, c;
    char *path;

    cr_assert(eq(int, h_cli(&r, argv, 5000), 0), "stderr: %s", r.err);
    path = h_temp_file(r.out);
    cr_assert(not(eq(ptr, path, NULL)));
    {
        const char *const check[] = {"mmsgate", "check", path, NULL};

        cr_expect(eq(int, h_cli(&c, check, 5000), 0), "stderr: %s", c.err);
    }
    (void)unlink(path);
    free(path);
    h_run_done(&c);
    h_run_done(&r);
}

static void expect_mentions(const struct h_run *r, const char *const words[])
{
    for (size_t i = 0; words[i]; i++)
        cr_expect(not(eq(ptr, strstr(r->out, words[i]), NULL)), "help does not mention %s:\n%s",
                  words[i], r->out);
}

Test(cli, help_mentions_every_command_and_option, .timeout = 10)
{
    static const char *const words[] = {
        "run",     "serve",       "agent",       "check",     "policy default", "--policy",
        "--audit", "--audit-all", "--drop-caps", "--workers", "--listener-fd",  "--socket",
        "--help",  "--version",   "learn",       "reload",    "stats",          "--complain",
        "--log",   "--stats",     NULL,
    };
    const char *const argv[] = {"mmsgate", "--help", NULL};
    struct h_run r;

    cr_expect(eq(int, h_cli(&r, argv, 5000), 0), "stderr: %s", r.err);
    expect_mentions(&r, words);
    h_run_done(&r);
}

Test(cli, run_help_mentions_every_run_option, .timeout = 10)
{
    static const char *const words[] = {
        "--policy",   "--audit", "--audit-all", "--drop-caps",    "--workers", "PROG",
        "--complain", "--log",   "--stats",     "mmsgate reload", NULL,
    };
    const char *const argv[] = {"mmsgate", "run", "--help", NULL};
    struct h_run r;

    cr_expect(eq(int, h_cli(&r, argv, 5000), 0), "stderr: %s", r.err);
    expect_mentions(&r, words);
    h_run_done(&r);
}

Test(cli, version_exits_0_and_prints_version, .timeout = 10)
{
    const char *const argv[] = {"mmsgate", "--version", NULL};
    struct h_run r;

    cr_expect(eq(int, h_cli(&r, argv, 5000), 0), "stderr: %s", r.err);
    cr_expect(not(eq(ptr, strstr(r.out, MMSG_VERSION), NULL)), "stdout: %s", r.out);
    h_run_done(&r);
}
