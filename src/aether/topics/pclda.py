"""Partially collapsed Gibbs sampling for LDA (Magnusson et al. 2018): Φ drawn, θ collapsed.

One iteration: (1) topic-word counts n_wk from z, rebuilt in parallel over words (integer
sums, so the order of threads cannot change them); (2) Φ_k ~ Dirichlet(β + n_k·) as
normalized Gamma draws, in parallel over words with a fixed-order reduction of the topic
totals; (3) every document's z given Φ, in parallel over documents. Given Φ the documents are
independent, so (3) is exact, unlike AD-LDA's approximate parallel collapsed sampler.

Two strategies for the z block, as the paper compares:
(a) ``sample_z_sparse``: p(z_i = k) ∝ n_dk·φ_kw + alpha·φ_kw; the first (sparse) term is summed
    over the document's nonzero topics, the second (dense) is drawn from word w's alias table;
    a run of one word's tokens in a document is drawn as a block (Pólya urn), sharing its sums.
(b) ``sample_z_light``: Metropolis-Hastings with alternating word proposals (∝ φ_kw, the same
    alias table) and document proposals (∝ n_dk + alpha, by picking a random token's topic);
    O(1) per token and step, exact because each step leaves the conditional invariant.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from aether.topics import alias, rng

PHI_BLOCKS = 64  # fixed number of word blocks in the topic-total reduction (not thread count)
FLUSH = 2.0**-54  # Gamma(β) draws below this are stored as 0


@njit(parallel=True, cache=True)
def count_topic_words(
    z: np.ndarray, word_ptr: np.ndarray, word_tokens: np.ndarray, n_topics: int
) -> np.ndarray:
    """n_wk (V x K, int32) from the assignments; each word's row is written by one thread."""
    n_words = word_ptr.shape[0] - 1
    nwk = np.zeros((n_words, n_topics), dtype=np.int32)
    for w in prange(n_words):
        for j in range(word_ptr[w], word_ptr[w + 1]):
            nwk[w, z[word_tokens[j]]] += 1
    return nwk


@njit(parallel=True, cache=True)
def draw_phi(
    nwk: np.ndarray,
    beta: float,
    seed: int,
    step: int,
    used: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    prob: np.ndarray,
    table: np.ndarray,
) -> None:
    """Φ | z into `phi` (V x K), then per-word masses Σ_k φ_kw and alias tables over k.

    y_wk ~ Gamma(β + n_wk) from word w's own stream; φ_kw = y_wk / Σ_w y_wk, with the topic
    totals summed over fixed word blocks in a fixed order. Zero counts (most entries) have
    shape β < 1 and take Ahrens-Dieter's GS method; when its first proposal already shows the
    draw is below 2**-54 (about 69% of them at β = 0.01) it is flushed to zero without the
    log/exp: no sum or comparison in double precision can see it. Alias tables are built only
    for words that occur (`used`), the only ones a token can ask for.
    """
    n_words, n_topics = nwk.shape
    b_gs = 1.0 + beta / math.e
    cut = math.exp(beta * math.log(FLUSH))  # p < cut  <=>  p ** (1 / β) < FLUSH
    bounds = np.linspace(0, n_words, PHI_BLOCKS + 1).astype(np.int64)
    partial = np.zeros((PHI_BLOCKS, n_topics))
    for b in prange(PHI_BLOCKS):
        for w in range(bounds[b], bounds[b + 1]):
            stream = rng.key(seed, rng.PHI_STEP, step, w)
            counter = 0
            for k in range(n_topics):
                if nwk[w, k] == 0:
                    p = b_gs * rng.uniform(stream, counter)
                    counter += 1
                    y = 0.0
                    if p >= cut:
                        y, counter = rng.gamma_gs(beta, p, stream, counter)
                else:
                    y, counter = rng.gamma(beta + nwk[w, k], stream, counter)
                phi[w, k] = y
                partial[b, k] += y
    total = np.zeros(n_topics)
    for b in range(PHI_BLOCKS):
        total += partial[b]
    inv = 1.0 / total
    for b in prange(PHI_BLOCKS):
        small = np.empty(n_topics, dtype=np.int32)
        large = np.empty(n_topics, dtype=np.int32)
        for w in range(bounds[b], bounds[b + 1]):
            s = 0.0
            for k in range(n_topics):
                phi[w, k] *= inv[k]
                s += phi[w, k]
            mass[w] = s
            if used[w]:
                alias.build(phi[w], prob[w], table[w], small, large)


