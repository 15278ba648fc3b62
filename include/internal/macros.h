/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Header-only helpers shared by policy/ and broker/: scope-exit cleanup, explicit ownership
 * transfer and a few attributes. Needs gnu17 (cleanup attribute, statement expressions). */
#ifndef MMSGATE_INTERNAL_MACROS_H
#define MMSGATE_INTERNAL_MACROS_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

/* Attributes. Names end in an underscore instead of starting with one: leading underscores are
 * reserved to the implementation and clang-tidy flags them. */
#define unused_ __attribute__((unused))
#define must_check_ __attribute__((warn_unused_result))
#define printf_(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define cleanup_(fn) __attribute__((cleanup(fn)))

/* Number of elements of a true array; fails to compile for a pointer, where sizeof would
 * silently give the pointer size. */
#define ELEMENTSOF(x)                                                                       \
    (__builtin_choose_expr(!__builtin_types_compatible_p(__typeof__(x), __typeof__(&*(x))), \
                           sizeof(x) / sizeof((x)[0]), (void)0))

/* Cleanup handlers take a pointer to the variable. Each accepts the "empty" value (NULL, -1) so
 * a variable whose ownership moved away through TAKE_PTR()/TAKE_FD() is left alone. */
static inline void freep(void *p)
{
    free(*(void **)p);
}

static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved_errno = errno;
        /* close() errors on a read-mostly fd carry no information we could act on at scope
         * exit, and errno must survive for the caller's -errno conversion. */
        (void)close(*fd);
        errno = saved_errno;
    }
}

#define cleanup_free cleanup_(freep)
#define cleanup_close cleanup_(closep)
/* json_decrefp() comes from jansson.h (>= 2.11) and accepts a NULL json_t *. */
#define cleanup_json cleanup_(json_decrefp)

/* Move ownership out of a cleanup variable: evaluate to its value and reset it, so the
 * scope-exit handler no longer releases what the new owner now holds. */
#define TAKE_PTR(p)                               \
    ({                                            \
        __typeof__(p) *take_ptr_p_ = &(p);        \
        __typeof__(p) take_ptr_v_ = *take_ptr_p_; \
        *take_ptr_p_ = NULL;                      \
        take_ptr_v_;                              \
    })

#define TAKE_FD(fd)                   \
    ({                                \
        int *take_fd_p_ = &(fd);      \
        int take_fd_v_ = *take_fd_p_; \
        *take_fd_p_ = -1;             \
        take_fd_v_;                   \
    })

#endif
