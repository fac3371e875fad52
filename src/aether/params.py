"""Typed views of `params.yaml`: one pydantic model per section, validated before any work.

A bad value fails here, with the key, the value and the fix, before a stage touches its
outputs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PARAMS_FILE = Path("params.yaml")


class ParamsError(ValueError):
    """params.yaml is missing, unparsable, or holds a value of the wrong type or range."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PipelineParams(Section):
    """How the pipeline runs: where tasks execute and where MLflow records."""

    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None
    max_workers: int = Field(2, ge=1, le=256)
    experiment: str = Field("aether", min_length=1)
    nightly_cron: str = "0 2 * * *"


class PrepareParams(Section):
    """Which datasets `prepare` materializes, and how it splits them."""

    datasets: list[str] = Field(min_length=1)
    seed: int = Field(0, ge=0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)

    @field_validator("datasets")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        from aether.data import DATASETS

        unknown = [n for n in names if n not in DATASETS]
        if unknown:
            raise ValueError(f"unknown dataset(s) {unknown}; registered: {sorted(DATASETS)}")
        if len(set(names)) != len(names):
            raise ValueError("datasets are listed more than once")
        return names


class ReportParams(Section):
    """The report's title and the address `mlflow ui` serves on, for run links."""

    title: str = "Aether pipeline report"
    mlflow_ui: str = "http://127.0.0.1:5000"


# A stage's own model is named by "module:Class" and imported only when its section is read,
# so validating params.yaml does not import every method's compiled code.
SECTIONS: dict[str, type[Section] | str] = {
    "pipeline": PipelineParams,
    "prepare": PrepareParams,
    "selfplay": "aether.minimo.params:SelfplayParams",
    "delayed": "aether.delayed.params:DelayedParams",
    "topics": "aether.topics.params:TopicsParams",
    "sparse": "aether.sparse.params:SparseParams",
    "mipro": "aether.mipro.params:MiproParams",
    "report": ReportParams,
}

S = TypeVar("S", bound=Section)


def read_all(path: Path = PARAMS_FILE) -> dict:
    """The raw params.yaml mapping."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path} not found: run from the repository root") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path} must be a mapping of sections, got {type(data).__name__}")
    return data


def load(section: str, path: Path = PARAMS_FILE) -> Section:
    """Validate one section of params.yaml into its registered model."""
    if section not in SECTIONS:
        raise ParamsError(f"no params section {section!r}; known: {sorted(SECTIONS)}")
    model = SECTIONS[section]
    if isinstance(model, str):
        module, _, name = model.partition(":")
        model = getattr(importlib.import_module(module), name)
    return load_as(model, section, path)


def load_as(model: type[S], section: str, path: Path = PARAMS_FILE) -> S:
    """Validate one section of params.yaml into `model` (a stage's own Section subclass)."""
    return parse(model, read_all(path).get(section, {}), section, path)


def validate(path: Path = PARAMS_FILE) -> dict[str, Section]:
    """Every section of params.yaml, validated: fail before any stage starts."""
    return {section: load(section, path) for section in SECTIONS}


def parse(model: type[S], raw: object, section: str, path: Path = PARAMS_FILE) -> S:
    """Validate `raw` into `model`, turning pydantic's report into one readable error."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: section {section!r} must be a mapping")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{section}.{'.'.join(str(p) for p in err['loc'])} = {err.get('input')!r}: {err['msg']}"
            for err in exc.errors()
        )
        raise ParamsError(
            f"{path}: {problems}. Fix the value in {path} (or pass `dvc exp run -S ...`)."
        ) from None
