"""Model building blocks on sparse kernels: pruned linear, GCN layer, sparse attention.

Each is a torch.nn.Module whose forward calls the runtime (inference: no gradients flow
through the generated kernels). The runtime picks dense execution when the weights are
denser than the measured crossover.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from aether.sparse import runtime
from aether.sparse.tensor import SparseFormatError, SparseTensor

LINEAR = "Yt(o,b) = W(o,i) * Xt(i,b)"


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
    """``y = x W^T + b`` with W stored sparse (CSR); a drop-in for a pruned nn.Linear."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = SparseTensor.from_dense(weight.detach(), "csr")
        self._dense = weight.detach().contiguous()
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)
        self._kernels: dict[tuple, tuple[runtime.Kernel, int]] = {}

    def _spmm(self, xt: np.ndarray) -> np.ndarray:
        """The layer's kernel, compiled once per batch shape and thread count and kept: a
        forward pass then skips the runtime's parsing, checks and lookups."""
        rt = runtime.RUNTIME
        data = {"W": self.weight, "Xt": xt}
        key = (xt.shape, xt.dtype, torch.get_num_threads())
        prepared = self._kernels.get(key)
        if prepared is None:
            a = runtime.parse_cached(LINEAR)
            threads = rt.threads(a, data)
            prepared = self._kernels[key] = (rt.compile(a, data, None, threads > 1), threads)
        kernel, threads = prepared
        if threads > 1 and numba.get_num_threads() != threads:
            numba.set_num_threads(threads)
        rt.paths["sparse"] += 1
        return kernel(data)

    @classmethod
    def from_linear(cls, linear: nn.Linear, sparsity: float) -> SparseLinear:
        return cls(magnitude_prune(linear.weight.detach(), sparsity), linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, x2 = x.shape[:-1], x.reshape(-1, self.in_features)
        if runtime.RUNTIME.prefers_dense({"W": self.weight}, width=x2.shape[0]):
            runtime.RUNTIME.paths["dense"] += 1
            y = x2 @ self._dense.T
        else:
            # Feature-major activations make the batch the contiguous inner loop (an SpMM).
            xt = x2.detach().T.contiguous().numpy()
            y = torch.from_numpy(self._spmm(xt)).T
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)


def normalize_adjacency(adjacency: sp.sparray | sp.spmatrix) -> SparseTensor:
    """Kipf & Welling's Â = D^-1/2 (A + I) D^-1/2 as CSR (self-loops set to one, not added)."""
    a = sp.csr_array(adjacency, dtype=np.float32)
    a = sp.csr_array((a + sp.eye_array(a.shape[0], dtype=np.float32)) > 0, dtype=np.float32)
    d = np.asarray(a.sum(axis=1)).ravel() ** -0.5
    scaled = sp.csr_array(sp.diags_array(d) @ a @ sp.diags_array(d), dtype=np.float32)
    return SparseTensor.from_scipy(scaled, "csr")


class GCNLayer(nn.Module):
    """One graph convolution: ``Â (X W) + b``; the aggregation is the generated SpMM."""

    def __init__(self, in_features: int, out_features: int, *, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        bound = (6.0 / (in_features + out_features)) ** 0.5
        w = (torch.rand(in_features, out_features, generator=gen) * 2 - 1) * bound
        self.weight = nn.Parameter(w, requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False)

    def forward(self, x: torch.Tensor | SparseTensor, a_hat: SparseTensor) -> torch.Tensor:
        h = x @ self.weight  # a sparse feature matrix goes through the compiler too
        return a_hat @ h + self.bias


class GCN(nn.Module):
    """The 2-layer GCN of Kipf & Welling for inference: ``Â relu(Â X W1) W2``."""

    def __init__(self, in_features: int, hidden: int, classes: int, *, seed: int = 0) -> None:
        super().__init__()
        self.layer1 = GCNLayer(in_features, hidden, seed=seed)
        self.layer2 = GCNLayer(hidden, classes, seed=seed + 1)

    def forward(self, x: torch.Tensor | SparseTensor, a_hat: SparseTensor) -> torch.Tensor:
        return self.layer2(torch.relu(self.layer1(x, a_hat)), a_hat)


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
    pos = s.pos[1].astype(np.int64)
    counts = np.diff(pos)
    rows = np.flatnonzero(counts)
    starts = pos[rows]
    vals = s.vals
    row_max = np.maximum.reduceat(vals, starts) if len(vals) else vals
    e = np.exp(vals - np.repeat(row_max, counts[rows]))
    total = np.add.reduceat(e, starts) if len(vals) else e
    return SparseTensor(s.shape, s.format, s.pos, s.crd, e / np.repeat(total, counts[rows]))


class SparseAttention(nn.Module):
    """Attention restricted to a pattern: SDDMM -> sparse softmax -> SpMM (one head)."""

    def __init__(self, pattern: SparseTensor) -> None:
        super().__init__()
        self.pattern = pattern

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
        out = runtime.RUNTIME.evaluate(
            "O(i,d) = P(i,j) * V(j,d)", None, adaptive=False, P=probs, V=v
        )
        return torch.from_numpy(out)
