/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Audit sink: one JSON object per line, shaped like a Tracee event (docs/audit.md). Records are
 * formatted by the caller's thread into a bounded ring and written by a dedicated thread, so a
 * slow or broken sink never blocks or crashes the broker. A spinning caller cannot flood it:
 * records are rate-limited per (rule, decision, process) and summarised, the bytes per interval
 * are bounded, and every record not written is counted in the stream and on exit. */
#ifndef MMSG_BROKER_AUDIT_H
#define MMSG_BROKER_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmsgate/policy.h"

struct audit;

struct audit_record {
    /* Ordered by size so the record packs without padding (clang-analyzer's Padding check). */
    uint64_t timestamp_ns; /* CLOCK_REALTIME at receipt */
    const char *comm;      /* NULL when unknown */
    const char *exe;       /* NULL when unknown */
    uint64_t mmsg;
    uint64_t timeout;
    int64_t tv_sec;
    int64_t tv_nsec;
    const char *decision;    /* allow, deny, emulate, kill */
    const char *enforcement; /* continue, emulate, errno, kill */
    const char *rule;
    int64_t ret; /* count, or -errno */
    uint64_t duration_ns;
    const char *policy; /* name of the deciding policy ("default", NAME); NULL: not written */
    /* Containers (agent): NULL / 0 when unknown or not in a container. */
    const char *container_id;
    const char *bundle;
    pid_t tgid; /* 0 when unknown */
    pid_t tid;
    enum mmsg_syscall sys; /* MMSG_SYS_MAX_ for a route the broker does not serve */
    uint32_t arch;         /* AUDIT_ARCH_* */
    int nr;
    int32_t fd;
    uint32_t vlen;
    uint32_t flags;
    pid_t ns_tgid;   /* the caller's pid as its own pid namespace sees it ("processId") */
    bool args_known; /* false: socketcall whose argument block was unreadable */
    bool timeout_decoded;
    bool ret_known;
    bool not_enforced; /* complain mode: decided, audited, not carried out ("enforced": false) */
};

/* Limits of one sink (audit_open_limits()); audit_open() uses the AUDIT_DEFAULT_* values. */
struct audit_limits {
    unsigned burst;       /* records per (rule, decision, process) per interval; 0: no limit */
    uint64_t interval_ns; /* rate-limit and size window */
    uint64_t bytes_per_interval; /* 0: no limit */
};
#define AUDIT_DEFAULT_BURST 50
#define AUDIT_DEFAULT_INTERVAL_NS (10 * UINT64_C(1000000000))
#define AUDIT_DEFAULT_BYTES (UINT64_C(4) * 1024 * 1024)

/* What a sink did with the records given to it, since it was opened. */
struct audit_counters {
    uint64_t written;      /* records handed to the sink */
    uint64_t suppressed;   /* rate-limited: counted in a summary line instead */
    uint64_t dropped_size; /* over the byte bound of their interval */
    uint64_t dropped_full; /* the writer was behind (queue full) */
    uint64_t failed;       /* the sink refused them (write error) */
    uint64_t summaries;    /* summary lines written */
};

/* Open @path for appending ("-": stderr; "journal:": the systemd journal, with MMSGATE_* fields).
 * Return: 0; -EOPNOTSUPP (journal: without libsystemd); -errno. */
int audit_open(const char *path, struct audit **ret);
int audit_open_limits(const char *path, const struct audit_limits *limits, struct audit **ret);

/* Reopen a file sink by its path (logrotate moved it away), for SIGHUP. The writer switches at
 * its next record; a failure keeps the old file. stderr and the journal: nothing to do.
 * Thread-safe. Return: 0; -errno opening the path. */
int audit_reopen(struct audit *a);

/* A snapshot of the counters, for the stats table. Thread-safe. */
void audit_get_counters(struct audit *a, struct audit_counters *ret);

/* Flush what is queued, stop the writer thread, close. NULL is fine. Return: NULL. */
struct audit *audit_close(struct audit *a);

/* Queue one record. Never blocks on the sink. Thread-safe.
 * Return: AUDIT_QUEUED; AUDIT_SUPPRESSED (rate-limited: counted in a later summary line);
 * AUDIT_DROPPED (byte bound or full queue: counted in a later "audit_dropped" line). */
enum audit_result {
    AUDIT_QUEUED = 0,
    AUDIT_SUPPRESSED,
    AUDIT_DROPPED,
};
enum audit_result audit_write(struct audit *a, const struct audit_record *rec);

/* Format @rec into @buf as one line with its '\n'. Return: the length; -ENOBUFS. */
int audit_format(const struct audit_record *rec, char *buf, size_t buf_len);

#endif
