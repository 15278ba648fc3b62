/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal as a sink: "--audit journal:" records carry MMSGATE_* fields, and "--log journal"
 * sends mmsgate's own messages there; both read back with journalctl -o json. Where no journald
 * runs but the binary is installed (a container as root), the test starts its own. Also
 * "--log syslog", read back from a private /dev/log. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define JOURNALD "/lib/systemd/systemd-journald"

static pid_t own_journald = -1;

static bool journal_up(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool up;

    if (fd < 0)
        return false;
    up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return up;
}

/* A skip that CI, and the VM stage (which ships journald in its initramfs), count as a failure
 * where journald could have run. */
static void skip_or_fail(const char *why)
{
    const char *ci = getenv("CI");
    bool strict = (ci && strcmp(ci, "true") == 0) || getenv("MMSG_VM_SUITE");

    if (strict && access(JOURNALD, X_OK) == 0)
        cr_fail("%s: journald is installed but %s", ci ? "CI" : "VM stage", why);
    cr_skip_test("%s", why);
}

static void need_journal(void)
{
    if (journal_up())
        return;
    if (access(JOURNALD, X_OK) != 0)
        skip_or_fail("no journald running and " JOURNALD " not installed");
    if (geteuid() != 0)
        skip_or_fail("no journald running, and starting one needs root");
    own_journald = fork();
    cr_assert(ge(int, own_journald, 0));
    if (own_journald == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        dup2(null, 1);
        dup2(null, 2);
        execl(JOURNALD, JOURNALD, (char *)NULL);
        _exit(127);
    }
    /* Up to 20 s: journald starts in well under a second natively, much slower under TCG. */
    for (int i = 0; i < 400 && !journal_up(); i++)
        usleep(50000);
    if (!journal_up())
        skip_or_fail("journald did not start here");
}

static void stop_journal(void)
{
    if (own_journald > 0) {
        kill(own_journald, SIGTERM);
        waitpid(own_journald, NULL, 0);
        own_journald = -1;
    }
}

/* journalctl -o json MATCH, retried until an entry shows up (journald writes asynchronously).
 * Return: the entries as a JSON array (caller decrefs). */
static json_t *journal_entries(const char *match)
{
    json_t *arr = json_array();

    for (int attempt = 0; attempt < 150 && json_array_size(arr) == 0; attempt++) {
        char cmd[256], line[65536];
        FILE *p;

        (void)snprintf(cmd, sizeof(cmd), "journalctl --no-pager -q -o json '%s' 2>/dev/null",
                       match);
        p = popen(cmd, "re");
        cr_assert(ne(ptr, p, NULL));
        while (fgets(line, sizeof(line), p)) {
            json_t *j = json_loads(line, 0, NULL);

            if (j)
                json_array_append_new(arr, j); /* steals j */
        }
        pclose(p);
        if (json_array_size(arr) == 0)
            usleep(100000);
    }
    return arr;
}

static const char *field(json_t *entry, const char *key)
{
    return json_string_value(json_object_get(entry, key)); /* borrowed */
}

Test(journal, audit_records_have_structured_fields, .timeout = 60, .fini = stop_journal)
{
    char policy[512], rule[32], match[64];
    const char *argv[] = {"mmsgate", "run",      "--policy", NULL,
                          "--audit", "journal:", "--",       h_prog("spin-denied64"),
                          "0.1",     NULL};
    struct h_run r;
    char *policy_path;
    json_t *entries, *e, *msg;

    need_journal();
    (void)snprintf(rule, sizeof(rule), "j-%d-%ld", (int)getpid(), (long)time(NULL));
    (void)snprintf(policy, sizeof(policy),
                   "{\"version\":1,\"default\":{\"action\":\"allow\"},\"rules\":[{\"name\":\"%s\","
                   "\"match\":{\"flags\":{\"any\":[\"MSG_DONTWAIT\"]}},\"action\":\"deny\","
                   "\"errno\":\"EPERM\"}]}",
                   rule);
    policy_path = h_temp_file(policy);
    cr_assert(ne(ptr, policy_path, NULL));
    argv[3] = policy_path;
    cr_assert(eq(int, h_cli(&r, argv, 30000), 0), "stderr: %s", r.err);

    (void)snprintf(match, sizeof(match), "MMSGATE_RULE=%s", rule);
    entries = journal_entries(match);
    cr_assert(gt(sz, json_array_size(entries), 0), "no journal entry with %s", match);
    e = json_array_get(entries, 0); /* borrowed */
    cr_expect(eq(int, strcmp(field(e, "MMSGATE_DECISION") ?: "", "deny"), 0));
    cr_expect(eq(int, strcmp(field(e, "MMSGATE_ENFORCEMENT") ?: "", "errno"), 0));
    cr_expect(eq(int, strcmp(field(e, "MMSGATE_ERRNO") ?: "", "EPERM"), 0));
    cr_expect(eq(int, strcmp(field(e, "MMSGATE_SYSCALL") ?: "", "recvmmsg"), 0));
    cr_expect(eq(int, strcmp(field(e, "MMSGATE_ENFORCED") ?: "", "1"), 0));
    cr_expect(eq(int, strcmp(field(e, "SYSLOG_IDENTIFIER") ?: "", "mmsgate"), 0));
    cr_expect(eq(int, strcmp(field(e, "PRIORITY") ?: "", "4"), 0));
    cr_expect(ne(ptr, strstr(field(e, "MMSGATE_EXE") ?: "", "spin-denied64"), NULL));
    /* MESSAGE is the audit line itself. */
    msg = json_loads(field(e, "MESSAGE") ?: "", 0, NULL);
    cr_assert(ne(ptr, msg, NULL), "MESSAGE is not JSON: %s", field(e, "MESSAGE"));
    cr_expect(eq(int, strcmp(json_string_value(json_object_get(msg, "rule")), rule), 0));
    json_decref(msg);
    json_decref(entries);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}

