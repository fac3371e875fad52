"""The runtime: compile an expression for the operands at hand, run it, or run it dense.

``evaluate("y(i) = A(i,j) * x(j)", A=..., x=...)`` schedules the expression with the operands'
sparsity statistics, lowers and loads the kernel (disk-cached), and calls it. Per call it may
instead run dense (torch.einsum) when a sparse operand is denser than the measured crossover,
and it falls back to dense with a warning for what it cannot compile: never a wrong answer.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aether import io
from aether.sparse import codegen
from aether.sparse.formats import Format, Level
from aether.sparse.notation import Access, Assignment, Mul, Neg, is_zero, parse, split_reductions
from aether.sparse.schedule import (
    Operand,
    Schedule,
    ScheduleError,
    concordant_format,
    pattern_levels,
    schedule,
)
from aether.sparse.tensor import VALUE_DTYPES, SparseFormatError, SparseTensor

# Density above which dense torch beats the generated SpMM: 0.08-0.25 measured on this shared
# machine (1024 x 1024 float32, width 64, one thread) by `measure_crossover`; the low end is
# the default. A measurement saved with `save_crossover` (the benchmark and the stage do)
# overrides it.
DEFAULT_CROSSOVER = 0.1


class DenseFallbackWarning(RuntimeWarning):
    """The expression ran dense because it could not be compiled for these operands."""


@dataclass
class Kernel:
    """One compiled expression: the schedule, its generated source and the loaded function."""

    schedule: Schedule
    source: codegen.Source
    fn: object
    compile_seconds: float

    def explain(self) -> str:
        """The compiler's stages, printed: index notation, concrete notation, generated code."""
        s = self.schedule
        return (
            f"index notation:    {s.assignment}\n"
            f"concrete notation: {s}\n"
            f"estimated cost:    {s.cost:.3g}\n"
            f"generated code:\n{self.source.text}"
        )

    def __post_init__(self) -> None:
        s = self.schedule
        self.dims = s.dims
        self.shape = tuple(self.dims[v] for v in s.assignment.lhs.indices)
        # A non-unique (COO) operand may emit a coordinate more than once: sort and sum then.
        self.in_order = all(o.format.unique for o in s.operands if o.sparse)
        if s.pattern:
            access = next(acc for acc in s.assignment.accesses() if acc.tensor == s.pattern)
            self.shared = pattern_levels(s.assignment, access)

    def __call__(self, tensors: dict[str, SparseTensor | np.ndarray]):
        s, dims, shape = self.schedule, self.dims, self.shape
        dtype = np.result_type(*(_values(t).dtype for t in tensors.values()))
        args = []
        for kind, name, level in self.source.args:
            t = tensors.get(name)
            if kind == "dim":  # unsigned, as all index arithmetic in the kernels
                args.append(np.uint64(dims[name]))
            elif kind == "zero":
                args.append(dtype.type(0))
            elif kind == "dense":  # flat, row-major: the kernel computes offsets
                args.append(np.ascontiguousarray(t, dtype=dtype).reshape(-1))
            elif kind == "vals":
                args.append(t.vals.astype(dtype, copy=False))
            else:
                args.append(getattr(t, kind)[level])
        if s.output is None:
            out = np.zeros(max(math.prod(shape), 1), dtype=dtype)
            return self.fn(*args, out)[: math.prod(shape)].reshape(shape)
        if s.pattern:  # the output reuses this operand's leading index arrays
            p, shared = tensors[s.pattern], self.shared
            size = p.level_sizes()[shared - 1] * int(np.prod(shape[shared:]))
            vals = self.fn(*args, np.zeros(size, dtype=dtype))
            pad = [None] * (len(shape) - shared)
            return SparseTensor(
                shape, s.output, p.pos[:shared] + pad, p.crd[:shared] + pad, vals, check=False
            )
        cap = max(16, max(t.nnz for t in tensors.values() if isinstance(t, SparseTensor)))
        args += [np.empty((cap, len(shape)), dtype=np.int64), np.empty(cap, dtype=dtype)]
        if s.workspace:
            size = int(np.prod([dims[v] for v in s.workspace]))
            args += [np.zeros(size, dtype), np.full(size, -1, np.int64), np.empty(size, np.uint64)]
        crd, vals, n = self.fn(*args)
        return SparseTensor.from_coords(
            crd[:n],
            vals[:n],
            shape,
            s.output,
            assume_sorted=self.in_order,
            assume_unique=self.in_order,
        )


