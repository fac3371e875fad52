"""Rows of a CSR operand that share one sparsity pattern, walked together.

A row-walking SpMM reads one row of the dense operand per nonzero. Rows with identical
column patterns (a RadiX-Net layer of the Sparse DNN Graph Challenge comes as 64 patterns of
16 rows each) can be walked as one: each column's dense row is loaded once and multiplied
into G register vectors, one per row, with each row's own values. The generated kernel
(`codegen._Lowerer.grouped_walk`) walks `chunks` (G rows of one pattern each) so, then the
`rest` one row at a time. Only the pattern is analysed: values are read from the operand's
own array on every call, so the analysis never goes stale when values change in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, uint64

# Group only when at least this share of the nonzeros lies in whole chunks of G rows: the
# grouped loop is then most of the work (measured on dnn_n1024_l1: 2.1x at width 64, 1.8x at
# width 128, one thread).
MIN_SHARE = 0.5


@dataclass(frozen=True)
class RowGroups:
    """``chunks``: rows, G at a time, each run of G sharing one pattern; ``rest``: the other
    rows, ascending; ``share``: the nonzeros in chunks over all nonzeros."""

    size: int
    chunks: np.ndarray
    rest: np.ndarray
    share: float


@njit(cache=True, nogil=True)
def _hashes(pos: np.ndarray, crd: np.ndarray) -> np.ndarray:
    """An FNV-1a style hash of each row's length and columns."""
    n = pos.shape[0] - 1
    out = np.empty(n, np.uint64)
    prime = uint64(1099511628211)
    for i in range(n):
        h = uint64(14695981039346656037) ^ uint64(pos[i + 1] - pos[i])
        for q in range(pos[i], pos[i + 1]):
            h = (h ^ uint64(crd[q])) * prime
        out[i] = h
    return out


@njit(cache=True, nogil=True)
def _same(pos: np.ndarray, crd: np.ndarray, a: int, b: int) -> bool:
    la, lb = pos[a + 1] - pos[a], pos[b + 1] - pos[b]
    if la != lb:
        return False
    for t in range(la):  # noqa: SIM110 (a loop numba compiles; all() over a generator not)
        if crd[pos[a] + t] != crd[pos[b] + t]:
            return False
    return True


@njit(cache=True, nogil=True)
def _split(pos, crd, order, hashes, size):
    """Walk rows in hash order; rows equal to their run's first row (checked, not assumed
    from the hash) form a group, cut into chunks of `size`; everything else is rest."""
    n = order.shape[0]
    in_chunk = np.zeros(n, np.bool_)
    chunks = np.empty(n, np.int64)
    n_chunked = 0
    start = 0
    while start < n:
        end = start + 1
        while end < n and hashes[order[end]] == hashes[order[start]]:
            end += 1
        members = np.empty(end - start, np.int64)
        m = 0
        for t in range(start, end):
            if _same(pos, crd, order[start], order[t]):
                members[m] = order[t]
                m += 1
        for t in range(m - m % size):
            chunks[n_chunked] = members[t]
            in_chunk[members[t]] = True
            n_chunked += 1
        start = end
    return chunks[:n_chunked], np.flatnonzero(~in_chunk)


def row_groups(pos: np.ndarray, crd: np.ndarray, size: int) -> RowGroups:
    """The rows of a CSR pattern (`pos`, `crd`) in chunks of `size` rows sharing a pattern."""
    hashes = _hashes(pos, crd)
    order = np.argsort(hashes, kind="stable")
    chunks, rest = _split(pos, crd, order, hashes, size)
    lengths = np.diff(pos)
    total = int(lengths.sum())
    share = float(lengths[chunks].sum() / total) if total else 0.0
    return RowGroups(size, chunks, rest.astype(np.int64), share)
