"""SpGEMM's assembled CSR output on every path against dense torch.

One thread takes the bound pass (arrays reserved from the sum of the innermost segment
lengths) and one value pass; several threads, or a bound above ``codegen.BOUND_MAX``, the
symbolic and numeric passes. Each is checked for values and for a well-formed CSR structure
(pointers, unique and, when the format asks, sorted columns: the structural pattern of the
product, explicit zeros included)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.sparse import codegen, formats, runtime
from aether.sparse.tensor import SparseTensor

SPGEMM = "C(i,j) = A(i,k) * B(k,j)"
dims = st.integers(0, 12)
densities = st.sampled_from([0.0, 0.1, 0.4, 1.0])


def operand(rng, shape, density, dtype, index_dtype, duplicates):
    """A random CSR operand; with `duplicates`, built from COO coordinates that repeat."""
    mask = rng.random(shape) < density
    coords = np.argwhere(mask)
    vals = rng.standard_normal(len(coords)).astype(dtype)
    if duplicates and len(coords):
        coords, vals = np.concatenate([coords, coords[::2]]), np.concatenate([vals, vals[::2]])
    t = SparseTensor.from_coords(coords, vals, shape, "csr", index_dtype=index_dtype)
    return t, mask


@pytest.mark.parametrize("path", ["bound", "two_pass", "parallel"])
@settings(max_examples=12, deadline=None)
@given(
    m=dims,
    k=dims,
    n=dims,
    da=densities,
    db=densities,
    dtype=st.sampled_from([np.float32, np.float64]),
    index_dtype=st.sampled_from([np.int32, np.int64]),
    ordered=st.booleans(),
    duplicates=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_spgemm_paths(path, m, k, n, da, db, dtype, index_dtype, ordered, duplicates, seed):
    rng = np.random.default_rng(seed)
    a, mask_a = operand(rng, (m, k), da, dtype, index_dtype, duplicates)
    b, mask_b = operand(rng, (k, n), db, dtype, index_dtype, duplicates)
    rt = runtime.Runtime(crossover=2.0, parallel=path == "parallel")
    fmt = formats.CSR if ordered else formats.CSR.with_order(False)
    with pytest.MonkeyPatch.context() as patch:
        if path == "two_pass":  # a bound above the limit: the exact two passes
            patch.setattr(codegen, "BOUND_MAX", 0)
        c = rt.evaluate(SPGEMM, fmt, A=a, B=b)
    assert isinstance(c, SparseTensor) and c.vals.dtype == dtype
    expected = torch.from_numpy(a.numpy()) @ torch.from_numpy(b.numpy())
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(c.numpy(), expected.numpy(), rtol=tol, atol=tol)
    pos, crd = c.pos[1], c.crd[1]
    pattern = (mask_a.astype(np.int64) @ mask_b.astype(np.int64)) > 0
    assert pos[0] == 0 and pos[-1] == len(crd) == len(c.vals) == pattern.sum()
    for i in range(m):
        row = crd[pos[i] : pos[i + 1]]
        assert sorted(row) == sorted(np.flatnonzero(pattern[i]))
        if ordered:
            assert list(row) == sorted(row)


def test_spgemm_reserves_its_bound_on_one_thread():
    """One thread: no symbolic pass over the products, the arrays sized from a bound pass."""
    a = SparseTensor.from_dense(np.eye(4))
    rt = runtime.Runtime(crossover=2.0, parallel=False)
    rt.evaluate(SPGEMM, A=a, B=a)
    text = next(iter(rt.kernels.values())).source.text
    assert "n_bound += min(n_w, n_ws)" in text and f"n_bound <= uint64({codegen.BOUND_MAX})" in text
