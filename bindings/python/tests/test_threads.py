"""Threads: queries from several threads while another ingests give correct
answers; the GIL is released during queries, ingests, compaction and index
builds (a pure-Python thread makes progress in the middle of such a call);
closing a store other threads are using is safe."""
import sys
import threading
import time

import numpy as np
import pytest

import rvf


class Ticker:
    """A pure-Python thread that records a time stamp every few iterations:
    it can only run while no other thread holds the GIL."""

    def __init__(self):
        self.stamps = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stop:
            i += 1
            if i % 32 == 0:
                self.stamps.append(time.perf_counter())

    def __enter__(self):
        self.t.start()
        while not self.stamps:
            time.sleep(0.001)
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()


def progress_during(fn, repeats=1):
    """Runs fn `repeats` times beside a Ticker. Returns (stamps that fell in
    the middle half of a call, total seconds of those middle halves). With the
    GIL held during the call the ticker cannot run there at all: the switch
    interval (set to 1 ms here) bounds how long it may run after the call
    started, and the middle half starts later than that."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    windows = []
    try:
        with Ticker() as tk:
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                t1 = time.perf_counter()
                windows.append((t0, t1))
    finally:
        sys.setswitchinterval(old)
    stamps = np.array(tk.stamps)
    inside, span = 0, 0.0
    for t0, t1 in windows:
        w = t1 - t0
        lo, hi = t0 + max(w / 4, 0.003), t1 - w / 4
        if hi > lo:
            inside += int(((stamps > lo) & (stamps < hi)).sum())
            span += hi - lo
    return inside, span


def assert_gil_released(fn, repeats=1):
    inside, span = progress_during(fn, repeats)
    assert span >= 0.02, f"calls too short to tell ({span * 1e3:.1f} ms of middle halves)"
    assert inside > 0, "no Python thread ran during the call: the GIL was held"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """19,000 x 64 (under the automatic index threshold of 20,000)."""
    rng = np.random.default_rng(7)
    path = str(tmp_path_factory.mktemp("big") / "big.rvf")
    x = rng.standard_normal((19000, 64), dtype=np.float32)
    s = rvf.create(path, 64)
    s.ingest(np.arange(19000), x)
    yield s, x
    s.close()


def test_gil_released_during_query_batch(big):
    s, x = big
    q = np.random.default_rng(1).standard_normal((400, 64), dtype=np.float32)
    assert_gil_released(lambda: s.query_batch(q, k=10))


def test_gil_released_during_single_query(tmp_path):
    # one long query: k = every vector of a 100,000 x 2 store (index off)
    rng = np.random.default_rng(3)
    n = 100_000
    x = rng.standard_normal((n, 2), dtype=np.float32)
    with rvf.create(str(tmp_path / "long.rvf"), 2) as s:
        s.configure_index(policy="off")
        s.ingest(np.arange(n), x)
        ids, _ = s.query(x[5], k=n)
        assert len(ids) == n and ids[0] == 5
        assert_gil_released(lambda: s.query(x[5], k=n), repeats=2)


def test_gil_released_during_ingest(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((19000, 64), dtype=np.float32)
    with rvf.create(str(tmp_path / "ing.rvf"), 64) as s:
        assert_gil_released(lambda: s.ingest(np.arange(19000), x))
        assert len(s) == 19000


def test_gil_released_during_compact(tmp_path):
    # 19,000 x 256 (~19 MB rewritten): on a quiet machine a 64-d store
    # compacted in ~20 ms, too short to tell
    rng = np.random.default_rng(5)
    x = rng.standard_normal((19000, 256), dtype=np.float32)
    with rvf.create(str(tmp_path / "cmp.rvf"), 256) as s:
        s.ingest(np.arange(19000), x)
        s.delete(np.arange(0, 19000, 2))
        assert_gil_released(s.compact)
        assert len(s) == 9500 and s.status()["deleted_vectors"] == 0


def test_gil_released_during_index_build(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1500, 32), dtype=np.float32)
    with rvf.create(str(tmp_path / "idx.rvf"), 32) as s:
        s.ingest(np.arange(1500), x)
        assert_gil_released(lambda: s.index(threads=1))
        assert s.status()["index"]["nodes"] == 1500


def test_queries_while_ingesting_are_correct(tmp_path):
    rng = np.random.default_rng(8)
    n0, dim, batches, bsz = 4000, 32, 25, 200
    x = rng.standard_normal((n0, dim), dtype=np.float32)
    extra = rng.standard_normal((batches * bsz, dim), dtype=np.float32) + 50  # far away
    extra_ids = np.arange(10**6, 10**6 + batches * bsz, dtype=np.uint64)
    s = rvf.create(str(tmp_path / "mt.rvf"), dim)
    s.ingest(np.arange(n0), x)
    errors, seen_sizes, counts, done = [], set(), [], [0]
    started = threading.Barrier(5)
    ingest_done = threading.Event()

    def querier(seed):
        r = np.random.default_rng(seed)
        n = 0
        try:
            started.wait()
            while not ingest_done.is_set() or n < 50:
                i = int(r.integers(n0))
                ids, d = s.query(x[i], k=5)
                assert ids[0] == i and d[0] == 0.0, (i, ids, d)
                assert np.all(np.diff(d) >= 0)
                assert np.all(ids < n0), ids  # the far-away vectors never come close
                if n % 4 == 0:  # an ingested far vector is found exactly
                    j = int(r.integers(batches * bsz))
                    committed = done[0] * bsz  # rows committed before the query
                    ids, d = s.query(extra[j], k=1)
                    if j < committed:
                        assert ids[0] == extra_ids[j] and d[0] == 0.0, (j, ids, d)
                seen_sizes.add(len(s))
                n += 1
            counts.append(n)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    def ingester():
        try:
            started.wait()
            for b in range(batches):
                sl = slice(b * bsz, (b + 1) * bsz)
                r = s.ingest(extra_ids[sl], extra[sl])
                assert r["accepted"] == bsz
                done[0] = b + 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            ingest_done.set()

    threads = [threading.Thread(target=querier, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=ingester))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert len(s) == n0 + batches * bsz
    # the queries really ran while the store grew
    assert len(seen_sizes) >= 2, seen_sizes
    ids, d = s.query_batch(extra[::97], k=1)
    np.testing.assert_array_equal(ids[:, 0], extra_ids[::97])
    s.close()


def test_close_while_other_threads_query(tmp_path):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3000, 32), dtype=np.float32)
    s = rvf.create(str(tmp_path / "close.rvf"), 32)
    s.ingest(np.arange(3000), x)
    outcome = []
    go = threading.Event()

    def worker():
        go.set()
        try:
            while True:
                ids, _ = s.query_batch(x[:50], k=3)
                assert np.array_equal(ids[:, 0], np.arange(50))
        except rvf.ClosedError:
            outcome.append("closed")
        except Exception as e:  # noqa: BLE001
            outcome.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    go.wait()
    time.sleep(0.05)
    s.close()
    for t in threads:
        t.join(timeout=60)
    assert outcome == ["closed"] * 3
