"""Helpers that generated kernels call (compiled once, shared by every kernel)."""

import numpy as np
from numba import njit


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
def order_touched(w_list: np.ndarray, w_mark: np.ndarray, stamp: int, n_w: int) -> None:
    """Sort a workspace's touched coordinates for a sorted output row.

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
        for t in range(1, n_w):
            x = w_list[t]
            s = t
            while s > 0 and w_list[s - 1] > x:
                w_list[s] = w_list[s - 1]
                s -= 1
            w_list[s] = x
    else:
        w_list[:n_w].sort()
