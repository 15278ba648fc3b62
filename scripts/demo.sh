#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install dependencies, build mmsgate and the example service, and run the service under the
# broker with the built-in default policy:
#     build/broker/mmsgate run --audit - --audit-all -- build/examples/udp-receiver32
# The service prints one line per recvmmsg() call on stdout; the broker writes one audit line
# (JSON) per decision on stderr. Afterwards, a table of every decision. Exits with the service's
# status.
#   scripts/demo.sh [--audited-only]   only what the policy audits (denies and caps), as
#                                      mmsgate does without --audit-all
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build"
mmsgate_args=(--audit-all)
case "${1:-}" in
"") ;;
--audited-only) mmsgate_args=() ;;
*)
    echo "usage: scripts/demo.sh [--audited-only]" >&2
    exit 2
    ;;
esac

"$root/scripts/deps.sh"
cmake -S "$root" -B "$build" >/dev/null
# Only what the demo runs: a half-written test elsewhere in the tree must not stop it.
cmake --build "$build" --parallel "$(nproc)" --target mmsgate udp-receiver32 udp-receiver64 >/dev/null

# The service is i386. A kernel with IA32 emulation switched off cannot execute it (ENOEXEC,
# exit status 126): then the same service built for x86_64 shows the decisions on route 299.
service=build/examples/udp-receiver32
probe=0
"$build/examples/udp-receiver32" --help >/dev/null 2>&1 || probe=$?
if ((probe == 126)); then
    echo "note: this kernel does not run i386 programs (IA32 emulation is off); running the"
    echo "      x86_64 build of the same service instead (build/examples/udp-receiver64)"
    echo
    service=build/examples/udp-receiver64
fi

stderr_log=$(mktemp)
trap 'rm -f "$stderr_log"' EXIT

cd "$root"
echo "== build/broker/mmsgate run ${mmsgate_args[*]:+${mmsgate_args[*]} }--audit - -- $service"
echo "   (stdout: the service; stderr: audit JSON lines and any diagnostics)"
echo
# stderr is shown as it happens and kept for the table.
exec {tee_fd}> >(tee "$stderr_log" >&2)
tee_pid=$!
status=0
# `|| status=$?` keeps set -e from ending the script before the table when the service (or the
# broker) fails.
build/broker/mmsgate run "${mmsgate_args[@]}" --audit - -- "$service" \
    2>&"$tee_fd" || status=$?
exec {tee_fd}>&-
wait "$tee_pid" || true # let tee finish writing before the table reads the file

echo
echo "== audited calls (decision, rule, result per call)"
# Audit lines are the JSON objects on stderr; everything else there is diagnostics.
jq -R -r 'fromjson? | select(type == "object" and has("decision")) |
    [ .eventName,
      ([.args[] | select(.name == "flags") |
          if (.names // []) != [] then .names | join("|") else .value | tostring end]
          | first // "-"),
      ([.args[] | select(.name == "timeout") |
          if .value == 0 then "NULL"
          elif .decoded then "\(.decoded.tv_sec * 1000 + (.decoded.tv_nsec / 1000000 | floor)) ms"
          else "?" end] | first // "-"),
      .decision, .enforcement, .rule,
      (.returnValue // "-" | tostring), (.errno // "-"),
      if .durationNs then "\(.durationNs / 100000 | floor | . / 10) ms" else "-" end
    ] | @tsv' "$stderr_log" |
    awk -F'\t' 'BEGIN {
            fmt = "%-16s %-16s %-12s %-8s %-11s %-20s %-6s %-7s %s\n"
            printf fmt, "SYSCALL", "FLAGS", "TIMEOUT", "DECISION", "ENFORCEMENT", "RULE",
                "RETURN", "ERRNO", "DURATION"
        }
        { printf fmt, $1, $2, $3, $4, $5, $6, $7, $8, $9; n++ }
        END { if (n == 0) print "(no audit lines: did the broker start?)" }'
if ((${#mmsgate_args[@]} == 0)); then
    echo "(only rules with audit=true are logged; without --audited-only every decision is)"
fi
echo
echo "== service exit status: $status"
exit "$status"
