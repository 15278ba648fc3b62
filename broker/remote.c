/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The caller of one notification: handles bound to it, its memory as copy_{from,to}_user see
 * it, its fds and its /proc identity. Why handles and not the tid: see remote.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal/macros.h"
#include "kernel.h"
#include "remote.h"

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

/* The x86_64 user address space ends below 2^57 even with 5-level paging; /proc/<tid>/mem
 * takes the address as a signed file offset. */
#define USER_ADDR_END (1ull << 57)
#define REMOTE_PAGE 4096ull /* x86 */

static int probe_pidfd_thread = -1, probe_procmap_query = -1;

/* This thread's last few small reads, each widened to what follows it in its page: the next
 * header, or the next iovecs, is usually right there (an mmsghdr array, an iovec array), so one
 * pread serves several of the kernel's reads. Valid for one remote_open() (@gen) until the
 * caller may have run (remote_forget_mappings(): after a wait), and kept coherent with our own
 * writes, which are copied in: the kernel's later reads see its earlier writes, and so do ours
 * (move_addr_to_user() reading msg_namelen again, a header an earlier datagram overwrote). */
#define REMOTE_WINDOWS 4

struct window {
    uint64_t gen; /* 0: empty */
    uint64_t addr, last_use;
    size_t len;
    unsigned char buf[REMOTE_WINDOW];
};

static __thread struct window windows[REMOTE_WINDOWS];
static __thread uint64_t window_clock;

static uint64_t open_gen(void)
{
    static uint64_t gen;

    return __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED);
}

static void window_drop(void)
{
    for (int i = 0; i < REMOTE_WINDOWS; i++)
        windows[i].gen = 0;
}

/* The window of this opening holding all of [@addr, @addr + @len), or NULL. */
static struct window *window_find(const struct remote *r, uint64_t addr, size_t len)
{
    for (int i = 0; r->gen && i < REMOTE_WINDOWS; i++) {
        struct window *w = &windows[i];

        if (w->gen == r->gen && addr >= w->addr && addr - w->addr <= w->len &&
            len <= w->len - (addr - w->addr))
            return w;
    }
    return NULL;
}

/* A slot for a new window: an empty or stale one, else the least recently used. */
static struct window *window_victim(const struct remote *r)
{
    struct window *v = &windows[0];

    for (int i = 0; i < REMOTE_WINDOWS; i++) {
        struct window *w = &windows[i];

        if (w->gen != r->gen)
            return w;
        if (w->last_use < v->last_use)
            v = w;
    }
    return v;
}

/* @n bytes of @buf were just written at @addr in the caller: the windows show them too. */
static void window_update(const struct remote *r, uint64_t addr, const void *buf, size_t n)
{
    for (int i = 0; r->gen && i < REMOTE_WINDOWS; i++) {
        struct window *w = &windows[i];
        uint64_t lo, hi;

        if (w->gen != r->gen)
            continue;
        lo = addr > w->addr ? addr : w->addr;
        hi = addr + n < w->addr + w->len ? addr + n : w->addr + w->len;
        if (lo < hi)
            memcpy(w->buf + (lo - w->addr), (const char *)buf + (lo - addr), hi - lo);
    }
}

bool remote_have_pidfd_thread(void)
{
#ifdef MMSG_TEST_NO_PIDFD_THREAD
    probe_pidfd_thread = 0; /* a test build exercising the pre-6.9 path */
#endif
    if (probe_pidfd_thread < 0) {
        /* Linux 6.9 accepts PIDFD_THREAD; older kernels reject the unknown flag with EINVAL. */
        int fd = kernel_pidfd_open(getpid(), PIDFD_THREAD);

        probe_pidfd_thread = fd >= 0;
        if (fd >= 0)
            (void)close(fd);
    }
    return probe_pidfd_thread;
}

bool remote_have_procmap_query(void)
{
#ifdef MMSG_TEST_NO_PROCMAP_QUERY
    probe_procmap_query = 0; /* a test build exercising the pre-6.11 path */
#endif
    if (probe_procmap_query < 0) {
        struct procmap_query_ q = {.size = sizeof(q), .query_addr = (uintptr_t)&q};
        cleanup_close int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

        probe_procmap_query = fd >= 0 && ioctl(fd, PROCMAP_QUERY_, &q) == 0;
    }
    return probe_procmap_query;
}

/* Open /proc/<tid>/@name by number. Return: the fd; -ESRCH (no such task); -errno. */
static int open_proc(pid_t tid, const char *name, int flags)
{
    char path[64];
    int fd;

    (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)tid, name); /* cannot truncate */
    fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0)
        return fd;
    return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
}

/* Open @name in the /proc/<tid> directory @dirfd: the task of that directory's struct pid, or
 * none (-ESRCH) once it has exited, whoever holds the number by then. */
static int open_proc_at(int dirfd, const char *name, int flags)
{
    int fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOCTTY);

    if (fd >= 0)
        return fd;
    return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
}

