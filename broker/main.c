/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mmsgate command line: argument parsing only; the work is in the broker and policy libraries. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kfeatures.h"
#include "filter.h"
#include "internal/macros.h"
#include "mmsgate/broker.h"
#include "mmsgate/policy.h"

#define LOG_COMPONENT "main"
#include "log.h"

#ifndef MMSG_VERSION
#define MMSG_VERSION "unknown"
#endif

/* Exit codes of our own failures, as env(1), timeout(1) and chroot(1) use them. */
#define EXIT_BROKER 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

static void help_options(FILE *f)
{
    fputs(
        "Options of run, serve and agent:\n"
        "  -p, --policy FILE    the policy (default: the built-in one, `mmsgate policy default`)\n"
        "  -a, --audit FILE|-   append one JSON line per audited decision to FILE (- = stderr);\n"
        "                       deny and kill are audited by default, others per rule\n"
        "      --audit-all      audit every decision (needs --audit)\n"
        "      --drop-caps      (run) drop every capability of PROG (also: \"drop_caps\": true\n"
        "                       in the policy)\n"
        "      --listener-fd N  (serve) the seccomp listener fd to serve; serve ends when every\n"
        "                       task using it has exited, or on INT, TERM, HUP or QUIT\n"
        "      --socket PATH    (agent) the unix socket runc/crun connect to (mode 0600); agent\n"
        "                       serves every container handed over until INT, TERM, HUP, QUIT\n"
        "  -w, --workers N      threads for blocking emulations (default 64, max 1024)\n"
        "  -v, --verbose        more diagnostics on stderr (twice: debug)\n"
        "  -h, --help           show this help\n",
        f);
}

static void help_main(FILE *f)
{
    fputs("Usage: mmsgate COMMAND [OPTIONS]\n"
          "\n"
          "Sandbox the recvmmsg system call family (i386 recvmmsg_time32 337, recvmmsg_time64\n"
          "417, socketcall(SYS_RECVMMSG), x86_64 recvmmsg 299) of a program with a seccomp\n"
          "user-notification filter, and decide every call with a JSON policy: allow, deny with\n"
          "an errno, emulate in the broker (with caps such as a real bound on waiting), or kill.\n"
          "\n"
          "Commands:\n"
          "  run [OPTIONS] [--] PROG [ARGS...]  start PROG under the broker (see run --help)\n"
          "  serve --listener-fd N [OPTIONS]    serve the listener fd N of an existing sandbox\n"
          "  agent --socket PATH [OPTIONS]      serve containers whose OCI runtime (runc, crun)\n"
          "                                     hands listeners to PATH (spec listenerPath)\n"
          "  check FILE                         validate a policy; errors as FILE:LINE:COLUMN\n"
          "  policy default                     print the built-in default policy\n"
          "  filter                             print the seccomp filter (libseccomp PFC)\n"
          "  features                           print the kernel features mmsgate uses, found\n"
          "                                     or not, and what it does without each\n"
          "\n"
          "  -h, --help       show this help\n"
          "  -V, --version    show the version\n"
          "\n",
          f);
    help_options(f);
    fputs("\n"
          "Exit status of run: PROG's (128+N if it died by signal N); 125 if mmsgate failed;\n"
          "126 if PROG could not be executed; 127 if PROG was not found.\n"
          "Exit status of check: 0 valid, 1 invalid, 2 unreadable.\n"
          "Documentation: docs/mmsgate.md, docs/policy.md, docs/audit.md.\n",
          f);
}

static void help_run(FILE *f)
{
    fputs("Usage: mmsgate run [OPTIONS] [--] PROG [ARGS...]\n"
          "       mmsgate serve --listener-fd N [OPTIONS]\n"
          "       mmsgate agent --socket PATH [OPTIONS]\n"
          "\n"
          "run starts PROG (a 32-bit or 64-bit program) with no_new_privs and a seccomp filter\n"
          "that sends every recvmmsg-family call to this broker, and exits with PROG's status\n"
          "(128+N if PROG died by signal N) once PROG and every descendant that inherited the\n"
          "filter have exited. INT, TERM, HUP, QUIT, USR1 and USR2 are forwarded to PROG.\n"
          "If mmsgate dies, PROG is killed (PR_SET_PDEATHSIG) and descendants' calls fail\n"
          "with ENOSYS: nothing runs unsupervised.\n"
          "\n",
          f);
    help_options(f);
    fputs("\n"
          "Exit status: PROG's; 125 if mmsgate failed (bad option or policy, no sandbox);\n"
          "126 if PROG could not be executed; 127 if PROG was not found.\n",
          f);
}

