"""Tasks of the `selfplay` stage: one self-play iteration of one domain, and the domain's
MLflow run (they run on threads or Dask workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from aether import provenance
from aether.minimo import selfplay
from aether.minimo.params import SelfplayParams
from aether.tracking import Tracker


@task(name="selfplay-iteration", cache_policy=NO_CACHE)
def iteration_task(domain: str, k: int, params: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """Iteration k of `domain` (0: the untrained model's evaluation); a finished iteration's
    checkpoint is reused, so a rerun after a crash continues where it stopped."""
    metrics = selfplay.step(domain, SelfplayParams(**params), Path(out_dir), k)
    get_run_logger().info(
        "%s iteration %d: eval %s, conjectures proved %s",
        domain,
        k,
        metrics["eval_fraction"],
        metrics.get("conjectures_proved_fraction", "-"),
    )
    return metrics


@task(name="selfplay-record-domain", cache_policy=NO_CACHE)
def record_domain(
    domain: str,
    params: dict[str, Any],
    history: list[dict[str, Any]],
    model: str,
    parent_run_id: str | None,
    experiment: str,
) -> str:
    """One MLflow run per domain: a step per iteration, the last checkpoint as the model."""
    tracker = Tracker(experiment=experiment)
    with tracker.stage_run(
        f"selfplay-{domain}",
        parent_run_id=parent_run_id,
        params={**params, "domain": domain},
        tags=provenance.run_tags(),
    ) as run:
        for m in history:
            numeric = {
                k: v for k, v in m.items() if isinstance(v, int | float) and k != "iteration"
            }
            run.log_metrics(numeric, step=m["iteration"])
        run.log_artifact(Path(model), artifact_path="model")
    return run.run_id
