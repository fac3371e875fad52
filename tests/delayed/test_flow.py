"""The `delayed` stage flow on a tiny configuration, under a real Prefect API and MLflow."""

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import aether.data
from aether import params as P

pytestmark = pytest.mark.usefixtures("prefect_api")

TINY = {
    "models": ["kalman", "lnssm", "dengue"],
    "particles": [8, 16],
    "runs": 3,
    "kalman_steps": 10,
    "lnssm_steps": 10,
    "dengue_steps": 4,
}


def test_delayed_flow_records_metrics_plots_and_run(workdir, set_params, mlflow_uri):
    from flows.delayed import delayed_flow

    aether.data.prepare("dengue", Path("data/raw"), Path("data/prepared"))
    set_params(delayed=TINY)
    metrics = delayed_flow(params_file="params.yaml")

    saved = json.loads(Path("reports/delayed/metrics.json").read_text())
    assert saved["kalman_max_abs_logz_error"] < 1e-8
    assert len(saved["configurations"]) == 3 * 2 * 2
    assert saved["lnssm_variance_reduction_16"] == metrics["lnssm_variance_reduction_16"]
    assert set(saved["dengue_parameters"]) >= {"rho", "h_lambda"}
    spread = Path("reports/delayed/plots/logz_spread.csv").read_text().splitlines()
    assert spread[0] == "model,delay,particles,run,log_z" and len(spread) == 1 + 12 * 3
    fit = Path("reports/delayed/plots/dengue_fit.csv").read_text().splitlines()
    assert fit[0] == "t,observed,expected" and len(fit) == 1 + 4

    run_id = json.loads(Path("reports/delayed/run.json").read_text())["run_id"]
    run = MlflowClient(mlflow_uri).get_run(run_id)
    assert run.data.params["runs"] == "3"
    assert run.data.tags["aether.stage"] == "delayed"


def test_bad_params_fail_before_any_output(workdir, set_params):
    from flows.delayed import delayed_flow

    set_params(delayed={"particles": [0]})
    with pytest.raises(P.ParamsError, match=r"delayed\.particles"):
        delayed_flow(params_file="params.yaml")
    assert not Path("reports/delayed/metrics.json").exists()
