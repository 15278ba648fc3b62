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
# Every allowed symbol by name: a pattern would let a new call in unseen (__*_chk once admitted
# __read_chk, mem* would admit memfd_create, json_* the file loaders json_load_file/json_dump_file).
allowed="
json_array_get json_array_size json_delete json_integer_value json_loadb json_object_get
json_object_iter json_object_iter_key json_object_iter_next json_object_iter_value
json_object_key_to_iter json_object_size json_string_value
json_array json_array_append_new json_dumps json_false json_integer json_object
json_object_set_new json_string json_true
memchr memcmp memcpy memmove memset strchr strcmp strcspn strdup strlen strncmp strspn
strpbrk strrchr
bcmp
fnmatch snprintf vsnprintf
malloc calloc realloc free
fread ferror feof
__stack_chk_fail
__memcpy_chk __memmove_chk __memset_chk __snprintf_chk __vsnprintf_chk __fread_chk
_GLOBAL_OFFSET_TABLE_
"
# Why the less obvious ones: bcmp is what clang turns memcmp(...) == 0 into; fread, ferror and
# feof only ever see the FILE * the caller passed in; __stack_chk_fail is -fstack-protector's;
# each __*_chk is _FORTIFY_SOURCE's checked form of a function allowed above, and only those.

bad=""
for s in $syms; do
    case " $(echo $allowed) " in
    *" $s "*) continue ;;
    esac
    case $s in
    # MMSG_SANITIZE=ON only: calls the compiler's instrumentation inserts, never the source's.
    __asan_* | __ubsan_* | __sanitizer_*) ;;
    *) bad="$bad $s" ;;
    esac
done
if [ -n "$bad" ]; then
    echo "mmsgate_policy uses symbols outside the purity allow-list:$bad" >&2
    exit 1
fi
echo "mmsgate_policy: $(echo "$syms" | wc -w) undefined symbols, all allowed"
