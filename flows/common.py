"""What every stage flow shares: the task runner choice and the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import Flow
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from aether import params as P
from aether.data import DataError


def task_runner(pipeline: P.PipelineParams) -> TaskRunner:
    """Threads on this machine, or a Dask cluster (prefect-dask) when params say so."""
    if pipeline.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if pipeline.dask_address:
            return DaskTaskRunner(address=pipeline.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": pipeline.max_workers, "threads_per_worker": 1}
        )
    return ThreadPoolTaskRunner(max_workers=pipeline.max_workers)


def with_runner(flow_fn: Flow, params_file: Path = P.PARAMS_FILE) -> Flow:
    """The flow with the task runner that params.yaml's `pipeline` section asks for."""
    pipeline = P.load("pipeline", params_file)
    return flow_fn.with_options(task_runner=task_runner(pipeline))


@contextmanager
def clear_errors() -> Iterator[None]:
    """Bad params or data end the command with one line on stderr and exit status 2."""
    try:
        yield
    except (P.ParamsError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def main(flow_fn: Flow, description: str) -> None:
    """Run one stage flow from the command line on params.yaml."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=P.PARAMS_FILE)
    args = parser.parse_args()
    with clear_errors():
        P.validate(args.params)  # before the flow starts, so no run is created for bad params
        with_runner(flow_fn, args.params)(params_file=str(args.params))
