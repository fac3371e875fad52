"""The runtime: compile an expression for the operands at hand, run it, or run it dense.

``evaluate("y(i) = A(i,j) * x(j)", A=..., x=...)`` schedules the expression with the operands'
sparsity statistics, lowers and loads the kernel (disk-cached), and calls it. Per call it may
instead run dense (torch.einsum) when a sparse operand is denser than the measured crossover,
and it falls back to dense with a warning for what it cannot compile: never a wrong answer.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import math
import sys
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import torch

from aether import io
from aether.sparse import codegen, groups
from aether.sparse.formats import Format, Level
from aether.sparse.notation import (
    Access,
    Assignment,
    Mul,
    Neg,
    is_zero,
    parse,
    product_factors,
    split_reductions,
)
from aether.sparse.schedule import (
    Operand,
    Schedule,
    ScheduleError,
    assembled,
    concordant_format,
    pattern_levels,
    schedule,
)
from aether.sparse.tensor import VALUE_DTYPES, SparseFormatError, SparseTensor

# Density above which dense torch beats the generated SpMM: 0.08-0.25 measured on this shared
# machine (1024 x 1024 float32, width 64, one thread) by `measure_crossover` with the dense
# operand at hand; the low end is the default. A measurement saved with `save_crossover` (the
# benchmark and the stage do) overrides it, for the runtime's own dense path (which first
# densifies the sparse operand) and for a dense copy at hand (SparseLinear keeps one).
DEFAULT_CROSSOVER = 0.1
# Dense widths at which the crossover is measured (SpMV, GCN hidden, SpMM 64, wide), and the
# one reported as ``spmm_density``.
CROSSOVER_WIDTHS = (1, 16, 64, 256)
REFERENCE_WIDTH = 64
# Below this much work (`_work`) a call stays on one thread: a parallel region's start costs
# more than it saves. A stored entry weighs as much as ENTRY_WORK multiply-adds of the dense
# side (its index, its gather, the loop's control): on two threads here, SpMV and SpMM broke
# even at ~10.5k nonzeros at widths 1 and 8 and at ~2.1k at width 64.
PARALLEL_MIN_WORK = 200_000
ENTRY_WORK = 16
# Calls remembered for the fast path of `Runtime.evaluate` (cleared when full).
FAST_ENTRIES = 256
# A dense operand whose rows a kernel loads as whole vectors is copied to start on a cache
# line when each row is read by at least ALIGN_REUSE nonzeros on average: a misaligned row
# straddles lines on every load, and SpMM with L2-resident rows ran 1.8-2x slower for it
# (dnn_images_1024 and dnn_n1024_l1, widths 64 and 128); at 4-8 reads per row (the graphs,
# the power-law graph) the copy cost more than it saved. Measured on this machine.
ALIGN_BYTES = 64
ALIGN_REUSE = 16
# Kernels whose dense operand is this large (far past the 2 MiB L2 of a core) prefetch the
# rows they gather (`codegen.PREFETCH_AHEAD`); with L2-resident rows prefetching cost up to
# 28% (dnn_images_1024 14-16%, Cora at width 64 28%), measured.
PREFETCH_BYTES = 16 << 20
# Dense widths whose SpMM walks rows sharing a pattern together (`codegen` grouped walk),
# REGISTER_ROW // width rows at a time, at most GROUP_MAX: 16 to 128 float32 (1 to 8 AVX-512
# registers a row; from 256 on one row fills the register file).
GROUP_WIDTHS = (16, 128)
GROUP_MAX = 8
# Outputs from this size up are reused between repeated calls (`Kernel.bind`); smaller ones
# come from malloc's heap, whose pages stay mapped anyway.
POOL_BYTES = 1 << 20


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
        self.assembled = assembled(s)
        if s.pattern:
            access = next(acc for acc in s.assignment.accesses() if acc.tensor == s.pattern)
            self.shared = pattern_levels(s.assignment, access)
        # unsigned, as all index arithmetic in the kernels; computed once per kernel
        self.dim_args = {name: np.uint64(self.dims[name]) for name in self.dims}
        self.size = math.prod(self.shape)

    def bind(self, data: dict[str, SparseTensor | np.ndarray]):
        """A call for later operands like `data`: the same sparse tensors, dense ones of the
        same shapes and dtypes (the runtime's fast path checks both). A dense result's
        argument list is prepared here once; each call then only fills in the dense arrays.
        """
        if self.schedule.output is not None:
            return lambda tensors: self({n: _operand_data(n, t) for n, t in tensors.items()})
        dtypes = {_values(t).dtype for t in data.values()}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.result_type(*dtypes)
        # Constants are filled in now; the operands' arrays are read per call (the runtime
        # holds no array of a tensor the caller has dropped).
        template: list = []
        dense: list[tuple[int, str]] = []
        sparse: list[tuple[int, str, str, int]] = []
        threads_at = None
        for kind, name, level in self.source.args:
            if kind == "dim":
                template.append(self.dim_args[name])
            elif kind == "zero":
                template.append(dtype.type(0))
            elif kind == "threads":
                threads_at = len(template)
            elif kind == "dense":
                dense.append((len(template), name))
            else:
                sparse.append((len(template), name, kind, level))
            if kind != "dim" and kind != "zero":
                template.append(None)
        fn, size, shape, n = self.fn, max(self.size, 1), self.shape, self.size
        group = self.source.groups
        alloc = np.empty if self.source.overwrites else np.zeros
        # A vector result is the kernel's output array itself: no slice, no reshape.
        whole = len(shape) == 1 and size == n
        align = self.aligned_rows(data, dtype)
        # A large output the kernel overwrites is kept for the next call and reused once the
        # caller holds no reference to it (nor a view, nor a torch tensor over it): a fresh
        # one faults its pages in on first write, 1.65-1.9x the cost of writing mapped pages
        # (measured on 25-51 MB arrays), which is most of a memory-bound SpMM's output cost.
        spare: list = [None]
        pooled = self.source.overwrites and size * dtype.itemsize >= POOL_BYTES

        def call(tensors):
            args = template.copy()
            for at, name in dense:
                t = tensors[name]
                if type(t) is not np.ndarray:
                    t = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
                if t.dtype != dtype or not t.flags.c_contiguous:
                    t = np.ascontiguousarray(t, dtype=dtype)
                t = t if t.ndim == 1 else t.reshape(-1)
                args[at] = _line_aligned(t) if name in align else t
            for at, name, kind, level in sparse:
                t = tensors[name]
                if kind == "vals":
                    v = t.vals
                    args[at] = v if v.dtype == dtype else v.astype(dtype)
                elif kind in GROUP_ARGS:
                    args[at] = getattr(row_groups(t, group), kind)
                else:
                    args[at] = getattr(t, kind)[level]
            if threads_at is not None:
                args[threads_at] = numba.get_num_threads()
            out = spare[0]
            if out is None or sys.getrefcount(out) > 3:  # (spare, out and the argument)
                out = alloc(size, dtype)
                if pooled:
                    spare[0] = out
            out = fn(*args, out)
            return out if whole else out[:n].reshape(shape)

        return call

    def aligned_rows(self, data: dict, dtype) -> frozenset[str]:
        """The dense operands to pass cache-line aligned (see ALIGN_REUSE): rows loaded as
        vectors, a whole number of lines long, each read by many nonzeros."""
        width = self.source.width
        if not self.source.rows or (width * np.dtype(dtype).itemsize) % ALIGN_BYTES:
            return frozenset()
        nnz = sum(t.nnz for t in data.values() if isinstance(t, SparseTensor))
        return frozenset(
            name
            for name in self.source.rows
            if nnz >= ALIGN_REUSE * max(1, np.size(data[name]) // width)
        )

    def __call__(self, tensors: dict[str, SparseTensor | np.ndarray]):
        s, shape = self.schedule, self.shape
        dtypes = {_values(t).dtype for t in tensors.values()}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.result_type(*dtypes)
        align = self.aligned_rows(tensors, dtype)
        args = []
        for kind, name, level in self.source.args:
            t = tensors.get(name)
            if kind == "dim":
                args.append(self.dim_args[name])
            elif kind == "zero":
                args.append(dtype.type(0))
            elif kind == "threads":
                args.append(numba.get_num_threads())
            elif kind == "dense":  # flat, row-major: the kernel computes offsets
                flat = np.ascontiguousarray(t, dtype=dtype).reshape(-1)
                args.append(_line_aligned(flat) if name in align else flat)
            elif kind == "vals":
                args.append(t.vals.astype(dtype, copy=False))
            elif kind in GROUP_ARGS:
                args.append(getattr(row_groups(t, self.source.groups), kind))
            else:
                args.append(getattr(t, kind)[level])
        alloc = np.empty if self.source.overwrites else np.zeros
        if s.output is None:
            out = alloc(max(self.size, 1), dtype=dtype)
            return self.fn(*args, out)[: self.size].reshape(shape)
        if s.pattern:  # the output reuses this operand's leading index arrays
            p, shared = tensors[s.pattern], self.shared
            size = p.level_sizes()[shared - 1] * math.prod(shape[shared:])
            vals = self.fn(*args, alloc(size, dtype=dtype))
            pad = [None] * (len(shape) - shared)
            return SparseTensor(
                shape, s.output, p.pos[:shared] + pad, p.crd[:shared] + pad, vals, check=False
            )
        if self.assembled:  # CSR-like arrays from the kernel's two passes: no sort, no copy
            pos, crd, vals = self.fn(*args)
            dense_levels = len(shape) - 1
            return SparseTensor(
                shape,
                s.output,
                [None] * dense_levels + [pos],
                [None] * dense_levels + [crd],
                vals,
                check=False,
            )
        cap = max(16, max(t.nnz for t in tensors.values() if isinstance(t, SparseTensor)))
        args += [np.empty((cap, len(shape)), dtype=np.int64), np.empty(cap, dtype=dtype)]
        if s.workspace:
            size = int(np.prod([self.dims[v] for v in s.workspace]))
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
    """Kernels compiled in this process, keyed by expression, formats and statistics.

    ``parallel``: None (the default) runs row-parallel kernels on torch's thread count
    (``torch.get_num_threads()``) when it is above one and the work is large enough;
    True/False force it. ``crossover``: a fixed density for every shape; None reads the
    measurement per dense width that ``save_crossover`` stored for this thread count:
    ``by_width`` for this runtime's dense path (densify, then the dense op) and
    ``resident_by_width`` for callers that hold a dense copy of the sparse operand."""

    parallel: bool | None = None
    crossover: float | None = None
    kernels: dict[tuple, Kernel] = field(default_factory=dict, repr=False)
    by_width: dict[int, float] | None = field(default=None, repr=False)
    resident_by_width: dict[int, float] | None = field(default=None, repr=False)
    paths: collections.Counter = field(default_factory=collections.Counter, repr=False)
    by_id: dict[tuple, Kernel] = field(default_factory=dict, repr=False)
    _thresholds: dict[tuple, float] = field(default_factory=dict, repr=False)
    _fast: dict[tuple, tuple] = field(default_factory=dict, repr=False)

    def compile(
        self,
        a: Assignment,
        tensors: dict[str, SparseTensor | np.ndarray],
        output: Format | str | None = "infer",
        parallel: bool | None = None,
        epilogue: codegen.Epilogue | None = None,
    ) -> Kernel:
        """The kernel for these operands' formats and shapes. An `epilogue` (its bias given
        as the dense operand ``codegen.BIAS``) is fused when the schedule allows it; the
        kernel's ``source.fused`` says whether it was."""
        parallel = bool(self.parallel) if parallel is None else parallel
        operands = {n: t for n, t in tensors.items() if n != codegen.BIAS}
        sigs = tuple(_signature(n, t) for n, t in operands.items())
        prefetch = any(
            not isinstance(t, SparseTensor) and t.nbytes >= PREFETCH_BYTES
            for t in operands.values()
        )
        grouped = group_size(a, operands)
        # Parsed expressions are cached objects: look them up by identity first (hashing an
        # expression tree on every call costs microseconds), checked against the kernel's own.
        fast = (id(a), output, parallel, epilogue, prefetch, grouped, sigs)
        kernel = self.by_id.get(fast)
        if kernel is not None and kernel.schedule.assignment is a:
            return kernel
        key = (a, output, parallel, epilogue, prefetch, grouped, *sigs)
        kernel = self.kernels.get(key)
        if kernel is not None:
            self.by_id[fast] = kernel
        if kernel is None:
            start = time.perf_counter()
            s = schedule(a, [_operand(name, t) for name, t in operands.items()], output)
            src = codegen.lower(
                s, parallel=parallel, epilogue=epilogue, prefetch=prefetch, groups=grouped
            )
            fn = codegen.load(src)
            kernel = self.kernels[key] = Kernel(s, src, fn, time.perf_counter() - start)
            self.by_id[fast] = kernel
        return kernel

    def threads(self, a: Assignment, data: dict) -> int:
        """Threads for this call: torch's count when parallel and the work pays for them."""
        if self.parallel is False:
            return 1
        n = torch.get_num_threads()
        if n <= 1 and not self.parallel:
            return 1
        if not self.parallel and _work(a, data) < PARALLEL_MIN_WORK:
            return 1
        return max(1, min(n, numba.config.NUMBA_NUM_THREADS))

    def evaluate(
        self,
        expression: str | Assignment,
        output: Format | str | None = "infer",
        *,
        adaptive: bool = True,
        **tensors: SparseTensor | np.ndarray | torch.Tensor,
    ) -> SparseTensor | np.ndarray:
        """Run `expression` on `tensors`: the generated kernel, or dense when that is faster."""
        fast = self._fast_key(expression, output, adaptive, tensors)
        hit = self._fast.get(fast) if fast is not None else None
        if hit is not None and hit[0] is expression:
            for name, ref in hit[3]:
                if ref() is not tensors[name]:
                    break
            else:
                call, threads = hit[1], hit[2]
                if threads > 1 and numba.get_num_threads() != threads:
                    numba.set_num_threads(threads)
                self.paths["sparse"] += 1
                return call(tensors)
        a = _parse(expression) if isinstance(expression, str) else expression
        data = {name: _operand_data(name, t) for name, t in tensors.items()}
        missing = sorted({acc.tensor for acc in a.accesses()} - set(data))
        if missing:
            raise SparseFormatError(f"{a} needs tensors {missing}; pass them as keywords")
        *temps, a = _split(a)
        for temp in temps:
            data[temp.lhs.tensor] = self.evaluate(temp, adaptive=adaptive, **data)
        data = {acc.tensor: data[acc.tensor] for acc in a.accesses()}
        if adaptive and self.prefers_dense(data, dense_width(a, data)):
            self.paths["dense"] += 1
            return dense_einsum(a, data, self)
        data = _unique_levels(a, data)
        data = _ordered_levels(a, data, output)
        threads = self.threads(a, data)
        parallel = threads > 1 or self.parallel is True
        try:
            kernel = self.compile(a, data, output, parallel)
        except ScheduleError as exc:
            if "do not match" in str(exc) or "indices; the tensor" in str(exc):
                raise
            data = _concordant(a, data)
            try:
                kernel = self.compile(a, data, output, parallel)
            except ScheduleError as again:
                warnings.warn(f"{a} ran dense: {again}", DenseFallbackWarning, stacklevel=2)
                self.paths["dense"] += 1
                return dense_einsum(a, data, self)
        if threads > 1 and numba.get_num_threads() != threads:
            numba.set_num_threads(threads)
        if (
            fast is not None
            and not temps
            and all(data.get(n) is t for n, t in tensors.items() if isinstance(t, SparseTensor))
        ):  # nothing was converted: the next identical call may go straight to the kernel
            refs = [(n, weakref.ref(t)) for n, t in tensors.items() if isinstance(t, SparseTensor)]
            if len(self._fast) >= FAST_ENTRIES:
                self._fast.clear()
            self._fast[fast] = (expression, kernel.bind(data), threads, refs)
        self.paths["sparse"] += 1
        return kernel(data)

    def _fast_key(self, expression, output, adaptive: bool, tensors: dict) -> tuple | None:
        """A key for repeated calls: the same expression object, output, operand names, sparse
        tensor objects (by identity, checked through weak references), dense shapes and
        dtypes, and threads. None when an operand is something else (torch sparse layouts are
        converted first). Built on every call, so kept to tuple appends."""
        key = [id(expression), output, adaptive, self.crossover, id(self.by_width)]
        key.append(torch.get_num_threads())  # (a new crossover above decides anew)
        key += tensors
        for t in tensors.values():
            cls = type(t)
            if cls is SparseTensor:
                key.append(id(t))
            elif cls is np.ndarray or (isinstance(t, torch.Tensor) and t.layout == torch.strided):
                key += (t.shape, t.dtype)
            else:
                return None
        try:
            return tuple(key) if hash(output) is not None else None
        except TypeError:
            return None

    def prefers_dense(
        self,
        data: dict[str, SparseTensor | np.ndarray],
        width: int | None = None,
        resident: bool = False,
    ) -> bool:
        """Whether dense execution is faster: density against the crossover for this width,
        for this runtime's dense path or (`resident`) for a caller with a dense copy."""
        sparse = [t for t in data.values() if isinstance(t, SparseTensor)]
        if not sparse:
            return True
        return max(t.density() for t in sparse) >= self.threshold(width, resident)

    def threshold(self, width: int | None = None, resident: bool = False) -> float:
        """The crossover density for a dense width (None: the measurement's reference width).

        Measured per width (``measure_crossover``) and interpolated in log(width) between the
        measured widths; a fixed ``crossover`` overrides it; without any measurement for this
        thread count, ``DEFAULT_CROSSOVER``."""
        if self.crossover is not None:
            return self.crossover
        if self.by_width is None:
            self.by_width = load_crossover()
        if self.resident_by_width is None:
            self.resident_by_width = load_crossover(resident=True)
        table = self.resident_by_width if resident else self.by_width
        if not table:
            return DEFAULT_CROSSOVER
        key = (id(table), width)  # memoized: the runtime asks on every call
        if key not in self._thresholds:
            widths = sorted(table)
            if width is None:
                width = REFERENCE_WIDTH if REFERENCE_WIDTH in table else widths[-1]
            x = np.log(np.clip(width, widths[0], widths[-1]))
            ys = [table[w] for w in widths]
            self._thresholds[key] = float(np.interp(x, np.log(widths), ys))
        return self._thresholds[key]

    def densify(self, t: SparseTensor) -> np.ndarray:
        """The dense array of a sparse tensor through a generated copy kernel (``D(i,j) =
        A(i,j)``): 0.5-1.9 ms for a 1024 x 1024 matrix at density 0.5 in CSR, CSC, COO or DCSR,
        against 19 ms for numpy's scatter of `SparseTensor.coords` (measured, one thread)."""
        if t.block is not None:
            mb, nb, r, c = t.shape
            return self.densify(t.stored()).transpose(0, 2, 1, 3).reshape(mb * r, nb * c)
        copy, data = _copy("".join(chr(97 + n) for n in range(t.order))), {"A": t}
        try:
            kernel = self.compile(copy, data, None, self.threads(copy, data) > 1)
        except ScheduleError:
            return t.numpy()
        return kernel(data)


