"""The `topics` stage: LDA on a prepared corpus by each configured sampler, side by side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger

import aether.data
from aether import io
from aether import params as P
from aether.data import DataError
from aether.topics import metrics
from aether.topics.params import TopicsParams
from flows import common
from tasks.record import record_stage
from tasks.topics import run_sampler_task

TIME_GRID = 100  # points of the log-likelihood-against-wall-time plot


def _against_time(runs) -> list[dict]:
    """Each sampler's trace on one wall-time grid (empty where a sampler had not started or
    had already finished), so the plot is one table with a column per sampler."""
    end = max(r.seconds[-1] for r in runs)
    grid = np.linspace(0.0, end, TIME_GRID + 1)[1:]
    table = pd.DataFrame({"seconds": np.round(grid, 4)})
    for r in runs:
        values = np.interp(grid, r.seconds, r.log_joint, left=np.nan, right=np.nan)
        table[r.sampler] = np.round(values, 6)
    return table.to_dict("records")


@flow(name="topics")
def topics_flow(
    params_file: str = str(P.PARAMS_FILE),
    parent_run_id: str | None = None,
    data_dir: str = "data",
    reports_dir: str = "reports",
) -> dict:
    """Samplers run as tasks one after another (so their timings do not compete for cores),
    each on `threads` threads; with `pipeline.task_runner: dask` PC-LDA shards the documents
    over the Dask workers. The first sampler's Φ and θ estimates are the stage's outputs."""
    params = P.load_as(TopicsParams, "topics", Path(params_file))
    pipeline = P.load("pipeline", Path(params_file))
    corpus_dir = Path(data_dir) / "prepared" / params.corpus
    if not (corpus_dir / "train.npz").is_file():
        raise DataError(
            f"{corpus_dir} is not prepared: add {params.corpus!r} to prepare.datasets in "
            f"{params_file} and run the prepare stage (dvc repro prepare)"
        )
    logger = get_run_logger()
    corpus = aether.data.read_corpus(corpus_dir)
    logger.info("topics on %s: %s", params.corpus, params.samplers)

    futures, previous = [], []
    for sampler in params.samplers:
        future = run_sampler_task.submit(
            str(corpus_dir),
            sampler,
            params.model_dump(),
            pipeline.model_dump(),
            wait_for=previous,
        )
        futures.append(future)
        previous = [future]
    runs = [f.result() for f in futures]
    primary = runs[0]

    n_tokens = int(corpus.train.sum())
    summaries = {r.sampler: r.summary(n_tokens, params.burn_in) for r in runs}
    top = metrics.top_words(primary.topic_word, params.top_words)
    words = {f"topic_{k:02d}": " ".join(corpus.vocab[w] for w in row) for k, row in enumerate(top)}

    out = Path(data_dir) / "topics"
    with io.atomic_path(out / "estimates.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            topic_word=primary.topic_word.astype(np.float32),
            doc_topic=primary.doc_topic.astype(np.float32),
            documents=np.flatnonzero(np.asarray(corpus.train.sum(axis=1)).ravel() > 0),
        )
    table = pd.DataFrame(
        {"topic": list(words), "coherence_npmi": primary.coherence, "words": list(words.values())}
    )
    with io.atomic_path(Path(reports_dir) / "topics" / "top_words.csv") as tmp:
        table.to_csv(tmp, index=False)

    by_iteration = pd.DataFrame({"iteration": np.arange(1, params.iterations + 1)})
    for r in runs:
        by_iteration[r.sampler] = np.round(r.log_joint, 6)
    result = {
        "corpus": params.corpus,
        "docs_train": int(corpus.train.shape[0]),
        "tokens_train": n_tokens,
        "vocab_size": len(corpus.vocab),
        "primary_sampler": primary.sampler,
        "samplers": summaries,
        "top_words": words,
    }
    record_stage(
        "topics",
        params.model_dump(),
        result,
        series={f"log_joint.{r.sampler}": r.log_joint for r in runs},
        plots={
            "loglik_iteration": by_iteration.to_dict("records"),
            "loglik_time": _against_time(runs),
        },
        artifacts=[str(out / "estimates.npz"), str(Path(reports_dir) / "topics" / "top_words.csv")],
        inputs=[str(corpus_dir / "train.npz"), str(corpus_dir / "test.npz")],
        parent_run_id=parent_run_id,
        experiment=pipeline.experiment,
        reports_dir=reports_dir,
    )
    return result


if __name__ == "__main__":
    common.main(topics_flow, __doc__)
