"""The fast kernel paths against dense numpy: Gustavson's two-pass SpGEMM (unordered and
ordered rows, serial and parallel), unordered operands, the unrolled and width-specialized
SpMM, and the crossover measured per dense width. Behaviour only: no timings asserted."""

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.sparse import codegen, formats
from aether.sparse import runtime as rtm
from aether.sparse.kernels import sort_segments
from aether.sparse.notation import parse
from aether.sparse.runtime import Runtime, dense_width
from aether.sparse.schedule import REGISTER_ROW, TILE
from aether.sparse.tensor import SparseTensor

SETTINGS = settings(max_examples=10, deadline=None)
PARALLEL = Runtime(parallel=True, crossover=2.0)  # row-parallel kernels (prange) at any size
SPGEMM = "C(i,j) = A(i,k) * B(k,j)"


def _close(result, expected, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    got = result.numpy() if isinstance(result, SparseTensor) else result
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _valid_sorted(t: SparseTensor) -> None:
    """Re-building with checks refuses rows that are not strictly increasing."""
    SparseTensor(t.shape, t.format, t.pos, t.crd, t.vals)


@SETTINGS
@given(
    m=st.integers(0, 12),
    k=st.integers(0, 12),
    n=st.integers(0, 140),  # past 64 columns: more than one bitmap word per row
    density=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_gustavson_spgemm(always_sparse, random_dense, m, k, n, density, seed):
    rng = np.random.default_rng(seed)
    a, b = random_dense(rng, (m, k), density), random_dense(rng, (k, n), density)
    sa, sb = SparseTensor.from_dense(a, "csr"), SparseTensor.from_dense(b, "csr")
    c = always_sparse.evaluate(SPGEMM, A=sa, B=sb)
    assert c.format.levels == formats.CSR.levels and not c.format.ordered
    _close(c, a @ b, np.float64)
    _valid_sorted(c.sorted())
    ordered = always_sparse.evaluate(SPGEMM, formats.CSR, A=sa, B=sb)
    assert ordered.format.ordered
    _valid_sorted(ordered)
    _close(ordered, a @ b, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_gustavson_dtypes_and_empty_rows(always_sparse, random_dense, dtype, index_dtype):
    rng = np.random.default_rng(1)
    a = random_dense(rng, (30, 20), 0.2, dtype)
    a[::3] = 0  # empty rows
    b = random_dense(rng, (20, 25), 0.3, dtype)
    sa = SparseTensor.from_dense(a, "csr", index_dtype=index_dtype)
    sb = SparseTensor.from_dense(b, "csr", index_dtype=index_dtype)
    c = always_sparse.evaluate(SPGEMM, A=sa, B=sb)
    assert c.dtype == dtype
    assert (np.diff(c.pos[1])[::3] == 0).all()
    _close(c, a @ b, dtype)


def test_parallel_gustavson_agrees(random_dense):
    rng = np.random.default_rng(2)
    a, b = random_dense(rng, (200, 150), 0.05), random_dense(rng, (150, 300), 0.05)
    sa, sb = SparseTensor.from_dense(a, "csr"), SparseTensor.from_dense(b, "csr")
    for out in ("infer", formats.CSR):
        c = Runtime(parallel=True, crossover=2.0).evaluate(SPGEMM, out, A=sa, B=sb)
        _close(c, a @ b, np.float64)
    kernel = next(iter(Runtime(parallel=True, crossover=2.0).kernels.values()), None)
    assert kernel is None or kernel.source.parallel


def test_unordered_operands_are_sorted_before_merges(always_sparse, random_dense):
    rng = np.random.default_rng(3)
    a, b = random_dense(rng, (15, 12), 0.3), random_dense(rng, (12, 18), 0.3)
    c = always_sparse.evaluate(
        SPGEMM, A=SparseTensor.from_dense(a, "csr"), B=SparseTensor.from_dense(b, "csr")
    )
    assert not c.format.ordered
    expected = a @ b
    d = random_dense(rng, (15, 18), 0.3)
    sd = SparseTensor.from_dense(d, "csr")
    _close(always_sparse.evaluate("E(i,j) = C(i,j) + D(i,j)", C=c, D=sd), expected + d, np.float64)
    _close(always_sparse.evaluate("E(i,j) = C(i,j) * D(i,j)", C=c, D=sd), expected * d, np.float64)
    x = rng.standard_normal(18)
    _close(always_sparse.evaluate("y(i) = C(i,j) * x(j)", None, C=c, x=x), expected @ x, np.float64)
    chained = always_sparse.evaluate(SPGEMM, A=c, B=SparseTensor.from_dense(expected.T, "csr"))
    _close(chained, expected @ expected.T, np.float64)
    assert c.to("csr").format.ordered and c.T.format.ordered is False
    assert "unordered" in str(c.format)


def test_sort_segments():
    rng = np.random.default_rng(4)
    lengths = [0, 1, 5, 40, 3, 100]
    pos = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    crd = np.concatenate([rng.permutation(1000)[:n] for n in lengths]).astype(np.int64)
    vals = crd.astype(np.float64) * 2
    sort_segments(pos, crd, vals)
    for r in range(len(lengths)):
        seg = crd[pos[r] : pos[r + 1]]
        assert (np.diff(seg) > 0).all()
    np.testing.assert_array_equal(vals, crd * 2)


@pytest.mark.parametrize("width", [1, 3, 7, 8, 9, 16, 33, 64, 100, 300, 601])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unrolled_spmm_widths(always_sparse, random_dense, width, dtype):
    rng = np.random.default_rng(width)
    a = random_dense(rng, (37, 29), 0.3, dtype)  # row lengths not multiples of the unroll
    a[5] = 0
    b = rng.standard_normal((29, width)).astype(dtype)
    for fmt in ("csr", "csc"):  # csc: the walked index is an output index, not unrolled
        t = SparseTensor.from_dense(a, fmt, index_dtype=np.int32)
        c = always_sparse.evaluate(SPGEMM, None, A=t, B=b)
        _close(c, a @ b, dtype)
    x = rng.standard_normal((width, 37)).astype(dtype)
    c = always_sparse.evaluate("C(i,j) = X(i,k) * A(k,j)", None, X=x, A=SparseTensor.from_dense(a))
    _close(c, x @ a, dtype)


def test_unrolled_kernel_text():
    from aether.sparse.schedule import Operand, schedule

    a = SparseTensor.from_dense(np.eye(8), "csr")
    ops = [Operand("A", (8, 8), a.format, tuple(a.level_sizes())), Operand("B", (8, 7))]
    text = codegen.lower(schedule(parse(SPGEMM), ops, None)).text
    assert "acc_v = vfma(acc_v, " in text  # the output row in registers
    assert "uint64(7)  # the dense width" in text
    ops[1] = Operand("B", (8, 33))
    ops.append(Operand("D", (8, 33)))  # not a pure product: nonzeros unrolled instead
    text = codegen.lower(schedule(parse("C(i,j) = A(i,k) * (B(k,j) + D(k,j))"), ops, None)).text
    assert f"+ uint64({codegen.UNROLL}) <=" in text and "vfma" not in text.split("def ")[1]
    ops = ops[:2]
    ops = [Operand("A", (8, 8), a.format, tuple(a.level_sizes())), Operand("B", (7, 8))]
    text = codegen.lower(schedule(parse("C(i,j) = A(i,k) * B(j,k)"), ops, None)).text
    assert "vfma(acc_v" not in text  # B's rows run across j: not contiguous


@pytest.mark.parametrize("width", [REGISTER_ROW + 1, 3 * TILE, 600])
def test_wide_rows_are_tiled(width):
    """A row wider than the register file is walked once per tile of TILE columns, then once
    for the rest; the schedule says so."""
    from aether.sparse.schedule import Operand, schedule

    a = SparseTensor.from_dense(np.eye(8), "csr")
    ops = [Operand("A", (8, 8), a.format, tuple(a.level_sizes())), Operand("B", (8, width))]
    s = schedule(parse(SPGEMM), ops, None)
    assert s.tile == TILE and f"∀i ∀jo ∀k ∀ji<{TILE} C(i,j)" in str(s)
    text = codegen.lower(s).text
    assert f"for t_i1 in range({width // TILE}):" in text
    assert f"vload(T1_d, (i2) * n_i1 + o_i1, {TILE})" in text
    rest, at = width % TILE, width - width % TILE
    for piece in (1 << b for b in reversed(range(rest.bit_length())) if rest >> b & 1):
        assert f"+ uint64({at}), {piece}))" in text  # the rest, a power of two at a time
        at += piece
    ops[1] = Operand("B", (8, REGISTER_ROW))
    assert schedule(parse(SPGEMM), ops, None).tile == 0


def test_tiled_ttm_on_the_input_pattern(always_sparse, random_dense):
    """TTM writes its output on the input's own pattern: a rank past the register file is
    tiled there too."""
    rng = np.random.default_rng(11)
    x = random_dense(rng, (6, 5, 7), 0.3, np.float64)
    u = rng.standard_normal((7, REGISTER_ROW + 45))
    expr = "Y(i,j,r) = X(i,j,k) * U(k,r)"
    sx = SparseTensor.from_dense(x, "csf")
    kernel = always_sparse.compile(parse(expr), {"X": sx, "U": u}, "infer", False)
    assert kernel.schedule.tile == TILE and "for t_" in kernel.source.text
    got = always_sparse.evaluate(expr, X=sx, U=u)
    _close(got, np.einsum("ijk,kr->ijr", x, u), np.float64)


def test_crossover_per_width(kernel_cache, monkeypatch):
    measured = rtm.measure_crossover(n=48, widths=(1, 8), densities=(0.05, 0.9), repeats=1)
    assert set(measured["by_width"]) == {"1", "8"}
    assert {r["width"] for r in measured["rows"]} == {1, 8}
    rtm.save_crossover(measured)
    saved = json.loads((kernel_cache / "crossover.json").read_text())
    assert saved["by_threads"][str(measured["threads"])] == measured["by_width"]
    rt = Runtime()
    by = {int(w): d for w, d in measured["by_width"].items()}
    assert rt.threshold(1) == pytest.approx(by[1]) and rt.threshold(8) == pytest.approx(by[8])
    assert min(by.values()) <= rt.threshold(3) <= max(by.values())  # interpolated
    assert rt.threshold(1000) == pytest.approx(by[8])  # clamped
    assert all(r["converted_s"] > 0 and r["dense_s"] > 0 for r in measured["rows"])
    assert saved["resident_by_threads"][str(measured["threads"])] == measured["resident_by_width"]
    resident = {int(w): d for w, d in measured["resident_by_width"].items()}
    assert rt.threshold(8, resident=True) == pytest.approx(resident[8])
    rt.by_width, rt.resident_by_width = {1: 0.9, 64: 0.01}, {1: 0.1, 64: 0.9}
    half = SparseTensor.from_dense(np.eye(4), "csr")  # density 0.25
    assert not rt.prefers_dense({"A": half}, width=1) and rt.prefers_dense({"A": half}, width=64)
    assert rt.prefers_dense({"A": half}, 1, resident=True)
    assert not rt.prefers_dense({"A": half}, 64, resident=True)
    (kernel_cache / "crossover.json").unlink()


def test_densify_through_generated_copies(always_sparse, random_dense):
    """The runtime's dense path densifies every format with a generated copy kernel, equal
    to numpy's scatter (duplicate COO coordinates summed)."""
    rng = np.random.default_rng(3)
    a = random_dense(rng, (9, 7), 0.4)
    for fmt in ("csr", "csc", "coo", "dcsr"):
        np.testing.assert_array_equal(always_sparse.densify(SparseTensor.from_dense(a, fmt)), a)
    x = random_dense(rng, (4, 5, 6), 0.3)
    np.testing.assert_array_equal(always_sparse.densify(SparseTensor.from_dense(x, "csf")), x)
    blocked = SparseTensor.from_dense(a[:8, :6], block=(2, 3))
    np.testing.assert_array_equal(always_sparse.densify(blocked), a[:8, :6])
    dup = SparseTensor(
        (2, 3),
        formats.parse("coo", 2),
        [np.array([0, 3]), None],
        [np.array([0, 0, 1]), np.array([1, 1, 2])],
        np.array([1.0, 2.0, 4.0]),
    )
    np.testing.assert_array_equal(always_sparse.densify(dup), dup.numpy())


def test_dense_width():
    a = SparseTensor.from_dense(np.eye(5), "csr")
    assert dense_width(parse(SPGEMM), {"A": a, "B": np.ones((5, 12))}) == 12
    assert dense_width(parse("y(i) = A(i,j) * x(j)"), {"A": a, "x": np.ones(5)}) == 1


def test_repeated_calls_take_the_fast_path_and_stay_correct(random_dense):
    rng = np.random.default_rng(5)
    a, b = random_dense(rng, (20, 16), 0.2), rng.standard_normal((16, 5))
    t = SparseTensor.from_dense(a, "csr")
    rt = Runtime(crossover=2.0)
    for _ in range(3):
        _close(rt.evaluate(SPGEMM, None, A=t, B=b), a @ b, np.float64)
    assert len(rt._fast) == 1 and rt.paths["sparse"] == 3
    b2 = rng.standard_normal((16, 5))  # new dense data, same shape: same kernel, new values
    _close(rt.evaluate(SPGEMM, None, A=t, B=b2), a @ b2, np.float64)
    other = SparseTensor.from_dense(a * 2, "csr")  # another tensor: looked up anew
    _close(rt.evaluate(SPGEMM, None, A=other, B=b), 2 * a @ b, np.float64)
    rt.crossover = 0.0  # a new crossover decides anew: dense now
    _close(rt.evaluate(SPGEMM, None, A=t, B=b), a @ b, np.float64)
    assert rt.paths["dense"] == 1
    # an unordered operand is converted, so never remembered: sorted on every call
    c = Runtime(crossover=2.0).evaluate(SPGEMM, A=t, B=SparseTensor.from_dense(a.T, "csr"))
    d = SparseTensor.from_dense(random_dense(rng, (20, 20), 0.3), "csr")
    rt.crossover = 2.0
    for _ in range(2):
        _close(rt.evaluate("E(i,j) = C(i,j) + D(i,j)", C=c, D=d), a @ a.T + d.numpy(), np.float64)


def test_sparse_linear_keeps_a_kernel_per_batch_shape(frontend_sparse):
    from aether.sparse import nn as snn

    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(12, 9)
    layer = snn.SparseLinear.from_linear(lin, 0.7)
    with torch.no_grad():
        for batch in (1, 4, 4, 33):
            x = torch.randn(batch, 12)
            expected = x @ layer._dense.T + lin.bias
            np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert len(layer._spmm._bound) == 3


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_features", [9, 300])  # 300: rows wider than a register vector
def test_sparse_linear_fuses_bias_and_relu(frontend_sparse, relu, dtype, out_features):
    from aether.sparse import nn as snn

    torch = pytest.importorskip("torch")
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    lin = torch.nn.Linear(12, out_features).to(tdtype)
    layer = snn.SparseLinear.from_linear(lin, 0.6, relu=relu)
    with torch.no_grad():
        for batch in (1, 5, 40, 300):
            x = torch.randn(batch, 12, dtype=tdtype)
            expected = x @ layer._dense.T + lin.bias
            expected = torch.relu(expected) if relu else expected
            got = layer(x)
            assert got.dtype == tdtype
            _close(got.numpy(), expected.numpy(), dtype)
            x2 = torch.randn(3, batch, 12, dtype=tdtype)  # leading dimensions, and chaining
            nxt = snn.SparseLinear.from_linear(torch.nn.Linear(out_features, 4).to(tdtype), 0.5)
            want = nxt._dense @ (
                torch.relu(x2 @ layer._dense.T + lin.bias)
                if relu
                else x2 @ layer._dense.T + lin.bias
            ).unsqueeze(-1)
            _close(nxt(layer(x2)).numpy(), (want.squeeze(-1) + nxt.bias).numpy(), dtype)


def test_epilogue_falls_back_when_rows_are_not_owned(always_sparse, random_dense):
    """A COO operand may revisit an output row: the bias and ReLU then run after the kernel."""
    from aether.sparse import nn as snn

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = random_dense(rng, (30, 20), 0.2, np.float32)
    a[4] = 0
    b = rng.standard_normal((20, 16)).astype(np.float32)
    bias = torch.from_numpy(rng.standard_normal(16).astype(np.float32))
    fused = snn.FusedSpMM(snn.SPMM, "A", "B", "row", True)
    want = np.maximum(a @ b + bias.numpy(), 0)
    for fmt in ("csr", "coo", "csc", "dcsr"):  # dcsr skips empty rows: they need it too
        got = fused(SparseTensor.from_dense(a, fmt), b, bias)
        _close(got, want, np.float32)
    got = fused(SparseTensor.from_dense(a, "csr"), b, None)  # no bias: ReLU alone
    _close(got, np.maximum(a @ b, 0), np.float32)


def test_dense_output_stored_once_only_when_every_row_is_reached(always_sparse, random_dense):
    """CSR reaches every output row and stores it (no zeroing); formats that skip empty rows
    (DCSR) or revisit them (COO) add into a zeroed output."""
    rng = np.random.default_rng(5)
    a = random_dense(rng, (40, 30), 0.1, np.float32)
    a[::3] = 0
    b = rng.standard_normal((30, 16)).astype(np.float32)
    for fmt, overwrites in (("csr", True), ("dcsr", False), ("coo", False)):
        t = SparseTensor.from_dense(a, fmt)
        for _ in range(3):  # fresh uninitialized outputs each call
            _close(always_sparse.evaluate(SPGEMM, None, A=t, B=b), a @ b, np.float32)
        kernel = always_sparse.compile(parse(SPGEMM), {"A": t, "B": b}, None, False)
        assert kernel.source.overwrites is overwrites


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_softmax_rows(random_dense, dtype):
    from aether.sparse import nn as snn

    rng = np.random.default_rng(6)
    a = random_dense(rng, (12, 9), 0.4, dtype)
    a[[0, 7]] = 0  # empty rows stay empty
    t = SparseTensor.from_dense(a, "csr", index_dtype=np.int32)
    got = snn.sparse_softmax(t)
    assert got.vals.dtype == dtype and got.pos[1] is t.pos[1]
    dense = np.where(a != 0, a, -np.inf)
    with np.errstate(invalid="ignore"):
        e = np.exp(dense - dense.max(axis=1, keepdims=True))
        want = np.nan_to_num(e / e.sum(axis=1, keepdims=True))
    _close(got.numpy(), want, dtype)


def test_attention_reuses_the_pattern_kernel_across_calls():
    from aether.sparse import nn as snn

    torch = pytest.importorskip("torch")
    pattern = snn.window_pattern(40, window=3, n_global=2)
    module = snn.SparseAttention(pattern)
    mask = pattern.to_dense() != 0
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        q, k, v = (torch.randn(40, 16, generator=gen) for _ in range(3))
        scores = ((q @ k.T) * 16**-0.5).masked_fill(~mask, float("-inf"))
        torch.testing.assert_close(module(q, k, v), torch.softmax(scores, -1) @ v)
    assert len(module._spmm._bound) == 1
    fused = snn.FusedSpMM(snn.SPMM, "A", "B", None, False)
    other = snn.window_pattern(40, window=1, n_global=0)  # another structure: not a stand-in
    b = np.ones((40, 4), np.float32)
    _close(fused(other, b, None, like=pattern), other.numpy() @ b, np.float32)


@pytest.mark.parametrize("shape", [(64, 1024), (13, 29), (8, 8), (1, 7), (0, 5), (17, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose(shape, dtype):
    from aether.sparse.kernels import transpose

    a = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    t = transpose(a)
    assert t.flags.c_contiguous and t.dtype == dtype
    np.testing.assert_array_equal(t, a.T)


@pytest.mark.parametrize("k", [1, 3, 32, 257])  # 257: past REGISTER_ROW, the scalar loop
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sddmm_dot_products(always_sparse, random_dense, k, dtype):
    rng = np.random.default_rng(k)
    s = random_dense(rng, (23, 17), 0.3, dtype)
    s[4] = 0
    u = rng.standard_normal((23, k)).astype(dtype)
    v = rng.standard_normal((17, k)).astype(dtype)
    expr = "C(i,j) = S(i,j) * U(i,k) * V(j,k)"
    for fmt in ("csr", "coo", "dcsr"):
        t = SparseTensor.from_dense(s, fmt, index_dtype=np.int32)
        c = always_sparse.evaluate(expr, "infer", S=t, U=u, V=v)
        _close(c.numpy(), s * (u @ v.T), dtype)
    kernel = always_sparse.compile(parse(expr), {"S": t, "U": u, "V": v}, "infer", False)
    assert ("vsum(vmul(" in kernel.source.text) is (k <= REGISTER_ROW)
    x, y = rng.standard_normal(k).astype(dtype), rng.standard_normal(k).astype(dtype)
    got = always_sparse.evaluate("s() = X(k) * Y(k)", None, adaptive=False, X=x, Y=y)
    _close(got, x @ y, dtype)


def test_a_result_the_caller_keeps_is_never_reused(random_dense, monkeypatch):
    monkeypatch.setattr(rtm, "POOL_BYTES", 0)  # pool even this small output
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    a = random_dense(rng, (30, 20), 0.3, np.float32)
    t = SparseTensor.from_dense(a, "csr")
    rt = Runtime(crossover=2.0)
    bs = [rng.standard_normal((20, 64)).astype(np.float32) for _ in range(5)]
    first = rt.evaluate(SPGEMM, None, A=t, B=bs[0])
    kept = first.copy()
    second = rt.evaluate(SPGEMM, None, A=t, B=bs[1])  # `first` is still held: a new array
    view = torch.from_numpy(second)[:, :3]  # a torch view keeps `second` alive
    del second
    third = rt.evaluate(SPGEMM, None, A=t, B=bs[2])
    np.testing.assert_array_equal(first, kept)
    _close(view.numpy(), (a @ bs[1])[:, :3], np.float32)
    _close(third, a @ bs[2], np.float32)
    assert not np.shares_memory(first, third)
    address = third.__array_interface__["data"][0]
    del third  # dropped: the next call writes into its buffer
    fourth = rt.evaluate(SPGEMM, None, A=t, B=bs[3])
    assert fourth.__array_interface__["data"][0] == address
    _close(fourth, a @ bs[3], np.float32)
    # fed back as the dense operand: the kernel never writes into its own input
    _close(
        rt.evaluate(SPGEMM, None, A=SparseTensor.from_dense(a[:20], "csr"), B=fourth[:20]),
        a[:20] @ (a @ bs[3])[:20],
        np.float32,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_dense_rows_give_the_same_result(random_dense, dtype):
    rng = np.random.default_rng(12)
    a = random_dense(rng, (40, 32), 0.9, dtype)  # each row of B read by ~36 nonzeros
    width = 64 // np.dtype(dtype).itemsize * 2  # two cache lines a row
    flat = np.empty(32 * width + 64, dtype)
    start = (-flat.ctypes.data % 64) // flat.itemsize + 1  # one element past a line
    b = flat[start : start + 32 * width].reshape(32, width)
    b[...] = rng.standard_normal((32, width))
    assert b.ctypes.data % 64
    t = SparseTensor.from_dense(a, "csr")
    rt = Runtime(crossover=2.0)
    for _ in range(2):  # the first call and the bound fast path
        _close(rt.evaluate(SPGEMM, None, A=t, B=b), a @ b, dtype)
    (kernel,) = rt.kernels.values()
    assert kernel.aligned_rows({"A": t, "B": b}, np.dtype(dtype)) == {"B"}


@SETTINGS
@given(
    m=st.integers(0, 20),
    k=st.integers(1, 20),
    width=st.sampled_from([16, 64, 128]),
    density=st.sampled_from([0.0, 0.2, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_prefetching_kernels_match_dense(m, k, width, density, seed, monkeypatch_module):
    """Rows prefetched ahead (across row ends, clamped at the last nonzero) change nothing."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    a[rng.random((m, k)) >= density] = 0
    b = rng.standard_normal((k, width)).astype(np.float32)
    rt = Runtime(crossover=2.0)
    _close(rt.evaluate(SPGEMM, None, A=SparseTensor.from_dense(a, "csr"), B=b), a @ b, np.float32)
    (kernel,) = rt.kernels.values()
    assert "vprefetch" in kernel.source.text.split("def kernel")[1]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rtm, "PREFETCH_BYTES", 0)  # prefetch whatever the size
        yield mp


@SETTINGS
@given(
    r=st.integers(1, 4),
    c=st.integers(1, 4),
    blocks=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    width=st.sampled_from([1, 3, 16, 64, 100, 300]),
    density=st.sampled_from([0.0, 0.1, 0.6]),
    dtype=st.sampled_from([np.float32, np.float64]),
    index_dtype=st.sampled_from([np.int32, np.int64]),
    parallel=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_blocked_csr_products(
    always_sparse, random_dense, r, c, blocks, width, density, dtype, index_dtype, parallel, seed
):
    """Blocked CSR @ dense (the expression `@` lowers it to) against numpy, over block
    shapes, widths that split a block's rows over several walks (100 x 4 rows) or fall back
    to the memory form (300: tiled), width 1 (a vector), empty blocks and empty matrices,
    serial and row-parallel."""
    from aether.sparse.frontend import BLOCKED_MATMUL

    rng = np.random.default_rng(seed)
    a = random_dense(rng, (blocks[0] * r, blocks[1] * c), density, dtype)
    t = SparseTensor.from_dense(a, block=(r, c), index_dtype=index_dtype)
    b = rng.standard_normal((a.shape[1], width)).astype(dtype)
    rt = PARALLEL if parallel else always_sparse
    got = rt.evaluate(BLOCKED_MATMUL, None, A=t.stored(), B=b.reshape(-1, c, width))
    _close(got.reshape(a.shape[0], width), a @ b, dtype)


def test_blocked_walk_kernel_text(always_sparse, random_dense):
    """Blocked CSR's block loops are unrolled: one register vector per row of the block, each
    row of B loaded once for all of them, the rows stored once; a block with more rows than
    the registers hold (4 rows at width 128) is walked once per group of rows."""
    from aether.sparse.frontend import BLOCKED_MATMUL

    rng = np.random.default_rng(5)
    a = random_dense(rng, (16, 12), 0.3)
    for (r, c), width, walks in (((2, 1), 64, 1), ((2, 3), 16, 1), ((4, 2), 128, 2)):
        t = SparseTensor.from_dense(a, block=(r, c)).stored()
        b = rng.standard_normal((12 // c, c, width))
        kernel = always_sparse.compile(BLOCKED_MATMUL, {"A": t, "B": b}, None, False)
        text = kernel.source.text.split("def kernel")[1]
        assert text.count("for q0_1 in range(") == walks
        assert f"n_i1 = uint64({r})  # a block size" in text
        assert f"n_i4 = uint64({c})  # a block size" in text
        assert len(re.findall(r"row_v\d+ = vload", text)) == c * walks  # B's rows: once each
        assert text.count("acc_v0 = vfma(") == c * walks
        assert text.count("vstore(out") == r and kernel.source.overwrites
        assert "out[" not in text  # nothing added in memory
    before = codegen.BLOCK_MAX
    try:
        codegen.BLOCK_MAX = 1  # blocks past the limit keep the memory form
        t = SparseTensor.from_dense(a, block=(2, 2)).stored()
        kernel = Runtime().compile(BLOCKED_MATMUL, {"A": t, "B": b}, None, False)
        assert "acc_v0" not in kernel.source.text and "out[" in kernel.source.text
    finally:
        codegen.BLOCK_MAX = before