def dense_einsum(
    a: Assignment, data: dict[str, SparseTensor | np.ndarray], rt: Runtime | None = None
) -> np.ndarray:
    """The expression with dense torch ops: the reference semantics and the fallback. Sparse
    operands are densified by `rt`'s generated copy kernels when given, else by numpy."""
    *temps, a = split_reductions(a)
    data = dict(data)
    for temp in temps:
        data[temp.lhs.tensor] = dense_einsum(temp, data, rt)
    letters: dict[str, str] = {}

    def spec(indices: tuple[str, ...]) -> str:
        return "".join(letters.setdefault(i, chr(97 + len(letters))) for i in indices)

    def dense(name: str) -> torch.Tensor:
        t = data[name]
        if isinstance(t, SparseTensor):
            return torch.from_numpy(rt.densify(t) if rt is not None else t.numpy())
        return torch.from_numpy(np.asarray(t))

    out_spec = spec(a.lhs.indices)
    factors = product_factors(a.rhs)
    if factors is not None:  # one contraction: no outer product of the factors materialized
        terms = ",".join(spec(f.indices) for f in factors)
        return torch.einsum(f"{terms}->{out_spec}", *(dense(f.tensor) for f in factors)).numpy()

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


@functools.lru_cache(maxsize=16)
def _copy(idx: str) -> Assignment:
    """``D(idx) = A(idx)``, one object per order (the fast path keys on identity)."""
    return parse(f"D({','.join(idx)}) = A({','.join(idx)})")


