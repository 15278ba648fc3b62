/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named, refcounted policies: the default one and DIR/NAME.json loaded on first use; reload
 * swaps in new versions and leaves every reference already taken untouched. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/macros.h"
#include "filter.h"
#include "policy-store.h"

#define LOG_COMPONENT "policy"
#include "log.h"

/* Names come from container annotations; a bound keeps a stream of distinct names from making
 * the store grow without limit. */
#define POLICY_STORE_NAMES_MAX 1024

struct entry {
    char name[POLICY_NAME_MAX];
    char path[PATH_MAX];       /* "" for the built-in default */
    struct loaded_policy *cur; /* NULL when the last load failed */
    int err;                   /* the last load's error when cur is NULL */
};

struct policy_store {
    pthread_mutex_t lock; /* protects entries, n_entries and every entry's cur/err */
    /* policy_store_pin_kernel(): the default policy is compiled into a running filter. */
    bool kernel_pinned;
    bool kernel_audit_all;
    char dir[PATH_MAX];    /* "" when there is no policy directory */
    struct entry *entries; /* [0] is the default policy */
    size_t n_entries;
};

struct loaded_policy *loaded_policy_ref(struct loaded_policy *p)
{
    if (p)
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

struct loaded_policy *loaded_policy_unref(struct loaded_policy *p)
{
    /* ACQ_REL: the thread that frees must see every other thread's last use as finished. */
    if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        mmsg_policy_free(p->policy);
        free(p);
    }
    return NULL;
}

static void log_diags(const char *path, const struct mmsg_diags *diags)
{
    for (unsigned i = 0; i < diags->n_diags; i++)
        log_error("%s:%d:%d: %s%s%s", path, diags->diag[i].line, diags->diag[i].column,
                  diags->diag[i].path, diags->diag[i].path[0] ? ": " : "", diags->diag[i].text);
    if (diags->n_dropped)
        log_error("%s: %u more errors not shown", path, diags->n_dropped);
}

/* Parse @e's source into a new loaded_policy with one reference. Errors are logged here, once
 * per load. Return: 0; -EINVAL (invalid policy); -ENOENT; -errno (unreadable); -ENOMEM. */
static int load_entry(const struct entry *e, struct loaded_policy **ret)
{
    struct mmsg_diags *diags = NULL;
    struct mmsg_policy *policy = NULL;
    struct loaded_policy *lp;
    int r;

    /* Heap, not stack: struct mmsg_diags is ~22 KiB and workers run on small stacks. */
    diags = calloc(1, sizeof(*diags));
    if (!diags)
        return -ENOMEM;
    if (!e->path[0]) {
        const char *text = mmsg_policy_default_json();

        r = mmsg_policy_load_buffer(text, strlen(text), &policy, diags);
        if (r == -EINVAL)
            log_diags("(built-in default)", diags);
    } else {
        /* O_NOFOLLOW is not used: operators link policies into the directory. */
        FILE *f = fopen(e->path, "re");

        if (!f) {
            r = -errno;
            if (r != -ENOENT)
                log_error_errno(r, "opening policy \"%s\"", e->path);
        } else {
            r = mmsg_policy_load_file(f, &policy, diags);
            (void)fclose(f); /* read-only */
            if (r == -EINVAL)
                log_diags(e->path, diags);
            else if (r < 0)
                log_error_errno(r, "reading policy \"%s\"", e->path);
        }
    }
    free(diags);
    if (r < 0)
        return r;

    lp = calloc(1, sizeof(*lp));
    if (!lp) {
        mmsg_policy_free(policy);
        return -ENOMEM;
    }
    lp->refs = 1;
    lp->policy = policy;
    lp->inputs = mmsg_policy_inputs(policy);
    memcpy(lp->name, e->name, sizeof(lp->name));
    memcpy(lp->path, e->path, sizeof(lp->path));
    *ret = lp;
    return 0;
}

