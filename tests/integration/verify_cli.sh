#!/usr/bin/env bash
# verify_cli.sh — rvf verify-witness / keygen / sign / verify /
# verify-attestation: passes on good files, exit 1 on every tampering.
. "$(dirname "$0")/lib.sh"
need_cmd jq python3 od dd
FX=$RVF_SHARED/spec/fixtures/ref
CO=$RVF_SHARED/corpus
need_file "$FX/f_witness.rvf" "$FX/f_reopen.rvf" "$FX/f_compact.rvf" "$CO/security_hardened.rvf"

# flip FILE OFFSET: xor one byte (od + dd: a python start costs ~1 s on a
# loaded machine and this runs ~250 times)
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- verify-witness on the reference chains ---------------------------------
for f in f_witness f_reopen f_compact; do
	expect_exit 0 "$RVF" verify-witness --json "$FX/$f.rvf"
	json_eq "$T/last.out" .status valid
done
json_eq "$T/last.out" .restarts 1
expect_exit 0 "$RVF" verify-witness --json "$FX/f_witness.rvf"
json_eq "$T/last.out" .entries 5
json_eq "$T/last.out" .links.fold32 4
expect_exit 0 "$RVF" verify-witness "$CO/security_hardened.rvf"
expect_contains "$T/last.out" "Witness chain VALID."
expect_exit 0 "$RVF" verify-witness --json "$CO/basic_store.rvf"
json_eq "$T/last.out" .status no_witnesses

# every witness payload byte of f_witness (stride 3): exit 1, first bad named
cp "$FX/f_witness.rvf" "$T/w.rvf"; chmod u+w "$T/w.rvf"
for seg in 352 910 1543 2251 2936; do
	for b in $(seq 0 3 66); do
		flip "$T/w.rvf" $((seg + 64 + b))
		expect_exit 1 "$RVF" verify-witness --json "$T/w.rvf"
		json_eq "$T/last.out" .first_bad.offset "$seg"
		flip "$T/w.rvf" $((seg + 64 + b))
	done
done
# a VEC byte: content hash, the VEC is named
flip "$T/w.rvf" 300
expect_exit 1 "$RVF" verify-witness --json "$T/w.rvf"
json_eq "$T/last.out" .first_bad.offset 162
json_eq "$T/last.out" .first_bad.seg_type Vec
json_eq "$T/last.out" .listed_hashes_ok false
expect_exit 1 "$RVF" verify-witness "$T/w.rvf"
expect_contains "$T/last.out" "FIRST BAD: segment id 2"
flip "$T/w.rvf" 300

# --- keygen / sign / verify ---------------------------------------------------
expect_exit 0 "$RVF" create "$T/s.rvf" -d 4
echo '[{"id":1,"vector":[1,2,3,4]},{"id":2,"vector":[5,6,7,8]}]' > "$T/in.json"
expect_exit 0 "$RVF" ingest "$T/s.rvf" -i "$T/in.json"
expect_exit 0 "$RVF" keygen -o "$T/k" --json
[ "$(stat -c %a "$T/k")" = 600 ] || fail "secret key mode is not 0600"; ok
[ "$(tr -d '\n' < "$T/k.pub" | wc -c)" = 64 ] || fail "public key is not 64 hex digits"; ok
expect_exit 1 "$RVF" keygen -o "$T/k"          # exists
expect_exit 0 "$RVF" keygen -o "$T/other"
expect_exit 2 "$RVF" sign "$T/s.rvf"            # --key missing
expect_exit 1 "$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub"   # unsigned
expect_exit 0 "$RVF" sign "$T/s.rvf" --key "$T/k" --json
json_eq "$T/last.out" .status signed
expect_exit 0 "$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub" --json
json_eq "$T/last.out" .status valid
expect_exit 0 "$RVF" verify "$T/s.rvf" --pubkey "$(cat "$T/k.pub")"
expect_contains "$T/last.out" "PASSED"
expect_exit 1 "$RVF" verify "$T/s.rvf" --pubkey "$T/other.pub" --json
json_eq "$T/last.out" .status wrong_key
expect_exit 0 "$RVF" status "$T/s.rvf"          # still a readable store
expect_exit 0 "$RVF" verify-witness "$T/s.rvf"
# any byte before the signature changed: exit 1
size=$(stat -c %s "$T/s.rvf")
covered=$(jq -r .covered_bytes < <("$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub" --json))
for o in 0 5 70 100 $((covered / 2)) $((covered - 1)); do
	cp "$T/s.rvf" "$T/t.rvf"; flip "$T/t.rvf" "$o"
	expect_exit 1 "$RVF" verify "$T/t.rvf" --pubkey "$T/k.pub"
done
# truncated signature
head -c $((covered + 100)) "$T/s.rvf" > "$T/t.rvf"
expect_exit 1 "$RVF" verify "$T/t.rvf" --pubkey "$T/k.pub" --json
json_eq "$T/last.out" .status unsigned
# signature bytes
cp "$T/s.rvf" "$T/t.rvf"; flip "$T/t.rvf" $((covered + 64 + 0x70 + 10))
expect_exit 1 "$RVF" verify "$T/t.rvf" --pubkey "$T/k.pub" --json
json_eq "$T/last.out" .status bad_signature
# later commit: fails, passes with --allow-append
expect_exit 0 "$RVF" ingest "$T/s.rvf" -i "$T/in.json"
expect_exit 1 "$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub" --json
json_eq "$T/last.out" .status state_changed
expect_exit 0 "$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub" --allow-append
[ "$size" -gt 0 ] && ok

