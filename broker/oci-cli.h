/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "oci-profile" and "check-oci" subcommands (argument parsing and output only). */
#ifndef MMSG_BROKER_OCI_CLI_H
#define MMSG_BROKER_OCI_CLI_H

/* mmsgate oci-profile [--listener PATH] [--metadata M]: print the seccomp section. Return: the
 * exit status (0; 2 bad usage). */
int oci_cmd_profile(int argc, char **argv);

/* mmsgate check-oci FILE: report the recvmmsg routes FILE leaves unsupervised. Return: the exit
 * status (0 none; 1 some; 2 unreadable, not JSON, or bad usage). */
int oci_cmd_check(int argc, char **argv);

#endif
