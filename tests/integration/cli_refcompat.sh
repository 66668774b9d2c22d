#!/usr/bin/env bash
# cli_refcompat.sh — command lines as users of the reference CLI type them
# (issue 13, item 5): bracketed vectors and id lists, `derive PARENT
# --output CHILD`, `derive --type`, `segments`, `embed-ebpf --program X.o`
# with the hook read from the object's section names; `status` of a branch
# shows visible vectors and whether the file is frozen; query output says
# which path answered (index / exact / quantized) and the efSearch used.
. "$(dirname "$0")/lib.sh"
need_cmd jq python3 clang

S=$T/a.rvf
python3 - "$T/in.jsonl" <<'PY'
import json, random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for i in range(1, 401):
        f.write(json.dumps({"id": i, "vector": [round(random.uniform(-1, 1), 4) for _ in range(8)],
                            "metadata": {"0": i % 5}}) + "\n")
PY
$RVF create "$S" -d 8 >/dev/null || fail "create"
$RVF ingest "$S" -i "$T/in.jsonl" --format jsonl --index off >/dev/null || fail "ingest"
Q="0.1,0.2,-0.3,0.4,0.5,-0.6,0.7,0.0"

# --- bracketed lists: same answer as the plain comma list ---------------------
$RVF query "$S" --vector "$Q" -k 5 --json >"$T/plain.json" || fail "query plain"
$RVF query "$S" --vector "[$Q]" -k 5 --json >"$T/br.json" || fail "query [..]"
$RVF query "$S" --vector " [ ${Q//,/, } ] " -k 5 --json >"$T/br2.json" || fail "query [ .. ] with spaces"
cmp -s <(jq -c .results "$T/plain.json") <(jq -c .results "$T/br.json") || fail "bracketed vector answers differ"
cmp -s <(jq -c .results "$T/plain.json") <(jq -c .results "$T/br2.json") || fail "spaced bracketed vector answers differ"
ok
expect_exit 1 $RVF query "$S" --vector "[$Q" -k 5
expect_exit 1 $RVF query "$S" --vector "$Q]" -k 5
expect_exit 1 $RVF query "$S" --vector "[[$Q]]" -k 5
$RVF delete "$S" --ids "[1, 2,3]" --json >"$T/del.json" || fail "delete --ids [..]"
json_eq "$T/del.json" .deleted 3
expect_exit 1 $RVF delete "$S" --ids "[4,5"

# --- query path and efSearch in the output -----------------------------------
$RVF query "$S" --vector "$Q" -k 3 >"$T/q.txt" || fail "query text"
grep -qx "Search: exact scan" "$T/q.txt" || fail "exact path not reported: $(cat "$T/q.txt")"
$RVF index "$S" >/dev/null || fail "index"
$RVF query "$S" --vector "$Q" -k 3 --ef-search 37 >"$T/q.txt" || fail "query index"
grep -qx "Search: index (HNSW, efSearch 37)" "$T/q.txt" || fail "index path not reported: $(cat "$T/q.txt")"
$RVF query "$S" --vector "$Q" -k 3 >"$T/q.txt" || fail "query default ef"
grep -qx "Search: index (HNSW, efSearch 64)" "$T/q.txt" || fail "default efSearch not reported: $(cat "$T/q.txt")"
$RVF query "$S" --vector "$Q" -k 3 --filter '{"eq":{"field":0,"value":2}}' >"$T/q.txt" || fail "filtered"
grep -qx "Search: exact scan (filtered)" "$T/q.txt" || fail "filtered path not reported: $(cat "$T/q.txt")"
$RVF query "$S" --vector "$Q" -k 3 --exact >"$T/q.txt" && grep -qx "Search: exact scan" "$T/q.txt" || fail "--exact path"
$RVF query "$S" --vector "$Q" -k 3 --quant sq8 >"$T/q.txt" && grep -qx "Search: exact scan" "$T/q.txt" ||
	fail "--quant without a quantizer must say exact: $(cat "$T/q.txt")"
$RVF quantize "$S" >/dev/null || fail "quantize"
$RVF query "$S" --vector "$Q" -k 3 --quant sq8 --rerank 20 >"$T/q.txt" || fail "quant query"
grep -qx "Search: quantized (sq8 codes, 20 candidates reranked exactly)" "$T/q.txt" || fail "quant path: $(cat "$T/q.txt")"
ok

