/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the attack tests (issue 6): a clock and the root requirement (a skip fails in CI). */
#ifndef MMSG_TEST_ATTACK_H
#define MMSG_TEST_ATTACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "ia32.h"

static inline int64_t attack_now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* valid clock and pointer: cannot fail */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A test that cannot run here skips, except in CI, where a skip would hide a finding. */
#define attack_skip(...)                                                               \
    do {                                                                               \
        const char *ci_ = getenv("CI");                                                \
        if (ci_ && strcmp(ci_, "true") == 0)                                           \
            cr_fatal("cannot run, and CI=true does not allow skipping: " __VA_ARGS__); \
        cr_skip_test(__VA_ARGS__);                                                     \
    } while (0)

/* Every attack needs root (user notification of a root broker, userfaultfd on kernel faults,
 * pid namespaces, SO_RCVBUFFORCE). In CI a skip would hide a finding: there it is a failure. */
#define attack_require_root()          \
    do {                               \
        if (geteuid() != 0)            \
            attack_skip("needs root"); \
    } while (0)

/* i386 cases need a kernel that runs i386 code. Where it does not (IA32 emulation off), the case
 * skips even in CI: the VM stage (tests/vm, Debian's 6.1 with IA32 on) runs it there. */
#define attack_require_i386()               \
    do {                                    \
        if (!ia32_available())              \
            cr_skip_test(IA32_SKIP_REASON); \
    } while (0)

#endif