/* [A-Za-z0-9_.-]{1,63}, not starting with '.': no path separators, no "..", no hidden files. */
static bool valid_name(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len >= POLICY_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

int policy_store_new(const char *default_path, const char *dir, struct policy_store **ret)
{
    struct policy_store *s;
    struct entry *e;
    int r;

    if (default_path && strlen(default_path) >= PATH_MAX)
        return -ENAMETOOLONG;
    if (dir && strlen(dir) >= sizeof(((struct policy_store *)NULL)->dir))
        return -ENAMETOOLONG;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->entries = calloc(1, sizeof(*s->entries));
    if (!s->entries) {
        free(s);
        return -ENOMEM;
    }
    s->n_entries = 1;
    e = &s->entries[0];
    memcpy(e->name, "default", sizeof("default"));
    if (default_path)
        memcpy(e->path, default_path, strlen(default_path) + 1);
    if (dir)
        memcpy(s->dir, dir, strlen(dir) + 1);
    r = load_entry(e, &e->cur);
    if (r < 0) {
        free(s->entries);
        free(s);
        return r;
    }
    pthread_mutex_init(&s->lock, NULL);
    *ret = s;
    return 0;
}

struct policy_store *policy_store_free(struct policy_store *store)
{
    if (!store)
        return NULL;
    for (size_t i = 0; i < store->n_entries; i++)
        loaded_policy_unref(store->entries[i].cur);
    free(store->entries);
    pthread_mutex_destroy(&store->lock);
    free(store);
    return NULL;
}

static struct entry *find(struct policy_store *s, const char *name)
{
    for (size_t i = 0; i < s->n_entries; i++)
        if (strcmp(s->entries[i].name, name) == 0)
            return &s->entries[i];
    return NULL;
}

int policy_store_get(struct policy_store *store, const char *name, struct loaded_policy **ret)
{
    struct entry *e, *grown;
    int r;

    if (!name || strcmp(name, "default") == 0)
        name = "default";
    else if (!valid_name(name) || !store->dir[0])
        return -ENOENT;

    pthread_mutex_lock(&store->lock);
    e = find(store, name);
    if (!e) {
        if (store->n_entries >= POLICY_STORE_NAMES_MAX) {
            pthread_mutex_unlock(&store->lock);
            return -ENOENT;
        }
        grown = realloc(store->entries, (store->n_entries + 1) * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&store->lock);
            return -ENOMEM;
        }
        store->entries = grown;
        e = &store->entries[store->n_entries];
        *e = (struct entry){0};
        memcpy(e->name, name, strlen(name) + 1);
        /* Both lengths are bounded (the dir field's size, valid_name()): it fits; a path that
         * did not would be an unreadable file, never another one. */
        if (snprintf(e->path, sizeof(e->path), "%s/%s.json", store->dir, name) >=
            (int)sizeof(e->path))
            e->path[0] = '\0';
        /* Loaded under the lock: a first use is rare and small, and two listeners asking for
         * one new name at once must not load (and log) it twice. A failure is remembered, so
         * a listener whose policy is broken does not re-read the file for every call; reload
         * retries it. */
        e->err = load_entry(e, &e->cur);
        store->n_entries++;
    }
    if (e->cur) {
        *ret = loaded_policy_ref(e->cur);
        r = 0;
    } else {
        r = e->err;
    }
    pthread_mutex_unlock(&store->lock);
    return r;
}

void policy_store_pin_kernel(struct policy_store *store, bool audit_all)
{
    store->kernel_audit_all = audit_all;
    store->kernel_pinned = true;
}

/* Whether @fresh may replace @cur, the default policy a running filter was compiled from: a
 * loaded filter cannot be changed, so every call it decides in the kernel must be decided the
 * same way by @fresh (what it notifies, the broker decides with @fresh anyway). */
static bool same_kernel_decisions(const struct policy_store *store, const struct mmsg_policy *cur,
                                  const struct mmsg_policy *fresh)
{
    unsigned flags = store->kernel_audit_all ? MMSG_COMPILE_AUDIT_ALL : 0;
    struct mmsg_kprog *a = NULL, *b = NULL;
    struct filter_prog loaded = {0};
    bool same = false;

    /* A tree too large for BPF fell back to notifying everything: nothing to keep. */
    if (filter_build(cur, store->kernel_audit_all, &loaded) >= 0 && loaded.notify_all)
        same = true;
    else if (mmsg_policy_compile(cur, flags, &a) >= 0 &&
             mmsg_policy_compile(fresh, flags, &b) >= 0 &&
             mmsg_kprog_kernel_unchanged(a, b, &same) < 0)
        same = false; /* cannot tell: keep the policy the filter was built from */
    filter_done(&loaded);
    mmsg_kprog_free(a);
    mmsg_kprog_free(b);
    return same;
}

int policy_store_reload(struct policy_store *store)
{
    size_t n;
    int failed = 0;

    pthread_mutex_lock(&store->lock);
    n = store->n_entries;
    pthread_mutex_unlock(&store->lock);

    /* Entries are only ever appended, so index i names the same policy throughout; each file
     * is parsed without the lock so callers keep deciding with the current version meanwhile. */
    for (size_t i = 0; i < n; i++) {
        struct entry snapshot;
        struct loaded_policy *fresh = NULL, *old = NULL, *pinned = NULL;
        bool kept = false;
        int r;

        pthread_mutex_lock(&store->lock);
        snapshot = store->entries[i];
        if (i == 0 && store->kernel_pinned)
            pinned = loaded_policy_ref(snapshot.cur); /* the version the filter was built from */
        pthread_mutex_unlock(&store->lock);
        if (!snapshot.path[0]) {
            loaded_policy_unref(pinned);
            continue; /* the built-in default cannot change */
        }
        r = load_entry(&snapshot, &fresh);
        if (r >= 0 && pinned && !same_kernel_decisions(store, pinned->policy, fresh->policy)) {
            log_error("%s: the new version changes decisions the running programs' seccomp filter "
                      "makes in the kernel (see mmsgate filter --policy); restart them to apply it",
                      snapshot.path);
            fresh = loaded_policy_unref(fresh);
            r = -EBUSY;
        }
        loaded_policy_unref(pinned);
        pthread_mutex_lock(&store->lock);
        if (r >= 0) {
            old = store->entries[i].cur;
            store->entries[i].cur = fresh;
            store->entries[i].err = 0;
        } else if (store->entries[i].cur) {
            /* Keep serving the last good version: a typo must not open or close the gate. */
            kept = true;
            failed++;
        } else {
            store->entries[i].err = r;
            if (r != -ENOENT)
                failed++;
        }
        pthread_mutex_unlock(&store->lock);
        if (kept)
            log_error("%s: keeping the previous version of policy \"%s\"", snapshot.path,
                      snapshot.name);
        loaded_policy_unref(old); /* calls in flight hold their own reference */
    }
    return failed;
}
