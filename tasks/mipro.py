"""Tasks of the `mipro` stage: one (task, optimizer) optimization each."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from aether.mipro.lm.base import LM
from aether.mipro.params import MiproParams
from aether.mipro.run import Result, make_lm, resolve, run_optimizer
from aether.mipro.tasks import load_task

_LMS: dict[str, LM] = {}
_LOCK = threading.Lock()


def shared_lm(params: MiproParams) -> LM:
    """One LM per process and configuration (environment included): the embedded model is
    loaded once and shared by every task."""
    key = resolve(params.lm).model_dump_json()
    with _LOCK:
        if key not in _LMS:
            _LMS[key] = make_lm(params.lm)
        return _LMS[key]


@task(name="mipro-optimize", cache_policy=NO_CACHE)
def optimize_task(task_name: str, optimizer: str, params: dict[str, Any], prepared: str) -> Result:
    """Bootstrap -> propose -> search rounds -> test evaluation for one task and optimizer.

    Calls are cached in SQLite and the MIPRO study resumes, so a retried task pays only for
    what it had not done."""
    logger = get_run_logger()
    p = MiproParams.model_validate(params)
    t = load_task(
        task_name, Path(prepared), n_train=p.n_train, n_val=p.n_val, n_test=p.n_test, seed=p.seed
    )
    result = run_optimizer(t, optimizer, p, shared_lm(p))
    logger.info(
        "%s / %s: val %.3f test %.3f, %s",
        task_name,
        optimizer,
        result.val_score,
        result.test_score,
        result.usage,
    )
    return result


@task(name="mipro-record-optimizer-runs", cache_policy=NO_CACHE)
def record_optimizer_runs(
    stage_run_id: str, results: list[Result], programs: list[str], experiment: str
) -> list[str]:
    """One MLflow run per (task, optimizer), nested under the stage's run: the trial history as
    step metrics and the optimized program (instructions + demos) as an artefact."""
    from aether.tracking import Tracker

    tracker = Tracker(experiment=experiment)
    ids = []
    for result, program in zip(results, programs, strict=True):
        name = f"mipro/{result.task}/{result.optimizer}"
        params = {"task": result.task, "optimizer": result.optimizer, "model": result.model}
        with tracker.stage_run(name, parent_run_id=stage_run_id, params=params) as run:
            row = result.row()
            run.log_metrics({k: v for k, v in row.items() if k not in params})
            run.log_series("trial_score", [h["score"] for h in result.history if "score" in h])
            fulls = [h["full_score"] for h in result.history if "full_score" in h]
            if fulls:
                run.log_series("full_score", fulls)
            run.log_artifact(Path(program), artifact_path="program")
            ids.append(run.run_id)
    return ids
