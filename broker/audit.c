/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON Lines audit records, formatted without allocation into a bounded ring and written by a
 * dedicated thread; rate limiting with summaries, a byte bound per interval, drop accounting,
 * reopen for log rotation, and the journal as a sink. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sys/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef MMSG_HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "audit.h"
#include "kernel.h"

#define LOG_COMPONENT "audit"
#include "log.h"

#define AUDIT_SLOTS 1024
#define AUDIT_CLOSE_WAIT_MS 2000
#define AUDIT_LINE_MAX 8192 /* an exe path is at most 4095 bytes; longer lines drop the path */
#define AUDIT_TICK_MS 1000  /* how often the writer emits due summaries when nothing is written */
/* Distinct (rule, decision, process) keys rate-limited at once; beyond, keys share one. */
#define AUDIT_RL_KEYS 256

/* One rate-limit window of one (rule, decision, process). */
struct rl_key {
    bool used;
    char rule[MMSG_RULE_NAME_MAX];
    char decision[16];
    pid_t tgid;
    char comm[64]; /* for the summary; truncated copy */
    char exe[512]; /* for the summary; truncated copy */
    uint64_t start_ns;
    uint64_t n_calls;      /* records seen in the window */
    uint64_t n_suppressed; /* of which not written */
};

enum sink_kind {
    SINK_FD,
    SINK_JOURNAL,
};

struct audit {
    enum sink_kind kind;
    int fd;         /* our own descriptor of the sink, non-blocking where possible; -1: journal */
    int pending_fd; /* audit_reopen(): the writer switches to it at its next record; -1: none */
    char path[4096];
    struct audit_limits limits;
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t more;
    bool stop;
    uint64_t give_up_ms; /* closing: CLOCK_MONOTONIC ms after which a stuck sink is abandoned */
    unsigned head, tail; /* ring indexes, tail - head = queued; head advances after the write */
    char (*slot)[AUDIT_LINE_MAX];
    size_t slot_len[AUDIT_SLOTS];

    /* Under lock. */
    struct rl_key keys[AUDIT_RL_KEYS];
    struct rl_key overflow_key; /* every key that found the table full */
    uint64_t bytes_start_ns;
    uint64_t bytes_in_window;
    struct audit_counters c;
    uint64_t reported_size, reported_full; /* drops already in an "audit_dropped" line */
};

/* ---- formatting --------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, cap;
    bool overflow;
};

static void out_add(struct out *o, const char *fmt, ...) printf_(2, 3);

static void out_add(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    o->len += (size_t)n;
}

static void out_bytes(struct out *o, const unsigned char *p, size_t n)
{
    if (o->overflow)
        return;
    if (n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* Length of the well-formed UTF-8 sequence at @p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0 when the byte at @p does not start one. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* The string's bytes as a JSON string: well-formed UTF-8 passes unchanged, quote, backslash and
 * control characters are escaped as JSON requires, and each byte that is not part of a
 * well-formed sequence becomes U+FFFD. Return: whether any byte was replaced. */
static bool out_json_string(struct out *o, const char *s)
{
    bool replaced = false;

    out_add(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);

        if (n == 0) {
            out_add(o, "\\ufffd");
            replaced = true;
            p++;
        } else if (*p == '"' || *p == '\\') {
            out_add(o, "\\%c", *p);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            out_add(o, "\\u%04x", *p);
            p++;
        } else {
            out_bytes(o, p, n);
            p += n;
        }
    }
    out_add(o, "\"");
    return replaced;
}

/* "key":"value", and when @s is not well-formed UTF-8 also "keyHex":"<every byte in hex>", so a
 * reader gets the exact bytes back (docs/audit.md). NULL is written as null. A hostile comm or
 * exe can therefore neither break the line nor inject keys nor be misreported. */
