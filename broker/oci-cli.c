/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "mmsgate oci-profile" and "mmsgate check-oci": command lines around oci-profile.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "internal/macros.h"
#include "oci-cli.h"
#include "oci-profile.h"

#define LOG_COMPONENT "oci"
#include "log.h"

static void help_profile(FILE *f)
{
    (void)fputs(
        "Usage: mmsgate oci-profile [--listener PATH] [--metadata M]\n"
        "Print the seccomp section that sends every recvmmsg route (x86_64 recvmmsg, i386\n"
        "recvmmsg, recvmmsg_time64 and socketcall(SYS_RECVMMSG); x32 too) to the agent at\n"
        "PATH (default " OCI_DEFAULT_LISTENER "), with listenerMetadata M (for example\n"
        "\"policy=NAME\"). Use it as a profile (podman --security-opt seccomp=FILE) or merge\n"
        "its architectures, listenerPath, listenerMetadata and syscalls into yours, and remove\n"
        "recvmmsg, recvmmsg_time64 and socketcall from your allow rules; then run\n"
        "mmsgate check-oci on the result. See docs/containers.md.\n",
        f);
}

int oci_cmd_profile(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listener", required_argument, NULL, 'l'},
        {"metadata", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {},
    };
    const char *listener = OCI_DEFAULT_LISTENER, *metadata = NULL;
    cleanup_json json_t *p = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "l:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listener = optarg;
            break;
        case 'm':
            metadata = optarg;
            break;
        case 'h':
            help_profile(stdout);
            return 0;
        default:
            help_profile(stderr);
            return 2;
        }
    }
    if (optind != argc || listener[0] != '/') {
        log_error("oci-profile takes no arguments; --listener needs an absolute path");
        return 2;
    }
    p = oci_profile_new(listener, metadata);
    if (!p || json_dumpf(p, stdout, JSON_INDENT(2)) < 0) {
        log_error("printing the profile failed");
        return 2;
    }
    (void)putchar('\n'); /* a failed stdout shows in the exit status of the pipeline's reader */
    return 0;
}

int oci_cmd_check(int argc, char **argv)
{
    cleanup_json json_t *doc = NULL;
    struct oci_findings f;
    json_error_t err;
    int r;

    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        (void)fputs(
            "Usage: mmsgate check-oci FILE\n"
            "Read an OCI config.json or a seccomp profile (OCI, Docker or Podman format) and\n"
            "report every recvmmsg route it leaves unsupervised: a route allowed, notified\n"
            "only conditionally, socketcall allowed outright, i386 missing, no listenerPath.\n"
            "Exit status: 0 every route supervised, 1 some are not, 2 unreadable.\n",
            argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    doc = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        fprintf(stderr, "%s:%d:%d: %s\n", argv[1], err.line, err.column, err.text);
        return 2;
    }
    r = oci_check(doc, &f);
    for (size_t i = 0; i < f.n; i++)
        printf("%s: unsupervised: %s\n", argv[1], f.text[i]);
    if (f.n_dropped)
        printf("%s: %zu more not shown\n", argv[1], f.n_dropped);
    for (size_t i = 0; i < f.n_notes; i++)
        printf("%s: note: %s\n", argv[1], f.notes[i]);
    if (r < 0)
        return 2;
    if (f.n == 0)
        printf("%s: every recvmmsg route reaches mmsgate\n", argv[1]);
    return f.n ? 1 : 0;
}