/* A /proc text file @fd from its start into @buf, NUL-terminated (fs/seq_file.c restarts at
 * offset 0, so a kept file shows the text afresh). Return: the length read; -ESRCH (no such
 * task); -errno. */
static int read_text(int fd, char *buf, size_t buf_len)
{
    ssize_t n = pread(fd, buf, buf_len - 1, 0);

    if (n < 0)
        return errno == ESRCH ? -ESRCH : -errno;
    buf[n] = '\0';
    return (int)n;
}

/* Read @name of the caller into @buf: through its /proc/<tid> directory @dirfd, or by number
 * when @dirfd is -1 (then the caller must confirm with ID_VALID afterwards that the tid still
 * named its caller: a pending caller cannot have exited, so it held the tid). @ret_fd: NULL,
 * or where the file opened is handed over (else it is closed). Return: as read_text(). */
static int read_proc_in(int dirfd, pid_t tid, const char *name, char *buf, size_t buf_len,
                        int *ret_fd)
{
    cleanup_close int fd = -1;
    int n;

    fd = dirfd < 0 ? open_proc(tid, name, O_RDONLY) : open_proc_at(dirfd, name, O_RDONLY);
    if (fd < 0)
        return fd;
    n = read_text(fd, buf, buf_len);
    if (n >= 0 && ret_fd)
        *ret_fd = TAKE_FD(fd);
    return n;
}

static int read_proc(pid_t tid, const char *name, char *buf, size_t buf_len)
{
    return read_proc_in(-1, tid, name, buf, buf_len, NULL);
}

/* Parse "Key:\t<value>" from a /proc status text. */
static const char *status_field(const char *status, const char *key)
{
    size_t key_len = strlen(key);

    for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, key_len) == 0 && p[key_len] == ':')
            return p + key_len + 1;
    return NULL;
}

pid_t remote_tgid_of(pid_t tid)
{
    char buf[512];
    const char *v;
    int n;

    n = read_proc(tid, "status", buf, sizeof(buf));
    if (n < 0)
        return n;
    v = status_field(buf, "Tgid");
    return v ? (pid_t)strtol(v, NULL, 10) : -EIO;
}

bool remote_out_of_fds(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOMEM;
}

/* The pidfd through which the caller's fds are reached: its own thread's on 6.9+, else its
 * thread group's (pidfd_open() refuses non-leaders before PIDFD_THREAD). */
static int open_pidfd(struct remote *r)
{
    char status[512];
    const char *v;
    pid_t tgid;
    int n;

    if (remote_have_pidfd_thread()) {
        r->pidfd = kernel_pidfd_open(r->tid, PIDFD_THREAD);
        r->pidfd_thread = true;
        return r->pidfd >= 0 ? 0 : remote_out_of_fds(r->pidfd) ? r->pidfd : -ESRCH;
    }
    n = read_proc(r->tid, "status", status, sizeof(status));
    if (n < 0)
        return n;
    v = status_field(status, "Tgid");
    if (!v)
        return -EIO;
    tgid = (pid_t)strtol(v, NULL, 10); /* trusted once remote_open()'s ID_VALID passed */
    r->pidfd = kernel_pidfd_open(tgid, 0);
    r->pidfd_thread = false;
    return r->pidfd >= 0 ? 0 : remote_out_of_fds(r->pidfd) ? r->pidfd : -ESRCH;
}

void remote_init(struct remote *r, int listener, uint64_t id, pid_t tid)
{
    *r = REMOTE_NULL;
    r->listener = listener;
    r->id = id;
    r->tid = tid;
}

/* fs/proc/base.c mem_open() and fs/proc/task_mmu.c proc_maps_open() take the task's mm at
 * open: later reads and writes go to that mm or fail, whoever holds the tid by then. */
static int open_memory(struct remote *r, int dirfd)
{
    r->memfd = open_proc_at(dirfd, "mem", O_RDWR);
    if (r->memfd < 0)
        return r->memfd;
    r->mapsfd = open_proc_at(dirfd, "maps", O_RDONLY);
    return r->mapsfd < 0 ? r->mapsfd : 0;
}

/* With the caller's thread's cached handles (handles.h): its memory opened through the cached
 * /proc/<tid>, which fails if that thread has exited. Not yet bound: the first access binds
 * all (remote_bind()). Return: as remote_open(); -ESTALE: no usable entry, open from scratch. */
static int open_cached(struct remote *r)
{
    int err;

    if (!handles_get(r->tid, &r->cached))
        return -ESTALE;
    err = open_memory(r, r->cached.dirfd);
    if (err < 0) {
        bool stale = !remote_out_of_fds(err);

        handles_put(&r->cached, stale);
        remote_close(r);
        return stale ? -ESTALE : err;
    }
    r->pidfd = r->cached.pidfd;
    r->pidfd_thread = r->cached.pidfd_thread;
    return 0;
}

