"""LDA with a choice of exact samplers behind one small API (after tomotopy's ``LDAModel``).

    model = LDA(tokens, n_topics=20, alpha=0.1, beta=0.01, sampler="pclda", seed=0, threads=2)
    model.train(200)
    model.log_joint_trace, model.topic_word(), model.doc_topic()

The same seed gives the same chain for any `threads`: every random draw is keyed by
(seed, iteration, document or word), and every floating-point reduction has a fixed order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

from aether.topics import collapsed, pclda, rng
from aether.topics.corpus import Tokens
from aether.topics.likelihood import log_joint

SAMPLERS = ("collapsed", "sparselda", "pclda", "pclda_light")
CHUNKS = 256  # documents are handed to threads in this many token-balanced chunks


class ModelError(ValueError):
    """Invalid model settings: K, alpha, β, sampler, threads."""


@njit(parallel=True, cache=True)
def initial_z(doc_ptr: np.ndarray, n_topics: int, seed: int, doc_offset: int = 0) -> np.ndarray:
    """Uniform initial topics; document d's from the stream of its corpus-wide index."""
    z = np.empty(doc_ptr[-1], dtype=np.int32)
    for d in prange(doc_ptr.shape[0] - 1):
        stream = rng.key(seed, rng.INIT, 0, doc_offset + d)
        for i in range(doc_ptr[d], doc_ptr[d + 1]):
            z[i] = min(int(rng.uniform(stream, i - doc_ptr[d]) * n_topics), n_topics - 1)
    return z


def chunks(doc_ptr: np.ndarray, n_chunks: int = CHUNKS) -> np.ndarray:
    """Document boundaries splitting the tokens into about equal chunks (thread-independent)."""
    targets = np.linspace(0, doc_ptr[-1], min(n_chunks, len(doc_ptr) - 1) + 1)
    bounds = np.searchsorted(doc_ptr, targets, side="left")
    bounds[0], bounds[-1] = 0, len(doc_ptr) - 1
    return np.unique(bounds).astype(np.int64)


