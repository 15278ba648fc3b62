/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Diagnostics to stderr, syslog or the journal, and a rate limiter for the notification loop. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef MMSG_HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "log.h"

static int max_level = LOG_WARNING;
static enum log_target target = LOG_TARGET_STDERR;
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_max_level(int level)
{
    max_level = level;
}

int log_get_max_level(void)
{
    return max_level;
}

int log_set_target_name(const char *name)
{
    if (strcmp(name, "stderr") == 0) {
        target = LOG_TARGET_STDERR;
    } else if (strcmp(name, "syslog") == 0) {
        /* LOG_NDELAY: connect now, before a sandbox or a full fd table could stop it. */
        openlog("mmsgate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        target = LOG_TARGET_SYSLOG;
    } else if (strcmp(name, "journal") == 0) {
#ifdef MMSG_HAVE_LIBSYSTEMD
        target = LOG_TARGET_JOURNAL;
#else
        return -EOPNOTSUPP;
#endif
    } else {
        return -EINVAL;
    }
    return 0;
}

enum log_target log_get_target(void)
{
    return target;
}

static void emit(int level, const char *component, int error, const char *msg)
{
    int e = error < 0 ? -error : error;

    switch (target) {
    case LOG_TARGET_SYSLOG:
        if (e)
            syslog(level, "%s: %s: %s", component, msg, strerror(e));
        else
            syslog(level, "%s: %s", component, msg);
        return;
    case LOG_TARGET_JOURNAL:
#ifdef MMSG_HAVE_LIBSYSTEMD
        if (e)
            (void)sd_journal_send("MESSAGE=%s: %s: %s", component, msg, strerror(e), "PRIORITY=%d",
                                  level, "SYSLOG_IDENTIFIER=mmsgate", "MMSGATE_COMPONENT=%s",
                                  component, "ERRNO=%d", e, NULL);
        else
            (void)sd_journal_send("MESSAGE=%s: %s", component, msg, "PRIORITY=%d", level,
                                  "SYSLOG_IDENTIFIER=mmsgate", "MMSGATE_COMPONENT=%s", component,
                                  NULL);
        /* A journal that is not running: nothing better to do than the next line. */
        return;
#endif
    case LOG_TARGET_STDERR:
    default:
        /* One fprintf per line so lines from worker threads do not interleave. */
        if (e)
            fprintf(stderr, "mmsgate: %s: %s: %s\n", component, msg, strerror(e));
        else
            fprintf(stderr, "mmsgate: %s: %s\n", component, msg);
        return;
    }
}

int log_internal(int level, const char *component, int error, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (level > max_level)
        return error;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* truncation is acceptable for a log line */
    va_end(ap);
    emit(level, component, error, msg);
    return error;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool ratelimit_below(struct ratelimit *rl)
{
    uint64_t now = now_ns();
    unsigned suppressed = 0;
    bool ok;

    pthread_mutex_lock(&rl_lock);
    if (rl->begin_ns == 0 || now - rl->begin_ns > rl->interval_ns) {
        suppressed = rl->n_suppressed;
        rl->begin_ns = now;
        rl->n = 0;
        rl->n_suppressed = 0;
    }
    ok = rl->n < rl->burst;
    if (ok)
        rl->n++;
    else
        rl->n_suppressed++;
    pthread_mutex_unlock(&rl_lock);
    if (suppressed > 0) {
        char m[64];

        (void)snprintf(m, sizeof(m), "%u messages suppressed", suppressed);
        emit(LOG_WARNING, "log", 0, m);
    }
    return ok;
}
