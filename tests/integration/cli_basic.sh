#!/usr/bin/env bash
# cli_basic.sh — every `rvf` command end to end: text and --json output,
# exit codes (2 usage, 1 runtime), error messages, batch queries from JSON
# and .npy, and query results against a Python brute force for l2, ip and
# cosine. Exit 0 pass, 77 skip, 1 fail. RVF points to the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -f tests/integration/lib.sh ]; then
	. tests/integration/lib.sh
else
	# Minimal stand-ins so the script also runs on its own.
	: "${RVF:=build/rvf}"
	TEST_NAME=cli_basic
	_CHECKS=0
	fail() { echo "[$TEST_NAME] FAIL: $*" >&2; exit 1; }
	pass() { echo "[$TEST_NAME] PASS ($_CHECKS checks)"; exit 0; }
	skip() { echo "[$TEST_NAME] SKIP: $*" >&2; exit 77; }
	ok() { _CHECKS=$((_CHECKS + 1)); }
	need_cmd() { for c in "$@"; do command -v "$c" >/dev/null || skip "no $c"; done; }
	T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
	expect_exit() {
		local want=$1 rc=0; shift
		"$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
		[ "$rc" -eq "$want" ] || { cat "$T/last.err" >&2; fail "expected exit $want, got $rc: $*"; }
		ok
	}
	run_ok() { expect_exit 0 "$@"; cat "$T/last.out"; }
	expect_contains() { grep -qF -- "$2" "$1" || fail "'$2' not in $1: $(head -c 500 "$1")"; ok; }
	assert_eq() { [ "$1" = "$2" ] || fail "${3:-value}: got '$1', want '$2'"; ok; }
	json_eq() { local g; g=$(jq -r "$2" "$1"); [ "$g" = "$3" ] || fail "$2 in $1: got '$g' want '$3'"; ok; }
	json_ok() { jq -e "$2" "$1" >/dev/null || fail "JSON check failed on $1: $2"; ok; }
	err_is() { local code=$1 text=$2; shift 2; expect_exit "$code" "$@"; expect_contains "$T/last.err" "$text"; }
fi

need_cmd jq python3
[ -x "$RVF" ] || skip "$RVF not built"

# keys FILE  sorted top-level keys, comma-joined.
keys() { jq -r 'keys_unsorted | join(",")' "$1"; }

# ---- version / help / dispatch -------------------------------------------
assert_eq "$(run_ok "$RVF" --version)" "rvf 0.1.0" "--version"
assert_eq "$(run_ok "$RVF" -V)" "rvf 0.1.0" "-V"
run_ok "$RVF" help >/dev/null
expect_contains "$T/last.out" "Usage: rvf"
run_ok "$RVF" --help >/dev/null
run_ok "$RVF" help query >/dev/null
expect_contains "$T/last.out" "--vector"
run_ok "$RVF" create --help >/dev/null
expect_exit 2 "$RVF"
err_is 2 "unrecognized subcommand 'frobnicate'" "$RVF" frobnicate
err_is 2 "unexpected argument '--bogus'" "$RVF" --bogus
err_is 2 "Usage:" "$RVF" help frobnicate

