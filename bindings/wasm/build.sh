#!/bin/bash
# Builds rvf.wasm: the read + query core of librvf (format codec, store open
# from a byte buffer, exact / HNSW / quantized query, metadata and filters)
# for wasm32-wasi with clang and Debian's wasi-libc.
#
# Jansson (metadata values and filter JSON) has no wasm build in Debian, so
# its source package is fetched with apt (hash-checked against the signed
# Sources index) into build/wasm/ once and compiled beside the library.
# The signing, witness and attestation files need libsodium and are left
# out: this module reads and queries, it does not write or verify trust.
#
# Usage: bindings/wasm/build.sh [OUT_DIR]   (default build/wasm)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/build/wasm}
CLANG=${CLANG:-clang}
mkdir -p "$OUT/obj"

die() { echo "wasm build: $*" >&2; exit 1; }
[ -f /usr/lib/wasm32-wasi/libc.a ] || die "wasi-libc missing (make deps installs wasi-libc lld libclang-rt-14-dev-wasm32)"
command -v wasm-ld >/dev/null || die "wasm-ld missing (Debian package lld)"

# ---- Jansson source from Debian ---------------------------------------------
JV=2.14
JSRC=$OUT/jansson-$JV
if [ ! -f "$JSRC/src/jansson.h" ]; then
	A=$OUT/apt
	mkdir -p "$A/lists/partial" "$A/cache" "$A/dl"
	. /etc/os-release
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $VERSION_CODENAME main" > "$A/sources.list"
	O=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
	   -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o APT::Sandbox::User=root)
	apt-get "${O[@]}" -qq update || die "apt-get update of the deb-src index failed"
	(cd "$A/dl" && apt-get "${O[@]}" -qq source --download-only "jansson=$JV-2") || die "apt-get source jansson failed"
	tar xzf "$A/dl/jansson_$JV.orig.tar.gz" -C "$OUT" || die "unpacking jansson failed"
fi
JGEN=$OUT/jansson-gen
mkdir -p "$JGEN"
sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' -e 's/@json_have_localeconv@/0/' \
    -e 's/@json_have_atomic_builtins@/1/' -e 's/@json_have_sync_builtins@/1/' \
    "$JSRC/src/jansson_config.h.in" > "$JGEN/jansson_config.h"
cat > "$JGEN/jansson_private_config.h" <<'H'
#define HAVE_STDINT_H 1
#define HAVE_UNISTD_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_ATOMIC_BUILTINS 1
#define HAVE_SYNC_BUILTINS 1
#define INITIAL_HASHTABLE_ORDER 3
H

# ---- compile ----------------------------------------------------------------
RES=$("$CLANG" --target=wasm32-wasi -print-resource-dir)
SYS=(-nostdinc -isystem "$RES/include" -isystem /usr/include/wasm32-wasi)
CF=(--target=wasm32-wasi -O2 -g0 -msimd128 -D_GNU_SOURCE -DRVF_NO_ALT_HASH -D_WASI_EMULATED_MMAN "${SYS[@]}"
    -I"$ROOT/bindings/wasm/compat" -include wasi_missing.h -I"$JGEN" -I"$JSRC/src" -I"$ROOT/include" -I"$ROOT/user/lib")
WARN=(-Wall -Wextra -Werror -Wno-unused-parameter)
# Left out: libsodium users (trust), x86 SIMD kernels (the distance scans
# use distance_wasm128.c's SIMD128 kernels instead: the scalar ones sum in
# sequence and do not vectorise).
SKIP='/(sign|sign_diff|attest|witness|store_witness|format_hash_alt|distance_avx2|distance_avx512)\.c$'
objs=()
for f in "$ROOT"/user/lib/*.c "$ROOT"/bindings/wasm/compat/*.c "$ROOT"/bindings/wasm/rvf_wasm.c; do
	[[ $f =~ $SKIP ]] && continue
	o=$OUT/obj/$(basename "$f" .c).o
	if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ -n "$(find "$ROOT/include" "$ROOT/user/lib" "$ROOT/bindings/wasm/compat" -name '*.h' -newer "$o" -print -quit)" ]; then
		"$CLANG" "${CF[@]}" -std=c11 "${WARN[@]}" -c "$f" -o "$o"
	fi
	objs+=("$o")
done
for f in "$JSRC"/src/*.c; do
	o=$OUT/obj/jansson_$(basename "$f" .c).o
	[ -f "$o" ] || "$CLANG" "${CF[@]}" -DHAVE_CONFIG_H -w -c "$f" -o "$o"
	objs+=("$o")
done
rm -f "$OUT/librvf_wasm.a"
llvm-ar-14 rcs "$OUT/librvf_wasm.a" "${objs[@]}" 2>/dev/null || ar rcs "$OUT/librvf_wasm.a" "${objs[@]}"

# ---- link: a WASI reactor exporting the rvfw_* entry points ----------------
EXPORTS=$(grep -o 'RVFW_EXPORT [a-z_0-9 *]*rvfw_[a-z_0-9]*' "$ROOT/bindings/wasm/rvf_wasm.c" | grep -o 'rvfw_[a-z_0-9]*' | sort -u)
LF=()
for e in $EXPORTS malloc free; do LF+=("-Wl,--export=$e"); done
"$CLANG" --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--gc-sections -Wl,--strip-all \
	-Wl,-z,stack-size=1048576 -Wl,--initial-memory=4194304 -Wl,--max-memory=4294967296 \
	"${LF[@]}" -o "$OUT/rvf.wasm" -Wl,--whole-archive "$OUT/obj/rvf_wasm.o" -Wl,--no-whole-archive \
	"$OUT/librvf_wasm.a" -lwasi-emulated-mman
echo "wasm build: $OUT/rvf.wasm ($(stat -c %s "$OUT/rvf.wasm") bytes)"