_parse = functools.lru_cache(maxsize=512)(parse)
parse_cached = _parse  # one Assignment object per text: kernels are then found by identity
_split = functools.lru_cache(maxsize=512)(split_reductions)


def _signature(name: str, t: SparseTensor | np.ndarray) -> tuple:
    """What the schedule depends on: format, shape and level sizes (dense: the shape)."""
    if isinstance(t, SparseTensor):
        return (name, t.format, t.shape, tuple(t.level_sizes()))
    return (name, t.shape)


def _line_aligned(a: np.ndarray) -> np.ndarray:
    """Flat `a` starting on a cache line: itself when it does, else an aligned copy."""
    if a.ctypes.data % ALIGN_BYTES == 0:
        return a
    buf = np.empty(a.size + ALIGN_BYTES // a.itemsize, a.dtype)
    start = (-buf.ctypes.data % ALIGN_BYTES) // a.itemsize
    out = buf[start : start + a.size]
    out[...] = a
    return out


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


def _ordered_levels(a: Assignment, data: dict, output) -> dict:
    """Sort unordered operands (SpGEMM results) unless the kernel only walks them.

    A lone sparse operand that every term needs, into a dense result, is read segment by
    segment in any order (SpMV, SpMM); merges, located loops and sparse results need order.
    """
    sparse = [acc.tensor for acc in a.accesses() if isinstance(data[acc.tensor], SparseTensor)]
    if all(data[name].format.ordered for name in sparse):
        return data
    if len(sparse) == 1 and output is None and is_zero(a.rhs, set(sparse)):
        return data
    return {k: (v.sorted() if isinstance(v, SparseTensor) else v) for k, v in data.items()}


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
    width: int | None = None,
    densities: tuple[float, ...] = (0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7),
    repeats: int = 5,
    seed: int = 0,
    widths: tuple[int, ...] = CROSSOVER_WIDTHS,
) -> dict:
    """Time the generated SpMM against dense execution per dense width and density.

    Dense execution is timed twice: as the runtime runs it (the sparse operand densified by
    a generated copy kernel, then torch.matmul: ``converted_s``) and with a dense copy at
    hand (torch.matmul alone: ``dense_s``). All run on torch's current thread count.
    Returns the rows, ``by_width`` (per width, the density above which the runtime's dense
    path was faster: 0.0 when it always was, 1.0 when never), ``resident_by_width`` (the same
    for a dense copy at hand) and ``spmm_density`` (the reference width's runtime crossover).
    ``save_crossover`` makes runtimes use it."""
    widths = (width,) if width is not None else tuple(widths)
    rng = np.random.default_rng(seed)
    rt, dense_rt = Runtime(crossover=2.0), Runtime(crossover=0.0)
    matrices = []
    for density in densities:
        a = rng.standard_normal((n, n)).astype(np.float32)
        a[rng.random((n, n)) >= density] = 0
        matrices.append((density, SparseTensor.from_dense(a, "csr"), torch.from_numpy(a)))
    rows, by_width, resident = [], {}, {}
    for w in widths:
        b = rng.standard_normal((n, w)).astype(np.float32)
        tb = torch.from_numpy(b)
        part = []
        for density, sa, ta in matrices:

            def sparse(sa=sa, b=b):
                return rt.evaluate("C(i,j) = A(i,k) * B(k,j)", None, A=sa, B=b)

            def converted(sa=sa, b=b):
                return dense_rt.evaluate("C(i,j) = A(i,k) * B(k,j)", None, A=sa, B=b)

            sparse()  # compile and warm up
            part.append(
                {
                    "width": w,
                    "density": density,
                    "sparse_s": _median_time(sparse, repeats),
                    "converted_s": _median_time(converted, repeats),
                    "dense_s": _median_time(lambda ta=ta, tb=tb: ta @ tb, repeats),
                }
            )
        by_width[w] = _crossing(part, "converted_s")
        resident[w] = _crossing(part, "dense_s")
        rows += part
    reference = REFERENCE_WIDTH if REFERENCE_WIDTH in by_width else widths[-1]
    return {
        "n": n,
        "widths": list(widths),
        "threads": torch.get_num_threads(),
        "rows": rows,
        "by_width": {str(w): d for w, d in by_width.items()},
        "resident_by_width": {str(w): d for w, d in resident.items()},
        "spmm_density": by_width[reference],
    }


