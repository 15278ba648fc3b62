#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real-service benchmark (issue 8; not a CI test: it prints numbers and never fails on them).
# Two Debian servers that receive with recvmmsg, each as :i386 when this kernel runs 32-bit
# programs (else :amd64, said so in the output):
#   knot    knotd, an authoritative DNS server (recvmmsg(fd, v, 10, MSG_DONTWAIT, NULL)), serving
#           a small zone on 127.0.0.1, loaded by dnsperf;
#   chrony  chronyd as an NTP server (recvmmsg with a NULL timeout on O_NONBLOCK sockets after
#           select()), loaded by tests/bench/ntp-load (built with the project).
# Each is measured interleaved over ROUNDS rounds:
#   native       the server alone
#   default      mmsgate run (built-in default policy) -- server
#   emulate-all  mmsgate run --policy examples/policies/emulate-all.json -- server
# qps: the load at full speed for DURATION s (dnsperf -c 4 -q 100; ntp-load --window 16);
# p50/p99: a second run at RATE queries/s with per-query latencies. Prints the median over
# rounds and the ratio to native.
#
# Usage (as root, from anywhere): tests/bench/real-services.sh [--service knot|chrony|all]
#        [--mmsgate PATH] [--rounds N] [--duration S] [--rate QPS] [--arch auto|i386|amd64]
#        [--no-install]
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
mmsgate=${MMSGATE:-$build/broker/mmsgate}
ntpload=$build/tests/bench/ntp-load
services="knot chrony"
rounds=5
duration=10
rate=5000
arch=auto
install=1
while [ $# -gt 0 ]; do
    case $1 in
    --service) services=$2; [ "$services" = all ] && services="knot chrony"; shift 2 ;;
    --mmsgate) mmsgate=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    *) echo "usage: $0 [--service knot|chrony|all] [--mmsgate PATH] [--rounds N] [--duration S] [--rate QPS] [--arch auto|i386|amd64] [--no-install]" >&2; exit 2 ;;
    esac
done
[ -x "$mmsgate" ] || { echo "real-services.sh: no mmsgate at $mmsgate (build it, or --mmsgate PATH)" >&2; exit 2; }
case " $services " in *" chrony "*)
    [ -x "$ntpload" ] || { echo "real-services.sh: no $ntpload (cmake --build $build --target ntp-load)" >&2; exit 2; } ;;
esac
[ "$(id -u)" = 0 ] || { echo "real-services.sh: run as root (apt-get, and knotd's defaults)" >&2; exit 2; }

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
        --no-install-recommends "$@" >/dev/null
}

# Can this kernel run i386 programs? (IA32 emulation may be compiled out or switched off.)
can_run_i386() { # program
    [ -x "$1" ] && file -L "$1" 2>/dev/null | grep -q 'Intel 80386' && "$1" --version >/dev/null 2>&1
}

# install PACKAGE PROGRAM: PACKAGE:i386 where this kernel can run it, else PACKAGE:amd64.
install_service() {
    if [ "$arch" != amd64 ]; then
        apt_install "$1:i386"
        if [ "$arch" = auto ] && ! can_run_i386 "$2"; then
            echo "real-services.sh: this kernel cannot run i386 programs; measuring $1:amd64 (x86_64 route 299) instead" >&2
            apt_install "$1:amd64"
        fi
    else
        apt_install "$1:amd64"
    fi
}

if [ "$install" = 1 ]; then
    if [ "$arch" != amd64 ]; then
        dpkg --add-architecture i386
    fi
    apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
    apt_install dnsperf bind9-dnsutils file bc
    for svc in $services; do
        case $svc in
        knot) install_service knot /usr/sbin/knotd ;;
        chrony) install_service chrony /usr/sbin/chronyd ;;
        *) echo "real-services.sh: unknown service $svc (knot, chrony)" >&2; exit 2 ;;
        esac
    done
fi
knotd=/usr/sbin/knotd
chronyd=/usr/sbin/chronyd
command -v dnsperf >/dev/null || { echo "real-services.sh: dnsperf missing (drop --no-install)" >&2; exit 2; }
arch_of() { file -L "$1" | grep -q 'Intel 80386' && echo i386 || echo amd64; }

work=$(mktemp -d /tmp/mmsg-realsvc.XXXXXX)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
mkdir -p "$work/db" "$work/run"
cat >"$work/example.test.zone" <<'EOF'
$ORIGIN example.test.
$TTL 3600
@   SOA ns1 hostmaster 1 7200 3600 1209600 3600
@   NS  ns1
ns1 A   127.0.0.1
www A   192.0.2.1
www AAAA 2001:db8::1
mail A  192.0.2.2
@   MX  10 mail
@   TXT "mmsgate real-service benchmark"
EOF
for i in $(seq 1 50); do echo "host$i A 192.0.2.$((i + 10))" >>"$work/example.test.zone"; done
cat >"$work/knot.conf" <<EOF
server:
    rundir: "$work/run"
    listen: 127.0.0.1@$port
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$work/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$work"
    semantic-checks: off
zone:
  - domain: example.test
    file: "$work/example.test.zone"
