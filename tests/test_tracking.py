"""MLflow on a temporary SQLite DB: parent and nested runs, params, metrics, artefacts, tags."""

import pytest
from mlflow.tracking import MlflowClient

from aether import provenance
from aether.tracking import Tracker, flatten


def test_parent_with_nested_stage_runs(mlflow_uri, tmp_path):
    tracker = Tracker(experiment="t")
    assert tracker.uri == mlflow_uri
    parent = tracker.start_parent("pipeline", tags=provenance.run_tags())
    artefact = tmp_path / "table.csv"
    artefact.write_text("a,b\n1,2\n")
    with tracker.stage_run("prepare", parent_run_id=parent, params={"prepare": {"seed": 3}}) as run:
        run.log_metrics({"docs": 395, "nested": {"acc": 0.5}, "name": "skipped"})
        run.log_series("loss", [3.0, 2.0, 1.5])
        run.log_artifact(artefact, artifact_path="prepare")
    tracker.end(parent)

    client = MlflowClient(mlflow_uri)
    children = tracker.runs(parent_run_id=parent)
    assert [r.info.run_id for r in children] == [run.run_id]
    child = client.get_run(run.run_id)
    assert child.data.params == {"prepare.seed": "3"}
    assert child.data.metrics == {"docs": 395.0, "nested.acc": 0.5, "loss": 1.5}
    assert [m.value for m in client.get_metric_history(run.run_id, "loss")] == [3.0, 2.0, 1.5]
    assert [m.step for m in client.get_metric_history(run.run_id, "loss")] == [0, 1, 2]
    assert child.info.status == "FINISHED"
    assert child.data.tags["aether.stage"] == "prepare"
    assert client.get_run(parent).data.tags["git.commit"]
    listed = client.list_artifacts(run.run_id, "prepare")
    assert [a.path for a in listed] == ["prepare/table.csv"]


def test_a_failing_stage_is_marked_failed(mlflow_uri):
    tracker = Tracker(experiment="t")
    with pytest.raises(RuntimeError), tracker.stage_run("boom") as run:
        raise RuntimeError("stage failed")
    assert MlflowClient(mlflow_uri).get_run(run.run_id).info.status == "FAILED"


def test_flatten_nests_with_dots():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {
        "a.b": "1",
        "a.c.d": "[1, 2]",
        "e": "None",
    }
