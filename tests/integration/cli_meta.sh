#!/usr/bin/env bash
# cli_meta.sh — metadata through the CLI: ingested (simple and typed JSON
# forms), kept across reopen (the reference loses it), returned by query
# --with-metadata, used by filters of both grammars (incl. in/range) on query
# and delete; delete-then-reingest of the same id; --ids with --filter is a
# usage error; writer exclusion (flock) and --wait.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd jq python3
[ -x "$RVF" ] || skip "$RVF not built"

# ids_of FILTER [k]   ids (comma-joined, result order) of a filtered query.
ids_of() {
	run_ok "$RVF" query "$S" -v 0,0,0,0 -k "${2:-100}" -f "$1" --json >"$T/f.json"
	jq -r '[.results[].id]|join(",")' "$T/f.json"
}
epoch() { "$RVF" status "$S" --json | jq .epoch; }

S=$T/m.rvf
run_ok "$RVF" create "$S" -d 4 >/dev/null
# id i has vector [i,0,0,0] so a query at 0 returns ids in ascending order.
cat >"$T/in.json" <<'EOF'
[{"id": 1, "vector": [1,0,0,0], "metadata": {"0": 10, "1": "red", "2": 1.5, "3": true}},
 {"id": 2, "vector": [2,0,0,0], "metadata": {"0": 20, "1": "green", "2": -2.5, "3": false}},
 {"id": 3, "vector": [3,0,0,0], "metadata": {"0": 30, "1": "blue", "4": -7}},
 {"id": 4, "vector": [4,0,0,0], "metadata": {"fields": [
     {"id": 0, "type": "u64", "value": "18446744073709551615"},
     {"id": 1, "type": "string", "value": "red"},
     {"fieldId": 2, "valueType": "f64", "value": "NaN"}]}},
 {"id": 5, "vector": [5,0,0,0]},
 {"id": 6, "vector": [6,0,0,0], "metadata": null}]
EOF
run_ok "$RVF" ingest "$S" -i "$T/in.json" --json >"$T/ing.json"
json_eq "$T/ing.json" .accepted 6

# ---- metadata survives reopen (every command is a new process) ---------------
run_ok "$RVF" query "$S" -v 0,0,0,0 -k 10 --with-metadata --json >"$T/q.json"
json_eq "$T/q.json" .count 6
json_eq "$T/q.json" '.results[0].metadata|tojson' '{"0":10,"1":"red","2":1.5,"3":true}'
json_eq "$T/q.json" '.results[1].metadata|tojson' '{"0":20,"1":"green","2":-2.5,"3":false}'
json_eq "$T/q.json" '.results[2].metadata|tojson' '{"0":30,"1":"blue","4":-7}'
json_eq "$T/q.json" '.results[4].metadata|tojson' '{}'
json_eq "$T/q.json" '.results[5].metadata|tojson' '{}'
json_eq "$T/q.json" '[.results[]|keys_unsorted|join(",")]|unique|join(" ")' "distance,id,metadata"
# Without the flag the result shape is the reference's.
run_ok "$RVF" query "$S" -v 0,0,0,0 -k 1 --json >"$T/q0.json"
json_eq "$T/q0.json" '.results[0]|keys_unsorted|join(",")' "distance,id"
# Text output.
run_ok "$RVF" query "$S" -v 0,0,0,0 -k 1 --with-metadata >"$T/q.txt"
expect_contains "$T/q.txt" '  [0] id=1 distance=1.000000 metadata={"0":10,"1":"red","2":1.5,"3":true}'
# Exact values (u64 max, NaN) come back through export's typed form.
run_ok "$RVF" export "$S" --format jsonl >"$T/e.jsonl"
line4=$(sed -n 4p "$T/e.jsonl")
assert_eq "$(jq -c .metadata <<<"$line4")" \
	'{"fields":[{"id":0,"type":"u64","value":"18446744073709551615"},{"id":1,"type":"string","value":"red"},{"id":2,"type":"f64","value":"NaN"}]}' \
	"typed metadata of id 4"

