/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Name tables for syscalls, actions, errnos and MSG_* flags: the words a policy and an audit
 * line use. Pure look-ups over const tables. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal/macros.h"
#include "mmsgate/policy.h"
#include "policy-internal.h"

static const char *const syscall_names[MMSG_SYS_MAX_] = {
    [MMSG_SYS_RECVMMSG_TIME32] = "recvmmsg_time32",
    [MMSG_SYS_RECVMMSG_TIME64] = "recvmmsg_time64",
    [MMSG_SYS_SOCKETCALL] = "socketcall",
    [MMSG_SYS_RECVMMSG] = "recvmmsg",
};

static const char *const action_names[MMSG_ACTION_MAX_] = {
    [MMSG_ACTION_ALLOW] = "allow",
    [MMSG_ACTION_DENY] = "deny",
    [MMSG_ACTION_EMULATE] = "emulate",
    [MMSG_ACTION_KILL] = "kill",
};

struct errno_name {
    const char *name;
    int value;
};

/* Every name of the kernel's include/uapi/asm-generic/errno{-base,}.h (x86 uses the generic
 * numbers), plus glibc's ENOTSUP. Aliases follow their canonical name so a search by value
 * finds the canonical one first (EAGAIN, not EWOULDBLOCK). */
static const struct errno_name errno_names[] = {
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"ESRCH", ESRCH},
    {"EINTR", EINTR},
    {"EIO", EIO},
    {"ENXIO", ENXIO},
    {"E2BIG", E2BIG},
    {"ENOEXEC", ENOEXEC},
    {"EBADF", EBADF},
    {"ECHILD", ECHILD},
    {"EAGAIN", EAGAIN},
    {"ENOMEM", ENOMEM},
    {"EACCES", EACCES},
    {"EFAULT", EFAULT},
    {"ENOTBLK", ENOTBLK},
    {"EBUSY", EBUSY},
    {"EEXIST", EEXIST},
    {"EXDEV", EXDEV},
    {"ENODEV", ENODEV},
    {"ENOTDIR", ENOTDIR},
    {"EISDIR", EISDIR},
    {"EINVAL", EINVAL},
    {"ENFILE", ENFILE},
    {"EMFILE", EMFILE},
    {"ENOTTY", ENOTTY},
    {"ETXTBSY", ETXTBSY},
    {"EFBIG", EFBIG},
    {"ENOSPC", ENOSPC},
    {"ESPIPE", ESPIPE},
    {"EROFS", EROFS},
    {"EMLINK", EMLINK},
    {"EPIPE", EPIPE},
    {"EDOM", EDOM},
    {"ERANGE", ERANGE},
    {"EDEADLK", EDEADLK},
    {"ENAMETOOLONG", ENAMETOOLONG},
    {"ENOLCK", ENOLCK},
    {"ENOSYS", ENOSYS},
    {"ENOTEMPTY", ENOTEMPTY},
    {"ELOOP", ELOOP},
    {"EWOULDBLOCK", EWOULDBLOCK},
    {"ENOMSG", ENOMSG},
    {"EIDRM", EIDRM},
    {"ECHRNG", ECHRNG},
    {"EL2NSYNC", EL2NSYNC},
    {"EL3HLT", EL3HLT},
    {"EL3RST", EL3RST},
    {"ELNRNG", ELNRNG},
    {"EUNATCH", EUNATCH},
    {"ENOCSI", ENOCSI},
    {"EL2HLT", EL2HLT},
    {"EBADE", EBADE},
    {"EBADR", EBADR},
    {"EXFULL", EXFULL},
    {"ENOANO", ENOANO},
    {"EBADRQC", EBADRQC},
    {"EBADSLT", EBADSLT},
    {"EDEADLOCK", EDEADLOCK},
    {"EBFONT", EBFONT},
    {"ENOSTR", ENOSTR},
    {"ENODATA", ENODATA},
    {"ETIME", ETIME},
    {"ENOSR", ENOSR},
    {"ENONET", ENONET},
    {"ENOPKG", ENOPKG},
    {"EREMOTE", EREMOTE},
    {"ENOLINK", ENOLINK},
    {"EADV", EADV},
    {"ESRMNT", ESRMNT},
    {"ECOMM", ECOMM},
    {"EPROTO", EPROTO},
    {"EMULTIHOP", EMULTIHOP},
    {"EDOTDOT", EDOTDOT},
    {"EBADMSG", EBADMSG},
    {"EOVERFLOW", EOVERFLOW},
    {"ENOTUNIQ", ENOTUNIQ},
    {"EBADFD", EBADFD},
    {"EREMCHG", EREMCHG},
    {"ELIBACC", ELIBACC},
    {"ELIBBAD", ELIBBAD},
    {"ELIBSCN", ELIBSCN},
    {"ELIBMAX", ELIBMAX},
    {"ELIBEXEC", ELIBEXEC},
    {"EILSEQ", EILSEQ},
    {"ERESTART", ERESTART},
    {"ESTRPIPE", ESTRPIPE},
    {"EUSERS", EUSERS},
    {"ENOTSOCK", ENOTSOCK},
    {"EDESTADDRREQ", EDESTADDRREQ},
    {"EMSGSIZE", EMSGSIZE},
    {"EPROTOTYPE", EPROTOTYPE},
    {"ENOPROTOOPT", ENOPROTOOPT},
    {"EPROTONOSUPPORT", EPROTONOSUPPORT},
    {"ESOCKTNOSUPPORT", ESOCKTNOSUPPORT},
    {"EOPNOTSUPP", EOPNOTSUPP},
    {"EPFNOSUPPORT", EPFNOSUPPORT},
    {"EAFNOSUPPORT", EAFNOSUPPORT},
    {"EADDRINUSE", EADDRINUSE},
    {"EADDRNOTAVAIL", EADDRNOTAVAIL},
    {"ENETDOWN", ENETDOWN},
    {"ENETUNREACH", ENETUNREACH},
    {"ENETRESET", ENETRESET},
    {"ECONNABORTED", ECONNABORTED},
    {"ECONNRESET", ECONNRESET},
    {"ENOBUFS", ENOBUFS},
    {"EISCONN", EISCONN},
    {"ENOTCONN", ENOTCONN},
    {"ESHUTDOWN", ESHUTDOWN},
    {"ETOOMANYREFS", ETOOMANYREFS},
    {"ETIMEDOUT", ETIMEDOUT},
    {"ECONNREFUSED", ECONNREFUSED},
    {"EHOSTDOWN", EHOSTDOWN},
    {"EHOSTUNREACH", EHOSTUNREACH},
    {"EALREADY", EALREADY},
    {"EINPROGRESS", EINPROGRESS},
    {"ESTALE", ESTALE},
    {"EUCLEAN", EUCLEAN},
    {"ENOTNAM", ENOTNAM},
    {"ENAVAIL", ENAVAIL},
    {"EISNAM", EISNAM},
    {"EREMOTEIO", EREMOTEIO},
    {"EDQUOT", EDQUOT},
    {"ENOMEDIUM", ENOMEDIUM},
    {"EMEDIUMTYPE", EMEDIUMTYPE},
    {"ECANCELED", ECANCELED},
    {"ENOKEY", ENOKEY},
    {"EKEYEXPIRED", EKEYEXPIRED},
    {"EKEYREVOKED", EKEYREVOKED},
    {"EKEYREJECTED", EKEYREJECTED},
    {"EOWNERDEAD", EOWNERDEAD},
    {"ENOTRECOVERABLE", ENOTRECOVERABLE},
    {"ERFKILL", ERFKILL},
    {"EHWPOISON", EHWPOISON},
    {"ENOTSUP", ENOTSUP},
};

