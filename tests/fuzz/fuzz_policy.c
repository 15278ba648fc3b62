/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the policy parser, validator, locator and evaluator: any byte string
 * must load or fail with diagnostics, never crash, and a loaded policy must evaluate. */
#include <stdint.h>
#include <string.h>

#include "mmsgate/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mmsg_policy *policy = NULL;
    struct mmsg_diags diags;
    struct mmsg_decision decision;
    /* Derive a call from the input's last bytes so evaluation sees varied calls too. */
    uint32_t seed = 0;
    struct mmsg_call call;

    if (mmsg_policy_load_buffer((const char *)data, size, &policy, &diags) < 0)
        return 0;
    memcpy(&seed, data + (size >= 4 ? size - 4 : 0), size >= 4 ? 4 : 0);
    call = (struct mmsg_call){
        .syscall = (enum mmsg_syscall)(seed % MMSG_SYS_MAX_),
        .fd = (int32_t)(seed >> 3),
        .vlen = seed >> 8,
        .flags = seed,
        .timeout = seed & 1,
        .timeout_known = seed & 2,
        .timeout_sec = (int64_t)seed << 20,
        .timeout_nsec = seed % 1000000000,
        .socket_known = seed & 4,
        .socket_family = (int)(seed % 20),
        .socket_type = (int)(seed % 6),
        .socket_local_port = (int)(seed % 65537) - 1,
        .process_known = seed & 8,
        .exe = "/usr/bin/fuzz",
        .comm = "fuzz",
        .uid = seed,
    };
    (void)mmsg_policy_evaluate(policy, &call, &decision); /* cannot fail */
    mmsg_policy_free(policy);
    return 0;
}
