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
#include "learn.h"
#include "policy-store.h"
#include "stats.h"
#include "mmsgate/broker.h"
#include "mmsgate/policy.h"
#include "oci-cli.h"

#define LOG_COMPONENT "main"
#include "log.h"

#ifndef MMSG_VERSION
#define MMSG_VERSION "unknown"
#endif
#ifndef MMSG_DATADIR
#define MMSG_DATADIR "/usr/share/mmsgate"
#endif

/* Exit codes of our own failures, as env(1), timeout(1) and chroot(1) use them. */
#define EXIT_BROKER 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* The help printers ignore fputs() results: a closed or full stdout leaves nothing to report
 * the failure on, and the exit status of --help is not a data channel. */
static void help_options(FILE *f)
{
    (void)fputs(
        "Options of run, serve and agent:\n"
        "  -p, --policy FILE    the policy (default: the built-in one, `mmsgate policy default`)\n"
        "  -a, --audit FILE|-   append one JSON line per audited decision to FILE (- = stderr);\n"
        "                       deny and kill are audited by default, others per rule\n"
        "      --audit-all      audit every decision (needs --audit)\n"
        "      --complain       decide and audit every call but enforce nothing (the call\n"
        "                       proceeds; audit lines say \"enforced\": false)\n"
        "      --log TARGET     mmsgate's own messages to stderr (default), syslog or journal\n"
        "      --stats          print a table per rule and per process on exit (also at -v;\n"
        "                       any time: mmsgate stats PID)\n"
        "      --drop-caps      (run) drop every capability of PROG (also: \"drop_caps\": true\n"
        "                       in the policy)\n"
        "      --listener-fd N  (serve) the seccomp listener fd to serve; serve ends when every\n"
        "                       task using it has exited, or on INT, TERM or QUIT; HUP reloads\n"
        "      --socket PATH    (agent) the unix socket runc/crun connect to (mode 0600); agent\n"
        "                       serves every container handed over until INT, TERM or QUIT;\n"
        "                       HUP reloads the policies and reopens the audit file; a new\n"
        "                       agent on a served PATH takes its containers over\n"
        "      --policy-dir DIR (agent) containers choose DIR/NAME.json with listenerMetadata\n"
        "                       \"policy=NAME\" or the annotation org.mmsgate.policy\n"
        "                       (mmsgate-containers(7)); --policy is the default\n"
        "  -w, --workers N      threads for calls needing the caller (default 256, max 1024;\n"
        "                       a process may hold a quarter of them)\n"
        "      --busy-poll USEC wait up to USEC microseconds (0..1000, default 0: off) for the\n"
        "                       next call without sleeping, while calls come that often: no\n"
        "                       wake-up latency for busy services, at the cost of CPU\n"
        "  -v, --verbose        more diagnostics on stderr (twice: debug)\n"
        "  -h, --help           show this help\n",
        f);
}

static void help_main(FILE *f)
{
    (void)fputs(
        "Usage: mmsgate COMMAND [OPTIONS]\n"
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
        "  learn [--output FILE] [--] PROG [ARGS...]\n"
        "                                     run PROG allowing everything and write the\n"
        "                                     least-privilege policy for what it did\n"
        "  reload PID                         make mmsgate PID reload its policies and reopen\n"
        "                                     its audit file (serve and agent: also SIGHUP)\n"
        "  stats PID                          make mmsgate PID print its stats table\n"
        "  check FILE                         validate a policy; errors as FILE:LINE:COLUMN\n"
        "  check-oci FILE                     report recvmmsg routes an OCI config.json or\n"
        "                                     seccomp profile leaves unsupervised\n"
        "  oci-profile [--listener PATH] [--metadata M]\n"
        "                                     print the seccomp section for a runtime profile\n"
        "  policy default                     print the built-in default policy\n"
        "  filter [--policy FILE] [--audit-all]  print the seccomp filter run loads: the\n"
        "                                     policy's decision tree and its BPF\n"
        "  features                           print the kernel features mmsgate uses, found\n"
        "                                     or not, and what it does without each\n"
        "\n"
        "  -h, --help       show this help\n"
        "  -V, --version    show the version\n"
        "\n",
        f);
    help_options(f);
    (void)fputs(
        "\n"
        "Exit status of run: PROG's (128+N if it died by signal N); 125 if mmsgate failed;\n"
        "126 if PROG could not be executed; 127 if PROG was not found.\n"
        "Exit status of check: 0 valid, 1 invalid, 2 unreadable.\n"
        "Documentation: man mmsgate, man mmsgate-policy, man mmsgate-audit;\n"
        "example policies in " MMSG_DATADIR "/policies, the JSON Schema in\n" MMSG_DATADIR
        "/policy.schema.json.\n",
        f);
}

