"""The `mipro` stage flow under a real Prefect API and MLflow on SQLite, its LM a loopback
OpenAI-compatible server (selected by environment, as a user would point at vLLM)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import aether.data
from aether import params as P

pytestmark = pytest.mark.usefixtures("prefect_api")


def answer(prompt: str) -> str:
    """Extracts the last number of the solution only when the instruction asks for it."""
    if prompt.startswith("Here are examples"):
        return " read worked math solutions and give their final numeric answers."
    if prompt.startswith("Write an instruction"):
        return " Give the final number of the solution."
    instruction = prompt.split("\n\n", 1)[0].lower()
    solution = prompt.rsplit("Solution:", 1)[1]
    numbers = re.findall(r"\d+(?:\.\d+)?", solution)
    return f" {numbers[-1]}" if "final" in instruction and numbers else " I don't know"


@pytest.fixture
def endpoint(monkeypatch):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            raw = json.dumps({"choices": [{"text": answer(body["prompt"])}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AETHER_MIPRO_LM_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("AETHER_MIPRO_LM_MODEL", "stub")
    yield
    server.shutdown()
    server.server_close()


def test_mipro_flow_records_programs_metrics_and_plots(workdir, set_params, mlflow_uri, endpoint):
    from flows.mipro import mipro_flow

    aether.data.prepare("gsm8k", Path("data/raw"), Path("data/prepared"))
    set_params(
        mipro={
            "tasks": ["gsm8k_extract"],
            "optimizers": ["zero_shot", "mipro"],
            "n_train": 8,
            "n_val": 6,
            "n_test": 6,
            "num_candidates": 3,
            "num_trials": 5,
            "minibatch_size": 4,
            "full_eval_every": 2,
        }
    )
    summary = mipro_flow(params_file="params.yaml")

    results = summary["results"]
    assert results["gsm8k_extract.zero_shot"]["test_score"] == 0.0
    assert results["gsm8k_extract.mipro"]["test_score"] == 1.0
    metrics = json.loads(Path("reports/mipro/metrics.json").read_text())
    assert metrics["best_test_score"] == {"gsm8k_extract": 1.0}
    program = json.loads(Path("reports/mipro/programs/gsm8k_extract_mipro.json").read_text())
    assert "final" in program["program"]["extract"]["instruction"]
    chosen = json.loads(Path("reports/mipro/tables.json").read_text())["Chosen instructions"]
    by_optimizer = {row["optimizer"]: row for row in chosen}
    assert "final" in by_optimizer["mipro"]["instruction"]
    assert by_optimizer["zero_shot"]["module"] == "extract"
    trials = Path("reports/mipro/plots/trials.csv").read_text().splitlines()
    assert trials[0] == "task,optimizer,trial,score,full_score" and len(trials) == 6
    run_id = json.loads(Path("reports/mipro/run.json").read_text())["run_id"]
    client = MlflowClient(mlflow_uri)
    history = client.get_metric_history(run_id, "gsm8k_extract.mipro.trial_score")
    assert len(history) == 5
    names = [a.path for a in client.list_artifacts(run_id, "mipro")]
    assert "mipro/gsm8k_extract_mipro.json" in names and "mipro/tables.json" in names
    children = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        f"tags.mlflow.parentRunId = '{run_id}'",
    )
    assert sorted(c.info.run_name for c in children) == [
        "mipro/gsm8k_extract/mipro",
        "mipro/gsm8k_extract/zero_shot",
    ]
    child = next(c for c in children if c.info.run_name.endswith("/mipro"))
    assert len(client.get_metric_history(child.info.run_id, "trial_score")) == 5
    assert child.data.metrics["test_score"] == 1.0

    # A rerun is served from the call cache: no LM call is paid twice.
    again = mipro_flow(params_file="params.yaml")
    assert again["lm_calls"] == 0
    assert again["results"]["gsm8k_extract.mipro"]["test_score"] == 1.0


def test_mipro_flow_bad_params_and_unprepared_data(workdir, set_params):
    from flows.mipro import mipro_flow

    set_params(mipro={"tasks": ["no_such_task"]})
    with pytest.raises(P.ParamsError, match=r"mipro\.tasks.*unknown task"):
        mipro_flow(params_file="params.yaml")
    set_params(mipro={"tasks": ["scone"]})
    with pytest.raises(aether.data.DataError, match="not prepared"):
        mipro_flow(params_file="params.yaml")
