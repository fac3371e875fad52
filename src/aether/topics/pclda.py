"""Partially collapsed Gibbs sampling for LDA (Magnusson et al. 2018): Φ drawn, θ collapsed.

One iteration: (1) topic-word counts n_wk from z, rebuilt in parallel over words (integer
sums, so the order of threads cannot change them); (2) Φ_k ~ Dirichlet(β + n_k·) as
normalized Gamma draws, in parallel over words with a fixed-order reduction of the topic
totals; (3) every document's z given Φ, in parallel over documents. Given Φ the documents are
independent, so (3) is exact, unlike AD-LDA's approximate parallel collapsed sampler.

Two strategies for the z block, as the paper compares:
(a) ``sample_z_sparse``: p(z_i = k) ∝ n_dk·φ_kw + alpha·φ_kw; the first (sparse) term is summed
    over the document's nonzero topics, the second (dense, document-free) is drawn from a
    per-word structure built once per Φ draw. The paper uses Walker alias tables; here it is
    the row's block sums (a two-level inverse CDF), measured cheaper on 20 Newsgroups: the
    alias build was O(VK) per iteration (a third of the Φ step) for a part of the
    conditional that about one token in thirty lands in there (K = 100). A run of one word's
    tokens in a document is drawn as a block (Pólya urn), sharing its sums.
(b) ``sample_z_light``: Metropolis-Hastings with alternating word proposals (∝ φ_kw, from word
    w's Walker alias table) and document proposals (∝ n_dk + alpha, by picking a random token's
    topic); O(1) per token and step, exact because each step leaves the conditional invariant.

Scheduling: every parallel loop is a set of lanes claiming chunks (of documents, of words)
from a shared counter (``sched``), so the threads share the work dynamically, and compiles
with `prange_only` (no hidden parallel loops). Every chunk's result is a pure function of the
chunk, so which thread ran it changes no number.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from aether.topics import alias, rng, sched
from aether.topics.hints import prefetch_row

PHI_BLOCKS = 64  # fixed number of word blocks in the topic-total reduction (not thread count)
FLUSH = 2.0**-54  # Gamma(β) draws below this are stored as 0
ROW_BLOCK = 16  # width of the blocks of a row of Φ whose sums draw the dense part


def prange_only() -> dict:
    """numba's parallel options with only the explicit prange loops parallel: a hidden
    parallel loop (np.zeros, an array expression) would be a tiny parallel region of its own."""
    off = ("comprehension", "reduction", "inplace_binop", "setitem", "numpy", "stencil")
    return dict.fromkeys((*off, "fusion"), False)


@njit(parallel=prange_only(), cache=True)
def count_topic_words(
    z: np.ndarray, word_ptr: np.ndarray, word_tokens: np.ndarray, nwk: np.ndarray, nk: np.ndarray
) -> None:
    """n_wk (V x K, int32) and n_k from the assignments, in place; each word's row is written
    by one thread, in PHI_BLOCKS runs of words with about equal token counts. Integer sums:
    no order of threads can change them."""
    n_words, n_topics = nwk.shape
    targets = np.linspace(0, word_ptr[-1], PHI_BLOCKS + 1)
    bounds = np.searchsorted(word_ptr, targets)
    bounds[0], bounds[-1] = 0, n_words
    partial = np.empty((PHI_BLOCKS, n_topics), dtype=np.int64)
    claimed = np.zeros(1, dtype=np.int64)
    for _lane in prange(sched.lanes(PHI_BLOCKS)):
        b = sched.claim(claimed)
        while b < PHI_BLOCKS:
            partial[b] = 0
            for w in range(bounds[b], bounds[b + 1]):
                nwk[w] = 0
                for j in range(word_ptr[w], word_ptr[w + 1]):
                    nwk[w, z[word_tokens[j]]] += 1
                for k in range(n_topics):
                    partial[b, k] += nwk[w, k]
            b = sched.claim(claimed)
    for k in range(n_topics):
        nk[k] = 0
        for b in range(PHI_BLOCKS):
            nk[k] += partial[b, k]


@njit(parallel=prange_only(), cache=True)
def draw_phi(
    nwk: np.ndarray,
    beta: float,
    seed: int,
    step: int,
    phi: np.ndarray,
    mass: np.ndarray,
    blocks: np.ndarray,
) -> None:
    """Φ | z into `phi` (V x K), then per-word block sums of Φ's row and masses Σ_k φ_kw.

    y_wk ~ Gamma(β + n_wk) from word w's own stream (``gamma_row``); φ_kw = y_wk / Σ_w y_wk,
    with the topic totals summed over fixed word blocks in a fixed order.

    `blocks[w, b]` = Σ of φ_kw over k in [b·ROW_BLOCK, (b+1)·ROW_BLOCK) and `mass[w]` their sum,
    in that order: a two-level inverse CDF over the row, which is what the z step draws the
    dense part alpha·φ_kw from. It replaced per-word Walker alias tables here: building them
    was O(VK) per iteration (a third of this step on 20 Newsgroups) for a part of the
    conditional that a token lands in a few percent of the time, while a scan of the row it
    has just read for its sparse part costs about K/ROW_BLOCK + ROW_BLOCK steps.
    """
    n_words, n_topics = nwk.shape
    power = integral_inverse(beta)
    bounds = word_blocks(n_words)
    partial = np.empty((PHI_BLOCKS, n_topics))
    claimed = np.zeros(2, dtype=np.int64)  # the chunk counters of the two passes
    for _lane in prange(sched.lanes(PHI_BLOCKS)):
        scratch = np.empty((3, n_topics))
        todo = np.empty(n_topics, dtype=np.int64)
        b = sched.claim(claimed[:1])
        while b < PHI_BLOCKS:
            for w in range(bounds[b], bounds[b + 1]):
                stream = rng.key(seed, rng.PHI_STEP, step, w)
                gamma_row(nwk[w], beta, power, stream, phi[w], scratch, todo)
            partial[b] = 0.0
            for w in range(bounds[b], bounds[b + 1]):
                for k in range(n_topics):
                    partial[b, k] += phi[w, k]
            b = sched.claim(claimed[:1])
    inv = np.empty(n_topics)
    for k in range(n_topics):  # the topic totals, over the blocks in a fixed order
        total = 0.0
        for b in range(PHI_BLOCKS):
            total += partial[b, k]
        inv[k] = 1.0 / total
    for _lane in prange(sched.lanes(PHI_BLOCKS)):
        b = sched.claim(claimed[1:])
        while b < PHI_BLOCKS:
            for w in range(bounds[b], bounds[b + 1]):
                mass[w] = normalize_row(phi[w], inv, blocks[w])
            b = sched.claim(claimed[1:])


@njit(cache=True)
def integral_inverse(beta: float) -> int:
    """m when β is (the double nearest to) 1/m, so that p ** (1/β) is p ** m, which squaring
    computes in a few multiplications; 0 otherwise."""
    if not 0.0 < beta < 1.0:
        return 0
    m = round(1.0 / beta)
    return m if 1.0 / m == beta else 0


@njit(cache=True, inline="always")
def gamma_row(
    counts: np.ndarray,
    beta: float,
    power: int,
    stream: np.uint64,
    y: np.ndarray,
    scratch: np.ndarray,
    todo: np.ndarray,
) -> None:
    """y_k ~ Gamma(β + counts_k) for one word, from its stream; `scratch` (3 x K), `todo`.

    Most counts are zero: shape β < 1, Ahrens-Dieter's GS method. Its first round is done for
    the whole row in loops without branches (which vectorize): the proposal p_k = b·U from
    the stream's k-th uniform, its acceptance uniform u_k (the (K+k)-th), and
    x_k = p_k ** (1/β), by squaring when 1/β is an integer (`power`, from
    ``integral_inverse``), else as exp(log(p_k)/β). x_k is the draw when p_k <= 1 and
    u_k <= 1 - x_k, GS's first test, which nearly every zero count passes; a draw below FLUSH
    is stored as 0, since no sum or comparison in double precision can see it. Only the rest
    (nonzero counts, and zero counts that need GS's further steps) are visited one by one,
    with the stream's uniforms from the 2K-th on. (On 20 Newsgroups, K = 100, about 2.2M
    zero counts per sweep are past the flush; one log and one exp each, visited one by one,
    were most of the Φ step.)
    """
    n_topics = counts.shape[0]
    p, u, square = scratch[0], scratch[1], scratch[2]
    b_gs = 1.0 + beta / math.e
    for k in range(n_topics):
        p[k] = b_gs * rng.uniform(stream, k)
        u[k] = rng.uniform(stream, n_topics + k)
    if power > 0:
        for k in range(n_topics):
            y[k] = 1.0
            square[k] = p[k]
        e = power
        while e > 0:
            if e & 1:
                for k in range(n_topics):
                    y[k] *= square[k]
            e >>= 1
            if e > 0:
                for k in range(n_topics):
                    square[k] *= square[k]
    else:
        for k in range(n_topics):
            y[k] = math.exp(math.log(p[k]) / beta)
    general = beta >= 1.0  # GS needs β < 1: every draw is then a Marsaglia-Tsang one
    n_todo = 0
    for k in range(n_topics):  # branch-free compaction of the entries to draw one by one
        todo[n_todo] = k
        n_todo += (counts[k] != 0) | (p[k] > 1.0) | (u[k] > 1.0 - y[k]) | general
    for k in range(n_topics):
        y[k] = y[k] if y[k] >= FLUSH else 0.0
    counter = 2 * n_topics
    for j in range(n_todo):
        k = todo[j]
        if counts[k] != 0 or general:
            y[k], counter = rng.gamma(beta + counts[k], stream, counter)
        else:
            x, counter = rng.gamma_gs(beta, p[k], u[k], stream, counter)
            y[k] = x if x >= FLUSH else 0.0


@njit(cache=True, inline="always")
def normalize_row(row: np.ndarray, inv: np.ndarray, blocks: np.ndarray) -> float:
    """row_k *= inv_k in place; the sums of its ROW_BLOCK-wide blocks into `blocks`; their
    sum (the row's mass) returned."""
    n_topics = row.shape[0]
    mass = 0.0
    for j in range(blocks.shape[0]):
        t = 0.0
        for k in range(j * ROW_BLOCK, min((j + 1) * ROW_BLOCK, n_topics)):
            row[k] *= inv[k]
            t += row[k]
        blocks[j] = t
        mass += t
    return mass


@njit(cache=True)
def word_blocks(n_words: int) -> np.ndarray:
    """PHI_BLOCKS + 1 bounds splitting the words into runs of about equal length."""
    bounds = np.empty(PHI_BLOCKS + 1, dtype=np.int64)
    for b in range(PHI_BLOCKS + 1):
        bounds[b] = (b * n_words) // PHI_BLOCKS
    return bounds


def row_blocks(n_topics: int) -> int:
    """Number of ROW_BLOCK-wide blocks of a row of Φ."""
    return (n_topics + ROW_BLOCK - 1) // ROW_BLOCK


@njit(parallel=prange_only(), cache=True)
def build_alias(phi: np.ndarray, used: np.ndarray, prob: np.ndarray, table: np.ndarray) -> None:
    """Alias tables of the rows of Φ (V x K) whose word is `used`: a Dask shard builds only
    those of its own words, from the broadcast Φ, instead of receiving every table."""
    n_words, n_topics = phi.shape
    bounds = word_blocks(n_words)
    claimed = np.zeros(1, dtype=np.int64)
    for _lane in prange(sched.lanes(PHI_BLOCKS)):
        small = np.empty(n_topics, dtype=np.int32)
        large = np.empty(n_topics, dtype=np.int32)
        b = sched.claim(claimed)
        while b < PHI_BLOCKS:
            for w in range(bounds[b], bounds[b + 1]):
                if used[w]:
                    alias.build(phi[w], prob[w], table[w], small, large)
            b = sched.claim(claimed)


@njit(cache=True)
def count_tokens(z: np.ndarray, words: np.ndarray, n_words: int, n_topics: int) -> np.ndarray:
    """n_wk (V x K, int32) of a shard's tokens: integer counts, so shards sum in any order."""
    nwk = np.zeros((n_words, n_topics), dtype=np.int32)
    for i in range(words.shape[0]):
        nwk[words[i], z[i]] += 1
    return nwk


@njit(cache=True, inline="always")
def draw_in_row(row: np.ndarray, blocks: np.ndarray, t: float) -> int:
    """The k where the running sum of `row` first exceeds t (0 <= t < Σ row): a scan of the
    block sums, then of one block. Rounding can leave t past the last partial sum; the last
    positive entry then takes it (never a zero one)."""
    n_topics, n_blocks = row.shape[0], blocks.shape[0]
    acc = 0.0
    j = 0
    while j < n_blocks - 1 and acc + blocks[j] <= t:
        acc += blocks[j]
        j += 1
    last = -1
    for k in range(j * ROW_BLOCK, min((j + 1) * ROW_BLOCK, n_topics)):
        if row[k] > 0.0:
            last = k
            acc += row[k]
            if acc > t:
                return k
    if last >= 0:
        return last
    k = n_topics - 1
    while k > 0 and row[k] <= 0.0:
        k -= 1
    return k


@njit(parallel=prange_only(), cache=True)
def sample_z_sparse(
    z: np.ndarray,
    words: np.ndarray,
    doc_ptr: np.ndarray,
    chunk_ptr: np.ndarray,
    phi: np.ndarray,
    mass: np.ndarray,
    blocks: np.ndarray,
    alpha: float,
    seed: int,
    step: int,
    doc_offset: int = 0,
) -> None:
    """Strategy (a): sparse document part over nonzero n_dk, dense part from the word's row.

    p(z_i = k) ∝ n_dk·φ_kw + alpha·φ_kw. The sparse part is summed over the document's
    nonzero topics (a swap-remove list, O(1) updates); the dense part's total alpha·Σ_k φ_kw
    and its block sums come with the Φ draw (``draw_phi``), and a token that lands in it
    scans the block sums and one block of the row. Rows of Φ are random accesses into a
    V x K array far larger than the caches: the next run's row is prefetched.

    A run of tokens of one word in a document (a repeated word, as count data gives it)
    shares one set of sparse sums: with the whole run's counts removed, token i's exact
    conditional splits as (n_dk^-run + alpha) φ_kw + φ_kw · #{other tokens of the run in k};
    the first part is the run's shared sums, the second a scan of the run's other tokens (at
    their current values: this is still single-site Gibbs). Count data has about two tokens
    per run, so the O(K_d) sums are built about half as often.

    Document d's stream is keyed by its corpus-wide index `doc_offset + d`, so a shard of the
    corpus (on a Dask worker) draws exactly what the whole corpus would.
    """
    n_topics, n_chunks = phi.shape[1], chunk_ptr.shape[0] - 1
    claimed = np.zeros(1, dtype=np.int64)
    for _lane in prange(sched.lanes(n_chunks)):
        ndk = np.zeros(n_topics, dtype=np.int32)
        nonzero = np.empty(n_topics, dtype=np.int32)
        where = np.empty(n_topics, dtype=np.int32)
        cum = np.empty(n_topics)
        c = sched.claim(claimed)
        while c < n_chunks:
            for d in range(chunk_ptr[c], chunk_ptr[c + 1]):
                stream = rng.key(seed, rng.Z_STEP, step, doc_offset + d)
                sparse_document(
                    z, words, doc_ptr[d], doc_ptr[d + 1], phi, mass, blocks, alpha, stream,
                    ndk, nonzero, where, cum,
                )  # fmt: skip
            c = sched.claim(claimed)


@njit(cache=True, inline="always")
def sparse_document(
    z: np.ndarray,
    words: np.ndarray,
    start: int,
    end: int,
    phi: np.ndarray,
    mass: np.ndarray,
    blocks: np.ndarray,
    alpha: float,
    stream: np.uint64,
    ndk: np.ndarray,
    nonzero: np.ndarray,
    where: np.ndarray,
    cum: np.ndarray,
) -> None:
    """Strategy (a) on the tokens start..end of one document; `ndk` (all 0 on entry and on
    exit), `nonzero`, `where` and `cum` are the lane's scratch of length K."""
    counter = 0
    n_nz = 0
    for i in range(start, end):
        n_nz = add_topic(z[i], ndk, nonzero, where, n_nz)
    while start < end:
        w = words[start]
        stop = start + 1
        while stop < end and words[stop] == w:
            stop += 1
        if stop < words.shape[0]:  # the next run's row: fetched while this one runs
            prefetch_row(phi, words[stop])
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
        dense = alpha * mass[w]
        base = sparse + dense
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
                new = draw_in_row(row, blocks[w], (u - sparse) / alpha)
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
            n_nz = add_topic(z[i], ndk, nonzero, where, n_nz)
        start = stop
    for j in range(n_nz):
        ndk[nonzero[j]] = 0


@njit(cache=True, inline="always")
def add_topic(k: int, ndk: np.ndarray, nonzero: np.ndarray, where: np.ndarray, n_nz: int) -> int:
    """n_dk += 1, listing k among the document's nonzero topics (a swap-remove list) if it is
    new there; returns the list's new length."""
    if ndk[k] == 0:
        nonzero[n_nz] = k
        where[k] = n_nz
        n_nz += 1
    ndk[k] += 1
    return n_nz


@njit(parallel=prange_only(), cache=True)
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
    n_topics, n_chunks = phi.shape[1], chunk_ptr.shape[0] - 1
    claimed = np.zeros(1, dtype=np.int64)
    for _lane in prange(sched.lanes(n_chunks)):
        ndk = np.zeros(n_topics, dtype=np.int32)
        c = sched.claim(claimed)
        while c < n_chunks:
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
            c = sched.claim(claimed)