# ---- filters, CLI grammar ---------------------------------------------------------
assert_eq "$(ids_of '{"eq":{"field":0,"value":20}}')" "2" "eq"
assert_eq "$(ids_of '{"eq":{"field":0,"value":{"u64":30}}}')" "3" "eq typed wrapper"
assert_eq "$(ids_of '{"eq":{"field":1,"value":"red"}}')" "1,4" "eq string"
assert_eq "$(ids_of '{"ne":{"field":1,"value":"red"}}')" "2,3,5,6" "ne (missing field matches)"
assert_eq "$(ids_of '{"lt":{"field":0,"value":25}}')" "1,2" "lt"
assert_eq "$(ids_of '{"ge":{"field":0,"value":30}}')" "3,4" "ge (u64 max included)"
assert_eq "$(ids_of '{"gt":{"field":2,"value":0.0}}')" "1" "gt f64 (NaN excluded)"
assert_eq "$(ids_of '{"eq":{"field":3,"value":true}}')" "1" "eq bool"
assert_eq "$(ids_of '{"eq":{"field":4,"value":-7}}')" "3" "eq i64"
assert_eq "$(ids_of '{"gt":{"field":0,"value":{"i64":15}}}')" "" "no u64/i64 promotion"
assert_eq "$(ids_of '{"and":[{"ge":{"field":0,"value":10}},{"eq":{"field":1,"value":"red"}}]}')" "1,4" "and"
assert_eq "$(ids_of '{"or":[{"eq":{"field":0,"value":10}},{"eq":{"field":0,"value":30}}]}')" "1,3" "or"
assert_eq "$(ids_of '{"not":{"eq":{"field":1,"value":"red"}}}')" "2,3,5,6" "not"
assert_eq "$(ids_of '{"in":{"field":0,"values":[10,30,99]}}')" "1,3" "in"
assert_eq "$(ids_of '{"in":{"field":1,"values":["green","blue"]}}')" "2,3" "in strings"
assert_eq "$(ids_of '{"range":{"field":0,"low":10,"high":30}}')" "1,2" "range [low, high)"
assert_eq "$(ids_of '{"range":{"field":0,"low":10,"high":30}}' 1)" "1" "range with k"
# ---- filters, Node grammar -----------------------------------------------------------
assert_eq "$(ids_of '{"op":"eq","fieldId":1,"valueType":"string","value":"blue"}')" "3" "node eq"
assert_eq "$(ids_of '{"op":"in","fieldId":0,"valueType":"u64","values":["20","30"]}')" "2,3" "node in"
assert_eq "$(ids_of '{"op":"range","fieldId":0,"valueType":"u64","low":"20","high":"31"}')" "2,3" "node range"
assert_eq "$(ids_of '{"op":"and","children":[{"op":"ge","fieldId":0,"valueType":"u64","value":"20"},{"op":"not","child":{"op":"eq","fieldId":1,"valueType":"string","value":"red"}}]}')" "2,3" "node and/not"
# Filter with --with-metadata, text and batch.
run_ok "$RVF" query "$S" -v 0,0,0,0 -f '{"eq":{"field":1,"value":"blue"}}' --with-metadata >"$T/q.txt"
expect_contains "$T/q.txt" 'Query results (1 neighbors):'
expect_contains "$T/q.txt" 'id=3 distance=9.000000 metadata={"0":30,"1":"blue","4":-7}'
echo '[[0,0,0,0],[10,0,0,0]]' >"$T/qs.json"
run_ok "$RVF" query "$S" -i "$T/qs.json" -k 5 -f '{"in":{"field":0,"values":[10,20]}}' --with-metadata --json >"$T/b.json"
json_eq "$T/b.json" '[.results[]|[.[].id]|join(",")]|join(" ")' "1,2 2,1"
json_eq "$T/b.json" '.results[1][0].metadata."1"' "green"
# Query options are accepted and answer exactly (no index here).
run_ok "$RVF" query "$S" -v 0,0,0,0 -k 3 --exact --ef-search 50 --timeout-ms 60000 --json >"$T/o.json"
json_eq "$T/o.json" '[.results[].id]|join(",")' "1,2,3"
# Bad filters: exit 1, message with the JSON path.
err_is 1 "invalid --filter" "$RVF" query "$S" -v 0,0,0,0 -f '{"eq":{"field":0}}'
expect_contains "$T/last.err" "missing 'value' in comparison"
err_is 1 "Invalid filter JSON" "$RVF" query "$S" -v 0,0,0,0 -f '{"eq":'
err_is 1 "Unknown filter op" "$RVF" query "$S" -v 0,0,0,0 -f '{"op":"nope"}'
err_is 1 "out of range" "$RVF" query "$S" -v 0,0,0,0 -f '{"eq":{"field":70000,"value":1}}'
err_is 1 "invalid --filter" "$RVF" query "$S" -i "$T/qs.json" -f '{}'
err_is 2 "invalid value 'x'" "$RVF" query "$S" -v 0,0,0,0 --ef-search x
err_is 2 "invalid value '-5'" "$RVF" query "$S" -v 0,0,0,0 --timeout-ms -5