EOF
{
    for i in $(seq 1 50); do echo "host$i.example.test A"; done
    echo "www.example.test A"; echo "www.example.test AAAA"; echo "example.test MX"
    echo "example.test TXT"; echo "example.test SOA"; echo "nothere.example.test A"
} >"$work/queries"

cat >"$work/chrony.conf" <<EOF
port $port
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 10
cmdport 0
pidfile $work/run/chronyd.pid
EOF

# The server's command line: knotd, or chronyd in the foreground, not touching the clock.
server_cmd() { # service
    case $1 in
    knot) echo "$knotd -c $work/knot.conf" ;;
    chrony) echo "$chronyd -d -x -u root -f $work/chrony.conf" ;;
    esac
}

answers() { # service
    case $1 in
    knot) dig +time=1 +tries=1 -p "$port" @127.0.0.1 example.test SOA +short 2>/dev/null | grep -q hostmaster ;;
    chrony) "$ntpload" --port "$port" --duration 0.2 --rate 50 >/dev/null 2>&1 ;;
    esac
}

start_server() { # service variant
    local cmd
    cmd=$(server_cmd "$1")
    # $cmd is split on purpose: it is a command line without quoting.
    case $2 in
    native) $cmd 2>>"$work/$1.log" & ;;
    default) "$mmsgate" run -- $cmd 2>>"$work/$1.log" & ;;
    emulate-all) "$mmsgate" run --policy "$top/examples/policies/emulate-all.json" -- $cmd 2>>"$work/$1.log" & ;;
    esac
    server_pid=$!
    for _ in $(seq 1 100); do
        if answers "$1"; then
            return 0
        fi
        sleep 0.1
    done
    echo "real-services.sh: $1 ($2) did not answer; log:" >&2
    cat "$work/$1.log" >&2
    exit 1
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# One measurement: "qps p50_us p99_us".
measure() { # service
    local qps lat
    case $1 in
    knot)
        qps=$(dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" -c 4 -q 100 -t 2 2>/dev/null |
            awk '/Queries per second:/ { print $4 }')
        lat=$(dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" -c 4 -Q "$rate" -t 2 -v 2>/dev/null |
            awk '/^> / { print $NF * 1e6 }' | sort -n |
            awk '{ v[NR] = $1 } END { if (NR == 0) { print "- -" } else { i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1; printf "%.0f %.0f\n", v[i50], v[i99] } }')
        ;;
    chrony)
        qps=$("$ntpload" --port "$port" --duration "$duration" --window 16 | sed -n 's/.* qps=\([0-9]*\).*/\1/p')
        lat=$("$ntpload" --port "$port" --duration "$duration" --rate "$rate" |
            sed -n 's/.* p50_us=\([0-9.-]*\) p99_us=\([0-9.-]*\).*/\1 \2/p')
        ;;
    esac
    echo "${qps:-0} ${lat:-- -}"
}

version_of() { # service
    case $1 in
    knot) echo "knotd $("$knotd" --version 2>&1 | head -1 | awk '{print $NF}') ($(arch_of "$knotd"))" ;;
    chrony) echo "chronyd $("$chronyd" --version 2>&1 | head -1 | awk '{print $4}') ($(arch_of "$chronyd"))" ;;
    esac
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { if [ "$2" = 0 ] || [ "$2" = - ] || [ "$1" = - ]; then echo 0; else echo "$1 / $2" | bc -l; fi; }

variants="native default emulate-all"
echo "real-service benchmark: $(uname -r), $(nproc) CPUs"
echo "mmsgate: $mmsgate ($("$mmsgate" --version 2>/dev/null || echo '?'))"
echo "rounds $rounds, interleaved; qps: full speed for ${duration}s; latency: $rate queries/s for ${duration}s"
for svc in $services; do
    : >"$work/results"
    echo
    echo "== $(version_of "$svc")"
    printf '%-6s %-12s %10s %9s %9s\n' round variant qps p50_us p99_us
    for r in $(seq 1 "$rounds"); do
        for v in $variants; do
            start_server "$svc" "$v"
            set -- $(measure "$svc")
            stop_server
            echo "$v $1 $2 $3" >>"$work/results"
            printf '%-6s %-12s %10s %9s %9s\n' "$r" "$v" "$1" "$2" "$3"
        done
    done
    nq=$(awk '$1 == "native" { print $2 }' "$work/results" | median)
    n50=$(awk '$1 == "native" { print $3 }' "$work/results" | median)
    n99=$(awk '$1 == "native" { print $4 }' "$work/results" | median)
    printf '%-12s %10s %7s %9s %7s %9s %7s\n' "median" qps "x nat" p50_us "x nat" p99_us "x nat"
    for v in $variants; do
        q=$(awk -v v="$v" '$1 == v { print $2 }' "$work/results" | median)
        p50=$(awk -v v="$v" '$1 == v { print $3 }' "$work/results" | median)
        p99=$(awk -v v="$v" '$1 == v { print $4 }' "$work/results" | median)
        printf '%-12s %10.0f %7.2f %9.0f %7.2f %9.0f %7.2f\n' "$v" "$q" "$(ratio "$q" "$nq")" \
            "$p50" "$(ratio "$p50" "$n50")" "$p99" "$(ratio "$p99" "$n99")"
    done
done
