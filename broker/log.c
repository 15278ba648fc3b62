/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stderr diagnostics and a rate limiter for the notification loop. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int max_level = LOG_WARNING;
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_max_level(int level)
{
    max_level = level;
}

int log_get_max_level(void)
{
    return max_level;
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
    /* One fprintf per line so lines from worker threads do not interleave. */
    if (error != 0)
        fprintf(stderr, "mmsgate: %s: %s: %s\n", component, msg,
                strerror(error < 0 ? -error : error));
    else
        fprintf(stderr, "mmsgate: %s: %s\n", component, msg);
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
    bool ok;

    pthread_mutex_lock(&rl_lock);
    if (rl->begin_ns == 0 || now - rl->begin_ns > rl->interval_ns) {
        if (rl->n_suppressed > 0)
            fprintf(stderr, "mmsgate: %u messages suppressed\n", rl->n_suppressed);
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
    return ok;
}