static void help_run(FILE *f)
{
    (void)fputs(
        "Usage: mmsgate run [OPTIONS] [--] PROG [ARGS...]\n"
        "       mmsgate serve --listener-fd N [OPTIONS]\n"
        "       mmsgate agent --socket PATH [OPTIONS]\n"
        "\n"
        "run starts PROG (a 32-bit or 64-bit program) with no_new_privs and a seccomp filter\n"
        "that sends every recvmmsg-family call to this broker, and exits with PROG's status\n"
        "(128+N if PROG died by signal N) once PROG and every descendant that inherited the\n"
        "filter have exited. INT, TERM, HUP, QUIT, USR1 and USR2 are forwarded to PROG;\n"
        "mmsgate reload PID (SIGRTMIN) reloads the policy and reopens the audit file.\n"
        "If mmsgate dies, PROG is killed (PR_SET_PDEATHSIG) and descendants' calls fail\n"
        "with ENOSYS: nothing runs unsupervised.\n"
        "\n",
        f);
    help_options(f);
    (void)fputs("\n"
                "Exit status: PROG's; 125 if mmsgate failed (bad option or policy, no sandbox);\n"
                "126 if PROG could not be executed; 127 if PROG was not found.\n",
                f);
}

/* A policy's errors for humans, one "FILE:LINE:COLUMN: PATH: MESSAGE" line each. */
static void print_diags(const char *path, const struct mmsg_diags *diags)
{
    for (unsigned i = 0; i < diags->n_diags; i++)
        fprintf(stderr, "%s:%d:%d: %s%s%s\n", path, diags->diag[i].line, diags->diag[i].column,
                diags->diag[i].path, diags->diag[i].path[0] ? ": " : "", diags->diag[i].text);
    if (diags->n_dropped)
        fprintf(stderr, "%s: %u more errors not shown\n", path, diags->n_dropped);
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
        print_diags(path, &diags);
        return r;
    }
    if (r < 0)
        return log_error_errno(r, "loading policy \"%s\"", path);
    return 0;
}

/* Where each rule is decided: in the kernel (which verdict, on which routes) or by the broker
 * (and why), from the compiled tree of `mmsgate run`'s filter without --audit-all. Routes with
 * the same outcome are listed together. */
