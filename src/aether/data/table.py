"""Tabular and text-pair datasets as parquet splits with tidy columns (for prompt optimisation).

Prepared form: ``train.parquet`` and ``test.parquet``, plus ``dev.parquet`` (hover) or
``nlg.parquet`` (scone's generation task) where the source has them. Datasets without their
own test split are split by `seed`, stratified by label, keeping the source's row order.
"""

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from aether.data._io import Stats, save_parquet
from aether.data.errors import MalformedDataError
from aether.data.registry import Dataset

_BREAST = (
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave_points",
    "symmetry",
    "fractal_dimension",
)
FEATURES = {  # sklearn's CSVs carry no feature names; these are sklearn's, in snake_case
    "iris": ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"],
    "wine": [
        "alcohol",
        "malic_acid",
        "ash",
        "alcalinity_of_ash",
        "magnesium",
        "total_phenols",
        "flavanoids",
        "nonflavanoid_phenols",
        "proanthocyanins",
        "color_intensity",
        "hue",
        "od280_od315_of_diluted_wines",
        "proline",
    ],
    "breast_cancer": [f"mean_{b}" for b in _BREAST]
    + [f"{b}_error" for b in _BREAST]
    + [f"worst_{b}" for b in _BREAST],
}
HEART_COLUMNS = [
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
    "num",
]

Splits = dict[str, pd.DataFrame]
Read = tuple[Splits, dict[str, object]]  # the splits and notes for meta.json


def read_table(directory: Path, split: str) -> pd.DataFrame:
    """One split (``train``, ``test``, ``dev`` or ``nlg``) of a table prepared by `convert`."""
    path = directory / f"{split}.parquet"
    if not path.is_file():
        found = sorted(p.stem for p in directory.glob("*.parquet"))
        raise FileNotFoundError(f"{path} does not exist; this dataset has splits {found}")
    return pd.read_parquet(path)


def build(
    dataset: Dataset, files: dict[str, Path], out: Path, *, seed: int, test_fraction: float
) -> tuple[Stats, dict[str, object]]:
    """Write one parquet file per split."""
    reader = _READERS.get(dataset.name, _sklearn)
    splits, notes = reader(dataset.name, files, seed, test_fraction)
    stats: Stats = {}
    for split, frame in splits.items():
        save_parquet(out / f"{split}.parquet", frame.reset_index(drop=True))
        stats[f"rows_{split}"] = len(frame)
    stats["columns"] = len(splits["train"].columns)
    return stats, notes


