/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Audit sink: one JSON object per line, shaped like a Tracee event (docs/audit.md). Records are
 * formatted by the caller's thread into a bounded ring and written by a dedicated thread, so a
 * slow or broken sink never blocks or crashes the broker: overflow drops records and says so on
 * stderr. */
#ifndef MMSG_BROKER_AUDIT_H
#define MMSG_BROKER_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmsgate/policy.h"

struct audit;

struct audit_record {
    uint64_t timestamp_ns; /* CLOCK_REALTIME at receipt */
    pid_t tgid;            /* 0 when unknown */
    pid_t tid;
    const char *comm;      /* NULL when unknown */
    const char *exe;       /* NULL when unknown */
    enum mmsg_syscall sys; /* MMSG_SYS_MAX_ for a route the broker does not serve */
    uint32_t arch;         /* AUDIT_ARCH_* */
    int nr;
    bool args_known; /* false: socketcall whose argument block was unreadable */
    int32_t fd;
    uint64_t mmsg;
    uint32_t vlen;
    uint32_t flags;
    uint64_t timeout;
    bool timeout_decoded;
    int64_t tv_sec;
    int64_t tv_nsec;
    const char *decision;    /* allow, deny, emulate, kill */
    const char *enforcement; /* continue, emulate, errno, kill */
    const char *rule;
    bool ret_known;
    int64_t ret; /* count, or -errno */
    uint64_t duration_ns;
};

/* Open @path for appending ("-": stderr). Return: 0; -errno. */
int audit_open(const char *path, struct audit **ret);

/* Flush what is queued, stop the writer thread, close. NULL is fine. Return: NULL. */
struct audit *audit_close(struct audit *a);

/* Queue one record. Never blocks on the sink. Thread-safe. */
void audit_write(struct audit *a, const struct audit_record *rec);

/* Format @rec into @buf as one line with its '\n'. Return: the length; -ENOBUFS. */
int audit_format(const struct audit_record *rec, char *buf, size_t buf_len);

#endif
