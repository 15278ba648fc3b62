/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel fast path (issue 8), proven live: for every example and test policy and the
 * built-in default, every combination of register inputs (fds, vlen values, each flag bit and
 * combinations, NULL / non-NULL timeout, upper halves of 64-bit registers) is run in a real child
 * (tests/programs/probe-recvmmsg.c), and its outcome is compared with mmsg_policy_evaluate():
 *   - under `mmsgate run --policy P` (the compiled filter and the broker together);
 *   - under the compiled filter alone with its listener closed, where every call the filter
 *     notifies fails with ENOSYS, so each call shows whether the kernel or the broker decided it.
 * Nothing is simulated: the BPF runs in the kernel. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"
#include "../ia32.h"
#include "mmsgate/policy.h"
#include "../programs/progs.h"

#define MAX_INPUTS 8192
#define ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define SOCK_FD 3 /* probe-recvmmsg's socket */

struct input {
    uint64_t fd, vlen, flags;
    char t; /* n NULL, v valid 2 s, h non-NULL with a zero low half (64-bit) */
};

struct outcome {
    bool seen;
    long ret;
    char err[24];
    int sig;
};

struct route_case {
    const char *prog;
    const char *arg;
    enum mmsg_syscall sys;
    bool compat;
};

static const struct route_case routes64[] = {
    {"probe-recvmmsg64", "299", MMSG_SYS_RECVMMSG, false},
};
static const struct route_case routes32[] = {
    {"probe-recvmmsg32", "337", MMSG_SYS_RECVMMSG_TIME32, true},
    {"probe-recvmmsg32", "417", MMSG_SYS_RECVMMSG_TIME64, true},
    {"probe-recvmmsg32", "sc", MMSG_SYS_SOCKETCALL, true},
};

static size_t make_inputs(bool compat, struct input *in)
{
    /* fd 3 the socket, 0 /dev/null, 5 and 1000 closed; -1 and, on 64-bit, upper halves the
     * kernel ignores (the fd is an int: net/socket.c SYSCALL_DEFINE5(recvmmsg, int, fd, ...)). */
    static const uint64_t fds64[] = {3, 0, 5, UINT64_MAX, 0x100000003u};
    static const uint64_t fds32[] = {3, 0, 5, 1000, 0xffffffffu};
    static const uint64_t vlens64[] = {0, 1, 2, 65, 0x100000002u};
    static const uint64_t vlens32[] = {0, 1, 2, 65, 1024};
    static const uint64_t flags[] = {
        0,
        0x1,
        0x2,
        0x4,
        0x20,
        0x40,
        0x80,
        0x100,
        0x2000,
        0x4000,
        0x8000,
        0x10000,
        0x40000,
        0x40000000,
        0x80000000,
        0x40 | 0x2,
        0x1 | 0x20,
        0x1 | 0x20 | 0x40,
        0x40 | 0x2000,
        0x2 | 0x20,
        0x80000040,
        0x80000002,
        0x10000 | 0x40,
        0x100000040u, /* upper half: flags is an unsigned int, so this is MSG_DONTWAIT */
    };
    static const char ts64[] = {'n', 'v', 'h'};
    static const char ts32[] = {'n', 'v'};
    const uint64_t *fds = compat ? fds32 : fds64, *vlens = compat ? vlens32 : vlens64;
    size_t n_fds = compat ? ELEMS(fds32) : ELEMS(fds64);
    size_t n_vlens = compat ? ELEMS(vlens32) : ELEMS(vlens64);
    size_t n_flags = compat ? ELEMS(flags) - 1 : ELEMS(flags);
    const char *ts = compat ? ts32 : ts64;
    size_t n_ts = compat ? ELEMS(ts32) : ELEMS(ts64), n = 0;

    for (size_t a = 0; a < n_fds; a++)
        for (size_t b = 0; b < n_vlens; b++)
            for (size_t c = 0; c < n_flags; c++)
                for (size_t d = 0; d < n_ts; d++)
                    in[n++] = (struct input){fds[a], vlens[b], flags[c], ts[d]};
    return n;
}

