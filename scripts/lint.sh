#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Static analysis, zero findings or exit 1: clang-tidy (checks in .clang-tidy), cppcheck and
# scan-build over policy/, broker/ and examples/, and include/ through the sources that use it.
# Files come from the compilation database, so sources added later are checked too.
#   scripts/lint.sh              configures build-lint/ with clang (compile_commands.json only)
#   scripts/lint.sh BUILD_DIR    uses BUILD_DIR/compile_commands.json (the CMake "lint" target)
# Suppressions live next to what they suppress: .clang-tidy for whole checks (each with its
# reason), "NOLINT(check): reason" or "cppcheck-suppress id" comments on single lines.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in
-h | --help)
    echo "usage: scripts/lint.sh [BUILD_DIR]"
    exit 0
    ;;
esac
"$root/scripts/deps.sh"
jobs=$(nproc)
if [[ -n "${1:-}" ]]; then
    build=$(cd "$1" && pwd)
else
    build="$root/build-lint"
    # Tests are not linted (test code trades rigour for reach), so they are not configured.
    CC=clang cmake -S "$root" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DMMSG_TESTS=OFF \
        >/dev/null
fi
db="$build/compile_commands.json"
if [[ ! -f "$db" ]]; then
    echo "lint.sh: no $db (configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Only our own sources: the part of the database under the linted directories.
filter="^$root/(policy|broker|examples)/"
jq --arg re "$filter" '[.[] | select(.file | test($re))]' "$db" >"$tmp/compile_commands.json"
mapfile -t files < <(jq -r '.[].file' "$tmp/compile_commands.json" | sort -u)
if ((${#files[@]} == 0)); then
    echo "lint.sh: no sources under policy/, broker/ or examples/ in $db" >&2
    exit 2
fi
status=0

echo "-- clang-tidy: ${#files[@]} files"
# The filtered database has the same commands; -p picks the right one for each file.
if ! printf '%s\0' "${files[@]}" |
    xargs -0 -n 1 -P "$jobs" clang-tidy -p "$tmp" --quiet --use-color=false 2>/dev/null; then
    echo "lint.sh: clang-tidy found problems (above)" >&2
    status=1
fi

echo "-- cppcheck"
if ! cppcheck --project="$tmp/compile_commands.json" --enable=warning,performance,portability \
    --error-exitcode=1 --inline-suppr --quiet -j "$jobs" \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]'; then
    echo "lint.sh: cppcheck found problems (above)" >&2
    status=1
fi

echo "-- scan-build"
# Its own build of the libraries, the executable and the example (no tests): the analyzer runs
# as the compiler. unix.Malloc is off for the reason given in .clang-tidy (cleanup attribute).
scan="$root/build-scan"
rm -rf "$scan"
if ! { scan-build --use-cc=clang -o "$tmp/scan" cmake -S "$root" -B "$scan" -DMMSG_TESTS=OFF \
    >/dev/null &&
    scan-build --use-cc=clang -o "$tmp/scan" --status-bugs -disable-checker unix.Malloc \
        cmake --build "$scan" --parallel "$jobs" >"$tmp/scan.log" 2>&1; }; then
    grep -E 'warning:|error:|bugs found' "$tmp/scan.log" >&2 || cat "$tmp/scan.log" >&2
    echo "lint.sh: scan-build found problems (above)" >&2
    status=1
fi

if ((status == 0)); then
    echo "lint: clean (clang-tidy, cppcheck, scan-build; ${#files[@]} files)"
fi
exit "$status"
