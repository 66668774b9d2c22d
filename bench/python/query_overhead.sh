#!/usr/bin/env bash
# bench/python/query_overhead.sh — what a query costs from Python vs the C API.
#
# Builds the Python module (make python) and query_overhead.c against
# build/librvf.a; creates 128-d L2 stores (random, fixed seed, index policy
# off): N vectors scanned exactly, the same N with the HNSW index
# (store.index(), default efSearch), and 100 vectors (a call this cheap shows
# the binding's fixed cost). For each, alternately 3 times, times
# rvf_query_ex in C (one preallocated hit buffer) and rvf.Store.query in
# Python over the same NQ queries, checks that both returned the same ids,
# and prints the best microseconds per call of each, in thread CPU time (so
# other load on the machine counts less), their difference (the binding's
# overhead), the ratio, and query_batch's cost per query. Prints only; a
# recorded run is in bench/results/python_overhead.md.
#
# Knobs: N=10000 DIM=128 NQ=200 K=10 REPS=20 (exact N runs REPS/10 passes,
# the 100-vector store REPS*10).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-10000} DIM=${DIM:-128} NQ=${NQ:-200} K=${K:-10} REPS=${REPS:-20}
W=build/bench/python
mkdir -p "$W"
make -s build/librvf.a python
gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/python/query_overhead.c build/librvf.a \
	$(pkg-config --libs jansson libsodium libisal zlib nettle) -lm -lpthread -o "$W/query_overhead"
PYTHONPATH=build/python /usr/bin/python3 bench/python/query_overhead.py "$W/query_overhead" "$W" \
	"$N" "$DIM" "$NQ" "$K" "$REPS"
