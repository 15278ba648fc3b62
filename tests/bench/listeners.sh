#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Agent scale benchmark (issue 9; not a CI test: it prints numbers and never fails on them).
# For each N (default 1, 100, 1000) a fresh `mmsgate agent` on a temporary socket is handed N
# real listeners by tests/programs/many-listeners (one process each, like N containers), then:
#   - the agent's VmRSS/VmHWM and open fds, idle and with N listeners;
#   - the round trip of TOTAL recvmmsg calls through the agent with N listeners registered,
#     spread over CALLERS listeners from the first to the last registered: p50 and p99;
#   - a second round of N on the same agent, after the first N exited: RSS and fds must come
#     back to the same figures, else the agent keeps memory per listener or per call.
# Prints one table with a row per N and ratios to the first N. Details: tests/bench/README.md.
#
# Usage (as root or with unprivileged seccomp): tests/bench/listeners.sh [--counts "1 100 1000"]
#        [--calls TOTAL] [--callers K] [--rounds R] [--cpu C|none] [--policy deny|default|FILE] [--mmsgate PATH]
# BUILD_DIR (default: build) is the CMake build directory; it must be configured already.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
counts="1 100 1000"
calls=2000
callers=4
cpu=0
policy=deny
rounds=5
mmsgate=
usage() {
    echo "usage: $0 [--counts \"1 100 1000\"] [--calls TOTAL] [--callers K] [--rounds R] [--cpu C|none] [--policy deny|default|FILE] [--mmsgate PATH]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
    --counts) counts=$2 ;;
    --calls) calls=$2 ;;
    --callers) callers=$2 ;;
    --rounds) rounds=$2 ;;
    --cpu) cpu=$2 ;;
    --policy) policy=$2 ;;
    --mmsgate) mmsgate=$2 ;;
    *) usage ;;
    esac
    shift 2
done
[ -f "$build/CMakeCache.txt" ] || { echo "listeners.sh: $build is not a configured build directory (cmake -S $top -B $build)" >&2; exit 2; }
# Only our targets: others work in the same tree.
if [ -z "$mmsgate" ]; then
    cmake --build "$build" --target mmsgate many-listeners >/dev/null
    mmsgate=$build/broker/mmsgate
else
    cmake --build "$build" --target many-listeners >/dev/null
fi
many=$build/tests/programs/many-listeners
[ -x "$mmsgate" ] || { echo "listeners.sh: no mmsgate at $mmsgate" >&2; exit 2; }

work=$(mktemp -d /tmp/mmsg-listeners.XXXXXX)
agent_pid=
many_pid=
cleanup() {
    exec 3>&- 2>/dev/null || true
    if [ -n "$many_pid" ]; then kill "$many_pid" 2>/dev/null || true; wait "$many_pid" 2>/dev/null || true; fi
    if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# deny: the latency is the broker's own round trip (receive, the listener's policy, decide,
# answer), which is what could grow with N; no caller memory is read, so nothing else varies.
# "audit": false, or every call would be an audit decision too.
case $policy in
deny)
    printf '{"version": 1, "default": {"action": "deny", "errno": "EACCES", "audit": false}}\n' >"$work/policy.json"
    policy_args=(--policy "$work/policy.json") ;;
default) policy_args=() ;;
*) policy_args=(--policy "$policy") ;;
esac
if [ "$cpu" = none ]; then
    pin=()
else
    pin=(taskset -c "$cpu")
fi

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# shellcheck disable=SC2012 # fd names are numbers
n_fds() { ls "/proc/$1/fd" | wc -l; }
sample() { echo "$(status_kb "$agent_pid" VmRSS) $(status_kb "$agent_pid" VmHWM) $(n_fds "$agent_pid")"; }

field() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p"; }

# Wait until @1's output has a line matching @2 (at most @3 s).
wait_line() {
    for _ in $(seq 1 $(($3 * 10))); do
        grep -q "$2" "$1" && return 0
        kill -0 "$many_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "listeners.sh: no \"$2\" from many-listeners; out:" >&2
    cat "$1" "$work/many.err" "$work/agent.err" >&2
    exit 1
}

# Wait until the agent holds @1 fds (its listeners were added or dropped), at most 20 s.
wait_fds() {
    for _ in $(seq 1 200); do
        [ "$(n_fds "$agent_pid")" -eq "$1" ] && return 0
        sleep 0.1
    done
    echo "listeners.sh: the agent holds $(n_fds "$agent_pid") fds, expected $1" >&2
    return 1
}

