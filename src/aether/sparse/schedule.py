"""Scheduling: index notation -> concrete index notation (loop order, workspace, formats).

The scheduler enumerates loop orders that visit every sparse operand in its storage order
(concordant iteration) and ranks them with a cost model fed by each operand's real level sizes:
the expected trip count of each loop (the fan-out of the levels it walks: the smallest for an
intersection, the sum for a union, the dimension for a dense loop) times the loops around it,
with a penalty for dense operands walked against their memory layout. When a reduction loop
sits between output loops of a sparse result (Gustavson's SpGEMM) it inserts a dense workspace
over the trailing output modes. The output format is inferred from the sparsity algebra
(``*`` keeps the sparser pattern, ``+`` the union, dense-only modes stay dense) and the
operands' occupancy. A dense innermost output mode wider than the register file is tiled
(``register_tile``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from aether.sparse import formats as F
from aether.sparse.formats import Format, Level
from aether.sparse.notation import Access, Add, Assignment, Expr, Mul, Neg, is_zero, product_factors

# A dense operand walked against its layout costs this much more per access (measured with the
# generated SpMM: i,j,k order is 3-6x slower than i,k,j on the Cora graph).
STRIDE_PENALTY = 4.0
# Below this fraction of non-empty slices, the first output level is compressed (DCSR/CSF).
COMPRESS_LEVEL_BELOW = 0.5
# A row of a dense innermost output mode up to this many elements is kept in registers across
# a sparse walk (256 float32 are 16 AVX-512 registers); a wider one is split into tiles of
# TILE, each walked on its own (see `register_tile`). Tiles of 64, 128 and 256 ran within 6%
# of each other at widths 512 and 1024 (benchmarks/sparse_tiling.py's matrices, one thread).
REGISTER_ROW = 256
TILE = 128


class ScheduleError(ValueError):
    """No concordant loop order exists for these formats (the runtime then converts)."""


@dataclass(frozen=True)
class Operand:
    """What the compiler knows of a tensor: shape, format (None when dense), level sizes."""

    name: str
    shape: tuple[int, ...]
    format: Format | None = None
    level_sizes: tuple[int, ...] = ()

    @property
    def sparse(self) -> bool:
        return self.format is not None

    def level_vars(self, access: Access) -> tuple[str, ...]:
        order = self.format.mode_order if self.format else range(len(access.indices))
        return tuple(access.indices[m] for m in order)

    def fanout(self, level: int) -> float:
        parent = self.level_sizes[level - 1] if level else 1
        return self.level_sizes[level] / max(parent, 1)


@dataclass(frozen=True)
class Schedule:
    """Concrete index notation: the loop order, the output format and the workspace."""

    assignment: Assignment
    operands: tuple[Operand, ...]
    order: tuple[str, ...]
    output: Format | None  # None: dense output
    workspace: tuple[str, ...] = ()  # output variables accumulated in a dense workspace
    cost: float = 0.0
    pattern: str | None = None  # the operand whose index arrays the output reuses
    tile: int = 0  # the innermost (dense) loop split into tiles of this width; 0: not split

    @property
    def dims(self) -> dict[str, int]:
        return _dims(self.assignment, {o.name: o for o in self.operands})

    def __str__(self) -> str:
        a = self.assignment
        loops = " ".join(f"∀{v}" for v in self.order)
        if self.tile:  # the tiles' loop sits just above the sparse walk it repeats
            *outer, k, j = self.order
            loops = " ".join(f"∀{v}" for v in (*outer, f"{j}o", k, f"{j}i<{self.tile}"))
        fmt = "dense" if self.output is None else str(self.output)
        if self.pattern:
            fmt += f", pattern of {self.pattern}"
        if not self.workspace:
            return f"{loops} {a.lhs} += {a.rhs}    [{a.lhs.tensor}: {fmt}]"
        first = min(self.order.index(v) for v in a.reduction())
        outer = " ".join(f"∀{v}" for v in self.order[:first])
        inner = " ".join(f"∀{v}" for v in self.order[first:])
        w = f"w({','.join(self.workspace)})"
        ws = " ".join(f"∀{v}" for v in self.workspace)
        return (
            f"{outer} ({inner} {w} += {a.rhs} ; {ws} {a.lhs} = {w})    "
            f"[{a.lhs.tensor}: {fmt}, w: dense workspace]"
        )


def _dims(a: Assignment, ops: dict[str, Operand]) -> dict[str, int]:
    dims: dict[str, int] = {}
    for acc in a.accesses():
        shape = ops[acc.tensor].shape
        if len(shape) != len(acc.indices):
            raise ScheduleError(f"{acc} has {len(acc.indices)} indices; the tensor is {shape}")
        for v, n in zip(acc.indices, shape, strict=True):
            if dims.setdefault(v, n) != n:
                raise ScheduleError(
                    f"index {v} has size {dims[v]} in one operand and {n} in {acc.tensor}: "
                    "the shapes do not match"
                )
    return dims


def sparse_result(e: Expr, ops: dict[str, Operand]) -> bool:
    if isinstance(e, Access):
        return ops[e.tensor].sparse
    if isinstance(e, Neg):
        return sparse_result(e.operand, ops)
    if isinstance(e, Mul):
        return sparse_result(e.left, ops) or sparse_result(e.right, ops)
    assert isinstance(e, Add)
    return sparse_result(e.left, ops) and sparse_result(e.right, ops)


def infer_output(a: Assignment, ops: dict[str, Operand]) -> Format | None:
    """The result's format: None (dense) unless the sparsity algebra says sparse."""
    if not sparse_result(a.rhs, ops):
        return None
    sparse_vars = {v for acc in a.accesses() if ops[acc.tensor].sparse for v in acc.indices}
    levels = [Level.COMPRESSED if v in sparse_vars else Level.DENSE for v in a.free()]
    if levels and levels[0] is Level.COMPRESSED:
        occupancy = [
            o.level_sizes[0] / max(o.shape[o.format.mode_order[0]], 1)
            for acc in a.accesses()
            if (o := ops[acc.tensor]).sparse
            and o.format.levels[0] is Level.COMPRESSED
            and o.level_vars(acc)[0] == a.free()[0]
        ]
        if not occupancy or min(occupancy) >= COMPRESS_LEVEL_BELOW:
            levels[0] = Level.DENSE
    if all(level is Level.DENSE for level in levels):
        return None
    return Format(tuple(levels), tuple(range(len(levels))))


