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

#include "progs.h"

int main(int argc, char **argv)
{
    struct rlimit no_core = {0, 0};
    long v;

    if (argc == 2 && progs_parse_long(argv[1], 0, 255, &v) == 0)
        return (int)v;
    if (argc != 3 || strcmp(argv[1], "--signal") != 0 || progs_parse_long(argv[2], 1, 64, &v) < 0) {
        (void)fprintf(stderr, "usage: exit-with CODE | exit-with --signal N\n");
        return 2;
    }
    /* A core dump would only slow the test down; the status is the same without it. */
    (void)setrlimit(RLIMIT_CORE, &no_core);
    if (signal((int)v, SIG_DFL) == SIG_ERR)
        return 1;
    if (v == SIGSEGV) {
        /* A real fault, as a crashing program would produce. */
        volatile int *volatile null_ptr = NULL;

        *null_ptr = 1;
    }
    (void)raise((int)v);
    return 1;
}
