/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration test harness: run "mmsgate run" (or a target program alone) as a subprocess with
 * a policy in a temporary file, capture its output with a deadline, and parse the target's
 * "call ..." lines and the broker's audit JSON lines. */
#ifndef MMSG_TEST_HARNESS_H
#define MMSG_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* Every test file includes this header after criterion's. */
#include "cr-literals.h"

/* One subprocess. Everything is owned by the struct and released by h_run_done(). */
struct h_run {
    pid_t pid;  /* mmsgate, or the target for h_start_native(); leads its own group */
    int in_fd;  /* write end of the program's stdin with h_gate.stdin_pipe, else -1 */
    int out_fd; /* read ends, -1 at EOF */
    int err_fd;
    char *out; /* NUL-terminated captured stdout */
    size_t out_len;
    char *err;
    size_t err_len;
    bool exited;
    int exit_code;         /* exit status, 128+N for a signal, -1 while running */
    bool timed_out;        /* the deadline passed and the group was killed */
    int64_t real_start_ns; /* CLOCK_REALTIME around the run, for audit timestamps */
    int64_t real_end_ns;
    char *policy_path; /* temporary files, unlinked by h_run_done() */
    char *audit_path;
};

/* How to run mmsgate. */
struct h_gate {
    const char *policy; /* JSON text written to a temp file; NULL: no --policy */
    bool audit;         /* --audit TEMPFILE */
    bool audit_all;     /* --audit-all */
    bool native;        /* no mmsgate: run argv directly (the three above are ignored) */
    bool stdin_pipe;    /* the program's stdin is a pipe written through h_run.in_fd */
};

/* Absolute path of a target program in MMSG_PROGRAMS_DIR (static buffer per call site). */
const char *h_prog(const char *name);

/* Start "mmsgate run [--policy P] [--audit A] [--audit-all] -- argv..." (argv[0] without a
 * slash is looked up in MMSG_PROGRAMS_DIR), or argv alone if @g->native. Return 0 or -errno. */
int h_start_gate(struct h_run *r, const struct h_gate *g, const char *const argv[]);
/* Start argv directly (argv[0] as in h_start_gate, or an absolute path). */
int h_start_native(struct h_run *r, const char *const argv[]);
/* Start MMSGATE_BIN with exactly these arguments (argv[0] is ignored). */
int h_start_cli(struct h_run *r, const char *const argv[]);

/* @ms stretched for a slow machine: by MMSG_TIME_FACTOR (a whole number, 1 by default), or 4
 * inside the VM stage (MMSG_VM_SUITE: TCG runs 10-20 times slower). For hang guards and upper
 * bounds; never for a lower bound. h_wait_for and h_finish apply it to their timeouts. */
int h_slow_ms(int ms);
/* Read output until stdout contains @needle; false on EOF or after @timeout_ms. */
bool h_wait_for(struct h_run *r, const char *needle, int timeout_ms);
/* Read until EOF on both pipes and the process has exited, or kill the group after
 * @timeout_ms. Return the exit code (see struct h_run), or -1 on timeout. */
int h_finish(struct h_run *r, int timeout_ms);
/* Start + finish. */
int h_gate(struct h_run *r, const struct h_gate *g, const char *const argv[], int timeout_ms);
int h_native(struct h_run *r, const char *const argv[], int timeout_ms);
int h_cli(struct h_run *r, const char *const argv[], int timeout_ms);
/* Kill what is left of the process group, reap, free buffers, unlink temp files. */
void h_run_done(struct h_run *r);

/* Write @text to a new temporary file; return its malloc'd path or NULL. */
char *h_temp_file(const char *text);
/* A UDP port on 127.0.0.1 that was free a moment ago. */
int h_free_udp_port(void);

/* One "call ..." line of try-recvmmsg (or sleeper32, which prints a subset). */
#define H_FIELD_MAX 2048
struct h_call {
    char route[16];
    long pid;
    long tid;
    long ret;
    char err[32]; /* errno name or "0" */
    long n;
    char lens[H_FIELD_MAX];
    char data[H_FIELD_MAX];
    char flags[H_FIELD_MAX];
    char timeout[64];
    long elapsed_ms;
    char key[3 * H_FIELD_MAX]; /* the line without pid, tid and elapsed_ms: for comparisons */
};

/* Parse every "call " line of @out into @calls (at most @max). Return how many. */
size_t h_parse_calls(const char *out, struct h_call *calls, size_t max);
/* Value of " key=value" in @line into @buf; false if absent. */
bool h_field(const char *line, const char *key, char *buf, size_t buf_len);
/* Parse "SEC.NSEC" as printed by try-recvmmsg into nanoseconds; false if not a value. */
bool h_timeout_ns(const char *text, int64_t *ret_ns);
/* Count the lines of @out that start with @prefix. */
size_t h_count_lines(const char *out, const char *prefix);

/* Every line of the audit file as a JSON array of objects; NULL (and a message in @err) if a
 * line is not a JSON object. A missing or empty file gives an empty array. */
json_t *h_audit_load(const char *path, char *err, size_t err_len);

/* /proc/TID/syscall starts with "NR " within @timeout_ms: the thread is inside that syscall. */
bool h_wait_in_syscall(pid_t tid, long nr, int timeout_ms);

/* The five ways into the broker: which program, its --route value, the policy's route name. */
struct h_route {
    const char *prog;
    const char *arg;
    const char *policy_name;
    const char *event_name; /* audit eventName */
    long nr;                /* audit syscall */
    const char *arch;       /* audit arch */
    const char *timeout_type;
};
#define H_N_ROUTES 5
extern const struct h_route h_routes[H_N_ROUTES];
const struct h_route *h_route(const char *arg);

/* Run one try-recvmmsg call through @route under @policy (NULL: natively) with extra
 * arguments (NULL-terminated, may be NULL), parse its single call line into @ret_call. Return
 * the exit code of the run (mmsgate's or the program's), or -1 on timeout; @ret_call->route is
 * empty when no call line was printed. @r is left for the caller to inspect and h_run_done(). */
int h_try(struct h_run *r, const char *policy, const struct h_route *route,
          const char *const extra[], struct h_call *ret_call);

/* Run one call through @route_arg's route under @policy with three datagrams queued and @extra
 * arguments, and expect exactly those three back (count, lengths, payloads, msg_flags). Asserts
 * (criterion) on the way; for tests of whole routes. */
void h_expect_three_datagrams(const char *policy, const char *route_arg, const char *const extra[]);

#endif
