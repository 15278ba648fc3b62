/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named, reference-counted policies that a reload replaces without touching calls in flight. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal/macros.h"
#include "policy-store.h"

#define LOG_COMPONENT "policy"
#include "log.h"

/* Hard limit on distinct policy names one agent loads (each container names one). */
#define STORE_MAX 256

struct policy_store {
    pthread_mutex_t lock;
    char *dir;
    struct loaded_policy *slot[STORE_MAX]; /* [0]: the default policy */
    unsigned n;
};

static void log_diags(const char *path, const struct mmsg_diags *d)
{
    for (unsigned i = 0; i < d->n_diags; i++)
        log_error("%s:%d:%d: %s%s%s", path, d->diag[i].line, d->diag[i].column, d->diag[i].path,
                  d->diag[i].path[0] ? ": " : "", d->diag[i].text);
    if (d->n_dropped)
        log_error("%s: %u more errors not shown", path, d->n_dropped);
}

/* Load @path (NULL: the built-in policy) as @name. Return: 0; -ENOENT; -EINVAL; -errno. */
static int load(const char *name, const char *path, struct loaded_policy **ret)
{
    cleanup_free struct loaded_policy *p = NULL;
    struct mmsg_diags diags = {0};
    struct mmsg_policy *policy = NULL;
    int r;

    if (path) {
        FILE *f = fopen(path, "re");

        if (!f)
            return -errno;
        r = mmsg_policy_load_file(f, &policy, &diags);
        (void)fclose(f); /* read-only: nothing is lost on a failed close */
    } else {
        const char *text = mmsg_policy_default_json();

        r = mmsg_policy_load_buffer(text, strlen(text), &policy, &diags);
    }
    if (r < 0) {
        log_diags(path ? path : "(built-in)", &diags);
        return r == -ENOMEM ? r : -EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        (void)mmsg_policy_free(policy);
        return -ENOMEM;
    }
    p->refs = 1;
    p->policy = policy;
    p->inputs = mmsg_policy_inputs(policy);
    (void)snprintf(p->name, sizeof(p->name), "%s", name); /* names are validated shorter */
    (void)snprintf(p->path, sizeof(p->path), "%s", path ? path : "");
    *ret = TAKE_PTR(p);
    return 0;
}

struct loaded_policy *loaded_policy_ref(struct loaded_policy *p)
{
    if (p)
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

struct loaded_policy *loaded_policy_unref(struct loaded_policy *p)
{
    if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        (void)mmsg_policy_free(p->policy);
        free(p);
    }
    return NULL;
}

int policy_store_new(const char *default_path, const char *dir, struct policy_store **ret)
{
    struct policy_store *s;
    int r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    if (dir) {
        s->dir = strdup(dir);
        if (!s->dir) {
            (void)policy_store_free(s);
            return -ENOMEM;
        }
    }
    r = load("default", default_path, &s->slot[0]);
    if (r < 0) {
        (void)policy_store_free(s);
        return r;
    }
    s->n = 1;
    *ret = s;
    return 0;
}

struct policy_store *policy_store_free(struct policy_store *s)
{
    if (!s)
        return NULL;
    for (unsigned i = 0; i < s->n; i++)
        (void)loaded_policy_unref(s->slot[i]);
    pthread_mutex_destroy(&s->lock);
    free(s->dir);
    free(s);
    return NULL;
}

/* A name is a file name in DIR, never a path: [A-Za-z0-9_.-], not starting with '.'. */
static bool name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len >= POLICY_NAME_MAX || name[0] == '.')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

int policy_store_get(struct policy_store *s, const char *name, struct loaded_policy **ret)
{
    char path[PATH_MAX];
    struct loaded_policy *p = NULL;
    int r = 0;

    if (!name || strcmp(name, "default") == 0)
        name = "default";
    else if (!s->dir || !name_valid(name))
        return -ENOENT;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->n && !p; i++)
        if (strcmp(s->slot[i]->name, name) == 0)
            p = loaded_policy_ref(s->slot[i]);
    if (!p && s->n == STORE_MAX)
        r = -ENOSPC;
    if (!p && r >= 0) {
        if (snprintf(path, sizeof(path), "%s/%s.json", s->dir, name) >= (int)sizeof(path))
            r = -ENAMETOOLONG;
        else
            r = load(name, path, &p);
        if (r >= 0)
            s->slot[s->n++] = loaded_policy_ref(p);
    }
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        return r == -EINVAL ? r : -ENOENT;
    *ret = p;
    return 0;
}

int policy_store_reload(struct policy_store *s)
{
    int failed = 0;

    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->n; i++) {
        struct loaded_policy *old = s->slot[i], *p = NULL;
        int r = load(old->name, old->path[0] ? old->path : NULL, &p);

        if (r < 0) {
            log_error_errno(r, "reloading %s: keeping the policy loaded before",
                            old->path[0] ? old->path : "the built-in policy");
            failed++;
            continue;
        }
        s->slot[i] = p;
        (void)loaded_policy_unref(old); /* calls in flight keep their own reference */
    }
    pthread_mutex_unlock(&s->lock);
    return failed;
}
