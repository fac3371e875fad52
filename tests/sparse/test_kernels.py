"""Every kernel family against dense torch, on random inputs over formats and shapes.

The formats per family are chosen so the suite compiles few distinct kernels (the cache is cold
in CI); hypothesis varies shapes, densities (including empty rows and empty tensors) and data.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.sparse.tensor import SparseTensor

FORMATS = ["csr", "csc", "coo", "dcsr"]
SETTINGS = settings(max_examples=8, deadline=None)
dims = st.integers(0, 9)
densities = st.sampled_from([0.0, 0.1, 0.4, 1.0])
seeds = st.integers(0, 2**16)


def dense_of(x):
    return x.numpy() if isinstance(x, SparseTensor) else x


def check(result, expected, dtype=np.float64):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(dense_of(result), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(m=dims, n=dims, density=densities, seed=seeds)
def test_spmv(always_sparse, random_dense, fmt, m, n, density, seed):
    rng = np.random.default_rng(seed)
    a, x = random_dense(rng, (m, n), density), rng.standard_normal(n)
    y = always_sparse.evaluate("y(i) = A(i,j) * x(j)", A=SparseTensor.from_dense(a, fmt), x=x)
    check(y, (torch.from_numpy(a) @ torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(m=dims, k=dims, n=dims, density=densities, seed=seeds)
def test_spmm(always_sparse, random_dense, fmt, m, k, n, density, seed):
    rng = np.random.default_rng(seed)
    a, b = random_dense(rng, (m, k), density), rng.standard_normal((k, n))
    c = always_sparse.evaluate("C(i,j) = A(i,k) * B(k,j)", A=SparseTensor.from_dense(a, fmt), B=b)
    check(c, a @ b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_spmm_dtypes(always_sparse, random_dense, dtype, index_dtype):
    rng = np.random.default_rng(0)
    a, b = random_dense(rng, (20, 15), 0.2, dtype), rng.standard_normal((15, 4)).astype(dtype)
    t = SparseTensor.from_dense(a, "csr", index_dtype=index_dtype)
    c = always_sparse.evaluate("C(i,j) = A(i,k) * B(k,j)", A=t, B=b)
    assert c.dtype == dtype
    check(c, (torch.from_numpy(a) @ torch.from_numpy(b)).numpy(), dtype)


@pytest.mark.parametrize("fmt", ["csr", "coo"])
@SETTINGS
@given(m=dims, n=dims, k=st.integers(1, 5), density=densities, seed=seeds)
def test_sddmm(always_sparse, random_dense, fmt, m, n, k, density, seed):
    rng = np.random.default_rng(seed)
    s = random_dense(rng, (m, n), density)
    u, v = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    c = always_sparse.evaluate(
        "C(i,j) = S(i,j) * U(i,k) * V(j,k)", S=SparseTensor.from_dense(s, fmt), U=u, V=v
    )
    assert isinstance(c, SparseTensor)
    check(c, s * (u @ v.T))


@pytest.mark.parametrize(("fa", "fb"), [("csr", "csr"), ("dcsr", "dcsr"), ("csr", "csc")])
@SETTINGS
@given(m=dims, k=dims, n=dims, density=densities, seed=seeds)
def test_spmspm(always_sparse, random_dense, fa, fb, m, k, n, density, seed):
    rng = np.random.default_rng(seed)
    a, b = random_dense(rng, (m, k), density), random_dense(rng, (k, n), density)
    c = always_sparse.evaluate(
        "C(i,j) = A(i,k) * B(k,j)",
        A=SparseTensor.from_dense(a, fa),
        B=SparseTensor.from_dense(b, fb),
    )
    assert isinstance(c, SparseTensor)
    check(c, a @ b)


@pytest.mark.parametrize("op", ["+", "*", "-"])
@pytest.mark.parametrize(("fa", "fb"), [("csr", "csr"), ("dcsr", "coo"), ("csc", "csr")])
@SETTINGS
@given(m=dims, n=dims, da=densities, db=densities, seed=seeds)
def test_elementwise(always_sparse, random_dense, op, fa, fb, m, n, da, db, seed):
    rng = np.random.default_rng(seed)
    a, b = random_dense(rng, (m, n), da), random_dense(rng, (m, n), db)
    c = always_sparse.evaluate(
        f"C(i,j) = A(i,j) {op} B(i,j)",
        A=SparseTensor.from_dense(a, fa),
        B=SparseTensor.from_dense(b, fb),
    )
    expected = {"+": a + b, "*": a * b, "-": a - b}[op]
    check(c, expected)


def test_sparse_plus_dense_and_mixed_terms(always_sparse, random_dense):
    rng = np.random.default_rng(3)
    a, b, d = (random_dense(rng, (6, 6), 0.3) for _ in range(3))
    sa, sb = SparseTensor.from_dense(a, "csr"), SparseTensor.from_dense(b, "csr")
    check(always_sparse.evaluate("C(i,j) = A(i,j) + D(i,j)", A=sa, D=d), a + d)
    check(always_sparse.evaluate("C(i,j) = A(i,j) * B(i,j) + D(i,j)", A=sa, B=sb, D=d), a * b + d)
    # The reduction over k binds to the product only: D is added once (TACO's convention).
    sd = SparseTensor.from_dense(d, "csr")
    check(always_sparse.evaluate("C(i,j) = A(i,k) * B(k,j) + D(i,j)", A=sa, B=sb, D=sd), a @ b + d)
    # A transposed operand has no concordant order: the runtime re-stores it.
    check(always_sparse.evaluate("C(i,j) = A(i,j) + B(j,i)", A=sa, B=sb), a + b.T)


@pytest.mark.parametrize("fmt", ["csf", "coo"])
@SETTINGS
@given(shape=st.tuples(dims, dims, dims), r=st.integers(1, 4), density=densities, seed=seeds)
def test_ttm_and_mttkrp(always_sparse, random_dense, fmt, shape, r, density, seed):
    rng = np.random.default_rng(seed)
    x = random_dense(rng, shape, density)
    u, b, c = (rng.standard_normal((n, r)) for n in (shape[2], shape[1], shape[2]))
    sx = SparseTensor.from_dense(x, fmt)
    tx = torch.from_numpy(x)
    ttm = always_sparse.evaluate("Y(i,j,r) = X(i,j,k) * U(k,r)", X=sx, U=u)
    check(ttm, torch.einsum("ijk,kr->ijr", tx, torch.from_numpy(u)).numpy())
    mttkrp = always_sparse.evaluate("M(i,r) = X(i,j,k) * B(j,r) * C(k,r)", X=sx, B=b, C=c)
    expected = torch.einsum("ijk,jr,kr->ir", tx, torch.from_numpy(b), torch.from_numpy(c))
    check(mttkrp, expected.numpy())


@pytest.mark.parametrize("r", [1, 4, 300])
def test_mttkrp_adds_the_fibres_below_each_output_row(always_sparse, r):
    """MTTKRP's output lies on X's pattern at i; each i has several j fibres, each walked on
    its own: their sums add into the row (found by hypothesis: a store kept only the last)."""
    rng = np.random.default_rng(23)
    x = np.zeros((8, 4, 5))  # few nonzero i: the output is compressed there, on X's pattern
    x[0, 1, [0, 3]], x[0, 3, 2], x[5, [0, 2], 4] = 1.5, -2.0, 0.5
    b, c = rng.standard_normal((4, r)), rng.standard_normal((5, r))
    for fmt in ("csf", "coo"):
        got = always_sparse.evaluate(
            "M(i,r) = X(i,j,k) * B(j,r) * C(k,r)", X=SparseTensor.from_dense(x, fmt), B=b, C=c
        )
        assert isinstance(got, SparseTensor) is (fmt == "csf")  # COO: a dense output here
        check(got, np.einsum("ijk,jr,kr->ir", x, b, c))


def test_duplicate_coo_coordinates_count_once_summed(always_sparse):
    coords = np.array([[0, 1], [0, 1], [1, 0]])
    a = SparseTensor.from_coords(coords, [1.0, 2.0, 5.0], (2, 2), "coo", index_dtype=np.int32)
    check(always_sparse.evaluate("y(i) = A(i,j) * x(j)", A=a, x=np.array([1.0, 10.0])), [30, 5])
