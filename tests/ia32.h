/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether this kernel runs i386 code at all. Some hosts build IA32 emulation in but switch it
 * off (ia32_emulation=false): every -m32 program then fails execve() with ENOEXEC and int $0x80
 * faults. The suites skip their i386 cases there, saying why; the VM suite (tests/vm), whose
 * Debian kernel has IA32 emulation on, runs them. */
#ifndef MMSG_TESTS_IA32_H
#define MMSG_TESTS_IA32_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

/* The probe: exit-with32, which exits at once (status 2, a usage error) when run without
 * arguments. Any other i386 program would do only if it never waits: try-recvmmsg32 with no
 * arguments blocks in recvmmsg, which hung every probe on a kernel that does run i386 code. */
#define IA32_PROBE MMSG_PROGRAMS_DIR "/exit-with32"

/* Probe once by executing IA32_PROBE. */
static inline bool ia32_available(void)
{
    const char *prog32 = IA32_PROBE;
    static int known = -1;
    pid_t pid;
    int status;

    if (known >= 0)
        return known;
    pid = fork();
    if (pid == 0) {
        char *const argv[] = {(char *)(uintptr_t)prog32, NULL};
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

        if (devnull >= 0) {
            (void)dup2(devnull, STDOUT_FILENO);
            (void)dup2(devnull, STDERR_FILENO);
        }
        execv(prog32, argv);
        _exit(errno == ENOEXEC ? 126 : 127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return false;
    known = !(WIFEXITED(status) && WEXITSTATUS(status) == 126);
    return known;
}

#define IA32_SKIP_REASON                                                        \
    "this kernel does not run i386 code (IA32 emulation off: execve ENOEXEC); " \
    "the VM suite (tests/vm) runs this case"

#endif
