#!/usr/bin/env bash
# bench/run.sh — "ingest 100k x 128, open + first exact query: ours vs the
# reference binding (@ruvector/rvf-node 0.2.3) on the same data in the same run".
#
# Steps: build librvf + bench programs, generate clustered data (fixed seed),
# install the reference binding with npm into build/bench-node/ (skipped LOUDLY
# when npm or the registry is unavailable), then REPS times, interleaving the
# two sides: ingest in batches of BATCH, ingest as one batch, open read-only +
# first query, mean of NQ further queries. Prints a table of medians with the
# ratio reference/ours (> 1 means ours is faster) and writes
# bench/results/ingest.md (+ ingest-raw.jsonl with every measurement).
#
# Knobs (environment): REPS=3 N=100000 DIM=128 NQ=100 K=10 BATCH=1000
#   REF_QUERY_TIMEOUT=300 (s; the binding builds HNSW on the first query)
#   REF_INGEST_TIMEOUT=600 NPM_TIMEOUT=180 SKIP_REF=1 SKIP_REF_QUERY=1
#
# Build lines used (after `make build/librvf.a build/rvf`):
#   gcc -std=c11 -D_GNU_SOURCE -O2 bench/gen_data.c -lm -o build/bench/gen_data
#   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude bench/bench_ingest.c build/librvf.a \
#       -ljansson -lsodium -lnettle -lz -lisal -lbpf -lm -lpthread -o build/bench/bench_ingest
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=${REPS:-3}
N=${N:-100000}
DIM=${DIM:-128}
NQ=${NQ:-100}
K=${K:-10}
BATCH=${BATCH:-1000}
REF_QUERY_TIMEOUT=${REF_QUERY_TIMEOUT:-300}
REF_INGEST_TIMEOUT=${REF_INGEST_TIMEOUT:-600}
NPM_TIMEOUT=${NPM_TIMEOUT:-180}
REF_PKG=@ruvector/rvf-node
REF_VER=0.2.3
CC=${CC:-gcc}

B=build/bench
DATA=$B/data
ST=$B/stores
RAW=$B/raw.jsonl
NODE_DIR=${BENCH_NODE_DIR:-build/bench-node}
mkdir -p "$B" "$DATA" "$ST" bench/results

say() { printf '%s\n' "$*" >&2; }
loud() {
	say ""
	say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	say "!!! $*"
	say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	say ""
}

if [ "${SUMMARY_ONLY:-0}" = 1 ]; then
	# re-summarise the last run's $RAW (same N/DIM/NQ/K/BATCH/REPS knobs)
	[ -s "$RAW" ] || { say "SUMMARY_ONLY=1 but $RAW is missing"; exit 1; }
	REF_OK=1; REF_WHY=""
	grep -q '"impl":"reference"' "$RAW" || { REF_OK=0; REF_WHY="no reference measurements in $RAW"; }
else
# ---- build ------------------------------------------------------------------
say "== build"
make -s build/librvf.a build/rvf
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra bench/gen_data.c -lm -o $B/gen_data
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Iinclude bench/bench_ingest.c build/librvf.a \
	-ljansson -lsodium -lnettle -lz -lisal -lbpf -lm -lpthread -o $B/bench_ingest

# ---- data -------------------------------------------------------------------
say "== data: $N x $DIM clustered float32 + $NQ queries (seed 42)"
$B/gen_data "$DATA" "$N" "$DIM" "$NQ" 42 >&2

# ---- reference binding ------------------------------------------------------
REF_OK=1
REF_WHY=""
if [ "${SKIP_REF:-0}" = 1 ]; then
	REF_OK=0; REF_WHY="SKIP_REF=1 was set"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	REF_OK=0; REF_WHY="node/npm not installed"
else
	mkdir -p "$NODE_DIR"
	[ -f "$NODE_DIR/package.json" ] || echo '{"name":"rvf-bench-ref","private":true}' >"$NODE_DIR/package.json"
	have=$(node -p "try{require('$ROOT/$NODE_DIR/node_modules/$REF_PKG/package.json').version}catch(e){''}" 2>/dev/null || true)
	if [ "$have" != "$REF_VER" ]; then
		say "== npm install $REF_PKG@$REF_VER into $NODE_DIR"
		if ! timeout "$NPM_TIMEOUT" npm install --prefix "$NODE_DIR" --cache "$ROOT/$NODE_DIR/.npm-cache" \
			--no-audit --no-fund --no-save "$REF_PKG@$REF_VER" >"$B/npm.log" 2>&1; then
			REF_OK=0; REF_WHY="npm install $REF_PKG@$REF_VER failed (registry unreachable?) — see $B/npm.log"
		fi
	fi
	if [ $REF_OK = 1 ] && ! NODE_PATH="$ROOT/$NODE_DIR/node_modules" node -e "require('$REF_PKG').RvfDatabase" 2>"$B/node-load.log"; then
		REF_OK=0; REF_WHY="$REF_PKG installed but does not load (native package missing?) — see $B/node-load.log"
	fi
