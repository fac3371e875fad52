"""The `topics` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from aether.params import Section

Sampler = Literal["pclda", "pclda_light", "sparselda", "collapsed"]


class TopicsParams(Section):
    """Which corpus, the LDA model (K, alpha, beta), and the samplers run side by side.

    The first sampler listed is the primary one: its Φ and θ estimates and top words are the
    stage's outputs; every sampler gets a log-likelihood trace and metrics.
    """

    corpus: str = "reuters"
    n_topics: int = Field(20, ge=1, le=5000)
    alpha: float = Field(0.1, gt=0.0)
    beta: float = Field(0.01, gt=0.0)
    iterations: int = Field(200, ge=2)
    burn_in: int = Field(50, ge=0)
    samplers: list[Sampler] = Field(default=["pclda", "pclda_light", "sparselda", "collapsed"])
    threads: int = Field(2, ge=1, le=256)
    mh_steps: int = Field(4, ge=1, le=64)
    seed: int = Field(0, ge=0)
    heldout_sweeps: int = Field(50, ge=2)
    top_words: int = Field(10, ge=2, le=100)

    @field_validator("corpus")
    @classmethod
    def _a_corpus(cls, name: str) -> str:
        from aether.data import DATASETS

        corpora = sorted(n for n, d in DATASETS.items() if d.kind == "corpus")
        if name not in corpora:
            raise ValueError(f"not a registered corpus; choose one of {corpora}")
        return name

    @field_validator("samplers")
    @classmethod
    def _unique(cls, samplers: list[str]) -> list[str]:
        if not samplers or len(set(samplers)) != len(samplers):
            raise ValueError("list at least one sampler, each once")
        return samplers

    @model_validator(mode="after")
    def _burn_in_below_iterations(self) -> TopicsParams:
        if self.burn_in >= self.iterations - 1:
            raise ValueError(
                f"burn_in ({self.burn_in}) must be below iterations - 1 ({self.iterations - 1})"
            )
        return self