@dataclass
class Runtime:
    """Kernels compiled in this process, keyed by expression, formats and statistics."""

    parallel: bool = False
    crossover: float | None = None
    kernels: dict[tuple, Kernel] = field(default_factory=dict, repr=False)

    def compile(
        self,
        a: Assignment,
        tensors: dict[str, SparseTensor | np.ndarray],
        output: Format | str | None = "infer",
    ) -> Kernel:
        key = (a, output, self.parallel, *(_signature(n, t) for n, t in tensors.items()))
        kernel = self.kernels.get(key)
        if kernel is None:
            start = time.perf_counter()
            s = schedule(a, [_operand(name, t) for name, t in tensors.items()], output)
            src = codegen.lower(s, parallel=self.parallel)
            fn = codegen.load(src)
            kernel = self.kernels[key] = Kernel(s, src, fn, time.perf_counter() - start)
        return kernel

    def evaluate(
        self,
        expression: str | Assignment,
        output: Format | str | None = "infer",
        *,
        adaptive: bool = True,
        **tensors: SparseTensor | np.ndarray | torch.Tensor,
    ) -> SparseTensor | np.ndarray:
        """Run `expression` on `tensors`: the generated kernel, or dense when that is faster."""
        a = _parse(expression) if isinstance(expression, str) else expression
        data = {name: _operand_data(name, t) for name, t in tensors.items()}
        missing = sorted({acc.tensor for acc in a.accesses()} - set(data))
        if missing:
            raise SparseFormatError(f"{a} needs tensors {missing}; pass them as keywords")
        *temps, a = _split(a)
        for temp in temps:
            data[temp.lhs.tensor] = self.evaluate(temp, adaptive=adaptive, **data)
        data = {acc.tensor: data[acc.tensor] for acc in a.accesses()}
        if adaptive and self.prefers_dense(data):
            return dense_einsum(a, data)
        data = _unique_levels(a, data)
        try:
            kernel = self.compile(a, data, output)
        except ScheduleError as exc:
            if "do not match" in str(exc) or "indices; the tensor" in str(exc):
                raise
            data = _concordant(a, data)
            try:
                kernel = self.compile(a, data, output)
            except ScheduleError as again:
                warnings.warn(f"{a} ran dense: {again}", DenseFallbackWarning, stacklevel=2)
                return dense_einsum(a, data)
        return kernel(data)

    def prefers_dense(self, data: dict[str, SparseTensor | np.ndarray]) -> bool:
        sparse = [t for t in data.values() if isinstance(t, SparseTensor)]
        if not sparse:
            return True
        return max(t.density() for t in sparse) >= self.threshold()

    def threshold(self) -> float:
        if self.crossover is None:
            path = codegen.cache_dir() / "crossover.json"
            try:
                self.crossover = float(json.loads(path.read_text())["spmm_density"])
            except (OSError, ValueError, KeyError):
                self.crossover = DEFAULT_CROSSOVER
        return self.crossover


def dense_einsum(a: Assignment, data: dict[str, SparseTensor | np.ndarray]) -> np.ndarray:
    """The expression with dense torch ops: the reference semantics and the fallback."""
    *temps, a = split_reductions(a)
    data = dict(data)
    for temp in temps:
        data[temp.lhs.tensor] = dense_einsum(temp, data)
    letters: dict[str, str] = {}

    def spec(indices: tuple[str, ...]) -> str:
        return "".join(letters.setdefault(i, chr(97 + len(letters))) for i in indices)

    def dense(name: str) -> torch.Tensor:
        t = data[name]
        return torch.from_numpy(t.numpy() if isinstance(t, SparseTensor) else np.asarray(t))

    out_spec = spec(a.lhs.indices)

    def ev(e) -> tuple[torch.Tensor, str]:
        if isinstance(e, Access):
            return dense(e.tensor), spec(e.indices)
        if isinstance(e, Neg):
            x, s = ev(e.operand)
            return -x, s
        (x, sx), (y, sy) = ev(e.left), ev(e.right)
        if isinstance(e, Mul):
            s = "".join(dict.fromkeys(sx + sy))
            return torch.einsum(f"{sx},{sy}->{s}", x, y), s
        s = "".join(dict.fromkeys(sx + sy))
        shape = {c: n for t, st in ((x, sx), (y, sy)) for c, n in zip(st, t.shape, strict=True)}
        full = [shape[c] for c in s]
        x = torch.einsum(f"{sx}->{sx}", x).reshape([shape[c] if c in sx else 1 for c in s])
        y = y.reshape([shape[c] if c in sy else 1 for c in s])
        return (x.expand(full) if x.shape != tuple(full) else x) + y, s

    value, s = ev(a.rhs)
    result = torch.einsum(f"{s}->{out_spec}", value)
    return result.numpy()


_parse = functools.lru_cache(maxsize=512)(parse)
_split = functools.lru_cache(maxsize=512)(split_reductions)