def _crossing(rows: list[dict], dense: str) -> float:
    """Where log(sparse/dense time) crosses zero, interpolated between measured densities
    (`dense`: which dense time)."""
    ratios = [(r["density"], np.log(r["sparse_s"] / r[dense])) for r in rows]
    for (d0, r0), (d1, r1) in itertools.pairwise(ratios):
        if r0 < 0 <= r1:
            return float(d0 + (d1 - d0) * (-r0) / (r1 - r0))
    return 0.0 if ratios and ratios[0][1] >= 0 else 1.0


def save_crossover(measured: dict) -> Path:
    """Store a measurement where every later runtime (in any process) reads it: one file per
    machine (the kernel cache), one entry per thread count."""
    path = codegen.cache_dir() / "crossover.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    threads = str(measured.get("threads", torch.get_num_threads()))
    tables = {}
    for key, by_width in (("by_threads", "by_width"), ("resident_by_threads", "resident_by_width")):
        table = saved.get(key) if isinstance(saved.get(key), dict) else {}
        if by_width in measured:
            table[threads] = measured[by_width]
        tables[key] = table
    return io.write_json(path, measured | tables)


def load_crossover(resident: bool = False) -> dict[int, float]:
    """The saved crossover per dense width for torch's current thread count ({} if none),
    for the runtime's dense path or (`resident`) for a dense copy at hand."""
    path = codegen.cache_dir() / "crossover.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    key = "resident_by_threads" if resident else "by_threads"
    entry = (saved.get(key) or {}).get(str(torch.get_num_threads()))
    try:
        return {int(w): float(d) for w, d in (entry or {}).items()}
    except (TypeError, ValueError):
        return {}


