"""Run a program over examples and score it; a metric that raises is one clear error."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aether.mipro.errors import MetricError
from aether.mipro.lm.base import LM
from aether.mipro.program.module import Env, Module, Prediction

Example = Mapping[str, Any]
Metric = Callable[[Example, Prediction], float]


@dataclass(frozen=True)
class Evaluation:
    score: float
    scores: tuple[float, ...]
    predictions: tuple[Prediction, ...]


def inputs_of(program: Module, example: Example) -> dict[str, Any]:
    missing = [k for k in program.input_keys if k not in example]
    if missing:
        raise KeyError(f"example lacks the program's inputs {missing}: {dict(example)}")
    return {k: example[k] for k in program.input_keys}


def score_one(metric: Metric, example: Example, prediction: Prediction, index: int) -> float:
    try:
        return float(metric(example, prediction))
    except Exception as exc:
        raise MetricError(
            f"metric {getattr(metric, '__name__', metric)!r} raised {type(exc).__name__}: {exc} "
            f"on example {index} ({dict(example)!r:.200}) with prediction {dict(prediction)!r:.200}"
        ) from exc


def evaluate(
    program: Module,
    examples: Sequence[Example],
    metric: Metric,
    lm: LM,
    *,
    rollout: int = 0,
    threads: int = 1,
) -> Evaluation:
    """Mean metric over `examples` (greedy, rollout 0 unless asked otherwise)."""

    def run(item: tuple[int, Example]) -> tuple[Prediction, float]:
        i, example = item
        prediction = program(Env(lm, rollout=rollout), **inputs_of(program, example))
        return prediction, score_one(metric, example, prediction, i)

    items = list(enumerate(examples))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(run, items))
    else:
        results = [run(item) for item in items]
    scores = tuple(s for _, s in results)
    mean = sum(scores) / len(scores) if scores else 0.0
    return Evaluation(mean, scores, tuple(p for p, _ in results))