static char *write_inputs(const struct input *in, size_t n)
{
    size_t cap = n * 64 + 1, len = 0;
    char *text = malloc(cap), *path;

    cr_assert(ne(ptr, text, NULL));
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%llx %llx %llx %c\n",
                                (unsigned long long)in[i].fd, (unsigned long long)in[i].vlen,
                                (unsigned long long)in[i].flags, in[i].t);
    path = h_temp_file(text);
    free(text);
    cr_assert(ne(ptr, path, NULL));
    return path;
}

static void parse_outcomes(const char *out, struct outcome *o, size_t n)
{
    memset(o, 0, n * sizeof(*o));
    for (const char *line = out; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        char buf[32];
        unsigned long i;

        if (strncmp(line, "probe ", 6) != 0 || !h_field(line, "i", buf, sizeof(buf)))
            continue;
        i = strtoul(buf, NULL, 10);
        if (i >= n)
            continue;
        o[i].seen = true;
        if (h_field(line, "ret", buf, sizeof(buf)))
            o[i].ret = strtol(buf, NULL, 10);
        (void)h_field(line, "errno", o[i].err, sizeof(o[i].err));
        if (h_field(line, "sig", buf, sizeof(buf)))
            o[i].sig = (int)strtol(buf, NULL, 10);
    }
}

/* The call as the broker reads it from the registers (loop.c handle()). */
static struct mmsg_call call_of(const struct route_case *rc, const struct input *in)
{
    struct mmsg_call c = {
        .syscall = rc->sys,
        .fd = (int32_t)(uint32_t)in->fd,
        .vlen = (uint32_t)in->vlen,
        .flags = (uint32_t)in->flags,
        .socket_local_port = -1,
    };

    if (rc->compat)
        c.flags &= ~0x80000000u; /* MSG_CMSG_COMPAT: the compat entry ignores the caller's */
    if (in->t == 'v') {
        c.timeout = 0x1000;
        c.timeout_known = true;
        c.timeout_sec = 2;
    } else if (in->t == 'h') {
        c.timeout = UINT64_C(0x100000000); /* unmapped: its value cannot be read */
    }
    if (c.fd == SOCK_FD) {
        /* A UDP socket on an ephemeral port: no test policy's port range holds it. */
        c.socket_known = true;
        c.socket_family = AF_INET;
        c.socket_type = SOCK_DGRAM;
        c.socket_local_port = 1;
    }
    return c;
}

static bool same_as(const struct outcome *o, long ret, const char *err, int sig)
{
    return o->seen && o->sig == sig && (sig || (o->ret == ret && strcmp(o->err, err) == 0));
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text;
    long len;

    cr_assert(ne(ptr, f, NULL), "%s", path);
    cr_assert(eq(int, fseek(f, 0, SEEK_END), 0));
    len = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)len + 1);
    cr_assert(ne(ptr, text, NULL));
    cr_assert(eq(sz, fread(text, 1, (size_t)len, f), (size_t)len));
    fclose(f);
    return text;
}

struct counts {
    size_t kernel, broker, mismatches;
};

/* One policy (@path NULL: the built-in default) on one route. */
static void check_policy_route(const char *path, const struct route_case *rc,
                               const struct input *in, size_t n, const struct outcome *native,
                               struct counts *cnt)
{
    static struct outcome got[MAX_INPUTS];
    char *text = path ? read_text(path) : strdup(mmsg_policy_default_json());
    const char *name = path ? path : "(default)";
    char *inputs = write_inputs(in, n), *bpf = h_temp_file("");
    struct mmsg_policy *p = NULL;
    struct mmsg_kprog *prog = NULL;
    struct h_run r = {0};
    int code;

    cr_assert(ne(ptr, bpf, NULL));
    cr_assert(eq(int, mmsg_policy_load_buffer(text, strlen(text), &p, NULL), 0), "%s", name);
    cr_assert(eq(int, mmsg_policy_compile(p, 0, &prog), 0));

