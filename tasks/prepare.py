"""Tasks of the `prepare` stage: fetch (retried: it may download) and convert (cached)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

import aether.data
from aether.data import MissingSourceError


def _retry_on_io(task, task_run, state) -> bool:
    """Retry what a network or disk hiccup explains; a bad checksum will not fix itself."""
    try:
        state.result()
    except (MissingSourceError, OSError):
        return True
    except Exception:
        return False
    return False


@task(name="fetch", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_retry_on_io)
def fetch_dataset(name: str, raw_dir: str, mirror: str | None) -> dict[str, str]:
    """Mirror first, else the canonical URL; the checksum is always verified."""
    paths = aether.data.fetch(name, Path(raw_dir), mirror=Path(mirror) if mirror else None)
    return {key: str(path) for key, path in paths.items()}


def _code_hash() -> str:
    """A digest of the data package's source, so a loader change invalidates the cache."""
    digest = hashlib.sha256()
    for path in sorted(Path(aether.data.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def convert_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Key the conversion by the dataset, its sources' checksums, the split and the code."""
    dataset = aether.data.get(parameters["name"])
    parts = [
        dataset.name,
        *(f.sha256 for f in dataset.files),
        str(parameters["seed"]),
        repr(parameters["test_fraction"]),
        str(Path(parameters["out_dir"]).resolve()),
        _code_hash(),
    ]
    return "convert-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def outputs_current(name: str, out_dir: str, seed: int, test_fraction: float) -> bool:
    """True when `out_dir/<name>` holds a conversion of the current sources and split."""
    meta_path = Path(out_dir) / name / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return False
    files = aether.data.get(name).files
    recorded = meta.get("sha256", {})
    # A downloaded file can differ from the mirror's bytes (20news: plain vs gzipped).
    return (
        meta.get("seed") == seed
        and meta.get("test_fraction") == test_fraction
        and len(recorded) == len(files)
        and all(recorded.get(f.path) in {f.sha256, f.download_sha256} for f in files)
    )


@task(name="convert", cache_key_fn=convert_key, persist_result=True)
def convert_dataset(
    name: str, raw_dir: str, out_dir: str, seed: int, test_fraction: float
) -> dict[str, Any]:
    """Write the prepared form of one dataset; returns its summary statistics."""
    return aether.data.convert(
        name, Path(raw_dir), Path(out_dir), seed=seed, test_fraction=test_fraction
    )
