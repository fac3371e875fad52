"""The one place that talks to MLflow.

A pipeline run is one parent MLflow run; every stage is a nested run under it. The client
API (not `mlflow.start_run`) is used throughout because Prefect runs tasks on worker threads
and in other processes, where MLflow's thread-local "active run" does not follow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether import offline
from aether.nested import leaves

offline.apply()

import mlflow  # noqa: E402
import yaml  # noqa: E402  (after the offline settings)
from mlflow.entities import Metric, Param, RunStatus  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

EXPERIMENT = "aether"
PARENT_ENV = "AETHER_MLFLOW_PARENT_RUN_ID"
_MAX_PARAM_LEN = 6000


def tracking_uri(root: Path | None = None) -> str:
    """`MLFLOW_TRACKING_URI`, else `sqlite:///<root>/mlflow.db` with root the working directory."""
    if uri := os.environ.get("MLFLOW_TRACKING_URI"):
        return uri
    return f"sqlite:///{(root or Path.cwd()).resolve() / 'mlflow.db'}"


def flatten(params: Mapping[str, Any]) -> dict[str, str]:
    """Nested params -> MLflow's flat `a.b.c` keys with string values."""
    return {key: str(value)[:_MAX_PARAM_LEN] for key, value in leaves(params)}


@dataclass
class StageRun:
    """A live MLflow run of one stage: params, step-wise metrics, artefacts."""

    client: MlflowClient
    run_id: str
    experiment_id: str

    def log_params(self, params: Mapping[str, Any]) -> None:
        items = [Param(k, v) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log scalar metrics; nested dicts become `a.b` keys, non-numbers are skipped."""
        now = int(time.time() * 1000)
        items = [Metric(key, float(value), now, step) for key, value in _numeric(metrics).items()]
        for i in range(0, len(items), 500):
            self.client.log_batch(self.run_id, metrics=items[i : i + 500])

    def log_series(self, name: str, values: list[float]) -> None:
        """One metric over steps 0..n-1 (a learning curve, a trace)."""
        now = int(time.time() * 1000)
        items = [Metric(name, float(v), now, step) for step, v in enumerate(values)]
        for i in range(0, len(items), 500):
            self.client.log_batch(self.run_id, metrics=items[i : i + 500])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def ui_path(self) -> str:
        """The run's path in the MLflow UI, relative to the UI's address."""
        return f"#/experiments/{self.experiment_id}/runs/{self.run_id}"


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Numeric leaves only: MLflow metrics are floats; strings and lists are skipped."""
    return {k: float(v) for k, v in leaves(metrics) if isinstance(v, bool | int | float)}


class Tracker:
    """An MLflow client bound to one tracking URI and experiment."""

    def __init__(self, uri: str | None = None, experiment: str = EXPERIMENT) -> None:
        self.uri = uri or tracking_uri()
        mlflow.set_tracking_uri(self.uri)
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
        else:
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=self._artifact_root(experiment)
            )

    def _artifact_root(self, experiment: str) -> str | None:
        """Keep artefacts beside a local SQLite store so `mlflow ui` finds them."""
        if self.uri.startswith("sqlite:///"):
            db = Path(self.uri.removeprefix("sqlite:///"))
            return (db.parent / "mlartifacts" / experiment).as_uri()
        return None

    def start_parent(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        params_file: Path | None = None,
    ) -> str:
        """The pipeline run: all of params.yaml as params, and the file as an artefact."""
        run = self.client.create_run(self.experiment_id, run_name=name, tags=dict(tags or {}))
        if params_file is not None:
            parent = StageRun(self.client, run.info.run_id, self.experiment_id)
            parent.log_params(yaml.safe_load(Path(params_file).read_text()))
            parent.log_artifact(Path(params_file))
        return run.info.run_id

    def end(self, run_id: str, ok: bool = True) -> None:
        status = RunStatus.FINISHED if ok else RunStatus.FAILED
        self.client.set_terminated(run_id, RunStatus.to_string(status))

    @contextmanager
    def stage_run(
        self,
        stage: str,
        *,
        parent_run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Iterator[StageRun]:
        """A nested run for `stage` under `parent_run_id` (or the env's parent), ended on exit."""
        parent = parent_run_id or os.environ.get(PARENT_ENV)
        all_tags = {"aether.stage": stage, **(tags or {})}
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=stage, tags=all_tags)
        stage_run = StageRun(self.client, run.info.run_id, self.experiment_id)
        if params:
            stage_run.log_params(params)
        try:
            yield stage_run
        except BaseException:
            self.end(stage_run.run_id, ok=False)
            raise
        self.end(stage_run.run_id, ok=True)

    def runs(self, parent_run_id: str | None = None) -> list[Any]:
        """Runs of the experiment, newest first; only the children of a parent if given."""
        query = f"tags.mlflow.parentRunId = '{parent_run_id}'" if parent_run_id else ""
        return self.client.search_runs(
            [self.experiment_id], filter_string=query, order_by=["attributes.start_time DESC"]
        )