static void print_rule_placement(const struct mmsg_policy *p)
{
    struct mmsg_kprog *prog = NULL;
    struct filter_prog bpf = {0};
    size_t n_rules = mmsg_policy_n_rules(p);

    if (mmsg_policy_compile(p, 0, &prog) < 0 || filter_build(p, false, &bpf) < 0) {
        log_error("compiling the policy: out of memory");
        mmsg_kprog_free(prog);
        return;
    }
    if (bpf.notify_all) {
        /* The tree is too large for one BPF program: the broker decides everything. */
        printf("  every rule: broker (the compiled filter would not fit in %d BPF "
               "instructions)\n",
               BPF_MAXINSNS);
        filter_done(&bpf);
        mmsg_kprog_free(prog);
        return;
    }
    filter_done(&bpf);
    for (size_t i = 0; i <= n_rules; i++) {
        int index = i < n_rules ? (int)i : -1;
        char what[MMSG_SYS_MAX_][96] = {{0}};
        bool printed[MMSG_SYS_MAX_] = {0}, any = false;

        for (int sys = 0; sys < MMSG_SYS_MAX_; sys++) {
            size_t end = sys + 1 < MMSG_SYS_MAX_ ? prog->root[sys + 1] : prog->n_nodes;
            const struct mmsg_knode *leaf = NULL;

            for (size_t k = prog->root[sys]; k < end; k++)
                if (prog->nodes[k].test == MMSG_KTEST_LEAF && prog->nodes[k].rule_index == index)
                    leaf = &prog->nodes[k];
            if (!leaf && prog->nodes[prog->root[sys]].why == MMSG_KWHY_TOO_LARGE)
                snprintf(what[sys], sizeof(what[sys]), "broker (%s)",
                         mmsg_kwhy_name(MMSG_KWHY_TOO_LARGE));
            else if (!leaf)
                continue; /* the rule cannot match on this route, or an earlier rule hides it */
            else if (leaf->verdict == MMSG_KVERDICT_NOTIFY)
                snprintf(what[sys], sizeof(what[sys]), "broker (%s)", mmsg_kwhy_name(leaf->why));
            else if (leaf->verdict == MMSG_KVERDICT_ERRNO)
                snprintf(what[sys], sizeof(what[sys]), "kernel errno %s",
                         mmsg_errno_name(leaf->errno_value) ? mmsg_errno_name(leaf->errno_value)
                                                            : "?");
            else
                snprintf(what[sys], sizeof(what[sys]), "kernel %s",
                         mmsg_kverdict_name(leaf->verdict));
        }
        printf("  %s%s%s:", index >= 0 ? "rule " : "", mmsg_policy_rule_name(p, i),
               index >= 0 ? "" : " action");
        for (int sys = 0; sys < MMSG_SYS_MAX_; sys++) {
            if (printed[sys] || !what[sys][0])
                continue;
            printf("%s %s on ", any ? ";" : "", what[sys]);
            for (int o = sys, first = 1; o < MMSG_SYS_MAX_; o++)
                if (!printed[o] && strcmp(what[o], what[sys]) == 0) {
                    printf("%s%s", first ? "" : ", ", mmsg_syscall_name((enum mmsg_syscall)o));
                    printed[o] = true;
                    first = 0;
                }
            any = true;
        }
        if (!any)
            printf(" never reached (earlier rules decide every call)");
        putchar('\n');
    }
    mmsg_kprog_free(prog);
}

/* mmsgate filter [--policy FILE] [--audit-all] [--bpf OUTFILE]: the raw BPF is for tests
 * (tests/programs/probe-recvmmsg.c loads it) and other loaders. */
static int cmd_filter(int argc, char **argv)
{
    struct mmsg_policy *policy = NULL;
    const char *path = NULL, *bpf_path = NULL;
    bool audit_all = false;
    int r;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--policy") == 0 || strcmp(argv[i], "-p") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--audit-all") == 0) {
            audit_all = true;
        } else if (strcmp(argv[i], "--bpf") == 0 && i + 1 < argc) {
            bpf_path = argv[++i];
        } else {
            fprintf(stderr,
                    "Usage: mmsgate filter [--policy FILE] [--audit-all] [--bpf OUTFILE]\n");
            return 2;
        }
    }
    if (load_policy(path, &policy) < 0)
        return EXIT_BROKER;
    if (bpf_path)
        r = filter_write_bpf(policy, audit_all, bpf_path);
    else
        r = filter_print(policy, audit_all, stdout);
    mmsg_policy_free(policy);
    if (r < 0) {
        log_error_errno(r, "printing the filter");
        return EXIT_BROKER;
    }
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
        print_diags(argv[1], &diags);
        return 1;
    }
    if (r < 0) {
        log_error_errno(r, "cannot read \"%s\"", argv[1]);
        return 2;
    }
    printf("%s: valid, %zu rule%s\n", argv[1], mmsg_policy_n_rules(p),
           mmsg_policy_n_rules(p) == 1 ? "" : "s");
    print_rule_placement(p);
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

/* Operators' options of run, serve and agent (--log, --complain, --stats), kept apart so the
 * shared option loop stays short. */
struct ops_options {
    bool stats;
};

