#!/usr/bin/env bash
# crash_powerloss.sh — what a power cut can leave of the last commit, and
# the commands that find and repair it.
#
# tests/crash/powerloss.c (built here against build/librvf.a): for every
# byte position of the last commit, the file cut there, zero-filled and
# garbage-filled from there must open at the previous or the last commit
# with every acknowledged batch (never failing, never empty, never a partial
# batch, a warning when the last commit is lost), and a writer must be able
# to commit on top. Then through the CLI: `rvf check` (exit 1 naming the
# first bad offset, --json), `rvf recover` in place (byte-identical backup,
# truncation to the last good commit, refused under a writer's lock) and
# `rvf recover --output` (salvage of a store with one damaged byte); a
# damaged first VEC: in-place recover refuses the rollback (how much it
# would drop, hand-counted), `--truncate` does it with the same counts;
# damage the current state does not use: check and recover say so and both
# exit 1, `rvf compact` cleans it; and
# (with strace) the directory fsync after create, derive and compaction.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd cc pkg-config jq python3 flock
need_file build/librvf.a include/rvf.h
[ -x "$RVF" ] || skip "$RVF not built"

P=$T/powerloss
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude \
	$(pkg-config --cflags jansson libsodium zlib 2>/dev/null) \
	-o "$P" tests/crash/powerloss.c build/librvf.a \
	-ljansson -lsodium -lnettle -lz -lisal -lbpf -lm -lpthread 2>"$T/cc.err" ||
	{ cat "$T/cc.err" >&2; fail "cannot build tests/crash/powerloss.c"; }
ok
"$P" "$T" >"$T/pl.out" 2>"$T/pl.err" || fail "$(cat "$T/pl.err" "$T/pl.out")"
ok
log "$(tail -1 "$T/pl.out")"

# ---- the CLI on a torn store ---------------------------------------------
S=$T/s.rvf
run_ok "$RVF" create "$S" -d 4 >/dev/null
gen_vectors 30 4 1 >"$T/a.json"
gen_vectors 5 4 2 | jq 'map(.id += 100)' >"$T/b.json"
run_ok "$RVF" ingest "$S" -i "$T/a.json" >/dev/null
run_ok "$RVF" check "$S" >/dev/null
expect_contains "$T/last.out" "clean"
good=$(stat -c %s "$S")
run_ok "$RVF" ingest "$S" -i "$T/b.json" >/dev/null
full=$(stat -c %s "$S")
# zero-fill the newest manifest from header byte 17 on (a power cut)
man=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read(); print(d.rfind(b'SFVR\x01\x05'))" "$S")
[ "$man" -gt "$good" ] || fail "newest manifest at $man, previous commit ends at $good"
python3 - "$S" "$((man + 17))" <<'EOF'
import sys
p, at = sys.argv[1], int(sys.argv[2])
d = bytearray(open(p, 'rb').read())
d[at:] = bytes(len(d) - at)
open(p, 'wb').write(d)
EOF
cp "$S" "$T/torn.copy"
run_ok "$RVF" status "$S" --json >"$T/st.json"
json_eq "$T/st.json" .total_vectors 30
json_eq "$T/st.json" .dimension 4
expect_contains "$T/last.err" "is damaged"
err_is 1 "first bad offset $good:" "$RVF" check "$S"
expect_exit 1 "$RVF" check "$S" --json
json_eq "$T/last.out" .first_bad_offset "$good"
json_eq "$T/last.out" .clean false
json_eq "$T/last.out" .good_end "$good"
json_ok "$T/last.out" '(keys == (keys | sort))'
# a writer holds the lock: recover refuses and changes nothing
flock -x "$S" sleep 3 &
lk=$!
sleep 0.5
err_is 1 "another process has it open for writing" "$RVF" recover "$S"
wait "$lk"
cmp -s "$S" "$T/torn.copy" || fail "a refused recover changed the file"
ok
run_ok "$RVF" recover "$S" --json >"$T/rec.json"
json_eq "$T/rec.json" .changed true
json_eq "$T/rec.json" .size_after "$good"
json_eq "$T/rec.json" .vectors 30
json_eq "$T/rec.json" .mode in_place
bak=$(json_get "$T/rec.json" .backup)
cmp -s "$bak" "$T/torn.copy" || fail "backup $bak is not byte-identical to the damaged file"
ok
[ "$(stat -c %s "$S")" -eq "$good" ] || fail "recovered file is $(stat -c %s "$S") bytes, want $good"
ok
run_ok "$RVF" check "$S" >/dev/null
run_ok "$RVF" recover "$S" >/dev/null
expect_contains "$T/last.out" "Nothing to recover"
[ ! -e "$S.bak.1" ] || fail "a clean store got a second backup"
ok
# the store is writable again and the lost batch can be re-sent
run_ok "$RVF" ingest "$S" -i "$T/b.json" >/dev/null
run_ok "$RVF" status "$S" --json >"$T/st.json"
json_eq "$T/st.json" .total_vectors 35

