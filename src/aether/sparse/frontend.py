"""The PyTorch front end: `@`, torch.matmul, einsum, elementwise ops and sums on SparseTensor.

Each operation becomes an index-notation expression for the runtime. Dense results come back
as torch tensors, sparse ones as SparseTensor. An operation this front end does not know runs
on dense copies with a DenseFallbackWarning. Inference only: no autograd through kernels.
"""

from __future__ import annotations

import functools
import string
import warnings

import numpy as np
import torch

from aether.sparse import runtime
from aether.sparse.notation import Access, Add, Assignment, Expr, Mul, check
from aether.sparse.runtime import DenseFallbackWarning
from aether.sparse.tensor import SparseFormatError, SparseTensor


def _torch(x):
    return torch.from_numpy(x) if isinstance(x, np.ndarray) else x


def _assign(out: str, parts: list[tuple[str, str]], op=Mul) -> Assignment:
    expr: Expr | None = None
    for name, idx in parts:
        acc = Access(name, tuple(idx))
        expr = acc if expr is None else op(expr, acc)
    a = Assignment(Access("Out", tuple(out)), expr)
    check(a)
    return a


def einsum(spec: str, *operands, output="infer"):
    """``einsum("ik,kj->ij", A, B)`` with any mix of SparseTensor and dense operands."""
    if "->" not in spec:
        raise SparseFormatError(f"einsum spec {spec!r} needs an explicit '->output'")
    a = _einsum_assignment(spec.replace(" ", ""))
    if len(a.accesses()) != len(operands):
        raise SparseFormatError(f"{spec!r} names {len(a.accesses())} operands, got {len(operands)}")
    names = [acc.tensor for acc in a.accesses()]
    result = runtime.RUNTIME.evaluate(a, output, **dict(zip(names, operands, strict=True)))
    return _torch(result)


@functools.lru_cache(maxsize=256)
def _einsum_assignment(spec: str) -> Assignment:
    inputs, out = spec.split("->")
    terms = inputs.split(",")
    names = [string.ascii_uppercase[n] for n in range(len(terms))]
    return _assign(out, list(zip(names, terms, strict=True)))


def matmul(a, b):
    """``a @ b`` for sparse @ dense (SpMV, SpMM), dense @ sparse and sparse @ sparse."""
    if isinstance(a, SparseTensor) and a.block is not None:
        return _blocked_matmul(a, b)
    if isinstance(b, SparseTensor) and b.block is not None:
        b = b.to_dense()
    if isinstance(a, torch.Tensor) and a.ndim > 2:
        lead = a.shape[:-1]
        return matmul(a.reshape(-1, a.shape[-1]), b).reshape(*lead, -1)
    if _order(b) == 1:
        return einsum("ij,j->i", a, b)
    if _order(a) == 1:
        return einsum("k,kj->j", a, b)
    both = isinstance(a, SparseTensor) and isinstance(b, SparseTensor)
    return einsum("ik,kj->ij", a, b, output="infer" if both else None)


def _order(x) -> int:
    return x.order if isinstance(x, SparseTensor) else x.ndim


# One expression object for every call (the runtime's fast path keys on its identity).
BLOCKED_MATMUL = Assignment(
    Access("Out", ("i", "u", "j")),
    Mul(Access("A", ("i", "k", "u", "v")), Access("B", ("k", "v", "j"))),
)


def _blocked_matmul(a: SparseTensor, b) -> torch.Tensor:
    """Blocked CSR @ dense, as the order-4 expression the compiler sees."""
    if isinstance(b, SparseTensor):
        b = b.to_dense()
    mb, kb, r, c = a.shape
    vec = b.ndim == 1
    b2 = (b[:, None] if vec else b).reshape(kb, c, -1)
    out = runtime.RUNTIME.evaluate(BLOCKED_MATMUL, None, A=a.stored(), B=b2)
    out = out.reshape(mb * r, -1)
    return _torch(out[:, 0] if vec else out)


def elementwise(op: str, a, b):
    """``a + b`` and ``a * b``: co-iteration as union and intersection."""
    if not isinstance(a, SparseTensor):
        a, b = b, a
    if isinstance(b, int | float):
        if op == "*":
            return SparseTensor(a.shape, a.format, a.pos, a.crd, a.vals * b, block=a.block)
        return _torch(a.numpy() + b)
    if _shape(a) != _shape(b):
        raise SparseFormatError(f"shapes {_shape(a)} and {_shape(b)} differ; {op} needs equal")
    idx = string.ascii_lowercase[: a.order]
    expr = _assign(idx, [("A", idx), ("B", idx)], Add if op == "+" else Mul)
    return _torch(runtime.RUNTIME.evaluate(expr, **_unblock(A=a, B=b)))


def _shape(x) -> tuple[int, ...]:
    return x.logical_shape if isinstance(x, SparseTensor) else tuple(x.shape)


def _unblock(**tensors):
    return {
        k: (v.to_dense() if isinstance(v, SparseTensor) and v.block else v)
        for k, v in tensors.items()
    }


def reduce_sum(t: SparseTensor, dim: int | None = None) -> torch.Tensor:
    idx = string.ascii_lowercase[: t.order]
    out = "" if dim is None else idx.replace(idx[dim], "")
    return einsum(f"{idx}->{out}", t.to_dense() if t.block else t)


_HANDLERS = {
    torch.matmul: matmul,
    torch.mm: matmul,
    torch.mv: matmul,
    torch.Tensor.matmul: matmul,
    torch.Tensor.__matmul__: matmul,
    torch.Tensor.__rmatmul__: lambda a, b: matmul(b, a),
    torch.sparse.mm: matmul,
    torch.add: lambda a, b: elementwise("+", a, b),
    torch.Tensor.__add__: lambda a, b: elementwise("+", a, b),
    torch.mul: lambda a, b: elementwise("*", a, b),
    torch.Tensor.__mul__: lambda a, b: elementwise("*", a, b),
    torch.sum: reduce_sum,
    torch.einsum: lambda spec, *ops: einsum(spec, *(ops[0] if len(ops) == 1 else ops)),
    torch.nn.functional.linear: lambda x, w, b=None: _linear(x, w, b),
}


def _linear(x, w, b=None):
    y = matmul(x, w.transpose()) if isinstance(w, SparseTensor) else x @ w.T
    return y if b is None else y + b


def dispatch(func, args, kwargs):
    """`__torch_function__`: a known op compiles; anything else runs dense, with a warning."""
    handler = _HANDLERS.get(func)
    if handler is not None:
        return handler(*args, **kwargs)
    warnings.warn(
        f"{getattr(func, '__name__', func)} has no sparse kernel; running it dense",
        DenseFallbackWarning,
        stacklevel=3,
    )

    def dense(x):
        if isinstance(x, SparseTensor):
            return x.to_dense()
        if isinstance(x, list | tuple):
            return type(x)(dense(y) for y in x)
        return x

    return func(*dense(list(args)), **{k: dense(v) for k, v in kwargs.items()})