# ---- create -----------------------------------------------------------------
S=$T/s.rvf
run_ok "$RVF" create "$S" -d 4 >"$T/create.txt"
expect_contains "$T/create.txt" "Created RVF store: $S"
expect_contains "$T/create.txt" "  Dimension:           4"
expect_contains "$T/create.txt" "  Metric:              l2"
expect_contains "$T/create.txt" "  Profile:             0"
err_is 1 "already exists" "$RVF" create "$S" -d 4
run_ok "$RVF" create "$T/c.rvf" --dimension 3 --metric ip --profile 9 --json >"$T/c.json"
assert_eq "$(keys "$T/c.json")" "dimension,metric,path,profile,status" "create keys"
json_eq "$T/c.json" .dimension 3
json_eq "$T/c.json" .metric inner_product
json_eq "$T/c.json" .profile 9
json_eq "$T/c.json" .status created
json_eq "$T/c.json" .path "$T/c.rvf"
# 2-space indent, one object.
head -2 "$T/c.json" | tail -1 | grep >/dev/null '^  "dimension": 3,$' || fail "create --json not 2-space indented"
ok
err_is 1 "Dimension must be between 1 and 65535 (got 0)" "$RVF" create "$T/x.rvf" -d 0
err_is 1 "Dimension must be between 1 and 65535 (got 65536)" "$RVF" create "$T/x.rvf" -d 65536
err_is 1 "Unknown metric: Cosine" "$RVF" create "$T/x.rvf" -d 3 -m Cosine
err_is 1 "Unknown metric: dot" "$RVF" create "$T/x.rvf" -d 3 -m dot
[ ! -e "$T/x.rvf" ] || fail "failed create left a file"
ok
err_is 2 "--dimension" "$RVF" create "$T/x.rvf"
err_is 2 "invalid value 'abc'" "$RVF" create "$T/x.rvf" -d abc
err_is 2 "invalid value '-3'" "$RVF" create "$T/x.rvf" -d -3
err_is 2 "invalid value '256'" "$RVF" create "$T/x.rvf" -d 3 -p 256
err_is 2 "unexpected argument '--nope'" "$RVF" create "$T/x.rvf" -d 3 --nope
err_is 2 "unexpected argument 'extra'" "$RVF" create "$T/x.rvf" -d 3 extra
err_is 2 "<PATH>" "$RVF" create -d 3
for m in l2 L2 ip inner_product cosine; do
	run_ok "$RVF" create "$T/m_$m.rvf" -d 2 -m "$m" --json >"$T/m.json"
	run_ok "$RVF" status "$T/m_$m.rvf" --json >"$T/ms.json"
	want=$(case $m in l2|L2) echo l2 ;; ip|inner_product) echo inner_product ;; *) echo cosine ;; esac)
	json_eq "$T/ms.json" .metric "$want"
done

# ---- ingest -----------------------------------------------------------------
cat >"$T/in.json" <<'EOF'
[{"id": 1, "vector": [1, 0, 0, 0]},
 {"id": 2, "vector": [0, 1, 0, 0], "metadata": {"0": true}},
 {"id": 3, "vector": [3, 4, 0, 0]},
 {"id": 4, "vector": [-1, 0, 0, 0]},
 {"id": 5, "vector": [1, 2]}]
EOF
run_ok "$RVF" ingest "$S" -i "$T/in.json" >"$T/ing.txt"
expect_contains "$T/ing.txt" "Ingestion complete:"
expect_contains "$T/ing.txt" "  Accepted:            4"
expect_contains "$T/ing.txt" "  Rejected:            1"
run_ok "$RVF" status "$S" --json >"$T/st.json"
json_eq "$T/st.json" .total_vectors 4
E0=$(jq .epoch "$T/st.json")
# Batches of 2: three commits, last epoch reported.
run_ok "$RVF" create "$T/b.rvf" -d 4 >/dev/null
run_ok "$RVF" ingest "$T/b.rvf" -i "$T/in.json" -b 2 --json >"$T/ing.json"
assert_eq "$(keys "$T/ing.json")" "accepted,epoch,rejected" "ingest keys"
json_eq "$T/ing.json" .accepted 4
json_eq "$T/ing.json" .rejected 1
run_ok "$RVF" status "$T/b.rvf" --json >"$T/bst.json"
json_eq "$T/ing.json" .epoch "$(jq .epoch "$T/bst.json")"
run_ok "$RVF" ingest "$T/b.rvf" -i "$T/in.json" -b 0 --wait --json >/dev/null
# Empty array: nothing opened, store need not exist.
echo '[]' >"$T/empty.json"
assert_eq "$(run_ok "$RVF" ingest "$T/none.rvf" -i "$T/empty.json")" "No records to ingest."
run_ok "$RVF" ingest "$T/none.rvf" -i "$T/empty.json" --json >"$T/e.json"
json_eq "$T/e.json" '[.accepted,.rejected,.epoch]|join(",")' "0,0,0"
# Malformed input: exit 1, index named, nothing written.
bad=(
	'[{"id":1,"vector":[1,0,0,0]},{"id":-1,"vector":[1,2,3,4]}]|row 2 (line 1): "id" must be a non-negative integer'
	'[{"id":"7","vector":[1,2,3,4]}]|row 1 (line 1): "id" must be a non-negative integer'
	'[{"id":1.5,"vector":[1,2,3,4]}]|row 1 (line 1): "id" must be a non-negative integer'
	'[{"id":1,"vector":[1,"a",3,4]}]|row 1 (line 1): "vector" component 1 is not a number'
	'[{"id":1,"vector":[1,2,3,4]},{"id":2}]|row 2 (line 1): missing field "vector"'
	'[{"vector":[1,2,3,4]}]|row 1 (line 1): missing field "id"'
	'[{"id":1,"vector":[1,2,3,4]},7]|row 2 (line 1): expected an object'
	'{"id":1,"vector":[1,2,3,4]}|expected a JSON array'
	'[{"id":1,|expected near'
)
for b in "${bad[@]}"; do
	printf '%s\n' "${b%%|*}" >"$T/bad.json"
	err_is 1 "${b#*|}" "$RVF" ingest "$S" -i "$T/bad.json"
