"""Collapsed Gibbs samplers (θ and Φ integrated out): the sequential baselines.

- ``sweep_collapsed``: Griffiths & Steyvers (2004), O(K) per token:
  p(z_i = k) ∝ (n_dk + alpha)(n_wk + β) / (n_k + Vβ), counts without token i.
- ``sweep_sparse``: SparseLDA (Yao, Mimno & McCallum 2009): the same conditional split into
  the buckets s = Σ_k alpha·β/(n_k + Vβ) (smoothing), r = Σ_k n_dk β/(n_k + Vβ) (document) and
  q = Σ_k (alpha + n_dk) n_wk/(n_k + Vβ) (word); r and q only visit nonzero counts.

Both update n_wk (V x K) and n_k in place; document counts are rebuilt per document from z.
Document d draws from the stream keyed by (seed, iteration, d), as PC-LDA does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aether.topics import rng


@njit(cache=True)
def sweep_collapsed(
    z: np.ndarray,
    words: np.ndarray,
    doc_ptr: np.ndarray,
    nwk: np.ndarray,
    nk: np.ndarray,
    alpha: float,
    beta: float,
    seed: int,
    step: int,
) -> None:
    n_words, n_topics = nwk.shape
    vbeta = n_words * beta
    ndk = np.zeros(n_topics, dtype=np.int32)
    cum = np.empty(n_topics)
    for d in range(doc_ptr.shape[0] - 1):
        stream = rng.key(seed, rng.Z_STEP, step, d)
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            ndk[z[i]] += 1
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            w, old = words[i], z[i]
            ndk[old] -= 1
            nwk[w, old] -= 1
            nk[old] -= 1
            total = 0.0
            for k in range(n_topics):
                total += (ndk[k] + alpha) * (nwk[w, k] + beta) / (nk[k] + vbeta)
                cum[k] = total
            u = rng.uniform(stream, i - doc_ptr[d]) * total
            new = 0
            while new < n_topics - 1 and cum[new] <= u:
                new += 1
            z[i] = new
            ndk[new] += 1
            nwk[w, new] += 1
            nk[new] += 1
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            ndk[z[i]] = 0


@njit(cache=True)
def _remove(items: np.ndarray, where: np.ndarray, length: int, k: int) -> int:
    last = items[length - 1]
    items[where[k]] = last
    where[last] = where[k]
    return length - 1


@njit(cache=True)
def _add(items: np.ndarray, where: np.ndarray, length: int, k: int) -> int:
    items[length] = k
    where[k] = length
    return length + 1


@njit(cache=True)
def sweep_sparse(
    z: np.ndarray,
    words: np.ndarray,
    doc_ptr: np.ndarray,
    nwk: np.ndarray,
    nk: np.ndarray,
    alpha: float,
    beta: float,
    seed: int,
    step: int,
) -> None:
    n_words, n_topics = nwk.shape
    vbeta = n_words * beta
    # Each word's nonzero topics, as swap-remove lists (rebuilt once per sweep).
    w_topics = np.empty((n_words, n_topics), dtype=np.int32)
    w_where = np.empty((n_words, n_topics), dtype=np.int32)
    w_len = np.zeros(n_words, dtype=np.int64)
    for w in range(n_words):
        for k in range(n_topics):
            if nwk[w, k] > 0:
                w_len[w] = _add(w_topics[w], w_where[w], w_len[w], k)
    ndk = np.zeros(n_topics, dtype=np.int32)
    d_topics = np.empty(n_topics, dtype=np.int32)
    d_where = np.empty(n_topics, dtype=np.int32)
    coef = np.empty(n_topics)  # (alpha + n_dk) / (n_k + Vβ)
    cum = np.empty(n_topics)
    for d in range(doc_ptr.shape[0] - 1):
        stream = rng.key(seed, rng.Z_STEP, step, d)
        d_len = 0
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            if ndk[z[i]] == 0:
                d_len = _add(d_topics, d_where, d_len, z[i])
            ndk[z[i]] += 1
        s = 0.0
        for k in range(n_topics):  # recomputed per document: no drift across documents
            s += alpha * beta / (nk[k] + vbeta)
            coef[k] = (alpha + ndk[k]) / (nk[k] + vbeta)
        r = 0.0
        for j in range(d_len):
            k = d_topics[j]
            r += ndk[k] * beta / (nk[k] + vbeta)
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            w, old = words[i], z[i]
            # Take token i out: the buckets lose topic old's terms and regain them updated.
            s -= alpha * beta / (nk[old] + vbeta)
            r -= ndk[old] * beta / (nk[old] + vbeta)
            ndk[old] -= 1
            nwk[w, old] -= 1
            nk[old] -= 1
            s += alpha * beta / (nk[old] + vbeta)
            r += ndk[old] * beta / (nk[old] + vbeta)
            coef[old] = (alpha + ndk[old]) / (nk[old] + vbeta)
            if ndk[old] == 0:
                d_len = _remove(d_topics, d_where, d_len, old)
            if nwk[w, old] == 0:
                w_len[w] = _remove(w_topics[w], w_where[w], w_len[w], old)
            q = 0.0
            for j in range(w_len[w]):
                k = w_topics[w, j]
                q += coef[k] * nwk[w, k]
                cum[j] = q
            u = rng.uniform(stream, i - doc_ptr[d]) * (s + r + q)
            if u < q:
                j = 0
                while j < w_len[w] - 1 and cum[j] <= u:
                    j += 1
                new = w_topics[w, j]
            elif u < q + r and d_len > 0:
                u -= q
                j = 0
                acc = ndk[d_topics[0]] * beta / (nk[d_topics[0]] + vbeta)
                while j < d_len - 1 and acc <= u:
                    j += 1
                    acc += ndk[d_topics[j]] * beta / (nk[d_topics[j]] + vbeta)
                new = d_topics[j]
            else:
                u -= q + r
                new = 0
                acc = alpha * beta / (nk[0] + vbeta)
                while new < n_topics - 1 and acc <= u:
                    new += 1
                    acc += alpha * beta / (nk[new] + vbeta)
            s -= alpha * beta / (nk[new] + vbeta)
            r -= ndk[new] * beta / (nk[new] + vbeta)
            if ndk[new] == 0:
                d_len = _add(d_topics, d_where, d_len, new)
            if nwk[w, new] == 0:
                w_len[w] = _add(w_topics[w], w_where[w], w_len[w], new)
            ndk[new] += 1
            nwk[w, new] += 1
            nk[new] += 1
            s += alpha * beta / (nk[new] + vbeta)
            r += ndk[new] * beta / (nk[new] + vbeta)
            coef[new] = (alpha + ndk[new]) / (nk[new] + vbeta)
            z[i] = new
        for j in range(d_len):
            ndk[d_topics[j]] = 0