# ... but a replaced (upserted) or deleted signed vector fails even with
# --allow-append, naming the ids (on main it passed)
echo '[{"id":9,"vector":[9,9,9,9]}]' > "$T/in9.json"
expect_exit 0 "$RVF" ingest "$T/s.rvf" -i "$T/in9.json"
expect_exit 0 "$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub" --allow-append --json
json_eq "$T/last.out" .status state_changed
json_eq "$T/last.out" '.changes.vectors_appended.ids[0]' 9
json_eq "$T/last.out" '.changes.vectors_modified.count' 0
cp "$T/s.rvf" "$T/d.rvf"
echo '[{"id":2,"vector":[0,0,0,1]}]' > "$T/in2.json"
expect_exit 0 "$RVF" ingest "$T/s.rvf" -i "$T/in2.json"
expect_exit 1 "$RVF" verify "$T/s.rvf" --pubkey "$T/k.pub" --allow-append --json
json_eq "$T/last.out" .status signed_records_changed
json_eq "$T/last.out" '.changes.vectors_modified.ids[0]' 2
expect_exit 0 "$RVF" delete "$T/d.rvf" --ids 1
expect_exit 1 "$RVF" verify "$T/d.rvf" --pubkey "$T/k.pub" --allow-append
expect_contains "$T/last.out" "Deleted (signed):    1: 1"

# a public key is never a signing key; keygen never writes through a symlink
expect_exit 1 "$RVF" sign "$T/s.rvf" --key "$T/k.pub"
expect_contains "$T/last.err" "not a secret key"
expect_exit 1 "$RVF" verify "$T/s.rvf" --pubkey "$T/k"
expect_contains "$T/last.err" "SECRET key"
echo precious > "$T/victim"
ln -s "$T/victim" "$T/lk"
expect_exit 1 "$RVF" keygen -o "$T/lk"
expect_exit 0 "$RVF" keygen -o "$T/lk" --force
assert_eq "$(cat "$T/victim")" precious "symlink target after keygen --force"
[ ! -L "$T/lk" ] && [ "$(stat -c %a "$T/lk")" = 600 ] || fail "keygen --force did not replace the symlink with a 0600 file"; ok

# verifiers (and every store command) refuse a FIFO instead of hanging
mkfifo "$T/fifo"
for c in "verify-witness" "verify-attestation" "verify --pubkey $T/k.pub" "status" "inspect"; do
	expect_exit 1 timeout 10 "$RVF" $c "$T/fifo"
	expect_contains "$T/last.err" "not a regular file"
done
expect_exit 1 timeout 10 "$RVF" sign "$T/s.rvf" --key "$T/fifo"
expect_contains "$T/last.err" "not a regular file"
expect_exit 1 timeout 10 "$RVF" embed-kernel "$T/s.rvf" --image-path "$T/fifo"
expect_contains "$T/last.err" "Failed to read kernel image"

# witness chain continues across processes and covers each commit's payloads
expect_exit 0 "$RVF" create "$T/c.rvf" -d 4
expect_exit 0 "$RVF" ingest "$T/c.rvf" -i "$T/in.json"
expect_exit 0 "$RVF" ingest "$T/c.rvf" -i "$T/in9.json"
expect_exit 0 "$RVF" delete "$T/c.rvf" --ids 1
expect_exit 0 "$RVF" verify-witness --json "$T/c.rvf"
json_eq "$T/last.out" .restarts 0
json_eq "$T/last.out" .links.blake2b 3 # create, 2 ingests, delete: each witnessed
json_eq "$T/last.out" .coverage.witnesses 4
json_eq "$T/last.out" .coverage.changed 0

# reference file: no signature of any kind
expect_exit 1 "$RVF" verify "$CO/security_hardened.rvf" --pubkey "$T/k.pub" --json
json_eq "$T/last.out" .status unsigned
json_eq "$T/last.out" .footer_signed_segments 0

# --- verify-attestation -----------------------------------------------------
expect_exit 0 "$RVF" verify-attestation --json "$CO/security_hardened.rvf"
json_eq "$T/last.out" .status partial
json_eq "$T/last.out" '.kernel_segments[0].binding_status' unverifiable
json_eq "$T/last.out" '.kernel_segments[0].image_hash_valid' true
expect_exit 1 "$RVF" verify-attestation --strict "$CO/security_hardened.rvf"
# the reference's legacy layout has only a fold32 image hash: partial
expect_exit 0 "$RVF" verify-attestation --json "$CO/self_booting.rvf"
json_eq "$T/last.out" .status partial
expect_exit 1 "$RVF" verify-attestation --strict "$CO/self_booting.rvf"
expect_exit 0 "$RVF" verify-attestation "$CO/self_booting.rvf"
expect_contains "$T/last.out" "Image hash:          MATCH"
# what embed-kernel writes verifies with BLAKE2b-256
head -c 4000 /dev/urandom > "$T/img"
expect_exit 0 "$RVF" create "$T/ke.rvf" -d 4
expect_exit 0 "$RVF" embed-kernel "$T/ke.rvf" --image-path "$T/img" --cmdline "quiet"
expect_exit 0 "$RVF" verify-attestation --strict --json "$T/ke.rvf"
json_eq "$T/last.out" .status valid
json_eq "$T/last.out" '.kernel_segments[0].binding_status' verified
cp "$CO/self_booting.rvf" "$T/k.rvf"; chmod u+w "$T/k.rvf"
flip "$T/k.rvf" $((26444 + 64 + 128 + 1000))   # an image byte (spec §22.4)
expect_exit 1 "$RVF" verify-attestation --json "$T/k.rvf"
json_eq "$T/last.out" .status invalid
json_eq "$T/last.out" '.kernel_segments[0].image_hash_valid' false
expect_exit 1 "$RVF" verify-attestation "$CO/basic_store.rvf"
expect_contains "$T/last.out" "No KERNEL_SEG found in file."

pass