done
run_ok "$RVF" status "$S" --json >"$T/st2.json"
json_eq "$T/st2.json" .epoch "$E0"
json_eq "$T/st2.json" .total_vectors 4
err_is 1 "unable to open" "$RVF" ingest "$S" -i "$T/missing.json"
err_is 1 "no such file" "$RVF" ingest "$T/missing.rvf" -i "$T/in.json"
err_is 2 "--input" "$RVF" ingest "$S"
err_is 2 "invalid value 'x'" "$RVF" ingest "$S" -i "$T/in.json" -b x

# ---- query (single) -----------------------------------------------------------
run_ok "$RVF" query "$S" -v "1.0, 0,0 ,0" >"$T/q.txt"
expect_contains "$T/q.txt" "Query results (4 neighbors):"
expect_contains "$T/q.txt" "  [0] id=1 distance=0.000000"
expect_contains "$T/q.txt" "  [1] id=2 distance=2.000000"
expect_contains "$T/q.txt" "  [3] id=3 distance=20.000000"
run_ok "$RVF" query "$S" -v 1,0,0,0 -k 2 --json >"$T/q.json"
assert_eq "$(keys "$T/q.json")" "count,results" "query keys"
json_eq "$T/q.json" .count 2
json_eq "$T/q.json" '.results[0]|keys_unsorted|join(",")' "distance,id"
json_eq "$T/q.json" '[.results[].id]|join(",")' "1,2"
json_eq "$T/q.json" '.results[1].distance' 2
assert_eq "$(run_ok "$RVF" query "$S" -v 1,0,0,0 -k 0)" "Query results (0 neighbors):"
run_ok "$RVF" query "$S" -v 1,0,0,0 -k 100 --json >"$T/q.json"
json_eq "$T/q.json" .count 4
err_is 1 "Invalid vector component 'x'" "$RVF" query "$S" -v 1,x,0,0
err_is 1 "dimension mismatch" "$RVF" query "$S" -v 1,0
err_is 1 "invalid --filter" "$RVF" query "$S" -v 1,0,0,0 -f '{"eq":{"field":0}}'
err_is 1 "no such file" "$RVF" query "$T/missing.rvf" -v 1,0,0,0
err_is 2 "invalid value 'ten'" "$RVF" query "$S" -v 1,0,0,0 -k ten
err_is 2 "invalid value '-1'" "$RVF" query "$S" -v 1,0,0,0 -k -1
err_is 2 "--vector" "$RVF" query "$S"
err_is 2 "cannot be used with" "$RVF" query "$S" -v 1,0,0,0 -i "$T/q.json"
err_is 2 "a value is required" "$RVF" query "$S" -v

# ---- delete -----------------------------------------------------------------
run_ok "$RVF" delete "$S" --ids 1,99 >"$T/d.txt"
expect_contains "$T/d.txt" "Delete complete:"
expect_contains "$T/d.txt" "  Deleted:             1"
run_ok "$RVF" delete "$S" --ids "2, 3" --json >"$T/d.json"
assert_eq "$(keys "$T/d.json")" "deleted,epoch" "delete keys"
json_eq "$T/d.json" .deleted 2
run_ok "$RVF" query "$S" -v 1,0,0,0 --json >"$T/q.json"
json_eq "$T/q.json" '[.results[].id]|join(",")' "4"
err_is 1 "must specify --ids or --filter" "$RVF" delete "$S"
err_is 1 "Invalid ID 'x'" "$RVF" delete "$S" --ids 1,x
err_is 1 "Invalid ID '-2'" "$RVF" delete "$S" --ids -2
err_is 1 "invalid --filter" "$RVF" delete "$S" --filter '{"ne":{"field":0}}'
err_is 2 "cannot be used with" "$RVF" delete "$S" --ids 4 --filter '{}'
err_is 2 "unexpected argument '-k'" "$RVF" delete "$S" -k 3

