"""Corpora drawn from LDA itself, with known topics: the ground truth for recovery tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def draw_corpus(
    n_docs: int,
    n_words: int,
    n_topics: int,
    doc_length: int,
    *,
    alpha: float,
    beta: float,
    seed: int,
) -> tuple[sp.csr_array, np.ndarray]:
    """Counts (documents x vocabulary) and the true Φ (K x V) of an LDA draw."""
    gen = np.random.default_rng(seed)
    phi = gen.dirichlet(np.full(n_words, beta), size=n_topics)
    theta = gen.dirichlet(np.full(n_topics, alpha), size=n_docs)
    doc = np.repeat(np.arange(n_docs), doc_length)
    z = _inverse_cdf(theta, doc, gen.random(doc.size))  # each token's topic, then its word
    words = _inverse_cdf(phi, z, gen.random(doc.size))
    counts = sp.coo_array(
        (np.ones(doc.size, dtype=np.int32), (doc, words)), shape=(n_docs, n_words)
    ).tocsr()
    counts.sum_duplicates()
    return counts, phi


def _inverse_cdf(probs: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One draw from row `rows[i]` of `probs` per uniform `u[i]`, all rows searched at once:
    row r's CDF is shifted to [r, r + 1], so one sorted array holds every row's CDF."""
    n = probs.shape[1]
    cdf = np.cumsum(probs, axis=1)
    cdf = cdf / cdf[:, -1:] + np.arange(probs.shape[0])[:, None]
    flat = np.searchsorted(cdf.ravel(), rows + u, side="right")
    return np.minimum(flat - rows * n, n - 1)
