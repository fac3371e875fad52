"""Counter-based random streams: every draw is a pure function of (seed, purpose, step, index).

A document's (or a word's) draws depend only on its key, never on which thread ran it or on
what ran before, so a chain is bit-identical whatever the number of threads or workers.
The generator is SplitMix64's output function applied to a counter (Steele et al. 2014).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# Purposes keep the streams of different steps apart.
INIT, Z_STEP, PHI_STEP, HELDOUT = 1, 2, 3, 4


@njit(cache=True, inline="always")
def mix(x: np.uint64) -> np.uint64:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@njit(cache=True)
def key(seed: int, purpose: int, step: int, index: int) -> np.uint64:
    """The stream for one (seed, purpose, step, index): a document, a word or a topic."""
    k = mix(np.uint64(seed) + GOLDEN)
    k = mix(k ^ (np.uint64(purpose) * GOLDEN))
    k = mix(k ^ (np.uint64(step) + GOLDEN))
    return mix(k ^ (np.uint64(index) * _M1))


@njit(cache=True, inline="always")
def uniform(stream: np.uint64, counter: int) -> float:
    """The counter-th uniform of a stream, in the open interval (0, 1)."""
    x = mix(stream + np.uint64(counter + 1) * GOLDEN)
    return (float(x >> _S11) + 0.5) * _TO_UNIT


@njit(cache=True)
def gamma(shape: float, stream: np.uint64, counter: int) -> tuple[float, int]:
    """A Gamma(shape, 1) draw and the next unused counter.

    Shape >= 1: Marsaglia & Tsang (2000). Shape < 1 (the zero counts of a sparse topic-word
    matrix, shape beta): Ahrens & Dieter's GS method, which needs no normal draws.
    """
    if shape < 1.0:
        p = (1.0 + shape / math.e) * uniform(stream, counter)
        return gamma_gs(shape, p, uniform(stream, counter + 1), stream, counter + 2)
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        u1 = uniform(stream, counter)
        u2 = uniform(stream, counter + 1)
        u = uniform(stream, counter + 2)
        counter += 3
        n = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        v = 1.0 + c * n
        if v <= 0.0:
            continue
        v = v * v * v
        if u < 1.0 - 0.0331 * n**4 or math.log(u) < 0.5 * n * n + d * (1.0 - v + math.log(v)):
            return d * v, counter


@njit(cache=True)
def gamma_gs(
    shape: float, p: float, u: float, stream: np.uint64, counter: int
) -> tuple[float, int]:
    """Ahrens & Dieter's GS method for shape < 1, given its first proposal p = b·U and that
    proposal's acceptance uniform u; a rejection continues from the stream at `counter`.

    Taking (p, u) as arguments lets a caller draw them for a whole row at once and come here
    only when the cheap test fails: PC-LDA's Φ step does this for the zero counts.
    """
    b = 1.0 + shape / math.e
    while True:
        if p <= 1.0:
            x = math.exp(math.log(p) / shape)
            if u <= 1.0 - x or u <= math.exp(-x):
                return x, counter
        else:
            x = -math.log((b - p) / shape)
            if u <= x ** (shape - 1.0):
                return x, counter
        p = b * uniform(stream, counter)
        u = uniform(stream, counter + 1)
        counter += 2
