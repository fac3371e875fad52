"""One sampler run scored end to end: what the stage (and the benchmark) records per sampler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from aether.topics import metrics
from aether.topics.corpus import Tokens
from aether.topics.model import LDA

if TYPE_CHECKING:
    from distributed import Client


@dataclass(frozen=True)
class SamplerRun:
    sampler: str
    log_joint: list[float]  # per token, after each iteration
    seconds: list[float]  # cumulative sampling wall time after each iteration
    cpu_seconds: list[float]
    topic_word: np.ndarray  # Φ̂, K x V
    doc_topic: np.ndarray  # θ̂, D x K
    heldout_log_likelihood: float  # per held-out token (document completion)
    coherence: np.ndarray  # NPMI per topic

    def summary(self, n_tokens: int, burn_in: int) -> dict[str, float]:
        """Scalar metrics: speed, fit, and the statistical inefficiency after burn-in."""
        iterations = len(self.log_joint)
        after = np.asarray(self.log_joint[burn_in:])
        tau = metrics.inefficiency(after)
        return {
            "tokens_per_s": n_tokens * iterations / self.seconds[-1],
            "tokens_per_cpu_s": n_tokens * iterations / max(self.cpu_seconds[-1], 1e-9),
            "seconds": self.seconds[-1],
            "log_joint_per_token": self.log_joint[-1],
            "heldout_ll_per_token": self.heldout_log_likelihood,
            "coherence_npmi": float(self.coherence.mean()),
            "inefficiency": tau,
            "ess": after.size / tau if np.isfinite(tau) else float("nan"),
        }


def run_sampler(
    train: Tokens,
    test: Tokens,
    reference: sp.sparray,
    *,
    sampler: str,
    n_topics: int,
    alpha: float,
    beta: float,
    iterations: int,
    seed: int,
    threads: int = 1,
    mh_steps: int = 4,
    heldout_sweeps: int = 50,
    top_words: int = 10,
    progress: Callable[[LDA], None] | None = None,
    client: Client | None = None,
) -> SamplerRun:
    """Train one sampler for `iterations` sweeps, then score it on `test` and `reference`.

    With a Dask `client`, PC-LDA shards the documents over its workers (the same chain);
    the collapsed samplers are sequential by nature and always run here.
    """
    settings = dict(alpha=alpha, beta=beta, sampler=sampler, seed=seed, threads=threads)
    if client is not None and sampler.startswith("pclda"):
        from aether.topics.sharded import ShardedLDA

        model = ShardedLDA(train, n_topics, client=client, mh_steps=mh_steps, **settings)
    else:
        model = LDA(train, n_topics, mh_steps=mh_steps, **settings)
    model.train(iterations, callback=progress)
    topic_word = model.topic_word()
    heldout = metrics.heldout_log_likelihood(
        topic_word, test, alpha, sweeps=heldout_sweeps, burn=heldout_sweeps // 5, seed=seed
    )
    return SamplerRun(
        sampler=sampler,
        log_joint=model.log_joint_trace,
        seconds=model.seconds,
        cpu_seconds=model.cpu_seconds,
        topic_word=topic_word,
        doc_topic=model.doc_topic(),
        heldout_log_likelihood=heldout,
        coherence=metrics.npmi_coherence(topic_word, reference, top_words),
    )
