#!/usr/bin/env bash
# bench/index_growth.sh — the persisted HNSW index on a 100000 x 128 store
# (clustered, l2, M 16, efC 200): build time on 1 thread vs THREADS (and the
# speed-up ratio of the same run), recall@10 of each build vs the exact scan,
# and the file growth of 100 one-vector ingests after the build (each its
# own open / ingest / close, like `rvf ingest`): the first 5 and the mean
# (INDEX_LOG per ingest, an INDEX_SEG checkpoint when the log passes half
# of it). Knobs: N=100000 DIM=128 THREADS=2.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
DIM=${DIM:-128}
THREADS=${THREADS:-2}
W=build/bench/index_growth
mkdir -p "$W"
make -s build/librvf.a
LIBS="$(pkg-config --libs jansson libsodium zlib libisal) -lm -lpthread"
gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/index_growth.c build/librvf.a $LIBS -o "$W/index_growth"
"$W/index_growth" "$W" "$N" "$DIM" 1 "$THREADS" | tee "$W/raw.jsonl" >/dev/null
python3 - "$W/raw.jsonl" "$N" "$DIM" "$THREADS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
b = [r for r in rows if "build_s" in r]
g = [r["growth"] for r in rows if "growth" in r]
f = [r for r in rows if "final_recall10" in r][0]
print(f"# index growth, {sys.argv[2]} x {sys.argv[3]} clustered, M 16, efC 200")
for r in b:
    print(f"build {r['threads']} thread(s): {r['build_s']:.1f} s, recall@10 {r['recall10']:.4f}")
if len(b) == 2:
    print(f"speed-up {b[1]['threads']} threads vs 1: {b[0]['build_s'] / b[1]['build_s']:.2f}x")
print(f"file without / with index: {b[0]['file_no_index'] / 1e6:.1f} / {b[-1]['file'] / 1e6:.1f} MB")
print("growth of the first 5 one-vector ingests, bytes:", " ".join(str(x) for x in g[:5]))
print(f"mean growth over {len(g)} ingests: {sum(g) / len(g):.0f} bytes (max {max(g)})")
print(f"after them: recall@10 {f['final_recall10']:.4f}, persisted {f['persisted']}, open warning {f['warning'] or 'none'}, "
      f"status size == file size: {f['status_file'] == f['file']}, dead {f['dead_bytes']} B, "
      f"checkpoint {f['checkpoint_bytes']} B + log {f['log_bytes']} B")
PY
