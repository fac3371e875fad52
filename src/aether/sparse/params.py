"""The `sparse` stage's section of params.yaml: which cases the stage benchmarks."""

from __future__ import annotations

from pydantic import Field, field_validator

from aether.params import Section

KINDS = {"graphs": "graph", "matrices": "matrix", "tensors": "tensor"}


class SparseParams(Section):
    """Benchmark cases of the sparse compiler against torch.sparse (all timed in-process)."""

    graphs: list[str] = Field(["cora"], description="GCN and kernel cases on the adjacency")
    matrices: list[str] = Field(["ss_bcsstk13"], description="SuiteSparse / DNN matrices")
    tensors: list[str] = Field(["jf17k3"], description="order-3/4 tensors for TTM")
    widths: list[int] = Field([64], min_length=1, description="dense widths of SpMM")
    sparsities: list[float] = Field([0.9, 0.99], description="pruned-MLP sparsities")
    mlp_width: int = Field(1024, ge=4, le=16384, description="MLP layers: w -> w -> w/4 -> w")
    attention_lengths: list[int] = Field([1024], description="sparse-attention sequence lengths")
    attention_window: int = Field(32, ge=1, le=4096)
    global_tokens: int = Field(8, ge=0, le=4096)
    synthetic_nodes: int = Field(0, ge=0, description="power-law graph size; 0 skips it")
    crossover_size: int = Field(1024, ge=32, le=8192, description="n of the n x n crossover")
    repeats: int = Field(5, ge=5, le=1000, description="timed runs per case (median)")
    threads: int = Field(1, ge=1, le=256, description="threads for torch and the kernels")
    seed: int = Field(0, ge=0)

    @field_validator("graphs", "matrices", "tensors")
    @classmethod
    def _registered(cls, names: list[str], info) -> list[str]:
        from aether.data import DATASETS

        kind = KINDS[info.field_name]
        wrong = [n for n in names if n not in DATASETS or DATASETS[n].kind != kind]
        if wrong:
            known = sorted(n for n, d in DATASETS.items() if d.kind == kind)
            raise ValueError(f"{wrong} are not registered {kind} datasets; use some of {known}")
        return names

    @field_validator("widths", "attention_lengths")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("every entry must be a positive integer")
        return values

    @field_validator("sparsities")
    @classmethod
    def _fractions(cls, values: list[float]) -> list[float]:
        if any(not 0.0 <= v < 1.0 for v in values):
            raise ValueError("sparsities are fractions in [0, 1)")
        return values