def _concordant(order: tuple[str, ...], vars_: tuple[str, ...]) -> bool:
    at = [order.index(v) for v in vars_]
    return at == sorted(at)


def _cost(a: Assignment, ops: dict[str, Operand], order: tuple[str, ...], dims) -> float:
    consumed = {acc: 0 for acc in a.accesses()}
    iterations, work = 1.0, 0.0
    for v in order:
        fanouts, driving = [], set()
        for acc in a.accesses():
            op = ops[acc.tensor]
            if not op.sparse:
                continue
            k = consumed[acc]
            if k < op.format.order and op.level_vars(acc)[k] == v:
                consumed[acc] = k + 1
                if op.format.levels[k] is not Level.DENSE:
                    fanouts.append(op.fanout(k))
                    driving.add(acc.tensor)
        if driving and is_zero(a.rhs, driving):
            product = all(is_zero(a.rhs, {t}) for t in driving)
            trips = min(fanouts) if product else sum(fanouts)
            step = sum(fanouts)
        else:
            trips = dims[v]
            step = trips + sum(fanouts)
        work += iterations * step
        iterations *= max(trips, 1e-9)
    strided = 0
    for acc in [a.lhs, *a.accesses()]:
        op = ops.get(acc.tensor)
        if (op is not None and op.sparse) or not acc.indices:
            continue
        inner = max(acc.indices, key=order.index)
        strided += inner != acc.indices[-1]
    return work * (1.0 + STRIDE_PENALTY * strided)


def schedule(
    a: Assignment, operands: list[Operand], output: Format | str | None = "infer"
) -> Schedule:
    """Pick the cheapest concordant loop order; add a workspace where the output needs one."""
    ops = {o.name: o for o in operands}
    unknown = [acc.tensor for acc in a.accesses() if acc.tensor not in ops]
    if unknown:
        raise ScheduleError(f"{a} names tensors {unknown} that were not given")
    dims = _dims(a, ops)
    out = infer_output(a, ops) if output == "infer" else output
    pattern = _pattern(a, ops) if output == "infer" and out is not None else None
    if pattern is not None:
        out = Format(
            ops[pattern.tensor].format.levels[: pattern_levels(a, pattern)]
            + (Level.DENSE,) * (len(a.free()) - pattern_levels(a, pattern)),
            tuple(range(len(a.free()))),
        )
    if out is not None and out.is_dense:
        out = None
    if out is not None and out.order != len(a.free()):
        raise ScheduleError(f"output format {out} has order {out.order}; {a.lhs} needs that many")
    out_vars = tuple(a.free()[m] for m in out.mode_order) if out is not None else ()
    best: tuple[float, tuple[str, ...]] | None = None
    for order in itertools.permutations(a.variables()):
        if not all(
            _concordant(order, ops[acc.tensor].level_vars(acc))
            for acc in a.accesses()
            if ops[acc.tensor].sparse
        ):
            continue
        if out is not None and not _concordant(order, out_vars):
            continue
        cost = _cost(a, ops, order, dims)
        if best is None or cost < best[0]:
            best = (cost, order)
    if best is None:
        raise ScheduleError(f"no loop order of {a} visits every sparse operand in storage order")
    cost, order = best
    workspace: tuple[str, ...] = ()
    if out is not None and a.reduction() and pattern is None:
        first = min(order.index(v) for v in a.reduction())
        workspace = tuple(v for v in out_vars if order.index(v) > first)
    name = pattern.tensor if pattern is not None else None
    tile = register_tile(a, ops, order, dims) if not workspace else 0
    s = Schedule(a, tuple(operands), order, out, workspace, cost, name, tile)
    if output == "infer" and assembled(s):
        # Sorting each row costs more than computing it (measured: 2x on Cora's A @ A); the
        # runtime sorts an unordered operand only before a kernel that merges it.
        s = replace(s, output=out.with_order(False))
    return s


