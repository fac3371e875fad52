"""Modules: programs made of named predictors, whose state (instructions + demos) is JSON."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aether.mipro.lm.base import LM

if TYPE_CHECKING:
    from aether.mipro.program.predict import Predict


class Prediction(dict):
    """Output fields by name; `ok` is False when the LM's text could not be fully parsed."""

    ok: bool = True


@dataclass
class Env:
    """What one run of a program needs: the LM, the rollout id (a cache-key part that tells
    samples apart), an optional temperature override, and a trace of predictor calls."""

    lm: LM
    rollout: int = 0
    temperature: float | None = None
    trace: list[tuple[Predict, dict, Prediction]] | None = field(default=None)


class Module:
    """A program: subclasses set predictors (or sub-modules) as attributes and write forward.

    `input_keys` names the example fields the program reads; the rest are labels.
    """

    input_keys: tuple[str, ...] = ()

    def forward(self, env: Env, **inputs: Any) -> Prediction:
        raise NotImplementedError

    def __call__(self, env: Env, **inputs: Any) -> Prediction:
        return self.forward(env, **inputs)

    def named_predictors(self) -> list[tuple[str, Predict]]:
        """Every predictor with a stable dotted name, in attribute order."""
        from aether.mipro.program.predict import Predict

        found: list[tuple[str, Predict]] = []
        for name, value in vars(self).items():
            if isinstance(value, Predict):
                found.append((name, value))
            elif isinstance(value, Module):
                found += [(f"{name}.{sub}", p) for sub, p in value.named_predictors()]
            elif isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    if isinstance(item, Predict):
                        found.append((f"{name}.{i}", item))
                    elif isinstance(item, Module):
                        found += [(f"{name}.{i}.{s}", p) for s, p in item.named_predictors()]
        return found

    def predictor(self, name: str) -> Predict:
        return dict(self.named_predictors())[name]

    def deepcopy(self) -> Module:
        return copy.deepcopy(self)

    def dump_state(self) -> dict[str, dict]:
        """Instructions and demonstrations of every predictor: the optimized program."""
        return {
            name: {"instruction": p.signature.instruction, "demos": [dict(d) for d in p.demos]}
            for name, p in self.named_predictors()
        }

    def load_state(self, state: dict[str, dict]) -> Module:
        predictors = dict(self.named_predictors())
        if set(state) != set(predictors):
            raise ValueError(f"state names {sorted(state)} != predictors {sorted(predictors)}")
        for name, part in state.items():
            predictors[name].signature = predictors[name].signature.with_instruction(
                part["instruction"]
            )
            predictors[name].demos = [dict(d) for d in part["demos"]]
        return self

    def to_json(self) -> str:
        return json.dumps(self.dump_state(), indent=2, sort_keys=True)
