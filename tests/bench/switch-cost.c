/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the machine charges for what a supervised call cannot avoid: one system call, and one
 * wake-up of another task on the same CPU, between threads of one process and between
 * processes, with 2 tasks taking turns and with N. Every notification costs two such
 * wake-ups (caller to broker, broker to caller); with N processes calling, each one lands in
 * another address space. Not supervised, no seccomp: the floor under scaling.sh's rows.
 *
 * A token goes round a ring of N tasks over pipes, all pinned to one CPU: each hop is one
 * read() that sleeps, one write() that wakes the next task, and one switch to it. Rounds
 * alternate threads and processes; the medians are printed with their ratio to the first
 * ring of threads (2 by default). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS 4096

static int (*pipes)[2];
static int n_tasks;

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "switch-cost: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Pass the token on until it says 'q' (passed on too, so every member ends). */
static void *member(void *arg)
{
    long i = (long)arg;
    char c;

    for (;;) {
        if (read(pipes[i][0], &c, 1) != 1)
            return NULL;
        if (write(pipes[(i + 1) % n_tasks][1], &c, 1) != 1)
            return NULL;
        if (c == 'q')
            return NULL;
    }
}

/* ns per hop around a ring of @n tasks, threads or processes. */
static double ring(int n, int threads, long hops)
{
    pthread_t tids[MAX_TASKS];
    pid_t pids[MAX_TASKS];
    double t0, t1;
    char c = 'x';

    n_tasks = n;
    pipes = calloc((size_t)n, sizeof(*pipes));
    if (!pipes)
        die("calloc");
    for (int i = 0; i < n; i++)
        if (pipe(pipes[i]) < 0)
            die("pipe");
    for (long i = 1; i < n; i++) {
        if (threads) {
            if (pthread_create(&tids[i], NULL, member, (void *)i) != 0)
                die("pthread_create");
        } else {
            pids[i] = fork();
            if (pids[i] < 0)
                die("fork");
            if (pids[i] == 0) {
                member((void *)i);
                _exit(0);
            }
        }
    }
    /* One lap to warm up: every member has run once. */
    if (write(pipes[1 % n][1], &c, 1) != 1 || read(pipes[0][0], &c, 1) != 1)
        die("warm-up lap");
    t0 = now_ns();
    for (long h = 0; h < hops; h += n)
        if (write(pipes[1 % n][1], &c, 1) != 1 || read(pipes[0][0], &c, 1) != 1)
            die("lap");
    t1 = now_ns();
    c = 'q';
    if (write(pipes[1 % n][1], &c, 1) != 1 || read(pipes[0][0], &c, 1) != 1)
        die("last lap");
    for (long i = 1; i < n; i++) {
        if (threads)
            pthread_join(tids[i], NULL);
        else
            waitpid(pids[i], NULL, 0);
    }
    for (int i = 0; i < n; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    free(pipes);
    return (t1 - t0) / (double)((hops + n - 1) / n * n);
}

static double syscall_ns(long calls)
{
    double t0 = now_ns();

    for (long i = 0; i < calls; i++)
        (void)syscall(SYS_getppid);
    return (now_ns() - t0) / (double)calls;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: switch-cost [--tasks \"2 10 100 1000\"] [--hops N] [--rounds R] [--cpu C]\n"
               "Prints ns per system call and per wake-up-and-switch between N threads or N\n"
               "processes taking turns on one CPU, medians of R interleaved rounds.\n");
}

int main(int argc, char **argv)
{
    const char *tasks = "2 10 100 1000";
    long hops = 100000;
    int rounds = 3, cpu = 0, list[16], n_list = 0;
    double results[16][2][16], base;
    cpu_set_t set;
    char *copy, *tok, *save;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--tasks") == 0)
            tasks = argv[++i];
        else if (strcmp(argv[i], "--hops") == 0)
            hops = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cpu") == 0)
            cpu = atoi(argv[++i]);
        else {
            usage(stderr);
            return 2;
        }
    }
    copy = strdup(tasks);
    for (tok = strtok_r(copy, " ,", &save); tok && n_list < 16; tok = strtok_r(NULL, " ,", &save))
        list[n_list++] = atoi(tok);
    free(copy);
    if (hops < 1 || rounds < 1 || rounds > 16 || n_list == 0) {
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < n_list; i++)
        if (list[i] < 2 || list[i] > MAX_TASKS) {
            fprintf(stderr, "switch-cost: tasks must be 2..%d\n", MAX_TASKS);
            return 2;
        }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        die("sched_setaffinity");
    signal(SIGPIPE, SIG_IGN);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n_list; i++)
            for (int threads = 1; threads >= 0; threads--)
                results[i][threads][r] = ring(list[i], threads, hops);
    printf("one CPU (%d), %d rounds of %ld hops, medians\n", cpu, rounds, hops);
    printf("getppid(): %.0f ns a call\n", syscall_ns(200000));
    printf("%-10s %6s %10s   x %d threads\n", "tasks", "N", "ns/hop", list[0]);
    base = median(results[0][1], rounds);
    for (int threads = 1; threads >= 0; threads--)
        for (int i = 0; i < n_list; i++) {
            double m = median(results[i][threads], rounds);

            printf("%-10s %6d %10.0f %10.2f\n", threads ? "threads" : "processes", list[i], m,
                   m / base);
        }
    return 0;
}