/* The check that binds cached handles to the caller, made once, before their first use (and
 * after remote_getfd()'s pidfd_getfd(), when that comes first, so one ID_VALID binds both):
 * the entry's thread was alive when its memory was opened, and the call's thread, still
 * pending now, held the number from NOTIF_RECV until now, so the two are one. Without this an
 * entry could be a newer thread's that took the number after the call's thread died. */
static int remote_bind(struct remote *r)
{
    return r->bound ? 0 : remote_check(r);
}

int remote_open(struct remote *r, int listener, uint64_t id, pid_t tid)
{
    cleanup_close int dirfd = -1;
    int err;

    remote_init(r, listener, id, tid);
    /* notif.pid is 0 when the caller is not visible in our pid namespace. */
    if (tid <= 0)
        return -ESRCH;
    r->gen = open_gen();
    err = open_cached(r);
    if (err != -ESTALE)
        goto out;
    dirfd = open_proc(tid, "", O_PATH | O_DIRECTORY);
    err = dirfd < 0 ? dirfd : open_memory(r, dirfd);
    if (err >= 0)
        err = open_pidfd(r);
    if (err < 0 && !remote_out_of_fds(err))
        err = -ESRCH;
    if (err == -ESRCH && kernel_notif_id_valid(listener, id) == -ENOENT)
        err = -ENOENT; /* the caller died since RECV: a call that is gone, not a failure */
    if (err >= 0) {
        /* The one check that binds every handle above to the caller: a pending call's thread
         * cannot have exited, so it held the tid throughout. */
        err = remote_check(r);
    }
    if (err < 0) {
        remote_close(r);
        goto out;
    }
    /* Kept for the thread's next call: the directory and the pidfd go to the cache (which
     * takes them only if it has room). */
    if (handles_add(tid, dirfd, r->pidfd, r->pidfd_thread, &r->cached))
        (void)TAKE_FD(dirfd);
out:
    if (remote_out_of_fds(err))
        handles_flush(); /* make room for the next call */
    return err;
}

void remote_open_memory(struct remote *r, int memfd)
{
    *r = REMOTE_NULL;
    r->memfd = memfd;
    r->borrowed = true;
}

void remote_close(struct remote *r)
{
    /* Nothing to do about a failed close of any of these. */
    if (r->cached.entry) {
        r->pidfd = -1; /* the cache's */
        handles_put(&r->cached, false);
    }
    if (r->pidfd >= 0)
        (void)close(r->pidfd);
    if (r->mapsfd >= 0)
        (void)close(r->mapsfd);
    if (r->statusfd >= 0)
        (void)close(r->statusfd);
    if (r->memfd >= 0 && !r->borrowed)
        (void)close(r->memfd);
    r->pidfd = r->mapsfd = r->memfd = r->statusfd = -1;
    r->bound = false; /* nothing left to be bound */
    remote_forget_mappings(r);
}

int remote_check(struct remote *r)
{
    int err;

    if (r->borrowed)
        return 0; /* remote_open_memory(): no call behind it */
    err = kernel_notif_id_valid(r->listener, r->id);
    if (err >= 0)
        r->bound = true; /* every handle of @r was opened before this */
    return err;
}

/* ---- protections ---------------------------------------------------------------------------
 * x86 pages are readable whenever they are mapped at all (write-only and execute-only mappings
 * read fine from user mode), so "readable" is any of r, w, x; "writable" needs w. */

static void vma_remember(struct remote *r, const struct remote_vma *v)
{
    r->vmas[r->next_vma] = *v;
    r->next_vma = (r->next_vma + 1) % REMOTE_VMA_CACHE;
    if (r->n_vmas < REMOTE_VMA_CACHE)
        r->n_vmas++;
}

static int vma_query_ioctl(struct remote *r, uint64_t addr, struct remote_vma *ret)
{
    struct procmap_query_ q = {.size = sizeof(q), .query_addr = addr};

    if (ioctl(r->mapsfd, PROCMAP_QUERY_, &q) < 0)
        return errno == ENOENT ? -EFAULT : -errno;
    *ret = (struct remote_vma){
        .start = q.vma_start,
        .end = q.vma_end,
        .readable = q.vma_flags & (PROCMAP_QUERY_VMA_READABLE_ | PROCMAP_QUERY_VMA_WRITABLE_ |
                                   PROCMAP_QUERY_VMA_EXECUTABLE_),
        .writable = q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE_,
        .anon_private = !(q.vma_flags & PROCMAP_QUERY_VMA_SHARED_) && q.inode == 0 &&
                        q.dev_major == 0 && q.dev_minor == 0,
    };
    return 0;
}

/* From the perms of a maps line on ("rw-p 00000000 00:00 0"): private ('s' is VM_MAYSHARE)
 * with no file (device 00:00, inode 0). Unparsable: false, so its reads are not kept. */
