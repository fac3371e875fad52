"""Rows sharing a pattern, walked together: the analysis, the generated walk, its results."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.sparse import groups, runtime
from aether.sparse.tensor import SparseTensor

SPMM = "C(i,j) = A(i,k) * B(k,j)"


def repeated(rng, n_rows: int, n_cols: int, patterns: int, dtype=np.float64) -> np.ndarray:
    """A matrix whose rows take one of a few random patterns, with values of their own."""
    masks = rng.random((patterns, n_cols)) < 0.3
    mask = masks[rng.integers(0, patterns, n_rows)]
    return np.where(mask, rng.standard_normal((n_rows, n_cols)), 0.0).astype(dtype)


def test_row_groups_chunks_only_identical_rows():
    a = np.zeros((8, 5))
    for r in (0, 2, 5, 6):  # pattern {1, 3}
        a[r, [1, 3]] = r + 1
    for r in (1, 4):  # pattern {0}
        a[r, 0] = 7.0
    a[7, [1, 4]] = 2.0  # its own pattern; row 3 is empty
    m = sp.csr_array(a)
    g = groups.row_groups(m.indptr, m.indices, 2)
    chunks = g.chunks.reshape(-1, 2)
    assert sorted(map(tuple, chunks)) == [(0, 2), (1, 4), (5, 6)]
    assert g.rest.tolist() == [3, 7]
    assert g.share == pytest.approx(10 / 12)
    for first, second in chunks:
        row = lambda r: m.indices[m.indptr[r] : m.indptr[r + 1]].tolist()  # noqa: E731
        assert row(first) == row(second)


def test_row_groups_checks_patterns_not_hashes(monkeypatch):
    """Rows whose hashes collide but whose patterns differ never share a chunk."""
    m = sp.csr_array(np.array([[1.0, 0, 0], [0, 2.0, 0], [3.0, 0, 0], [0, 4.0, 0]]))
    monkeypatch.setattr(groups, "_hashes", lambda pos, crd: np.zeros(len(pos) - 1, np.uint64))
    g = groups.row_groups(m.indptr, m.indices, 2)
    assert g.chunks.tolist() == [0, 2]  # row 0's run: rows 0 and 2; rows 1 and 3 go on alone
    assert g.rest.tolist() == [1, 3]


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(0, 70),
    patterns=st.integers(1, 4),
    width=st.sampled_from([16, 32, 64, 128]),
    dtype=st.sampled_from([np.float32, np.float64]),
    index_dtype=st.sampled_from([np.int32, np.int64]),
)
def test_grouped_spmm_matches_torch(always_sparse, seed, rows, patterns, width, dtype, index_dtype):
    rng = np.random.default_rng(seed)
    a = repeated(rng, rows, 23, patterns, dtype)
    b = rng.standard_normal((23, width)).astype(dtype)
    t = SparseTensor.from_dense(a, "csr", index_dtype=index_dtype)
    c = always_sparse.evaluate(SPMM, A=t, B=b)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(c, (torch.from_numpy(a) @ torch.from_numpy(b)).numpy(), tol, tol)
    if rows >= 40 and patterns <= 2 and width >= 64:  # chunks of 2-4 rows cover most rows
        assert runtime.group_size(runtime._parse(SPMM), {"A": t, "B": b}) > 1


@pytest.mark.parametrize("parallel", [False, True])
def test_grouped_walk_is_generated_and_reads_values_afresh(parallel):
    rt = runtime.Runtime(crossover=2.0, parallel=parallel)
    rng = np.random.default_rng(0)
    a = repeated(rng, 64, 40, 2)
    b = rng.standard_normal((40, 64))
    t = SparseTensor.from_dense(a, "csr")
    np.testing.assert_allclose(rt.evaluate(SPMM, A=t, B=b), a @ b, 1e-10, 1e-10)
    (kernel,) = rt.kernels.values()
    assert kernel.source.groups == 4 and kernel.source.parallel == parallel
    assert ("for c_i0 in prange(" if parallel else "for c_i0 in range(") in kernel.source.text
    t.vals *= -2.0  # values change in place: the analysis holds only the pattern
    np.testing.assert_allclose(rt.evaluate(SPMM, A=t, B=b), -2 * a @ b, 1e-10, 1e-10)


def test_no_grouping_without_repeated_patterns(always_sparse):
    rng = np.random.default_rng(1)
    a = np.where(rng.random((50, 60)) < 0.2, 1.0, 0.0)  # 12 columns of 60 per row: all differ
    t = SparseTensor.from_dense(a, "csr")
    assert runtime.group_size(runtime._parse(SPMM), {"A": t, "B": np.ones((60, 64))}) == 0


@pytest.mark.parametrize("threads", [1, 2])
def test_grouped_sparse_linear_fuses_bias_and_relu(frontend_sparse, threads):
    from aether.sparse import nn as snn

    torch.set_num_threads(threads)
    try:
        rng = np.random.default_rng(2)
        w = torch.from_numpy(repeated(rng, 96, 48, 3).astype(np.float32))
        bias = torch.randn(96)
        layer = snn.SparseLinear(w, bias, relu=True)
        x = torch.randn(64, 48)
        expected = torch.relu(x @ w.T + bias)
        np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
        (_, _, _, fused), *_ = layer._spmm._bound.values()
        assert fused  # bias and ReLU in the kernel
        operands = {"W": layer.weight, "Xt": np.ones((48, 64), np.float32)}
        assert runtime.group_size(runtime._parse(snn.LINEAR), operands) == 4
    finally:
        torch.set_num_threads(1)


def test_grouped_gcn_layer_on_cliques(frontend_sparse):
    """A graph of disjoint cliques: with self-loops, a clique's rows share one pattern, with
    values of their own after normalization; the aggregation adds the bias and applies ReLU."""
    from aether.sparse import nn as snn

    sizes = [12, 9, 16, 7]
    adjacency = sp.block_diag([np.ones((n, n)) - np.eye(n) for n in sizes], format="lil")
    adjacency[0, 20] = adjacency[20, 0] = 1.0  # one edge between cliques: two rows differ
    a_hat = snn.normalize_adjacency(adjacency)
    h = np.ones((sum(sizes), 32), np.float32)  # the aggregation's dense operand: X W
    assert runtime.group_size(runtime._parse(snn.SPMM), {"A": a_hat, "B": h}) == 8
    layer = snn.GCNLayer(10, 32, relu=True, seed=3)
    layer.bias.data = torch.randn(32)
    x = torch.randn(sum(sizes), 10)
    expected = torch.relu(torch.from_numpy(a_hat.numpy()) @ (x @ layer.weight) + layer.bias)
    got = layer(x, a_hat)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
