"""PC-LDA across machines with Dask: document shards stay on workers, Φ is broadcast, and the
topic-word counts are reduced on the driver.

One iteration: the driver draws Φ | n_wk (parallel over words, as in ``LDA``) and broadcasts
Φ and the word masses; each worker builds alias tables for its shard's words only and samples
its documents' z given Φ; it returns its n_wk contribution, which the driver sums in shard
order. Given Φ the documents are independent, so this is the same exact sampler, and because
every draw is keyed by (seed, iteration, corpus-wide document index) the chain is
bit-identical to the threaded one for any number of workers or shards.

A shard's z never leaves its worker: it is the result of the previous sweep (a future), and a
sweep is a pure function of (shard, z, Φ, iteration). Were a worker lost, Dask would recompute
its z from that lineage and get the same numbers.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from distributed import Client, LocalCluster, get_worker, worker_client

from aether.topics import likelihood, pclda
from aether.topics.corpus import Tokens
from aether.topics.model import LDA, ModelError, check_settings, chunks, initial_z, numba_threads


@dataclass(frozen=True)
class Shard:
    """A contiguous run of the model's document chunks, rebased to start at 0."""

    words: np.ndarray  # int32, the shard's tokens
    doc_ptr: np.ndarray  # int64, from 0
    chunk_ptr: np.ndarray  # int64, the model's chunk boundaries inside the shard, from 0
    doc_offset: int  # corpus-wide index of the shard's first document: keys its streams
    n_words: int  # V
    used: np.ndarray  # bool V: words with a token here, the only alias tables it needs


@dataclass(frozen=True)
class Config:
    n_topics: int
    alpha: float
    seed: int
    sampler: str
    threads: int
    mh_steps: int


def split(tokens: Tokens, chunk_ptr: np.ndarray, n_shards: int) -> list[Shard]:
    """About equal token counts per shard, cut only at chunk boundaries."""
    starts = tokens.doc_ptr[chunk_ptr]
    targets = np.linspace(0, tokens.n_tokens, n_shards + 1)
    cut = np.unique(np.searchsorted(starts, targets, side="left"))
    cut[0], cut[-1] = 0, len(chunk_ptr) - 1
    cut = np.unique(cut)
    shards = []
    for a, b in itertools.pairwise(cut):
        d0, d1 = int(chunk_ptr[a]), int(chunk_ptr[b])
        t0, t1 = tokens.doc_ptr[d0], tokens.doc_ptr[d1]
        words = tokens.words[t0:t1].copy()
        used = np.zeros(tokens.n_words, dtype=np.bool_)
        used[words] = True
        shards.append(
            Shard(
                words=words,
                doc_ptr=tokens.doc_ptr[d0 : d1 + 1] - t0,
                chunk_ptr=chunk_ptr[a : b + 1] - d0,
                doc_offset=d0,
                n_words=tokens.n_words,
                used=used,
            )
        )
    return shards


def _init(shard: Shard, cfg: Config) -> np.ndarray:
    with numba_threads(cfg.threads):
        return initial_z(shard.doc_ptr, cfg.n_topics, cfg.seed, shard.doc_offset)


def _counts(shard: Shard, z: np.ndarray, cfg: Config) -> np.ndarray:
    return pclda.count_tokens(z, shard.words, shard.n_words, cfg.n_topics)