static int load_policy(const char *path, struct mmsg_policy **ret)
{
    struct mmsg_diags diags = {0};
    FILE *f;
    int r;

    if (!path) {
        const char *text = mmsg_policy_default_json();

        r = mmsg_policy_load_buffer(text, strlen(text), ret, &diags);
        path = "(built-in default)";
    } else {
        f = fopen(path, "re");
        if (!f)
            return log_error_errno(-errno, "opening policy \"%s\"", path);
        r = mmsg_policy_load_file(f, ret, &diags);
        (void)fclose(f); /* read-only */
    }
    if (r == -EINVAL) {
        for (unsigned i = 0; i < diags.n_diags; i++)
            fprintf(stderr, "%s:%d:%d: %s%s%s\n", path, diags.diag[i].line, diags.diag[i].column,
                    diags.diag[i].path, diags.diag[i].path[0] ? ": " : "", diags.diag[i].text);
        if (diags.n_dropped)
            fprintf(stderr, "%s: %u more errors not shown\n", path, diags.n_dropped);
        return r;
    }
    if (r < 0)
        return log_error_errno(r, "loading policy \"%s\"", path);
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    struct mmsg_policy *p = NULL;
    struct mmsg_diags diags = {0};
    FILE *f;
    int r;

    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc == 2 ? stdout : stderr,
                "Usage: mmsgate check FILE\n"
                "Validate a policy. Every error is printed as FILE:LINE:COLUMN: PATH: MESSAGE.\n"
                "Exit status: 0 valid, 1 invalid, 2 unreadable or bad usage.\n");
        return argc == 2 ? 0 : 2;
    }
    f = fopen(argv[1], "re");
    if (!f) {
        log_error_errno(-errno, "cannot read \"%s\"", argv[1]);
        return 2;
    }
    r = mmsg_policy_load_file(f, &p, &diags);
    (void)fclose(f); /* read-only */
    if (r == -EINVAL) {
        for (unsigned i = 0; i < diags.n_diags; i++)
            fprintf(stderr, "%s:%d:%d: %s%s%s\n", argv[1], diags.diag[i].line, diags.diag[i].column,
                    diags.diag[i].path, diags.diag[i].path[0] ? ": " : "", diags.diag[i].text);
        if (diags.n_dropped)
            fprintf(stderr, "%s: %u more errors not shown\n", argv[1], diags.n_dropped);
        return 1;
    }
    if (r < 0) {
        log_error_errno(r, "cannot read \"%s\"", argv[1]);
        return 2;
    }
    printf("%s: valid, %zu rule%s\n", argv[1], mmsg_policy_n_rules(p),
           mmsg_policy_n_rules(p) == 1 ? "" : "s");
    mmsg_policy_free(p);
    return 0;
}

static int exit_status_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_BROKER;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return -EINVAL;
    *ret = (unsigned)v;
    return 0;
}

enum mode {
    MODE_RUN,
    MODE_SERVE,
    MODE_AGENT,
};

