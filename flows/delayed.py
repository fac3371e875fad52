"""The `delayed` stage: delayed sampling on vs off across models and particle counts."""

from __future__ import annotations

import math
from pathlib import Path

from prefect import flow, get_run_logger

from aether import params as P
from aether.delayed import experiment
from aether.delayed.params import DelayedParams
from flows import common
from tasks.delayed import fit_dengue, run_filters
from tasks.record import record_stage


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@flow(name="delayed")
def delayed_flow(
    params_file: str = str(P.PARAMS_FILE),
    parent_run_id: str | None = None,
    data_dir: str = "data",
    reports_dir: str = "reports",
) -> dict:
    """Every (model, on/off, particles) configuration is a task; the results are recorded."""
    params = P.load_as(DelayedParams, "delayed", Path(params_file))
    pipeline = P.load("pipeline", Path(params_file))
    prepared = f"{data_dir}/prepared"
    logger = get_run_logger()
    logger.info(
        "delayed: %s x on/off x %s particles, %d runs", params.models, params.particles, params.runs
    )

    raw = params.model_dump()
    futures = [
        run_filters.submit(model, delay, n, raw, prepared)
        for model in params.models
        for delay in (True, False)
        for n in params.particles
    ]
    fit = fit_dengue.submit(raw, prepared) if "dengue" in params.models else None
    results = [f.result() for f in futures]
    summaries = [r["summary"] for r in results]

    metrics: dict = {"configurations": summaries}
    for model in params.models:
        for n in params.particles:
            ratio = experiment.variance_reduction(summaries, model, n)
            if ratio is not None:
                metrics[f"{model}_variance_reduction_{n}"] = ratio
    errors = [s["max_abs_error"] for s in summaries if s["delay"] and "max_abs_error" in s]
    if errors:
        metrics["kalman_max_abs_logz_error"] = max(errors)
    spread = [
        {
            "model": r["raw"]["model"],
            "delay": "on" if r["raw"]["delay"] else "off",
            "particles": r["raw"]["particles"],
            "run": i,
            "log_z": _finite(z),
        }
        for r in results
        for i, z in enumerate(r["raw"]["log_z"])
    ]
    plots = {"logz_spread": spread}
    if fit is not None:
        dengue = fit.result()
        metrics["dengue_log_z"] = _finite(dengue["log_z"])
        metrics["dengue_parameters"] = dengue["parameters"]
        plots["dengue_fit"] = dengue["fit"]

    record_stage(
        "delayed",
        raw,
        metrics,
        plots=plots,
        inputs=[f"{prepared}/dengue"] if "dengue" in params.models else [],
        parent_run_id=parent_run_id,
        experiment=pipeline.experiment,
        reports_dir=reports_dir,
    )
    return metrics


if __name__ == "__main__":
    common.main(delayed_flow, __doc__)
