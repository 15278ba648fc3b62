/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Real containers handing their listeners to "mmsgate agent": runc, crun and Podman from
 * Debian (scripts/deps.sh installs them) run a busybox rootfs with the static ctr-recvmmsg in
 * it, under the profile "mmsgate oci-profile" prints. The program is 64-bit because this host
 * cannot execute i386 code; the VM suite (tests/vm) has the -m32 build (ctr-recvmmsg32) for
 * the same rootfs. A test that cannot run here skips with the reason; with CI=true a skip is a
 * failure. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../integration/harness.h"

#define ALLOW_POLICY "{\"version\":1,\"default\":{\"action\":\"allow\"}}\n"
#define EMULATE_POLICY "{\"version\":1,\"default\":{\"action\":\"emulate\"}}\n"
#define DENY_POLICY(e) "{\"version\":1,\"default\":{\"action\":\"deny\",\"errno\":\"" e "\"}}\n"

static bool in_ci(void)
{
    const char *ci = getenv("CI");

    return ci && strcmp(ci, "true") == 0;
}

/* Skip with the reason, except in CI where the runtimes must be there. */
#define NEED(cond, ...)                \
    do {                               \
        if (!(cond)) {                 \
            if (in_ci())               \
                cr_fatal(__VA_ARGS__); \
            cr_skip_test(__VA_ARGS__); \
        }                              \
    } while (0)

static const char *which(const char *name)
{
    static char bufs[8][256];
    static unsigned next;
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
    char *b = bufs[next++ % 8];

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        (void)snprintf(b, sizeof(bufs[0]), "%s/%s", dirs[i], name);
        if (access(b, X_OK) == 0)
            return b;
    }
    return NULL;
}

static void need_root(void)
{
    NEED(geteuid() == 0, "containers need root (runc, crun, podman run as root here)");
}

static void need_runtime(const char *name)
{
    need_root();
    NEED(which(name), "%s is not installed (scripts/deps.sh installs it)", name);
}

static bool copy_file(const char *from, const char *to, mode_t mode)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC), out;
    ssize_t n;
    bool ok = true;

    if (in < 0)
        return false;
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) {
        close(in);
        return false;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ok = ok && write(out, buf, (size_t)n) == n;
    close(in);
    close(out);
    return ok && n == 0;
}

/* ---- one test's world: a directory with the agent socket, policies, rootfs, bundles ------- */

