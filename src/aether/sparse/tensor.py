"""The sparse tensor: per-level arrays in a Format, and conversions to and from torch/scipy.

Every conversion goes through sorted coordinates (vectorized numpy), so one builder covers
all formats: ``from_coords`` sorts by the format's mode order, sums duplicates and then
builds each level from its parent positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from aether.sparse import formats as F
from aether.sparse.formats import Format, Level, SparseFormatError
from aether.sparse.kernels import sort_segments

VALUE_DTYPES = (np.float32, np.float64)
INDEX_DTYPES = (np.int32, np.int64)


class SparseTensor:
    """A tensor stored level by level: ``pos[k]``/``crd[k]`` per level (None when unused).

    ``block`` is set for blocked CSR: the stored order-4 tensor (row block, column block, row
    in block, column in block) is then the matrix of shape ``logical_shape``.
    """

    def __init__(
        self,
        shape: Sequence[int],
        fmt: Format,
        pos: Sequence[np.ndarray | None],
        crd: Sequence[np.ndarray | None],
        vals: np.ndarray,
        *,
        block: tuple[int, int] | None = None,
        check: bool = True,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.format = fmt
        self.pos = list(pos)
        self.crd = list(crd)
        self.vals = vals
        self.block = block
        self._stored: SparseTensor | None = None  # `stored()`, made on first use
        if check:
            _validate(self)

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_coords(
        cls,
        coords: np.ndarray,
        values: np.ndarray,
        shape: Sequence[int],
        fmt: Format | str = "csf",
        *,
        index_dtype: type = np.int64,
        assume_sorted: bool = False,
        assume_unique: bool = False,
        block: tuple[int, int] | None = None,
    ) -> SparseTensor:
        """Build any format from (nnz x order) coordinates; duplicates are summed.

        ``assume_sorted`` promises the coordinates are sorted in the format's storage order and
        ``assume_unique`` that none repeats (generated kernels promise both, which skips the
        sort, the duplicate pass and the checks).
        """
        shape = tuple(int(s) for s in shape)
        fmt = F.parse(fmt, len(shape))
        values = np.asarray(values)
        if values.dtype not in VALUE_DTYPES:
            values = values.astype(np.float32 if values.dtype == np.float16 else np.float64)
        coords = np.asarray(coords)
        if coords.ndim != 2 or coords.shape != (len(values), len(shape)):
            raise SparseFormatError(
                f"coordinates must be (nnz, {len(shape)}) for {len(values)} values; "
                f"got {coords.shape}"
            )
        trusted = assume_sorted and assume_unique
        if not trusted and coords.size and ((coords < 0).any() or (coords >= shape).any()):
            raise SparseFormatError(f"coordinates fall outside the shape {shape}")
        dims = [shape[m] for m in fmt.mode_order]
        c = [coords[:, m].astype(np.int64, copy=False) for m in fmt.mode_order]
        v = values
        n = len(v)
        if not assume_sorted and n:
            order = np.lexsort(c[::-1])
            c, v = [col[order] for col in c], v[order]
        if not assume_unique and n > 1:
            first = np.ones(n, dtype=bool)
            first[1:] = np.any([col[1:] != col[:-1] for col in c], axis=0)
            if not first.all():
                starts = np.flatnonzero(first)
                v = np.add.reduceat(v, starts)
                c = [col[starts] for col in c]
                n = len(v)
        pos: list[np.ndarray | None] = []
        crd: list[np.ndarray | None] = []
        parent: np.ndarray | None = np.zeros(n, dtype=np.int64)
        n_parents = 1
        last = fmt.order - 1
        for k, (level, size) in enumerate(zip(fmt.levels, dims, strict=True)):
            if level is Level.DENSE:
                parent = (np.arange(n) if parent is None else parent) * size + c[k]
                n_parents *= size
                pos.append(None)
                crd.append(None)
            elif level is Level.COMPRESSED:
                if k == last or (k == 0 and not fmt.unique):
                    new = None  # unique coordinates: every entry starts a new position
                else:
                    new = np.ones(n, dtype=bool)
                    new[1:] = (parent[1:] != parent[:-1]) | (c[k][1:] != c[k][:-1])
                kept = parent if new is None else parent[new]
                counts = np.bincount(kept, minlength=n_parents)
                pos.append(np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype))
                crd.append((c[k] if new is None else c[k][new]).astype(index_dtype))
                parent = None if new is None else np.cumsum(new) - 1
                n_parents = n if new is None else int(new.sum())
            else:
                pos.append(None)
                crd.append(c[k].astype(index_dtype))
        if parent is None:  # the positions are the entries, in order
            vals = np.ascontiguousarray(v)
        else:
            vals = np.zeros(n_parents, dtype=v.dtype)
            vals[parent] = v
        return cls(shape, fmt, pos, crd, vals, block=block, check=False)

    @classmethod
    def from_dense(
        cls,
        x: torch.Tensor | np.ndarray,
        fmt: Format | str = "csr",
        *,
        block: tuple[int, int] | None = None,
        index_dtype: type = np.int64,
    ) -> SparseTensor:
        """The nonzeros of a dense array; ``block=(r, c)`` gives blocked CSR."""
        a = _numpy(x)
        if block is not None:
            return _bcsr(a, block, index_dtype)
        if fmt == "csr" and a.ndim == 1:
            fmt = "vector"
        fmt = F.parse(fmt, a.ndim)
        coords = np.argwhere(a != 0)  # row-major: sorted when the mode order is the identity
        in_order = fmt.mode_order == tuple(range(a.ndim))
        return cls.from_coords(
            coords,
            a[tuple(coords.T)],
            a.shape,
            fmt,
            index_dtype=index_dtype,
            assume_sorted=in_order,
        )

    @classmethod
    def from_scipy(cls, m: sp.sparray | sp.spmatrix, fmt: Format | str = "csr") -> SparseTensor:
        fmt = F.parse(fmt, 2)
        m = sp.coo_array(m)
        coords = np.stack([m.row, m.col], axis=1)
        index_dtype = m.row.dtype if m.row.dtype in INDEX_DTYPES else np.int64
        return cls.from_coords(coords, m.data, m.shape, fmt, index_dtype=index_dtype)

    @classmethod
    def from_torch(cls, t: torch.Tensor, fmt: Format | str | None = None) -> SparseTensor:
        """From torch.sparse (COO, CSR, CSC, BSR) or a dense tensor; keeps the layout's format."""
        if t.layout == torch.strided:
            return cls.from_dense(t, fmt or "csr")
        if t.layout == torch.sparse_bsr:
            return cls.from_dense(t.to_dense(), block=tuple(t.values().shape[1:3]))
        default = {torch.sparse_coo: "coo", torch.sparse_csr: "csr", torch.sparse_csc: "csc"}
        if t.layout not in default:
            raise SparseFormatError(f"unsupported torch layout {t.layout}")
        coo = t.to_sparse_coo().coalesce() if t.layout != torch.sparse_coo else t.coalesce()
        coords = coo.indices().T.numpy()
        return cls.from_coords(coords, coo.values().numpy(), t.shape, fmt or default[t.layout])

    # --- conversion ---------------------------------------------------------------------

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """(nnz x order) coordinates in mode order, and their values (stored entries)."""
        parents, coordinates = [], []
        n = 1
        for k, level in enumerate(self.format.levels):
            size = self.shape[self.format.mode_order[k]]
            if level is Level.DENSE:
                at = np.arange(n * size)
                parents.append(at // size)
                coordinates.append(at % size)
            elif level is Level.COMPRESSED:
                parents.append(np.repeat(np.arange(n), np.diff(self.pos[k])))
                coordinates.append(self.crd[k].astype(np.int64))
            else:
                parents.append(np.arange(n))
                coordinates.append(self.crd[k].astype(np.int64))
            n = len(coordinates[-1])
        order = self.format.order
        stored = np.empty((n, order), dtype=np.int64)
        p = np.arange(n)
        for k in reversed(range(order)):
            stored[:, k] = coordinates[k][p]
            p = parents[k][p]
        out = np.empty_like(stored)
        out[:, list(self.format.mode_order)] = stored
        return out, self.vals

    def numpy(self) -> np.ndarray:
        """The dense array (logical shape for blocked CSR)."""
        coords, vals = self.coords()
        out = np.zeros(self.shape, dtype=self.vals.dtype)
        if self.format.unique:  # (np.add.at, for repeated coordinates, is far slower)
            out[tuple(coords.T)] = vals
        else:
            np.add.at(out, tuple(coords.T), vals)
        if self.block is not None:
            mb, nb, r, c = self.shape
            out = out.transpose(0, 2, 1, 3).reshape(mb * r, nb * c)
        return out

    def to_dense(self) -> torch.Tensor:
        return torch.from_numpy(self.numpy())

    def to_scipy(self) -> sp.csr_array:
        if len(self.logical_shape) != 2:
            raise SparseFormatError(f"scipy.sparse holds matrices; this tensor is {self.shape}")
        if self.block is not None:
            return sp.csr_array(self.numpy())
        coords, vals = self.coords()
        return sp.csr_array((vals, (coords[:, 0], coords[:, 1])), shape=self.shape)

    def to_torch_sparse(self, layout: torch.layout = torch.sparse_csr) -> torch.Tensor:
        coords, vals = self.coords()
        coo = torch.sparse_coo_tensor(
            torch.from_numpy(coords.T.copy()),
            torch.from_numpy(vals),
            self.shape,
            check_invariants=True,
        ).coalesce()
        return coo if layout == torch.sparse_coo else coo.to_sparse(layout=layout)

    def to(self, fmt: Format | str) -> SparseTensor:
        """The same tensor in another format."""
        fmt = F.parse(fmt, self.order)
        if fmt == self.format:
            return self
        coords, vals = self.coords()
        keep = vals != 0
        return SparseTensor.from_coords(coords[keep], vals[keep], self.shape, fmt)

    def sorted(self) -> SparseTensor:
        """The same tensor with every level ordered (a no-op when it already is).

        An unordered last level below dense levels (a SpGEMM result) is sorted segment by
        segment in place of a full re-build; anything else goes through coordinates."""
        if self.format.ordered:
            return self
        fmt = self.format.with_order(True)
        last = self.order - 1
        if self.format.levels[last] is Level.COMPRESSED and all(
            level is Level.DENSE for level in self.format.levels[:last]
        ):
            crd, vals = self.crd[last].copy(), self.vals.copy()
            sort_segments(self.pos[last], crd, vals)
            return SparseTensor(
                self.shape,
                fmt,
                self.pos,
                [*self.crd[:last], crd],
                vals,
                block=self.block,
                check=False,
            )
        coords, vals = self.coords()
        return SparseTensor.from_coords(coords, vals, self.shape, fmt, block=self.block)

    def transpose(self, perm: Sequence[int] | None = None) -> SparseTensor:
        """The permuted tensor without copying: only the mode order changes (CSR.T is CSC)."""
        perm = tuple(reversed(range(self.order))) if perm is None else tuple(perm)
        if sorted(perm) != list(range(self.order)) or self.block is not None:
            raise SparseFormatError(f"cannot transpose {self} by {perm}")
        inverse = {m: j for j, m in enumerate(perm)}
        fmt = Format(
            self.format.levels,
            tuple(inverse[m] for m in self.format.mode_order),
            self.format.unique,
            ordered=self.format.ordered,
        )
        shape = tuple(self.shape[m] for m in perm)
        return SparseTensor(shape, fmt, self.pos, self.crd, self.vals, check=False)

    @property
    def T(self) -> SparseTensor:
        return self.transpose()

    # --- properties ---------------------------------------------------------------------

    def stored(self) -> SparseTensor:
        """Blocked CSR's stored order-4 tensor over the same arrays, made once per tensor
        (the runtime recognizes repeated operands by identity); itself when not blocked."""
        if self.block is None:
            return self
        if self._stored is None:
            self._stored = SparseTensor(
                self.shape, self.format, self.pos, self.crd, self.vals, check=False
            )
        return self._stored

    @property
    def order(self) -> int:
        return len(self.shape)

    @property
    def logical_shape(self) -> tuple[int, ...]:
        if self.block is None:
            return self.shape
        mb, nb, r, c = self.shape
        return (mb * r, nb * c)

    @property
    def dtype(self) -> np.dtype:
        return self.vals.dtype

    @property
    def nnz(self) -> int:
        return len(self.vals)

    def level_sizes(self) -> list[int]:
        """Positions per level: the cost model's sparsity statistics (fan-out = ratio)."""
        sizes, n = [], 1
        for k, level in enumerate(self.format.levels):
            if level is Level.DENSE:
                n *= self.shape[self.format.mode_order[k]]
            elif level is Level.COMPRESSED:
                n = len(self.crd[k])
            sizes.append(n)
        return sizes

    def density(self) -> float:
        total = float(math.prod(self.shape))
        return self.nnz / total if total else 0.0

    def __repr__(self) -> str:
        return (
            f"SparseTensor(shape={self.logical_shape}, format={self.format}, nnz={self.nnz}, "
            f"dtype={self.dtype})"
        )

    # --- PyTorch front end (see aether.sparse.frontend) ---------------------------------

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        from aether.sparse import frontend

        return frontend.dispatch(func, args, kwargs or {})

    def __matmul__(self, other):
        from aether.sparse import frontend

        return frontend.matmul(self, other)

    def __rmatmul__(self, other):
        from aether.sparse import frontend

        return frontend.matmul(other, self)

    def __add__(self, other):
        from aether.sparse import frontend

        return frontend.elementwise("+", self, other)

    __radd__ = __add__

    def __mul__(self, other):
        from aether.sparse import frontend

        return frontend.elementwise("*", self, other)

    __rmul__ = __mul__

    def sum(self, dim: int | None = None):
        from aether.sparse import frontend

        return frontend.reduce_sum(self, dim)


def _numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.dtype not in VALUE_DTYPES:
        raise SparseFormatError(f"unsupported dtype {a.dtype}; use float32 or float64")
    return a


def _bcsr(a: np.ndarray, block: tuple[int, int], index_dtype: type) -> SparseTensor:
    r, c = block
    if a.ndim != 2 or a.shape[0] % r or a.shape[1] % c:
        raise SparseFormatError(f"blocked CSR needs a matrix divisible by the block {block}")
    blocks = a.reshape(a.shape[0] // r, r, a.shape[1] // c, c).transpose(0, 2, 1, 3)
    nz = np.argwhere(blocks.any(axis=(2, 3)))
    inner = np.stack(np.meshgrid(np.arange(r), np.arange(c), indexing="ij"), -1).reshape(-1, 2)
    coords = np.concatenate(
        [np.repeat(nz, len(inner), axis=0), np.tile(inner, (len(nz), 1))], axis=1
    )
    values = blocks[tuple(coords.T)]
    return SparseTensor.from_coords(
        coords, values, blocks.shape, F.BCSR, index_dtype=index_dtype, block=block
    )


def _validate(t: SparseTensor) -> None:
    """Malformed index arrays are refused here, naming the level and what is wrong."""
    fmt = t.format
    if len(t.shape) != fmt.order or len(t.pos) != fmt.order or len(t.crd) != fmt.order:
        raise SparseFormatError(f"shape {t.shape} and format {fmt} disagree on the order")
    if t.vals.dtype not in VALUE_DTYPES:
        raise SparseFormatError(f"values have dtype {t.vals.dtype}; use float32 or float64")
    n = 1
    for k, level in enumerate(fmt.levels):
        size = t.shape[fmt.mode_order[k]]
        if level is Level.DENSE:
            n *= size
            continue
        crd = t.crd[k]
        if crd is None or crd.dtype not in INDEX_DTYPES or crd.ndim != 1:
            raise SparseFormatError(f"level {k} ({level.value}) needs a 1-d int32/int64 crd array")
        if len(crd) and (crd.min() < 0 or crd.max() >= size):
            raise SparseFormatError(f"level {k}: coordinates must lie in 0..{size - 1}")
        if level is Level.COMPRESSED:
            pos = t.pos[k]
            if pos is None or pos.dtype not in INDEX_DTYPES or pos.shape != (n + 1,):
                raise SparseFormatError(
                    f"level {k}: pos must be an int32/int64 array of length {n + 1}"
                )
            if pos[0] != 0 or pos[-1] != len(crd) or (np.diff(pos) < 0).any():
                raise SparseFormatError(
                    f"level {k}: pos must start at 0, never decrease and end at len(crd)"
                )
            if (fmt.unique or k > 0) and (fmt.ordered or k < fmt.order - 1):
                inside = np.ones(len(crd), dtype=bool)
                inside[pos[1:-1][pos[1:-1] < len(crd)]] = False
                if len(crd) > 1 and (np.diff(crd.astype(np.int64))[inside[1:]] <= 0).any():
                    raise SparseFormatError(
                        f"level {k}: coordinates must be strictly increasing within each segment"
                    )
            n = len(crd)
        elif len(crd) != n:
            raise SparseFormatError(f"level {k}: a singleton level needs {n} coordinates")
    if t.vals.shape != (n,):
        raise SparseFormatError(f"expected {n} values for this structure, got {t.vals.shape}")
