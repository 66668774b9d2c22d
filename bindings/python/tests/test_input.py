"""What the binding accepts and refuses: dtype/layout conversion (and no
copy when none is needed), and clear exceptions for every bad argument."""
import gc
import tracemalloc

import numpy as np
import pytest

import rvf


def traced_peak(fn):
    """Peak bytes Python and numpy allocated (tracemalloc) while fn ran."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_float32_c_contiguous_is_not_copied(path, rng):
    x = rng.standard_normal((8000, 64), dtype=np.float32)  # 2 MB
    ids = np.arange(8000, dtype=np.uint64)
    with rvf.create(path, 64) as s:
        peak = traced_peak(lambda: s.ingest(ids, x))
        assert peak < x.nbytes // 20, peak
        # the control: the same data as float64 is converted (one float32 copy)
        x64 = x.astype(np.float64)
        peak = traced_peak(lambda: s.ingest(ids, x64))
        assert peak >= x.nbytes, peak
        q = rng.standard_normal((2000, 64), dtype=np.float32)
        assert traced_peak(lambda: s.query_batch(q, k=1)) < q.nbytes // 4


@pytest.mark.parametrize("make", [
    lambda x: x.astype(np.float64),
    lambda x: x.astype(np.float16).astype(np.float64),  # exactly representable
    lambda x: np.asfortranarray(x),
    lambda x: np.repeat(x, 2, axis=0)[::2],             # strided rows
    lambda x: np.hstack([x, x])[:, :8],                 # strided columns
    lambda x: x.astype(">f4"),                           # big-endian
    lambda x: x.tolist(),                                # plain lists
])
def test_converted_inputs_give_identical_results(path, rng, make):
    x = rng.standard_normal((64, 8), dtype=np.float32).astype(np.float16).astype(np.float32)
    with rvf.create(path, 8) as s:
        s.ingest(np.arange(64), make(x))
        for i in (0, 17, 63):
            ids, d = s.query(make(x[i:i + 1])[0], k=1)
            assert ids[0] == i and d[0] == 0.0
        ids32, d32 = s.query_batch(x[:10], k=4)
        idsc, dc = s.query_batch(make(x[:10]), k=4)
        np.testing.assert_array_equal(ids32, idsc)
        np.testing.assert_array_equal(d32, dc)


def test_integer_vectors_and_id_forms(path):
    with rvf.create(path, 3) as s:
        s.ingest(np.array([5], dtype=np.int8), np.array([[1, 2, 3]], dtype=np.int32))
        s.ingest(7, [4.0, 5.0, 6.0])                  # scalar id, 1-D vector
        s.ingest([2**64 - 1], [[7, 8, 9]])            # the largest id
        s.ingest(np.array([9], dtype=np.int64), [[0, 0, 1]])
        ids, d = s.query([4, 5, 6], k=1)
        assert ids[0] == 7 and d[0] == 0
        ids, _ = s.query([7, 8, 9], k=1)
        assert int(ids[0]) == 2**64 - 1
        assert s.ingest([], np.zeros((0, 3)))["accepted"] == 0
        assert len(s) == 4


def test_wrong_dimension(small):
    s, x = small
    with pytest.raises(rvf.DimensionError) as e:
        s.query(np.zeros(15, dtype=np.float32))
    assert e.value.code == rvf.E_DIMENSION and isinstance(e.value, ValueError)
    assert "15" in str(e.value) and "16" in str(e.value)
    with pytest.raises(rvf.DimensionError):
        s.ingest([1], np.zeros((1, 17), dtype=np.float32))
    with pytest.raises(rvf.DimensionError):
        s.query_batch(np.zeros((3, 4)))
    with pytest.raises(rvf.ArgumentError, match="query_batch"):
        s.query(np.zeros((2, 16)))
    with pytest.raises(rvf.ArgumentError, match="2-D"):
        s.query_batch(np.zeros(16))
    with pytest.raises(rvf.ArgumentError, match="2-D"):
        s.ingest([1], np.zeros((1, 1, 16)))
    assert len(s) == 500  # nothing written


@pytest.mark.parametrize("bad", [
    np.array(["a"] * 16),
    np.zeros(16, dtype=np.complex64),
    np.zeros(16, dtype=bool),
    np.array([object()] * 16),
    "not a vector",
    None,
])
def test_wrong_dtype_is_a_type_error(small, bad):
    s, _ = small
    with pytest.raises(TypeError, match="numeric"):
        s.query(bad)
    with pytest.raises(TypeError, match="numeric"):
        s.ingest([1], bad)


def test_bad_ids(small):
    s, x = small
    with pytest.raises(rvf.ArgumentError, match="negative"):
        s.ingest([-1], x[:1])
    with pytest.raises(rvf.ArgumentError, match="negative"):
        s.delete(np.array([3, -2]))
    with pytest.raises(rvf.ArgumentError, match="0..2\\*\\*64-1"):
        s.ingest([2**64, 1], x[:2])
    with pytest.raises(TypeError, match="integers"):
        s.ingest([1.5], x[:1])
    with pytest.raises(TypeError, match="integers"):
        s.delete(["a"])
    with pytest.raises(rvf.ArgumentError, match="2 ids for 1 vectors"):
        s.ingest([1, 2], x[:1])
    assert len(s) == 500


def test_non_finite_vectors_refused(small):
    s, x = small
    q = x[0].copy()
    q[3] = np.nan
    with pytest.raises(rvf.ArgumentError, match="not a finite"):
        s.query(q)
    with pytest.raises(rvf.ArgumentError, match=r"queries\[1\]"):
        s.query_batch(np.stack([x[0], q]))
    # ingest, as the library: rows with a non-finite component are rejected
    # (counted), the others are written
    v = x[:3].copy()
    v[1, 0] = np.inf
    assert s.ingest([1000, 1001, 1002], v) == {"accepted": 2, "rejected": 1, "epoch": 2}
    assert len(s) == 502
    with pytest.raises(rvf.NotFoundError):
        s.get_metadata(1001)


@pytest.mark.parametrize("k, exc", [(0, rvf.ArgumentError), (-3, rvf.ArgumentError),
                                    (2**70, OverflowError), ("5", TypeError), (1.5, TypeError)])
def test_bad_k(small, k, exc):
    s, x = small
    with pytest.raises(exc):
        s.query(x[0], k=k)
    with pytest.raises(exc):
        s.query_batch(x[:2], k=k)


def test_bad_options(small):
    s, x = small
    with pytest.raises(rvf.ArgumentError, match="ef_search"):
        s.query(x[0], ef_search=0)
    with pytest.raises(rvf.ArgumentError, match="ef_search"):
        s.query(x[0], ef_search=2**32)
    with pytest.raises(TypeError, match="ef_search"):
        s.query(x[0], ef_search="a")
    with pytest.raises(rvf.ArgumentError, match="invalid filter"):
        s.query(x[0], filter='{"eq": 5')
    with pytest.raises(rvf.ArgumentError, match="invalid filter"):
        s.query(x[0], filter={"bogus": {}})
    with pytest.raises(TypeError, match="filter"):
        s.query(x[0], filter=42)
    with pytest.raises(rvf.ArgumentError, match="required"):
        s.delete_filter(None)
    with pytest.raises(rvf.ArgumentError, match="m must be"):
        s.index(m=1)


@pytest.mark.parametrize("meta, exc, match", [
    ([{0: 1}], rvf.ArgumentError, "1 entries for 2 vectors"),
    ([{0: 1}, 5], TypeError, "dict"),
    ([{"name": 1}, None], rvf.ArgumentError, "field id"),
    ([{70000: 1}, None], rvf.ArgumentError, "field id"),
    ([{0: [1, 2]}, None], TypeError, "values are"),
    ([{0: -2**64}, None], rvf.ArgumentError, "below"),
    ([{0: ("u128", 1)}, None], rvf.ArgumentError, "unknown type"),
    ([{0: ("bool", 1)}, None], TypeError, "bool"),
    ([{0: ("string", 3)}, None], TypeError, "str"),
    ([{0: ("u64", -1)}, None], OverflowError, ""),
    ([{0: "\udcff"}, None], UnicodeEncodeError, ""),
    (7, TypeError, "sequence"),
])
def test_bad_metadata(small, meta, exc, match):
    s, x = small
    with pytest.raises(exc, match=match):
        s.ingest([600, 601], x[:2], metadata=meta)
    assert len(s) == 500


def test_closed_store(path):
    s = rvf.create(path, 4)
    s.ingest([1], [1, 2, 3, 4])
    s.close()
    s.close()  # twice is fine
    assert s.closed and "closed" in repr(s)
    calls = [
        lambda: s.query([1, 2, 3, 4]),
        lambda: s.query_batch([[1, 2, 3, 4]]),
        lambda: s.ingest([2], [1, 2, 3, 4]),
        lambda: s.delete([1]),
        lambda: s.delete_filter({"eq": {"field": 0, "value": 1}}),
        lambda: s.compact(),
        lambda: s.index(),
        lambda: s.status(),
        lambda: s.derive(path + ".child"),
        lambda: s.get_metadata(1),
        lambda: len(s),
        lambda: s.warning,
        lambda: s.__enter__(),
    ]
    for c in calls:
        with pytest.raises(rvf.ClosedError) as e:
            c()
        assert isinstance(e.value, ValueError) and "closed" in str(e.value)
    assert s.dimension == 4 and s.path == path  # still readable


def test_store_cannot_be_constructed_directly():
    with pytest.raises(TypeError):
        rvf.Store()


def test_error_attributes(small):
    s, _ = small
    try:
        s.query(np.zeros(3))
    except rvf.Error as e:
        assert e.code == rvf.E_DIMENSION and e.message == str(e)
    else:
        pytest.fail("no exception")
