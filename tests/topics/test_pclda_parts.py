"""The parts of the PC-LDA step: the counts, Φ | z, the two-level row draw, the prefetch hint."""

import numpy as np
import pytest
from numba import njit

from aether.topics import corpus, pclda
from aether.topics.hints import prefetch_row
from aether.topics.model import numba_threads


def _draw(nwk: np.ndarray, beta: float, step: int):
    v, k = nwk.shape
    phi, mass, blocks = np.empty((v, k)), np.empty(v), np.empty((v, pclda.row_blocks(k)))
    pclda.draw_phi(nwk, beta, 3, step, phi, mass, blocks)
    return phi, mass, blocks


@pytest.mark.parametrize("beta", [0.01, 0.3, 1.5])
def test_phi_is_a_dirichlet_draw_per_topic(beta):
    """Each column Φ_k ~ Dirichlet(β + n_k·): its mean is (β + n_kw) / Σ_w (β + n_kw), and
    its variance that of a Beta marginal, for zero counts (shape β < 1 by the GS method, with
    p ** (1/β) by squaring at β = 0.01 = 1/100, by exp/log at 0.3, the flushed path included;
    shape β >= 1 by Marsaglia-Tsang) as well as nonzero ones."""
    nwk = np.array([[0, 5], [3, 0], [0, 0], [7, 1], [0, 0], [1, 2]], dtype=np.int32)
    draws = np.array([_draw(nwk, beta, step)[0] for step in range(6000)])
    a = nwk + beta
    a0 = a.sum(axis=0)
    mean = a / a0
    var = mean * (1 - mean) / (a0 + 1)
    se = np.sqrt(var / draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se + 1e-12)
    light = a >= 0.3  # the sample variance of a Gamma(0.01)-based entry is too heavy-tailed
    assert np.allclose(draws.var(axis=0)[light], var[light], rtol=0.15)


def test_integral_inverse_only_for_reciprocals_of_integers():
    assert pclda.integral_inverse(0.01) == 100
    assert pclda.integral_inverse(0.05) == 20
    assert pclda.integral_inverse(0.5) == 2
    assert pclda.integral_inverse(0.3) == 0
    assert pclda.integral_inverse(1.0) == 0


def test_phi_masses_and_block_sums_are_its_rows():
    gen = np.random.default_rng(0)
    nwk = gen.poisson(0.3, size=(50, 37)).astype(np.int32)  # K not a multiple of ROW_BLOCK
    phi, mass, blocks = _draw(nwk, 0.01, 1)
    assert np.allclose(phi.sum(axis=0), 1.0)
    assert np.all(phi >= 0) and np.all(phi[nwk > 0] > 0)
    assert np.allclose(mass, phi.sum(axis=1))
    assert np.allclose(blocks.sum(axis=1), mass)
    for j in range(blocks.shape[1]):
        cols = slice(j * pclda.ROW_BLOCK, (j + 1) * pclda.ROW_BLOCK)
        assert np.allclose(blocks[:, j], phi[:, cols].sum(axis=1))
    again = _draw(nwk, 0.01, 1)
    assert all(np.array_equal(x, y) for x, y in zip((phi, mass, blocks), again, strict=True))


@njit
def _draw_in_row(row, blocks, t):
    return pclda.draw_in_row(row, blocks, t)


def test_draw_in_row_inverts_the_running_sum():
    row = np.zeros(40)
    row[[0, 3, 17, 18, 33, 39]] = [0.5, 0.25, 1.0, 0.125, 2.0, 0.25]
    blocks = np.array([row[j : j + pclda.ROW_BLOCK].sum() for j in range(0, 40, 16)])
    cum = np.cumsum(row)
    for t in np.concatenate([cum[row > 0] - 1e-9, cum[row > 0][:-1], [0.0, 0.3]]):
        k = _draw_in_row(row, blocks, t)
        assert row[k] > 0 and (cum[k] - row[k]) <= t < cum[k], t
    # rounding past the total takes the last positive entry, never a zero one
    assert _draw_in_row(row, blocks, cum[-1] * (1 + 1e-12)) == 39
    row[39] = 0.0
    blocks[-1] = row[32:].sum()
    assert _draw_in_row(row, blocks, row.sum() * 2) == 33


@njit
def _read_after_prefetch(a, rows):
    s = 0.0
    for r in rows:
        prefetch_row(a, r)
        s += a[r].sum()
    return s


def test_prefetch_is_only_a_hint():
    a = np.arange(300.0).reshape(3, 100)
    rows = np.array([2, 0, 1], dtype=np.int32)
    assert _read_after_prefetch(a, rows) == a.sum()


@pytest.mark.parametrize("threads", [1, 2])
def test_counts_are_rebuilt_in_place(threads):
    """n_wk and n_k from z overwrite whatever the arrays held, for any thread count."""
    gen = np.random.default_rng(1)
    counts = gen.poisson(0.4, size=(30, 70))
    counts[:, 0] += 1  # no empty document
    tokens = corpus.from_counts(counts)
    z = gen.integers(0, 9, size=tokens.n_tokens).astype(np.int32)
    nwk = np.full((tokens.n_words, 9), 7, dtype=np.int32)
    nk = np.full(9, -3, dtype=np.int64)
    with numba_threads(threads):
        pclda.count_topic_words(z, tokens.word_ptr, tokens.word_tokens, nwk, nk)
    expected = np.zeros((tokens.n_words, 9), dtype=np.int64)
    np.add.at(expected, (tokens.words, z), 1)
    assert np.array_equal(nwk, expected)
    assert np.array_equal(nk, expected.sum(axis=0))