# ---- delete --filter -------------------------------------------------------------
E=$(epoch)
run_ok "$RVF" delete "$S" --filter '{"eq":{"field":0,"value":999}}' --json >"$T/d.json"
json_eq "$T/d.json" .deleted 0
json_eq "$T/d.json" .epoch "$E"
assert_eq "$(epoch)" "$E" "no match: epoch unchanged"
run_ok "$RVF" delete "$S" --filter '{"range":{"field":0,"low":15,"high":35}}' --json >"$T/d.json"
json_eq "$T/d.json" .deleted 2
assert_eq "$(epoch)" "$((E + 1))" "one commit"
assert_eq "$(ids_of '{"ne":{"field":9,"value":0}}')" "1,4,5,6" "after range delete"
run_ok "$RVF" delete "$S" --filter '{"op":"in","fieldId":1,"valueType":"string","values":["red"]}' >"$T/d.txt"
expect_contains "$T/d.txt" "  Deleted:             2"
assert_eq "$(ids_of '{"ne":{"field":9,"value":0}}')" "5,6" "after node-grammar delete"
err_is 2 "cannot be used with" "$RVF" delete "$S" --ids 5 --filter '{"eq":{"field":0,"value":1}}'
err_is 1 "invalid --filter" "$RVF" delete "$S" --filter '[1]'
err_is 1 "must specify --ids or --filter" "$RVF" delete "$S"
assert_eq "$(ids_of '{"ne":{"field":9,"value":0}}')" "5,6" "failed deletes changed nothing"

# ---- delete then re-ingest the same id: live, new vector, new metadata ------------
run_ok "$RVF" delete "$S" --ids 5 >/dev/null
echo '[{"id": 5, "vector": [0,0,0,9], "metadata": {"0": 555, "7": "again"}}]' >"$T/re.json"
run_ok "$RVF" ingest "$S" -i "$T/re.json" --json >"$T/ing.json"
json_eq "$T/ing.json" .accepted 1
run_ok "$RVF" query "$S" -v 0,0,0,9 -k 1 --with-metadata --json >"$T/q.json"
json_eq "$T/q.json" '.results[0]|[.id,.distance,(.metadata|tojson)]|map(tostring)|join(" ")' '5 0 {"0":555,"7":"again"}'
run_ok "$RVF" status "$S" --json >"$T/st.json"
json_eq "$T/st.json" .total_vectors 2
assert_eq "$(ids_of '{"eq":{"field":7,"value":"again"}}')" "5" "re-ingested metadata filterable"
# Re-ingesting a live id without metadata clears its metadata (upsert).
echo '[{"id": 6, "vector": [6,0,0,0]}]' >"$T/re6.json"
run_ok "$RVF" ingest "$S" -i "$T/re6.json" >/dev/null
# Compaction keeps both, with metadata.
run_ok "$RVF" compact "$S" >/dev/null
run_ok "$RVF" query "$S" -v 0,0,0,9 -k 5 --with-metadata --json >"$T/q.json"
json_eq "$T/q.json" '[.results[]|"\(.id)=\(.metadata|tojson)"]|join(" ")' '5={"0":555,"7":"again"} 6={}'

