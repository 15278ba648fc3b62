/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy store: default and named policies, references that outlive a reload, a broken
 * file that keeps the previous version, and concurrent use while reloading. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy-store.h"

#define ALLOW "{\"version\": 1, \"default\": {\"action\": \"allow\"}}\n"
#define DENY                                                                                \
    "{\"version\": 1, \"default\": {\"action\": \"allow\"}, \"rules\": [{\"name\": \"d\", " \
    "\"action\": \"deny\", \"errno\": \"EPERM\"}]}\n"
/* Line 2, column 24: "bogus" is not an action. */
#define BROKEN "{\"version\": 1,\n \"default\": {\"action\": \"bogus\"}}\n"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "we");
    cr_assert(ne(ptr, f, NULL));
    cr_assert(eq(int, fputs(text, f) >= 0, 1));
    cr_assert(eq(int, fclose(f), 0));
}

static void setup(void)
{
    strcpy(dir, "/tmp/mmsg-store-XXXXXX");
    cr_assert(ne(ptr, mkdtemp(dir), NULL));
}

static void teardown(void)
{
    static const char *const files[] = {"main.json",    "web.json",  "bad.json",
                                        ".hidden.json", "late.json", "web.tmp"};
    char path[128];

    /* Best effort: a leftover temporary file is harmless. */
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

static struct mmsg_decision decide(const struct loaded_policy *p)
{
    struct mmsg_call call = {.syscall = MMSG_SYS_RECVMMSG, .fd = 3, .vlen = 1};
    struct mmsg_decision d;

    cr_assert(eq(int, mmsg_policy_evaluate(p->policy, &call, &d), 0));
    return d;
}

TestSuite(policy_store, .init = setup, .fini = teardown);

Test(policy_store, builtin_default)
{
    struct policy_store *s = NULL;
    struct loaded_policy *a = NULL, *b = NULL;

    cr_assert(eq(int, policy_store_new(NULL, NULL, &s), 0));
    cr_assert(eq(int, policy_store_get(s, NULL, &a), 0));
    cr_assert(eq(int, policy_store_get(s, "default", &b), 0));
    cr_expect(eq(ptr, a, b));
    cr_expect(eq(int, strcmp(a->name, "default"), 0));
    cr_expect(eq(int, strcmp(a->path, ""), 0));
    cr_expect(eq(u32, a->inputs, mmsg_policy_inputs(a->policy)));
    /* No directory: every other name is unknown. */
    cr_expect(eq(int, policy_store_get(s, "web", &b), -ENOENT));
    cr_expect(eq(int, policy_store_reload(s), 0));
    loaded_policy_unref(a);
    loaded_policy_unref(a);
    policy_store_free(s);
}

Test(policy_store, default_from_file_and_named_from_dir)
{
    struct policy_store *s = NULL;
    struct loaded_policy *d = NULL, *n = NULL;
    char path[128];

    write_file("main.json", ALLOW);
    write_file("web.json", DENY);
    (void)snprintf(path, sizeof(path), "%s/main.json", dir);
    cr_assert(eq(int, policy_store_new(path, dir, &s), 0));
    cr_assert(eq(int, policy_store_get(s, NULL, &d), 0));
    cr_expect(eq(int, strcmp(d->path, path), 0));
    cr_expect(eq(int, decide(d).action, MMSG_ACTION_ALLOW));
    cr_assert(eq(int, policy_store_get(s, "web", &n), 0));
    cr_expect(eq(int, strcmp(n->name, "web"), 0));
    cr_expect(eq(int, decide(n).action, MMSG_ACTION_DENY));
    loaded_policy_unref(d);
    loaded_policy_unref(n);
    policy_store_free(s);
}

Test(policy_store, names_that_could_leave_the_directory_are_refused)
{
    static const char *const bad[] = {
        "",
        ".hidden",
        "../web",
        "a/b",
        "..",
        "x y",
        "0123456789012345678901234567890123456789012345678901234567890123"};
    struct policy_store *s = NULL;
    struct loaded_policy *p = NULL;

    write_file(".hidden.json", ALLOW);
    cr_assert(eq(int, policy_store_new(NULL, dir, &s), 0));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect(eq(int, policy_store_get(s, bad[i], &p), -ENOENT), "name \"%s\"", bad[i]);
    cr_expect(eq(int, policy_store_get(s, "missing", &p), -ENOENT));
    policy_store_free(s);
}

Test(policy_store, invalid_named_policy_is_logged_with_its_position)
{
    struct policy_store *s = NULL;
    struct loaded_policy *p = NULL;
    char line[512], want[160];
    FILE *err;
    int n_lines = 0;
    bool seen = false;

    cr_redirect_stderr();
    write_file("bad.json", BROKEN);
    cr_assert(eq(int, policy_store_new(NULL, dir, &s), 0));
    cr_expect(eq(int, policy_store_get(s, "bad", &p), -EINVAL));
    /* Remembered: a second call neither re-reads nor logs again. */
    cr_expect(eq(int, policy_store_get(s, "bad", &p), -EINVAL));
    policy_store_free(s);
    fflush(stderr);
    err = cr_get_redirected_stderr();
    (void)snprintf(want, sizeof(want), "%s/bad.json:2:24: default.action: ", dir);
    while (fgets(line, sizeof(line), err)) {
        n_lines++;
        seen = seen || strstr(line, want) != NULL;
    }
    cr_expect(seen, "no line with \"%s\"", want);
    cr_expect(eq(int, n_lines, 1));
}

Test(policy_store, reload_swaps_versions_and_keeps_references)
{
    struct policy_store *s = NULL;
    struct loaded_policy *before = NULL, *after = NULL;

    write_file("web.json", ALLOW);
    cr_assert(eq(int, policy_store_new(NULL, dir, &s), 0));
    cr_assert(eq(int, policy_store_get(s, "web", &before), 0));
    write_file("web.json", DENY);
    cr_expect(eq(int, policy_store_reload(s), 0));
    cr_assert(eq(int, policy_store_get(s, "web", &after), 0));
    cr_expect(ne(ptr, before, after));
    /* A call that took its reference before the reload is still decided by the old version. */
    cr_expect(eq(int, decide(before).action, MMSG_ACTION_ALLOW));
    cr_expect(eq(int, decide(after).action, MMSG_ACTION_DENY));
    loaded_policy_unref(before);
    loaded_policy_unref(after);
    policy_store_free(s);
}

Test(policy_store, broken_reload_keeps_the_previous_version)
{
    struct policy_store *s = NULL;
    struct loaded_policy *p = NULL;
    char path[128];

    cr_redirect_stderr();
    write_file("main.json", DENY);
    (void)snprintf(path, sizeof(path), "%s/main.json", dir);
    cr_assert(eq(int, policy_store_new(path, dir, &s), 0));
    write_file("main.json", BROKEN);
    cr_expect(eq(int, policy_store_reload(s), 1));
    cr_assert(eq(int, policy_store_get(s, NULL, &p), 0));
    cr_expect(eq(int, decide(p).action, MMSG_ACTION_DENY));
    loaded_policy_unref(p);
    /* Fixed again: the next reload takes it. */
    write_file("main.json", ALLOW);
    cr_expect(eq(int, policy_store_reload(s), 0));
    cr_assert(eq(int, policy_store_get(s, NULL, &p), 0));
    cr_expect(eq(int, decide(p).action, MMSG_ACTION_ALLOW));
    loaded_policy_unref(p);
    policy_store_free(s);
}

Test(policy_store, missing_file_appears_after_reload)
{
    struct policy_store *s = NULL;
    struct loaded_policy *p = NULL;

    cr_assert(eq(int, policy_store_new(NULL, dir, &s), 0));
    cr_expect(eq(int, policy_store_get(s, "late", &p), -ENOENT));
    write_file("late.json", DENY);
    cr_expect(eq(int, policy_store_get(s, "late", &p), -ENOENT), "remembered until a reload");
    cr_expect(eq(int, policy_store_reload(s), 0));
    cr_assert(eq(int, policy_store_get(s, "late", &p), 0));
    cr_expect(eq(int, decide(p).action, MMSG_ACTION_DENY));
    loaded_policy_unref(p);
    policy_store_free(s);
}

Test(policy_store, invalid_default_fails_creation)
{
    struct policy_store *s = NULL;
    char path[128];

    cr_redirect_stderr();
    write_file("main.json", BROKEN);
    (void)snprintf(path, sizeof(path), "%s/main.json", dir);
    cr_expect(eq(int, policy_store_new(path, NULL, &s), -EINVAL));
    (void)snprintf(path, sizeof(path), "%s/none.json", dir);
    cr_expect(eq(int, policy_store_new(path, NULL, &s), -ENOENT));
}

/* Deciders take references while a reloader swaps the file between two versions: every
 * decision must come from one whole version (allow with rule "default", or deny by rule "d"),
 * never a mixture, and nothing may be freed under a holder (run under ASan to see it). */
struct race {
    struct policy_store *s;
    volatile bool stop;
    unsigned long n_bad, n_done;
};

static void *decider(void *arg)
{
    struct race *rc = arg;

    while (!rc->stop) {
        struct loaded_policy *p = NULL;
        struct mmsg_decision d;

        if (policy_store_get(rc->s, "web", &p) < 0) {
            __atomic_add_fetch(&rc->n_bad, 1, __ATOMIC_RELAXED);
            continue;
        }
        d = decide(p);
        if (!((d.action == MMSG_ACTION_ALLOW && strcmp(d.rule_name, "default") == 0) ||
              (d.action == MMSG_ACTION_DENY && strcmp(d.rule_name, "d") == 0)))
            __atomic_add_fetch(&rc->n_bad, 1, __ATOMIC_RELAXED);
        usleep(10); /* hold the reference across a possible swap */
        loaded_policy_unref(p);
        __atomic_add_fetch(&rc->n_done, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

Test(policy_store, concurrent_get_during_reload, .timeout = 60)
{
    struct race rc = {0};
    pthread_t t[4];
    char path[128], tmp[128];

    write_file("web.json", ALLOW);
    cr_assert(eq(int, policy_store_new(NULL, dir, &rc.s), 0));
    for (size_t i = 0; i < 4; i++)
        cr_assert(eq(int, pthread_create(&t[i], NULL, decider, &rc), 0));
    (void)snprintf(path, sizeof(path), "%s/web.json", dir);
    (void)snprintf(tmp, sizeof(tmp), "%s/web.tmp", dir);
    for (int i = 0; i < 200; i++) {
        /* rename(): a reader sees the old or the new file, as with an editor's atomic save. */
        write_file("web.tmp", i % 2 ? ALLOW : DENY);
        cr_assert(eq(int, rename(tmp, path), 0));
        cr_expect(eq(int, policy_store_reload(rc.s), 0));
    }
    rc.stop = true;
    for (size_t i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_expect(eq(u64, rc.n_bad, 0));
    cr_expect(gt(u64, rc.n_done, 0));
    policy_store_free(rc.s);
}