static void out_str_field(struct out *o, const char *key, const char *s)
{
    out_add(o, "\"%s\":", key);
    if (!s) {
        out_add(o, "null");
        return;
    }
    if (!out_json_string(o, s))
        return;
    out_add(o, ",\"%sHex\":\"", key);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        out_add(o, "%02x", *p);
    out_add(o, "\"");
}

static void out_str(struct out *o, const char *s)
{
    if (!s)
        out_add(o, "null");
    else
        (void)out_json_string(o, s); /* only names from our own tables come here */
}

int audit_format(const struct audit_record *rec, char *buf, size_t buf_len)
{
    struct out o = {.buf = buf, .cap = buf_len};
    const char *names[32];
    size_t n_names;
    bool i386 = rec->arch == AUDIT_ARCH_I386_;
    const char *ts_type;
    pid_t pid = rec->ns_tgid > 0 ? rec->ns_tgid : rec->tgid;

    out_add(&o, "{\"timestamp\":%" PRIu64 ",", rec->timestamp_ns);
    if (pid > 0)
        out_add(&o, "\"processId\":%d,", (int)pid);
    else
        out_add(&o, "\"processId\":null,");
    out_add(&o, "\"threadId\":%d,", (int)rec->tid);
    out_str_field(&o, "processName", rec->comm);
    out_add(&o, ",");
    out_str_field(&o, "executable", rec->exe && rec->exe[0] ? rec->exe : NULL);
    out_add(&o, ",\"eventName\":");
    out_str(&o, rec->sys < MMSG_SYS_MAX_ ? mmsg_syscall_name(rec->sys) : "unsupported");
    out_add(&o, ",\"syscall\":%d,\"arch\":\"%s\",\"args\":[", rec->nr,
            i386                              ? "i386"
            : rec->arch == AUDIT_ARCH_X86_64_ ? "x86_64"
                                              : "unknown");
    if (rec->sys == MMSG_SYS_SOCKETCALL)
        out_add(&o, "{\"name\":\"call\",\"type\":\"int\",\"value\":19}%s",
                rec->args_known ? "," : "");
    if (rec->args_known) {
        out_add(&o,
                "{\"name\":\"fd\",\"type\":\"int\",\"value\":%" PRId32 "},"
                "{\"name\":\"mmsg\",\"type\":\"struct mmsghdr*\",\"value\":%" PRIu64 "},"
                "{\"name\":\"vlen\",\"type\":\"unsigned int\",\"value\":%" PRIu32 "},"
                "{\"name\":\"flags\",\"type\":\"unsigned int\",\"value\":%" PRIu32 ",\"names\":[",
                rec->fd, rec->mmsg, rec->vlen, rec->flags);
        n_names = mmsg_msg_flags_names(rec->flags, names, 32);
        for (size_t i = 0; i < n_names; i++) {
            if (i)
                out_add(&o, ",");
            out_str(&o, names[i]);
        }
        ts_type = rec->sys == MMSG_SYS_RECVMMSG_TIME32 || rec->sys == MMSG_SYS_SOCKETCALL
                      ? "struct old_timespec32*"
                      : "struct __kernel_timespec*";
        out_add(&o, "]},{\"name\":\"timeout\",\"type\":\"%s\",\"value\":%" PRIu64, ts_type,
                rec->timeout);
        if (rec->timeout_decoded)
            out_add(&o, ",\"decoded\":{\"tv_sec\":%" PRId64 ",\"tv_nsec\":%" PRId64 "}",
                    rec->tv_sec, rec->tv_nsec);
        out_add(&o, "}");
    }
    out_add(&o, "],\"decision\":");
    out_str(&o, rec->decision);
    out_add(&o, ",\"enforcement\":");
    out_str(&o, rec->enforcement);
    out_add(&o, ",\"rule\":");
    out_str(&o, rec->rule);
    if (!rec->ret_known)
        out_add(&o, ",\"returnValue\":null,\"errno\":null");
    else if (rec->ret >= 0)
        out_add(&o, ",\"returnValue\":%" PRId64 ",\"errno\":null", rec->ret);
    else {
        const char *en = mmsg_errno_name((int)-rec->ret);
        char num[32];

        if (!en) {
            /* ERESTARTSYS and other kernel-internal values have no user-space name. */
            (void)snprintf(num, sizeof(num), "%" PRId64, -rec->ret);
            en = rec->ret == -512 ? "ERESTARTSYS" : num;
        }
        out_add(&o, ",\"returnValue\":-1,\"errno\":");
        out_str(&o, en);
    }
    out_add(&o, ",\"durationNs\":%" PRIu64 ",\"enforced\":%s", rec->duration_ns,
            rec->not_enforced ? "false" : "true");
    if (rec->tgid > 0)
        out_add(&o, ",\"hostProcessId\":%d", (int)rec->tgid);
    if (rec->policy) {
        out_add(&o, ",");
        out_str_field(&o, "policy", rec->policy);
    }
    if (rec->container_id) {
        out_add(&o, ",");
        out_str_field(&o, "containerId", rec->container_id);
        out_add(&o, ",");
        out_str_field(&o, "bundle", rec->bundle);
    }
    out_add(&o, "}\n");
    if (o.overflow)
        return -ENOBUFS;
    return (int)o.len;
}