@contextmanager
def numba_threads(n: int):
    """Run numba's parallel loops in this (Python) thread on `n` threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class LDA:
    """An LDA posterior sampler. `threads` parallelizes PC-LDA (Φ over words, z over
    documents); the collapsed samplers are sequential by nature and use one thread."""

    def __init__(
        self,
        tokens: Tokens,
        n_topics: int,
        *,
        alpha: float = 0.1,
        beta: float = 0.01,
        sampler: str = "pclda",
        seed: int = 0,
        threads: int = 1,
        mh_steps: int = 4,
    ) -> None:
        check_settings(n_topics, alpha, beta, sampler, threads, mh_steps)
        self.tokens, self.n_topics, self.alpha, self.beta = tokens, n_topics, alpha, beta
        self.sampler, self.seed, self.threads, self.mh_steps = sampler, seed, threads, mh_steps
        self._chunks = chunks(tokens.doc_ptr)
        self.nwk = np.empty((tokens.n_words, n_topics), dtype=np.int32)
        self.nk = np.empty(n_topics, dtype=np.int64)
        with numba_threads(threads):
            self.z = initial_z(tokens.doc_ptr, n_topics, seed)
            self._count()
        self.iteration = 0
        self.log_joint_trace: list[float] = []  # per token, after each iteration
        self.seconds: list[float] = []  # cumulative sampling wall time
        self.cpu_seconds: list[float] = []  # cumulative process CPU time while sampling
        v, k = tokens.n_words, n_topics
        if sampler.startswith("pclda"):
            self.phi = np.empty((v, k))  # word-major: a token reads one contiguous row
            self._mass = np.empty(v)
            self._blocks = np.empty((v, pclda.row_blocks(k)))
        if sampler == "pclda_light":
            self._prob = np.empty((v, k))
            self._table = np.empty((v, k), dtype=np.int32)
            self._used = np.diff(tokens.word_ptr) > 0

    def _count(self) -> None:
        t = self.tokens
        pclda.count_topic_words(self.z, t.word_ptr, t.word_tokens, self.nwk, self.nk)

    def step(self) -> None:
        """One sweep of the chosen sampler over every token."""
        t, it = self.tokens, self.iteration + 1
        args = (self.alpha, self.beta, self.seed, it)
        if self.sampler == "collapsed":
            collapsed.sweep_collapsed(self.z, t.words, t.doc_ptr, self.nwk, self.nk, *args)
        elif self.sampler == "sparselda":
            collapsed.sweep_sparse(self.z, t.words, t.doc_ptr, self.nwk, self.nk, *args)
        else:
            pclda.draw_phi(self.nwk, self.beta, self.seed, it, self.phi, self._mass, self._blocks)
            if self.sampler == "pclda":
                pclda.sample_z_sparse(
                    self.z, t.words, t.doc_ptr, self._chunks, self.phi, self._mass,
                    self._blocks, self.alpha, self.seed, it,
                )  # fmt: skip
            else:
                pclda.build_alias(self.phi, self._used, self._prob, self._table)
                pclda.sample_z_light(
                    self.z, t.words, t.doc_ptr, self._chunks, self.phi, self._prob,
                    self._table, self.alpha, self.seed, it, self.mh_steps,
                )  # fmt: skip
            self._count()
        self.iteration = it

    def train(
        self, iterations: int, *, every: int = 1, callback: Callable[[LDA], None] | None = None
    ) -> None:
        """Run `iterations` sweeps; record the log joint per token every `every` sweeps."""
        with numba_threads(self.threads):
            for _ in range(iterations):
                wall, cpu = time.perf_counter(), time.process_time()
                self.step()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                self.seconds.append((self.seconds[-1] if self.seconds else 0.0) + wall)
                self.cpu_seconds.append((self.cpu_seconds[-1] if self.cpu_seconds else 0) + cpu)
                if self.iteration % every == 0:
                    self.log_joint_trace.append(self.log_joint())
                if callback is not None:
                    callback(self)

    def log_joint(self) -> float:
        """log p(w, z) per token at the current state."""
        t = self.tokens
        total = log_joint(self.z, t.doc_ptr, self._chunks, self.nwk, self.nk, self.alpha, self.beta)
        return total / t.n_tokens

    def topic_word(self) -> np.ndarray:
        """Φ̂ (K x V): the posterior mean of Φ given the current z, (n_kw + β)/(n_k + Vβ)."""
        v = self.tokens.n_words
        return ((self.nwk + self.beta) / (self.nk + v * self.beta)).T.copy()

    def doc_topic(self) -> np.ndarray:
        """θ̂ (D x K): the posterior mean of θ given the current z, (n_dk + alpha)/(N_d + Kalpha)."""
        t = self.tokens
        docs = np.repeat(np.arange(t.n_docs), t.doc_lengths)
        ndk = np.zeros((t.n_docs, self.n_topics))
        np.add.at(ndk, (docs, self.z), 1.0)
        return (ndk + self.alpha) / (t.doc_lengths[:, None] + self.n_topics * self.alpha)


def check_settings(
    n_topics: int, alpha: float, beta: float, sampler: str, threads: int, mh_steps: int
) -> None:
    if n_topics < 1:
        raise ModelError(f"n_topics must be >= 1, got {n_topics}")
    if not (alpha > 0 and beta > 0):
        raise ModelError(f"alpha and beta must be > 0, got alpha={alpha}, beta={beta}")
    if sampler not in SAMPLERS:
        raise ModelError(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}")
    if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise ModelError(
            f"threads must be in 1..{numba.config.NUMBA_NUM_THREADS} (NUMBA_NUM_THREADS), "
            f"got {threads}"
        )
    if mh_steps < 1:
        raise ModelError(f"mh_steps must be >= 1, got {mh_steps}")