Test(journal, own_messages_go_to_the_journal, .timeout = 60, .fini = stop_journal)
{
    const char *argv[] = {
        "mmsgate", "run", "-v", "--log", "journal", "--policy", NULL, "--", h_prog("spin-denied64"),
        "0",       NULL};
    char match[128], *policy_path;
    struct h_run r;
    json_t *entries;
    size_t i;
    json_t *e;
    bool startup = false;

    need_journal();
    policy_path = h_temp_file("{\"version\":1,\"default\":{\"action\":\"allow\"}}");
    cr_assert(ne(ptr, policy_path, NULL));
    argv[6] = policy_path;
    cr_assert(eq(int, h_cli(&r, argv, 30000), 0), "stderr: %s", r.err);
    cr_expect(eq(ptr, strstr(r.err, "mmsgate: main:"), NULL), "logged to stderr: %s", r.err);
    (void)snprintf(match, sizeof(match), "MMSGATE_COMPONENT=main");
    entries = journal_entries(match);
    json_array_foreach (entries, i, e)
        startup = startup || strstr(field(e, "MESSAGE") ?: "", policy_path) != NULL;
    cr_expect(startup, "no start-up message naming %s in the journal", policy_path);
    json_decref(entries);
    h_run_done(&r);
    unlink(policy_path);
    free(policy_path);
}

/* "--log syslog": mmsgate's own messages reach syslog(3)'s socket, /dev/log, with facility
 * daemon and ident mmsgate. The test owns that socket: mmsgate runs in a private mount namespace
 * whose /dev is a tmpfs holding the usual devices (bind-mounted from the real /dev) and a
 * /dev/log symlink to a socket this test reads. The host's /dev and syslog are untouched. */
Test(syslog, own_messages_go_to_syslog, .timeout = 60)
{
    static const char script[] = "set -e; t=$1; shift\n"
                                 "mkdir \"$t/dev.old\"\n"
                                 "mount --bind /dev \"$t/dev.old\"\n"
                                 "mount -t tmpfs -o mode=755 mmsg-test-dev /dev\n"
                                 "for f in null zero full random urandom tty; do\n"
                                 "  [ -e \"$t/dev.old/$f\" ] || continue\n"
                                 "  touch \"/dev/$f\"; mount --bind \"$t/dev.old/$f\" \"/dev/$f\"\n"
                                 "done\n"
                                 "ln -s \"$t/log\" /dev/log\n"
                                 "exec \"$@\"\n";
    char dir[] = "/tmp/mmsg-syslog-XXXXXX", path[128], buf[2048];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char *policy_path;
    struct h_run r;
    bool startup = false, exit_line = false;
    int fd, facility = -1;

    if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0)
        cr_skip_test("needs root and unshare(1) for a private /dev/log");
    cr_assert(ne(ptr, mkdtemp(dir), NULL));
    (void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/log", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(ge(int, fd, 0));
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0));
    policy_path = h_temp_file("{\"version\":1,\"default\":{\"action\":\"allow\"}}");
    cr_assert(ne(ptr, policy_path, NULL));
    {
        const char *const argv[] = {"/usr/bin/unshare",
                                    "-m",
                                    "/bin/sh",
                                    "-c",
                                    script,
                                    "sh",
                                    dir,
                                    MMSGATE_BIN,
                                    "run",
                                    "-v",
                                    "--log",
                                    "syslog",
                                    "--policy",
                                    policy_path,
                                    "--",
                                    h_prog("spin-denied64"),
                                    "0",
                                    NULL};

        cr_assert(eq(int, h_native(&r, argv, 30000), 0), "stderr: %s", r.err);
    }
    cr_expect(eq(ptr, strstr(r.err, "mmsgate: main:"), NULL), "logged to stderr: %s", r.err);
    /* Everything mmsgate logged is queued on the socket by now (datagrams sent before exit). */
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        int pri;

        if (poll(&p, 1, 1000) <= 0)
            break;
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            break;
        buf[n] = '\0';
        if (sscanf(buf, "<%d>", &pri) != 1 || !strstr(buf, "mmsgate["))
            continue;
        facility = pri >> 3;
        startup = startup || strstr(buf, policy_path) != NULL;
        exit_line = exit_line || strstr(buf, "exit") != NULL;
    }
    cr_expect(eq(int, facility, 3), "facility %d, not daemon (3)", facility);
    cr_expect(startup, "no start-up message naming %s on /dev/log", policy_path);
    cr_expect(exit_line, "no exit message on /dev/log");
    h_run_done(&r);
    close(fd);
    unlink(sa.sun_path);
    (void)snprintf(path, sizeof(path), "%s/dev.old", dir);
    rmdir(path);
    rmdir(dir);
    unlink(policy_path);
    free(policy_path);
}