def stratified_test_mask(labels: pd.Series, seed: int, test_fraction: float) -> np.ndarray:
    """Pick round(test_fraction * n_c) rows of each class c at random for the test side."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    values = labels.to_numpy()
    for label in sorted(pd.unique(values)):
        rows = np.flatnonzero(values == label)
        test[rng.permutation(rows)[: round(len(rows) * test_fraction)]] = True
    return test


def _split(frame: pd.DataFrame, seed: int, test_fraction: float, other: str = "test") -> Splits:
    test = stratified_test_mask(frame["label"], seed, test_fraction)
    return {"train": frame[~test], other: frame[test]}


def _sklearn(name: str, files: dict[str, Path], seed: int, test_fraction: float) -> Read:
    (path,) = files.values()
    head = path.read_text().split("\n", 1)[0].split(",")
    try:
        n_samples, n_features, classes = int(head[0]), int(head[1]), head[2:]
        frame = pd.read_csv(path, skiprows=1, header=None, dtype=float)
    except (ValueError, IndexError, pd.errors.ParserError) as e:
        raise MalformedDataError(
            f"{path} should start 'n_samples,n_features,class names...' then numbers: {e}"
        ) from None
    names = FEATURES[name]
    if frame.shape != (n_samples, n_features + 1) or len(names) != n_features:
        raise MalformedDataError(
            f"{path}: header promises {n_samples} rows x {n_features} features + target, "
            f"found {frame.shape[0]} x {frame.shape[1]}"
        )
    target = frame.pop(n_features).astype(int)
    if not target.between(0, len(classes) - 1).all():
        raise MalformedDataError(f"{path} has targets outside 0..{len(classes) - 1}")
    frame.columns = names
    frame["label"] = np.array(classes)[target]
    notes = {"label": f"class name, one of {classes}", "split": "stratified by label"}
    return _split(frame, seed, test_fraction), notes


def _heart(name: str, files: dict[str, Path], seed: int, test_fraction: float) -> Read:
    (path,) = files.values()
    has_header = path.read_text().lstrip().startswith("(")  # the mirror added "(age),(sex),..."
    try:
        frame = pd.read_csv(
            path,
            header=None,
            skiprows=int(has_header),
            names=HEART_COLUMNS,
            na_values="?",
            dtype=float,
        )
    except (ValueError, pd.errors.ParserError) as e:
        raise MalformedDataError(
            f"{path} should hold 14 comma-separated numbers a row: {e}"
        ) from None
    if frame["num"].isna().any() or not frame["num"].between(0, 4).all():
        raise MalformedDataError(f"{path}: target 'num' must be 0..4 on every row")
    frame["label"] = frame.pop("num").astype(int)
    notes = {
        "label": "num: 0 = no heart disease, 1-4 = increasing severity",
        "missing": "'?' in the source is missing (NaN)",
        "split": "stratified by label",
    }
    return _split(frame, seed, test_fraction), notes


def _scone(name: str, files: dict[str, Path], seed: int, test_fraction: float) -> Read:
    splits: Splits = {}
    for split in ("train", "test"):
        parts = []
        for path in sorted(f for p, f in files.items() if f"/scone_nli/{split}/" in p):
            raw = _read_csv(path)
            # one_scoped comes from MoNLI and has only unedited columns; the others hold the
            # ScoNe example in the *_edited columns (as DSPy's ScoNe loader reads them)
            suffix = "" if path.stem == "one_scoped" else "_edited"
            parts.append(
                pd.DataFrame(
                    {
                        "category": path.stem,
                        "premise": raw[f"sentence1{suffix}"],
                        "hypothesis": raw[f"sentence2{suffix}"],
                        "label": raw[f"gold_label{suffix}"],
                    }
                )
            )
        splits[split] = pd.concat(parts, ignore_index=True)
    nlg = next(f for p, f in files.items() if p.endswith("scone_nlg.csv"))
    splits["nlg"] = _read_csv(nlg).drop(columns="Unnamed: 0")
    notes = {
        "split": "the source's train/test folders; nlg is the separate generation task",
        "columns": "premise/hypothesis/label are sentence1/2/gold_label, from the *_edited "
        "columns except in one_scoped",
    }
    return splits, notes


def _hotpotqa(name: str, files: dict[str, Path], seed: int, test_fraction: float) -> Read:
    columns = ["question", "answer", "evidence", "type", "level"]
    train = _json_records(next(f for p, f in files.items() if p.endswith(".jsonl")), columns)
    test = _json_records(next(f for p, f in files.items() if p.endswith("_test.json")), columns)
    return {"train": train, "test": test}, {"split": "the source's own train/test files"}


def _hover(name: str, files: dict[str, Path], seed: int, test_fraction: float) -> Read:
    dev = next(f for p, f in files.items() if "hover_dev" in p)
    test = next(f for p, f in files.items() if "hover_test" in p)
    labelled = _json_records(
        dev, ["uid", "claim", "supporting_facts", "label", "num_hops", "hpqa_id"]
    )
    labelled["supporting_facts"] = [
        [{"title": str(title), "sentence": int(sentence)} for title, sentence in facts]
        for facts in labelled["supporting_facts"]
    ]
    splits = _split(labelled, seed, test_fraction, other="dev")
    splits["test"] = _json_records(test, ["uid", "claim"])
    notes = {
        "split": f"the labelled dev release split into train/dev (dev share {test_fraction}, "
        f"stratified by label, seed {seed}); test is the unlabelled test release"
    }
    return splits, notes


def _gsm8k(name: str, files: dict[str, Path], seed: int, test_fraction: float) -> Read:
    splits: Splits = {}
    for split in ("train", "test"):
        path = files[f"prompt_opt/gsm8k/{split}.jsonl"]
        frame = _json_records(path, ["question", "answer"])
        frame["answer_value"] = [_final_answer(a, path) for a in frame["answer"]]
        splits[split] = frame
    return splits, {"answer_value": "the number after '####' in answer, commas removed"}


def _final_answer(answer: str, path: Path) -> float:
    match = re.search(r"####\s*(-?[\d,]*\.?\d+)\s*$", answer)
    if match is None:
        raise MalformedDataError(f"{path}: an answer lacks its final '#### <number>' line")
    return float(match.group(1).replace(",", ""))


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise MalformedDataError(f"{path} is not a readable CSV file: {e}") from None


def _json_records(path: Path, columns: list[str]) -> pd.DataFrame:
    """Records from a JSON array or JSON-lines file, keeping `columns` (all required)."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            records = [json.loads(line) for line in text.split("\n") if line.strip()]
        else:
            records = json.loads(text)
    except ValueError as e:
        raise MalformedDataError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and all(c in r for c in columns) for r in records
    ):
        raise MalformedDataError(f"{path}: expected a list of records with fields {columns}")
    return pd.DataFrame({c: [r[c] for r in records] for c in columns})


_READERS: dict[str, Callable[[str, dict[str, Path], int, float], Read]] = {
    "heart_disease": _heart,
    "scone": _scone,
    "hotpotqa": _hotpotqa,
    "hover": _hover,
    "gsm8k": _gsm8k,
}
