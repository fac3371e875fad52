"""`make run`: `dvc repro` under one Prefect API server and one MLflow parent run.

DVC runs each stage as its own process. Started alone, each would spin up a temporary
Prefect server (25-30 s here) and record a lone MLflow run; this launcher starts one
server for them all and passes the parent run's id down, so one pipeline run is one
parent run with a nested run per stage that DVC actually re-ran.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from aether import offline

offline.apply()

from aether import params as P  # noqa: E402
from aether import provenance  # noqa: E402
from aether.tracking import PARENT_ENV, Tracker  # noqa: E402

SERVER_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_server():
    """A local Prefect API server for the duration, unless PREFECT_API_URL names one."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--no-ui", "--analytics-off"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Prefect server did not start") from None
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


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
    parent = tracker.start_parent("pipeline (dvc repro)", tags=provenance.run_tags())
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