struct world {
    char dir[64];
    char sock[128];
    char poldir[128];
    char rootfs[128];
    char state[128]; /* runc/crun --root */
    char audit[128];
    char defpol[128];
    struct h_run agent;
    bool agent_started;
};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");

    cr_assert(ne(ptr, f, NULL), "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static void world_init(struct world *w)
{
    char p[256];

    *w = (struct world){0};
    (void)snprintf(w->dir, sizeof(w->dir), "/tmp/mmsg-ctr-XXXXXX");
    cr_assert(ne(ptr, mkdtemp(w->dir), NULL));
    (void)snprintf(w->sock, sizeof(w->sock), "%s/agent.sock", w->dir);
    (void)snprintf(w->poldir, sizeof(w->poldir), "%s/policies", w->dir);
    (void)snprintf(w->rootfs, sizeof(w->rootfs), "%s/rootfs", w->dir);
    (void)snprintf(w->state, sizeof(w->state), "%s/state", w->dir);
    (void)snprintf(w->audit, sizeof(w->audit), "%s/audit.jsonl", w->dir);
    (void)snprintf(w->defpol, sizeof(w->defpol), "%s/default.json", w->dir);
    cr_assert(eq(int, mkdir(w->poldir, 0700), 0));
    cr_assert(eq(int, mkdir(w->state, 0700), 0));
    write_text(w->defpol, DENY_POLICY("EACCES"));
    (void)snprintf(p, sizeof(p), "%s/deny.json", w->poldir);
    write_text(p, DENY_POLICY("EPROTO"));
    (void)snprintf(p, sizeof(p), "%s/refuse.json", w->poldir);
    write_text(p, DENY_POLICY("ECONNREFUSED"));
    (void)snprintf(p, sizeof(p), "%s/allow.json", w->poldir);
    write_text(p, ALLOW_POLICY);
    (void)snprintf(p, sizeof(p), "%s/emulate.json", w->poldir);
    write_text(p, EMULATE_POLICY);

    /* The rootfs: busybox-static (sh for the runtimes' sake) and the test program. */
    cr_assert(eq(int, mkdir(w->rootfs, 0755), 0));
    for (const char *const *d = (const char *const[]){"bin", "proc", "dev", "tmp", NULL}; *d; d++) {
        (void)snprintf(p, sizeof(p), "%s/%s", w->rootfs, *d);
        cr_assert(eq(int, mkdir(p, 0755), 0));
    }
    (void)snprintf(p, sizeof(p), "%s/bin/busybox", w->rootfs);
    NEED(copy_file("/bin/busybox", p, 0755), "busybox-static is not installed");
    (void)snprintf(p, sizeof(p), "%s/bin/sh", w->rootfs);
    cr_assert(eq(int, symlink("busybox", p), 0));
    (void)snprintf(p, sizeof(p), "%s/bin/ctr-recvmmsg", w->rootfs);
    cr_assert(copy_file(h_prog("ctr-recvmmsg64"), p, 0755));
}

static bool wait_socket(const char *path, int timeout_ms)
{
    struct stat st;

    for (int i = 0; i < timeout_ms / 10; i++) {
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            return true;
        usleep(10000);
    }
    return false;
}

static void start_agent_on(struct world *w, struct h_run *agent, bool verbose)
{
    const char *argv[] = {"mmsgate",  "agent",   "--socket",     w->sock,
                          "--policy", w->defpol, "--policy-dir", w->poldir,
                          "--audit",  w->audit,  "--audit-all",  verbose ? "-v" : NULL,
                          NULL};

    cr_assert(eq(int, h_start_cli(agent, argv), 0));
}

static void start_agent(struct world *w)
{
    start_agent_on(w, &w->agent, true);
    w->agent_started = true;
    cr_assert(wait_socket(w->sock, 5000), "agent socket never appeared: %s", w->agent.err);
}

/* Stop the agent (TERM) and keep its stderr in w->agent.err. */
static void stop_agent(struct world *w)
{
    if (!w->agent_started)
        return;
    kill(w->agent.pid, SIGTERM);
    cr_expect(eq(int, h_finish(&w->agent, 5000), 0), "agent stderr: %s", w->agent.err);
    w->agent_started = false;
}

static void world_done(struct world *w)
{
    char cmd[256];

    if (w->agent_started) {
        kill(w->agent.pid, SIGTERM);
        (void)h_finish(&w->agent, 5000);
    }
    h_run_done(&w->agent);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
    (void)!system(cmd); /* best effort: a temporary directory */
}

/* The profile as "mmsgate oci-profile" prints it (so the CLI is what the tests exercise). */
static json_t *profile(const struct world *w, const char *metadata)
{
    const char *argv[] = {
        "mmsgate", "oci-profile", "--listener", w->sock, metadata ? "--metadata" : NULL,
        metadata,  NULL};
    struct h_run r;
    json_error_t err;
    json_t *p;

    cr_assert(eq(int, h_cli(&r, argv, 10000), 0), "oci-profile: %s", r.err);
    p = json_loads(r.out, 0, &err);
    cr_assert(ne(ptr, p, NULL), "oci-profile printed: %s", r.out);
    h_run_done(&r);
    return p;
}

/* A bundle w->dir/ID with config.json running ctr-recvmmsg ARGS. */
static void make_bundle(const struct world *w, const char *id, const char *const args[],
                        const char *metadata, const char *annotation, char *ret_dir, size_t ret_len)
{
    json_t *cfg, *jargs = json_array(), *ann = json_object();
    char path[256];

    (void)snprintf(ret_dir, ret_len, "%s/b-%s", w->dir, id);
    cr_assert(eq(int, mkdir(ret_dir, 0700), 0));
    json_array_append_new(jargs, json_string("/bin/ctr-recvmmsg"));
    for (size_t i = 0; args[i]; i++)
        json_array_append_new(jargs, json_string(args[i]));
    if (annotation)
        json_object_set_new(ann, "org.mmsgate.policy", json_string(annotation));
    cfg = json_pack("{s:s, s:{s:b, s:{s:i, s:i}, s:o, s:[s], s:s, s:b}, s:{s:s, s:b}, s:s,"
                    " s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s,s]}], s:o,"
                    " s:{s:[{s:s},{s:s},{s:s},{s:s},{s:s}], s:o}}",
                    "ociVersion", "1.0.2", "process", "terminal", 0, "user", "uid", 0, "gid", 0,
                    "args", jargs, "env", "PATH=/bin", "cwd", "/", "noNewPrivileges", 1, "root",
                    "path", w->rootfs, "readonly", 1, "hostname", "c", "mounts", "destination",
                    "/proc", "type", "proc", "source", "proc", "destination", "/dev", "type",
                    "tmpfs", "source", "tmpfs", "options", "nosuid", "size=1m", "annotations", ann,
                    "linux", "namespaces", "type", "pid", "type", "ipc", "type", "uts", "type",
                    "mount", "type", "network", "seccomp", profile(w, metadata));
    cr_assert(ne(ptr, cfg, NULL));
    (void)snprintf(path, sizeof(path), "%s/config.json", ret_dir);
    cr_assert(eq(int, json_dump_file(cfg, path, JSON_INDENT(1)), 0));
    json_decref(cfg);
}

/* crun refuses hybrid cgroups (v1 controllers plus a v2 "unified" mount, as on this machine):
 * run it in a mount namespace without the unified hierarchy. */
static bool cgroups_hybrid(void)
{
    struct statfs sf;

    return statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == 0x63677270 /* cgroup2 */;
}

/* argv for "RUNTIME --root STATE VERB... --bundle B ID" (crun wrapped when hybrid). */
static void runtime_argv(const struct world *w, const char *runtime, const char *verb,
                         const char *flag, const char *bundle, const char *id, const char **argv,
                         char *shbuf, size_t shlen)
{
    size_t k = 0;

    if (strcmp(runtime, "crun") == 0 && cgroups_hybrid()) {
        (void)snprintf(shbuf, shlen,
                       "umount /sys/fs/cgroup/unified 2>/dev/null; exec %s --root '%s' %s %s "
                       "%s%s'%s' '%s'",
                       which("crun"), w->state, verb, flag ? flag : "", bundle ? "--bundle " : "",
                       bundle ? "" : "", bundle ? bundle : "", id);
        if (!bundle)
            (void)snprintf(shbuf, shlen,
                           "umount /sys/fs/cgroup/unified 2>/dev/null; exec %s --root '%s' %s "
                           "'%s'",
                           which("crun"), w->state, verb, id);
        argv[k++] = which("unshare");
        argv[k++] = "-m";
        argv[k++] = "sh";
        argv[k++] = "-c";
        argv[k++] = shbuf;
        argv[k] = NULL;
        return;
    }
    argv[k++] = which(runtime);
    argv[k++] = "--root";
    argv[k++] = w->state;
    argv[k++] = verb;
    if (flag)
        argv[k++] = flag;
    if (bundle) {
        argv[k++] = "--bundle";
        argv[k++] = bundle;
    }
    argv[k++] = id;
    argv[k] = NULL;
}

/* Run container @id to completion with @runtime ("runc" or "crun") and ctr-recvmmsg @args. */
static void run_container(const struct world *w, const char *runtime, const char *id,
                          const char *const args[], const char *metadata, const char *annotation,
                          struct h_run *r, int timeout_ms)
{
    char bundle[256], sh[1024];
    const char *argv[16];

    make_bundle(w, id, args, metadata, annotation, bundle, sizeof(bundle));
    runtime_argv(w, runtime, "run", NULL, bundle, id, argv, sh, sizeof(sh));
    cr_assert(eq(int, h_native(r, argv, timeout_ms), 0), "%s run %s: out %s err %s", runtime, id,
              r->out, r->err);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static const char *const two_calls[] = {"calls", "2", NULL};

/* ---- runc ---------------------------------------------------------------------------------- */

Test(runc, metadata_chooses_the_policy, .timeout = 120)
{
    struct world w;
    struct h_run a, b, c;

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    run_container(&w, "runc", "md-deny", two_calls, "policy=deny", NULL, &a, 30000);
    run_container(&w, "runc", "md-allow", two_calls, "policy=allow", NULL, &b, 30000);
    run_container(&w, "runc", "md-none", two_calls, NULL, NULL, &c, 30000);
    cr_expect(eq(sz, count(a.out, "ret=-1 errno=EPROTO"), 2), "deny: %s", a.out);
    cr_expect(eq(sz, count(b.out, "ret=2 errno=0 data=hello,world"), 2), "allow: %s", b.out);
    cr_expect(eq(sz, count(c.out, "ret=-1 errno=EACCES"), 2), "default: %s", c.out);
    stop_agent(&w);
    cr_expect(ne(ptr, strstr(w.agent.err, "policy deny from listenerMetadata"), NULL), "%s",
              w.agent.err);
    h_run_done(&a);
    h_run_done(&b);
    h_run_done(&c);
    world_done(&w);
}

Test(runc, annotation_chooses_the_policy_without_metadata, .timeout = 120)
{
    struct world w;
    struct h_run a, b;

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    run_container(&w, "runc", "an-refuse", two_calls, NULL, "refuse", &a, 30000);
    /* listenerMetadata comes first. */
    run_container(&w, "runc", "an-both", two_calls, "policy=deny", "refuse", &b, 30000);
    cr_expect(eq(sz, count(a.out, "ret=-1 errno=ECONNREFUSED"), 2), "annotation: %s", a.out);
    cr_expect(eq(sz, count(b.out, "ret=-1 errno=EPROTO"), 2), "metadata first: %s", b.out);
    h_run_done(&a);
    h_run_done(&b);
    world_done(&w);
}

Test(runc, unresolvable_policy_fails_closed, .timeout = 120)
{
    struct world w;
    struct h_run a;

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    run_container(&w, "runc", "no-such", two_calls, "policy=no-such-policy", NULL, &a, 30000);
    /* Neither the default policy (EACCES) nor a bypass: the deny errno. */
    cr_expect(eq(sz, count(a.out, "ret=-1 errno=EPERM"), 2), "%s", a.out);
    h_run_done(&a);
    world_done(&w);
}

Test(runc, audit_lines_carry_the_container_identity, .timeout = 120)
{
    struct world w;
    struct h_run a;
    char err[256];
    json_t *lines, *line;
    size_t i, n_ours = 0;

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    run_container(&w, "runc", "audited-1", two_calls, "policy=deny", NULL, &a, 30000);
    stop_agent(&w);
    lines = h_audit_load(w.audit, err, sizeof(err));
    cr_assert(ne(ptr, lines, NULL), "%s", err);
    /* Filled by the loop from mmsg_listener_info (docs/audit.md "Containers"). */
    json_array_foreach (lines, i, line) {
        const char *cid = json_string_value(json_object_get(line, "containerId"));

        if (!cid || strcmp(cid, "audited-1") != 0)
            continue;
        n_ours++;
        cr_expect(eq(str, (char *)json_string_value(json_object_get(line, "policy")), "deny"));
        cr_expect(
            ne(ptr, strstr(json_string_value(json_object_get(line, "bundle")) ?: "", "b-audited-1"),
               NULL));
        cr_expect(gt(int, json_integer_value(json_object_get(line, "hostProcessId")), 0));
        /* The container has its own pid namespace: ctr-recvmmsg is its pid 1. */
        cr_expect(eq(int, json_integer_value(json_object_get(line, "processId")), 1));
    }
    cr_expect(eq(sz, n_ours, 2), "audit: %s", json_dumps(lines, JSON_COMPACT));
    json_decref(lines);
    h_run_done(&a);
    world_done(&w);
}

Test(runc, three_containers_at_once, .timeout = 120)
{
    static const char *const ids[] = {"trio-a", "trio-b", "trio-c"};
    static const char *const meta[] = {"policy=deny", "policy=allow", "policy=refuse"};
    static const char *const expect[] = {"ret=-1 errno=EPROTO", "ret=2 errno=0",
                                         "ret=-1 errno=ECONNREFUSED"};
    static const char *const args[] = {"calls", "10", "50", NULL};
    struct world w;
    struct h_run r[3];
    char bundle[3][256], sh[1024];

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    for (int i = 0; i < 3; i++) {
        const char *argv[16];

        make_bundle(&w, ids[i], args, meta[i], NULL, bundle[i], sizeof(bundle[i]));
        runtime_argv(&w, "runc", "run", NULL, bundle[i], ids[i], argv, sh, sizeof(sh));
        cr_assert(eq(int, h_start_native(&r[i], argv), 0));
    }
    for (int i = 0; i < 3; i++) {
        cr_expect(eq(int, h_finish(&r[i], 60000), 0), "%s: %s", ids[i], r[i].err);
        cr_expect(eq(sz, count(r[i].out, expect[i]), 10), "%s: %s", ids[i], r[i].out);
        h_run_done(&r[i]);
    }
    world_done(&w);
}

Test(runc, container_killed_mid_call_costs_the_others_nothing, .timeout = 120)
{
    static const char *const block[] = {"block", NULL};
    struct world w;
    struct h_run victim, kill_run, after;
    char bundle[256], sh[1024];
    const char *argv[16];
    const char *kargv[] = {which("runc"), "--root", w.state, "kill", "victim", "KILL", NULL};

    need_runtime("runc");
    world_init(&w);
    kargv[2] = w.state;
    start_agent(&w);
    /* emulate: the broker itself waits in recvmmsg for the container. */
    make_bundle(&w, "victim", block, "policy=emulate", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "runc", "run", NULL, bundle, "victim", argv, sh, sizeof(sh));
    cr_assert(eq(int, h_start_native(&victim, argv), 0));
    cr_assert(h_wait_for(&victim, "blocking", 30000), "victim: %s %s", victim.out, victim.err);
    usleep(300000); /* into the call */
    cr_expect(eq(int, h_native(&kill_run, kargv, 10000), 0), "runc kill: %s", kill_run.err);
    (void)h_finish(&victim, 20000);
    cr_expect(eq(ptr, strstr(victim.out, "call ret="), NULL), "the call returned: %s", victim.out);
    run_container(&w, "runc", "after", two_calls, "policy=deny", NULL, &after, 30000);
    cr_expect(eq(sz, count(after.out, "ret=-1 errno=EPROTO"), 2), "after: %s", after.out);
    stop_agent(&w);
    h_run_done(&kill_run);
    h_run_done(&victim);
    h_run_done(&after);
    world_done(&w);
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    (void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    return fd;
}

static long max_us(const char *out)
{
    long max = -1;

    for (const char *p = out; (p = strstr(p, " us=")); p += 4) {
        long v = strtol(p + 4, NULL, 10);

        if (v > max)
            max = v;
    }
    return max;
}

Test(agent, silent_peers_cost_a_container_nothing, .timeout = 120)
{
    static const char *const args[] = {"calls", "20", "20", NULL};
    struct world w;
    struct h_run c;
    int silent[8], partial;

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    /* Eight peers that never send (allowed to wait: crun connects at "create" and writes at
     * "start"), one that stops half-way with no fd (refused after 2 s): the old agent read each
     * for 2 s on the broker's only thread. */
    for (int i = 0; i < 8; i++)
        cr_assert(ge(int, silent[i] = connect_to(w.sock), 0));
    cr_assert(ge(int, partial = connect_to(w.sock), 0));
    cr_assert(eq(int, (int)write(partial, "{\"fds\":[\"secc", 13), 13));
    run_container(&w, "runc", "busy", args, "policy=deny", NULL, &c, 30000);
    cr_expect(eq(sz, count(c.out, "ret=-1 errno=EPROTO"), 20), "%s", c.out);
    /* Normal latency is well under a millisecond; a stall would be seconds. */
    cr_expect(lt(long, max_us(c.out), 500000), "slowest call %ld us: %s", max_us(c.out), c.out);
    usleep(2500000); /* past the peers' deadline */
    for (int i = 0; i < 8; i++)
        close(silent[i]);
    close(partial);
    stop_agent(&w);
    cr_expect(eq(sz, count(w.agent.err, "no complete message within 2000 ms (13 bytes, 0 fds"), 1),
              "%s", w.agent.err);
    /* One line per peer: eight "closed without sending anything", and the partial one. */
    cr_expect(eq(sz, count(w.agent.err, "refused"), 9), "%s", w.agent.err);
    h_run_done(&c);
    world_done(&w);
}

/* ---- crun ---------------------------------------------------------------------------------- */

Test(crun, foreground_run, .timeout = 120)
{
    struct world w;
    struct h_run a;

    need_runtime("crun");
    NEED(!cgroups_hybrid() || which("unshare"), "hybrid cgroups and no unshare");
    world_init(&w);
    start_agent(&w);
    run_container(&w, "crun", "crun-fg", two_calls, "policy=deny", NULL, &a, 30000);
    cr_expect(eq(sz, count(a.out, "ret=-1 errno=EPROTO"), 2), "out %s err %s", a.out, a.err);
    stop_agent(&w);
    /* crun keeps its connection open after the newline: served at once, not at a timeout. */
    cr_expect(eq(ptr, strstr(w.agent.err, "refused"), NULL), "%s", w.agent.err);
    h_run_done(&a);
    world_done(&w);
}

Test(crun, detached_run, .timeout = 120)
{
    struct world w;
    struct h_run a;
    char bundle[256], sh[1024];
    const char *argv[16];

    need_runtime("crun");
    world_init(&w);
    start_agent(&w);
    make_bundle(&w, "crun-d", two_calls, "policy=deny", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "crun", "run", "-d", bundle, "crun-d", argv, sh, sizeof(sh));
    /* crun returns at once; the container writes to the same pipe until it exits. */
    cr_expect(eq(int, h_native(&a, argv, 30000), 0), "out %s err %s", a.out, a.err);
    cr_expect(eq(sz, count(a.out, "ret=-1 errno=EPROTO"), 2), "out %s err %s", a.out, a.err);
    h_run_done(&a);
    world_done(&w);
}

/* Run "create" to completion (it leaves the container waiting for "start" with our pipes). */
static void create_container(struct h_run *cr, const char *const argv[])
{
    cr_assert(eq(int, h_start_native(cr, argv), 0));
    for (int i = 0; i < 300 && !cr->exited; i++) {
        int ws;

        (void)h_wait_for(cr, "\x01never", 100);
        if (waitpid(cr->pid, &ws, WNOHANG) == cr->pid) {
            cr->exited = true;
            cr->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        }
    }
    cr_assert(eq(int, cr->exit_code, 0), "create: %s", cr->err);
}

Test(crun, create_then_start, .timeout = 120)
{
    struct world w;
    struct h_run cr, st, del;
    char bundle[256], sh1[1024], sh2[1024], sh3[1024];
    const char *argv[16], *sargv[16], *dargv[16];

    need_runtime("crun");
    world_init(&w);
    start_agent(&w);
    make_bundle(&w, "crun-cs", two_calls, "policy=deny", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "crun", "create", NULL, bundle, "crun-cs", argv, sh1, sizeof(sh1));
    runtime_argv(&w, "crun", "start", NULL, NULL, "crun-cs", sargv, sh2, sizeof(sh2));
    runtime_argv(&w, "crun", "delete", NULL, NULL, "crun-cs", dargv, sh3, sizeof(sh3));
    /* create returns once the container waits for start; the container keeps our pipes. */
    create_container(&cr, argv);
    /* crun connected to the agent at create and writes at start: longer than the 2 s a peer
     * has to finish a message it has begun. */
    sleep(3);
    cr_expect(eq(int, h_native(&st, sargv, 30000), 0), "start: %s", st.err);
    cr_expect(eq(int, h_finish(&cr, 30000), 0), "create: %s", cr.err);
    cr_expect(eq(sz, count(cr.out, "ret=-1 errno=EPROTO"), 2), "out %s err %s", cr.out, cr.err);
    (void)h_native(&del, dargv, 30000);
    h_run_done(&cr);
    h_run_done(&st);
    h_run_done(&del);
    world_done(&w);
}

/* ---- podman -------------------------------------------------------------------------------- */

Test(podman, run_with_the_generated_profile, .timeout = 300)
{
    struct world w;
    struct h_run a;
    char prof[256], ann[128];
    json_t *p;

    need_runtime("podman");
    NEED(which("runc"), "podman here runs containers with runc (crun refuses hybrid cgroups)");
    world_init(&w);
    start_agent(&w);
    (void)snprintf(prof, sizeof(prof), "%s/podman-profile.json", w.dir);
    p = profile(&w, NULL);
    cr_assert(eq(int, json_dump_file(p, prof, JSON_INDENT(1)), 0));
    json_decref(p);
    (void)snprintf(ann, sizeof(ann), "org.mmsgate.policy=deny");
    {
        /* --ulimit: this machine's hard limits are below Podman's defaults. */
        char opt[300];
        const char *argv[] = {which("podman"),
                              "--runtime",
                              which("runc"),
                              "run",
                              "--rm",
                              "--network",
                              "none",
                              "--ulimit",
                              "nofile=1024:1024",
                              "--ulimit",
                              "nproc=1024:1024",
                              "--annotation",
                              ann,
                              "--security-opt",
                              opt,
                              "--rootfs",
                              w.rootfs,
                              "/bin/ctr-recvmmsg",
                              "calls",
                              "2",
                              NULL};

        (void)snprintf(opt, sizeof(opt), "seccomp=%s", prof);
        cr_expect(eq(int, h_native(&a, argv, 240000), 0), "podman: out %s err %s", a.out, a.err);
    }
    cr_expect(eq(sz, count(a.out, "ret=-1 errno=EPROTO"), 2), "out %s err %s", a.out, a.err);
    h_run_done(&a);
    world_done(&w);
}

/* ---- scale and restarts (no runtime needed for the first) ---------------------------------- */

static long vm_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

Test(agent, a_thousand_listeners, .timeout = 300)
{
    struct world w;
    struct h_run m;
    const char *argv[] = {"many-listeners", NULL, "1000", NULL};
    long rss0, rss1;

    need_root();
    world_init(&w);
    start_agent_on(&w, &w.agent, false); /* -v would log 1,000 lines into a pipe */
    w.agent_started = true;
    cr_assert(wait_socket(w.sock, 5000), "%s", w.agent.err);
    rss0 = vm_rss_kb(w.agent.pid);
    argv[1] = w.sock;
    cr_assert(eq(int, h_start_native(&m, argv), 0));
    cr_assert(h_wait_for(&m, "ready 1000", 240000), "out %s err %s", m.out, m.err);
    rss1 = vm_rss_kb(w.agent.pid);
    cr_expect(eq(int, h_finish(&m, 60000), 0), "err %s", m.err);
    /* The first and the 1,000th listener are both served by the policy (EACCES default). */
    cr_expect(ne(ptr, strstr(m.out, "call i=0 ret=-1 errno=EACCES"), NULL), "%s", m.out);
    cr_expect(ne(ptr, strstr(m.out, "call i=999 ret=-1 errno=EACCES"), NULL), "%s", m.out);
    cr_log_info("agent RSS: %ld kB idle, %ld kB with 1,000 listeners", rss0, rss1);
    fprintf(stderr, "agent RSS: %ld kB idle, %ld kB with 1,000 listeners\n", rss0, rss1);
    stop_agent(&w);
    cr_expect(eq(ptr, strstr(w.agent.err, "refused"), NULL), "%s", w.agent.err);
    cr_expect(eq(ptr, strstr(w.agent.err, "not served"), NULL), "%s", w.agent.err);
    h_run_done(&m);
    world_done(&w);
}

Test(agent, new_agent_takes_over_mid_container, .timeout = 120)
{
    static const char *const args[] = {"calls", "15", "200", NULL};
    struct world w;
    struct h_run c, newer;
    char bundle[256], sh[1024];
    const char *argv[16];

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    make_bundle(&w, "long", args, "policy=deny", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "runc", "run", NULL, bundle, "long", argv, sh, sizeof(sh));
    cr_assert(eq(int, h_start_native(&c, argv), 0));
    cr_assert(h_wait_for(&c, "call i=2 ", 30000), "%s %s", c.out, c.err);
    /* An upgrade: the same command on the same socket, while the container runs. */
    start_agent_on(&w, &newer, true);
    /* The older agent hands over and exits by itself. */
    cr_expect(eq(int, h_finish(&w.agent, 10000), 0), "older agent: %s", w.agent.err);
    w.agent_started = false;
    cr_expect(eq(int, h_finish(&c, 30000), 0), "%s", c.err);
    /* Every call, before, during and after, decided by the container's policy. */
    cr_expect(eq(sz, count(c.out, "ret=-1 errno=EPROTO"), 15), "%s", c.out);
    cr_expect(ne(ptr, strstr(w.agent.err, "hand-over complete"), NULL), "%s", w.agent.err);
    kill(newer.pid, SIGTERM);
    cr_expect(eq(int, h_finish(&newer, 5000), 0), "newer: %s", newer.err);
    cr_expect(ne(ptr, strstr(newer.err, "took over 1 listeners"), NULL), "%s", newer.err);
    cr_expect(ne(ptr, strstr(newer.err, "adopted container \"long\""), NULL), "%s", newer.err);
    /* The socket is the newer agent's, and it removed it at exit. */
    cr_expect(eq(int, access(w.sock, F_OK), -1));
    h_run_done(&newer);
    h_run_done(&c);
    world_done(&w);
}

/* ---- systemd: socket activation, READY=1 and the fd store, with this test as systemd ------- */

/* One sd_notify datagram (and its fd, if any) within @timeout_ms. */
static bool notify_recv(int sock, char *buf, size_t len, int *ret_fd, int timeout_ms)
{
    union {
        char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
    struct pollfd p = {.fd = sock, .events = POLLIN};
    ssize_t n;

    *ret_fd = -1;
    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return false;
    buf[n] = '\0';
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
    return true;
}

/* Wait for a notify message containing @needle; keep its fd in @ret_fd (if asked). */
static bool notify_wait(int sock, const char *needle, char *buf, size_t len, int *ret_fd)
{
    for (int i = 0; i < 50; i++) {
        int fd;

        if (!notify_recv(sock, buf, len, &fd, 10000))
            return false;
        if (strstr(buf, needle)) {
            if (ret_fd)
                *ret_fd = fd;
            else if (fd >= 0)
                close(fd);
            return true;
        }
        if (fd >= 0)
            close(fd);
    }
    return false;
}

/* Start the agent as systemd would: the listening socket (and stored listeners) from fd 3 on,
 * LISTEN_* and NOTIFY_SOCKET set. @fds are non-CLOEXEC fds of ours to pass in order. */
static void start_activated(struct world *w, struct h_run *r, const char *notify_path,
                            const char *state_dir, const int *fds, const char *const *names, int n)
{
    char script[2048], *p = script;
    /* bash: dash cannot name fds above 9. */
    const char *argv[] = {"/bin/bash", "-c", script, NULL};

    p += sprintf(p, "exec");
    for (int i = 0; i < n; i++)
        p += sprintf(p, " %d<&%d", 3 + n + 10 + i, fds[i]); /* out of the way first */
    for (int i = 0; i < n; i++)
        p += sprintf(p, " %d<&%d %d<&-", 3 + i, 3 + n + 10 + i, 3 + n + 10 + i);
    p += sprintf(p, "; LISTEN_PID=$$ LISTEN_FDS=%d LISTEN_FDNAMES='", n);
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? ":" : "", names[i]);
    p += sprintf(p,
                 "' NOTIFY_SOCKET='%s' RUNTIME_DIRECTORY='%s' exec '%s' agent --socket '%s' "
                 "--policy '%s' --policy-dir '%s' -v",
                 notify_path, state_dir, MMSGATE_BIN, w->sock, w->defpol, w->poldir);
    cr_assert(eq(int, h_start_native(r, argv), 0));
}

Test(systemd, fd_store_keeps_a_container_across_a_restart, .timeout = 120)
{
    static const char *const args[] = {"calls", "15", "200", NULL};
    struct world w;
    struct h_run c, first, second;
    char notify_path[160], state_dir[160], buf[512], bundle[256], sh[1024], name[64];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int lsock, nsock, stored = -1;
    const char *argv[16];

    need_runtime("runc");
    world_init(&w);
    (void)snprintf(notify_path, sizeof(notify_path), "%s/notify", w.dir);
    (void)snprintf(state_dir, sizeof(state_dir), "%s/agent-state", w.dir);
    cr_assert(eq(int, mkdir(state_dir, 0700), 0));
    /* systemd's side: the socket unit's listening socket and the notify socket. */
    lsock = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert(lt(sz, strlen(w.sock), sizeof(sa.sun_path)));
    memcpy(sa.sun_path, w.sock, strlen(w.sock) + 1);
    cr_assert(eq(int, bind(lsock, (struct sockaddr *)&sa, sizeof(sa)), 0));
    cr_assert(eq(int, listen(lsock, 16), 0));
    nsock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(lt(sz, strlen(notify_path), sizeof(sa.sun_path)));
    memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
    cr_assert(eq(int, bind(nsock, (struct sockaddr *)&sa, sizeof(sa)), 0));
    cr_assert(eq(int, setsockopt(nsock, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)), 0));

    start_activated(&w, &first, notify_path, state_dir, &lsock, (const char *const[]){"agent"}, 1);
    cr_assert(notify_wait(nsock, "READY=1", buf, sizeof(buf), NULL), "no READY=1");

    make_bundle(&w, "store", args, "policy=deny", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "runc", "run", NULL, bundle, "store", argv, sh, sizeof(sh));
    cr_assert(eq(int, h_start_native(&c, argv), 0));
    cr_assert(notify_wait(nsock, "FDSTORE=1", buf, sizeof(buf), &stored), "no FDSTORE=1");
    cr_assert(ge(int, stored, 0), "FDSTORE=1 without an fd: %s", buf);
    cr_assert(eq(int, sscanf(strstr(buf, "FDNAME=") ?: "", "FDNAME=%63s", name), 1), "%s", buf);
    cr_assert(h_wait_for(&c, "call i=2 ", 30000), "%s %s", c.out, c.err);

    /* systemctl restart: the service stops, the store (us) keeps the listener. */
    kill(first.pid, SIGTERM);
    cr_expect(eq(int, h_finish(&first, 5000), 0), "first: %s", first.err);
    {
        int fds[2] = {lsock, stored};
        const char *names[2] = {"agent", name};

        /* Not close-on-exec, so the shell can place them. */
        (void)fcntl(stored, F_SETFD, 0);
        start_activated(&w, &second, notify_path, state_dir, fds, names, 2);
    }
    cr_assert(notify_wait(nsock, "READY=1", buf, sizeof(buf), NULL), "no READY=1 again");
    cr_expect(ne(ptr, strstr(buf, "serving 1 containers"), NULL), "%s", buf);
    cr_expect(eq(int, h_finish(&c, 30000), 0), "%s", c.err);
    /* Every call, before, during and after the restart, decided by its policy (from the
     * companion file: the fd alone does not say which). */
    cr_expect(eq(sz, count(c.out, "ret=-1 errno=EPROTO"), 15), "%s", c.out);
    kill(second.pid, SIGTERM);
    cr_expect(eq(int, h_finish(&second, 5000), 0), "second: %s", second.err);
    cr_expect(ne(ptr, strstr(second.err, "adopted container \"store\" (pid"), NULL), "%s",
              second.err);
    cr_expect(ne(ptr, strstr(second.err, "policy deny from listenerMetadata"), NULL), "%s",
              second.err);
    close(stored);
    close(lsock);
    close(nsock);
    h_run_done(&c);
    h_run_done(&first);
    h_run_done(&second);
    world_done(&w);
}

Test(crun, upgrade_between_create_and_start, .timeout = 120)
{
    struct world w;
    struct h_run cr, st, del, newer;
    char bundle[256], sh1[1024], sh2[1024], sh3[1024];
    const char *argv[16], *sargv[16], *dargv[16];

    need_runtime("crun");
    world_init(&w);
    start_agent(&w);
    make_bundle(&w, "crun-up", two_calls, "policy=deny", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "crun", "create", NULL, bundle, "crun-up", argv, sh1, sizeof(sh1));
    runtime_argv(&w, "crun", "start", NULL, NULL, "crun-up", sargv, sh2, sizeof(sh2));
    runtime_argv(&w, "crun", "delete", NULL, NULL, "crun-up", dargv, sh3, sizeof(sh3));
    /* crun is now connected to the older agent and writes only at "start". */
    create_container(&cr, argv);
    start_agent_on(&w, &newer, true);
    cr_expect(eq(int, h_finish(&w.agent, 10000), 0), "older agent: %s", w.agent.err);
    w.agent_started = false;
    cr_expect(eq(int, h_native(&st, sargv, 30000), 0), "start: %s", st.err);
    cr_expect(eq(int, h_finish(&cr, 30000), 0), "create: %s", cr.err);
    cr_expect(eq(sz, count(cr.out, "ret=-1 errno=EPROTO"), 2), "out %s err %s", cr.out, cr.err);
    kill(newer.pid, SIGTERM);
    cr_expect(eq(int, h_finish(&newer, 5000), 0), "newer: %s", newer.err);
    cr_expect(ne(ptr, strstr(newer.err, "serving container \"crun-up\""), NULL), "%s", newer.err);
    (void)h_native(&del, dargv, 30000);
    h_run_done(&cr);
    h_run_done(&st);
    h_run_done(&del);
    h_run_done(&newer);
    world_done(&w);
}

/* Send @text with @n_fds copies of @fd attached (SCM_RIGHTS); errors ignored (the agent may
 * have closed already). */
static void send_with_fds(int sock, const char *text, size_t len, int fd, int n_fds)
{
    union {
        char b[CMSG_SPACE(32 * sizeof(int))];
        struct cmsghdr align;
    } u = {0};
    struct iovec iov = {.iov_base = (void *)(uintptr_t)text, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    if (n_fds > 0) {
        struct cmsghdr *cm;

        msg.msg_control = u.b;
        msg.msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int));
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
        for (int i = 0; i < n_fds; i++)
            memcpy(CMSG_DATA(cm) + (size_t)i * sizeof(int), &fd, sizeof(int));
    }
    (void)sendmsg(sock, &msg, MSG_NOSIGNAL);
}

Test(agent, hostile_peers_each_get_one_line_and_cost_nothing, .timeout = 60)
{
    static const char one[] = "{\"fds\":[\"seccompFd\"],\"state\":{\"id\":\"h\"}}";
    struct world w;
    struct h_run client;
    const char *cargv[] = {"oci-client", "--agent", NULL, NULL};
    char many[512], *big;
    int p[2], s;
    size_t big_len = (1u << 20) + 4096;

    world_init(&w);
    start_agent(&w);
    cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
    /* garbage */
    cr_assert(ge(int, s = connect_to(w.sock), 0));
    send_with_fds(s, "GET / HTTP/1.1\r\n", 16, -1, 0);
    close(s);
    /* oversized: a string that never ends */
    big = malloc(big_len);
    cr_assert(ne(ptr, big, NULL));
    memset(big, 'x', big_len);
    memcpy(big, "{\"a\":\"", 6);
    cr_assert(ge(int, s = connect_to(w.sock), 0));
    for (size_t off = 0; off < big_len; off += 65536)
        send_with_fds(s, big + off, big_len - off < 65536 ? big_len - off : 65536, -1, 0);
    close(s);
    free(big);
    /* a complete message without its fd */
    cr_assert(ge(int, s = connect_to(w.sock), 0));
    send_with_fds(s, one, strlen(one), -1, 0);
    close(s);
    /* twenty fds */
    {
        size_t k = (size_t)snprintf(many, sizeof(many), "{\"fds\":[\"seccompFd\"");

        for (int i = 1; i < 20; i++)
            k += (size_t)snprintf(many + k, sizeof(many) - k, ",\"x%d\"", i);
        (void)snprintf(many + k, sizeof(many) - k, "],\"state\":{\"id\":\"m\"}}");
    }
    cr_assert(ge(int, s = connect_to(w.sock), 0));
    send_with_fds(s, many, strlen(many), p[0], 20);
    close(s);
    /* a pipe passed off as the listener */
    cr_assert(ge(int, s = connect_to(w.sock), 0));
    send_with_fds(s, one, strlen(one), p[0], 1);
    close(s);
    /* a message cut short */
    cr_assert(ge(int, s = connect_to(w.sock), 0));
    send_with_fds(s, "{\"fds\":", 7, -1, 0);
    close(s);

    /* A container after all that is served at once, by the default policy. */
    cargv[2] = w.sock;
    cr_expect(eq(int, h_native(&client, cargv, 10000), 0), "client: %s", client.err);
    cr_expect(eq(sz, count(client.out, "call ret=-1 errno=EACCES"), 2), "%s", client.out);
    stop_agent(&w);
    cr_expect(eq(sz, count(w.agent.err, "not a JSON object (byte 1)"), 1), "%s", w.agent.err);
    cr_expect(eq(sz, count(w.agent.err, "message larger than 1048576 bytes"), 1), "%s",
              w.agent.err);
    cr_expect(eq(sz, count(w.agent.err, "\"fds\" names 1 fds but 0 arrived"), 1), "%s",
              w.agent.err);
    cr_expect(eq(sz, count(w.agent.err, "more than 16 fds"), 1), "%s", w.agent.err);
    cr_expect(eq(sz, count(w.agent.err, "seccompFd is not a seccomp listener"), 1), "%s",
              w.agent.err);
    cr_expect(eq(sz, count(w.agent.err, "closed after 7 bytes and 0 fds"), 1), "%s", w.agent.err);
    cr_expect(eq(sz, count(w.agent.err, "refused"), 6), "%s", w.agent.err);
    close(p[0]);
    close(p[1]);
    h_run_done(&client);
    world_done(&w);
}

/* Replace @path atomically, as an operator's editor or config management would. */
static void replace_file(const char *path, const char *text)
{
    char tmp[300];

    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    write_text(tmp, text);
    cr_assert(eq(int, rename(tmp, path), 0));
}

Test(runc, sighup_reloads_policies_mid_container, .timeout = 120)
{
    static const char *const args[] = {"calls", "20", "150", NULL};
    struct world w;
    struct h_run c, d;
    char bundle[256], sh[1024], path[256];
    const char *argv[16];

    need_runtime("runc");
    world_init(&w);
    start_agent(&w);
    (void)snprintf(path, sizeof(path), "%s/deny.json", w.poldir);
    make_bundle(&w, "reload", args, "policy=deny", NULL, bundle, sizeof(bundle));
    runtime_argv(&w, "runc", "run", NULL, bundle, "reload", argv, sh, sizeof(sh));
    cr_assert(eq(int, h_start_native(&c, argv), 0));
    cr_assert(h_wait_for(&c, "call i=3 ", 30000), "%s %s", c.out, c.err);
    replace_file(path, DENY_POLICY("ECONNREFUSED"));
    cr_assert(eq(int, kill(w.agent.pid, SIGHUP), 0));
    cr_expect(eq(int, h_finish(&c, 30000), 0), "%s", c.err);
    /* Nothing dropped: every call answered, first by the old version, then by the new. */
    cr_expect(
        eq(sz, count(c.out, "ret=-1 errno=EPROTO") + count(c.out, "ret=-1 errno=ECONNREFUSED"), 20),
        "%s", c.out);
    cr_expect(ge(sz, count(c.out, "ret=-1 errno=EPROTO"), 4), "%s", c.out);
    cr_expect(ge(sz, count(c.out, "ret=-1 errno=ECONNREFUSED"), 1), "%s", c.out);
    cr_expect(ne(ptr, strstr(c.out, "call i=19 ret=-1 errno=ECONNREFUSED"), NULL), "%s", c.out);

    /* A broken file keeps the previous version, and says where it is broken. */
    replace_file(path, "{\"version\":1,\n \"default\": {\"action\": \"deny\", \"errno\": }}\n");
    cr_assert(eq(int, kill(w.agent.pid, SIGHUP), 0));
    usleep(300000);
    run_container(&w, "runc", "reload-2", two_calls, "policy=deny", NULL, &d, 30000);
    cr_expect(eq(sz, count(d.out, "ret=-1 errno=ECONNREFUSED"), 2), "%s", d.out);
    stop_agent(&w);
    cr_expect(ne(ptr, strstr(w.agent.err, "deny.json:2:"), NULL), "FILE:LINE:COL: %s", w.agent.err);
    h_run_done(&c);
    h_run_done(&d);
    world_done(&w);
}
