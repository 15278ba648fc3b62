#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build and run the recvmmsg benchmark (tests/bench/README.md). Not a CTest test: it prints
# numbers and exits 0 whatever they are. Arguments go to bench: --calls N, --runs R, --cpu C...
# BUILD_DIR (default: build) is the CMake build directory; it must be configured already.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
[ -f "$build/CMakeCache.txt" ] || { echo "run-bench.sh: $build is not a configured build directory (cmake -S $top -B $build)" >&2; exit 2; }
# Only our targets (and mmsgate, which bench depends on): others work in the same tree.
cmake --build "$build" --target bench >/dev/null
exec "$build/tests/bench/bench" "$@"