/* The journal's structured fields after the JSON line, each "NAME=value" ending in '\0' (the
 * writer turns them into sd_journal_sendv() entries). */
static void journal_fields(struct out *o, const struct audit_record *rec)
{
    static const char *const add[] = {
        "MMSGATE_DECISION", "MMSGATE_ENFORCEMENT", "MMSGATE_RULE",        "MMSGATE_EXE",
        "MMSGATE_COMM",     "MMSGATE_POLICY",      "MMSGATE_CONTAINER_ID"};
    const char *val[] = {rec->decision, rec->enforcement, rec->rule,        rec->exe,
                         rec->comm,     rec->policy,      rec->container_id};
    bool serious =
        rec->decision && (strcmp(rec->decision, "deny") == 0 || strcmp(rec->decision, "kill") == 0);

    /* Deny and kill as warnings, so `journalctl -p warning` shows them. */
    out_add(o, "PRIORITY=%d%cSYSLOG_IDENTIFIER=mmsgate%cMMSGATE_EVENT=decision%c",
            serious ? LOG_WARNING : LOG_INFO, 0, 0, 0);
    for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++)
        if (val[i] && val[i][0] && !strchr(val[i], '\n'))
            out_add(o, "%s=%s%c", add[i], val[i], 0);
    out_add(o, "MMSGATE_SYSCALL=%s%cMMSGATE_ENFORCED=%d%c",
            rec->sys < MMSG_SYS_MAX_ ? mmsg_syscall_name(rec->sys) : "unsupported", 0,
            !rec->not_enforced, 0);
    if (rec->tgid > 0)
        out_add(o, "OBJECT_PID=%d%cMMSGATE_PID=%d%c", (int)rec->tgid, 0, (int)rec->tgid, 0);
    if (rec->ret_known && rec->ret < 0 && mmsg_errno_name((int)-rec->ret))
        out_add(o, "MMSGATE_ERRNO=%s%c", mmsg_errno_name((int)-rec->ret), 0);
    if (rec->ret_known && rec->ret >= 0)
        out_add(o, "MMSGATE_RETURN=%" PRId64 "%c", rec->ret, 0);
}

/* ---- the ring ----------------------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ms(void)
{
    return mono_ns() / 1000000u;
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for CLOCK_REALTIME */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Append a formatted line to the ring. Under lock. Return: false when the ring is full. */
static bool push_locked(struct audit *a, const char *line, size_t len)
{
    unsigned idx;

    if (a->tail - a->head >= AUDIT_SLOTS)
        return false;
    idx = a->tail % AUDIT_SLOTS;
    memcpy(a->slot[idx], line, len);
    a->slot_len[idx] = len;
    a->tail++;
    pthread_cond_signal(&a->more);
    return true;
}

