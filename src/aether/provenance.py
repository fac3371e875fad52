"""Where a run's inputs came from: the git commit and DVC's content hashes of its data.

The hashes are computed with DVC's own hashing (dvc-data), so a tag on an MLflow run can be
matched against `dvc.lock` and the DVC cache of any commit.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path


def git_commit(root: Path | None = None) -> str:
    """HEAD's sha, with `-dirty` when tracked files differ from it; `unknown` outside git."""
    cwd = root or Path.cwd()
    try:
        sha = _git(["rev-parse", "HEAD"], cwd)
        dirty = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def _git(args: list[str], cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def dvc_hashes(paths: Iterable[Path]) -> dict[str, str]:
    """DVC md5 of each existing path (`<md5>.dir` for directories), keyed by the path."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_data.hashfile.hash import hash_file
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    hashes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        odb = HashFileDB(fs, tmp)
        for path in paths:
            path = Path(path)
            if path.is_dir():
                _, _, obj = build(odb, str(path), fs, "md5", dry_run=True)
                hashes[str(path)] = obj.hash_info.value
            elif path.is_file():
                hashes[str(path)] = hash_file(str(path), fs, "md5")[1].value
    return hashes


def run_tags(inputs: Iterable[Path] = (), root: Path | None = None) -> dict[str, str]:
    """MLflow tags for a stage run: `git.commit` and one `dvc.md5.<path>` per input."""
    tags = {"git.commit": git_commit(root)}
    tags.update({f"dvc.md5.{p}": h for p, h in dvc_hashes(inputs).items()})
    return tags
