"""The `delayed` stage's section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from aether.params import Section

ModelName = Literal["kalman", "lnssm", "dengue"]


class DelayedParams(Section):
    """Models x {delayed sampling on, off} x particle counts, each run `runs` times."""

    models: list[ModelName] = Field(default=["kalman", "lnssm", "dengue"], min_length=1)
    particles: list[int] = Field(default=[64, 256], min_length=1)
    runs: int = Field(20, ge=2, le=10_000)
    seed: int = Field(0, ge=0)
    resampler: Literal["systematic", "stratified"] = "systematic"
    ess_threshold: float = Field(0.5, ge=0.0, le=1.0)
    kalman_steps: int = Field(50, ge=1)
    lnssm_steps: int = Field(50, ge=1)
    dengue_series: Literal["yap_dengue_weekly", "yap_dengue_daily"] = "yap_dengue_weekly"
    dengue_steps: int | None = Field(None, ge=1)  # a prefix of the series; None = all of it
    # Dengue's importance sampler: particles per draw of the initial conditions (1: one
    # filter over all particles, each with its own initial conditions, as before).
    dengue_group_size: int = Field(4, ge=1)
    max_proposals: int = Field(100, ge=1)  # alive filter: give up after this many x particles

    @field_validator("particles")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("particle counts must be >= 1")
        if len(set(values)) != len(values):
            raise ValueError("particle counts are listed more than once")
        return values

    @model_validator(mode="after")
    def _groups(self) -> DelayedParams:
        if "dengue" in self.models and any(n % self.dengue_group_size for n in self.particles):
            raise ValueError(
                f"every particle count must be a multiple of dengue_group_size "
                f"({self.dengue_group_size}); got {self.particles}"
            )
        return self

    @field_validator("models")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("models are listed more than once")
        return values