def _signature(name: str, t: SparseTensor | np.ndarray) -> tuple:
    """What the schedule depends on: format, shape and level sizes (dense: the shape)."""
    if isinstance(t, SparseTensor):
        return (name, t.format, t.shape, tuple(t.level_sizes()))
    return (name, t.shape)


def _values(t: SparseTensor | np.ndarray) -> np.ndarray:
    return t.vals if isinstance(t, SparseTensor) else np.asarray(t)


def _operand_data(name: str, t) -> SparseTensor | np.ndarray:
    if isinstance(t, SparseTensor):
        if t.block is not None:
            raise SparseFormatError(
                f"{name} is blocked CSR: index it as an order-4 tensor (row block, column "
                "block, row, column) or use `@`, which does"
            )
        return t
    if isinstance(t, torch.Tensor):
        if t.layout != torch.strided:
            return SparseTensor.from_torch(t)
        t = t.detach().cpu().numpy()
    a = np.asarray(t)
    if a.dtype not in VALUE_DTYPES:
        raise SparseFormatError(f"{name} has dtype {a.dtype}; use float32 or float64")
    return a


def _operand(name: str, t: SparseTensor | np.ndarray) -> Operand:
    if isinstance(t, SparseTensor):
        return Operand(name, t.shape, t.format, tuple(t.level_sizes()))
    return Operand(name, tuple(t.shape))


def _unique_levels(a: Assignment, data: dict) -> dict:
    """COO runs natively only as the sole sparse operand that every term needs.

    Its first level repeats coordinates, which a merge with another operand (or a dense loop
    that locates it) cannot follow; there it is re-stored with unique compressed levels.
    """
    sparse = [acc for acc in a.accesses() if isinstance(data[acc.tensor], SparseTensor)]
    out = dict(data)
    for acc in sparse:
        t = data[acc.tensor]
        if t.format.unique:
            continue
        if len(sparse) > 1 or not is_zero(a.rhs, {acc.tensor}):
            out[acc.tensor] = t.to(Format((Level.COMPRESSED,) * t.order, t.format.mode_order))
    return out


def _concordant(a: Assignment, data: dict) -> dict:
    """Re-store sparse operands whose mode order fights the natural loop order."""
    order = a.variables()
    out = dict(data)
    for acc in a.accesses():
        t = data[acc.tensor]
        if isinstance(t, SparseTensor):
            out[acc.tensor] = t.to(concordant_format(t.format, acc, order))
    return out


def measure_crossover(
    n: int = 1024,
    width: int = 64,
    densities: tuple[float, ...] = (0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7),
    repeats: int = 5,
    seed: int = 0,
) -> dict:
    """Time the generated SpMM against dense torch.matmul per density; find the crossover.

    Returns the rows and ``spmm_density``, the lowest density at which dense was faster
    (1.0 when it never was). ``save_crossover`` makes the runtime use it.
    """
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((n, width)).astype(np.float32)
    tb = torch.from_numpy(b)
    rt = Runtime(crossover=2.0)
    rows = []
    for density in densities:
        a = rng.standard_normal((n, n)).astype(np.float32)
        a[rng.random((n, n)) >= density] = 0
        sa, ta = SparseTensor.from_dense(a, "csr"), torch.from_numpy(a)
        rt.evaluate("C(i,j) = A(i,k) * B(k,j)", None, A=sa, B=b)  # compile and warm up
        sparse_s = _median_time(
            lambda sa=sa: rt.evaluate("C(i,j) = A(i,k) * B(k,j)", None, A=sa, B=b), repeats
        )
        dense_s = _median_time(lambda ta=ta: ta @ tb, repeats)
        rows.append({"density": density, "sparse_s": sparse_s, "dense_s": dense_s})
    return {"n": n, "width": width, "rows": rows, "spmm_density": _crossing(rows)}


def _crossing(rows: list[dict]) -> float:
    """Where log(sparse/dense time) crosses zero, interpolated between measured densities."""
    ratios = [(r["density"], np.log(r["sparse_s"] / r["dense_s"])) for r in rows]
    for (d0, r0), (d1, r1) in itertools.pairwise(ratios):
        if r0 < 0 <= r1:
            return float(d0 + (d1 - d0) * (-r0) / (r1 - r0))
    return 0.0 if ratios and ratios[0][1] >= 0 else 1.0


def save_crossover(measured: dict) -> Path:
    """Store a measurement where every later runtime (in any process) reads it."""
    return io.write_json(codegen.cache_dir() / "crossover.json", measured)


def _median_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


RUNTIME = Runtime()


def evaluate(expression: str | Assignment, output: Format | str | None = "infer", **tensors):
    """`Runtime.evaluate` on the process-wide runtime."""
    return RUNTIME.evaluate(expression, output, **tensors)
