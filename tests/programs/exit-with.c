/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Target whose only job is its end: "exit-with CODE" exits with CODE, "exit-with --signal N"
 * dies by signal N (default action, no core file), for mmsgate run's exit status mapping. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int parse_int(const char *s, int lo, int hi, int *ret)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct rlimit no_core = {0, 0};
    int v;

    if (argc == 2 && parse_int(argv[1], 0, 255, &v) == 0)
        return v;
    if (argc != 3 || strcmp(argv[1], "--signal") != 0 || parse_int(argv[2], 1, 64, &v) < 0) {
        (void)fprintf(stderr, "usage: exit-with CODE | exit-with --signal N\n");
        return 2;
    }
    /* A core dump would only slow the test down; the status is the same without it. */
    (void)setrlimit(RLIMIT_CORE, &no_core);
    if (signal(v, SIG_DFL) == SIG_ERR)
        return 1;
    if (v == SIGSEGV) {
        /* A real fault, as a crashing program would produce. */
        volatile int *volatile null_ptr = NULL;

        *null_ptr = 1;
    }
    (void)raise(v);
    return 1;
}
