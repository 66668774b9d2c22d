"""Round trips through the binding: create/ingest/query, metadata and
filters, delete/compact, index, derive, status, reopen."""
import numpy as np
import pytest

import rvf
from conftest import brute_force


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_round_trip_matches_brute_force(path, rng, metric):
    x = rng.standard_normal((300, 24), dtype=np.float32)
    ids = np.arange(1000, 1300, dtype=np.uint64)
    with rvf.create(path, 24, metric=metric) as s:
        r = s.ingest(ids, x)
        assert r == {"accepted": 300, "rejected": 0, "epoch": 1}
        assert len(s) == 300
        q = rng.standard_normal(24, dtype=np.float32)
        got_ids, got_d = s.query(q, k=7)
        assert got_ids.dtype == np.uint64 and got_d.dtype == np.float32
        want_ids, want_d = brute_force(x, ids, q, 7, metric)
        np.testing.assert_array_equal(got_ids, want_ids)
        np.testing.assert_allclose(got_d, want_d, rtol=1e-4, atol=1e-4)
    # persisted: a read-only reopen answers the same
    with rvf.open(path, readonly=True) as s:
        assert s.metric == {"l2": "l2", "ip": "inner_product", "cosine": "cosine"}[metric]
        assert s.dimension == 24
        np.testing.assert_array_equal(s.query(q, k=7)[0], want_ids)


def test_query_finds_itself_and_k_larger_than_store(small):
    s, x = small
    ids, d = s.query(x[42], k=3)
    assert ids[0] == 42 and d[0] == 0.0
    assert np.all(np.diff(d) >= 0)
    ids, d = s.query(x[0], k=10**6)  # k beyond the live count: every vector
    assert len(ids) == 500 and sorted(ids.tolist()) == list(range(500))


def test_query_batch_equals_single_queries(small, rng):
    s, x = small
    q = rng.standard_normal((20, 16), dtype=np.float32)
    ids, d = s.query_batch(q, k=5)
    assert ids.shape == (20, 5) and d.shape == (20, 5)
    for i in range(20):
        i1, d1 = s.query(q[i], k=5)
        np.testing.assert_array_equal(ids[i], i1)
        np.testing.assert_array_equal(d[i], d1)


def test_query_batch_pads_rows_with_fewer_hits(path, rng):
    x = rng.standard_normal((10, 4), dtype=np.float32)
    with rvf.create(path, 4) as s:
        s.ingest(np.arange(10), x, metadata=[{0: i % 2} for i in range(10)])
        ids, d = s.query_batch(x[:3], k=8, filter={"eq": {"field": 0, "value": 1}})
        assert ids.shape == (3, 8)
        assert np.all(np.isin(ids[:, :5], [1, 3, 5, 7, 9]))
        assert np.all(ids[:, 5:] == np.iinfo(np.uint64).max)
        assert np.all(np.isinf(d[:, 5:])) and np.all(np.isfinite(d[:, :5]))
        ids, d = s.query_batch(np.zeros((0, 4)), k=3)
        assert ids.shape == (0, 3)


def test_empty_store_query(path):
    with rvf.create(path, 3) as s:
        ids, d = s.query([1, 2, 3], k=5)
        assert ids.shape == (0,) and d.shape == (0,)
        assert s.query_batch([[1, 2, 3]], k=5)[0].shape == (1, 0)


def test_metadata_and_filters(path, rng):
    x = rng.standard_normal((40, 8), dtype=np.float32)
    meta = [{0: i, 1: "even" if i % 2 == 0 else "odd", 2: i / 4, 3: i % 3 == 0, 4: -i}
            for i in range(40)]
    meta[5] = None  # no metadata for id 5
    with rvf.create(path, 8) as s:
        s.ingest(np.arange(40), x, metadata=meta)
        assert s.get_metadata(7) == {0: 7, 1: "odd", 2: 1.75, 3: False, 4: -7}
        assert s.get_metadata(5) == {}
        assert s.get_metadata(6, typed=True) == {0: ("u64", 6), 1: ("string", "even"),
                                                 2: ("f64", 1.5), 3: ("bool", True),
                                                 4: ("i64", -6)}
        # CLI grammar as dict, Node grammar as JSON text
        ids, _ = s.query(x[0], k=40, filter={"eq": {"field": 1, "value": "odd"}})
        assert sorted(ids.tolist()) == [i for i in range(1, 40, 2) if i != 5]
        ids, _ = s.query(x[0], k=40, filter='{"op":"range","fieldId":0,"valueType":"u64",'
                                            '"low":"10","high":"13"}')
        assert sorted(ids.tolist()) == [10, 11, 12]
        ids, _ = s.query(x[0], k=40, filter={"eq": {"field": 3, "value": True}})
        assert sorted(ids.tolist()) == list(range(0, 40, 3))
        # typed values, upsert replaces the metadata
        s.ingest([7], x[7:8], metadata=[{0: ("i64", 3), 9: ("f64", 2)}])
        assert s.get_metadata(7, typed=True) == {0: ("i64", 3), 9: ("f64", 2.0)}
        big = 2**64 - 1
        s.ingest([8], x[8], metadata=[{0: big}])
        assert s.get_metadata(8) == {0: big}
        with pytest.raises(rvf.NotFoundError) as e:
            s.get_metadata(12345)
        assert e.value.code == rvf.E_NOT_FOUND and "12345" in str(e.value)
        with pytest.raises(rvf.ArgumentError, match="0..2"):
            s.get_metadata(-1)
        with pytest.raises(TypeError):
            s.get_metadata("7")
    with rvf.open(path, readonly=True) as s:  # persisted
        assert s.get_metadata(8) == {0: big}
        assert s.get_metadata(10)[1] == "even"


