/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Named policies shared by listeners: the default one (built-in or --policy FILE) and, for the
 * agent, DIR/NAME.json from --policy-dir. A notification takes a reference to the policy that
 * decides it, so a reload (SIGHUP) never changes the policy under a call in flight. */
#ifndef MMSG_BROKER_POLICY_STORE_H
#define MMSG_BROKER_POLICY_STORE_H

#include <limits.h>

#include "mmsgate/policy.h"

#define POLICY_NAME_MAX 64

/* Immutable once published; freed when the last reference goes. */
struct loaded_policy {
    unsigned refs;              /* atomic */
    struct mmsg_policy *policy; /* owned */
    unsigned inputs;            /* mmsg_policy_inputs(policy) */
    char name[POLICY_NAME_MAX]; /* "default", or NAME for DIR/NAME.json */
    char path[PATH_MAX];        /* "" for the built-in policy */
};

struct policy_store;

/* @default_path: NULL for the built-in default policy. @dir: NULL when there is no policy
 * directory. The default policy is loaded now (errors logged as FILE:LINE:COLUMN: ...).
 * Return: 0; -EINVAL (invalid default policy); -errno (unreadable). */
int policy_store_new(const char *default_path, const char *dir, struct policy_store **ret);
struct policy_store *policy_store_free(struct policy_store *store);

/* A new reference to the current policy named @name (NULL or "default": the default policy).
 * A name is [A-Za-z0-9_.-]{1,63} not starting with '.'; it is looked up as DIR/NAME.json and
 * loaded on first use. Thread-safe. Return: 0; -ENOENT (no directory, no such file, or an
 * invalid name); -EINVAL (the file is not a valid policy: logged once with FILE:LINE:COL). */
int policy_store_get(struct policy_store *store, const char *name, struct loaded_policy **ret);

struct loaded_policy *loaded_policy_ref(struct loaded_policy *p);
/* Drop a reference; NULL is fine. Return: NULL. */
struct loaded_policy *loaded_policy_unref(struct loaded_policy *p);

/* Re-read every policy file loaded so far. A file that no longer parses keeps its previous
 * version (errors logged as FILE:LINE:COL); calls already deciding keep the reference they hold.
 * Return: the number of files that failed to reload (0: all reloaded). */
int policy_store_reload(struct policy_store *store);

#endif