# ---- status / inspect ---------------------------------------------------------
run_ok "$RVF" status "$S" >"$T/st.txt"
expect_contains "$T/st.txt" "RVF Store: $S"
expect_contains "$T/st.txt" "  Vectors:             1"
expect_contains "$T/st.txt" "  Dead space:          75.0%"
expect_contains "$T/st.txt" "  Metric:              l2"
grep -qE '^  File size:           [0-9]+ bytes$' "$T/st.txt" || fail "status File size line"
ok
run_ok "$RVF" status "$S" --json >"$T/st.json"
assert_eq "$(keys "$T/st.json")" \
	"dead_bytes,dead_space_ratio,dimension,ef_search,epoch,file_size,frozen,index,index_policy,index_rebuild_needed,metric,profile_id,read_only,total_segments,total_vectors,visible_vectors" \
	"status keys"
json_eq "$T/st.json" .read_only true
json_eq "$T/st.json" .dead_space_ratio 0.75
json_eq "$T/st.json" .file_size "$(stat -c %s "$S")"
run_ok "$RVF" inspect "$S" >"$T/in.txt"
expect_contains "$T/in.txt" "Segments ("
expect_contains "$T/in.txt" "type=Vec"
expect_contains "$T/in.txt" "Lineage:"
expect_contains "$T/in.txt" "  Is root:             true"
run_ok "$RVF" inspect "$S" --json >"$T/in.json"
assert_eq "$(keys "$T/in.json")" \
	"dimension,epoch,file_size,lineage,metric,path,segments,total_segments,total_vectors" \
	"inspect keys"
json_eq "$T/in.json" '.lineage|keys_unsorted|join(",")' \
	"file_id,is_root,lineage_depth,parent_hash,parent_id"
json_ok "$T/in.json" '.lineage.file_id|test("^[0-9a-f]{32}$")'
json_ok "$T/in.json" '.lineage.parent_hash == ("0"*64)'
json_ok "$T/in.json" '.lineage.is_root and .lineage.lineage_depth == 0'
json_ok "$T/in.json" '(.segments|length) == .total_segments'
json_ok "$T/in.json" '.segments[0]|keys_unsorted == ["offset","payload_length","seg_id","seg_type","seg_type_name"]'
json_ok "$T/in.json" 'any(.segments[]; .seg_type_name == "Vec" and .seg_type == 1)'
err_is 1 "no such file" "$RVF" status "$T/missing.rvf"
head -c 100 /dev/urandom >"$T/garbage.rvf"
expect_exit 1 "$RVF" inspect "$T/garbage.rvf"
grep -qE '^error: .+: .+' "$T/last.err" || fail "error line shape: $(cat "$T/last.err")"
ok
err_is 2 "unexpected argument" "$RVF" status "$S" "$S"

# ---- compact -----------------------------------------------------------------
run_ok "$RVF" compact "$S" >"$T/cp.txt"
expect_contains "$T/cp.txt" "Compaction complete:"
expect_contains "$T/cp.txt" "  Vectors after:       1"
run_ok "$RVF" compact "$S" --strip-unknown --json >"$T/cp.json"
expect_contains "$T/last.err" "Warning: --strip-unknown will remove segment types not recognized by this version."
expect_contains "$T/last.err" "This may discard data written by newer tools."
assert_eq "$(keys "$T/cp.json")" \
	"bytes_reclaimed,epoch,file_size_after,file_size_before,segments_compacted,strip_unknown,vectors_after,vectors_before" \
	"compact keys"
json_eq "$T/cp.json" .strip_unknown true
json_eq "$T/cp.json" .vectors_after 1
json_eq "$T/cp.json" .file_size_after "$(stat -c %s "$S")"
run_ok "$RVF" query "$S" -v -1,0,0,0 --json >"$T/q.json"
json_eq "$T/q.json" '.results[0].id' 4
err_is 1 "no such file" "$RVF" compact "$T/missing.rvf"

