"""Epidemic case-count series (Yap dengue, Yap Zika, Fais dengue) as tidy CSVs.

Prepared form: one ``<series>.csv`` per source with columns ``t`` (1-based time step) and
``cases`` (empty where not observed). `LAYOUT` says how the sources were read.
"""

import json
from pathlib import Path

import pandas as pd

from aether.data._io import Stats
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset

LAYOUT = (
    'VectorBorneDisease files are {"x": [counts]}. Birch files are a list whose first element '
    "is {}: Birch's input for the initial state (time 0), which has no observation; the "
    "elements after it are the counts at times 1, 2, ... (null = not observed). All are daily "
    "grids except vbd_yap_dengue_weekly; the Birch Zika and Fais series are observed once a "
    "week on the daily grid. vbd_yap_dengue_daily and birch_yap_dengue hold the same series "
    "(total 978, like the weekly one)."
)


def read_counts(directory: Path) -> dict[str, pd.DataFrame]:
    """Every series prepared by `convert`, by name (e.g. ``yap_dengue_weekly``)."""
    return {
        p.stem: pd.read_csv(p, dtype={"t": "int64", "cases": "Int64"})
        for p in sorted(directory.glob("*.csv"))
    }


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Write one CSV per series (nothing is random here, so seed is not used)."""
    stats: Stats = {}
    for path in sorted(files.values()):
        name = series_name(path)
        cases = read_series(path)
        frame = pd.DataFrame({"t": range(1, len(cases) + 1), "cases": cases}).astype(
            {"cases": "Int64"}
        )
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
        stats[f"{name}_length"] = len(frame)
        stats[f"{name}_observed"] = int(frame["cases"].notna().sum())
        stats[f"{name}_total"] = int(frame["cases"].sum())
    return stats, {"layout": LAYOUT}


def series_name(path: Path) -> str:
    """``vbd_yap_dengue_weekly.json`` -> ``yap_dengue_weekly``; Birch files get ``_daily``."""
    stem = path.stem
    if stem.startswith("vbd_"):
        return stem.removeprefix("vbd_")
    return stem if stem.endswith(("_daily", "_weekly")) else f"{stem}_daily"


def read_series(path: Path) -> list[int | None]:
    """The counts of one JSON file in either layout, checked to be non-negative integers."""
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedDataError(f"{path} is not valid JSON: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("x"), list):
        values = data["x"]
    elif isinstance(data, list) and data and data[0] == {}:
        values = data[1:]
    else:
        raise MalformedDataError(
            f'{path}: expected {{"x": [counts]}} or a Birch list starting with {{}}'
        )
    for v in values:
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise MalformedDataError(f"{path} holds {v!r}; expected non-negative counts or null")
    return values
