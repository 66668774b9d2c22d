"""Per-call query cost from Python (rvf.Store.query) vs the C API
(rvf_query_ex, bench/python/query_overhead.c) on the same store and the
same queries, in the same run. Called by query_overhead.sh.

    query_overhead.py C_BENCH WORKDIR N DIM NQ K REPS
"""
import os
import subprocess
import sys
import time

import numpy as np

import rvf


def c_bench(exe, store, qfile, nq, k, mode, reps):
    out = subprocess.run([exe, store, qfile, str(nq), str(k), mode, str(reps)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[out.index("ns_per_call") + 1]), int(out[out.index("checksum") + 1])


def py_bench(s, q, k, exact, reps):
    checksum = sum(int(s.query(v, k=k, exact=exact)[0].sum()) for v in q)  # warm up
    query = s.query
    t0 = time.thread_time_ns()
    for _ in range(reps):
        for v in q:
            query(v, k=k, exact=exact)
    return (time.thread_time_ns() - t0) / (reps * len(q)), checksum


def batch_bench(s, q, k, exact, reps):
    s.query_batch(q, k=k, exact=exact)
    t0 = time.thread_time_ns()
    for _ in range(reps):
        s.query_batch(q, k=k, exact=exact)
    return (time.thread_time_ns() - t0) / (reps * len(q))


def make_store(path, x, index):
    if os.path.exists(path):
        os.unlink(path)
    with rvf.create(path, x.shape[1]) as s:
        s.configure_index(policy="off")
        s.ingest(np.arange(len(x)), x)
        if index:
            s.index()


def measure(exe, store, qfile, q, k, mode, reps, rounds=3):
    """C and Python alternately, `rounds` times each; the best of each."""
    c_best = p_best = b_best = float("inf")
    with rvf.open(store, readonly=True) as s:
        for _ in range(rounds):
            c_ns, c_sum = c_bench(exe, store, qfile, len(q), k, mode, reps)
            p_ns, p_sum = py_bench(s, q, k, mode == "exact", reps)
            assert c_sum == p_sum, f"{mode}: C and Python answered differently ({c_sum} != {p_sum})"
            c_best, p_best = min(c_best, c_ns), min(p_best, p_ns)
            b_best = min(b_best, batch_bench(s, q, k, mode == "exact", reps))
    return c_best, p_best, b_best


def main():
    exe, work, n, dim, nq, k, reps = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
    rng = np.random.default_rng(20261203)
    x = rng.standard_normal((n, dim), dtype=np.float32)
    q = rng.standard_normal((nq, dim), dtype=np.float32)
    qfile = os.path.join(work, "queries.f32")
    q.tofile(qfile)
    exact_store = os.path.join(work, f"exact_{n}x{dim}.rvf")
    index_store = os.path.join(work, f"index_{n}x{dim}.rvf")
    tiny_store = os.path.join(work, f"tiny_100x{dim}.rvf")
    make_store(exact_store, x, False)
    make_store(index_store, x, True)
    make_store(tiny_store, x[:100], False)
    cases = [
        (f"exact {n}", exact_store, "exact", max(1, reps // 10)),
        (f"index {n}", index_store, "index", reps),
        ("exact 100", tiny_store, "exact", reps * 10),
    ]
    print(f"{dim}-d L2 stores, {nq} queries, k={k}; thread CPU time per call, best of 3 alternating rounds")
    print(f"{'store':<12} {'C API us':>9} {'Python us':>10} {'overhead us':>12} {'ratio':>6}"
          f" {'query_batch us/q':>17}")
    for name, store, mode, r in cases:
        c_ns, p_ns, b_ns = measure(exe, store, qfile, q, k, mode, r)
        print(f"{name:<12} {c_ns / 1e3:>9.2f} {p_ns / 1e3:>10.2f} {(p_ns - c_ns) / 1e3:>12.2f}"
              f" {p_ns / c_ns:>6.3f} {b_ns / 1e3:>17.2f}")


if __name__ == "__main__":
    main()
