"""The whole DAG as one Prefect flow: every stage a subflow, in dvc.yaml's order.

`python -m flows.pipeline` runs it once; `--serve` serves it as the `nightly` deployment on
params.yaml's cron schedule from this one process (no work pool needed); `prefect.yaml`
holds the same deployment for `prefect deploy` against a Prefect server.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.settings import PREFECT_API_URL, temporary_settings

from aether import params as P
from aether import provenance
from aether.tracking import Tracker
from flows import common
from flows.delayed import delayed_flow
from flows.mipro import mipro_flow
from flows.prepare import prepare_flow
from flows.report import report_flow
from flows.selfplay import selfplay_flow
from flows.server import prefect_server
from flows.sparse import sparse_flow
from flows.topics import topics_flow

# DAG order: prepare first, the method stages (independent of each other), report last.
STAGES = {
    "prepare": prepare_flow,
    "selfplay": selfplay_flow,
    "delayed": delayed_flow,
    "topics": topics_flow,
    "sparse": sparse_flow,
    "mipro": mipro_flow,
    "report": report_flow,
}


@flow(name="aether-pipeline")
def pipeline_flow(params_file: str = str(P.PARAMS_FILE), stages: list[str] | None = None) -> str:
    """Run the stages (all by default) under one MLflow parent run; returns its run id."""
    selected = stages or list(STAGES)
    unknown = sorted(set(selected) - set(STAGES))
    if unknown:
        raise P.ParamsError(f"unknown stage(s) {unknown}; stages are {list(STAGES)}")
    pipeline = P.load("pipeline", Path(params_file))
    tracker = Tracker(experiment=pipeline.experiment)
    parent = tracker.start_parent(
        "pipeline", tags=provenance.run_tags(), params_file=Path(params_file)
    )
    runner = common.task_runner(pipeline)
    ok = False
    try:
        for name in (s for s in STAGES if s in selected):
            get_run_logger().info("stage %s", name)
            STAGES[name].with_options(task_runner=runner)(
                params_file=params_file, parent_run_id=parent
            )
        ok = True
    finally:
        tracker.end(parent, ok=ok)
    return parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=P.PARAMS_FILE)
    parser.add_argument("--stages", nargs="+", help=f"a subset of {list(STAGES)}")
    parser.add_argument("--serve", action="store_true", help="serve the nightly deployment")
    args = parser.parse_args()
    with common.clear_errors():
        P.validate(args.params)
        if args.serve:
            cron = P.load("pipeline", args.params).nightly_cron
            # Schedules need a server with its scheduler; the ephemeral one has none.
            with prefect_server(ui=True) as url, temporary_settings({PREFECT_API_URL: url}):
                print(f"Prefect UI and API: {url.removesuffix('/api')}")
                pipeline_flow.serve(
                    name="nightly",
                    cron=cron,
                    parameters={"params_file": str(args.params), "stages": args.stages},
                )
        else:
            pipeline_flow(params_file=str(args.params), stages=args.stages)


if __name__ == "__main__":
    main()