def register_tile(a: Assignment, ops: dict[str, Operand], order: tuple[str, ...], dims) -> int:
    """The tile width of the innermost loop, or 0 when it is not split.

    A pure product whose innermost loop runs over the output's last mode, which no sparse
    operand indexes, under a sparse walk (SpMM, TTM, GCN and pruned-MLP layers), keeps the
    output row in registers across the walk. A row wider than REGISTER_ROW does not fit: the
    loop is strip-mined into tiles of TILE and the walk runs once per tile (the nonzeros are
    read again; the dense rows are read in disjoint parts), so each tile's accumulator stays
    in registers instead of the row being added to in memory every few nonzeros."""
    j = order[-1] if order else None
    free = a.free()
    if j is None or len(order) < 2 or not free or free[-1] != j or dims[j] <= REGISTER_ROW:
        return 0
    if any(j in acc.indices for acc in a.accesses() if ops[acc.tensor].sparse):
        return 0
    if not any(ops[acc.tensor].sparse for acc in a.accesses()) or product_factors(a.rhs) is None:
        return 0
    return TILE


def assembled(s: Schedule) -> bool:
    """Whether the output is assembled in two passes (symbolic, numeric) straight into arrays.

    That needs a workspace over the last output mode only, stored compressed, below dense
    levels (CSR-like: the rows are the dense levels), and unique operands (no duplicates)."""
    out = s.output
    if out is None or s.pattern is not None or not s.workspace:
        return False
    free = s.assignment.free()
    if s.workspace != free[-1:] or out.mode_order != tuple(range(len(free))):
        return False
    if out.levels[-1] is not Level.COMPRESSED:
        return False
    if any(level is not Level.DENSE for level in out.levels[:-1]):
        return False
    return all(o.format.unique for o in s.operands if o.sparse)


def pattern_levels(a: Assignment, pattern: Access) -> int:
    """How many of the pattern operand's leading levels the output shares."""
    return sum(v in pattern.indices for v in a.lhs.indices)


def _pattern(a: Assignment, ops: dict[str, Operand]) -> Access | None:
    """The one sparse operand every term needs whose leading levels index the output.

    SDDMM's S (all levels) or TTM's X (its fibres, then a dense mode): the result has its
    pattern on those levels, so the kernel writes values at its positions and the output
    shares its index arrays: no assembly, no workspace, no sort."""
    sparse = [acc for acc in a.accesses() if ops[acc.tensor].sparse]
    if len(sparse) != 1:
        return None
    (acc,) = sparse
    op = ops[acc.tensor]
    if not op.format.unique or not is_zero(a.rhs, {acc.tensor}):
        return None
    level_vars = op.level_vars(acc)
    shared = pattern_levels(a, acc)
    rest = a.lhs.indices[shared:]
    if shared == 0 or a.lhs.indices[:shared] != level_vars[:shared]:
        return None
    if any(v in acc.indices for v in rest) or any(v in a.lhs.indices for v in level_vars[shared:]):
        return None
    return acc


def concordant_format(fmt: Format, access: Access, order: tuple[str, ...]) -> Format:
    """The same level types with the mode order the loop order visits (to resolve discord)."""
    modes = tuple(sorted(range(len(access.indices)), key=lambda m: order.index(access.indices[m])))
    if fmt.levels[0] is Level.DENSE and all(lv is Level.COMPRESSED for lv in fmt.levels[1:]):
        return Format(fmt.levels, modes)
    return F.Format((Level.COMPRESSED,) * fmt.order, modes)
