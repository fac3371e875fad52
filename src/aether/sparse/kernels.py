"""Helpers that generated kernels call (compiled once, shared by every kernel)."""

import numpy as np
from numba import int64, njit
from numba.cpython.unsafe.numbers import trailing_zeros


@njit(cache=True, nogil=True)
def grow(crd: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Double a sparse output's coordinate and value buffers (amortized O(1) appends)."""
    n = max(2 * vals.shape[0], 16)
    new_crd = np.empty((n, crd.shape[1]), dtype=crd.dtype)
    new_vals = np.empty(n, dtype=vals.dtype)
    new_crd[: crd.shape[0]] = crd
    new_vals[: vals.shape[0]] = vals
    return new_crd, new_vals


@njit(cache=True, nogil=True)
def insertion_sort(a: np.ndarray, n: int) -> None:
    """Sort a[:n] in place: for the short rows of a workspace, faster than a general sort."""
    for t in range(1, n):
        x = a[t]
        s = t
        while s > 0 and a[s - 1] > x:
            a[s] = a[s - 1]
            s -= 1
        a[s] = x


@njit(cache=True, nogil=True)
def order_touched(w_list: np.ndarray, w_mark: np.ndarray, stamp: int, n_w: int) -> None:
    """Sort a workspace's touched coordinates for a sorted output row (the one-pass path).

    A dense row is re-read from the marks in order (cheaper than sorting), a short one gets
    an insertion sort, anything else numpy's sort.
    """
    size = w_mark.shape[0]
    if n_w * 8 > size:
        n = 0
        for at in range(size):
            if w_mark[at] == stamp:
                w_list[n] = at
                n += 1
    elif n_w <= 32:
        insertion_sort(w_list, n_w)
    else:
        w_list[:n_w].sort()


@njit(cache=True, nogil=True)
def drain_row(w_list, w_bits, w_vals, n_w, lo, hi, out_crd, out_vals, base) -> None:
    """Write one workspace row, sorted, to ``out_crd/out_vals[base:base + n_w]``.

    The touched coordinates are both listed (``w_list``, in touch order) and set in a bitmap
    (``w_bits``, one bit per coordinate, within words lo // 64 .. hi // 64). A short row is
    insertion-sorted from its list; a longer one is read off the bitmap word by word, which
    is a sort for the price of a scan of span/64 words (numba's np.sort costs microseconds
    per call on short rows; measured, it made SpGEMM 6x slower than its accumulation).
    Either way the row's bitmap words are left zero for the next row.
    """
    n = int64(n_w)
    if n == 0:
        return
    first, last = int64(lo) >> 6, int64(hi) >> 6
    start = int64(base)
    if n * n < 4 * (last - first + 1) + 8 * n:
        insertion_sort(w_list, n)
        for t in range(n):
            at = int64(w_list[t])
            w_bits[at >> 6] = 0
            out_crd[start + t] = at
            out_vals[start + t] = w_vals[at]
        return
    t = start
    for word in range(first, last + 1):
        bits = w_bits[word]
        if bits == 0:
            continue
        w_bits[word] = 0
        offset = word << 6
        while bits != 0:
            at = offset + int64(trailing_zeros(bits))
            out_crd[t] = at
            out_vals[t] = w_vals[at]
            t += 1
            bits &= bits - np.uint64(1)


@njit(cache=True, nogil=True)
def sort_segments(pos: np.ndarray, crd: np.ndarray, vals: np.ndarray) -> None:
    """Sort each segment ``crd[pos[r]:pos[r+1]]`` in place, carrying ``vals`` along."""
    for r in range(pos.shape[0] - 1):
        lo, hi = pos[r], pos[r + 1]
        if hi - lo <= 32:
            for t in range(lo + 1, hi):
                x, v = crd[t], vals[t]
                s = t
                while s > lo and crd[s - 1] > x:
                    crd[s], vals[s] = crd[s - 1], vals[s - 1]
                    s -= 1
                crd[s], vals[s] = x, v
        else:
            order = np.argsort(crd[lo:hi])
            crd[lo:hi] = crd[lo:hi][order]
            vals[lo:hi] = vals[lo:hi][order]
