"""Record a finished stage: metrics.json, plot series, and its nested MLflow run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task

from aether import io, provenance
from aether.tracking import Tracker


@task(name="record-stage")
def record_stage(
    stage: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    *,
    series: Mapping[str, list[float]] | None = None,
    plots: Mapping[str, list[dict[str, Any]]] | None = None,
    artifacts: Sequence[str] = (),
    inputs: Sequence[str] = (),
    parent_run_id: str | None = None,
    experiment: str = "aether",
    reports_dir: str = "reports",
) -> str:
    """Write `reports/<stage>/` and log the same to MLflow; return the MLflow run id.

    `series` are step-wise metrics (one value per step); `plots` are tables written as
    `plots/<name>.csv`, which dvc.yaml declares as DVC plots and the report renders.
    """
    out = Path(reports_dir) / stage
    files = [io.write_json(out / "metrics.json", dict(metrics))]
    for name, rows in (plots or {}).items():
        with io.atomic_path(out / "plots" / f"{name}.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
        files.append(out / "plots" / f"{name}.csv")

    tracker = Tracker(experiment=experiment)
    tags = provenance.run_tags([Path(p) for p in inputs])
    with tracker.stage_run(stage, parent_run_id=parent_run_id, params=params, tags=tags) as run:
        run.log_metrics(metrics)
        for name, values in (series or {}).items():
            run.log_series(name, values)
        for path in [*files, *map(Path, artifacts)]:
            run.log_artifact(path, artifact_path=stage)
    io.write_json(
        out / "run.json",
        {"run_id": run.run_id, "experiment_id": run.experiment_id, "ui_path": run.ui_path()},
    )
    get_run_logger().info("%s recorded as MLflow run %s", stage, run.run_id)
    return run.run_id
