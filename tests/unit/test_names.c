/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Name tables: errno names and aliases, MSG_* flags, syscall and action names. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "mmsgate/policy.h"
#include "cr-literals.h"

static const struct {
    const char *name;
    int value;
    const char *canonical;
} errno_cases[] = {
    {"EPERM", EPERM, "EPERM"},
    {"E2BIG", E2BIG, "E2BIG"},
    {"EACCES", EACCES, "EACCES"},
    {"EAGAIN", EAGAIN, "EAGAIN"},
    {"EWOULDBLOCK", EAGAIN, "EAGAIN"},
    {"EDEADLK", EDEADLK, "EDEADLK"},
    {"EDEADLOCK", EDEADLK, "EDEADLK"},
    {"EOPNOTSUPP", EOPNOTSUPP, "EOPNOTSUPP"},
    {"ENOTSUP", EOPNOTSUPP, "EOPNOTSUPP"},
    {"ECONNREFUSED", ECONNREFUSED, "ECONNREFUSED"},
    {"EHWPOISON", EHWPOISON, "EHWPOISON"},
};

Test(names, errno_names_and_aliases)
{
    for (size_t i = 0; i < sizeof(errno_cases) / sizeof(errno_cases[0]); i++) {
        cr_expect(eq(int, mmsg_errno_from_name(errno_cases[i].name), errno_cases[i].value), "%s",
                  errno_cases[i].name);
        cr_expect(eq(str, (char *)mmsg_errno_name(errno_cases[i].value),
                     (char *)errno_cases[i].canonical));
    }
}

Test(names, every_errno_1_to_133_has_a_name_that_round_trips)
{
    for (int e = 1; e <= EHWPOISON; e++) {
        const char *name = mmsg_errno_name(e);

        /* 41 and 58 are holes in the kernel's numbering. */
        if (e == 41 || e == 58) {
            cr_expect(eq(ptr, (void *)name, NULL), "%d", e);
            continue;
        }
        cr_assert(ne(ptr, (void *)name, NULL), "%d", e);
        cr_expect(eq(int, mmsg_errno_from_name(name), e), "%s", name);
    }
}

Test(names, unknown_errno)
{
    cr_expect(eq(int, mmsg_errno_from_name("EPRM"), -EINVAL));
    cr_expect(eq(int, mmsg_errno_from_name("eperm"), -EINVAL));
    cr_expect(eq(int, mmsg_errno_from_name(NULL), -EINVAL));
    cr_expect(eq(ptr, (void *)mmsg_errno_name(0), NULL));
    cr_expect(eq(ptr, (void *)mmsg_errno_name(4096), NULL));
}

Test(names, msg_flags)
{
    uint32_t flag = 0;

    cr_expect(eq(int, mmsg_msg_flag_from_name("MSG_ERRQUEUE", &flag), 0));
    cr_expect(eq(u32, flag, 0x2000));
    cr_expect(eq(int, mmsg_msg_flag_from_name("MSG_CMSG_COMPAT", &flag), 0));
    cr_expect(eq(u32, flag, 0x80000000u));
    cr_expect(eq(int, mmsg_msg_flag_from_name("MSG_BATCH", &flag), 0));
    cr_expect(eq(u32, flag, 0x40000));
    cr_expect(eq(int, mmsg_msg_flag_from_name("MSG_NOPE", &flag), -EINVAL));
}

Test(names, msg_flags_format)
{
    char buf[128];

    cr_expect(eq(int, mmsg_msg_flags_format(0, buf, sizeof(buf)), 0));
    cr_expect(eq(str, buf, "0"));
    cr_expect(eq(int, mmsg_msg_flags_format(0x2 | 0x40, buf, sizeof(buf)), 0));
    cr_expect(eq(str, buf, "MSG_PEEK|MSG_DONTWAIT"));
    cr_expect(eq(int, mmsg_msg_flags_format(0x1 | 0x20000, buf, sizeof(buf)), 0));
    cr_expect(eq(str, buf, "MSG_OOB|0x20000"));
    cr_expect(eq(int, mmsg_msg_flags_format(0x2, buf, 8), -ENOBUFS)); /* "MSG_PEEK" needs 9 */
    cr_expect(eq(int, mmsg_msg_flags_format(0x2, buf, 9), 0));
}

Test(names, msg_flags_names)
{
    const char *names[4];

    cr_expect(eq(sz, mmsg_msg_flags_names(0x40 | 0x2000 | 0x20000, names, 4), 2));
    cr_expect(eq(str, (char *)names[0], "MSG_DONTWAIT"));
    cr_expect(eq(str, (char *)names[1], "MSG_ERRQUEUE"));
    cr_expect(eq(sz, mmsg_msg_flags_names(0x1 | 0x2 | 0x4, names, 2), 2));
}

Test(names, syscalls_and_actions)
{
    cr_expect(eq(str, (char *)mmsg_syscall_name(MMSG_SYS_RECVMMSG_TIME32), "recvmmsg_time32"));
    cr_expect(eq(str, (char *)mmsg_syscall_name(MMSG_SYS_SOCKETCALL), "socketcall"));
    cr_expect(eq(ptr, (void *)mmsg_syscall_name(MMSG_SYS_MAX_), NULL));
    cr_expect(eq(str, (char *)mmsg_action_name(MMSG_ACTION_EMULATE), "emulate"));
    cr_expect(eq(ptr, (void *)mmsg_action_name((enum mmsg_action) - 1), NULL));
}