    /* The filter mmsgate would load, alone: kernel verdicts, ENOSYS where it notifies. */
    {
        const char *argv[] = {"mmsgate", "filter", "--bpf", bpf, path ? "--policy" : NULL,
                              path,      NULL};

        code = h_cli(&r, argv, 30000);
        cr_assert(eq(int, code, 0), "%s: mmsgate filter --bpf: %s", name, r.err);
        h_run_done(&r);
    }
    {
        const char *argv[] = {rc->prog, "--route",  rc->arg, "--inputs",
                              inputs,   "--filter", bpf,     NULL};

        code = h_native(&r, argv, 300000);
        cr_assert(eq(int, code, 0), "%s: probe under the bare filter: %s", name, r.err);
        parse_outcomes(r.out, got, n);
        h_run_done(&r);
    }
    for (size_t i = 0; i < n; i++) {
        struct mmsg_call c = call_of(rc, &in[i]);
        const struct mmsg_knode *leaf =
            mmsg_kprog_decide(prog, c.syscall, c.fd, c.vlen, c.flags, c.timeout == 0);
        struct mmsg_decision d;
        bool ok;

        mmsg_policy_evaluate(p, &c, &d);
        cr_assert(ne(ptr, (void *)leaf, NULL));
        switch (leaf->verdict) {
        case MMSG_KVERDICT_ALLOW:
            ok = d.action == MMSG_ACTION_ALLOW &&
                 same_as(&got[i], native[i].ret, native[i].err, native[i].sig);
            break;
        case MMSG_KVERDICT_ERRNO:
            ok = d.action == MMSG_ACTION_DENY &&
                 same_as(&got[i], -1, progs_errno_name(d.errno_value), 0);
            break;
        case MMSG_KVERDICT_KILL:
            ok = d.action == MMSG_ACTION_KILL && same_as(&got[i], 0, "", SIGSYS);
            break;
        case MMSG_KVERDICT_NOTIFY:
        case MMSG_KVERDICT_MAX_:
        default:
            ok = same_as(&got[i], -1, "ENOSYS", 0);
            break;
        }
        if (leaf->verdict == MMSG_KVERDICT_NOTIFY)
            cnt->broker++;
        else
            cnt->kernel++;
        if (!ok && cnt->mismatches++ < 10)
            cr_expect(ok,
                      "%s route %s, bare filter: fd %llx vlen %llx flags %llx timeout %c: got "
                      "ret=%ld errno=%s sig=%d, tree says %s, evaluator %s (rule %d)",
                      name, rc->arg, (unsigned long long)in[i].fd, (unsigned long long)in[i].vlen,
                      (unsigned long long)in[i].flags, in[i].t, got[i].ret, got[i].err, got[i].sig,
                      mmsg_kverdict_name(leaf->verdict), mmsg_action_name(d.action), d.rule_index);
    }

    /* The whole of mmsgate: the compiled filter and the broker. */
    {
        const char *argv[] = {rc->prog, "--route", rc->arg, "--inputs", inputs, NULL};
        struct h_gate g = {.policy = path ? text : NULL};

        code = h_gate(&r, &g, argv, 600000);
        cr_assert(eq(int, code, 0), "%s: probe under mmsgate: %s", name, r.err);
        parse_outcomes(r.out, got, n);
        h_run_done(&r);
    }
    for (size_t i = 0; i < n; i++) {
        struct mmsg_call c = call_of(rc, &in[i]);
        struct mmsg_decision d;
        bool ok;

        mmsg_policy_evaluate(p, &c, &d);
        /* Complain mode: audited, never enforced; the call runs as if allowed. */
        switch (d.enforce ? d.action : MMSG_ACTION_ALLOW) {
        case MMSG_ACTION_DENY:
            ok = same_as(&got[i], -1, progs_errno_name(d.errno_value), 0);
            break;
        case MMSG_ACTION_KILL:
            /* SIGSYS from the kernel (KILL_PROCESS), SIGKILL from the broker. */
            ok = got[i].seen && (got[i].sig == SIGSYS || got[i].sig == SIGKILL);
            break;
        case MMSG_ACTION_ALLOW:
        case MMSG_ACTION_EMULATE:
            ok = same_as(&got[i], native[i].ret, native[i].err, native[i].sig);
            break;
        case MMSG_ACTION_MAX_:
        default:
            ok = false;
            break;
        }
        if (!ok && cnt->mismatches++ < 10)
            cr_expect(ok,
                      "%s route %s, mmsgate run: fd %llx vlen %llx flags %llx timeout %c: got "
                      "ret=%ld errno=%s sig=%d; evaluator %s (rule %d), native ret=%ld errno=%s",
                      name, rc->arg, (unsigned long long)in[i].fd, (unsigned long long)in[i].vlen,
                      (unsigned long long)in[i].flags, in[i].t, got[i].ret, got[i].err, got[i].sig,
                      mmsg_action_name(d.action), d.rule_index, native[i].ret, native[i].err);
    }
    unlink(inputs);
    unlink(bpf);
    free(inputs);
    free(bpf);
    free(text);
    mmsg_kprog_free(prog);
    mmsg_policy_free(p);
}

