#!/usr/bin/env bash
# index_cli.sh — `rvf index`: build + persist (JSON and text output), usage
# errors, the INDEX segment in `rvf inspect`, queries answered the same as
# before, a read-only reopen that loads the index without writing, and a
# damaged INDEX_SEG that only warns; create/ingest --index, the index kept
# across ingest/delete/ingest and compaction with small growth, stored
# efSearch/policy, true sizes. Exit 0 pass, 77 skip, 1 fail.
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

# ---- incremental persistence, policy, settings (docs/index.md) -------------
G=$T/g.rvf
expect_exit 2 $RVF create "$G" -d 16 --index sometimes
expect_exit 2 $RVF ingest "$G" -i "$T/v.json" --index maybe
expect_exit 2 $RVF index "$F" --policy never
expect_exit 2 $RVF index "$F" --ef-search 0
run_ok $RVF create "$G" -d 16 --index on >/dev/null
run_ok $RVF status "$G" --json >"$T/g0.json"
json_eq "$T/g0.json" .index_policy on
json_eq "$T/g0.json" .ef_search 64
run_ok $RVF ingest "$G" -i "$T/v.json" >/dev/null
run_ok $RVF status "$G" --json >"$T/g1.json"
json_eq "$T/g1.json" .index.nodes 2000
json_eq "$T/g1.json" .index.persisted true
# the issue's sequence: ingest 2900, delete it, ingest 2901: no stale index
python3 -c 'import json;print(json.dumps([{"id":2900,"vector":[0.5]*16}]))' >"$T/one.json"
python3 -c 'import json;print(json.dumps([{"id":2901,"vector":[0.25]*16}]))' >"$T/two.json"
s0=$(stat -c %s "$G")
run_ok $RVF ingest "$G" -i "$T/one.json" >/dev/null
s1=$(stat -c %s "$G")
[ $((s1 - s0)) -le 65536 ] || fail "a 1-vector ingest grew the indexed file by $((s1 - s0)) bytes"
ok
run_ok $RVF delete "$G" --ids 2900 >/dev/null
run_ok $RVF ingest "$G" -i "$T/two.json" >/dev/null
run_ok $RVF status "$G" --json >"$T/g2.json"
if grep -q "INDEX" "$T/last.err"; then fail "index warning after ingest/delete/ingest: $(cat "$T/last.err")"; fi
json_eq "$T/g2.json" .index.nodes 2002
json_eq "$T/g2.json" .index.persisted true
assert_eq "$(json_get "$T/g2.json" .file_size)" "$(stat -c %s "$G")" "status file_size"
json_ok "$T/g2.json" '.dead_bytes > 0 and .index.log_segments >= 1'
# efSearch / policy stored without a rebuild
run_ok $RVF index "$G" --ef-search 99 --policy off --json >"$T/g3.json"
json_eq "$T/g3.json" .build_ms null
json_eq "$T/g3.json" .ef_search 99
run_ok $RVF status "$G" --json >"$T/g4.json"
json_eq "$T/g4.json" .ef_search 99
json_eq "$T/g4.json" .index_policy off
json_eq "$T/g4.json" .index.persisted true
# compaction's reported size is the file's, and the index survives it
run_ok $RVF compact "$G" --json >"$T/g5.json"
assert_eq "$(json_get "$T/g5.json" .file_size_after)" "$(stat -c %s "$G")" "compact file_size_after"
run_ok $RVF status "$G" --json >"$T/g6.json"
json_eq "$T/g6.json" .index.nodes 2001
json_eq "$T/g6.json" .index.persisted true
json_eq "$T/g6.json" .ef_search 99
pass