@njit(parallel=True, cache=True)
def build_alias(phi: np.ndarray, used: np.ndarray, prob: np.ndarray, table: np.ndarray) -> None:
    """Alias tables of the rows of Φ (V x K) whose word is `used`: a Dask shard builds only
    those of its own words, from the broadcast Φ, instead of receiving every table."""
    n_words, n_topics = phi.shape
    bounds = np.linspace(0, n_words, PHI_BLOCKS + 1).astype(np.int64)
    for b in prange(PHI_BLOCKS):
        small = np.empty(n_topics, dtype=np.int32)
        large = np.empty(n_topics, dtype=np.int32)
        for w in range(bounds[b], bounds[b + 1]):
            if used[w]:
                alias.build(phi[w], prob[w], table[w], small, large)


@njit(cache=True)
def count_tokens(z: np.ndarray, words: np.ndarray, n_words: int, n_topics: int) -> np.ndarray:
    """n_wk (V x K, int32) of a shard's tokens: integer counts, so shards sum in any order."""
    nwk = np.zeros((n_words, n_topics), dtype=np.int32)
    for i in range(words.shape[0]):
        nwk[words[i], z[i]] += 1
    return nwk


@njit(parallel=True, cache=True)
def sample_z_sparse(
    z: np.ndarray,
    words: np.ndarray,
    doc_ptr: np.ndarray,
    chunk_ptr: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    prob: np.ndarray,
    table: np.ndarray,
    alpha: float,
    seed: int,
    step: int,
    doc_offset: int = 0,
) -> None:
    """Strategy (a): sparse document part over nonzero n_dk, dense part from alias tables.

    A run of tokens of one word in a document (a repeated word, as count data gives it)
    shares one set of sparse prefix sums: with the whole run's counts removed, token i's
    exact conditional splits as (n_dk^-run + alpha) φ_kw + φ_kw · #{other tokens of the run
    in k}; the first part is the run's shared sums and alias table, the second a scan of the
    run's other tokens (at their current values: this is still single-site Gibbs). Count
    data has about two tokens per run, so the O(K_d) sums are built about half as often.

    Document d's stream is keyed by its corpus-wide index `doc_offset + d`, so a shard of the
    corpus (on a Dask worker) draws exactly what the whole corpus would.
    """
    n_topics = phi.shape[1]
    for c in prange(chunk_ptr.shape[0] - 1):
        ndk = np.zeros(n_topics, dtype=np.int32)
        nonzero = np.empty(n_topics, dtype=np.int32)
        where = np.empty(n_topics, dtype=np.int32)
        cum = np.empty(n_topics)
        for d in range(chunk_ptr[c], chunk_ptr[c + 1]):
            stream = rng.key(seed, rng.Z_STEP, step, doc_offset + d)
            counter = 0
            n_nz = 0
            for i in range(doc_ptr[d], doc_ptr[d + 1]):
                k = z[i]
                if ndk[k] == 0:
                    nonzero[n_nz] = k
                    where[k] = n_nz
                    n_nz += 1
                ndk[k] += 1
            start, end = doc_ptr[d], doc_ptr[d + 1]
            while start < end:
                w = words[start]
                stop = start + 1
                while stop < end and words[stop] == w:
                    stop += 1
                for i in range(start, stop):
                    old = z[i]
                    ndk[old] -= 1
                    if ndk[old] == 0:
                        n_nz -= 1
                        last = nonzero[n_nz]
                        nonzero[where[old]] = last
                        where[last] = where[old]
                row = phi[w]
                sparse = 0.0
                for j in range(n_nz):
                    sparse += ndk[nonzero[j]] * row[nonzero[j]]
                    cum[j] = sparse
                base = sparse + alpha * mass[w]
                run = 0.0  # Σ φ_{z_t w} over the run's tokens (0 for a run of one)
                if stop - start > 1:
                    for i in range(start, stop):
                        run += row[z[i]]
                for i in range(start, stop):
                    urn = run - row[z[i]] if stop - start > 1 else 0.0
                    u = rng.uniform(stream, counter) * (base + urn)
                    counter += 1
                    if u < sparse:
                        j = 0
                        while j < n_nz - 1 and cum[j] <= u:
                            j += 1
                        new = nonzero[j]
                    elif u < base:
                        new = alias.draw(prob[w], table[w], rng.uniform(stream, counter))
                        counter += 1
                    else:  # another token of the run, in proportion to its φ
                        u -= base
                        acc = 0.0
                        new = -1
                        for t in range(start, stop):
                            if t != i:
                                new = z[t]
                                acc += row[new]
                                if acc > u:
                                    break
                    if stop - start > 1:
                        run += row[new] - row[z[i]]
                    z[i] = new
                for i in range(start, stop):
                    new = z[i]
                    if ndk[new] == 0:
                        nonzero[n_nz] = new
                        where[new] = n_nz
                        n_nz += 1
                    ndk[new] += 1
                start = stop
            for j in range(n_nz):
                ndk[nonzero[j]] = 0


