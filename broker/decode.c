/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decoding a notification's registers into the call it stands for: which route, and the
 * arguments a direct syscall passes in registers (socketcall's are in memory: inputs.c). */
#include <sys/socket.h>

#include "core.h"
#include "kernel.h"

bool decode_registers(const struct seccomp_data *d, struct emu_call *ret)
{
    struct emu_call c = {0};

    if (d->arch == AUDIT_ARCH_I386_) {
        if (d->nr == NR_I386_RECVMMSG_TIME32)
            c.sys = MMSG_SYS_RECVMMSG_TIME32;
        else if (d->nr == NR_I386_RECVMMSG_TIME64)
            c.sys = MMSG_SYS_RECVMMSG_TIME64;
        else if (d->nr == NR_I386_SOCKETCALL && (uint32_t)d->args[0] == SOCKETCALL_SYS_RECVMMSG)
            c.sys = MMSG_SYS_SOCKETCALL;
        else
            return false;
        c.compat = true;
    } else if (d->arch == AUDIT_ARCH_X86_64_ && d->nr == NR_X86_64_RECVMMSG) {
        c.sys = MMSG_SYS_RECVMMSG;
    } else {
        /* x32 (nr | 0x40000000) and anything else the filter might send: not served. */
        return false;
    }
    if (c.sys == MMSG_SYS_SOCKETCALL) {
        /* net/compat.c compat_sys_socketcall(): the five arguments are in caller memory. */
    } else if (c.compat) {
        /* The compat entry points take 32-bit registers. */
        c.fd = (int32_t)(uint32_t)d->args[0];
        c.mmsg = (uint32_t)d->args[1];
        c.vlen = (uint32_t)d->args[2];
        c.flags = (uint32_t)d->args[3];
        c.timeout = (uint32_t)d->args[4];
    } else {
        /* SYSCALL_DEFINE5(recvmmsg, int fd, ..., unsigned int vlen, unsigned int flags, ...):
         * int and unsigned int arguments keep only their low 32 bits. */
        c.fd = (int32_t)d->args[0];
        c.mmsg = d->args[1];
        c.vlen = (uint32_t)d->args[2];
        c.flags = (uint32_t)d->args[3];
        c.timeout = d->args[4];
    }
    /* The compat entry adds MSG_CMSG_COMPAT itself and ignores a caller's
     * (docs/recvmmsg-compat.md rule 4). */
    if (c.compat)
        c.flags &= ~MSG_CMSG_COMPAT_;
    *ret = c;
    return true;
}

void decode_call(const struct emu_call *c, struct mmsg_call *call)
{
    *call = (struct mmsg_call){
        .syscall = c->sys,
        .fd = c->fd,
        .mmsg = c->mmsg,
        .vlen = c->vlen,
        .flags = c->flags,
        .timeout = c->timeout,
    };
}

unsigned decode_register_inputs(enum mmsg_syscall sys)
{
    return sys == MMSG_SYS_SOCKETCALL ? MMSG_INPUT_SYSCALL : MMSG_INPUT_REGISTERS;
}