GROUP_ARGS = ("chunks", "rest")
# Analyses by pattern: (id(pos), id(crd), size) -> (weak refs to both arrays, the groups).
_GROUPS: dict[tuple[int, int, int], tuple[weakref.ref, weakref.ref, groups.RowGroups]] = {}


def row_groups(t: SparseTensor, size: int) -> groups.RowGroups:
    """`groups.row_groups` of a CSR tensor's pattern, analysed once per pattern and size:
    tensors over the same index arrays (attention probabilities on one pattern) share it.
    The runtime treats index arrays as fixed; values are read afresh on every call."""
    pos, crd = t.pos[1], t.crd[1]
    key = (id(pos), id(crd), size)
    hit = _GROUPS.get(key)
    if hit is not None and hit[0]() is pos and hit[1]() is crd:
        return hit[2]
    if len(_GROUPS) >= FAST_ENTRIES:
        for k in [k for k, (p, c, _) in _GROUPS.items() if p() is None or c() is None]:
            del _GROUPS[k]
    found = groups.row_groups(pos, crd, size)
    _GROUPS[key] = (weakref.ref(pos), weakref.ref(crd), found)
    return found


def group_size(a: Assignment, operands: dict) -> int:
    """Rows per chunk for the grouped walk (`codegen._Lowerer.grouped_walk`) of an SpMM-like
    expression whose one sparse operand is CSR and whose rows share patterns for at least
    `groups.MIN_SHARE` of its nonzeros; 0 when it does not apply."""
    sparse = [t for t in operands.values() if isinstance(t, SparseTensor)]
    if len(sparse) != 1 or len(a.lhs.indices) != 2:
        return 0
    t = sparse[0]
    csr = (Level.DENSE, Level.COMPRESSED)
    if t.block is not None or t.format.levels != csr or t.format.mode_order != (0, 1):
        return 0
    width = dense_width(a, operands)
    if not GROUP_WIDTHS[0] <= width <= GROUP_WIDTHS[1]:
        return 0
    size = min(GROUP_MAX, codegen.REGISTER_ROW // width)
    return size if row_groups(t, size).share >= groups.MIN_SHARE else 0


def dense_width(a: Assignment, data: dict) -> int:
    """The product of the sizes of the index variables no sparse operand stores (the width
    of the dense side: SpMM's columns, 1 for SpMV)."""
    sparse_vars = {
        v for acc in a.accesses() if isinstance(data[acc.tensor], SparseTensor) for v in acc.indices
    }
    dims = {}
    for acc in a.accesses():
        for v, size in zip(acc.indices, np.shape(data[acc.tensor]), strict=False):
            dims[v] = size
    return int(math.prod(dims[v] for v in dims if v not in sparse_vars))


def _work(a: Assignment, data: dict) -> int:
    """A kernel's work, roughly: nonzeros of the sparse operands times the dense width plus
    each entry's own cost (ENTRY_WORK)."""
    nnz = sum(t.nnz for t in data.values() if isinstance(t, SparseTensor))
    return nnz * (ENTRY_WORK + max(1, dense_width(a, data)))


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
