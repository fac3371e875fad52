"""Our DVC hashes must be the ones DVC itself records, or the MLflow tags mean nothing."""

import subprocess
import sys
from pathlib import Path

import yaml

from aether import provenance


def _run(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)


def test_dvc_hashes_match_dvc_lock(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "x.txt").write_text("alpha\n")
    (tmp_path / "d" / "sub" / "y.bin").write_bytes(bytes(range(256)))
    (tmp_path / "f.txt").write_text("beta\n")
    dvc = [sys.executable, "-m", "dvc"]
    _run(["git", "init", "-q"], tmp_path)
    _run([*dvc, "init", "-q"], tmp_path)
    _run(
        [*dvc, "stage", "add", "-q", "-n", "s", "-d", "d", "-d", "f.txt", "-o", "o", "cp f.txt o"],
        tmp_path,
    )
    _run([*dvc, "repro", "-q"], tmp_path)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]["s"]["deps"]
    expected = {dep["path"]: dep["md5"] for dep in lock}

    hashes = provenance.dvc_hashes([tmp_path / "d", tmp_path / "f.txt", tmp_path / "absent"])
    assert {Path(p).name: h for p, h in hashes.items()} == expected
    assert expected["d"].endswith(".dir")


def test_git_commit_marks_a_dirty_tree(tmp_path):
    assert provenance.git_commit(tmp_path) == "unknown"
    _run(["git", "init", "-q"], tmp_path)
    (tmp_path / "a").write_text("1")
    _run(["git", "add", "a"], tmp_path)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"], tmp_path)
    clean = provenance.git_commit(tmp_path)
    assert len(clean) == 40
    (tmp_path / "a").write_text("2")
    assert provenance.git_commit(tmp_path) == f"{clean}-dirty"