/* A JSON line of its own kind for the journal sink: MESSAGE plus MMSGATE_EVENT=@event. */
static void finish_own_line(struct audit *a, struct out *o, const char *event)
{
    if (a->kind == SINK_JOURNAL)
        out_add(o, "PRIORITY=%d%cSYSLOG_IDENTIFIER=mmsgate%cMMSGATE_EVENT=%s%c", LOG_WARNING, 0, 0,
                event, 0);
}

/* The summary of @k's window: "rule R denied N calls from pid P (exe E) in the last T s", with
 * how many of them were not written one by one. Under lock. Return: false when the ring is
 * full (the window then goes on, and the summary comes later: no count is lost). */
static bool push_summary_locked(struct audit *a, struct rl_key *k, uint64_t now_ns)
{
    char line[2048], msg[1024];
    struct out o = {.buf = line, .cap = sizeof(line)};
    double secs = (double)(now_ns - k->start_ns) / 1e9;
    const char *verb = strcmp(k->decision, "deny") == 0      ? "denied"
                       : strcmp(k->decision, "kill") == 0    ? "killed"
                       : strcmp(k->decision, "emulate") == 0 ? "emulated"
                       : strcmp(k->decision, "allow") == 0   ? "allowed"
                                                             : "decided";

    (void)snprintf(msg, sizeof(msg),
                   "rule %s %s %" PRIu64 " calls from pid %d (exe %s) in the last %.0f s", k->rule,
                   verb, k->n_calls, (int)k->tgid, k->exe[0] ? k->exe : "?",
                   secs < 1 ? 1 : secs); /* truncation is fine for the human text */
    out_add(&o,
            "{\"timestamp\":%" PRIu64 ",\"eventName\":\"audit_summary\",\"rule\":", realtime_ns());
    out_str(&o, k->rule);
    out_add(&o, ",\"decision\":");
    out_str(&o, k->decision);
    out_add(&o, ",");
    if (k->tgid > 0)
        out_add(&o, "\"processId\":%d,", (int)k->tgid);
    else
        out_add(&o, "\"processId\":null,");
    out_str_field(&o, "processName", k->comm[0] ? k->comm : NULL);
    out_add(&o, ",");
    out_str_field(&o, "executable", k->exe[0] ? k->exe : NULL);
    out_add(&o, ",\"calls\":%" PRIu64 ",\"suppressed\":%" PRIu64 ",\"intervalNs\":%" PRIu64 ",",
            k->n_calls, k->n_suppressed, now_ns - k->start_ns);
    out_str_field(&o, "message", msg);
    out_add(&o, "}\n");
    finish_own_line(a, &o, "summary");
    if (o.overflow)
        return true; /* cannot happen: every part is bounded; never retry forever */
    if (!push_locked(a, line, o.len))
        return false;
    a->c.summaries++;
    return true;
}

/* Drops since the last report, as {"eventName":"audit_dropped",...}. Under lock. */
static void push_dropped_locked(struct audit *a)
{
    char line[512];
    struct out o = {.buf = line, .cap = sizeof(line)};
    uint64_t size = a->c.dropped_size - a->reported_size;
    uint64_t full = a->c.dropped_full - a->reported_full;

    if (size == 0 && full == 0)
        return;
    out_add(&o,
            "{\"timestamp\":%" PRIu64 ",\"eventName\":\"audit_dropped\",\"sizeLimit\":%" PRIu64
            ",\"queueFull\":%" PRIu64 ",\"totalSizeLimit\":%" PRIu64 ",\"totalQueueFull\":%" PRIu64
            ",\"message\":\"%" PRIu64 " audit records not written since the last report\"}\n",
            realtime_ns(), size, full, a->c.dropped_size, a->c.dropped_full, size + full);
    finish_own_line(a, &o, "dropped");
    if (!o.overflow && push_locked(a, line, o.len)) {
        a->reported_size = a->c.dropped_size;
        a->reported_full = a->c.dropped_full;
    }
}

