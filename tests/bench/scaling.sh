#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scaling benchmark (issue 8; not a CI test: it prints numbers and never fails on them).
# N callers at once through one `mmsgate run` (tests/bench/scale-load.c): N processes, then N
# threads of one process, each on its own UDP socket looping "send one datagram, recvmmsg(fd, v,
# 1, MSG_DONTWAIT, NULL)". Policies, interleaved over ROUNDS rounds:
#   native    scale-load alone
#   deny      every call denied (EAGAIN) by the broker: audited, to --audit /dev/null, so that
#             the filter notifies (an unaudited deny would be answered by the filter itself)
#   emulate   examples/policies/emulate-all.json: every call emulated by the broker
# For each: calls/s (all callers), p50/p99 of single calls, the broker's CPU per call and
# share of a CPU (its utime+stime over the timed window), and its RSS. Then the cost of
# waiting: N callers each blocked in one recvmmsg that a 60 s cap holds in the broker, and
# what the broker spends per second meanwhile (it watches each waiting caller for signals).
#
# Usage (root or unprivileged seccomp): tests/bench/scaling.sh [--callers "1 10 100 1000"]
#        [--rounds R] [--duration S] [--mmsgate PATH]; BUILD_DIR picks the build directory.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
mmsgate=$build/broker/mmsgate
load=$build/tests/bench/scale-load
counts="1 10 100 1000"
rounds=3
duration=5
while [ $# -gt 0 ]; do
    case $1 in
    --callers) counts=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --mmsgate) mmsgate=$2; shift 2 ;;
    *) echo "usage: $0 [--callers \"1 10 100 1000\"] [--rounds R] [--duration S] [--mmsgate PATH]" >&2; exit 2 ;;
    esac
done
for f in "$mmsgate" "$load"; do
    [ -x "$f" ] || { echo "scaling.sh: no $f (cmake --build $build --target mmsgate scale-load)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/mmsg-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo '{"version": 1, "default": {"action": "deny", "errno": "EAGAIN", "audit": true}}' >"$work/deny.json"
cat >"$work/wait.json" <<'EOF'
{"version": 1, "default": {"action": "allow"},
 "rules": [{"name": "hold", "action": "emulate", "timeout_cap_ms": 60000}]}
EOF
ulimit -n 65536 2>/dev/null || true

# run VARIANT N MODE-ARGS...: one scale-load line.
run() {
    local v=$1 n=$2
    shift 2
    case $v in
    native) "$load" --callers "$n" --duration "$duration" "$@" ;;
    deny) "$mmsgate" run --policy "$work/deny.json" --audit /dev/null -- "$load" --callers "$n" --duration "$duration" --broker-stats "$@" ;;
    emulate) "$mmsgate" run --policy "$top/examples/policies/emulate-all.json" -- "$load" --callers "$n" --duration "$duration" --broker-stats "$@" ;;
    wait) "$mmsgate" run --policy "$work/wait.json" -- "$load" --callers "$n" --duration "$duration" --broker-stats --wait "$@" ;;
    esac 2>>"$work/stderr" || true
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "scaling benchmark: $(uname -r), $(nproc) CPUs, $rounds rounds of ${duration}s, medians"
for mode in processes threads; do
    extra=()
    [ "$mode" = threads ] && extra=(--threads)
    : >"$work/results"
    for r in $(seq 1 "$rounds"); do
        for n in $counts; do
            for v in native deny emulate; do
                echo "$v $n $(run "$v" "$n" "${extra[@]}")" >>"$work/results"
            done
        done
    done
    echo
    echo "== $mode"
    printf '%-8s %6s %11s %8s %8s %8s %10s %9s %9s\n' policy callers calls/s "x at 1" p50_us p99_us "us/call" "cpu %" "rss kB"
    for v in native deny emulate; do
        base=
        for n in $counts; do
            sel() { awk -v v="$v" -v n="$n" '$1 == v && $2 == n' "$work/results"; }
            cps=$(sel | field calls_per_s | median)
            [ -z "$base" ] && base=$cps
            printf '%-8s %6s %11s %8s %8s %8s %10s %9s %9s\n' "$v" "$n" "$cps" \
                "$(if [ "$base" != - ] && [ "$cps" != - ]; then echo "scale=2; $cps / $base" | bc; else echo -; fi)" \
                "$(sel | field p50_us | median)" "$(sel | field p99_us | median)" \
                "$(sel | field broker_us_per_call | median)" "$(sel | field broker_cpu_pct | median)" \
                "$(sel | field broker_rss_kb | median)"
        done
    done
done

echo
echo "== waiting: N callers each held in one recvmmsg (60 s cap), broker cost per second"
printf '%6s %9s %9s\n' callers "cpu %" "rss kB"
for n in $counts; do
    : >"$work/wait"
    for r in $(seq 1 "$rounds"); do
        run wait "$n" >>"$work/wait"
    done
    printf '%6s %9s %9s\n' "$n" "$(field broker_cpu_pct <"$work/wait" | median)" "$(field broker_rss_kb <"$work/wait" | median)"
done
if [ -s "$work/stderr" ]; then
    echo
    echo "stderr (first lines):"
    head -n 5 "$work/stderr"
fi
