"""The binding and the rvf CLI (build/rvf) give the same answers on the same
file, in both directions (written by Python, read by the CLI and back)."""
import json
import os
import subprocess

import numpy as np
import pytest

import rvf
from conftest import RVF_CLI

pytestmark = pytest.mark.skipif(not os.access(RVF_CLI, os.X_OK), reason="build/rvf not built")


def cli(*args):
    r = subprocess.run([RVF_CLI, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def cli_query(path, q, k, *extra):
    vec = ",".join(repr(float(v)) for v in np.asarray(q, dtype=np.float32))
    out = json.loads(cli("query", path, "-v", vec, "-k", str(k), "--json", *extra))
    ids = np.array([h["id"] for h in out["results"]], dtype=np.uint64)
    dist = np.array([h["distance"] for h in out["results"]], dtype=np.float32)
    assert out["count"] == len(ids)
    return ids, dist


def assert_same(py, cl):
    np.testing.assert_array_equal(py[0], cl[0])
    np.testing.assert_array_equal(py[1], cl[1])  # bit-identical float32 distances


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_python_file_queried_by_cli(path, rng, metric):
    x = rng.standard_normal((400, 32), dtype=np.float32)
    meta = [{0: i % 4, 1: f"tag{i % 3}"} for i in range(400)]
    with rvf.create(path, 32, metric=metric) as s:
        s.ingest(np.arange(400) * 3, x, metadata=meta)
        s.delete([0, 3, 6])
        queries = rng.standard_normal((5, 32), dtype=np.float32)
    with rvf.open(path, readonly=True) as s:  # the CLI opens read-only beside us
        for q in queries:
            assert_same(s.query(q, k=10), cli_query(path, q, 10))
        flt = {"and": [{"eq": {"field": 0, "value": 2}}, {"ne": {"field": 1, "value": "tag1"}}]}
        for q in queries[:2]:
            assert_same(s.query(q, k=15, filter=flt),
                        cli_query(path, q, 15, "--filter", json.dumps(flt)))
        bi, bd = s.query_batch(queries, k=10)
        for i, q in enumerate(queries):
            assert_same((bi[i], bd[i]), cli_query(path, q, 10))


def test_indexed_file_same_answers(path, rng):
    x = rng.standard_normal((1500, 16), dtype=np.float32)
    with rvf.create(path, 16) as s:
        s.ingest(np.arange(1500), x)
        s.index(m=8, ef_construction=40, threads=1)
    queries = rng.standard_normal((5, 16), dtype=np.float32)
    with rvf.open(path, readonly=True) as s:
        for q in queries:  # both use the index with the same efSearch
            assert_same(s.query(q, k=10), cli_query(path, q, 10))
            assert_same(s.query(q, k=10, ef_search=20), cli_query(path, q, 10, "--ef-search", "20"))
            assert_same(s.query(q, k=10, exact=True), cli_query(path, q, 10, "--exact"))


def test_cli_file_read_by_python(tmp_path, rng):
    path = str(tmp_path / "cli.rvf")
    x = rng.standard_normal((200, 8), dtype=np.float32)
    npy = tmp_path / "x.npy"
    np.save(npy, x)
    cli("create", path, "-d", "8", "-m", "cosine")
    cli("ingest", path, "--input", str(npy), "--id-offset", "100", "--no-progress")
    status = json.loads(cli("status", path, "--json"))
    with rvf.open(path) as s:
        assert len(s) == 200 and s.metric == "cosine"
        assert s.status()["file_size"] == status["file_size"]
        q = x[17]
        ids, d = s.query(q, k=5)
        assert ids[0] == 117
        assert_same((ids, d), cli_query(path, q, 5))
        s.ingest([1], x[0] * -1)
    # and the CLI sees the Python write
    ids, _ = cli_query(path, x[0] * -1, 1)
    assert ids[0] == 1