/* Windows that are over: write their summaries and free their slots; @final: every window is
 * over (closing). Under lock. */
static void flush_windows_locked(struct audit *a, uint64_t now_ns, bool final)
{
    for (size_t i = 0; i <= AUDIT_RL_KEYS; i++) {
        struct rl_key *k = i < AUDIT_RL_KEYS ? &a->keys[i] : &a->overflow_key;

        if (!k->used || (!final && now_ns - k->start_ns < a->limits.interval_ns))
            continue;
        if (k->n_suppressed > 0 && !push_summary_locked(a, k, now_ns))
            continue;
        k->used = false;
    }
    push_dropped_locked(a);
}

static bool pending_locked(struct audit *a)
{
    if (a->c.dropped_size != a->reported_size || a->c.dropped_full != a->reported_full)
        return true;
    for (size_t i = 0; i <= AUDIT_RL_KEYS; i++) {
        struct rl_key *k = i < AUDIT_RL_KEYS ? &a->keys[i] : &a->overflow_key;

        if (k->used && k->n_suppressed > 0)
            return true;
    }
    return false;
}

/* ---- the writer --------------------------------------------------------------------------- */

/* Write one line. The sink fd is non-blocking where that can be arranged (audit_open()), so a
 * sink that stops reading is waited for in poll(), from which a closing broker can give up.
 * Return: 0; -ETIMEDOUT (closing, and the sink did not take it in time); -errno. */
static int write_line(struct audit *a, const char *line, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = write(a->fd, line + off, len - off);

        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n == 0)
            return -EIO;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        for (;;) {
            struct pollfd p = {.fd = a->fd, .events = POLLOUT};
            uint64_t give_up;

            pthread_mutex_lock(&a->lock);
            give_up = a->give_up_ms;
            pthread_mutex_unlock(&a->lock);
            if (give_up && mono_ms() >= give_up)
                return -ETIMEDOUT;
            if (poll(&p, 1, 100) != 0)
                break;
        }
    }
    return 0;
}

/* One slot to the journal: the JSON line is MESSAGE, the '\0'-terminated fields follow it. */
static int write_journal(const char *slot, size_t len)
{
#ifdef MMSG_HAVE_LIBSYSTEMD
    struct iovec iov[24];
    char message[AUDIT_LINE_MAX + 8];
    const char *nl = memchr(slot, '\n', len);
    size_t n = 0, off;

    if (!nl)
        return -EINVAL;
    /* MESSAGE= needs its prefix in the same iovec entry. */
    (void)snprintf(message, sizeof(message), "MESSAGE=%.*s", (int)(nl - slot), slot);
    iov[n++] = (struct iovec){.iov_base = message, .iov_len = strlen(message)};
    for (off = (size_t)(nl - slot) + 1; off < len && n < sizeof(iov) / sizeof(iov[0]);) {
        size_t flen = strnlen(slot + off, len - off);

        iov[n++] = (struct iovec){.iov_base = (void *)(uintptr_t)(slot + off), .iov_len = flen};
        off += flen + 1;
    }
    return sd_journal_sendv(iov, (int)n);
#else
    (void)slot;
    (void)len;
    return -EOPNOTSUPP;
#endif
}

