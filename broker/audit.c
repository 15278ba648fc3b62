/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON Lines audit records, formatted without allocation into a bounded ring and written by a
 * dedicated thread. */
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
#include <unistd.h>

#include "audit.h"
#include "kernel.h"

#define LOG_COMPONENT "audit"
#include "log.h"

#define AUDIT_SLOTS 1024
#define AUDIT_CLOSE_WAIT_MS 2000
#define AUDIT_LINE_MAX 8192 /* an exe path is at most 4095 bytes, escaped up to 6x: truncated */

struct audit {
    int fd; /* our own descriptor of the sink, non-blocking where possible */
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t more;
    bool stop;
    uint64_t give_up_ms; /* closing: CLOCK_MONOTONIC ms after which a stuck sink is abandoned */
    unsigned head, tail; /* ring indexes, tail - head = queued; head advances after the write */
    uint64_t dropped;
    char (*slot)[AUDIT_LINE_MAX];
    size_t slot_len[AUDIT_SLOTS];
};

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

/* A JSON string; bytes outside printable ASCII are \u-escaped, so a hostile comm or exe name
 * cannot break the line or inject keys. */
static void out_str(struct out *o, const char *s)
{
    if (!s) {
        out_add(o, "null");
        return;
    }
    out_add(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            out_add(o, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            out_add(o, "\\u%04x", *p);
        else
            out_add(o, "%c", *p);
    }
    out_add(o, "\"");
}

int audit_format(const struct audit_record *rec, char *buf, size_t buf_len)
{
    struct out o = {.buf = buf, .cap = buf_len};
    const char *names[32];
    size_t n_names;
    bool i386 = rec->arch == AUDIT_ARCH_I386_;
    const char *ts_type;

    out_add(&o, "{\"timestamp\":%" PRIu64 ",", rec->timestamp_ns);
    if (rec->tgid > 0)
        out_add(&o, "\"processId\":%d,", (int)rec->tgid);
    else
        out_add(&o, "\"processId\":null,");
    out_add(&o, "\"threadId\":%d,\"processName\":", (int)rec->tid);
    out_str(&o, rec->comm);
    out_add(&o, ",\"executable\":");
    out_str(&o, rec->exe && rec->exe[0] ? rec->exe : NULL);
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
    out_add(&o, ",\"durationNs\":%" PRIu64 "}\n", rec->duration_ns);
    if (o.overflow)
        return -ENOBUFS;
    return (int)o.len;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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

static void *writer_main(void *arg)
{
    struct audit *a = arg;
    uint64_t reported_dropped = 0, dropped, failed = 0;
    unsigned lost;
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
        int r;

        while (a->head == a->tail && !a->stop)
            pthread_cond_wait(&a->more, &a->lock);
        if (a->head == a->tail)
            break;
        idx = a->head % AUDIT_SLOTS;
        pthread_mutex_unlock(&a->lock);

        r = write_line(a, a->slot[idx], a->slot_len[idx]);

        /* Diagnostics go to stderr, which may itself be slow: never while holding the lock
         * audit_write() needs. */
        if (r == -ETIMEDOUT) {
            pthread_mutex_lock(&a->lock);
            lost = a->tail - a->head;
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
        dropped = a->dropped;
        pthread_mutex_unlock(&a->lock);
        if (dropped != reported_dropped) {
            log_error("audit sink too slow: %" PRIu64 " records dropped", dropped);
            reported_dropped = dropped;
        }
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

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

int audit_open(const char *path, struct audit **ret)
{
    struct audit *a;
    int r;

    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->slot = calloc(AUDIT_SLOTS, AUDIT_LINE_MAX);
    if (!a->slot) {
        free(a);
        return -ENOMEM;
    }
    a->fd = open_sink(path);
    if (a->fd < 0) {
        r = a->fd;
        free(a->slot);
        free(a);
        return r;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->more, NULL);
    r = -pthread_create(&a->writer, NULL, writer_main, a);
    if (r < 0) {
        (void)close(a->fd);
        free(a->slot);
        free(a);
        return r;
    }
    *ret = a;
    return 0;
}

struct audit *audit_close(struct audit *a)
{
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
    (void)close(a->fd);                  /* our own descriptor; nothing to do about close errors */
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->more);
    free(a->slot);
    free(a);
    return NULL;
}

void audit_write(struct audit *a, const struct audit_record *rec)
{
    char line[AUDIT_LINE_MAX];
    int len;

    if (!a)
        return;
    len = audit_format(rec, line, sizeof(line));
    if (len < 0) {
        /* Only a pathological exe path can overflow; keep the record, drop the path. */
        struct audit_record copy = *rec;

        copy.exe = "(too long)";
        len = audit_format(&copy, line, sizeof(line));
        if (len < 0)
            return;
    }
    pthread_mutex_lock(&a->lock);
    if (a->tail - a->head >= AUDIT_SLOTS) {
        a->dropped++;
    } else {
        unsigned idx = a->tail % AUDIT_SLOTS;

        memcpy(a->slot[idx], line, (size_t)len);
        a->slot_len[idx] = (size_t)len;
        a->tail++;
        pthread_cond_signal(&a->more);
    }
    pthread_mutex_unlock(&a->lock);
}
