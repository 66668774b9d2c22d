#!/usr/bin/env bash
# shard_cli.sh — `rvf shard split` / `rvf shard merge`: every live vector and
# its metadata lands on exactly one shard (hash and range rules), each shard
# is a derived store (lineage = the source's file id) with the source's
# dimension, metric, index policy and index; merge gives back exactly the
# source's live vectors and metadata; a tampered map or shard is refused.
. "$(dirname "$0")/lib.sh"
TEST_NAME=shard_cli
need_cmd jq python3

# 1,200 vectors with sparse ids (some above 2^63), metadata on every third,
# two deleted before the split.
python3 - >"$T/v.json" <<'PY'
import json, random
r = random.Random(5)
out = []
for i in range(1200):
    rec = {"id": i * 7 + 3 if i < 1190 else 2**63 + i, "vector": [round(r.uniform(-1, 1), 6) for _ in range(16)]}
    if i % 3 == 0:
        rec["metadata"] = {"0": i, "1": "s%d" % i, "2": i / 4}
    out.append(rec)
json.dump(out, __import__("sys").stdout)
PY
run_ok $RVF create "$T/a.rvf" -d 16 -m cosine --index on >/dev/null
run_ok $RVF ingest "$T/a.rvf" -i "$T/v.json" >/dev/null
run_ok $RVF index "$T/a.rvf" --m 8 --ef-construction 40 --ef-search 77 >/dev/null
run_ok $RVF delete "$T/a.rvf" --ids 3,10 >/dev/null
SRC_ID=$(run_ok $RVF inspect "$T/a.rvf" --json | jq -r .lineage.file_id)
run_ok $RVF export "$T/a.rvf" -o "$T/src.jsonl" >/dev/null
jq -cS '.' "$T/src.jsonl" | sort >"$T/src.sorted"
assert_eq "$(wc -l <"$T/src.sorted")" 1198 "source live vectors"

check_split() { # RULE S
	local by=$1 s=$2 d="$T/$1"
	mkdir -p "$d"
	run_ok $RVF shard split "$T/a.rvf" --shards "$s" --by "$by" --out-dir "$d" --json >"$d/split.json"
	json_eq "$d/split.json" .vectors 1198
	json_eq "$d/split.json" .source_file_id "$SRC_ID"
	json_eq "$d/shardmap.json" .format rvf-shard-map
	json_eq "$d/shardmap.json" .by "$by"
	json_eq "$d/shardmap.json" '.shards|length' "$s"
	json_eq "$d/shardmap.json" '[.shards[].vectors]|add' 1198
	: >"$d/all"
	for i in $(seq 0 $((s - 1))); do
		local f="$d/shard-$i.rvf"
		run_ok $RVF check "$f" >/dev/null
		run_ok $RVF inspect "$f" --json >"$d/i$i.json"
		json_eq "$d/i$i.json" .lineage.parent_id "$SRC_ID"
		json_eq "$d/i$i.json" .lineage.lineage_depth 1
		json_eq "$d/i$i.json" .lineage.file_id "$(json_get "$d/shardmap.json" ".shards[$i].file_id")"
		run_ok $RVF status "$f" --json >"$d/s$i.json"
		json_eq "$d/s$i.json" .metric cosine
		json_eq "$d/s$i.json" .dimension 16
		json_eq "$d/s$i.json" .index_policy on
		json_eq "$d/s$i.json" .ef_search 77
		json_eq "$d/s$i.json" .index.m 8
		json_eq "$d/s$i.json" .index.ef_construction 40
		json_eq "$d/s$i.json" .total_vectors "$(json_get "$d/shardmap.json" ".shards[$i].vectors")"
		run_ok $RVF export "$f" -o "$d/e$i.jsonl" >/dev/null
		jq -cS '.' "$d/e$i.jsonl" >>"$d/all"
	done
	# every vector (with its metadata) on exactly one shard, none lost
	sort "$d/all" >"$d/all.sorted"
	cmp -s "$d/all.sorted" "$T/src.sorted" || fail "$by: the shards' union differs from the source"
	ok
	# each id on the shard its rule names
	python3 - "$d" "$s" "$by" <<'PY' || fail "$by: an id is on the wrong shard"
import json, sys
d, s, by = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = json.load(open(d + "/shardmap.json"))
M = 2**64 - 1
def mix(z):
    z = (z + 0x9e3779b97f4a7c15) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
for i in range(s):
    for line in open("%s/e%d.jsonl" % (d, i)):
        vid = json.loads(line)["id"]
        if by == "hash":
            assert mix(vid) % s == i, (vid, i)
        else:
            sh = m["shards"][i]
            assert int(sh["id_lo"]) <= vid <= int(sh["id_hi"]), (vid, i)
PY
	ok
	run_ok $RVF shard merge "$d/shardmap.json" -o "$d/merged.rvf" --json >"$d/merge.json"
	json_eq "$d/merge.json" .vectors 1198
	run_ok $RVF export "$d/merged.rvf" -o "$d/m.jsonl" >/dev/null
	jq -cS '.' "$d/m.jsonl" | sort >"$d/m.sorted"
	cmp -s "$d/m.sorted" "$T/src.sorted" || fail "$by: merge differs from the source"
	ok
	run_ok $RVF status "$d/merged.rvf" --json >"$d/ms.json"
	json_eq "$d/ms.json" .metric cosine
	json_eq "$d/ms.json" .index.m 8
	json_eq "$d/ms.json" .ef_search 77
}
check_split hash 3
check_split range 4
# range bounds: contiguous over the whole u64 space, as decimal strings
json_eq "$T/range/shardmap.json" '.shards[0].id_lo' 0
json_eq "$T/range/shardmap.json" '.shards[3].id_hi' 18446744073709551615
json_ok "$T/range/shardmap.json" '[range(1;4) as $i | (.shards[$i].id_lo|tonumber) > (.shards[$i-1].id_lo|tonumber)]|all'

