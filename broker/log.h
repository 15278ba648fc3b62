/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Diagnostics: "mmsgate: <component>: <message>[: <strerror>]" on stderr, or the same text to
 * syslog(3) or the systemd journal (--log). Audit events never go here (audit.c). Each file
 * defines LOG_COMPONENT before including this header. */
#ifndef MMSG_BROKER_LOG_H
#define MMSG_BROKER_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "internal/macros.h"

enum log_target {
    LOG_TARGET_STDERR = 0,
    LOG_TARGET_SYSLOG,  /* syslog(3), facility daemon, ident "mmsgate" */
    LOG_TARGET_JOURNAL, /* sd_journal_send(): MESSAGE, PRIORITY, MMSGATE_COMPONENT, ERRNO */
};

/* "stderr", "syslog" or "journal". Call before any thread logs. Return: 0; -EINVAL (unknown
 * name); -EOPNOTSUPP (journal without libsystemd). */
int log_set_target_name(const char *name);
enum log_target log_get_target(void);

/* Messages at or below this level are printed (LOG_WARNING by default; -v raises it). */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Print one line; when @error is non-zero append strerror(-error). Return: @error. */
int log_internal(int level, const char *component, int error, const char *fmt, ...) printf_(4, 5);

#define log_error_errno(r, ...) log_internal(LOG_ERR, LOG_COMPONENT, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_internal(LOG_WARNING, LOG_COMPONENT, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_internal(LOG_DEBUG, LOG_COMPONENT, (r), __VA_ARGS__)
#define log_error(...) (void)log_internal(LOG_ERR, LOG_COMPONENT, 0, __VA_ARGS__)
#define log_warning(...) (void)log_internal(LOG_WARNING, LOG_COMPONENT, 0, __VA_ARGS__)
#define log_info(...) (void)log_internal(LOG_INFO, LOG_COMPONENT, 0, __VA_ARGS__)
#define log_debug(...) (void)log_internal(LOG_DEBUG, LOG_COMPONENT, 0, __VA_ARGS__)

/* At most @burst messages per @interval_ns; loops use it so a hostile target cannot flood
 * stderr. Thread-safe. */
struct ratelimit {
    uint64_t interval_ns;
    unsigned burst;
    uint64_t begin_ns;
    unsigned n;
    unsigned n_suppressed;
};
#define RATELIMIT_INIT(interval_ms, b)                                \
    {                                                                 \
        .interval_ns = (uint64_t)(interval_ms)*1000000u, .burst = (b) \
    }
bool ratelimit_below(struct ratelimit *rl);

#endif
