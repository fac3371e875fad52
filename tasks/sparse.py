"""Tasks of the `sparse` stage: measure the dense/sparse crossover, time one benchmark case."""

from __future__ import annotations

from pathlib import Path

import torch
from prefect import task

from aether.sparse import bench
from aether.sparse.params import SparseParams
from aether.sparse.runtime import measure_crossover, save_crossover


@task(name="sparse-crossover")
def crossover_task(params: dict) -> dict:
    """Measure where dense beats the generated SpMM and save it for every later runtime."""
    p = SparseParams.model_validate(params)
    torch.set_num_threads(p.threads)  # the crossover is measured on the stage's thread count
    measured = measure_crossover(n=p.crossover_size, repeats=p.repeats, seed=p.seed)
    save_crossover(measured)
    return measured


@task(name="sparse-machine")
def machine_task(threads: int) -> dict:
    """The machine's description, its measured copy bandwidth (the issue's bound for SpMM)
    and its cache sizes."""
    return bench.machine(threads)


@task(name="sparse-case", task_run_name="sparse-{spec[case]}")
def case_task(spec: dict, prepared: str, params: dict, machine: dict, crossover: dict) -> dict:
    """One benchmark case: ours, torch.sparse (COO and CSR), dense and scipy side by side.

    `crossover` is the measurement of `crossover_task` (a density per dense width)."""
    p = SparseParams.model_validate(params)
    return bench.run_case(spec, Path(prepared), p, machine, crossover)
