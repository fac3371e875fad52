"""Shared fixtures: one real Prefect API server per session, MLflow on a temporary SQLite DB,
and a scratch working directory laid out like the repository root."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aether import offline

offline.apply()

REPO = Path(__file__).resolve().parents[1]

# Every stage on a configuration small enough for the end-to-end tests (pipeline, DVC).
TINY_STAGES = {
    "prepare": {"datasets": ["reuters", "dengue", "cora", "scone"]},
    "selfplay": {
        "domains": ["propositional_logic"],
        "iterations": 1,
        "conjectures": 4,
        "conjecture_budget": 20,
        "eval_budget": 10,
        "train_steps": 2,
        "batch_size": 4,
        "d_model": 16,
        "n_layers": 1,
        "n_heads": 2,
        "context": 64,
    },
    "delayed": {
        "models": ["kalman", "dengue"],
        "particles": [8],
        "runs": 2,
        "kalman_steps": 5,
        "dengue_steps": 3,
    },
    "topics": {
        "corpus": "reuters",
        "n_topics": 4,
        "iterations": 6,
        "burn_in": 2,
        "samplers": ["pclda"],
        "threads": 1,
        "heldout_sweeps": 3,
    },
    "sparse": {
        "graphs": ["cora"],
        "matrices": [],
        "tensors": [],
        "widths": [8],
        "sparsities": [0.9],
        "mlp_width": 64,
        "crossover_size": 64,
        "attention_lengths": [64],
        "attention_window": 4,
        "global_tokens": 2,
    },
    "mipro": {
        "tasks": ["scone_no_negation"],
        "optimizers": ["zero_shot"],
        "n_train": 2,
        "n_val": 2,
        "n_test": 2,
    },
}


@pytest.fixture(scope="session")
def prefect_api():
    """Prefect's ephemeral API (real server, temporary DB), started once: it takes ~30 s here."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def workdir(tmp_path, monkeypatch, mlflow_uri) -> Path:
    """A scratch repo root: params.yaml and dvc.yaml copied, cwd set, MLflow isolated."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, work / name)
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def tiny_stages() -> dict:
    """A copy of TINY_STAGES, for tests that run the whole pipeline."""
    return {name: dict(values) for name, values in TINY_STAGES.items()}


@pytest.fixture
def set_params(workdir):
    """Overwrite sections of the scratch params.yaml: `set_params(prepare={...})`."""
    import yaml

    def write(**sections) -> Path:
        path = workdir / "params.yaml"
        data = yaml.safe_load(path.read_text())
        for name, values in sections.items():
            data[name] = {**data.get(name, {}), **values}
        path.write_text(yaml.safe_dump(data))
        return path

    return write
