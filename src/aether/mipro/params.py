"""The `mipro` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from aether.params import Section

OPTIMIZERS = ("zero_shot", "bootstrap_few_shot", "bootstrap_random_search", "mipro")


class LMParams(Section):
    """Which LM: the embedded in-process model, or any OpenAI-compatible endpoint.

    `AETHER_MIPRO_LM_URL` (and `AETHER_MIPRO_LM_MODEL`) in the environment select an
    endpoint without editing params.yaml.
    """

    kind: Literal["embedded", "http"] = "embedded"
    url: str | None = None
    model: str | None = None
    api: Literal["completions", "chat"] = "completions"
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=20)
    max_concurrency: int = Field(4, ge=1, le=256)
    # http: how the server takes a closed answer (a label's choices): llama.cpp's `grammar`,
    # vLLM's `guided_choice`, or not at all (free text, parsed to a choice)
    constrain: Literal["none", "grammar", "guided_choice"] = "none"
    n_threads: int = Field(1, ge=1, le=256)  # >1 spin-waits badly on a shared machine
    instances: int = Field(1, ge=1, le=16)  # embedded: contexts for parallel calls
    batch: int = Field(1, ge=1, le=64)  # embedded: decode concurrent calls together (see
    # aether.mipro.lm.batched: slower on 2 CPU cores, so off)


class MiproParams(Section):
    """Tasks, optimizers and their budgets; every optimizer gets the same LM-call budget."""

    tasks: list[str] = Field(["gsm8k_extract"], min_length=1)
    optimizers: list[str] = Field(["zero_shot", "bootstrap_random_search", "mipro"], min_length=1)
    seed: int = Field(0, ge=0)
    n_train: int = Field(30, ge=1)
    n_val: int = Field(20, ge=1)
    n_test: int = Field(30, ge=1)
    num_candidates: int = Field(4, ge=1, le=64)
    num_trials: int = Field(8, ge=1, le=10_000)
    rounds: int = Field(1, ge=1, le=10)
    minibatch_size: int = Field(10, ge=1)
    full_eval_every: int = Field(4, ge=1)
    max_bootstrapped: int = Field(3, ge=0, le=32)
    max_labeled: int = Field(3, ge=0, le=32)
    max_lm_calls: int = Field(5000, ge=1)
    use_history: bool = True
    separate_full_scores: bool = True  # False: full scores join the TPE study (MIPROv2's way)
    threads: int = Field(1, ge=1, le=64)  # concurrent calls per evaluation (embedded: lm.instances)
    lm: LMParams = LMParams()
    cache: str = "data/mipro/calls.sqlite"
    studies: str = "data/mipro/studies.sqlite"

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, names: list[str]) -> list[str]:
        from aether.mipro.tasks import TASKS

        unknown = [n for n in names if n not in TASKS]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; known: {sorted(TASKS)}")
        return names

    @field_validator("optimizers")
    @classmethod
    def _known_optimizers(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in OPTIMIZERS]
        if unknown:
            raise ValueError(f"unknown optimizer(s) {unknown}; known: {list(OPTIMIZERS)}")
        return names