def test_delete_delete_filter_compact(path, rng):
    x = rng.standard_normal((100, 8), dtype=np.float32)
    with rvf.create(path, 8) as s:
        s.ingest(np.arange(100), x, metadata=[{0: i % 10} for i in range(100)])
        assert s.delete([1, 2, 3, 999])["deleted"] == 3
        r = s.delete_filter({"eq": {"field": 0, "value": 9}})
        assert r["deleted"] == 10
        assert len(s) == 87
        ids, _ = s.query(x[2], k=100)
        assert 2 not in ids and 19 not in ids and len(ids) == 87
        before = s.status()
        assert before["deleted_vectors"] == 13
        c = s.compact()
        assert c["segments_compacted"] == 13 and c["vectors_after"] == 87
        assert c["file_size_after"] < c["file_size_before"]
        after = s.status()
        assert after["deleted_vectors"] == 0 and after["total_vectors"] == 87
        assert after["file_size"] == c["file_size_after"]
        assert s.get_metadata(4) == {0: 4}  # metadata survives compaction
    with rvf.open(path) as s:
        assert len(s) == 87
        assert s.delete_filter({"eq": {"field": 0, "value": 77}})["deleted"] == 0


def test_index_build_and_query(path, rng):
    x = rng.standard_normal((800, 16), dtype=np.float32)
    with rvf.create(path, 16) as s:
        s.ingest(np.arange(800), x)
        st = s.index(m=8, ef_construction=64, threads=1)
        assert st["present"] and st["persisted"] and st["nodes"] == 800 and st["m"] == 8
        assert s.status()["index"]["present"]
        q = rng.standard_normal((30, 16), dtype=np.float32)
        exact, _ = s.query_batch(q, k=10, exact=True)
        approx, _ = s.query_batch(q, k=10, ef_search=200)
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
        assert recall >= 0.9
    with rvf.open(path, readonly=True) as s:  # loaded, not rebuilt
        assert s.status()["index"]["present"]


def test_configure_index(path, rng):
    x = rng.standard_normal((20001, 4), dtype=np.float32)
    with rvf.create(path, 4) as s:
        s.configure_index(policy="off", ef_search=77)
        s.ingest(np.arange(20001), x)  # 'auto' would build the index here
        st = s.status()["index"]
        assert not st["present"] and st["policy"] == "off" and st["ef_search"] == 77
        with pytest.raises(rvf.ArgumentError, match="policy"):
            s.configure_index(policy="sometimes")
    with rvf.create(path + "2", 4) as s:
        s.configure_index(policy="on")
        s.ingest(np.arange(50), x[:50])
        assert s.status()["index"]["present"] and s.status()["index"]["nodes"] == 50


def test_status_fields(small):
    s, _ = small
    st = s.status()
    assert st["total_vectors"] == 500 and st["dimension"] == 16 and st["metric"] == "l2"
    assert st["epoch"] == 1 and st["read_only"] is False and st["path"] == s.path
    assert st["file_size"] > 500 * 16 * 4


def test_derive_branch_and_plain(path, tmp_path, rng):
    x = rng.standard_normal((50, 4), dtype=np.float32)
    with rvf.create(path, 4, metric="cosine") as parent:
        parent.ingest(np.arange(50), x)
        with parent.derive(str(tmp_path / "plain.rvf")) as child:
            assert len(child) == 0 and child.metric == "cosine" and child.dimension == 4
        with parent.derive(str(tmp_path / "branch.rvf"), branch=True) as br:
            assert len(br) == 50
            br.ingest([100], x[0] * 2)
            br.delete([3])
            assert br.status()["inherited_vectors"] == 50
            ids, _ = br.query(x[3], k=50)
            assert 3 not in ids and 100 in ids
        assert len(parent) == 50  # the parent is untouched


def test_readonly_and_lock(path, rng):
    rvf.create(path, 4).close()
    with rvf.open(path, readonly=True) as ro:
        with pytest.raises(rvf.ReadOnlyError) as e:
            ro.ingest([1], [1, 2, 3, 4])
        assert e.value.code == rvf.E_READONLY
        assert ro.status()["read_only"] is True
        for write in (lambda: ro.delete([1]), ro.compact, ro.index,
                      lambda: ro.delete_filter({"eq": {"field": 0, "value": 1}}),
                      lambda: ro.configure_index(policy="on")):
            with pytest.raises(rvf.ReadOnlyError):
                write()
    with rvf.open(path) as w:
        with pytest.raises(rvf.LockedError):
            rvf.open(path)
        w.ingest([1], [1, 2, 3, 4])
    with rvf.open(path) as w:  # close released the lock
        assert len(w) == 1


def test_create_and_open_errors(path, tmp_path):
    rvf.create(path, 4).close()
    with pytest.raises(rvf.ExistsError) as e:
        rvf.create(path, 4)
    assert isinstance(e.value, FileExistsError) and e.value.code == rvf.E_EXISTS
    with pytest.raises(rvf.FileMissingError) as e:
        rvf.open(str(tmp_path / "nope.rvf"))
    assert isinstance(e.value, FileNotFoundError) and "nope.rvf" in e.value.message
    with pytest.raises(rvf.ArgumentError, match="unknown metric"):
        rvf.create(str(tmp_path / "m.rvf"), 4, metric="manhattan")
    with pytest.raises(rvf.ArgumentError, match="dim must be"):
        rvf.create(str(tmp_path / "d.rvf"), 0)
    bad = tmp_path / "garbage.rvf"
    bad.write_bytes(b"not an rvf file at all" * 100)
    with pytest.raises(rvf.Error) as e:
        rvf.open(str(bad))
    assert e.value.code < 0 and "garbage.rvf" in str(e.value)