# --- derive --output / --type, status of a branch, freeze ---------------------
$RVF derive "$S" --output "$T/child.rvf" --json >"$T/d.json" || fail "derive --output"
json_eq "$T/d.json" .copy_on_write true
$RVF derive --type clone "$S" "$T/c2.rvf" >/dev/null || fail "derive --type clone"
$RVF derive -t snapshot "$S" -o "$T/c3.rvf" >/dev/null || fail "derive -t -o"
expect_exit 2 $RVF derive "$S" --output "$T/c4.rvf" "$T/c5.rvf"
[ ! -e "$T/c4.rvf" ] && [ ! -e "$T/c5.rvf" ] || fail "a refused derive created a file"
expect_exit 1 $RVF derive --type bogus "$S" "$T/c6.rvf"
echo '[{"id":1000,"vector":[1,1,1,1,1,1,1,1]}]' >"$T/one.json"
$RVF ingest "$T/child.rvf" -i "$T/one.json" >/dev/null || fail "ingest into child"
$RVF status "$T/child.rvf" --json >"$T/st.json" || fail "status child"
json_eq "$T/st.json" .total_vectors 1
json_eq "$T/st.json" .visible_vectors 398
json_eq "$T/st.json" .frozen false
$RVF status "$T/child.rvf" | grep -q "Visible vectors: *398 (1 own + 397 from the parent)" || fail "visible text"
$RVF freeze "$T/child.rvf" >/dev/null || fail "freeze"
$RVF status "$T/child.rvf" --json >"$T/st.json" && json_eq "$T/st.json" .frozen true
$RVF status "$T/child.rvf" | grep -q "Frozen: *yes" || fail "frozen text"
$RVF status "$S" --json >"$T/st.json" && json_eq "$T/st.json" .visible_vectors 397

# --- segments ----------------------------------------------------------------
$RVF segments "$S" --json >"$T/seg.json" || fail "segments --json"
$RVF inspect "$S" --json >"$T/ins.json" || fail "inspect"
cmp -s <(jq -c . "$T/seg.json") <(jq -c .segments "$T/ins.json") || fail "segments differ from inspect's"
n=$(jq length "$T/seg.json")
$RVF segments "$S" >"$T/seg.txt" || fail "segments text"
grep -qx "Segments ($n):" "$T/seg.txt" || fail "segments header: $(head -1 "$T/seg.txt")"
[ "$(grep -c '^  \[[0-9]*\] type=0x' "$T/seg.txt")" = "$n" ] || fail "segment lines"
expect_exit 2 $RVF segments
expect_exit 1 $RVF segments "$T/missing.rvf"

# --- embed-ebpf: the hook from the section names ------------------------------
E=$T/e.rvf
$RVF create "$E" -d 128 >/dev/null
BPF=build/bpf
need_file "$BPF/rvf_xdp_d128.bpf.o" "$BPF/rvf_tc.bpf.o"
$RVF embed-ebpf "$E" --program "$BPF/rvf_xdp_d128.bpf.o" --json >"$T/x.json" || fail "embed xdp object"
json_eq "$T/x.json" '.embedded[0].program_type' 0
$RVF embed-ebpf "$E" --program "$BPF/rvf_tc.bpf.o" --json >"$T/t.json" || fail "embed tc object"
json_eq "$T/t.json" '.embedded[0].program_type' 1
json_eq "$T/t.json" '.embedded[0].attach_type' 2
cat >"$T/tp.c" <<'C'
__attribute__((section("tracepoint/syscalls/sys_enter_read"), used)) int f(void *c) { return 0; }
char _license[] __attribute__((section("license"), used)) = "GPL";
C
cat >"$T/both.c" <<'C'
__attribute__((section("xdp"), used)) int x(void *c) { return 2; }
__attribute__((section("tc"), used)) int t(void *c) { return 0; }
char _license[] __attribute__((section("license"), used)) = "GPL";
C
clang -target bpf -O2 -c "$T/tp.c" -o "$T/tp.o" && clang -target bpf -O2 -c "$T/both.c" -o "$T/both.o" || fail "clang -target bpf"
before=$(stat -c %s "$E")
expect_exit 2 $RVF embed-ebpf "$E" --program "$T/tp.o"
expect_exit 2 $RVF embed-ebpf "$E" --program "$T/both.o"
$RVF embed-ebpf "$E" --program "$T/both.o" --program-type tc >/dev/null || fail "explicit type wins"
head -c 700 /dev/urandom >"$T/junk.o"
expect_exit 1 $RVF embed-ebpf "$E" --program "$T/junk.o"
[ "$(stat -c %s "$E")" -gt "$before" ] || fail "explicit embed wrote nothing"
pass