/* Return: 1 when @c was one of ours, 0 when not, -EINVAL (logged) for a bad value. */
static int ops_option(int c, const char *arg, struct mmsg_broker_options *bo, struct ops_options *o)
{
    int r;

    switch (c) {
    case 'C':
        bo->complain = true;
        return 1;
    case 's':
        o->stats = true;
        return 1;
    case 'l':
        r = log_set_target_name(arg);
        if (r == -EOPNOTSUPP)
            log_error("--log journal: mmsgate was built without libsystemd");
        else if (r < 0)
            log_error("invalid --log \"%s\" (stderr, syslog or journal)", arg);
        return r < 0 ? -EINVAL : 1;
    default:
        return 0;
    }
}

static const char *mode_name(enum mode mode)
{
    return mode == MODE_RUN ? "run" : mode == MODE_SERVE ? "serve" : "agent";
}

/* -v: what is about to run, once. */
static void log_startup(enum mode mode, const char *policy_path, const struct mmsg_policy *policy,
                        const struct mmsg_broker_options *bo)
{
    log_info("mmsgate %s %s: policy %s (%zu rule%s)%s, audit %s%s, %u workers", MMSG_VERSION,
             mode_name(mode), policy_path ? policy_path : "built-in default",
             mmsg_policy_n_rules(policy), mmsg_policy_n_rules(policy) == 1 ? "" : "s",
             bo->complain ? ", complain mode" : "", bo->audit_path ? bo->audit_path : "off",
             bo->audit_all ? " (all decisions)" : "",
             bo->max_workers ? bo->max_workers : MMSG_DEFAULT_WORKERS);
}

/* What run, serve and agent were asked to do. */
struct run_args {
    enum mode mode;
    struct mmsg_broker_options bo;
    struct ops_options oo;
    struct mmsg_run_options ro;
    const char *policy_path, *agent_path, *policy_dir;
    unsigned listener_fd; /* UINT_MAX: none */
};

/* run, serve and agent share their options. Return 1 when --help was printed, 0 to go on,
 * -EINVAL (logged) for bad usage. PROG starts at argv[optind]. */
static int parse_run_args(int argc, char **argv, struct run_args *a)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"audit", required_argument, NULL, 'a'},
        {"audit-all", no_argument, NULL, 'A'},
        {"drop-caps", no_argument, NULL, 'D'},
        {"listener-fd", required_argument, NULL, 'L'},
        {"socket", required_argument, NULL, 'S'},
        {"policy-dir", required_argument, NULL, 'P'},
        {"workers", required_argument, NULL, 'w'},
        {"busy-poll", required_argument, NULL, 'B'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"complain", no_argument, NULL, 'C'}, /* ops_option() */
        {"log", required_argument, NULL, 'l'},
        {"stats", no_argument, NULL, 's'},
        {},
    };
    int c, r;

    a->listener_fd = UINT_MAX;
    /* '+': stop at PROG, so PROG's own options are left alone. */
    while ((c = getopt_long(argc, argv, "+p:a:w:vh", opts, NULL)) != -1) {
        r = ops_option(c, optarg, &a->bo, &a->oo);
        if (r < 0)
            return -EINVAL;
        if (r > 0)
            continue;
        switch (c) {
        case 'p':
            a->policy_path = optarg;
            break;
        case 'a':
            a->bo.audit_path = optarg;
            break;
        case 'A':
            a->bo.audit_all = true;
            break;
        case 'D':
            a->ro.drop_caps = true;
            break;
        case 'L':
            if (parse_uint(optarg, INT_MAX, &a->listener_fd) < 0) {
                log_error("invalid --listener-fd \"%s\"", optarg);
                return -EINVAL;
            }
            break;
        case 'S':
            a->agent_path = optarg;
            break;
        case 'P':
            a->policy_dir = optarg;
            break;
        case 'w':
            if (parse_uint(optarg, 1024, &a->bo.max_workers) < 0 || a->bo.max_workers == 0) {
                log_error("invalid --workers \"%s\" (1..1024)", optarg);
                return -EINVAL;
            }
            break;
        case 'B':
            if (parse_uint(optarg, 1000, &a->bo.busy_poll_us) < 0) {
                log_error("invalid --busy-poll \"%s\" (0..1000 microseconds)", optarg);
                return -EINVAL;
            }
            break;
        case 'v':
            log_set_max_level(log_get_max_level() == LOG_WARNING ? LOG_INFO : LOG_DEBUG);
            break;
        case 'h':
            help_run(stdout);
            return 1;
        default:
            help_run(stderr);
            return -EINVAL;
        }
    }
    if (a->bo.audit_all && !a->bo.audit_path) {
        log_error("--audit-all needs --audit FILE");
        return -EINVAL;
    }
    if (a->mode == MODE_SERVE && (a->listener_fd == UINT_MAX || optind != argc)) {
        log_error("serve needs --listener-fd N and no PROG");
        return -EINVAL;
    }
    if (a->mode == MODE_AGENT && (!a->agent_path || optind != argc)) {
        log_error("agent needs --socket PATH and no PROG");
        return -EINVAL;
    }
    if ((a->mode != MODE_SERVE && a->listener_fd != UINT_MAX) ||
        (a->mode != MODE_AGENT && (a->agent_path || a->policy_dir))) {
        log_error("--listener-fd is for serve, --socket and --policy-dir for agent");
        return -EINVAL;
    }
    if (a->mode == MODE_RUN && optind >= argc) {
        log_error("run needs PROG (see mmsgate run --help)");
        return -EINVAL;
    }
    return 0;
}

