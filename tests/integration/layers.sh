#!/usr/bin/env bash
# layers.sh — the boundary between the library and its front ends
# (user/lib/rvf_frontend.h, README "Layout"):
#  1. the front ends (user/cli, user/rvfd, loader/) include no user/lib header
#     but rvf_frontend.h;
#  2. no library header or source includes the network protocol headers
#     (rvf_wire.h, rvf_qdigest.h, rvfclient.h): the store does not depend on
#     the wire;
#  3. every library symbol a front-end object references is declared by
#     rvf.h or rvf_frontend.h (so the includes are not dodged with a local
#     prototype);
#  4. no library object references a symbol defined by a front end.
# Exit 0 pass, 77 skip, 1 fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_cmd nm cc
need_file build/obj/user/lib/store_open.o build/obj/user/cli/main.o build/obj/user/rvfd/rvfd_main.o

FRONT=(user/cli user/rvfd loader loader/tools)
mapfile -t libhdrs < <(cd user/lib && ls ./*.h | sed 's|^\./||' | grep -vx rvf_frontend.h)

# 1. includes
bad=""
for d in "${FRONT[@]}"; do
	for f in "$d"/*.[ch]; do
		[ -f "$f" ] || continue
		while read -r inc; do
			b=$(basename "$inc")
			for h in "${libhdrs[@]}"; do
				[ "$b" = "$h" ] && [ ! -f "$(dirname "$f")/$inc" ] && bad+="$f: $inc"$'\n'
			done
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done
done
[ -z "$bad" ] || fail "front ends include library internals (use rvf.h or rvf_frontend.h):"$'\n'"$bad"
ok
log "front ends include only public headers, rvf_frontend.h and their own (${#libhdrs[@]} internal headers checked)"

# 2. the library does not include the protocol headers
wire=$(grep -lE '#[[:space:]]*include[[:space:]]*"(rvf_wire|rvf_qdigest|rvfclient)\.h"' user/lib/*.[ch] || true)
[ -z "$wire" ] || fail "library files include a network protocol header: $wire"
ok

# 3. front-end objects use only what rvf.h + rvf_frontend.h declare
nm --defined-only -g build/obj/user/lib/*.o | awk 'NF == 3 {print $3}' | sort -u > "$T/libdef"
cc -E -P -x c -D_GNU_SOURCE -Iinclude -Iuser/lib $(pkg-config --cflags jansson 2>/dev/null) \
	user/lib/rvf_frontend.h | grep -oE '\b[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' |
	tr -d ' \t(' | sort -u > "$T/declared"
grep -c . "$T/declared" > /dev/null || fail "could not preprocess rvf_frontend.h"
objs=()
for d in "${FRONT[@]}"; do
	for o in build/obj/"$d"/*.o; do [ -f "$o" ] && objs+=("$o"); done
done
[ "${#objs[@]}" -ge 20 ] || fail "only ${#objs[@]} front-end objects under build/obj"
used=$(nm -u "${objs[@]}" 2>/dev/null | awk 'NF == 2 {print $2}' | sort -u | comm -12 - "$T/libdef")
undeclared=$(comm -23 <(echo "$used") "$T/declared")
[ -z "$undeclared" ] || fail "front ends use library symbols that neither rvf.h nor rvf_frontend.h declares: $(echo "$undeclared" | tr '\n' ' ')"
ok
log "front ends use $(echo "$used" | grep -c .) library symbols, all declared"

# 4. no upward reference
nm --defined-only -g "${objs[@]}" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u > "$T/frontdef"
up=$(nm -u build/obj/user/lib/*.o | awk 'NF == 2 {print $2}' | sort -u | comm -12 - "$T/frontdef")
[ -z "$up" ] || fail "library objects reference front-end symbols: $(echo "$up" | tr '\n' ' ')"
ok

pass
