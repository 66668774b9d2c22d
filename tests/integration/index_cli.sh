#!/usr/bin/env bash
# index_cli.sh — `rvf index`: build + persist (JSON and text output), usage
# errors, the INDEX segment in `rvf inspect`, queries answered the same as
# before, a read-only reopen that loads the index without writing, and a
# damaged INDEX_SEG that only warns. Exit 0 pass, 77 skip, 1 fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_cmd jq python3

F=$T/a.rvf
gen_vectors 2000 16 7 >"$T/v.json"
run_ok $RVF create "$F" -d 16 >/dev/null
run_ok $RVF ingest "$F" -i "$T/v.json" >/dev/null
Q=$(python3 -c 'import json;print(",".join(str(x) for x in json.load(open("'"$T"'/v.json"))[42]["vector"]))')
run_ok $RVF query "$F" -v "$Q" -k 5 --json >"$T/q0.json"

expect_exit 2 $RVF index "$F" --m 1
expect_exit 2 $RVF index "$F" --ef-construction x
expect_exit 2 $RVF index "$F" --bogus
expect_exit 1 $RVF index "$T/missing.rvf"

run_ok $RVF index "$F" --m 8 --ef-construction 100 --json >"$T/i.json"
json_eq "$T/i.json" .nodes 2000
json_eq "$T/i.json" .m 8
json_eq "$T/i.json" .ef_construction 100
json_eq "$T/i.json" .persisted true
# status reports the loaded index (no rebuild: persisted)
run_ok $RVF status "$F" --json >"$T/st.json"
json_eq "$T/st.json" .index.nodes 2000
json_eq "$T/st.json" .index.m 8
json_eq "$T/st.json" .index.persisted true
json_ok "$T/i.json" '.levels >= 1 and .build_ms > 0 and .file_size > 0'
size=$(json_get "$T/i.json" .file_size)
assert_eq "$(stat -c %s "$F")" "$size" "file size reported"

run_ok $RVF inspect "$F" --json >"$T/ins.json"
expect_contains "$T/ins.json" '"Index"'

run_ok $RVF query "$F" -v "$Q" -k 5 --json >"$T/q1.json"
assert_eq "$(jq -c '[.results[].id]' "$T/q1.json" 2>/dev/null || jq -c '[.[].id]' "$T/q1.json")" \
	"$(jq -c '[.results[].id]' "$T/q0.json" 2>/dev/null || jq -c '[.[].id]' "$T/q0.json")" "ids with the index"
assert_eq "$(stat -c %s "$F")" "$size" "queries do not write"

run_ok $RVF index "$F" >"$T/i.txt"
expect_contains "$T/i.txt" "Index built:"
expect_contains "$T/i.txt" "Nodes:"

# Damage the INDEX payload: the open warns, queries still answer exactly.
run_ok $RVF inspect "$F" --json >"$T/ins.json"
off=$(jq -r '[.segments[] | select(.seg_type_name == "Index")][-1].offset' "$T/ins.json")
if [ -n "$off" ] && [ "$off" != null ]; then
	python3 - "$F" "$((off + 64 + 100))" <<'PY'
import sys
p, at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[at] ^= 0x5A
open(p, "wb").write(b)
PY
	expect_exit 0 $RVF query "$F" -v "$Q" -k 5 --json
	expect_contains "$T/last.err" "INDEX segment ignored"
	assert_eq "$(jq -c '[.results[].id]' "$T/last.out" 2>/dev/null || jq -c '[.[].id]' "$T/last.out")" \
		"$(jq -c '[.results[].id]' "$T/q0.json" 2>/dev/null || jq -c '[.[].id]' "$T/q0.json")" "exact ids"
else
	fail "no Index segment in rvf inspect --json"
fi
# quantized codes: sq8 scan + exact rerank gives the exact answer here
run_ok $RVF quantize "$F" --type sq8 --json >"$T/qz.json"
run_ok $RVF query "$F" -v "$Q" -k 10 --quant sq8 --json >"$T/qq.json"
run_ok $RVF query "$F" -v "$Q" -k 10 --exact --json >"$T/qe.json"
assert_eq "$(jq -c '[.results[].id]' "$T/qq.json")" "$(jq -c '[.results[].id]' "$T/qe.json")" "sq8 ids"
expect_exit 2 $RVF query "$F" -v 1 --quant nope
pass
