#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install what building and testing mmsgate need on Debian 12. Idempotent: when every package is
# already installed it does nothing (no apt-get update), so re-runs are fast. Quiet unless apt
# fails, in which case its full output is shown. Needs root (or sudo) only when installing.
set -euo pipefail

packages=(
    cmake make pkg-config     # build system (ctest comes with cmake)
    gcc gcc-multilib          # compiler, and the i386 libc for -m32 targets
    libseccomp-dev            # filters and syscall name resolution
    libcap-dev                # dropping the target's capabilities
    libjansson-dev            # policy parsing, audit JSON
    libcriterion-dev          # the test suite
    clang-format              # .ci/run format check (clang-format 14 on Debian 12)
    jq                        # scripts/demo.sh audit table, scripts/lint.sh
    libsystemd-dev            # --log journal, --audit journal: (sd_journal_sendv)
    systemd                   # journald and journalctl for the journal test
    go-md2man                 # man pages from docs/*.md at build time
    man-db                    # the install test renders every page (man -l)
    # libsystemd-dev also serves the agent: socket activation, sd_notify readiness, fd store
    runc crun podman          # tests/containers: real OCI runtimes hand listeners to the agent
    busybox-static            # tests/containers: the containers' rootfs
    clang                     # .ci/run clang build, scripts/fuzz.sh
    libclang-rt-14-dev        # libFuzzer and clang's sanitizer runtimes (scripts/fuzz.sh)
    clang-tidy cppcheck       # scripts/lint.sh
    clang-tools perl          # scan-build (scripts/lint.sh; a Perl script)
)

missing=()
for p in "${packages[@]}"; do
    # db:Status-Status is "installed" only for a fully installed package (not half-configured).
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
        echo "deps.sh: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo -n)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
run() {
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@" </dev/null >>"$log" 2>&1; then
        echo "deps.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}
# Wait for another apt/dpkg (e.g. unattended-upgrades on a fresh machine) instead of failing.
lock=(-o DPkg::Lock::Timeout=300)
run apt-get -q "${lock[@]}" update
run apt-get -q "${lock[@]}" install -y --no-install-recommends "${missing[@]}"
