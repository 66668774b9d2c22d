#!/usr/bin/env bash
# run-tests.sh — every test of the project, each one a counted step.
#
#   unit         build/rvf_tests (CUnit; exit code = number of failed tests)
#   asan-unit    build/asan/rvf_tests under ASan/UBSan with leak detection
#   python       pytest bindings/python/tests against build/python (`make
#                python`), with Debian's /usr/bin/python3; skipped only when
#                python3-numpy is missing
#   it:NAME      tests/integration/NAME.sh (exit 0 pass, 77 skip, else fail)
#   fuzz:NAME    build/fuzz/NAME for RVF_FUZZ_SECONDS (default 15) seconds,
#                seeded from a scratch copy of tests/fuzz/seeds/NAME/ and, if
#                tests/fuzz/NAME.c says "fuzz-seeds: rvf", of the shared
#                corpus and fixtures
#
# Run from anywhere (it cds to the repo root); `make test` builds everything
# first. Logs go to build/test-logs/. Prints a summary table and, as the very
# last line, "N passed, N failed"; exits non-zero if any step failed.
#
# Environment: RVF_NET_LOCK (flock file for the network/BPF steps), RVF_FUZZ_SECONDS (15; `make fuzz-long` sets 600), RVF_IT_TIMEOUT (600 s per integration
# script), RVF_TESTS_ONLY (substring: run only steps whose name contains it).
set -uo pipefail
shopt -s nullglob

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR"
FUZZ_SECONDS=${RVF_FUZZ_SECONDS:-15}
IT_TIMEOUT=${RVF_IT_TIMEOUT:-600}
ONLY=${RVF_TESTS_ONLY:-}

export RVF=build/rvf RVF_ASAN=build/asan/rvf RVF_SHARED=../shared

# XDP/map tests pin objects: make sure bpffs is there (root only).
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
	mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf ||
		echo "run-tests: warning: could not mount bpffs on /sys/fs/bpf" >&2
fi

NAMES=() RESULTS=() TIMES=() NOTES=()
npass=0 nfail=0 nskip=0
SCRATCH=$(mktemp -d /tmp/rvf-run-tests.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

banner() { printf '\n===== %s =====\n' "$*"; }

# record NAME RESULT(PASS|FAIL|SKIP) SECONDS NOTE
record() {
	NAMES+=("$1") RESULTS+=("$2") TIMES+=("$3") NOTES+=("$4")
	case $2 in
	PASS) npass=$((npass + 1)) ;;
	SKIP) nskip=$((nskip + 1)) ;;
	*) nfail=$((nfail + 1)) ;;
	esac
}

selected() { [ -z "$ONLY" ] || [[ $1 == *"$ONLY"* ]]; }

# describe_rc RC -> human text for an exit status
describe_rc() {
	local rc=$1
	if [ "$rc" -eq 124 ]; then echo "timed out"
	elif [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128))"
	else echo "exit $rc"; fi
}

# RVF_NET_LOCK=FILE: steps that load BPF, create namespaces or bind ports run
# under `flock FILE`, so several checkouts can test on one machine at once.
netlock() {
	if [ -n "${RVF_NET_LOCK:-}" ]; then flock "$RVF_NET_LOCK" "$@"; else "$@"; fi
}

# ---- unit tests (plain and sanitised) -------------------------------------
run_unit() { # NAME BINARY [env...]
	local name=$1 bin=$2 rc t0 dt
	shift 2
	selected "$name" || return 0
	banner "$name: $bin"
	if [ ! -x "$bin" ]; then
		echo "missing $bin (run 'make test', not this script alone)"
		record "$name" FAIL 0 "binary missing"
		return
	fi
	t0=$SECONDS
	netlock env "$@" timeout -k 10 900 "$bin" 2>&1 | tee "$LOGDIR/$name.log"
	rc=${PIPESTATUS[0]}
	dt=$((SECONDS - t0))
	if [ "$rc" -eq 0 ]; then
		record "$name" PASS "$dt" ""
	elif grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOGDIR/$name.log"; then
		# A sanitizer report aborts the runner: the exit code is not a count.
		record "$name" FAIL "$dt" "sanitizer report ($(grep -m1 -oE 'SUMMARY: [A-Za-z]+Sanitizer: [a-z-]+' "$LOGDIR/$name.log" | cut -d' ' -f3 || true))"
	elif [ "$rc" -lt 124 ]; then
		record "$name" FAIL "$dt" "$rc failed test(s)"
	else
		record "$name" FAIL "$dt" "$(describe_rc "$rc")"
	fi
}

run_unit unit build/rvf_tests
run_unit asan-unit build/asan/rvf_tests \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# ---- Python binding (bindings/python) -------------------------------------
run_python() {
	local name=python py=/usr/bin/python3 rc t0 dt log=$LOGDIR/python.log summary
	selected "$name" || return 0
	banner "$name: pytest bindings/python/tests"
	if ! "$py" -c 'import numpy' 2>/dev/null; then
		echo "!!! SKIPPED: $name — python3-numpy is not installed (scripts/deps.sh --install)"
		record "$name" SKIP 0 "python3-numpy missing"
		return
	fi
	if [ ! -d build/python/rvf ]; then
		echo "missing build/python/rvf (run 'make python' or 'make test')"
		record "$name" FAIL 0 "module not built"
		return
	fi
	t0=$SECONDS
	PYTHONDONTWRITEBYTECODE=1 timeout -k 10 900 "$py" -m pytest -q -p no:cacheprovider \
		bindings/python/tests </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	dt=$((SECONDS - t0))
	summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -n 1 | tr -d '=' | cut -c1-60)
	if [ "$rc" -eq 0 ]; then
		record "$name" PASS "$dt" "$summary"
	else
		record "$name" FAIL "$dt" "${summary:-$(describe_rc "$rc")}"
	fi
}
run_python

