"""Model building blocks on sparse kernels: pruned linear, GCN layer, sparse attention.

Each is a torch.nn.Module whose forward calls the runtime (inference: no gradients flow
through the generated kernels). The runtime picks dense execution when the weights are
denser than the measured crossover.
"""

from __future__ import annotations

import weakref

import numba
import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from aether.sparse import codegen, runtime
from aether.sparse.kernels import softmax_segments, transpose
from aether.sparse.schedule import ScheduleError
from aether.sparse.tensor import SparseFormatError, SparseTensor

LINEAR = "Yt(o,b) = W(o,i) * Xt(i,b)"
SPMM = "C(i,j) = A(i,k) * B(k,j)"


class FusedSpMM:
    """``epilogue(A @ B)`` for a module's repeated calls: one generated kernel that adds the
    bias and applies ReLU to each output row while it is still in registers.

    Kernels are kept per sparse operand (by identity), dense shape and thread count, with
    their arguments bound, so a forward pass pays a dictionary lookup rather than the
    runtime's parsing, checks and fast-path key. When the schedule cannot fuse the epilogue
    it runs after the kernel in torch (same result)."""

    def __init__(self, expression: str, sparse: str, dense: str, bias: str | None, relu: bool):
        self.expression, self.sparse, self.dense = expression, sparse, dense
        self.epilogue = codegen.Epilogue(bias, relu)
        self._bound: dict[tuple, tuple] = {}

    def __call__(
        self,
        a: SparseTensor,
        b: np.ndarray,
        bias: torch.Tensor | None,
        like: SparseTensor | None = None,
    ) -> np.ndarray:
        """``like``: a tensor with `a`'s format and level sizes that stands for it in the
        kernel cache (a fresh `a` per call, such as attention probabilities on a pattern)."""
        if like is None or like.format != a.format or like.nnz != a.nnz or like.shape != a.shape:
            like = a
        key = (id(like), b.shape, b.dtype, bias is None, torch.get_num_threads())
        hit = self._bound.get(key)
        if hit is None or hit[0]() is not like:
            hit = self._bind(like, b, bias)
            if len(self._bound) >= runtime.FAST_ENTRIES:
                self._bound.clear()
            self._bound[key] = hit
        _, call, threads, fused = hit
        if threads > 1 and numba.get_num_threads() != threads:
            numba.set_num_threads(threads)
        runtime.RUNTIME.paths["sparse"] += 1
        data = {self.sparse: a, self.dense: b}
        if bias is not None:
            data[codegen.BIAS] = bias.detach().numpy().astype(b.dtype, copy=False)
        y = call(data)
        if fused:
            return y
        e = self.epilogue
        if e.bias is not None and bias is not None:
            y += data[codegen.BIAS][:, None] if e.bias == "col" else data[codegen.BIAS]
        return np.maximum(y, 0) if e.relu else y

    def _bind(self, a: SparseTensor, b: np.ndarray, bias) -> tuple:
        rt = runtime.RUNTIME
        expr = runtime.parse_cached(self.expression)
        data = {self.sparse: a, self.dense: b}
        threads = rt.threads(expr, data)
        epilogue = codegen.Epilogue(
            self.epilogue.bias if bias is not None else None, self.epilogue.relu
        )
        if bias is not None:
            data[codegen.BIAS] = bias.detach().numpy().astype(b.dtype, copy=False)
        fuse = epilogue if epilogue != codegen.Epilogue() else None
        try:
            kernel = rt.compile(expr, data, None, threads > 1, fuse)
        except ScheduleError:  # a layout no loop order walks: the runtime converts it

            def run(data: dict) -> np.ndarray:
                operands = {n: t for n, t in data.items() if n != codegen.BIAS}
                return rt.evaluate(expr, None, adaptive=False, **operands)

            return weakref.ref(a), run, 1, False
        return weakref.ref(a), kernel.bind(data), threads, kernel.source.fused


