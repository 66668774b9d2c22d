#!/usr/bin/python3
"""hnswlib side of bench/ann: same files, same M / efConstruction, one thread.

usage: hnswlib_bench.py DIR M EFC   -> JSON lines on stdout (same keys as ann_bench)
"""
import json, sys, time
import numpy as np
import hnswlib

K = 10
EFS = [10, 16, 32, 64, 128, 256]


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main():
    d, M, efc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    kind, n, dim, nq, metric = open(f"{d}/meta.txt").read().split()
    n, dim, nq = int(n), int(dim), int(nq)
    base = np.fromfile(f"{d}/base.f32", dtype="<f4").reshape(n, dim)
    q = np.fromfile(f"{d}/query.f32", dtype="<f4").reshape(nq, dim)
    gt = np.fromfile(f"{d}/gt.i32", dtype="<i4").reshape(nq, K)
    space = {"l2": "l2", "cosine": "cosine", "ip": "ip"}[metric]
    r0 = rss()
    p = hnswlib.Index(space=space, dim=dim)
    p.init_index(max_elements=n, ef_construction=efc, M=M, random_seed=100)
    p.set_num_threads(1)
    t0 = time.perf_counter()
    p.add_items(base, np.arange(n), num_threads=1)
    tb = time.perf_counter() - t0
    r1 = rss()
    print(json.dumps({"lib": "hnswlib", "set": kind, "n": n, "dim": dim, "build_s": round(tb, 3),
                      "rss_mb": round((r1 - r0) / 1048576, 1)}), flush=True)
    gts = [set(row) for row in gt.tolist()]
    for ef in EFS:
        p.set_ef(ef)
        p.knn_query(q, k=K, num_threads=1)  # warm-up
        reps, t0 = 0, time.thread_time()  # CPU time, like ann_bench
        while True:
            labels, _ = p.knn_query(q, k=K, num_threads=1)
            reps += 1
            el = time.thread_time() - t0
            if el >= 1.0:
                break
        hit = sum(len(gts[i].intersection(labels[i].tolist())) for i in range(nq))
        print(json.dumps({"lib": "hnswlib", "set": kind, "ef": ef, "recall": round(hit / (nq * K), 4),
                          "qps": round(nq * reps / el)}), flush=True)


main()
