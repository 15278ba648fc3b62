/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One process must not take every broker worker (issue 6 finding 4). Run under "mmsgate run"
 * with a policy that gives threads named "hog" a long emulated wait and "hogcap" a 1 s one.
 *   starve workers N: a hog process parks N threads in recvmmsg (299) on a quiet socket; then a
 *     victim process sets alarm(2), makes a capped call (thread name "vcap") and a call with no
 *     cap ("vwait") that only the alarm can end. Prints
 *     "result cap_ms=A cap_errno=E alarm_ms=B alarm_errno=F" (-1 and "stuck" if the victim had
 *     not finished 20 s later).
 *   starve fds N: N threads of one process wait at once ("hogcap"); prints
 *     "result calls=N eagain=A eperm=B other=C restart=R (last ERRNO)" (R: errno 512). */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

#define THREADS_MAX 2000

static int quiet = -1;
static atomic_int n_eagain, n_eperm, n_other, other_err, n_restart;

static int64_t now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    printf("error %s: %s\n", what, strerror(errno));
    fflush(stdout);
    _exit(1);
}

static int quiet_socket(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("socket");
    return s;
}

/* One blocking recvmmsg with vlen 1 on the quiet socket; -errno or the count. */
static long one_call(int s)
{
    char buf[16];
    struct iovec iov = {buf, sizeof(buf)};
    struct mmsghdr v = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    long r = syscall(NR_X86_64_RECVMMSG, s, &v, 1, 0, NULL);

    return r < 0 ? -errno : r;
}

static void *hog(void *name)
{
    long r;

    (void)prctl(PR_SET_NAME, name);
    r = one_call(quiet);
    if (r == -EAGAIN)
        atomic_fetch_add(&n_eagain, 1);
    else if (r == -EPERM)
        atomic_fetch_add(&n_eperm, 1);
    else {
        atomic_fetch_add(&n_other, 1);
        atomic_store(&other_err, (int)-r);
        if (r == -512) /* ERESTARTSYS, which must never reach user space */
            atomic_fetch_add(&n_restart, 1);
    }
    return NULL;
}

static int start_hogs(int n, char *name, pthread_t *th)
{
    pthread_attr_t attr;

    quiet = quiet_socket();
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], &attr, hog, (void *)name) != 0)
            die("pthread_create");
    return 0;
}

/* Threads of @pid inside syscall @nr (blocked there, or waiting for the broker). */
static int threads_in(pid_t pid, long nr)
{
    char dir[64];
    struct dirent *de;
    DIR *d;
    int n = 0;

    (void)snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    d = opendir(dir);
    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char path[384], buf[64] = "";
        FILE *f;

        if (de->d_name[0] == '.')
            continue;
        (void)snprintf(path, sizeof(path), "%.63s/%.255s/syscall", dir, de->d_name);
        f = fopen(path, "re");
        if (f && fgets(buf, sizeof(buf), f) && strtol(buf, NULL, 10) == nr)
            n++;
        if (f)
            fclose(f);
    }
    closedir(d);
    return n;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void victim(int out)
{
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: the call ends with EINTR */
    int s = quiet_socket();
    int64_t t0, t1;
    long cap_r, wait_r;
    char line[256];
    int n;

    if (sigaction(SIGALRM, &sa, NULL) < 0)
        die("sigaction");
    (void)prctl(PR_SET_NAME, "vcap");
    t0 = now_ms();
    alarm(2);
    cap_r = one_call(s);
    t1 = now_ms();
    (void)prctl(PR_SET_NAME, "vwait");
    wait_r = one_call(s);
    n = snprintf(line, sizeof(line),
                 "result cap_ms=%lld cap_errno=%s alarm_ms=%lld alarm_errno=%s\n",
                 (long long)(t1 - t0), cap_r < 0 ? progs_errno_name((int)-cap_r) : "none",
                 (long long)(now_ms() - t0), wait_r < 0 ? progs_errno_name((int)-wait_r) : "none");
    if (write(out, line, (size_t)n) != n)
        _exit(1);
    _exit(0);
}

static int workers(int n)
{
    static pthread_t th[THREADS_MAX];
    int64_t deadline = now_ms() + 30000;
    int out[2], in = 0;
    pid_t hogs, vic;
    char line[256] = "";

    hogs = fork();
    if (hogs == 0) {
        start_hogs(n, (char[]){"hog"}, th);
        for (;;)
            pause();
    }
    while ((in = threads_in(hogs, NR_X86_64_RECVMMSG)) < n && now_ms() < deadline)
        (void)usleep(10000);
    printf("hogs waiting=%d\n", in);
    if (pipe(out) < 0)
        die("pipe");
    vic = fork();
    if (vic == 0) {
        close(out[0]);
        victim(out[1]);
    }
    close(out[1]);
    {
        struct pollfd p = {.fd = out[0], .events = POLLIN};

        if (poll(&p, 1, 20000) == 1 && read(out[0], line, sizeof(line) - 1) > 0)
            printf("%s", line);
        else
            printf("result cap_ms=-1 cap_errno=stuck alarm_ms=-1 alarm_errno=stuck\n");
    }
    (void)kill(vic, SIGKILL);
    (void)kill(hogs, SIGKILL);
    (void)waitpid(vic, NULL, 0);
    (void)waitpid(hogs, NULL, 0);
    return 0;
}

static int fds(int n)
{
    static pthread_t th[THREADS_MAX];

    start_hogs(n, (char[]){"hogcap"}, th);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    printf("result calls=%d eagain=%d eperm=%d other=%d restart=%d (last %s)\n", n,
           atomic_load(&n_eagain), atomic_load(&n_eperm), atomic_load(&n_other),
           atomic_load(&n_restart),
           atomic_load(&n_other) ? progs_errno_name(atomic_load(&other_err)) : "none");
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc == 3 ? atoi(argv[2]) : 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (n <= 0 || n > THREADS_MAX)
        return 2;
    if (strcmp(argv[1], "workers") == 0)
        return workers(n);
    if (strcmp(argv[1], "fds") == 0)
        return fds(n);
    return 2;
}