static bool maps_anon_private(const char *p)
{
    unsigned long long dev_major, dev_minor, inode;
    const char *q = p + 4;
    char *end;

    if (p[3] != 'p')
        return false;
    errno = 0;
    (void)strtoull(q, &end, 16); /* the offset */
    if (end == q || *end != ' ')
        return false;
    q = end + 1;
    dev_major = strtoull(q, &end, 16);
    if (end == q || *end != ':')
        return false;
    q = end + 1;
    dev_minor = strtoull(q, &end, 16);
    if (end == q || *end != ' ')
        return false;
    q = end + 1;
    inode = strtoull(q, &end, 10);
    return end != q && !errno && dev_major == 0 && dev_minor == 0 && inode == 0;
}

/* "start-end perms offset major:minor inode ...", addresses in hex (fs/proc/task_mmu.c
 * show_map_vma()). */
static bool parse_maps_line(const char *line, struct remote_vma *ret)
{
    char *end;
    const char *p;

    errno = 0;
    ret->start = strtoull(line, &end, 16);
    if (end == line || *end != '-')
        return false;
    p = end + 1;
    ret->end = strtoull(p, &end, 16);
    if (end == p || *end != ' ' || errno || strlen(end + 1) < 4)
        return false;
    p = end + 1;
    /* x86: a page is readable whenever it is mapped at all (write-only and execute-only
     * mappings read fine from user mode). */
    ret->readable = p[0] == 'r' || p[1] == 'w' || p[2] == 'x';
    ret->writable = p[1] == 'w';
    ret->anon_private = maps_anon_private(p);
    return true;
}

/* Before Linux 6.11 the protections come from the maps text, which costs the kernel a line of
 * formatting per mapping (show_map_vma()), and an emulation asks about several addresses (the
 * vector, iovec arrays, buffers, names, control data, the timeout). The text is therefore read
 * once per notification, sequentially and only as far as a lookup needs: every line read is
 * kept (in address order, as the kernel prints them), and a later lookup either finds its
 * answer among them or reads on from where the last one stopped. */

/* Find @addr among the lines read so far. Return: 0 found; -EFAULT in a gap before the last
 * line read (lines are sorted and disjoint: no later one can cover it); 1 beyond them. */
static int maps_find(const struct remote *r, uint64_t addr, struct remote_vma *ret)
{
    size_t lo = 0, hi = r->n_maps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r->maps[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && addr < r->maps[lo - 1].end) {
        *ret = r->maps[lo - 1];
        return 0;
    }
    return lo < r->n_maps ? -EFAULT : 1;
}

static int maps_add(struct remote *r, const struct remote_vma *v)
{
    if (r->n_maps == r->maps_cap) {
        size_t cap = r->maps_cap ? r->maps_cap * 2 : 64;
        struct remote_vma *m =
            cap <= REMOTE_MAPS_MAX ? reallocarray(r->maps, cap, sizeof(*m)) : NULL;

        if (!m)
            return -ENOMEM;
        r->maps = m;
        r->maps_cap = cap;
    }
    r->maps[r->n_maps++] = *v;
    return 0;
}

/* Read on until a line covers @addr or starts beyond it, or the text ends.
 * Return: as maps_find(), never 1; -ENOMEM (too many lines to keep); -errno. */
static int maps_read_to(struct remote *r, uint64_t addr, struct remote_vma *ret)
{
    if (!r->maps_buf) {
        r->maps_buf = malloc(REMOTE_MAPS_BUF);
        if (!r->maps_buf)
            return -ENOMEM;
    }
    for (;;) {
        char *line, *nl, *buf = r->maps_buf;
        ssize_t n;
        int err;

        if (r->maps_eof)
            return -EFAULT;
        n = pread(r->mapsfd, buf + r->maps_have, REMOTE_MAPS_BUF - 1 - r->maps_have, r->maps_off);
        if (n < 0)
            return -errno;
        if (n == 0)
            r->maps_eof = true;
        r->maps_off += n;
        r->maps_have += (size_t)n;
        buf[r->maps_have] = '\0';
        line = buf;
        while ((nl = strchr(line, '\n'))) {
            struct remote_vma v;

            *nl = '\0';
            if (parse_maps_line(line, &v)) {
                err = maps_add(r, &v);
                if (err < 0)
                    return err;
            }
            line = nl + 1;
        }
        r->maps_have = (size_t)(buf + r->maps_have - line);
        if (r->maps_have == REMOTE_MAPS_BUF - 1)
            r->maps_have = 0; /* no maps line is that long; skip it */
        memmove(buf, line, r->maps_have);
        err = maps_find(r, addr, ret);
        if (err <= 0)
            return err;
    }
}