# ---- one damaged byte in a vector segment: salvage ------------------------
F=$T/f.rvf
cp "$S" "$F"
vec=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read(); print(d.rfind(b'SFVR\x01\x01'))" "$F")
printf '\x7f' | dd of="$F" bs=1 seek=$((vec + 64 + 20)) conv=notrunc status=none
err_is 1 "content hash mismatch" "$RVF" status "$F"
err_is 1 "first bad offset $vec:" "$RVF" check "$F"
run_ok "$RVF" recover "$F" --output "$T/salvaged.rvf" --json >"$T/sal.json"
json_eq "$T/sal.json" .mode salvage
json_eq "$T/sal.json" .segments_dropped 1
json_eq "$T/sal.json" .first_dropped_offset "$vec"
json_eq "$T/sal.json" .vectors 30
run_ok "$RVF" check "$T/salvaged.rvf" >/dev/null
err_is 1 "refusing to overwrite" "$RVF" recover "$F" --output "$T/salvaged.rvf"
expect_exit 2 "$RVF" recover

# ---- one damaged byte in the FIRST vector segment: no silent big rollback --
# (recover used to truncate to epoch 0, dropping every committed vector, and
# printed a segment count read from the truncated mapping)
G=$T/g.rvf
run_ok "$RVF" create "$G" -d 4 >/dev/null
run_ok "$RVF" ingest "$G" -i "$T/a.json" >/dev/null
run_ok "$RVF" ingest "$G" -i "$T/b.json" >/dev/null
gen_vectors 3 4 3 | jq 'map(.id += 200)' >"$T/c.json"
run_ok "$RVF" ingest "$G" -i "$T/c.json" >/dev/null
# by hand: the create commit is [witness, manifest]; everything after it
# would go; the first VEC holds a.json's 30 vectors
read -r vec0 cut nseg nbytes < <(python3 - "$G" <<'EOF2'
import struct, sys
d = open(sys.argv[1], 'rb').read()
segs, off = [], 0
while off + 64 <= len(d) and d[off:off + 4] == b'SFVR':
    plen = struct.unpack_from('<Q', d, off + 16)[0]
    segs.append((off, d[off + 5], off + 64 + plen))
    off += 64 + plen
assert off == len(d) and [t for _, t, _ in segs[:2]] == [0x0A, 0x05], segs
vec0 = next(o for o, t, _ in segs if t == 0x01)
print(vec0, segs[1][2], len(segs) - 2, len(d) - segs[1][2])
EOF2
)
cp "$G" "$T/g.clean"
printf '\x55' | dd of="$G" bs=1 seek=$((vec0 + 64 + 20)) conv=notrunc status=none
cmp -s "$G" "$T/g.clean" && fail "the flip changed nothing"
cp "$G" "$T/g.copy"
err_is 1 "would drop 3 commits ($nbytes bytes, $nseg segments) and 8 of the 8 intact vectors" \
	"$RVF" recover "$G"
expect_contains "$T/last.err" "--output NEW"
expect_contains "$T/last.err" "--truncate"
cmp -s "$G" "$T/g.copy" || fail "a refused recover changed the file"
[ ! -e "$G.bak" ] || fail "a refused recover made a backup"
ok
expect_exit 2 "$RVF" recover "$G" --truncate --output "$T/x.rvf"
run_ok "$RVF" recover "$G" --output "$T/g_salvaged.rvf" --json >"$T/gs.json"
json_eq "$T/gs.json" .vectors 8
cp "$T/g.copy" "$T/g2.rvf"
run_ok "$RVF" recover "$G" --truncate --json >"$T/gt.json"
json_eq "$T/gt.json" .segments_dropped "$nseg"
json_eq "$T/gt.json" .bytes_dropped "$nbytes"
json_eq "$T/gt.json" .first_dropped_offset "$cut"
json_eq "$T/gt.json" .epochs_dropped 3
json_eq "$T/gt.json" .vectors_lost 8
json_eq "$T/gt.json" .vectors 0
json_eq "$T/gt.json" .clean_after true
json_ok "$T/gt.json" '(keys == (keys | sort))'
[ "$(stat -c %s "$G")" -eq "$cut" ] || fail "truncated to $(stat -c %s "$G") bytes, want $cut"
ok
run_ok "$RVF" recover "$T/g2.rvf" --truncate >/dev/null
grep -Eq "Segments dropped: +$nseg\$" "$T/last.out" || fail "text output: $(cat "$T/last.out")"
grep -Eq "Bytes dropped: +$nbytes\$" "$T/last.out" || fail "text output: $(cat "$T/last.out")"
grep -Eq "Commits dropped: +3\$" "$T/last.out" || fail "text output: $(cat "$T/last.out")"
ok

