/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration test harness: subprocesses with captured output and deadlines, temp files, and
 * parsers for the target programs' lines and the audit JSON lines. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "../ia32.h"

#ifndef MMSGATE_BIN
#error "MMSGATE_BIN must be defined by the build"
#endif
#ifndef MMSG_PROGRAMS_DIR
#error "MMSG_PROGRAMS_DIR must be defined by the build"
#endif

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;

    (void)clock_gettime(clk, &ts); /* valid clock and pointer: cannot fail */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *h_prog(const char *name)
{
    static char bufs[16][512];
    static unsigned next;
    char *b = bufs[next++ % 16];

    if (strchr(name, '/'))
        return name;
    (void)snprintf(b, sizeof(bufs[0]), "%s/%s", MMSG_PROGRAMS_DIR, name);
    return b;
}

char *h_temp_file(const char *text)
{
    char tmpl[] = "/tmp/mmsg-test-XXXXXX";
    size_t len = strlen(text);
    int fd = mkstemp(tmpl);

    if (fd < 0)
        return NULL;
    if (write(fd, text, len) != (ssize_t)len) {
        (void)close(fd);
        (void)unlink(tmpl);
        return NULL;
    }
    (void)close(fd); /* written file: nothing to act on */
    return strdup(tmpl);
}

int h_free_udp_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (s < 0)
        return -1;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(s, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    (void)close(s);
    return port;
}

static void run_init(struct h_run *r)
{
    *r = (struct h_run){.pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1, .exit_code = -1};
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
}