/* Without the lines kept (more than REMOTE_MAPS_MAX, or no memory): scan the text afresh. */
static int vma_query_text(struct remote *r, uint64_t addr, struct remote_vma *ret)
{
    char buf[REMOTE_MAPS_BUF];
    size_t have = 0;
    off_t off = 0;

    for (;;) {
        ssize_t n = pread(r->mapsfd, buf + have, sizeof(buf) - 1 - have, off);
        char *line, *nl;

        if (n < 0)
            return -errno;
        if (n == 0)
            return -EFAULT;
        off += n;
        have += (size_t)n;
        buf[have] = '\0';
        line = buf;
        while ((nl = strchr(line, '\n'))) {
            struct remote_vma v;

            *nl = '\0';
            if (parse_maps_line(line, &v) && addr >= v.start && addr < v.end) {
                *ret = v;
                return 0;
            }
            line = nl + 1;
        }
        have = (size_t)(buf + have - line);
        if (have == sizeof(buf) - 1)
            have = 0; /* no maps line is that long; skip it */
        memmove(buf, line, have);
    }
}

static int vma_query_maps(struct remote *r, uint64_t addr, struct remote_vma *ret)
{
    int err;

    if (!r->maps_too_many) {
        err = maps_find(r, addr, ret);
        if (err <= 0)
            return err;
        err = maps_read_to(r, addr, ret);
        if (err != -ENOMEM)
            return err;
        remote_forget_mappings(r);
        r->maps_too_many = true;
    }
    return vma_query_text(r, addr, ret);
}

static int vma_find(struct remote *r, uint64_t addr, struct remote_vma *ret)
{
    int err;

    for (unsigned i = 0; i < r->n_vmas; i++)
        if (addr >= r->vmas[i].start && addr < r->vmas[i].end) {
            *ret = r->vmas[i];
            return 0;
        }
    err =
        remote_have_procmap_query() ? vma_query_ioctl(r, addr, ret) : vma_query_maps(r, addr, ret);
    if (err >= 0)
        vma_remember(r, ret);
    return err;
}

void remote_forget_mappings(struct remote *r)
{
    window_drop();
    free(r->maps);
    free(r->maps_buf);
    r->maps = NULL;
    r->maps_buf = NULL;
    r->n_maps = r->maps_cap = r->maps_have = 0;
    r->maps_off = 0;
    r->maps_eof = r->maps_too_many = false;
    r->n_vmas = r->next_vma = 0;
}

/* How many bytes from @addr on the caller itself could access (read, or write when @write). */
static size_t accessible(struct remote *r, uint64_t addr, size_t len, bool write)
{
    size_t ok = 0;

    if (addr >= USER_ADDR_END || len > USER_ADDR_END - addr)
        return 0;
    if (r->borrowed)
        return len; /* remote_open_memory(): the fd's own bounds are the only faults */
    if (r->mapsfd < 0)
        return 0;
    while (ok < len) {
        struct remote_vma v = {0};

        if (vma_find(r, addr + ok, &v) < 0 || !(write ? v.writable : v.readable))
            break;
        ok = v.end - addr >= len ? len : (size_t)(v.end - addr);
    }
    return ok;
}

/* Readable bytes from @addr on within a private anonymous mapping already looked up (no new
 * query), up to @max; 0 elsewhere (such reads are not kept). */
static size_t known_readable(const struct remote *r, uint64_t addr, size_t max)
{
    for (unsigned i = 0; i < r->n_vmas; i++) {
        const struct remote_vma *v = &r->vmas[i];

        if (addr >= v->start && addr < v->end && v->readable && v->anon_private)
            return v->end - addr < max ? (size_t)(v->end - addr) : max;
    }
    return 0;
}

int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
    struct window *w;
    size_t want;
    ssize_t n;
    int err;

    if (len == 0)
        return 0;
    err = remote_bind(r);
    if (err < 0)
        return err; /* the call is gone: nothing is read */
    w = window_find(r, addr, len);
    if (w) {
        w->last_use = ++window_clock;
        memcpy(buf, w->buf + (addr - w->addr), len);
        return 0;
    }
    if (accessible(r, addr, len, false) < len)
        return -EFAULT;
    /* Never past the page: a page the kernel would not touch is not touched (it could be
     * a file's, not yet read, or behind userfaultfd). */
    want = REMOTE_WINDOW;
    if (want > REMOTE_PAGE - (addr & (REMOTE_PAGE - 1)))
        want = REMOTE_PAGE - (addr & (REMOTE_PAGE - 1));
    want = r->gen && len <= want ? known_readable(r, addr, want) : 0;
    if (want < len) {
        n = pread(r->memfd, buf, len, (off_t)addr);
        /* A short read is an unmapped page (or the caller's mm is gone): copy_from_user
         * fails. */
        return n == (ssize_t)len ? 0 : -EFAULT;
    }
    w = window_victim(r);
    w->gen = 0;
    n = pread(r->memfd, w->buf, want, (off_t)addr);
    if (n < (ssize_t)len)
        return -EFAULT;
    w->gen = r->gen; /* not a compound literal: that would clear the bytes just read */
    w->addr = addr;
    w->last_use = ++window_clock;
    w->len = (size_t)n;
    memcpy(buf, w->buf, len);
    return 0;
}

