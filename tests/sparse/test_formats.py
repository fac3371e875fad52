"""Formats and conversions: every format round-trips through dense, scipy and torch.sparse."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.sparse import formats as F
from aether.sparse.formats import Format, Level, SparseFormatError
from aether.sparse.tensor import SparseTensor

MATRIX_FORMATS = ["csr", "csc", "coo", "dcsr"]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(0, 7),
    cols=st.integers(0, 7),
    density=st.floats(0, 1),
    fmt=st.sampled_from(MATRIX_FORMATS),
    seed=st.integers(0, 2**16),
)
def test_matrix_formats_round_trip(random_dense, rows, cols, density, fmt, seed):
    a = random_dense(np.random.default_rng(seed), (rows, cols), density)
    t = SparseTensor.from_dense(a, fmt)
    assert t.nnz == np.count_nonzero(a)
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(t.to_scipy().toarray(), a)
    for layout in (torch.sparse_coo, torch.sparse_csr):
        np.testing.assert_array_equal(t.to_torch_sparse(layout).to_dense().numpy(), a)
    for other in MATRIX_FORMATS:
        np.testing.assert_array_equal(t.to(other).numpy(), a)


@pytest.mark.parametrize("order", [3, 4])
@pytest.mark.parametrize("fmt", ["csf", "coo"])
def test_higher_order_tensors(random_dense, order, fmt):
    a = random_dense(np.random.default_rng(order), (3, 4, 5, 2)[:order], 0.3)
    t = SparseTensor.from_dense(a, fmt)
    assert t.format.order == order
    np.testing.assert_array_equal(t.numpy(), a)


def test_blocked_csr_stores_whole_blocks():
    a = np.zeros((4, 6))
    a[0, 1], a[3, 5] = 1.0, 2.0
    t = SparseTensor.from_dense(a, block=(2, 3))
    assert t.format == F.BCSR and t.shape == (2, 2, 2, 3) and t.logical_shape == (4, 6)
    assert t.nnz == 2 * 6  # two non-empty blocks, stored densely
    np.testing.assert_array_equal(t.numpy(), a)
    bsr = torch.from_numpy(a).to_sparse_bsr((2, 3))
    np.testing.assert_array_equal(SparseTensor.from_torch(bsr).numpy(), a)


def test_torch_and_scipy_layouts_keep_their_format(random_dense):
    a = random_dense(np.random.default_rng(0), (5, 4), 0.5)
    dense = torch.from_numpy(a)
    assert SparseTensor.from_torch(dense.to_sparse_csr()).format == F.CSR
    assert SparseTensor.from_torch(dense.to_sparse_csc()).format == F.CSC
    assert SparseTensor.from_torch(dense.to_sparse()).format == F.COO
    np.testing.assert_array_equal(SparseTensor.from_scipy(sp.csc_array(a), "csc").numpy(), a)


def test_duplicate_coo_coordinates_are_summed_and_int32_kept():
    coords = np.array([[0, 1], [2, 3], [0, 1]])
    t = SparseTensor.from_coords(coords, [1.0, 2.0, 3.0], (3, 4), "coo", index_dtype=np.int32)
    assert t.nnz == 2 and t.crd[0].dtype == np.int32
    assert t.numpy()[0, 1] == 4.0 and t.numpy()[2, 3] == 2.0


def test_transpose_is_a_view_with_another_mode_order(random_dense):
    a = random_dense(np.random.default_rng(1), (3, 5), 0.5)
    t = SparseTensor.from_dense(a, "csr")
    assert t.T.format == F.CSC and t.T.vals is t.vals
    np.testing.assert_array_equal(t.T.numpy(), a.T)


def test_malformed_index_arrays_are_refused():
    pos, crd, vals = np.array([0, 2, 3]), np.array([1, 0, 2]), np.ones(3)
    with pytest.raises(SparseFormatError, match="strictly increasing"):
        SparseTensor((2, 3), F.CSR, [None, pos], [None, np.array([1, 0, 2])], vals)
    with pytest.raises(SparseFormatError, match=r"coordinates must lie in 0\.\.2"):
        SparseTensor((2, 3), F.CSR, [None, pos], [None, np.array([0, 1, 5])], vals)
    with pytest.raises(SparseFormatError, match="pos must start at 0"):
        SparseTensor((2, 3), F.CSR, [None, np.array([0, 2, 4])], [None, crd], vals)
    with pytest.raises(SparseFormatError, match="int32/int64"):
        SparseTensor((2, 3), F.CSR, [None, pos], [None, crd.astype(float)], vals)
    with pytest.raises(SparseFormatError, match="float32 or float64"):
        SparseTensor.from_dense(np.ones((2, 2), dtype=np.int64))
    with pytest.raises(SparseFormatError, match="outside the shape"):
        SparseTensor.from_coords(np.array([[3, 0]]), [1.0], (2, 2), "csr")
    with pytest.raises(SparseFormatError, match="unknown format 'bsc'"):
        SparseTensor.from_dense(np.ones((2, 2)), "bsc")
    with pytest.raises(SparseFormatError, match="singleton level must follow"):
        Format((Level.DENSE, Level.SINGLETON), (0, 1))
