"""Turning fetched source files into a dataset's prepared form, atomically and reproducibly.

`convert` builds ``out_dir/<name>/`` in a temporary folder beside it and swaps it in only when
complete, so a failure leaves any earlier output untouched. ``meta.json`` records what went in
(sources and their sha256, seed, test_fraction) and the summary stats, and no timestamps, so
identical inputs give identical bytes.
"""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from aether.data import corpus, counts, graph, matrix, table, tensor, theory
from aether.data._io import Stats, save_json
from aether.data.errors import ChecksumMismatchError, MissingSourceError
from aether.data.fetch import fetch, sha256_file
from aether.data.registry import Dataset, get

Builder = Callable[..., tuple[Stats, dict[str, object]]]
_BUILDERS: dict[str, Builder] = {
    "corpus": corpus.build,
    "graph": graph.build,
    "matrix": matrix.build,
    "tensor": tensor.build,
    "table": table.build,
    "counts": counts.build,
    "theory": theory.build,
}


def convert(
    name: str, raw_dir: Path, out_dir: Path, *, seed: int = 0, test_fraction: float = 0.2
) -> Stats:
    """Prepare dataset `name` from the verified files in `raw_dir` into ``out_dir/<name>/``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    dataset = get(name)
    files, sums = _verified_sources(dataset, Path(raw_dir))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".new", dir=out_dir))
    work.chmod(0o755)  # mkdtemp's 0o700 would carry over to the published folder
    try:
        stats, notes = _BUILDERS[dataset.kind](
            dataset, files, work, seed=seed, test_fraction=test_fraction
        )
        meta = {
            "name": dataset.name,
            "kind": dataset.kind,
            "description": dataset.description,
            "licence": dataset.licence,
            "source": dataset.source,
            "sha256": sums,
            "urls": {f.path: f.url for f in dataset.files},
            "seed": seed,
            "test_fraction": test_fraction,
            "stats": stats,
            "notes": notes,
        }
        save_json(work / "meta.json", meta)
        _swap_in(work, out_dir / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return stats


def prepare(
    name: str,
    raw_dir: Path,
    out_dir: Path,
    *,
    mirror: Path | Literal["auto"] | None = "auto",
    seed: int = 0,
    test_fraction: float = 0.2,
    allow_download: bool = True,
) -> Stats:
    """Fetch dataset `name` into `raw_dir` (mirror first, then its sources) and convert it."""
    fetch(name, Path(raw_dir), mirror, allow_download=allow_download)
    return convert(name, raw_dir, out_dir, seed=seed, test_fraction=test_fraction)


def _verified_sources(dataset: Dataset, raw_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    files, sums = {}, {}
    for src in dataset.files:
        path = raw_dir / src.path
        if not path.is_file():
            raise MissingSourceError(
                f"{path} (of dataset {dataset.name!r}) does not exist; run "
                f"aether.data.fetch({dataset.name!r}, {str(raw_dir)!r}) or prepare() first"
            )
        actual = sha256_file(path)
        if actual not in (src.sha256, src.download_sha256):
            raise ChecksumMismatchError(
                path, src.sha256, actual, f"delete {path} and re-run, or restore the mirror file"
            )
        files[src.path], sums[src.path] = path, actual
    return files, sums


def _swap_in(new: Path, final: Path) -> None:
    """Replace directory `final` by `new`; the old one is removed only after the swap."""
    if not final.exists():
        os.rename(new, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
    os.replace(final, old)  # onto an empty directory, which POSIX rename allows
    os.rename(new, final)
    shutil.rmtree(old)