int remote_write(struct remote *r, uint64_t addr, const void *buf, size_t len)
{
    size_t ok;
    ssize_t n;
    int err;

    if (len == 0)
        return 0;
    err = remote_bind(r);
    if (err < 0)
        return err; /* the call is gone: nothing is written */
    ok = accessible(r, addr, len, true);
    if (ok == 0)
        return -EFAULT;
    n = pwrite(r->memfd, buf, ok, (off_t)addr);
    if (n > 0)
        window_update(r, addr, buf, (size_t)n);
    return n == (ssize_t)len ? 0 : -EFAULT;
}

bool remote_writable(struct remote *r, uint64_t addr, size_t len)
{
    /* Bound before the protections are looked up, as by remote_read() and remote_write(). */
    return len == 0 || (remote_bind(r) >= 0 && accessible(r, addr, len, true) == len);
}

int remote_write_whole(struct remote *r, uint64_t addr, const void *buf, size_t len)
{
    return remote_writable(r, addr, len) ? remote_write(r, addr, buf, len) : -EFAULT;
}

int remote_writev(struct remote *r, const void *buf, size_t len, const struct iovec *riov,
                  size_t n_iov)
{
    const char *p = buf;

    /* One segment at a time, in order: like the kernel's copy_to_iter(), bytes before a
     * faulting segment are written, and a partial transfer is a fault. */
    for (size_t i = 0; i < n_iov && len > 0; i++) {
        size_t chunk = riov[i].iov_len < len ? riov[i].iov_len : len;
        int err;

        err = remote_write(r, (uint64_t)(uintptr_t)riov[i].iov_base, p, chunk);
        if (err < 0)
            return err;
        p += chunk;
        len -= chunk;
    }
    return 0;
}

/* pidfd_getfd() of the caller's @fd, before the check that binds it. Return: the fd; -errno. */
static int take_fd(struct remote *r, int fd)
{
    cleanup_close int nfd = -1;

    if (fd < 0)
        return -EBADF;
    nfd = kernel_pidfd_getfd(r->pidfd, fd);
    if (remote_out_of_fds(nfd))
        handles_flush(); /* make room for the next call */
    /* ESRCH: the pidfd's task is exiting (kernel/pid.c __pidfd_fget() says ESRCH rather than
     * EBADF for a PF_EXITING task with no fd table left; 6.18 and Debian 12's 6.1.0-57 both do
     * so, tests/signals threads::leader_exited_call_is_answered). That is the caller itself
     * only with PIDFD_THREAD; before 6.9 it can be the thread group leader, gone by
     * pthread_exit() while the caller lives on: a call still pending then cannot be served
     * through the leader, and is refused, never left unanswered. */
    if (nfd == -ESRCH)
        return -EXDEV;
    if (nfd < 0 && (r->pidfd_thread || nfd != -EBADF))
        return nfd;
    if (!r->pidfd_thread) {
        /* The group leader's table: the caller's own only if the caller did not unshare it.
         * kcmp(KCMP_FILE) compares the file we got with the caller's fd @fd (or, when the
         * leader had none, asks whether the caller has one); ID_VALID then proves the tid was
         * still the caller's while kcmp looked. */
        pid_t self = getpid();
        long same = nfd >= 0 ? syscall(SYS_kcmp, self, r->tid, KCMP_FILE, nfd, fd)
                             : syscall(SYS_kcmp, r->tid, r->tid, KCMP_FILE, fd, fd);

        if (nfd < 0 && same < 0 && errno == EBADF)
            return -EBADF; /* no such fd in the caller's table either */
        if (nfd < 0 || same != 0)
            return -EXDEV;
    }
    return TAKE_FD(nfd);
}

int remote_getfd(struct remote *r, int fd)
{
    int nfd = take_fd(r, fd);
    int err;

    /* Whatever pidfd_getfd() said: ID_VALID binds the fd (and the handles, if not yet) to the
     * caller, through the caller's own thread pidfd as through the group's and kcmp by number,
     * and says whether the caller is still there. Even with a thread pidfd bound before: a
     * struct pid can pass to another thread of the group (an exec by a non-leader thread takes
     * the leader's, fs/exec.c de_thread()), so only a call still pending says the fd was taken
     * from the caller. */
    err = remote_check(r);
    if (err < 0) {
        if (nfd >= 0)
            (void)close(nfd); /* nothing to do about a failed close */
        return err;
    }
    return nfd;
}

/* The last number of a /proc "NSpid:"-style value, or @fallback. */
static pid_t last_id(const char *v, pid_t fallback)
{
    const char *end, *last;

    if (!v)
        return fallback;
    end = strchr(v, '\n');
    last = v;
    for (const char *p = v; *p && (!end || p < end); p++)
        if (*p == '\t' || *p == ' ')
            last = p + 1;
    return (pid_t)strtol(last, NULL, 10);
}

