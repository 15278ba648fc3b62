/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Which waiting callers have a signal pending, for the pool's watcher thread alone: one status
 * file per watched call, opened and bound once (remote_status_open()) and then read with one
 * pread per look, where a probe from scratch costs an open, an ID_VALID and a close too. Not
 * thread-safe: one thread owns it. */
struct sigwatch;

/* Files kept open at most (and at most a quarter of RLIMIT_NOFILE); past that a look opens,
 * reads and closes (the same answer, dearer). */
#define SIGWATCH_MAX 1024

int sigwatch_new(struct sigwatch **ret);
struct sigwatch *sigwatch_free(struct sigwatch *w);

/* Look at the caller of call @id on @listener (thread @tid). Return: 1 a signal that
 * interrupts the call is pending; 0 none; -ESRCH the caller is gone; -errno our own failure
 * (-EMFILE), which says nothing about the caller. */
int sigwatch_check(struct sigwatch *w, int listener, uint64_t id, pid_t tid, uint64_t now_ns);

/* Close the files of calls not looked at since @stale_ns before @now_ns: their calls have
 * ended (a live one is looked at every emu_signal_poll_ms(), at most 500 ms apart). */
void sigwatch_sweep(struct sigwatch *w, uint64_t now_ns, uint64_t stale_ns);
