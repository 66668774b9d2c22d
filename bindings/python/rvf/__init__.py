"""rvf — RVF vector files from Python (a C extension over librvf).

    import numpy as np, rvf
    with rvf.create("vecs.rvf", dim=128, metric="cosine") as store:
        store.ingest(np.arange(1000), np.random.rand(1000, 128).astype(np.float32))
        ids, dist = store.query(np.random.rand(128), k=10)

See bindings/python/README.md. Every library failure raises rvf.Error (or a
subclass) with .code (the rvf_err value) and .message.
"""
from ._rvf import (  # noqa: F401
    ArgumentError,
    ClosedError,
    CorruptError,
    DimensionError,
    Error,
    ExistsError,
    FileMissingError,
    LockedError,
    NotFoundError,
    OutOfMemoryError,
    ReadOnlyError,
    StorageError,
    Store,
    create,
    open,
)
from ._rvf import (  # noqa: F401
    E_ARG, E_CHECKSUM, E_CORRUPT, E_DIMENSION, E_EXISTS, E_IO, E_LOCKED, E_NOENT,
    E_NOMEM, E_NO_MANIFEST, E_NOT_FOUND, E_PARENT, E_READONLY, E_TIMEOUT, E_UNSUPPORTED,
)

__version__ = "0.1.0"
__all__ = [
    "create", "open", "Store", "Error", "ArgumentError", "ClosedError", "CorruptError",
    "DimensionError", "ExistsError", "FileMissingError", "LockedError", "NotFoundError",
    "OutOfMemoryError", "ReadOnlyError", "StorageError",
]