/* The thread's comm into @buf: through the entry's kept comm file, else opened through @dirfd
 * (or by number, -1) and then offered to the entry @ref (NULL: none) for its next calls.
 * Return: as read_proc_in(). */
static int read_comm(struct handles_ref *ref, int dirfd, pid_t tid, char *buf, size_t buf_len)
{
    int fd = -1, n;

    if (ref && ref->commfd >= 0)
        return read_text(ref->commfd, buf, buf_len);
    n = read_proc_in(dirfd, tid, "comm", buf, buf_len, ref ? &fd : NULL);
    if (fd >= 0 && !handles_keep_comm(ref, fd))
        (void)close(fd); /* nothing to do about a failed close */
    return n;
}

/* The caller's identity through the entry @ref (NULL: none) and its directory @dirfd (or by
 * number, -1). @known: the ids of its cached entry, or NULL to read them (and its uid) from its
 * status file into @ret_ids. Return: 0; -ESRCH when the task is gone (through a cached @dirfd:
 * that thread exited). */
static int read_identity(struct handles_ref *ref, int dirfd, pid_t tid,
                         const struct handles_ids *known, struct remote_identity *ret,
                         struct handles_ids *ret_ids)
{
    char status[4096];
    const char *v;
    ssize_t n;
    int err;

    if (known) {
        *ret_ids = *known;
    } else {
        err = read_proc_in(dirfd, tid, "status", status, sizeof(status), NULL);
        if (err < 0)
            return err;
        v = status_field(status, "Tgid");
        if (!v)
            return -EIO;
        ret_ids->tgid = (pid_t)strtol(v, NULL, 10);
        v = status_field(status, "Uid");
        if (v)
            ret->uid = (uint32_t)strtoul(v, NULL, 10);
        /* "NSpid:\t<outer> ... <innermost>": the last is the tid the caller sees itself;
         * NStgid likewise for its process. */
        ret_ids->ns_tid = last_id(status_field(status, "NSpid"), tid);
        ret_ids->ns_tgid = last_id(status_field(status, "NStgid"), ret_ids->tgid);
        ret_ids->known = true;
    }
    ret->tgid = ret_ids->tgid;
    ret->ns_tid = ret_ids->ns_tid;
    ret->ns_tgid = ret_ids->ns_tgid;

    /* comm and exe change with an exec (comm with PR_SET_NAME too): read at every call. */
    err = read_comm(ref, dirfd, tid, ret->comm, sizeof(ret->comm));
    if (err == -ESRCH)
        return err;
    if (err > 0 && ret->comm[err - 1] == '\n')
        ret->comm[err - 1] = '\0';
    if (dirfd >= 0) {
        n = readlinkat(dirfd, "exe", ret->exe, sizeof(ret->exe) - 1);
    } else {
        char path[64];

        (void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)tid); /* cannot truncate */
        n = readlink(path, ret->exe, sizeof(ret->exe) - 1);
    }
    ret->exe[n > 0 ? n : 0] = '\0';
    return 0;
}

/* Keep the handles of a thread first seen here (a call decided without its memory, audited):
 * its next calls read their identity through them. @dirfd was opened by number before the
 * ID_VALID that just passed, so it names the caller; the pidfd opened now is bound like
 * remote_open()'s by a second ID_VALID. Best effort: nothing is kept on any failure. */
static void keep_handles(struct remote *r, int *dirfd, const struct handles_ids *ids)
{
    struct handles_ref ref;
    int pidfd;
    bool thread = remote_have_pidfd_thread();

    pidfd = kernel_pidfd_open(thread ? r->tid : ids->tgid, thread ? PIDFD_THREAD : 0);
    if (pidfd < 0)
        return;
    if (remote_check(r) < 0 || !handles_add(r->tid, *dirfd, pidfd, thread, &ref)) {
        (void)close(pidfd); /* nothing to do about a failed close */
        return;
    }
    *dirfd = -1; /* the cache's now */
    handles_set_ids(&ref, ids);
    handles_put(&ref, false);
}

int remote_identity(struct remote *r, bool with_uid, struct remote_identity *ret)
{
    struct handles_ref own = HANDLES_REF_NULL;
    struct handles_ref *ref = r->cached.entry ? &r->cached : NULL;
    struct handles_ids ids = {0};
    cleanup_close int dirfd = -1;
    int err;

    *ret = (struct remote_identity){0};
    if (!ref && handles_get(r->tid, &own))
        ref = &own;
    if (ref) {
        /* Through the cached directory: reads fail once its thread has exited. */
        err = read_identity(ref, ref->dirfd, r->tid, with_uid || !ref->ids.known ? NULL : &ref->ids,
                            ret, &ids);
        if (err == -ESRCH && ref == &own) {
            handles_put(&own, true); /* that thread is gone; the number may be the caller's */
            ref = NULL;
        } else if (err < 0) {
            goto out;
        }
    }
    if (!ref) {
        /* By number, through a directory opened now; ID_VALID below says it was the caller's. */
        if (r->tid > 0)
            dirfd = open_proc(r->tid, "", O_PATH | O_DIRECTORY);
        err = read_identity(NULL, dirfd, r->tid, NULL, ret, &ids);
        if (err < 0)
            goto out;
    }
    /* Only a call still pending now says that what was read was the caller's, even through
     * handles bound before: an exec by another thread of its group moves the leader's struct
     * pid, and with it these files, to that thread (fs/exec.c de_thread()). */
    err = remote_check(r) < 0 ? -ESRCH : 0;
    if (err < 0)
        goto out;
    if (ref && !ref->ids.known)
        handles_set_ids(ref, &ids);
    else if (!ref && dirfd >= 0)
        keep_handles(r, &dirfd, &ids);
out:
    if (own.entry)
        handles_put(&own, false);
    return err;
}

