/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Learning: the synthesised policy validates, allows every observed call and refuses what was
 * not observed (another executable, port, flag, vlen or kind of timeout). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "learn.h"

static struct mmsg_call udp_call(const char *exe, int port, uint32_t flags, uint32_t vlen)
{
    return (struct mmsg_call){
        .syscall = MMSG_SYS_RECVMMSG_TIME64,
        .fd = 5,
        .vlen = vlen,
        .flags = flags,
        .socket_known = true,
        .socket_family = AF_INET,
        .socket_type = SOCK_DGRAM,
        .socket_local_port = port,
        .process_known = true,
        .exe = exe,
        .comm = "x",
    };
}

static struct mmsg_policy *synthesise(struct learn *l)
{
    struct mmsg_diags diags;
    struct mmsg_policy *p = NULL;
    char *json = NULL;
    int r;

    cr_assert(eq(int, learn_policy_json(l, "test", &json), 0));
    r = mmsg_policy_load_buffer(json, strlen(json), &p, &diags);
    cr_assert(eq(int, r, 0), "%s\n%d:%d: %s: %s", json, diags.diag[0].line, diags.diag[0].column,
              diags.diag[0].path, diags.diag[0].text);
    free(json);
    return p;
}

static enum mmsg_action decide(const struct mmsg_policy *p, const struct mmsg_call *c)
{
    struct mmsg_decision d;

    (void)mmsg_policy_evaluate(p, c, &d); /* cannot fail */
    return d.action;
}

Test(learn, observed_calls_allowed_others_denied)
{
    struct mmsg_call seen[] = {
        udp_call("/usr/sbin/knotd", 53, MSG_DONTWAIT, 1),
        udp_call("/usr/sbin/knotd", 53, MSG_DONTWAIT, 8),
        udp_call("/usr/sbin/knotd", 53, 0, 4),
        udp_call("/usr/sbin/chronyd", 41234, 0, 1), /* ephemeral client port */
        udp_call("/usr/sbin/chronyd", 123, MSG_ERRQUEUE | MSG_DONTWAIT, 1),
    };
    struct learn *l = NULL;
    struct mmsg_policy *p;
    struct mmsg_call c;

    cr_assert(eq(int, learn_new(&l), 0));
    for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
        cr_assert(eq(int, learn_observe(l, &seen[i]), 0));
    cr_expect(eq(ulong, learn_n_calls(l), 5));
    p = synthesise(l);
    for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
        cr_expect(eq(int, decide(p, &seen[i]), MMSG_ACTION_ALLOW), "observed call %zu", i);

    /* Another ephemeral port of the same client: allowed (the next run gets another one). */
    c = udp_call("/usr/sbin/chronyd", 50000, 0, 1);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_ALLOW));
    /* Not observed: denied. */
    c = udp_call("/usr/sbin/knotd", 54, MSG_DONTWAIT, 1);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "another port");
    c = udp_call("/usr/sbin/knotd", 53, MSG_DONTWAIT, 9);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "a larger vlen");
    c = udp_call("/usr/sbin/knotd", 53, MSG_ERRQUEUE, 1);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "a flag never seen");
    c = udp_call("/usr/bin/other", 53, MSG_DONTWAIT, 1);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "another executable");
    c = udp_call("/usr/sbin/knotd", 53, MSG_DONTWAIT, 1);
    c.syscall = MMSG_SYS_SOCKETCALL;
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "another route");
    c = udp_call("/usr/sbin/knotd", 53, MSG_DONTWAIT, 1);
    c.socket_type = SOCK_STREAM;
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "another socket type");
    mmsg_policy_free(p);
    learn_free(l);
}

Test(learn, timeouts_kind_and_bound)
{
    struct mmsg_call nul = udp_call("/bin/a", 53, 0, 1);
    struct mmsg_call val = udp_call("/bin/b", 53, 0, 1);
    struct learn *l = NULL;
    struct mmsg_policy *p;
    struct mmsg_call c;

    cr_assert(eq(int, learn_new(&l), 0));
    cr_assert(eq(int, learn_observe(l, &nul), 0));
    val.timeout = 0x1000;
    val.timeout_known = true;
    val.timeout_sec = 1;
    val.timeout_nsec = 500000; /* 1000.5 ms: the bound must be above it */
    cr_assert(eq(int, learn_observe(l, &val), 0));
    p = synthesise(l);
    cr_expect(eq(int, decide(p, &nul), MMSG_ACTION_ALLOW));
    cr_expect(eq(int, decide(p, &val), MMSG_ACTION_ALLOW));
    c = nul;
    c.timeout = 0x1000;
    c.timeout_known = true;
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "a NULL-timeout caller now passes one");
    c = val;
    c.timeout = 0;
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "an unbounded wait never seen");
    c = val;
    c.timeout_sec = 3600;
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY), "a far longer wait");
    mmsg_policy_free(p);
    learn_free(l);
}

Test(learn, exe_with_pattern_characters_matches_literally)
{
    struct mmsg_call c = udp_call("/opt/a[1]*?", 53, 0, 1);
    struct learn *l = NULL;
    struct mmsg_policy *p;

    cr_assert(eq(int, learn_new(&l), 0));
    cr_assert(eq(int, learn_observe(l, &c), 0));
    p = synthesise(l);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_ALLOW));
    c.exe = "/opt/a1xy";
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY));
    mmsg_policy_free(p);
    learn_free(l);
}

Test(learn, nothing_seen_denies_everything)
{
    struct mmsg_call c = udp_call("/bin/a", 53, 0, 1);
    struct learn *l = NULL;
    struct mmsg_policy *p;

    cr_assert(eq(int, learn_new(&l), 0));
    p = synthesise(l);
    cr_expect(eq(sz, mmsg_policy_n_rules(p), 0));
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_DENY));
    mmsg_policy_free(p);
    learn_free(l);
}

Test(learn, unknown_inputs_learn_a_wider_rule)
{
    struct mmsg_call c = {.syscall = MMSG_SYS_RECVMMSG, .fd = 3, .vlen = 2};
    struct learn *l = NULL;
    struct mmsg_policy *p;

    cr_assert(eq(int, learn_new(&l), 0));
    cr_assert(eq(int, learn_observe(l, &c), 0));
    p = synthesise(l);
    cr_expect(eq(int, decide(p, &c), MMSG_ACTION_ALLOW));
    mmsg_policy_free(p);
    learn_free(l);
}

Test(learn, groups_are_bounded)
{
    struct learn *l = NULL;
    struct mmsg_policy *p;
    char exe[32];
    char *json = NULL;
    int r = 0;

    cr_assert(eq(int, learn_new(&l), 0));
    for (int i = 0; i <= LEARN_GROUPS_MAX && r == 0; i++) {
        struct mmsg_call c = udp_call(exe, 53, 0, 1);

        (void)snprintf(exe, sizeof(exe), "/bin/p%d", i);
        r = learn_observe(l, &c);
        if (i < LEARN_GROUPS_MAX)
            cr_assert(eq(int, r, 0));
    }
    cr_expect(eq(int, r, -E2BIG));
    cr_assert(eq(int, learn_policy_json(l, NULL, &json), 0));
    cr_expect(ne(ptr, strstr(json, "1 calls beyond 1024 groups were not learned"), NULL));
    free(json);
    p = synthesise(l);
    cr_expect(eq(sz, mmsg_policy_n_rules(p), LEARN_GROUPS_MAX));
    mmsg_policy_free(p);
    learn_free(l);
}
