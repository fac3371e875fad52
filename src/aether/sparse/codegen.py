"""Lowering: concrete index notation -> a numba kernel, cached on disk.

Each loop of the schedule co-iterates the levels of the sparse operands indexed by its
variable, chosen from the merge lattice of the expression (``notation.is_zero``):
- one sparse level that the expression needs: walk its segment (``for q in range(...)``);
- several, all needed (``*``): a merge that advances while every segment has entries;
- several, any suffices (``+``): a merge over the union, with presence flags that turn absent
  operands into zeros;
- otherwise a dense loop that locates the sparse levels as it goes.
Dense levels are located (position = parent * size + coordinate). A sparse output is emitted
as sorted coordinates (the loop order is concordant with it), through a dense workspace when a
reduction loop separates its modes. A CSR-like output with a workspace over its last mode
(Gustavson's SpGEMM) is assembled straight into its final arrays: on one thread, a bound pass
sums the innermost segments' lengths (no per-product work), the arrays are reserved to that
bound and one value pass appends the rows; in parallel (prange), a symbolic pass counts each
row's entries, a prefix sum gives the row pointers, and a numeric pass writes the rows in
place. Each thread owns a flat workspace slot and rows are stamped, so nothing is cleared. An
SpMM-like output (a dense innermost mode of constant width under a sparse walk: SpMM, TTM,
the layers of GCNs and pruned MLPs) keeps its row in a register vector across the walk
(``kernels.vfma``) and stores it once, with an optional fused epilogue (bias, ReLU); when
its dense operand lies far beyond the caches, the walk also prefetches the rows that later
nonzeros gather. A row wider than the register file is walked once per tile of the schedule's
`tile` columns. A blocked operand (blocked CSR @ dense) unrolls its small block loops: one
register vector per row of the block, each row of the dense operand loaded once per block.
Products whose rows are not contiguous along the output's last mode add several nonzeros per
pass of the innermost loop instead. A CSR operand whose rows repeat their patterns
(`groups.row_groups`) is walked a chunk of rows at a time: one load of each dense row feeds
one register vector per row of the chunk.

Why numba rather than C++ through torch.utils.cpp_extension: measured here, a cold
``load_inline`` build of a 10-line OpenMP SpMV took 81 s, while numba compiles a generated
kernel in 0.3-0.9 s (SpGEMM with its helpers 3.8 s); with ``cache=True`` on the generated
module a second process loads the machine code from disk instead.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from aether import io
from aether.sparse.formats import Level
from aether.sparse.notation import Access, Assignment, Expr, Mul, Neg, is_zero, product_factors
from aether.sparse.schedule import REGISTER_ROW, Schedule, assembled

VERSION = "7"
# Reassociation lets LLVM vectorize reductions (SDDMM's dot products); no flag that changes
# inf/nan semantics is set.
# (Spelled as text: a set's repr varies between processes, and the text keys the disk cache.)
FASTMATH = "{'arcp', 'contract', 'nsz', 'reassoc'}"
CACHE_ENV = "AETHER_SPARSE_CACHE"


def cache_dir() -> Path:
    """Where generated kernels live: ``$AETHER_SPARSE_CACHE`` or ``~/.cache/aether/sparse``."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "aether" / "sparse"))


@dataclass
class Source:
    """The lowered kernel: its Python/numba text, argument names and whether it is parallel."""

    text: str
    args: list[tuple[str, str, int]]  # (kind, tensor, level): pos/crd/vals/dense/dim/out...
    parallel: bool
    key: str = ""
    fused: bool = False  # whether the epilogue asked for was fused into the kernel
    overwrites: bool = False  # a dense output whose every element the kernel stores
    rows: tuple[str, ...] = ()  # dense operands loaded a row of `width` at a time (`vload`)
    width: int = 0
    groups: int = 0  # rows walked together per chunk of a pattern (`grouped_walk`), or 0


@dataclass
class _It:
    """A sparse access during lowering: levels consumed, position variable, presence flags."""

    n: int
    access: Access
    tensor: str
    levels: tuple[Level, ...]
    vars: tuple[str, ...]
    consumed: int = 0
    pos: str = "nil"
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Epilogue:
    """What happens to each output row before it is stored (fused into SpMM-like kernels):
    ``bias`` adds the dense operand ``BIAS`` along the row (``"row"``: one value per
    element) or per row (``"col"``: one value per row, as a transposed linear layer's), and
    ``relu`` clamps at zero."""

    bias: str | None = None  # None, "row" or "col"
    relu: bool = False


BIAS = "_bias"