/* include/linux/socket.h, in bit order (the order mmsg_msg_flags_format() prints). */
static const struct errno_name msg_flag_names[] = {
    {"MSG_OOB", 0x1},
    {"MSG_PEEK", 0x2},
    {"MSG_DONTROUTE", 0x4},
    {"MSG_CTRUNC", 0x8},
    {"MSG_PROXY", 0x10},
    {"MSG_TRUNC", 0x20},
    {"MSG_DONTWAIT", 0x40},
    {"MSG_EOR", 0x80},
    {"MSG_WAITALL", 0x100},
    {"MSG_FIN", 0x200},
    {"MSG_SYN", 0x400},
    {"MSG_CONFIRM", 0x800},
    {"MSG_RST", 0x1000},
    {"MSG_ERRQUEUE", 0x2000},
    {"MSG_NOSIGNAL", 0x4000},
    {"MSG_MORE", 0x8000},
    {"MSG_WAITFORONE", 0x10000},
    {"MSG_BATCH", 0x40000},
    {"MSG_ZEROCOPY", 0x4000000},
    {"MSG_FASTOPEN", 0x20000000},
    {"MSG_CMSG_CLOEXEC", 0x40000000},
    {"MSG_CMSG_COMPAT", (int)0x80000000u},
};

const char *mmsg_syscall_name(enum mmsg_syscall sys)
{
    /* The enum is a caller-supplied value: an out-of-range one must not index the table. */
    if ((unsigned)sys >= MMSG_SYS_MAX_)
        return NULL;
    return syscall_names[sys];
}

