/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON Lines audit records, formatted without allocation into a bounded ring and written by a
 * dedicated thread. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "kernel.h"

#define LOG_COMPONENT "audit"
#include "log.h"

#define AUDIT_SLOTS 1024
#define AUDIT_CLOSE_WAIT_S 2
#define AUDIT_LINE_MAX 8192 /* an exe path is at most 4095 bytes, escaped up to 6x: truncated */

struct audit {
    int fd;
    bool own_fd;
    pthread_t writer;
    pthread_mutex_t lock;
    pthread_cond_t more;
    pthread_cond_t drained;
    bool stop;
    unsigned head, tail; /* ring indexes, tail - head = queued */
    unsigned writing;    /* the writer holds one line outside the lock */
    uint64_t dropped;
    uint64_t failed;
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

static void *writer_main(void *arg)
{
    struct audit *a = arg;
    uint64_t reported_dropped = 0, reported_failed = 0;
    int old;

    /* audit_close() may cancel us when the sink blocks for good; only inside write(), where no
     * lock is held. */
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old); /* cannot fail */
    pthread_mutex_lock(&a->lock);
    for (;;) {
        unsigned idx;
        size_t len, off = 0;

        while (a->head == a->tail && !a->stop) {
            pthread_cond_broadcast(&a->drained);
            pthread_cond_wait(&a->more, &a->lock);
        }
        if (a->head == a->tail)
            break;
        idx = a->head % AUDIT_SLOTS;
        len = a->slot_len[idx];
        a->writing = 1;
        pthread_mutex_unlock(&a->lock);

        while (off < len) {
            ssize_t n;

            (void)pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
            n = write(a->fd, a->slot[idx] + off, len - off);
            (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                a->failed++;
                if (a->failed - reported_failed == 1 || a->failed % 1000 == 0)
                    log_error_errno(n < 0 ? -errno : -EIO,
                                    "writing audit record (%" PRIu64 " lost so far)", a->failed);
                reported_failed = a->failed;
                break;
            }
            off += (size_t)n;
        }

        pthread_mutex_lock(&a->lock);
        a->writing = 0;
        a->head++;
        if (a->dropped != reported_dropped) {
            log_error("audit sink too slow: %" PRIu64 " records dropped", a->dropped);
            reported_dropped = a->dropped;
        }
    }
    pthread_cond_broadcast(&a->drained);
    pthread_mutex_unlock(&a->lock);
    return NULL;
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
    if (strcmp(path, "-") == 0) {
        a->fd = STDERR_FILENO;
    } else {
        a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (a->fd < 0) {
            r = -errno;
            free(a->slot);
            free(a);
            return r;
        }
        a->own_fd = true;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->more, NULL);
    pthread_cond_init(&a->drained, NULL);
    r = -pthread_create(&a->writer, NULL, writer_main, a);
    if (r < 0) {
        if (a->own_fd)
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
    struct timespec deadline;
    unsigned lost = 0;

    if (!a)
        return NULL;
    (void)clock_gettime(CLOCK_REALTIME, &deadline); /* cannot fail for CLOCK_REALTIME */
    deadline.tv_sec += AUDIT_CLOSE_WAIT_S;
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    pthread_cond_signal(&a->more);
    /* Give the sink a moment to take what is queued, but never wait on it for good: a pipe
     * whose reader stopped reading would keep mmsgate from ever exiting. */
    while (a->head != a->tail &&
           pthread_cond_timedwait(&a->drained, &a->lock, &deadline) != ETIMEDOUT)
        ;
    if (a->head != a->tail)
        lost = a->tail - a->head;
    pthread_mutex_unlock(&a->lock);
    if (lost) {
        (void)pthread_cancel(a->writer); /* takes effect in its blocked write() */
        log_error("audit sink blocked: %u records not written", lost);
    }
    (void)pthread_join(a->writer, NULL); /* ends once stop is set, or cancelled */
    if (a->own_fd)
        (void)close(a->fd); /* the records were written; nothing to do about close errors */
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->more);
    pthread_cond_destroy(&a->drained);
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
