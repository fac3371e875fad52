"""Tasks of the `delayed` stage: one per (model, delayed on/off, particle count), and the fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task

from aether.delayed import experiment
from aether.delayed.params import DelayedParams


@task(name="delayed-filters", task_run_name="{model}-delay={delay}-n={particles}")
def run_filters(
    model: str, delay: bool, particles: int, params: dict[str, Any], prepared: str
) -> dict[str, Any]:
    """`runs` independent particle filters of one configuration."""
    p = DelayedParams.model_validate(params)
    built = experiment.build_model(model, p, Path(prepared))
    row = experiment.run_config(built, model, delay, particles, p)
    return {"raw": row, "summary": experiment.summarize(row, experiment.exact_log_z(model, built))}


@task(name="delayed-dengue-fit")
def fit_dengue(params: dict[str, Any], prepared: str) -> dict[str, Any]:
    """One delayed-sampling run on the dengue data at the largest particle count."""
    p = DelayedParams.model_validate(params)
    model = experiment.build_model("dengue", p, Path(prepared))
    return experiment.dengue_fit(model, max(p.particles), p)
