"""Baselines: zero-shot, BootstrapFewShot, and bootstrap random search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aether.mipro.lm.base import LM
from aether.mipro.optimize.bootstrap import bootstrap, demo_candidates, require
from aether.mipro.optimize.evaluate import Example, Metric, evaluate
from aether.mipro.program.module import Module


@dataclass
class ZeroShot:
    """The program as written: its own instructions, no demonstrations."""

    metric: Metric
    lm: LM
    history: list[dict] = field(default_factory=list)

    def compile(
        self, student: Module, trainset: Sequence[Example], valset: Sequence[Example]
    ) -> Module:
        program = student.deepcopy()
        for _, predictor in program.named_predictors():
            predictor.demos = []
        return program


@dataclass
class BootstrapFewShot:
    """Step 1 only: one bootstrapped demo set per module from the trainset, in order."""

    metric: Metric
    lm: LM
    max_bootstrapped: int = 4
    max_labeled: int = 0
    history: list[dict] = field(default_factory=list)

    def compile(
        self, student: Module, trainset: Sequence[Example], valset: Sequence[Example]
    ) -> Module:
        program = student.deepcopy()
        demos = bootstrap(
            program,
            trainset,
            self.metric,
            self.lm,
            max_bootstrapped=self.max_bootstrapped,
            max_labeled=self.max_labeled,
        )
        for name, predictor in program.named_predictors():
            predictor.demos = demos[name]
        return program


@dataclass
class BootstrapRandomSearch:
    """Step 1 several times (seeded shuffles), then keep the demo sets that score best on the
    full validation set: DSPy's BootstrapFewShotWithRandomSearch, by the paper's name."""

    metric: Metric
    lm: LM
    num_candidates: int = 6
    max_bootstrapped: int = 4
    max_labeled: int = 4
    seed: int = 0
    history: list[dict] = field(default_factory=list)

    def compile(
        self, student: Module, trainset: Sequence[Example], valset: Sequence[Example]
    ) -> Module:
        require(valset, "validation set")
        sets = demo_candidates(
            student,
            trainset,
            self.metric,
            self.lm,
            n=self.num_candidates,
            max_bootstrapped=self.max_bootstrapped,
            max_labeled=self.max_labeled,
            seed=self.seed,
        )
        best, best_score = student.deepcopy(), -1.0
        for k in range(self.num_candidates):
            candidate = student.deepcopy()
            for name, predictor in candidate.named_predictors():
                predictor.demos = sets[name][k]
            score = evaluate(candidate, valset, self.metric, self.lm).score
            self.history.append({"trial": k, "full_score": score})
            if score > best_score:
                best, best_score = candidate, score
        return best