# ---- writer exclusion: a second writer fails clearly, --wait waits ------------------
if command -v flock >/dev/null; then
	flock "$S" sleep 2 &
	holder=$!
	on_exit "kill $holder 2>/dev/null"
	sleep 0.3
	err_is 1 "another process has it open for writing" "$RVF" ingest "$S" -i "$T/re.json"
	expect_contains "$T/last.err" "--wait"
	err_is 1 "locked" "$RVF" delete "$S" --ids 6
	# Readers never take the lock.
	run_ok "$RVF" query "$S" -v 0,0,0,0 -k 1 >/dev/null
	t0=$(date +%s%N)
	run_ok "$RVF" delete "$S" --ids 6 --wait --json >"$T/d.json"
	t1=$(date +%s%N)
	json_eq "$T/d.json" .deleted 1
	[ $(((t1 - t0) / 1000000)) -ge 800 ] || fail "--wait returned before the lock was released"
	ok
	wait "$holder" || true
	run_ok "$RVF" ingest "$S" -i "$T/re6.json" --wait >/dev/null
fi

same() { cmp -s "$1" "$2" || fail "$3: $1 and $2 differ: $(diff "$1" "$2" | head -5)"; ok; }
# ---- named fields: JSON lines, CSV headers, filters (both grammars), output,
# export/re-ingest, compaction, derive, type conflicts ------------------------------
run_ok "$RVF" create "$T/nm.rvf" -d 2 >/dev/null
printf '%s\n' '{"id":1,"vector":[1,2],"metadata":{"tag":"red","price":5.5,"7":3}}' \
	'{"id":2,"vector":[2,2],"metadata":{"tag":"blue","price":2}}' \
	'{"id":3,"vector":[3,2],"metadata":[{"name":"tag","type":"string","value":"red"}]}' >"$T/nm.jsonl"
