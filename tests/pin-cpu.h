/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keeping a loopback sender on one CPU. net/core/dev.c netif_rx(): a loopback datagram waits in
 * the backlog of the CPU that sent it, so a sender that migrates between two sends can leave them
 * in two backlogs, which the kernel may deliver in either order, natively (seen on 6.1 under TCG
 * in signals' UDP flood and in the differential's udp6-namelen-full). One CPU, one backlog: a
 * reordering is then the broker's. Header-only: one function, for the target programs that send
 * datagrams whose order a test checks. */
#ifndef MMSG_TEST_PIN_CPU_H
#define MMSG_TEST_PIN_CPU_H

#include <sched.h>

/* Pin the calling thread to the CPU it runs on, saving its mask in @was when not NULL (to give it
 * back with sched_setaffinity()). Return: 0; -1 with errno set. */
static inline int pin_to_this_cpu(cpu_set_t *was)
{
    int cpu = sched_getcpu();
    cpu_set_t one;

    if (was && sched_getaffinity(0, sizeof(*was), was) < 0)
        return -1;
    CPU_ZERO(&one);
    CPU_SET(cpu < 0 ? 0 : cpu, &one);
    return sched_setaffinity(0, sizeof(one), &one);
}

#endif