class _Lowerer:
    def __init__(
        self,
        s: Schedule,
        parallel: bool,
        epilogue: Epilogue | None = None,
        prefetch: bool = False,
        groups: int = 0,
    ) -> None:
        self.s = s
        self.epilogue = epilogue
        self.prefetch = prefetch
        self.fused = False
        self.overwrites = False
        self.a: Assignment = s.assignment
        self.ops = {o.name: o for o in s.operands}
        self.lines: list[str] = []
        self.args: list[tuple[str, str, int]] = []
        # Each access gets its own name so that A(i,k) * A(k,j) co-iterates two iterators.
        self.renamed: dict[int, str] = {}
        self.its: dict[str, _It] = {}
        self.rhs = self._rename(self.a.rhs)
        self.free = self.a.free()
        self.dense_out = s.output is None
        self.last_free = max((s.order.index(v) for v in self.free), default=-1)
        self.first_red = min((s.order.index(v) for v in self.a.reduction()), default=len(s.order))
        self.use_acc = not s.workspace and self.last_free < len(s.order) - 1
        self.assemble = assembled(s)
        self.phase = ""  # "symbolic" or "numeric" while lowering an assembled output's passes
        self.pattern = next((it for it in self.its.values() if it.tensor == s.pattern), None)
        rows = self.free[:-1]
        if self.assemble:
            self.parallel = parallel and bool(rows) and s.order[0] in rows
        else:
            # Rows are independent when the output is dense, or lies on a pattern operand
            # whose first level the outer loop walks (SDDMM, TTM): each of its iterations
            # writes only the positions under its own index.
            own = self.dense_out or (
                self.pattern is not None and self.pattern.vars[0] == s.order[0]
            )
            self.parallel = parallel and own and s.order[0] in self.free
        if self.pattern is not None:
            self.shared = sum(v in self.pattern.access.indices for v in self.free)
            self.extra = self.free[self.shared :]
        self.unroll = unrollable(s)
        self.width = s.dims[s.order[-1]] if self.unroll else 0
        self.unroll_by = UNROLL_NARROW if self.width <= SPECIALIZE_NARROW else UNROLL
        self.vector = None  # the factors of the register-vector form, when it applies
        rows = self.unroll and self.free[-1] == s.order[-1]
        if self.pattern is not None and _dense_innermost(s) and self.extra == s.order[-1:]:
            self.width, rows = s.dims[s.order[-1]], True  # TTM: rows of the pattern's fibres
        if rows and 0 < (s.tile or self.width) <= REGISTER_ROW:
            self.vector = _vector_factors(self.rhs, s.order[-1], self.its)
        self.dot = None  # the factors of a dense innermost reduction done as a vector dot
        j, ops = s.order[-1], self.ops
        if (
            self.use_acc
            and self.vector is None
            and j in self.a.reduction()
            and not any(j in x.indices for x in self.a.accesses() if ops[x.tensor].sparse)
            and 0 < s.dims[j] <= REGISTER_ROW
        ):
            self.dot = _vector_factors(self.rhs, j, self.its)
            self.width = s.dims[j] if self.dot is not None else self.width
        self.fibre = ""  # the pattern operand's position at its last shared level
        self.hoisted: dict[str, str] = {}  # access -> local holding it in the innermost loop
        self.out_row = ""
        self.rows: dict[str, None] = {}  # dense operands read as vector rows, in order
        self.blocked: dict[str, int] = {}  # block loops unrolled by `block_walk`, sizes
        self.grouped = self.grouped_operand() if groups > 1 else None
        self.groups = groups if self.grouped is not None else 0

    def _rename(self, e: Expr) -> Expr:
        if isinstance(e, Access):
            name = f"x{len(self.its)}"
            op = self.ops[e.tensor]
            if op.sparse:
                self.its[name] = _It(len(self.its), e, e.tensor, op.format.levels, op.level_vars(e))
            else:
                self.its[name] = _It(len(self.its), e, e.tensor, (), ())
            return Access(name, e.indices)
        if isinstance(e, Neg):
            return Neg(self._rename(e.operand))
        return type(e)(self._rename(e.left), self._rename(e.right))

    def arg(self, kind: str, tensor: str, level: int = -1) -> str:
        name = {
            "pos": f"{tensor}_pos{level}",
            "crd": f"{tensor}_crd{level}",
            "vals": f"{tensor}_vals",
            "dense": f"{tensor}_d",
            "dim": f"n_{tensor}",
            "chunks": f"{tensor}_chunks",
            "rest": f"{tensor}_rest",
        }.get(kind, kind)
        if (kind, tensor, level) not in self.args:
            self.args.append((kind, tensor, level))
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    # --- the value of the expression at the innermost loop -------------------------------

    def value(self, e: Expr) -> str:
        if isinstance(e, Access):
            if e.tensor in self.hoisted:
                return self.hoisted[e.tensor]
            it = self.its[e.tensor]
            if not it.levels:
                return f"{self.arg('dense', it.tensor)}[{self.flat(e.indices)}]"
            v = f"{self.arg('vals', it.tensor)}[{it.pos}]"
            return f"({v} if {' and '.join(it.flags)} else 0)" if it.flags else v
        if isinstance(e, Neg):
            return f"(-{self.value(e.operand)})"
        op = "*" if isinstance(e, Mul) else "+"
        return f"({self.value(e.left)} {op} {self.value(e.right)})"

    # --- output ---------------------------------------------------------------------------

    def out_index(self) -> str:
        return self.flat(self.free) if self.free else "0"

    def append(self, indent: int, coords: list[str], value: str) -> None:
        if self.pattern is not None:
            self.emit(indent, f"out_vals[{self.flat((self.fibre, *self.extra))}] += {value}")
            return
        self.emit(indent, "if n_out == out_vals.shape[0]:")
        self.emit(indent + 1, "out_crd, out_vals = grow(out_crd, out_vals)")
        for m, c in enumerate(coords):
            self.emit(indent, f"out_crd[n_out, {m}] = {c}")
        self.emit(indent, f"out_vals[n_out] = {value}")
        self.emit(indent, "n_out += 1")

    def innermost(self, indent: int) -> None:
        val = self.value(self.rhs)
        if self.assemble:
            # The per-thread workspaces are flat, indexed from w_base (unsigned, as all index
            # arithmetic here). The symbolic pass counts branch-free; the value passes branch
            # on a new coordinate, which is rare (many products per output entry) or
            # frequent (about one) but seldom random: measured within 4% of the branch-free
            # form on rows that fill up (hangglider_2), 1.6x faster on a DNN layer (21
            # products per entry).
            self.emit(indent, f"w_at = {self.flat(self.s.workspace)}")
            if self.phase == "symbolic":
                self.emit(indent, "w_new = w_mark[w_base + w_at] != stamp")
                self.emit(indent, "w_mark[w_base + w_at] = stamp")
                self.emit(indent, "n_w += uint64(w_new)")
                return
            self.emit(indent, "if w_mark[w_base + w_at] != stamp:")
            self.emit(indent + 1, "w_mark[w_base + w_at] = stamp")
            self.emit(indent + 1, "w_list[w_lbase + n_w] = w_at")
            self.emit(indent + 1, "n_w += one")
            self.emit(indent + 1, f"w_vals[w_base + w_at] = {val}")
            if self.s.output.ordered:
                self.emit(indent + 1, "w_bits[w_bbase + (w_at >> six)] |= one << (w_at & mask)")
                self.emit(indent + 1, "w_lo = min(w_lo, w_at)")
                self.emit(indent + 1, "w_hi = max(w_hi, w_at)")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"w_vals[w_base + w_at] += {val}")
        elif self.s.workspace:
            flat = self.flat(self.s.workspace)
            self.emit(indent, f"w_at = {flat}")
            self.emit(indent, "if w_mark[w_at] != stamp:")
            self.emit(indent + 1, "w_mark[w_at] = stamp")
            self.emit(indent + 1, "w_list[n_w] = w_at")
            self.emit(indent + 1, "n_w += 1")
            self.emit(indent, f"w_vals[w_at] += {val}")
        elif self.use_acc:
            self.emit(indent, f"acc += {val}")
        elif self.dense_out:
            self.emit(indent, f"out[{self.out_row or self.out_index()}] += {val}")
        else:
            self.append(indent, list(self.free), val)

    def flat(self, vars_: tuple[str, ...]) -> str:
        text = vars_[0]
        for v in vars_[1:]:
            text = f"({text}) * n_{v} + {v}"
        return text

    def drain_workspace(self, indent: int) -> None:
        self.emit(indent, "order_touched(w_list, w_mark, stamp, n_w)")
        self.emit(indent, "for w_t in range(n_w):")
        self.emit(indent + 1, "w_at = w_list[w_t]")
        self.emit(indent + 1, "w_rest = w_at")
        for v in reversed(self.s.workspace):
            self.emit(indent + 1, f"{v} = w_rest % n_{v}")
            self.emit(indent + 1, f"w_rest //= n_{v}")
        self.append(indent + 1, list(self.free), "w_vals[w_at]")
        self.emit(indent + 1, "w_vals[w_at] = 0")
        self.emit(indent, "stamp += 1")
        self.emit(indent, "n_w = 0")

    # --- loops ----------------------------------------------------------------------------

    def hoist(self, v: str, indent: int) -> None:
        """Before the innermost loop (over v): load what it does not change into locals.

        Sparse values already located become locals, and rows of dense arrays (flat, row-major)
        whose last index is v become a base offset, so LLVM keeps them in registers and
        vectorizes the loop without fearing that the output store aliases them.
        """
        for name, it in self.its.items():
            acc = it.access
            if it.levels and it.consumed == len(it.vars) and not it.flags:
                self.emit(indent, f"v_{name} = {self.arg('vals', it.tensor)}[{it.pos}]")
                self.hoisted[name] = f"v_{name}"
            elif not it.levels and len(acc.indices) > 1 and acc.indices[-1] == v:
                self.emit(indent, f"o_{name} = ({self.flat(acc.indices[:-1])}) * n_{v}")
                self.hoisted[name] = f"{self.arg('dense', it.tensor)}[o_{name} + {v}]"
        if self.dense_out and not self.use_acc and len(self.free) > 1 and self.free[-1] == v:
            self.emit(indent, f"o_out = ({self.flat(self.free[:-1])}) * n_{v}")
            self.out_row = f"o_out + {v}"

    def loop(self, depth: int, indent: int) -> None:
        order = self.s.order
        if depth == len(order):
            self.innermost(indent)
            return
        v = order[depth]
        if self.dot is not None and depth == len(order) - 1:
            self.emit(indent, f"acc += {self.vector_product(self.dot, v)}")
            return
        if self.assemble and depth == self.first_red:
            self.start_row(indent)
        if depth == len(order) - 1 and self.phase != "bound":
            self.hoist(v, indent)
        here = [it for it in self.its.values() if it.consumed < len(it.vars)]
        here = [it for it in here if it.vars[it.consumed] == v]
        located = [it for it in here if it.levels[it.consumed] is Level.DENSE]
        walked = [it for it in here if it.levels[it.consumed] is not Level.DENSE]
        saved = self.snapshot()

        for it in walked:
            k = it.consumed
            s, e = f"s{it.n}_{k}", f"e{it.n}_{k}"
            if it.levels[k] is Level.COMPRESSED:
                pos = self.arg("pos", it.tensor, k)
                lo, hi = f"uint64({pos}[{it.pos}])", f"uint64({pos}[{it.pos} + one])"
            else:
                lo, hi = it.pos, f"{it.pos} + one"
            if it.flags:
                cond = " and ".join(it.flags)
                self.emit(indent, f"{s} = {lo} if {cond} else nil")
                self.emit(indent, f"{e} = {hi} if {cond} else nil")
            else:
                self.emit(indent, f"{s} = {lo}")
                self.emit(indent, f"{e} = {hi}")
        names = {name for name, it in self.its.items() if it in walked}
        if self.phase == "bound" and depth == len(order) - 1:
            # The innermost loop yields at most one new coordinate per iteration: a single
            # needed walk runs its segment's length, anything else at most n_v iterations.
            if len(walked) == 1 and is_zero(self.rhs, names):
                it = walked[0]
                self.emit(indent, f"n_w += e{it.n}_{it.consumed} - s{it.n}_{it.consumed}")
            else:
                self.emit(indent, f"n_w += n_{v}")
            self.restore(saved)
            return
        crd = {it.n: self.arg("crd", it.tensor, it.consumed) for it in walked}
        loop_kw = "prange" if (depth == 0 and self.parallel) else "range"
        body = indent + 1
        if walked and is_zero(self.rhs, names):
            if len(walked) == 1:
                it = walked[0]
                q = f"q{it.n}_{it.consumed}"
                block = self.block_loops(depth, it, v, located)
                if block:
                    self.block_walk(it, v, indent, block)
                    self.restore(saved)
                    self.after_loop(depth, indent)
                    return
                if (
                    (self.unroll or (self.vector is not None and self.fibre))
                    and depth == len(order) - 2
                    and v in self.a.reduction()  # the output row stays the same
                    and not located
                    and not it.flags
                ):
                    if self.vector is not None and (self.pattern is None or self.fibre):
                        self.vector_walk(it, v, indent)
                        self.restore(saved)
                        self.after_loop(depth, indent)
                        return
                    self.unrolled(it, v, indent)
                self.emit(
                    indent, f"for {q} in {loop_kw}(s{it.n}_{it.consumed}, e{it.n}_{it.consumed}):"
                )
                self.emit(body, f"{v} = uint64({crd[it.n]}[{q}])")
                self.bind(it, q)
            else:
                need_all = all(is_zero(self.rhs, {name}) for name in names)
                for it in walked:
                    self.emit(indent, f"q{it.n}_{it.consumed} = s{it.n}_{it.consumed}")
                joiner = " and " if need_all else " or "
                cond = joiner.join(
                    f"q{it.n}_{it.consumed} < e{it.n}_{it.consumed}" for it in walked
                )
                self.emit(indent, f"while {cond}:")
                for it in walked:
                    k = it.consumed
                    get = f"uint64({crd[it.n]}[q{it.n}_{k}])"
                    if need_all:
                        self.emit(body, f"c{it.n} = {get}")
                    else:
                        self.emit(body, f"c{it.n} = {get} if q{it.n}_{k} < e{it.n}_{k} else n_{v}")
                self.emit(body, f"{v} = min({', '.join(f'c{it.n}' for it in walked)})")
                for it in walked:
                    self.emit(body, f"h{it.n}_{it.consumed} = c{it.n} == {v}")
                self.walk_body(depth, body, walked, v, need_all)
                self.restore(saved)
                self.after_loop(depth, indent)
                return
        else:
            for it in walked:
                self.emit(indent, f"q{it.n}_{it.consumed} = s{it.n}_{it.consumed}")
            if depth == 0 and self.groups:  # chunks of rows sharing a pattern, then the rest
                self.grouped_walk(v, indent, loop_kw)
                rest = self.arg("rest", self.grouped.tensor)
                self.emit(indent, f"for r_{v} in {loop_kw}({rest}.shape[0]):")
                self.emit(body, f"{v} = uint64({rest}[r_{v}])")
            else:
                # Pointers that advance with v are carried between iterations: no prange then.
                self.emit(indent, f"for {v} in {'range' if walked else loop_kw}(n_{v}):")
            for it in walked:
                k = it.consumed
                self.emit(
                    body,
                    f"h{it.n}_{k} = q{it.n}_{k} < e{it.n}_{k} and "
                    f"uint64({crd[it.n]}[q{it.n}_{k}]) == {v}",
                )
            self.walk_body(depth, body, walked, v, need_all=False)
            self.restore(saved)
            self.after_loop(depth, indent)
            return
        for it in located:
            self.locate(it, v, body)
        self.inner(depth, body)
        self.restore(saved)
        self.after_loop(depth, indent)

    def unrolled(self, it: _It, v: str, indent: int) -> None:
        """`unroll_by` nonzeros of a sparse row per pass of the dense innermost loop.

        ``∀k ∀j out(i,j) += A(i,k) * B(k,j)`` reads and writes the output row once per
        nonzero: a store-to-load chain through memory. Here each pass adds several nonzeros'
        contributions, and the walk's remainder runs the ordinary loop (which follows)."""
        k = it.consumed
        q, start, end = f"q{it.n}_{k}", f"s{it.n}_{k}", f"e{it.n}_{k}"
        j = self.s.order[-1]
        crd = self.arg("crd", it.tensor, k)
        saved = self.snapshot()
        self.emit(indent, f"{q} = {start}")
        self.emit(indent, f"while {q} + uint64({self.unroll_by}) <= {end}:")
        body = indent + 1
        mark = len(self.lines)
        self.emit(body, f"{v} = uint64({crd}[{q}])")
        self.bind(it, q)
        self.hoist(j, body)
        value, row = self.value(self.rhs), self.out_row or self.out_index()
        copy = self.lines[mark:]
        del self.lines[mark:]
        self.restore(saved)
        values = []
        for u in range(self.unroll_by):
            names = {v: f"{v}_u{u}", q: f"{q}_u{u}"}
            rename = functools.partial(_rename_words, names=names, suffix=f"_u{u}")
            self.emit(body, f"{q}_u{u} = {q} + uint64({u})")
            for line in copy:
                self.lines.append(rename(line))
            values.append(rename(value))
        self.emit(body, f"for {j} in range(n_{j}):")
        self.emit(body + 1, f"out[{row}] += {' + '.join(values)}")
        self.emit(body, f"{q} += uint64({self.unroll_by})")
        self.emit(indent, f"{start} = {q}")

    def vector_walk(self, it: _It, v: str, indent: int) -> None:
        """The output row as a register vector across the walk (see `kernels.vfma`).

        ``∀k ∀j out(i,j) += A(i,k) * B(k,j)`` with a constant width becomes: acc = 0; per
        nonzero acc += A(i,k) * B(k,:) as one vector operation; out(i,:) += acc once. A row
        the schedule tiles is walked once per tile of `s.tile` columns, then once per power
        of two in the number of remaining columns (a vector of 44 float32 compiles to code
        2.5x slower than ones of 32, 8 and 4: measured on bcsstk13 at width 300)."""
        j, width, tile = self.s.order[-1], self.width, self.s.tile or self.width
        tiles, rest = divmod(width, tile)
        if tiles == 1 and not rest:
            self.walk_tile(it, v, indent, width, "")
            return
        state = self.snapshot()
        self.emit(indent, f"for t_{j} in range({tiles}):")
        self.emit(indent + 1, f"o_{j} = uint64(t_{j}) * uint64({tile})")
        self.walk_tile(it, v, indent + 1, tile, f" + o_{j}")
        at = tiles * tile
        for bit in reversed(range(rest.bit_length())):  # the same walk over the last columns
            if rest >> bit & 1:
                self.rewind(state)
                self.walk_tile(it, v, indent, 1 << bit, f" + uint64({at})")
                at += 1 << bit

    def walk_tile(self, it: _It, v: str, indent: int, width: int, offset: str) -> None:
        """One register vector of `width` output columns, starting `offset` into the row."""
        k, j = it.consumed, self.s.order[-1]
        q = f"q{it.n}_{k}"
        # Every row is reached (dense levels above) and finished here: stored, not added.
        owns = self.owns_rows()
        dense_above = all(
            level is Level.DENSE for x in self.its.values() for level in x.levels[: x.consumed]
        )
        self.emit(
            indent, f"acc_v = vzero({'out' if self.pattern is None else 'out_vals'}, {width})"
        )
        self.emit(indent, f"for {q} in range(s{it.n}_{k}, e{it.n}_{k}):")
        body = indent + 1
        crd = self.arg("crd", it.tensor, k)
        self.emit(body, f"{v} = uint64({crd}[{q}])")
        self.bind(it, q)
        if self.prefetch:
            self.prefetch_rows(crd, q, v, j, body, width, offset)
        scalars, row = self.factors(self.vector, j, width, offset)
        if scalars:
            self.emit(body, f"acc_v = vfma(acc_v, {scalars}, {row})")
        else:
            self.emit(body, f"acc_v = vadd(acc_v, {row})")
        if self.pattern is not None:
            # The pattern alone is walked, right below the level of the output's fibres: each
            # fibre is then visited once, and stored. A loop in between (MTTKRP's j, under the
            # fibres of i) visits a fibre once per iteration: those visits add.
            self.overwrites = (
                it is self.pattern
                and k == self.shared
                and sum(bool(x.levels) for x in self.its.values()) == 1
            )
            store = "vstore" if self.overwrites else "vstore_add"
            self.emit(indent, f"{store}(out_vals, ({self.fibre}) * n_{j}{offset}, acc_v)")
            return
        self.store_row(indent, "acc_v", width, offset, owns and dense_above)

    def store_row(self, indent: int, acc: str, width: int, offset: str, whole: bool) -> None:
        """A register vector into its output row: stored when this walk reaches and finishes
        every row (`whole`; the epilogue then applies too), else added."""
        e = self.epilogue
        if e is not None and whole:  # (a row never reached needs it too)
            self.fused = True
            bias = self.arg("dense", BIAS) if e.bias else ""
            if e.bias == "row":
                self.emit(indent, f"{acc} = vadd({acc}, vload({bias}, nil{offset}, {width}))")
            elif e.bias == "col":
                at = self.flat(self.free[:-1])
                self.emit(indent, f"{acc} = vadd({acc}, vsplat({acc}, {bias}[{at}]))")
            if e.relu:
                self.emit(indent, f"{acc} = vrelu({acc})")
        self.overwrites = whole
        store = "vstore" if whole else "vstore_add"
        self.emit(indent, f"{store}(out, {self.row(self.free)}{offset}, {acc})")

    def block_loops(self, depth: int, it: _It, v: str, located: list[_It]) -> tuple[str, ...]:
        """The small dense loops between a sparse walk and the innermost loop that a register
        block unrolls (blocked CSR's row and column in a block), or () when the block form
        does not apply: see `block_walk`."""
        order, dims = self.s.order, self.s.dims
        inner = order[depth + 1 : -1]
        if not inner or self.vector is None or self.pattern is not None or self.s.tile:
            return ()
        if located or it.flags or v not in self.a.reduction():
            return ()
        for w in inner:
            for x in self.its.values():
                ahead = x.vars[x.consumed :]
                if w in ahead and x.levels[x.consumed + ahead.index(w)] is not Level.DENSE:
                    return ()
        size = 1
        for w in inner:
            size *= dims[w]
        return inner if size <= BLOCK_MAX else ()

    def block_walk(self, it: _It, v: str, indent: int, block: tuple[str, ...]) -> None:
        """A walk over blocks (blocked CSR @ dense) with its block loops unrolled.

        ``∀i ∀k ∀u ∀v ∀j out(i,u,j) += A(i,k,u,v) * B(k,v,j)``: each output row of the block
        (each u) is a register vector across the walk, and each block's values scale the rows
        of B it reads (each v, read once for all u); the rows are stored once at the end. The
        block sizes become constants. Blocks with more rows than BLOCK_ROWS / width vectors
        fit in registers are walked once per group of rows."""
        j, width, dims = self.s.order[-1], self.width, self.s.dims
        k, crd = it.consumed, self.arg("crd", it.tensor, it.consumed)
        q = f"q{it.n}_{k}"
        self.blocked |= {w: dims[w] for w in block}
        outer = self.s.order[: self.s.order.index(v)]
        rows_vars = [w for w in block if w in self.free]
        whole = (
            all(w in self.free for w in outer)
            and set(outer) | set(rows_vars) == set(self.free[:-1])
            and all(o.format.unique for o in self.s.operands if o.sparse)
            and all(lv is Level.DENSE for x in self.its.values() for lv in x.levels[: x.consumed])
        )
        rows = list(itertools.product(*(range(dims[w]) for w in rows_vars)))
        sums = list(itertools.product(*(range(dims[w]) for w in block if w not in self.free)))
        group = max(1, BLOCK_ROWS // width)
        state = self.snapshot()
        for first in range(0, len(rows), group):
            part = rows[first : first + group]
            self.rewind(state)
            for r in range(len(part)):
                self.emit(indent, f"acc_v{r} = vzero(out, {width})")
            self.emit(indent, f"for {q} in range(s{it.n}_{k}, e{it.n}_{k}):")
            body = indent + 1
            self.emit(body, f"{v} = uint64({crd}[{q}])")
            self.bind(it, q)
            walked = self.snapshot()
            for at in sums:
                loaded: dict[str, str] = {}  # each row of the dense operands read once
                for r, row in enumerate(part):
                    self.rewind(walked)
                    values = iter(at)
                    fixed = dict(zip(rows_vars, row, strict=True))
                    for w in block:
                        self.emit(body, f"{w} = uint64({fixed[w] if w in fixed else next(values)})")
                        for x in self.its.values():
                            if x.consumed < len(x.vars) and x.vars[x.consumed] == w:
                                self.locate(x, w, body)
                    scalars, vec = self.factors(self.vector, j, width, "")
                    if vec not in loaded:
                        loaded[vec] = f"row_v{len(loaded)}"
                        self.emit(body, f"{loaded[vec]} = {vec}")
                    acc, vec = f"acc_v{r}", loaded[vec]
                    fma = f"vfma({acc}, {scalars}, {vec})" if scalars else f"vadd({acc}, {vec})"
                    self.emit(body, f"{acc} = {fma}")
            for r, row in enumerate(part):
                for w, value in zip(rows_vars, row, strict=True):
                    self.emit(indent, f"{w} = uint64({value})")
                self.store_row(indent, f"acc_v{r}", width, "", whole)
        self.rewind(state)

    def grouped_operand(self) -> _It | None:
        """The CSR operand of a plain row-walking SpMM, ``∀i ∀k ∀j Out(i,j) += A(i,k) *
        B(k,j)`` (other factors dense), whose rows `grouped_walk` can walk G at a time: each
        output row stored once, in one register vector, the dense rows independent of i."""
        s = self.s
        if self.vector is None or self.pattern is not None or not self.dense_out:
            return None
        if len(s.order) != 3 or tuple(self.free) != (s.order[0], s.order[2]):
            return None
        i, k, j = s.order
        sparse = [it for it in self.its.values() if it.levels]
        if len(sparse) != 1 or not self.owns_rows() or (s.tile or self.width) < self.width:
            return None
        it = sparse[0]
        if tuple(it.vars) != (i, k) or tuple(it.levels) != (Level.DENSE, Level.COMPRESSED):
            return None
        rows = [self.its[n].access.indices for n in self.vector]
        if any(i in indices for indices in rows if j in indices):
            return None
        return it

    def grouped_walk(self, v: str, indent: int, loop_kw: str) -> None:
        """Chunks of G rows that share one pattern (`groups.row_groups`), walked as one.

        Per nonzero of the shared pattern, the dense row is loaded once and multiplied into G
        register vectors, each by its own row's value (at the same offset in that row's
        segment); the G rows are stored once at the end, epilogue included. The rows outside
        chunks follow in the ordinary walk."""
        it, g, width = self.grouped, self.groups, self.width
        k, j = self.s.order[1], self.s.order[2]
        chunks = self.arg("chunks", it.tensor)
        pos, crd = self.arg("pos", it.tensor, 1), self.arg("crd", it.tensor, 1)
        state = self.snapshot()
        self.emit(indent, f"for c_{v} in {loop_kw}(uint64({chunks}.shape[0]) // uint64({g})):")
        body = indent + 1

        def row(u: int, at: int) -> None:  # bind v to the chunk's u-th row and locate it
            self.rewind(state)
            self.emit(at, f"{v} = {v}_{u}")
            for x in self.its.values():
                if x.consumed < len(x.vars) and x.vars[x.consumed] == v:
                    self.locate(x, v, at)

        for u in range(g):
            self.emit(body, f"{v}_{u} = uint64({chunks}[c_{v} * uint64({g}) + uint64({u})])")
            row(u, body)
            self.emit(body, f"s_{u} = uint64({pos}[{it.pos}])")
            if u == 0:
                self.emit(body, f"e_0 = uint64({pos}[{it.pos} + one])")
            self.emit(body, f"acc_v{u} = vzero(out, {width})")
        self.emit(body, f"for t_{k} in range(e_0 - s_0):")
        inner = body + 1
        for u in range(g):
            row(u, inner)
            q = f"q{it.n}_1"
            self.emit(inner, f"{q} = s_{u} + t_{k}")
            if u == 0:
                self.emit(inner, f"{k} = uint64({crd}[{q}])")
            self.bind(it, q)
            scalars, vec = self.factors(self.vector, j, width, "")
            if u == 0:
                self.emit(inner, f"row_v = {vec}")
            fma = f"vfma(acc_v{u}, {scalars}, row_v)" if scalars else f"vadd(acc_v{u}, row_v)"
            self.emit(inner, f"acc_v{u} = {fma}")
        for u in range(g):
            row(u, body)
            self.store_row(body, f"acc_v{u}", width, "", True)
        self.rewind(state)

    def prefetch_rows(
        self, crd: str, q: str, v: str, j: str, indent: int, width: int, offset: str
    ) -> None:
        """Prefetch the dense rows (the tile's part of them) that the nonzero PREFETCH_AHEAD
        positions on will read (past the end of this walk too: the coordinates of all walks
        are one array)."""
        rows = []
        for name in self.vector:
            acc = self.its[name].access
            if j in acc.indices and v in acc.indices:
                row = re.sub(rf"\b{v}\b", f"{v}_ahead", self.row(acc.indices))
                array = self.arg("dense", acc.tensor)
                rows.append(f"vprefetch({array}, {row}{offset}, {width})")
        if rows:
            last = f"uint64({crd}.shape[0]) - one"
            self.emit(indent, f"q_ahead = min({q} + uint64({PREFETCH_AHEAD}), {last})")
            self.emit(indent, f"{v}_ahead = uint64({crd}[q_ahead])")
            for line in rows:
                self.emit(indent, line)

    def factors(self, names: list[str], j: str, width: int, offset: str) -> tuple[str, str]:
        """A pure product split into its scalar part and its vector part (`width` elements
        of rows along j, `offset` into them)."""
        scalars, rows = [], []
        for name in names:
            acc = self.its[name].access
            if j in acc.indices:
                array = self.arg("dense", acc.tensor)
                self.rows[acc.tensor] = None
                rows.append(f"vload({array}, {self.row(acc.indices)}{offset}, {width})")
            else:
                scalars.append(self.value(Access(name, acc.indices)))
        row = rows[0]
        for other in rows[1:]:
            row = f"vmul({row}, {other})"
        return " * ".join(scalars), row

    def vector_product(self, names: list[str], j: str) -> str:
        """A dense innermost reduction (SDDMM's dot products) as one vector expression."""
        scalars, row = self.factors(names, j, self.width, "")
        return f"{scalars} * vsum({row})" if scalars else f"vsum({row})"

    def owns_rows(self) -> bool:
        """Whether each output row is finished by one walk: every loop above it runs over an
        output mode, each sparse level on the way is unique, and the rows are the leading
        output modes in order (an epilogue then sees a row's whole sum)."""
        outer = self.s.order[:-2]
        if tuple(outer) != tuple(self.free[:-1]):
            return False
        return all(o.format.unique for o in self.s.operands if o.sparse)

    def row(self, indices: tuple[str, ...]) -> str:
        """The flat offset of the row whose last index (the dense mode) is zero."""
        j = indices[-1]
        return f"({self.flat(indices[:-1])}) * n_{j}" if len(indices) > 1 else "nil"

    def walk_body(self, depth: int, body: int, walked: list[_It], v: str, need_all: bool) -> None:
        """The body of a merge: bind present iterators, recurse, then advance them."""
        if need_all:
            self.emit(body, f"if {' and '.join(f'h{it.n}_{it.consumed}' for it in walked)}:")
            inner = body + 1
        else:
            inner = body
        advance = [(it.n, it.consumed) for it in walked]
        for it in walked:
            k = it.consumed
            if not need_all:
                it.flags.append(f"h{it.n}_{k}")
            self.bind(it, f"q{it.n}_{k}")
        here = [
            it
            for it in self.its.values()
            if it.consumed < len(it.vars)
            and it.vars[it.consumed] == v
            and it.levels[it.consumed] is Level.DENSE
        ]
        for it in here:
            self.locate(it, v, inner)
        self.inner(depth, inner)
        for n, k in advance:
            self.emit(body, f"if h{n}_{k}:")
            self.emit(body + 1, f"q{n}_{k} += one")

    def bind(self, it: _It, q: str) -> None:
        it.pos = q
        it.consumed += 1
        if it is self.pattern and it.consumed == self.shared:
            self.fibre = q

    def locate(self, it: _It, v: str, indent: int) -> None:
        p = f"p{it.n}_{it.consumed}"
        self.emit(indent, f"{p} = {it.pos} * n_{v} + {v}")
        self.bind(it, p)

    def inner(self, depth: int, indent: int) -> None:
        """Recurse into the next loop, with the accumulator or workspace around it."""
        if self.use_acc and depth == self.last_free:
            self.emit(indent, "acc = zero")
            self.loop(depth + 1, indent)
            if self.dense_out:
                self.emit(indent, f"out[{self.out_index()}] += acc")
            else:
                self.append(indent, list(self.free), "acc")
        else:
            self.loop(depth + 1, indent)

    def after_loop(self, depth: int, indent: int) -> None:
        if self.assemble and depth == self.first_red:
            self.finish_row(indent)
        elif self.s.workspace and depth == self.first_red:
            self.drain_workspace(indent)

    # --- an assembled output: Gustavson's two passes over the same loop nest ----------------

    def row_index(self) -> str:
        rows = self.free[:-1]
        return self.flat(rows) if rows else "nil"

    def start_row(self, indent: int) -> None:
        """Before the reduction loops of one output row: its workspace slot and stamp.

        Each row belongs to one thread, so the row number is a stamp no other row reuses:
        the workspace is never cleared (the numeric pass offsets it by the row count)."""
        self.emit(indent, f"row = {self.row_index()}")
        self.emit(indent, "n_w = nil")
        if self.phase == "bound":
            return
        self.emit(indent, "tid = uint64(get_thread_id())" if self.parallel else "tid = nil")
        self.emit(indent, "w_base = tid * n_ws")
        self.emit(indent, "w_lbase = tid * (n_ws + one)")
        shift = " + n_rows" if self.phase == "numeric" else ""
        self.emit(indent, f"stamp = int64(row){shift}")
        if self.phase in ("numeric", "single") and self.s.output.ordered:
            self.emit(indent, "w_bbase = tid * n_words")
            self.emit(indent, "w_lo = n_ws")
            self.emit(indent, "w_hi = nil")

    def finish_row(self, indent: int) -> None:
        if self.phase == "bound":
            self.emit(indent, "n_bound += min(n_w, n_ws)")
            return
        if self.phase != "numeric":
            self.emit(indent, "out_pos[row + one] = n_w")
            if self.phase == "symbolic":
                return
        self.emit(
            indent, "base = n_out" if self.phase == "single" else "base = uint64(out_pos[row])"
        )
        if self.s.output.ordered:
            self.emit(
                indent,
                "drain_row(w_list[w_lbase:w_lbase + n_w], w_bits[w_bbase:w_bbase + n_words], "
                "w_vals[w_base:w_base + n_ws], n_w, w_lo, w_hi, out_crd, out_vals, base)",
            )
        else:
            self.emit(indent, "for w_t in range(n_w):")
            self.emit(indent + 1, "w_at = w_list[w_lbase + w_t]")
            self.emit(indent + 1, "out_crd[base + w_t] = w_at")
            self.emit(indent + 1, "out_vals[base + w_t] = w_vals[w_base + w_at]")
        if self.phase == "single":
            self.emit(indent, "n_out += n_w")

    def lower_assembled(self) -> list[str]:
        """A CSR-like output's arrays, straight from the loop nest.

        One thread: a bound pass sums each row's innermost segment lengths (no per-product
        work), the arrays are allocated to that bound, and one value pass appends the rows
        (copied to size when the bound was loose). Several threads, or a bound too large to
        reserve: a symbolic pass counts each row's entries (a pass over every product), a
        prefix sum gives the row pointers, and a value pass writes the rows in place."""
        rows = self.free[:-1]
        n_rows = " * ".join(f"n_{v}" for v in rows) if rows else "one"
        size = " * ".join(f"n_{v}" for v in self.s.workspace)
        start = len(self.lines)
        self.emit(1, f"n_rows = int64({n_rows})")
        if self.parallel:  # get_num_threads() inside a kernel would defeat numba's cache
            self.arg("threads", "")
        self.emit(1, f"n_threads = {'uint64(threads)' if self.parallel else 'one'}")
        self.emit(1, f"n_ws = {size}")
        self.emit(1, "n_words = (n_ws + uint64(63)) >> six")
        self.emit(1, "w_mark = np.full(n_threads * n_ws, int64(-1))")
        self.emit(1, "w_list = np.empty(n_threads * (n_ws + one), np.uint64)")
        self.emit(1, "w_vals = np.full(n_threads * n_ws, zero)")
        self.emit(1, "w_bits = np.zeros(n_threads * n_words, np.uint64)")
        self.emit(1, "out_pos = np.zeros(n_rows + 1, np.int64)")
        indent = 1
        if not self.parallel and self.s.order[-1] == self.s.workspace[0]:
            self.emit(1, "n_bound = nil")
            self.phase = "bound"
            self.loop(0, 1)
            self.emit(1, f"if n_bound <= uint64({BOUND_MAX}):")
            self.emit(2, "out_crd = np.empty(n_bound, np.int64)")
            self.emit(2, "out_vals = np.empty(n_bound, w_vals.dtype)")
            self.emit(2, "n_out = nil")
            self.phase = "single"
            self.loop(0, 2)
            self.emit(2, "if n_out * uint64(2) < n_bound:")
            self.emit(3, "out_crd = out_crd[:n_out].copy()")
            self.emit(3, "out_vals = out_vals[:n_out].copy()")
            self.emit(2, "for r in range(n_rows):")
            self.emit(3, "out_pos[r + 1] += out_pos[r]")
            self.emit(1, "else:")
            indent = 2
        self.phase = "symbolic"
        self.loop(0, indent)
        self.emit(indent, "for r in range(n_rows):")
        self.emit(indent + 1, "out_pos[r + 1] += out_pos[r]")
        self.emit(indent, "out_crd = np.empty(out_pos[n_rows], np.int64)")
        self.emit(indent, "out_vals = np.empty(out_pos[n_rows], w_vals.dtype)")
        self.phase = "numeric"
        self.loop(0, indent)
        self.phase = ""
        self.emit(indent, "n_out = uint64(out_pos[n_rows])")
        return self.lines[start:]

    def snapshot(self) -> dict[str, tuple]:
        """Where every iterator is: levels consumed, position, presence flags."""
        return {name: (it.consumed, it.pos, list(it.flags)) for name, it in self.its.items()}

    def rewind(self, saved: dict[str, tuple]) -> None:
        """Iterators back to a `snapshot` (to lower the same walk again)."""
        for name, (consumed, pos, flags) in saved.items():
            it = self.its[name]
            it.consumed, it.pos, it.flags = consumed, pos, list(flags)

    def restore(self, saved: dict[str, tuple]) -> None:
        """A `snapshot` back, leaving the loop: its hoisted locals go out of scope."""
        self.hoisted, self.out_row = {}, ""
        self.rewind(saved)

    def lower(self) -> Source:
        for v in self.s.order:
            self.arg("dim", v)
        self.arg("zero", "")
        body_start = len(self.lines)
        if self.assemble:
            self.lower_assembled()
        elif self.use_acc and self.last_free < 0:
            self.emit(1, "acc = zero")
            self.loop(0, 1)
            self.emit(1, "out[0] += acc" if self.dense_out else "")
        else:
            self.loop(0, 1)
        body = self.lines[body_start:]
        params = [self.arg(kind, tensor, level) for kind, tensor, level in self.args]
        if self.dense_out:
            params.append("out")
        elif self.pattern is not None:
            params.append("out_vals")
        elif self.assemble:
            pass
        else:
            params += ["out_crd", "out_vals"]
            if self.s.workspace:
                params += ["w_vals", "w_mark", "w_list"]
        header = [
            "# Generated by aether.sparse.codegen; do not edit.",
            f"# index notation:    {self.a}",
            f"# concrete notation: {self.s}",
            "import numpy as np  # noqa: F401",
            "from numba import (  # noqa: F401",
            "    get_thread_id, int64, njit, prange, uint64,",
            ")",
            "from aether.sparse.kernels import (  # noqa: F401",
            "    drain_row, grow, order_touched, vadd, vfma, vload, vmul, vprefetch, vrelu,",
            "    vsplat, vstore, vstore_add, vsum, vzero,",
            ")",
            "",
            "",
            f"@njit(cache=True, nogil=True, fastmath={FASTMATH}, parallel={self.parallel})",
            f"def kernel({', '.join(params)}):",
        ]
        # Index arithmetic is unsigned: numba then skips the negative-index wraparound on every
        # access, which otherwise blocks vectorization (3.6x on SpMM at width 64, measured).
        pre = ["    one = uint64(1)", "    nil = uint64(0)"]
        if self.assemble:
            pre += ["    six = uint64(6)", "    mask = uint64(63)"]
        width = self.width
        narrow, wide = width <= SPECIALIZE_NARROW, SPECIALIZE_WIDE[0] <= width <= SPECIALIZE_WIDE[1]
        if width > 0 and (narrow or wide or self.vector is not None):
            # A constant trip count: LLVM picks the vector shape (the key changes with it).
            j = self.s.order[-1]
            pre.append(f"    n_{j} = uint64({width})  # the dense width, specialized")
        for w, size in self.blocked.items():
            pre.append(f"    n_{w} = uint64({size})  # a block size, specialized")
        if not self.dense_out and self.pattern is None and not self.assemble:
            pre.append("    n_out = 0")
            if self.s.workspace:
                pre += ["    stamp = 0", "    n_w = 0"]
        if self.assemble:
            ret = ["    return out_pos, out_crd[:n_out], out_vals[:n_out]"]
        elif self.dense_out:
            ret = ["    return out"]
        elif self.pattern is not None:
            ret = ["    return out_vals"]
        else:
            ret = ["    return out_crd, out_vals, n_out"]
        text = "\n".join(header + pre + body + ret) + "\n"
        return Source(
            text,
            self.args,
            self.parallel,
            fused=self.fused,
            overwrites=self.overwrites,
            rows=tuple(self.rows),
            width=self.width if self.rows else 0,
            groups=self.groups,
        )


# Nonzeros per pass of an SpMM-like innermost loop (see `_Lowerer.unrolled`), and which dense
# widths are compiled as constants (LLVM then picks the vector shape; the key changes with
# it). Measured on a 1024 x 1024 matrix at 10% density, float32, one thread (ms; torch.sparse
# CSR in brackets): width 7: 0.42 plain, 0.19 by 4 constant, 0.18 by 8 constant [0.15];
# width 16: 0.35 plain, 0.22 by 4, 0.35 by 4 constant, 0.20 by 8 constant [0.15];
# width 64: 0.59 plain, 0.49 by 4, 0.42 by 4 constant, 0.56 by 8 constant [0.54].
UNROLL = 4
UNROLL_NARROW = 8
SPECIALIZE_NARROW = 16
SPECIALIZE_WIDE = (32, 256)


# The most entries an assembled output reserves from its bound pass (at 16 bytes an entry,
# 512 MB of address space; only the pages written are touched). Above, the exact two passes.
BOUND_MAX = 1 << 25


# Register blocking of blocked formats (`_Lowerer.block_walk`): at most BLOCK_MAX entries per
# block are unrolled, and at most BLOCK_ROWS output elements (16 AVX-512 registers of
# float32, as REGISTER_ROW) are accumulated per walk.
BLOCK_MAX = 64
BLOCK_ROWS = REGISTER_ROW

# Nonzeros ahead whose dense rows an SpMM-like walk prefetches (`prefetch`: rows gathered
# from beyond the caches). Measured on the 100k-node power-law graph, one thread: on a Xeon
# with a 300 MB L3, 8 ahead took 0.77-1.01x the time of none (median 0.89x) and 16 was no
# better; on an EPYC with a 32 MB L3 (11 interleaved runs, twice), 8 / 16 / 24 / 32 / 48
# ahead took 5.6-6.0 / 5.0-5.4 / 4.7-5.1 / 4.5-4.9 / 4.7-4.9 ms at width 64 and 12.9-14.0 /
# 11.9-13.0 / 11.6-12.7 / 11.9-12.8 / 12.6-13.9 ms at width 128.
PREFETCH_AHEAD = 24


def _vector_factors(rhs: Expr, j: str, its: dict[str, _It]) -> list[str] | None:
    """The factors of a pure product with at least one dense row contiguous along `j` (the
    innermost, dense mode), or None when the register-vector form does not apply."""
    found = product_factors(rhs)
    if found is None or not any(j in acc.indices for acc in found):
        return None
    for acc in found:
        if j in acc.indices[:-1] or (j in acc.indices and its[acc.tensor].levels):
            return None
    return [acc.tensor for acc in found]


def unrollable(s: Schedule) -> bool:
    """A dense output whose innermost loop is a dense mode (no sparse operand indexes it),
    below a sparse walk: SpMM, the SpMM of attention, GCN and pruned-MLP layers."""
    if s.output is not None or s.pattern or s.workspace:
        return False
    return _dense_innermost(s)


def _dense_innermost(s: Schedule) -> bool:
    """The innermost loop runs over an output mode that no sparse operand indexes."""
    a, order = s.assignment, s.order
    if s.workspace or len(order) < 2:
        return False
    j = order[-1]
    last_free = max((order.index(v) for v in a.free()), default=-1)
    if last_free != len(order) - 1:  # the accumulator form (SpMV) keeps its own loop
        return False
    ops = {o.name: o for o in s.operands}
    return not any(j in acc.indices for acc in a.accesses() if ops[acc.tensor].sparse)


def _rename_words(line: str, names: dict[str, str], suffix: str) -> str:
    """One unrolled copy of a line: its index variable, position and hoisted locals renamed."""
    line = re.sub(r"\b[vo]_x\d+\b", lambda m: m.group(0) + suffix, line)
    return re.sub(r"\b\w+\b", lambda m: names.get(m.group(0), m.group(0)), line)


def lower(
    s: Schedule,
    parallel: bool = False,
    epilogue: Epilogue | None = None,
    prefetch: bool = False,
    groups: int = 0,
) -> Source:
    """The numba source of a schedule (printable: the compiler's last visible stage).
    ``groups`` > 1 walks chunks of that many rows sharing a pattern together where the
    schedule allows it (`_Lowerer.grouped_walk`; ``Source.groups`` says whether it did).

    Tensors and index variables are renamed canonically first (``T0, T1, ...``, ``i0, i1,
    ...``), so that ``y(i) = A(i,j) * x(j)`` and ``z(r) = W(r,c) * v(c)`` share one kernel
    file: the disk cache is keyed by the expression's structure and formats, not its names.
    """
    canon, back = _canonical(s)
    src = _Lowerer(canon, parallel, epilogue, prefetch, groups).lower()
    src.args = [(kind, back.get(name, name), level) for kind, name, level in src.args]
    src.rows = tuple(back.get(name, name) for name in src.rows)
    src.key = hashlib.sha256(f"{VERSION}\n{src.text}".encode()).hexdigest()[:20]
    return src


def _canonical(s: Schedule) -> tuple[Schedule, dict[str, str]]:
    a = s.assignment
    vars_ = {v: f"i{n}" for n, v in enumerate(dict.fromkeys(a.lhs.indices + a.variables()))}
    tensors = {t: f"T{n}" for n, t in enumerate(dict.fromkeys(x.tensor for x in a.accesses()))}

    def rename(e: Expr) -> Expr:
        if isinstance(e, Access):
            return Access(tensors[e.tensor], tuple(vars_[i] for i in e.indices))
        if isinstance(e, Neg):
            return Neg(rename(e.operand))
        return type(e)(rename(e.left), rename(e.right))

    lhs = Access("Out", tuple(vars_[i] for i in a.lhs.indices))
    canon = replace(
        s,
        assignment=Assignment(lhs, rename(a.rhs)),
        operands=tuple(replace(o, name=tensors[o.name]) for o in s.operands if o.name in tensors),
        order=tuple(vars_[v] for v in s.order),
        workspace=tuple(vars_[v] for v in s.workspace),
        pattern=tensors.get(s.pattern) if s.pattern else None,
    )
    back = {new: old for old, new in (vars_ | tensors).items()}
    return canon, back


_LOADED: dict[str, object] = {}


def load(src: Source):
    """The compiled kernel: from this process, else the disk cache, else written and compiled.

    The generated module is keyed by the hash of its text (which spells out the expression,
    the formats and the schedule); numba's ``cache=True`` keeps the machine code beside it.
    """
    if src.key in _LOADED:
        return _LOADED[src.key]
    directory = cache_dir()
    path = directory / f"k_{src.key}.py"
    if not path.exists() or path.read_text() != src.text:
        io.write_text(path, src.text)
    name = f"aether_sparse_kernels.k_{src.key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _LOADED[src.key] = module.kernel
    return module.kernel