fi
if [ $REF_OK = 0 ]; then
	loud "REFERENCE SIDE SKIPPED: $REF_WHY. Only our numbers are measured; ratios are n/a."
fi
export NODE_PATH="$ROOT/$NODE_DIR/node_modules"

# ---- runs -------------------------------------------------------------------
: >"$RAW"
rm -f "$B"/topk_*.txt
# Flush dirty pages before every timed step: otherwise one side's fsync pays
# for the writeback of the file the other side just wrote.
ours() { sync; "$B/bench_ingest" "$@" | tee -a "$RAW"; }
ref() { # ref TIMEOUT STEPNAME args...
	local to=$1 step=$2 rc=0
	shift 2
	sync
	timeout "$to" node bench/ref_bench.js "$@" >"$B/ref.out" 2>"$B/ref.err" || rc=$?
	tee -a "$RAW" <"$B/ref.out"
	if [ $rc = 124 ]; then
		loud "reference $step: TIMEOUT after ${to}s"
		grep -q "\"step\":\"$step\"" "$B/ref.out" ||
			echo "{\"impl\":\"reference\",\"step\":\"$step\",\"ms\":\"TIMEOUT\",\"first_query_ms\":\"TIMEOUT\",\"timeout_s\":$to}" | tee -a "$RAW"
	elif [ $rc != 0 ]; then
		loud "reference $step failed (exit $rc): $(tail -3 "$B/ref.err")"
	fi
	return 0
}

