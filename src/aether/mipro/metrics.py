"""Task metrics: `metric(example, prediction) -> float in [0, 1]`."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping
from typing import Any


def normalize(text: Any) -> str:
    """SQuAD-style: lower case, no punctuation or articles, single spaces."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(gold: Any, pred: Any) -> float:
    return float(normalize(gold) == normalize(pred))


def f1(gold: Any, pred: Any) -> float:
    g, p = normalize(gold).split(), normalize(pred).split()
    common = sum((Counter(g) & Counter(p)).values())
    if not g or not p or common == 0:
        return float(g == p)
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def label_match(gold: Any, pred: Any) -> float:
    """A label is right if the answer is it, or starts with it as a whole word
    (`"positive, because ..."`): small models rarely stop exactly after the label."""
    g, p = normalize(gold), normalize(pred)
    return float(p == g or p.startswith(g + " "))


def number_match(gold: Any, pred: Any) -> float:
    """GSM8K: the last number in the answer equals the gold number."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", str(pred).replace(",", ""))
    if not numbers:
        return 0.0
    try:
        return float(abs(float(numbers[-1]) - float(str(gold).replace(",", ""))) < 1e-6)
    except ValueError:
        return 0.0


def field_metric(field: str, compare=exact_match):
    """A metric comparing one output field with the example's label of the same name."""

    def metric(example: Mapping[str, Any], prediction: Mapping[str, Any]) -> float:
        return compare(example[field], prediction.get(field, ""))

    metric.__name__ = f"{compare.__name__}[{field}]"
    return metric
