"""The `selfplay` section of params.yaml: what one self-play run does, per domain."""

from __future__ import annotations

from pydantic import Field, field_validator

from aether.params import Section


class SelfplayParams(Section):
    """Iterations of conjecture -> search -> hindsight -> train -> evaluate, per domain."""

    domains: list[str] = Field(
        default_factory=lambda: ["propositional_logic", "arithmetic", "groups"], min_length=1
    )
    iterations: int = Field(3, ge=1, le=100)
    seed: int = Field(0, ge=0)
    conjectures: int = Field(24, ge=1, le=10_000, description="conjectures sampled per iteration")
    conjecture_depth: int = Field(4, ge=1, le=8)
    quantified: bool = Field(
        True,
        description="conjectures open with a quantifier and use every variable they quantify",
    )
    conjecture_budget: int = Field(200, ge=1, description="search expansions per conjecture")
    eval_budget: int = Field(200, ge=1, description="search expansions per evaluation theorem")
    hindsight: bool = True
    novel: bool = Field(
        True,
        description="a drawn conjecture that an earlier iteration proved is replaced by a new "
        "draw, and a hindsight theorem is learned once (as Minimo does)",
    )
    hindsight_per_tree: int = Field(
        8,
        ge=0,
        le=1000,
        description="relabeled theorems per search tree, of each kind "
        "(solved goals, rewrite facts, forward facts)",
    )
    train_steps: int = Field(60, ge=0)
    batch_size: int = Field(16, ge=1, le=1024)
    learning_rate: float = Field(1e-3, gt=0.0, lt=1.0)
    d_model: int = Field(64, ge=8, le=1024)
    n_layers: int = Field(2, ge=1, le=24)
    n_heads: int = Field(4, ge=1, le=32)
    context: int = Field(128, ge=16, le=2048, description="characters of a goal read")
    action_context: int = Field(32, ge=8, le=1024, description="characters of an action read")
    prior_temperature: float = Field(
        2.0, gt=0.0, le=100.0, description="flattens the model's prior over actions in search"
    )
    prior_mix: float = Field(0.5, ge=0.0, le=1.0, description="weight of the uniform prior")
    value_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="trust in the value head (0: every goal 1/2); 0.5 measured on held-out "
        "conjectures (benchmarks/selfplay_bench.py --tune)",
    )
    eval_every: int = Field(
        1, ge=1, le=100, description="evaluate every n-th iteration and the last (1: all, 0 too)"
    )
    workers: int = Field(1, ge=1, le=256, description="processes that search in parallel")
    threads: int = Field(1, ge=1, le=64, description="torch threads per process")

    @field_validator("domains")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        from aether.minimo.domain import DOMAINS

        unknown = [n for n in names if n not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain(s) {unknown}; available: {list(DOMAINS)}")
        if len(set(names)) != len(names):
            raise ValueError("domains are listed more than once")
        return names

    @field_validator("n_heads")
    @classmethod
    def _divides(cls, n: int, info) -> int:
        d = info.data.get("d_model")
        if d is not None and d % n:
            raise ValueError(f"n_heads must divide d_model ({d})")
        return n
