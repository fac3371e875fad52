"""What every stage flow shares: the task runner choice and the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import Flow
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from aether import params as P
from aether.data import DataError
from aether.mipro import MiproError


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


# The errors a user causes and fixes: bad params or data, an LM that cannot serve.
USER_ERRORS = (P.ParamsError, DataError, MiproError)


class _NoTracebackForUserErrors(logging.Filter):
    """Prefect logs a failed task or flow with its traceback; for a user error the message
    alone says what to fix, so its traceback is dropped (other failures keep theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], USER_ERRORS):
            record.exc_info = record.exc_text = None
        return True


@contextmanager
def clear_errors() -> Iterator[None]:
    """A user error ends the command with one line on stderr and exit status 2."""
    quiet = _NoTracebackForUserErrors()
    loggers = [logging.getLogger(f"prefect.{kind}_runs") for kind in ("flow", "task")]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def main(flow_fn: Flow, description: str) -> None:
    """Run one stage flow from the command line on params.yaml."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=P.PARAMS_FILE)
    args = parser.parse_args()
    with clear_errors():
        P.validate(args.params)  # before the flow starts, so no run is created for bad params
        with_runner(flow_fn, args.params)(params_file=str(args.params))
