"""The stage flows and the pipeline under a real Prefect API, recording into MLflow on SQLite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from aether import params as P
from aether.tracking import Tracker

pytestmark = pytest.mark.usefixtures("prefect_api")

SMALL = ["reuters", "dengue"]
REPO = Path(__file__).resolve().parents[1]


def test_prepare_flow_outputs_tracking_and_cache(workdir, set_params, mlflow_uri):
    from flows.prepare import prepare_flow

    set_params(prepare={"datasets": SMALL})
    stats = prepare_flow(params_file="params.yaml")

    assert set(stats) == set(SMALL)
    metrics = json.loads(Path("reports/prepare/metrics.json").read_text())
    assert metrics["n_datasets"] == 2
    assert metrics["datasets"]["reuters"] == stats["reuters"]
    plot = Path("reports/prepare/plots/datasets.csv").read_text().splitlines()
    assert plot[0] == "dataset,kind,megabytes" and len(plot) == 3
    run_id = json.loads(Path("reports/prepare/run.json").read_text())["run_id"]
    run = MlflowClient(mlflow_uri).get_run(run_id)
    assert run.data.params["datasets"] == str(SMALL)
    assert run.data.metrics["n_datasets"] == 2.0
    assert any(k.startswith("dvc.md5.data/raw/") for k in run.data.tags)
    assert run.data.tags["git.commit"]
    artefacts = [a.path for a in MlflowClient(mlflow_uri).list_artifacts(run_id, "prepare")]
    assert "prepare/metrics.json" in artefacts

    # Unchanged inputs: the conversion is served from Prefect's cache, outputs untouched.
    meta = Path("data/prepared/reuters/meta.json")
    before = meta.stat().st_mtime_ns
    assert prepare_flow(params_file="params.yaml") == stats
    assert meta.stat().st_mtime_ns == before
    # A deleted output is rebuilt rather than "cached".
    meta.unlink()
    prepare_flow(params_file="params.yaml")
    assert meta.exists()


def test_bad_params_fail_clearly_and_keep_outputs(workdir, set_params):
    from flows.prepare import prepare_flow

    set_params(prepare={"datasets": ["dengue"]})
    prepare_flow(params_file="params.yaml")
    kept = Path("reports/prepare/metrics.json").read_text()

    set_params(prepare={"test_fraction": 2})
    with pytest.raises(P.ParamsError, match=r"prepare\.test_fraction = 2"):
        prepare_flow(params_file="params.yaml")
    set_params(prepare={"test_fraction": 0.2, "datasets": ["no-such-data"]})
    with pytest.raises(P.ParamsError, match="unknown dataset"):
        prepare_flow(params_file="params.yaml")
    assert Path("reports/prepare/metrics.json").read_text() == kept
    assert Path("data/prepared/dengue/meta.json").exists()


def test_stage_cli_prints_one_error(workdir, set_params, prefect_api):
    set_params(prepare={"seed": -1})
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "flows.prepare"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    assert "error: params.yaml: prepare.seed = -1" in result.stderr
    assert "Traceback" not in result.stderr


def test_pipeline_cli_reports_an_unreachable_lm_in_one_line(workdir, set_params, prefect_api):
    """The mipro stage inside the pipeline: a dead endpoint is one line and status 2."""
    import socket

    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    set_params(
        prepare={"datasets": ["gsm8k"]},
        mipro={"tasks": ["gsm8k_extract"], "optimizers": ["zero_shot"]},
    )
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PYTHONPATH": str(REPO),
        "AETHER_MIPRO_LM_URL": f"http://127.0.0.1:{port}/v1",
        "AETHER_MIPRO_LM_MODEL": "none",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flows.pipeline", "--stages", "prepare", "mipro"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "unreachable" in errors[0]
    assert "Traceback" not in result.stderr
    assert Path("data/prepared/gsm8k/train.parquet").exists()  # earlier work is kept


def test_pipeline_runs_stages_as_nested_runs(workdir, set_params, tiny_stages, mlflow_uri):
    from flows.pipeline import STAGES, pipeline_flow

    set_params(**tiny_stages)
    parent = pipeline_flow(params_file="params.yaml")

    children = Tracker().runs(parent_run_id=parent)
    stages = {r.data.tags["aether.stage"] for r in children}
    assert set(STAGES) <= stages  # a run per stage; selfplay adds one per domain as well
    assert all(s.partition("-")[0] in STAGES for s in stages)
    assert all(r.info.status == "FINISHED" for r in children)
    parent_run = MlflowClient(mlflow_uri).get_run(parent)
    assert parent_run.info.status == "FINISHED"
    assert parent_run.data.params["prepare.datasets"] == str(tiny_stages["prepare"]["datasets"])
    html = Path("reports/report.html").read_text()
    assert "<h2 id='prepare'>prepare</h2>" in html and "data:image/png;base64," in html
    report_run = next(r for r in children if r.data.tags["aether.stage"] == "report")
    listed = MlflowClient(mlflow_uri).list_artifacts(report_run.info.run_id, "report")
    assert {"report/report.html", "report/report.md"} <= {a.path for a in listed}


def test_nightly_deployment_is_scheduled(prefect_api):
    """`--serve` and prefect.yaml declare the same nightly schedule of the same flow."""
    from prefect.client.orchestration import get_client
    from prefect.flows import load_flow_from_entrypoint

    from flows.pipeline import pipeline_flow

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    nightly = next(d for d in spec["deployments"] if d["name"] == "nightly")
    cron = P.load("pipeline", REPO / "params.yaml").nightly_cron
    assert nightly["schedules"][0]["cron"] == cron
    flow = load_flow_from_entrypoint(str(REPO / nightly["entrypoint"]))
    assert flow.name == pipeline_flow.name

    deployment_id = pipeline_flow.to_deployment(name="nightly", cron=cron).apply()
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    assert deployment.name == "nightly"
    assert deployment.schedules[0].schedule.cron == cron


def test_fetch_retries_io_failures_but_not_bad_checksums(workdir, monkeypatch):
    """A download that fails once is retried by Prefect; a checksum mismatch is not."""
    from prefect import flow

    import aether.data
    from tasks.prepare import fetch_dataset

    real_fetch, calls = aether.data.fetch, []

    def flaky(name, raw_dir, mirror=None):
        calls.append(name)
        if len(calls) == 1:
            raise aether.data.MissingSourceError("connection reset (simulated)")
        return real_fetch(name, raw_dir, mirror=mirror)

    @flow
    def one_fetch():
        return fetch_dataset("dengue", "data/raw", str(REPO.parent / "shared" / "datasets"))

    monkeypatch.setattr(aether.data, "fetch", flaky)
    fetched = one_fetch()
    assert len(calls) == 2 and all(Path(p).exists() for p in fetched.values())

    def corrupt(name, raw_dir, mirror=None):
        calls.append(name)
        raise aether.data.ChecksumMismatchError(Path("x"), "a" * 64, "b" * 64, "restore it")

    calls.clear()
    monkeypatch.setattr(aether.data, "fetch", corrupt)
    with pytest.raises(aether.data.ChecksumMismatchError):
        one_fetch()
    assert len(calls) == 1
