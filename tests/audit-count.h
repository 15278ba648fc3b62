/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Proof that a gated run was supervised: the suites that compare a run under mmsgate with a
 * native one would see identical output if a route stopped trapping (both runs native), so they
 * count the calls the broker's audit file says it emulated (or refused by a named rule).
 * Header-only. */
#ifndef MMSG_TEST_AUDIT_COUNT_H
#define MMSG_TEST_AUDIT_COUNT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Records in the audit file @path (JSON Lines, docs/audit.md) whose eventName is @event and
 * whose @key is @value. Returns the count, -errno if the file cannot be read, -EBADMSG if a line
 * is not a JSON object. */
static inline long audit_count_field(const char *path, const char *event, const char *key,
                                     const char *value)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    long n = 0;

    if (!f)
        return -errno;
    while (n >= 0 && getline(&line, &cap, f) > 0) {
        json_t *rec = json_loads(line, 0, NULL);
        /* Borrowed references, valid while rec is. */
        const char *ev = json_string_value(json_object_get(rec, "eventName"));
        const char *v = json_string_value(json_object_get(rec, key));

        if (!json_is_object(rec))
            n = -EBADMSG;
        else if (ev && v && !strcmp(ev, event) && !strcmp(v, value))
            n++;
        json_decref(rec);
    }
    free(line);
    (void)fclose(f); /* read-only */
    return n;
}

/* Calls of @event the broker emulated (enforcement "emulate"). */
static inline long audit_count_emulated(const char *path, const char *event)
{
    return audit_count_field(path, event, "enforcement", "emulate");
}

#endif
