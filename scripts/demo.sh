#!/usr/bin/env bash
# demo.sh — a walk through the rvf command line on a generated data set.
#
# python3 generates 2,000 random 128-d vectors; the demo creates a cosine
# store, ingests them, queries with the vector of id 42 (which must come back
# first, at distance ~0), deletes a few ids including 42, queries again,
# compacts and inspects the file. Every command is printed before it runs.
# Run with `make demo` (builds first) or directly after a build.
# Environment: RVF (default build/rvf), RVF_DEMO_N (2000), RVF_DEMO_DIM (128).
set -euo pipefail
cd "$(dirname "$0")/.."

RVF=${RVF:-build/rvf}
N=${RVF_DEMO_N:-2000}
DIM=${RVF_DEMO_DIM:-128}

if [ ! -x "$RVF" ]; then
	echo "demo: $RVF not found; build it with 'make' (or run 'make demo')" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/rvf-demo.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
STORE=$TMP/demo.rvf

if [ -t 1 ]; then B=$'\033[1m' H=$'\033[1;34m' R=$'\033[0m'; else B='' H='' R=''; fi

# Print a command (long arguments shortened), then run it.
run() {
	local shown=() a
	for a in "$@"; do
		if [ "${#a}" -gt 72 ]; then a="${a:0:48}…(${#a} chars)"; fi
		case $a in *' '* | *'"'* | *'{'*) a="'$a'" ;; esac
		shown+=("$a")
	done
	printf '\n%s$ %s%s\n' "$B" "${shown[*]}" "$R"
	"$@"
}

step() { printf '\n%s### %s%s\n' "$H" "$*" "$R"; }

step "Generate $N random $DIM-d vectors (python3) as a JSON array of {\"id\",\"vector\"}"
python3 - "$N" "$DIM" "$TMP" <<'PY'
import json, random, sys
n, dim, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(20260424)
recs = [{"id": i, "vector": [round(rng.gauss(0.0, 1.0), 6) for _ in range(dim)]}
        for i in range(n)]
with open(f"{out}/vectors.json", "w") as f:
    json.dump(recs, f)
# The query: the stored vector of id 42, so id 42 is its own nearest neighbour.
with open(f"{out}/query.txt", "w") as f:
    f.write(",".join(repr(x) for x in recs[42 % n]["vector"]))
print(f"wrote {out}/vectors.json ({n} records)")
PY
QUERY=$(cat "$TMP/query.txt")

step "Create an empty cosine store"
run "$RVF" create "$STORE" -d "$DIM" -m cosine

step "Ingest the vectors"
run "$RVF" ingest "$STORE" -i "$TMP/vectors.json"

step "Status"
run "$RVF" status "$STORE"

step "Query the 5 nearest neighbours of vector 42 (id 42 first, distance ~0)"
run "$RVF" query "$STORE" -v "$QUERY" -k 5

step "Delete ids 42, 7 and 1999 (soft delete)"
run "$RVF" delete "$STORE" --ids 42,7,1999

step "Same query again: id 42 is gone"
run "$RVF" query "$STORE" -v "$QUERY" -k 5

step "Same query as JSON"
run "$RVF" query "$STORE" -v "$QUERY" -k 5 --json

step "Compact (drop deleted vectors, rewrite the file)"
run "$RVF" compact "$STORE"

step "Status after compaction"
run "$RVF" status "$STORE" --json

step "Inspect the segments and lineage"
run "$RVF" inspect "$STORE"

printf '\ndemo finished; %s is removed on exit\n' "$TMP"
