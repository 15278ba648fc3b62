/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the agent's framing and parsing of the runtime-spec container process
 * state: any byte string, split anywhere, must frame and parse or be refused, never crash; a
 * parsed message must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct agent_frame f = {0};
    struct agent_msg m;
    char why[128];
    size_t end = 0, split = size ? data[0] % (size + 1) : 0;
    int r;

    /* As a peer's split writes arrive: a prefix first, then the rest. */
    r = agent_frame_scan(&f, buf, split, &end);
    if (r == 0)
        r = agent_frame_scan(&f, buf, size, &end);
    if (r == 1 && (end == 0 || end > size || buf[end - 1] != '}'))
        abort();
    /* The parser must also survive bytes the framing would have refused. */
    for (size_t n_fds = 0; n_fds < 3; n_fds++) {
        r = agent_msg_parse(buf, r == 1 ? end : size, n_fds, &m, why, sizeof(why));
        if (r == 0 && (m.seccomp_index >= m.n_fds || m.n_fds != n_fds ||
                       strlen(m.container_id) == 0 || strlen(m.policy) >= sizeof(m.policy)))
            abort();
    }
    if (size < 512) {
        char meta[512], name[POLICY_NAME_MAX];

        memcpy(meta, data, size);
        meta[size] = '\0';
        r = agent_metadata_policy(meta, name, sizeof(name));
        if (r == 1 && !agent_policy_name_valid(name, strlen(name)))
            abort();
    }
    return 0;
}
