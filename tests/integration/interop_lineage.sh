#!/usr/bin/env bash
# The reference binding (@ruvector/rvf-node 0.2.3) reads what our lineage and
# index code writes:
#   - a store indexed by `rvf index` is loaded with its INDEX_SEG as is: the
#     binding opens it read-write, queries and closes without rewriting the
#     graph (the file is unchanged), and answers like we do;
#   - a COW branch made by `rvf derive`, with our own ingests and deletes on
#     top, shows the binding exactly the vectors it shows us.
. "$(dirname "$0")/lib.sh"
TEST_NAME=interop_lineage
HERE=$(cd "$(dirname "$0")/../interop" && pwd)
RVF_BIN=$(cd "$(dirname "$RVF")" && pwd)/$(basename "$RVF")
[ -x "$RVF_BIN" ] || fail "CLI not built: $RVF"
need_cmd node npm jq python3

. "$HERE/install_binding.sh"
install_binding "$T/npm"
JS="$T/npm/lineage_read.js"

gen() { # N DIM SEED OUT [ID_BASE]
	python3 - "$@" <<'PY'
import json, random, sys
n, dim, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base = int(sys.argv[5]) if len(sys.argv) > 5 else 0
r = random.Random(seed)
centres = [[r.uniform(-1, 1) for _ in range(dim)] for _ in range(16)]
rows = []
for i in range(n):
    c = centres[i % 16]
    rows.append({"id": base + i, "vector": [round(x + r.gauss(0, 0.1), 6) for x in c]})
json.dump(rows, open(out, "w"))
PY
}
queries() { # DATA OUT COUNT
	python3 - "$@" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
step = max(1, len(rows) // int(sys.argv[3]))
json.dump([[x + 0.01 for x in r["vector"]] for r in rows[::step][:int(sys.argv[3])]], open(sys.argv[2], "w"))
PY
}
size() { stat -c %s "$1"; }

# ---- our index, loaded by the binding without a rebuild ---------------------
gen 1500 16 7 "$T/big.json"
queries "$T/big.json" "$T/bq.json" 20
run_ok "$RVF_BIN" create "$T/big.rvf" -d 16 >/dev/null
run_ok "$RVF_BIN" ingest "$T/big.rvf" -i "$T/big.json" >/dev/null
run_ok "$RVF_BIN" index "$T/big.rvf" >/dev/null
before=$(size "$T/big.rvf")
(cd "$T/npm" && node "$JS" rw "$T/big.rvf" "$T/bq.json" 10) >"$T/ref_big.json" 2>"$T/ref_big.err" ||
	fail "binding failed on our indexed store: $(tail -3 "$T/ref_big.err")"
after=$(size "$T/big.rvf")
[ "$before" = "$after" ] ||
	fail "the binding rewrote the index of our store ($before -> $after bytes): our INDEX_SEG was not loaded"
run_ok "$RVF_BIN" query "$T/big.rvf" --input "$T/bq.json" -k 10 --exact --json >"$T/our_big.json"
python3 - "$T/our_big.json" "$T/ref_big.json" <<'PY' || fail "binding answers on our index differ from exact"
import json, sys
ours = json.load(open(sys.argv[1]))["results"]
ref = json.load(open(sys.argv[2]))["results"]
hit = tot = 0
for o, r in zip(ours, ref):
    od = {x["id"]: x["distance"] for x in o}
    for x in r:
        tot += 1
        if x["id"] in od:
            hit += 1
            if abs(od[x["id"]] - x["distance"]) > 1e-5 * max(1.0, abs(x["distance"])):
                sys.exit("distance of id %d: ours %r, binding %r" % (x["id"], od[x["id"]], x["distance"]))
if hit < 0.9 * tot:
    sys.exit("recall of the binding on our graph %.3f < 0.9" % (hit / tot))
print("binding recall on our graph: %.3f" % (hit / tot), file=sys.stderr)
PY
ok
log "our INDEX_SEG loaded by the binding without rewriting ($before bytes)"

# ---- our COW branch, read by the binding ------------------------------------
gen 60 16 11 "$T/p.json"
gen 2 16 12 "$T/extra.json" 1000
python3 - "$T/extra.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
rows[1]["id"] = 7  # override a parent id
json.dump(rows, open(sys.argv[1], "w"))
PY
queries "$T/p.json" "$T/pq.json" 5
run_ok "$RVF_BIN" create "$T/p.rvf" -d 16 -m cosine >/dev/null
run_ok "$RVF_BIN" ingest "$T/p.rvf" -i "$T/p.json" >/dev/null
run_ok "$RVF_BIN" derive "$T/p.rvf" "$T/c.rvf" >/dev/null
run_ok "$RVF_BIN" ingest "$T/c.rvf" -i "$T/extra.json" >/dev/null
run_ok "$RVF_BIN" delete "$T/c.rvf" --ids 3,8 >/dev/null
run_ok "$RVF_BIN" query "$T/c.rvf" --input "$T/pq.json" -k 100 --json >"$T/our_c.json"
(cd "$T/npm" && node "$JS" ro "$T/c.rvf" "$T/pq.json" 100) >"$T/ref_c.json" 2>"$T/ref_c.err" ||
	fail "binding failed on our branch: $(tail -3 "$T/ref_c.err")"
python3 - "$T/our_c.json" "$T/ref_c.json" <<'PY' || fail "binding and CLI see different vectors in our branch"
import json, struct, sys
ours = json.load(open(sys.argv[1]))["results"]
ref = json.load(open(sys.argv[2]))["results"]
for qi, (o, r) in enumerate(zip(ours, ref)):
    if len(o) != 59 or len(r) != 59:
        sys.exit("query %d: %d results from us, %d from the binding (59 expected: 60 parent + 1000 - {3, 8})" % (qi, len(o), len(r)))
    od = {x["id"]: x["distance"] for x in o}
    rd = {x["id"]: x["distance"] for x in r}
    if od.keys() != rd.keys():
        sys.exit("query %d: ids differ: only ours %s, only binding %s" % (qi, sorted(od.keys() - rd.keys()), sorted(rd.keys() - od.keys())))
    for i in od:  # float32 on both sides (ours printed as the shortest float32 text)
        if struct.pack("<f", od[i]) != struct.pack("<f", rd[i]):
            sys.exit("query %d id %d: distance %r vs %r" % (qi, i, od[i], rd[i]))
    if 3 in od or 8 in od or 1000 not in od or 7 not in od:
        sys.exit("query %d: deletes or own writes not visible as expected" % qi)
PY
ok
pass "binding loads our INDEX_SEG as is and reads our COW branch exactly"