static size_t policies_in(const char *dir_path, char paths[][512], size_t max)
{
    DIR *dir = opendir(dir_path);
    struct dirent *de;
    size_t n = 0;

    cr_assert(ne(ptr, dir, NULL), "%s", dir_path);
    while ((de = readdir(dir)) && n < max)
        if (strstr(de->d_name, ".json"))
            snprintf(paths[n++], sizeof(paths[0]), "%s/%s", dir_path, de->d_name);
    closedir(dir);
    return n;
}

static void check_routes(const struct route_case *routes, size_t n_routes)
{
    static struct input in[MAX_INPUTS];
    static struct outcome native[MAX_INPUTS];
    char paths[32][512];
    size_t n_paths = policies_in(MMSG_EXAMPLES_POLICIES_DIR, paths, 16);
    struct counts cnt = {0};

    n_paths += policies_in(MMSG_TEST_POLICIES_DIR, paths + n_paths, 16);
    cr_assert(ge(sz, n_paths, 6));
    for (size_t r = 0; r < n_routes; r++) {
        const struct route_case *rc = &routes[r];
        size_t n;

        /* The VM suite (tests/vm) runs the i386 routes where this kernel cannot. */
        if (rc->compat && !ia32_available())
            cr_skip_test(IA32_SKIP_REASON);
        n = make_inputs(rc->compat, in);
        char *inputs = write_inputs(in, n);
        const char *argv[] = {rc->prog, "--route", rc->arg, "--inputs", inputs, NULL};
        struct h_run run = {0};
        int code = h_native(&run, argv, 300000);

        cr_assert(eq(int, code, 0), "native probe: %s", run.err);
        parse_outcomes(run.out, native, n);
        h_run_done(&run);
        for (size_t i = 0; i < n; i++)
            cr_assert(native[i].seen, "native probe: no line for input %zu", i);
        unlink(inputs);
        free(inputs);

        check_policy_route(NULL, rc, in, n, native, &cnt);
        for (size_t k = 0; k < n_paths; k++)
            check_policy_route(paths[k], rc, in, n, native, &cnt);
    }
    /* A compiler that notifies everything would pass the checks above: it must not. */
    if (routes[0].sys != MMSG_SYS_SOCKETCALL)
        cr_expect(gt(sz, cnt.kernel, 0));
    cr_expect(eq(sz, cnt.mismatches, 0), "%zu mismatches (first 10 shown)", cnt.mismatches);
    cr_log_info("kernel_path: %zu calls decided in the kernel, %zu by the broker", cnt.kernel,
                cnt.broker);
}

Test(kernel_path, x86_64_matches_the_evaluator, .timeout = 900)
{
    /* The VM stage runs the half the host cannot (i386, below); this half ran on the host, with
     * the same filter program, and would add minutes under TCG. */
    if (getenv("MMSG_VM_SUITE"))
        cr_skip_test("x86_64 route: proven on the host; the VM stage runs the i386 routes");
    check_routes(routes64, ELEMS(routes64));
}

Test(kernel_path, i386_matches_the_evaluator, .timeout = 900)
{
    check_routes(routes32, ELEMS(routes32));
}