const char *mmsg_action_name(enum mmsg_action action)
{
    if ((unsigned)action >= MMSG_ACTION_MAX_)
        return NULL;
    return action_names[action];
}

int policy_syscall_from_name(const char *name)
{
    for (size_t i = 0; i < ELEMENTSOF(syscall_names); i++)
        if (strcmp(syscall_names[i], name) == 0)
            return (int)i;
    return -EINVAL;
}

int policy_action_from_name(const char *name)
{
    for (size_t i = 0; i < ELEMENTSOF(action_names); i++)
        if (strcmp(action_names[i], name) == 0)
            return (int)i;
    return -EINVAL;
}

const char *mmsg_errno_name(int errno_value)
{
    for (size_t i = 0; i < ELEMENTSOF(errno_names); i++)
        if (errno_names[i].value == errno_value)
            return errno_names[i].name;
    return NULL;
}

int mmsg_errno_from_name(const char *name)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(errno_names); i++)
        if (strcmp(errno_names[i].name, name) == 0)
            return errno_names[i].value;
    return -EINVAL;
}

int mmsg_msg_flag_from_name(const char *name, uint32_t *ret_flag)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(msg_flag_names); i++)
        if (strcmp(msg_flag_names[i].name, name) == 0) {
            *ret_flag = (uint32_t)msg_flag_names[i].value;
            return 0;
        }
    return -EINVAL;
}

const char *policy_msg_flag_name(uint32_t flag)
{
    for (size_t i = 0; i < ELEMENTSOF(msg_flag_names); i++)
        if ((uint32_t)msg_flag_names[i].value == flag)
            return msg_flag_names[i].name;
    return NULL;
}

/* Append @s at *@off; false once @buf is full, so the caller reports -ENOBUFS rather than a
 * silently truncated list. */
static bool append(char *buf, size_t buf_len, size_t *off, const char *s)
{
    size_t n = strlen(s);

    if (*off + n + 1 > buf_len)
        return false;
    memcpy(buf + *off, s, n + 1);
    *off += n;
    return true;
}

int mmsg_msg_flags_format(uint32_t flags, char *buf, size_t buf_len)
{
    uint32_t unknown = flags;
    size_t off = 0;
    bool first = true;

    if (!buf || buf_len == 0)
        return -ENOBUFS;
    buf[0] = '\0';
    if (flags == 0)
        return append(buf, buf_len, &off, "0") ? 0 : -ENOBUFS;

    for (size_t i = 0; i < ELEMENTSOF(msg_flag_names); i++) {
        uint32_t bit = (uint32_t)msg_flag_names[i].value;

        if (!(flags & bit))
            continue;
        unknown &= ~bit;
        if ((!first && !append(buf, buf_len, &off, "|")) ||
            !append(buf, buf_len, &off, msg_flag_names[i].name))
            return -ENOBUFS;
        first = false;
    }
    if (unknown) {
        char hex[16];

        (void)snprintf(hex, sizeof(hex), "0x%" PRIx32, unknown); /* 11 bytes at most: fits */
        if ((!first && !append(buf, buf_len, &off, "|")) || !append(buf, buf_len, &off, hex))
            return -ENOBUFS;
    }
    return 0;
}

size_t mmsg_msg_flags_names(uint32_t flags, const char **ret_names, size_t n_max)
{
    size_t n = 0;

    for (size_t i = 0; i < ELEMENTSOF(msg_flag_names) && n < n_max; i++)
        if (flags & (uint32_t)msg_flag_names[i].value)
            ret_names[n++] = msg_flag_names[i].name;
    return n;
}