# ---- query results vs brute force, all metrics, single and batch ----------------
cat >"$T/bf.py" <<'PY'
# bf.py MODE ...: gen N D SEED OUT | queries NQ D SEED JSON NPY | check DATA QUERIES METRIC K RESULT
import json, math, random, struct, sys

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

def dist(metric, q, v):
    # f32 arithmetic, sequential over dimensions, like the store.
    if metric == "l2":
        s = 0.0
        for a, b in zip(q, v):
            d = f32(a - b)
            s = f32(s + f32(d * d))
        return s
    dot = 0.0
    for a, b in zip(q, v):
        dot = f32(dot + f32(a * b))
    if metric == "ip":
        return -dot
    na = nb = 0.0
    for a, b in zip(q, v):
        na = f32(na + f32(a * a))
        nb = f32(nb + f32(b * b))
    if na <= 1e-30 or nb <= 1e-30:
        return 1.0
    return 1.0 - dot / math.sqrt(na * nb)

def npy(path, rows):
    d = len(rows[0])
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), d)
    h += " " * (64 - (10 + len(h) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
        for r in rows:
            f.write(struct.pack("<%df" % d, *r))

mode = sys.argv[1]
if mode == "gen":
    n, d, seed, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    r = random.Random(seed)
    recs = [{"id": 1000 + 7 * i, "vector": [f32(r.uniform(-1, 1)) for _ in range(d)]}
            for i in range(n)]
    recs.append({"id": 5, "vector": [0.5] * (d + 1)})  # wrong length: rejected
    json.dump(recs, open(out, "w"))
elif mode == "queries":
    nq, d, seed, jout, nout = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    r = random.Random(seed)
    qs = [[f32(r.uniform(-1, 1)) for _ in range(d)] for _ in range(nq)]
    json.dump(qs, open(jout, "w"))
    npy(nout, qs)
elif mode == "check":
    data = [x for x in json.load(open(sys.argv[2])) if len(x["vector"]) == len(json.load(open(sys.argv[3]))[0])]
    qs = json.load(open(sys.argv[3]))
    metric, k, res = sys.argv[4], int(sys.argv[5]), json.load(open(sys.argv[6]))
    assert res["count"] == len(qs), "count %s != %d" % (res["count"], len(qs))
    assert res["k"] == k
    assert isinstance(res["elapsed_ms"], (int, float)) and res["elapsed_ms"] >= 0
    for qi, (q, got) in enumerate(zip(qs, res["results"])):
        want = sorted((dist(metric, q, v["vector"]), v["id"]) for v in data)[:k]
        assert len(got) == len(want), "query %d: %d results, want %d" % (qi, len(got), len(want))
        byid = {v["id"]: dist(metric, q, v["vector"]) for v in data}
        for j, (g, (wd, wid)) in enumerate(zip(got, want)):
            tol = 1e-5 * max(1.0, abs(wd))
            # Same distance at every rank; the id's own distance must agree too
            # (near-ties may legitimately swap ids).
            assert abs(g["distance"] - wd) <= tol, "q%d r%d: %r vs %r" % (qi, j, g["distance"], wd)
            assert abs(byid[g["id"]] - g["distance"]) <= tol, "q%d r%d id %d" % (qi, j, g["id"])
        ids = [g["id"] for g in got]
        assert len(set(ids)) == len(ids), "duplicate ids"
        assert all(got[i]["distance"] <= got[i + 1]["distance"] for i in range(len(got) - 1))
    print("ok")
PY
D=8
python3 "$T/bf.py" gen 60 $D 42 "$T/data.json"
python3 "$T/bf.py" queries 6 $D 7 "$T/qs.json" "$T/qs.npy"
for m in l2 ip cosine; do
	st=$T/bf_$m.rvf
	run_ok "$RVF" create "$st" -d $D -m $m >/dev/null
	run_ok "$RVF" ingest "$st" -i "$T/data.json" -b 25 --json >"$T/bi.json"
	json_eq "$T/bi.json" .accepted 60
	json_eq "$T/bi.json" .rejected 1
	run_ok "$RVF" query "$st" -i "$T/qs.json" -k 7 --json >"$T/bj.json"
	assert_eq "$(keys "$T/bj.json")" "count,elapsed_ms,k,results" "batch keys"
	assert_eq "$(python3 "$T/bf.py" check "$T/data.json" "$T/qs.json" $m 7 "$T/bj.json")" ok "brute force $m (json)"
	run_ok "$RVF" query "$st" --input "$T/qs.npy" -k 7 --json >"$T/bn.json"
	assert_eq "$(python3 "$T/bf.py" check "$T/data.json" "$T/qs.json" $m 7 "$T/bn.json")" ok "brute force $m (npy)"
	assert_eq "$(jq -c .results "$T/bn.json")" "$(jq -c .results "$T/bj.json")" "npy == json batch ($m)"
	# Single queries agree with the batch, and k > live returns all.
	for i in 0 3; do
		v=$(jq -r ".[$i]|map(tostring)|join(\",\")" "$T/qs.json")
		run_ok "$RVF" query "$st" -v "$v" -k 7 --json >"$T/one.json"
		assert_eq "$(jq -c .results "$T/one.json")" "$(jq -c ".results[$i]" "$T/bj.json")" "single == batch ($m, q$i)"
	done
	run_ok "$RVF" query "$st" -i "$T/qs.json" -k 1000 --json >"$T/ball.json"
	json_ok "$T/ball.json" 'all(.results[]; length == 60)'
	run_ok "$RVF" query "$st" -i "$T/qs.json" -k 2 >"$T/bt.txt"
	expect_contains "$T/bt.txt" "Query 5 results (2 neighbors):"
done

# ---- batch query errors ---------------------------------------------------------
st=$T/bf_l2.rvf
python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
def npy(name, descr="<f4", fo="False", shape="(1, 8)", ver=1, data=8, hlen=None, fmt="<%df"):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fo, shape)
    pre = 10 if ver == 1 else 12
    h += " " * (64 - (pre + len(h) + 1) % 64) + "\n"
    n = len(h) if hlen is None else hlen
    with open("%s/%s" % (t, name), "wb") as f:
        f.write(b"\x93NUMPY" + bytes([ver, 0]))
        f.write(struct.pack("<H" if ver == 1 else "<I", n) + h.encode())
        f.write(struct.pack(fmt % data, *([0.25] * data)))
npy("v2.npy", ver=2)
npy("v3.npy", ver=3)
npy("f8.npy", descr="<f8", fmt="<%dd")
npy("f2.npy", descr="<f2", fmt="<%de")
npy("be.npy", descr=">f4", fmt=">%df")
npy("i8.npy", descr="<i8", data=16)
npy("fortran.npy", fo="True")
npy("oned.npy", shape="(8,)")
npy("threed.npy", shape="(1, 2, 4)")
npy("short.npy", shape="(2, 8)")
npy("dim.npy", shape="(2, 4)")
npy("v9.npy", ver=9)
npy("hdr.npy", hlen=5000)
PY
for f in v2 v3 f8 f2 be fortran; do
	run_ok "$RVF" query "$st" -i "$T/$f.npy" -k 3 --json >"$T/v_$f.json"
	json_eq "$T/v_$f.json" .count 1
	assert_eq "$(jq -c .results "$T/v_$f.json")" "$(jq -c .results "$T/v_v2.json")" "$f query == float32 query"
	case $f in
	f8) expect_contains "$T/last.err" "note: $T/f8.npy: float64 .npy converted to float32" ;;
	f2) expect_contains "$T/last.err" "note: $T/f2.npy: float16 .npy converted to float32" ;;
	esac
