"""The `sparse` stage: the sparse tensor compiler benchmarked against torch.sparse."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from aether import params as P
from aether.data import DataError
from aether.sparse import bench
from aether.sparse.params import SparseParams
from flows import common
from tasks.record import record_stage
from tasks.sparse import case_task, crossover_task, machine_task

PLOT_KEYS = ("case", "kind", "ours_s", "torch_sparse_s", "speedup_vs_torch_sparse", "compile_s")


@flow(name="sparse")
def sparse_flow(
    params_file: str = str(P.PARAMS_FILE),
    parent_run_id: str | None = None,
    data_dir: str = "data",
    reports_dir: str = "reports",
) -> dict:
    """Cases run as tasks one after another (wait_for the previous one), so that no two
    timings compete for the cores; each case compiles (or loads) its kernels, warms up, and
    reports the median of `repeats` runs."""
    params = P.load_as(SparseParams, "sparse", Path(params_file))
    pipeline = P.load("pipeline", Path(params_file))
    prepared = Path(data_dir) / "prepared"
    datasets = [*params.graphs, *params.matrices, *params.tensors]
    missing = [n for n in datasets if not (prepared / n / "meta.json").is_file()]
    if missing:
        raise DataError(
            f"{missing} not prepared in {prepared}: add them to prepare.datasets in "
            f"{params_file} and run the prepare stage (dvc repro prepare)"
        )
    logger = get_run_logger()
    specs = bench.suite(params)
    logger.info("sparse: %d cases on %d thread(s)", len(specs), params.threads)

    raw = params.model_dump()
    machine = machine_task.submit(params.threads).result()
    crossover = crossover_task.submit(raw).result()
    futures, previous = [], []
    for spec in specs:
        future = case_task.submit(spec, str(prepared), raw, machine, crossover, wait_for=previous)
        futures.append(future)
        previous = [future]
    rows = [f.result() for f in futures]
    for row in rows:
        logger.info("%-28s x%.2f vs torch.sparse", row["case"], row["speedup_vs_torch_sparse"])

    summary = bench.summary(rows)
    metrics = summary | {
        "crossover_density": crossover["spmm_density"],
        "copy_bandwidth_gbs": machine["copy_bandwidth_gbs"],
        "fma_peak_gflops": machine["fma_peak_gflops"],
    }
    record_stage(
        "sparse",
        raw,
        metrics,
        plots={
            "cases": [{k: row.get(k) for k in PLOT_KEYS} for row in rows],
            "crossover": crossover["rows"],
        },
        inputs=[str(prepared / n) for n in datasets],
        parent_run_id=parent_run_id,
        experiment=pipeline.experiment,
        reports_dir=reports_dir,
    )
    return metrics


if __name__ == "__main__":
    common.main(sparse_flow, __doc__)