@njit(parallel=True, cache=True)
def sample_z_light(
    z: np.ndarray,
    words: np.ndarray,
    doc_ptr: np.ndarray,
    chunk_ptr: np.ndarray,
    phi: np.ndarray,
    prob: np.ndarray,
    table: np.ndarray,
    alpha: float,
    seed: int,
    step: int,
    mh_steps: int,
    doc_offset: int = 0,
) -> None:
    """Strategy (b): MH cycles of word and document proposals, O(1) per token and step.

    Target p(k) ∝ (n_dk^-i + alpha) φ_kw. Word proposal q(k) ∝ φ_kw: accept with
    (n_dk'^-i + alpha) / (n_dk^-i + alpha). Document proposal
    q(k' | k) ∝ n_dk'^-i + [k' = k] + alpha
    (a random token's topic, token i included, or a uniform topic): its normalizer is the
    same for every k, so accept with φ_k'w / φ_kw.
    """
    n_topics = phi.shape[1]
    for c in prange(chunk_ptr.shape[0] - 1):
        ndk = np.zeros(n_topics, dtype=np.int32)
        for d in range(chunk_ptr[c], chunk_ptr[c + 1]):
            stream = rng.key(seed, rng.Z_STEP, step, doc_offset + d)
            counter = 0
            start, end = doc_ptr[d], doc_ptr[d + 1]
            length = end - start
            for i in range(start, end):
                ndk[z[i]] += 1
            for i in range(start, end):
                w = words[i]
                cur = z[i]
                ndk[cur] -= 1
                for _ in range(mh_steps):
                    prop = alias.draw(prob[w], table[w], rng.uniform(stream, counter))
                    accept = (ndk[prop] + alpha) / (ndk[cur] + alpha)
                    if rng.uniform(stream, counter + 1) < accept:
                        cur = prop
                        z[i] = cur
                    x = rng.uniform(stream, counter + 2) * (length + n_topics * alpha)
                    if x < length:
                        prop = z[start + int(x)]
                    else:
                        prop = min(int((x - length) / alpha), n_topics - 1)
                    if rng.uniform(stream, counter + 3) * phi[w, cur] < phi[w, prop]:
                        cur = prop
                        z[i] = cur
                    counter += 4
                z[i] = cur
                ndk[cur] += 1
            for i in range(start, end):
                ndk[z[i]] = 0