# ---- integration scripts --------------------------------------------------
for t in tests/integration/*.sh; do
	name=it:$(basename "$t" .sh)
	[ "$(basename "$t")" = lib.sh ] && continue
	selected "$name" || continue
	banner "$name"
	if [ ! -x "$t" ]; then
		echo "$t is not executable (chmod +x it)"
		record "$name" FAIL 0 "not executable"
		continue
	fi
	t0=$SECONDS
	if grep -qE 'need_root|ip netns|rvfd|serve|net-query|rvf-net' "$t"; then
		netlock timeout -k 10 "$IT_TIMEOUT" "$t" </dev/null 2>&1 | tee "$LOGDIR/${name#it:}.it.log"
	else
		timeout -k 10 "$IT_TIMEOUT" "$t" </dev/null 2>&1 | tee "$LOGDIR/${name#it:}.it.log"
	fi
	rc=${PIPESTATUS[0]}
	dt=$((SECONDS - t0))
	case $rc in
	0) record "$name" PASS "$dt" "" ;;
	77)
		reason=$(grep -i 'skip' "$LOGDIR/${name#it:}.it.log" | tail -n 1 | cut -c1-100)
		echo
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
		echo "!!! SKIPPED: $name ${reason:+— $reason}"
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
		record "$name" SKIP "$dt" "${reason:-exit 77}"
		;;
	*) record "$name" FAIL "$dt" "$(describe_rc "$rc")" ;;
	esac
done

# ---- fuzzers --------------------------------------------------------------
fuzzers=(build/fuzz/*)
if [ "${#fuzzers[@]}" -gt 0 ]; then
	SEEDS=$SCRATCH/seeds
	mkdir -p "$SEEDS"
	for f in ../shared/corpus/*.rvf ../shared/spec/fixtures/*/*.rvf; do
		# Distinct names: fixtures of different sets may share a basename.
		d=$(basename "$(dirname "$f")")
		cp "$f" "$SEEDS/${d}__$(basename "$f")"
	done
	chmod -R u+w "$SEEDS"
	[ -n "$(ls -A "$SEEDS")" ] || echo "run-tests: warning: no seed files found under ../shared" >&2
	mkdir -p "$ROOT/build/fuzz-artifacts"
fi
for fz in "${fuzzers[@]}"; do
	if [ ! -f "$fz" ] || [ ! -x "$fz" ]; then continue; fi
	name=fuzz:$(basename "$fz")
	selected "$name" || continue
	banner "$name (${FUZZ_SECONDS}s)"
	# libFuzzer adds to its corpus directory: give each fuzzer its own copy.
	corpus=$SCRATCH/corpus-$(basename "$fz")
	mkdir -p "$corpus"
	if grep -q 'fuzz-seeds: rvf' "tests/fuzz/$(basename "$fz").c" 2>/dev/null; then
		cp -r "$SEEDS"/. "$corpus"/
	fi
	if [ -d "tests/fuzz/seeds/$(basename "$fz")" ]; then
		cp -r "tests/fuzz/seeds/$(basename "$fz")"/. "$corpus"/
	fi
	chmod -R u+w "$corpus"
	log=$LOGDIR/${name#fuzz:}.fuzz.log
	t0=$SECONDS
	timeout -k 10 $((FUZZ_SECONDS + 300)) "$fz" \
		-max_total_time="$FUZZ_SECONDS" -timeout=60 -print_final_stats=1 \
		-artifact_prefix="$ROOT/build/fuzz-artifacts/$(basename "$fz")-" \
		"$corpus" </dev/null >"$log" 2>&1
	rc=$?
	dt=$((SECONDS - t0))
	rm -rf "$corpus"
	runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	if [ "$rc" -eq 0 ]; then
		tail -n 3 "$log"
		record "$name" PASS "$dt" "${runs:-?} execs"
	else
		# libFuzzer exits 77 (or 70 on a slow input) on a finding: never a skip here.
		echo "---- last 60 lines of $log ----"
		tail -n 60 "$log"
		record "$name" FAIL "$dt" "$(describe_rc "$rc"); artifacts in build/fuzz-artifacts/"
	fi
done

# ---- summary --------------------------------------------------------------
banner summary
printf '%-40s %-5s %6s  %s\n' STEP RESULT SECS NOTE
printf '%-40s %-5s %6s  %s\n' ---- ------ ---- ----
for i in "${!NAMES[@]}"; do
	printf '%-40s %-5s %6s  %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}" "${NOTES[$i]}"
done
[ "$nskip" -gt 0 ] && echo "($nskip step(s) SKIPPED — see above)"
[ "${#NAMES[@]}" -eq 0 ] && { echo "no test step ran"; nfail=$((nfail + 1)); }
echo "logs: build/test-logs/"
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
