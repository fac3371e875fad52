"""`make run`: `dvc repro` under one Prefect API server and one MLflow parent run.

DVC runs each stage as its own process. Started alone, each would spin up a temporary
Prefect server (25-30 s here) and record a lone MLflow run; this launcher starts one
server for them all and passes the parent run's id down, so one pipeline run is one
parent run with a nested run per stage that DVC actually re-ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aether import offline

offline.apply()

from aether import params as P  # noqa: E402
from aether import provenance  # noqa: E402
from aether.tracking import PARENT_ENV, Tracker  # noqa: E402
from flows.server import prefect_server  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run `dvc repro [argv]`; print where the report is and how to open MLflow."""
    argv = sys.argv[1:] if argv is None else argv
    default_store = "MLFLOW_TRACKING_URI" not in os.environ  # MLflow exports it once set
    try:
        pipeline = P.load("pipeline")
    except P.ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tracker = Tracker(experiment=pipeline.experiment)
    parent = tracker.start_parent(
        "pipeline (dvc repro)", tags=provenance.run_tags(), params_file=P.PARAMS_FILE
    )
    env = dict(os.environ)
    # DVC's stage commands say `python`: make it this interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env[PARENT_ENV] = parent
    env["MLFLOW_TRACKING_URI"] = tracker.uri
    with prefect_server() as api_url:
        env["PREFECT_API_URL"] = api_url
        code = subprocess.call([sys.executable, "-m", "dvc", "repro", *argv], env=env)
    if not tracker.runs(parent_run_id=parent):
        tracker.client.delete_run(parent)  # nothing re-ran: no empty parent in the dashboard
    else:
        tracker.end(parent, ok=code == 0)
    if code == 0:
        report = Path("reports/report.html").resolve()
        print(f"\nReport: {report}\n        {report.with_suffix('.md')}")
        uri = "sqlite:///mlflow.db" if default_store else tracker.uri
        print(f"MLflow dashboard: mlflow ui --backend-store-uri {uri}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
