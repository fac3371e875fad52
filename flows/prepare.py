"""The `prepare` stage: fetch, verify and convert the datasets that params.yaml lists."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

import aether.data
from aether import params as P
from flows import common
from tasks.prepare import convert_dataset, fetch_dataset, outputs_current
from tasks.record import record_stage


def _megabytes(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


@flow(name="prepare")
def prepare_flow(
    params_file: str = str(P.PARAMS_FILE),
    parent_run_id: str | None = None,
    data_dir: str = "data",
    reports_dir: str = "reports",
) -> dict[str, dict]:
    """Datasets fan out as tasks: fetch (retried) then convert (cached by input)."""
    params = P.load("prepare", Path(params_file))
    pipeline = P.load("pipeline", Path(params_file))
    raw, prepared = f"{data_dir}/raw", f"{data_dir}/prepared"
    mirror = aether.data.mirror_dir()
    logger = get_run_logger()
    logger.info("preparing %s from mirror %s", params.datasets, mirror)

    futures = {}
    for name in params.datasets:
        fetched = fetch_dataset.submit(name, raw, str(mirror) if mirror else None)
        fresh = not outputs_current(name, prepared, params.seed, params.test_fraction)
        futures[name] = convert_dataset.with_options(refresh_cache=fresh).submit(
            name, raw, prepared, params.seed, params.test_fraction, wait_for=[fetched]
        )
    stats = {name: future.result() for name, future in futures.items()}

    rows = [
        {
            "dataset": name,
            "kind": aether.data.get(name).kind,
            "megabytes": round(_megabytes(Path(prepared) / name), 3),
        }
        for name in params.datasets
    ]
    record_stage(
        "prepare",
        params.model_dump(),
        {"datasets": stats, "n_datasets": len(stats)},
        plots={"datasets": rows},
        inputs=[f"{raw}/{f.path}" for n in params.datasets for f in aether.data.get(n).files],
        parent_run_id=parent_run_id,
        experiment=pipeline.experiment,
        reports_dir=reports_dir,
    )
    return stats


if __name__ == "__main__":
    common.main(prepare_flow, __doc__)
