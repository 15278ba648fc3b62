#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install the build into a temporary root (DESTDIR) and check it file by file, as a Debian user
# would meet it: the binary, every man page rendering with man -l and found by `man`, the
# example policies passing `mmsgate check`, the JSON Schema, the bash completion completing,
# the pkg-config file building a program against the installed policy library, and --help
# pointing at files that exist. Usage: test-install.sh BUILD_DIR
set -euo pipefail

build=$1
root=$(mktemp -d /tmp/mmsg-install-XXXXXX)
trap 'rm -rf "$root"' EXIT
fail=0
bad() {
    echo "FAIL: $*" >&2
    fail=1
}

DESTDIR=$root cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
p=$root$prefix

expected=(
    bin/mmsgate
    share/man/man1/mmsgate.1
    share/man/man5/mmsgate-policy.5
    share/man/man5/mmsgate-audit.5
    share/man/man7/mmsgate-emulation.7
    share/man/man7/mmsgate-containers.7
    share/mmsgate/policy.schema.json
    share/mmsgate/policies/audit-only.json
    share/mmsgate/policies/cap-waits.json
    share/mmsgate/policies/emulate-all.json
    share/mmsgate/policies/one-port.json
    share/bash-completion/completions/mmsgate
    share/doc/mmsgate/README.md
    share/doc/mmsgate/mmsgate.md
    share/doc/mmsgate/policy.md
    share/doc/mmsgate/audit.md
    share/doc/mmsgate/emulation.md
    share/doc/mmsgate/containers.md
    lib/systemd/system/mmsgate-agent.socket
    lib/systemd/system/mmsgate-agent.service
    include/mmsgate/policy.h
    lib/libmmsgate_policy.a
    lib/pkgconfig/mmsgate-policy.pc
)
for f in "${expected[@]}"; do
    [[ -s $p/$f ]] || bad "missing or empty: $prefix/$f"
done
[[ -x $p/bin/mmsgate ]] || bad "bin/mmsgate is not executable"
# Nothing installed that is not on the list (test programs, build leftovers).
while IFS= read -r f; do
    rel=${f#"$p/"}
    found=0
    for e in "${expected[@]}"; do [[ $rel == "$e" ]] && found=1; done
    ((found)) || bad "unexpected file installed: $prefix/$rel"
done < <(find "$root" -type f)

# Man pages: each renders without a troff error, has a NAME section naming itself, and man
# finds it by name on the installed MANPATH.
for page in "$p"/share/man/man?/*; do
    name=$(basename "$page")
    name=${name%.*}
    out=$(MANWIDTH=100 man -l "$page" 2>"$root/man.err") || bad "man -l $page failed"
    if grep -v -e 'table wider than line width' -e "around line" "$root/man.err" | grep -q .; then
        bad "man -l $page: $(cat "$root/man.err")"
    fi
    grep -q '^NAME' <<<"$out" || bad "$name: no NAME section"
    grep -Eq "^ *$name +- " <<<"$out" || bad "$name: NAME does not start with \"$name - \""
    where=$(MANPATH=$p/share/man man -w "$name" 2>/dev/null) || bad "man -w $name: not found"
    [[ $where == "$page" ]] || bad "man -w $name gave $where"
done
MANPATH=$p/share/man MANWIDTH=100 man mmsgate 2>/dev/null | grep -q 'mmsgate run' ||
    bad "man mmsgate does not show the run command"

# Example policies and the schema.
for f in "$p"/share/mmsgate/policies/*.json; do
    "$p/bin/mmsgate" check "$f" >/dev/null || bad "mmsgate check $f"
done
jq -e '."$schema" and .properties.rules' "$p/share/mmsgate/policy.schema.json" >/dev/null ||
    bad "policy.schema.json is not the schema"

# --help names the man pages and installed paths that exist.
help=$("$p/bin/mmsgate" --help)
grep -q 'man mmsgate' <<<"$help" || bad "--help does not point at the man page"
grep -q 'docs/' <<<"$help" && bad "--help points at repository paths"
for path in $(grep -o "$prefix/share/mmsgate[^ ,]*" <<<"$help" | sed 's/[.,]$//'); do
    [[ -e $root$path ]] || bad "--help names $path, which was not installed"
done

# Bash completion: loads, and completes a command and an option.
comp=$(bash -c '
    source "$1"
    COMP_WORDS=(mmsgate ru); COMP_CWORD=1; _mmsgate; echo "${COMPREPLY[*]}"
    COMP_WORDS=(mmsgate run --comp); COMP_CWORD=2; _mmsgate; echo "${COMPREPLY[*]}"
    COMP_WORDS=(mmsgate run --log j); COMP_CWORD=3; _mmsgate; echo "${COMPREPLY[*]}"
' _ "$p/share/bash-completion/completions/mmsgate")
[[ $comp == $'run\n--complain\njournal' ]] || bad "completion gave: $comp"

# pkg-config: a program built against the installed library evaluates the default policy.
cat >"$root/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <mmsgate/policy.h>
int main(void)
{
    const char *text = mmsg_policy_default_json();
    struct mmsg_policy *p = NULL;
    if (mmsg_policy_load_buffer(text, strlen(text), &p, NULL) != 0)
        return 1;
    printf("%zu\n", mmsg_policy_n_rules(p));
    mmsg_policy_free(p);
    return 0;
}
C
pc=$p/lib/pkgconfig
# The .pc file names the final prefix; point it at the staging root for this build.
flags=$(PKG_CONFIG_PATH=$pc pkg-config --define-prefix --static --cflags --libs mmsgate-policy) ||
    bad "pkg-config mmsgate-policy"
# shellcheck disable=SC2086 # flags are words
if cc -o "$root/use" "$root/use.c" $flags 2>"$root/cc.err"; then
    [[ $("$root/use") -gt 0 ]] || bad "the program linked against the library failed"
else
    bad "building against the installed library: $(cat "$root/cc.err")"
fi

if ((fail)); then
    exit 1
fi
echo "install: ${#expected[@]} files checked"
