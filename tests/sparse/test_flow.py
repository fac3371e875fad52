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
    # SpMM against both bounds: the copy-bandwidth one and the roofline by memory level
    assert 0 <= metrics["spmm_cases_within_3x_of_level_bound"] <= metrics["spmm_cases"] == 1
    assert (
        metrics["spmm_worst_fraction_of_level_bound"]
        >= metrics["spmm_worst_fraction_of_bandwidth_bound"]
        > 0
    )
    assert 0 <= metrics["spmm_cases_within_3x_of_roofline"] <= metrics["spmm_cases"]
    assert (
        metrics["spmm_worst_fraction_of_roofline"]
        >= metrics["spmm_worst_fraction_of_bandwidth_bound"]
    )
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


def test_spmm_rows_carry_both_bounds():
    from aether.sparse import bench

    sizes = {"L1": 48 << 10, "L2": 2 << 20, "L3": 300 << 20}
    assert [bench.level_of(n, sizes) for n in (16 << 10, 1 << 20, 100 << 20, 1 << 30)] == [
        "L1",
        "L2",
        "L3",
        "memory",
    ]
    m = bench.power_law_graph(2_000, seed=1)
    # B (2000 x 16 float32, 128 KB) lives in L2; a made-up copy bandwidth so fast that the
    # reads of B, at the rate measured for an array of B's size, are the level bound.
    machine = {"copy_bandwidth_gbs": 1e6, "cache_bytes": sizes, "fma_peak_gflops": 1e9}
    row = bench.Cases(repeats=5).spmm("pl", m, 16, machine)
    assert row["b_level"] == "L2" and row["b_read_gbs"] > 0
    gathered_s = m.nnz * 16 * 4 / (row["b_read_gbs"] * 1e9)
    assert row["fraction_of_level_bound"] == pytest.approx(gathered_s / row["ours_s"])
    assert row["fraction_of_bandwidth"] < row["fraction_of_level_bound"]
    # The classical roofline is the slower of the copy bound and the multiply-adds at the FMA
    # peak: with a made-up peak of 1 GFLOP/s the multiply-adds bound it, with 1e9 the copy.
    slow = bench.Cases(repeats=5).spmm("pl", m, 16, machine | {"fma_peak_gflops": 1.0})
    flops_s = 2 * m.nnz * 16 / 1e9
    assert slow["fraction_of_roofline"] == pytest.approx(flops_s / slow["ours_s"])
    assert row["fraction_of_roofline"] == pytest.approx(row["fraction_of_bandwidth"])
