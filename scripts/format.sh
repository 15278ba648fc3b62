#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Format every C file of the project with the repository's .clang-format.
#   scripts/format.sh          rewrite the files in place
#   scripts/format.sh --check  change nothing; fail and name each file that is not formatted
# .ci/run runs the check first, so a formatting slip fails in seconds rather than at the end.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

mode=(-i)
case "${1:-}" in
--check) mode=(--dry-run --Werror) ;;
"") ;;
-h | --help)
    sed -n '3,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "format.sh: unknown option '$1' (try --help)" >&2
    exit 2
    ;;
esac

dirs=()
for d in broker policy include tests examples; do
    # git does not keep empty directories, so one may be missing on a fresh clone.
    [[ -d "$d" ]] && dirs+=("$d")
done
files=()
if ((${#dirs[@]} > 0)); then
    mapfile -d '' files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
fi
if ((${#files[@]} == 0)); then
    echo "format.sh: no C files found under ${dirs[*]:-broker policy include tests examples}" >&2
    exit 1
fi
# The repository's .clang-format is found from each file's directory upwards.
clang-format "${mode[@]}" "${files[@]}"
echo "format: ${#files[@]} C files $([[ ${mode[0]} == -i ]] && echo formatted || echo checked)"
