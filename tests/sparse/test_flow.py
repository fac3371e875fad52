"""The `sparse` stage under a real Prefect API, recording into MLflow on SQLite."""

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import aether.data
from aether import params as P
from aether.data import DataError

pytestmark = pytest.mark.usefixtures("prefect_api")

TINY = {
    "graphs": ["cora"],
    "matrices": [],
    "tensors": ["jf17k4"],
    "widths": [8],
    "sparsities": [0.9],
    "mlp_width": 64,
    "crossover_size": 128,
    "attention_lengths": [64],
    "attention_window": 4,
    "global_tokens": 2,
    "repeats": 5,
}


def test_sparse_flow_records_cases_and_summary(workdir, set_params, mlflow_uri):
    from flows.sparse import sparse_flow

    for name in ("cora", "jf17k4"):
        aether.data.prepare(name, Path("data/raw"), Path("data/prepared"))
    set_params(sparse=TINY)
    metrics = sparse_flow(params_file="params.yaml")

    saved = json.loads(Path("reports/sparse/metrics.json").read_text())
    assert saved == metrics
    assert metrics["n_cases"] == 4 + 1 + 1 + 1 + 1  # spmv/spmm/sddmm/spmspm, ttm, gcn, mlp, attn
    assert metrics["geomean_speedup_vs_torch_sparse_end_to_end"] > 0
    assert 0 <= metrics["crossover_density"] <= 1  # 0: dense won at every density measured
    cases = Path("reports/sparse/plots/cases.csv").read_text().splitlines()
    assert cases[0] == "case,kind,ours_s,torch_sparse_s,speedup_vs_torch_sparse,compile_s"
    assert any(line.startswith("gcn/cora,end_to_end,") for line in cases)
    assert Path("reports/sparse/plots/crossover.csv").exists()
    run_id = json.loads(Path("reports/sparse/run.json").read_text())["run_id"]
    run = MlflowClient(mlflow_uri).get_run(run_id)
    assert run.data.params["graphs"] == "['cora']"
    assert "min_speedup_vs_torch_sparse" in run.data.metrics
    assert any(k.startswith("dvc.md5.data/prepared/cora") for k in run.data.tags)


def test_sparse_flow_refuses_bad_params_and_missing_data(workdir, set_params):
    from flows.sparse import sparse_flow

    set_params(sparse={**TINY, "repeats": 2})
    with pytest.raises(P.ParamsError, match=r"sparse\.repeats = 2"):
        sparse_flow(params_file="params.yaml")
    set_params(sparse={**TINY, "graphs": ["pubmed"]})
    with pytest.raises(DataError, match=r"'pubmed'.*not prepared"):
        sparse_flow(params_file="params.yaml")
