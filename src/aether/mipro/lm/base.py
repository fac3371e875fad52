"""The LM protocol, decoding parameters, and per-stage call/token accounting."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aether.mipro.errors import BudgetExceededError


@dataclass(frozen=True)
class Decoding:
    """Decoding parameters; part of the cache key, so a change is a different call.

    `choices` closes the answer: an embedded model may only write one of them (after an
    optional space), enforced by a llama.cpp grammar (`choice_grammar`); a served model gets
    them as its server takes them (`OpenAICompatibleLM.constrain`), else writes free text,
    which the predictor parses to a choice.
    """

    temperature: float = 0.0
    max_tokens: int = 128
    stop: tuple[str, ...] = ()
    seed: int = 0
    choices: tuple[str, ...] = ()

    def key(self) -> dict:
        key = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
        }
        if self.choices:  # only then: calls cached before the field existed keep their keys
            key["choices"] = list(self.choices)
        return key

    def sampling_seed(self, rollout: int) -> int:
        """The sampler's seed: the rollout id mixed in, so samples differ and each repeats."""
        return self.seed * 1_000_003 + rollout


def choice_grammar(choices: tuple[str, ...]) -> str:
    """A GBNF grammar (llama.cpp) whose only sentences are the choices, after an optional
    space (a completion prompt ends in `Label:`, and a label token carries its space)."""
    if not choices or not all(choices):
        raise ValueError(f"a closed answer needs non-empty choices, got {choices!r}")
    quoted = " | ".join(json.dumps(c, ensure_ascii=False) for c in choices)
    return f'root ::= " "? ({quoted})'


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False


@runtime_checkable
class LM(Protocol):
    """A text-completion model. `rollout` tells apart samples of the same prompt."""

    model: str

    def complete(self, prompt: str, decoding: Decoding, rollout: int = 0) -> Completion: ...


@dataclass
class Usage:
    """Calls and tokens actually paid for (cache hits counted apart), with an optional cap.

    The cap is a hard budget in paid LM calls: the call that would exceed it raises
    `BudgetExceededError` before it is made.
    """

    max_calls: int | None = None
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def reserve(self) -> None:
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise BudgetExceededError(
                    f"LM call budget of {self.max_calls} calls is spent; raise it "
                    "(mipro.max_lm_calls) or rerun: cached calls are free"
                )
            self.calls += 1

    def add(self, completion: Completion) -> None:
        with self._lock:
            self.prompt_tokens += completion.prompt_tokens
            self.completion_tokens += completion.completion_tokens

    def hit(self) -> None:
        with self._lock:
            self.cache_hits += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "lm_calls": self.calls,
            "lm_cache_hits": self.cache_hits,
            "lm_prompt_tokens": self.prompt_tokens,
            "lm_completion_tokens": self.completion_tokens,
        }