# One round: hand over @1 listeners, sample, make the calls, sample, release them. Output:
# "rss hwm fds (with N) rss hwm fds (after the calls) p50 p99 max differ rss hwm fds (released)".
round() {
    local n=$1 fds0=$2 s_n s_calls s_after lat
    : >"$work/many.out"
    rm -f "$work/ctl"
    mkfifo "$work/ctl"
    "${pin[@]}" "$many" "$work/sock" "$n" --calls "$calls" --callers "$callers" --wait \
        <"$work/ctl" >"$work/many.out" 2>"$work/many.err" &
    many_pid=$!
    exec 3>"$work/ctl"
    wait_line "$work/many.out" "^ready $n\$" 600
    # Two fds a listener: the broker's, and the agent's copy kept for restarts.
    wait_fds $((fds0 + 2 * n)) || true
    sleep 0.2
    s_n=$(sample)
    echo go >&3
    wait_line "$work/many.out" "^latency " 300
    s_calls=$(sample)
    lat=$(grep "^latency " "$work/many.out")
    exec 3>&-
    wait "$many_pid" || { echo "listeners.sh: many-listeners failed:" >&2; cat "$work/many.err" >&2; exit 1; }
    many_pid=
    wait_fds "$fds0" || true
    sleep 0.2
    s_after=$(sample)
    echo "$s_n $s_calls $(echo "$lat" | field p50_us) $(echo "$lat" | field p99_us)" \
        "$(echo "$lat" | field max_us) $(echo "$lat" | field differ) $s_after"
}

echo "agent scale benchmark: $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mmsgate: $mmsgate ($("$mmsgate" --version 2>/dev/null || echo '?'))"
echo "policy: $policy; $calls calls a round over $callers callers (first to last listener), one" \
    "caller at a time; $rounds rounds a count on one agent; placement:" \
    "$([ "$cpu" = none ] && echo free || echo "agent and callers on CPU $cpu")"
echo
printf '%6s %5s %8s %8s %6s %6s %8s %8s %8s %6s %8s %6s\n' N round RSS_N_kB RSS_c_kB fds_N p50_us \
    p99_us max_us RSS_e_kB fds_e HWM_kB differ
: >"$work/rows"
for n in $counts; do
    rm -f "$work/sock"
    "${pin[@]}" "$mmsgate" agent --socket "$work/sock" "${policy_args[@]}" 2>"$work/agent.err" &
    agent_pid=$!
    for _ in $(seq 1 100); do [ -S "$work/sock" ] && break; sleep 0.05; done
    [ -S "$work/sock" ] || { echo "listeners.sh: the agent did not start:" >&2; cat "$work/agent.err" >&2; exit 1; }
    sleep 0.3
    read -r rss0 hwm0 fds0 <<<"$(sample)"
    printf '%6d %5s %8d %8s %6d %6s %8s %8s %8s %6s %8d\n' "$n" idle "$rss0" - "$fds0" - - - - - "$hwm0"
    for r in $(seq 1 "$rounds"); do
        line=$(round "$n" "$fds0")
        read -r rss_n _ fds_n rss_c _ _ p50 p99 max differ rss_e hwm_e fds_e <<<"$line"
        printf '%6d %5d %8d %8d %6d %6s %8s %8s %8d %6d %8d %6s\n' "$n" "$r" "$rss_n" "$rss_c" \
            "$fds_n" "$p50" "$p99" "$max" "$rss_e" "$fds_e" "$hwm_e" "$differ"
        echo "$n $r $rss0 $fds0 $line" >>"$work/rows"
    done
    if grep -qE "refused|not served" "$work/agent.err"; then
        echo "listeners.sh: the agent refused listeners at N=$n:" >&2
        cat "$work/agent.err" >&2
        exit 1
    fi
    kill "$agent_pid"
    wait "$agent_pid" || true
    agent_pid=
done
echo
# One row per N: RSS idle and with N listeners (round 1, a fresh agent), per listener, HWM at
# the end, fds idle and with N, the median over rounds of p50 and p99 and the lowest p99 (the
# round least disturbed by other jobs), ratios of the medians to the first N,
# and regrow: how far a later round's RSS (with N, after the calls) exceeded round 1's at the
# same point; about zero when nothing is kept per listener or per call.
awk '
function median(a, k,   i, j, t) {
    for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function flush() {
    if (n == "") return
    m50 = median(p50, k); m99 = median(p99, k)
    if (!rows++) { b50 = m50; b99 = m99; brss = rssn }
    printf "%6d %8d %8d %6.2f %7.1f %8d %6d %6d %7.1f %7.1f %7.1f %6.2f %6.2f %9d\n", n, rss0,
        rssn, rssn / brss, (rssn - rss0) / n, hwm, fds0, fdsn, m50, m99, min99, m50 / b50,
        m99 / b99, regrow
}
BEGIN {
    printf "%6s %8s %8s %6s %7s %8s %6s %6s %7s %7s %7s %6s %6s %9s\n", "N", "RSS0_kB",
        "RSS_N_kB", "x RSS", "kB/lst", "HWM_kB", "fds0", "fds_N", "p50_us", "p99_us", "p99min",
        "x p50", "x p99", "regrow_kB"
}
# n round rss0 fds0 | rss_n hwm_n fds_n rss_c hwm_c fds_c p50 p99 max differ rss_e hwm_e fds_e
{
    if ($1 != n) { flush(); n = $1; k = 0; regrow = 0; min99 = $12 }
    k++; p50[k] = $11; p99[k] = $12; hwm = $16
    if ($12 + 0 < min99 + 0) min99 = $12
    if ($2 == 1) { rss0 = $3; fds0 = $4; rssn = $5; fdsn = $7; rssc = $8 }
    else { if ($5 - rssn > regrow) regrow = $5 - rssn; if ($8 - rssc > regrow) regrow = $8 - rssc }
}
END { flush() }' "$work/rows"