/* run, serve and agent share their options. */
static int cmd_run(int argc, char **argv, enum mode mode)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"audit", required_argument, NULL, 'a'},
        {"audit-all", no_argument, NULL, 'A'},
        {"drop-caps", no_argument, NULL, 'D'},
        {"listener-fd", required_argument, NULL, 'L'},
        {"socket", required_argument, NULL, 'S'},
        {"workers", required_argument, NULL, 'w'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    struct mmsg_broker_options bo = {0};
    struct mmsg_run_options ro = {0};
    struct mmsg_policy *policy = NULL;
    struct mmsg_broker *broker = NULL;
    const char *policy_path = NULL, *agent_path = NULL;
    unsigned listener_fd = UINT_MAX;
    int c, r, status = 0, ret = EXIT_BROKER;

    /* '+': stop at PROG, so PROG's own options are left alone. */
    while ((c = getopt_long(argc, argv, "+p:a:w:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy_path = optarg;
            break;
        case 'a':
            bo.audit_path = optarg;
            break;
        case 'A':
            bo.audit_all = true;
            break;
        case 'D':
            ro.drop_caps = true;
            break;
        case 'L':
            if (parse_uint(optarg, INT_MAX, &listener_fd) < 0) {
                log_error("invalid --listener-fd \"%s\"", optarg);
                return EXIT_BROKER;
            }
            break;
        case 'S':
            agent_path = optarg;
            break;
        case 'w':
            if (parse_uint(optarg, 1024, &bo.max_workers) < 0 || bo.max_workers == 0) {
                log_error("invalid --workers \"%s\" (1..1024)", optarg);
                return EXIT_BROKER;
            }
            break;
        case 'v':
            log_set_max_level(log_get_max_level() == LOG_WARNING ? LOG_INFO : LOG_DEBUG);
            break;
        case 'h':
            help_run(stdout);
            return 0;
        default:
            help_run(stderr);
            return EXIT_BROKER;
        }
    }
    if (bo.audit_all && !bo.audit_path) {
        log_error("--audit-all needs --audit FILE");
        return EXIT_BROKER;
    }
    if (mode == MODE_SERVE && (listener_fd == UINT_MAX || optind != argc)) {
        log_error("serve needs --listener-fd N and no PROG");
        return EXIT_BROKER;
    }
    if (mode == MODE_AGENT && (!agent_path || optind != argc)) {
        log_error("agent needs --socket PATH and no PROG");
        return EXIT_BROKER;
    }
    if ((mode != MODE_SERVE && listener_fd != UINT_MAX) || (mode != MODE_AGENT && agent_path)) {
        log_error("--listener-fd is for serve, --socket for agent");
        return EXIT_BROKER;
    }
    if (mode == MODE_RUN && optind >= argc) {
        log_error("run needs PROG (see mmsgate run --help)");
        return EXIT_BROKER;
    }

    /* Before signals are blocked: the probe's child must not leave a pending SIGCHLD. */
    if (features_check_startup(features_get()) < 0) {
        log_error("Linux %s lacks %s, which mmsgate needs (see mmsgate features)",
                  features_get()->release, features_missing_required(features_get()));
        return EXIT_BROKER;
    }

    /* Before any thread exists, so every thread inherits the mask. */
    r = mmsg_signals_block();
    if (r < 0) {
        log_error_errno(r, "blocking signals");
        return EXIT_BROKER;
    }
    if (load_policy(policy_path, &policy) < 0)
        return EXIT_BROKER;
    bo.policy = policy;
    ro.drop_caps = ro.drop_caps || mmsg_policy_drop_caps(policy);
    r = mmsg_broker_new(&bo, &broker);
    if (r < 0) {
        if (bo.audit_path)
            log_error_errno(r, "opening the audit sink \"%s\"", bo.audit_path);
        else
            log_error_errno(r, "starting the broker");
        goto out;
    }
    if (mode != MODE_RUN) {
        if (mode == MODE_AGENT) {
            r = mmsg_broker_add_agent(broker, agent_path);
            if (r < 0)
                log_error_errno(r, "listening on \"%s\"", agent_path);
        } else {
            r = mmsg_broker_add_listener(broker, (int)listener_fd);
            if (r < 0)
                log_error_errno(r, "serving listener fd %u", listener_fd);
        }
        if (r >= 0)
            r = mmsg_broker_serve(broker, 0, NULL);
        ret = r < 0 ? EXIT_BROKER : 0;
        goto out;
    }
    ro.argv = argv + optind;
    r = mmsg_run(broker, &ro, &status);
    if (r == -ENOENT) {
        log_error_errno(r, "\"%s\"", ro.argv[0]);
        ret = EXIT_NOT_FOUND;
    } else if (r == -EACCES || r == -ENOEXEC || r == -EPERM || r == -EISDIR) {
        log_error_errno(r, "cannot execute \"%s\"", ro.argv[0]);
        ret = EXIT_CANNOT_EXEC;
    } else if (r >= 0) {
        ret = exit_status_of(status);
    }
out:
    mmsg_broker_free(broker);
    mmsg_policy_free(policy);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        help_main(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        help_main(stdout);
        return 0;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("mmsgate %s\n", MMSG_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1, MODE_RUN);
    if (strcmp(argv[1], "serve") == 0)
        return cmd_run(argc - 1, argv + 1, MODE_SERVE);
    if (strcmp(argv[1], "agent") == 0)
        return cmd_run(argc - 1, argv + 1, MODE_AGENT);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "policy") == 0) {
        if (argc == 3 && strcmp(argv[2], "default") == 0) {
            fputs(mmsg_policy_default_json(), stdout);
            return 0;
        }
        fprintf(stderr, "Usage: mmsgate policy default\n");
        return 2;
    }
    if (strcmp(argv[1], "filter") == 0) {
        int r;

        fflush(stdout);
        r = filter_export_pfc(STDOUT_FILENO);
        if (r < 0) {
            log_error_errno(r, "exporting the filter");
            return EXIT_BROKER;
        }
        return 0;
    }
    if (strcmp(argv[1], "features") == 0) {
        if (argc != 2) {
            fprintf(stderr, "Usage: mmsgate features\n");
            return 2;
        }
        int r = features_print(features_get(), stdout);

        if (r == -EIO) {
            log_error_errno(r, "writing the feature list");
            return EXIT_BROKER;
        }
        /* Exit 1 when a required feature is missing, as check does for an invalid policy. */
        return r < 0 ? 1 : 0;
    }
    fprintf(stderr, "mmsgate: unknown command \"%s\"\n\n", argv[1]);
    help_main(stderr);
    return 2;
}
