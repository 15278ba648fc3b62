#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every citation of a kernel fact must resolve inside the repository: each
# "docs/recvmmsg-compat.md rule N" (or "rules N-M") names a rule that docs/recvmmsg-compat.md has,
# and nothing cites the old out-of-tree spec ("spec N", "shared/spec/"). Usage: SOURCE_DIR
set -eu
cd "$1"
doc=docs/recvmmsg-compat.md
[ -f "$doc" ] || { echo "missing $doc" >&2; exit 1; }
# Top-level rules: "N. " at the start of a line.
rules=$(sed -n 's/^\([0-9][0-9]*\)\. .*/\1/p' "$doc")
files=$(find broker policy include tests examples docs scripts README.md -type f \
    \( -name '*.[ch]' -o -name '*.md' -o -name '*.sh' -o -name '*.txt' \) 2>/dev/null |
    grep -v '^tests/unit/check-doc-citations.sh$' | sort)
bad=0
# "spec 14", "spec rule 29", "spec 19-21": citations of a file outside the repository.
if grep -nE '(^|[^-[:alnum:]])spec (rule )?[0-9]|shared/spec/' $files; then
    echo "above: citations of the out-of-tree spec; cite docs/recvmmsg-compat.md rule N" >&2
    bad=1
fi
n=0
# A citation may wrap inside a comment: join each file's lines, without the " * " leaders.
for cite in $(for f in $files; do sed 's/^[[:space:]]*\*[[:space:]]*//' "$f" | tr '\n' ' '; done |
    grep -oE 'recvmmsg-compat\.md,? rules? [0-9]+(-[0-9]+)?' | sed 's/.* //'); do
    n=$((n + 1))
    for r in $(echo "$cite" | tr '-' ' '); do
        if ! echo "$rules" | grep -qx "$r"; then
            echo "docs/recvmmsg-compat.md has no rule $r (cited as \"rule $cite\")" >&2
            bad=1
        fi
    done
done
[ "$bad" = 0 ] || exit 1
echo "doc citations: $n citations of $doc, all resolve"