def magnitude_prune(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Zero the smallest-magnitude fraction `sparsity` of the entries."""
    if not 0.0 <= sparsity < 1.0:
        raise SparseFormatError(f"sparsity must be in [0, 1), got {sparsity}")
    k = round(sparsity * weight.numel())
    if k == 0:
        return weight.clone()
    threshold = weight.abs().flatten().kthvalue(k).values
    return torch.where(weight.abs() > threshold, weight, torch.zeros_like(weight))


class SparseLinear(nn.Module):
    """``y = x W^T + b`` (then ReLU if ``relu``) with W stored sparse (CSR); a drop-in for a
    pruned nn.Linear, or for nn.Linear followed by nn.ReLU.

    The layer computes feature-major (``Yt = W Xt``: the batch is the contiguous inner loop
    of an SpMM) with the bias and ReLU fused into the kernel's rows, and returns ``Yt``
    viewed as ``y``; a following SparseLinear reads that view without a copy."""

    def __init__(
        self, weight: torch.Tensor, bias: torch.Tensor | None = None, *, relu: bool = False
    ) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = SparseTensor.from_dense(weight.detach(), "csr")
        self._dense = weight.detach().contiguous()
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)
        self.relu = relu
        self._spmm = FusedSpMM(LINEAR, "W", "Xt", "col", relu)

    @classmethod
    def from_linear(cls, linear: nn.Linear, sparsity: float, *, relu: bool = False):
        return cls(magnitude_prune(linear.weight.detach(), sparsity), linear.bias, relu=relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, x2 = x.shape[:-1], x.reshape(-1, self.in_features)
        if runtime.RUNTIME.prefers_dense({"W": self.weight}, x2.shape[0], resident=True):
            runtime.RUNTIME.paths["dense"] += 1
            y = x2 @ self._dense.T
            y = y if self.bias is None else y + self.bias
            y = torch.relu(y) if self.relu else y
        else:
            xt = x2.detach().T  # a previous SparseLinear's output: already feature-major
            xt = xt.numpy() if xt.is_contiguous() else transpose(x2.detach().contiguous().numpy())
            y = torch.from_numpy(self._spmm(self.weight, xt, self.bias)).T
        return y.reshape(*lead, self.out_features)


def normalize_adjacency(adjacency: sp.sparray | sp.spmatrix) -> SparseTensor:
    """Kipf & Welling's Â = D^-1/2 (A + I) D^-1/2 as CSR (self-loops set to one, not added)."""
    a = sp.csr_array(adjacency, dtype=np.float32)
    a = sp.csr_array((a + sp.eye_array(a.shape[0], dtype=np.float32)) > 0, dtype=np.float32)
    d = np.asarray(a.sum(axis=1)).ravel() ** -0.5
    scaled = sp.csr_array(sp.diags_array(d) @ a @ sp.diags_array(d), dtype=np.float32)
    return SparseTensor.from_scipy(scaled, "csr")


class GCNLayer(nn.Module):
    """One graph convolution: ``Â (X W) + b``, then ReLU if ``relu``.

    The product order is the cheap one for a GCN (X W first: the hidden width is far below
    the feature width). A sparse X goes through the generated SpMM; the aggregation is one
    generated kernel with the bias and ReLU fused into its rows. Either SpMM runs dense when
    its sparse operand is denser than the measured crossover."""

    def __init__(
        self, in_features: int, out_features: int, *, relu: bool = False, seed: int = 0
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        bound = (6.0 / (in_features + out_features)) ** 0.5
        w = (torch.rand(in_features, out_features, generator=gen) * 2 - 1) * bound
        self.weight = nn.Parameter(w, requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False)
        self.relu = relu
        self._transform = FusedSpMM(SPMM, "A", "B", None, False)
        self._aggregate = FusedSpMM(SPMM, "A", "B", "row", relu)

    def forward(self, x: torch.Tensor | SparseTensor, a_hat: SparseTensor) -> torch.Tensor:
        rt = runtime.RUNTIME
        w = self.weight.detach()
        if isinstance(x, SparseTensor) and not rt.prefers_dense({"A": x}, w.shape[1]):
            h = self._transform(x, w.numpy(), None)
        else:
            h = (x @ w).numpy()
        if rt.prefers_dense({"A": a_hat}, h.shape[1]):
            rt.paths["dense"] += 1
            y = torch.from_numpy(rt.densify(a_hat)) @ torch.from_numpy(h) + self.bias
            return torch.relu(y) if self.relu else y
        return torch.from_numpy(self._aggregate(a_hat, h, self.bias))


class GCN(nn.Module):
    """The 2-layer GCN of Kipf & Welling for inference: ``Â relu(Â X W1 + b1) W2 + b2``."""

    def __init__(self, in_features: int, hidden: int, classes: int, *, seed: int = 0) -> None:
        super().__init__()
        self.layer1 = GCNLayer(in_features, hidden, relu=True, seed=seed)
        self.layer2 = GCNLayer(hidden, classes, seed=seed + 1)

    def forward(self, x: torch.Tensor | SparseTensor, a_hat: SparseTensor) -> torch.Tensor:
        return self.layer2(self.layer1(x, a_hat), a_hat)


def window_pattern(n: int, window: int, n_global: int) -> SparseTensor:
    """Sliding-window attention plus global tokens (Longformer's pattern) as a 0/1 CSR mask."""
    rows = np.repeat(np.arange(n), 2 * window + 1)
    cols = rows + np.tile(np.arange(-window, window + 1), n)
    keep = (cols >= 0) & (cols < n)
    g = np.arange(min(n_global, n))
    rows = np.concatenate([rows[keep], np.repeat(g, n), np.tile(np.arange(n), len(g))])
    cols = np.concatenate([cols[keep], np.tile(np.arange(n), len(g)), np.repeat(g, n)])
    coords = np.unique(np.stack([rows, cols], axis=1), axis=0)
    return SparseTensor.from_coords(coords, np.ones(len(coords), np.float32), (n, n), "csr")


def sparse_softmax(s: SparseTensor) -> SparseTensor:
    """Row-wise softmax over the stored entries of a CSR matrix (absent entries are -inf)."""
    vals = softmax_segments(s.pos[1], s.vals)
    return SparseTensor(s.shape, s.format, s.pos, s.crd, vals, check=False)


class SparseAttention(nn.Module):
    """Attention restricted to a pattern: SDDMM -> sparse softmax -> SpMM (one head)."""

    def __init__(self, pattern: SparseTensor) -> None:
        super().__init__()
        self.pattern = pattern
        self._spmm = FusedSpMM(SPMM, "A", "B", None, False)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        scale = q.shape[-1] ** -0.5
        scores = runtime.RUNTIME.evaluate(
            "S(i,j) = M(i,j) * Q(i,d) * K(j,d)",
            "infer",
            adaptive=False,
            M=self.pattern,
            Q=q * scale,
            K=k,
        )
        probs = sparse_softmax(scores)
        # The probabilities have the pattern's index arrays: the kernel bound to the pattern
        # serves every call.
        out = self._spmm(probs, v.detach().numpy(), None, like=self.pattern)
        return torch.from_numpy(out)
