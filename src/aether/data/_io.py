"""Byte-reproducible writers for prepared data.

DVC hashes prepared outputs, so the same inputs and seed must give identical bytes. numpy's
``savez`` stamps each zip entry with the current time, so arrays are written here with a fixed
timestamp instead; the layout is the one `numpy.load` and `scipy.sparse.load_npz` read.
"""

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

Stats = dict[str, int | float]  # summary numbers of a prepared dataset

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def save_arrays(path: Path, **arrays: object) -> None:
    """Like `numpy.savez_compressed`, but byte-identical for identical arrays."""
    with zipfile.ZipFile(path, "w") as z:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)


def save_csr(path: Path, matrix: sp.csr_array) -> None:
    """A CSR array in `scipy.sparse.save_npz`'s layout (readable by `load_npz`)."""
    save_arrays(
        path,
        indices=matrix.indices,
        indptr=matrix.indptr,
        format=b"csr",
        shape=np.asarray(matrix.shape),
        data=matrix.data,
        _is_array=True,
    )


def load_csr(path: Path) -> sp.csr_array:
    """Read a matrix written by `save_csr` as a CSR array."""
    return sp.csr_array(sp.load_npz(path))


def save_parquet(path: Path, frame: pd.DataFrame) -> None:
    """A data frame as parquet without its index (pyarrow output is stable for a version)."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def save_json(path: Path, obj: object) -> None:
    """JSON with sorted keys and a trailing newline, so equal objects give equal bytes."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
