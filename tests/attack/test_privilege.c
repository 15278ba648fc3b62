/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Issue 6 finding 6: while serving, the broker keeps only the capabilities it needs and runs
 * under a seccomp filter of its own (every thread of it). The lead's test that a forbidden call
 * from the broker fails goes with the filter itself. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "harness.h"
#include "attack.h"

#define CAP_BIT(n) (UINT64_C(1) << (n))
/* include/uapi/linux/capability.h */
#define CAP_SETUID_ 7
#define CAP_NET_ADMIN_ 12
#define CAP_SYS_MODULE_ 16
#define CAP_SYS_ADMIN_ 21
#define CAP_SYS_BOOT_ 22

/* The value of "Key:\t..." in /proc/PID/task/TID/status, into @buf. */
static bool status_field(const char *status_path, const char *key, char *buf, size_t len)
{
    char line[256];
    size_t klen = strlen(key);
    bool found = false;
    FILE *f = fopen(status_path, "re");

    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            (void)snprintf(buf, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
            buf[strcspn(buf, "\n")] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

Test(privilege, serving_broker_has_few_capabilities_and_its_own_filter, .timeout = 60)
{
    char script[1024];
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    struct h_gate g = {.policy = "{\"version\":1,\"default\":{\"action\":\"emulate\"}}",
                       .audit = true};
    struct dirent *de;
    struct h_run r;
    char dir[64];
    int n_tasks = 0;
    DIR *d;

    attack_require_root();
    /* Emulated calls first, so the broker is past start-up and has served: one on the event
     * loop and one that may wait (a worker today); with --audit, the audit writer too. */
    (void)snprintf(script, sizeof(script),
                   "%1$s --route 299 --send 1 --flags DONTWAIT && %1$s --route 299 --send 3 && "
                   "echo serving && exec sleep 60",
                   h_prog("try-recvmmsg64"));
    cr_assert(eq(int, h_start_gate(&r, &g, argv), 0));
    cr_assert(h_wait_for(&r, "serving", 20000), "stdout: %s stderr: %s", r.out, r.err);

    (void)snprintf(dir, sizeof(dir), "/proc/%d/task", (int)r.pid);
    d = opendir(dir);
    cr_assert(not(eq(ptr, d, NULL)));
    while ((de = readdir(d))) {
        char path[384], capeff[64] = "", seccomp[16] = "";
        uint64_t caps;

        if (de->d_name[0] == '.')
            continue;
        n_tasks++;
        (void)snprintf(path, sizeof(path), "%.63s/%.255s/status", dir, de->d_name);
        cr_assert(status_field(path, "CapEff", capeff, sizeof(capeff)));
        cr_assert(status_field(path, "Seccomp", seccomp, sizeof(seccomp)));
        caps = strtoull(capeff, NULL, 16);
        fprintf(stderr, "privilege: broker task %s CapEff %s Seccomp %s\n", de->d_name, capeff,
                seccomp);
        cr_expect(eq(str, seccomp, "2"), "broker task %s runs without a seccomp filter",
                  de->d_name);
        cr_expect(eq(u64, caps & CAP_BIT(CAP_SYS_ADMIN_), 0), "task %s keeps CAP_SYS_ADMIN",
                  de->d_name);
        cr_expect(eq(u64, caps & CAP_BIT(CAP_NET_ADMIN_), 0), "task %s keeps CAP_NET_ADMIN",
                  de->d_name);
        cr_expect(eq(u64, caps & CAP_BIT(CAP_SETUID_), 0), "task %s keeps CAP_SETUID", de->d_name);
        cr_expect(eq(u64, caps & (CAP_BIT(CAP_SYS_MODULE_) | CAP_BIT(CAP_SYS_BOOT_)), 0),
                  "task %s keeps CAP_SYS_MODULE or CAP_SYS_BOOT", de->d_name);
    }
    closedir(d);
    cr_expect(gt(int, n_tasks, 0));
    h_run_done(&r);
}
