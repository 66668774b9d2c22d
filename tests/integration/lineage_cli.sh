#!/usr/bin/env bash
# derive / branch / freeze / filter / rebuild-refcounts through the CLI:
# read-through, own writes, membership, refcounts and a frozen file that
# refuses every writer, all surviving reopen.
. "$(dirname "$0")/lib.sh"
TEST_NAME=lineage_cli
need_cmd jq python3
gen_vectors 300 8 3 >"$T/p.json"
run_ok $RVF create "$T/p.rvf" -d 8 >/dev/null
run_ok $RVF ingest "$T/p.rvf" -i "$T/p.json" >/dev/null

run_ok $RVF derive "$T/p.rvf" "$T/e.rvf" --empty --json >"$T/e.json"
json_eq "$T/e.json" .visible_vectors 0
json_eq "$T/e.json" .lineage_depth 1
run_ok $RVF branch "$T/p.rvf" "$T/c.rvf" --json >"$T/c.json"
json_eq "$T/c.json" .visible_vectors 300
json_eq "$T/c.json" .copy_on_write true
expect_exit 1 $RVF derive "$T/p.rvf" "$T/c.rvf"   # exists
expect_exit 1 $RVF derive "$T/p.rvf" "$T/x.rvf" -t nonsense
expect_exit 2 $RVF derive "$T/p.rvf"

# own writes on top of the parent; the parent is untouched
P_SUM=$(sha256sum "$T/p.rvf" | cut -d' ' -f1)
echo '[{"id": 1000, "vector": [1,1,1,1,1,1,1,1]}]' >"$T/own.json"
run_ok $RVF ingest "$T/c.rvf" -i "$T/own.json" >/dev/null
run_ok $RVF delete "$T/c.rvf" --ids 3,4 >/dev/null
run_ok $RVF query "$T/c.rvf" -v 1,1,1,1,1,1,1,1 -k 1 --json >"$T/q.json"
json_eq "$T/q.json" '.results[0].id' 1000
run_ok $RVF query "$T/c.rvf" -v 1,1,1,1,1,1,1,1 -k 400 --json >"$T/all.json"
json_eq "$T/all.json" .count 299
[ "$(sha256sum "$T/p.rvf" | cut -d' ' -f1)" = "$P_SUM" ] || fail "the parent changed"
ok

# membership: only ids 1, 2 of the parent stay visible (+ own 1000)
expect_exit 2 $RVF filter "$T/c.rvf"
expect_exit 1 $RVF filter "$T/p.rvf" --include-ids 1   # not a branch
run_ok $RVF filter "$T/c.rvf" --include-ids 1,2 --json >"$T/f.json"
json_eq "$T/f.json" .visible_vectors 3
run_ok $RVF rebuild-refcounts "$T/c.rvf" --json >"$T/r.json"
json_eq "$T/r.json" .status rebuilt
json_eq "$T/r.json" .cluster_count 3
expect_exit 1 $RVF rebuild-refcounts "$T/p.rvf"
ok

# freeze: every later writer refused, the state kept
run_ok $RVF freeze "$T/c.rvf" --json >"$T/z.json"
json_eq "$T/z.json" .frozen true
expect_exit 1 $RVF ingest "$T/c.rvf" -i "$T/own.json"
expect_exit 1 $RVF delete "$T/c.rvf" --ids 1
expect_exit 1 $RVF compact "$T/c.rvf"
run_ok $RVF query "$T/c.rvf" -v 1,1,1,1,1,1,1,1 -k 400 --json >"$T/all2.json"
json_eq "$T/all2.json" .count 3
ok
pass