static int spawn(struct h_run *r, const char *path, char *const argv[], bool stdin_pipe)
{
    int in[2] = {-1, -1}, out[2], err[2], exec_err[2];
    int child_errno = 0;
    pid_t parent;
    ssize_t n;

    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(exec_err, O_CLOEXEC) < 0)
        return -errno;
    if (stdin_pipe && pipe2(in, O_CLOEXEC) < 0)
        return -errno;
    r->real_start_ns = now_ns(CLOCK_REALTIME);
    parent = getpid();
    r->pid = fork();
    if (r->pid < 0)
        return -errno;
    if (r->pid == 0) {
        int e;

        /* Own process group, so cleanup can kill whatever mmsgate leaves behind. */
        (void)setpgid(0, 0);
        /* A failed assertion ends the test before its cleanup: die with it rather than run on
         * (an event-loop server under a deny spun for two hours that way). mmsgate run passes
         * this on to PROG (broker/launch.c). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
            _exit(127);
        if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0 ||
            (stdin_pipe && dup2(in[0], STDIN_FILENO) < 0))
            _exit(127);
        (void)signal(SIGPIPE, SIG_DFL);
        execv(path, argv);
        e = errno;
        /* The parent reads this to tell "not started" from "exited 127"; if the write fails
         * it sees a plain exit 127, which is still a failed start. */
        if (write(exec_err[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    (void)close(out[1]);
    (void)close(err[1]);
    (void)close(exec_err[1]);
    if (stdin_pipe) {
        (void)close(in[0]);
        r->in_fd = in[1];
    }
    n = read(exec_err[0], &child_errno, sizeof(child_errno));
    (void)close(exec_err[0]);
    r->out_fd = out[0];
    r->err_fd = err[0];
    if (n == sizeof(child_errno))
        return -child_errno;
    return 0;
}

static int start_argv(struct h_run *r, const char *path, const char *const pre[], size_t n_pre,
                      const char *const argv[], bool stdin_pipe)
{
    const char *args[256];
    size_t k = 0;

    for (size_t i = 0; i < n_pre && k < 250; i++)
        args[k++] = pre[i];
    for (size_t i = 0; argv && argv[i] && k < 255; i++)
        args[k++] = argv[i];
    args[k] = NULL;
    /* execv() takes char *const[] for historical reasons; it does not modify the strings. */
    return spawn(r, path, (char *const *)(uintptr_t)args, stdin_pipe);
}

static int start_native(struct h_run *r, const char *const argv[], bool stdin_pipe)
{
    const char *path = h_prog(argv[0]);
    const char *first[] = {path};

    return start_argv(r, path, first, 1, argv + 1, stdin_pipe);
}

/* i386 cases (a -m32 program, or int $0x80 from 64-bit code) need IA32 emulation. */
static void need_ia32_for(const char *const argv[])
{
    bool i386 = false;

    for (size_t i = 0; argv[i]; i++) {
        size_t len = strlen(argv[i]);

        if ((i == 0 && len > 2 && strcmp(argv[i] + len - 2, "32") == 0) ||
            strcmp(argv[i], "int80") == 0)
            i386 = true;
    }
    if (i386 && !ia32_available())
        cr_skip_test(IA32_SKIP_REASON);
}

int h_start_gate(struct h_run *r, const struct h_gate *g, const char *const argv[])
{
    const char *pre[16];
    const char *prog[256];
    size_t k = 0, n = 0;

    need_ia32_for(argv);
    run_init(r);
    if (g->native)
        return start_native(r, argv, g->stdin_pipe);
    pre[k++] = MMSGATE_BIN;
    pre[k++] = "run";
    if (g->policy) {
        r->policy_path = h_temp_file(g->policy);
        if (!r->policy_path)
            return -EIO;
        pre[k++] = "--policy";
        pre[k++] = r->policy_path;
    }
    if (g->audit) {
        r->audit_path = h_temp_file("");
        if (!r->audit_path)
            return -EIO;
        pre[k++] = "--audit";
        pre[k++] = r->audit_path;
    }
    if (g->audit_all)
        pre[k++] = "--audit-all";
    pre[k++] = "--";
    for (; argv[n] && n < 254; n++)
        prog[n] = n == 0 ? h_prog(argv[0]) : argv[n];
    prog[n] = NULL;
    return start_argv(r, MMSGATE_BIN, pre, k, prog, g->stdin_pipe);
}

int h_start_native(struct h_run *r, const char *const argv[])
{
    need_ia32_for(argv);
    run_init(r);
    return start_native(r, argv, false);
}

int h_start_cli(struct h_run *r, const char *const argv[])
{
    const char *first[] = {MMSGATE_BIN};

    run_init(r);
    return start_argv(r, MMSGATE_BIN, first, 1, argv + 1, false);
}

/* Append what is readable on fd to buf; close it at EOF. */
static void drain(int *fd, char **buf, size_t *len)
{
    char chunk[8192];
    ssize_t n = read(*fd, chunk, sizeof(chunk));
    char *nb;

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        (void)close(*fd);
        *fd = -1;
        return;
    }
    nb = realloc(*buf, *len + (size_t)n + 1);
    if (!nb)
        abort(); /* a test harness out of memory has nothing sensible left to do */
    memcpy(nb + *len, chunk, (size_t)n);
    *len += (size_t)n;
    nb[*len] = '\0';
    *buf = nb;
}

/* One poll round over the open pipes, at most @wait_ms. */
static void pump(struct h_run *r, int wait_ms)
{
    struct pollfd p[2];
    int n = 0;

    if (r->out_fd >= 0)
        p[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
    if (r->err_fd >= 0)
        p[n++] = (struct pollfd){.fd = r->err_fd, .events = POLLIN};
    if (n == 0) {
        if (wait_ms > 0)
            (void)usleep((useconds_t)(wait_ms > 10 ? 10 : wait_ms) * 1000);
        return;
    }
    if (poll(p, (nfds_t)n, wait_ms) <= 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (p[i].fd == r->out_fd)
            drain(&r->out_fd, &r->out, &r->out_len);
        else
            drain(&r->err_fd, &r->err, &r->err_len);
    }
}

static void reap(struct h_run *r, int options)
{
    int ws = 0;
    pid_t p;

    if (r->exited || r->pid <= 0)
        return;
    p = waitpid(r->pid, &ws, options);
    if (p != r->pid)
        return;
    r->exited = true;
    r->real_end_ns = now_ns(CLOCK_REALTIME);
    if (WIFEXITED(ws))
        r->exit_code = WEXITSTATUS(ws);
    else if (WIFSIGNALED(ws))
        r->exit_code = 128 + WTERMSIG(ws);
}

int h_slow_ms(int ms)
{
    const char *f = getenv("MMSG_TIME_FACTOR");
    long factor = getenv("MMSG_VM_SUITE") ? 4 : 1;

    if (f && *f) {
        char *end;
        long v = strtol(f, &end, 10);

        if (*end == 0 && v >= 1 && v <= 100)
            factor = v;
    }
    return ms > INT_MAX / (int)factor ? INT_MAX : ms * (int)factor;
}

bool h_wait_for(struct h_run *r, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)h_slow_ms(timeout_ms) * 1000000;

    while (!strstr(r->out, needle)) {
        int64_t left = deadline - now_ns(CLOCK_MONOTONIC);

        if (left <= 0 || (r->out_fd < 0 && r->err_fd < 0))
            return false;
        pump(r, (int)(left / 1000000) + 1);
    }
    return true;
}

int h_finish(struct h_run *r, int timeout_ms)
{
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)h_slow_ms(timeout_ms) * 1000000;

    for (;;) {
        int64_t left = deadline - now_ns(CLOCK_MONOTONIC);

        reap(r, WNOHANG);
        if (r->exited && r->out_fd < 0 && r->err_fd < 0)
            break;
        if (left <= 0) {
            r->timed_out = true;
            (void)kill(-r->pid, SIGKILL);
            (void)kill(r->pid, SIGKILL);
            reap(r, 0);
            while (r->out_fd >= 0 || r->err_fd >= 0)
                pump(r, 100);
            return -1;
        }
        pump(r, left > 20000000 ? 20 : (int)(left / 1000000) + 1);
    }
    return r->exit_code;
}

int h_gate(struct h_run *r, const struct h_gate *g, const char *const argv[], int timeout_ms)
{
    int e = h_start_gate(r, g, argv);

    return e < 0 ? e : h_finish(r, timeout_ms);
}

int h_native(struct h_run *r, const char *const argv[], int timeout_ms)
{
    int e = h_start_native(r, argv);

    return e < 0 ? e : h_finish(r, timeout_ms);
}

int h_cli(struct h_run *r, const char *const argv[], int timeout_ms)
{
    int e = h_start_cli(r, argv);

    return e < 0 ? e : h_finish(r, timeout_ms);
}

void h_run_done(struct h_run *r)
{
    if (r->pid > 0) {
        (void)kill(-r->pid, SIGKILL); /* our own group: leftovers of a failed test */
        if (!r->exited) {
            (void)kill(r->pid, SIGKILL);
            reap(r, 0);
        }
    }
    if (r->in_fd >= 0)
        (void)close(r->in_fd);
    if (r->out_fd >= 0)
        (void)close(r->out_fd);
    if (r->err_fd >= 0)
        (void)close(r->err_fd);
    free(r->out);
    free(r->err);
    if (r->policy_path)
        (void)unlink(r->policy_path);
    if (r->audit_path)
        (void)unlink(r->audit_path);
    free(r->policy_path);
    free(r->audit_path);
    *r = (struct h_run){.pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1, .exit_code = -1};
}

bool h_field(const char *line, const char *key, char *buf, size_t buf_len)
{
    size_t klen = strlen(key);
    const char *p = line;

    while ((p = strstr(p, key))) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " \n");

            if (n >= buf_len)
                n = buf_len - 1;
            memcpy(buf, v, n);
            buf[n] = '\0';
            return true;
        }
        p += klen;
    }
    return false;
}

