#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install dependencies, configure, build and run the whole test suite.
#   scripts/test.sh              build/      (normal build)
#   scripts/test.sh --sanitize   build-san/  (-DMMSG_SANITIZE=ON: ASan+UBSan on libraries and tests)
#   scripts/test.sh --clang      build-clang/ (CC=clang: what users of the other compiler build)
#   scripts/test.sh --no-vm      skip the last stage: the suite again on Debian 12's own kernel
#                                (6.1) in a qemu VM, tests/vm/run.sh (normal build only)
# Exits non-zero on any failure, including a suite with no tests registered.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build"
cmake_args=()
vm=true
for arg in "$@"; do
    case "$arg" in
    --sanitize)
        build="$root/build-san"
        cmake_args+=(-DMMSG_SANITIZE=ON)
        vm=false # the VM stage runs the normal build once; ASan adds nothing kernel-specific
        ;;
    --clang)
        build="$root/build-clang"
        export CC=clang
        vm=false # likewise: the compiler changes nothing the kernel sees
        ;;
    --no-vm) vm=false ;;
    -h | --help)
        echo "usage: scripts/test.sh [--sanitize | --clang] [--no-vm]"
        exit 0
        ;;
    *)
        echo "test.sh: unknown argument: $arg (usage: scripts/test.sh [--sanitize | --clang] [--no-vm])" >&2
        exit 2
        ;;
    esac
done

"$root/scripts/deps.sh"
cmake -S "$root" -B "$build" "${cmake_args[@]}" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
# Sanitizer reports must fail the test, with a stack to read. Leave the user's settings alone.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# -j1: integration tests measure elapsed time and CPU; running them side by side skews both.
ctest --test-dir "$build" --output-on-failure -j1 --no-tests=error
if $vm; then
    # The same suite on the kernel Debian 12 ships (issue 7); loud, and fatal in CI, when the VM
    # cannot run here.
    BUILD_DIR="$build" "$root/tests/vm/run.sh"
fi
