#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The policy engine must stay pure (no syscalls, no clock, no logging): every undefined symbol
# of its archive must be on this allow-list. Usage: check-policy-purity.sh NM ARCHIVE
set -eu
nm_tool=$1
archive=$2

# nm -u lists each member's undefined symbols, including those another member defines.
defined=$("$nm_tool" --defined-only -g "$archive" | awk 'NF >= 3 { print $NF }' | sort -u)
undefined=$("$nm_tool" -u "$archive" | awk 'NF >= 2 && $(NF-1) == "U" { print $NF }' |
    sed 's/@.*//' | sort -u)
syms=$(printf '%s\n' "$undefined" | grep -vxF -e "$defined" || true)
bad=""
for s in $syms; do
    case $s in
    json_* | jsonp_* | jansson_*) ;;          # the parser
    mem* | str*) ;;                           # memcmp, memcpy, strcmp, strdup, strlen, ...
    fnmatch | snprintf | vsnprintf) ;;
    malloc | calloc | realloc | free) ;;
    fread | ferror | feof) ;;                 # only on the FILE * the caller gave
    __stack_chk_fail | __*_chk) ;;            # -fstack-protector, _FORTIFY_SOURCE
    __asan_* | __ubsan_* | __sanitizer_*) ;;  # MMSG_SANITIZE=ON
    _GLOBAL_OFFSET_TABLE_) ;;
    *) bad="$bad $s" ;;
    esac
done
if [ -n "$bad" ]; then
    echo "mmsgate_policy uses symbols outside the purity allow-list:$bad" >&2
    exit 1
fi
echo "mmsgate_policy: $(echo "$syms" | wc -w) undefined symbols, all allowed"