/* The caller's status file, opened by number and bound by ID_VALID: it names the caller's task
 * (fs/proc/base.c: the inode holds the struct pid, and each read looks that up), so a read
 * never shows the task that takes the number over, and fails with ESRCH once the caller is
 * gone. */
int remote_status_open(int listener, uint64_t id, pid_t tid)
{
    int fd, err;

    if (tid <= 0)
        return -ESRCH;
    fd = open_proc(tid, "status", O_RDONLY);
    if (fd < 0)
        return fd;
    err = kernel_notif_id_valid(listener, id);
    if (err < 0) {
        (void)close(fd);
        return -ESRCH; /* the tid may be someone else's by now */
    }
    return fd;
}

/* The fields of a status text remote_status_pending() needs, in one pass over its lines (the
 * watcher reads thousands a second). */
struct status_signals {
    char state;
    long threads;
    uint64_t sig_pnd, shd_pnd, sig_blk, sig_ign, sig_cgt;
};

static void parse_status_signals(const char *status, struct status_signals *ret)
{
    static const char *const keys[] = {"SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:"};
    uint64_t *const sets[] = {&ret->sig_pnd, &ret->shd_pnd, &ret->sig_blk, &ret->sig_ign,
                              &ret->sig_cgt};

    *ret = (struct status_signals){0};
    for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (p[0] == 'T' && strncmp(p, "Threads:", 8) == 0) {
            ret->threads = strtol(p + 8, NULL, 10);
        } else if (p[0] == 'S' && strncmp(p, "State:", 6) == 0) {
            ret->state = p[6 + strspn(p + 6, " \t")];
        } else if (p[0] == 'S' && (p[1] == 'i' || p[1] == 'h')) {
            for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strncmp(p, keys[i], 7) == 0) {
                    *sets[i] = strtoull(p + 7, NULL, 16);
                    break;
                }
        }
    }
}

int remote_status_pending(int statusfd)
{
    /* Signals whose default action is to ignore them do not interrupt a syscall unless caught:
     * kernel/signal.c sig_kernel_ignore(). Bit n-1 stands for signal n. */
    const uint64_t default_ignored = (1ull << (SIGCHLD - 1)) | (1ull << (SIGURG - 1)) |
                                     (1ull << (SIGWINCH - 1)) | (1ull << (SIGCONT - 1));
    char status[4096];
    struct status_signals st;
    uint64_t pending;
    ssize_t n;

    n = pread(statusfd, status, sizeof(status) - 1, 0);
    if (n < 0)
        return errno == ESRCH ? -ESRCH : -errno;
    status[n] = '\0';
    parse_status_signals(status, &st);
    /* A thread that has exited (a zombie until reaped, "Z", or dead, "X") is in no call. */
    if (st.state == 'Z' || st.state == 'X')
        return -ESRCH;
    /* Thread-directed signals always wake this thread. A process-wide signal may be taken by
     * any thread that does not block it, so only a single-threaded caller is sure to be the
     * one interrupted (docs/recvmmsg-compat.md rule 29); otherwise leave it to another
     * thread. */
    pending = st.sig_pnd;
    if (st.threads == 1)
        pending |= st.shd_pnd;
    return (pending & ~st.sig_blk & ~st.sig_ign & (st.sig_cgt | ~default_ignored)) != 0;
}

int remote_signal_pending(struct remote *r)
{
    if (r->statusfd < 0) {
        /* remote_open_memory(): no call behind it to bind the file to. */
        int fd = r->borrowed ? open_proc(r->tid, "status", O_RDONLY)
                             : remote_status_open(r->listener, r->id, r->tid);

        if (fd < 0)
            return fd;
        r->statusfd = fd;
    }
    return remote_status_pending(r->statusfd);
}

int remote_kill(struct remote *r)
{
    int err = remote_bind(r);

    if (err < 0)
        return err;
    /* SIGKILL takes the whole thread group whichever thread it is sent to
     * (kernel/signal.c complete_signal()), so no PIDFD_SIGNAL_THREAD_GROUP is needed. */
    return kernel_pidfd_send_signal(r->pidfd, SIGKILL, 0);
}