static void *writer_main(void *arg)
{
    struct audit *a = arg;
    uint64_t reported_full = 0, failed = 0;
    cap_t none = cap_init();

    /* Capabilities are per thread: this one, started before the broker drops its own
     * (sandbox.c), writes to an fd it already holds and needs none. */
    if (none) {
        (void)cap_set_proc(none); /* best effort: nothing here uses a capability */
        (void)cap_free(none);
    }
    pthread_mutex_lock(&a->lock);
    for (;;) {
        unsigned idx;
        int r, new_fd, old_fd = -1;
        uint64_t full;

        flush_windows_locked(a, mono_ns(), a->stop);
        if (a->head == a->tail) {
            struct timespec until;

            if (a->stop && !pending_locked(a))
                break;
            if (a->stop)
                continue; /* room is there now: the next flush pushes what is pending */
            (void)clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += AUDIT_TICK_MS / 1000;
            (void)pthread_cond_timedwait(&a->more, &a->lock, &until); /* wake or tick */
            continue;
        }
        idx = a->head % AUDIT_SLOTS;
        new_fd = a->pending_fd;
        a->pending_fd = -1;
        if (new_fd >= 0) {
            old_fd = a->fd;
            a->fd = new_fd;
        }
        pthread_mutex_unlock(&a->lock);

        if (old_fd >= 0)
            (void)close(old_fd); /* the rotated file; nothing to do about close errors */
        if (a->kind == SINK_JOURNAL)
            r = write_journal(a->slot[idx], a->slot_len[idx]);
        else
            r = write_line(a, a->slot[idx], a->slot_len[idx]);

        /* Diagnostics go to stderr, which may itself be slow: never while holding the lock
         * audit_write() needs. */
        if (r == -ETIMEDOUT) {
            unsigned lost;

            pthread_mutex_lock(&a->lock);
            lost = a->tail - a->head;
            a->c.failed += lost;
            pthread_mutex_unlock(&a->lock);
            log_error("audit sink blocked: %u records not written", lost);
            return NULL;
        }
        if (r < 0) {
            failed++;
            if (failed == 1 || failed % 1000 == 0)
                log_error_errno(r, "writing audit record (%" PRIu64 " lost so far)", failed);
        }
        pthread_mutex_lock(&a->lock);
        a->head++;
        if (r < 0)
            a->c.failed++;
        full = a->c.dropped_full;
        pthread_mutex_unlock(&a->lock);
        if (full != reported_full) {
            log_error("audit sink too slow: %" PRIu64 " records dropped", full);
            reported_full = full;
        }
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* ---- opening and closing ------------------------------------------------------------------ */

/* Our own open file description of the sink, set non-blocking: changing O_NONBLOCK on an fd we
 * share (stderr) would change it for everyone else using that file. */
static int open_sink(const char *path)
{
    int fd, fl;

    if (strcmp(path, "-") == 0) {
        /* Reopening stderr through /proc gives a file description of our own for pipes, FIFOs,
         * terminals and files. A socket cannot be reopened: it is then shared, and left
         * blocking, since O_NONBLOCK would change it for everyone using it. */
        fd = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
            return fd < 0 ? -errno : fd;
        }
    } else {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
            return -errno;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK); /* without it, only slower to give up */
    return fd;
}

int audit_open_limits(const char *path, const struct audit_limits *limits, struct audit **ret)
{
    struct audit *a;
    int r;

    if (strlen(path) >= sizeof(a->path))
        return -ENAMETOOLONG;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->slot = calloc(AUDIT_SLOTS, AUDIT_LINE_MAX);
    if (!a->slot) {
        free(a);
        return -ENOMEM;
    }
    memcpy(a->path, path, strlen(path) + 1);
    a->limits = *limits;
    if (a->limits.interval_ns == 0)
        a->limits.interval_ns = AUDIT_DEFAULT_INTERVAL_NS;
    a->pending_fd = -1;
    if (strcmp(path, "journal:") == 0) {
#ifdef MMSG_HAVE_LIBSYSTEMD
        a->kind = SINK_JOURNAL;
        a->fd = -1;
#else
        free(a->slot);
        free(a);
        return -EOPNOTSUPP;
#endif
    } else {
        a->kind = SINK_FD;
        a->fd = open_sink(path);
        if (a->fd < 0) {
            r = a->fd;
            free(a->slot);
            free(a);
            return r;
        }
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->more, NULL);
    r = -pthread_create(&a->writer, NULL, writer_main, a);
    if (r < 0) {
        if (a->fd >= 0)
            (void)close(a->fd);
        free(a->slot);
        free(a);
        return r;
    }
    *ret = a;
    return 0;
}

int audit_open(const char *path, struct audit **ret)
{
    const struct audit_limits limits = {
        .burst = AUDIT_DEFAULT_BURST,
        .interval_ns = AUDIT_DEFAULT_INTERVAL_NS,
        .bytes_per_interval = AUDIT_DEFAULT_BYTES,
    };

    return audit_open_limits(path, &limits, ret);
}

int audit_reopen(struct audit *a)
{
    int fd, old = -1;

    if (!a || a->kind != SINK_FD || strcmp(a->path, "-") == 0)
        return 0;
    fd = open_sink(a->path);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&a->lock);
    old = a->pending_fd; /* two reopens before the next record: the newer one wins */
    a->pending_fd = fd;
    pthread_cond_signal(&a->more);
    pthread_mutex_unlock(&a->lock);
    if (old >= 0)
        (void)close(old); /* never written to */
    return 0;
}

