"""Sparse matrices (SuiteSparse / Graph Challenge) as one CSR float64 matrix.

Prepared form: ``matrix.npz``. MatrixMarket symmetric storage is expanded to the full matrix
and pattern matrices get 1.0 entries, so every consumer sees the same explicit matrix.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from aether.data._io import Stats, load_csr, save_csr
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset


@dataclass(frozen=True)
class Matrix:
    matrix: sp.csr_array


def read_matrix(directory: Path) -> Matrix:
    """Load a matrix prepared by `convert` (the ``out_dir/<name>`` folder)."""
    return Matrix(load_csr(directory / "matrix.npz"))


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Write the prepared matrix (nothing is random here, so seed is not used)."""
    (path,) = files.values()
    notes: dict[str, object] = {}
    if path.name.endswith(".mtx"):
        matrix = read_mtx(path)
    else:
        matrix, expanded = read_triplets(path)
        if expanded:
            notes["symmetry"] = "one triangle stored; expanded to A + A.T - diag(A) as CSparse does"
    save_csr(out / "matrix.npz", matrix)
    rows, cols = matrix.shape
    stats: Stats = {
        "rows": rows,
        "cols": cols,
        "nnz": matrix.nnz,
        "density": matrix.nnz / (rows * cols),
    }
    return stats, notes


def read_mtx(path: Path) -> sp.csr_array:
    """A MatrixMarket coordinate file as canonical CSR float64."""
    try:
        coo = scipy.io.mmread(path, spmatrix=False)
    except (ValueError, OSError, IndexError) as e:
        raise MalformedDataError(
            f"{path} is not a readable MatrixMarket file ({e}); it may be truncated or garbled"
        ) from None
    if not sp.issparse(coo):
        raise MalformedDataError(f"{path} is a dense MatrixMarket array; expected 'coordinate'")
    return _canonical(sp.csr_array(coo, dtype=np.float64))


def read_triplets(path: Path) -> tuple[sp.csr_array, bool]:
    """CSparse's triplet text (``i j value``, 0-based); a lone triangle means symmetric.

    Returns the matrix and whether it was expanded from one stored triangle.
    """
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, names=["i", "j", "x"], dtype=float)
    except (ValueError, pd.errors.ParserError) as e:
        raise MalformedDataError(f"{path} should hold 'i j value' per line: {e}") from None
    if table.isna().to_numpy().any():
        raise MalformedDataError(f"{path} has incomplete lines; expected 'i j value' per line")
    i, j = table["i"].to_numpy(), table["j"].to_numpy()
    if (i < 0).any() or (j < 0).any() or (i % 1).any() or (j % 1).any():
        raise MalformedDataError(f"{path} has row/column ids that are not 0-based integers")
    i, j = i.astype(np.int64), j.astype(np.int64)
    shape = (int(i.max()) + 1, int(j.max()) + 1) if i.size else (0, 0)
    matrix = sp.csr_array((table["x"].to_numpy(), (i, j)), shape=shape)
    triangle = shape[0] == shape[1] and ((i >= j).all() or (i <= j).all())
    expanded = triangle and bool((i != j).any())
    if expanded:
        matrix = matrix + matrix.T - sp.diags_array(matrix.diagonal(), format="csr")
    return _canonical(sp.csr_array(matrix)), expanded


def _canonical(matrix: sp.csr_array) -> sp.csr_array:
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix
