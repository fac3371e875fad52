"""The adaptive runtime, the disk cache, the PyTorch front end and the nn modules."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aether.sparse import nn as snn
from aether.sparse import runtime
from aether.sparse.notation import parse
from aether.sparse.runtime import DenseFallbackWarning, Runtime
from aether.sparse.tensor import SparseFormatError, SparseTensor


def test_runtime_picks_dense_above_the_crossover(random_dense):
    rng = np.random.default_rng(0)
    dense_a, sparse_a = random_dense(rng, (30, 30), 0.5), random_dense(rng, (30, 30), 0.02)
    rt = Runtime(crossover=0.1)
    b = rng.standard_normal((30, 4))
    for a in (dense_a, sparse_a):
        c = rt.evaluate("C(i,j) = A(i,k) * B(k,j)", A=SparseTensor.from_dense(a), B=b)
        np.testing.assert_allclose(c, a @ b, atol=1e-12)
    assert rt.paths == {"dense": 1, "sparse": 1}  # the dense one: a copy kernel, then torch
    products = [k for k in rt.kernels.values() if len(k.schedule.assignment.accesses()) == 2]
    assert len(products) == 1  # only the sparse operand compiled a product kernel


def test_crossover_is_measured_and_saved(kernel_cache):
    measured = runtime.measure_crossover(n=64, width=8, densities=(0.01, 0.9), repeats=1)
    assert [r["density"] for r in measured["rows"]] == [0.01, 0.9]
    assert 0.0 <= measured["spmm_density"] <= 1.0
    runtime.save_crossover(measured)
    saved = json.loads((kernel_cache / "crossover.json").read_text())
    assert Runtime().threshold() == saved["spmm_density"]
    (kernel_cache / "crossover.json").unlink()


def test_explain_prints_every_stage(always_sparse):
    a = SparseTensor.from_dense(np.eye(4), "csr")
    from aether.sparse.notation import parse

    kernel = always_sparse.compile(parse("y(i) = A(i,j) * x(j)"), {"A": a, "x": np.ones(4)})
    text = kernel.explain()
    assert "index notation:    y(i) = A(i,j) * x(j)" in text
    assert "concrete notation: ∀i ∀j y(i) += A(i,j) * x(j)" in text
    assert "def kernel(" in text and "for q0_1 in range(s0_1, e0_1):" in text


def test_second_process_loads_kernels_from_disk(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np
        from aether.sparse import SparseTensor, Runtime
        from aether.sparse.notation import parse
        rt = Runtime(crossover=2.0)
        a = SparseTensor.from_dense(np.eye(5), "csr")
        y = rt.evaluate("y(i) = A(i,j) * x(j)", A=a, x=np.arange(5.0))
        k = next(iter(rt.kernels.values()))
        print(sum(k.fn.stats.cache_hits.values()), sum(k.fn.stats.cache_misses.values()), y.sum())
        """
    )
    env = {**os.environ, "AETHER_SPARSE_CACHE": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0] == ["0", "1", "10.0"]  # compiled, saved
    assert runs[1] == ["1", "0", "10.0"]  # loaded from disk, no compilation
    assert len(list(tmp_path.glob("k_*.py"))) == 1


def test_uncompilable_operation_falls_back_dense_with_a_warning():
    a = np.diag([1.0, 2.0])
    t = SparseTensor.from_dense(a)
    with pytest.warns(DenseFallbackWarning, match="exp has no sparse kernel"):
        result = torch.exp(t)
    np.testing.assert_allclose(result.numpy(), np.exp(a))


def test_bad_inputs_give_clear_errors(always_sparse):
    a = SparseTensor.from_dense(np.eye(3))
    with pytest.raises(SparseFormatError, match=r"needs tensors \['x'\]"):
        always_sparse.evaluate("y(i) = A(i,j) * x(j)", A=a)
    with pytest.raises(SparseFormatError, match="dtype int64"):
        always_sparse.evaluate("y(i) = A(i,j) * x(j)", A=a, x=np.ones(3, dtype=np.int64))
    with pytest.raises(Exception, match="shapes do not match"):
        always_sparse.evaluate("y(i) = A(i,j) * x(j)", A=a, x=np.ones(4))
    with pytest.raises(SparseFormatError, match="shapes"):
        _ = a + SparseTensor.from_dense(np.eye(4))


def test_torch_front_end(frontend_sparse, random_dense):
    rng = np.random.default_rng(1)
    a = random_dense(rng, (12, 9), 0.2)
    ta, sa = torch.from_numpy(a), SparseTensor.from_dense(a)
    b, x, left = (torch.from_numpy(rng.standard_normal(s)) for s in ((9, 5), (9,), (3, 12)))
    close = torch.testing.assert_close
    close(sa @ b, ta @ b)
    close(torch.matmul(sa, x), ta @ x)
    close(torch.mm(sa, b), ta @ b)
    close(left @ sa, left @ ta)
    close(torch.einsum("ij,jk->ik", sa, b), ta @ b)
    close(torch.sum(sa), ta.sum())
    close(sa.sum(0), ta.sum(0))
    close((sa @ sa.T).to_dense(), ta @ ta.T)
    close((sa + sa).to_dense(), 2 * ta)
    close((sa * ta).to_dense(), ta * ta)
    close((sa * 3.0).to_dense(), 3 * ta)
    blocked = SparseTensor.from_dense(a[:12, :9], block=(3, 3))
    close(blocked @ b, ta @ b)


def test_sparse_linear_matches_the_pruned_dense_layer(frontend_sparse):
    torch.manual_seed(0)
    linear = torch.nn.Linear(32, 16)
    layer = snn.SparseLinear.from_linear(linear, sparsity=0.9)
    pruned = snn.magnitude_prune(linear.weight.detach(), 0.9)
    assert layer.weight.nnz == int((pruned != 0).sum()) and layer.weight.nnz <= 0.1 * 32 * 16 + 1
    x = torch.randn(2, 3, 32)
    torch.testing.assert_close(layer(x), x @ pruned.T + linear.bias.detach())
    with pytest.raises(SparseFormatError, match="sparsity must be in"):
        snn.magnitude_prune(linear.weight, 1.0)


def test_gcn_matches_dense_kipf_welling(frontend_sparse):
    rng = np.random.default_rng(2)
    adjacency = sp.random_array((40, 40), density=0.1, random_state=rng)
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float32)
    a_hat = snn.normalize_adjacency(adjacency)
    x = torch.from_numpy(rng.standard_normal((40, 6)).astype(np.float32))
    gcn = snn.GCN(6, 8, 3, seed=0)
    dense_a = torch.from_numpy(a_hat.numpy())
    l1, l2 = gcn.layer1, gcn.layer2
    hidden = torch.relu(dense_a @ (x @ l1.weight) + l1.bias)
    expected = dense_a @ (hidden @ l2.weight) + l2.bias
    torch.testing.assert_close(gcn(x, a_hat), expected, rtol=1e-4, atol=1e-5)
    degree = dense_a.sum(1)
    assert torch.all(degree > 0)


def test_sparse_attention_matches_masked_dense_softmax(frontend_sparse):
    torch.manual_seed(0)
    pattern = snn.window_pattern(24, window=2, n_global=2)
    q, k, v = (torch.randn(24, 8, dtype=torch.float64) for _ in range(3))
    mask = pattern.to_dense() != 0
    assert mask[0].all() and mask[:, 1].all() and not mask[10, 20]
    scores = ((q @ k.T) * 8**-0.5).masked_fill(~mask, float("-inf"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DenseFallbackWarning)
        out = snn.SparseAttention(pattern)(q, k, v)
    torch.testing.assert_close(out, torch.softmax(scores, -1) @ v)


def test_parallel_kernels_agree(random_dense):
    """prange over the outer output loop (independent rows) gives the serial numbers."""
    rng = np.random.default_rng(4)
    a, b = random_dense(rng, (40, 30), 0.1, np.float32), rng.standard_normal((30, 8))
    rt = Runtime(parallel=True, crossover=2.0)
    c = rt.evaluate("C(i,j) = A(i,k) * B(k,j)", A=SparseTensor.from_dense(a, "dcsr"), B=b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
    assert "prange" in next(iter(rt.kernels.values())).source.text


@pytest.mark.parametrize("fmt", ["csr", "dcsr"])
def test_outputs_on_a_pattern_are_row_parallel(random_dense, fmt):
    """SDDMM writes on S's positions, each row its own: prange over rows, serial numbers."""
    rng = np.random.default_rng(5)
    s = random_dense(rng, (50, 40), 0.1, np.float32)
    u, v = rng.standard_normal((50, 8), np.float32), rng.standard_normal((40, 8), np.float32)
    rt = Runtime(parallel=True, crossover=2.0)
    sddmm = "C(i,j) = S(i,j) * U(i,k) * V(j,k)"
    c = rt.evaluate(sddmm, "infer", S=SparseTensor.from_dense(s, fmt), U=u, V=v)
    np.testing.assert_allclose(c.to_dense(), s * (u @ v.T), rtol=1e-5, atol=1e-5)
    kernel = next(iter(rt.kernels.values()))
    assert kernel.schedule.pattern == "S" and kernel.source.parallel
    assert "prange" in kernel.source.text.split("def kernel")[1]


def test_ttm_on_the_input_pattern_is_row_parallel():
    rng = np.random.default_rng(6)
    coords = np.unique(rng.integers(0, [12, 9, 7], size=(80, 3)), axis=0)
    values = rng.standard_normal(len(coords))
    x = SparseTensor.from_coords(coords, values, (12, 9, 7), "csf")
    u = rng.standard_normal((7, 5))
    rt = Runtime(parallel=True, crossover=2.0)
    y = rt.evaluate("Y(i,j,r) = X(i,j,k) * U(k,r)", "infer", X=x, U=u)
    dense = np.zeros((12, 9, 7))
    dense[tuple(coords.T)] = values
    np.testing.assert_allclose(y.to_dense(), np.einsum("ijk,kr->ijr", dense, u), atol=1e-12)
    (kernel,) = rt.kernels.values()
    assert kernel.schedule.pattern == "X" and kernel.source.parallel


def test_threads_follow_the_work_including_each_entrys_own_cost():
    """With two threads, an SpMV of 13k nonzeros runs in parallel (a stored entry weighs as
    much as ENTRY_WORK multiply-adds); one of a thousand stays on one thread."""
    spmv = parse("y(i) = A(i,j) * x(j)")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        rt = Runtime(crossover=2.0)
        for nnz, expected in ((1_000, 1), (13_000, 2)):
            m = sp.random_array((2_000, 2_000), density=nnz / 4e6, format="csr", random_state=0)
            a, x = SparseTensor.from_scipy(m), np.ones(2_000)
            threads = min(expected, numba.config.NUMBA_NUM_THREADS)
            assert rt.threads(spmv, {"A": a, "x": x}) == threads
            assert Runtime(parallel=False).threads(spmv, {"A": a, "x": x}) == 1
    finally:
        torch.set_num_threads(before)
