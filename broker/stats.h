/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the broker did, at a glance: counters per rule and per process, printed as a table on
 * exit (--stats, or -v) and on SIGRTMIN+1 ("mmsgate stats PID"). Thread-safe, bounded memory. */
#ifndef MMSG_BROKER_STATS_H
#define MMSG_BROKER_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "audit.h"
#include "mmsgate/policy.h"

/* Rows kept; further rules or processes are added up in one "(other)" row. */
#define STATS_RULES_MAX 256
#define STATS_PROCS_MAX 256

struct stats;

/* One decided call, as the loop saw it once it answered. */
struct stats_event {
    const char *policy;      /* policy name; NULL: "default" */
    const char *rule;        /* decision.rule_name */
    enum mmsg_action action; /* decision.action */
    bool enforced;           /* false: complain mode, the call proceeded as allowed */
    const char *enforcement; /* "continue", "emulate", "errno", "kill" */
    bool cap_cut;            /* a cap acted: the wait ended by timeout_cap_ms, vlen_cap reduced
                              * the count, or clear_flags removed a flag the call had */
    pid_t tgid;              /* 0: unknown */
    const char *exe;         /* NULL: unknown */
    bool audited;            /* an audit record was given to the sink */
    enum audit_result audit; /* what the sink did with it (when audited) */
};

/**
 * stats_cap_cut() - whether a cap of @d actually changed an emulated call's outcome, for
 * stats_event.cap_cut: clear_flags removed a flag the call had (@flags as passed), vlen_cap
 * lowered the caller's @vlen and the call filled the capped count (@ret), or timeout_cap_ms
 * ended the wait (@waited_ns reached the cap, the call did not fill @vlen, and the caller's own
 * timeout, @timeout_ns, -1 for none, was longer than the cap).
 */
bool stats_cap_cut(const struct mmsg_decision *d, uint32_t flags, uint32_t vlen, int64_t timeout_ns,
                   int64_t ret, uint64_t waited_ns);

/* Return: 0; -ENOMEM. */
int stats_new(struct stats **ret);
/* NULL is fine. Return: NULL. */
struct stats *stats_free(struct stats *s);

/* Count one call. Never allocates; thread-safe; NULL @s is fine (no stats kept). */
void stats_record(struct stats *s, const struct stats_event *ev);

/* The tables (per rule, then per process, busiest first) and the audit sink's counters (@audit
 * may be NULL). Thread-safe: a consistent snapshot. */
void stats_print(struct stats *s, struct audit *audit, FILE *f);

#endif
