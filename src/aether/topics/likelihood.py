"""The log joint log p(w, z) with θ and Φ integrated out: one number every sampler is judged by.

log p(z) = Σ_d [lnΓ(Kalpha) - lnΓ(N_d + Kalpha) + Σ_k (lnΓ(n_dk + alpha) - lnΓ(alpha))]
log p(w | z) = Σ_k [lnΓ(Vβ) - lnΓ(n_k + Vβ) + Σ_w (lnΓ(n_wk + β) - lnΓ(β))]
Zero counts contribute nothing, so only nonzero counts are visited. Per-document terms go into
an array summed in a fixed order, so the value does not depend on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from scipy.special import gammaln


@njit(parallel=True, cache=True)
def doc_terms(
    z: np.ndarray, doc_ptr: np.ndarray, chunk_ptr: np.ndarray, n_topics: int, alpha: float
) -> np.ndarray:
    """Each document's term of log p(z): computable where the document lives (a Dask shard)."""
    n_docs = doc_ptr.shape[0] - 1
    per_doc = np.empty(n_docs)
    lg_alpha, lg_kalpha = math.lgamma(alpha), math.lgamma(n_topics * alpha)
    for c in prange(chunk_ptr.shape[0] - 1):
        ndk = np.zeros(n_topics, dtype=np.int32)
        for d in range(chunk_ptr[c], chunk_ptr[c + 1]):
            for i in range(doc_ptr[d], doc_ptr[d + 1]):
                ndk[z[i]] += 1
            v = lg_kalpha - math.lgamma(doc_ptr[d + 1] - doc_ptr[d] + n_topics * alpha)
            for i in range(doc_ptr[d], doc_ptr[d + 1]):
                if ndk[z[i]] > 0:  # each nonzero topic once
                    v += math.lgamma(ndk[z[i]] + alpha) - lg_alpha
                    ndk[z[i]] = 0
            per_doc[d] = v
    return per_doc


@njit(parallel=True, cache=True)
def combine(per_doc: np.ndarray, nwk: np.ndarray, nk: np.ndarray, beta: float) -> float:
    """log p(w, z) from the document terms (in corpus order) and the topic-word counts."""
    n_words, n_topics = nwk.shape
    per_word = np.empty(n_words)
    lg_beta = math.lgamma(beta)
    for w in prange(n_words):
        v = 0.0
        for k in range(n_topics):
            if nwk[w, k] > 0:
                v += math.lgamma(nwk[w, k] + beta) - lg_beta
        per_word[w] = v
    total = 0.0
    for d in range(per_doc.shape[0]):
        total += per_doc[d]
    for w in range(n_words):
        total += per_word[w]
    vbeta = n_words * beta
    for k in range(n_topics):
        total += math.lgamma(vbeta) - math.lgamma(nk[k] + vbeta)
    return total


def log_joint(
    z: np.ndarray,
    doc_ptr: np.ndarray,
    chunk_ptr: np.ndarray,
    nwk: np.ndarray,
    nk: np.ndarray,
    alpha: float,
    beta: float,
) -> float:
    """log p(w, z) of the whole corpus."""
    return combine(doc_terms(z, doc_ptr, chunk_ptr, nwk.shape[1], alpha), nwk, nk, beta)


def log_joint_counts(ndk: np.ndarray, nwk: np.ndarray, alpha: float, beta: float) -> float:
    """The same log p(w, z) from dense count matrices (D x K and V x K): for scoring other
    implementations' states (their z, counted) on exactly the same scale."""
    n_words, n_topics = nwk.shape
    doc = gammaln(ndk + alpha).sum() - ndk.size * gammaln(alpha)
    doc += ndk.shape[0] * gammaln(n_topics * alpha) - gammaln(ndk.sum(1) + n_topics * alpha).sum()
    word = gammaln(nwk + beta).sum() - nwk.size * gammaln(beta)
    word += n_topics * gammaln(n_words * beta) - gammaln(nwk.sum(0) + n_words * beta).sum()
    return float(doc + word)
