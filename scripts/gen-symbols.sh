#!/usr/bin/env bash
# gen-symbols.sh HEADER NODE — prints a GNU ld version script exporting every
# function HEADER declares (names rvf_*; comments are stripped by the C
# preprocessor first) in version node NODE, and nothing else.
# Used by mk/shared.mk for librvf.so / librvfclient.so.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HEADER NODE" >&2; exit 2; }
syms=$(${CC:-cc} -E -P -x c -Iinclude "$1" |
	grep -oE '\brvf_[A-Za-z0-9_]+[[:space:]]*\(' | tr -d ' \t(' | sort -u)
[ -n "$syms" ] || { echo "$0: no rvf_* function declared in $1" >&2; exit 1; }
echo "/* generated from $1 by scripts/gen-symbols.sh */"
echo "$2 {"
echo "global:"
printf '\t%s;\n' $syms
echo "local:"
printf '\t*;\n'
echo "};"
