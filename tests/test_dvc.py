"""`dvc repro` end to end in a temporary git repo: `make run`'s path, then a no-op re-run,
metrics, params diff and an experiment with a changed param."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
COPY = ["flows", "tasks", "src", "dvc.yaml", "params.yaml", "pyproject.toml", ".dvc/config"]


def _run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def repo_copy(tmp_path, prefect_api, tiny_stages):
    root = tmp_path / "aether"
    root.mkdir()
    for name in COPY:
        src, dst = REPO / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    params = yaml.safe_load((root / "params.yaml").read_text())
    for stage, values in tiny_stages.items():
        params[stage].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    env = {
        **os.environ,
        # As with an activated venv: dvc.yaml's commands say `python`.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_API_URL": prefect_api,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "AETHER_DATA_MIRROR": str(REPO.parent / "shared" / "datasets"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    _run(["git", "init", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "init"], root, env)
    return root, env


def test_repro_then_noop_then_experiment(repo_copy):
    root, env = repo_copy
    dvc = [sys.executable, "-m", "dvc"]

    out = _run([sys.executable, "-m", "flows.repro"], root, env)
    assert "Report:" in out and "mlflow ui --backend-store-uri" in out
    assert (root / "reports/report.html").exists()
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])

    again = _run([*dvc, "repro"], root, env)
    assert "Data and pipelines are up to date." in again
    assert "up to date" in _run([*dvc, "status"], root, env)

    metrics = _run([*dvc, "metrics", "show", "--json"], root, env)
    assert "reports/prepare/metrics.json" in metrics

    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "ran"], root, env)
    _run([*dvc, "exp", "run", "-S", "prepare.seed=7"], root, env)
    diff = _run([*dvc, "params", "diff", "--json"], root, env)
    change = json.loads(diff)["params.yaml"]["prepare.seed"]
    assert (change["old"], change["new"]) == (0, 7)
    meta = json.loads((root / "data/prepared/reuters/meta.json").read_text())
    assert meta["seed"] == 7