done
err_is 1 "unsupported .npy dtype" "$RVF" query "$st" -i "$T/i8.npy"
err_is 1 "must be 2-D" "$RVF" query "$st" -i "$T/oned.npy"
err_is 1 "must be 2-D" "$RVF" query "$st" -i "$T/threed.npy"
err_is 1 "needs 64" "$RVF" query "$st" -i "$T/short.npy"
err_is 1 "dimension mismatch" "$RVF" query "$st" -i "$T/dim.npy"
err_is 1 "format version 9" "$RVF" query "$st" -i "$T/v9.npy"
err_is 1 "truncated .npy header" "$RVF" query "$st" -i "$T/hdr.npy"
echo '[[1,2,3,4,5,6,7,8],[1,2,3]]' >"$T/bq.json"
err_is 1 "query 1 in" "$RVF" query "$st" -i "$T/bq.json"
echo '[[1,2,3,4,5,6,7,"8"]]' >"$T/bq.json"
err_is 1 "query 0: component 7 is not a number" "$RVF" query "$st" -i "$T/bq.json"
echo '[1,2]' >"$T/bq.json"
err_is 1 "query 0: expected an array" "$RVF" query "$st" -i "$T/bq.json"
echo '{"q":[1]}' >"$T/bq.json"
err_is 1 "expected a JSON array" "$RVF" query "$st" -i "$T/bq.json"
echo '[]' >"$T/bq.json"
run_ok "$RVF" query "$st" -i "$T/bq.json" --json >"$T/v.json"
json_eq "$T/v.json" '[.count, (.results|length)]|join(",")' "0,0"
err_is 1 "invalid --filter" "$RVF" query "$st" -i "$T/qs.json" -f '{}'