# --addrs lands in the map; a wrong count is a usage error
mkdir "$T/ad"
run_ok $RVF shard split "$T/a.rvf" --shards 2 --by hash --out-dir "$T/ad" \
	--addrs 10.0.0.1:7878,[fd00::2]:7879 >/dev/null
json_eq "$T/ad/shardmap.json" '.shards[1].addr' '[fd00::2]:7879'
mkdir "$T/ad2"
expect_exit 2 $RVF shard split "$T/a.rvf" --shards 2 --by hash --out-dir "$T/ad2" --addrs 10.0.0.1:1
assert_eq "$(ls "$T/ad2" | wc -l)" 0 "files left by a refused split"

# usage and refusals
expect_exit 2 $RVF shard
expect_exit 2 $RVF shard cut "$T/a.rvf"
expect_exit 2 $RVF shard split "$T/a.rvf" --shards 0 --by hash --out-dir "$T"
expect_exit 2 $RVF shard split "$T/a.rvf" --shards 2 --by modulo --out-dir "$T"
expect_exit 2 $RVF shard split "$T/a.rvf" --shards 2 --by hash
err_is 1 "refusing to overwrite" $RVF shard split "$T/a.rvf" --shards 3 --by hash --out-dir "$T/hash"
err_is 1 "not a directory" $RVF shard split "$T/a.rvf" --shards 3 --by hash --out-dir "$T/nope"
mkdir "$T/few"
gen_vectors 3 4 >"$T/three.json"
run_ok $RVF create "$T/three.rvf" -d 4 >/dev/null
run_ok $RVF ingest "$T/three.rvf" -i "$T/three.json" >/dev/null
err_is 1 "cannot fill" $RVF shard split "$T/three.rvf" --shards 4 --by range --out-dir "$T/few"
assert_eq "$(ls "$T/few" | wc -l)" 0 "files left by a refused range split"
expect_exit 2 $RVF shard merge "$T/hash/shardmap.json"
err_is 1 "exists" $RVF shard merge "$T/hash/shardmap.json" -o "$T/hash/merged.rvf"

# tampered maps and shards: refused, and no output left behind
tamper() { # NAME JQ-EXPR EXPECTED-MESSAGE
	local d="$T/t-$1"
	cp -r "$T/hash" "$d" && rm -f "$d/merged.rvf"
	jq "$2" "$T/hash/shardmap.json" >"$d/shardmap.json"
	err_is 1 "$3" $RVF shard merge "$d/shardmap.json" -o "$d/out.rvf"
	[ ! -e "$d/out.rvf" ] || fail "$1: merge left an output"
	ok
}
tamper escape '.shards[0].file = "../a.rvf"' "plain file name"
tamper swapped '.shards[0].file = "shard-1.rvf" | .shards[1].file = "shard-0.rvf"' "the map says"
tamper count '.shards[2].vectors += 1' "the map says"
tamper rule '.by = "range" | .shards[0].id_lo="0" | .shards[0].id_hi="99" | .shards[1].id_lo="100" | .shards[1].id_hi="999" | .shards[2].id_lo="1000" | .shards[2].id_hi="18446744073709551615"' "belongs to shard"
tamper gap '.by = "range" | .shards[0].id_lo="0" | .shards[0].id_hi="99" | .shards[1].id_lo="101" | .shards[1].id_hi="999" | .shards[2].id_lo="1000" | .shards[2].id_hi="18446744073709551615"' "contiguous"
tamper source '.source.file_id = "00000000000000000000000000000000"' "derived from"
tamper version '.version = 2' "rvf-shard-map"
tamper dup '.shards[1].file_id = .shards[0].file_id' "same file"
# a shard changed after the split (same count, one id moved in from another shard)
d="$T/t-moved"; cp -r "$T/hash" "$d"; rm -f "$d/merged.rvf"
MOVE=$(jq -cs '.[0]' "$T/hash/e1.jsonl")
VICTIM=$(jq -rs '.[0].id' "$T/hash/e0.jsonl")
echo "[$MOVE]" >"$d/mv.json"
run_ok $RVF delete "$d/shard-0.rvf" --ids "$VICTIM" >/dev/null
run_ok $RVF ingest "$d/shard-0.rvf" -i "$d/mv.json" >/dev/null
err_is 1 "belongs to shard 1" $RVF shard merge "$d/shardmap.json" -o "$d/out.rvf"
pass