static long field_long(const char *line, const char *key)
{
    char buf[64];

    if (!h_field(line, key, buf, sizeof(buf)))
        return -999999;
    return strtol(buf, NULL, 10);
}

size_t h_parse_calls(const char *out, struct h_call *calls, size_t max)
{
    size_t n = 0;

    for (const char *p = out; p && *p && n < max;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);

        if (strncmp(p, "call ", 5) == 0) {
            char *line = strndup(p, len);
            struct h_call *c = &calls[n++];
            size_t k = 0;

            memset(c, 0, sizeof(*c));
            (void)h_field(line, "route", c->route, sizeof(c->route));
            c->pid = field_long(line, "pid");
            c->tid = field_long(line, "tid");
            c->ret = field_long(line, "ret");
            (void)h_field(line, "errno", c->err, sizeof(c->err));
            c->n = field_long(line, "n");
            (void)h_field(line, "lens", c->lens, sizeof(c->lens));
            (void)h_field(line, "data", c->data, sizeof(c->data));
            (void)h_field(line, "flags", c->flags, sizeof(c->flags));
            (void)h_field(line, "timeout", c->timeout, sizeof(c->timeout));
            c->elapsed_ms = field_long(line, "elapsed_ms");
            /* The comparable part: everything but pid=, tid= and elapsed_ms=. */
            for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok;
                 tok = strtok_r(NULL, " ", &save)) {
                if (strncmp(tok, "pid=", 4) == 0 || strncmp(tok, "tid=", 4) == 0 ||
                    strncmp(tok, "elapsed_ms=", 11) == 0)
                    continue;
                k += (size_t)snprintf(c->key + k, sizeof(c->key) - k, "%s%s", k ? " " : "", tok);
                if (k >= sizeof(c->key))
                    k = sizeof(c->key) - 1;
            }
            free(line);
        }
        p = eol ? eol + 1 : NULL;
    }
    return n;
}