void audit_get_counters(struct audit *a, struct audit_counters *ret)
{
    if (!a) {
        *ret = (struct audit_counters){0};
        return;
    }
    pthread_mutex_lock(&a->lock);
    *ret = a->c;
    pthread_mutex_unlock(&a->lock);
}

struct audit *audit_close(struct audit *a)
{
    struct audit_counters c;

    if (!a)
        return NULL;
    pthread_mutex_lock(&a->lock);
    /* Give the sink a moment to take what is queued, but never wait on it for good: a pipe
     * whose reader stopped reading would keep mmsgate from ever exiting. */
    a->stop = true;
    a->give_up_ms = mono_ms() + AUDIT_CLOSE_WAIT_MS;
    pthread_cond_signal(&a->more);
    pthread_mutex_unlock(&a->lock);
    (void)pthread_join(a->writer, NULL); /* ends when drained or past give_up_ms */
    c = a->c;
    /* A sink given up on may leave windows whose summary was never written: count them too. */
    for (size_t i = 0; i <= AUDIT_RL_KEYS; i++) {
        const struct rl_key *k = i < AUDIT_RL_KEYS ? &a->keys[i] : &a->overflow_key;

        if (k->used)
            c.failed += k->n_suppressed;
    }
    if (c.dropped_size || c.dropped_full || c.failed)
        log_warning("%" PRIu64 " audit records not written: %" PRIu64 " over the size bound, "
                    "%" PRIu64 " with the writer behind, %" PRIu64 " refused by the sink",
                    c.dropped_size + c.dropped_full + c.failed, c.dropped_size, c.dropped_full,
                    c.failed);
    if (c.suppressed)
        log_info("%" PRIu64 " audit records rate-limited into %" PRIu64 " summary lines",
                 c.suppressed, c.summaries);
    if (a->fd >= 0)
        (void)close(a->fd); /* our own descriptor; nothing to do about close errors */
    if (a->pending_fd >= 0)
        (void)close(a->pending_fd);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->more);
    free(a->slot);
    free(a);
    return NULL;
}

/* ---- writing a record --------------------------------------------------------------------- */

