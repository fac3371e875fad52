"""The `topics` stage under a real Prefect API, recording into MLflow on SQLite."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import aether.data
from aether import params as P
from aether.data import DataError
from aether.topics.params import TopicsParams

pytestmark = pytest.mark.usefixtures("prefect_api")

TINY = {
    "corpus": "reuters",
    "n_topics": 5,
    "iterations": 12,
    "burn_in": 4,
    "samplers": ["pclda", "sparselda"],
    "threads": 2,
    "heldout_sweeps": 6,
}


def test_topics_flow_outputs_and_tracking(workdir, set_params, mlflow_uri):
    from flows.topics import topics_flow

    aether.data.prepare("reuters", Path("data/raw"), Path("data/prepared"))
    set_params(topics=TINY)
    result = topics_flow(params_file="params.yaml")

    metrics = json.loads(Path("reports/topics/metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result))
    assert set(metrics["samplers"]) == {"pclda", "sparselda"}
    for summary in metrics["samplers"].values():
        assert summary["tokens_per_s"] > 0 and summary["heldout_ll_per_token"] < 0
        assert -1 <= summary["coherence_npmi"] <= 1
    assert len(metrics["top_words"]) == 5
    by_iteration = pd.read_csv("reports/topics/plots/loglik_iteration.csv")
    assert list(by_iteration.columns) == ["iteration", "pclda", "sparselda"]
    assert len(by_iteration) == 12
    assert pd.read_csv("reports/topics/plots/loglik_time.csv").columns[0] == "seconds"
    estimates = np.load("data/topics/estimates.npz")
    assert estimates["topic_word"].shape == (5, metrics["vocab_size"])
    np.testing.assert_allclose(estimates["topic_word"].sum(axis=1), 1.0, rtol=1e-4)
    assert estimates["doc_topic"].shape == (metrics["docs_train"], 5)

    run_id = json.loads(Path("reports/topics/run.json").read_text())["run_id"]
    client = MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.data.params["n_topics"] == "5"
    assert run.data.metrics["samplers.pclda.tokens_per_s"] > 0
    trace = client.get_metric_history(run_id, "log_joint.pclda")
    assert len(trace) == 12
    assert any(k.startswith("dvc.md5.data/prepared/reuters") for k in run.data.tags)


def test_topics_flow_rejects_bad_params_and_missing_corpus(workdir, set_params):
    from flows.topics import topics_flow

    set_params(topics={**TINY, "n_topics": 0})
    with pytest.raises(P.ParamsError, match=r"topics\.n_topics = 0"):
        topics_flow(params_file="params.yaml")
    set_params(topics={**TINY, "corpus": "ap"})
    with pytest.raises(DataError, match=r"add 'ap' to prepare\.datasets"):
        topics_flow(params_file="params.yaml")
    assert not Path("reports/topics/metrics.json").exists()


def test_topics_flow_on_the_dask_task_runner(workdir, set_params):
    """`pipeline.task_runner: dask`: the flow runs on prefect-dask's local cluster and PC-LDA
    shards its documents over that cluster's workers, giving the threaded chain."""
    from aether.topics import from_counts, run_sampler
    from flows import common
    from flows.topics import topics_flow

    aether.data.prepare("reuters", Path("data/raw"), Path("data/prepared"))
    tiny = {**TINY, "samplers": ["pclda"], "iterations": 6, "burn_in": 2}
    set_params(pipeline={"task_runner": "dask", "max_workers": 2}, topics=tiny)
    result = common.with_runner(topics_flow, Path("params.yaml"))(params_file="params.yaml")

    params = P.load_as(TopicsParams, "topics", Path("params.yaml"))
    prepared = aether.data.read_corpus(Path("data/prepared/reuters"))
    threaded = run_sampler(
        from_counts(prepared.train, drop_empty=True),
        from_counts(prepared.test, drop_empty=True),
        prepared.train,
        sampler="pclda",
        n_topics=params.n_topics,
        alpha=params.alpha,
        beta=params.beta,
        iterations=params.iterations,
        seed=params.seed,
        threads=params.threads,
        heldout_sweeps=params.heldout_sweeps,
    )
    assert result["samplers"]["pclda"]["log_joint_per_token"] == threaded.log_joint[-1]
    assert result["samplers"]["pclda"]["heldout_ll_per_token"] == threaded.heldout_log_likelihood
