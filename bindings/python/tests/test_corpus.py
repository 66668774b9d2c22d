"""Reference files from the shared corpus (../shared/corpus beside the repo)
open read-only from Python with the live count, dimension and metric of
EXPECTED.json, and answer queries as the CLI does."""
import json
import os

import numpy as np
import pytest

import rvf
from conftest import RVF_CLI, SHARED
from test_cli import assert_same, cli_query

CORPUS = os.path.join(SHARED, "corpus")
pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(CORPUS, "EXPECTED.json")),
                                reason=f"{CORPUS} missing (the shared corpus beside the repo)")


def expected():
    with open(os.path.join(CORPUS, "EXPECTED.json")) as f:
        return {k: v for k, v in json.load(f).items() if v.get("status") == "ok"}


def test_every_corpus_file_opens_with_expected_counts():
    exp = expected()
    assert len(exp) >= 30
    for name, e in sorted(exp.items()):
        with rvf.open(os.path.join(CORPUS, name), readonly=True) as s:
            st = s.status()
            assert st["read_only"] is True
            assert (len(s), s.dimension, s.metric) == \
                (e["live_vectors"], e["dimension"], e["metric"]), name


@pytest.mark.skipif(not os.access(RVF_CLI, os.X_OK), reason="build/rvf not built")
@pytest.mark.parametrize("name", ["basic_store.rvf", "filtered_search.rvf", "progressive_index.rvf"])
def test_corpus_queries_equal_cli(name):
    path = os.path.join(CORPUS, name)
    rng = np.random.default_rng(11)
    with rvf.open(path, readonly=True) as s:
        qs = rng.standard_normal((3, s.dimension), dtype=np.float32)
        for q in qs:
            assert_same(s.query(q, k=10), cli_query(path, q, 10))
        ids, d = s.query_batch(qs, k=10)
        assert ids.shape == (3, 10) and np.all(np.diff(d, axis=1) >= 0)
        with pytest.raises(rvf.ReadOnlyError):
            s.delete(ids[0])
