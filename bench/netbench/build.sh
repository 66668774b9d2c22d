#!/usr/bin/env bash
# build.sh — builds the network benchmark helpers (and build/rvfd if the
# Makefile has no rule for it yet) into build/netbench/. Needs build/librvf.a
# and build/librvfclient.a (run `make` first). Usage: bench/netbench/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG="jansson libsodium nettle zlib libisal libbpf cunit"
CF="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Iinclude -Iuser/lib -Iloader"
LIBS="build/librvfclient.a build/librvfloader.a build/librvf.a $(pkg-config --libs $PKG 2>/dev/null || echo -ljansson -lsodium -lnettle -lz -lisal -lbpf) -lm -lpthread"
mkdir -p build/netbench
for t in xdp_ref rvfbench mkstore; do
	if [ ! -x build/netbench/$t ] || [ bench/netbench/$t.c -nt build/netbench/$t ] ||
		[ build/librvf.a -nt build/netbench/$t ]; then
		gcc $CF -o build/netbench/$t bench/netbench/$t.c $LIBS
	fi
done
# rvfd: use the Makefile's rule when there is one, else a local link with the loader.
if grep -q 'build/rvfd\|$(B)/rvfd' Makefile; then
	make -s build/rvfd
else
	newest=$(ls -t user/rvfd/*.[ch] loader/*.[ch] build/librvf.a build/librvfloader.a 2>/dev/null | head -n 1)
	if [ ! -x build/rvfd ] || [ "$newest" -nt build/rvfd ]; then
		if [ -f build/librvfloader.a ]; then
			gcc $CF -o build/rvfd user/rvfd/*.c build/librvfloader.a $LIBS
			exit 0
		fi
		mkdir -p build/netbench/obj
		objs=()
		for f in loader/*.c; do
			o=build/netbench/obj/$(basename "$f" .c).o
			gcc $CF -c "$f" -o "$o"
			objs+=("$o")
		done
		gcc $CF -o build/rvfd user/rvfd/*.c "${objs[@]}" $LIBS
	fi
fi