/* serve and agent: take the listener (or the agent's socket) and serve until told to stop.
 * Return mmsgate's exit status. */
static int serve_listeners(struct mmsg_broker *broker, const struct run_args *a)
{
    int r;

    if (a->mode == MODE_AGENT) {
        r = mmsg_broker_add_agent(broker, a->agent_path);
        if (r < 0)
            log_error_errno(r, "listening on \"%s\"", a->agent_path);
        else
            log_info("agent: listening on \"%s\" for container listeners", a->agent_path);
    } else {
        r = mmsg_broker_add_listener(broker, (int)a->listener_fd);
        if (r < 0)
            log_error_errno(r, "serving listener fd %u", a->listener_fd);
        else
            log_info("serve: serving listener fd %u", a->listener_fd);
    }
    if (r >= 0)
        r = mmsg_broker_serve(broker, 0, NULL);
    log_info("%s: done%s", mode_name(a->mode), r < 0 ? " after an error" : "");
    return r < 0 ? EXIT_BROKER : 0;
}

/* run: start PROG under @policy's filter and serve it until it exits. Return mmsgate's exit
 * status (PROG's, or one of the EXIT_* of a launch that failed). */
static int run_program(struct mmsg_broker *broker, struct policy_store *store,
                       const struct mmsg_policy *policy, struct run_args *a, char **prog_argv)
{
    struct mmsg_run_options *ro = &a->ro;
    int r, status = 0, ret = EXIT_BROKER;

    ro->argv = prog_argv;
    /* PROG's filter decides in the kernel what this policy decides from registers alone, */
    ro->policy = policy;
    ro->audit_all = a->bo.audit_all;
    /* ... so a reload must not change those decisions behind the kernel's back. */
    policy_store_pin_kernel(store, a->bo.audit_all);
    r = mmsg_run(broker, ro, &status);
    if (r == -ENOENT) {
        log_error_errno(r, "\"%s\"", ro->argv[0]);
        ret = EXIT_NOT_FOUND;
    } else if (r == -EACCES || r == -ENOEXEC || r == -EPERM || r == -EISDIR) {
        log_error_errno(r, "cannot execute \"%s\"", ro->argv[0]);
        ret = EXIT_CANNOT_EXEC;
    } else if (r >= 0) {
        ret = exit_status_of(status);
        log_info("run: \"%s\" %s %d; mmsgate exits with %d", ro->argv[0],
                 WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), ret);
    }
    return ret;
}

