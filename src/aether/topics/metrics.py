"""How good and how efficient a fit is: held-out likelihood, coherence, statistical inefficiency.

All three take plain arrays (Φ̂ as K x V), so peers' models are scored by the same code.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from aether.topics import rng
from aether.topics.corpus import Tokens, split_halves


@njit(parallel=True, cache=True)
def _completion(
    obs_ptr: np.ndarray,
    obs_words: np.ndarray,
    held_ptr: np.ndarray,
    held_words: np.ndarray,
    phi: np.ndarray,
    alpha: float,
    sweeps: int,
    burn: int,
    seed: int,
) -> np.ndarray:
    n_topics = phi.shape[1]
    out = np.zeros(obs_ptr.shape[0] - 1)
    for d in prange(obs_ptr.shape[0] - 1):
        stream = rng.key(seed, rng.HELDOUT, 0, d)
        counter = 0
        start, end = obs_ptr[d], obs_ptr[d + 1]
        z = np.empty(end - start, dtype=np.int32)
        ndk = np.zeros(n_topics)
        theta = np.zeros(n_topics)
        cum = np.empty(n_topics)
        for i in range(end - start):
            z[i] = min(int(rng.uniform(stream, counter) * n_topics), n_topics - 1)
            counter += 1
            ndk[z[i]] += 1
        for s in range(sweeps):
            for i in range(end - start):
                w = obs_words[start + i]
                ndk[z[i]] -= 1
                total = 0.0
                for k in range(n_topics):
                    total += (ndk[k] + alpha) * phi[w, k]
                    cum[k] = total
                u = rng.uniform(stream, counter) * total
                counter += 1
                k = 0
                while k < n_topics - 1 and cum[k] <= u:
                    k += 1
                z[i] = k
                ndk[k] += 1
            if s >= burn:
                for k in range(n_topics):
                    theta[k] += (ndk[k] + alpha) / (end - start + n_topics * alpha)
        theta /= sweeps - burn
        ll = 0.0
        for i in range(held_ptr[d], held_ptr[d + 1]):
            p = 0.0
            for k in range(n_topics):
                p += theta[k] * phi[held_words[i], k]
            ll += math.log(p)
        out[d] = ll
    return out


def heldout_log_likelihood(
    topic_word: np.ndarray,
    test: Tokens,
    alpha: float,
    *,
    sweeps: int = 50,
    burn: int = 10,
    seed: int = 0,
) -> float:
    """Document completion (Wallach et al. 2009), per held-out token.

    Each test document's even-position tokens are observed: θ_d is estimated from them by
    Gibbs sampling with Φ̂ fixed (averaged over `sweeps - burn` sweeps); the odd-position
    tokens are then scored under θ̂_d Φ̂. Unlike scoring whole test documents with θ fitted to
    them, no token is both seen and scored.
    """
    if not 0 <= burn < sweeps:
        raise ValueError(f"need 0 <= burn < sweeps, got burn={burn}, sweeps={sweeps}")
    observed, held = split_halves(test)
    phi = np.ascontiguousarray(np.asarray(topic_word, dtype=np.float64).T)  # V x K
    per_doc = _completion(
        observed.doc_ptr, observed.words, held.doc_ptr, held.words, phi, alpha, sweeps, burn, seed
    )
    return float(per_doc.sum() / max(held.n_tokens, 1))


def top_words(topic_word: np.ndarray, n: int = 10) -> np.ndarray:
    """Each topic's `n` most probable word ids, most probable first (K x n)."""
    return np.argsort(-topic_word, axis=1, kind="stable")[:, :n]


def npmi_coherence(topic_word: np.ndarray, counts: sp.sparray, n: int = 10) -> np.ndarray:
    """Per-topic NPMI of the top `n` words (Bouma 2009; Lau et al. 2014), in [-1, 1].

    Probabilities are document co-occurrence frequencies in `counts` (the reference corpus);
    a pair that never co-occurs scores -1.
    """
    present = (sp.csc_array(counts) > 0).astype(np.float64)
    n_docs = counts.shape[0]
    scores = np.empty(topic_word.shape[0])
    pairs = np.triu_indices(n, k=1)
    for k, top in enumerate(top_words(topic_word, n)):
        sub = present[:, top]
        joint = (sub.T @ sub).toarray()[pairs] / n_docs
        single = np.asarray(sub.sum(axis=0)).ravel() / n_docs
        marg = single[pairs[0]] * single[pairs[1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            npmi = np.log(joint / marg) / -np.log(joint)
        npmi[joint == 0] = -1.0
        npmi[joint == 1] = 1.0
        scores[k] = npmi.mean()
    return scores


def inefficiency(trace: np.ndarray) -> float:
    """Statistical inefficiency τ = 1 + 2 Σ rho_t (Geyer's initial positive sequence).

    A chain of n draws carries about n / τ independent draws' worth of information.
    """
    x = np.asarray(trace, dtype=np.float64)
    n = x.size
    if n < 4 or np.ptp(x) == 0:
        return float("nan")
    x = x - x.mean()
    spec = np.fft.rfft(x, 2 * n)
    acov = np.fft.irfft(spec * np.conj(spec))[:n] / n
    rho = acov / acov[0]
    pairs = rho[: n - n % 2].reshape(-1, 2).sum(axis=1)  # Γ_m = rho_2m + rho_2m+1
    stop = np.flatnonzero(pairs <= 0)
    pairs = pairs[: stop[0]] if stop.size else pairs
    return float(max(2.0 * pairs.sum() - 1.0, 1.0))


def effective_sample_size(trace: np.ndarray) -> float:
    return float(len(trace) / inefficiency(trace))
