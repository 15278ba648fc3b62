/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stats table: exact counts from many threads, bounded rows with exact totals. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