static int cmd_run(int argc, char **argv, enum mode mode)
{
    struct run_args a = {.mode = mode};
    struct stats *stats = NULL;
    struct policy_store *store = NULL;
    struct loaded_policy *loaded = NULL;
    struct mmsg_broker *broker = NULL;
    int r, ret = EXIT_BROKER;

    r = parse_run_args(argc, argv, &a);
    if (r != 0)
        return r > 0 ? 0 : EXIT_BROKER;

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
    /* The store reports a policy's errors as FILE:LINE:COLUMN and keeps it for reloads. */
    r = policy_store_new(a.policy_path, a.policy_dir, &store);
    if (r >= 0)
        r = policy_store_get(store, NULL, &loaded);
    if (r < 0) {
        if (r != -EINVAL)
            log_error_errno(r, "loading policy \"%s\"",
                            a.policy_path ? a.policy_path : "(built-in)");
        goto out;
    }
    a.bo.store = store;
    a.bo.policy = loaded->policy;
    a.ro.drop_caps = a.ro.drop_caps || mmsg_policy_drop_caps(loaded->policy);
    if ((a.oo.stats || log_get_max_level() >= LOG_INFO) && stats_new(&stats) < 0) {
        log_error("out of memory");
        goto out;
    }
    a.bo.stats = stats;
    log_startup(mode, a.policy_path, loaded->policy, &a.bo);
    r = mmsg_broker_new(&a.bo, &broker);
    if (r < 0) {
        if (a.bo.audit_path)
            log_error_errno(r, "opening the audit sink \"%s\"", a.bo.audit_path);
        else
            log_error_errno(r, "starting the broker");
        goto out;
    }
    if (mode == MODE_RUN)
        ret = run_program(broker, store, loaded->policy, &a, argv + optind);
    else
        ret = serve_listeners(broker, &a);
out:
    mmsg_broker_free(broker);
    /* After the broker: every call has been answered and counted. */
    if (stats)
        stats_print(stats, NULL, stderr);
    stats_free(stats);
    loaded_policy_unref(loaded);
    policy_store_free(store);
    return ret;
}

/* Every call is emulated (allowed, on the broker's copy), and the rule's keys make the broker
 * read every input learn_observe() records: timeout value, socket and process. */
static const char learn_policy[] =
    "{\"version\": 1, \"description\": \"mmsgate learn: allow everything, observe every input\","
    " \"default\": {\"action\": \"emulate\"}, \"rules\": [{\"name\": \"learn-observe\", "
    "\"match\": {\"timeout\": {\"over_ms\": 0}, \"socket\": {}, \"process\": {}}, "
    "\"action\": \"emulate\"}]}";

static int write_learned(const struct learn *l, const char *what, const char *output)
{
    cleanup_free char *json = NULL;
    FILE *f = stdout;
    int r;

    r = learn_policy_json(l, what, &json);
    if (r < 0)
        return log_error_errno(r, "writing the learned policy");
    if (output) {
        f = fopen(output, "we");
        if (!f)
            return log_error_errno(-errno, "creating \"%s\"", output);
    }
    (void)fputs(json, f); /* errors surface through ferror() below */
    (void)fputc('\n', f);
    r = fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
    if (output && fclose(f) != 0 && r == 0)
        r = -errno;
    if (r < 0)
        return log_error_errno(r, "writing \"%s\"", output ? output : "(stdout)");
    return 0;
}

/* mmsgate learn [--output FILE] [-v] [--] PROG ARGS: run PROG with every call allowed and
 * observed, then write the policy learned from it. Exit status as run. */