# ---- damage the current state does not use: check and recover agree ------
# (recover said "Nothing to recover" while check reported damage)
H=$T/h.rvf
cp "$T/g.clean" "$H"
m0=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read(); print(d.find(b'SFVR\x01\x05'))" "$H")
printf '\x01' | dd of="$H" bs=1 seek=$((m0 + 64 + 2)) conv=notrunc status=none
cp "$H" "$T/h.copy"
err_is 1 "first bad offset $m0:" "$RVF" check "$H"
expect_contains "$T/last.err" "the current state (epoch 3) is intact"
expect_contains "$T/last.err" "rvf compact"
expect_exit 1 "$RVF" check "$H" --json
json_eq "$T/last.out" .state_intact true
json_eq "$T/last.out" .dead_problems 1
json_eq "$T/last.out" .first_dead_offset "$m0"
json_eq "$T/last.out" .tail_bytes 0
err_is 1 "still damaged: first bad offset $m0:" "$RVF" recover "$H"
expect_contains "$T/last.err" "the current state (epoch 3) is intact"
expect_contains "$T/last.err" "rvf compact"
expect_exit 1 "$RVF" recover "$H" --json
json_eq "$T/last.out" .changed false
json_eq "$T/last.out" .clean_after false
json_eq "$T/last.out" .first_bad_offset_after "$m0"
cmp -s "$H" "$T/h.copy" || fail "recover changed a file whose current state is intact"
[ ! -e "$H.bak" ] || fail "recover made a backup of a file it did not change"
ok
run_ok "$RVF" compact "$H" >/dev/null
run_ok "$RVF" check "$H" >/dev/null
run_ok "$RVF" status "$H" --json >"$T/st.json"
json_eq "$T/st.json" .total_vectors 38

# ---- the directory is fsynced after create, derive and compaction ---------
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true 2>/dev/null; then
	D=$(cd "$T" && pwd -P)
	dir_fsync() { # TRACE: line number of the first fsync of the directory, or fail
		local n
		n=$(grep -n "fsync([0-9]*<$D>)" "$1" | head -1 | cut -d: -f1)
		[ -n "$n" ] || fail "$2 did not fsync the directory $D: $(grep -c . "$1") syscalls traced"
		echo "$n"
	}
	strace -f -y -e trace=fsync,rename -o "$T/tr.create" "$RVF" create "$T/d.rvf" -d 4 >/dev/null
	dir_fsync "$T/tr.create" create >/dev/null
	ok
	run_ok "$RVF" ingest "$T/d.rvf" -i "$T/a.json" >/dev/null
	run_ok "$RVF" delete "$T/d.rvf" --ids 1,2 >/dev/null
	strace -f -y -e trace=fsync,rename -o "$T/tr.derive" "$RVF" derive "$T/d.rvf" "$T/child.rvf" >/dev/null
	dir_fsync "$T/tr.derive" derive >/dev/null
	ok
	strace -f -y -e trace=fsync,rename -o "$T/tr.compact" "$RVF" compact "$T/d.rvf" >/dev/null
	rn=$(grep -n "rename(" "$T/tr.compact" | head -1 | cut -d: -f1)
	fs=$(dir_fsync "$T/tr.compact" compact)
	[ -n "$rn" ] && [ "$fs" -gt "$rn" ] || fail "compact: no directory fsync after the rename"
	ok
else
	log "strace not usable here: directory fsync after create/derive/compact NOT checked"
fi
expect_exit 2 "$RVF" check "$F" --bogus
pass "$(tail -1 "$T/pl.out")"