run_ok "$RVF" ingest "$T/nm.rvf" -i "$T/nm.jsonl" >/dev/null
run_ok "$RVF" query "$T/nm.rvf" --vector 1,2 -k 1 --with-metadata --json >"$T/nm.q"
assert_eq "$(jq -c .results "$T/nm.q")" '[{"distance":0,"id":1,"metadata":{"7":3,"price":5.5,"tag":"red"}}]' "names in query output"
run_ok "$RVF" query "$T/nm.rvf" --vector 1,2 -k 9 --filter '{"eq":{"field":"tag","value":"red"}}' --json >"$T/nm.q"
assert_eq "$(jq -c '[.results[].id]' "$T/nm.q")" '[1,3]' "CLI grammar by name"
run_ok "$RVF" query "$T/nm.rvf" --vector 1,2 -k 9 --filter '{"gt":{"field":"price","value":3}}' --json >"$T/nm.q"
assert_eq "$(jq -c '[.results[].id]' "$T/nm.q")" '[1]' "integer literal widened to the f64 field"
run_ok "$RVF" query "$T/nm.rvf" --vector 1,2 -k 9 --filter '{"op":"lt","field":"price","value":"3"}' --json >"$T/nm.q"
assert_eq "$(jq -c '[.results[].id]' "$T/nm.q")" '[2]' "Node grammar by name, valueType from the dictionary"
err_is 1 "unknown field name 'colour'" "$RVF" query "$T/nm.rvf" --vector 1,2 --filter '{"eq":{"field":"colour","value":"x"}}'
err_is 1 "filter.eq.value: the field is string, the value u64" "$RVF" query "$T/nm.rvf" --vector 1,2 --filter '{"eq":{"field":"tag","value":3}}'
err_is 1 "valueType 'u64' but the field is string" "$RVF" query "$T/nm.rvf" --vector 1,2 --filter '{"op":"eq","field":"tag","valueType":"u64","value":"3"}'
cp "$T/nm.rvf" "$T/nm.before"
echo '{"id":4,"vector":[1,1],"metadata":{"tag":5}}' >"$T/nmbad.jsonl"
err_is 1 "row 1 (line 1): bad metadata: metadata.tag: field 'tag' is string, got u64" "$RVF" ingest "$T/nm.rvf" -i "$T/nmbad.jsonl"
echo '{"id":4,"vector":[1,1],"metadata":{"7x":5}}' >"$T/nmbad.jsonl"
err_is 1 "key '7x' is not a field id" "$RVF" ingest "$T/nm.rvf" -i "$T/nmbad.jsonl"
printf 'id,vector,m:size\n4,"1,1",3\n' >"$T/nmbad.csv"
err_is 1 "column 'm:size': unknown field name 'size' (a new name needs its type: m:<name>:<type>)" "$RVF" ingest "$T/nm.rvf" -i "$T/nmbad.csv"
same "$T/nm.rvf" "$T/nm.before" "refused names leave the store unchanged"
printf 'id,vector,m:size:u64,m:tag\n4,"1,1",3,"green"\n' >"$T/nm.csv"
run_ok "$RVF" ingest "$T/nm.rvf" -i "$T/nm.csv" >/dev/null
run_ok "$RVF" delete "$T/nm.rvf" --filter '{"eq":{"field":"tag","value":"blue"}}' --json >"$T/nm.d"
json_eq "$T/nm.d" .deleted 1
run_ok "$RVF" compact "$T/nm.rvf" >/dev/null
for f in jsonl csv json; do
	run_ok "$RVF" export "$T/nm.rvf" --format $f >"$T/nm.out.$f"
	run_ok "$RVF" create "$T/nm_$f.rvf" -d 2 >/dev/null
	run_ok "$RVF" ingest "$T/nm_$f.rvf" -i "$T/nm.out.$f" --format $f >/dev/null
	run_ok "$RVF" export "$T/nm_$f.rvf" --format jsonl >"$T/nm.back.$f"
	same "$T/nm.out.jsonl" "$T/nm.back.$f" "names through $f export and re-ingest"
done
assert_eq "$(head -1 "$T/nm.out.csv")" "id,vector,m:7:u64,m:size:u64,m:price:f64,m:tag:string" "CSV header by name"
assert_eq "$(sed -n 1p "$T/nm.out.jsonl")" '{"id":1,"vector":[1.0,2.0],"metadata":{"7":3,"price":5.5,"tag":"red"}}' "JSONL by name after compaction"
run_ok "$RVF" derive "$T/nm.rvf" "$T/nm_child.rvf" >/dev/null
echo '{"id":9,"vector":[1,1],"metadata":{"tag":"x","size":1}}' >"$T/nmc.jsonl"
run_ok "$RVF" ingest "$T/nm_child.rvf" -i "$T/nmc.jsonl" >/dev/null
run_ok "$RVF" export "$T/nm_child.rvf" --format jsonl >"$T/nmc.out"
expect_contains "$T/nmc.out" '{"id":9,"vector":[1.0,1.0],"metadata":{"size":1,"tag":"x"}}'
echo '{"id":10,"vector":[1,1],"metadata":{"price":"cheap"}}' >"$T/nmc.jsonl"
err_is 1 "field 'price' is f64, got string" "$RVF" ingest "$T/nm_child.rvf" -i "$T/nmc.jsonl"

pass
