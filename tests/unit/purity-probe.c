/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Not part of any library: the archive check-policy-purity.sh must reject. It calls read()'s
 * _FORTIFY_SOURCE form by name, as gcc emits it for a read() into a fixed buffer, so the test
 * fails on every compiler if a pattern such as __*_chk ever admits it again. */
#include <stddef.h>
#include <sys/types.h>

/* glibc's checked read(): debug/read_chk.c. */
extern ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);

ssize_t purity_probe_read(int fd, char *buf, size_t buf_len);

ssize_t purity_probe_read(int fd, char *buf, size_t buf_len)
{
    return __read_chk(fd, buf, buf_len, buf_len);
}
