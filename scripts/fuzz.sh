#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run every libFuzzer target (tests/fuzz/fuzz_*.c) for a bounded time against its corpus in the
# repository (tests/fuzz/corpus/<target>/), built with clang, -DMMSG_FUZZ=ON, ASan and UBSan, into
# build-fuzz/. A crash, leak, sanitizer report or timeout fails the run; its input is kept in
# build-fuzz/artifacts/. New inputs found go to a scratch directory, so the corpus stays as
# committed.
#   scripts/fuzz.sh [TARGET...]    FUZZ_SECONDS (default 60) per target; all targets by default
#   scripts/fuzz.sh --merge        after each run, add to the committed corpus the new inputs
#                                  that add coverage (-merge=1); then commit the result
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"
merge=false
targets=()
for a in "$@"; do
    case "$a" in
    --merge) merge=true ;;
    -h | --help)
        sed -n '3,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "fuzz.sh: unknown option $a" >&2
        exit 2
        ;;
    *) targets+=("$a") ;;
    esac
done
if ((${#targets[@]} == 0)); then
    # Every target source, so that one added later is run without editing this script.
    for src in "$root"/tests/fuzz/fuzz_*.c; do
        [[ -e "$src" ]] && targets+=("$(basename "$src" .c)")
    done
fi
if ((${#targets[@]} == 0)); then
    echo "fuzz.sh: no tests/fuzz/fuzz_*.c targets" >&2
    exit 1
fi

"$root/scripts/deps.sh"
CC=clang cmake -S "$root" -B "$build" -DMMSG_FUZZ=ON -DMMSG_TESTS=OFF >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null
mkdir -p "$build/artifacts"
# Sanitizer reports are failures with a stack to read; leaks too (LeakSanitizer).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for t in "${targets[@]}"; do
    bin="$build/tests/fuzz/$t"
    corpus="$root/tests/fuzz/corpus/$t"
    if [[ ! -x "$bin" ]]; then
        echo "fuzz.sh: $t: no binary $bin (add the target to tests/fuzz/CMakeLists.txt)" >&2
        status=1
        continue
    fi
    if [[ ! -d "$corpus" ]] || [[ -z "$(ls -A "$corpus")" ]]; then
        echo "fuzz.sh: $t: no seed corpus in tests/fuzz/corpus/$t/ (commit a few small inputs)" >&2
        status=1
        continue
    fi
    opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=77
        -timeout_exitcode=78 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-")
    # A dictionary of the input's keywords, when the target has one.
    [[ -f "$root/tests/fuzz/$t.dict" ]] && opts+=(-dict="$root/tests/fuzz/$t.dict")
    new=$(mktemp -d)
    start=$(date +%s)
    echo "-- $t: ${seconds}s from $(find "$corpus" -type f | wc -l) corpus inputs"
    # New inputs go to the first directory (scratch); the committed corpus is only read.
    if ! "$bin" "${opts[@]}" "$new" "$corpus" >"$build/$t.log" 2>&1; then
        tail -n 60 "$build/$t.log" >&2
        echo "fuzz.sh: $t FAILED; the input is in $build/artifacts/ (log: $build/$t.log)" >&2
        status=1
    else
        { grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$build/$t.log" ||
            true; } | tr -s ' \n' ' '
        echo "($(($(date +%s) - start))s)"
        if $merge; then
            # Add to the committed corpus only the finds that add coverage; the named seeds
            # stay as they are (libFuzzer keeps what is already in the first directory).
            "$bin" -merge=1 "$corpus" "$new" >"$build/$t.merge.log" 2>&1
            echo "   merged: $(find "$corpus" -type f | wc -l) inputs, $(cat "$corpus"/* | wc -c) bytes"
        fi
    fi
    rm -rf "$new"
done
exit "$status"