# ---- every command with bad, missing or odd arguments: exit 1 or 2 with an
# "error:" line, never a raw status (freeze/derive/extract-ebpf used to exit
# 250/251 silently on a missing or non-RVF file)
mkdir -p "$T/adir"

printf 'x' >"$T/garbage.key"
for cmd in $("$RVF" --help | awk '/^Commands:/ {on = 1; next} on && NF {print $1}'); do
	case $cmd in
	ingest) extra=(-i "$T/bq.json") ;;
	query) extra=(-v 1,2,3) ;;
	delete) extra=(--ids 1) ;;
	extract-ebpf | extract-kernel) extra=(-o "$T/odir") ;;
	embed-kernel) extra=(--image-path "$T/garbage.rvf") ;;
	sign) extra=(--key "$T/garbage.key") ;;
	verify) extra=(--pubkey "$T/garbage.key") ;;
	filter) extra=(--include-ids 1) ;;
	keygen) extra=(-o "$T/adir") ;;
	serve) extra=(--port 0) ;;
	*) extra=() ;;
	esac
	for f in "" "$T/missing.rvf" "$T/garbage.rvf" "$T/adir"; do
		args=()
		[ -z "$f" ] || args=("$f")
		case $cmd in derive | branch) [ -z "$f" ] || args+=("$T/child-$RANDOM.rvf") ;; esac
		rc=0
		timeout 20 "$RVF" "$cmd" "${args[@]}" "${extra[@]}" >"$T/last.out" 2>"$T/last.err" || rc=$?
		case $rc in
		0) ;;
		1 | 2)
			# a verifier's exit 1 is its report (stdout); anything else says error:
			grep -q '^error: ' "$T/last.err" || { [[ $cmd == verify* ]] && [ "$rc" = 1 ] && [ -s "$T/last.out" ]; } ||
				fail "rvf $cmd ${args[*]} ${extra[*]}: exit $rc without an error line: $(head -c 300 "$T/last.err")"
			;;
		*) fail "rvf $cmd ${args[*]} ${extra[*]}: exit $rc: $(head -c 300 "$T/last.err")" ;;
		esac
		ok
	done
done
err_is 1 "no such file" "$RVF" freeze "$T/missing.rvf"
err_is 1 "no manifest" "$RVF" freeze "$T/garbage.rvf"
err_is 1 "no such file" "$RVF" derive "$T/missing.rvf" "$T/child.rvf"
err_is 1 "no manifest" "$RVF" branch "$T/garbage.rvf" "$T/child.rvf"
err_is 1 "no such file" "$RVF" extract-ebpf "$T/missing.rvf" -o "$T/odir"
err_is 1 "no manifest" "$RVF" extract-ebpf "$T/garbage.rvf" -o "$T/odir"

# ---- --wait-timeout: every writer gives up on a held lock with exit 1 ----------
W=$T/wt.rvf
run_ok "$RVF" create "$W" -d 3 >/dev/null
echo '[{"id": 1, "vector": [1, 2, 3]}]' >"$T/wt.json"
run_ok "$RVF" ingest "$W" -i "$T/wt.json" >/dev/null
run_ok "$RVF" keygen -o "$T/wt.key" >/dev/null
printf 'kernel' >"$T/wt.img"
# The test shell holds the lock on fd 9 (an rvf child opens the file anew,
# so the lock is foreign to it).
exec 9<"$W"
flock -x 9
for c in "ingest $W -i $T/wt.json" "delete $W --ids 1" "compact $W" "index $W" "quantize $W" \
	"sign $W --key $T/wt.key" "freeze $W" "rebuild-refcounts $W" "filter $W --include-ids 1" \
	"embed-ebpf $W --program $T/wt.img --program-type xdp --force" \
	"embed-kernel $W --image-path $T/wt.img"; do
	# shellcheck disable=SC2086
	err_is 1 "still holds the writer lock after --wait-timeout 0.2 s" "$RVF" $c --wait-timeout 0.2