static int cmd_learn(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    struct mmsg_broker_options bo = {0};
    struct mmsg_run_options ro = {0};
    struct mmsg_policy *policy = NULL;
    struct mmsg_broker *broker = NULL;
    struct learn *l = NULL;
    const char *output = NULL;
    int c, r, status = 0, ret = EXIT_BROKER;

    while ((c = getopt_long(argc, argv, "+o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'v':
            log_set_max_level(log_get_max_level() == LOG_WARNING ? LOG_INFO : LOG_DEBUG);
            break;
        case 'h':
            printf("Usage: mmsgate learn [--output FILE] [-v] [--] PROG [ARGS...]\n"
                   "Run PROG under mmsgate allowing every recvmmsg-family call (emulated, so\n"
                   "every argument can be observed) and write a least-privilege policy for what\n"
                   "it did to FILE (default: stdout). Check it with mmsgate check FILE and run\n"
                   "PROG with mmsgate run --policy FILE; see mmsgate(1), LEARNING.\n");
            return 0;
        default:
            fprintf(stderr, "Usage: mmsgate learn [--output FILE] [-v] [--] PROG [ARGS...]\n");
            return EXIT_BROKER;
        }
    }
    if (optind >= argc) {
        log_error("learn needs PROG (see mmsgate learn --help)");
        return EXIT_BROKER;
    }
    r = mmsg_signals_block();
    if (r < 0) {
        log_error_errno(r, "blocking signals");
        return EXIT_BROKER;
    }
    r = mmsg_policy_load_buffer(learn_policy, strlen(learn_policy), &policy, NULL);
    if (r < 0 || learn_new(&l) < 0) {
        log_error("setting up learning");
        goto out;
    }
    bo.policy = policy;
    bo.learn = l;
    r = mmsg_broker_new(&bo, &broker);
    if (r < 0) {
        log_error_errno(r, "starting the broker");
        goto out;
    }
    ro.argv = argv + optind;
    r = mmsg_run(broker, &ro, &status);
    broker = mmsg_broker_free(broker); /* every call answered and observed */
    if (r == -ENOENT) {
        log_error_errno(r, "\"%s\"", ro.argv[0]);
        ret = EXIT_NOT_FOUND;
        goto out;
    }
    if (r < 0) {
        log_error_errno(r, "cannot execute \"%s\"", ro.argv[0]);
        ret = r == -EACCES || r == -ENOEXEC ? EXIT_CANNOT_EXEC : EXIT_BROKER;
        goto out;
    }
    ret = exit_status_of(status);
    if (learn_n_calls(l) == 0)
        log_warning("\"%s\" made no recvmmsg-family call: the learned policy denies them all",
                    ro.argv[0]);
    log_info("learned from %lu calls", learn_n_calls(l));
    if (write_learned(l, ro.argv[0], output) < 0)
        ret = EXIT_BROKER;
out:
    mmsg_broker_free(broker);
    mmsg_policy_free(policy);
    learn_free(l);
    return ret;
}

/* mmsgate reload|stats PID: signal a running mmsgate. The target is checked first: the
 * real-time signals used terminate a process that does not handle them. */
static int cmd_signal(int argc, char **argv, int sig)
{
    char path[64], comm[32] = "";
    unsigned pid;
    FILE *f;

    if (argc != 2 || parse_uint(argv[1], INT_MAX, &pid) < 0 || pid == 0) {
        fprintf(stderr, "Usage: mmsgate %s PID\n", argv[0]);
        return 2;
    }
    (void)snprintf(path, sizeof(path), "/proc/%u/comm", pid);
    f = fopen(path, "re");
    if (!f || !fgets(comm, sizeof(comm), f)) {
        if (f)
            (void)fclose(f); /* read-only */
        log_error("no process %u", pid);
        return 1;
    }
    (void)fclose(f); /* read-only */
    if (strcmp(comm, "mmsgate\n") != 0) {
        log_error("process %u is not mmsgate", pid);
        return 1;
    }
    if (kill((pid_t)pid, sig) < 0) {
        log_error_errno(-errno, "signalling %u", pid);
        return 1;
    }
    return 0;
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
    if (strcmp(argv[1], "learn") == 0)
        return cmd_learn(argc - 1, argv + 1);
    if (strcmp(argv[1], "reload") == 0)
        return cmd_signal(argc - 1, argv + 1, MMSG_SIGNAL_RELOAD);
    if (strcmp(argv[1], "stats") == 0)
        return cmd_signal(argc - 1, argv + 1, MMSG_SIGNAL_STATS);
    if (strcmp(argv[1], "check-oci") == 0)
        return oci_cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "oci-profile") == 0)
        return oci_cmd_profile(argc - 1, argv + 1);
    if (strcmp(argv[1], "policy") == 0) {
        if (argc == 3 && strcmp(argv[2], "default") == 0) {
            /* A policy cut short by a full disk must not look like success. */
            if (fputs(mmsg_policy_default_json(), stdout) == EOF || fflush(stdout) == EOF) {
                log_error_errno(-errno, "writing the default policy");
                return 1;
            }
            return 0;
        }
        fprintf(stderr, "Usage: mmsgate policy default\n");
        return 2;
    }
    if (strcmp(argv[1], "filter") == 0)
        return cmd_filter(argc - 1, argv + 1);
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
