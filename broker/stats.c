/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters per rule and per process, and their table. Rows live in fixed arrays allocated once,
 * so a target cannot make the broker allocate by calling from many processes. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

struct rule_row {
    bool used;
    char policy[64];
    char rule[MMSG_RULE_NAME_MAX];
    enum mmsg_action action;
    uint64_t calls, cont, emulated, errno_, killed, not_enforced, caps_cut;
    uint64_t audited, suppressed, dropped;
};

struct proc_row {
    bool used;
    pid_t tgid;
    char exe[256];
    uint64_t calls, denied, killed, caps_cut, not_enforced, suppressed;
};

struct stats {
    pthread_mutex_t lock;
    uint64_t start_ns;
    uint64_t calls;
    struct rule_row rules[STATS_RULES_MAX + 1]; /* the last: "(other)" */
    struct proc_row procs[STATS_PROCS_MAX + 1];
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool stats_cap_cut(const struct mmsg_decision *d, uint32_t flags, uint32_t vlen, int64_t timeout_ns,
                   int64_t ret, uint64_t waited_ns)
{
    uint64_t cap_ns;

    if (d->action != MMSG_ACTION_EMULATE)
        return false;
    if (d->clear_flags & flags)
        return true;
    if (d->vlen_cap && vlen > d->vlen_cap && ret == (int64_t)d->vlen_cap)
        return true;
    if (d->timeout_cap_ms < 0)
        return false;
    cap_ns = (uint64_t)d->timeout_cap_ms * 1000000u;
    /* The caller's own timeout would have ended the wait first: the cap did nothing. */
    if (timeout_ns >= 0 && (uint64_t)timeout_ns <= cap_ns)
        return false;
    return waited_ns >= cap_ns && (ret < 0 || ret < (int64_t)vlen);
}

int stats_new(struct stats **ret)
{
    struct stats *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->start_ns = mono_ns();
    *ret = s;
    return 0;
}

struct stats *stats_free(struct stats *s)
{
    if (!s)
        return NULL;
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

static void copy_trunc(char *dst, size_t dst_len, const char *src)
{
    size_t n = strnlen(src, dst_len - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static struct rule_row *rule_row(struct stats *s, const struct stats_event *ev)
{
    const char *policy = ev->policy ? ev->policy : "default";
    const char *rule = ev->rule ? ev->rule : "?";

    for (size_t i = 0; i < STATS_RULES_MAX; i++) {
        struct rule_row *r = &s->rules[i];

        if (!r->used) {
            r->used = true;
            copy_trunc(r->policy, sizeof(r->policy), policy);
            copy_trunc(r->rule, sizeof(r->rule), rule);
            r->action = ev->action;
            return r;
        }
        if (r->action == ev->action && strncmp(r->rule, rule, sizeof(r->rule) - 1) == 0 &&
            strncmp(r->policy, policy, sizeof(r->policy) - 1) == 0)
            return r;
    }
    /* The table is full: count in the last row, so totals stay exact. */
    s->rules[STATS_RULES_MAX].used = true;
    memcpy(s->rules[STATS_RULES_MAX].rule, "(other)", sizeof("(other)"));
    memcpy(s->rules[STATS_RULES_MAX].policy, "*", sizeof("*"));
    s->rules[STATS_RULES_MAX].action = MMSG_ACTION_MAX_;
    return &s->rules[STATS_RULES_MAX];
}

static struct proc_row *proc_row(struct stats *s, const struct stats_event *ev)
{
    for (size_t i = 0; i < STATS_PROCS_MAX; i++) {
        struct proc_row *p = &s->procs[i];

        if (!p->used) {
            p->used = true;
            p->tgid = ev->tgid;
            copy_trunc(p->exe, sizeof(p->exe), ev->exe ? ev->exe : "?");
            return p;
        }
        if (p->tgid == ev->tgid)
            return p;
    }
    s->procs[STATS_PROCS_MAX].used = true;
    memcpy(s->procs[STATS_PROCS_MAX].exe, "(other)", sizeof("(other)"));
    return &s->procs[STATS_PROCS_MAX];
}

void stats_record(struct stats *s, const struct stats_event *ev)
{
    const char *enf = ev->enforcement ? ev->enforcement : "";
    bool suppressed = ev->audited && ev->audit == AUDIT_SUPPRESSED;
    struct rule_row *r;
    struct proc_row *p;

    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->calls++;
    r = rule_row(s, ev);
    r->calls++;
    r->cont += strcmp(enf, "continue") == 0;
    r->emulated += strcmp(enf, "emulate") == 0;
    r->errno_ += strcmp(enf, "errno") == 0;
    r->killed += strcmp(enf, "kill") == 0;
    r->not_enforced += !ev->enforced;
    r->caps_cut += ev->cap_cut;
    r->audited += ev->audited && ev->audit == AUDIT_QUEUED;
    r->suppressed += suppressed;
    r->dropped += ev->audited && ev->audit == AUDIT_DROPPED;
    p = proc_row(s, ev);
    p->calls++;
    p->denied += ev->action == MMSG_ACTION_DENY;
    p->killed += ev->action == MMSG_ACTION_KILL;
    p->caps_cut += ev->cap_cut;
    p->not_enforced += !ev->enforced;
    p->suppressed += suppressed;
    pthread_mutex_unlock(&s->lock);
}

static int by_rule_calls(const void *a, const void *b)
{
    const struct rule_row *x = a, *y = b;

    return (x->calls < y->calls) - (x->calls > y->calls);
}

static int by_proc_calls(const void *a, const void *b)
{
    const struct proc_row *x = a, *y = b;

    return (x->calls < y->calls) - (x->calls > y->calls);
}

void stats_print(struct stats *s, struct audit *audit, FILE *f)
{
    struct rule_row *rules;
    struct proc_row *procs;
    size_t n_rules = 0, n_procs = 0;
    uint64_t calls, elapsed_ns;
    struct audit_counters ac;

    if (!s)
        return;
    /* A snapshot, so the lock is not held while writing to a possibly slow stream. */
    rules = malloc(sizeof(s->rules));
    procs = malloc(sizeof(s->procs));
    if (!rules || !procs) {
        free(rules);
        free(procs);
        fprintf(f, "mmsgate stats: out of memory\n");
        return;
    }
    pthread_mutex_lock(&s->lock);
    calls = s->calls;
    elapsed_ns = mono_ns() - s->start_ns;
    for (size_t i = 0; i <= STATS_RULES_MAX; i++)
        if (s->rules[i].used)
            rules[n_rules++] = s->rules[i];
    for (size_t i = 0; i <= STATS_PROCS_MAX; i++)
        if (s->procs[i].used)
            procs[n_procs++] = s->procs[i];
    pthread_mutex_unlock(&s->lock);
    qsort(rules, n_rules, sizeof(*rules), by_rule_calls);
    qsort(procs, n_procs, sizeof(*procs), by_proc_calls);

    fprintf(f, "mmsgate stats: %" PRIu64 " calls in %.1f s\n", calls, (double)elapsed_ns / 1e9);
    fprintf(f, "%-24s %-12s %-7s %10s %10s %10s %10s %6s %9s %8s %9s %10s %8s\n", "RULE", "POLICY",
            "ACTION", "CALLS", "CONTINUE", "EMULATE", "ERRNO", "KILL", "COMPLAIN", "CAPS-CUT",
            "AUDITED", "SUPPRESSED", "DROPPED");
    for (size_t i = 0; i < n_rules; i++) {
        const struct rule_row *r = &rules[i];
        const char *action = r->action < MMSG_ACTION_MAX_ ? mmsg_action_name(r->action) : "*";

        fprintf(f,
                "%-24s %-12s %-7s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %6" PRIu64
                " %9" PRIu64 " %8" PRIu64 " %9" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n",
                r->rule, r->policy, action, r->calls, r->cont, r->emulated, r->errno_, r->killed,
                r->not_enforced, r->caps_cut, r->audited, r->suppressed, r->dropped);
    }
    fprintf(f, "%-8s %10s %10s %6s %8s %9s %10s %s\n", "PID", "CALLS", "DENIED", "KILLED",
            "CAPS-CUT", "COMPLAIN", "SUPPRESSED", "EXE");
    for (size_t i = 0; i < n_procs; i++) {
        const struct proc_row *p = &procs[i];
        char pid[16];

        if (p->tgid > 0)
            (void)snprintf(pid, sizeof(pid), "%d", (int)p->tgid);
        else
            memcpy(pid, "-", 2);
        fprintf(f,
                "%-8s %10" PRIu64 " %10" PRIu64 " %6" PRIu64 " %8" PRIu64 " %9" PRIu64 " %10" PRIu64
                " %s\n",
                pid, p->calls, p->denied, p->killed, p->caps_cut, p->not_enforced, p->suppressed,
                p->exe);
    }
    if (audit) {
        audit_get_counters(audit, &ac);
        fprintf(f,
                "audit: %" PRIu64 " records written, %" PRIu64 " rate-limited into %" PRIu64
                " summaries, %" PRIu64 " dropped (size bound), %" PRIu64
                " dropped (writer behind), %" PRIu64 " refused by the sink\n",
                ac.written, ac.suppressed, ac.summaries, ac.dropped_size, ac.dropped_full,
                ac.failed);
    }
    (void)fflush(f); /* the table is informational; a failed write has no one to tell */
    free(rules);
    free(procs);
}
