"""Minimo's theories in the Peano language, copied as they are (the prover parses them).

Prepared form: ``theories/*.p`` and ``premises/*.yaml``. The stats count top-level
declarations (``name : type.``), lemmas with proofs, and premise names, so a changed or
damaged source shows up as changed numbers.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from aether.data._io import Stats
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# column-0 statements; proof bodies and continuation lines are indented
_DECLARATION = re.compile(r"^(?!lemma\b|let\b|verify\b|theorem\b)[^\s#{}/(\[][^\s]*\s*:", re.M)
_LEMMA = re.compile(r"^lemma\s+\S+", re.M)
_PREMISE = re.compile(r"'([^']+)'")


@dataclass(frozen=True)
class Theories:
    theories: dict[str, str]  # file stem -> Peano source
    premises: dict[str, list[str]]  # domain -> premise names


def read_theories(directory: Path) -> Theories:
    """Load the theory files and premise lists prepared by `convert`."""
    return Theories(
        theories={p.stem: p.read_text() for p in sorted((directory / "theories").glob("*.p"))},
        premises={
            p.stem: premise_names(p) for p in sorted((directory / "premises").glob("*.yaml"))
        },
    )


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Copy the theories and premise lists (nothing is random here, so seed is not used)."""
    (out / "theories").mkdir()
    (out / "premises").mkdir()
    stats: Stats = {
        "theory_files": 0,
        "premise_files": 0,
        "declarations": 0,
        "lemmas": 0,
        "premises": 0,
    }
    for path in sorted(files.values()):
        if path.suffix == ".p":
            shutil.copyfile(path, out / "theories" / path.name)
            text = _COMMENT.sub("", path.read_text(encoding="utf-8"))
            stats["theory_files"] += 1
            stats["declarations"] += len(_DECLARATION.findall(text))
            stats["lemmas"] += len(_LEMMA.findall(text))
        elif path.suffix == ".yaml":
            shutil.copyfile(path, out / "premises" / path.name)
            stats["premise_files"] += 1
            stats["premises"] += len(premise_names(path))
    return stats, {"licence_file": "LICENSE is kept with the raw files only"}


def premise_names(path: Path) -> list[str]:
    """The quoted names in a premise file's ``premises: [...]`` list."""
    text = path.read_text(encoding="utf-8")
    start = text.find("premises:")
    end = text.find("]", start)
    if start < 0 or end < 0:
        raise MalformedDataError(f"{path} should hold 'premises: [...]'")
    return _PREMISE.findall(text[start:end])