for rep in $(seq 1 "$REPS"); do
	say "== run $rep/$REPS"
	rm -f "$ST"/*.rvf "$ST"/*.lock "$ST"/*.rvf.* 2>/dev/null || true
	# alternate who goes first to spread any order effect
	for side in $([ $((rep % 2)) = 1 ] && echo "ours ref" || echo "ref ours"); do
		if [ $side = ours ]; then
			ours ingest "$DATA/base.f32" "$N" "$DIM" "$ST/ours_b.rvf" "$BATCH"
		elif [ $REF_OK = 1 ]; then
			ref "$REF_INGEST_TIMEOUT" "ingest_b$BATCH" ingest "$DATA/base.f32" "$N" "$DIM" "$ST/ref_b.rvf" "$BATCH"
		fi
	done
	for side in $([ $((rep % 2)) = 1 ] && echo "ours ref" || echo "ref ours"); do
		if [ $side = ours ]; then
			ours ingest "$DATA/base.f32" "$N" "$DIM" "$ST/ours_1.rvf" "$N"
		elif [ $REF_OK = 1 ]; then
			ref "$REF_INGEST_TIMEOUT" "ingest_b$N" ingest "$DATA/base.f32" "$N" "$DIM" "$ST/ref_1.rvf" "$N"
		fi
	done
	for side in $([ $((rep % 2)) = 1 ] && echo "ours ref" || echo "ref ours"); do
		if [ $side = ours ]; then
			ours query "$ST/ours_b.rvf" "$DATA/queries.f32" "$NQ" "$DIM" "$K" "$B/topk_ours_$rep.txt"
		elif [ $REF_OK = 1 ] && [ "${SKIP_REF_QUERY:-0}" != 1 ] && [ -f "$ST/ref_b.rvf" ]; then
			ref "$REF_QUERY_TIMEOUT" open_first_query query "$ST/ref_b.rvf" "$DATA/queries.f32" "$NQ" "$DIM" "$K" "$B/topk_ref_$rep.txt"
		fi
	done
done

fi # SUMMARY_ONLY

# ---- summary ----------------------------------------------------------------
# vals IMPL STEP KEY -> one value per line (numbers or TIMEOUT)
vals() {
	grep "\"impl\":\"$1\"" "$RAW" | grep "\"step\":\"$2\"" |
		sed -n "s/.*\"$3\":\"\{0,1\}\([-0-9.eE+]*\|TIMEOUT\)\"\{0,1\}[,}].*/\1/p" || true
}
# median of stdin; TIMEOUT sorts as +inf; empty -> n/a
median() {
	awk '{ if ($1 == "TIMEOUT") t++; else v[n++] = $1 + 0 }
	END {
		tot = n + t; if (tot == 0) { print "n/a"; exit }
		for (i = 1; i < n; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j+1] = v[j]; v[j+1] = x }
		m = int((tot - 1) / 2)              # lower median for even counts
		if (m >= n) print "TIMEOUT"; else printf "%.3f\n", v[m]
	}'
}
allv() { vals "$@" | paste -sd' ' -; }
fmt() { case $1 in n/a|TIMEOUT) echo "$1";; *) awk -v x="$1" 'BEGIN{ if (x >= 100) printf "%.1f", x; else if (x >= 1) printf "%.2f", x; else printf "%.3f", x }';; esac; }
ratio() {
	case "$1$2" in *n/a*|*TIMEOUT*)
		[ "$2" = TIMEOUT ] && [ "$1" != n/a ] && [ "$1" != TIMEOUT ] && echo "> $(awk -v o="$1" -v t="$REF_QUERY_TIMEOUT" 'BEGIN{printf "%.0f", t*1000/o}')" || echo n/a
		return;;
	esac
	awk -v o="$1" -v r="$2" 'BEGIN{ if (o > 0) printf "%.2f", r / o; else print "n/a" }'
}
# recall@K of the reference's answers against our exact ones, per run
recall() {
	local out="" r
	for rep in $(seq 1 "$REPS"); do
		[ -s "$B/topk_ref_$rep.txt" ] && [ -s "$B/topk_ours_$rep.txt" ] || continue
		r=$(awk 'FNR==NR { for (i = 2; i <= NF; i++) e[$1 " " $i] = 1; c[$1] = NF - 1; next }
			{ for (i = 2; i <= NF; i++) if (e[$1 " " $i]) h++; tot += c[$1] }
			END { if (tot) printf "%.4f", h / tot }' "$B/topk_ours_$rep.txt" "$B/topk_ref_$rep.txt")
		out="$out${out:+ }$r"
	done
	echo "${out:-n/a}"
}

ROWS=(
	"ingest ${N} x ${DIM}, batches of ${BATCH} (create+ingest+close), ms|ingest_b$BATCH|ms"
	"ingest ${N} x ${DIM}, one batch (create+ingest+close), ms|ingest_b$N|ms"
	"open read-only, ms|open_first_query|open_ms"
	"first query k=$K, ms|open_first_query|first_query_ms"
	"open + first query (time to first answer), ms|open_first_query|ms"
	"mean of $NQ queries after the first, ms|query_mean|ms"
)
TABLE="| step | ours | reference | ratio (reference/ours) |
|---|---:|---:|---:|"
RAWTAB="| step | ours (each run) | reference (each run) | ratio per run (reference/ours) |
|---|---|---|---|"
for row in "${ROWS[@]}"; do
	IFS='|' read -r label step key <<<"$row"
	o=$(vals ours "$step" "$key" | median)
	r=$(vals reference "$step" "$key" | median)
	TABLE="$TABLE
| $label | $(fmt "$o") | $(fmt "$r") | $(ratio "$o" "$r") |"
	pr=$(paste <(vals ours "$step" "$key") <(vals reference "$step" "$key") |
		awk -F'\t' '$1 > 0 && $2 ~ /^[0-9.eE+-]+$/ { printf "%s%.2f", (n++ ? " " : ""), $2 / $1 }')
	RAWTAB="$RAWTAB
| $label | $(allv ours "$step" "$key") | $(allv reference "$step" "$key") | ${pr:-n/a} |"
done
REC=$(recall)
TABLE="$TABLE
| recall@$K of the reference vs our exact top-$K (per run) | 1 (exact) | $REC | |"

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MACHINE="nproc $(nproc), CPU: ${CPU:-unknown}, kernel $(uname -r)"
NODEV=$(node --version 2>/dev/null || echo none)
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$([ -n "$(git status --porcelain 2>/dev/null | head -1)" ] && echo " + uncommitted changes" || true)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
if [ $REF_OK = 1 ]; then REFLINE="$REF_PKG@$REF_VER (node $NODEV)"; else REFLINE="SKIPPED — $REF_WHY"; fi

echo
echo "$TABLE"
echo
echo "median of $REPS runs; ratio = reference / ours, > 1 means ours is faster."
echo "machine: $MACHINE"
[ $REF_OK = 1 ] || loud "REFERENCE SIDE SKIPPED: $REF_WHY"

cp "$RAW" bench/results/ingest-raw.jsonl
cat >bench/results/ingest.md <<EOF
# Ingest / open / first query: ours vs reference

Generated by \`bench/run.sh\` on $DATE.

* machine: $MACHINE (shared VM, noisy neighbours: compare the two columns,
  which were measured side by side in the same run, not absolute numbers)
* ours: librvf (git $REV$DIRTY), \`bench/bench_ingest.c\`, gcc -O2
* reference: $REFLINE, \`bench/ref_bench.js\`
* data: $N x $DIM float32, 256 Gaussian clusters (sigma 0.15), seed 42, ids 0..N-1;
  $NQ queries from the same distribution; L2; k = $K
* each side runs $REPS times, interleaved (the side that goes first alternates);
  medians below. Both sides fsync every commit. The query steps open the file
  written by the batched ingest of the same side ($(( (N + BATCH - 1) / BATCH )) vector segments).
* ratio = reference / ours: > 1 means ours is faster.

$TABLE

All runs (ms):

$RAWTAB

Notes:
* The reference (0.2.3, "NEW-NAPI") answers a query on a store of >= 1024
  vectors by building an HNSW graph on the first query of a read-only handle
  (single-threaded, never persisted by read-only or ingest-only sessions), so
  its "first query" is the graph build; later queries are approximate HNSW
  searches (ef = 256), hence the recall row. Ours is an exact brute-force scan
  every time. Reference first query timeout: ${REF_QUERY_TIMEOUT} s.
* Raw JSON lines: bench/results/ingest-raw.jsonl.
EOF
say "wrote bench/results/ingest.md"
