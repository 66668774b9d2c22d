#!/usr/bin/env bash
# verify_cli.sh — rvf verify-witness / keygen / sign / verify /
# verify-attestation: passes on good files, exit 1 on every tampering.
. "$(dirname "$0")/lib.sh"
need_cmd jq python3
FX=$RVF_SHARED/spec/fixtures/ref
CO=$RVF_SHARED/corpus
need_file "$FX/f_witness.rvf" "$FX/f_reopen.rvf" "$FX/f_compact.rvf" "$CO/security_hardened.rvf"

# flip FILE OFFSET: xor one byte
flip() { python3 -c 'import sys;f=open(sys.argv[1],"r+b");o=int(sys.argv[2]);f.seek(o);b=f.read(1)[0];f.seek(o);f.write(bytes([b^1]))' "$1" "$2"; }

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
expect_exit 0 "$RVF" verify-attestation "$CO/self_booting.rvf"
expect_contains "$T/last.out" "Image hash:          MATCH"
cp "$CO/self_booting.rvf" "$T/k.rvf"; chmod u+w "$T/k.rvf"
flip "$T/k.rvf" $((26444 + 64 + 128 + 1000))   # an image byte (spec §22.4)
expect_exit 1 "$RVF" verify-attestation --json "$T/k.rvf"
json_eq "$T/last.out" .status invalid
json_eq "$T/last.out" '.kernel_segments[0].image_hash_valid' false
expect_exit 1 "$RVF" verify-attestation "$CO/basic_store.rvf"
expect_contains "$T/last.out" "No KERNEL_SEG found in file."

pass
