"""The compiler's visible stages: parsing, loop order by cost, workspaces, format inference."""

import numpy as np
import pytest

from aether.sparse import formats as F
from aether.sparse.codegen import lower
from aether.sparse.formats import Level
from aether.sparse.notation import NotationError, parse, split_reductions
from aether.sparse.schedule import Operand, ScheduleError, schedule
from aether.sparse.tensor import SparseTensor


def op(name, a, fmt=None):
    if fmt is None:
        return Operand(name, a.shape)
    t = SparseTensor.from_dense(a, fmt)
    return Operand(name, t.shape, t.format, tuple(t.level_sizes()))


def banded(n, fill_rows=1.0):
    a = np.eye(n) + np.eye(n, k=1)
    a[int(n * fill_rows) :] = 0
    return a


def test_index_notation_round_trips_and_names_errors():
    a = parse("C(i,j) = A(i,k) * (B(k,j) + D(k,j)) - E(i,j)")
    assert str(a) == "C(i,j) = A(i,k) * (B(k,j) + D(k,j)) + -E(i,j)"
    assert a.free() == ("i", "j") and a.reduction() == ("k",)
    with pytest.raises(NotationError, match="expected '='"):
        parse("C(i,j) A(i,j)")
    with pytest.raises(NotationError, match=r"output indices \['j'\]"):
        parse("C(i,j) = A(i,k)")
    with pytest.raises(NotationError, match="different orders"):
        parse("C(i) = A(i,j) * A(j)")


def test_reductions_bind_to_the_smallest_subexpression():
    *temps, main = split_reductions(parse("C(i,j) = A(i,k) * B(k,j) + D(i,j)"))
    assert [str(t) for t in temps] == ["T0(i,j) = A(i,k) * B(k,j)"]
    assert str(main) == "C(i,j) = T0(i,j) + D(i,j)"


def test_spmm_loop_order_follows_memory_layout():
    a, b = banded(30), np.ones((30, 8))
    s = schedule(parse("C(i,j) = A(i,k) * B(k,j)"), [op("A", a, "csr"), op("B", b)])
    assert s.order == ("i", "k", "j") and s.output is None and not s.workspace
    # CSC walks k first: the only concordant orders put k before i.
    s = schedule(parse("C(i,j) = A(i,k) * B(k,j)"), [op("A", a, "csc"), op("B", b)])
    assert s.order.index("k") < s.order.index("i") and s.order[-1] == "j"
    assert str(s).startswith("∀k ∀i ∀j C(i,j) += A(i,k) * B(k,j)")


def test_spgemm_gets_a_workspace_and_a_sparse_output():
    a = banded(20)
    s = schedule(parse("C(i,j) = A(i,k) * B(k,j)"), [op("A", a, "csr"), op("B", a, "csr")])
    assert s.order == ("i", "k", "j") and s.workspace == ("j",)
    # Gustavson's rows are left unordered (as torch.sparse and scipy leave them)
    assert s.output == F.CSR.with_order(False) and not s.output.ordered
    assert "w(j) += A(i,k) * B(k,j) ; ∀j C(i,j) = w(j)" in str(s)
    text = lower(s, parallel=True).text
    # in parallel, two passes over one loop nest: symbolic (row sizes), then numeric
    assert text.count("w_mark[w_base + w_at] = stamp") == 2 and "w_vals[w_base + w_at] =" in text
    # on one thread, a bound pass of segment lengths, then one value pass (the two passes
    # remain for a bound too large to reserve)
    text = lower(s).text
    assert "n_w += e1_1 - s1_1" in text and text.count("w_mark[w_base + w_at] = stamp") == 3
    ordered = schedule(
        parse("C(i,j) = A(i,k) * B(k,j)"), [op("A", a, "csr"), op("B", a, "csr")], F.CSR
    )
    assert ordered.output.ordered and "drain_row(" in lower(ordered).text


def test_output_format_inferred_from_sparsity_stats():
    ops_full = [op("A", banded(40), "dcsr"), op("B", banded(40), "dcsr")]
    ops_empty_rows = [op("A", banded(40, 0.1), "dcsr"), op("B", banded(40, 0.1), "dcsr")]
    product = parse("C(i,j) = A(i,j) * B(i,j)")
    assert schedule(product, ops_full).output == F.CSR  # most rows occupied: dense rows
    assert schedule(product, ops_empty_rows).output == F.DCSR  # few rows: compressed rows
    dense_plus = parse("C(i,j) = A(i,j) + D(i,j)")
    assert schedule(dense_plus, [ops_full[0], op("D", np.ones((40, 40)))]).output is None
    x = np.zeros((4, 5, 6))
    x[0, 1, 2] = 1
    operands = [op("X", x, "csf"), op("U", np.ones((6, 3)))]
    ttm = schedule(parse("Y(i,j,r) = X(i,j,k) * U(k,r)"), operands)
    assert ttm.output.levels == (Level.COMPRESSED, Level.COMPRESSED, Level.DENSE)


def test_cost_model_reads_the_sparsity():
    """Intersection of a nearly empty and a full operand: the cheap one drives the loop."""
    few, full = banded(50, 0.04), np.ones((50, 50))
    ops = [op("A", few, "dcsr"), op("B", full, "dcsr")]
    cheap = schedule(parse("C(i,j) = A(i,j) * B(i,j)"), ops).cost
    ops = [op("A", full, "dcsr"), op("B", full, "dcsr")]
    assert schedule(parse("C(i,j) = A(i,j) * B(i,j)"), ops).cost > 10 * cheap


def test_shape_mismatch_and_discordance_are_clear_errors():
    a = banded(5)
    with pytest.raises(ScheduleError, match="shapes do not match"):
        schedule(parse("y(i) = A(i,j) * x(j)"), [op("A", a, "csr"), op("x", np.ones(4))])
    with pytest.raises(ScheduleError, match="no loop order"):
        schedule(parse("C(i,j) = A(i,j) + B(j,i)"), [op("A", a, "csr"), op("B", a, "csr")])
