/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw syscalls and seccomp listener ioctls: the only file that issues them. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"

int kernel_seccomp_load(unsigned long flags, const struct sock_fprog *prog)
{
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
    if (r < 0)
        return -errno;
    return (int)r;
}

int kernel_notif_sizes(struct seccomp_notif_sizes *ret_sizes)
{
    struct seccomp_notif_sizes sizes = {0};

    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -errno;
    *ret_sizes = sizes;
    return 0;
}

int kernel_notif_recv(int listener, struct seccomp_notif *req, size_t req_size)
{
    /* include/uapi/linux/seccomp.h: RECV fails with EINVAL unless the buffer is zero. */
    memset(req, 0, req_size);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        return -errno;
    return 0;
}

int kernel_notif_send(int listener, const struct seccomp_notif_resp *resp)
{
    for (;;) {
        /* The ioctl takes a non-const pointer but does not write the response. */
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int kernel_notif_continue(int listener, uint64_t id)
{
    struct seccomp_notif_resp resp = {
        .id = id,
        .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE,
    };

    return kernel_notif_send(listener, &resp);
}

int kernel_notif_reply(int listener, uint64_t id, int error, int64_t val)
{
    struct seccomp_notif_resp resp = {
        .id = id,
        .error = error,
        .val = error ? 0 : val,
    };

    return kernel_notif_send(listener, &resp);
}

int kernel_notif_id_valid(int listener, uint64_t id)
{
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
        return -errno;
    return 0;
}

int kernel_notif_addfd(int listener, uint64_t id, int srcfd, bool cloexec)
{
    struct seccomp_notif_addfd addfd = {
        .id = id,
        .srcfd = (uint32_t)srcfd,
        .newfd_flags = cloexec ? O_CLOEXEC : 0,
    };
    int r;

    /* kernel/seccomp.c seccomp_notify_addfd(): an interrupted wait takes the request back
     * unless the target already installed the fd (then it returns that): retrying is safe. */
    do
        r = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    return r;
}

int kernel_notif_set_flags(int listener, uint64_t flags)
{
    /* kernel/seccomp.c seccomp_notify_set_flags(): the flags are the ioctl argument itself,
     * not a pointer to them, despite the _IOW() encoding. */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (unsigned long)flags) < 0)
        return -errno;
    return 0;
}

int kernel_pidfd_open(pid_t pid, unsigned flags)
{
    long r = syscall(SYS_pidfd_open, pid, flags);
    if (r < 0)
        return -errno;
    return (int)r;
}

int kernel_pidfd_getfd(int pidfd, int fd)
{
    long r = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    if (r < 0)
        return -errno;
    return (int)r;
}

int kernel_pidfd_send_signal(int pidfd, int sig, unsigned flags)
{
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags) < 0)
        return -errno;
    return 0;
}
