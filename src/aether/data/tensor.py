"""Sparse tensors in FROSTT ``.tns`` form (1-based ``i j k [l] value`` per line).

Prepared form: ``tensor.npz`` with ``coords`` (nnz x order, int64, 0-based), ``values``
(float64) and ``shape`` (the largest index in each mode). Entries keep the file's order.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aether.data._io import Stats, save_arrays
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset


@dataclass(frozen=True)
class SparseTensor:
    coords: np.ndarray
    values: np.ndarray
    shape: tuple[int, ...]


def read_tensor(directory: Path) -> SparseTensor:
    """Load a tensor prepared by `convert` (the ``out_dir/<name>`` folder)."""
    with np.load(directory / "tensor.npz") as z:
        return SparseTensor(z["coords"], z["values"], tuple(int(s) for s in z["shape"]))


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Write the prepared tensor (nothing is random here, so seed is not used)."""
    (path,) = files.values()
    tensor = read_tns(path)
    save_arrays(
        out / "tensor.npz", coords=tensor.coords, values=tensor.values, shape=np.array(tensor.shape)
    )
    unique = np.unique(tensor.coords, axis=0).shape[0]
    stats: Stats = {"order": len(tensor.shape), "nnz": len(tensor.values)}
    stats |= {f"dim{m}": n for m, n in enumerate(tensor.shape)}
    stats["duplicate_coords"] = len(tensor.values) - unique
    notes = {
        "values": "the file's last column (in JF17K an entity id, not a count); entries that "
        "share coordinates are kept as separate rows, not summed"
    }
    return stats, notes


def read_tns(path: Path) -> SparseTensor:
    """Parse a FROSTT file: every line has the same number of fields, indices are >= 1."""
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, comment="#", dtype=float)
    except (ValueError, pd.errors.ParserError) as e:
        raise MalformedDataError(f"{path} should hold 'i j k [l] value' per line: {e}") from None
    data = table.to_numpy()
    if data.shape[1] < 3 or np.isnan(data).any():
        raise MalformedDataError(
            f"{path} has lines with missing fields; expected 'i j k [l] value' on every line"
        )
    index = data[:, :-1]
    if (index < 1).any() or (index % 1).any():
        raise MalformedDataError(f"{path} has indices that are not 1-based integers")
    coords = index.astype(np.int64) - 1
    return SparseTensor(coords, data[:, -1].copy(), tuple(int(m) + 1 for m in coords.max(axis=0)))
