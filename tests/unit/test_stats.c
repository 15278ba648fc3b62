/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stats table: exact counts from many threads, bounded rows with exact totals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "stats.h"

static char *print(struct stats *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    cr_assert(ne(ptr, f, NULL));
    stats_print(s, NULL, f);
    fclose(f);
    return text;
}

/* The row of the table that starts with @first (a rule or a pid), split into its columns. */
static int row(const char *text, const char *first, char cols[16][64])
{
    const char *p = text;

    while (p && *p) {
        const char *end = strchr(p, '\n');
        char line[512];
        int n = 0;

        (void)snprintf(line, sizeof(line), "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
        for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && n < 16;
             tok = strtok_r(NULL, " ", &save))
            (void)snprintf(cols[n++], 64, "%s", tok);
        if (n > 0 && strcmp(cols[0], first) == 0)
            return n;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void *deny_many(void *arg)
{
    struct stats *s = arg;
    const struct stats_event ev = {.rule = "no-errqueue",
                                   .action = MMSG_ACTION_DENY,
                                   .enforced = true,
                                   .enforcement = "errno",
                                   .tgid = 77,
                                   .exe = "/usr/sbin/chronyd",
                                   .audited = true,
                                   .audit = AUDIT_SUPPRESSED};

    for (int i = 0; i < 10000; i++)
        stats_record(s, &ev);
    return NULL;
}

Test(stats, counts_from_threads_are_exact)
{
    struct stats *s = NULL;
    const struct stats_event capped = {.rule = "cap-waits",
                                       .action = MMSG_ACTION_EMULATE,
                                       .enforced = true,
                                       .enforcement = "emulate",
                                       .cap_cut = true,
                                       .tgid = 78,
                                       .exe = "/usr/sbin/knotd"};
    const struct stats_event complain = {.rule = "no-errqueue",
                                         .action = MMSG_ACTION_DENY,
                                         .enforced = false,
                                         .enforcement = "continue",
                                         .tgid = 78,
                                         .exe = "/usr/sbin/knotd",
                                         .audited = true,
                                         .audit = AUDIT_QUEUED};
    pthread_t t[4];
    char cols[16][64], *text;

    cr_assert(eq(int, stats_new(&s), 0));
    for (int i = 0; i < 4; i++)
        cr_assert(eq(int, pthread_create(&t[i], NULL, deny_many, s), 0));
    for (int i = 0; i < 3; i++)
        stats_record(s, &capped);
    stats_record(s, &complain);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    text = print(s);
    cr_expect(ne(ptr, strstr(text, "mmsgate stats: 40004 calls in "), NULL), "%s", text);
    /* RULE POLICY ACTION CALLS CONTINUE EMULATE ERRNO KILL COMPLAIN CAPS-CUT AUDITED SUPPR DROP */
    cr_assert(eq(int, row(text, "cap-waits", cols), 13), "%s", text);
    cr_expect(eq(int, strcmp(cols[3], "3"), 0));
    cr_expect(eq(int, strcmp(cols[5], "3"), 0));
    cr_expect(eq(int, strcmp(cols[9], "3"), 0));
    /* The deny rule: busiest first, 40000 suppressed, and one complain-mode call that ran. */
    cr_assert(eq(int, row(text, "no-errqueue", cols), 13), "%s", text);
    cr_expect(eq(int, strcmp(cols[3], "40001"), 0), "%s", text);
    cr_expect(eq(int, strcmp(cols[11], "40000"), 0), "%s", text);
    cr_expect(lt(ptr, strstr(text, "no-errqueue"), strstr(text, "cap-waits")));
    /* PID CALLS DENIED KILLED CAPS-CUT COMPLAIN SUPPRESSED EXE */
    cr_assert(eq(int, row(text, "78", cols), 8), "%s", text);
    cr_expect(eq(int, strcmp(cols[7], "/usr/sbin/knotd"), 0));
    cr_expect(eq(int, strcmp(cols[1], "4"), 0));
    cr_expect(eq(int, strcmp(cols[2], "1"), 0));
    cr_expect(eq(int, strcmp(cols[4], "3"), 0));
    cr_expect(eq(int, strcmp(cols[5], "1"), 0));
    free(text);
    stats_free(s);
}

Test(stats, rows_are_bounded_totals_exact)
{
    struct stats *s = NULL;
    char cols[16][64], name[32], *text;

    cr_assert(eq(int, stats_new(&s), 0));
    for (int i = 0; i < STATS_RULES_MAX + 50; i++) {
        struct stats_event ev = {.rule = name,
                                 .action = MMSG_ACTION_ALLOW,
                                 .enforced = true,
                                 .enforcement = "continue",
                                 .tgid = 1000 + i};

        (void)snprintf(name, sizeof(name), "r%d", i);
        stats_record(s, &ev);
    }
    text = print(s);
    cr_assert(eq(int, row(text, "(other)", cols), 13), "%s", text);
    cr_expect(eq(int, strcmp(cols[3], "50"), 0));
    cr_expect(eq(int, row(text, "r300", cols), 0), "no row beyond the bound");
    cr_expect(ne(ptr, strstr(text, "mmsgate stats: 306 calls"), NULL));
    free(text);
    stats_free(s);
}

struct cut_case {
    struct mmsg_decision d;
    uint32_t flags, vlen;
    int64_t timeout_ns, ret;
    uint64_t waited_ns;
    bool cut;
};

#define EMU(cap_ms, vcap, clear)                                                       \
    {                                                                                  \
        .action = MMSG_ACTION_EMULATE, .timeout_cap_ms = (cap_ms), .vlen_cap = (vcap), \
        .clear_flags = (clear)                                                         \
    }
#define MS 1000000

static const struct cut_case cut_cases[] = {
    /* A NULL timeout on a quiet socket, cut at the 1000 ms cap: EAGAIN. */
    {EMU(1000, 0, 0), 0, 1, -1, -EAGAIN, 1000 * MS, true},
    /* A datagram came first: the cap did not act. */
    {EMU(1000, 0, 0), 0, 1, -1, 1, 3 * MS, false},
    /* The cap ended a batch wait with some datagrams. */
    {EMU(1000, 0, 0), 0, 8, -1, 3, 1001 * MS, true},
    /* The caller's own 500 ms timeout ended it: below the cap, nothing cut. */
    {EMU(1000, 0, 0), 0, 1, 500 * MS, -EAGAIN, 500 * MS, false},
    /* MSG_DONTWAIT never waits: not cut (waited 0). */
    {EMU(1000, 0, 0), MSG_DONTWAIT, 1, -1, -EAGAIN, 0, false},
    /* vlen_cap lowered 64 to 8 and the call filled 8. */
    {EMU(-1, 8, 0), 0, 64, -1, 8, 0, true},
    {EMU(-1, 8, 0), 0, 64, -1, 2, 0, false},
    {EMU(-1, 8, 0), 0, 4, -1, 4, 0, false},
    /* clear_flags removed a flag the call had, or one it did not have. */
    {EMU(-1, 0, MSG_ERRQUEUE), MSG_ERRQUEUE, 1, -1, -EAGAIN, 0, true},
    {EMU(-1, 0, MSG_ERRQUEUE), MSG_PEEK, 1, -1, 1, 0, false},
    /* Not an emulation: no cap. */
    {{.action = MMSG_ACTION_ALLOW, .timeout_cap_ms = -1}, 0, 1, -1, -EAGAIN, 2000 * MS, false},
};

Test(stats, cap_cut_only_when_a_cap_acted)
{
    for (size_t i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
        const struct cut_case *c = &cut_cases[i];

        cr_expect(eq(int,
                     stats_cap_cut(&c->d, c->flags, c->vlen, c->timeout_ns, c->ret, c->waited_ns),
                     c->cut),
                  "case %zu", i);
    }
}