bool h_timeout_ns(const char *text, int64_t *ret_ns)
{
    long long sec, nsec;
    char *end = NULL;

    errno = 0;
    sec = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '.')
        return false;
    nsec = strtoll(end + 1, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *ret_ns = (int64_t)sec * 1000000000 + nsec;
    return true;
}

size_t h_count_lines(const char *out, const char *prefix)
{
    size_t n = 0;
    size_t plen = strlen(prefix);

    for (const char *p = out; p && *p;) {
        if (strncmp(p, prefix, plen) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

json_t *h_audit_load(const char *path, char *err, size_t err_len)
{
    json_t *arr = json_array();
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;

    if (!f)
        return arr;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *obj;

        lineno++;
        obj = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        if (!obj || !json_is_object(obj)) {
            (void)snprintf(err, err_len, "audit line %d is not a JSON object: %s: %.200s", lineno,
                           obj ? "not an object" : je.text, line);
            json_decref(obj);
            json_decref(arr);
            arr = NULL;
            break;
        }
        (void)json_array_append_new(arr, obj); /* steals obj */
    }
    free(line);
    (void)fclose(f);
    return arr;
}

bool h_wait_in_syscall(pid_t tid, long nr, int timeout_ms)
{
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
    char path[64];

    (void)snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
    while (now_ns(CLOCK_MONOTONIC) < deadline) {
        char buf[128] = {0};
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd >= 0) {
            ssize_t k = read(fd, buf, sizeof(buf) - 1);

            (void)close(fd);
            if (k > 0 && strtol(buf, NULL, 10) == nr && buf[0] != 'r')
                return true;
        }
        (void)usleep(5000);
    }
    return false;
}

const struct h_route h_routes[H_N_ROUTES] = {
    {"try-recvmmsg32", "337", "recvmmsg_time32", "recvmmsg_time32", 337, "i386",
     "struct old_timespec32*"},
    {"try-recvmmsg32", "417", "recvmmsg_time64", "recvmmsg_time64", 417, "i386",
     "struct __kernel_timespec*"},
    {"try-recvmmsg32", "sc", "socketcall", "socketcall", 102, "i386", "struct old_timespec32*"},
    {"try-recvmmsg64", "299", "recvmmsg", "recvmmsg", 299, "x86_64", "struct __kernel_timespec*"},
    {"try-recvmmsg64", "int80", "recvmmsg_time32", "recvmmsg_time32", 337, "i386",
     "struct old_timespec32*"},
};

const struct h_route *h_route(const char *arg)
{
    for (size_t i = 0; i < H_N_ROUTES; i++)
        if (strcmp(h_routes[i].arg, arg) == 0)
            return &h_routes[i];
    abort(); /* a typo in a test */
}

int h_try(struct h_run *r, const char *policy, const struct h_route *route,
          const char *const extra[], struct h_call *ret_call)
{
    const char *argv[64] = {route->prog, "--route", route->arg};
    size_t k = 3;
    int code;

    for (size_t i = 0; extra && extra[i] && k < 63; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    if (policy) {
        struct h_gate g = {.policy = policy};

        code = h_gate(r, &g, argv, 20000);
    } else {
        code = h_native(r, argv, 20000);
    }
    memset(ret_call, 0, sizeof(*ret_call));
    (void)h_parse_calls(r->out, ret_call, 1);
    return code;
}

void h_expect_three_datagrams(const char *policy, const char *route_arg, const char *const extra[])
{
    struct h_run r;
    struct h_call c;
    int code = h_try(&r, policy, h_route(route_arg), extra, &c);

    cr_assert(eq(int, code, 0), "mmsgate run exited %d; stderr: %s", code, r.err);
    cr_assert(eq(str, c.route, (char *)route_arg), "no call line; stdout: %s", r.out);
    cr_expect(eq(long, c.ret, 3));
    cr_expect(eq(str, c.err, "0"));
    cr_expect(eq(str, c.lens, "7,7,7"));
    cr_expect(eq(str, c.data, "dgram-0,dgram-1,dgram-2"));
    cr_expect(eq(str, c.flags, "0x0,0x0,0x0"));
    h_run_done(&r);
}
