"""Step 1, bootstrap: run the program on training examples and keep, as demonstrations, the
module-level traces of runs that pass the metric (the paper's bootstrapped demos)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from aether.mipro.errors import EmptyTrainsetError
from aether.mipro.lm.base import LM
from aether.mipro.optimize.evaluate import Example, Metric, inputs_of, score_one
from aether.mipro.program.module import Env, Module

DemoSets = dict[str, list[list[dict[str, str]]]]  # predictor name -> candidate demo sets


def require(examples: Sequence[Example], what: str) -> None:
    if not examples:
        raise EmptyTrainsetError(f"the {what} is empty: an optimizer needs examples to learn from")


def bootstrap(
    program: Module,
    trainset: Sequence[Example],
    metric: Metric,
    lm: LM,
    *,
    max_bootstrapped: int,
    max_labeled: int = 0,
    rollout: int = 0,
    temperature: float | None = None,
    threshold: float = 1.0,
) -> dict[str, list[dict[str, str]]]:
    """One demo set per predictor: up to `max_bootstrapped` passing traces (in trainset
    order), topped up with raw labelled examples to `max_labeled` demos in all, where the
    example carries every field of the predictor (single-module programs). The top-up counts
    the traces found, not those sought: with none passing (a model that cannot yet answer
    in the format) the set is `max_labeled` labelled examples, not empty."""
    require(trainset, "training set")
    predictors = program.named_predictors()
    demos: dict[str, list[dict[str, str]]] = {name: [] for name, _ in predictors}
    used: set[int] = set()
    for i, example in enumerate(trainset):
        if len(used) >= max_bootstrapped:
            break
        trace: list = []
        env = Env(lm, rollout=rollout, temperature=temperature, trace=trace)
        prediction = program(env, **inputs_of(program, example))
        if score_one(metric, example, prediction, i) < threshold:
            continue
        if not all(p.ok for _, _, p in trace):
            continue  # a passing run with a malformed step would teach the malformation
        names = {id(p): name for name, p in predictors}
        for predictor, inputs, outputs in trace:
            demos[names[id(predictor)]].append({**inputs, **outputs})
        used.add(i)
    for name, predictor in predictors:
        fields = (*predictor.signature.input_names, *predictor.signature.output_names)
        labeled = [
            {f: str(example[f]) for f in fields}
            for i, example in enumerate(trainset)
            if i not in used and all(f in example for f in fields)
        ]
        demos[name] += labeled[: max(0, max_labeled - len(used))]
    return demos


def demo_candidates(
    program: Module,
    trainset: Sequence[Example],
    metric: Metric,
    lm: LM,
    *,
    n: int,
    max_bootstrapped: int,
    max_labeled: int,
    seed: int,
    temperature: float | None = None,
) -> DemoSets:
    """`n` candidate demo sets per predictor: the empty set (zero-shot), labelled examples
    only, then bootstrapped sets of seeded sizes from seeded shuffles of the trainset, each
    its own rollout and topped up with labelled examples to `max_labeled` demos."""
    require(trainset, "training set")
    names = [name for name, _ in program.named_predictors()]
    sets: DemoSets = {name: [[]] for name in names}
    if n > 1:
        labeled = bootstrap(
            program, trainset, metric, lm, max_bootstrapped=0, max_labeled=max_labeled
        )
        for name in names:
            sets[name].append(labeled[name])
    for k in range(2, n):
        rng = random.Random(f"{seed}:{k}")
        shuffled = list(trainset)
        rng.shuffle(shuffled)
        size = rng.randint(1, max_bootstrapped) if max_bootstrapped else 0
        found = bootstrap(
            program,
            shuffled,
            metric,
            lm,
            max_bootstrapped=size,
            max_labeled=max_labeled,
            rollout=seed * 1000 + k,
            temperature=temperature,
        )
        for name in names:
            sets[name].append(found[name])
    return sets
