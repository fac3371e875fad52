"""Walker alias tables (Vose's O(K) construction): O(1) draws from a fixed discrete law.

PC-LDA rebuilds one table per word after each Φ draw: the dense part alpha·φ_kw of a token's
conditional does not depend on the document, so it is drawn in O(1) instead of O(K).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def build(
    weights: np.ndarray, prob: np.ndarray, alias: np.ndarray, small: np.ndarray, large: np.ndarray
) -> None:
    """Fill `prob`/`alias` (length K) for `weights`; `small`/`large` are int scratch space."""
    k = weights.shape[0]
    scale = k / weights.sum()
    n_small = n_large = 0
    for j in range(k):
        prob[j] = weights[j] * scale
        alias[j] = j
        if prob[j] < 1.0:
            small[n_small] = j
            n_small += 1
        else:
            large[n_large] = j
            n_large += 1
    while n_small and n_large:
        n_small -= 1
        s = small[n_small]
        g = large[n_large - 1]
        alias[s] = g
        prob[g] -= 1.0 - prob[s]
        if prob[g] < 1.0:
            n_large -= 1
            small[n_small] = g
            n_small += 1
    for j in range(n_large):  # what is left is 1 up to rounding
        prob[large[j]] = 1.0
    for j in range(n_small):
        prob[small[j]] = 1.0


@njit(cache=True, inline="always")
def draw(prob: np.ndarray, alias: np.ndarray, u: float) -> int:
    """One draw from a table given a uniform u in (0, 1)."""
    x = u * prob.shape[0]
    j = min(int(x), prob.shape[0] - 1)
    return j if x - j < prob[j] else alias[j]