done
err_is 2 "--wait-timeout" "$RVF" delete "$W" --ids 1 --wait-timeout soon
err_is 2 "--wait-timeout" "$RVF" delete "$W" --ids 1 --wait-timeout -1
# without a timeout a locked writer fails at once; with one long enough it
# gets the lock once the holder lets go
err_is 1 "use --wait" "$RVF" delete "$W" --ids 1
(
	sleep 0.5
	flock -u 9
) &
HOLDER=$!
run_ok "$RVF" delete "$W" --ids 1 --wait-timeout 60 --json >"$T/wt.out"
json_eq "$T/wt.out" .deleted 1
wait "$HOLDER"
exec 9<&-

# ---- JSON reals: the shortest text that round-trips in their own type -------------
# a float32 distance 0.3f prints 0.3 (not 0.30000001192092896), a double 0.3
# prints 0.3 (not 0.29999999999999999); timings are whole nanoseconds / 1e6.
run_ok "$RVF" create "$T/ip.rvf" -d 1 -m ip >/dev/null
echo '[{"id":1,"vector":[0.3],"metadata":{"0":0.3,"1":2.5,"2":1e-300}}]' >"$T/ip.json"
run_ok "$RVF" ingest "$T/ip.rvf" -i "$T/ip.json" >/dev/null
run_ok "$RVF" query "$T/ip.rvf" --vector -1 -k 1 --json --with-metadata >"$T/ip.out"
assert_eq "$(jq -c . <<<"$(tr -d ' \n' <"$T/ip.out")" | tr -d '\n')" \
	'{"count":1,"results":[{"distance":0.3,"id":1,"metadata":{"0":0.3,"1":2.5,"2":1e-300}}]}' "shortest reals"
grep -q '"distance": 0.3,$' "$T/ip.out" || fail "distance not printed as 0.3: $(cat "$T/ip.out")"
grep -q '"0": 0.3,$' "$T/ip.out" || fail "metadata 0.3 not printed as 0.3: $(cat "$T/ip.out")"
ok
run_ok "$RVF" query "$T/ip.rvf" --vector -1 -k 1 --with-metadata >"$T/ip.txt"
expect_contains "$T/ip.txt" 'metadata={"0":0.3,"1":2.5,"2":1e-300}'
run_ok "$RVF" create "$T/d2.rvf" -d 2 >/dev/null
echo '[{"id":1,"vector":[0.1,0.2]},{"id":18446744073709551615,"vector":[0.3,0.5]}]' >"$T/d2.json"
run_ok "$RVF" ingest "$T/d2.rvf" -i "$T/d2.json" >/dev/null
run_ok "$RVF" query "$T/d2.rvf" --vector 0,0 -k 2 --json >"$T/d2.out"
grep -q '"distance": 0.050000004,$' "$T/d2.out" || fail "float32 distance: $(cat "$T/d2.out")"
grep -q '"distance": 0.34,$' "$T/d2.out" || fail "float32 distance 0.34: $(cat "$T/d2.out")"
grep -q '"id": 18446744073709551615$' "$T/d2.out" || fail "id 2^64-1: $(cat "$T/d2.out")"
ok
echo '[[0,0],[0.1,0.1]]' >"$T/d2q.json"
run_ok "$RVF" query "$T/d2.rvf" --input "$T/d2q.json" -k 1 --json >"$T/d2q.out"
grep -Eq '"elapsed_ms": [0-9]+\.[0-9]{1,6},$' "$T/d2q.out" || fail "elapsed_ms not ns/1e6: $(grep elapsed "$T/d2q.out")"
grep -q '"distance": 0.010000001,$' "$T/d2q.out" || fail "batch distance: $(cat "$T/d2q.out")"
ok

pass
