"""Shared fixtures of the rvf binding tests.

The module under test is the one in build/python (`make python`) when that
exists, else an installed `rvf` (RVF_PY_INSTALLED=1 forces the installed one).
"""
import os
import sys

import numpy as np
import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
BUILD_PY = os.path.join(ROOT, "build", "python")
if os.environ.get("RVF_PY_INSTALLED") != "1" and os.path.isdir(os.path.join(BUILD_PY, "rvf")):
    sys.path.insert(0, BUILD_PY)

import rvf  # noqa: E402

RVF_CLI = os.path.join(ROOT, "build", "rvf")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "store.rvf")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small(path, rng):
    """A 500 x 16 L2 store with ids 0..499 (vectors returned too)."""
    x = rng.standard_normal((500, 16), dtype=np.float32)
    s = rvf.create(path, 16)
    s.ingest(np.arange(500), x)
    yield s, x
    s.close()


def brute_force(x, ids, q, k, metric="l2"):
    """Reference top-k in float64 (ids, distances) for checking results."""
    x = np.asarray(x, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if metric == "l2":
        d = ((x - q) ** 2).sum(axis=1)
    elif metric == "ip":
        d = -(x @ q)
    else:
        d = 1 - (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    order = np.lexsort((ids, d))[:k]
    return np.asarray(ids)[order], d[order]