static void copy_trunc(char *dst, size_t dst_len, const char *src)
{
    size_t n = src ? strnlen(src, dst_len - 1) : 0;

    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* The window of @rec's (rule, decision, process), opened if need be. Under lock. */
static struct rl_key *key_locked(struct audit *a, const struct audit_record *rec, uint64_t now)
{
    const char *rule = rec->rule ? rec->rule : "";
    const char *decision = rec->decision ? rec->decision : "";
    struct rl_key *free_slot = NULL, *k;

    for (size_t i = 0; i < AUDIT_RL_KEYS; i++) {
        k = &a->keys[i];
        if (!k->used) {
            if (!free_slot)
                free_slot = k;
            continue;
        }
        if (k->tgid == rec->tgid && strncmp(k->rule, rule, sizeof(k->rule) - 1) == 0 &&
            strcmp(k->decision, decision) == 0)
            return k;
    }
    k = free_slot;
    if (!k) {
        /* A caller spreading over hundreds of processes shares one window: still bounded. */
        k = &a->overflow_key;
        if (k->used)
            return k;
        rule = "*";
        decision = "*";
    }
    *k = (struct rl_key){
        .used = true, .tgid = k == &a->overflow_key ? 0 : rec->tgid, .start_ns = now};
    copy_trunc(k->rule, sizeof(k->rule), rule);
    copy_trunc(k->decision, sizeof(k->decision), decision);
    if (k != &a->overflow_key) {
        copy_trunc(k->comm, sizeof(k->comm), rec->comm);
        copy_trunc(k->exe, sizeof(k->exe), rec->exe);
    }
    return k;
}

/* Whether @rec is within its rate limit; counts it. Under lock. */
static bool admit_locked(struct audit *a, const struct audit_record *rec, uint64_t now)
{
    struct rl_key *k;

    if (a->limits.burst == 0)
        return true;
    k = key_locked(a, rec, now);
    if (now - k->start_ns >= a->limits.interval_ns) {
        /* The window is over: summarise it, then start a new one. With the ring full the old
         * window simply goes on, so its count is never lost. */
        if (k->n_suppressed == 0 || push_summary_locked(a, k, now)) {
            k->start_ns = now;
            k->n_calls = 0;
            k->n_suppressed = 0;
        }
    }
    k->n_calls++;
    if (k->n_calls <= a->limits.burst)
        return true;
    k->n_suppressed++;
    a->c.suppressed++;
    return false;
}

/* Whether @len more bytes fit the current interval's bound; counts them. Under lock. */
static bool within_bytes_locked(struct audit *a, size_t len, uint64_t now)
{
    if (a->limits.bytes_per_interval == 0)
        return true;
    if (now - a->bytes_start_ns >= a->limits.interval_ns) {
        a->bytes_start_ns = now;
        a->bytes_in_window = 0;
    }
    if (a->bytes_in_window + len > a->limits.bytes_per_interval)
        return false;
    a->bytes_in_window += len;
    return true;
}

enum audit_result audit_write(struct audit *a, const struct audit_record *rec)
{
    char line[AUDIT_LINE_MAX];
    struct out o = {.buf = line, .cap = sizeof(line)};
    enum audit_result res = AUDIT_QUEUED;
    uint64_t now = mono_ns();
    bool admitted;
    int len;

    if (!a)
        return AUDIT_DROPPED;
    pthread_mutex_lock(&a->lock);
    admitted = admit_locked(a, rec, now);
    pthread_mutex_unlock(&a->lock);
    if (!admitted)
        return AUDIT_SUPPRESSED;

    len = audit_format(rec, line, sizeof(line));
    if (len < 0) {
        /* Only a pathological exe path can overflow; keep the record, drop the path. */
        struct audit_record copy = *rec;

        copy.exe = "(too long)";
        len = audit_format(&copy, line, sizeof(line));
    }
    if (len >= 0 && a->kind == SINK_JOURNAL) {
        o.len = (size_t)len;
        journal_fields(&o, rec);
        len = o.overflow ? -ENOBUFS : (int)o.len;
    }
    pthread_mutex_lock(&a->lock);
    if (len < 0 || !within_bytes_locked(a, (size_t)len, now)) {
        a->c.dropped_size++;
        res = AUDIT_DROPPED;
    } else if (!push_locked(a, line, (size_t)len)) {
        a->c.dropped_full++;
        res = AUDIT_DROPPED;
    } else {
        a->c.written++;
    }
    pthread_mutex_unlock(&a->lock);
    return res;
}