def _sweep(
    shard: Shard,
    z: np.ndarray,
    phi_mass: tuple[np.ndarray, np.ndarray, np.ndarray],
    cfg: Config,
    step: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The shard's z given Φ (a new array: inputs are never mutated) and its n_wk part."""
    phi, mass, blocks = phi_mass
    z = z.copy()
    with numba_threads(cfg.threads):
        args = (cfg.alpha, cfg.seed, step)
        if cfg.sampler == "pclda":
            pclda.sample_z_sparse(
                z, shard.words, shard.doc_ptr, shard.chunk_ptr, phi, mass, blocks, *args,
                doc_offset=shard.doc_offset,
            )  # fmt: skip
        else:
            prob = np.empty(phi.shape)
            table = np.empty(phi.shape, dtype=np.int32)
            pclda.build_alias(phi, shard.used, prob, table)
            pclda.sample_z_light(
                z, shard.words, shard.doc_ptr, shard.chunk_ptr, phi, prob, table, *args,
                cfg.mh_steps, doc_offset=shard.doc_offset,
            )  # fmt: skip
    return z, _counts(shard, z, cfg)


def _doc_terms(shard: Shard, z: np.ndarray, cfg: Config) -> np.ndarray:
    with numba_threads(cfg.threads):
        return likelihood.doc_terms(z, shard.doc_ptr, shard.chunk_ptr, cfg.n_topics, cfg.alpha)


class ShardedLDA(LDA):
    """PC-LDA (``pclda`` or ``pclda_light``) with its documents sharded over a Dask cluster.

    Same API and, for the same seed, the same chain as ``LDA``. `threads` is the numba thread
    count both of the driver's Φ step and of each worker's z step. `cpu_seconds` counts the
    driver process only (the workers' CPU time is elsewhere).
    """

    def __init__(
        self,
        tokens: Tokens,
        n_topics: int,
        *,
        client: Client,
        alpha: float = 0.1,
        beta: float = 0.01,
        sampler: str = "pclda",
        seed: int = 0,
        threads: int = 1,
        mh_steps: int = 4,
        n_shards: int | None = None,
    ) -> None:
        if not sampler.startswith("pclda"):
            raise ModelError(f"only PC-LDA shards over Dask workers, not {sampler!r}")
        check_settings(n_topics, alpha, beta, sampler, threads, mh_steps)
        self.tokens, self.n_topics, self.alpha, self.beta = tokens, n_topics, alpha, beta
        self.sampler, self.seed, self.threads, self.mh_steps = sampler, seed, threads, mh_steps
        self.client = client
        self._cfg = Config(n_topics, alpha, seed, sampler, threads, mh_steps)
        self._chunks = chunks(tokens.doc_ptr)
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ModelError("the Dask cluster has no workers")
        shards = split(tokens, self._chunks, n_shards or len(workers))
        self._where = [[workers[s % len(workers)]] for s in range(len(shards))]
        self._shards = [
            client.scatter(shard, workers=where, hash=False)
            for shard, where in zip(shards, self._where, strict=True)
        ]
        self._z = [
            self._submit(_init, shard, self._cfg, where=w)
            for shard, w in zip(self._shards, self._where, strict=True)
        ]
        self.nwk = self._reduce(
            [self._submit(_counts, s, z, self._cfg, where=w) for s, z, w in self._each()]
        )
        self.nk = self.nwk.sum(axis=0)
        self.iteration = 0
        self.log_joint_trace: list[float] = []
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []

    def _each(self):
        return zip(self._shards, self._z, self._where, strict=True)

    def _submit(self, fn, *args, where):
        return self.client.submit(fn, *args, workers=where, pure=False)

    def _reduce(self, parts) -> np.ndarray:
        """Σ over shards, in shard order, of their n_wk contributions."""
        total = None
        for part in self.client.gather(parts):
            total = part.copy() if total is None else total + part
        return total

    def step(self) -> None:
        """Φ on the driver, broadcast; z on the shards; n_wk reduced."""
        it = self.iteration + 1
        v, k = self.nwk.shape
        # fresh arrays: the last ones were sent
        self.phi, self._mass = np.empty((v, k)), np.empty(v)
        self._blocks = np.empty((v, pclda.row_blocks(k)))
        pclda.draw_phi(self.nwk, self.beta, self.seed, it, self.phi, self._mass, self._blocks)
        [phi_mass] = self.client.scatter(
            [(self.phi, self._mass, self._blocks)], broadcast=True, hash=False
        )
        results = [
            self._submit(_sweep, s, z, phi_mass, self._cfg, it, where=w) for s, z, w in self._each()
        ]
        self._z = [
            self._submit(operator.getitem, r, 0, where=w)
            for r, w in zip(results, self._where, strict=True)
        ]
        parts = [
            self._submit(operator.getitem, r, 1, where=w)
            for r, w in zip(results, self._where, strict=True)
        ]
        self.nwk = self._reduce(parts)
        self.nk = self.nwk.sum(axis=0)
        self.iteration = it

    @property
    def z(self) -> np.ndarray:
        """All assignments, gathered from the workers (for inspection and θ̂)."""
        return np.concatenate(self.client.gather(self._z))

    def log_joint(self) -> float:
        """log p(w, z) per token: document terms on the shards, the rest on the driver."""
        terms = self.client.gather(
            [self._submit(_doc_terms, s, z, self._cfg, where=w) for s, z, w in self._each()]
        )
        total = likelihood.combine(np.concatenate(terms), self.nwk, self.nk, self.beta)
        return total / self.tokens.n_tokens


def _inside_dask_task() -> bool:
    try:
        get_worker()
    except ValueError:
        return False
    return True


@contextmanager
def connect(address: str | None = None, n_workers: int = 2) -> Iterator[Client]:
    """A client of the cluster to shard over: inside a Dask task (a Prefect DaskTaskRunner),
    the cluster running it, seceding from the worker's pool so the shards' tasks can run there;
    else the scheduler at `address`; else a local cluster of `n_workers` processes."""
    if _inside_dask_task():
        with worker_client() as client:
            yield client
    elif address:
        try:
            client = Client(address, timeout="30s")
        except OSError as exc:
            raise ConnectionError(
                f"no Dask scheduler answers at {address} (pipeline.dask_address): {exc}"
            ) from None
        with client:
            yield client
    else:
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
