"""Tasks of the `topics` stage: one sampler run each (they run on threads or Dask workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

import aether.data
from aether.topics import LDA, SamplerRun, from_counts, run_sampler


@task(name="topics-sampler", cache_policy=NO_CACHE)
def run_sampler_task(
    corpus_dir: str, sampler: str, params: dict[str, Any], pipeline: dict[str, Any] | None = None
) -> SamplerRun:
    """Load the prepared corpus, train `sampler` on its train split, score it on the test split.

    When `pipeline.task_runner` is dask, PC-LDA shards the documents over a Dask cluster: the
    one running this task, else `pipeline.dask_address`, else a local one of `max_workers`."""
    logger = get_run_logger()
    corpus = aether.data.read_corpus(Path(corpus_dir))
    train = from_counts(corpus.train, drop_empty=True)
    test = from_counts(corpus.test, drop_empty=True)
    every = max(1, params["iterations"] // 10)

    def progress(model: LDA) -> None:
        if model.iteration % every == 0:
            logger.info(
                "%s: iteration %d/%d, log joint per token %.4f, %.1f s",
                sampler,
                model.iteration,
                params["iterations"],
                model.log_joint_trace[-1],
                model.seconds[-1],
            )

    def run(client=None) -> SamplerRun:
        return run_sampler(
            train,
            test,
            corpus.train,
            sampler=sampler,
            n_topics=params["n_topics"],
            alpha=params["alpha"],
            beta=params["beta"],
            iterations=params["iterations"],
            seed=params["seed"],
            threads=params["threads"],
            mh_steps=params["mh_steps"],
            heldout_sweeps=params["heldout_sweeps"],
            top_words=params["top_words"],
            progress=progress,
            client=client,
        )

    pipeline = pipeline or {}
    if pipeline.get("task_runner") != "dask" or not sampler.startswith("pclda"):
        return run()
    from aether.topics import sharded

    with sharded.connect(pipeline.get("dask_address"), pipeline.get("max_workers", 2)) as client:
        workers = len(client.scheduler_info()["workers"])
        logger.info("%s: documents sharded over %d Dask workers", sampler, workers)
        return run(client)
